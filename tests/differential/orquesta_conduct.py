"""Run orquesta (StackStorm 3.9.0's pin) as the oracle of tests/it/orquesta_differential.rs.

stdin: {"mode": "collect", "fixtures": <dir of orquesta's native fixture workflows>}
  stdout: the rehearsal specs of orquesta's own conducting tests
  (orquesta/tests/unit/conducting/native/test_workflow_*.py, re-run tests left out), each
  {"name", "workflow" (fixture file name), "inputs", "mocks"}, captured by running the tests
  with `rehearsing.load_test_spec` replaced.
stdin: {"mode": "inspect", "workflows": [{"name", "text"}]}
  stdout: per workflow, the errors of `WorkflowSpec.inspect(app_ctx={"st2", "parent"})`, as
  StackStorm formats them (`type`, `message`, `spec_path`, `schema_path`).
stdin: {"mode": "run", "cases": [{"name", "text", "inputs", "mocks"[, "context"]}]
        [, "st2_functions": true (StackStorm's `task()` registered)]}
  stdout: per case, the conductor driven in waves (the spec's section 2.6: every action of a
  wave marked running in order, then completed in order, mocks matched as orquesta-rehearse
  matches them): {"sequence", "routes", "status", "output", "errors", "actions"}.
  A case with "rerun": {"tasks", "reset", "mocks"} is then re-run as StackStorm re-runs
  tasks (`request_rerun`) and conducted again with those mocks; the answer is the state
  after it, "actions" those of the re-run.
"""

import collections.abc  # noqa: F401 (yaql 3.2.0 on Python 3.11 needs it imported first)
import copy
import importlib
import inspect as pyinspect
import json
import os
import sys

from orquesta import conducting, events, rehearsing, requests, statuses
from orquesta.expressions import jinja, yql
from orquesta.specs import native as native_specs



# StackStorm's `task()` (`orquesta_functions/runtime.py`), over the task records run() keeps
# as StackStorm keeps them: the latest of (task, route), with-items results as
# {"items": [{"status", "result"}, ...]}. Only the fields a workflow reads are kept.
TASKS = {}


def task(context, task_id=None, route=None):
    current = context["__current_task"] or {}
    if task_id is None:
        task_id = current.get("id")
    if route is None:
        route = current.get("route", 0)
    key = "%s__r%s" % (task_id, route)
    if key not in TASKS:
        raise Exception('Unable to find task execution for "%s".' % task_id)
    return TASKS[key]


def register_task_function():
    """`task()` as StackStorm registers it, for a request that asks for it
    (`"st2_functions": true`); orquesta alone has none."""
    yql.YAQLEvaluator._root_ctx.register_function(task, name="task")
    jinja.JinjaEvaluator._custom_functions["task"] = task


def collect(fixtures):
    specs = []

    class Capture(object):
        def __init__(self, spec):
            self.spec = spec

        def assert_conducting_sequence(self):
            specs.append(self.spec)

        def assert_spec_inspection(self):
            pass

    original = rehearsing.load_test_spec
    rehearsing.load_test_spec = lambda fixture=None, **kw: Capture(copy.deepcopy(fixture))
    modules = [
        "test_workflow_basic",
        "test_workflow_cycle",
        "test_workflow_error_handling",
        "test_workflow_join",
        "test_workflow_split",
        "test_workflow_task_transition",
    ]
    cases = []
    for module_name in modules:
        module = importlib.import_module("orquesta.tests.unit.conducting.native." + module_name)
        for _, cls in pyinspect.getmembers(module, pyinspect.isclass):
            if not cls.__module__.endswith(module_name):
                continue
            for attr in sorted(dir(cls)):
                if not attr.startswith("test_"):
                    continue
                instance = cls(attr)
                instance.get_wf_file_path = lambda name: os.path.join(fixtures, name + ".yaml")
                before = len(specs)
                try:
                    getattr(instance, attr)()
                except Exception:
                    continue
                for i, spec in enumerate(specs[before:]):
                    cases.append(
                        {
                            "name": "%s.%s#%d" % (module_name, attr, i),
                            "workflow": os.path.basename(spec["workflow"]),
                            "inputs": spec.get("inputs") or {},
                            "mocks": spec.get("mock_action_executions") or [],
                        }
                    )
    rehearsing.load_test_spec = original
    return cases


def inspect_one(text):
    spec = native_specs.WorkflowSpec(text)
    result = spec.inspect(app_ctx={"st2": {}, "parent": {}})
    errors = []
    categories = {
        "context": "context",
        "expressions": "expression",
        "semantics": "semantic",
        "syntax": "syntax",
    }
    for category, entries in result.items():
        for entry in entries:
            errors.append(
                {
                    "type": categories[category],
                    "message": entry["message"],
                    "spec_path": entry.get("spec_path"),
                    "schema_path": entry.get("schema_path"),
                }
            )
    return sorted(errors, key=lambda e: (e["type"], e["schema_path"] or ""))


class Mock(object):
    def __init__(self, data):
        self.task_id = data["task_id"]
        self.item_id = data.get("item_id")
        self.seq_id = data.get("seq_id")
        self.iter_id = data.get("iter_id", 0)
        self.num_iter = data.get("num_iter", 1)
        self.status = data.get("status") or statuses.SUCCEEDED
        self.result = data.get("result")
        self.iter_pos = self.iter_id - 1


def find(mocks, task_id, item_id=None, seq_id=None):
    found = [m for m in mocks if m.task_id == task_id and m.iter_pos < m.iter_id + m.num_iter - 1]
    if found and seq_id is not None:
        found = [m for m in found if m.seq_id == seq_id]
    if found and item_id is not None:
        found = [m for m in found if m.item_id == item_id]
    if found and found[0].seq_id is not None and seq_id is None:
        return None
    return found[0] if found else None


def run(case):
    TASKS.clear()
    spec = native_specs.WorkflowSpec(case["text"])
    mocks = [Mock(m) for m in case.get("mocks") or []]
    conductor = conducting.WorkflowConductor(
        spec, context=case.get("context"), inputs=case.get("inputs") or {}
    )
    # A workflow whose input or vars fail to render is failed already (as StackStorm
    # leaves it); only a workflow that can run is set running.
    if conductor.get_workflow_status() != statuses.FAILED:
        conductor.request_workflow_status(statuses.RUNNING)
    actions = []
    accumulated = {}
    drive(conductor, mocks, actions, accumulated)
    if conductor.get_workflow_status() in statuses.COMPLETED_STATUSES:
        conductor.render_workflow_output()
    rerun = case.get("rerun")
    if rerun is not None:
        conductor = rerun_conductor(conductor, rerun["tasks"], rerun.get("reset") or [])
        actions = []
        drive(conductor, [Mock(m) for m in rerun.get("mocks") or []], actions, accumulated)
        if conductor.get_workflow_status() in statuses.COMPLETED_STATUSES:
            conductor.render_workflow_output()
    state = conductor.workflow_state
    return {
        "sequence": ["%s__r%s" % (t["id"], t["route"]) for t in state.sequence],
        "routes": state.routes,
        "status": conductor.get_workflow_status(),
        "output": conductor.get_workflow_output(),
        "errors": conductor.errors,
        "actions": actions,
    }


def rerun_conductor(conductor, tasks, reset):
    """StackStorm's `services/workflows.py: request_rerun`: the conductor serialized and
    read back, every route each named task ran on requested, `request_workflow_rerun`."""
    conductor = conducting.WorkflowConductor.deserialize(conductor.serialize())
    task_requests = []
    for name in tasks:
        for _, entry in conductor.workflow_state.get_tasks(task_id=name):
            task_requests.append(
                requests.TaskRerunRequest.new(name, entry["route"], reset_items=name in reset)
            )
    conductor.request_workflow_rerun(task_requests=task_requests)
    return conductor


def drive(conductor, mocks, actions, accumulated):
    """Conduct in waves until no task is ready."""
    guard = 0
    while True:
        guard += 1
        if guard > 500:
            break
        next_tasks = conductor.get_next_tasks()
        if not next_tasks:
            break
        wave = []
        for task in next_tasks:
            if task.get("items_count") == 0:
                conductor.update_task_state(
                    task["id"], task["route"], events.ActionExecutionEvent(statuses.RUNNING)
                )
                conductor.update_task_state(
                    task["id"],
                    task["route"],
                    events.ActionExecutionEvent(statuses.SUCCEEDED, result=[]),
                )
                continue
            for action in task["actions"]:
                item_id = action.get("item_id")
                if item_id is None:
                    event = events.ActionExecutionEvent(statuses.RUNNING)
                else:
                    event = events.TaskItemActionExecutionEvent(item_id, statuses.RUNNING)
                conductor.update_task_state(task["id"], task["route"], event)
                seq_id = len(conductor.workflow_state.sequence) - 1
                wave.append((task, action, item_id, seq_id))
        for task, action, item_id, seq_id in wave:
            actions.append(
                {
                    "task": task["id"],
                    "route": task["route"],
                    "item_id": item_id,
                    "action": action.get("action"),
                    "input": action.get("input"),
                }
            )
        results = []
        for task, action, item_id, seq_id in wave:
            mock = find(mocks, task["id"], item_id=item_id, seq_id=seq_id) or find(
                mocks, task["id"], item_id=item_id
            )
            if mock:
                mock.iter_pos += 1
                results.append((mock.status, mock.result))
            else:
                results.append((statuses.SUCCEEDED, None))
        for (task, action, item_id, seq_id), (status, result) in zip(wave, results):
            key = "%s__r%s" % (task["id"], task["route"])
            record = {"task_id": task["id"], "route": task["route"], "status": status}
            if item_id is None:
                record["result"] = result
            else:
                items = (TASKS.get(key) or {}).get("result", {}).get("items", [])
                items = items + [None] * (item_id + 1 - len(items))
                items[item_id] = {"status": status, "result": result}
                record["result"] = {"items": items}
            TASKS[key] = record
            if item_id is None:
                event = events.ActionExecutionEvent(status, result=result)
            else:
                key = (task["id"], task["route"])
                acc = accumulated.setdefault(key, [None] * task["items_count"])
                acc[item_id] = result
                event = events.TaskItemActionExecutionEvent(
                    item_id, status, result=result, accumulated_result=acc
                )
            conductor.update_task_state(task["id"], task["route"], event)


def main():
    request = json.load(sys.stdin)
    if request.get("st2_functions"):
        register_task_function()
    if request["mode"] == "collect":
        answer = collect(request["fixtures"])
    elif request["mode"] == "inspect":
        answer = []
        for workflow in request["workflows"]:
            try:
                answer.append({"errors": inspect_one(workflow["text"])})
            except Exception as e:
                answer.append({"exception": "%s: %s" % (type(e).__name__, e)})
    else:
        answer = []
        for case in request["cases"]:
            try:
                answer.append(run(case))
            except Exception as e:
                answer.append({"exception": "%s: %s" % (type(e).__name__, e)})
    json.dump(answer, sys.stdout, default=str)


if __name__ == "__main__":
    main()

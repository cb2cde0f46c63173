"""Baseline for bench/run.sh: orquesta's conductor alone driving a workflow to completion.

Usage: python orquesta_conductor.py [--in-memory] WORKFLOW.yaml

It is the loop of orquesta's rehearsal (orquesta/rehearsing.py, assert_conducting_sequence):
inspect the spec, start the workflow, then in waves request the next tasks, mark each one
running, then succeeded with a mocked result (item by item for a with-items task, with the
accumulated result), serializing and deserializing the conductor between waves as StackStorm
does between its asynchronous steps, until no task is left. No action runs and nothing is
recorded: this is the engine's cost alone. With --in-memory the conductor stays one object
from start to end (no serialization between waves), a lower bound on what the engine costs.
"""

import copy
import sys

from orquesta import conducting, events, statuses
from orquesta.specs import native as native_specs


def main(path, in_memory):
    with open(path) as f:
        spec = native_specs.WorkflowSpec(f.read())
    errors = spec.inspect()
    if errors:
        sys.exit("inspection errors: %s" % errors)

    conductor = conducting.WorkflowConductor(spec)
    conductor.request_workflow_status(statuses.RUNNING)
    run_q = [copy.deepcopy(t) for t in conductor.get_next_tasks()]
    state = conductor.serialize()
    actions_run = 0

    accumulated = {}  # with-items task id -> results by item id
    while run_q:
        if not in_memory:
            conductor = conducting.WorkflowConductor.deserialize(state)
        for task in run_q:
            if not spec.tasks.get_task(task["id"]).has_items():
                event = events.ActionExecutionEvent(statuses.RUNNING)
                conductor.update_task_state(task["id"], task["route"], event)
                continue
            for action in task["actions"]:
                event = events.TaskItemActionExecutionEvent(action["item_id"], statuses.RUNNING)
                conductor.update_task_state(task["id"], task["route"], event)
        for task in run_q:
            if not spec.tasks.get_task(task["id"]).has_items():
                actions_run += 1
                event = events.ActionExecutionEvent(statuses.SUCCEEDED, result=None)
                conductor.update_task_state(task["id"], task["route"], event)
                continue
            results = accumulated.setdefault(task["id"], [None] * task["items_count"])
            for action in task["actions"]:
                actions_run += 1
                event = events.TaskItemActionExecutionEvent(
                    action["item_id"], statuses.SUCCEEDED, result=None, accumulated_result=results
                )
                conductor.update_task_state(task["id"], task["route"], event)
        run_q = [copy.deepcopy(t) for t in conductor.get_next_tasks()]
        if not in_memory:
            state = conductor.serialize()

    status = conductor.get_workflow_status()
    if status in statuses.COMPLETED_STATUSES:
        conductor.render_workflow_output()
    if status != statuses.SUCCEEDED:
        sys.exit("workflow %s after %d actions: %s" % (status, actions_run, conductor.errors))
    print("%s: %d actions" % (status, actions_run))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[-1], "--in-memory" in args[:-1])

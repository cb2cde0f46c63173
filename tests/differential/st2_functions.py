"""StackStorm's `task` and `st2kv` expression functions, as the differential probes stand
them in (yaql_eval.py, jinja_eval.py): `task` returns `data["__tasks"][name]` (StackStorm's
reads execution records), `st2kv` reads `data["__kv"]` (StackStorm's reads the datastore)."""


def task(context, task_id=None, route=None):
    tasks = context["__vars"].get("__tasks") or {}
    if task_id is None:
        task_id = (context["__current_task"] or {}).get("id")
    if task_id not in tasks:
        raise Exception('Unable to find task execution for "%s".' % task_id)
    return tasks[task_id]


def st2kv(context, key, decrypt=False, default=None):
    kv = context["__vars"].get("__kv") or {}
    if key not in kv:
        if default is not None:
            return default
        raise Exception('The key "%s" does not exist in the StackStorm datastore.' % key)
    return kv[key]

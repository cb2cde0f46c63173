"""Evaluate YAQL expressions as orquesta (StackStorm 3.9.0's pin) does, for
tests/it/yaql_differential.rs.

stdin: a JSON list of {"text": "<% ... %>" or text with several, "data": {...}}.
stdout: a JSON list, one per case, of {"value": ...} or {"error": "..."}, plus "parse":
the errors of orquesta's validation (empty when every expression parses).

`data` is the context as orquesta's conductor hands it over (`__current_task`,
`__current_item`, `__state` beside the workflow's variables). Besides orquesta's own
functions, `task` is registered as StackStorm registers it in name only: a test function
returning `data["__tasks"][name]` (StackStorm's reads execution records), and `st2kv`
reads `data["__kv"]` (StackStorm's reads the datastore).
"""

import collections.abc  # noqa: F401 (yaql 3.2.0 on Python 3.11 needs it imported first)
import json
import sys

from orquesta.expressions import yql

from st2_functions import st2kv, task

yql.YAQLEvaluator._root_ctx.register_function(task, name="task")
yql.YAQLEvaluator._root_ctx.register_function(st2kv, name="st2kv")


def plain(value):
    """What JSON can carry: sets and tuples as lists (yaql's output conversion leaves
    some), anything else as its repr, tagged."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((plain(item) for item in value), key=repr)}
    if isinstance(value, collections.abc.Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)}


def run(case):
    text, data = case["text"], case.get("data")
    answer = {"parse": [error["message"] for error in yql.YAQLEvaluator.validate(text)]}
    try:
        answer["value"] = plain(yql.YAQLEvaluator.evaluate(text, data))
    except Exception as error:  # every failure is an answer: the test compares them
        answer["error"] = "%s: %s" % (error.__class__.__name__, error)
    return answer


json.dump([run(case) for case in json.load(sys.stdin)], sys.stdout)

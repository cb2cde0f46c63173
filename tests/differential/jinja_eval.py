"""Evaluate orquesta's Jinja expressions as orquesta (StackStorm 3.9.0's pin) does, for
tests/it/jinja_differential.rs.

stdin: a JSON list of {"text": "...{{ }}/{% %}...", "data": {...}}.
stdout: a JSON list, one per case, of {"value": ...} or {"error": "..."}.

`data` is the context as orquesta's conductor hands it over. Besides orquesta's own
functions, `task` and `st2kv` are registered as yaql_eval.py registers them (StackStorm's
own read execution records and the datastore).
"""

import json
import sys

from orquesta.expressions import jinja

from st2_functions import st2kv, task

jinja.JinjaEvaluator._custom_functions["task"] = task
jinja.JinjaEvaluator._custom_functions["st2kv"] = st2kv


def run(case):
    try:
        return {"value": jinja.JinjaEvaluator.evaluate(case["text"], case.get("data"))}
    except Exception as error:  # every failure is an answer: the test compares them
        return {"error": "%s: %s" % (error.__class__.__name__, error)}


json.dump([run(case) for case in json.load(sys.stdin)], sys.stdout)

# StackStorm's Jinja environment, for the differential test `rendering_matches_jinja2`
# (tests/it/params_differential.rs): get_jinja_environment() and the filters of
# st2common/st2common/util/jinja.py and st2common/st2common/expressions/functions/ of
# StackStorm 3.9.0, as ported for Python actions in src/runner/python/shim/ (Apache-2.0),
# imported from there rather than copied again.
#
# One difference, on purpose: to_yaml_string dumps with PyYAML's pure-Python SafeDumper,
# whose emitter src/expressions/pyyaml.rs ports, where StackStorm (and the shim) use libyaml's
# CSafeDumper whenever PyYAML has it. The two differ (libyaml writes no `...` after a plain
# scalar at the root, escapes U+0085 as `\N`, folds double-quoted lines differently): a known
# difference of ours, left out of this comparison. from_yaml_string keeps the shim's
# CSafeLoader, the loader StackStorm uses and src/yaml/ follows.
#
# A main reads cases as JSON on stdin and prints each rendering or its error.

import json
import os
import sys

import yaml

sys.path.insert(
    0,
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "runner", "python", "shim"
    ),
)

from st2common.expressions.functions import data  # noqa: E402
from st2common.util.jinja import get_jinja_environment  # noqa: E402


def _pure_yaml_safe_dump(value, **kwargs):
    return yaml.dump(value, Dumper=yaml.SafeDumper, **kwargs)


data._yaml_safe_dump = _pure_yaml_safe_dump


def main():
    env = get_jinja_environment()
    results = []
    for case in json.load(sys.stdin):
        try:
            text = env.from_string(case["template"]).render(case["context"])
            results.append({"ok": text})
        except Exception as e:  # noqa
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

# StackStorm's Jinja environment, for the differential test `rendering_matches_jinja2`
# (tests/it/params_differential.rs): get_jinja_environment() and the filters of
# st2common/st2common/util/jinja.py and st2common/st2common/expressions/functions/ of
# StackStorm 3.9.0, as ported for Python actions in src/runner/python/shim/ (Apache-2.0),
# imported from there rather than copied again.
#
# to_yaml_string dumps with PyYAML's CSafeDumper (libyaml's emitter), as StackStorm's
# yaml_safe_dump does, and from_yaml_string loads with CSafeLoader; the shim falls back to the
# pure-Python classes without libyaml, which write differently, so this script refuses to run
# without it.
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

from st2common.util.jinja import get_jinja_environment  # noqa: E402


def main():
    if not yaml.__with_libyaml__:
        sys.exit("PyYAML has no libyaml here; scripts/setup.sh installs one that has")
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

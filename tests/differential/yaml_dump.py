# StackStorm's to_yaml_string, for the differential test `to_yaml_string_matches_csafedumper`
# (tests/it/params_differential.rs): st2common/st2common/expressions/functions/data.py of
# StackStorm 3.9.0 passes `indent` and `allow_unicode` on when they are not None, with
# `default_flow_style=False`, to yaml_safe_dump (st2common/st2common/constants/meta.py),
# which is `yaml.dump(data, Dumper=CSafeDumper, **kwargs)`: libyaml's emitter.
#
# A main reads cases as JSON on stdin ({"value": ..., "indent": ..., "allow_unicode": ...};
# a key left out is an argument not given; floats may be Infinity, -Infinity and NaN, which
# Python's json reads) and prints each dump.

import json
import sys

import yaml


def to_yaml_string(value, indent=None, allow_unicode=True):
    options = {"default_flow_style": False}

    if indent is not None:
        options["indent"] = indent

    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode

    return yaml.dump(value, Dumper=yaml.CSafeDumper, **options)


def main():
    # Without libyaml, PyYAML has no CSafeDumper, and StackStorm would fall back to the
    # pure-Python dumper, which writes differently: compare with the real thing only.
    if not yaml.__with_libyaml__:
        sys.exit("PyYAML has no libyaml here; scripts/setup.sh installs one that has")
    results = []
    for case in json.load(sys.stdin):
        kwargs = {key: case[key] for key in ("indent", "allow_unicode") if key in case}
        results.append(to_yaml_string(case["value"], **kwargs))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

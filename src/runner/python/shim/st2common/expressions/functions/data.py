# Ported from StackStorm 3.9.0 st2common/st2common/expressions/functions/data.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: db_util.mongodb_to_python_types is the identity for the plain values an action has;
# from_json_string uses the json module (orjson upstream); YAML needs PyYAML and
# jsonpath_query needs jsonpath_rw in the pack's virtualenv, as in StackStorm's environment.
import json

__all__ = [
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "jsonpath_query",
    "to_complex",
    "to_json_string",
    "to_yaml_string",
]


def _yaml_safe_load(stream):
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(stream, Loader=loader)  # nosec


def _yaml_safe_dump(data, **kwargs):
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, **kwargs)


def from_json_string(value):
    return json.loads(str(value))


def from_yaml_string(value):
    return _yaml_safe_load(str(value))


def to_json_string(value, indent=None, sort_keys=False, separators=(",", ": ")):
    options = {}

    if indent is not None:
        options["indent"] = indent

    if sort_keys is not None:
        options["sort_keys"] = sort_keys

    if separators is not None:
        options["separators"] = separators

    return json.dumps(value, **options)


def to_yaml_string(value, indent=None, allow_unicode=True):
    options = {"default_flow_style": False}

    if indent is not None:
        options["indent"] = indent

    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode

    return _yaml_safe_dump(value, **options)


def json_escape(value):
    """Adds escape sequences to problematic characters in the string
    This filter simply passes the value to json.dumps
    as a convenient way of escaping characters in it
    However, before returning, we want to strip the double
    quotes at the ends of the string, since we're not looking
    for a valid JSON value at the end, just conveniently using
    this function to do the escaping. The value could be any
    arbitrary value
    """

    return json.dumps(value).strip('"')


def jsonpath_query(value, query):
    """Extracts data from an object `value` using a JSONPath `query`.
    :link: https://github.com/kennknowles/python-jsonpath-rw
    :param value: a object (dict, array, etc) to query
    :param query: a JSONPath query expression (string)
    :returns: the result of the query executed on the value
    :rtype: dict, array, int, string, bool
    """
    import jsonpath_rw

    expr = jsonpath_rw.parse(query)

    matches = [match.value for match in expr.find(value)]

    if not matches:
        return None

    return matches


def to_complex(value):
    return json.dumps(value)


NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


def use_none(value):
    return NONE_MAGIC_VALUE if value is None else value

# Ported from StackStorm 3.9.0 st2common/st2common/util/jsonify.py (json_encode, json_decode,
# try_loads, get_json_type_for_python_value).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: upstream uses orjson; this uses the standard json module with orjson's default
# output (compact separators, non-ASCII kept), so that packs need not install orjson.
import json

__all__ = ["json_encode", "json_decode", "json_loads", "try_loads", "get_json_type_for_python_value"]


def default(obj):
    if hasattr(obj, "__json__") and callable(obj.__json__):
        return obj.__json__()
    elif isinstance(obj, bytes):
        return obj.decode("utf-8")
    raise TypeError


def json_encode(obj, indent=None, sort_keys=False):
    """
    Wrapper function for encoding the provided object.
    """
    if indent:
        return json.dumps(obj, default=default, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    return json.dumps(
        obj, default=default, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False
    )


def json_decode(data):
    """
    Wrapper function for decoding the provided JSON string.
    """
    return json.loads(data)


def json_loads(obj, keys=None):
    """
    Given an object, this method tries to json.loads() the value of each of the keys. If json.loads
    fails, the original value stays in the object.
    """
    if not obj:
        return None

    if not keys:
        keys = list(obj.keys())

    for key in keys:
        try:
            obj[key] = json_decode(obj[key])
        except Exception:
            pass
    return obj


def load_file(path):
    with open(path, "r") as fd:
        return json.load(fd)


def try_loads(s):
    try:
        return json_decode(s) if s and isinstance(s, str) else s
    except:  # noqa: E722
        return s


def get_json_type_for_python_value(value):
    """
    Return JSON type string for the provided Python value.

    :rtype: ``str``
    """
    if isinstance(value, str):
        return "string"
    elif isinstance(value, (int, float)):
        return "number"
    elif isinstance(value, dict):
        return "object"
    elif isinstance(value, (list, tuple)):
        return "array"
    elif isinstance(value, bool):
        return "boolean"
    elif value is None:
        return "null"
    else:
        return "unknown"

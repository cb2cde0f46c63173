# Ported from StackStorm 3.9.0 st2common/st2common/util/compat.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
"""
Module with Python 3 related compatibility functions.
"""

__all__ = [
    "mock_open_name",
    "to_unicode",
    "to_ascii",
]

mock_open_name = "builtins.open"


def to_unicode(value):
    """
    Ensure that the provided text value is represented as unicode.

    :param value: Value to convert.
    :type value: ``str`` or ``unicode``

    :rtype: ``unicode``
    """
    if not isinstance(value, str):
        raise ValueError('Value "%s" must be a string.' % (value))

    return value


def to_ascii(value):
    """
    Function which encodes the provided bytes / string to ASCII encoding ignoring any errors
    which could come up when trying to encode a non-ascii value.
    """
    value = value.encode()
    return value.decode("ascii", errors="ignore")

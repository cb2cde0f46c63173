# Ported from StackStorm 3.9.0 st2common/st2common/util/isotime.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
"""
ISO8601 date related utility functions.
"""

import re
import datetime

from st2common.util import date as date_utils

__all__ = ["format", "validate", "parse"]


ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S"
ISO8601_FORMAT_MICROSECOND = "%Y-%m-%dT%H:%M:%S.%f"
ISO8601_UTC_REGEX = (
    r"^\d{4}\-\d{2}\-\d{2}(\s|T)\d{2}:\d{2}:\d{2}(\.\d{3,6})?(Z|\+00|\+0000|\+00:00)$"
)


def format(dt, usec=True, offset=True):
    """
    Format a provided datetime object and return ISO8601 string.

    :type dt: ``datetime.datetime``
    """
    if isinstance(dt, str):
        dt = parse(dt)
    elif isinstance(dt, int):
        # unix epoch
        dt = datetime.datetime.fromtimestamp(dt, date_utils._tzutc())

    fmt = ISO8601_FORMAT_MICROSECOND if usec else ISO8601_FORMAT
    if offset:
        ost = dt.strftime("%z")
        ost = (ost[:3] + ":" + ost[3:]) if ost else "+00:00"
    else:
        tz = dt.tzinfo.tzname(dt) if dt.tzinfo else "UTC"
        ost = "Z" if tz == "UTC" else tz
    return dt.strftime(fmt) + ost


def validate(value, raise_exception=True):
    if isinstance(value, datetime.datetime) or (
        type(value) is str and re.match(ISO8601_UTC_REGEX, value)
    ):
        return True
    if raise_exception:
        raise ValueError("Datetime value does not match expected format.")
    return False


def parse(value, preserve_original_tz=False, validate_value=True):
    """
    Parse date in the ISO8601 format and return a time-zone aware datetime object.

    :param value: Date in ISO8601 format.
    :type value: ``str``

    :param preserve_original_tz: True to preserve the original timezone - by default result is
                                 converted into UTC.
    :type preserve_original_tz: ``boolean``

    :param validate_value: True to validate that the date is in the ISO8601 format.
    :type validate_value: ``boolean``

    :rtype: ``datetime.datetime``
    """
    if validate_value:
        validate(value, raise_exception=True)

    dt = date_utils.parse(value=value, preserve_original_tz=preserve_original_tz)
    return dt

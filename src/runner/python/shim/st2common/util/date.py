# Ported from StackStorm 3.9.0 st2common/st2common/util/date.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: upstream parses with ciso8601 and falls back to dateutil, both of StackStorm's own
# environment. Here: dateutil when the pack's virtualenv has it, else the standard library's
# datetime.fromisoformat (which reads what ciso8601 reads: RFC 3339 and most of ISO 8601).
"""
Date related utility functions.
"""

import datetime

__all__ = ["get_datetime_utc_now", "add_utc_tz", "convert_to_utc", "parse"]


def _tzutc():
    try:
        import dateutil.tz

        return dateutil.tz.tzutc()
    except ImportError:
        return datetime.timezone.utc


def get_datetime_utc_now():
    """
    Retrieve datetime object for current time with included UTC timezone info.

    :rtype: ``datetime.datetime``
    """
    dt = datetime.datetime.utcnow()
    dt = add_utc_tz(dt)
    return dt


def append_milliseconds_to_time(date, millis):
    """
    Return time UTC datetime object offset by provided milliseconds.
    """
    return convert_to_utc(date + datetime.timedelta(milliseconds=millis))


def add_utc_tz(dt):
    if dt.tzinfo and dt.tzinfo.utcoffset(dt) != datetime.timedelta(0):
        raise ValueError("datetime already contains a non UTC timezone")

    return dt.replace(tzinfo=_tzutc())


def convert_to_utc(dt):
    """
    Convert provided datetime object to UTC timezone.

    Note: If the object has no timezone information we assume it's in UTC.

    :rtype: ``datetime.datetime``
    """
    if not dt.tzinfo:
        return add_utc_tz(dt)

    dt = dt.astimezone(_tzutc())
    return dt


def _parse_datetime(text):
    try:
        import dateutil.parser
    except ImportError:
        dateutil = None
    try:
        value = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        if dateutil is None:
            raise
    return dateutil.parser.parse(text)


def parse(value, preserve_original_tz=False):
    """
    Parse a date string and return a time-zone aware datetime object.

    :param value: Date in ISO8601 format.
    :type value: ``str``

    :param preserve_original_tz: True to preserve the original timezone - by default result is
                                 converted into UTC.
    :type preserve_original_tz: ``boolean``

    :rtype: ``datetime.datetime``
    """
    dt = _parse_datetime(str(value))

    if not dt.tzinfo:
        dt = add_utc_tz(dt)

    if not preserve_original_tz:
        dt = convert_to_utc(dt)

    return dt

# Ported from StackStorm 3.9.0 st2common/st2common/exceptions/__init__.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.


class StackStormBaseException(Exception):
    """
    The root of the exception class hierarchy for all
    StackStorm server exceptions.
    """

    pass


class StackStormPluginException(StackStormBaseException):
    """
    The root of the exception class hierarchy for all
    exceptions that are defined as part of a StackStorm
    plug-in API.
    """

    pass

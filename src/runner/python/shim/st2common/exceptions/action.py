# Ported from StackStorm 3.9.0 st2common/st2common/exceptions/action.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
from st2common.exceptions import StackStormBaseException

__all__ = [
    "ParameterRenderingFailedException",
    "InvalidActionReferencedException",
    "InvalidActionParameterException",
]


class ParameterRenderingFailedException(StackStormBaseException):
    pass


class InvalidActionReferencedException(StackStormBaseException):
    pass


class InvalidActionParameterException(StackStormBaseException):
    pass

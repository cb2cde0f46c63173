# Ported from StackStorm 3.9.0 st2common/st2common/expressions/functions/path.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
import os

__all__ = ["basename", "dirname"]


def basename(path):
    return os.path.basename(path)


def dirname(path):
    return os.path.dirname(path)

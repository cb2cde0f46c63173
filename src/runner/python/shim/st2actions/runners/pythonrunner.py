# Ported from StackStorm 3.9.0 st2actions/st2actions/runners/pythonrunner.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# The pre-2.0 import path of the Action base class, which packs still use.
from st2common.runners.base_action import Action

__all__ = ["Action"]

# Copyright 2020 The StackStorm Authors.
# Copyright 2019 Extreme Networks, Inc.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

from __future__ import absolute_import
import time
from random import randint

from st2common.runners.base_action import Action

__all__ = ["PauseAction"]


class PauseAction(Action):
    def run(self, max_pause, random):
        if random:
            delay = randint(1, int(max_pause))
        else:
            delay = max_pause

        time.sleep(delay)

        return delay

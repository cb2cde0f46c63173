# Ported from StackStorm 3.9.0 st2common/st2common/constants/action.py (the constants actions use).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
ACTION_NAME = "name"
ACTION_ID = "id"
ACTION_PACK = "pack"

LIBS_DIR = "lib"

LIVEACTION_STATUS_REQUESTED = "requested"
LIVEACTION_STATUS_SCHEDULED = "scheduled"
LIVEACTION_STATUS_DELAYED = "delayed"
LIVEACTION_STATUS_RUNNING = "running"
LIVEACTION_STATUS_SUCCEEDED = "succeeded"
LIVEACTION_STATUS_FAILED = "failed"
LIVEACTION_STATUS_TIMED_OUT = "timeout"
LIVEACTION_STATUS_ABANDONED = "abandoned"
LIVEACTION_STATUS_CANCELING = "canceling"
LIVEACTION_STATUS_CANCELED = "canceled"
LIVEACTION_STATUS_PENDING = "pending"
LIVEACTION_STATUS_PAUSING = "pausing"
LIVEACTION_STATUS_PAUSED = "paused"
LIVEACTION_STATUS_RESUMING = "resuming"

ACTION_OUTPUT_RESULT_DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"

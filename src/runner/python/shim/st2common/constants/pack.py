# Ported from StackStorm 3.9.0 st2common/st2common/constants/pack.py (the constants actions use).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
PACKS_PACK_NAME = "packs"
SYSTEM_PACK_NAME = "core"
SYSTEM_PACK_NAMES = [PACKS_PACK_NAME, SYSTEM_PACK_NAME]
DEFAULT_PACK_NAME = "default"
MANIFEST_FILE_NAME = "pack.yaml"
CONFIG_SCHEMA_FILE_NAME = "config.schema.yaml"
COMMON_LIB_DIR = "lib"

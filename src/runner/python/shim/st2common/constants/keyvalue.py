# Ported from StackStorm 3.9.0 st2common/st2common/constants/keyvalue.py (the constants actions use).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
DATASTORE_PARENT_SCOPE = "st2kv"
DATASTORE_SCOPE_SEPARATOR = "."

SYSTEM_SCOPE = "system"
FULL_SYSTEM_SCOPE = "%s%s%s" % (DATASTORE_PARENT_SCOPE, DATASTORE_SCOPE_SEPARATOR, SYSTEM_SCOPE)
USER_SCOPE = "user"
FULL_USER_SCOPE = "%s%s%s" % (DATASTORE_PARENT_SCOPE, DATASTORE_SCOPE_SEPARATOR, USER_SCOPE)
ALLOWED_SCOPES = [SYSTEM_SCOPE, USER_SCOPE, FULL_SYSTEM_SCOPE, FULL_USER_SCOPE]

DATASTORE_KEY_SEPARATOR = ":"

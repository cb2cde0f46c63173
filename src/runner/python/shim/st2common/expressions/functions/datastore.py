# Ported from StackStorm 3.9.0 st2common/st2common/expressions/functions/datastore.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: the ciphertext is decrypted by st2-rs with the datastore key of the st2.conf in use
# ([keyvalue] encryption_key_path), over the wrapper's datastore channel.
__all__ = ["decrypt_kv"]


def decrypt_kv(value):
    from st2common import _st2rs
    from st2common.services.datastore import _Channel

    value = str(value)
    if value == "":
        raise ValueError(
            "Referenced datastore item doesn't exist or it contains an empty string"
        )
    return _Channel(_st2rs.SERVICE_FD).call({"op": "decrypt", "value": value})

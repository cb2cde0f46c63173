# Ported from StackStorm 3.9.0 st2common/st2common/services/datastore.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: upstream reaches the datastore through StackStorm's API with st2client; here the
# requests go to st2-rs over the file descriptor the runner gives the wrapper (one JSON line
# each way). Key names, prefixes, return values and log messages are upstream's.
import json
import os

from st2common.constants.keyvalue import DATASTORE_KEY_SEPARATOR, SYSTEM_SCOPE

__all__ = ["BaseDatastoreService", "ActionDatastoreService", "DatastoreService", "KeyValuePair"]


class DatastoreServiceError(Exception):
    pass


class KeyValuePair(object):
    """What list_values returns: the fields of st2client's KeyValuePair model."""

    def __init__(self, item=None):
        item = item or {}
        self.id = item.get("name")
        self.name = item.get("name")
        self.value = item.get("value")
        self.secret = item.get("secret", False)
        self.encrypted = item.get("encrypted", False)
        self.scope = item.get("scope")
        self.user = item.get("user")
        self.expire_timestamp = item.get("expire_timestamp")

    def __repr__(self):
        return "<KeyValuePair name=%s,value=%s>" % (self.name, self.value)


class _Channel(object):
    """The datastore service of st2-rs, on the file descriptor given to the wrapper."""

    def __init__(self, fd):
        self._fd = fd

    def call(self, request):
        line = (json.dumps(request) + "\n").encode("utf-8")
        try:
            while line:
                written = os.write(self._fd, line)
                line = line[written:]
            data = b""
            while not data.endswith(b"\n"):
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise DatastoreServiceError(
                        "the datastore service of st2-rs closed the connection"
                    )
                data += chunk
        except OSError as error:
            raise DatastoreServiceError(
                "the datastore service of st2-rs is not available: %s" % error
            )
        reply = json.loads(data.decode("utf-8"))
        if "error" in reply:
            raise DatastoreServiceError(reply["error"])
        return reply.get("value")


class BaseDatastoreService(object):
    """
    Base DatastoreService class which provides public methods for accessing datastore items.
    """

    DATASTORE_NAME_SEPARATOR = DATASTORE_KEY_SEPARATOR

    def __init__(self, logger, pack_name, class_name):
        self._pack_name = pack_name
        self._class_name = class_name
        self._logger = logger
        self._client = None

    def get_user_info(self):
        client = self.get_api_client()
        self._logger.debug("Retrieving user information")
        from st2common import _st2rs

        return {"username": _st2rs.SYSTEM_USER, "authentication": {"method": "st2-rs"}}

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        client = self.get_api_client()
        self._logger.debug("Retrieving all the values from the datastore")

        key_prefix = self._get_full_key_prefix(local=local, prefix=prefix)
        items = client.call({"op": "list", "prefix": key_prefix or ""})
        kvps = [KeyValuePair(item) for item in items]
        offset = offset or 0
        if limit:
            return kvps[offset : offset + limit]
        return kvps[offset:]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        name = self._get_full_key_name(name=name, local=local)

        client = self.get_api_client()
        self._logger.debug("Retrieving value from the datastore (name=%s)", name)

        try:
            return client.call(
                {"op": "get", "name": name, "scope": scope, "decrypt": bool(decrypt)}
            )
        except Exception as e:
            self._logger.exception(
                "Exception retrieving value from datastore (name=%s): %s", name, e
            )
            return None

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        name = self._get_full_key_name(name=name, local=local)

        value = str(value)
        client = self.get_api_client()

        self._logger.debug("Setting value in the datastore (name=%s)", name)

        client.call(
            {
                "op": "set",
                "name": name,
                "value": value,
                "ttl": ttl or None,
                "scope": scope,
                "encrypt": bool(encrypt),
            }
        )
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        name = self._get_full_key_name(name=name, local=local)

        client = self.get_api_client()

        self._logger.debug("Deleting value from the datastore (name=%s)", name)

        try:
            return client.call({"op": "delete", "name": name, "scope": scope})
        except Exception as e:
            self._logger.exception(
                "Exception deleting value from datastore (name=%s): %s", name, e
            )
            return False

    def get_api_client(self):
        raise NotImplementedError("get_api_client() not implemented")

    def _get_full_key_name(self, name, local):
        if local:
            name = self._get_key_name_with_prefix(name=name)

        return name

    def _get_full_key_prefix(self, local, prefix=None):
        if local:
            key_prefix = self._get_local_key_name_prefix()

            if prefix:
                key_prefix += prefix
        else:
            key_prefix = prefix

        return key_prefix

    def _get_local_key_name_prefix(self):
        key_prefix = self._get_datastore_key_prefix() + self.DATASTORE_NAME_SEPARATOR
        return key_prefix

    def _get_key_name_with_prefix(self, name):
        prefix = self._get_datastore_key_prefix()
        full_name = prefix + self.DATASTORE_NAME_SEPARATOR + name
        return full_name

    def _get_datastore_key_prefix(self):
        prefix = "%s.%s" % (self._pack_name, self._class_name)
        return prefix


class ActionDatastoreService(BaseDatastoreService):
    """
    DatastoreService class used by actions.
    """

    def __init__(self, logger, pack_name, class_name, auth_token=None):
        super(ActionDatastoreService, self).__init__(
            logger=logger, pack_name=pack_name, class_name=class_name
        )

        self._auth_token = auth_token
        self._client = None

    def get_api_client(self):
        if not self._client:
            self._logger.debug("Creating new Client object.")
            from st2common import _st2rs

            self._client = _Channel(_st2rs.SERVICE_FD)

        return self._client


DatastoreService = ActionDatastoreService

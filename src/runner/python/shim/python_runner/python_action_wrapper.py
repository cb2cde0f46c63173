# Ported from StackStorm 3.9.0 contrib/runners/python_runner/python_runner/python_action_wrapper.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# The process st2-rs starts for a python-script action (through ../../wrapper.py, run as
# `python -u -c`): it loads the action class from the entry point, instantiates it with the
# pack config and calls run(**parameters), then prints the result between two copies of
# StackStorm's delimiter. Differences from upstream, all on purpose:
# - the parameters and the pack config come as one JSON line on stdin, never on the command
#   line (the config holds secrets);
# - st2-rs serves the datastore (self.action_service) over a file descriptor;
# - the result is serialized as orjson serializes it upstream (datetimes, UUIDs, dataclasses,
#   enums; NaN as null; non-str dict keys refused) without needing orjson in the pack's
#   virtualenv; a result it cannot serialize becomes str() of the result, also when run()
#   returned no status (upstream then returns str() of the whole output dict cut by a regex,
#   which leaves ", 'status': None}" at the end).
import os
import sys

from st2common import _st2rs
from st2common.runners.base_action import Action
from st2common.runners.utils import get_logger_for_python_runner_action
from st2common.runners.utils import get_action_class_instance
from st2common.constants.action import ACTION_OUTPUT_RESULT_DELIMITER
from st2common.constants.keyvalue import SYSTEM_SCOPE

__all__ = ["PythonActionWrapper", "ActionService"]

PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE = 220
PYTHON_RUNNER_DEFAULT_LOG_LEVEL = "DEBUG"

INVALID_STATUS_ERROR_MESSAGE = """
If this is an existing action which returns a tuple with two items, it needs to be updated to
either:

1. Return a list instead of a tuple
2. Return a tuple where a first items is a status flag - (True, ('item1', 'item2'))

For more information, please see: https://docs.stackstorm.com/upgrade_notes.html#st2-v1-6
""".strip()


class ActionService(object):
    """
    Instance of this class is passed to the action instance and exposes "public" methods which can
    be called by the action.
    """

    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        self._datastore_service = None

    @property
    def datastore_service(self):
        from st2common.services.datastore import ActionDatastoreService

        if not self._datastore_service:
            action_name = self._action_wrapper._class_name
            log_level = self._action_wrapper._log_level
            logger = get_logger_for_python_runner_action(
                action_name=action_name, log_level=log_level
            )
            pack_name = self._action_wrapper._pack
            class_name = self._action_wrapper._class_name
            auth_token = os.environ.get("ST2_ACTION_AUTH_TOKEN", None)
            self._datastore_service = ActionDatastoreService(
                logger=logger,
                pack_name=pack_name,
                class_name=class_name,
                auth_token=auth_token,
            )
        return self._datastore_service

    def get_user_info(self):
        return self.datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        return self.datastore_service.list_values(
            local=local, prefix=prefix, limit=limit, offset=offset
        )

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        return self.datastore_service.get_value(
            name=name, local=local, scope=scope, decrypt=decrypt
        )

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        return self.datastore_service.set_value(
            name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)


class PythonActionWrapper(object):
    def __init__(
        self,
        pack,
        file_path,
        config=None,
        parameters=None,
        user=None,
        parent_args=None,
        log_level=PYTHON_RUNNER_DEFAULT_LOG_LEVEL,
    ):
        self._pack = pack
        self._file_path = file_path
        self._config = config or {}
        self._parameters = parameters or {}
        self._user = user or _st2rs.SYSTEM_USER
        self._parent_args = parent_args or []
        self._log_level = log_level
        self._class_name = None

    def run(self):
        action = self._get_action_instance()
        output = action.run(**self._parameters)

        if isinstance(output, tuple) and len(output) == 2:
            # run() method returned status and data - (status, data)
            action_status = output[0]
            action_result = output[1]
        else:
            # run() method returned only data, no status (pre StackStorm v1.6)
            action_status = None
            action_result = output

        action_output = {"result": action_result, "status": None}

        if action_status is not None and not isinstance(action_status, bool):
            sys.stderr.write(
                "Status returned from the action run() method must either be "
                "True or False, got: %s\n" % (action_status)
            )
            sys.stderr.write(INVALID_STATUS_ERROR_MESSAGE)
            sys.exit(PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE)

        if action_status is not None and isinstance(action_status, bool):
            action_output["status"] = action_status

        # Special case if result object is not JSON serializable - aka user wanted to return a
        # non-simple type (e.g. class instance or other non-JSON serializable type)
        try:
            print_output = dumps(action_output)
        except (TypeError, ValueError, RecursionError):
            action_output["result"] = str(action_output["result"])
            print_output = dumps(action_output)

        # Print output to stdout so the parent can capture it
        sys.stdout.flush()
        sys.stdout.buffer.write(ACTION_OUTPUT_RESULT_DELIMITER.encode("utf-8"))
        sys.stdout.buffer.write(print_output + b"\n")
        sys.stdout.buffer.write(ACTION_OUTPUT_RESULT_DELIMITER.encode("utf-8"))
        sys.stdout.flush()

    def _get_action_instance(self):
        try:
            actions_cls = register_plugin(Action, self._file_path)
        except Exception as e:
            import traceback

            tb_msg = traceback.format_exc()
            msg = (
                'Failed to load action class from file "%s" (action file most likely doesn\'t '
                "exist or contains invalid syntax): %s" % (self._file_path, str(e))
            )
            msg += "\n\n" + tb_msg
            exc_cls = type(e)
            try:
                error = exc_cls(msg)
            except Exception:
                error = Exception(msg)
            raise error

        action_cls = actions_cls[0] if actions_cls and len(actions_cls) > 0 else None

        if not action_cls:
            raise Exception(
                'File "%s" has no action class or the file doesn\'t exist.' % (self._file_path)
            )

        self._class_name = action_cls.__name__

        action_service = ActionService(action_wrapper=self)
        action_instance = get_action_class_instance(
            action_cls=action_cls, config=self._config, action_service=action_service
        )
        return action_instance


# Ported from StackStorm 3.9.0 st2common/st2common/util/loader.py (register_plugin), without
# the inspect module (costly to import): the classes defined in the module, by name, that
# implement the base class's abstract run().
def _register_plugin_path(plugin_dir_abs_path):
    if not os.path.isdir(plugin_dir_abs_path):
        raise Exception('Directory "%s" with plugins doesn\'t exist' % (plugin_dir_abs_path))

    for x in sys.path:
        if plugin_dir_abs_path in (x, x + os.sep):
            return
    sys.path.append(plugin_dir_abs_path)


def _get_plugin_module(plugin_file_path):
    plugin_module = os.path.basename(plugin_file_path)
    if plugin_module.endswith(".py"):
        plugin_module = plugin_module[: plugin_module.rfind(".py")]
    else:
        plugin_module = None
    return plugin_module


def _implements(plugin_base_class, plugin_klass):
    for method in plugin_base_class.__abstractmethods__:
        function = getattr(plugin_klass, method, None)
        if type(function).__name__ != "function":
            return False
        if getattr(function, "__isabstractmethod__", False):
            return False
    return True


def _module_from_file(module_name, path):
    """importlib.util's spec_from_file_location and module_from_spec, from the frozen modules
    Python has already loaded (importlib.util itself costs a millisecond of imports)."""
    try:
        import _frozen_importlib
        import _frozen_importlib_external

        spec = _frozen_importlib_external.spec_from_file_location(module_name, path)
        module = _frozen_importlib.module_from_spec(spec)
    except (ImportError, AttributeError):
        import importlib.util

        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
    return spec, module


def register_plugin(plugin_base_class, plugin_abs_file_path):
    registered_plugins = []
    plugin_dir = os.path.dirname(os.path.realpath(plugin_abs_file_path))
    _register_plugin_path(plugin_dir)

    module_name = _get_plugin_module(plugin_abs_file_path)
    if module_name is None:
        return None

    spec, module = _module_from_file(module_name, plugin_abs_file_path)
    spec.loader.exec_module(module)
    klasses = [
        value
        for name, value in sorted(vars(module).items())
        if isinstance(value, type) and value.__module__ == module.__name__
    ]

    for klass in klasses:
        if _implements(plugin_base_class, klass):
            plugin_base_class.register(klass)
            registered_plugins.append(klass)

    if len(registered_plugins) == 0:
        raise Exception(
            'Found no classes in plugin file "%s" matching requirements.' % (plugin_abs_file_path)
        )

    return registered_plugins


# The result as orjson.dumps (StackStorm 3.9.0 pins orjson 3.10) serializes it by default.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _plain(value):
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        if value < _INT_MIN or value > _INT_MAX:
            raise TypeError("Integer exceeds 64-bit range")
        return value
    if kind is float:
        return value if value - value == 0.0 else None
    if kind is dict or isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError("Dict key must be str")
            plain[key] = _plain(item)
        return plain
    if kind is list or kind is tuple or isinstance(value, list):
        return [_plain(item) for item in value]
    enum = sys.modules.get("enum")
    if enum is not None and isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _plain(int(value))
    datetime = sys.modules.get("datetime")
    if datetime is not None:
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, datetime.time):
            if value.tzinfo is not None:
                raise TypeError("datetime.time must not have tzinfo set")
            return value.isoformat()
    uuid = sys.modules.get("uuid")
    if uuid is not None and isinstance(value, uuid.UUID):
        return str(value)
    fields = getattr(kind, "__dataclass_fields__", None)
    if isinstance(fields, dict):
        return {
            name: _plain(getattr(value, name))
            for name, field in fields.items()
            if getattr(field, "_field_type", None) is None
            or getattr(field._field_type, "name", "_FIELD") == "_FIELD"
        }
    raise TypeError("Type is not JSON serializable: %s" % kind.__name__)


# JSON in and out through CPython's _json accelerator: the json package imports re (and with
# it enum, functools, collections...), which would double the start-up time of a trivial
# action. The json package is the fallback.
class _ScanContext(object):
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo = None


def _loads(text):
    try:
        import _json

        scanner = _json.make_scanner(_ScanContext())
    except Exception:
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip())
    try:
        value, end = scanner(text, start)
    except StopIteration as stop:
        raise ValueError("Expecting value: char %s" % stop.value)
    if text[end:].strip():
        raise ValueError("Extra data: char %s" % end)
    return value


def _refuse(value):
    raise TypeError("Type is not JSON serializable: %s" % type(value).__name__)


def dumps(value):
    plain = _plain(value)
    try:
        import _json

        encoder = _json.make_encoder(
            None, _refuse, _json.encode_basestring, None, ":", ",", False, False, False
        )
        text = "".join(encoder(plain, 0))
    except ImportError:
        import json

        text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def _argument(argv, name, default=None):
    flag = "--" + name
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(flag + "="):
            return word[len(flag) + 1 :]
    return default


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    pack = _argument(argv, "pack")
    file_path = _argument(argv, "file-path")
    user = _argument(argv, "user")
    log_level = _argument(argv, "log-level", PYTHON_RUNNER_DEFAULT_LOG_LEVEL)
    _st2rs.SERVICE_FD = int(_argument(argv, "service-fd", "-1"))
    _st2rs.BASE_PATH = _argument(argv, "base-path", _st2rs.BASE_PATH)
    packs_base_paths = _argument(argv, "packs-base-paths")
    if packs_base_paths:
        _st2rs.PACKS_BASE_PATHS = [path for path in packs_base_paths.split(":") if path]
    _st2rs.SYSTEM_USER = _argument(argv, "system-user", _st2rs.SYSTEM_USER)
    if not pack or not file_path:
        raise ValueError("the --pack and --file-path arguments are required")

    stdin_data = sys.stdin.readline().strip()

    if not stdin_data:
        raise ValueError("Received no valid parameters data from sys.stdin")

    try:
        payload = _loads(stdin_data)
        parameters = payload.get("parameters", {})
    except Exception as e:
        msg = (
            "Failed to parse parameters from stdin. Expected a JSON object with "
            '"parameters" attribute: %s' % (str(e))
        )
        raise ValueError(msg)

    config = payload.get("config") or {}
    if not isinstance(config, dict):
        raise TypeError(f"Pack config needs to be a dictionary (was {type(config)}).")

    obj = PythonActionWrapper(
        pack=pack,
        file_path=file_path,
        config=config,
        parameters=parameters,
        user=user,
        log_level=log_level,
    )

    obj.run()

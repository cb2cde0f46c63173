# The python-script runner's wrapper, shipped inside st2-rs and run as `python -c <this>`.
#
# It plays the part of StackStorm's python_action_wrapper.py without StackStorm installed:
# it provides the modules actions import (st2common.runners.base_action.Action, ...), reads
# the parameters and the pack config from one JSON line on stdin (never the command line:
# they hold secrets), loads the action class from the entry point, calls run(**parameters)
# and prints the result between two copies of StackStorm's delimiter. The datastore
# (self.action_service) is served by st2-rs over the file descriptor given as --service-fd,
# one JSON line each way.
#
# Startup is kept cheap: logging is imported only when an action uses self.logger.
import json
import os
import sys

DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"
INVALID_STATUS_EXIT_CODE = 220


def _argument(name, default=None):
    argv = sys.argv[1:]
    flag = "--" + name
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(flag + "="):
            return word[len(flag) + 1:]
    return default


PACK = _argument("pack", "unknown")
FILE_PATH = _argument("file-path")
USER = _argument("user", "stanley")
LOG_LEVEL = (_argument("log-level", "DEBUG") or "DEBUG").upper()
SERVICE_FD = int(_argument("service-fd", "-1"))


def _make_logger(name):
    import logging

    logger = logging.getLogger("st2.actions.python." + name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [-] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    level = "INFO" if LOG_LEVEL == "AUDIT" else LOG_LEVEL
    logger.setLevel(getattr(logging, level, logging.DEBUG))
    return logger


class _ServiceError(Exception):
    pass


def _call(request):
    """One request to st2-rs's datastore service (--service-fd), and its reply."""
    line = (json.dumps(request) + "\n").encode("utf-8")
    try:
        while line:
            written = os.write(SERVICE_FD, line)
            line = line[written:]
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(SERVICE_FD, 65536)
            if not chunk:
                raise _ServiceError("the datastore service of st2-rs closed the connection")
            data += chunk
    except OSError as error:
        raise _ServiceError("the datastore service of st2-rs is not available: %s" % error)
    reply = json.loads(data.decode("utf-8"))
    if "error" in reply:
        raise _ServiceError(reply["error"])
    return reply.get("value")


class KeyValuePair(object):
    """What list_values returns: StackStorm's KeyValuePair API object, simplified."""

    def __init__(self, item):
        self.name = item.get("name")
        self.value = item.get("value")
        self.secret = item.get("secret", False)
        self.encrypted = item.get("encrypted", False)
        self.scope = item.get("scope")
        self.expire_timestamp = item.get("expire_timestamp")

    def __repr__(self):
        return "KeyValuePair(name=%r)" % (self.name,)


class DatastoreService(object):
    """st2common.services.datastore.ActionDatastoreService over st2-rs's store."""

    def __init__(self, pack, class_name):
        self._prefix = "%s.%s:" % (pack, class_name)

    def _name(self, name, local):
        return self._prefix + name if local else name

    def list_values(self, local=True, prefix=None):
        full = (self._prefix if local else "") + (prefix or "")
        return [KeyValuePair(item) for item in _call({"op": "list", "prefix": full})]

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return _call({"op": "get", "name": self._name(name, local), "scope": scope,
                      "decrypt": bool(decrypt)})

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        if not isinstance(value, str):
            raise ValueError("value must be a string (got %s); serialize it first, e.g. "
                             "with json.dumps" % type(value).__name__)
        return _call({"op": "set", "name": self._name(name, local), "value": value,
                      "ttl": ttl, "scope": scope, "encrypt": bool(encrypt)})

    def delete_value(self, name, local=True, scope="system"):
        return _call({"op": "delete", "name": self._name(name, local), "scope": scope})


class ActionService(object):
    """st2common.runners.base_action's ActionService: the datastore, for actions."""

    def __init__(self, pack, class_name):
        self.datastore_service = DatastoreService(pack, class_name)

    def list_values(self, local=True, prefix=None):
        return self.datastore_service.list_values(local=local, prefix=prefix)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self.datastore_service.get_value(name, local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self.datastore_service.set_value(name, value, ttl, local, scope=scope,
                                                encrypt=encrypt)

    def delete_value(self, name, local=True, scope="system"):
        return self.datastore_service.delete_value(name, local, scope=scope)


class Action(object):
    """st2common.runners.base_action.Action: what Python actions subclass."""

    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service

    @property
    def logger(self):
        logger = self.__dict__.get("_logger")
        if logger is None:
            logger = self.__dict__["_logger"] = _make_logger(type(self).__name__)
        return logger

    @logger.setter
    def logger(self, value):
        self.__dict__["_logger"] = value

    def run(self, **kwargs):
        raise NotImplementedError("the action class must define run()")


class InvalidActionParameterException(Exception):
    pass


def _install_modules():
    module_type = type(sys)

    def module(name, **attributes):
        created = module_type(name)
        created.__path__ = []
        created.__dict__.update(attributes)
        sys.modules[name] = created
        return created

    module("st2common")
    module("st2common.runners")
    module("st2common.runners.base_action", Action=Action, ActionService=ActionService)
    module("st2common.exceptions")
    module("st2common.exceptions.action",
           InvalidActionParameterException=InvalidActionParameterException)
    module("st2common.services")
    module("st2common.services.datastore", ActionDatastoreService=DatastoreService,
           DatastoreService=DatastoreService)


def _load_action_class(path):
    import importlib.util

    directory = os.path.dirname(os.path.realpath(path))
    for entry in (os.path.join(directory, "lib"), directory):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None:
            raise ImportError("not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException as error:
        import traceback

        sys.stderr.write(
            'Failed to load action class from file "%s" (action file most likely doesn\'t '
            "exist or contains invalid syntax): %s\n\n%s"
            % (path, error, traceback.format_exc()))
        sys.exit(1)
    classes = sorted(
        (value for value in vars(module).values()
         if isinstance(value, type) and issubclass(value, Action) and value is not Action
         and value.__module__ == name),
        key=lambda cls: cls.__name__)
    if not classes:
        sys.stderr.write('File "%s" has no action class or the file doesn\'t exist.\n' % path)
        sys.exit(1)
    return classes[0]


def main():
    line = sys.stdin.readline()
    if not line.strip():
        sys.stderr.write("Received no valid parameters data from sys.stdin\n")
        sys.exit(1)
    payload = json.loads(line)
    parameters = payload.get("parameters") or {}
    config = payload.get("config") or {}
    _install_modules()
    action_class = _load_action_class(FILE_PATH)
    action = action_class(config=config,
                          action_service=ActionService(PACK, action_class.__name__))
    output = action.run(**parameters)
    status = None
    result = output
    if isinstance(output, tuple) and len(output) == 2:
        status, result = output
        if not isinstance(status, bool):
            sys.stderr.write("Status returned from the action run() method must either be "
                             "True or False, got: %s\n" % (status,))
            sys.exit(INVALID_STATUS_EXIT_CODE)
    try:
        text = json.dumps({"result": result, "status": status})
    except (TypeError, ValueError):
        text = json.dumps({"result": str(result), "status": status})
    sys.stdout.flush()
    out = sys.stdout.buffer
    out.write(DELIMITER.encode("utf-8"))
    out.write(text.encode("utf-8") + b"\n")
    out.write(DELIMITER.encode("utf-8"))
    out.flush()


main()

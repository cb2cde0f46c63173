# Ported from StackStorm 3.9.0 st2common/st2common/runners/utils.py (PackConfigDict,
# get_logger_for_python_runner_action, get_action_class_instance).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
import os

__all__ = [
    "PackConfigDict",
    "get_logger_for_python_runner_action",
    "get_action_class_instance",
]

CONFIG_MISSING_ITEM_ERROR = """
Config for pack "%s" is missing key "%s".
Make sure that the config file exists on disk (%s) and contains that key.

Also make sure you run "st2ctl reload --register-configs" when you add a
config and after every change you make to the config.
"""

LOGGERS = {}


class PackConfigDict(dict):
    """
    Dictionary class wraper for pack config dictionaries.

    This class throws a user-friendly exception in case user tries to access config item which
    doesn't exist in the dict.
    """

    def __init__(self, pack_name, *args):
        super(PackConfigDict, self).__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key):
        try:
            value = super(PackConfigDict, self).__getitem__(key)
        except KeyError:
            from st2common import _st2rs

            configs_path = os.path.join(_st2rs.BASE_PATH, "configs/")
            config_path = os.path.join(configs_path, self._pack_name + ".yaml")
            msg = CONFIG_MISSING_ITEM_ERROR % (self._pack_name, key, config_path)
            raise ValueError(msg)

        return value

    def __setitem__(self, key, value):
        super(PackConfigDict, self).__setitem__(key, value)


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """
    Set up a logger which logs all the messages with level DEBUG and above to stderr.
    """
    import logging as stdlib_logging

    from st2common import log as logging

    logger_name = "actions.python.%s" % (action_name)

    if logger_name not in LOGGERS:
        level_name = log_level.upper()
        log_level_constant = getattr(stdlib_logging, level_name, stdlib_logging.DEBUG)
        logger = logging.getLogger(logger_name)

        console = stdlib_logging.StreamHandler()
        console.setLevel(log_level_constant)

        formatter = stdlib_logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s")
        console.setFormatter(formatter)
        logger.addHandler(console)
        logger.setLevel(log_level_constant)

        LOGGERS[logger_name] = logger
    else:
        logger = LOGGERS[logger_name]

    return logger


def get_action_class_instance(action_cls, config=None, action_service=None):
    """
    Instantiate and return Action class instance.

    :param action_cls: Action class to instantiate.
    :type action_cls: ``class``

    :param config: Config to pass to the action class.
    :type config: ``dict``

    :param action_service: ActionService instance to pass to the class.
    :type action_service: :class:`ActionService`
    """
    kwargs = {}
    kwargs["config"] = config
    kwargs["action_service"] = action_service

    # Note: This is done for backward compatibility reasons. We first try to pass
    # "action_service" argument to the action class constructor, but if that doesn't work (e.g. old
    # action which hasn't been updated yet), we resort to late assignment post class instantiation.
    try:
        action_instance = action_cls(**kwargs)
    except TypeError as e:
        if "unexpected keyword argument 'action_service'" not in str(e):
            raise e

        action_service = kwargs.pop("action_service", None)
        action_instance = action_cls(**kwargs)
        action_instance.action_service = action_service

    return action_instance

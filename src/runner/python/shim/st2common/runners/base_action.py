# Ported from StackStorm 3.9.0 st2common/st2common/runners/base_action.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: the logger is created on first use rather than in __init__, so that an action
# which never logs does not pay for importing logging (the same logger, level and format).
import abc

from st2common.runners.utils import PackConfigDict

__all__ = ["Action"]


class Action(object, metaclass=abc.ABCMeta):
    """
    Base action class other Python actions should inherit from.
    """

    description = None

    def __init__(self, config=None, action_service=None):
        """
        :param config: Action config.
        :type config: ``dict``

        :param action_service: ActionService object.
        :type action_service: :class:`ActionService~
        """
        self.config = config or {}
        self.action_service = action_service

        if action_service and getattr(action_service, "_action_wrapper", None):
            log_level = getattr(action_service._action_wrapper, "_log_level", "debug")
            pack_name = getattr(action_service._action_wrapper, "_pack", "unknown")
        else:
            log_level = "debug"
            pack_name = "unknown"

        self.config = PackConfigDict(pack_name, self.config)
        self.__dict__["_st2rs_log_level"] = log_level

    @property
    def logger(self):
        logger = self.__dict__.get("_st2rs_logger")
        if logger is None:
            from st2common.runners.utils import get_logger_for_python_runner_action

            logger = get_logger_for_python_runner_action(
                action_name=self.__class__.__name__,
                log_level=self.__dict__.get("_st2rs_log_level", "debug"),
            )
            self.__dict__["_st2rs_logger"] = logger
        return logger

    @logger.setter
    def logger(self, value):
        self.__dict__["_st2rs_logger"] = value

    @abc.abstractmethod
    def run(self, **kwargs):
        pass

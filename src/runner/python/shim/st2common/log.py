# Ported from StackStorm 3.9.0 st2common/st2common/log.py (the parts actions use).
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
import logging

__all__ = ["getLogger", "AUDIT"]

# NOTE: We set AUDIT to the highest log level which means AUDIT log messages will always be
# included (e.g. also if log level is set to INFO).
logging.AUDIT = logging.CRITICAL + 10
logging.addLevelName(logging.AUDIT, "AUDIT")
AUDIT = logging.AUDIT


def getLogger(name):
    # make sure that prefix isn't appended multiple times to preserve logging name hierarchy
    prefix = "st2."
    if name.startswith(prefix):
        logger = logging.getLogger(name)
    else:
        logger_name = "{}{}".format(prefix, name)
        logger = logging.getLogger(logger_name)
    return logger


def _audit(logger, msg, *args, **kwargs):
    if logger.isEnabledFor(logging.AUDIT):
        logger._log(logging.AUDIT, msg, args, **kwargs)


logging.Logger.audit = _audit

# Ported from StackStorm 3.9.0 st2common/st2common/util/shell.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: upstream's concurrency.subprocess_popen is eventlet's Popen in StackStorm's
# services; an action process has no event loop, so this is the standard subprocess.Popen.
import os
import shlex
import signal
import subprocess
from subprocess import list2cmdline

__all__ = ["run_command", "kill_process", "quote_unix", "quote_windows"]

PR_SET_PDEATHSIG = 1


def run_command(
    cmd,
    stdin=None,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    shell=False,
    cwd=None,
    env=None,
    close_fds=None,
):
    """
    Run the provided command in a subprocess and wait until it completes.

    :param cmd: Command to run.
    :type cmd: ``str`` or ``list``

    :param stdin: Process stdin.
    :type stdin: ``object``

    :param stdout: Process stdout.
    :type stdout: ``object``

    :param stderr: Process stderr.
    :type stderr: ``object``

    :param shell: True to use a shell.
    :type shell ``boolean``

    :param cwd: Optional working directory.
    :type cwd: ``str``

    :param env: Optional environment to use with the command. If not provided,
                environment from the current process is inherited.
    :type env: ``dict``

    :param close_fds: True to close all the fds. By default when None is provided we rely on
                      default upstream behavior which may be Python version specific.

    :rtype: ``tuple`` (exit_code, stdout, stderr)
    """
    if not isinstance(cmd, (list, tuple, str)):
        raise TypeError(
            f"Command must be a type of list, tuple, or string, not '{type(cmd)}'."
        )

    if not env:
        env = os.environ.copy()

    kwargs = {}
    if close_fds is not None:
        kwargs["close_fds"] = close_fds

    process = subprocess.Popen(
        args=cmd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        cwd=cwd,
        shell=shell,
        **kwargs,
    )
    stdout, stderr = process.communicate()
    exit_code = process.returncode

    return (
        exit_code,
        stdout.decode() if stdout is not None else stdout,
        stderr.decode() if stderr is not None else stderr,
    )


def kill_process(process):
    """
    Kill the provided process by sending it TERM signal using "pkill" shell
    command.

    Note: This function only works on Linux / Unix based systems.

    :param process: Process object as returned by subprocess.Popen.
    :type process: ``object``
    """
    kill_command = shlex.split("sudo pkill -TERM -s %s" % (process.pid))

    status = None
    try:
        status = subprocess.call(kill_command, timeout=100)
    except Exception:
        pass

    return status


def quote_unix(value):
    """
    Return a quoted (shell-escaped) version of the value which can be used as one token in a shell
    command line.

    :param value: Value to quote.
    :type value: ``str``

    :rtype: ``str``
    """
    value = shlex.quote(value)
    return value


def quote_windows(value):
    """
    Return a quoted (shell-escaped) version of the value which can be used as one token in a
    Windows command line.

    :param value: Value to quote.
    :type value: ``str``

    :rtype: ``str``
    """
    value = list2cmdline([value])
    return value


def on_parent_exit(signame):
    """
    Return a function to be run in a child process which will trigger SIGNAME to be sent when the
    parent process dies.
    """
    from ctypes import cdll

    def noop():
        pass

    try:
        libc = cdll["libc.so.6"]
    except OSError:
        return noop

    try:
        prctl = libc.prctl
    except AttributeError:
        return noop

    signum = getattr(signal, signame)

    def set_parent_exit_signal():
        result = prctl(PR_SET_PDEATHSIG, signum)
        if result != 0:
            raise Exception("prctl failed with error code %s" % result)

    return set_parent_exit_signal

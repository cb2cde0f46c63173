# The python-script runner's entry, shipped inside st2-rs and run as `python -u -c <this>`.
#
# StackStorm's modules for actions (st2common..., st2actions..., and the wrapper itself,
# python_runner.python_action_wrapper) are in the directory st2-rs writes from
# src/runner/python/shim/, which is last on PYTHONPATH. As upstream's wrapper does, this takes
# its own entry ('' for -c) off sys.path and puts the virtualenv's site-packages first, so that
# the pack's libraries win over anything else of the same name.
import sys

if sys.path and sys.path[0] == "":
    sys.path.pop(0)
if sys.prefix != sys.base_prefix:
    sys.path.insert(
        0,
        "%s/%s/python%d.%d/site-packages"
        % (sys.prefix, sys.platlibdir, sys.version_info[0], sys.version_info[1]),
    )

# Our modules are cached as bytecode even where PYTHONDONTWRITEBYTECODE is set (compiling
# them would cost more than the rest of the start-up); the action's own files are not.
dont_write_bytecode = sys.dont_write_bytecode
sys.dont_write_bytecode = False
from python_runner.python_action_wrapper import main  # noqa: E402

sys.dont_write_bytecode = dont_write_bytecode
main()

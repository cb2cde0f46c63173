# st2-rs: what the action wrapper knows of the st2.conf in use, for the modules that need it
# (st2common.content.utils, the PackConfigDict message, the datastore channel). Set by
# python_runner/python_action_wrapper.py before the action is loaded.
BASE_PATH = "/opt/stackstorm"
PACKS_BASE_PATHS = ["/opt/stackstorm/packs"]
SYSTEM_USER = "stanley"
SERVICE_FD = -1

# Stand-in for StackStorm's st2common package (st2-rs), for Python actions.
# Licensed under the Apache License, Version 2.0, as StackStorm itself.
__version__ = "3.9.0"

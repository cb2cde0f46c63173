# Stand-in package (st2-rs) for StackStorm 3.9.0 Python actions; Apache-2.0.

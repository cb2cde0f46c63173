//! Pack configs on this machine: `configs/<pack>.yaml` read, resolved, written in place.

pub(crate) mod edit;

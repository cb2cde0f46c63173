//! Execution operations: run an action, get, list, cancel, read its output.

/// Execution operations: run an action, get, list, cancel, read its output.
pub(crate) trait ExecutionOps {}

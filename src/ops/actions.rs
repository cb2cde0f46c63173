//! Action operations: list and get actions, with their parameters.

/// Action operations: list and get actions, with their parameters.
pub(crate) trait ActionOps {}

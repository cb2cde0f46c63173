//! Datastore operations: list, get, set, delete, load keys.

/// Datastore operations: list, get, set, delete, load keys.
pub(crate) trait KeyOps {}

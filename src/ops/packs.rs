//! Pack operations: install, remove, list, get, search, show, register (reload), configs.

/// Pack operations: install, remove, list, get, search, show, register (reload), configs.
pub(crate) trait PackOps {}

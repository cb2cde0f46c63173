//! The embedded backend: every operation carried out on this machine, in the StackStorm
//! layout the [`Settings`] describe (packs, configs, virtualenvs, the SQLite store). One
//! module per operation.

pub(crate) mod run;

use crate::settings::Settings;

/// The embedded backend.
#[allow(dead_code)] // until the operations move here
pub(crate) struct Local {
    /// Resolved settings: where everything is.
    pub(crate) settings: Settings,
}

impl Local {
    /// The backend for these settings.
    pub(crate) fn new(settings: Settings) -> Local {
        Local { settings }
    }
}

// Each area's operations are implemented in that area's modules; these empty impls are
// replaced as the operations move here.
impl super::PackOps for Local {}
impl super::ExecutionOps for Local {}
impl super::KeyOps for Local {}
impl super::ActionOps for Local {}

//! The embedded backend: every operation carried out on this machine, in the StackStorm
//! layout the [`Settings`] describe (packs, configs, virtualenvs, the SQLite store). One
//! module per operation.

pub(crate) mod actions;
pub(crate) mod execution_cancel;
pub(crate) mod execution_query;
pub(crate) mod keys;
pub(crate) mod output_recorder;
pub(crate) mod prepare;
pub(crate) mod run;
pub(crate) mod worker;

use crate::ops::actions::ActionView;
use crate::ops::executions::{
    CancelOutcome, ExecutionListRequest, ExecutionView, OutputPiece, RunActionRequest, RunObserver,
    TailEnd, TailRequest,
};
use crate::ops::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use crate::settings::Settings;
use crate::store::KeyScope;

/// The embedded backend.
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

impl super::ExecutionOps for Local {
    fn run_action(
        &self,
        request: &RunActionRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView> {
        run::run_action(&self.settings, request, observer)
    }

    fn run_action_async(
        &self,
        request: &RunActionRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String> {
        run::run_action_async(&self.settings, request, observer)
    }

    fn execution_worker(&self, id: &str, observer: &mut dyn RunObserver) -> anyhow::Result<()> {
        worker::work(&self.settings, id, observer)
    }

    fn execution_get(&self, id: &str) -> anyhow::Result<ExecutionView> {
        execution_query::get(&self.settings, id)
    }

    fn execution_list(&self, request: &ExecutionListRequest) -> anyhow::Result<Vec<ExecutionView>> {
        execution_query::list(&self.settings, request)
    }

    fn execution_cancel(&self, id: &str) -> anyhow::Result<CancelOutcome> {
        execution_cancel::cancel(&self.settings, id)
    }

    fn execution_tail(
        &self,
        request: &TailRequest,
        output: &mut dyn FnMut(&[OutputPiece]),
    ) -> anyhow::Result<TailEnd> {
        execution_query::tail(&self.settings, request, output)
    }
}

impl super::KeyOps for Local {
    fn key_list(&self, request: &KeyListRequest) -> anyhow::Result<Vec<KeyView>> {
        keys::list(&self.settings, request)
    }

    fn key_get(&self, key: &KeyRef, decrypt: bool) -> anyhow::Result<KeyView> {
        keys::get(&self.settings, key, decrypt)
    }

    fn key_set(&self, request: &KeySetRequest) -> anyhow::Result<KeyView> {
        keys::set(&self.settings, request)
    }

    fn key_delete(&self, key: &KeyRef) -> anyhow::Result<()> {
        keys::delete(&self.settings, key)
    }

    fn key_delete_by_prefix(
        &self,
        scope: KeyScope,
        user: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<String>> {
        keys::delete_by_prefix(&self.settings, scope, user, prefix)
    }

    fn key_load(&self, requests: &[KeySetRequest]) -> anyhow::Result<Vec<KeyView>> {
        keys::load(&self.settings, requests)
    }
}

impl super::ActionOps for Local {
    fn action_list(&self, pack: Option<&str>) -> anyhow::Result<Vec<ActionView>> {
        actions::list(&self.settings, pack)
    }

    fn action_get(&self, action_ref: &str) -> anyhow::Result<ActionView> {
        actions::get(&self.settings, action_ref)
    }
}

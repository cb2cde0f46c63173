//! The embedded backend: every operation carried out on this machine, in the StackStorm
//! layout the [`Settings`] describe (packs, configs, virtualenvs, the SQLite store). One
//! module per operation.

mod actions;
mod child;
mod execution_cancel;
mod execution_query;
mod execution_rerun;
mod keys;
mod output_recorder;
mod pack_config;
mod pack_install;
mod pack_outdated;
mod pack_prune;
mod pack_query;
mod pack_remove;
mod pack_update;
mod pack_verify;
mod prepare;
pub(crate) mod recover;
mod register;
mod run;
mod worker;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use super::packs::{
    ConfigForm, IndexLookup, IndexSearch, InstallAnswer, InstallProgress, InstallRequest,
    OutdatedPack, OutdatedRequest, PackDetails, PackRemoval, PackVerification, PackView, PruneItem,
    RegisterReport, RegisterRequest, RemoveProgress, UpdateAnswer, UpdateRequest, Warned,
    WrittenConfig,
};
use crate::ops::actions::ActionView;
use crate::ops::auth::{LoginOutcome, TokenRequest, TokenView, WhoAmI};
use crate::ops::executions::{
    CancelOutcome, ExecutionListRequest, ExecutionView, OutputPiece, ReRunRequest,
    RunActionRequest, RunObserver, TailEnd, TailRequest,
};
use crate::ops::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use crate::settings::Settings;
use crate::store::{KeyScope, Store};

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

impl super::PackOps for Local {
    fn install_packs(
        &self,
        request: &InstallRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> InstallAnswer {
        pack_install::install_packs(&self.settings, request, progress, interrupt)
    }

    fn remove_packs(
        &self,
        packs: &[String],
        progress: &dyn RemoveProgress,
    ) -> anyhow::Result<Vec<(String, PackRemoval)>> {
        pack_remove::remove_packs(&self.settings, packs, progress)
    }

    fn list_packs(&self) -> Warned<Vec<PackView>> {
        pack_query::list_packs(&self.settings)
    }

    fn get_pack(&self, pack: &str) -> Warned<PackDetails> {
        pack_query::get_pack(&self.settings, pack)
    }

    fn search_index(&self, query: &str) -> Warned<IndexSearch> {
        pack_query::search_index(&self.settings, query)
    }

    fn show_index_pack(&self, name: &str) -> Warned<IndexLookup> {
        pack_query::show_index_pack(&self.settings, name)
    }

    fn register_packs(&self, request: &RegisterRequest) -> anyhow::Result<RegisterReport> {
        register::register_packs(&self.settings, request)
    }

    fn pack_config(&self, pack: &str, resolved: bool) -> Warned<Value> {
        pack_config::pack_config(&self.settings, pack, resolved)
    }

    fn pack_config_form(&self, pack: &str) -> anyhow::Result<ConfigForm> {
        pack_config::pack_config_form(&self.settings, pack)
    }

    fn write_pack_config(&self, pack: &str, values: &Value) -> anyhow::Result<WrittenConfig> {
        pack_config::write_pack_config(&self.settings, pack, values)
    }

    fn outdated_packs(&self, request: &OutdatedRequest) -> Warned<Vec<OutdatedPack>> {
        pack_outdated::outdated_packs(&self.settings, request)
    }

    fn update_packs(
        &self,
        request: &UpdateRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> UpdateAnswer {
        pack_update::update_packs(&self.settings, request, progress, interrupt)
    }

    fn verify_packs(&self, packs: &[String]) -> Warned<Vec<PackVerification>> {
        pack_verify::verify_packs(&self.settings, packs)
    }

    fn prune_plan(&self) -> Warned<Vec<PruneItem>> {
        pack_prune::prune_plan(&self.settings)
    }

    fn prune(&self, items: &[PruneItem]) -> anyhow::Result<Vec<(PruneItem, Result<(), String>)>> {
        pack_prune::prune(&self.settings, items)
    }
}

/// Open the store if it exists, first rolling back installs that were killed before they
/// registered (so that what is read is what is on disk): the store and a warning for each.
fn open_store(settings: &Settings) -> anyhow::Result<(Option<Store>, Vec<String>)> {
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        recover::remove_abandoned(settings);
        return Ok((None, Vec::new()));
    };
    let warnings = recover::recover_interrupted(settings, &mut store)?;
    Ok((Some(store), warnings))
}

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
        output: &mut dyn FnMut(&[OutputPiece]) -> bool,
    ) -> anyhow::Result<TailEnd> {
        execution_query::tail(&self.settings, request, output)
    }

    fn execution_rerun(
        &self,
        request: &ReRunRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView> {
        execution_rerun::rerun(&self.settings, request, observer)
    }

    fn execution_rerun_async(
        &self,
        request: &ReRunRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String> {
        execution_rerun::rerun_async(&self.settings, request, observer)
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
        user: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Vec<String>> {
        keys::delete_by_prefix(&self.settings, scope, user, prefix)
    }

    fn key_load(&self, requests: &[KeySetRequest]) -> anyhow::Result<Vec<KeyView>> {
        keys::load(&self.settings, requests)
    }
}

/// `st2 login`, `st2 auth` and `st2 whoami` talk to a cluster: refused here.
fn remote_only(command: &str) -> anyhow::Error {
    super::InvalidRequest(format!(
        "st2 {command} talks to a StackStorm cluster, and st2 is in local mode: give the \
         cluster's URL (--url, --api-url, ST2_API_URL, ...) or drop --mode local"
    ))
    .into()
}

impl super::AuthOps for Local {
    fn create_token(&self, _request: &TokenRequest) -> anyhow::Result<TokenView> {
        Err(remote_only("auth"))
    }

    fn login(
        &self,
        _request: &TokenRequest,
        _write_password: bool,
    ) -> anyhow::Result<LoginOutcome> {
        Err(remote_only("login"))
    }

    fn whoami(&self) -> anyhow::Result<WhoAmI> {
        Err(remote_only("whoami"))
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

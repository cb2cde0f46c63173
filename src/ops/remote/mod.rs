//! The remote backend: every operation over a StackStorm cluster's REST API
//! (`../shared/spec/remote-api.md`), filling the same views as [`Local`](super::local::Local),
//! so that the commands and their output are the same in both modes. One module per area:
//! `client` (HTTP, credentials, errors), `auth` (tokens and their cache), `actions`,
//! `executions`, `tail` (`st2 execution tail`), `stream` (SSE, shared by runs and tails),
//! `keys`, `packs`.
//!
//! Nothing on this machine is touched but the CLI config and the token cache: no store, no
//! pack directory, no virtualenv. What only means something locally (the background worker
//! of `st2 run -a`, virtualenv options) is an [`InvalidRequest`](super::InvalidRequest).

mod actions;
mod auth;
mod client;
mod executions;
mod keys;
mod packs;
mod stream;
mod tail;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use super::actions::ActionView;
use super::auth::{LoginOutcome, TokenRequest, TokenView, WhoAmI};
use super::executions::{
    CancelOutcome, ExecutionListRequest, ExecutionView, OutputPiece, ReRunRequest,
    RunActionRequest, RunObserver, TailEnd, TailRequest,
};
use super::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use super::packs::{
    ConfigForm, IndexLookup, IndexSearch, InstallAnswer, InstallProgress, InstallRequest,
    OutdatedPack, OutdatedRequest, PackDetails, PackRemoval, PackVerification, PackView, PruneItem,
    RegisterReport, RegisterRequest, RemoveProgress, UpdateAnswer, UpdateRequest, Warned,
    WrittenConfig,
};
use super::InvalidRequest;
use crate::settings::client::ClientSettings;
use crate::store::KeyScope;

/// The backend of a cluster.
pub(crate) struct Remote {
    client: client::Client,
}

impl Remote {
    /// A backend for these settings; `warn` shows a warning to the user (a cache that could
    /// not be written, TLS checks turned off).
    pub(crate) fn new(settings: ClientSettings, warn: Box<dyn Fn(&str)>) -> anyhow::Result<Remote> {
        Ok(Remote {
            client: client::Client::new(settings, warn)?,
        })
    }
}

impl super::AuthOps for Remote {
    fn create_token(&self, request: &TokenRequest) -> anyhow::Result<TokenView> {
        auth::create_token(&self.client, request)
    }

    fn login(&self, request: &TokenRequest, write_password: bool) -> anyhow::Result<LoginOutcome> {
        auth::login(&self.client, request, write_password)
    }

    fn whoami(&self) -> anyhow::Result<WhoAmI> {
        auth::whoami(&self.client)
    }
}

impl super::ActionOps for Remote {
    fn action_list(&self, pack: Option<&str>) -> anyhow::Result<Vec<ActionView>> {
        actions::list(&self.client, pack)
    }

    fn action_get(&self, action_ref: &str) -> anyhow::Result<ActionView> {
        actions::get(&self.client, action_ref)
    }
}

impl super::ExecutionOps for Remote {
    fn run_action(
        &self,
        request: &RunActionRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView> {
        executions::run(&self.client, request, observer)
    }

    fn run_action_async(
        &self,
        request: &RunActionRequest,
        _observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String> {
        executions::run_async(&self.client, request)
    }

    fn execution_worker(&self, _id: &str, _observer: &mut dyn RunObserver) -> anyhow::Result<()> {
        Err(InvalidRequest("the execution worker only runs in local mode".into()).into())
    }

    fn execution_get(&self, id: &str) -> anyhow::Result<ExecutionView> {
        executions::get(&self.client, id)
    }

    fn execution_list(&self, request: &ExecutionListRequest) -> anyhow::Result<Vec<ExecutionView>> {
        executions::list(&self.client, request)
    }

    fn execution_cancel(&self, id: &str) -> anyhow::Result<CancelOutcome> {
        executions::cancel(&self.client, id)
    }

    fn execution_tail(
        &self,
        request: &TailRequest,
        output: &mut dyn FnMut(&[OutputPiece]) -> bool,
    ) -> anyhow::Result<TailEnd> {
        tail::tail(&self.client, request, output)
    }

    fn execution_rerun(
        &self,
        request: &ReRunRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView> {
        executions::rerun(&self.client, request, observer)
    }

    fn execution_rerun_async(
        &self,
        request: &ReRunRequest,
        _observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String> {
        executions::rerun_async(&self.client, request)
    }
}

impl super::KeyOps for Remote {
    fn key_list(&self, request: &KeyListRequest) -> anyhow::Result<Vec<KeyView>> {
        keys::list(&self.client, request)
    }

    fn key_get(&self, key: &KeyRef, decrypt: bool) -> anyhow::Result<KeyView> {
        keys::get(&self.client, key, decrypt)
    }

    fn key_set(&self, request: &KeySetRequest) -> anyhow::Result<KeyView> {
        keys::set(&self.client, request)
    }

    fn key_delete(&self, key: &KeyRef) -> anyhow::Result<()> {
        keys::delete(&self.client, key)
    }

    fn key_delete_by_prefix(
        &self,
        scope: KeyScope,
        user: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Vec<String>> {
        keys::delete_by_prefix(&self.client, scope, user, prefix)
    }

    fn key_load(&self, requests: &[KeySetRequest]) -> anyhow::Result<Vec<KeyView>> {
        keys::load(&self.client, requests)
    }
}

impl super::PackOps for Remote {
    fn install_packs(
        &self,
        request: &InstallRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> InstallAnswer {
        packs::install(&self.client, request, progress, interrupt)
    }

    fn remove_packs(
        &self,
        packs: &[String],
        progress: &dyn RemoveProgress,
    ) -> anyhow::Result<Vec<(String, PackRemoval)>> {
        packs::remove(&self.client, packs, progress)
    }

    fn list_packs(&self) -> Warned<Vec<PackView>> {
        Warned::new(Vec::new(), packs::list(&self.client))
    }

    fn get_pack(&self, pack: &str) -> Warned<PackDetails> {
        Warned::new(Vec::new(), packs::get(&self.client, pack))
    }

    fn search_index(&self, query: &str) -> Warned<IndexSearch> {
        Warned::new(Vec::new(), packs::search(&self.client, query))
    }

    fn show_index_pack(&self, name: &str) -> Warned<IndexLookup> {
        Warned::new(Vec::new(), packs::show(&self.client, name))
    }

    fn register_packs(&self, request: &RegisterRequest) -> anyhow::Result<RegisterReport> {
        packs::register(&self.client, request)
    }

    fn pack_config(&self, pack: &str, resolved: bool) -> Warned<Value> {
        Warned::new(Vec::new(), packs::config(&self.client, pack, resolved))
    }

    fn pack_config_form(&self, pack: &str) -> anyhow::Result<ConfigForm> {
        packs::config_form(&self.client, pack)
    }

    fn write_pack_config(&self, pack: &str, values: &Value) -> anyhow::Result<WrittenConfig> {
        packs::write_config(&self.client, pack, values)
    }

    fn outdated_packs(&self, request: &OutdatedRequest) -> Warned<Vec<OutdatedPack>> {
        Warned::new(Vec::new(), packs::outdated(&self.client, request))
    }

    fn update_packs(
        &self,
        request: &UpdateRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> UpdateAnswer {
        packs::update(&self.client, request, progress, interrupt)
    }

    fn verify_packs(&self, _packs: &[String]) -> Warned<Vec<PackVerification>> {
        Warned::new(Vec::new(), Err(local_only("st2 pack verify")))
    }

    fn prune_plan(&self) -> Warned<Vec<PruneItem>> {
        Warned::new(Vec::new(), Err(local_only("st2 pack prune")))
    }

    fn prune(&self, _items: &[PruneItem]) -> anyhow::Result<Vec<(PruneItem, Result<(), String>)>> {
        Err(local_only("st2 pack prune"))
    }
}

/// The lifecycle commands that concern this machine's files (the lock file, the caches).
fn local_only(command: &str) -> anyhow::Error {
    InvalidRequest(format!(
        "{command} only applies to local mode (it checks this machine's packs.lock and caches)"
    ))
    .into()
}

//! The embedded backend: every operation carried out on this machine, in the StackStorm
//! layout the [`Settings`] describe (packs, configs, virtualenvs, the SQLite store). One
//! module per operation.

mod pack_config;
mod pack_install;
mod pack_query;
mod pack_remove;
mod recover;
mod register;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use super::packs::{
    ConfigForm, IndexLookup, IndexSearch, InstallAnswer, InstallProgress, InstallRequest,
    PackDetails, PackRemoval, PackView, RegisterReport, RegisterRequest, RemoveProgress, Warned,
    WrittenConfig,
};
use crate::settings::Settings;
use crate::store::Store;

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
impl super::ExecutionOps for Local {}
impl super::KeyOps for Local {}
impl super::ActionOps for Local {}

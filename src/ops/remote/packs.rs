//! Pack operations over the API (`../shared/spec/remote-api.md` §2.4).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;

use super::client::Client;
use crate::ops::packs::{
    ConfigForm, IndexLookup, IndexSearch, InstallAnswer, InstallFailed, InstallProgress,
    InstallRequest, PackDetails, PackRemoval, PackView, RegisterReport, RegisterRequest,
    RemoveProgress, WrittenConfig,
};
use crate::ops::InvalidRequest;

fn not_yet(what: &str) -> anyhow::Error {
    InvalidRequest(format!("{what} is not available in remote mode yet")).into()
}

pub(super) fn install(
    _client: &Client,
    _request: &InstallRequest,
    _progress: &dyn InstallProgress,
    _interrupt: Arc<AtomicBool>,
) -> InstallAnswer {
    InstallAnswer {
        warnings: Vec::new(),
        outcome: Err(InstallFailed {
            messages: vec![not_yet("st2 pack install").to_string()],
            outcome: None,
        }),
    }
}

pub(super) fn remove(
    _client: &Client,
    _packs: &[String],
    _progress: &dyn RemoveProgress,
) -> anyhow::Result<Vec<(String, PackRemoval)>> {
    Err(not_yet("st2 pack remove"))
}

pub(super) fn list(_client: &Client) -> anyhow::Result<Vec<PackView>> {
    Err(not_yet("st2 pack list"))
}

pub(super) fn get(_client: &Client, _pack: &str) -> anyhow::Result<PackDetails> {
    Err(not_yet("st2 pack get"))
}

pub(super) fn search(_client: &Client, _query: &str) -> anyhow::Result<IndexSearch> {
    Err(not_yet("st2 pack search"))
}

pub(super) fn show(_client: &Client, _name: &str) -> anyhow::Result<IndexLookup> {
    Err(not_yet("st2 pack show"))
}

pub(super) fn register(
    _client: &Client,
    _request: &RegisterRequest,
) -> anyhow::Result<RegisterReport> {
    Err(not_yet("st2 pack register"))
}

pub(super) fn config(_client: &Client, _pack: &str, _resolved: bool) -> anyhow::Result<Value> {
    Err(not_yet("st2 pack config show"))
}

pub(super) fn config_form(_client: &Client, _pack: &str) -> anyhow::Result<ConfigForm> {
    Err(not_yet("st2 pack config"))
}

pub(super) fn write_config(
    _client: &Client,
    _pack: &str,
    _values: &Value,
) -> anyhow::Result<WrittenConfig> {
    Err(not_yet("st2 pack config"))
}

//! Pack operations: install, remove, list, get, search, show, register (reload), configs,
//! and the lifecycle around the lock file: outdated, update, verify, prune.
//!
//! Each is shaped as StackStorm's API offers it (`../shared/spec/remote-api.md` §2.4, §4), so
//! that a remote backend answers with the same views: install and remove are one request for
//! every PACK argument whose progress arrives as it happens (the local backend calls the
//! observer at each step; a remote one as it polls the execution the API answers), register
//! answers counts, list and get answer pack objects, search and show the index's entries,
//! configs are read and written whole (`GET/PUT configs/PACK`).
//!
//! Warnings an operation meets (an index that fell back to its cache, an install killed
//! earlier and rolled back) are part of its answer ([`Warned`]), in the order they arose; the
//! command prints them before what the answer holds, also when the answer is an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::index::IndexEntry;
use crate::register::{ContentType, Selection};
use crate::store::ReplaceSummary;

/// A registered pack as `st2 pack list/get` show it (`pack.yaml`'s fields, where it is, when
/// it was registered, where it came from).
pub(crate) type PackView = crate::store::PackRecord;

/// Pack operations: install, remove, list, get, search, show, register (reload), configs.
pub(crate) trait PackOps {
    /// Install PACK arguments (index names, `name=version`, URLs, directories) and their
    /// dependencies: all of them or nothing. Progress goes to `progress` as it happens; the
    /// install stops, undoing what it did, when `interrupt` becomes true before the packs are
    /// moved into place.
    fn install_packs(
        &self,
        request: &InstallRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> InstallAnswer;

    /// Remove installed packs: directory, virtualenv, registered content (their configs are
    /// kept). Each pack's outcome goes to `progress` as it is known, and is answered too.
    fn remove_packs(
        &self,
        packs: &[String],
        progress: &dyn RemoveProgress,
    ) -> anyhow::Result<Vec<(String, PackRemoval)>>;

    /// The installed packs, by ref (the built-in `core` pack among them).
    fn list_packs(&self) -> Warned<Vec<PackView>>;

    /// One installed pack, with the count of what it registered (an error names the packs
    /// that are installed).
    fn get_pack(&self, pack: &str) -> Warned<PackDetails>;

    /// The index's packs that match `query`, best first.
    fn search_index(&self, query: &str) -> Warned<IndexSearch>;

    /// The index's entry for `name`.
    fn show_index_pack(&self, name: &str) -> Warned<IndexLookup>;

    /// Register the content of packs on disk (`st2 pack register`, `st2ctl reload`).
    fn register_packs(&self, request: &RegisterRequest) -> anyhow::Result<RegisterReport>;

    /// A pack's registered config, secrets masked; with `resolved`, what an action gets
    /// (templates rendered, defaults filled in).
    fn pack_config(&self, pack: &str, resolved: bool) -> Warned<Value>;

    /// What `st2 pack config PACK` asks about: the pack's config schema and the config's
    /// current values.
    fn pack_config_form(&self, pack: &str) -> anyhow::Result<ConfigForm>;

    /// Validate `values` against the pack's config schema, write them as its config and
    /// register it; nothing is written when they are not valid.
    fn write_pack_config(&self, pack: &str, values: &Value) -> anyhow::Result<WrittenConfig>;

    /// For each installed pack (or those named): the installed version, the newest its
    /// source offers, and the newest compatible with the other installed packs'
    /// dependencies.
    fn outdated_packs(&self, request: &OutdatedRequest) -> Warned<Vec<OutdatedPack>>;

    /// Move packs to the newest compatible version ([`PackOps::outdated_packs`]): staged and
    /// committed as an install is, all of them or none, the lock file updated.
    fn update_packs(
        &self,
        request: &UpdateRequest,
        progress: &dyn InstallProgress,
        interrupt: Arc<AtomicBool>,
    ) -> UpdateAnswer;

    /// Compare installed packs (all, or those named) with the lock file: their files with the
    /// commit (or tree) they came from, their virtualenvs with the locked distributions.
    fn verify_packs(&self, packs: &[String]) -> Warned<Vec<PackVerification>>;

    /// What `st2 pack prune` would remove: virtualenvs, configs and cached repositories of
    /// packs that are not installed, index copies no `index_url` names, leftovers of killed
    /// commands.
    fn prune_plan(&self) -> Warned<Vec<PruneItem>>;

    /// Remove `items` (from [`PackOps::prune_plan`]), each checked again to be unused first;
    /// what became of each.
    fn prune(&self, items: &[PruneItem]) -> anyhow::Result<Vec<(PruneItem, Result<(), String>)>>;
}

/// `st2 pack outdated`'s request.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutdatedRequest {
    /// Pack refs (none: every installed pack).
    pub(crate) packs: Vec<String>,
    /// Only the caches (index copies, git repositories).
    pub(crate) offline: bool,
}

/// One installed pack and what its source offers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutdatedPack {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub(crate) pack_ref: String,
    /// `index`, `git` or `directory`.
    pub(crate) source: String,
    /// The installed version.
    pub(crate) installed: String,
    /// The newest the source offers: a version, `<branch>@<commit>` for a pack that follows
    /// a branch, `changed` for a directory whose files changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) newest: Option<String>,
    /// The newest compatible with the other installed packs' dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) compatible: Option<String>,
    /// Installed at an asked version, tag or commit: `update --all` leaves it.
    pub(crate) pinned: bool,
    /// `up to date`, `update available`, `pinned`, `held back` (by a dependency), or why it
    /// could not be checked.
    pub(crate) status: String,
    /// Why it is held back or could not be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// `st2 pack update`'s request.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdateRequest {
    /// Pack refs to update (even pinned ones).
    pub(crate) packs: Vec<String>,
    /// Every installed pack that is not pinned.
    pub(crate) all: bool,
    /// Only the caches.
    pub(crate) offline: bool,
    /// `--skip-virtualenv`.
    pub(crate) skip_virtualenv: bool,
}

/// What an update answers.
#[derive(Debug)]
pub(crate) struct UpdateAnswer {
    /// Warnings gathered along the way.
    pub(crate) warnings: Vec<String>,
    /// What was updated and what was left, or why nothing was.
    pub(crate) outcome: Result<UpdateReport, InstallFailed>,
}

/// What an update did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct UpdateReport {
    /// Each pack moved: ref, from, to.
    pub(crate) updated: Vec<PackUpdate>,
    /// Each pack left as it was, and why (`up to date`, `pinned`, ...).
    pub(crate) unchanged: Vec<PackUpdate>,
    /// The packs installed (the updated ones and new dependencies), as an install answers.
    #[serde(skip)]
    pub(crate) installed: Vec<InstalledPack>,
}

impl UpdateReport {
    /// The report once the install of its targets answered `installed`: each update's `to`
    /// becomes the version installed, which is what the pack is at now.
    pub(crate) fn with_installed(mut self, installed: Vec<InstalledPack>) -> UpdateReport {
        for update in &mut self.updated {
            if let Some(pack) = installed.iter().find(|p| p.pack_ref == update.pack_ref) {
                update.to = pack.version.clone();
            }
        }
        self.installed = installed;
        self
    }
}

/// One pack of an update.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PackUpdate {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub(crate) pack_ref: String,
    /// The version before.
    pub(crate) from: String,
    /// The version after (the same when unchanged).
    pub(crate) to: String,
    /// Why it was left (unchanged packs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// One pack compared with the lock file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PackVerification {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub(crate) pack_ref: String,
    /// The locked version (else the installed one).
    pub(crate) version: String,
    /// `ok`, `drift`, `missing` (locked, not installed) or `not locked` (installed, not in
    /// the lock file).
    pub(crate) status: String,
    /// Files changed since they were installed.
    #[serde(skip_serializing_if = "crate::pack::tree::Changes::is_empty")]
    pub(crate) files: crate::pack::tree::Changes,
    /// Other differences, one phrase each (the version on disk, the tree when the files
    /// cannot be listed, the virtualenv's distributions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) problems: Vec<String>,
}

impl PackVerification {
    /// Whether the pack is as locked.
    pub(crate) fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Something `st2 pack prune` would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PruneItem {
    /// `virtualenv`, `config`, `git cache`, `index cache`, `build cache` or `leftover`.
    pub(crate) kind: String,
    /// The file or directory.
    pub(crate) path: PathBuf,
    /// Why it is not needed.
    pub(crate) reason: String,
    /// Its size on disk, in bytes.
    pub(crate) bytes: u64,
}

/// An operation's answer and the warnings met on the way to it.
#[derive(Debug)]
pub(crate) struct Warned<T> {
    /// Warnings, in the order they arose.
    pub(crate) warnings: Vec<String>,
    /// The answer.
    pub(crate) answer: anyhow::Result<T>,
}

impl<T> Warned<T> {
    /// `answer` with the warnings gathered so far.
    pub(crate) fn new(warnings: Vec<String>, answer: anyhow::Result<T>) -> Warned<T> {
        Warned { warnings, answer }
    }
}

/// `st2 pack install`'s request.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstallRequest {
    /// The PACK arguments.
    pub(crate) packs: Vec<String>,
    /// `--force`: skip the StackStorm/Python version checks.
    pub(crate) force: bool,
    /// `--skip-dependencies`.
    pub(crate) skip_dependencies: bool,
    /// `--skip-virtualenv` (ours): do not create the virtualenv now.
    pub(crate) skip_virtualenv: bool,
    /// Tell `progress` what the index says each named pack holds, before installing.
    pub(crate) announce_content: bool,
    /// `--locked`: install exactly what `packs.lock` says (the packs named, with the
    /// dependencies the lock lists for them; every locked pack when none is named), or fail
    /// changing nothing.
    pub(crate) locked: bool,
    /// `--offline`: use only the caches (index copies, git repositories, Python
    /// distributions); what is missing is named.
    pub(crate) offline: bool,
}

/// The steps reported while installing, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstallStep {
    /// Finding where the pack comes from (index lookup).
    Resolve,
    /// Fetching or copying its files.
    Download,
    /// Checking `pack.yaml` and every file registration reads.
    Validate,
    /// Creating or reusing the virtualenv.
    Virtualenv,
    /// Moving into place and writing the store.
    Register,
}

impl InstallStep {
    /// The word shown for the step.
    pub(crate) fn label(self) -> &'static str {
        match self {
            InstallStep::Resolve => "resolve",
            InstallStep::Download => "download",
            InstallStep::Validate => "validate",
            InstallStep::Virtualenv => "virtualenv",
            InstallStep::Register => "register",
        }
    }
}

/// Receives an install's progress (the command turns it into lines or a spinner).
pub(crate) trait InstallProgress {
    /// What the index says the pack `name` holds (count per content type), before anything
    /// else happens (only when [`InstallRequest::announce_content`] asks for it).
    fn index_content(&self, name: &str, counts: &[(String, u64)]);
    /// A step of `pack` starts.
    fn start(&self, pack: &str, step: InstallStep, detail: &str);
    /// That step ended well, with a short note.
    fn done(&self, pack: &str, step: InstallStep, detail: &str);
    /// Waiting for another process holding the pack's lock.
    fn waiting_for_lock(&self, pack: &str);
}

/// What an install answers.
#[derive(Debug)]
pub(crate) struct InstallAnswer {
    /// Warnings gathered along the way (index fell back to its cache, recovery, ...).
    pub(crate) warnings: Vec<String>,
    /// The packs installed, in the order they were (dependencies first), or why not.
    pub(crate) outcome: Result<Vec<InstalledPack>, InstallFailed>,
}

/// One installed pack, for the summary and `-j`/`-y` output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InstalledPack {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub(crate) pack_ref: String,
    /// `name`.
    pub(crate) name: String,
    /// `version`.
    pub(crate) version: String,
    /// `description`.
    pub(crate) description: String,
    /// `author`.
    pub(crate) author: String,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    /// `keywords`.
    pub(crate) keywords: Vec<String>,
    /// Where it is now.
    pub(crate) path: PathBuf,
    /// Where it came from.
    pub(crate) source: Value,
    /// Whether it was requested or pulled in as a dependency.
    pub(crate) dependency_of: Option<String>,
    /// Content registered, per type.
    pub(crate) content: BTreeMap<String, u64>,
    /// The virtualenv: `created`, `updated`, `reused`, `skipped` or `not needed`.
    pub(crate) virtualenv: String,
    /// What the previous version had and this one does not.
    #[serde(skip_serializing_if = "is_empty_summary")]
    pub(crate) removed: ReplaceSummary,
    /// Warnings about the pack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
}

fn is_empty_summary(summary: &ReplaceSummary) -> bool {
    summary == &ReplaceSummary::default()
}

/// An install that failed, as the user is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstallFailed {
    /// One message per pack that failed (naming it when the install had several).
    pub(crate) messages: Vec<String>,
    /// One sentence on what became of the other packs, when there are any
    /// (`Nothing was installed; twitter was rolled back.`).
    pub(crate) outcome: Option<String>,
}

/// Receives what a removal does as it does it.
pub(crate) trait RemoveProgress {
    /// Something worth a warning (an install killed earlier rolled back, a directory that
    /// could not be deleted).
    fn warning(&self, message: &str);
    /// Waiting for another process holding the pack's lock.
    fn waiting_for_lock(&self, pack: &str);
    /// The removal of `pack` ended so.
    fn finished(&self, pack: &str, removal: &PackRemoval);
}

/// What became of one pack asked to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackRemoval {
    /// Removed: what was (`directory`, `virtualenv`, `registered content`).
    Removed(Vec<String>),
    /// There is no such pack.
    NotInstalled,
    /// The removal failed and was undone: why.
    Failed(String),
}

/// `st2 pack get`'s answer.
#[derive(Debug)]
pub(crate) struct PackDetails {
    /// The pack.
    pub(crate) pack: PackView,
    /// What it registered: count per content type.
    pub(crate) content: Vec<(String, u64)>,
}

/// `st2 pack search`'s answer.
#[derive(Debug)]
pub(crate) struct IndexSearch {
    /// The matching entries, best first.
    pub(crate) matches: Vec<IndexEntry>,
    /// Close names, when nothing matched.
    pub(crate) suggestions: Vec<String>,
}

/// `st2 pack show`'s answer.
#[derive(Debug)]
pub(crate) struct IndexLookup {
    /// The entry, if the index has it.
    pub(crate) entry: Option<IndexEntry>,
    /// Close names, when it has not.
    pub(crate) suggestions: Vec<String>,
}

/// What to do with pack virtualenvs after registering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum VenvAction {
    /// Nothing.
    #[default]
    None,
    /// Create or update each registered pack's virtualenv (`--register-setup-virtualenvs`).
    Setup,
    /// Delete and recreate them (`--register-recreate-virtualenvs`).
    Recreate,
}

/// What a registration registers.
#[derive(Debug, Clone)]
pub(crate) struct RegisterRequest {
    /// Content types.
    pub(crate) selection: Selection,
    /// Packs to register, each a pack name in the pack directories or a path to a pack
    /// directory; `None` means every pack in the pack directories, and then packs and
    /// configs that disappeared from disk are unregistered too.
    pub(crate) packs: Option<Vec<String>>,
    /// Virtualenv work.
    pub(crate) venvs: VenvAction,
    /// A pack with a bad file keeps its previous registration whole (`true`, StackStorm's
    /// default), or gets its good files registered (`--register-no-fail-on-failure`).
    pub(crate) fail_on_failure: bool,
}

/// What a registration did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct RegisterReport {
    /// Packs registered.
    pub(crate) packs: Vec<String>,
    /// Count per selected content type, over the packs registered.
    pub(crate) counts: BTreeMap<ContentType, u64>,
    /// Packs whose virtualenv was set up, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) virtualenvs: Option<u64>,
    /// Registered things that disappeared from disk and were unregistered.
    pub(crate) removed: Vec<String>,
    /// One line per failure.
    pub(crate) failures: Vec<String>,
    /// Warnings.
    pub(crate) warnings: Vec<String>,
}

/// What `st2 pack config PACK` asks about.
#[derive(Debug)]
pub(crate) struct ConfigForm {
    /// The config schema's properties.
    pub(crate) schema: Map<String, Value>,
    /// The config's current values (offered as defaults).
    pub(crate) current: Map<String, Value>,
}

/// A config written and registered.
#[derive(Debug)]
pub(crate) struct WrittenConfig {
    /// Where it was written.
    pub(crate) location: String,
    /// The values, literal secrets masked.
    pub(crate) values: Value,
}

//! Installing packs: resolve, download, validate, build the virtualenv, then move into place
//! and register, for the requested packs and their dependencies.
//!
//! Upstream runs this as the `packs.install` workflow on the server
//! (`contrib/packs/actions/workflows/install.yaml`), one pack after the other, and leaves
//! what it did when a later pack fails. We run the same steps in-process, in phases, so that
//! a failure (or Ctrl-C) changes nothing and the slow steps start only once the quick ones
//! passed for every pack:
//!
//! 1. **Resolve** every argument: the index entry and version, the ref in the repository
//!    (one `ls-remote`). Every argument that fails is reported; nothing is downloaded.
//! 2. **Prepare** every pack (requested ones and, recursively, their dependencies): download
//!    into a staging directory beside the pack directories, validate `pack.yaml`, read every
//!    file registration needs.
//! 3. **Virtualenvs**: each built (or found up to date) in a staging directory beside the
//!    virtualenvs, the final ones untouched. A failure in phases 1-3 removes the staging
//!    directories; [`InstallFailure`] names the pack and what became of the others.
//! 4. **Commit** each pack, dependencies first, under a per-pack lock: journal the swap, swap
//!    the new virtualenv and the staged directory into place and replace the pack's store rows
//!    in one transaction. If the store write fails, the previous ones are swapped back; if the
//!    process dies, the next command does it (`recover`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::recover;
use crate::fs::exchange;
use crate::git;
use crate::index::{Index, IndexOptions};
use crate::lock::PackLock;
use crate::ops::packs::{
    InstallAnswer, InstallFailed, InstallProgress, InstallRequest, InstallStep, InstalledPack,
};
use crate::pack::manifest::{ManifestError, PackManifest, SYSTEM_PACKS};
use crate::pack::source::{self, PackSource, SourceError};
use crate::register::{self, LoadedPack};
use crate::settings::{io_reason, Settings};
use crate::store::{ConfigRecord, PendingSwap, Store, StoreError};
use crate::venv;

/// Install `request.packs` (the local side of [`PackOps::install_packs`]).
///
/// [`PackOps::install_packs`]: crate::ops::PackOps::install_packs
pub(crate) fn install_packs(
    settings: &Settings,
    request: &InstallRequest,
    progress: &dyn InstallProgress,
    interrupt: Arc<AtomicBool>,
) -> InstallAnswer {
    // First, while this is the only thread (see the function's documentation); only the
    // operations that fetch with git pay for initialising libgit2.
    git::init_deferring_ca_bundle();
    let mut install = PackInstall::new(settings, request, progress);
    install.interrupt_on(interrupt);
    if request.announce_content {
        install.announce_content();
    }
    let outcome = install
        .install(&request.packs)
        .map_err(|failure| InstallFailed {
            messages: failure.messages(),
            outcome: failure.outcome(),
        });
    InstallAnswer {
        warnings: std::mem::take(&mut install.warnings),
        outcome,
    }
}

/// Why an install failed. Nothing was changed when this is returned before the commit phase.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    /// The StackStorm home cannot be written to.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// A PACK argument is malformed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// The name is not in the index.
    #[error("No record of the \"{name}\" pack in the index.{}", suggestion(.suggestions))]
    UnknownPack {
        /// The name asked for.
        name: String,
        /// Close names.
        suggestions: Vec<String>,
    },
    /// The version is not in the index entry.
    #[error(
        "Pack \"{name}\" has no version \"{version}\" in the index. Available versions are: {}.",
        available.join(", ")
    )]
    UnknownVersion {
        /// The pack.
        name: String,
        /// The version asked for.
        version: String,
        /// Versions the index lists, highest first.
        available: Vec<String>,
    },
    /// Fetching failed, or the repository has no such ref.
    #[error("{error}")]
    Git {
        /// What was being installed.
        pack: String,
        /// Why (its message names the repository).
        error: git::GitError,
    },
    /// `pack.yaml` is missing or invalid, or the pack is not compatible.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `pack.yaml` or a content file of the downloaded pack is invalid (files named as in
    /// the source).
    #[error("{0}")]
    Invalid(String),
    /// Two packs want different versions of one dependency, or it is installed at another one.
    #[error("Unable to install packs due to conflicts: {0}")]
    Conflict(String),
    /// The virtualenv could not be built (messages name the pack before this).
    #[error("virtualenv: {message}")]
    Venv {
        /// The pack.
        pack: String,
        /// Why, with the installer's last lines; files named as in the source.
        message: String,
    },
    /// Stopped by Ctrl-C (SIGINT) or SIGTERM before anything was moved into place.
    #[error("interrupted during the {step} step")]
    Interrupted {
        /// The step that was running.
        step: &'static str,
    },
    /// The store refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{action} {}: {reason}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS reason.
        reason: String,
    },
}

fn suggestion(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" Did you mean: {}?", suggestions.join(", "))
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |err| InstallError::Io {
        action,
        path,
        reason: io_reason(&err),
    }
}

/// What became of one pack of an install that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Resolved, but nothing of it was downloaded or built.
    NotStarted,
    /// Downloaded (and maybe its virtualenv built), then discarded: nothing of it is left.
    RolledBack,
    /// Installed before the failure (only when the failure came in the commit phase).
    Installed,
}

/// An install that failed: which pack failed and why, and what became of the other packs.
#[derive(Debug)]
pub(crate) struct InstallFailure {
    /// The packs that failed, each with why: one, or every name that could not be resolved.
    /// `None` when the failure concerns no pack in particular (an unwritable home).
    pub(crate) failed: Vec<(Option<String>, InstallError)>,
    /// The other packs of the install (those asked for, and the dependencies found so far),
    /// in order, with what became of each.
    pub(crate) others: Vec<(String, Fate)>,
}

impl InstallFailure {
    /// One sentence on the other packs (`Nothing was installed; twitter was rolled back.`),
    /// when there are any or the install was interrupted.
    pub(crate) fn outcome(&self) -> Option<String> {
        let interrupted = self
            .failed
            .iter()
            .any(|(_, error)| matches!(error, InstallError::Interrupted { .. }));
        if self.others.is_empty() && !interrupted {
            return None;
        }
        let names = |fate: Fate| -> Vec<&str> {
            self.others
                .iter()
                .filter(|(_, f)| *f == fate)
                .map(|(name, _)| name.as_str())
                .collect()
        };
        let installed = names(Fate::Installed);
        let mut parts = Vec::new();
        for (fate, what) in [
            (Fate::RolledBack, "rolled back"),
            (Fate::NotStarted, "not started"),
        ] {
            let packs = names(fate);
            if !packs.is_empty() {
                let verb = if packs.len() == 1 { "was" } else { "were" };
                parts.push(format!("{} {verb} {what}", packs.join(", ")));
            }
        }
        let rest = if parts.is_empty() {
            String::new()
        } else {
            format!("; {}", parts.join(", "))
        };
        Some(if installed.is_empty() {
            format!("Nothing was installed{rest}.")
        } else {
            format!(
                "Installed before the failure: {}{rest}.",
                installed.join(", ")
            )
        })
    }
}

impl InstallFailure {
    /// One message per failed pack, naming it when the install had several packs.
    pub(crate) fn messages(&self) -> Vec<String> {
        let several = self.failed.len() > 1 || !self.others.is_empty();
        self.failed
            .iter()
            .map(|(pack, error)| match pack {
                Some(pack)
                    if several
                        || matches!(
                            error,
                            InstallError::Interrupted { .. } | InstallError::Venv { .. }
                        ) =>
                {
                    format!("{pack}: {error}")
                }
                _ => error.to_string(),
            })
            .collect()
    }
}

impl std::fmt::Display for InstallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.messages().join("\n"))
    }
}

impl std::error::Error for InstallFailure {}

/// A PACK argument (or dependency) resolved: where to fetch it and at which ref.
struct Resolved {
    /// The name progress and errors use until `pack.yaml` gives the ref.
    label: String,
    source: PackSource,
    fetch_url: String,
    /// The ref to fetch (none: the default branch).
    references: Vec<String>,
    record: Value,
}

/// A pack downloaded, validated and ready to commit.
struct Prepared {
    pack_ref: String,
    loaded: LoadedPack,
    // Dropped (and so deleted) after commit or on failure.
    staging: recover::StagingDir,
    /// The source as the user knows it, for messages (never the staging copy).
    shown: String,
    source: Value,
    dependency_of: Option<String>,
    virtualenv: Venv,
    /// `configs/<ref>.yaml`, checked against the new version's schema.
    config: Option<ConfigRecord>,
}

/// The virtualenv step's outcome for one pack.
enum Venv {
    /// `not needed`, `skipped`, `reused`: nothing to move into place.
    Unchanged(&'static str),
    /// Built beside the virtualenvs, to be swapped in at commit.
    Built {
        staged: venv::StagedVenv,
        // Holds the previous virtualenv after the swap; deleted when dropped.
        staging: recover::StagingDir,
    },
}

impl Prepared {
    fn staged_dir(&self) -> PathBuf {
        self.staging.path().join("pack")
    }
}

/// The install of a list of PACK arguments.
struct PackInstall<'a> {
    settings: &'a Settings,
    options: &'a InstallRequest,
    progress: &'a dyn InstallProgress,
    index: Option<Index>,
    interrupt: Option<Arc<AtomicBool>>,
    /// The pack whose step is running (what failed, when something fails).
    current: Option<String>,
    /// Every pack met so far, and what would become of it if the install failed now.
    ledger: Vec<(String, Fate)>,
    /// Warnings gathered along the way (index fell back to cache, ...).
    warnings: Vec<String>,
}

impl<'a> PackInstall<'a> {
    /// An installer for `settings`.
    fn new(
        settings: &'a Settings,
        options: &'a InstallRequest,
        progress: &'a dyn InstallProgress,
    ) -> PackInstall<'a> {
        PackInstall {
            settings,
            options,
            progress,
            index: None,
            interrupt: None,
            current: None,
            ledger: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Stop, and discard what was done, when `flag` becomes true (the command sets it on
    /// SIGINT/SIGTERM). It is looked at between steps, and while a virtualenv is built (the
    /// installer is stopped); once packs are being moved into place the install finishes.
    fn interrupt_on(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    fn check_interrupt(&self, step: InstallStep) -> Result<(), InstallError> {
        match &self.interrupt {
            Some(flag) if flag.load(Ordering::SeqCst) => {
                Err(InstallError::Interrupted { step: step.label() })
            }
            _ => Ok(()),
        }
    }

    /// The index, loaded on first use (installs from URLs never need it).
    fn index(&mut self) -> Result<&Index, InstallError> {
        if self.index.is_none() {
            let options = IndexOptions::from_settings(self.settings);
            let loaded = Index::load(&self.settings.index_urls, &options)?;
            self.warnings.extend(loaded.warnings);
            self.index = Some(loaded.index);
        }
        Ok(self.index.as_ref().expect("loaded above"))
    }

    /// The content counts the index lists for `name` (for the announcement before installing);
    /// `None` when the index has no such pack.
    fn index_content_counts(
        &mut self,
        name: &str,
    ) -> Result<Option<Vec<(String, u64)>>, InstallError> {
        Ok(self.index()?.get(name).map(|entry| entry.content_counts()))
    }

    /// Upstream prints, for Exchange names, what the index says the pack holds.
    fn announce_content(&mut self) {
        let cwd = std::env::current_dir().unwrap_or_default();
        for argument in &self.options.packs {
            let Ok(PackSource::Index { name, .. }) = source::parse(argument, &cwd) else {
                continue;
            };
            // Errors (unknown pack, index unreachable) are reported by the install itself.
            let Ok(Some(counts)) = self.index_content_counts(&name) else {
                continue;
            };
            if !counts.is_empty() {
                self.progress.index_content(&name, &counts);
            }
        }
    }

    /// Install `packs` (PACK arguments) and their dependencies: every argument is resolved
    /// (index, ref) before anything is downloaded, every pack downloaded and validated before
    /// any virtualenv is built, and nothing is moved into place before all of that succeeded.
    fn install(&mut self, packs: &[String]) -> Result<Vec<InstalledPack>, InstallFailure> {
        let result = self.run(packs);
        result.map_err(|failed| {
            let failing: Vec<&str> = failed
                .iter()
                .filter_map(|(pack, _)| pack.as_deref())
                .collect();
            let mut others: Vec<(String, Fate)> = Vec::new();
            for (name, fate) in &self.ledger {
                if !failing.contains(&name.as_str()) && !others.iter().any(|(n, _)| n == name) {
                    others.push((name.clone(), *fate));
                }
            }
            InstallFailure { failed, others }
        })
    }

    fn run(
        &mut self,
        packs: &[String],
    ) -> Result<Vec<InstalledPack>, Vec<(Option<String>, InstallError)>> {
        let whole = |error: InstallError| vec![(None, error)];
        self.settings
            .ensure_writable()
            .map_err(|e| whole(e.into()))?;
        let mut existing =
            Store::open_existing(&self.settings.store_path).map_err(|e| whole(e.into()))?;
        match existing.as_mut() {
            Some(store) => {
                let warnings = recover::recover_interrupted(self.settings, store)
                    .map_err(|e| whole(e.into()))?;
                self.warnings.extend(warnings);
            }
            None => recover::remove_abandoned(self.settings),
        }

        // Phase 0: resolve every argument (index entry, ref in the repository); report every
        // one that fails, before anything slow starts.
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut resolved = Vec::new();
        let mut failed = Vec::new();
        for argument in packs {
            let source = match source::parse(argument, &cwd) {
                Ok(source) => source,
                Err(err) => {
                    failed.push((Some(argument.clone()), err.into()));
                    continue;
                }
            };
            let label = likely_name_and_version(&source).0;
            self.ledger.push((label.clone(), Fate::NotStarted));
            match self.resolve(&label, source) {
                Ok(one) => resolved.push(one),
                Err(err) => failed.push((Some(label), err)),
            }
        }
        if !failed.is_empty() {
            return Err(failed);
        }
        let fail = |this: &Self, error: InstallError| vec![(this.current.clone(), error)];

        // Phase 1: download and validate each pack, dependencies before their dependents.
        let mut plan: Vec<Prepared> = Vec::new();
        let mut requested_by: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for one in resolved {
            self.prepare(one, None, &mut plan, &mut requested_by, &mut Vec::new())
                .map_err(|e| fail(self, e))?;
        }

        // Phase 2: the virtualenvs, once every pack is known to be good.
        for prepared in &mut plan {
            self.current = Some(prepared.pack_ref.clone());
            prepared.virtualenv = self.virtualenv(prepared).map_err(|e| fail(self, e))?;
        }
        self.check_interrupt(InstallStep::Register)
            .map_err(|e| fail(self, e))?;

        // Phase 3: commit, in plan order (dependencies first).
        let mut store = match existing {
            Some(store) => store,
            None => Store::open(&self.settings.store_path).map_err(|e| whole(e.into()))?,
        };
        let mut installed = Vec::new();
        for prepared in plan {
            self.current = Some(prepared.pack_ref.clone());
            let pack_ref = prepared.pack_ref.clone();
            installed.push(
                self.commit(&mut store, prepared)
                    .map_err(|e| fail(self, e))?,
            );
            self.set_fate(&pack_ref, Fate::Installed);
        }
        Ok(installed)
    }

    fn set_fate(&mut self, name: &str, fate: Fate) {
        match self.ledger.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = fate,
            None => self.ledger.push((name.to_string(), fate)),
        }
    }

    /// Where `source` comes from, checked: the index entry and version, the ref in the
    /// repository (one `ls-remote`, nothing downloaded).
    fn resolve(&mut self, label: &str, source: PackSource) -> Result<Resolved, InstallError> {
        self.current = Some(label.to_string());
        self.check_interrupt(InstallStep::Resolve)?;
        self.progress
            .start(label, InstallStep::Resolve, &source.to_string());
        let (fetch_url, candidates, mut record) = self.locate(&source)?;
        let references = match &source {
            PackSource::Directory { .. } => Vec::new(),
            _ => {
                let options = git::FetchOptions {
                    timeout: self.settings.network_timeout,
                };
                let chosen = git::probe(&fetch_url, &candidates, &options).map_err(|error| {
                    InstallError::Git {
                        pack: label.to_string(),
                        error,
                    }
                })?;
                if let Some(chosen) = &chosen {
                    record["reference"] = json!(chosen);
                }
                chosen.into_iter().collect()
            }
        };
        self.progress.done(
            label,
            InstallStep::Resolve,
            &match references.first() {
                Some(reference) => format!("{fetch_url} at {reference}"),
                None => fetch_url.clone(),
            },
        );
        Ok(Resolved {
            label: label.to_string(),
            source,
            fetch_url,
            references,
            record,
        })
    }

    /// Download, validate and (first) the dependencies of one resolved pack, appending to
    /// `plan`.
    fn prepare(
        &mut self,
        resolved: Resolved,
        dependency_of: Option<&str>,
        plan: &mut Vec<Prepared>,
        requested_by: &mut BTreeMap<String, (String, Option<String>)>,
        chain: &mut Vec<String>,
    ) -> Result<(), InstallError> {
        let Resolved {
            label,
            source,
            fetch_url,
            references,
            record: source_record,
        } = resolved;
        self.current = Some(label.clone());
        self.check_interrupt(InstallStep::Download)?;
        self.set_fate(&label, Fate::RolledBack);
        let staging = recover::StagingDir::create(self.settings.packs_dir()).map_err(io_error(
            "create a staging directory in",
            self.settings.packs_dir(),
        ))?;
        let staged = staging.path().join("pack");
        self.progress
            .start(&label, InstallStep::Download, &fetch_url);
        let source_record = match &source {
            PackSource::Directory { path } => {
                copy_dir(path, &staged)?;
                self.progress.done(&label, InstallStep::Download, "copied");
                source_record
            }
            _ => {
                let options = git::FetchOptions {
                    timeout: self.settings.network_timeout,
                };
                let (fetched, _) = git::fetch_first(&fetch_url, &references, &staged, &options)
                    .map_err(|error| InstallError::Git {
                        pack: label.clone(),
                        error,
                    })?;
                self.progress.done(
                    &label,
                    InstallStep::Download,
                    &short_commit(&fetched.commit),
                );
                let mut record = source_record;
                record["commit"] = json!(fetched.commit);
                record
            }
        };

        self.check_interrupt(InstallStep::Validate)?;
        self.progress
            .start(&label, InstallStep::Validate, "pack.yaml");
        // Errors name files as the user knows them (the source), not the staging copy.
        let shown = fetch_url
            .strip_prefix("file://")
            .unwrap_or(&fetch_url)
            .to_string();
        let invalid = |err: &dyn std::fmt::Display| {
            InstallError::Invalid(
                err.to_string()
                    .replace(&staged.display().to_string(), &shown),
            )
        };
        crate::pack::safety::check_tree(&staged)
            .map_err(|err| InstallError::Invalid(format!("pack {shown} is refused: {err}")))?;
        let manifest = PackManifest::load(&staged).map_err(|err| invalid(&err))?;
        let pack_ref = manifest.install_ref().map_err(|err| invalid(&err))?;
        manifest.check_user_pack_ref(&pack_ref)?;
        if !self.options.force {
            manifest.check_compatibility()?;
        }
        let final_dir = self.settings.pack_dir(&pack_ref);
        let loaded = register::load_pack(
            &staged,
            &pack_ref,
            manifest,
            &final_dir,
            Some(source_record.clone()),
            &register::all_content(),
        )
        .map_err(|err| invalid(&err))?;
        // From here on the pack goes by its ref.
        if pack_ref != label {
            if let Some(entry) = self.ledger.iter_mut().find(|(n, _)| *n == label) {
                entry.0 = pack_ref.clone();
            }
            self.current = Some(pack_ref.clone());
        }
        self.progress.done(
            &pack_ref,
            InstallStep::Validate,
            &format!(
                "{pack_ref} {} ({} actions)",
                loaded.manifest.version,
                loaded.registration.actions.len()
            ),
        );

        // The same pack asked twice (directly, or as a dependency of two packs).
        if let Some((first_requester, first_version)) = requested_by.get(&pack_ref) {
            let version = Some(loaded.manifest.version.clone());
            if first_version != &version {
                return Err(InstallError::Conflict(format!(
                    "pack \"{pack_ref}\" is wanted at {} by {} and at {} by {}",
                    first_version.as_deref().unwrap_or("any version"),
                    first_requester,
                    version.as_deref().unwrap_or("any version"),
                    dependency_of.unwrap_or("the command line"),
                )));
            }
            return Ok(());
        }
        requested_by.insert(
            pack_ref.clone(),
            (
                dependency_of.unwrap_or("the command line").to_string(),
                Some(loaded.manifest.version.clone()),
            ),
        );

        if !self.options.skip_dependencies {
            chain.push(pack_ref.clone());
            let dependencies = loaded.manifest.dependencies.clone();
            for dependency in dependencies {
                self.prepare_dependency(&pack_ref, &dependency, plan, requested_by, chain)?;
            }
            chain.pop();
            self.current = Some(pack_ref.clone());
        }

        // An existing config must suit the new version's schema, as StackStorm registers
        // configs when it installs (and refuses the install otherwise).
        let config = register::load_config(
            &self.settings.config_path(&pack_ref),
            &pack_ref,
            loaded.registration.config_schema.as_ref(),
        )
        .map_err(|err| InstallError::Invalid(err.to_string()))?;

        plan.push(Prepared {
            pack_ref,
            loaded,
            staging,
            shown,
            source: source_record,
            dependency_of: dependency_of.map(str::to_string),
            virtualenv: Venv::Unchanged("not needed"),
            config,
        });
        Ok(())
    }

    fn prepare_dependency(
        &mut self,
        dependent: &str,
        dependency: &str,
        plan: &mut Vec<Prepared>,
        requested_by: &mut BTreeMap<String, (String, Option<String>)>,
        chain: &mut Vec<String>,
    ) -> Result<(), InstallError> {
        let cwd = self.settings.packs_dir().join(dependent);
        let source = source::parse(dependency, &cwd)?;
        let (name, version) = likely_name_and_version(&source);
        // StackStorm's own packs are built in: depending on them needs nothing.
        if SYSTEM_PACKS.contains(&name.as_str()) {
            return Ok(());
        }
        if chain.contains(&name) {
            tracing::debug!(
                "dependency cycle {} -> {name}: each pack is installed once",
                chain.join(" -> ")
            );
            return Ok(());
        }
        if let Some((first_requester, first_version)) = requested_by.get(&name) {
            if version.is_some() && first_version != &version {
                return Err(InstallError::Conflict(format!(
                    "pack \"{name}\" is wanted at {} by {first_requester} and at {} by {dependent}",
                    first_version.as_deref().unwrap_or("any version"),
                    version.as_deref().unwrap_or("any version"),
                )));
            }
            return Ok(());
        }
        // Already installed: fine when no version is asked or it matches (upstream
        // `get_pack_dependencies`); another version is a conflict.
        let installed_manifest = PackManifest::load(&self.settings.pack_dir(&name)).ok();
        if let Some(installed) = installed_manifest {
            match &version {
                None => return Ok(()),
                Some(version) if versions_equal(version, &installed.version) => return Ok(()),
                Some(version) => {
                    return Err(InstallError::Conflict(format!(
                        "pack \"{dependent}\" depends on \"{name}\" version {version}, but version {} \
                         is installed; install \"{name}={version}\" first or update \"{dependent}\"",
                        installed.version
                    )))
                }
            }
        }
        self.set_fate(&name, Fate::NotStarted);
        let resolved = self.resolve(&name, source)?;
        self.prepare(resolved, Some(dependent), plan, requested_by, chain)
    }

    /// Where to fetch from, which refs to try (in order of preference), and the source record
    /// to store.
    fn locate(
        &mut self,
        source: &PackSource,
    ) -> Result<(String, Vec<String>, Value), InstallError> {
        match source {
            PackSource::Index { name, version } => {
                let index = self.index()?;
                let Some(entry) = index.get(name) else {
                    return Err(InstallError::UnknownPack {
                        name: name.clone(),
                        suggestions: index.suggest(name),
                    });
                };
                let versions = match version {
                    Some(version) => {
                        let looks_like_version =
                            semver::Version::parse(version.trim_start_matches('v')).is_ok();
                        if looks_like_version
                            && !entry.versions.is_empty()
                            && !entry.has_version(version)
                        {
                            return Err(InstallError::UnknownVersion {
                                name: name.clone(),
                                version: version.clone(),
                                available: entry.sorted_versions(),
                            });
                        }
                        vec![version.clone()]
                    }
                    // [fix] The highest semver version of the entry, never string order. A
                    // version the index lists but the repository never tagged (the real
                    // index lists kubernetes 1.8.0, which is not a release) is skipped for
                    // the next highest; when none is tagged the error names the first.
                    None => entry.sorted_versions(),
                };
                let record = json!({
                    "type": "index",
                    "name": name,
                    "url": entry.repo_url,
                    "reference": versions.first(),
                });
                Ok((entry.repo_url.clone(), versions, record))
            }
            PackSource::Git { url, reference } => Ok((
                url.clone(),
                reference.iter().cloned().collect(),
                json!({"type": "git", "url": url, "reference": reference}),
            )),
            PackSource::Directory { path } => {
                let url = format!("file://{}", path.display());
                Ok((
                    url.clone(),
                    Vec::new(),
                    json!({"type": "directory", "url": url}),
                ))
            }
        }
    }

    /// Build the pack's virtualenv beside the virtualenvs (or find the existing one up to
    /// date); it is swapped into place when the pack is.
    fn virtualenv(&self, prepared: &Prepared) -> Result<Venv, InstallError> {
        let pack_ref = prepared.pack_ref.as_str();
        let staged = prepared.staged_dir();
        let has_requirements = staged.join(venv::REQUIREMENTS_FILE).is_file();
        if !has_requirements && !prepared.loaded.needs_python() {
            return Ok(Venv::Unchanged("not needed"));
        }
        if self.options.skip_virtualenv {
            return Ok(Venv::Unchanged("skipped"));
        }
        self.check_interrupt(InstallStep::Virtualenv)?;
        let venv_dir = self.settings.venv_dir(pack_ref);
        let venv_staging_parent = self.settings.virtualenvs_dir();
        // Messages name the pack's files as in its source and the virtualenv by its place.
        let venv_error = |error: venv::VenvError, built: Option<&Path>| match error {
            venv::VenvError::Interrupted => InstallError::Interrupted {
                step: InstallStep::Virtualenv.label(),
            },
            error => {
                let mut message = error
                    .to_string()
                    .replace(&staged.display().to_string(), &prepared.shown);
                if let Some(built) = built {
                    message = message.replace(
                        &built.display().to_string(),
                        &venv_dir.display().to_string(),
                    );
                }
                InstallError::Venv {
                    pack: pack_ref.to_string(),
                    message,
                }
            }
        };
        let spec = venv::VenvSpec {
            pack_ref,
            pack_dir: &staged,
            venv_dir: &venv_dir,
            python: &self.settings.python_binary,
            virtualenv_opts: &self.settings.virtualenv_opts,
            pip_opts: &self.settings.pip_opts,
        };
        let plan = venv::plan(&spec).map_err(|error| venv_error(error, None))?;
        if let Some(installer) = plan.up_to_date() {
            self.progress.done(
                pack_ref,
                InstallStep::Virtualenv,
                &format!("reused (built with {installer})"),
            );
            return Ok(Venv::Unchanged("reused"));
        }
        let started = Instant::now();
        self.progress.start(
            pack_ref,
            InstallStep::Virtualenv,
            &format!("building with {}", plan.installer()),
        );
        let staging =
            recover::StagingDir::create_beside(&prepared.staging, &venv_staging_parent).map_err(
                io_error("create a staging directory in", &venv_staging_parent),
            )?;
        let built = staging.path().join("venv");
        let final_pack_dir = self.settings.pack_dir(pack_ref);
        let staged_venv = plan
            .build_staged(
                staging.path(),
                Some(&final_pack_dir),
                self.interrupt.as_deref(),
            )
            .map_err(|error| venv_error(error, Some(&built)))?;
        let outcome = if venv_dir.exists() {
            "updated"
        } else {
            "created"
        };
        self.progress.done(
            pack_ref,
            InstallStep::Virtualenv,
            &format!(
                "{outcome} with {} in {:.1}s",
                staged_venv.installer(),
                started.elapsed().as_secs_f64()
            ),
        );
        Ok(Venv::Built {
            staged: staged_venv,
            staging,
        })
    }

    /// Move a prepared pack (and its new virtualenv) into place and register it, under its
    /// lock.
    fn commit(
        &mut self,
        store: &mut Store,
        mut prepared: Prepared,
    ) -> Result<InstalledPack, InstallError> {
        let pack_ref = prepared.pack_ref.clone();
        self.progress
            .start(&pack_ref, InstallStep::Register, "moving into place");
        let progress = self.progress;
        let _lock = PackLock::acquire(&self.settings.locks_dir(), &pack_ref, || {
            progress.waiting_for_lock(&pack_ref)
        })
        .map_err(io_error("lock", &self.settings.locks_dir()))?;

        let final_dir = self.settings.pack_dir(&pack_ref);
        let staged = prepared.staged_dir();
        // Upstream carries a pack-local config.yaml over to the new version.
        let old_config = final_dir.join("config.yaml");
        if old_config.is_file() && !staged.join("config.yaml").exists() {
            std::fs::copy(&old_config, staged.join("config.yaml"))
                .map_err(io_error("copy", &old_config))?;
        }
        make_group_writable(&staged, self.settings.pack_group.as_deref());

        // Journal the swap first: if this process dies before the registration below commits,
        // the next command swaps the previous version (of the pack and of its virtualenv)
        // back (`recover::recover_interrupted`).
        let new_inode = std::fs::metadata(&staged)
            .map_err(io_error("read", &staged))?
            .ino();
        if let Venv::Built { staged, staging } = &prepared.virtualenv {
            staging
                .record_new_inode(staged.path())
                .map_err(io_error("write to", staging.path()))?;
        }
        store.begin_swap(&PendingSwap {
            pack_ref: pack_ref.clone(),
            staging: prepared.staging.path().to_path_buf(),
            new_inode,
        })?;
        let venv_swapped = match &prepared.virtualenv {
            Venv::Built { staged, .. } => match staged.swap_in() {
                Ok(outcome) => Some(outcome),
                Err(err) => {
                    let _ = store.end_swap(&pack_ref);
                    return Err(InstallError::Venv {
                        pack: pack_ref.clone(),
                        message: err.to_string(),
                    });
                }
            },
            Venv::Unchanged(_) => None,
        };
        crate::failpoint::hit("install-after-venv-swap");
        let undo_venv = |prepared: &Prepared| {
            if let (Venv::Built { staged, .. }, Some(outcome)) =
                (&prepared.virtualenv, venv_swapped)
            {
                staged.swap_back(outcome).is_ok()
            } else {
                true
            }
        };
        let swapped = match swap_into_place(&staged, &final_dir) {
            Ok(swapped) => swapped,
            Err(err) => {
                if undo_venv(&prepared) {
                    let _ = store.end_swap(&pack_ref);
                }
                return Err(err);
            }
        };
        crate::failpoint::hit("install-after-swap");
        // Registering also deletes the journal record, in the same transaction.
        let stored =
            store.replace_pack_with_config(&prepared.loaded.registration, prepared.config.as_ref());
        let summary = match stored {
            Ok(summary) => summary,
            Err(err) => {
                // Put the previous version (or nothing) back: the store still describes it.
                if undo_swap(&staged, &final_dir, swapped).is_ok() && undo_venv(&prepared) {
                    let _ = store.end_swap(&pack_ref);
                }
                return Err(err.into());
            }
        };
        crate::failpoint::hit("install-after-register");
        // After the swaps, the staging directories hold the previous versions; dropping them
        // deletes those.
        let unsupported = prepared.loaded.unsupported_runners_warning();
        let warnings = std::mem::take(&mut prepared.loaded.warnings)
            .into_iter()
            .chain(prepared.loaded.manifest.warnings())
            .chain(unsupported)
            .collect();
        let counts: BTreeMap<String, u64> = store.content_counts(&pack_ref)?.into_iter().collect();
        self.progress.done(
            &pack_ref,
            InstallStep::Register,
            &format!("{}", final_dir.display()),
        );
        let virtualenv = match (&prepared.virtualenv, venv_swapped) {
            (Venv::Unchanged(what), _) => what.to_string(),
            (_, Some(outcome)) => outcome.as_str().to_string(),
            (_, None) => "created".to_string(),
        };
        let manifest = &prepared.loaded.manifest;
        Ok(InstalledPack {
            pack_ref: pack_ref.clone(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            description: manifest.description.clone(),
            author: manifest.author.clone(),
            email: manifest.email.clone(),
            keywords: manifest.keywords.clone(),
            path: final_dir,
            source: prepared.source.clone(),
            dependency_of: prepared.dependency_of.clone(),
            content: counts,
            virtualenv,
            removed: summary,
            warnings,
        })
    }
}

/// The name a dependency will most likely install as, and the version it asks for, so that an
/// installed one can be recognised before anything is downloaded.
fn likely_name_and_version(source: &PackSource) -> (String, Option<String>) {
    match source {
        PackSource::Index { name, version } => (name.clone(), version.clone()),
        PackSource::Git { url, reference } => {
            let last = url
                .trim_end_matches('/')
                .rsplit(['/', ':'])
                .next()
                .unwrap_or(url);
            let name = last.trim_end_matches(".git");
            let name = name.strip_prefix("stackstorm-").unwrap_or(name);
            (name.replace('-', "_"), reference.clone())
        }
        PackSource::Directory { path } => (
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None,
        ),
    }
}

fn versions_equal(asked: &str, installed: &str) -> bool {
    asked.trim_start_matches('v') == installed.trim_start_matches('v')
}

fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// Whether [`swap_into_place`] exchanged two directories (true) or renamed into an empty
/// place (false).
fn swap_into_place(staged: &Path, final_dir: &Path) -> Result<bool, InstallError> {
    if final_dir.exists() {
        exchange(staged, final_dir).map_err(io_error("replace", final_dir))?;
        Ok(true)
    } else {
        std::fs::rename(staged, final_dir).map_err(io_error("move into", final_dir))?;
        Ok(false)
    }
}

fn undo_swap(staged: &Path, final_dir: &Path, swapped: bool) -> std::io::Result<()> {
    if swapped {
        exchange(staged, final_dir)
    } else {
        std::fs::rename(final_dir, staged)
    }
}

/// Copy a plain directory (a local pack that is not a git repository), keeping symlinks as
/// symlinks and file modes.
fn copy_dir(from: &Path, to: &Path) -> Result<(), InstallError> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|err| InstallError::Io {
            action: "read",
            path: err.path().unwrap_or(from).to_path_buf(),
            reason: err
                .io_error()
                .map(io_reason)
                .unwrap_or_else(|| err.to_string()),
        })?;
        let relative = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir stays under from");
        let target = to.join(relative);
        let file_type = entry.file_type();
        if file_type.is_dir() {
            std::fs::create_dir_all(&target).map_err(io_error("copy", entry.path()))?;
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(io_error("read", entry.path()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io_error("copy", entry.path()))?;
        } else if !file_type.is_file() {
            // A FIFO would block the copy forever; devices and sockets have no place in a pack.
            return Err(InstallError::Invalid(format!(
                "{} is not a regular file, directory or symlink; packs hold only those",
                entry.path().display()
            )));
        } else {
            std::fs::copy(entry.path(), &target).map_err(io_error("copy", entry.path()))?;
        }
    }
    Ok(())
}

/// Packs are shared with the group that may edit them (upstream: 775 and `[content]
/// pack_group`). We add group write without touching the other bits, so file modes from git
/// (the executable bit of scripts) stay as they are.
fn make_group_writable(dir: &Path, group: Option<&str>) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let gid = group.and_then(group_id);
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_symlink() {
            continue;
        }
        if let Ok(metadata) = entry.metadata() {
            let mode = metadata.mode() | 0o020;
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode));
        }
        if let Some(gid) = gid {
            let _ = std::os::unix::fs::chown(entry.path(), None, Some(gid));
        }
    }
}

fn group_id(name: &str) -> Option<u32> {
    crate::sys::group_id(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names_from_urls() {
        let git = |url: &str| PackSource::Git {
            url: url.into(),
            reference: Some("1.0.0".into()),
        };
        assert_eq!(
            likely_name_and_version(&git(
                "https://github.com/StackStorm-Exchange/stackstorm-aws_boto3.git"
            )),
            ("aws_boto3".to_string(), Some("1.0.0".to_string()))
        );
        assert_eq!(
            likely_name_and_version(&git("git@host:o/my-pack")).0,
            "my_pack"
        );
    }

    #[test]
    fn exchange_swaps_directories() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("new"), "").unwrap();
        std::fs::write(b.join("old"), "").unwrap();
        exchange(&a, &b).unwrap();
        assert!(b.join("new").exists() && a.join("old").exists());
    }
}

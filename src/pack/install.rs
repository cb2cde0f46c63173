//! Installing packs: resolve, download, validate, build the virtualenv, then move into place
//! and register, for the requested packs and their dependencies.
//!
//! Upstream runs this as the `packs.install` workflow on the server
//! (`contrib/packs/actions/workflows/install.yaml`); we run the same steps in-process, in two
//! phases so that a failure changes nothing:
//!
//! 1. **Prepare** every pack (requested ones and, recursively, their dependencies): download into
//!    a staging directory beside the packs directory, validate `pack.yaml`, read every file
//!    registration needs, and build the virtualenv in its own staging directory. Any failure
//!    here stops the whole install; staging directories are removed, nothing else was touched.
//! 2. **Commit** each pack, dependencies first, under a per-pack lock: swap the staged directory
//!    into place and replace the pack's store rows in one transaction. If the store write fails,
//!    the previous directory is swapped back.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::fs::exchange;
use crate::git;
use crate::index::{Index, IndexOptions};
use crate::lock::PackLock;
use crate::pack::manifest::{ManifestError, PackManifest, SYSTEM_PACKS};
use crate::pack::recover;
use crate::pack::source::{self, PackSource, SourceError};
use crate::register::{self, LoadedPack};
use crate::settings::{io_reason, Settings};
use crate::store::{ConfigRecord, PendingSwap, ReplaceSummary, Store, StoreError};
use crate::venv;

/// Options of `st2 pack install`.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// `--force`: skip the StackStorm/Python version checks.
    pub force: bool,
    /// `--skip-dependencies`.
    pub skip_dependencies: bool,
    /// `--skip-virtualenv` (ours): do not create the virtualenv now.
    pub skip_virtualenv: bool,
}

/// The steps reported while installing, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
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

impl Step {
    /// The word shown for the step.
    pub fn label(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Download => "download",
            Step::Validate => "validate",
            Step::Virtualenv => "virtualenv",
            Step::Register => "register",
        }
    }
}

/// Receives progress while installing (the command turns it into lines or a progress bar).
pub trait Progress {
    /// A step of `pack` starts.
    fn start(&self, pack: &str, step: Step, detail: &str);
    /// That step ended well, with a short note.
    fn done(&self, pack: &str, step: Step, detail: &str);
    /// Waiting for another process holding the pack's lock.
    fn waiting_for_lock(&self, pack: &str);
}

/// One installed pack, for the summary and `-j`/`-y` output.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledPack {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub pack_ref: String,
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `author`.
    pub author: String,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// Where it is now.
    pub path: PathBuf,
    /// Where it came from.
    pub source: Value,
    /// Whether it was requested or pulled in as a dependency.
    pub dependency_of: Option<String>,
    /// Content registered, per type.
    pub content: BTreeMap<String, u64>,
    /// The virtualenv: `created`, `updated`, `reused`, `skipped` or `not needed`.
    pub virtualenv: String,
    /// What the previous version had and this one does not.
    #[serde(skip_serializing_if = "is_empty_summary")]
    pub removed: ReplaceSummary,
    /// Warnings about the pack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_empty_summary(summary: &ReplaceSummary) -> bool {
    summary == &ReplaceSummary::default()
}

/// Why an install failed. Nothing was changed when this is returned from the prepare phase.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
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
    /// Fetching failed.
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
    /// The virtualenv could not be built.
    #[error("virtualenv of pack \"{pack}\": {error}")]
    Venv {
        /// The pack.
        pack: String,
        /// Why (boxed: it carries the installer's output).
        error: Box<venv::VenvError>,
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

/// A pack downloaded, validated and ready to commit.
struct Prepared {
    pack_ref: String,
    loaded: LoadedPack,
    // Dropped (and so deleted) after commit or on failure.
    staging: recover::StagingDir,
    source: Value,
    dependency_of: Option<String>,
    virtualenv: String,
    /// `configs/<ref>.yaml`, checked against the new version's schema.
    config: Option<ConfigRecord>,
}

impl Prepared {
    fn staged_dir(&self) -> PathBuf {
        self.staging.path().join("pack")
    }
}

/// The install of a list of PACK arguments.
pub struct Installer<'a> {
    settings: &'a Settings,
    options: InstallOptions,
    progress: &'a dyn Progress,
    index: Option<Index>,
    /// Warnings gathered along the way (index fell back to cache, ...).
    pub warnings: Vec<String>,
}

impl<'a> Installer<'a> {
    /// An installer for `settings`.
    pub fn new(
        settings: &'a Settings,
        options: InstallOptions,
        progress: &'a dyn Progress,
    ) -> Installer<'a> {
        Installer {
            settings,
            options,
            progress,
            index: None,
            warnings: Vec::new(),
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
    pub fn index_content_counts(
        &mut self,
        name: &str,
    ) -> Result<Option<Vec<(String, u64)>>, InstallError> {
        Ok(self.index()?.get(name).map(|entry| entry.content_counts()))
    }

    /// Install `packs` (PACK arguments) and their dependencies.
    pub fn install(&mut self, packs: &[String]) -> Result<Vec<InstalledPack>, InstallError> {
        self.settings.ensure_writable()?;
        recover::remove_abandoned(self.settings.packs_dir());
        recover::remove_abandoned(&self.settings.virtualenvs_dir());
        let mut existing = Store::open_existing(&self.settings.store_path)?;
        if let Some(store) = existing.as_mut() {
            let warnings = recover::recover_interrupted(self.settings, store)?;
            self.warnings.extend(warnings);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let sources = packs
            .iter()
            .map(|pack| source::parse(pack, &cwd))
            .collect::<Result<Vec<_>, _>>()?;

        // Phase 1: prepare everything, dependencies before their dependents.
        let mut plan: Vec<Prepared> = Vec::new();
        let mut requested_by: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for (argument, source) in packs.iter().zip(sources) {
            self.prepare(
                argument,
                source,
                None,
                &mut plan,
                &mut requested_by,
                &mut Vec::new(),
            )?;
        }

        // Phase 2: commit, in plan order (dependencies first).
        let mut store = match existing {
            Some(store) => store,
            None => Store::open(&self.settings.store_path)?,
        };
        let mut installed = Vec::new();
        for prepared in plan {
            installed.push(self.commit(&mut store, prepared)?);
        }
        Ok(installed)
    }

    /// Prepare one pack and (first) its dependencies, appending to `plan`.
    fn prepare(
        &mut self,
        argument: &str,
        source: PackSource,
        dependency_of: Option<&str>,
        plan: &mut Vec<Prepared>,
        requested_by: &mut BTreeMap<String, (String, Option<String>)>,
        chain: &mut Vec<String>,
    ) -> Result<(), InstallError> {
        let label = argument.to_string();
        self.progress
            .start(&label, Step::Resolve, &source.to_string());
        let (fetch_url, references, source_record) = self.resolve(&source)?;
        self.progress.done(
            &label,
            Step::Resolve,
            &match references.first() {
                Some(reference) => format!("{fetch_url} at {reference}"),
                None => fetch_url.clone(),
            },
        );

        let staging = recover::StagingDir::create(self.settings.packs_dir()).map_err(io_error(
            "create a staging directory in",
            self.settings.packs_dir(),
        ))?;
        let staged = staging.path().join("pack");
        self.progress.start(&label, Step::Download, &fetch_url);
        let source_record = match &source {
            PackSource::Directory { path } => {
                copy_dir(path, &staged)?;
                self.progress.done(&label, Step::Download, "copied");
                source_record
            }
            _ => {
                let options = git::FetchOptions {
                    timeout: self.settings.network_timeout,
                };
                let (fetched, chosen) =
                    git::fetch_first(&fetch_url, &references, &staged, &options).map_err(
                        |error| InstallError::Git {
                            pack: label.clone(),
                            error,
                        },
                    )?;
                self.progress
                    .done(&label, Step::Download, &short_commit(&fetched.commit));
                let mut record = source_record;
                record["commit"] = json!(fetched.commit);
                if let Some(chosen) = chosen {
                    record["reference"] = json!(chosen);
                }
                record
            }
        };

        self.progress.start(&label, Step::Validate, "pack.yaml");
        // Errors name files as the user knows them (the source), not the staging copy.
        let shown = fetch_url.strip_prefix("file://").unwrap_or(&fetch_url);
        let invalid = |err: &dyn std::fmt::Display| {
            InstallError::Invalid(
                err.to_string()
                    .replace(&staged.display().to_string(), shown),
            )
        };
        super::safety::check_tree(&staged)
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
        self.progress.done(
            &label,
            Step::Validate,
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
        }

        // An existing config must suit the new version's schema, as StackStorm registers
        // configs when it installs (and refuses the install otherwise).
        let config = register::load_config(
            &self.settings.config_path(&pack_ref),
            &pack_ref,
            loaded.registration.config_schema.as_ref(),
        )
        .map_err(|err| InstallError::Invalid(err.to_string()))?;

        let virtualenv = self.virtualenv(&label, &pack_ref, &loaded, &staged)?;
        plan.push(Prepared {
            pack_ref,
            loaded,
            staging,
            source: source_record,
            dependency_of: dependency_of.map(str::to_string),
            virtualenv,
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
        self.prepare(
            dependency,
            source,
            Some(dependent),
            plan,
            requested_by,
            chain,
        )
    }

    /// Where to fetch from, which refs to try (in order of preference), and the source record
    /// to store.
    fn resolve(
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

    fn virtualenv(
        &self,
        label: &str,
        pack_ref: &str,
        loaded: &LoadedPack,
        staged: &Path,
    ) -> Result<String, InstallError> {
        let has_requirements = staged.join("requirements.txt").is_file();
        if !has_requirements && !loaded.needs_python() {
            return Ok("not needed".into());
        }
        if self.options.skip_virtualenv {
            return Ok("skipped".into());
        }
        self.progress
            .start(label, Step::Virtualenv, &self.settings.python_binary);
        let venv_dir = self.settings.venv_dir(pack_ref);
        let spec = venv::VenvSpec {
            pack_ref,
            pack_dir: staged,
            venv_dir: &venv_dir,
            python: &self.settings.python_binary,
            virtualenv_opts: &self.settings.virtualenv_opts,
            pip_opts: &self.settings.pip_opts,
        };
        let (outcome, installer) = venv::ensure(&spec).map_err(|error| InstallError::Venv {
            pack: pack_ref.to_string(),
            error: Box::new(error),
        })?;
        let outcome = match outcome {
            venv::VenvOutcome::Created => "created",
            venv::VenvOutcome::Updated => "updated",
            venv::VenvOutcome::Reused => "reused",
        };
        let tool = match installer {
            venv::Installer::Uv => "uv",
            venv::Installer::Pip => "pip",
        };
        self.progress
            .done(label, Step::Virtualenv, &format!("{outcome} ({tool})"));
        Ok(outcome.to_string())
    }

    /// Move a prepared pack into place and register it, under its lock.
    fn commit(
        &mut self,
        store: &mut Store,
        mut prepared: Prepared,
    ) -> Result<InstalledPack, InstallError> {
        let pack_ref = prepared.pack_ref.clone();
        self.progress
            .start(&pack_ref, Step::Register, "moving into place");
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
        // the next command swaps the previous version back (`recover::recover_interrupted`).
        let new_inode = std::fs::metadata(&staged)
            .map_err(io_error("read", &staged))?
            .ino();
        store.begin_swap(&PendingSwap {
            pack_ref: pack_ref.clone(),
            staging: prepared.staging.path().to_path_buf(),
            new_inode,
        })?;
        let swapped = match swap_into_place(&staged, &final_dir) {
            Ok(swapped) => swapped,
            Err(err) => {
                let _ = store.end_swap(&pack_ref);
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
                if undo_swap(&staged, &final_dir, swapped).is_ok() {
                    let _ = store.end_swap(&pack_ref);
                }
                return Err(err.into());
            }
        };
        crate::failpoint::hit("install-after-register");
        // After the swap, the staging directory holds the previous version; dropping the
        // StagingDir deletes it.
        let unsupported = prepared.loaded.unsupported_runners_warning();
        let warnings = std::mem::take(&mut prepared.loaded.warnings)
            .into_iter()
            .chain(prepared.loaded.manifest.warnings())
            .chain(unsupported)
            .collect();
        let counts: BTreeMap<String, u64> = store.content_counts(&pack_ref)?.into_iter().collect();
        self.progress.done(
            &pack_ref,
            Step::Register,
            &format!("{}", final_dir.display()),
        );
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
            virtualenv: prepared.virtualenv.clone(),
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
            std::fs::create_dir_all(&target).map_err(io_error("create", &target))?;
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(io_error("read", entry.path()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io_error("create", &target))?;
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
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getgrnam returns a pointer into static storage or null; we read one field
    // immediately, on this thread.
    let group = unsafe { libc::getgrnam(name.as_ptr()) };
    if group.is_null() {
        None
    } else {
        // SAFETY: non-null pointer returned by getgrnam.
        Some(unsafe { (*group).gr_gid })
    }
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

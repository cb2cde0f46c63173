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
//!    directories; [`InstallFailure`](failure::InstallFailure) names the pack and what became
//!    of the others.
//! 4. **Commit** every pack at once, under their per-pack locks: journal the swaps, swap the
//!    new virtualenvs and the staged directories into place, write the lock file, and replace
//!    the packs' store rows in one transaction, which deletes the journal records: the
//!    install's commit point. If a step fails, what was swapped is swapped back and the lock
//!    file's entries restored; if the process dies, the next command does it (`recover`).
//!
//! `packs.lock` (`crate::pack::lockfile`) is read first: `--locked` installs what it lists
//! (`locked.rs`: the selection, and the checks that what was fetched and built is what it
//! records); a plain install of a pack at the commit the lock records pins its Python
//! distributions to the locked versions, from the cache first. `st2 pack update` runs the same
//! phases with targets of its own ([`update_packs`]).
//!
//! One file per phase: `resolve.rs`, `prepare.rs`, `virtualenv.rs`, `commit.rs`; `locked.rs`
//! the lock file's part; `failure.rs` holds the errors and the report of a failed install.
//! This file holds the install's state ([`PackInstall`]) and runs the phases in order.

mod commit;
mod failure;
mod locked;
mod prepare;
mod resolve;
mod virtualenv;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use self::failure::{Fate, InstallError, InstallFailure};
use self::prepare::Preparation;
use self::resolve::Resolved;
use super::recover;
use crate::git;
use crate::index::Index;
use crate::ops::packs::{
    InstallAnswer, InstallFailed, InstallProgress, InstallRequest, InstallStep, InstalledPack,
};
use crate::pack::lockfile::{LockedPack, LockedVenv, PacksLock};
use crate::register::LoadedPack;
use crate::settings::Settings;
use crate::store::{ConfigRecord, Store};
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
    let mut install = PackInstall::new(settings, request, progress);
    install.interrupt_on(interrupt);
    if request.announce_content && !request.locked {
        install.announce_content();
    }
    let outcome = install
        .install(Arguments::Packs(&request.packs))
        .map_err(|failure| InstallFailed {
            messages: failure.messages(),
            outcome: failure.outcome(),
        });
    InstallAnswer {
        warnings: std::mem::take(&mut install.warnings),
        outcome,
    }
}

/// Install packs already resolved to a target each (`st2 pack update`): the same phases as
/// an install, all or nothing, the lock file updated.
pub(crate) fn install_targets(
    settings: &Settings,
    request: &InstallRequest,
    targets: Vec<Target>,
    progress: &dyn InstallProgress,
    interrupt: Arc<AtomicBool>,
) -> InstallAnswer {
    let mut install = PackInstall::new(settings, request, progress);
    install.interrupt_on(interrupt);
    let outcome = install
        .install(Arguments::Targets(targets))
        .map_err(|failure| InstallFailed {
            messages: failure.messages(),
            outcome: failure.outcome(),
        });
    InstallAnswer {
        warnings: std::mem::take(&mut install.warnings),
        outcome,
    }
}

/// A pack to install at a given ref, keeping what the lock file records as asked for.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The pack's ref (progress and errors name it).
    pub(crate) pack_ref: String,
    /// Where from, at which ref.
    pub(crate) source: crate::pack::source::PackSource,
    /// What the lock file records as asked for (an update keeps a pack that follows the
    /// index's newest version unpinned).
    pub(crate) requested: Option<String>,
    /// Which pack pulled it in, as the lock file says.
    pub(crate) dependency_of: Option<String>,
}

/// What an install starts from.
enum Arguments<'a> {
    /// PACK arguments (none with `--locked`: every locked pack).
    Packs(&'a [String]),
    /// Targets chosen by `st2 pack update`.
    Targets(Vec<Target>),
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
    /// What the PACK argument asked for (`=REF`).
    requested: Option<String>,
    /// The index it came from.
    index_url: Option<String>,
    /// The lock file's entry it must reproduce (`--locked`).
    pin: Option<LockedPack>,
    /// The lock file's entry for the same commit (or directory tree): its Python
    /// distributions are installed at the locked versions.
    lock_match: Option<LockedPack>,
    /// `sha256:` of the staged tree.
    tree: String,
    /// The virtualenv for the lock file.
    venv_record: VenvRecord,
}

/// What the lock file says of a pack's virtualenv.
#[derive(Debug, Clone)]
enum VenvRecord {
    /// It has none (no Python code).
    None,
    /// `--skip-virtualenv`.
    Skipped,
    /// Built or reused: interpreter, installer, distributions.
    Locked(LockedVenv),
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
    /// `packs.lock` as it was when the install started.
    lock: PacksLock,
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
            lock: PacksLock::default(),
        }
    }

    /// How git fetches for this install: through the cache, offline when asked.
    fn fetch_options(&self) -> git::FetchOptions {
        git::FetchOptions {
            timeout: self.settings.network_timeout,
            cache: Some(self.settings.git_cache_dir()),
            offline: self.options.offline,
            ca_bundle: self.settings.ca_bundle.clone(),
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

    /// Install `packs` (PACK arguments) and their dependencies: every argument is resolved
    /// (index, ref) before anything is downloaded, every pack downloaded and validated before
    /// any virtualenv is built, and nothing is moved into place before all of that succeeded.
    fn install(&mut self, arguments: Arguments) -> Result<Vec<InstalledPack>, InstallFailure> {
        let result = self.run(arguments);
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
        arguments: Arguments,
    ) -> Result<Vec<InstalledPack>, Vec<(Option<String>, InstallError)>> {
        let whole = |error: InstallError| vec![(None, error)];
        self.settings
            .ensure_writable()
            .map_err(|e| whole(e.into()))?;
        let existing = self.recover_interrupted().map_err(whole)?;
        self.lock = PacksLock::read(&self.settings.lock_file())
            .map_err(|e| whole(e.into()))?
            .unwrap_or_default();
        let resolved = match arguments {
            Arguments::Packs(packs) if self.options.locked => self.resolve_locked(packs)?,
            Arguments::Packs(packs) => self.resolve_arguments(packs)?,
            Arguments::Targets(targets) => self.resolve_targets(targets)?,
        };
        let fail = |this: &Self, error: InstallError| vec![(this.current.clone(), error)];
        let mut plan = self.prepare_all(resolved).map_err(|e| fail(self, e))?;
        self.build_virtualenvs(&mut plan)?;
        let mut store = match existing {
            Some(store) => store,
            None => Store::open(&self.settings.store_path).map_err(|e| whole(e.into()))?,
        };
        self.commit_all(&mut store, plan).map_err(|e| fail(self, e))
    }

    /// Roll back installs that were killed before they registered (or, with no store yet,
    /// remove abandoned staging directories); the store, if there is one.
    fn recover_interrupted(&mut self) -> Result<Option<Store>, InstallError> {
        let mut existing = Store::open_existing(&self.settings.store_path)?;
        match existing.as_mut() {
            Some(store) => {
                let warnings = recover::recover_interrupted(self.settings, store)?;
                self.warnings.extend(warnings);
            }
            None => recover::remove_abandoned(self.settings),
        }
        Ok(existing)
    }

    /// Phase 2: download and validate each pack, dependencies before their dependents.
    fn prepare_all(&mut self, resolved: Vec<Resolved>) -> Result<Vec<Prepared>, InstallError> {
        let mut preparation = Preparation::default();
        for one in resolved {
            self.prepare(one, None, &mut preparation)?;
        }
        Ok(preparation.plan)
    }

    /// Phase 3: the virtualenvs, once every pack is known to be good. Offline, every pack's
    /// is tried, so that the error lists every Python package missing from the cache.
    fn build_virtualenvs(
        &mut self,
        plan: &mut [Prepared],
    ) -> Result<(), Vec<(Option<String>, InstallError)>> {
        let mut failed = Vec::new();
        for prepared in plan.iter_mut() {
            self.current = Some(prepared.pack_ref.clone());
            match self.virtualenv(prepared) {
                Ok(venv) => prepared.virtualenv = venv,
                Err(error @ InstallError::Venv { offline: true, .. }) => {
                    failed.push((Some(prepared.pack_ref.clone()), error));
                }
                Err(error) => {
                    failed.push((Some(prepared.pack_ref.clone()), error));
                    return Err(failed);
                }
            }
        }
        if !failed.is_empty() {
            return Err(failed);
        }
        self.check_interrupt(InstallStep::Register)
            .map_err(|error| vec![(self.current.clone(), error)])
    }

    fn set_fate(&mut self, name: &str, fate: Fate) {
        match self.ledger.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = fate,
            None => self.ledger.push((name.to_string(), fate)),
        }
    }
}

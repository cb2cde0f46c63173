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
//! 4. **Commit** each pack, dependencies first, under a per-pack lock: journal the swap, swap
//!    the new virtualenv and the staged directory into place and replace the pack's store rows
//!    in one transaction. If the store write fails, the previous ones are swapped back; if the
//!    process dies, the next command does it (`recover`).
//!
//! One file per phase: `resolve.rs`, `prepare.rs`, `virtualenv.rs`, `commit.rs`; `failure.rs`
//! holds the errors and the report of a failed install. This file holds the install's state
//! ([`PackInstall`]) and runs the phases in order.

mod commit;
mod failure;
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
        let existing = self.recover_interrupted().map_err(whole)?;
        let resolved = self.resolve_arguments(packs)?;
        let fail = |this: &Self, error: InstallError| vec![(this.current.clone(), error)];
        let mut plan = self.prepare_all(resolved).map_err(|e| fail(self, e))?;
        self.build_virtualenvs(&mut plan)
            .map_err(|e| fail(self, e))?;
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

    /// Phase 3: the virtualenvs, once every pack is known to be good.
    fn build_virtualenvs(&mut self, plan: &mut [Prepared]) -> Result<(), InstallError> {
        for prepared in plan {
            self.current = Some(prepared.pack_ref.clone());
            prepared.virtualenv = self.virtualenv(prepared)?;
        }
        self.check_interrupt(InstallStep::Register)
    }

    /// Phase 4: commit, in plan order (dependencies first).
    fn commit_all(
        &mut self,
        store: &mut Store,
        plan: Vec<Prepared>,
    ) -> Result<Vec<InstalledPack>, InstallError> {
        let mut installed = Vec::new();
        for prepared in plan {
            self.current = Some(prepared.pack_ref.clone());
            let pack_ref = prepared.pack_ref.clone();
            installed.push(self.commit(store, prepared)?);
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
}

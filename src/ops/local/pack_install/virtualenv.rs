//! Phase 3, virtualenvs: once every pack is prepared, each pack that runs Python gets its
//! virtualenv built in a staging directory beside the virtualenvs (or the existing one is
//! found up to date); the final ones stay untouched until the commit swaps the new one in.
//!
//! A pack at a commit the lock file records has its Python distributions pinned to the
//! locked versions (a constraints file), taken from the installer's cache first; `--locked`
//! also checks that what was built is exactly what the lock lists (names, versions, hashes),
//! and fails otherwise before anything is moved into place.

use std::path::Path;
use std::time::Instant;

use super::failure::{io_error, InstallError};
use super::locked::venv_differences;
use super::{recover, PackInstall, Prepared, Venv, VenvRecord};
use crate::ops::packs::InstallStep;
use crate::pack::lockfile::{LockedDist, LockedVenv};
use crate::venv;

impl PackInstall<'_> {
    /// Build the pack's virtualenv beside the virtualenvs (or find the existing one up to
    /// date); it is swapped into place when the pack is. Records what the lock file will say
    /// of it.
    pub(super) fn virtualenv(&self, prepared: &mut Prepared) -> Result<Venv, InstallError> {
        let pack_ref = prepared.pack_ref.clone();
        let pack_ref = pack_ref.as_str();
        let staged = prepared.staged_dir();
        let has_requirements = staged.join(venv::REQUIREMENTS_FILE).is_file();
        if !has_requirements && !prepared.loaded.needs_python() {
            prepared.venv_record = VenvRecord::None;
            return Ok(Venv::Unchanged("not needed"));
        }
        if self.options.skip_virtualenv {
            prepared.venv_record = VenvRecord::Skipped;
            return Ok(Venv::Unchanged("skipped"));
        }
        self.check_interrupt(InstallStep::Virtualenv)?;
        let locked: Option<Vec<LockedDist>> = prepared
            .lock_match
            .as_ref()
            .and_then(|entry| entry.virtualenv.as_ref())
            .map(|venv| venv.packages.clone());
        let pins: Vec<String> = locked.iter().flatten().map(LockedDist::pin).collect();
        let venv_dir = self.settings.venv_dir(pack_ref);
        let shown = prepared.shown.clone();
        let venv_error = |error: venv::VenvError, built: Option<&Path>| {
            install_error(error, pack_ref, (&staged, &shown), built, &venv_dir)
        };
        let python_cache = self.settings.python_cache_dir();
        let spec = venv::VenvSpec {
            pack_ref,
            pack_dir: &staged,
            venv_dir: &venv_dir,
            python: &self.settings.python_binary,
            virtualenv_opts: &self.settings.virtualenv_opts,
            pip_opts: &self.settings.pip_opts,
            resolution: venv::Resolution {
                cache_dir: Some(&python_cache),
                offline: self.options.offline,
                constraints: &pins,
                cache_first: !pins.is_empty(),
            },
        };
        let plan = venv::plan(&spec).map_err(|error| venv_error(error, None))?;
        if let Some(installer) = plan.up_to_date() {
            let existing = venv::packages(&venv_dir);
            let matches_lock = locked
                .as_deref()
                .is_none_or(|locked| venv_differences(locked, &existing).is_empty());
            if matches_lock {
                self.progress.done(
                    pack_ref,
                    InstallStep::Virtualenv,
                    &format!("reused (built with {installer})"),
                );
                let (tool, python) = venv::built_with(&venv_dir)
                    .unwrap_or_else(|| (installer.to_string(), plan.python_version().into()));
                prepared.venv_record = VenvRecord::Locked(locked_venv(python, tool, &existing));
                return Ok(Venv::Unchanged("reused"));
            }
        }
        let started = Instant::now();
        let from = if pins.is_empty() {
            String::new()
        } else {
            " (packs.lock)".to_string()
        };
        self.progress.start(
            pack_ref,
            InstallStep::Virtualenv,
            &format!("building with {}{from}", plan.installer()),
        );
        let venv_staging_parent = self.settings.virtualenvs_dir();
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
        let packages = venv::packages(staged_venv.path());
        if prepared.pin.is_some() {
            if let Some(locked) = &locked {
                let differences = venv_differences(locked, &packages);
                if !differences.is_empty() {
                    return Err(InstallError::LockMismatch(format!(
                        "its virtualenv: {}",
                        differences.join("; ")
                    )));
                }
            } else {
                tracing::info!(
                    pack = pack_ref,
                    "packs.lock records no Python packages for this pack: built unpinned"
                );
            }
        }
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
        prepared.venv_record = VenvRecord::Locked(locked_venv(
            plan.python_version().to_string(),
            staged_venv.installer().to_string(),
            &packages,
        ));
        Ok(Venv::Built {
            staged: staged_venv,
            staging,
        })
    }
}

fn locked_venv(python: String, installer: String, packages: &[venv::dists::Dist]) -> LockedVenv {
    LockedVenv {
        python,
        installer,
        packages: packages
            .iter()
            .map(|dist| LockedDist {
                name: dist.name.clone(),
                version: dist.version.clone(),
                hash: dist.hash.clone(),
            })
            .collect(),
    }
}

/// The install error for a virtualenv that could not be planned or built: its message names
/// the pack's files as in its source (not the staged copy) and the virtualenv by its place
/// (not the staging directory `built` it was built in).
fn install_error(
    error: venv::VenvError,
    pack_ref: &str,
    (staged, shown): (&Path, &str),
    built: Option<&Path>,
    venv_dir: &Path,
) -> InstallError {
    match error {
        venv::VenvError::Interrupted => InstallError::Interrupted {
            step: InstallStep::Virtualenv.label(),
        },
        error => {
            let offline = matches!(error, venv::VenvError::Offline { .. });
            let mut message = error
                .to_string()
                .replace(&staged.display().to_string(), shown);
            if let Some(built) = built {
                message = message.replace(
                    &built.display().to_string(),
                    &venv_dir.display().to_string(),
                );
            }
            InstallError::Venv {
                pack: pack_ref.to_string(),
                message,
                offline,
            }
        }
    }
}

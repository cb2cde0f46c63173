//! Phase 3, virtualenvs: once every pack is prepared, each pack that runs Python gets its
//! virtualenv built in a staging directory beside the virtualenvs (or the existing one is
//! found up to date); the final ones stay untouched until the commit swaps the new one in.

use std::path::Path;
use std::time::Instant;

use super::failure::{io_error, InstallError};
use super::{recover, PackInstall, Prepared, Venv};
use crate::ops::packs::InstallStep;
use crate::venv;

impl PackInstall<'_> {
    /// Build the pack's virtualenv beside the virtualenvs (or find the existing one up to
    /// date); it is swapped into place when the pack is.
    pub(super) fn virtualenv(&self, prepared: &Prepared) -> Result<Venv, InstallError> {
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
        let venv_error = |error: venv::VenvError, built: Option<&Path>| {
            install_error(error, prepared, built, &venv_dir)
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
                ..Default::default()
            },
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
}

/// The install error for a virtualenv that could not be planned or built: its message names
/// the pack's files as in its source (not the staged copy) and the virtualenv by its place
/// (not the staging directory `built` it was built in).
fn install_error(
    error: venv::VenvError,
    prepared: &Prepared,
    built: Option<&Path>,
    venv_dir: &Path,
) -> InstallError {
    match error {
        venv::VenvError::Interrupted => InstallError::Interrupted {
            step: InstallStep::Virtualenv.label(),
        },
        error => {
            let mut message = error.to_string().replace(
                &prepared.staged_dir().display().to_string(),
                &prepared.shown,
            );
            if let Some(built) = built {
                message = message.replace(
                    &built.display().to_string(),
                    &venv_dir.display().to_string(),
                );
            }
            InstallError::Venv {
                pack: prepared.pack_ref.clone(),
                message,
            }
        }
    }
}

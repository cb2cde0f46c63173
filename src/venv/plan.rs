//! The tool choice and the plan: everything decided about a pack's virtualenv before
//! anything is built.
//!
//! [`plan`] checks the interpreter, chooses the tool (`ST2_VENV_TOOL`, uv when it is on
//! `PATH`, pip for requirements uv does not take as pip does) and computes the fingerprint,
//! so that a caller can name the tool before it runs, or skip the build when the virtualenv
//! is up to date. [`Plan::build_staged`] builds for an install; [`super::ensure`] builds and
//! swaps in one go.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::lock::FileLock;
use crate::settings::env::ST2_VENV_TOOL;

use super::build::{
    create_venv, install_packages, install_requirements, missing_from_uv_cache, missing_in_output,
    InstallMode,
};
use super::fingerprint::{
    fingerprint, read_marker, rfc3339_now, write_marker, Fingerprint, Marker,
};
use super::interpreter::{probe_python, Interpreter};
use super::relocate::fix_paths_after_move;
use super::requirements::{base_requirements, pip_only_requirement};
use super::staged::{lock_path, take_lock, StagedVenv};
use super::{io_err, python_path, VenvError, VenvSpec, REQUIREMENTS_FILE};

/// The constraints file a build with pins writes into the virtualenv while it installs.
const CONSTRAINTS_FILE: &str = ".st2-constraints.txt";

/// The tool that builds virtualenvs and installs requirements, as a user names it
/// (`ST2_VENV_TOOL`, messages, the marker file): uv or pip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VenvTool {
    /// `uv venv --relocatable` + `uv pip install`.
    Uv,
    /// `python -m venv` + `python -m pip install`.
    Pip,
}

impl VenvTool {
    /// The tool's name: `uv` or `pip`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VenvTool::Uv => "uv",
            VenvTool::Pip => "pip",
        }
    }

    fn parse(value: &str) -> Option<VenvTool> {
        match value.trim().to_ascii_lowercase().as_str() {
            "uv" => Some(VenvTool::Uv),
            "pip" => Some(VenvTool::Pip),
            _ => None,
        }
    }
}

impl fmt::Display for VenvTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ST2_VENV_TOOL`, parsed; `None` when unset or empty.
pub(super) fn tool_choice_from_env() -> Result<Option<VenvTool>, VenvError> {
    match std::env::var(ST2_VENV_TOOL) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => VenvTool::parse(&value)
            .map(Some)
            .ok_or(VenvError::InvalidToolChoice { value }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(VenvError::InvalidToolChoice {
            value: value.to_string_lossy().into_owned(),
        }),
    }
}

/// How a plan builds: the [`VenvTool`] with what running it takes (the `uv` executable), and
/// uv's virtualenv with pip's install for requirements only pip takes.
#[derive(Debug, Clone)]
pub(super) enum BuildTool {
    Uv(PathBuf),
    Pip,
    /// The virtualenv created by uv with pip in it (`uv venv --seed`), the requirements
    /// installed by that pip: for requirements only pip takes (interpreters without the
    /// `venv` module still work).
    UvSeededPip(PathBuf),
}

impl BuildTool {
    /// The tool a user is told built the virtualenv: pip's install counts, not uv's venv.
    pub(super) fn venv_tool(&self) -> VenvTool {
        match self {
            BuildTool::Uv(_) => VenvTool::Uv,
            BuildTool::Pip | BuildTool::UvSeededPip(_) => VenvTool::Pip,
        }
    }
}

fn resolve_tool(choice: Option<VenvTool>, uv: Option<PathBuf>) -> Result<BuildTool, VenvError> {
    match (choice, uv) {
        (Some(VenvTool::Pip), _) => Ok(BuildTool::Pip),
        (Some(VenvTool::Uv), None) => Err(VenvError::UvNotFound),
        (_, Some(uv)) => Ok(BuildTool::Uv(uv)),
        (None, None) => Ok(BuildTool::Pip),
    }
}

pub(super) fn find_uv() -> Option<PathBuf> {
    crate::fs::find_executable("uv")
}

/// The pack ref names files and directories here: it must be a valid one.
fn validate_pack_ref(pack_ref: &str) -> Result<(), VenvError> {
    if crate::pack::manifest::is_valid_ref(pack_ref) {
        Ok(())
    } else {
        Err(VenvError::InvalidPackRef {
            pack_ref: pack_ref.to_string(),
        })
    }
}

/// Decide how the virtualenv of `spec` would be built, before building anything: the
/// interpreter is checked, the installer chosen (`ST2_VENV_TOOL`, uv when on `PATH`, pip for
/// requirements uv does not take as pip does) and the fingerprint computed, so that a caller
/// can say which tool will run, or skip the build when the virtualenv is up to date.
pub(crate) fn plan<'a>(spec: &VenvSpec<'a>) -> Result<Plan<'a>, VenvError> {
    plan_with(spec, tool_choice_from_env()?)
}

/// A pack's virtualenv as it would be built: see [`plan`]. [`Plan::build_staged`] builds it
/// beside the final one without touching that, for an install that may still be abandoned.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    spec: VenvSpec<'a>,
    pub(super) venv_dir: PathBuf,
    pack_dir: PathBuf,
    pub(super) parent: PathBuf,
    requirements: PathBuf,
    has_requirements: bool,
    interp: Interpreter,
    pub(super) tool: BuildTool,
    base: Vec<String>,
    fp: Fingerprint,
}

pub(super) fn plan_with<'a>(
    spec: &VenvSpec<'a>,
    choice: Option<VenvTool>,
) -> Result<Plan<'a>, VenvError> {
    validate_pack_ref(spec.pack_ref)?;
    let mut tool = resolve_tool(choice, find_uv())?;
    let venv_dir = std::path::absolute(spec.venv_dir).map_err(io_err(spec.venv_dir))?;
    let pack_dir = std::path::absolute(spec.pack_dir).map_err(io_err(spec.pack_dir))?;
    let parent = venv_dir
        .parent()
        .ok_or_else(|| VenvError::Io {
            path: venv_dir.clone(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "virtualenv path has no parent"),
        })?
        .to_path_buf();

    let requirements = pack_dir.join(REQUIREMENTS_FILE);
    let requirements_content = match fs::read(&requirements) {
        Ok(content) => Some(content),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&requirements)(e)),
    };
    let interp = probe_python(spec.python)?;
    let pip_only = requirements_content
        .as_ref()
        .and_then(|_| pip_only_requirement(&requirements));
    if let BuildTool::Uv(uv) = &tool {
        if let Some(found) = &pip_only {
            tracing::info!(pack = spec.pack_ref, line = %found, "installing the requirements with pip: uv does not take this line as pip does");
            // `python -m venv` brings pip offline; `uv venv --seed` fetches it.
            tool = if interp.has_venv {
                BuildTool::Pip
            } else {
                BuildTool::UvSeededPip(uv.clone())
            };
        }
    }
    if matches!(tool, BuildTool::Pip) && !interp.has_venv {
        return Err(VenvError::VenvModuleMissing {
            python: spec.python.to_string(),
        });
    }
    let base = base_requirements(&pack_dir, requirements_content.as_deref());
    let mut fp = fingerprint(
        requirements_content.as_deref(),
        &base,
        &interp,
        spec.virtualenv_opts,
        spec.pip_opts,
    );
    if pip_only.is_some() {
        fp.mark_pip_only();
    }
    Ok(Plan {
        spec: *spec,
        venv_dir,
        pack_dir,
        parent,
        requirements,
        has_requirements: requirements_content.is_some(),
        interp,
        tool,
        base,
        fp,
    })
}

impl Plan<'_> {
    /// The installer a build uses.
    pub(crate) fn installer(&self) -> VenvTool {
        self.tool.venv_tool()
    }

    /// The interpreter's version (`3.11.7`).
    pub(crate) fn python_version(&self) -> &str {
        self.interp
            .version
            .split_whitespace()
            .next()
            .unwrap_or_default()
    }

    /// When the virtualenv at the final path was built from the same requirements,
    /// interpreter and options (and still has its interpreter): the installer that built it.
    pub(crate) fn up_to_date(&self) -> Option<VenvTool> {
        let marker = read_marker(&self.venv_dir)?;
        (marker.fingerprint == self.fp.digest && python_path(&self.venv_dir).exists())
            .then(|| VenvTool::parse(&marker.tool).unwrap_or(self.tool.venv_tool()))
    }

    /// The pack's virtualenv lock (`<virtualenvs>/.st2-venv-<ref>.lock`), taken: builds and
    /// swaps of one pack's virtualenv wait for each other.
    pub(super) fn lock(&self) -> Result<FileLock, VenvError> {
        fs::create_dir_all(&self.parent).map_err(io_err(&self.parent))?;
        take_lock(&lock_path(&self.parent, self.spec.pack_ref))
    }

    /// Build the virtualenv at `target` (absent or empty) for life at the final path:
    /// paths written into it are rewritten from `target` to the final path, and from each
    /// `moves` pair's first path to its second (a pack directory that moves too).
    pub(super) fn build(
        &self,
        target: &Path,
        moves: &[(&Path, &Path)],
        cancel: Option<&AtomicBool>,
    ) -> Result<(), VenvError> {
        let spec = &self.spec;
        tracing::info!(
            pack = spec.pack_ref,
            tool = self.tool.venv_tool().as_str(),
            staging = %target.display(),
            "building virtualenv"
        );
        create_venv(
            &self.tool,
            &self.interp,
            target,
            &self.venv_dir,
            spec,
            cancel,
        )?;
        let seed: Vec<String> = super::dists::installed(target)
            .iter()
            .map(|dist| dist.pin())
            .collect();
        let constraints = target.join(CONSTRAINTS_FILE);
        let pins = spec.resolution.constraints;
        if !pins.is_empty() {
            fs::write(&constraints, format!("{}\n", pins.join("\n")))
                .map_err(io_err(&constraints))?;
        }
        let constraints_file = (!pins.is_empty()).then_some(constraints.as_path());
        self.install_all(target, constraints_file, cancel)?;
        if constraints_file.is_some() {
            fs::remove_file(&constraints).map_err(io_err(&constraints))?;
        }
        let mut all_moves = vec![(target, self.venv_dir.as_path())];
        all_moves.extend_from_slice(moves);
        fix_paths_after_move(target, &all_moves)?;
        write_marker(
            target,
            &Marker {
                fingerprint: self.fp.digest.clone(),
                tool: self.tool.venv_tool().as_str().to_string(),
                created_at: rfc3339_now(),
                python: self.interp.resolved.clone(),
                python_version: self.interp.version.clone(),
                requirements_sha256: self.fp.requirements_sha256.clone(),
                virtualenv_opts: spec.virtualenv_opts.to_vec(),
                pip_opts: spec.pip_opts.to_vec(),
                seed: Some(seed),
            },
        )
    }

    /// The requirements, then the base requirements, into `target`: from the cache alone
    /// when the resolution is offline (the error then says what is missing), from the cache
    /// first when it asks for that (uv), else as the installer likes.
    fn install_all(
        &self,
        target: &Path,
        constraints: Option<&Path>,
        cancel: Option<&AtomicBool>,
    ) -> Result<(), VenvError> {
        let spec = &self.spec;
        let run = |offline: bool| -> Result<(), VenvError> {
            let mode = InstallMode {
                offline,
                constraints,
            };
            if self.has_requirements {
                install_requirements(
                    &self.tool,
                    target,
                    &self.pack_dir,
                    &self.requirements,
                    spec,
                    mode,
                    cancel,
                )?;
            }
            if !self.base.is_empty() {
                install_packages(
                    &self.tool,
                    target,
                    &self.pack_dir,
                    &self.base,
                    spec,
                    mode,
                    cancel,
                )?;
            }
            Ok(())
        };
        if spec.resolution.offline {
            return run(true).map_err(|error| self.offline_error(error, target));
        }
        if spec.resolution.cache_first && matches!(self.tool, BuildTool::Uv(_)) {
            match run(true) {
                Ok(()) => return Ok(()),
                Err(VenvError::InstallFailed { .. }) => {
                    tracing::info!(
                        pack = spec.pack_ref,
                        "not every pinned package is in uv's cache: asking the index"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        run(false)
    }

    /// An offline install that failed, as [`VenvError::Offline`]: which packages are
    /// missing (each pin tried alone against uv's cache; else what the installer said).
    fn offline_error(&self, error: VenvError, target: &Path) -> VenvError {
        let VenvError::InstallFailed { tool, tail, .. } = error else {
            return error;
        };
        let pins = self.spec.resolution.constraints;
        let mut missing = match &self.tool {
            BuildTool::Uv(uv) if !pins.is_empty() => {
                missing_from_uv_cache(uv, target, pins, &self.spec)
            }
            _ => Vec::new(),
        };
        if missing.is_empty() {
            missing = missing_in_output(&tail);
        }
        VenvError::Offline {
            tool,
            tail: if missing.is_empty() {
                tail
            } else {
                String::new()
            },
            missing,
        }
    }

    /// Build the virtualenv at `<dir>/venv`, leaving the one at the final path alone, for
    /// [`StagedVenv::swap_in`] to put in place later (an install does that when it commits).
    /// `pack_moves_to`: where the pack directory the requirements were installed from (the
    /// spec's `pack_dir`) will be, for editable installs of the pack's own files. `cancel`
    /// stops the installer (its whole process group) when it becomes true: the error is then
    /// [`VenvError::Interrupted`].
    pub(crate) fn build_staged(
        &self,
        dir: &Path,
        pack_moves_to: Option<&Path>,
        cancel: Option<&AtomicBool>,
    ) -> Result<StagedVenv, VenvError> {
        let built = dir.join("venv");
        let moves: Vec<(&Path, &Path)> = pack_moves_to
            .map(|to| (self.pack_dir.as_path(), to))
            .into_iter()
            .collect();
        self.build(&built, &moves, cancel)?;
        Ok(StagedVenv {
            built,
            final_dir: self.venv_dir.clone(),
            lock_path: lock_path(&self.parent, self.spec.pack_ref),
            tool: self.tool.venv_tool(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn uv_forced_but_missing() {
        assert!(crate::fs::find_executable_in("uv", Some(OsStr::new("/nonexistent:"))).is_none());
        assert!(matches!(
            resolve_tool(Some(VenvTool::Uv), None),
            Err(VenvError::UvNotFound)
        ));
        assert!(matches!(
            resolve_tool(Some(VenvTool::Pip), Some("/x/uv".into())),
            Ok(BuildTool::Pip)
        ));
        assert!(matches!(
            resolve_tool(None, Some("/x/uv".into())),
            Ok(BuildTool::Uv(_))
        ));
        assert!(matches!(resolve_tool(None, None), Ok(BuildTool::Pip)));
        assert_eq!(VenvTool::parse(" UV "), Some(VenvTool::Uv));
        assert_eq!(VenvTool::parse("pip"), Some(VenvTool::Pip));
        assert_eq!(VenvTool::parse("conda"), None);
        assert!(VenvError::UvNotFound
            .to_string()
            .contains("ST2_VENV_TOOL=uv"));
    }
}

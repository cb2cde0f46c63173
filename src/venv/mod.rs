//! Per-pack Python virtualenvs, as `st2 pack install` sets them up.
//!
//! StackStorm runs a pack's Python actions and sensors with the interpreter of
//! the pack's own virtualenv, `<base_path>/virtualenvs/<pack ref>`, into which
//! the pack's `requirements.txt` is installed (StackStorm 3.9.0,
//! `st2common/util/virtualenvs.py`). This module builds that virtualenv, with
//! three improvements over upstream, which deletes and rebuilds it on every
//! install:
//!
//! * **Reuse.** A fingerprint (sha256) of the requirements file content, the
//!   interpreter (resolved path and `sys.version`) and the virtualenv/pip
//!   options is stored in `<venv>/.st2-venv.json`. When nothing changed, the
//!   existing virtualenv is reused untouched.
//! * **Atomic replacement.** A new virtualenv is built in a staging directory
//!   beside the final one (`<virtualenvs>/.staging-<ref>-<random>`) and only
//!   swapped into place once the requirements installed. A failed or
//!   interrupted run never leaves a half-built virtualenv at the final path,
//!   and a failed update leaves the previous virtualenv working.
//! * **uv when available.** `uv` is used when it is on `PATH` (much faster),
//!   otherwise `python -m venv` + `pip`. `ST2_VENV_TOOL=pip|uv` forces one.
//!   A pack whose requirements have a line uv does not take as pip does
//!   (`-e git+https://...#egg=x`, see [`pip_only_requirement`]) is installed
//!   with pip, StackStorm's installer, whatever the choice (in a virtualenv
//!   made by `uv venv --seed` when the interpreter has no `venv` module).
//!
//! Errors are meant to be shown to a user as they are: a missing or unusable
//! interpreter says what to install or which setting to change, and a failed
//! installation names the requirements file and shows the last lines of the
//! installer's output.
//!
//! # Usage
//!
//! ```no_run
//! use std::path::Path;
//! use st2_rs::venv::{self, VenvSpec};
//!
//! let spec = VenvSpec {
//!     pack_ref: "examples",
//!     pack_dir: Path::new("/opt/stackstorm/packs/examples"),
//!     venv_dir: Path::new("/opt/stackstorm/virtualenvs/examples"),
//!     python: "python3",
//!     virtualenv_opts: &[],
//!     pip_opts: &[],
//! };
//! let (outcome, installer) = venv::ensure(&spec)?;
//! println!("virtualenv {outcome} with {installer}");
//! let python = venv::python_path(spec.venv_dir); // run actions with this
//! # Ok::<(), venv::VenvError>(())
//! ```
//!
//! Use [`recreate`] to force a rebuild (`--register-recreate-virtualenvs`).
//! Whether a pack needs a virtualenv at all is the caller's decision: a pack
//! without `requirements.txt` still gets a (bare) virtualenv when asked.
//!
//! An install, which may still be abandoned after the virtualenv is built (a
//! later pack fails, Ctrl-C), splits [`ensure`] in two: [`plan`] decides
//! (interpreter checked, tool chosen, up to date or not) before anything is
//! built, so the caller can say which tool runs; [`Plan::build_staged`]
//! builds into a directory of the caller's and leaves the final path alone,
//! and [`StagedVenv::swap_in`] puts it in place when the install commits.
//! Installers run in a process group of their own, stopped whole when the
//! caller's cancel flag is set, and die with this process.
//!
//! Builds of the same pack are serialized with a lock file
//! (`<virtualenvs>/.st2-venv-<ref>.lock`); leftovers of interrupted runs
//! (`.staging-<ref>-*`, `.old-<ref>-*`) are removed by the next run for that
//! pack, or by [`remove_leftovers`] when no build of that pack is running.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lock::FileLock;
use crate::settings::env::ST2_VENV_TOOL;

/// Name of the metadata file written inside each virtualenv built here.
pub const MARKER_FILE: &str = ".st2-venv.json";

/// Oldest Python accepted for pack virtualenvs (major, minor).
pub const MIN_PYTHON: (u32, u32) = (3, 8);

/// Name of the requirements file looked up in the pack directory.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";

/// How many lines of installer output an error keeps.
const TAIL_LINES: usize = 20;

/// Bumped whenever the way a virtualenv is built changes, so that
/// virtualenvs built by an older st2-rs are rebuilt.
const FINGERPRINT_VERSION: u32 = 1;

/// What to build: one pack's virtualenv.
#[derive(Debug, Clone, Copy)]
pub struct VenvSpec<'a> {
    /// Pack ref (`[A-Za-z0-9_-]+`), used to name staging directories.
    pub pack_ref: &'a str,
    /// The pack directory; holds `requirements.txt` and is the installer's
    /// working directory (requirements may use relative paths like `./lib`).
    pub pack_dir: &'a Path,
    /// Final virtualenv path, usually `<base_path>/virtualenvs/<pack ref>`.
    pub venv_dir: &'a Path,
    /// Python interpreter to build from (`[actionrunner] python_binary`,
    /// default `python3`): a name looked up on `PATH`, or a path.
    pub python: &'a str,
    /// Extra options for venv creation (`[actionrunner] virtualenv_opts`),
    /// passed to `python -m venv` or `uv venv`.
    pub virtualenv_opts: &'a [String],
    /// Extra options for installing requirements (`[actionrunner] pip_opts`),
    /// passed to `pip install` or `uv pip install`.
    pub pip_opts: &'a [String],
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvOutcome {
    /// There was no virtualenv at the final path; one was built.
    Created,
    /// A virtualenv existed but was out of date (or not built by st2-rs);
    /// it was replaced by a new one.
    Updated,
    /// The existing virtualenv was up to date and left untouched.
    Reused,
}

impl VenvOutcome {
    /// Lower-case past participle: `created`, `updated` or `reused`.
    pub fn as_str(self) -> &'static str {
        match self {
            VenvOutcome::Created => "created",
            VenvOutcome::Updated => "updated",
            VenvOutcome::Reused => "reused",
        }
    }
}

impl fmt::Display for VenvOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tool that builds virtualenvs and installs requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    /// `uv venv --relocatable` + `uv pip install`.
    Uv,
    /// `python -m venv` + `python -m pip install`.
    Pip,
}

impl Installer {
    /// The tool's name: `uv` or `pip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Installer::Uv => "uv",
            Installer::Pip => "pip",
        }
    }

    fn parse(value: &str) -> Option<Installer> {
        match value.trim().to_ascii_lowercase().as_str() {
            "uv" => Some(Installer::Uv),
            "pip" => Some(Installer::Pip),
            _ => None,
        }
    }
}

impl fmt::Display for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a virtualenv could not be built. Messages are complete sentences
/// meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    /// The configured interpreter does not exist.
    #[error(
        "Python interpreter \"{python}\" not found: install Python 3 (e.g. `apt-get install python3 python3-venv`) or set [actionrunner] python_binary in st2.conf"
    )]
    PythonNotFound {
        /// The interpreter as configured.
        python: String,
    },
    /// The interpreter is older than [`MIN_PYTHON`].
    #[error(
        "Python interpreter \"{python}\" is version {version}, but {}.{} or newer is required: install a newer Python 3 or set [actionrunner] python_binary in st2.conf",
        MIN_PYTHON.0,
        MIN_PYTHON.1
    )]
    PythonTooOld {
        /// The interpreter as configured.
        python: String,
        /// Its version, `X.Y.Z`.
        version: String,
    },
    /// The interpreter exists but could not be run or queried.
    #[error(
        "Python interpreter \"{python}\" is not usable ({detail}): set [actionrunner] python_binary in st2.conf to a working Python 3"
    )]
    PythonUnusable {
        /// The interpreter as configured.
        python: String,
        /// What went wrong.
        detail: String,
    },
    /// The interpreter lacks the `venv`/`ensurepip` modules (Debian's
    /// `python3` without `python3-venv`), needed when uv is not used.
    #[error(
        "Python interpreter \"{python}\" cannot create virtualenvs (its venv/ensurepip module is missing): install it (e.g. `apt-get install python3-venv`), install uv, or set [actionrunner] python_binary in st2.conf"
    )]
    VenvModuleMissing {
        /// The interpreter as configured.
        python: String,
    },
    /// `ST2_VENV_TOOL=uv` but there is no `uv` on `PATH`.
    #[error(
        "{ST2_VENV_TOOL}=uv but no `uv` executable was found on PATH: install uv (e.g. `pip install uv`) or unset {ST2_VENV_TOOL}"
    )]
    UvNotFound,
    /// `ST2_VENV_TOOL` has a value other than `pip` or `uv`.
    #[error("invalid {ST2_VENV_TOOL} value \"{value}\": expected \"pip\" or \"uv\"")]
    InvalidToolChoice {
        /// The value found.
        value: String,
    },
    /// The pack ref cannot be used in a file name.
    #[error(
        "invalid pack ref \"{pack_ref}\" for a virtualenv: only lower-case letters, digits and '_' are allowed"
    )]
    InvalidPackRef {
        /// The pack ref given.
        pack_ref: String,
    },
    /// Creating the bare virtualenv failed.
    #[error("Failed to create virtualenv \"{}\" ({tool} exited with {status}):\n{tail}", venv.display())]
    CreateFailed {
        /// The final virtualenv path.
        venv: PathBuf,
        /// `uv` or `python -m venv`.
        tool: String,
        /// `status N` or `signal N`.
        status: String,
        /// The last lines of the tool's combined output.
        tail: String,
    },
    /// Installing the requirements failed; the previous virtualenv, if any,
    /// is untouched.
    #[error("Failed to install requirements from \"{}\" ({tool} exited with {status}):\n{tail}", requirements.display())]
    InstallFailed {
        /// The requirements file.
        requirements: PathBuf,
        /// `uv` or `pip`.
        tool: String,
        /// `status N` or `signal N`.
        status: String,
        /// The last lines (about 20) of the installer's combined output.
        tail: String,
    },
    /// A helper program (uv, the venv's python) could not be started.
    #[error("failed to run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The build was stopped (Ctrl-C) before it finished; nothing was left behind.
    #[error("interrupted")]
    Interrupted,
    /// A file system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VenvError + '_ {
    move |source| VenvError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The interpreter of a virtualenv: `<venv>/bin/python`.
pub fn python_path(venv_dir: &Path) -> PathBuf {
    venv_dir.join("bin").join("python")
}

/// The installer [`ensure`] would use: the one forced by `ST2_VENV_TOOL`
/// (`pip` or `uv`) if set, else `uv` when it is on `PATH`, else `pip`.
///
/// This never fails; [`ensure`] reports an invalid `ST2_VENV_TOOL` or a
/// forced but missing `uv`.
pub fn detect_installer() -> Installer {
    match tool_choice_from_env() {
        Ok(Some(forced)) => forced,
        _ if find_uv().is_some() => Installer::Uv,
        _ => Installer::Pip,
    }
}

/// Create, refresh or reuse the virtualenv described by `spec`.
///
/// Reuses the existing virtualenv when its fingerprint (requirements file
/// content, interpreter, options) is unchanged; otherwise builds a new one
/// beside it and swaps it in only once the requirements installed. On error
/// the previous virtualenv (if any) is left as it was.
///
/// Returns what happened and which installer built the virtualenv (for
/// [`VenvOutcome::Reused`], the installer recorded when it was built).
pub fn ensure(spec: &VenvSpec) -> Result<(VenvOutcome, Installer), VenvError> {
    let choice = tool_choice_from_env()?;
    ensure_with(spec, choice, false)
}

/// Rebuild the virtualenv described by `spec` even if it is up to date
/// (`st2 pack install/register --register-recreate-virtualenvs`).
///
/// Same atomic replacement as [`ensure`]: on error the previous virtualenv
/// is left as it was.
pub fn recreate(spec: &VenvSpec) -> Result<Installer, VenvError> {
    let choice = tool_choice_from_env()?;
    ensure_with(spec, choice, true).map(|(_, installer)| installer)
}

/// `ST2_VENV_TOOL`, parsed; `None` when unset or empty.
fn tool_choice_from_env() -> Result<Option<Installer>, VenvError> {
    match std::env::var(ST2_VENV_TOOL) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Installer::parse(&value)
            .map(Some)
            .ok_or(VenvError::InvalidToolChoice { value }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(VenvError::InvalidToolChoice {
            value: value.to_string_lossy().into_owned(),
        }),
    }
}

/// The installer to use, with the `uv` executable when it is uv.
#[derive(Debug, Clone)]
enum Tool {
    Uv(PathBuf),
    Pip,
    /// The virtualenv created by uv with pip in it (`uv venv --seed`), the requirements
    /// installed by that pip: for requirements only pip takes (interpreters without the
    /// `venv` module still work).
    UvSeededPip(PathBuf),
}

impl Tool {
    fn installer(&self) -> Installer {
        match self {
            Tool::Uv(_) => Installer::Uv,
            Tool::Pip | Tool::UvSeededPip(_) => Installer::Pip,
        }
    }
}

fn resolve_tool(choice: Option<Installer>, uv: Option<PathBuf>) -> Result<Tool, VenvError> {
    match (choice, uv) {
        (Some(Installer::Pip), _) => Ok(Tool::Pip),
        (Some(Installer::Uv), None) => Err(VenvError::UvNotFound),
        (_, Some(uv)) => Ok(Tool::Uv(uv)),
        (None, None) => Ok(Tool::Pip),
    }
}

fn find_uv() -> Option<PathBuf> {
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

/// The body of [`ensure`] and [`recreate`], with the installer choice
/// explicit (tests use it without touching the process environment).
fn ensure_with(
    spec: &VenvSpec,
    choice: Option<Installer>,
    force: bool,
) -> Result<(VenvOutcome, Installer), VenvError> {
    let plan = plan_with(spec, choice)?;
    // Serialize builds of this pack (other st2 processes). Released on drop.
    let lock = plan.lock()?;
    if !force {
        if let Some(installer) = plan.up_to_date() {
            tracing::info!(pack = spec.pack_ref, venv = %plan.venv_dir.display(), "virtualenv up to date, reusing it");
            return Ok((VenvOutcome::Reused, installer));
        }
    }
    let existed = fs::symlink_metadata(&plan.venv_dir).is_ok();

    cleanup_leftovers(&plan.parent, spec.pack_ref);
    let staging = crate::fs::temp_dir_in(&plan.parent, &format!(".staging-{}-", spec.pack_ref))
        .map_err(io_err(&plan.parent))?;
    plan.build(staging.path(), &[], None)?;
    let aside = format!(".old-{}-", spec.pack_ref);
    crate::fs::replace_dir(staging, &plan.venv_dir, &aside, "virtualenv").map_err(|err| {
        VenvError::Io {
            path: err.path,
            source: err.source,
        }
    })?;
    drop(lock);

    let outcome = if existed {
        VenvOutcome::Updated
    } else {
        VenvOutcome::Created
    };
    tracing::info!(pack = spec.pack_ref, venv = %plan.venv_dir.display(), %outcome, "virtualenv ready");
    Ok((outcome, plan.tool.installer()))
}

/// Decide how the virtualenv of `spec` would be built, before building anything: the
/// interpreter is checked, the installer chosen (`ST2_VENV_TOOL`, uv when on `PATH`, pip for
/// requirements uv does not take as pip does) and the fingerprint computed, so that a caller
/// can say which tool will run, or skip the build when the virtualenv is up to date.
pub fn plan<'a>(spec: &VenvSpec<'a>) -> Result<Plan<'a>, VenvError> {
    plan_with(spec, tool_choice_from_env()?)
}

/// A pack's virtualenv as it would be built: see [`plan`]. [`Plan::build_staged`] builds it
/// beside the final one without touching that, for an install that may still be abandoned.
#[derive(Debug)]
pub struct Plan<'a> {
    spec: VenvSpec<'a>,
    venv_dir: PathBuf,
    pack_dir: PathBuf,
    parent: PathBuf,
    requirements: PathBuf,
    has_requirements: bool,
    interp: Interpreter,
    tool: Tool,
    base: Vec<String>,
    fp: Fingerprint,
}

fn plan_with<'a>(spec: &VenvSpec<'a>, choice: Option<Installer>) -> Result<Plan<'a>, VenvError> {
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
    if let Tool::Uv(uv) = &tool {
        if let Some(found) = &pip_only {
            tracing::info!(pack = spec.pack_ref, line = %found, "installing the requirements with pip: uv does not take this line as pip does");
            // `python -m venv` brings pip offline; `uv venv --seed` fetches it.
            tool = if interp.has_venv {
                Tool::Pip
            } else {
                Tool::UvSeededPip(uv.clone())
            };
        }
    }
    if matches!(tool, Tool::Pip) && !interp.has_venv {
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
        // Such virtualenvs built before pip was chosen for them (or before editable installs
        // were moved correctly) do not work: a fingerprint of their own rebuilds them once.
        fp.digest = hex::encode(Sha256::digest(format!("{}:pip-only:1", fp.digest)));
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
    pub fn installer(&self) -> Installer {
        self.tool.installer()
    }

    /// When the virtualenv at the final path was built from the same requirements,
    /// interpreter and options (and still has its interpreter): the installer that built it.
    pub fn up_to_date(&self) -> Option<Installer> {
        let marker = read_marker(&self.venv_dir)?;
        (marker.fingerprint == self.fp.digest && python_path(&self.venv_dir).exists())
            .then(|| Installer::parse(&marker.tool).unwrap_or(self.tool.installer()))
    }

    /// The pack's virtualenv lock (`<virtualenvs>/.st2-venv-<ref>.lock`), taken: builds and
    /// swaps of one pack's virtualenv wait for each other.
    fn lock(&self) -> Result<FileLock, VenvError> {
        fs::create_dir_all(&self.parent).map_err(io_err(&self.parent))?;
        take_lock(&lock_path(&self.parent, self.spec.pack_ref))
    }

    /// Build the virtualenv at `target` (absent or empty) for life at the final path:
    /// paths written into it are rewritten from `target` to the final path, and from each
    /// `moves` pair's first path to its second (a pack directory that moves too).
    fn build(
        &self,
        target: &Path,
        moves: &[(&Path, &Path)],
        cancel: Option<&AtomicBool>,
    ) -> Result<(), VenvError> {
        let spec = &self.spec;
        tracing::info!(
            pack = spec.pack_ref,
            tool = self.tool.installer().as_str(),
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
        if self.has_requirements {
            install_requirements(
                &self.tool,
                target,
                &self.pack_dir,
                &self.requirements,
                spec,
                cancel,
            )?;
        }
        if !self.base.is_empty() {
            install_packages(&self.tool, target, &self.pack_dir, &self.base, spec, cancel)?;
        }
        let mut all_moves = vec![(target, self.venv_dir.as_path())];
        all_moves.extend_from_slice(moves);
        fix_paths_after_move(target, &all_moves)?;
        write_marker(
            target,
            &Marker {
                fingerprint: self.fp.digest.clone(),
                tool: self.tool.installer().as_str().to_string(),
                created_at: rfc3339_now(),
                python: self.interp.resolved.clone(),
                python_version: self.interp.version.clone(),
                requirements_sha256: self.fp.requirements_sha256.clone(),
                virtualenv_opts: spec.virtualenv_opts.to_vec(),
                pip_opts: spec.pip_opts.to_vec(),
            },
        )
    }

    /// Build the virtualenv at `<dir>/venv`, leaving the one at the final path alone, for
    /// [`StagedVenv::swap_in`] to put in place later (an install does that when it commits).
    /// `pack_moves_to`: where the pack directory the requirements were installed from (the
    /// spec's `pack_dir`) will be, for editable installs of the pack's own files. `cancel`
    /// stops the installer (its whole process group) when it becomes true: the error is then
    /// [`VenvError::Interrupted`].
    pub fn build_staged(
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
            installer: self.tool.installer(),
        })
    }
}

/// `<virtualenvs>/.st2-venv-<ref>.lock`.
fn lock_path(parent: &Path, pack_ref: &str) -> PathBuf {
    parent.join(format!(".st2-venv-{pack_ref}.lock"))
}

/// The lock at `path`, taken (waiting for its holder); released when dropped.
fn take_lock(path: &Path) -> Result<FileLock, VenvError> {
    FileLock::acquire(path).map_err(io_err(path))
}

/// A virtualenv built by [`Plan::build_staged`], not yet in place.
#[derive(Debug)]
pub struct StagedVenv {
    built: PathBuf,
    final_dir: PathBuf,
    lock_path: PathBuf,
    installer: Installer,
}

impl StagedVenv {
    /// Where it was built; after [`swap_in`](Self::swap_in), where the previous one is.
    pub fn path(&self) -> &Path {
        &self.built
    }

    /// The installer that built it.
    pub fn installer(&self) -> Installer {
        self.installer
    }

    /// Put it at the final path, under the pack's virtualenv lock, in one atomic step: it is
    /// exchanged with the previous virtualenv, which is then at [`path`](Self::path)
    /// ([`VenvOutcome::Updated`]), or renamed into an empty place ([`VenvOutcome::Created`]).
    pub fn swap_in(&self) -> Result<VenvOutcome, VenvError> {
        let _lock = take_lock(&self.lock_path)?;
        if fs::symlink_metadata(&self.final_dir).is_ok() {
            crate::fs::exchange(&self.built, &self.final_dir).map_err(io_err(&self.final_dir))?;
            Ok(VenvOutcome::Updated)
        } else {
            fs::rename(&self.built, &self.final_dir).map_err(io_err(&self.final_dir))?;
            Ok(VenvOutcome::Created)
        }
    }

    /// Undo [`swap_in`](Self::swap_in), given what it returned.
    pub fn swap_back(&self, outcome: VenvOutcome) -> Result<(), VenvError> {
        let _lock = take_lock(&self.lock_path)?;
        match outcome {
            VenvOutcome::Updated => crate::fs::exchange(&self.built, &self.final_dir),
            _ => fs::rename(&self.final_dir, &self.built),
        }
        .map_err(io_err(&self.final_dir))
    }
}

/// Remove what builds killed part way left in `virtualenvs` (`.staging-<ref>-*`,
/// `.old-<ref>-*`) for every pack whose virtualenv lock is free, that is, whose build is
/// not running. For the commands that clean up after killed ones (`st2 pack list`,
/// `st2ctl reload`); a build removes its own pack's leftovers itself.
pub fn remove_leftovers(virtualenvs: &Path) {
    let Ok(entries) = fs::read_dir(virtualenvs) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pack_ref) = leftover_pack_ref(name) else {
            continue;
        };
        if let Ok(Some(_lock)) = FileLock::try_acquire(&lock_path(virtualenvs, pack_ref)) {
            tracing::debug!(path = %entry.path().display(), "removing leftover of a killed virtualenv build");
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The pack of a `.staging-<ref>-XXXXXXXX` or `.old-<ref>-XXXXXXXX` name.
fn leftover_pack_ref(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix(".staging-")
        .or_else(|| name.strip_prefix(".old-"))?;
    let (pack_ref, _random) = rest.rsplit_once('-')?;
    (!pack_ref.is_empty() && is_leftover(name, pack_ref)).then_some(pack_ref)
}

/// What we learned about the configured interpreter.
#[derive(Debug, Clone)]
struct Interpreter {
    /// `sys.executable`: what we run to create the venv.
    executable: String,
    /// `realpath(sys.executable)`: part of the fingerprint.
    resolved: String,
    /// `sys.version`, newlines flattened: part of the fingerprint.
    version: String,
    /// Whether `import venv, ensurepip` works.
    has_venv: bool,
}

/// Runs under any Python (2 included) so we can say "too old" rather than
/// fail with a syntax error.
const PROBE: &str = r#"
import os, sys
try:
    import venv, ensurepip
    ok = 1
except Exception:
    ok = 0
sys.stdout.write("st2-venv-probe\n%s\n%s\n%d.%d.%d\n%d\n%s\n" % (
    sys.executable, os.path.realpath(sys.executable),
    sys.version_info[0], sys.version_info[1], sys.version_info[2],
    ok, sys.version.replace("\n", " ")))
"#;

fn probe_python(python: &str) -> Result<Interpreter, VenvError> {
    let not_found = || VenvError::PythonNotFound {
        python: python.to_string(),
    };
    let unusable = |detail: String| VenvError::PythonUnusable {
        python: python.to_string(),
        detail,
    };
    if python.trim().is_empty() {
        return Err(not_found());
    }
    let output = match Command::new(python)
        .arg("-c")
        .arg(PROBE)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(unusable(e.to_string())),
    };
    if !output.status.success() {
        // 127: a shell wrapper (e.g. a pyenv shim) that found no interpreter.
        if output.status.code() == Some(127) {
            return Err(not_found());
        }
        let mut combined = output.stdout.clone();
        combined.extend_from_slice(&output.stderr);
        let last = tail(&combined, 1);
        return Err(unusable(format!(
            "it exited with {}{}",
            status_text(output.status),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout
        .lines()
        .skip_while(|l| l.trim_end() != "st2-venv-probe")
        .skip(1);
    let mut next = || lines.next().map(|l| l.trim_end().to_string());
    let (Some(executable), Some(resolved), Some(numbers), Some(ok), Some(version)) =
        (next(), next(), next(), next(), next())
    else {
        return Err(unusable("unexpected output when queried".to_string()));
    };
    let parts: Vec<u32> = numbers.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() != 3 || executable.is_empty() {
        return Err(unusable("unexpected output when queried".to_string()));
    }
    if (parts[0], parts[1]) < MIN_PYTHON {
        return Err(VenvError::PythonTooOld {
            python: python.to_string(),
            version: numbers,
        });
    }
    Ok(Interpreter {
        executable,
        resolved,
        version,
        has_venv: ok == "1",
    })
}

/// The fingerprint stored in the marker, and the requirements hash it
/// includes (recorded separately for humans).
#[derive(Debug)]
struct Fingerprint {
    digest: String,
    requirements_sha256: Option<String>,
}

fn fingerprint(
    requirements: Option<&[u8]>,
    base_requirements: &[String],
    interp: &Interpreter,
    virtualenv_opts: &[String],
    pip_opts: &[String],
) -> Fingerprint {
    #[derive(Serialize)]
    struct Input<'a> {
        version: u32,
        requirements_sha256: Option<&'a str>,
        // Left out when empty, so that virtualenvs built before it existed stay valid.
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        base_requirements: &'a [String],
        python: &'a str,
        python_version: &'a str,
        virtualenv_opts: &'a [String],
        pip_opts: &'a [String],
    }
    let requirements_sha256 = requirements.map(|content| hex::encode(Sha256::digest(content)));
    let input = Input {
        version: FINGERPRINT_VERSION,
        requirements_sha256: requirements_sha256.as_deref(),
        base_requirements,
        python: &interp.resolved,
        python_version: &interp.version,
        virtualenv_opts,
        pip_opts,
    };
    let bytes = serde_json::to_vec(&input).expect("serializing strings cannot fail");
    Fingerprint {
        digest: hex::encode(Sha256::digest(&bytes)),
        requirements_sha256,
    }
}

/// Content of `<venv>/.st2-venv.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    fingerprint: String,
    tool: String,
    created_at: String,
    python: String,
    python_version: String,
    requirements_sha256: Option<String>,
    virtualenv_opts: Vec<String>,
    pip_opts: Vec<String>,
}

fn read_marker(venv_dir: &Path) -> Option<Marker> {
    let bytes = fs::read(venv_dir.join(MARKER_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_marker(venv_dir: &Path, marker: &Marker) -> Result<(), VenvError> {
    let path = venv_dir.join(MARKER_FILE);
    let mut bytes = serde_json::to_vec_pretty(marker).expect("serializing strings cannot fail");
    bytes.push(b'\n');
    fs::write(&path, bytes).map_err(io_err(&path))
}

fn create_venv(
    tool: &Tool,
    interp: &Interpreter,
    staging: &Path,
    final_dir: &Path,
    spec: &VenvSpec,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let (mut cmd, label) = match tool {
        Tool::Uv(uv) | Tool::UvSeededPip(uv) => {
            let mut cmd = Command::new(uv);
            cmd.args([
                "venv",
                "--quiet",
                "--no-project",
                "--relocatable",
                "--python",
            ])
            .arg(&interp.executable);
            if matches!(tool, Tool::UvSeededPip(_)) {
                cmd.arg("--seed");
            }
            (cmd, "uv".to_string())
        }
        Tool::Pip => {
            let mut cmd = Command::new(&interp.executable);
            cmd.args(["-m", "venv"]);
            (cmd, format!("{} -m venv", spec.python))
        }
    };
    cmd.args(spec.virtualenv_opts).arg(staging);
    if let Some(parent) = staging.parent() {
        cmd.current_dir(parent);
    }
    let (status, output) = run_combined(cmd, &label, cancel)?;
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output);
    if matches!(tool, Tool::Pip) && text.contains("ensurepip") {
        return Err(VenvError::VenvModuleMissing {
            python: spec.python.to_string(),
        });
    }
    Err(VenvError::CreateFailed {
        venv: final_dir.to_path_buf(),
        tool: label,
        status: status_text(status),
        tail: tail(&output, TAIL_LINES),
    })
}

fn install_requirements(
    tool: &Tool,
    staging: &Path,
    pack_dir: &Path,
    requirements: &Path,
    spec: &VenvSpec,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let args = [OsStr::new("-r"), requirements.as_os_str()];
    install(tool, staging, pack_dir, &args, requirements, spec, cancel)
}

/// Install named packages (the base requirements) into the staging virtualenv.
fn install_packages(
    tool: &Tool,
    staging: &Path,
    pack_dir: &Path,
    packages: &[String],
    spec: &VenvSpec,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let args: Vec<&OsStr> = packages.iter().map(OsStr::new).collect();
    install(
        tool,
        staging,
        pack_dir,
        &args,
        Path::new(&packages.join(" ")),
        spec,
        cancel,
    )
}

/// `pip install ARGS` (or `uv pip install`) into the staging virtualenv; `what` names what
/// was being installed in the error.
fn install(
    tool: &Tool,
    staging: &Path,
    pack_dir: &Path,
    args: &[&OsStr],
    what: &Path,
    spec: &VenvSpec,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let venv_python = python_path(staging);
    let mut cmd = match tool {
        Tool::Uv(uv) => {
            let mut cmd = Command::new(uv);
            cmd.args(["pip", "install", "--quiet", "--python"])
                .arg(&venv_python);
            cmd
        }
        Tool::Pip | Tool::UvSeededPip(_) => {
            let mut cmd = Command::new(&venv_python);
            cmd.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
            ]);
            cmd
        }
    };
    cmd.args(spec.pip_opts)
        .args(args)
        // Requirements may be relative paths (`./lib`, `-e .`): upstream
        // runs pip from the pack directory.
        .current_dir(pack_dir);
    let label = tool.installer().as_str();
    let (status, output) = run_combined(cmd, label, cancel)?;
    if status.success() {
        return Ok(());
    }
    Err(VenvError::InstallFailed {
        requirements: what.to_path_buf(),
        tool: label.to_string(),
        status: status_text(status),
        tail: tail(&output, TAIL_LINES),
    })
}

/// StackStorm installs `six` into every pack virtualenv (`BASE_PACK_REQUIREMENTS`), and many
/// Exchange packs import it without listing it. We install it when the pack's Python code
/// imports it and its requirements do not name it, sparing the other packs a package
/// download.
const SIX_REQUIREMENT: &str = "six>=1.9.0,<2.0";

/// The base requirements a pack needs besides its `requirements.txt`.
pub fn base_requirements(pack_dir: &Path, requirements: Option<&[u8]>) -> Vec<String> {
    let listed = requirements.is_some_and(|content| {
        String::from_utf8_lossy(content).lines().any(|line| {
            let name: String = line
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            name.eq_ignore_ascii_case("six")
        })
    });
    if listed || !imports_six(pack_dir) {
        return Vec::new();
    }
    vec![SIX_REQUIREMENT.to_string()]
}

fn imports_six(pack_dir: &Path) -> bool {
    walkdir::WalkDir::new(pack_dir)
        .max_depth(6)
        .into_iter()
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            entry.depth() == 0 || !(name.starts_with('.') || name == "tests")
        })
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_type().is_file() && entry.path().extension() == Some(OsStr::new("py"))
        })
        .any(|entry| {
            fs::read_to_string(entry.path()).is_ok_and(|text| {
                text.lines().any(|line| {
                    let line = line.trim_start();
                    line.starts_with("import six")
                        || line.starts_with("from six ")
                        || line.starts_with("from six.")
                })
            })
        })
}

/// Run `cmd` with stdin closed and stdout+stderr interleaved in one pipe,
/// as a terminal would show them.
///
/// The child gets a process group of its own, so that `cancel` (Ctrl-C in `st2 pack
/// install`) stops it whole, pip's own subprocesses included, and it is killed if this process
/// dies first (`PR_SET_PDEATHSIG`), so that a killed install leaves no installer writing into
/// a directory the next command deletes.
fn run_combined(
    mut cmd: Command,
    label: &str,
    cancel: Option<&AtomicBool>,
) -> Result<(ExitStatus, Vec<u8>), VenvError> {
    use std::os::unix::process::CommandExt;
    let spawn_err = |source| VenvError::Spawn {
        program: label.to_string(),
        source,
    };
    let (mut reader, writer) = io::pipe().map_err(spawn_err)?;
    let writer2 = writer.try_clone().map_err(spawn_err)?;
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    cmd.process_group(0);
    crate::sys::die_with_parent(&mut cmd);
    tracing::debug!(command = ?cmd, "running");
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The Command holds our copies of the pipe's write end: close them so
    // that reading ends when the child exits.
    drop(cmd);
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let read = reader.read_to_end(&mut output);
        let status = child.wait();
        let _ = done.send((status, read.map(|_| output)));
    });
    let wait = |timeout: Duration| finished.recv_timeout(timeout).ok();
    let result = loop {
        if let Some(result) = wait(Duration::from_millis(100)) {
            break result;
        }
        if cancel.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
            // SIGTERM first (pip and uv clean up their temporary files), then SIGKILL.
            crate::sys::signal_group(pid, crate::sys::SIGTERM);
            if wait(Duration::from_secs(3)).is_none() {
                crate::sys::signal_group(pid, crate::sys::SIGKILL);
                let _ = wait(Duration::from_secs(5));
            }
            // What the installer started and left running goes too.
            crate::sys::signal_group(pid, crate::sys::SIGKILL);
            tracing::debug!(program = label, "stopped: interrupted");
            return Err(VenvError::Interrupted);
        }
    };
    let (status, output) = result;
    let status = status.map_err(spawn_err)?;
    let output = output.map_err(spawn_err)?;
    tracing::debug!(%status, output = %String::from_utf8_lossy(&output), "finished");
    Ok((status, output))
}

fn status_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last `n` non-blank-trailing lines of `output`, with a note saying how
/// many earlier lines were left out.
fn tail(output: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.trim_end().lines().map(str::trim_end).collect();
    if lines.is_empty() || (lines.len() == 1 && lines[0].is_empty()) {
        return "(no output)".to_string();
    }
    let skip = lines.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[... {skip} earlier lines omitted]\n"));
    }
    out.push_str(&lines[skip..].join("\n"));
    out
}

/// The virtualenv was built at `staging` but will live elsewhere: for each
/// `(from, to)` of `moves` (the first is the virtualenv's own move; a pack
/// directory installed from may follow), rewrite the absolute path `from`
/// where tools wrote it into text files
/// (pip's console-script shebangs, `activate*`, `pyvenv.cfg`, and what points
/// editable installs at their checkout in `<venv>/src/`: `*.pth`,
/// `__editable__*.py` finders, `*.egg-link`, `direct_url.json`). `bin/python`
/// itself needs nothing: it finds `pyvenv.cfg` relative to itself, and uv's
/// `--relocatable` scripts use relative paths already.
fn fix_paths_after_move(staging: &Path, moves: &[(&Path, &Path)]) -> Result<(), VenvError> {
    let mut files = vec![staging.join("pyvenv.cfg")];
    let bin = staging.join("bin");
    if let Ok(entries) = fs::read_dir(&bin) {
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    for site_packages in site_packages_dirs(staging) {
        let Ok(entries) = fs::read_dir(&site_packages) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".pth")
                || name.ends_with(".egg-link")
                || (name.starts_with("__editable__") && name.ends_with(".py"))
            {
                files.push(path);
            } else if name.ends_with(".dist-info") {
                files.push(path.join("direct_url.json"));
            }
        }
        // Bytecode of the finders holds the old path too; Python rebuilds it.
        if let Ok(entries) = fs::read_dir(site_packages.join("__pycache__")) {
            for entry in entries.filter_map(|e| e.ok()) {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("__editable__")
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
    for path in files {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 4 * 1024 * 1024 {
            continue;
        }
        let content = fs::read(&path).map_err(io_err(&path))?;
        let mut changed: Option<Vec<u8>> = None;
        for (from, to) in moves {
            let from = from.as_os_str().as_encoded_bytes();
            let to = to.as_os_str().as_encoded_bytes();
            if let Some(replaced) = replace_all(changed.as_deref().unwrap_or(&content), from, to) {
                changed = Some(replaced);
            }
        }
        if let Some(replaced) = changed {
            fs::write(&path, replaced).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// `<venv>/lib*/python*/site-packages`.
fn site_packages_dirs(venv: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let is_python = entry.file_name().to_string_lossy().starts_with("python");
            let site_packages = entry.path().join("site-packages");
            // `lib64` is often a symlink to `lib`: keep each directory once.
            if is_python && site_packages.is_dir() && !entry.path().is_symlink() {
                dirs.push(site_packages);
            }
        }
    }
    dirs
}

/// A requirements line that uv does not install as pip does, so that the
/// pack's requirements go to pip (StackStorm installs them with `pip install
/// -r requirements.txt`).
///
/// Measured with uv 0.13 and pip 23 (`uv pip install -r` on each form):
/// uv refuses editable VCS requirements ("Git sources cannot be editable":
/// `-e git+https://...#egg=x`, in 5 Exchange packs), Mercurial, Subversion
/// and Bazaar URLs, `git://` URLs (`kayako`), per-requirement
/// `--global-option`, and `--install-option`/`--config-settings` lines; it
/// ignores `--pre`, `--trusted-host`, `--prefer-binary` and `--use-feature`
/// with a warning, which changes what gets installed. It takes environment
/// markers, `--hash`, `-i`/`--index-url`, `--extra-index-url`, `-f`,
/// `--no-binary`, `-c` and `-r` as pip does. Rewriting `-e git+URL` as a
/// plain `git+URL` for uv would install it too, but not as pip does (pip
/// keeps an editable checkout in `<venv>/src/`, and refuses an `#egg=` name
/// that does not match the package, which uv ignores): pip is what
/// StackStorm runs, so pip it is, for those packs only.
///
/// Follows `-r`/`-c` includes (relative to the including file). Returns
/// `file:line: text` of the first such line.
pub fn pip_only_requirement(requirements: &Path) -> Option<String> {
    let mut seen = Vec::new();
    pip_only_in(requirements, &mut seen)
}

fn pip_only_in(file: &Path, seen: &mut Vec<PathBuf>) -> Option<String> {
    if seen.len() > 32 || seen.iter().any(|s| s == file) {
        return None;
    }
    seen.push(file.to_path_buf());
    let text = fs::read_to_string(file).ok()?;
    for (number, line) in logical_lines(&text) {
        let found = || Some(format!("{}:{number}: {line}", file.display()));
        let (option, value) = split_option(&line);
        match option {
            Some("-e" | "--editable") => {
                let target = value.unwrap_or_default();
                if is_vcs_or_remote(target) {
                    return found();
                }
            }
            Some("-r" | "--requirement" | "-c" | "--constraint") => {
                let target = value.unwrap_or_default();
                if !target.contains("://") {
                    let path = file.parent().unwrap_or(Path::new(".")).join(target);
                    if let Some(inner) = pip_only_in(&path, seen) {
                        return Some(inner);
                    }
                }
            }
            Some(
                "--pre" | "--trusted-host" | "--prefer-binary" | "--use-feature"
                | "--install-option" | "--global-option" | "--config-settings",
            ) => return found(),
            Some(_) => {}
            None => {
                let lower = line.to_ascii_lowercase();
                if ["hg+", "svn+", "bzr+", "git+git://"]
                    .iter()
                    .any(|scheme| lower.contains(scheme))
                    || ["--global-option", "--install-option", "--config-settings"]
                        .iter()
                        .any(|option| lower.contains(option))
                {
                    return found();
                }
            }
        }
    }
    None
}

/// Lines of a requirements file as pip reads them: `\` continuations joined,
/// comments (`#` at the start or after whitespace) removed, blank lines
/// skipped; with the number of each line's first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = index + 1;
        }
        if let Some(joined) = raw.strip_suffix('\\') {
            current.push_str(joined);
            continue;
        }
        current.push_str(raw);
        let line = strip_comment(&current).trim().to_string();
        if !line.is_empty() {
            lines.push((start, line));
        }
        current.clear();
    }
    let line = strip_comment(&current).trim().to_string();
    if !line.is_empty() {
        lines.push((start, line));
    }
    lines
}

fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace()) {
            return &line[..index];
        }
    }
    line
}

/// The option a line starts with and its value (`-e X`, `-eX`, `--editable=X`,
/// `--editable X`); `(None, None)` for a requirement.
fn split_option(line: &str) -> (Option<&str>, Option<&str>) {
    if !line.starts_with('-') {
        return (None, None);
    }
    let (head, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(index) => (&line[..index], line[index + 1..].trim()),
        None => (line, ""),
    };
    let value = (!rest.is_empty()).then_some(rest);
    // Short options may carry their value attached: `-egit+https://...`.
    for short in ["-e", "-r", "-c"] {
        if let Some(attached) = head.strip_prefix(short).filter(|a| !a.is_empty()) {
            if !head.starts_with("--") {
                return (Some(short), Some(attached));
            }
        }
    }
    (Some(head), value)
}

/// A version-control URL (`git+https://...`) or a remote archive, as opposed
/// to a local directory.
fn is_vcs_or_remote(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    let scheme = lower.split("://").next().unwrap_or("");
    lower.contains("://") && (scheme.contains('+') || !scheme.starts_with("file"))
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

/// `haystack` with every `from` replaced by `to`; `None` if `from` is absent.
fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    if from.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    let mut found = false;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            found = true;
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    found.then_some(out)
}

/// Remove `.staging-<ref>-XXXXXXXX` and `.old-<ref>-XXXXXXXX` left in
/// `parent` by interrupted runs. Only called with the pack's lock held, so
/// no other run is using them.
fn cleanup_leftovers(parent: &Path, pack_ref: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_leftover(name, pack_ref) {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing leftover of an interrupted virtualenv build");
            if let Err(e) = fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "could not remove leftover");
            }
        }
    }
}

fn is_leftover(name: &str, pack_ref: &str) -> bool {
    [".staging-", ".old-"]
        .iter()
        .any(|kind| crate::fs::is_temp_name(name, &format!("{kind}{pack_ref}-")))
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_now() -> String {
    rfc3339(jiff::Timestamp::now())
}

/// A time as the marker records it: UTC, to the second (truncated).
fn rfc3339(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// The interpreter the tests build from.
    fn test_python() -> String {
        std::env::var(crate::settings::env::ST2_TEST_PYTHON)
            .unwrap_or_else(|_| "python3".to_string())
    }

    /// Writes `localpkg-<version>` as a wheel (a zip with the module, its
    /// dist-info and a console script) so requirements install offline.
    const MAKE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
ver, out = sys.argv[1], sys.argv[2]
files = {
    "localpkg/__init__.py": "VALUE = %r\ndef hello():\n    print('hello', VALUE)\n" % ver,
    "localpkg-%s.dist-info/METADATA" % ver: "Metadata-Version: 2.1\nName: localpkg\nVersion: %s\n" % ver,
    "localpkg-%s.dist-info/WHEEL" % ver: "Wheel-Version: 1.0\nGenerator: st2-rs-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "localpkg-%s.dist-info/entry_points.txt" % ver: "[console_scripts]\nlocalpkg-hello = localpkg:hello\n",
}
record = "localpkg-%s.dist-info/RECORD" % ver
lines = []
with zipfile.ZipFile(out, "w") as z:
    for name, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (name, digest, len(data)))
        z.writestr(name, data)
    lines.append(record + ",,")
    z.writestr(record, "\n".join(lines) + "\n")
"#;

    /// Builds `<pack>/wheels/localpkg-<version>-py3-none-any.whl` and
    /// returns the requirement line for it, relative to the pack directory.
    fn make_wheel(pack_dir: &Path, version: &str) -> String {
        let wheels = pack_dir.join("wheels");
        fs::create_dir_all(&wheels).unwrap();
        let name = format!("localpkg-{version}-py3-none-any.whl");
        let status = Command::new(test_python())
            .arg("-c")
            .arg(MAKE_WHEEL)
            .arg(version)
            .arg(wheels.join(&name))
            .status()
            .unwrap();
        assert!(status.success());
        format!("./wheels/{name}")
    }

    struct Fixture {
        _tmp: tempfile::TempDir,
        pack_dir: PathBuf,
        virtualenvs: PathBuf,
        venv_dir: PathBuf,
        python: String,
        pip_opts: Vec<String>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let pack_dir = tmp.path().join("packs").join("mypack");
            fs::create_dir_all(&pack_dir).unwrap();
            let virtualenvs = tmp.path().join("virtualenvs");
            let venv_dir = virtualenvs.join("mypack");
            Fixture {
                _tmp: tmp,
                pack_dir,
                virtualenvs,
                venv_dir,
                python: test_python(),
                pip_opts: vec!["--no-index".to_string()],
            }
        }

        fn spec(&self) -> VenvSpec<'_> {
            VenvSpec {
                pack_ref: "mypack",
                pack_dir: &self.pack_dir,
                venv_dir: &self.venv_dir,
                python: &self.python,
                virtualenv_opts: &[],
                pip_opts: &self.pip_opts,
            }
        }

        fn write_requirements(&self, content: &str) {
            fs::write(self.pack_dir.join(REQUIREMENTS_FILE), content).unwrap();
        }

        /// `localpkg.VALUE` as seen by the final venv's interpreter.
        fn imported_value(&self) -> String {
            let out = Command::new(python_path(&self.venv_dir))
                .args(["-c", "import localpkg; print(localpkg.VALUE)"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "import failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        }

        /// Names in `<virtualenvs>` other than the venv and its lock file.
        fn leftovers(&self) -> Vec<String> {
            fs::read_dir(&self.virtualenvs)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "mypack" && n != ".st2-venv-mypack.lock")
                .collect()
        }
    }

    /// Full cycle with one installer: create, reuse, update, failed update
    /// keeps the old venv, forced rebuild.
    fn lifecycle(installer: Installer) {
        let fx = Fixture::new();
        let v1 = make_wheel(&fx.pack_dir, "1.0");
        fx.write_requirements(&format!("# comment\n{v1}\n"));

        // Create: built in a staging dir, then moved to the final path; the
        // moved venv still imports the package and runs console scripts.
        let start = Instant::now();
        let (outcome, used) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
        eprintln!("{installer}: create took {:?}", start.elapsed());
        assert_eq!((outcome, used), (VenvOutcome::Created, installer));
        assert_eq!(fx.imported_value(), "1.0");
        let hello = Command::new(fx.venv_dir.join("bin").join("localpkg-hello"))
            .output()
            .unwrap();
        assert!(
            hello.status.success(),
            "{}",
            String::from_utf8_lossy(&hello.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&hello.stdout).trim(), "hello 1.0");
        assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
        let marker = read_marker(&fx.venv_dir).expect("marker written");
        assert_eq!(marker.tool, installer.as_str());
        assert_eq!(marker.pip_opts, fx.pip_opts);

        // Reuse: nothing changed, nothing touched.
        let marker_path = fx.venv_dir.join(MARKER_FILE);
        let before = (
            fs::metadata(&fx.venv_dir).unwrap().modified().unwrap(),
            fs::read(&marker_path).unwrap(),
            fs::metadata(&marker_path).unwrap().modified().unwrap(),
        );
        let start = Instant::now();
        let (outcome, used) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
        let took = start.elapsed();
        eprintln!("{installer}: reuse took {took:?}");
        assert_eq!((outcome, used), (VenvOutcome::Reused, installer));
        assert!(took.as_secs_f64() < 2.0, "reuse took {took:?}");
        let after = (
            fs::metadata(&fx.venv_dir).unwrap().modified().unwrap(),
            fs::read(&marker_path).unwrap(),
            fs::metadata(&marker_path).unwrap().modified().unwrap(),
        );
        assert_eq!(before, after);

        // Update: requirements changed.
        let v2 = make_wheel(&fx.pack_dir, "2.0");
        fx.write_requirements(&format!("{v2}\n"));
        let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
        assert_eq!(outcome, VenvOutcome::Updated);
        assert_eq!(fx.imported_value(), "2.0");
        assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());

        // Failure: a requirement that cannot be found offline. The old venv
        // keeps working, no staging dir is left, the error names the file
        // and shows the installer's last lines.
        fx.write_requirements(&format!("{v2}\nst2rs-no-such-package-xyz\n"));
        let err = ensure_with(&fx.spec(), Some(installer), false).unwrap_err();
        let msg = err.to_string();
        eprintln!("{installer}: failure message:\n{msg}");
        let requirements = fx.pack_dir.join(REQUIREMENTS_FILE);
        assert!(
            matches!(&err, VenvError::InstallFailed { requirements: r, .. } if r == &requirements),
            "{err:?}"
        );
        assert!(msg.starts_with(&format!(
            "Failed to install requirements from \"{}\" ({installer} exited with status 1):\n",
            requirements.display()
        )));
        assert!(msg.contains("st2rs-no-such-package-xyz"), "{msg}");
        assert!(msg.lines().count() <= TAIL_LINES + 2, "{msg}");
        assert_eq!(fx.imported_value(), "2.0");
        assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());

        // Forced rebuild, even though the (restored) requirements match.
        fx.write_requirements(&format!("{v2}\n"));
        let sentinel = fx.venv_dir.join("sentinel");
        fs::write(&sentinel, "old venv").unwrap();
        let (outcome, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
        assert_eq!((outcome, used), (VenvOutcome::Updated, installer));
        assert!(!sentinel.exists(), "venv was not rebuilt");
        assert_eq!(fx.imported_value(), "2.0");
        assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    }

    #[test]
    fn pip_lifecycle() {
        lifecycle(Installer::Pip);
    }

    #[test]
    fn uv_lifecycle() {
        if find_uv().is_none() {
            eprintln!("skipping uv_lifecycle: no `uv` on PATH");
            return;
        }
        lifecycle(Installer::Uv);
    }

    #[test]
    fn pack_without_requirements_gets_a_bare_venv() {
        let fx = Fixture::new();
        let installer = if find_uv().is_some() {
            Installer::Uv
        } else {
            Installer::Pip
        };
        let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
        assert_eq!(outcome, VenvOutcome::Created);
        let status = Command::new(python_path(&fx.venv_dir))
            .args(["-c", "import sys; assert sys.prefix != sys.base_prefix"])
            .status()
            .unwrap();
        assert!(status.success());
        let marker = read_marker(&fx.venv_dir).unwrap();
        assert_eq!(marker.requirements_sha256, None);
        let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
        assert_eq!(outcome, VenvOutcome::Reused);
    }

    #[test]
    fn python_not_found() {
        let mut fx = Fixture::new();
        fx.python = "/nonexistent/bin/python3.99".to_string();
        let err = ensure_with(&fx.spec(), Some(Installer::Pip), false).unwrap_err();
        assert!(matches!(err, VenvError::PythonNotFound { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("/nonexistent/bin/python3.99"), "{msg}");
        assert!(msg.contains("[actionrunner] python_binary"), "{msg}");
        assert!(!fx.venv_dir.exists());
    }

    /// A shell script answering the probe like a given interpreter would.
    fn fake_python(dir: &Path, version: &str, has_venv: bool) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("fakepython-{version}-{has_venv}"));
        let script = format!(
            "#!/bin/sh\nprintf 'st2-venv-probe\\n/usr/bin/python3\\n/usr/bin/python3\\n{version}\\n{}\\n{version} (fake)\\n'\n",
            u8::from(has_venv)
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn python_too_old_and_venv_module_missing() {
        let mut fx = Fixture::new();
        let dir = fx.pack_dir.clone();

        fx.python = fake_python(&dir, "2.7.18", false);
        let err = ensure_with(&fx.spec(), Some(Installer::Pip), false).unwrap_err();
        assert!(matches!(&err, VenvError::PythonTooOld { version, .. } if version == "2.7.18"));
        assert!(err.to_string().contains("3.8 or newer"), "{err}");

        fx.python = fake_python(&dir, "3.11.2", false);
        let err = ensure_with(&fx.spec(), Some(Installer::Pip), false).unwrap_err();
        assert!(
            matches!(err, VenvError::VenvModuleMissing { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("apt-get install python3-venv"), "{msg}");
        assert!(!fx.venv_dir.exists());
    }

    #[test]
    fn uv_forced_but_missing() {
        assert!(crate::fs::find_executable_in("uv", Some(OsStr::new("/nonexistent:"))).is_none());
        assert!(matches!(
            resolve_tool(Some(Installer::Uv), None),
            Err(VenvError::UvNotFound)
        ));
        assert!(matches!(
            resolve_tool(Some(Installer::Pip), Some("/x/uv".into())),
            Ok(Tool::Pip)
        ));
        assert!(matches!(
            resolve_tool(None, Some("/x/uv".into())),
            Ok(Tool::Uv(_))
        ));
        assert!(matches!(resolve_tool(None, None), Ok(Tool::Pip)));
        assert_eq!(Installer::parse(" UV "), Some(Installer::Uv));
        assert_eq!(Installer::parse("pip"), Some(Installer::Pip));
        assert_eq!(Installer::parse("conda"), None);
        assert!(VenvError::UvNotFound
            .to_string()
            .contains("ST2_VENV_TOOL=uv"));
    }

    #[test]
    fn six_is_a_base_requirement_of_packs_that_import_it() {
        let dir = tempfile::tempdir().unwrap();
        let actions = dir.path().join("actions");
        fs::create_dir_all(&actions).unwrap();
        fs::write(actions.join("a.py"), "import json\n").unwrap();
        assert!(base_requirements(dir.path(), None).is_empty());
        fs::write(actions.join("b.py"), "from six.moves import StringIO\n").unwrap();
        assert_eq!(base_requirements(dir.path(), None), [SIX_REQUIREMENT]);
        assert_eq!(
            base_requirements(dir.path(), Some(b"requests\n")),
            [SIX_REQUIREMENT]
        );
        assert!(base_requirements(dir.path(), Some(b"six==1.16.0\n")).is_empty());
        // Base requirements change the fingerprint only when there are some.
        let interp = Interpreter {
            executable: "/usr/bin/python3".into(),
            resolved: "/usr/bin/python3".into(),
            version: "3.11".into(),
            has_venv: true,
        };
        assert_ne!(
            fingerprint(None, &[], &interp, &[], &[]).digest,
            fingerprint(None, &[SIX_REQUIREMENT.to_string()], &interp, &[], &[]).digest
        );
    }

    #[test]
    fn fingerprint_covers_requirements_interpreter_and_options() {
        let interp = Interpreter {
            executable: "/usr/bin/python3".into(),
            resolved: "/usr/bin/python3.11".into(),
            version: "3.11.2 (main)".into(),
            has_venv: true,
        };
        let opts = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let base = fingerprint(Some(b"requests\n"), &[], &interp, &[], &[]).digest;
        assert_eq!(
            base,
            fingerprint(Some(b"requests\n"), &[], &interp, &[], &[]).digest
        );
        let mut variants = vec![
            fingerprint(Some(b"requests==2\n"), &[], &interp, &[], &[]).digest,
            fingerprint(None, &[], &interp, &[], &[]).digest,
            fingerprint(Some(b""), &[], &interp, &[], &[]).digest,
            fingerprint(
                Some(b"requests\n"),
                &[],
                &interp,
                &opts(&["--system-site-packages"]),
                &[],
            )
            .digest,
            fingerprint(
                Some(b"requests\n"),
                &[],
                &interp,
                &[],
                &opts(&["--no-index"]),
            )
            .digest,
        ];
        let mut other = interp.clone();
        other.version = "3.11.3 (main)".into();
        variants.push(fingerprint(Some(b"requests\n"), &[], &other, &[], &[]).digest);
        let mut other = interp.clone();
        other.resolved = "/opt/python/bin/python3.11".into();
        variants.push(fingerprint(Some(b"requests\n"), &[], &other, &[], &[]).digest);
        // `executable` is how we call it, not what it is.
        let mut same = interp.clone();
        same.executable = "/usr/local/bin/python3".into();
        assert_eq!(
            base,
            fingerprint(Some(b"requests\n"), &[], &same, &[], &[]).digest
        );
        variants.push(base);
        let count = variants.len();
        variants.sort();
        variants.dedup();
        assert_eq!(variants.len(), count, "fingerprints collide");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let output: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        let t = tail(output.as_bytes(), 20);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "[... 30 earlier lines omitted]");
        assert_eq!(lines[1], "line 31");
        assert_eq!(lines[20], "line 50");
        assert_eq!(tail(b"one\ntwo\n\n", 20), "one\ntwo");
        assert_eq!(tail(b"", 20), "(no output)");
        assert_eq!(tail(b" \n\n", 20), "(no output)");
    }

    #[test]
    fn leftovers_of_this_pack_only_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let names = [
            (".staging-mypack-abcDEF12", true),
            (".old-mypack-0123abcd", true),
            (".staging-mypack_two-abcDEF12", false),
            (".staging-mypack-two-abcDEF12", false),
            (".staging-mypack-short", false),
            ("mypack", false),
            ("other", false),
        ];
        for (name, _) in names {
            fs::create_dir(tmp.path().join(name)).unwrap();
            fs::write(tmp.path().join(name).join("f"), "x").unwrap();
        }
        cleanup_leftovers(tmp.path(), "mypack");
        for (name, removed) in names {
            assert_eq!(!tmp.path().join(name).exists(), removed, "{name}");
        }
    }

    #[test]
    fn replace_all_and_rfc3339() {
        assert_eq!(
            replace_all(b"#!/a/.staging-x/bin/python\n", b"/a/.staging-x", b"/a/x"),
            Some(b"#!/a/x/bin/python\n".to_vec())
        );
        assert_eq!(replace_all(b"nothing", b"/a", b"/b"), None);
        let at = |secs| jiff::Timestamp::from_second(secs).unwrap();
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn invalid_pack_ref_is_rejected() {
        let fx = Fixture::new();
        let mut spec = fx.spec();
        spec.pack_ref = "../evil";
        let err = ensure_with(&spec, Some(Installer::Pip), false).unwrap_err();
        assert!(matches!(err, VenvError::InvalidPackRef { .. }), "{err:?}");
    }

    /// An in-tree PEP 517 backend with no requirements, so that pip and uv
    /// build `tinypkg` from a git checkout offline: a wheel with the module,
    /// or (editable) a `.pth` pointing at the checkout.
    const TINY_BACKEND: &str = r#"
import base64, hashlib, os, zipfile
NAME, VERSION = "tinypkg", "0.1.0"
def _wheel(directory, files):
    dist = "%s-%s.dist-info" % (NAME, VERSION)
    files = dict(files)
    files[dist + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION)
    files[dist + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    name = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
            z.writestr(path, data)
        record.append(dist + "/RECORD,,")
        z.writestr(dist + "/RECORD", "\n".join(record) + "\n")
    return name
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join("tinypkg", "__init__.py")) as f:
        return _wheel(wheel_directory, {"tinypkg/__init__.py": f.read()})
def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {"tinypkg.pth": os.path.abspath(".") + "\n"})
def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError
"#;

    /// A git repository holding `tinypkg` (`VALUE = "from git"`), with a
    /// `feature` branch; returns its `file://` URL.
    fn tiny_git_repo(dir: &Path) -> String {
        let repo = dir.join("tinyrepo");
        fs::create_dir_all(repo.join("tinypkg")).unwrap();
        fs::write(
            repo.join("pyproject.toml"),
            "[build-system]\nrequires = []\nbuild-backend = \"tinybackend\"\nbackend-path = [\".\"]\n",
        )
        .unwrap();
        fs::write(repo.join("tinybackend.py"), TINY_BACKEND).unwrap();
        fs::write(repo.join("tinypkg/__init__.py"), "VALUE = 'from git'\n").unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&repo)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "tinypkg"]);
        git(&["branch", "feature"]);
        format!("file://{}", repo.display())
    }

    /// `tinypkg.VALUE` and `tinypkg.__file__` as the final venv sees them.
    fn tiny_import(venv_dir: &Path) -> (String, String) {
        let out = Command::new(python_path(venv_dir))
            .args([
                "-c",
                "import tinypkg; print(tinypkg.VALUE); print(tinypkg.__file__)",
            ])
            .current_dir("/")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines().map(str::to_string);
        (lines.next().unwrap(), lines.next().unwrap())
    }

    /// `-e git+URL#egg=x` as StackStorm installs it (pip): an editable
    /// checkout in `<venv>/src/`, still importable once the venv built in
    /// staging is moved into place; also with a branch.
    fn editable_git_requirement(installer: Installer) {
        let fx = Fixture::new();
        let url = tiny_git_repo(fx._tmp.path());
        for line in [
            format!("-e git+{url}#egg=tinypkg"),
            format!("--editable=git+{url}@feature#egg=tinypkg"),
        ] {
            fx.write_requirements(&format!("six; python_version < '3'\n{line}\n"));
            let (_, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
            // uv cannot install it: pip does, whatever was chosen.
            assert_eq!(used, Installer::Pip, "{line}");
            let (value, file) = tiny_import(&fx.venv_dir);
            assert_eq!(value, "from git");
            assert!(
                Path::new(&file).starts_with(fx.venv_dir.join("src")),
                "{file} is not in the editable checkout"
            );
            assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
        }
        // A plain git requirement goes to the chosen installer.
        fx.write_requirements(&format!("git+{url}#egg=tinypkg\n"));
        let (_, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
        assert_eq!(used, installer);
        let (value, file) = tiny_import(&fx.venv_dir);
        assert_eq!(value, "from git");
        assert!(file.contains("site-packages"), "{file}");
    }

    #[test]
    fn editable_git_requirement_with_pip() {
        editable_git_requirement(Installer::Pip);
    }

    #[test]
    fn editable_git_requirement_with_uv() {
        if find_uv().is_none() {
            eprintln!("skipping editable_git_requirement_with_uv: no `uv` on PATH");
            return;
        }
        editable_git_requirement(Installer::Uv);
    }

    #[test]
    fn lines_uv_does_not_take_as_pip_does() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        };
        // What uv installs as pip does (the Exchange's other forms included).
        let fine = write(
            "fine.txt",
            "# comment\nrequests>=2.0  # trailing comment\ntld; python_version >= '3.0'\n\
             git+https://github.com/x/y.git@v1#egg=y\n-e ./localpkg\n-e file:///opt/pkg\n\
             -i https://pypi.org/simple\n--extra-index-url https://example.com/simple\n\
             six==1.16.0 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n\
             -f https://example.com/links\n--no-binary :all:\n-c sub/constraints.txt\n\
             name @ https://example.com/a.tar.gz\nx#egg=-e git+https://nothing\n",
        );
        write("sub/constraints.txt", "six<2\n");
        assert_eq!(pip_only_requirement(&fine), None);
        let cases = [
            "-e git+https://github.com/Kami/py-urbandict.git@stackstorm_patched#egg=urbandict",
            "--editable git+https://github.com/x/y#egg=y",
            "--editable=git+ssh://git@github.com/x/y#egg=y",
            "-egit+https://github.com/x/y#egg=y",
            "-e hg+https://hg.example.com/repo#egg=x",
            "svn+https://svn.example.com/repo#egg=x",
            "git+git://github.com/AntagonistHQ/python-api-library@a5a59eed#egg=kayako",
            "--pre",
            "--trusted-host example.com",
            "six --global-option=--foo",
        ];
        for (index, line) in cases.iter().enumerate() {
            let file = write(&format!("case{index}.txt"), &format!("six\n\n{line}\n"));
            let found = pip_only_requirement(&file).unwrap_or_default();
            assert!(found.ends_with(&format!(":3: {line}")), "{line}: {found:?}");
        }
        // Followed through includes, relative to the including file; cycles end.
        write(
            "inc/base.txt",
            "-r ../top.txt\n-e git+https://github.com/x/y#egg=y\n",
        );
        let top = write("top.txt", "six\n-r inc/base.txt\n");
        let found = pip_only_requirement(&top).unwrap();
        assert!(found.contains("base.txt:2: -e git+"), "{found}");
    }
}

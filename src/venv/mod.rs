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
//! ```ignore
//! // Crate-internal: not compiled as a doctest; `venv/tests.rs` makes the same calls.
//! use std::path::Path;
//! use crate::venv::{self, VenvSpec};
//!
//! let spec = VenvSpec {
//!     pack_ref: "examples",
//!     pack_dir: Path::new("/opt/stackstorm/packs/examples"),
//!     venv_dir: Path::new("/opt/stackstorm/virtualenvs/examples"),
//!     python: "python3",
//!     virtualenv_opts: &[],
//!     pip_opts: &[],
//!     resolution: venv::Resolution::default(),
//! };
//! let (outcome, installer) = venv::ensure(&spec)?;
//! println!("virtualenv {outcome} with {installer}");
//! let python = venv::python_path(spec.venv_dir); // run actions with this
//! ```
//!
//! Use [`recreate`] to force a rebuild (`--register-recreate-virtualenvs`).
//! Whether a pack needs a virtualenv at all is the caller's decision: a pack
//! without `requirements.txt` still gets a (bare) virtualenv when asked.
//!
//! An install, which may still be abandoned after the virtualenv is built (a
//! later pack fails, Ctrl-C), splits [`ensure`] in two: [`plan()`] decides
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
//!
//! # Layout
//!
//! This file holds the public surface (what to build, what happened, what went wrong) and
//! [`ensure`]'s flow; the parts live beside it:
//!
//! * `plan`: the tool choice (`ST2_VENV_TOOL`, uv, pip) and [`Plan`], everything decided
//!   before building;
//! * `interpreter`: what the configured Python is (probed once per plan);
//! * `requirements`: what a pack's requirements ask for (lines only pip takes, the base
//!   requirement `six`);
//! * `fingerprint`: when a virtualenv is up to date, and the marker file that records it;
//! * `build`: the uv and pip commands, run in a process group of their own;
//! * `relocate`: paths rewritten in a virtualenv built elsewhere than where it will live;
//! * `staged`: a virtualenv built for an install, swapped in at commit, and the leftovers of
//!   killed builds.

mod build;
pub(crate) mod dists;
mod fingerprint;
mod interpreter;
mod plan;
mod relocate;
mod requirements;
mod staged;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::settings::env::ST2_VENV_TOOL;

pub(crate) use plan::{plan, VenvTool};
pub(crate) use staged::{remove_leftovers, StagedVenv};

use plan::{plan_with, tool_choice_from_env};
use staged::cleanup_leftovers;

/// Name of the metadata file written inside each virtualenv built here.
pub(crate) const MARKER_FILE: &str = ".st2-venv.json";

/// Oldest Python accepted for pack virtualenvs (major, minor).
pub(crate) const MIN_PYTHON: (u32, u32) = (3, 8);

/// Name of the requirements file looked up in the pack directory.
pub(crate) const REQUIREMENTS_FILE: &str = "requirements.txt";

/// What to build: one pack's virtualenv.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VenvSpec<'a> {
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
    /// Where distributions come from: the cache, the network, pins.
    pub resolution: Resolution<'a>,
}

/// Where a build's Python distributions come from.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resolution<'a> {
    /// The installer's cache (`<dir>/uv` or `<dir>/pip`, given as `--cache-dir`), unless the
    /// user set the installer's own variable (`UV_CACHE_DIR`, `PIP_CACHE_DIR`); `None`: the
    /// installer's default.
    pub cache_dir: Option<&'a Path>,
    /// Never use the network: uv reads only its cache (`--offline`), pip only what
    /// `pip_opts` and the requirements point at on disk (`--no-index`).
    pub offline: bool,
    /// `name==version` pins the install must follow (`-c`): a lock file's distributions.
    pub constraints: &'a [String],
    /// With uv, try the cache alone first and the network only when something is missing
    /// from it: pinned versions need not be looked up again.
    pub cache_first: bool,
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VenvOutcome {
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
    pub(crate) fn as_str(self) -> &'static str {
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

/// Why a virtualenv could not be built. Messages are complete sentences
/// meant for the user.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VenvError {
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
    /// `--offline`, and distributions the requirements need are not in the cache.
    #[error(
        "offline, and the Python packages {} are not in {tool}'s cache; run the install once \
         without --offline to fill it{}",
        if missing.is_empty() { "it needs".to_string() } else { missing.join(", ") },
        if tail.is_empty() { String::new() } else { format!(":\n{tail}") }
    )]
    Offline {
        /// `uv` or `pip`.
        tool: String,
        /// What is missing (`name==version`, or a name), when it can be told.
        missing: Vec<String>,
        /// The installer's last lines, when the missing packages could not be told.
        tail: String,
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
pub(crate) fn python_path(venv_dir: &Path) -> PathBuf {
    venv_dir.join("bin").join("python")
}

/// The distributions of the virtualenv at `venv_dir` that its requirements installed: all but
/// those it was created with (the pip and setuptools of `python -m venv`), by name. A
/// virtualenv built before the seed was recorded has `pip`, `setuptools` and `wheel` left out.
pub(crate) fn packages(venv_dir: &Path) -> Vec<dists::Dist> {
    let seed = fingerprint::read_marker(venv_dir).and_then(|marker| marker.seed);
    dists::installed(venv_dir)
        .into_iter()
        .filter(|dist| match &seed {
            Some(seed) => !seed.contains(&dist.pin()),
            None => !["pip", "setuptools", "wheel"].contains(&dist.name.as_str()),
        })
        .collect()
}

/// The installer and interpreter version recorded in the virtualenv at `venv_dir` when
/// st2-rs built it (`uv`, `3.11.7`).
pub(crate) fn built_with(venv_dir: &Path) -> Option<(String, String)> {
    fingerprint::read_marker(venv_dir).map(|marker| {
        let version = marker
            .python_version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        (marker.tool, version)
    })
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
pub(crate) fn ensure(spec: &VenvSpec) -> Result<(VenvOutcome, VenvTool), VenvError> {
    let choice = tool_choice_from_env()?;
    ensure_with(spec, choice, false)
}

/// Rebuild the virtualenv described by `spec` even if it is up to date
/// (`st2 pack install/register --register-recreate-virtualenvs`).
///
/// Same atomic replacement as [`ensure`]: on error the previous virtualenv
/// is left as it was.
pub(crate) fn recreate(spec: &VenvSpec) -> Result<VenvTool, VenvError> {
    let choice = tool_choice_from_env()?;
    ensure_with(spec, choice, true).map(|(_, installer)| installer)
}

/// The body of [`ensure`] and [`recreate`], with the installer choice
/// explicit (tests use it without touching the process environment).
fn ensure_with(
    spec: &VenvSpec,
    choice: Option<VenvTool>,
    force: bool,
) -> Result<(VenvOutcome, VenvTool), VenvError> {
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
    Ok((outcome, plan.tool.venv_tool()))
}

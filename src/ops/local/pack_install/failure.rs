//! Why an install failed ([`InstallError`]) and the report of a failed install
//! ([`InstallFailure`]): which pack failed, and what became of the others ([`Fate`]).
//! Nothing is undone here: staging directories are dropped as the install unwinds, and a
//! failed commit swaps back in `commit.rs`.

use std::path::{Path, PathBuf};

use crate::git;
use crate::pack::manifest::ManifestError;
use crate::pack::source::SourceError;
use crate::settings::io_reason;
use crate::store::StoreError;

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
        /// Offline, and Python packages are missing from the cache (the other packs' are
        /// looked for too, so that the error names all of them).
        offline: bool,
    },
    /// `packs.lock` cannot be read or written.
    #[error(transparent)]
    LockFile(#[from] crate::pack::lockfile::LockFileError),
    /// `--locked` without a lock file.
    #[error(
        "there is no {} to install from; install packs without --locked to write one, or copy \
         one there",
        path.display()
    )]
    NoLockFile {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `--locked PACK` for a pack the lock file does not list.
    #[error("{} lists no pack \"{name}\"; install it without --locked first", path.display())]
    NotLocked {
        /// The pack asked for.
        name: String,
        /// The lock file.
        path: PathBuf,
    },
    /// What was fetched or built is not what the lock file records.
    #[error("does not match packs.lock: {0}")]
    LockMismatch(String),
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

pub(super) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> InstallError {
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
                            InstallError::Interrupted { .. }
                                | InstallError::Venv { .. }
                                | InstallError::LockMismatch(_)
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

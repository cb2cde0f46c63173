//! A virtualenv built for an install, put in place when the install commits, and what
//! builds killed part way leave behind.
//!
//! Builds and swaps of one pack's virtualenv wait for each other on the pack's virtualenv
//! lock (`<virtualenvs>/.st2-venv-<ref>.lock`); a free lock is also how [`remove_leftovers`]
//! knows that a leftover's build is not running.

use std::fs;
use std::path::{Path, PathBuf};

use crate::lock::FileLock;

use super::{io_err, VenvError, VenvOutcome, VenvTool};

/// `<virtualenvs>/.st2-venv-<ref>.lock`.
pub(super) fn lock_path(parent: &Path, pack_ref: &str) -> PathBuf {
    parent.join(format!(".st2-venv-{pack_ref}.lock"))
}

/// The lock at `path`, taken (waiting for its holder); released when dropped.
pub(super) fn take_lock(path: &Path) -> Result<FileLock, VenvError> {
    FileLock::acquire(path).map_err(io_err(path))
}

/// A virtualenv built by [`Plan::build_staged`](super::Plan::build_staged), not yet in place.
#[derive(Debug)]
pub(crate) struct StagedVenv {
    pub(super) built: PathBuf,
    pub(super) final_dir: PathBuf,
    pub(super) lock_path: PathBuf,
    pub(super) tool: VenvTool,
}

impl StagedVenv {
    /// Where it was built; after [`swap_in`](Self::swap_in), where the previous one is.
    pub(crate) fn path(&self) -> &Path {
        &self.built
    }

    /// The installer that built it.
    pub(crate) fn installer(&self) -> VenvTool {
        self.tool
    }

    /// Put it at the final path, under the pack's virtualenv lock, in one atomic step: it is
    /// exchanged with the previous virtualenv, which is then at [`path`](Self::path)
    /// ([`VenvOutcome::Updated`]), or renamed into an empty place ([`VenvOutcome::Created`]).
    pub(crate) fn swap_in(&self) -> Result<VenvOutcome, VenvError> {
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
    pub(crate) fn swap_back(&self, outcome: VenvOutcome) -> Result<(), VenvError> {
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
pub(crate) fn remove_leftovers(virtualenvs: &Path) {
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

/// Remove `.staging-<ref>-XXXXXXXX` and `.old-<ref>-XXXXXXXX` left in
/// `parent` by interrupted runs. Only called with the pack's lock held, so
/// no other run is using them.
pub(super) fn cleanup_leftovers(parent: &Path, pack_ref: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

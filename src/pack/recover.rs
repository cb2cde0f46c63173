//! Cleaning up after installs and removals that were killed (SIGKILL, power cut of the
//! process, OOM killer) part way.
//!
//! - An install stages the pack in `.st2-staging-<pid>-*` beside the pack directories and
//!   holds a lock on `owner.lock` inside it for as long as it runs. A staging directory whose
//!   lock is free (or, not yet claimed, whose process is gone) belongs to a dead install and is
//!   removed.
//! - `st2 pack remove` moves the pack aside to `.st2-removing-<ref>-<pid>` before deleting it;
//!   one whose process is gone is removed.
//! - An install killed between swapping its directory into place and registering it leaves a
//!   journal record in the store ([`crate::store::PendingSwap`]). The directory is swapped back
//!   to the version the store describes, so the pack on disk and in the store agree again.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::fs::exchange;
use crate::lock::PackLock;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// Prefix of install staging directories in the packs directory.
pub const STAGING_PREFIX: &str = ".st2-staging-";
/// Prefix of pack directories being removed.
pub const REMOVING_PREFIX: &str = ".st2-removing-";
const OWNER_LOCK: &str = "owner.lock";

/// An install's staging directory, `.st2-staging-<pid>-<random>` beside the pack
/// directories: locked by this process while it lives, deleted when dropped.
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    _owner: File,
}

impl StagingDir {
    /// Create and claim a staging directory in `packs_dir`.
    pub fn create(packs_dir: &Path) -> std::io::Result<StagingDir> {
        let path = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .tempdir_in(packs_dir)?
            .keep();
        let claimed = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join(OWNER_LOCK))
            .and_then(|file| file.try_lock().map_err(std::io::Error::from).map(|()| file));
        match claimed {
            Ok(file) => Ok(StagingDir { path, _owner: file }),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&path);
                Err(err)
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        // The lock file goes last, so that a process killed while deleting leaves a directory
        // that is recognisably abandoned.
        if let Ok(entries) = std::fs::read_dir(&self.path) {
            for entry in entries.flatten() {
                if entry.file_name() != OWNER_LOCK {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Remove the staging and removal directories in `packs_dir` whose process is gone.
pub fn remove_abandoned(packs_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(packs_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let abandoned = if name.starts_with(STAGING_PREFIX) {
            staging_abandoned(&entry.path())
        } else if let Some(rest) = name.strip_prefix(REMOVING_PREFIX) {
            rest.rsplit_once('-')
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !crate::execution::process_alive(pid))
        } else {
            false
        };
        if abandoned {
            tracing::debug!(
                "removing {} left by a killed command",
                entry.path().display()
            );
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn staging_abandoned(staging: &Path) -> bool {
    match File::open(staging.join(OWNER_LOCK)) {
        Ok(file) => matches!(file.try_lock(), Ok(())),
        // Not claimed yet (or its process was killed before it could): by the pid in the name.
        Err(_) => staging
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix(STAGING_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
            .is_none_or(|pid| !crate::execution::process_alive(pid)),
    }
}

/// Roll back installs that died between moving their directory into place and registering
/// it (see the module doc). Returns a warning per pack rolled back.
pub fn recover_interrupted(
    settings: &Settings,
    store: &mut Store,
) -> Result<Vec<String>, StoreError> {
    let mut warnings = Vec::new();
    for swap in store.pending_swaps()? {
        // The install holds this lock from before the swap until after the registration.
        let lock = match PackLock::try_acquire(&settings.locks_dir(), &swap.pack_ref) {
            Ok(Some(lock)) => lock,
            Ok(None) | Err(_) => continue,
        };
        // The lock may have been taken by an install that started after the swap was undone.
        if !store.pending_swaps()?.contains(&swap) {
            continue;
        }
        let final_dir = settings.pack_dir(&swap.pack_ref);
        let swapped =
            std::fs::symlink_metadata(&final_dir).is_ok_and(|meta| meta.ino() == swap.new_inode);
        let previous = swap.staging.join("pack");
        if swapped {
            let undone = if previous.exists() {
                exchange(&previous, &final_dir)
            } else {
                std::fs::rename(&final_dir, &previous)
            };
            if let Err(err) = undone {
                warnings.push(format!(
                    "pack {}: an interrupted install left {} unregistered and it could not be \
                     rolled back ({err}); run `st2 pack install` for it again",
                    swap.pack_ref,
                    final_dir.display()
                ));
                continue;
            }
            warnings.push(format!(
                "pack {}: rolled back an install that was interrupted before it was registered",
                swap.pack_ref
            ));
        }
        let _ = std::fs::remove_dir_all(&swap.staging);
        store.end_swap(&swap.pack_ref)?;
        drop(lock);
    }
    Ok(warnings)
}

//! Cleaning up after installs and removals that were killed (SIGKILL, power cut of the
//! process, OOM killer, a second Ctrl-C) part way.
//!
//! - An install stages the pack in `.st2-staging-<pid>-<random>` beside the pack directories,
//!   and the virtualenv it builds in a directory of the same name beside the virtualenvs. It
//!   holds a lock on `owner.lock` inside each for as long as it runs. A staging directory whose
//!   lock is free (or, not yet claimed, whose process is gone) belongs to a dead install and is
//!   removed.
//! - `st2 pack remove` moves the pack (and its virtualenv) aside to `.st2-removing-<ref>-<pid>`,
//!   unregisters it, drops its `packs.lock` entry, then deletes what it moved aside. One whose
//!   process is gone is put back when the pack is still registered (the removal died before
//!   its commit point, the store write), and otherwise finished: the lock entry dropped, the
//!   directories deleted.
//! - A virtualenv build of `st2ctl reload --register-setup-virtualenvs` killed part way leaves
//!   `.staging-<ref>-*` beside the virtualenvs; [`crate::venv::remove_leftovers`] removes it.
//! - An install killed between swapping its directories into place (virtualenv, then pack) and
//!   registering the pack leaves a journal record in the store ([`crate::store::PendingSwap`]).
//!   Both are swapped back to the version the store describes, and the pack's `packs.lock`
//!   entry is restored from the copy the install kept in its staging directory, so the pack
//!   on disk, its virtualenv, the store and the lock file agree again.
//!
//! [`recover_interrupted`] does all of it; every command that reads or writes packs calls it
//! first (`st2 pack install/list/get/remove/register`, `st2ctl reload`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fs::exchange;
use crate::lock::PackLock;
use crate::pack::lockfile::{self, LockFileGuard};
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// Prefix of install staging directories in the packs and virtualenvs directories.
pub(crate) const STAGING_PREFIX: &str = ".st2-staging-";
/// Prefix of pack directories being removed.
pub(crate) const REMOVING_PREFIX: &str = ".st2-removing-";
const OWNER_LOCK: &str = "owner.lock";
/// In a pack's staging directory: the pack's lock file entry before the install (restored
/// when the install is rolled back).
pub(crate) const PREVIOUS_LOCK_ENTRY: &str = "lock-previous.toml";
/// In a virtualenv staging directory: the inode of the new virtualenv, written before it is
/// swapped into place, which tells recovery whether the swap happened.
const NEW_INODE: &str = "new-inode";
/// A staging directory whose lock is free is still spared this long when its process is
/// alive: it may be between creating the directory and locking it.
const CLAIM_GRACE: Duration = Duration::from_secs(60);

/// An install's staging directory, `.st2-staging-<pid>-<random>`: locked by this process
/// while it lives, deleted when dropped.
#[derive(Debug)]
pub(crate) struct StagingDir {
    path: PathBuf,
    _owner: File,
}

impl StagingDir {
    /// Create and claim a staging directory in `packs_dir`.
    pub(crate) fn create(packs_dir: &Path) -> std::io::Result<StagingDir> {
        let path = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .tempdir_in(packs_dir)?
            .keep();
        StagingDir::claim(path)
    }

    /// Create and claim the staging directory in `dir` that goes with `pack_staging` (the
    /// same name): where that install builds its virtualenv, found again by recovery from the
    /// journal record, which names the pack's.
    pub(crate) fn create_beside(
        pack_staging: &StagingDir,
        dir: &Path,
    ) -> std::io::Result<StagingDir> {
        let name = pack_staging
            .path
            .file_name()
            .expect("staging directories have a name");
        std::fs::create_dir_all(dir)?;
        let path = dir.join(name);
        std::fs::create_dir(&path)?;
        StagingDir::claim(path)
    }

    fn claim(path: PathBuf) -> std::io::Result<StagingDir> {
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
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Record, before swapping it into place, the inode of the virtualenv built at
    /// `built` (inside this directory), for [`recover_interrupted`].
    pub(crate) fn record_new_inode(&self, built: &Path) -> std::io::Result<()> {
        let inode = std::fs::symlink_metadata(built)?.ino();
        let path = self.path.join(NEW_INODE);
        std::fs::write(&path, inode.to_string())?;
        File::open(&path)?.sync_all()
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

/// Remove the staging directories in `dir` (the packs or the virtualenvs directory) whose
/// process is gone, except those named in `keep`.
fn remove_abandoned_dirs(dir: &Path, keep: &[std::ffi::OsString]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if keep.contains(&name) {
            continue;
        }
        let name = name.to_string_lossy();
        let abandoned = name.starts_with(STAGING_PREFIX) && staging_abandoned(&entry.path());
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
    let pid_alive = || {
        staging
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix(STAGING_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
            .is_some_and(crate::sys::process_alive)
    };
    let lock = staging.join(OWNER_LOCK);
    match File::open(&lock) {
        // Free, and not one being claimed right now (created, not locked yet) by a live
        // process; a live pid long after creation is another process that reused it.
        Ok(file) => {
            matches!(file.try_lock(), Ok(()))
                && (!pid_alive()
                    || std::fs::metadata(&lock)
                        .and_then(|meta| meta.modified())
                        .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > CLAIM_GRACE)))
        }
        // Not claimed yet (or its process was killed before it could): by the pid in the name.
        Err(_) => !pid_alive(),
    }
}

/// Clean up after commands that were killed (see the module doc): roll back installs that
/// died between moving their directories into place and registering the pack, then remove
/// the staging directories and virtualenv builds nobody owns any more. Returns a warning per
/// pack rolled back.
pub(crate) fn recover_interrupted(
    settings: &Settings,
    store: &mut Store,
) -> Result<Vec<String>, StoreError> {
    let mut warnings = Vec::new();
    roll_back(settings, store, &mut warnings)?;
    recover_removals(settings, Some(store), &mut warnings)?;
    // Those an install still holds: their staging directories hold its previous versions.
    let pending: Vec<_> = store
        .pending_swaps()?
        .into_iter()
        .filter_map(|swap| swap.staging.file_name().map(|name| name.to_os_string()))
        .collect();
    remove_abandoned_in(settings, &pending);
    Ok(warnings)
}

/// [`recover_interrupted`] where there is no store yet (nothing was ever registered, so
/// there is nothing to roll back): remove what killed installs and builds left.
pub(crate) fn remove_abandoned(settings: &Settings) {
    let _ = recover_removals(settings, None, &mut Vec::new());
    remove_abandoned_in(settings, &[]);
}

/// The pack name and pid of a `.st2-removing-<name>-<pid>` directory whose process is gone.
fn dead_removal(name: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix(REMOVING_PREFIX)?;
    let (pack, pid) = rest.rsplit_once('-')?;
    let pid = pid.parse::<u32>().ok()?;
    (!crate::sys::process_alive(pid)).then(|| (pack.to_string(), pid))
}

/// Finish or undo removals whose process died (see the module's doc).
fn recover_removals(
    settings: &Settings,
    store: Option<&mut Store>,
    warnings: &mut Vec<String>,
) -> Result<(), StoreError> {
    // By pack: where each moved-aside directory goes back to.
    let mut found: std::collections::BTreeMap<String, Vec<(PathBuf, PathBuf)>> =
        std::collections::BTreeMap::new();
    for (dir, is_venvs) in [
        (settings.packs_dir().to_path_buf(), false),
        (settings.virtualenvs_dir(), true),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some((pack, _)) = dead_removal(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let home = if is_venvs {
                settings.venv_dir(&pack)
            } else {
                settings.pack_dir(&pack)
            };
            found.entry(pack).or_default().push((entry.path(), home));
        }
    }
    let store = store.map(|store| &*store);
    for (pack, asides) in found {
        let registered = match store {
            Some(store) => store.pack(&pack)?.is_some(),
            None => false,
        };
        if registered {
            for (aside, home) in &asides {
                if home.exists() || std::fs::rename(aside, home).is_err() {
                    let _ = std::fs::remove_dir_all(aside);
                }
            }
            warnings.push(format!(
                "pack {pack}: put back a removal that was interrupted before it unregistered the pack"
            ));
            continue;
        }
        let dropped = LockFileGuard::acquire(&settings.locks_dir(), &settings.lock_file())
            .and_then(|guard| guard.update(&[(pack.clone(), None)]));
        if let Err(err) = dropped {
            warnings.push(format!(
                "pack {pack}: an interrupted removal left its packs.lock entry ({err})"
            ));
            continue;
        }
        for (aside, _) in &asides {
            tracing::debug!("removing {} left by a killed removal", aside.display());
            let _ = std::fs::remove_dir_all(aside);
        }
    }
    Ok(())
}

fn remove_abandoned_in(settings: &Settings, keep: &[std::ffi::OsString]) {
    remove_abandoned_dirs(settings.packs_dir(), keep);
    let virtualenvs = settings.virtualenvs_dir();
    remove_abandoned_dirs(&virtualenvs, keep);
    crate::venv::remove_leftovers(&virtualenvs);
}

fn roll_back(
    settings: &Settings,
    store: &mut Store,
    warnings: &mut Vec<String>,
) -> Result<(), StoreError> {
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
        let mut rolled_back = false;
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
            rolled_back = true;
        }
        // Its virtualenv, built beside the virtualenvs in a directory named as the pack's
        // staging directory, is swapped back too.
        let venv_staging = swap
            .staging
            .file_name()
            .map(|name| settings.virtualenvs_dir().join(name));
        if let Some(venv_staging) = &venv_staging {
            match roll_back_venv(venv_staging, &settings.venv_dir(&swap.pack_ref)) {
                Ok(undone) => rolled_back |= undone,
                Err(err) => {
                    warnings.push(format!(
                        "pack {}: an interrupted install left the virtualenv {} of the new \
                         version and it could not be rolled back ({err}); run `st2ctl reload \
                         --register-recreate-virtualenvs`",
                        swap.pack_ref,
                        settings.venv_dir(&swap.pack_ref).display()
                    ));
                }
            }
        }
        // Its lock file entry, as the install found it (kept in its staging directory).
        let saved = swap.staging.join(PREVIOUS_LOCK_ENTRY);
        if let Some(previous) = lockfile::load_previous(&saved, &swap.pack_ref) {
            let restored = LockFileGuard::acquire(&settings.locks_dir(), &settings.lock_file())
                .and_then(|guard| guard.update(&[(swap.pack_ref.clone(), previous)]));
            if let Err(err) = restored {
                warnings.push(format!(
                    "pack {}: an interrupted install's packs.lock entry could not be restored \
                     ({err}); it will be tried again",
                    swap.pack_ref
                ));
                continue;
            }
        }
        if rolled_back {
            warnings.push(format!(
                "pack {}: rolled back an install that was interrupted before it was registered",
                swap.pack_ref
            ));
        }
        let _ = std::fs::remove_dir_all(&swap.staging);
        if let Some(venv_staging) = venv_staging {
            let _ = std::fs::remove_dir_all(venv_staging);
        }
        store.end_swap(&swap.pack_ref)?;
        drop(lock);
    }
    Ok(())
}

/// Swap the previous virtualenv (in `staging/venv`, or none) back into `final_dir` when the
/// install's new one is there (its inode recorded in `staging`). Whether it did.
fn roll_back_venv(staging: &Path, final_dir: &Path) -> std::io::Result<bool> {
    let Ok(recorded) = std::fs::read_to_string(staging.join(NEW_INODE)) else {
        return Ok(false);
    };
    let Ok(new_inode) = recorded.trim().parse::<u64>() else {
        return Ok(false);
    };
    let swapped = std::fs::symlink_metadata(final_dir).is_ok_and(|meta| meta.ino() == new_inode);
    if !swapped {
        return Ok(false);
    }
    let previous = staging.join("venv");
    if previous.exists() {
        exchange(&previous, final_dir)?;
    } else {
        std::fs::rename(final_dir, &previous)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_dirs_are_abandoned_only_when_their_owner_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let live = StagingDir::create(dir.path()).unwrap();
        let beside = StagingDir::create_beside(&live, &dir.path().join("venvs")).unwrap();
        assert_eq!(live.path().file_name(), beside.path().file_name());
        // Held by this process: never abandoned.
        assert!(!staging_abandoned(live.path()));
        // Unclaimed, of a process that does not exist.
        let dead = dir.path().join(format!("{STAGING_PREFIX}999999999-x"));
        std::fs::create_dir(&dead).unwrap();
        assert!(staging_abandoned(&dead));
        // Lock free but freshly made by a live process (between create and claim): spared.
        let fresh = dir
            .path()
            .join(format!("{STAGING_PREFIX}{}-y", std::process::id()));
        std::fs::create_dir(&fresh).unwrap();
        std::fs::write(fresh.join(OWNER_LOCK), "").unwrap();
        assert!(!staging_abandoned(&fresh));
        remove_abandoned_dirs(dir.path(), &[]);
        assert!(live.path().exists() && fresh.exists() && !dead.exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }

    #[test]
    fn a_venv_swap_is_undone_only_when_it_happened() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        let final_dir = dir.path().join("venv-final");
        std::fs::create_dir_all(staging.join("venv")).unwrap();
        std::fs::write(staging.join("venv/new"), "").unwrap();
        std::fs::create_dir(&final_dir).unwrap();
        std::fs::write(final_dir.join("old"), "").unwrap();
        let inode = std::fs::metadata(staging.join("venv")).unwrap().ino();
        std::fs::write(staging.join(NEW_INODE), inode.to_string()).unwrap();
        // Not swapped yet: nothing to do.
        assert!(!roll_back_venv(&staging, &final_dir).unwrap());
        assert!(final_dir.join("old").exists());
        exchange(&staging.join("venv"), &final_dir).unwrap();
        assert!(roll_back_venv(&staging, &final_dir).unwrap());
        assert!(final_dir.join("old").exists() && staging.join("venv/new").exists());
        // A first virtualenv (none before) is moved out of the way.
        std::fs::remove_dir_all(&final_dir).unwrap();
        std::fs::rename(staging.join("venv"), &final_dir).unwrap();
        assert!(roll_back_venv(&staging, &final_dir).unwrap());
        assert!(!final_dir.exists() && staging.join("venv/new").exists());
    }
}

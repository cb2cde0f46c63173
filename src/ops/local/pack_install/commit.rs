//! Phase 4, commit: every prepared pack moved into place at once, under their locks. The
//! swaps are journalled in the store first; then each new virtualenv and staged pack
//! directory is swapped in (`renameat2(RENAME_EXCHANGE)`), the lock file gets the packs' new
//! entries (each one's previous entry kept in its staging directory), and the packs' store
//! rows are replaced in one transaction that also deletes the journal records: the commit
//! point, all packs or none. If a step fails, what was swapped is swapped back and the lock
//! file's entries restored; if the process dies, the next command does it
//! (`ops::local::recover`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::failure::{io_error, InstallError};
use super::locked::entry_for;
use super::{Fate, PackInstall, Prepared, Venv};
use crate::fs::exchange;
use crate::lock::PackLock;
use crate::ops::local::recover::PREVIOUS_LOCK_ENTRY;
use crate::ops::packs::{InstallStep, InstalledPack};
use crate::pack::lockfile::{self, LockFileGuard, LockedPack, PacksLock};
use crate::store::{PendingSwap, ReplaceSummary, Store};
use crate::venv::VenvOutcome;

/// What was swapped into place for one pack (to undo it).
#[derive(Clone, Copy)]
struct Swapped {
    venv: Option<VenvOutcome>,
    /// The directory was exchanged with a previous version (else renamed into an empty place).
    exchanged: bool,
}

impl PackInstall<'_> {
    /// Phase 4: move every prepared pack (and its new virtualenv) into place and register
    /// them, all or none, under their locks.
    pub(super) fn commit_all(
        &mut self,
        store: &mut Store,
        mut plan: Vec<Prepared>,
    ) -> Result<Vec<InstalledPack>, InstallError> {
        // In ref order, so that two installs of overlapping packs never wait in a circle.
        let mut refs: Vec<String> = plan.iter().map(|p| p.pack_ref.clone()).collect();
        refs.sort();
        refs.dedup();
        let progress = self.progress;
        let locks_dir = self.settings.locks_dir();
        let mut _locks = Vec::new();
        for pack_ref in &refs {
            _locks.push(
                PackLock::acquire(&locks_dir, pack_ref, || progress.waiting_for_lock(pack_ref))
                    .map_err(io_error("lock", &locks_dir))?,
            );
        }
        let lock_file = self.settings.lock_file();
        // Read under the packs' locks: their entries cannot change meanwhile.
        let current = PacksLock::read(&lock_file)?.unwrap_or_default();
        let mut previous: Vec<(String, Option<LockedPack>)> = Vec::new();
        for prepared in &plan {
            self.current = Some(prepared.pack_ref.clone());
            progress.start(
                &prepared.pack_ref,
                InstallStep::Register,
                "moving into place",
            );
            let final_dir = self.settings.pack_dir(&prepared.pack_ref);
            let staged = prepared.staged_dir();
            carry_pack_local_config(&final_dir, &staged)?;
            make_group_writable(&staged, self.settings.pack_group.as_deref());
            let entry = current.packs.get(&prepared.pack_ref);
            let saved = prepared.staging.path().join(PREVIOUS_LOCK_ENTRY);
            lockfile::save_previous(entry, &saved).map_err(io_error("write", &saved))?;
            previous.push((prepared.pack_ref.clone(), entry.cloned()));
        }

        let mut swapped: Vec<Swapped> = Vec::new();
        for prepared in &plan {
            self.current = Some(prepared.pack_ref.clone());
            match self.swap_in(store, prepared) {
                Ok(done) => swapped.push(done),
                Err(err) => {
                    undo_swaps(store, &plan, &swapped);
                    return Err(err);
                }
            }
        }
        let entries: Vec<(String, Option<LockedPack>)> = plan
            .iter()
            .map(|prepared| (prepared.pack_ref.clone(), Some(entry_for(prepared))))
            .collect();
        let guard = LockFileGuard::acquire(&locks_dir, &lock_file)
            .and_then(|guard| guard.update(&entries).map(|()| guard));
        let guard = match guard {
            Ok(guard) => guard,
            Err(err) => {
                undo_swaps(store, &plan, &swapped);
                return Err(err.into());
            }
        };
        crate::failpoint::hit("install-after-lock");
        // Registering also deletes the journal records, in the same transaction.
        let registrations: Vec<_> = plan
            .iter()
            .map(|prepared| (&prepared.loaded.registration, prepared.config.as_ref()))
            .collect();
        let summaries = match store.replace_packs(&registrations) {
            Ok(summaries) => summaries,
            Err(err) => {
                // Put the previous versions (or nothing) back: the store still describes them.
                if let Err(lock_err) = guard.update(&previous) {
                    tracing::warn!("could not restore packs.lock: {lock_err}");
                }
                undo_swaps(store, &plan, &swapped);
                return Err(err.into());
            }
        };
        drop(guard);
        crate::failpoint::hit("install-after-register");
        let mut installed = Vec::new();
        for ((prepared, summary), done) in plan.iter_mut().zip(summaries).zip(swapped) {
            let pack_ref = prepared.pack_ref.clone();
            let final_dir = self.settings.pack_dir(&pack_ref);
            let counts: BTreeMap<String, u64> =
                store.content_counts(&pack_ref)?.into_iter().collect();
            self.progress.done(
                &pack_ref,
                InstallStep::Register,
                &format!("{}", final_dir.display()),
            );
            installed.push(installed_pack(
                prepared, &final_dir, done.venv, counts, summary,
            ));
            self.set_fate(&pack_ref, Fate::Installed);
        }
        // After the swaps, the staging directories hold the previous versions; dropping
        // `plan` deletes those.
        Ok(installed)
    }

    /// Journal one pack's swap, then swap its new virtualenv and directory into place; on
    /// failure, what this did for the pack is undone.
    fn swap_in(&self, store: &mut Store, prepared: &Prepared) -> Result<Swapped, InstallError> {
        let final_dir = self.settings.pack_dir(&prepared.pack_ref);
        let staged = prepared.staged_dir();
        journal_swap(store, prepared)?;
        let venv = swap_virtualenv_in(store, prepared)?;
        crate::failpoint::hit("install-after-venv-swap");
        let exchanged = match swap_into_place(&staged, &final_dir) {
            Ok(exchanged) => exchanged,
            Err(err) => {
                if undo_virtualenv_swap(prepared, venv) {
                    let _ = store.end_swap(&prepared.pack_ref);
                }
                return Err(err);
            }
        };
        crate::failpoint::hit("install-after-swap");
        Ok(Swapped { venv, exchanged })
    }
}

/// Swap back what [`PackInstall::swap_in`] did for the first `swapped.len()` packs of
/// `plan`, last first, and drop their journal records.
fn undo_swaps(store: &mut Store, plan: &[Prepared], swapped: &[Swapped]) {
    for (prepared, done) in plan.iter().zip(swapped).rev() {
        let final_dir_undone = undo_swap(
            &prepared.staged_dir(),
            &prepared_final_dir(prepared),
            done.exchanged,
        )
        .is_ok();
        if final_dir_undone && undo_virtualenv_swap(prepared, done.venv) {
            let _ = store.end_swap(&prepared.pack_ref);
        }
    }
}

/// Where a prepared pack goes (its registration records it).
fn prepared_final_dir(prepared: &Prepared) -> std::path::PathBuf {
    prepared.loaded.registration.pack.path.clone()
}

/// Upstream carries a pack-local config.yaml over to the new version.
fn carry_pack_local_config(final_dir: &Path, staged: &Path) -> Result<(), InstallError> {
    let old_config = final_dir.join("config.yaml");
    if old_config.is_file() && !staged.join("config.yaml").exists() {
        std::fs::copy(&old_config, staged.join("config.yaml"))
            .map_err(io_error("copy", &old_config))?;
    }
    Ok(())
}

/// Journal the swap first: if this process dies before the registration commits, the next
/// command swaps the previous version (of the pack and of its virtualenv) back
/// (`recover::recover_interrupted`).
fn journal_swap(store: &mut Store, prepared: &Prepared) -> Result<(), InstallError> {
    let staged = prepared.staged_dir();
    let new_inode = std::fs::metadata(&staged)
        .map_err(io_error("read", &staged))?
        .ino();
    if let Venv::Built { staged, staging } = &prepared.virtualenv {
        staging
            .record_new_inode(staged.path())
            .map_err(io_error("write to", staging.path()))?;
    }
    store.begin_swap(&PendingSwap {
        pack_ref: prepared.pack_ref.clone(),
        staging: prepared.staging.path().to_path_buf(),
        new_inode,
    })?;
    Ok(())
}

/// Swap the newly built virtualenv into place, if one was built; on failure the journal
/// record is dropped (nothing was swapped).
fn swap_virtualenv_in(
    store: &mut Store,
    prepared: &Prepared,
) -> Result<Option<VenvOutcome>, InstallError> {
    match &prepared.virtualenv {
        Venv::Built { staged, .. } => match staged.swap_in() {
            Ok(outcome) => Ok(Some(outcome)),
            Err(err) => {
                let _ = store.end_swap(&prepared.pack_ref);
                Err(InstallError::Venv {
                    pack: prepared.pack_ref.clone(),
                    message: err.to_string(),
                    offline: false,
                })
            }
        },
        Venv::Unchanged(_) => Ok(None),
    }
}

/// Swap the previous virtualenv back, if a new one was swapped in; whether that worked.
fn undo_virtualenv_swap(prepared: &Prepared, venv_swapped: Option<VenvOutcome>) -> bool {
    if let (Venv::Built { staged, .. }, Some(outcome)) = (&prepared.virtualenv, venv_swapped) {
        staged.swap_back(outcome).is_ok()
    } else {
        true
    }
}

/// The answer for a pack committed: its metadata, where it is, what it holds, its
/// virtualenv's fate, what the registration removed, and its warnings.
fn installed_pack(
    prepared: &mut Prepared,
    final_dir: &Path,
    venv_swapped: Option<VenvOutcome>,
    content: BTreeMap<String, u64>,
    removed: ReplaceSummary,
) -> InstalledPack {
    let unsupported = prepared.loaded.unsupported_runners_warning();
    let warnings = std::mem::take(&mut prepared.loaded.warnings)
        .into_iter()
        .chain(prepared.loaded.manifest.warnings())
        .chain(unsupported)
        .collect();
    let virtualenv = match (&prepared.virtualenv, venv_swapped) {
        (Venv::Unchanged(what), _) => what.to_string(),
        (_, Some(outcome)) => outcome.as_str().to_string(),
        (_, None) => "created".to_string(),
    };
    let manifest = &prepared.loaded.manifest;
    InstalledPack {
        pack_ref: prepared.pack_ref.clone(),
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        author: manifest.author.clone(),
        email: manifest.email.clone(),
        keywords: manifest.keywords.clone(),
        path: final_dir.to_path_buf(),
        source: prepared.source.clone(),
        dependency_of: prepared.dependency_of.clone(),
        content,
        virtualenv,
        removed,
        warnings,
    }
}

/// Whether [`swap_into_place`] exchanged two directories (true) or renamed into an empty
/// place (false).
fn swap_into_place(staged: &Path, final_dir: &Path) -> Result<bool, InstallError> {
    if final_dir.exists() {
        exchange(staged, final_dir).map_err(io_error("replace", final_dir))?;
        Ok(true)
    } else {
        std::fs::rename(staged, final_dir).map_err(io_error("move into", final_dir))?;
        Ok(false)
    }
}

fn undo_swap(staged: &Path, final_dir: &Path, swapped: bool) -> std::io::Result<()> {
    if swapped {
        exchange(staged, final_dir)
    } else {
        std::fs::rename(final_dir, staged)
    }
}

/// Packs are shared with the group that may edit them (upstream: 775 and `[content]
/// pack_group`). We add group write without touching the other bits, so file modes from git
/// (the executable bit of scripts) stay as they are.
fn make_group_writable(dir: &Path, group: Option<&str>) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let gid = group.and_then(group_id);
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_symlink() {
            continue;
        }
        if let Ok(metadata) = entry.metadata() {
            let mode = metadata.mode() | 0o020;
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode));
        }
        if let Some(gid) = gid {
            let _ = std::os::unix::fs::chown(entry.path(), None, Some(gid));
        }
    }
}

fn group_id(name: &str) -> Option<u32> {
    crate::sys::group_id(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_directories() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("new"), "").unwrap();
        std::fs::write(b.join("old"), "").unwrap();
        exchange(&a, &b).unwrap();
        assert!(b.join("new").exists() && a.join("old").exists());
    }
}

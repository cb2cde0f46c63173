//! Phase 4, commit: each prepared pack, dependencies first, moved into place under its lock.
//! The swap is journalled in the store first; then the new virtualenv and the staged pack
//! directory are swapped in (`renameat2(RENAME_EXCHANGE)`), and the pack's store rows are
//! replaced in one transaction that also deletes the journal record. If a step fails, what was
//! swapped is swapped back; if the process dies, the next command does it
//! (`ops::local::recover`).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::failure::{io_error, InstallError};
use super::{PackInstall, Prepared, Venv};
use crate::fs::exchange;
use crate::lock::PackLock;
use crate::ops::packs::{InstallStep, InstalledPack};
use crate::store::{PendingSwap, ReplaceSummary, Store};
use crate::venv::VenvOutcome;

impl PackInstall<'_> {
    /// Move a prepared pack (and its new virtualenv) into place and register it, under its
    /// lock.
    pub(super) fn commit(
        &mut self,
        store: &mut Store,
        mut prepared: Prepared,
    ) -> Result<InstalledPack, InstallError> {
        let pack_ref = prepared.pack_ref.clone();
        self.progress
            .start(&pack_ref, InstallStep::Register, "moving into place");
        let progress = self.progress;
        let _lock = PackLock::acquire(&self.settings.locks_dir(), &pack_ref, || {
            progress.waiting_for_lock(&pack_ref)
        })
        .map_err(io_error("lock", &self.settings.locks_dir()))?;

        let final_dir = self.settings.pack_dir(&pack_ref);
        let staged = prepared.staged_dir();
        carry_pack_local_config(&final_dir, &staged)?;
        make_group_writable(&staged, self.settings.pack_group.as_deref());

        journal_swap(store, &prepared)?;
        let venv_swapped = swap_virtualenv_in(store, &prepared)?;
        crate::failpoint::hit("install-after-venv-swap");
        let swapped = match swap_into_place(&staged, &final_dir) {
            Ok(swapped) => swapped,
            Err(err) => {
                if undo_virtualenv_swap(&prepared, venv_swapped) {
                    let _ = store.end_swap(&pack_ref);
                }
                return Err(err);
            }
        };
        crate::failpoint::hit("install-after-swap");
        // Registering also deletes the journal record, in the same transaction.
        let stored =
            store.replace_pack_with_config(&prepared.loaded.registration, prepared.config.as_ref());
        let summary = match stored {
            Ok(summary) => summary,
            Err(err) => {
                // Put the previous version (or nothing) back: the store still describes it.
                if undo_swap(&staged, &final_dir, swapped).is_ok()
                    && undo_virtualenv_swap(&prepared, venv_swapped)
                {
                    let _ = store.end_swap(&pack_ref);
                }
                return Err(err.into());
            }
        };
        crate::failpoint::hit("install-after-register");
        let counts: BTreeMap<String, u64> = store.content_counts(&pack_ref)?.into_iter().collect();
        self.progress.done(
            &pack_ref,
            InstallStep::Register,
            &format!("{}", final_dir.display()),
        );
        // After the swaps, the staging directories hold the previous versions; dropping
        // `prepared` at the end deletes those.
        Ok(installed_pack(
            &mut prepared,
            &final_dir,
            venv_swapped,
            counts,
            summary,
        ))
    }
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

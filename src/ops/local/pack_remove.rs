//! `st2 pack remove`: the pack directory, its virtualenv, and everything registered for it.
//! The user's config file (`configs/<ref>.yaml`) is kept, as upstream keeps it.
//!
//! In order, under the pack's lock: the directories are moved aside (atomic renames), the
//! store rows dropped (the commit point), the pack's `packs.lock` entry dropped, and what was
//! moved aside deleted. A process killed part way has the removal undone (before the commit
//! point) or finished (after it) by the next command (`recover`).

use std::path::{Path, PathBuf};

use super::recover;
use crate::lock::PackLock;
use crate::ops::packs::{PackRemoval, RemoveProgress};
use crate::pack::lockfile::LockFileGuard;
use crate::pack::PackRef;
use crate::settings::{io_reason, Settings};
use crate::store::Store;

/// Remove `packs` one after the other (the local side of
/// [`PackOps::remove_packs`](crate::ops::PackOps::remove_packs)).
pub(crate) fn remove_packs(
    settings: &Settings,
    packs: &[String],
    progress: &dyn RemoveProgress,
) -> anyhow::Result<Vec<(String, PackRemoval)>> {
    let (mut store, warnings) = super::open_store(settings)?;
    for warning in &warnings {
        progress.warning(warning);
    }
    let mut removals = Vec::new();
    for name in packs {
        let removal = match PackRef::parse(name) {
            None => Ok(None),
            Some(pack_ref) => remove_one(&pack_ref, settings, store.as_mut(), progress),
        };
        let removal = match removal {
            Ok(Some(what)) => PackRemoval::Removed(what),
            Ok(None) => PackRemoval::NotInstalled,
            Err(err) => PackRemoval::Failed(format!("{err:#}")),
        };
        progress.finished(name, &removal);
        removals.push((name.clone(), removal));
    }
    Ok(removals)
}

fn remove_one(
    pack_ref: &PackRef,
    settings: &Settings,
    store: Option<&mut Store>,
    progress: &dyn RemoveProgress,
) -> anyhow::Result<Option<Vec<String>>> {
    let pack_dir = settings.pack_dir(pack_ref);
    let venv_dir = settings.venv_dir(pack_ref);
    let registered = match &store {
        Some(store) => store.pack(pack_ref)?.is_some(),
        None => false,
    };
    if !registered && !pack_dir.exists() {
        // Not installed, but locked (a lock file copied from elsewhere): the entry goes.
        let guard = LockFileGuard::acquire(&settings.locks_dir(), &settings.lock_file())?;
        if guard.read()?.packs.contains_key(&**pack_ref) {
            guard.update(&[(pack_ref.to_string(), None)])?;
            return Ok(Some(vec!["packs.lock entry".into()]));
        }
        return Ok(None);
    }
    settings.ensure_writable()?;
    let _lock = PackLock::acquire(&settings.locks_dir(), pack_ref, || {
        progress.waiting_for_lock(pack_ref)
    })?;

    // Move the directories aside first (atomic renames), then drop the store rows, then
    // delete: a failure before the store write puts everything back.
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut what = Vec::new();
    for (dir, label) in [(&pack_dir, "directory"), (&venv_dir, "virtualenv")] {
        if dir.exists() {
            match move_aside(dir) {
                Ok(aside) => {
                    moved.push((dir.clone(), aside));
                    what.push(label.to_string());
                }
                Err(err) => {
                    restore(&moved);
                    return Err(err);
                }
            }
        }
    }
    crate::failpoint::hit("remove-after-move");
    if let Some(store) = store {
        match store.remove_pack(pack_ref) {
            Ok(true) => what.push("registered content".into()),
            Ok(false) => {}
            Err(err) => {
                restore(&moved);
                return Err(err.into());
            }
        }
    }
    crate::failpoint::hit("remove-after-unregister");
    let dropped = LockFileGuard::acquire(&settings.locks_dir(), &settings.lock_file())
        .and_then(|guard| guard.update(&[(pack_ref.to_string(), None)]));
    if let Err(err) = dropped {
        // What was moved aside stays: the next command drops the entry, then deletes it.
        progress.warning(&format!(
            "pack {pack_ref} was removed, but its packs.lock entry could not be dropped ({err}); \
             the next st2 pack command will"
        ));
        return Ok(Some(what));
    }
    for (_, aside) in &moved {
        if let Err(err) = std::fs::remove_dir_all(aside) {
            progress.warning(&format!(
                "could not delete {}: {}",
                aside.display(),
                io_reason(&err)
            ));
        }
    }
    Ok(Some(what))
}

fn move_aside(dir: &Path) -> anyhow::Result<PathBuf> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = parent.join(format!(
        "{}{name}-{}",
        recover::REMOVING_PREFIX,
        std::process::id()
    ));
    std::fs::rename(dir, &aside)
        .map_err(|err| anyhow::anyhow!("cannot move {}: {}", dir.display(), io_reason(&err)))?;
    Ok(aside)
}

fn restore(moved: &[(PathBuf, PathBuf)]) {
    for (original, aside) in moved.iter().rev() {
        let _ = std::fs::rename(aside, original);
    }
}

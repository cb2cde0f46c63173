//! Advisory file locks that serialize work on one pack across processes (two
//! `st2 pack install twitter` at once), while work on different packs proceeds in parallel.
//!
//! Upstream locks a file in `/tmp` named after the URL, and `--force` deletes it (PR st2#1020),
//! which lets two installs race. Ours are OS locks (`flock`): released when the process dies,
//! so there is never a stale lock to delete.
//!
//! [`FileLock`] is the same lock on a file of the caller's choosing (a virtualenv's build lock).

use std::fs::{File, OpenOptions};
use std::path::Path;

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct PackLock {
    file: File,
}

impl PackLock {
    /// Take the lock for `pack_ref` in `locks_dir`, waiting for another holder if there is one;
    /// `on_wait` is called once before waiting so the user knows why nothing happens.
    pub(crate) fn acquire(
        locks_dir: &Path,
        pack_ref: &str,
        on_wait: impl FnOnce(),
    ) -> std::io::Result<PackLock> {
        let file = open(locks_dir, pack_ref)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock()?;
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(err),
        }
        Ok(PackLock { file })
    }

    /// Take the lock for `pack_ref` if nobody holds it; `None` when another process does.
    pub(crate) fn try_acquire(
        locks_dir: &Path,
        pack_ref: &str,
    ) -> std::io::Result<Option<PackLock>> {
        let file = open(locks_dir, pack_ref)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(PackLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(err),
        }
    }
}

/// The lock file of `pack_ref`, created if needed.
fn open(locks_dir: &Path, pack_ref: &str) -> std::io::Result<File> {
    std::fs::create_dir_all(locks_dir)?;
    open_lock_file(&locks_dir.join(format!("pack-{pack_ref}.lock")))
}

/// The lock file at `path`, created when missing (never truncated: it may be held).
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

impl Drop for PackLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// A held lock on a file of the caller's choosing; released on drop (or when the process
/// dies).
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Take the lock on `path` (created when missing), waiting for its holder.
    pub(crate) fn acquire(path: &Path) -> std::io::Result<FileLock> {
        let file = open_lock_file(path)?;
        file.lock()?;
        Ok(FileLock { file })
    }

    /// Take the lock on `path` (created when missing) if nobody holds it; `None` when another
    /// process (or another open file of this one) does.
    pub(crate) fn try_acquire(path: &Path) -> std::io::Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(err),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn second_holder_waits_and_other_packs_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let first = PackLock::acquire(dir.path(), "a", || panic!("no wait")).unwrap();
        let _other = PackLock::acquire(dir.path(), "b", || panic!("no wait")).unwrap();
        let waited = Arc::new(AtomicBool::new(false));
        let flag = waited.clone();
        let locks = dir.path().to_path_buf();
        let handle = std::thread::spawn(move || {
            PackLock::acquire(&locks, "a", || flag.store(true, Ordering::SeqCst)).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(waited.load(Ordering::SeqCst));
        assert!(PackLock::try_acquire(dir.path(), "a").unwrap().is_none());
        drop(first);
        handle.join().unwrap();
        assert!(PackLock::try_acquire(dir.path(), "a").unwrap().is_some());
    }

    #[test]
    fn a_file_lock_is_held_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = FileLock::acquire(&path).unwrap();
        assert!(FileLock::try_acquire(&path).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_acquire(&path).unwrap().is_some());
    }
}

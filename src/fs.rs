//! File helpers shared by the layers.

use std::io::Write;
use std::path::Path;

/// Replace `path` with `bytes` atomically: a temporary file in the same directory (mode 0600,
/// as `tempfile` creates it), synced, then renamed over `path`. Readers see the old file or
/// the new one, never half of it. Missing parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// Write `files` (path inside the directory, text) as the directory `dir`, unless it exists:
/// built in a staging directory beside it, then renamed into place, so that `dir` is
/// complete or absent, never half written. When another process puts it there first, its
/// copy is kept.
pub fn write_tree_once(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(parent)?;
    for (path, text) in files {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(&target, text)?;
    }
    let staged = staging.keep();
    if let Err(err) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        if !dir.is_dir() {
            return Err(err);
        }
    }
    Ok(())
}

/// Read all of `source` if it holds at most `limit` bytes; `None` when it holds more (only
/// `limit + 1` bytes are ever read, so a huge or endless source cannot fill the memory).
pub fn read_at_most(source: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    source.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Atomically exchange two paths (Linux `renameat2(RENAME_EXCHANGE)`), so that there is no
/// moment without a pack directory; elsewhere, or where the file system refuses, two renames.
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    if crate::sys::rename_exchange(a, b)? {
        return Ok(());
    }
    let aside = a.with_extension("exchange");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_tree_is_written_whole_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache/tree");
        write_tree_once(&dir, &[("a.txt", "a"), ("sub/b.txt", "b")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("sub/b.txt")).unwrap(), "b");
        // There already: left as it is.
        write_tree_once(&dir, &[("a.txt", "other")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "a");
        // No staging directory is left beside it.
        let names: Vec<_> = std::fs::read_dir(root.path().join("cache"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["tree"]);
    }

    #[test]
    fn read_at_most_stops_after_the_limit() {
        assert_eq!(read_at_most(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_at_most(&b"abcd"[..], 3).unwrap(), None);
        assert_eq!(read_at_most(std::io::repeat(b'x'), 10).unwrap(), None);
    }

    #[test]
    fn writes_private_files_and_replaces_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.yaml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}

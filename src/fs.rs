//! File helpers shared by the layers: atomic writes, directories built beside their final
//! place and swapped in, and the search of `PATH` for a program.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Random characters in the names of [`temp_dir_in`]'s directories.
const TEMP_NAME_RANDOM: usize = 8;

/// An I/O error and the path the failed step was about.
#[derive(Debug)]
pub(crate) struct PathError {
    /// The path.
    pub(crate) path: PathBuf,
    /// What went wrong.
    pub(crate) source: std::io::Error,
}

impl PathError {
    fn at(path: &Path) -> impl FnOnce(std::io::Error) -> PathError + '_ {
        move |source| PathError {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Replace `path` with `bytes` atomically: a temporary file in the same directory (mode 0600,
/// as `tempfile` creates it), synced, then renamed over `path`. Readers see the old file or
/// the new one, never half of it. Missing parent directories are created.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
pub(crate) fn write_tree_once(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
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
pub(crate) fn read_at_most(
    source: impl std::io::Read,
    limit: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    source.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Atomically exchange two paths (Linux `renameat2(RENAME_EXCHANGE)`), so that there is no
/// moment without a pack directory; elsewhere, or where the file system refuses, two renames.
pub(crate) fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    if crate::sys::rename_exchange(a, b)? {
        return Ok(());
    }
    let aside = a.with_extension("exchange");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

/// A new directory in `parent` named `<prefix><8 random letters and digits>`, removed when the
/// handle is dropped (unless kept). Builds happen in one beside their final place, so that
/// the final place is never half written; [`is_temp_name`] recognises what a killed process
/// left.
pub(crate) fn temp_dir_in(parent: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .rand_bytes(TEMP_NAME_RANDOM)
        .tempdir_in(parent)
}

/// Whether `name` is the name of a directory [`temp_dir_in`] made with `prefix`.
pub(crate) fn is_temp_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|random| {
        random.len() == TEMP_NAME_RANDOM && random.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Put the directory built in `staged` at `final_dir`: the one there (if any) is renamed
/// aside first, into a [`temp_dir_in`] directory named with `aside_prefix` beside it, and
/// deleted only once the new one is in place; if that rename fails, the old one is put back.
/// `what` names the directory in the log ("virtualenv").
pub(crate) fn replace_dir(
    staged: tempfile::TempDir,
    final_dir: &Path,
    aside_prefix: &str,
    what: &str,
) -> Result<(), PathError> {
    let parent = final_dir.parent().unwrap_or(Path::new("."));
    let old = if std::fs::symlink_metadata(final_dir).is_ok() {
        let trash = temp_dir_in(parent, aside_prefix).map_err(PathError::at(parent))?;
        let aside = trash.path().join("old");
        std::fs::rename(final_dir, &aside).map_err(PathError::at(final_dir))?;
        Some((trash, aside))
    } else {
        None
    };
    if let Err(e) = std::fs::rename(staged.path(), final_dir) {
        if let Some((trash, aside)) = old {
            if let Err(back) = std::fs::rename(&aside, final_dir) {
                // Keep the old directory where it is rather than delete it.
                let _ = trash.keep();
                tracing::error!(
                    old = %aside.display(),
                    path = %final_dir.display(),
                    error = %back,
                    "could not restore the previous {what}"
                );
            }
        }
        return Err(PathError::at(final_dir)(e));
    }
    // The staging path no longer exists; don't let TempDir's drop touch it.
    let _ = staged.keep();
    if let Some((trash, _)) = old {
        let path = trash.path().to_path_buf();
        if let Err(e) = trash.close() {
            tracing::warn!(path = %path.display(), error = %e, "could not remove the previous {what}");
        }
    }
    Ok(())
}

/// The program `name` as the shell finds it: the first executable regular file called `name`
/// in the directories of `PATH`.
pub(crate) fn find_executable(name: &str) -> Option<PathBuf> {
    find_executable_in(
        name,
        std::env::var_os(crate::settings::env::PATH).as_deref(),
    )
}

/// First executable regular file called `name` in the directories of `path_var` (a
/// `PATH`-style list; empty entries are skipped).
pub(crate) fn find_executable_in(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// What [`tree_entries`] gives for each entry of a tree: its path relative to the root
/// (`/`-separated), whether it is a symlink or a regular file, and its path on disk and
/// whether it is executable (files only).
pub(crate) enum TreeItem {
    /// A symbolic link, with what it points at.
    Symlink { relative: String, target: PathBuf },
    /// A regular file.
    File {
        relative: String,
        path: PathBuf,
        executable: bool,
    },
}

/// Every symlink and regular file below `root` as git sees a working tree (the top-level
/// `.git` left out, links not followed, directories and other kinds skipped), in walk
/// order; entries whose relative path `skip` holds for are left out.
pub(crate) fn tree_entries(
    root: &Path,
    skip: &dyn Fn(&str) -> bool,
) -> std::io::Result<Vec<TreeItem>> {
    use std::os::unix::fs::PermissionsExt;
    let mut items = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| entry.depth() != 1 || entry.file_name() != ".git");
    for entry in walk {
        let entry = entry.map_err(|err| {
            err.into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop"))
        })?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir stays under its root")
            .to_string_lossy()
            .into_owned();
        if relative.is_empty() || skip(&relative) {
            continue;
        }
        let file_type = entry.file_type();
        if file_type.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            items.push(TreeItem::Symlink { relative, target });
        } else if file_type.is_file() {
            let mode = entry
                .metadata()
                .map_err(std::io::Error::other)?
                .permissions()
                .mode();
            items.push(TreeItem::File {
                relative,
                path: entry.path().to_path_buf(),
                executable: mode & 0o100 != 0,
            });
        }
    }
    Ok(items)
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
    fn temp_names_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let made = temp_dir_in(dir.path(), ".staging-a-").unwrap();
        let name = made.path().file_name().unwrap().to_str().unwrap();
        assert!(is_temp_name(name, ".staging-a-"));
        assert!(!is_temp_name(name, ".staging-b-"));
        assert!(!is_temp_name(".staging-a-short", ".staging-a-"));
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

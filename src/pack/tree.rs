//! The files of an installed pack, for the lock file's `tree` hash and for `st2 pack verify`:
//! every file by its path, executable bit and content (`sha256`), symlinks by their target.
//! Directories count only through their files (as in git), and two things are left out:
//! the pack's `.git/` (the clone, which users may work in) and a top-level `config.yaml` (a
//! pack-local config is the user's, carried over between versions as upstream does).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::fs::TreeItem;

/// What a path of the tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeEntry {
    /// A regular file: executable (by its owner) or not, and `sha256` of its content (hex).
    File {
        /// Mode `u+x`.
        executable: bool,
        /// `sha256` of the content, hex.
        sha256: String,
    },
    /// A symlink, by its target.
    Symlink(String),
}

/// Whether `relative` (a path inside the pack, `/`-separated) is left out of the tree.
pub(crate) fn is_excluded(relative: &str) -> bool {
    relative == ".git" || relative.starts_with(".git/") || relative == "config.yaml"
}

/// Every file of the tree at `root`, by relative path (`/`-separated).
pub(crate) fn files(root: &Path) -> std::io::Result<BTreeMap<String, TreeEntry>> {
    let mut found = BTreeMap::new();
    for item in crate::fs::tree_entries(root, &is_excluded)? {
        match item {
            TreeItem::Symlink { relative, target } => {
                found.insert(
                    relative,
                    TreeEntry::Symlink(target.to_string_lossy().into_owned()),
                );
            }
            TreeItem::File {
                relative,
                path,
                executable,
            } => {
                found.insert(
                    relative,
                    TreeEntry::File {
                        executable,
                        sha256: file_sha256(&path)?,
                    },
                );
            }
        }
    }
    Ok(found)
}

/// `sha256` of a file's content, hex.
pub(crate) fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The hash of a tree's files: `sha256:` of one line per path, in path order.
pub(crate) fn hash(files: &BTreeMap<String, TreeEntry>) -> String {
    let mut hasher = Sha256::new();
    for (path, entry) in files {
        let line = match entry {
            TreeEntry::File { executable, sha256 } => {
                let mode = if *executable { "x" } else { "-" };
                format!("file {mode} {path}\0{sha256}\n")
            }
            TreeEntry::Symlink(target) => format!("link {path}\0{target}\n"),
        };
        hasher.update(line.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The hash of the tree at `root` ([`files`], then [`hash`]).
pub(crate) fn tree_hash(root: &Path) -> std::io::Result<String> {
    Ok(hash(&files(root)?))
}

/// How a tree differs from the one it should be: paths, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Changes {
    /// In both, with another content, type or executable bit.
    pub(crate) modified: Vec<String>,
    /// Only in the tree on disk.
    pub(crate) added: Vec<String>,
    /// Only in the tree it should be.
    pub(crate) removed: Vec<String>,
}

impl Changes {
    /// Whether the trees are the same.
    pub(crate) fn is_empty(&self) -> bool {
        self.modified.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compare two file maps (any value type that can be compared: ours, or git's blob ids).
pub(crate) fn compare<T: PartialEq>(
    expected: &BTreeMap<String, T>,
    actual: &BTreeMap<String, T>,
) -> Changes {
    let mut changes = Changes::default();
    for (path, want) in expected {
        match actual.get(path) {
            None => changes.removed.push(path.clone()),
            Some(have) if have != want => changes.modified.push(path.clone()),
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            changes.added.push(path.clone());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_content_names_and_modes_not_git_or_the_local_config() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("actions")).unwrap();
        std::fs::write(root.join("pack.yaml"), "name: x\n").unwrap();
        std::fs::write(root.join("actions/run.sh"), "echo\n").unwrap();
        std::os::unix::fs::symlink("run.sh", root.join("actions/link.sh")).unwrap();
        let first = tree_hash(root).unwrap();

        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "x").unwrap();
        std::fs::write(root.join("config.yaml"), "mine: 1\n").unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        assert_eq!(tree_hash(root).unwrap(), first);

        let script = root.join("actions/run.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let executable = tree_hash(root).unwrap();
        assert_ne!(executable, first);
        std::fs::write(&script, "echo hi\n").unwrap();
        assert_ne!(tree_hash(root).unwrap(), executable);

        let before = files(root).unwrap();
        std::fs::remove_file(root.join("pack.yaml")).unwrap();
        std::fs::write(root.join("actions/new.yaml"), "x").unwrap();
        std::fs::write(&script, "echo changed\n").unwrap();
        let changes = compare(&before, &files(root).unwrap());
        assert_eq!(
            changes,
            Changes {
                modified: vec!["actions/run.sh".into()],
                added: vec!["actions/new.yaml".into()],
                removed: vec!["pack.yaml".into()],
            }
        );
        assert!(compare(&before, &before).is_empty());
    }
}

//! The files of a commit and of a working tree in git's terms (mode and blob id), so that an
//! installed pack can be compared with the commit it came from (`st2 pack verify`), whatever
//! its own `.git` says now (a user may have committed or reset in it).

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::GitError;
use crate::fs::TreeItem;

/// A file as git records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitFile {
    /// `0o100644`, `0o100755` or `0o120000` (a symlink).
    pub(crate) mode: u32,
    /// The blob's id.
    pub(crate) oid: String,
}

/// The files of `commit`, read from the first of `repositories` that has it, by path; paths
/// for which `skip` holds are left out.
pub(crate) fn commit_files(
    repositories: &[&Path],
    commit: &str,
    skip: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, GitFile>, GitError> {
    let oid = Oid::from_str(commit).map_err(|err| GitError::from_git2(commit, err))?;
    let mut last_error = None;
    for path in repositories {
        let repo = match Repository::open(path).or_else(|_| Repository::open_bare(path)) {
            Ok(repo) => repo,
            Err(err) => {
                last_error = Some(GitError::from_git2(&path.display().to_string(), err));
                continue;
            }
        };
        let tree = match repo.find_commit(oid).and_then(|commit| commit.tree()) {
            Ok(tree) => tree,
            Err(err) => {
                last_error = Some(GitError::from_git2(&path.display().to_string(), err));
                continue;
            }
        };
        let mut files = BTreeMap::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                let path = format!("{dir}{}", entry.name().unwrap_or_default());
                if !skip(&path) {
                    let mode = match entry.filemode() as u32 {
                        0o120000 => 0o120000,
                        0o100755 => 0o100755,
                        _ => 0o100644,
                    };
                    files.insert(
                        path,
                        GitFile {
                            mode,
                            oid: entry.id().to_string(),
                        },
                    );
                }
            }
            TreeWalkResult::Ok
        })
        .map_err(|err| GitError::from_git2(commit, err))?;
        return Ok(files);
    }
    Err(last_error.unwrap_or_else(|| GitError::Other {
        url: commit.to_string(),
        message: "no repository holds this commit".into(),
    }))
}

/// The files of the working tree at `root` (its `.git` left out) as git would record them,
/// by path; paths for which `skip` holds are left out.
pub(crate) fn worktree_files(
    root: &Path,
    skip: &dyn Fn(&str) -> bool,
) -> std::io::Result<BTreeMap<String, GitFile>> {
    let mut files = BTreeMap::new();
    for item in crate::fs::tree_entries(root, skip)? {
        let (relative, mode, oid) = match item {
            TreeItem::Symlink { relative, target } => {
                let oid = Oid::hash_object(ObjectType::Blob, target.as_os_str().as_encoded_bytes())
                    .map_err(std::io::Error::other)?;
                (relative, 0o120000, oid)
            }
            TreeItem::File {
                relative,
                path,
                executable,
            } => {
                let oid = Oid::hash_file(ObjectType::Blob, &path).map_err(std::io::Error::other)?;
                (relative, if executable { 0o100755 } else { 0o100644 }, oid)
            }
        };
        files.insert(
            relative,
            GitFile {
                mode,
                oid: oid.to_string(),
            },
        );
    }
    Ok(files)
}

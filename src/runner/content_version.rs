//! The `content_version` runner parameter of `python-script` and `local-shell-script`: run
//! the pack's code as of a git revision (commit sha, tag or branch) of the pack's git
//! repository, as upstream's `GitWorktreeActionRunner` does
//! (`st2common/st2common/runners/base.py`).
//!
//! Upstream runs `git worktree add /tmp/st2-git-worktree-XXXX <revision>` in the pack
//! directory and points the entry point (and the pack's common `lib/`) into it; the directory
//! is removed after the run unless the `debug` parameter is true. We do the same with
//! libgit2, writing the revision's tree into a `st2-git-worktree-` temporary directory:
//! no `git` binary is needed and the pack's repository is left untouched (`git worktree add`
//! records every worktree in the pack's `.git/worktrees`, and refuses a branch that is checked
//! out). Upstream's messages are kept for a pack directory that is not a git repository and
//! for a revision the repository does not have.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::RunRequest;

/// Upstream `GitWorktreeActionRunner.WORKTREE_DIRECTORY_PREFIX`.
const WORKTREE_DIRECTORY_PREFIX: &str = "st2-git-worktree-";

/// The pack's files at a revision, in a temporary directory removed on drop (unless kept).
pub(crate) struct Worktree {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Worktree {
    /// The directory that stands for the pack directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// The worktree for the request's `content_version`, when its runner takes one and it is set.
pub(crate) fn for_request(request: &RunRequest) -> Result<Option<Worktree>, String> {
    let takes_it = super::parameters(request.runner_type.as_str())
        .is_some_and(|parameters| parameters.contains_key("content_version"));
    let revision = match request.parameters.get("content_version") {
        Some(Value::String(revision)) if takes_it && !revision.is_empty() => revision,
        _ => return Ok(None),
    };
    let keep = request.parameters.get("debug").and_then(Value::as_bool) == Some(true);
    let worktree = create(
        request.pack,
        request.pack_dir,
        revision,
        &std::env::temp_dir(),
    )?;
    if keep {
        tracing::debug!(
            "Not removing git worktree \"{}\" because debug mode is enabled",
            worktree.path.display()
        );
        let mut worktree = worktree;
        if let Some(dir) = worktree.dir.take() {
            let _ = dir.keep();
        }
        return Ok(Some(worktree));
    }
    Ok(Some(worktree))
}

/// Write the tree of `revision` of the repository at `pack_dir` into a new temporary
/// directory under `temp_root`.
pub(crate) fn create(
    pack: &str,
    pack_dir: &Path,
    revision: &str,
    temp_root: &Path,
) -> Result<Worktree, String> {
    let prefix = format!("Failed to create git worktree for pack \"{pack}\": ");
    if !pack_dir.is_dir() {
        return Err(format!(
            "Failed to create git worktree for pack \"{pack}\". Pack directory \"{}\" doesn't \
             exist.",
            pack_dir.display()
        ));
    }
    let repository = git2::Repository::open(pack_dir).map_err(|_| {
        format!(
            "{prefix}Pack directory \"{}\" is not a git repository. To utilize this \
             functionality, pack directory needs to be a git repository.",
            pack_dir.display()
        )
    })?;
    let invalid = || {
        format!(
            "{prefix}Invalid content_version \"{revision}\" provided. Make sure that git \
             repository is up to date and contains that revision."
        )
    };
    let tree = repository
        .revparse_single(revision)
        .and_then(|object| object.peel_to_tree())
        .map_err(|_| invalid())?;
    let dir = tempfile::Builder::new()
        .prefix(WORKTREE_DIRECTORY_PREFIX)
        .tempdir_in(temp_root)
        .map_err(|err| format!("{prefix}cannot create a temporary directory: {err}"))?;
    write_tree(&repository, &tree, dir.path())
        .map_err(|err| format!("{prefix}cannot write revision \"{revision}\": {err}"))?;
    let path = dir.path().to_path_buf();
    Ok(Worktree {
        dir: Some(dir),
        path,
    })
}

/// Write every file of `tree` under `target`: blobs with their executable bit, symbolic links
/// that stay inside the tree; submodules and names git itself refuses are skipped.
fn write_tree(
    repository: &git2::Repository,
    tree: &git2::Tree,
    target: &Path,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;

    std::fs::create_dir_all(target).map_err(|err| err.to_string())?;
    for entry in tree.iter() {
        let Ok(name) = entry.name() else { continue };
        if matches!(name, "" | "." | ".." | ".git") || name.contains('/') {
            continue;
        }
        let path = target.join(name);
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                let subtree = repository
                    .find_tree(entry.id())
                    .map_err(|err| err.message().to_string())?;
                write_tree(repository, &subtree, &path)?;
            }
            Some(git2::ObjectType::Blob) => {
                let blob = repository
                    .find_blob(entry.id())
                    .map_err(|err| err.message().to_string())?;
                if entry.filemode() == 0o120000 {
                    let link = String::from_utf8_lossy(blob.content()).into_owned();
                    let stays_inside = !Path::new(&link).is_absolute()
                        && !link.split('/').any(|part| part == "..");
                    if stays_inside {
                        std::os::unix::fs::symlink(&link, &path).map_err(|err| err.to_string())?;
                    }
                    continue;
                }
                let mut file = std::fs::File::create(&path).map_err(|err| err.to_string())?;
                file.write_all(blob.content())
                    .map_err(|err| err.to_string())?;
                let mode = if entry.filemode() == 0o100755 {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|err| err.to_string())?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .env(crate::settings::env::GIT_CONFIG_NOSYSTEM, "1")
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    }

    #[test]
    fn writes_the_tree_of_a_tag_a_branch_or_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let pack = dir.path().join("pack");
        std::fs::create_dir_all(pack.join("actions")).unwrap();
        git(&pack, &["init", "-q", "-b", "main"]);
        std::fs::write(pack.join("actions/v.sh"), "echo one\n").unwrap();
        std::fs::set_permissions(
            pack.join("actions/v.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        git(&pack, &["add", "-A"]);
        git(&pack, &["commit", "-q", "-m", "one"]);
        git(&pack, &["tag", "v1"]);
        std::fs::write(pack.join("actions/v.sh"), "echo two\n").unwrap();
        git(&pack, &["commit", "-q", "-am", "two"]);

        let temp = dir.path().join("tmp");
        std::fs::create_dir_all(&temp).unwrap();
        for (revision, expected) in [
            ("v1", "echo one\n"),
            ("main", "echo two\n"),
            ("HEAD~1", "echo one\n"),
        ] {
            let worktree = create("p", &pack, revision, &temp).unwrap();
            let file = worktree.path().join("actions/v.sh");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
            let mode = std::fs::metadata(&file).unwrap().permissions();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
                0o755
            );
            assert!(worktree
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("st2-git-worktree-"));
            let path = worktree.path().to_path_buf();
            drop(worktree);
            assert!(!path.exists(), "removed after the run");
        }
        // The pack's repository is left as it was.
        assert!(!pack.join(".git/worktrees").exists());

        let err = create("p", &pack, "v9", &temp).err().unwrap();
        assert_eq!(
            err,
            "Failed to create git worktree for pack \"p\": Invalid content_version \"v9\" \
             provided. Make sure that git repository is up to date and contains that revision."
        );
        let plain = dir.path().join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        let err = create("q", &plain, "v1", &temp).err().unwrap();
        assert!(
            err.starts_with("Failed to create git worktree for pack \"q\": Pack directory \"")
                && err.ends_with(
                    "\" is not a git repository. To utilize this functionality, pack directory \
                     needs to be a git repository."
                ),
            "{err}"
        );
        let err = create("r", &dir.path().join("nope"), "v1", &temp)
            .err()
            .unwrap();
        assert!(err.ends_with("/nope\" doesn't exist."), "{err}");
    }
}

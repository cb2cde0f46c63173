//! The git cache: one bare repository per URL under `<base_path>/cache/git/`, into which
//! installs fetch, and from which each pack's clone is made.
//!
//! A second version of a pack fetches only what the cache lacks (git's negotiation: the
//! commits it has are announced), and a commit the cache already has is not fetched at all,
//! so an install at a locked commit needs no network. Offline, the cache's refs stand in for
//! the remote's (`ls-remote`): its branches (`refs/remotes/origin/*`), tags and default
//! branch (`refs/remotes/origin/HEAD`) are the last ones fetched.
//!
//! A pack's `.git` is a copy of the cache repository (objects hard-linked: git never changes
//! an object file, it writes new ones and unlinks old ones), with `origin` pointing at the
//! URL, as a clone would have it; it holds the other versions the cache has fetched too.
//! Installs of one URL wait for each other on `<name>.lock` beside the repository.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use sha2::{Digest, Sha256};

use super::{GitError, Listing};
use crate::lock::FileLock;

/// One URL's cached repository, locked while this value lives.
pub(super) struct CachedRepo {
    pub(super) repo: Repository,
    pub(super) path: PathBuf,
    _lock: FileLock,
}

/// `<cache>/<last path segment>-<16 hex digits of the URL's sha256>.git`.
pub(crate) fn repo_path(cache: &Path, url: &str) -> PathBuf {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(".git");
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hash = hex::encode(Sha256::digest(url.as_bytes()));
    cache.join(format!(
        "{}-{}.git",
        name.trim_start_matches('.'),
        &hash[..16]
    ))
}

/// The URL a cached repository was made for (its `origin`).
pub(crate) fn repo_url(path: &Path) -> Option<String> {
    let repo = Repository::open_bare(path).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(str::to_string)
}

fn other(url: &str, message: impl std::fmt::Display) -> GitError {
    GitError::Other {
        url: url.to_string(),
        message: message.to_string(),
    }
}

impl CachedRepo {
    /// The cached repository of `url`, created when missing (or when what is there is not a
    /// repository of that URL), locked.
    pub(super) fn open(cache: &Path, url: &str) -> Result<CachedRepo, GitError> {
        let path = repo_path(cache, url);
        std::fs::create_dir_all(cache).map_err(|err| other(url, err))?;
        let lock_path = path.with_extension("lock");
        let lock = FileLock::acquire(&lock_path).map_err(|err| other(url, err))?;
        let existing = Repository::open_bare(&path).ok().filter(|repo| {
            repo.find_remote("origin")
                .ok()
                .is_some_and(|remote| remote.url().ok() == Some(url))
        });
        if existing.is_some() {
            remove_stale_lock_files(&path);
        }
        let repo = match existing {
            Some(repo) => repo,
            None => {
                let _ = std::fs::remove_dir_all(&path);
                let repo =
                    Repository::init_bare(&path).map_err(|err| GitError::from_git2(url, err))?;
                repo.remote("origin", url)
                    .map_err(|err| GitError::from_git2(url, err))?;
                repo
            }
        };
        Ok(CachedRepo {
            repo,
            path,
            _lock: lock,
        })
    }

    /// The cached repository of `url` if there is one (locked), for offline use.
    pub(super) fn open_existing(cache: &Path, url: &str) -> Result<Option<CachedRepo>, GitError> {
        if Repository::open_bare(repo_path(cache, url)).is_err() {
            return Ok(None);
        }
        let cached = CachedRepo::open(cache, url)?;
        let has_refs = cached
            .repo
            .references()
            .map(|mut refs| refs.next().is_some())
            .unwrap_or(false);
        Ok(has_refs.then_some(cached))
    }

    /// Whether the object `oid` is here.
    pub(super) fn has(&self, oid: Oid) -> bool {
        self.repo.odb().is_ok_and(|odb| odb.exists(oid))
    }

    /// The refs as the remote had them when last fetched, as a listing (`ls-remote`).
    pub(super) fn listing(&self) -> Listing {
        let mut refs = Vec::new();
        let mut default_branch = None;
        if let Ok(references) = self.repo.references() {
            for reference in references.flatten() {
                let Ok(name) = reference.name().map(str::to_string) else {
                    continue;
                };
                if name == "refs/remotes/origin/HEAD" {
                    default_branch = reference
                        .symbolic_target()
                        .ok()
                        .flatten()
                        .and_then(|target| target.strip_prefix("refs/remotes/origin/"))
                        .map(|branch| format!("refs/heads/{branch}"));
                    continue;
                }
                let Some(oid) = reference.target() else {
                    continue;
                };
                if let Some(branch) = name.strip_prefix("refs/remotes/origin/") {
                    refs.push((format!("refs/heads/{branch}"), oid));
                } else if name.starts_with("refs/tags/") {
                    refs.push((name.clone(), oid));
                    if let Ok(commit) = reference.peel_to_commit() {
                        if commit.id() != oid {
                            refs.push((format!("{name}^{{}}"), commit.id()));
                        }
                    }
                }
            }
        }
        if let Some(branch) = &default_branch {
            if let Some(oid) = refs.iter().find(|(name, _)| name == branch).map(|r| r.1) {
                refs.push(("HEAD".to_string(), oid));
            }
        }
        Listing {
            refs,
            default_branch,
        }
    }

    /// Point the cache's ref for `remote_ref` (`refs/heads/x` or `refs/tags/t`, as the remote
    /// names it) at `oid`, which the cache has.
    pub(super) fn set_ref(&self, remote_ref: &str, oid: Oid) {
        let local = match remote_ref.strip_prefix("refs/heads/") {
            Some(branch) => format!("refs/remotes/origin/{branch}"),
            None => remote_ref.to_string(),
        };
        if let Err(err) = self.repo.reference(&local, oid, true, "st2: remote ref") {
            tracing::debug!("cannot update {local} in the git cache: {err}");
        }
    }

    /// Remember the remote's default branch (`refs/remotes/origin/HEAD`), for offline use.
    pub(super) fn set_default_branch(&self, listing: &Listing) {
        let Some(branch) = listing
            .default_branch
            .as_deref()
            .and_then(|name| name.strip_prefix("refs/heads/"))
        else {
            return;
        };
        let target = format!("refs/remotes/origin/{branch}");
        if self.repo.find_reference(&target).is_ok() {
            let _ = self.repo.reference_symbolic(
                "refs/remotes/origin/HEAD",
                &target,
                true,
                "st2: default branch",
            );
        }
    }

    /// Make `dest/.git` a copy of this repository (objects hard-linked where the file system
    /// allows), a non-bare repository whose working tree is `dest`.
    pub(super) fn copy_to(&self, dest: &Path, url: &str) -> Result<Repository, GitError> {
        let git_dir = dest.join(".git");
        copy_repo(&self.path, &git_dir).map_err(|err| other(url, err))?;
        let config = git2::Config::open(&git_dir.join("config"))
            .and_then(|mut config| config.set_bool("core.bare", false));
        config.map_err(|err| GitError::from_git2(url, err))?;
        Repository::open(dest).map_err(|err| GitError::from_git2(url, err))
    }
}

/// Remove the `*.lock` files git (libgit2) writes beside a ref, `packed-refs`, `config` or
/// `HEAD` while changing it and renames into place after: one left behind means the process
/// writing it was killed, since only the holder of the repository's lock (us, now) writes
/// there. Left, it makes every later update of that ref fail ("failed to lock file"), so an
/// install found the tag's commit in the cache but not the tag.
fn remove_stale_lock_files(repo: &Path) {
    let top = [
        "HEAD.lock",
        "config.lock",
        "packed-refs.lock",
        "shallow.lock",
    ]
    .into_iter()
    .map(|name| repo.join(name));
    let refs = walkdir::WalkDir::new(repo.join("refs"))
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|path| path.extension().is_some_and(|ext| ext == "lock"));
    for stale in top.chain(refs) {
        match std::fs::remove_file(&stale) {
            Ok(()) => tracing::debug!("removed {} (a killed fetch left it)", stale.display()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::debug!("cannot remove {}: {err}", stale.display()),
        }
    }
}

/// Copy the repository `from` to `to`: files under `objects/` hard-linked (copied when that
/// fails), the rest copied.
fn copy_repo(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|err| {
            err.into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop"))
        })?;
        let relative = entry.path().strip_prefix(from).expect("under the root");
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if entry.file_type().is_file() {
            let linked = relative.starts_with("objects")
                && std::fs::hard_link(entry.path(), &target).is_ok();
            if !linked {
                std::fs::copy(entry.path(), &target)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fetch killed while it renamed a ref into place left `<ref>.lock`: the next open
    /// removes it, so the ref can be set (before, every later update of it failed).
    #[test]
    fn lock_files_a_killed_fetch_left_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let url = "https://example.invalid/x.git";
        let oid = {
            let cached = CachedRepo::open(dir.path(), url).unwrap();
            let signature = git2::Signature::now("t", "t@example.invalid").unwrap();
            let tree = cached
                .repo
                .find_tree(cached.repo.treebuilder(None).unwrap().write().unwrap())
                .unwrap();
            cached
                .repo
                .commit(None, &signature, &signature, "c", &tree, &[])
                .unwrap()
        };
        let path = repo_path(dir.path(), url);
        std::fs::create_dir_all(path.join("refs/tags")).unwrap();
        std::fs::write(path.join("refs/tags/v2.0.0.lock"), "").unwrap();
        std::fs::write(path.join("packed-refs.lock"), "").unwrap();
        let cached = CachedRepo::open(dir.path(), url).unwrap();
        assert!(!path.join("refs/tags/v2.0.0.lock").exists());
        assert!(!path.join("packed-refs.lock").exists());
        cached.set_ref("refs/tags/v2.0.0", oid);
        assert_eq!(cached.repo.refname_to_id("refs/tags/v2.0.0").unwrap(), oid);
    }
}

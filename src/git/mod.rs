//! Fetching a pack's git repository at a branch, tag, version or commit, with libgit2.
//!
//! Ref resolution follows StackStorm 3.9.0 (`clone_repo` in
//! `st2common/st2common/util/pack_management.py`), in order: no ref -> the remote's default
//! branch (a local repository with a detached HEAD gives that commit); a branch named REF; a
//! tag named REF or a commit SHA; for a semver REF, the tag `vREF`. Nothing matched gives
//! upstream's message listing the `v<semver>` tags, but sorted as semver (upstream sorts them
//! as strings).
//!
//! It is cheaper than upstream's full clone: the remote's refs are listed first (`ls-remote`),
//! so the ref is resolved before anything is downloaded, and only that ref is fetched, with
//! depth 1 where the transport supports it. The result keeps `.git` with `origin` pointing at
//! the URL, as upstream keeps the clone for users to work in.
//!
//! ```ignore
//! // Crate-internal: not compiled as a doctest; the unit tests below make the same calls.
//! let (fetched, _reference) = git::fetch_first(
//!     "https://github.com/StackStorm-Exchange/stackstorm-twitter",
//!     &["1.0.0".to_string()],
//!     std::path::Path::new("/tmp/twitter"),
//!     &git::FetchOptions::default(),
//! )?;
//! println!("{}", fetched.commit);
//! # Ok::<(), git::GitError>(())
//! ```

mod cache;
mod files;
mod transport;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use git2::{
    build::CheckoutBuilder, AutotagOption, Direction, ErrorClass, ErrorCode, Oid, Repository,
};

pub(crate) use cache::{repo_path as cache_repo_path, repo_url as cached_repo_url};
pub(crate) use files::{commit_files, worktree_files};

/// Network settings for a fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchOptions {
    /// Connect and read timeout of network transports.
    pub timeout: Duration,
    /// The git cache (`<base_path>/cache/git`), one repository per URL: fetches go there
    /// first and the destination is made from it. `None`: fetch straight into the
    /// destination.
    pub cache: Option<PathBuf>,
    /// Never use the network: remote repositories only from the cache (local ones are read
    /// as always).
    pub offline: bool,
    /// The CA bundle `https://` remotes are checked against (`None`: the system's store);
    /// `$GIT_SSL_CAINFO` wins, as in git.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            timeout: Duration::from_secs(30),
            cache: None,
            offline: false,
            ca_bundle: None,
        }
    }
}

/// What a ref resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedRef {
    /// No ref was asked: the remote's default branch.
    DefaultBranch(String),
    /// A branch.
    Branch(String),
    /// A tag (for a version `1.2.0`, the tag `v1.2.0`).
    Tag(String),
    /// A commit SHA.
    Commit,
    /// A local repository with a detached HEAD, no ref asked.
    DetachedHead,
}

/// The result of [`fetch`].
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The commit checked out (40 hex digits).
    pub commit: String,
    /// What the ref resolved to (the tests check it; installs record the commit).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests"))]
    pub resolved: ResolvedRef,
    /// Whether only the last commit was fetched.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests"))]
    pub shallow: bool,
}

/// Errors of git operations; each is one readable line naming the URL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    /// The ref matches no branch, tag or commit.
    #[error(
        "\"{reference}\" is not a valid version, hash, tag or branch in {url}.{}",
        available_sentence(available)
    )]
    NoSuchRef {
        /// The ref asked for.
        reference: String,
        /// The repository.
        url: String,
        /// `v<semver>` tags, `v` stripped, highest first.
        available: Vec<String>,
    },
    /// The repository cannot be reached or does not exist.
    #[error("Unable to reach the git repository {url}: {message}")]
    Unreachable {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// The server refused our credentials.
    #[error(
        "Authentication failed for the git repository {url}: {message}; check your ssh-agent \
         keys or your git credential helper"
    )]
    Auth {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// The URL uses a transport we do not fetch from.
    #[error(
        "refusing the git URL {url}: {message}; use https://, http://, git://, ssh://, \
         user@host:path or file://"
    )]
    UnsupportedUrl {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
    /// Offline, and the cache does not have what is asked for.
    #[error(
        "offline, and the git cache has no copy of {url}{}; run the install once without \
         --offline to fill it",
        what.as_deref().map(|what| format!(" at {what}")).unwrap_or_default()
    )]
    NotCached {
        /// The repository.
        url: String,
        /// The ref or commit asked for, when one was.
        what: Option<String>,
    },
    /// Anything else.
    #[error("git operation on {url} failed: {message}")]
    Other {
        /// The repository.
        url: String,
        /// Why.
        message: String,
    },
}

fn available_sentence(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" Available versions are: {}.", available.join(", "))
    }
}

impl GitError {
    fn from_git2(url: &str, err: git2::Error) -> GitError {
        let message = err.message().trim().to_string();
        let url = url.to_string();
        if err.code() == ErrorCode::Auth {
            return GitError::Auth { url, message };
        }
        match err.class() {
            ErrorClass::Net
            | ErrorClass::Http
            | ErrorClass::Ssh
            | ErrorClass::Os
            | ErrorClass::Ssl
            | ErrorClass::Repository => GitError::Unreachable { url, message },
            _ if err.code() == ErrorCode::NotFound => GitError::Unreachable { url, message },
            _ => GitError::Other { url, message },
        }
    }
}

/// Is this path a git repository (has `.git`)? Upstream tells local repositories from plain
/// directories the same way.
pub(crate) fn is_repo(path: &Path) -> bool {
    path.join(".git").exists()
}

/// The `v<semver>` tags of the repository at `url`, `v` stripped, highest first (the tests
/// check the listing's version order with it).
#[cfg(test)]
pub(crate) fn available_versions(
    url: &str,
    options: &FetchOptions,
) -> Result<Vec<String>, GitError> {
    Ok(remote_listing(url, options)?.versions())
}

/// Which of `references` the repository at `url` has: the first that resolves against one
/// listing of its refs (`ls-remote`), as [`fetch_first`] would choose it, without downloading
/// anything; `None` when no reference is asked (the default branch). Errors are
/// [`fetch_first`]'s, so an install can check every pack's source before it downloads any.
/// Offline, the git cache's refs are the listing.
pub(crate) fn probe(
    url: &str,
    references: &[String],
    options: &FetchOptions,
) -> Result<Option<String>, GitError> {
    let (_, reference) = listing_for(url, references, options)?.choose(url, references)?;
    Ok(reference.map(str::to_string))
}

/// The `v<semver>` tags of `url` (`v` stripped, highest first), the commit each of
/// `references` resolves to (in order; `None` for a reference it does not have, or a tag
/// whose commit cannot be told before fetching), and the default branch's name and commit.
/// Offline, from the git cache. For `st2 pack outdated`.
pub(crate) fn remote_state(url: &str, options: &FetchOptions) -> Result<RemoteState, GitError> {
    let listing = listing_for(url, &[], options)?;
    let default_branch = listing.default_branch.as_deref().and_then(|branch| {
        let oid = listing.get(branch)?;
        Some((
            branch.trim_start_matches("refs/heads/").to_string(),
            oid.to_string(),
        ))
    });
    let branches = listing
        .refs
        .iter()
        .filter_map(|(name, oid)| {
            name.strip_prefix("refs/heads/")
                .map(|branch| (branch.to_string(), oid.to_string()))
        })
        .collect();
    Ok(RemoteState {
        versions: listing.versions(),
        default_branch,
        branches,
    })
}

/// What [`remote_state`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct RemoteState {
    /// `v<semver>` tags, `v` stripped, highest first.
    pub(crate) versions: Vec<String>,
    /// The default branch and its commit.
    pub(crate) default_branch: Option<(String, String)>,
    /// Every branch and its commit.
    pub(crate) branches: Vec<(String, String)>,
}

/// The listing of `url`: `ls-remote`, or offline the git cache's refs (an error naming
/// what is missing when there is no copy).
fn listing_for(
    url: &str,
    references: &[String],
    options: &FetchOptions,
) -> Result<Listing, GitError> {
    check_url(url)?;
    if options.offline && !is_local(url) {
        let cached = match &options.cache {
            Some(cache) => cache::CachedRepo::open_existing(cache, url)?,
            None => None,
        };
        return match cached {
            Some(cached) => Ok(cached.listing()),
            None => Err(GitError::NotCached {
                url: url.to_string(),
                what: references.first().cloned(),
            }),
        };
    }
    remote_listing(url, options)
}

/// The refs of the repository at `url` (`ls-remote`), through a throwaway bare repository;
/// nothing is downloaded.
fn remote_listing(url: &str, options: &FetchOptions) -> Result<Listing, GitError> {
    check_url(url)?;
    let dir = tempfile::tempdir().map_err(|err| GitError::Other {
        url: url.to_string(),
        message: err.to_string(),
    })?;
    let repo = Repository::init_bare(dir.path()).map_err(|err| GitError::from_git2(url, err))?;
    list_remote(&repo, url, options)
}

/// Fetch `url` at `reference` into `dest` (absent or empty), leaving a working tree and `.git`
/// (installs use [`fetch_first`]; the tests fetch one reference at a time).
#[cfg(test)]
pub(crate) fn fetch(
    url: &str,
    reference: Option<&str>,
    dest: &Path,
    options: &FetchOptions,
) -> Result<Fetched, GitError> {
    let references: Vec<String> = reference.into_iter().map(str::to_string).collect();
    fetch_first(url, &references, dest, options).map(|(fetched, _)| fetched)
}

/// Fetch `url` at the first of `references` the repository has (all resolved against one
/// listing of its refs), and say which one that was. No reference: the default branch. When
/// none resolves, the error is the one for the first (preferred) reference.
pub(crate) fn fetch_first(
    url: &str,
    references: &[String],
    dest: &Path,
    options: &FetchOptions,
) -> Result<(Fetched, Option<String>), GitError> {
    let git_error = |err: git2::Error| GitError::from_git2(url, err);
    check_url(url)?;
    configure_libgit2(url, options);
    if let Some(cache) = &options.cache {
        return fetch_through_cache(cache, url, references, dest, options);
    }
    let repo = Repository::init(dest).map_err(git_error)?;
    repo.remote("origin", url).map_err(git_error)?;
    let listing = list_remote(&repo, url, options)?;
    let (target, reference) = listing.choose(url, references)?;

    // libgit2 cannot fetch shallow from a local repository: fetch everything there.
    let shallow = target.shallow() && !is_local(url);
    let refspecs = target.refspecs();
    let shallow = match download(&repo, url, &refspecs, shallow, options) {
        Ok(()) => shallow,
        Err(err) if shallow => {
            tracing::debug!("shallow fetch of {url} failed ({err}); fetching everything");
            download(&repo, url, &refspecs, false, options)?;
            false
        }
        Err(err) => return Err(err),
    };
    check_out(&repo, url, &target, &listing, reference, shallow)
}

/// [`fetch_first`] through the git cache: resolve against the remote's refs (offline: the
/// cache's), fetch into the cache what it lacks, then make `dest` from the cache.
fn fetch_through_cache(
    cache: &Path,
    url: &str,
    references: &[String],
    dest: &Path,
    options: &FetchOptions,
) -> Result<(Fetched, Option<String>), GitError> {
    let offline = options.offline && !is_local(url);
    let cached = if offline {
        cache::CachedRepo::open_existing(cache, url)?.ok_or_else(|| GitError::NotCached {
            url: url.to_string(),
            what: references.first().cloned(),
        })?
    } else {
        cache::CachedRepo::open(cache, url)?
    };
    let listing = if offline {
        cached.listing()
    } else {
        list_remote(&cached.repo, url, options)?
    };
    let (target, reference) = listing.choose(url, references)?;
    let shallow = if cache_has(&cached, &target, &listing) {
        tracing::debug!("{url}: {} is in the git cache", target.describe());
        target.update_cache_ref(&cached, &listing);
        cached.repo.is_shallow()
    } else if offline {
        return Err(GitError::NotCached {
            url: url.to_string(),
            what: Some(target.describe()),
        });
    } else {
        download_into_cache(&cached, url, &target, options)?
    };
    cached.set_default_branch(&listing);
    let repo = cached.copy_to(dest, url)?;
    check_out(&repo, url, &target, &listing, reference, shallow)
}

/// Check `target` out in `repo` (fetched from `url`): the commit it names, the ref it was
/// resolved to, and the reference asked for.
fn check_out(
    repo: &Repository,
    url: &str,
    target: &Target,
    listing: &Listing,
    reference: Option<&str>,
    shallow: bool,
) -> Result<(Fetched, Option<String>), GitError> {
    let git_error = |err: git2::Error| GitError::from_git2(url, err);
    let commit = target.commit(repo, url, listing)?;
    let commit_object = repo.find_commit(commit).map_err(|_| GitError::NoSuchRef {
        reference: reference.unwrap_or("HEAD").to_string(),
        url: url.to_string(),
        available: listing.versions(),
    })?;
    let resolved = target.check_out(repo, &commit_object).map_err(git_error)?;
    repo.checkout_head(Some(CheckoutBuilder::new().force()))
        .map_err(git_error)?;
    Ok((
        Fetched {
            commit: commit.to_string(),
            resolved,
            shallow,
        },
        reference.map(str::to_string),
    ))
}

/// Whether the cache has what `target` points at already (then nothing is downloaded).
fn cache_has(cached: &cache::CachedRepo, target: &Target, listing: &Listing) -> bool {
    match target {
        Target::Branch { oid, .. } | Target::Commit { oid } | Target::Detached(oid) => {
            cached.has(*oid)
        }
        Target::Tag { name } => listing
            .get(&format!("refs/tags/{name}"))
            .is_some_and(|oid| cached.has(oid)),
        Target::Abbreviated(prefix) => cached
            .repo
            .revparse_single(prefix)
            .and_then(|object| object.peel_to_commit())
            .is_ok(),
    }
}

/// Fetch `target` into the cache (shallow over the network where the transport allows);
/// whether the cache is shallow now.
fn download_into_cache(
    cached: &cache::CachedRepo,
    url: &str,
    target: &Target,
    options: &FetchOptions,
) -> Result<bool, GitError> {
    // libgit2 cannot fetch shallow from a local repository: fetch everything there.
    let shallow = target.shallow() && !is_local(url);
    let refspecs = target.refspecs();
    match download(&cached.repo, url, &refspecs, shallow, options) {
        Ok(()) => {}
        Err(err) if shallow => {
            tracing::debug!("shallow fetch of {url} failed ({err}); fetching everything");
            download(&cached.repo, url, &refspecs, false, options)?;
        }
        Err(err) => return Err(err),
    }
    Ok(cached.repo.is_shallow())
}

/// Fetch `url` at exactly `commit` into `dest` (an install from the lock file), through the
/// git cache: nothing is downloaded when the cache has it. Else `reference` (the ref it was
/// resolved from) is fetched when it still points there, or every branch and tag. Offline,
/// from the cache only.
pub(crate) fn fetch_commit(
    url: &str,
    commit: &str,
    reference: Option<&str>,
    dest: &Path,
    options: &FetchOptions,
) -> Result<Fetched, GitError> {
    let git_error = |err: git2::Error| GitError::from_git2(url, err);
    check_url(url)?;
    configure_libgit2(url, options);
    let oid = Oid::from_str(commit).map_err(|_| GitError::NoSuchRef {
        reference: commit.to_string(),
        url: url.to_string(),
        available: Vec::new(),
    })?;
    let Some(cache) = &options.cache else {
        return fetch_first(url, &[commit.to_string()], dest, options).map(|(f, _)| f);
    };
    let offline = options.offline && !is_local(url);
    let not_cached = || GitError::NotCached {
        url: url.to_string(),
        what: Some(format!("commit {}", &commit[..commit.len().min(12)])),
    };
    let cached = if offline {
        cache::CachedRepo::open_existing(cache, url)?.ok_or_else(not_cached)?
    } else {
        cache::CachedRepo::open(cache, url)?
    };
    let mut listing = None;
    if !cached.has(oid) {
        if offline {
            return Err(not_cached());
        }
        let remote = list_remote(&cached.repo, url, options)?;
        let preferred = reference
            .and_then(|reference| remote.resolve(url, Some(reference)).ok())
            .filter(|target| match target {
                Target::Branch { oid: at, .. } => *at == oid,
                Target::Tag { name } => {
                    remote.get(&format!("refs/tags/{name}^{{}}")) == Some(oid)
                        || remote.get(&format!("refs/tags/{name}")) == Some(oid)
                }
                _ => false,
            });
        let target = preferred.unwrap_or(Target::Commit { oid });
        download_into_cache(&cached, url, &target, options)?;
        if !cached.has(oid) {
            return Err(GitError::NoSuchRef {
                reference: commit.to_string(),
                url: url.to_string(),
                available: remote.versions(),
            });
        }
        cached.set_default_branch(&remote);
        listing = Some(remote);
    }
    let listing = listing.unwrap_or_else(|| cached.listing());
    let repo = cached.copy_to(dest, url)?;
    let commit_object = repo.find_commit(oid).map_err(git_error)?;
    // A branch that still points there is checked out as the branch, as an install of it
    // would; anything else detached.
    let target = match reference.and_then(|reference| listing.resolve(url, Some(reference)).ok()) {
        Some(Target::Branch {
            name,
            default,
            oid: at,
        }) if at == oid => Target::Branch { name, default, oid },
        _ => Target::Commit { oid },
    };
    let resolved = target.check_out(&repo, &commit_object).map_err(git_error)?;
    repo.checkout_head(Some(CheckoutBuilder::new().force()))
        .map_err(git_error)?;
    Ok(Fetched {
        commit: commit.to_string(),
        resolved,
        shallow: repo.is_shallow(),
    })
}

/// Where a ref points, once resolved against the remote's refs.
enum Target {
    Branch {
        name: String,
        default: bool,
        oid: Oid,
    },
    Tag {
        name: String,
    },
    Commit {
        oid: Oid,
    },
    Abbreviated(String),
    Detached(Oid),
}

impl Target {
    /// What it is, for messages (`tag v1.0.0`, `branch main`, `commit 0123456789ab`).
    fn describe(&self) -> String {
        match self {
            Target::Branch { name, .. } => format!("branch {name}"),
            Target::Tag { name } => format!("tag {name}"),
            Target::Commit { oid } | Target::Detached(oid) => {
                format!("commit {}", &oid.to_string()[..12])
            }
            Target::Abbreviated(prefix) => format!("commit {prefix}"),
        }
    }

    /// Point the cache's ref for this branch or tag where the listing says (the cache has
    /// the object), as a fetch would have.
    fn update_cache_ref(&self, cached: &cache::CachedRepo, listing: &Listing) {
        match self {
            Target::Branch { name, oid, .. } => cached.set_ref(&format!("refs/heads/{name}"), *oid),
            Target::Tag { name } => {
                let remote = format!("refs/tags/{name}");
                if let Some(oid) = listing.get(&remote) {
                    cached.set_ref(&remote, oid);
                }
            }
            _ => {}
        }
    }

    /// What to fetch: the one branch or tag, else every branch and tag.
    fn refspecs(&self) -> Vec<String> {
        match self {
            Target::Branch { name, .. } => {
                vec![format!("+refs/heads/{name}:refs/remotes/origin/{name}")]
            }
            Target::Tag { name, .. } => vec![format!("+refs/tags/{name}:refs/tags/{name}")],
            Target::Commit { .. } | Target::Abbreviated(_) | Target::Detached(_) => vec![
                "+refs/heads/*:refs/remotes/origin/*".to_string(),
                "+refs/tags/*:refs/tags/*".to_string(),
            ],
        }
    }

    /// Whether a shallow fetch (depth 1) can get it: a branch or a tag.
    fn shallow(&self) -> bool {
        matches!(self, Target::Branch { .. } | Target::Tag { .. })
    }

    /// The commit it points at, once fetched into `repo`.
    fn commit(&self, repo: &Repository, url: &str, listing: &Listing) -> Result<Oid, GitError> {
        Ok(match self {
            Target::Branch { oid, .. } | Target::Commit { oid } | Target::Detached(oid) => *oid,
            // The tag as fetched, else where the listing says it points (the commit is
            // here even when a killed fetch kept the ref from being written).
            Target::Tag { name, .. } => repo
                .find_reference(&format!("refs/tags/{name}"))
                .and_then(|reference| reference.peel_to_commit())
                .or_else(|err| {
                    let listed = listing.get(&format!("refs/tags/{name}")).ok_or(err)?;
                    repo.find_object(listed, None)?.peel_to_commit()
                })
                .map(|commit| commit.id())
                .map_err(|err| GitError::from_git2(url, err))?,
            Target::Abbreviated(prefix) => repo
                .revparse_single(prefix)
                .and_then(|object| object.peel_to_commit())
                .map(|commit| commit.id())
                .map_err(|_| GitError::NoSuchRef {
                    reference: prefix.clone(),
                    url: url.to_string(),
                    available: listing.versions(),
                })?,
        })
    }

    /// Point HEAD at `commit`: a branch tracking `origin/<name>` as `git clone` sets it up,
    /// else detached.
    fn check_out(
        &self,
        repo: &Repository,
        commit: &git2::Commit<'_>,
    ) -> Result<ResolvedRef, git2::Error> {
        Ok(match self {
            Target::Branch { name, default, .. } => {
                let mut branch = repo.branch(name, commit, true)?;
                let _ = branch.set_upstream(Some(&format!("origin/{name}")));
                repo.set_head(&format!("refs/heads/{name}"))?;
                if *default {
                    ResolvedRef::DefaultBranch(name.clone())
                } else {
                    ResolvedRef::Branch(name.clone())
                }
            }
            Target::Tag { name, .. } => {
                repo.set_head_detached(commit.id())?;
                ResolvedRef::Tag(name.clone())
            }
            Target::Commit { .. } | Target::Abbreviated(_) => {
                repo.set_head_detached(commit.id())?;
                ResolvedRef::Commit
            }
            Target::Detached(_) => {
                repo.set_head_detached(commit.id())?;
                ResolvedRef::DetachedHead
            }
        })
    }
}

/// The remote's refs, from one `ls-remote`.
struct Listing {
    refs: Vec<(String, Oid)>,
    default_branch: Option<String>,
}

impl Listing {
    /// The first of `references` that resolves (no reference: the default branch), with it;
    /// when none does, the error of the first (preferred) one.
    fn choose<'r>(
        &self,
        url: &str,
        references: &'r [String],
    ) -> Result<(Target, Option<&'r str>), GitError> {
        if references.is_empty() {
            return Ok((self.resolve(url, None)?, None));
        }
        let mut first_error = None;
        for candidate in references {
            match self.resolve(url, Some(candidate)) {
                Ok(target) => return Ok((target, Some(candidate.as_str()))),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.expect("at least one reference"))
    }

    fn get(&self, name: &str) -> Option<Oid> {
        self.refs
            .iter()
            .find(|(ref_name, _)| ref_name == name)
            .map(|(_, oid)| *oid)
    }

    fn resolve(&self, url: &str, reference: Option<&str>) -> Result<Target, GitError> {
        let Some(reference) = reference else {
            if let Some(branch) = &self.default_branch {
                let name = branch.trim_start_matches("refs/heads/").to_string();
                if let Some(oid) = self.get(branch) {
                    return Ok(Target::Branch {
                        name,
                        default: true,
                        oid,
                    });
                }
            }
            // A local repository checked out at a commit (detached HEAD) is accepted.
            return match self.get("HEAD") {
                Some(oid) => Ok(Target::Detached(oid)),
                None => Err(GitError::Other {
                    url: url.to_string(),
                    message: "the repository has no commits".into(),
                }),
            };
        };
        if let Some(oid) = self.get(&format!("refs/heads/{reference}")) {
            return Ok(Target::Branch {
                name: reference.to_string(),
                default: false,
                oid,
            });
        }
        if self.get(&format!("refs/tags/{reference}")).is_some() {
            return Ok(Target::Tag {
                name: reference.to_string(),
            });
        }
        if is_hex(reference) && reference.len() == 40 {
            let oid = Oid::from_str(reference).expect("40 hex digits");
            return Ok(Target::Commit { oid });
        }
        if is_semver(reference) && self.get(&format!("refs/tags/v{reference}")).is_some() {
            return Ok(Target::Tag {
                name: format!("v{reference}"),
            });
        }
        if is_hex(reference) && reference.len() >= 7 {
            return Ok(Target::Abbreviated(reference.to_string()));
        }
        Err(GitError::NoSuchRef {
            reference: reference.to_string(),
            url: url.to_string(),
            available: self.versions(),
        })
    }

    fn versions(&self) -> Vec<String> {
        let mut versions: Vec<semver::Version> = self
            .refs
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("refs/tags/v"))
            .filter(|tag| !tag.ends_with("^{}"))
            .filter_map(|tag| semver::Version::parse(tag).ok())
            .collect();
        versions.sort();
        versions.dedup();
        versions.reverse();
        versions.into_iter().map(|v| v.to_string()).collect()
    }
}

fn list_remote(repo: &Repository, url: &str, options: &FetchOptions) -> Result<Listing, GitError> {
    configure_libgit2(url, options);
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|err| GitError::from_git2(url, err))?;
    // Credentials and proxies are the transports' (`transport`), as git finds them.
    let connection = remote
        .connect_auth(Direction::Fetch, None, None)
        .map_err(|err| GitError::from_git2(url, err))?;
    let refs = connection
        .list()
        .map_err(|err| GitError::from_git2(url, err))?
        .iter()
        .map(|head| (head.name().to_string(), head.oid()))
        .collect();
    let default_branch = connection
        .default_branch()
        .ok()
        .and_then(|buf| buf.as_str().ok().map(str::to_string))
        .filter(|name| name.starts_with("refs/heads/"));
    Ok(Listing {
        refs,
        default_branch,
    })
}

fn download(
    repo: &Repository,
    url: &str,
    refspecs: &[String],
    shallow: bool,
    _options: &FetchOptions,
) -> Result<(), GitError> {
    let mut remote = repo
        .find_remote("origin")
        .map_err(|err| GitError::from_git2(url, err))?;
    let mut fetch_options = git2::FetchOptions::new();
    fetch_options.download_tags(AutotagOption::None);
    if shallow {
        fetch_options.depth(1);
    }
    remote
        .fetch(refspecs, Some(&mut fetch_options), None)
        .map_err(|err| GitError::from_git2(url, err))
}

/// Refuse URLs that name a remote helper (`ext::sh -c ...`, `fd::`, the `<transport>::<address>`
/// form git uses to run programs) or a scheme git does not fetch over. Index entries and
/// dependencies come from strangers; only plain transports are used.
pub(crate) fn check_url(url: &str) -> Result<(), GitError> {
    let refuse = |message: &str| {
        Err(GitError::UnsupportedUrl {
            url: url.to_string(),
            message: message.to_string(),
        })
    };
    if url.starts_with('-') {
        return refuse("it starts with '-'");
    }
    if url.chars().any(char::is_control) {
        return refuse("it contains control characters");
    }
    if let Some((scheme, _)) = url.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" | "git" | "ssh" | "git+ssh" | "ssh+git" | "file" => Ok(()),
            _ => refuse(&format!("unknown scheme \"{scheme}\"")),
        };
    }
    if let Some((transport, _)) = url.split_once("::") {
        if !transport.contains('/') {
            return refuse(&format!("\"{transport}::\" runs a git remote helper"));
        }
    }
    Ok(())
}

/// Process-wide libgit2 settings, set once: network timeouts, and (before the first network
/// fetch) our transports for http(s) and ssh.
fn configure_libgit2(url: &str, options: &FetchOptions) {
    static TIMEOUTS: Once = Once::new();
    let millis = options.timeout.as_millis().min(i32::MAX as u128) as i32;
    TIMEOUTS.call_once(|| {
        // Once, before this process starts any libgit2 network transport (`git://`).
        crate::sys::libgit2_set_timeouts(millis);
    });
    if is_local(url) {
        return;
    }
    transport::register(&transport::TransportOptions {
        timeout: options.timeout,
        ca_bundle: options.ca_bundle.clone(),
    });
}

fn is_local(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with('/')
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_semver(text: &str) -> bool {
    semver::Version::parse(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_helpers_and_odd_schemes_are_refused() {
        for url in [
            "https://github.com/StackStorm-Exchange/stackstorm-csv",
            "git@github.com:StackStorm-Exchange/stackstorm-csv.git",
            "ssh://git@host/x.git",
            "file:///srv/packs/csv",
            "/srv/packs/csv",
        ] {
            assert!(check_url(url).is_ok(), "{url}");
        }
        for url in [
            "ext::sh -c touch% /tmp/pwned",
            "fd::17",
            "gopher://host/x",
            "--upload-pack=touch /tmp/x",
            "https://host/x\n",
        ] {
            let err = check_url(url).unwrap_err().to_string();
            assert!(err.starts_with("refusing the git URL"), "{url}: {err}");
        }
    }
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A bare repository with branches main (default) and dev, and tags.
    fn remote(dir: &Path) -> (String, String) {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        for (version, tag) in [
            ("0.1.0", "v0.1.0"),
            ("0.9.0", "0.9.0"),
            ("1.2.0", "v1.2.0"),
            ("1.10.0", "v1.10.0"),
        ] {
            std::fs::write(work.join("version"), version).unwrap();
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", version]);
            if version == "1.2.0" {
                git(&work, &["tag", "-a", tag, "-m", "annotated"]);
            } else {
                git(&work, &["tag", tag]);
            }
        }
        let main_head = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["checkout", "-q", "-b", "dev"]);
        std::fs::write(work.join("version"), "dev").unwrap();
        git(&work, &["commit", "-q", "-am", "dev"]);
        git(&work, &["checkout", "-q", "main"]);
        let bare = dir.join("remote.git");
        git(dir, &["clone", "-q", "--bare", "work", "remote.git"]);
        (format!("file://{}", bare.display()), main_head)
    }

    fn version_in(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("version")).unwrap()
    }

    #[test]
    fn resolves_like_stackstorm() {
        let dir = tempfile::tempdir().unwrap();
        let (url, main_head) = remote(dir.path());
        let opts = FetchOptions::default();
        let fetch_to = |name: &str, reference: Option<&str>| {
            let dest = dir.path().join(name);
            let fetched = fetch(&url, reference, &dest, &opts).unwrap();
            (fetched, version_in(&dest), dest)
        };

        let (fetched, version, dest) = fetch_to("default", None);
        assert_eq!(fetched.resolved, ResolvedRef::DefaultBranch("main".into()));
        assert_eq!(version, "1.10.0");
        assert_eq!(fetched.commit, main_head);
        assert!(dest.join(".git").is_dir());
        let repo = Repository::open(&dest).unwrap();
        assert_eq!(
            repo.find_remote("origin").unwrap().url().ok(),
            Some(url.as_str())
        );
        assert_eq!(repo.head().unwrap().shorthand().ok(), Some("main"));

        let (fetched, version, _) = fetch_to("dev", Some("dev"));
        assert_eq!(fetched.resolved, ResolvedRef::Branch("dev".into()));
        assert_eq!(version, "dev");

        let (fetched, version, _) = fetch_to("tag", Some("0.9.0"));
        assert_eq!(fetched.resolved, ResolvedRef::Tag("0.9.0".into()));
        assert_eq!(version, "0.9.0");

        let (fetched, version, _) = fetch_to("vtag", Some("1.2.0"));
        assert_eq!(fetched.resolved, ResolvedRef::Tag("v1.2.0".into()));
        assert_eq!(version, "1.2.0");

        let (fetched, version, _) = fetch_to("sha", Some(&main_head));
        assert_eq!(fetched.resolved, ResolvedRef::Commit);
        assert_eq!(version, "1.10.0");

        let (fetched, version, _) = fetch_to("short", Some(&main_head[..8]));
        assert_eq!(fetched.resolved, ResolvedRef::Commit);
        assert_eq!(version, "1.10.0");
    }

    #[test]
    fn first_reference_the_repository_has_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (url, _) = remote(dir.path());
        let wanted = [
            "9.9.9".to_string(),
            "1.2.0".to_string(),
            "0.1.0".to_string(),
        ];
        let (fetched, chosen) = fetch_first(
            &url,
            &wanted,
            &dir.path().join("x"),
            &FetchOptions::default(),
        )
        .unwrap();
        assert_eq!(chosen.as_deref(), Some("1.2.0"));
        assert_eq!(fetched.resolved, ResolvedRef::Tag("v1.2.0".into()));
        let err = fetch_first(
            &url,
            &["9.9.9".into(), "8.0.0".into()],
            &dir.path().join("y"),
            &FetchOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("\"9.9.9\" is not a valid version"),
            "{err}"
        );
    }

    #[test]
    fn unknown_ref_lists_semver_sorted_versions() {
        let dir = tempfile::tempdir().unwrap();
        let (url, _) = remote(dir.path());
        let err = fetch(
            &url,
            Some("nope"),
            &dir.path().join("x"),
            &FetchOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "\"nope\" is not a valid version, hash, tag or branch in {url}. Available \
                 versions are: 1.10.0, 1.2.0, 0.1.0."
            )
        );
        assert_eq!(
            available_versions(&url, &FetchOptions::default()).unwrap(),
            vec!["1.10.0", "1.2.0", "0.1.0"]
        );
    }

    #[test]
    fn local_paths_and_detached_heads() {
        let dir = tempfile::tempdir().unwrap();
        let (_, main_head) = remote(dir.path());
        let work = dir.path().join("work");
        git(&work, &["checkout", "-q", "--detach", "v0.1.0"]);
        let fetched = fetch(
            work.to_str().unwrap(),
            None,
            &dir.path().join("detached"),
            &FetchOptions::default(),
        )
        .unwrap();
        assert_eq!(fetched.resolved, ResolvedRef::DetachedHead);
        assert_eq!(version_in(&dir.path().join("detached")), "0.1.0");
        let fetched = fetch(
            &format!("file://{}", work.display()),
            Some("main"),
            &dir.path().join("plain"),
            &FetchOptions::default(),
        )
        .unwrap();
        assert_eq!(fetched.commit, main_head);
        assert!(!fetched.shallow);
    }

    #[test]
    fn the_cache_serves_commits_it_has_without_the_remote_and_offline_names_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let (url, main_head) = remote(dir.path());
        let cache = dir.path().join("cache");
        let online = FetchOptions {
            cache: Some(cache.clone()),
            ..FetchOptions::default()
        };
        let (fetched, _) =
            fetch_first(&url, &["1.2.0".into()], &dir.path().join("a"), &online).unwrap();
        assert_eq!(fetched.resolved, ResolvedRef::Tag("v1.2.0".into()));
        assert_eq!(version_in(&dir.path().join("a")), "1.2.0");
        // The pack's clone is a repository of its own, origin at the URL.
        let clone = Repository::open(dir.path().join("a")).unwrap();
        assert_eq!(
            clone.find_remote("origin").unwrap().url().ok(),
            Some(url.as_str())
        );
        fetch_first(&url, &[], &dir.path().join("b"), &online).unwrap();
        assert_eq!(version_in(&dir.path().join("b")), "1.10.0");

        // The remote is gone: what the cache has still installs, at a commit or offline.
        let bare = url.strip_prefix("file://").unwrap();
        std::fs::rename(bare, format!("{bare}.moved")).unwrap();
        let fetched = fetch_commit(
            &url,
            &main_head,
            Some("main"),
            &dir.path().join("c"),
            &online,
        )
        .unwrap();
        assert_eq!(fetched.resolved, ResolvedRef::Branch("main".into()));
        assert_eq!(version_in(&dir.path().join("c")), "1.10.0");
        let offline = FetchOptions {
            offline: true,
            ..online.clone()
        };
        // A file:// remote is local: offline reads it, so make the URL look remote.
        let remote_url = "https://example.invalid/stackstorm-demo.git";
        let err = probe(remote_url, &["1.0.0".into()], &offline).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offline, and the git cache has no copy of https://example.invalid/stackstorm-demo.git \
             at 1.0.0; run the install once without --offline to fill it"
        );
        assert!(matches!(
            fetch_commit(
                remote_url,
                &main_head,
                None,
                &dir.path().join("d"),
                &offline
            ),
            Err(GitError::NotCached { .. })
        ));
        let listing = cache::CachedRepo::open(&cache, &url).unwrap().listing();
        // Only the tags fetched: offline, the versions installed before.
        assert_eq!(listing.versions(), vec!["1.2.0"]);
        assert_eq!(listing.default_branch.as_deref(), Some("refs/heads/main"));
    }

    #[test]
    fn unreachable_repository_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let err = fetch(
            "file:///nonexistent/repo.git",
            None,
            &dir.path().join("x"),
            &FetchOptions::default(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("Unable to reach the git repository file:///nonexistent/repo.git"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let err = fetch(
            "http://127.0.0.1:9/nothing.git",
            None,
            &dir.path().join("y"),
            &FetchOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, GitError::Unreachable { .. }), "{err}");
    }
}

//! The PACK argument of `st2 pack install` (and the entries of `dependencies` in `pack.yaml`):
//! an Exchange name, a git URL, or a local directory, each optionally followed by
//! `=<version or git ref>`.
//!
//! Upstream: `get_repo_url` and `eval_repo_url` in
//! `st2common/st2common/util/pack_management.py`.

use std::fmt;
use std::path::{Path, PathBuf};

/// `PACK_VERSION_SEPARATOR`.
pub(crate) const VERSION_SEPARATOR: char = '=';

/// Where a pack comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackSource {
    /// A name looked up in the Exchange index, with an optional version.
    Index {
        /// The pack name in the index.
        name: String,
        /// The version asked for (`name=1.2.0`).
        version: Option<String>,
    },
    /// A git repository, with an optional branch, tag, version or commit.
    Git {
        /// The URL as git understands it (`https://`, `ssh://`, `git@host:path`, `file://`).
        url: String,
        /// The ref asked for.
        reference: Option<String>,
    },
    /// A local directory that is not a git repository: its files are copied as they are.
    Directory {
        /// The directory.
        path: PathBuf,
    },
}

impl fmt::Display for PackSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackSource::Index { name, version } => match version {
                Some(version) => write!(f, "{name}={version}"),
                None => f.write_str(name),
            },
            PackSource::Git { url, reference } => match reference {
                Some(reference) => write!(f, "{url}={reference}"),
                None => f.write_str(url),
            },
            PackSource::Directory { path } => write!(f, "{}", path.display()),
        }
    }
}

/// Errors in a PACK argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SourceError {
    /// Empty argument or empty name.
    #[error("empty pack name or URL in \"{0}\"")]
    Empty(String),
    /// `name=` with nothing after the separator.
    #[error("empty version or git ref after \"=\" in \"{0}\"")]
    EmptyVersion(String),
    /// A local path that does not exist.
    #[error("Local pack directory \"{0}\" doesn't exist")]
    MissingDirectory(PathBuf),
    /// A plain directory cannot be checked out at a ref.
    #[error(
        "\"{}\" is not a git repository, so it has no version \"{reference}\" to check out; \
         drop \"={reference}\" to copy the directory as it is",
        path.display()
    )]
    RefOnDirectory {
        /// The directory.
        path: PathBuf,
        /// The ref asked for.
        reference: String,
    },
}

/// Parse a PACK argument. Relative local paths are resolved against `cwd`.
pub(crate) fn parse(argument: &str, cwd: &Path) -> Result<PackSource, SourceError> {
    let argument = argument.trim();
    let (name_or_url, version) = match argument.split_once(VERSION_SEPARATOR) {
        Some((name, version)) => {
            if version.is_empty() {
                return Err(SourceError::EmptyVersion(argument.to_string()));
            }
            (name, Some(version.to_string()))
        }
        None => (argument, None),
    };
    if name_or_url.is_empty() {
        return Err(SourceError::Empty(argument.to_string()));
    }

    // [fix] upstream turns `./mypack` into a GitHub URL; an explicit local path is local here.
    if let Some(path) = explicit_local_path(name_or_url, cwd) {
        return local(path, version);
    }
    if let Some(path) = name_or_url.strip_prefix("file://") {
        return local(cwd.join(path), version);
    }
    if !name_or_url.contains('/') {
        return Ok(PackSource::Index {
            name: name_or_url.to_string(),
            version,
        });
    }
    let url = if name_or_url.starts_with("gitlab@") {
        name_or_url.to_string()
    } else if name_or_url.matches('/').count() == 1
        && !name_or_url.contains("git@")
        && !name_or_url.contains(':')
    {
        // `owner/repo` is GitHub shorthand.
        format!("https://github.com/{name_or_url}")
    } else {
        name_or_url.to_string()
    };
    Ok(PackSource::Git {
        url,
        reference: version,
    })
}

fn explicit_local_path(text: &str, cwd: &Path) -> Option<PathBuf> {
    let is_path = text.starts_with('/')
        || text == "."
        || text == ".."
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("~/");
    if !is_path {
        return None;
    }
    if let Some(rest) = text.strip_prefix("~/") {
        let home = std::env::var_os(crate::settings::env::HOME)?;
        return Some(PathBuf::from(home).join(rest));
    }
    Some(cwd.join(text))
}

fn local(path: PathBuf, reference: Option<String>) -> Result<PackSource, SourceError> {
    let path = std::path::absolute(&path).unwrap_or(path);
    if !path.is_dir() {
        return Err(SourceError::MissingDirectory(path));
    }
    if crate::git::is_repo(&path) {
        return Ok(PackSource::Git {
            url: format!("file://{}", path.display()),
            reference,
        });
    }
    match reference {
        Some(reference) => Err(SourceError::RefOnDirectory { path, reference }),
        None => Ok(PackSource::Directory { path }),
    }
}

/// The name a dependency will most likely install as, and the version it asks for, so that an
/// installed one can be recognised before anything is downloaded.
pub(crate) fn likely_name_and_version(source: &PackSource) -> (String, Option<String>) {
    match source {
        PackSource::Index { name, version } => (name.clone(), version.clone()),
        PackSource::Git { url, reference } => {
            let last = url
                .trim_end_matches('/')
                .rsplit(['/', ':'])
                .next()
                .unwrap_or(url);
            let name = last.trim_end_matches(".git");
            let name = name.strip_prefix("stackstorm-").unwrap_or(name);
            (name.replace('-', "_"), reference.clone())
        }
        PackSource::Directory { path } => (
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_here(text: &str) -> Result<PackSource, SourceError> {
        parse(text, Path::new("/nonexistent-cwd"))
    }

    #[test]
    fn names_and_versions() {
        assert_eq!(
            parse_here("twitter").unwrap(),
            PackSource::Index {
                name: "twitter".into(),
                version: None
            }
        );
        assert_eq!(
            parse_here("twitter=1.0.0").unwrap(),
            PackSource::Index {
                name: "twitter".into(),
                version: Some("1.0.0".into())
            }
        );
        assert!(matches!(
            parse_here("twitter="),
            Err(SourceError::EmptyVersion(_))
        ));
        assert!(matches!(parse_here("=1.0.0"), Err(SourceError::Empty(_))));
    }

    #[test]
    fn urls_as_upstream_reads_them() {
        let git = |url: &str, reference: Option<&str>| PackSource::Git {
            url: url.into(),
            reference: reference.map(str::to_string),
        };
        assert_eq!(
            parse_here("StackStorm-Exchange/stackstorm-twitter").unwrap(),
            git(
                "https://github.com/StackStorm-Exchange/stackstorm-twitter",
                None
            )
        );
        assert_eq!(
            parse_here("https://host/x/stackstorm-foo.git=v1.2.0").unwrap(),
            git("https://host/x/stackstorm-foo.git", Some("v1.2.0"))
        );
        assert_eq!(
            parse_here("git@github.com:owner/repo.git=dev").unwrap(),
            git("git@github.com:owner/repo.git", Some("dev"))
        );
        assert_eq!(
            parse_here("ssh://git@host/owner/repo.git").unwrap(),
            git("ssh://git@host/owner/repo.git", None)
        );
        assert_eq!(
            parse_here("gitlab@gitlab.com:o/r.git").unwrap(),
            git("gitlab@gitlab.com:o/r.git", None)
        );
    }

    #[test]
    fn local_paths() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        assert_eq!(
            parse("./plain", dir.path()).unwrap(),
            PackSource::Directory {
                path: plain.clone()
            }
        );
        assert_eq!(
            parse(&format!("file://{}", plain.display()), dir.path()).unwrap(),
            PackSource::Directory {
                path: plain.clone()
            }
        );
        assert!(matches!(
            parse("./plain=1.0.0", dir.path()),
            Err(SourceError::RefOnDirectory { .. })
        ));
        let err = parse("./missing", dir.path()).unwrap_err().to_string();
        assert!(err.contains("Local pack directory"), "{err}");
        assert!(err.contains("doesn't exist"), "{err}");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        git2::Repository::init(&repo).unwrap();
        assert_eq!(
            parse(&format!("{}=v1", repo.display()), dir.path()).unwrap(),
            PackSource::Git {
                url: format!("file://{}", repo.display()),
                reference: Some("v1".into())
            }
        );
    }

    #[test]
    fn dependency_names_from_urls() {
        let git = |url: &str| PackSource::Git {
            url: url.into(),
            reference: Some("1.0.0".into()),
        };
        assert_eq!(
            likely_name_and_version(&git(
                "https://github.com/StackStorm-Exchange/stackstorm-aws_boto3.git"
            )),
            ("aws_boto3".to_string(), Some("1.0.0".to_string()))
        );
        assert_eq!(
            likely_name_and_version(&git("git@host:o/my-pack")).0,
            "my_pack"
        );
    }
}

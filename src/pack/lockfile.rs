//! `<base_path>/packs.lock`: the packs installed here, exactly: per pack where it came from
//! (the index and its name, or a git URL, or a directory), the ref asked for and the one it
//! resolved to, the commit, the version, a hash of the installed tree, its dependencies, and
//! the Python distributions of its virtualenv (name, version, hash).
//!
//! Every `st2 pack install`, `update` and `remove` rewrites it; `st2 pack install --locked`
//! installs what it says, so that copying it to another machine reproduces the packs and
//! their virtualenvs. StackStorm has nothing of the kind (st2#3841: air-gapped and
//! reproducible installs are scripted by hand).
//!
//! # Why TOML
//!
//! The file is read by people (in code review, when a deploy differs) as much as by st2:
//! TOML is what `Cargo.lock` and `uv.lock` use, so it is familiar; it has comments (the
//! header says what wrote the file), and one `[[pack]]` table per pack with one key per line
//! diffs well in git. JSON has no comments and diffs worse; YAML's implicit typing (`1.10`
//! read as a number, `no` as false) is a trap for versions. The file starts with
//! `version = 1`; a file of a later version is refused with a message rather than misread.
//! It is written in one deterministic order (packs by ref, keys in a fixed order, no
//! timestamps), so that the same packs give the same bytes.
//!
//! # Hashes
//!
//! - `tree`: `sha256:` of every file of the installed pack (path, executable bit, content;
//!   symlinks by target) but `.git/` and a top-level `config.yaml` (a pack-local config is the
//!   user's, carried over between versions): [`crate::pack::tree`].
//! - a Python distribution's `hash`: `sha256:` of the lines of its installed `RECORD` (each
//!   file the wheel installed into site-packages with the hash the wheel records for it),
//!   installer-written files left out: the same wheel gives the same hash whichever installer
//!   (uv or pip) put it in whichever virtualenv ([`crate::venv::dists`]).
//!
//! # Writes
//!
//! Writers hold [`LockFileGuard`] (a `flock` on `<base_path>/locks/packs-lock.lock`) from
//! reading the file to renaming the new one into place, so that installs of different packs
//! running at once each keep the other's entries. The install journal covers the write (see
//! `ops::local::pack_install::commit`): a command killed after writing the lock and before
//! registering its packs has the lock entries restored by the next command.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lock::FileLock;

/// The lock file's name, in the base path (where is `Settings::lock_file`'s to say).
#[cfg(test)]
const LOCK_FILE_NAME: &str = "packs.lock";

/// The format version this program writes and reads.
pub(crate) const LOCK_VERSION: u32 = 1;

/// Errors reading or writing the lock file; each names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockFileError {
    /// The file could not be read or written.
    #[error("{action} {}: {reason}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not a valid lock file.
    #[error("{} is not a valid packs.lock: {reason}; restore it from version control, or remove it and run `st2 pack install` again to write a new one", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (TOML's message, one line).
        reason: String,
    },
    /// A later version of the format.
    #[error("{} has format version {found}, but this st2 reads version {LOCK_VERSION}; upgrade st2", path.display())]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

/// Where a locked pack came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SourceKind {
    /// A name in an index.
    Index,
    /// A git repository (URL or local path).
    Git,
    /// A plain local directory, copied.
    Directory,
}

impl SourceKind {
    /// The word written in the file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SourceKind::Index => "index",
            SourceKind::Git => "git",
            SourceKind::Directory => "directory",
        }
    }
}

/// One Python distribution of a pack's virtualenv.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct LockedDist {
    /// Its normalized name (PEP 503: lower case, runs of `-_.` as `-`).
    pub(crate) name: String,
    /// Its version, as installed.
    pub(crate) version: String,
    /// `sha256:` of its installed RECORD (see the module's doc).
    pub(crate) hash: String,
}

impl LockedDist {
    /// `name==version`, as a requirement or constraint line.
    pub(crate) fn pin(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// A pack's virtualenv as locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockedVenv {
    /// The interpreter's version (`3.11.7`).
    pub(crate) python: String,
    /// The installer that built it (`uv` or `pip`).
    pub(crate) installer: String,
    /// Its distributions, by name (the virtualenv's own seed packages, such as the pip of
    /// `python -m venv`, left out).
    pub(crate) packages: Vec<LockedDist>,
}

/// One pack of the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockedPack {
    /// The pack ref.
    #[serde(rename = "ref")]
    pub(crate) pack_ref: String,
    /// `pack.yaml`'s version.
    pub(crate) version: String,
    /// Index, git or directory.
    pub(crate) source: SourceKind,
    /// The index it came from (index sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) index: Option<String>,
    /// Its name in that index (index sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// The git repository (`file://` of the directory for directory sources).
    pub(crate) url: String,
    /// The ref the PACK argument asked for (`twitter=1.0.0`, `URL=main`), absent when it
    /// asked for none (the index's highest version, the default branch): a pack installed
    /// at an asked ref is pinned there (`st2 pack update --all` leaves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) requested: Option<String>,
    /// The ref it resolved to (the version or tag, the branch), git sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reference: Option<String>,
    /// The commit installed (40 hex digits), git sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) commit: Option<String>,
    /// `sha256:` of the installed tree (see the module's doc).
    pub(crate) tree: String,
    /// `pack.yaml`'s `dependencies`, as written there.
    #[serde(default)]
    pub(crate) dependencies: Vec<String>,
    /// Which pack pulled it in, when it was installed as a dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dependency_of: Option<String>,
    /// Its virtualenv, when it has one; absent for a pack without Python code or installed
    /// with `--skip-virtualenv` (then `virtualenv_skipped` is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) virtualenv: Option<LockedVenv>,
    /// Installed with `--skip-virtualenv`: its Python distributions were never resolved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) virtualenv_skipped: bool,
}

/// The whole lock file: the locked packs by ref.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PacksLock {
    /// By ref.
    pub(crate) packs: BTreeMap<String, LockedPack>,
}

#[derive(Deserialize)]
struct Document {
    version: u32,
    #[serde(default)]
    pack: Vec<LockedPack>,
}

/// Only the version, read first so that a later format is refused for what it is.
#[derive(Deserialize)]
struct VersionOnly {
    version: Option<u32>,
}

impl PacksLock {
    /// Read the lock file at `path`; `None` when there is none.
    pub(crate) fn read(path: &Path) -> Result<Option<PacksLock>, LockFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(LockFileError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    reason: crate::settings::io_reason(&err),
                })
            }
        };
        PacksLock::parse(&text, path).map(Some)
    }

    /// Parse the text of a lock file (`path` names it in errors).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<PacksLock, LockFileError> {
        let invalid = |err: toml::de::Error| LockFileError::Invalid {
            path: path.to_path_buf(),
            reason: describe(text, &err),
        };
        let head: VersionOnly = toml::from_str(text).map_err(invalid)?;
        match head.version {
            None => {
                return Err(LockFileError::Invalid {
                    path: path.to_path_buf(),
                    reason: "no `version` key".into(),
                })
            }
            Some(found) if found > LOCK_VERSION => {
                return Err(LockFileError::TooNew {
                    path: path.to_path_buf(),
                    found,
                })
            }
            Some(_) => {}
        }
        let document: Document = toml::from_str(text).map_err(invalid)?;
        debug_assert!(document.version <= LOCK_VERSION);
        let mut packs = BTreeMap::new();
        for pack in document.pack {
            if !crate::pack::manifest::is_valid_ref(&pack.pack_ref) {
                return Err(LockFileError::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("\"{}\" is not a pack ref", pack.pack_ref),
                });
            }
            if let Some(previous) = packs.insert(pack.pack_ref.clone(), pack) {
                return Err(LockFileError::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("pack \"{}\" is listed twice", previous.pack_ref),
                });
            }
        }
        Ok(PacksLock { packs })
    }

    /// The file's text: a header, `version`, then one `[[pack]]` table per pack, by ref.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# The packs installed here, exactly. Written by `st2 pack install`, `update` and\n\
             # `remove`; `st2 pack install --locked` installs what it lists. Do not edit by hand.\n",
        );
        out.push_str(&format!("version = {LOCK_VERSION}\n"));
        for pack in self.packs.values() {
            render_pack(&mut out, pack);
        }
        out
    }

    /// Write the lock file at `path` atomically (a temporary file renamed over it), mode 0644.
    pub(crate) fn write(&self, path: &Path) -> Result<(), LockFileError> {
        let io = |action: &'static str| {
            move |err: std::io::Error| LockFileError::Io {
                action,
                path: path.to_path_buf(),
                reason: crate::settings::io_reason(&err),
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("write"))?;
        let mut file = tempfile::Builder::new()
            .prefix(".packs.lock-")
            .tempfile_in(dir)
            .map_err(io("write"))?;
        file.write_all(self.render().as_bytes())
            .map_err(io("write"))?;
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(io("write"))?;
        }
        file.as_file().sync_all().map_err(io("write"))?;
        file.persist(path).map_err(|err| io("write")(err.error))?;
        Ok(())
    }
}

/// TOML's error in one line: `line L, column C: message`.
fn describe(text: &str, err: &toml::de::Error) -> String {
    let message = err
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn render_pack(out: &mut String, pack: &LockedPack) {
    out.push_str("\n[[pack]]\n");
    let mut key = |name: &str, value: String| out.push_str(&format!("{name} = {value}\n"));
    key("ref", quoted(&pack.pack_ref));
    key("version", quoted(&pack.version));
    key("source", quoted(pack.source.as_str()));
    if let Some(index) = &pack.index {
        key("index", quoted(index));
    }
    if let Some(name) = &pack.name {
        key("name", quoted(name));
    }
    key("url", quoted(&pack.url));
    if let Some(requested) = &pack.requested {
        key("requested", quoted(requested));
    }
    if let Some(reference) = &pack.reference {
        key("reference", quoted(reference));
    }
    if let Some(commit) = &pack.commit {
        key("commit", quoted(commit));
    }
    key("tree", quoted(&pack.tree));
    let dependencies: Vec<String> = pack.dependencies.iter().map(|d| quoted(d)).collect();
    key("dependencies", format!("[{}]", dependencies.join(", ")));
    if let Some(of) = &pack.dependency_of {
        key("dependency_of", quoted(of));
    }
    if pack.virtualenv_skipped {
        key("virtualenv_skipped", "true".into());
    }
    if let Some(venv) = &pack.virtualenv {
        out.push_str("\n[pack.virtualenv]\n");
        out.push_str(&format!("python = {}\n", quoted(&venv.python)));
        out.push_str(&format!("installer = {}\n", quoted(&venv.installer)));
        if venv.packages.is_empty() {
            out.push_str("packages = []\n");
        } else {
            out.push_str("packages = [\n");
            for dist in &venv.packages {
                out.push_str(&format!(
                    "    {{ name = {}, version = {}, hash = {} }},\n",
                    quoted(&dist.name),
                    quoted(&dist.version),
                    quoted(&dist.hash)
                ));
            }
            out.push_str("]\n");
        }
    }
}

/// How installed distributions differ from locked ones, one phrase each (missing, another
/// version, another hash, not locked); none when they are the same.
pub(crate) fn dist_differences(locked: &[LockedDist], installed: &[LockedDist]) -> Vec<String> {
    let mut differences = Vec::new();
    for want in locked {
        match installed.iter().find(|dist| dist.name == want.name) {
            None => differences.push(format!("{} is missing", want.pin())),
            Some(have) if have.version != want.version => differences.push(format!(
                "{} {} is installed, packs.lock has {}",
                want.name, have.version, want.version
            )),
            Some(have) if have.hash != want.hash => differences.push(format!(
                "{} has hash {}, packs.lock has {} (another build of that version: another \
                 platform or Python?)",
                have.pin(),
                have.hash,
                want.hash
            )),
            Some(_) => {}
        }
    }
    for have in installed {
        if !locked.iter().any(|want| want.name == have.name) {
            differences.push(format!("{} is not in packs.lock", have.pin()));
        }
    }
    differences
}

/// The writers' mutex: held from reading the lock file to renaming the new one into place.
#[derive(Debug)]
pub(crate) struct LockFileGuard {
    _lock: FileLock,
    path: PathBuf,
}

impl LockFileGuard {
    /// Take the mutex (`<locks_dir>/packs-lock.lock`, waiting for its holder) of the lock file
    /// at `path`.
    pub(crate) fn acquire(locks_dir: &Path, path: &Path) -> Result<LockFileGuard, LockFileError> {
        let mutex = locks_dir.join("packs-lock.lock");
        let lock = std::fs::create_dir_all(locks_dir)
            .and_then(|()| FileLock::acquire(&mutex))
            .map_err(|err| LockFileError::Io {
                action: "lock",
                path: mutex.clone(),
                reason: crate::settings::io_reason(&err),
            })?;
        Ok(LockFileGuard {
            _lock: lock,
            path: path.to_path_buf(),
        })
    }

    /// The lock file as it is now (empty when there is none).
    pub(crate) fn read(&self) -> Result<PacksLock, LockFileError> {
        Ok(PacksLock::read(&self.path)?.unwrap_or_default())
    }

    /// Set (`Some`) or drop (`None`) the entries of the given packs, keeping the others; the
    /// file is rewritten only when that changes it.
    pub(crate) fn update(
        &self,
        entries: &[(String, Option<LockedPack>)],
    ) -> Result<(), LockFileError> {
        let existing = PacksLock::read(&self.path)?;
        let mut lock = existing.clone().unwrap_or_default();
        for (pack_ref, entry) in entries {
            match entry {
                Some(entry) => {
                    lock.packs.insert(pack_ref.clone(), entry.clone());
                }
                None => {
                    lock.packs.remove(pack_ref);
                }
            }
        }
        if existing.as_ref() == Some(&lock) || (existing.is_none() && lock.packs.is_empty()) {
            return Ok(());
        }
        lock.write(&self.path)
    }
}

/// A pack's previous lock entry as a file, kept in the staging directory of an install (or
/// beside a removal) until it completes, so that recovery can put it back: the entry's TOML,
/// or `absent` when the pack had none.
pub(crate) fn save_previous(entry: Option<&LockedPack>, file: &Path) -> std::io::Result<()> {
    let text = match entry {
        Some(entry) => {
            let mut lock = PacksLock::default();
            lock.packs.insert(entry.pack_ref.clone(), entry.clone());
            lock.render()
        }
        None => "absent\n".to_string(),
    };
    std::fs::write(file, text)?;
    std::fs::File::open(file)?.sync_all()
}

/// What [`save_previous`] wrote: `None` when there is no such file (nothing to restore),
/// `Some(None)` when the pack had no entry, `Some(Some(entry))` otherwise.
#[allow(clippy::option_option)]
pub(crate) fn load_previous(file: &Path, pack_ref: &str) -> Option<Option<LockedPack>> {
    let text = std::fs::read_to_string(file).ok()?;
    if text.trim() == "absent" {
        return Some(None);
    }
    let lock = PacksLock::parse(&text, file).ok()?;
    Some(lock.packs.get(pack_ref).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PacksLock {
        let mut lock = PacksLock::default();
        lock.packs.insert(
            "twitter".into(),
            LockedPack {
                pack_ref: "twitter".into(),
                version: "1.0.0".into(),
                source: SourceKind::Index,
                index: Some("https://index.stackstorm.org/v1/index.json".into()),
                name: Some("twitter".into()),
                url: "https://github.com/StackStorm-Exchange/stackstorm-twitter".into(),
                requested: None,
                reference: Some("1.0.0".into()),
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                tree: "sha256:00".into(),
                dependencies: vec![],
                dependency_of: None,
                virtualenv: Some(LockedVenv {
                    python: "3.11.7".into(),
                    installer: "uv".into(),
                    packages: vec![LockedDist {
                        name: "requests".into(),
                        version: "2.31.0".into(),
                        hash: "sha256:ab".into(),
                    }],
                }),
                virtualenv_skipped: false,
            },
        );
        lock.packs.insert(
            "local".into(),
            LockedPack {
                pack_ref: "local".into(),
                version: "0.1.0".into(),
                source: SourceKind::Directory,
                index: None,
                name: None,
                url: "file:///srv/packs/lo\"cal".into(),
                requested: None,
                reference: None,
                commit: None,
                tree: "sha256:11".into(),
                dependencies: vec!["twitter=1.0.0".into()],
                dependency_of: None,
                virtualenv: None,
                virtualenv_skipped: true,
            },
        );
        lock
    }

    #[test]
    fn render_then_parse_is_the_identity_and_is_stable() {
        let lock = sample();
        let text = lock.render();
        let parsed = PacksLock::parse(&text, Path::new("packs.lock")).unwrap();
        assert_eq!(parsed, lock);
        assert_eq!(parsed.render(), text);
        assert!(text.contains("[[pack]]\nref = \"local\""), "{text}");
        assert!(text.contains(
            "packages = [\n    { name = \"requests\", version = \"2.31.0\", hash = \"sha256:ab\" },\n]"
        ));
        assert!(text.contains("url = 'file:///srv/packs/lo\"cal'"), "{text}");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let path = Path::new("/x/packs.lock");
        let err = PacksLock::parse("version = 2\n", path).unwrap_err();
        assert!(
            matches!(err, LockFileError::TooNew { found: 2, .. }),
            "{err}"
        );
        let err = PacksLock::parse("[[pack]]\nref = \"a\"\n", path).unwrap_err();
        assert!(err.to_string().contains("no `version` key"), "{err}");
        let err = PacksLock::parse("version = 1\n[[pack]]\nref = \"a\"\n", path).unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        let err = PacksLock::parse("version = 1\ngarbage = [\n", path).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "/x/packs.lock is not a valid packs.lock: line 2, column 12: unclosed array"
            ),
            "{err}"
        );
        let text = sample()
            .render()
            .replace("ref = \"local\"", "ref = \"Bad-Ref\"");
        let err = PacksLock::parse(&text, path).unwrap_err();
        assert!(
            err.to_string().contains("\"Bad-Ref\" is not a pack ref"),
            "{err}"
        );
    }

    #[test]
    fn distribution_differences_name_each_one() {
        let dist = |name: &str, version: &str, hash: &str| LockedDist {
            name: name.into(),
            version: version.into(),
            hash: hash.into(),
        };
        let locked = vec![
            dist("a", "1", "h1"),
            dist("b", "2", "h2"),
            dist("c", "3", "h3"),
        ];
        let installed = vec![
            dist("a", "1", "h1"),
            dist("b", "2.1", "h2"),
            dist("c", "3", "hx"),
            dist("d", "4", "h4"),
        ];
        assert!(dist_differences(&locked, &locked).is_empty());
        assert_eq!(
            dist_differences(&locked, &installed),
            vec![
                "b 2.1 is installed, packs.lock has 2",
                "c==3 has hash hx, packs.lock has h3 (another build of that version: another \
                 platform or Python?)",
                "d==4 is not in packs.lock",
            ]
        );
        assert_eq!(dist_differences(&locked[..1], &[]), vec!["a==1 is missing"]);
    }

    #[test]
    fn updates_keep_other_entries_and_previous_entries_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE_NAME);
        let guard = LockFileGuard::acquire(&dir.path().join("locks"), &path).unwrap();
        // Dropping what is not there writes nothing.
        guard.update(&[("twitter".into(), None)]).unwrap();
        assert!(!path.exists());
        let sample = sample();
        let twitter = sample.packs["twitter"].clone();
        let local = sample.packs["local"].clone();
        guard
            .update(&[("twitter".into(), Some(twitter.clone()))])
            .unwrap();
        guard
            .update(&[("local".into(), Some(local.clone()))])
            .unwrap();
        assert_eq!(guard.read().unwrap(), sample);
        guard.update(&[("twitter".into(), None)]).unwrap();
        assert_eq!(
            guard.read().unwrap().packs.keys().collect::<Vec<_>>(),
            ["local"]
        );

        let previous = dir.path().join("previous");
        save_previous(Some(&twitter), &previous).unwrap();
        assert_eq!(load_previous(&previous, "twitter"), Some(Some(twitter)));
        save_previous(None, &previous).unwrap();
        assert_eq!(load_previous(&previous, "twitter"), Some(None));
        assert_eq!(load_previous(&dir.path().join("none"), "twitter"), None);
    }
}

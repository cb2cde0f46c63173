//! `st2 pack verify [PACK...]`: each locked pack as installed, against `packs.lock`.
//!
//! - Files: the installed tree's hash against the locked one; when they differ, the files
//!   are listed against the commit they came from (its tree read from the pack's `.git`, or
//!   the git cache when that is gone or rewritten), or against the source directory when it
//!   still holds what was installed. `.git/` and a top-level `config.yaml` are not pack files
//!   ([`crate::pack::tree`]).
//! - The virtualenv: its distributions (names, versions, hashes) against the locked ones, and
//!   each distribution's files against its RECORD.
//! - A locked pack that is not installed is `missing`; an installed one the lock does not
//!   list, `not locked`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::git;
use crate::ops::packs::{PackVerification, Warned};
use crate::pack::lockfile::{dist_differences, LockedDist, LockedPack, PacksLock, SourceKind};
use crate::pack::tree::{self, Changes};
use crate::settings::Settings;

/// Verify packs (the local side of [`crate::ops::PackOps::verify_packs`]).
pub(crate) fn verify_packs(settings: &Settings, names: &[String]) -> Warned<Vec<PackVerification>> {
    let mut warnings = Vec::new();
    let answer = verify(settings, names, &mut warnings);
    Warned::new(warnings, answer)
}

fn verify(
    settings: &Settings,
    names: &[String],
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<PackVerification>> {
    let (store, recovered) = super::open_store(settings)?;
    warnings.extend(recovered);
    let lock = PacksLock::read(&settings.lock_file())?.unwrap_or_default();
    // Installed by st2 (a source recorded), by ref.
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    if let Some(store) = &store {
        for pack in store.packs()? {
            let ours = pack
                .source
                .as_ref()
                .and_then(|source| source.get("type"))
                .and_then(Value::as_str)
                .is_some();
            if ours {
                installed.insert(pack.pack_ref, pack.version);
            }
        }
    }
    for name in names {
        if !lock.packs.contains_key(name) && !installed.contains_key(name) {
            anyhow::bail!(
                "pack \"{name}\" is neither installed nor in {}",
                settings.lock_file().display()
            );
        }
    }
    let wanted = |name: &String| names.is_empty() || names.contains(name);
    let mut results = Vec::new();
    for (pack_ref, entry) in lock.packs.iter().filter(|(name, _)| wanted(name)) {
        results.push(verify_one(settings, entry));
        debug_assert_eq!(&results.last().expect("pushed").pack_ref, pack_ref);
    }
    for (pack_ref, version) in installed.iter().filter(|(name, _)| wanted(name)) {
        if !lock.packs.contains_key(pack_ref) {
            results.push(PackVerification {
                pack_ref: pack_ref.clone(),
                version: version.clone(),
                status: "not locked".into(),
                files: Changes::default(),
                problems: vec![format!(
                    "installed, but {} does not list it; install it again to lock it",
                    settings.lock_file().display()
                )],
            });
        }
    }
    results.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
    Ok(results)
}

fn verify_one(settings: &Settings, entry: &LockedPack) -> PackVerification {
    let pack_dir = settings.pack_dir(&entry.pack_ref);
    let mut result = PackVerification {
        pack_ref: entry.pack_ref.clone(),
        version: entry.version.clone(),
        status: "ok".into(),
        files: Changes::default(),
        problems: Vec::new(),
    };
    if !pack_dir.is_dir() {
        result.status = "missing".into();
        result.problems.push(format!(
            "not installed ({} does not exist)",
            pack_dir.display()
        ));
        return result;
    }
    if let Ok(manifest) = crate::pack::manifest::PackManifest::load(&pack_dir) {
        if manifest.version != entry.version {
            result.problems.push(format!(
                "version {} is installed, packs.lock has {}",
                manifest.version, entry.version
            ));
        }
    }
    match tree::tree_hash(&pack_dir) {
        Ok(hash) if hash == entry.tree => {}
        Ok(hash) => match changed_files(settings, entry, &pack_dir) {
            Some(changes) if !changes.is_empty() => result.files = changes,
            _ => result.problems.push(format!(
                "its files changed since it was installed (tree {hash}, locked {})",
                entry.tree
            )),
        },
        Err(err) => result.problems.push(format!(
            "cannot read {}: {}",
            pack_dir.display(),
            crate::settings::io_reason(&err)
        )),
    }
    result.problems.extend(virtualenv_problems(settings, entry));
    if !result.files.is_empty() || !result.problems.is_empty() {
        result.status = "drift".into();
    }
    result
}

/// The files that differ from what was installed: against the locked commit, or against the
/// source directory when it still holds the locked tree. `None` when neither can be read.
fn changed_files(settings: &Settings, entry: &LockedPack, pack_dir: &Path) -> Option<Changes> {
    match (&entry.commit, entry.source) {
        (Some(commit), SourceKind::Index | SourceKind::Git) => {
            let own = pack_dir.join(".git");
            let cached = git::cache_repo_path(&settings.git_cache_dir(), &entry.url);
            let repositories: Vec<&Path> = vec![own.as_path(), cached.as_path()];
            let skip = |path: &str| tree::is_excluded(path);
            let expected = git::commit_files(&repositories, commit, &skip).ok()?;
            let actual = git::worktree_files(pack_dir, &skip).ok()?;
            Some(tree::compare(&expected, &actual))
        }
        (_, SourceKind::Directory) => {
            let source = PathBuf::from(entry.url.trim_start_matches("file://"));
            let expected = tree::files(&source).ok()?;
            if tree::hash(&expected) != entry.tree {
                return None;
            }
            Some(tree::compare(&expected, &tree::files(pack_dir).ok()?))
        }
        _ => None,
    }
}

/// How the pack's virtualenv differs from the locked one.
fn virtualenv_problems(settings: &Settings, entry: &LockedPack) -> Vec<String> {
    let Some(locked) = &entry.virtualenv else {
        return Vec::new();
    };
    let venv_dir = settings.venv_dir(&entry.pack_ref);
    if !crate::venv::python_path(&venv_dir).exists() {
        return vec![format!("its virtualenv {} is missing", venv_dir.display())];
    }
    let dists = crate::venv::packages(&venv_dir);
    let installed: Vec<LockedDist> = dists
        .iter()
        .map(|dist| LockedDist {
            name: dist.name.clone(),
            version: dist.version.clone(),
            hash: dist.hash.clone(),
        })
        .collect();
    let mut problems: Vec<String> = dist_differences(&locked.packages, &installed)
        .into_iter()
        .map(|difference| format!("virtualenv: {difference}"))
        .collect();
    for dist in &dists {
        for file in dist.changed_files() {
            problems.push(format!(
                "virtualenv: {} was changed since {} was installed",
                file,
                dist.pin()
            ));
        }
    }
    problems
}

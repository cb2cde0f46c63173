//! The lock file's part of an install: `--locked` (which packs, in which order, each fetched
//! at its locked commit; what was fetched and built checked against the lock), the lock entry
//! of a plain install that lands on a locked commit, and the entry each installed pack gets.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::failure::{Fate, InstallError};
use super::resolve::Resolved;
use super::{PackInstall, Prepared, VenvRecord};
use crate::ops::packs::InstallStep;
use crate::pack::lockfile::{self, LockedDist, LockedPack, SourceKind};
use crate::pack::manifest::SYSTEM_PACKS;
use crate::pack::source::likely_name_and_version;
use crate::pack::source::{self, PackSource};
use crate::venv::dists::Dist;

impl PackInstall<'_> {
    /// `--locked`: the lock file's packs (those named, with the dependencies it lists for
    /// them; all when none is named), dependencies first, each to be fetched at its commit.
    pub(super) fn resolve_locked(
        &mut self,
        names: &[String],
    ) -> Result<Vec<Resolved>, Vec<(Option<String>, InstallError)>> {
        let path = self.settings.lock_file();
        if !path.is_file() {
            return Err(vec![(None, InstallError::NoLockFile { path })]);
        }
        let mut failed = Vec::new();
        let mut wanted: Vec<String> = Vec::new();
        if names.is_empty() {
            wanted.extend(self.lock.packs.keys().cloned());
        }
        for name in names {
            match self.locked_entry_for(name) {
                Some(entry) => wanted.push(entry.pack_ref.clone()),
                None => failed.push((
                    Some(name.clone()),
                    InstallError::NotLocked {
                        name: name.clone(),
                        path: path.clone(),
                    },
                )),
            }
        }
        if !failed.is_empty() {
            return Err(failed);
        }
        let mut order = Vec::new();
        for pack_ref in &wanted {
            self.dependencies_first(pack_ref, &mut order, &mut Vec::new());
        }
        let mut resolved = Vec::new();
        for pack_ref in order {
            let entry = self.lock.packs[&pack_ref].clone();
            self.ledger.push((pack_ref.clone(), Fate::NotStarted));
            match self.resolve_pinned(entry) {
                Ok(one) => resolved.push(one),
                Err(error) => failed.push((Some(pack_ref), error)),
            }
        }
        if failed.is_empty() {
            Ok(resolved)
        } else {
            Err(failed)
        }
    }

    /// The lock entry a name (a ref, or a dependency string) stands for.
    fn locked_entry_for(&self, name: &str) -> Option<&LockedPack> {
        if let Some(entry) = self.lock.packs.get(name) {
            return Some(entry);
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let parsed = source::parse(name, &cwd).ok()?;
        let (likely, _) = likely_name_and_version(&parsed);
        self.lock.packs.values().find(|entry| match &parsed {
            PackSource::Index { name, .. } => {
                entry.name.as_deref() == Some(name.as_str()) || entry.pack_ref == *name
            }
            PackSource::Git { url, .. } => entry.url == *url || entry.pack_ref == likely,
            PackSource::Directory { path } => {
                entry.url == format!("file://{}", path.display()) || entry.pack_ref == likely
            }
        })
    }

    /// Append `pack_ref` to `order` after the locked packs it depends on (each once; a cycle
    /// is cut where it closes).
    fn dependencies_first(&self, pack_ref: &str, order: &mut Vec<String>, chain: &mut Vec<String>) {
        if order.iter().any(|done| done == pack_ref) || chain.iter().any(|up| up == pack_ref) {
            return;
        }
        let Some(entry) = self.lock.packs.get(pack_ref) else {
            return;
        };
        chain.push(pack_ref.to_string());
        for dependency in &entry.dependencies {
            if let Some(found) = self.locked_entry_for(dependency) {
                let found = found.pack_ref.clone();
                self.dependencies_first(&found, order, chain);
            }
        }
        chain.pop();
        order.push(pack_ref.to_string());
    }

    /// A lock entry as a resolved source: its URL at its commit (a directory as it is), no
    /// index and no `ls-remote`.
    fn resolve_pinned(&mut self, entry: LockedPack) -> Result<Resolved, InstallError> {
        let label = entry.pack_ref.clone();
        self.current = Some(label.clone());
        self.check_interrupt(InstallStep::Resolve)?;
        let (source, record) = match entry.source {
            SourceKind::Directory => {
                let path = PathBuf::from(entry.url.strip_prefix("file://").unwrap_or(&entry.url));
                if !path.is_dir() {
                    return Err(crate::pack::source::SourceError::MissingDirectory(path).into());
                }
                (
                    PackSource::Directory { path },
                    json!({"type": "directory", "url": entry.url}),
                )
            }
            kind => {
                let Some(commit) = entry.commit.clone() else {
                    return Err(InstallError::LockMismatch(format!(
                        "its entry has no commit; install \"{}\" without --locked to lock it again",
                        entry.pack_ref
                    )));
                };
                let record = if kind == SourceKind::Index {
                    json!({"type": "index", "name": entry.name, "url": entry.url,
                           "reference": entry.reference})
                } else {
                    json!({"type": "git", "url": entry.url, "reference": entry.requested})
                };
                (
                    PackSource::Git {
                        url: entry.url.clone(),
                        reference: Some(commit),
                    },
                    record,
                )
            }
        };
        self.progress
            .start(&label, InstallStep::Resolve, &source.to_string());
        let detail = match &entry.commit {
            Some(commit) => format!("{} at {} (packs.lock)", entry.url, short(commit)),
            None => format!("{} (packs.lock)", entry.url),
        };
        self.progress.done(&label, InstallStep::Resolve, &detail);
        Ok(Resolved {
            label,
            fetch_url: entry.url.clone(),
            references: Vec::new(),
            record,
            requested: entry.requested.clone(),
            index_url: entry.index.clone(),
            dependency_of: entry.dependency_of.clone(),
            source,
            pin: Some(entry),
        })
    }

    /// `--locked`: the staged pack is the locked version, tree and all.
    pub(super) fn check_pinned(
        &self,
        pin: &LockedPack,
        version: &str,
        tree: &str,
    ) -> Result<(), InstallError> {
        if version != pin.version {
            return Err(InstallError::LockMismatch(format!(
                "version {version} was fetched, packs.lock has {}",
                pin.version
            )));
        }
        if tree != pin.tree {
            return Err(InstallError::LockMismatch(match pin.source {
                SourceKind::Directory => format!(
                    "the files of {} changed since packs.lock was written (tree {tree}, locked \
                     {})",
                    pin.url, pin.tree
                ),
                _ => format!(
                    "the files at commit {} hash to {tree}, packs.lock has {}",
                    pin.commit.as_deref().map(short).unwrap_or_default(),
                    pin.tree
                ),
            }));
        }
        Ok(())
    }

    /// `--locked`: every dependency of `pack_ref` is a system pack, one of the locked packs
    /// being installed, or installed already.
    pub(super) fn check_locked_dependencies(
        &self,
        pack_ref: &str,
        dependencies: &[String],
    ) -> Result<(), InstallError> {
        for dependency in dependencies {
            let cwd = self.settings.packs_dir().join(pack_ref);
            let parsed = source::parse(dependency, &cwd)?;
            let (name, _) = likely_name_and_version(&parsed);
            if SYSTEM_PACKS.contains(&name.as_str())
                || self.locked_entry_for(dependency).is_some()
                || self.settings.pack_dir(&name).join("pack.yaml").is_file()
            {
                continue;
            }
            return Err(InstallError::LockMismatch(format!(
                "\"{pack_ref}\" depends on \"{dependency}\", which packs.lock does not list and \
                 is not installed"
            )));
        }
        Ok(())
    }

    /// The lock entry for the same pack at the same commit (a directory: the same tree),
    /// whose Python distributions a plain install pins.
    pub(super) fn lock_match(
        &self,
        pack_ref: &str,
        record: &Value,
        tree: &str,
    ) -> Option<LockedPack> {
        let entry = self.lock.packs.get(pack_ref)?;
        let same = match record.get("commit").and_then(Value::as_str) {
            Some(commit) => entry.commit.as_deref() == Some(commit),
            None => entry.source == SourceKind::Directory && entry.tree == tree,
        };
        same.then(|| entry.clone())
    }
}

/// `--locked`: the virtualenv built holds exactly the locked distributions; the differences
/// otherwise, one phrase each.
pub(super) fn venv_differences(locked: &[LockedDist], built: &[Dist]) -> Vec<String> {
    lockfile::dist_differences(locked, &locked_dists(built))
}

/// Distributions as the lock file records them.
pub(super) fn locked_dists(dists: &[Dist]) -> Vec<LockedDist> {
    dists
        .iter()
        .map(|dist| LockedDist {
            name: dist.name.clone(),
            version: dist.version.clone(),
            hash: dist.hash.clone(),
        })
        .collect()
}

/// The lock file's entry for a pack committed.
pub(super) fn entry_for(prepared: &Prepared) -> LockedPack {
    let record = &prepared.source;
    let text = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_string);
    let source = match text("type").as_deref() {
        Some("index") => SourceKind::Index,
        Some("directory") => SourceKind::Directory,
        _ => SourceKind::Git,
    };
    let manifest = &prepared.loaded.manifest;
    LockedPack {
        pack_ref: prepared.pack_ref.clone(),
        version: manifest.version.clone(),
        source,
        index: prepared
            .index_url
            .clone()
            .filter(|_| source == SourceKind::Index),
        name: text("name").filter(|_| source == SourceKind::Index),
        url: text("url").unwrap_or_default(),
        requested: prepared.requested.clone(),
        reference: text("reference").filter(|_| source != SourceKind::Directory),
        commit: text("commit"),
        tree: prepared.tree.clone(),
        dependencies: manifest.dependencies.clone(),
        dependency_of: prepared.dependency_of.clone(),
        virtualenv: match &prepared.venv_record {
            VenvRecord::Locked(venv) => Some(venv.clone()),
            _ => None,
        },
        virtualenv_skipped: matches!(prepared.venv_record, VenvRecord::Skipped),
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

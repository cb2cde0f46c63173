//! `st2 pack outdated`, and the targets of `st2 pack update`: for each installed pack, the
//! version installed, the newest its source offers, and the newest compatible with what the
//! other installed packs' `dependencies` ask of it.
//!
//! - A pack from the index: its entry's versions (highest semver first). The newest
//!   compatible is the highest that every exact `name=version` dependency on it allows (only
//!   exact versions exist upstream, st2#5318).
//! - A pack from a git URL that follows a branch (no ref asked, or a branch): the branch's tip
//!   (`ls-remote`); asked at a tag, version or commit: the highest `v<semver>` tag.
//! - A pack copied from a directory: `changed` when the directory's files no longer hash to
//!   the installed tree.
//!
//! A pack installed at an asked version, tag or commit is pinned: `update --all` leaves it,
//! `update PACK` moves it (and the pin with it). Offline, the index copies and the git cache
//! answer.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::pack_install::Target;
use crate::git;
use crate::index::{Index, IndexOptions};
use crate::ops::packs::{OutdatedPack, OutdatedRequest, Warned};
use crate::pack::lockfile::{LockedPack, PacksLock};
use crate::pack::source::{self, likely_name_and_version, PackSource};
use crate::settings::Settings;
use crate::store::PackRecord;

/// One installed pack, what its source offers, and where an update would take it.
pub(super) struct Candidate {
    pub(super) report: OutdatedPack,
    /// The target of an update (none: nothing newer, or it cannot be told).
    pub(super) target: Option<Target>,
}

/// `st2 pack outdated` (the local side of [`crate::ops::PackOps::outdated_packs`]).
pub(crate) fn outdated_packs(
    settings: &Settings,
    request: &OutdatedRequest,
) -> Warned<Vec<OutdatedPack>> {
    let mut warnings = Vec::new();
    let answer = candidates(settings, &request.packs, request.offline, &mut warnings)
        .map(|candidates| candidates.into_iter().map(|c| c.report).collect());
    Warned::new(warnings, answer)
}

/// Every installed pack's (or those named) [`Candidate`], by ref.
pub(super) fn candidates(
    settings: &Settings,
    names: &[String],
    offline: bool,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<Candidate>> {
    let (store, recovered) = super::open_store(settings)?;
    warnings.extend(recovered);
    let installed: Vec<PackRecord> = match &store {
        Some(store) => store.packs()?.into_iter().filter(installed_by_us).collect(),
        None => Vec::new(),
    };
    for name in names {
        if !installed.iter().any(|pack| pack.pack_ref == *name) {
            anyhow::bail!(
                "pack \"{name}\" is not installed (installed: {})",
                list_or_none(installed.iter().map(|pack| pack.pack_ref.as_str()))
            );
        }
    }
    let lock = PacksLock::read(&settings.lock_file())?.unwrap_or_default();
    let mut checker = Checker {
        settings,
        offline,
        index: None,
        remotes: BTreeMap::new(),
        warnings,
    };
    let mut found = Vec::new();
    for pack in &installed {
        if !names.is_empty() && !names.contains(&pack.pack_ref) {
            continue;
        }
        let constraints = constraints_on(&pack.pack_ref, &installed, settings);
        found.push(checker.check(pack, lock.packs.get(&pack.pack_ref), &constraints));
    }
    Ok(found)
}

/// Packs st2 installed (their source is recorded), not the built-in one or packs placed by
/// hand and registered.
fn installed_by_us(pack: &PackRecord) -> bool {
    pack.source
        .as_ref()
        .and_then(|source| source.get("type"))
        .and_then(Value::as_str)
        .is_some()
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The exact versions the other installed packs' `dependencies` ask of `pack_ref`, each with
/// who asks.
fn constraints_on(
    pack_ref: &str,
    installed: &[PackRecord],
    settings: &Settings,
) -> Vec<(String, String)> {
    let mut constraints = Vec::new();
    for other in installed.iter().filter(|other| other.pack_ref != pack_ref) {
        let Some(dependencies) = other.metadata.get("dependencies").and_then(Value::as_array)
        else {
            continue;
        };
        let cwd = settings.pack_dir(&other.pack_ref);
        for dependency in dependencies.iter().filter_map(Value::as_str) {
            let Ok(parsed) = source::parse(dependency, &cwd) else {
                continue;
            };
            if let (name, Some(version)) = likely_name_and_version(&parsed) {
                if name == pack_ref {
                    constraints.push((other.pack_ref.clone(), version));
                }
            }
        }
    }
    constraints
}

fn semver(text: &str) -> Option<semver::Version> {
    semver::Version::parse(text.trim_start_matches('v')).ok()
}

/// Whether `candidate` is a higher version than `installed` (as semver; when either is not
/// semver, whether they differ).
fn newer(candidate: &str, installed: &str) -> bool {
    match (semver(candidate), semver(installed)) {
        (Some(candidate), Some(installed)) => candidate > installed,
        _ => candidate.trim_start_matches('v') != installed.trim_start_matches('v'),
    }
}

/// The highest of `versions` (highest first) every constraint allows; the constraint that
/// holds it back, when one does.
fn compatible(
    versions: &[String],
    constraints: &[(String, String)],
) -> (Option<String>, Option<String>) {
    let allowed = |version: &str| {
        constraints
            .iter()
            .all(|(_, wanted)| wanted.trim_start_matches('v') == version.trim_start_matches('v'))
    };
    let best = versions.iter().find(|version| allowed(version)).cloned();
    let held = match (versions.first(), &best) {
        (Some(newest), Some(best)) if newest != best => constraints
            .iter()
            .find(|(_, wanted)| wanted.trim_start_matches('v') != newest.trim_start_matches('v'))
            .map(|(by, wanted)| format!("{by} depends on version {wanted}")),
        (Some(_), None) => Some(format!(
            "the installed packs ask for different versions: {}",
            constraints
                .iter()
                .map(|(by, wanted)| format!("{by} wants {wanted}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    };
    (best, held)
}

/// Looks sources up, each index and repository once.
struct Checker<'a> {
    settings: &'a Settings,
    offline: bool,
    index: Option<Result<Index, String>>,
    remotes: BTreeMap<String, Result<git::RemoteState, String>>,
    warnings: &'a mut Vec<String>,
}

impl Checker<'_> {
    fn index(&mut self) -> Result<&Index, String> {
        if self.index.is_none() {
            let mut options = IndexOptions::from_settings(self.settings);
            options.offline = self.offline;
            let loaded = Index::load(&self.settings.index_urls, &options).map(|loaded| {
                self.warnings.extend(loaded.warnings);
                loaded.index
            });
            self.index = Some(loaded.map_err(|err| err.to_string()));
        }
        self.index
            .as_ref()
            .expect("loaded above")
            .as_ref()
            .map_err(Clone::clone)
    }

    fn remote(&mut self, url: &str) -> Result<git::RemoteState, String> {
        let options = git::FetchOptions {
            timeout: self.settings.network_timeout,
            cache: Some(self.settings.git_cache_dir()),
            offline: self.offline,
            ca_bundle: self.settings.ca_bundle.clone(),
        };
        self.remotes
            .entry(url.to_string())
            .or_insert_with(|| git::remote_state(url, &options).map_err(|err| err.to_string()))
            .clone()
    }

    fn check(
        &mut self,
        pack: &PackRecord,
        locked: Option<&LockedPack>,
        constraints: &[(String, String)],
    ) -> Candidate {
        let source = pack.source.clone().unwrap_or(Value::Null);
        let text = |key: &str| source.get(key).and_then(Value::as_str).map(str::to_string);
        let kind = text("type").unwrap_or_default();
        // What was asked for: the lock file knows; a git source records it too.
        let requested = match locked {
            Some(locked) => locked.requested.clone(),
            None if kind == "git" => text("reference"),
            None => None,
        };
        let mut report = OutdatedPack {
            pack_ref: pack.pack_ref.clone(),
            source: kind.clone(),
            installed: pack.version.clone(),
            newest: None,
            compatible: None,
            pinned: false,
            status: "up to date".into(),
            note: None,
        };
        let target = match kind.as_str() {
            "index" => self.check_index(&mut report, text("name"), requested, constraints),
            "git" => self.check_git(
                &mut report,
                text("url"),
                text("commit"),
                requested,
                constraints,
            ),
            "directory" => check_directory(&mut report, text("url"), locked),
            _ => None,
        };
        Candidate { report, target }
    }

    fn check_index(
        &mut self,
        report: &mut OutdatedPack,
        name: Option<String>,
        requested: Option<String>,
        constraints: &[(String, String)],
    ) -> Option<Target> {
        let name = name.unwrap_or_else(|| report.pack_ref.clone());
        let versions = match self.index() {
            Ok(index) => match index.get(&name) {
                Some(entry) => entry.sorted_versions(),
                None => {
                    report.status = "unknown".into();
                    report.note = Some(format!("the index has no pack \"{name}\" any more"));
                    return None;
                }
            },
            Err(err) => {
                report.status = "unknown".into();
                report.note = Some(err);
                return None;
            }
        };
        let (best, held) = compatible(&versions, constraints);
        report.newest = versions.first().cloned();
        report.compatible = best.clone();
        report.pinned = requested.is_some();
        report.note = held;
        let best = best.filter(|best| newer(best, &report.installed))?;
        report.status = if report.pinned {
            "pinned".into()
        } else {
            "update available".into()
        };
        Some(Target {
            pack_ref: report.pack_ref.clone(),
            source: PackSource::Index {
                name,
                version: Some(best.clone()),
            },
            // A pack that follows the index's newest stays unpinned; a pin moves.
            requested: requested.map(|_| best),
            dependency_of: None,
        })
    }

    fn check_git(
        &mut self,
        report: &mut OutdatedPack,
        url: Option<String>,
        commit: Option<String>,
        requested: Option<String>,
        constraints: &[(String, String)],
    ) -> Option<Target> {
        let url = url?;
        let remote = match self.remote(&url) {
            Ok(remote) => remote,
            Err(err) => {
                report.status = "unknown".into();
                report.note = Some(err);
                return None;
            }
        };
        let branch = match &requested {
            None => remote.default_branch.clone(),
            Some(name) => remote
                .branches
                .iter()
                .find(|(branch, _)| branch == name)
                .cloned(),
        };
        if let Some((branch, tip)) = branch {
            // Follows a branch: its tip.
            let newest = format!("{branch}@{}", &tip[..tip.len().min(7)]);
            report.newest = Some(newest.clone());
            report.compatible = Some(newest);
            if commit.as_deref() == Some(tip.as_str()) {
                return None;
            }
            report.status = "update available".into();
            return Some(Target {
                pack_ref: report.pack_ref.clone(),
                source: PackSource::Git {
                    url,
                    reference: requested.clone(),
                },
                requested,
                dependency_of: None,
            });
        }
        // Pinned at a tag, version or commit: the highest version tag.
        report.pinned = true;
        let (best, held) = compatible(&remote.versions, constraints);
        report.newest = remote.versions.first().cloned();
        report.compatible = best.clone();
        report.note = held;
        let best = best.filter(|best| newer(best, &report.installed))?;
        report.status = "pinned".into();
        Some(Target {
            pack_ref: report.pack_ref.clone(),
            source: PackSource::Git {
                url,
                reference: Some(best.clone()),
            },
            requested: Some(best),
            dependency_of: None,
        })
    }
}

/// A directory source: `changed` when its files no longer hash to the installed tree.
fn check_directory(
    report: &mut OutdatedPack,
    url: Option<String>,
    locked: Option<&LockedPack>,
) -> Option<Target> {
    let path = PathBuf::from(url?.trim_start_matches("file://"));
    let Ok(now) = crate::pack::tree::tree_hash(&path) else {
        report.status = "unknown".into();
        report.note = Some(format!("{} is gone", path.display()));
        return None;
    };
    let Some(locked) = locked else {
        report.status = "unknown".into();
        report.note = Some("not in packs.lock: its installed tree is not known".into());
        return None;
    };
    if now == locked.tree {
        return None;
    }
    report.newest = Some("changed".into());
    report.compatible = Some("changed".into());
    report.status = "update available".into();
    Some(Target {
        pack_ref: report.pack_ref.clone(),
        source: PackSource::Directory { path },
        requested: None,
        dependency_of: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(list: &[&str]) -> Vec<String> {
        list.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn the_newest_compatible_version_follows_exact_dependencies() {
        let offered = versions(&["2.0.0", "1.1.0", "1.0.0"]);
        assert_eq!(compatible(&offered, &[]), (Some("2.0.0".into()), None));
        let held = vec![("app".to_string(), "1.1.0".to_string())];
        assert_eq!(
            compatible(&offered, &held),
            (
                Some("1.1.0".into()),
                Some("app depends on version 1.1.0".into())
            )
        );
        let torn = vec![
            ("a".to_string(), "1.0.0".to_string()),
            ("b".to_string(), "1.1.0".to_string()),
        ];
        let (best, note) = compatible(&offered, &torn);
        assert_eq!(best, None);
        assert!(note.unwrap().contains("a wants 1.0.0, b wants 1.1.0"));
        assert!(newer("1.10.0", "1.2.0"));
        assert!(!newer("1.0.0", "v1.0.0"));
    }
}

//! Phase 1, resolve: where each PACK argument (or dependency) comes from, checked before
//! anything is downloaded: the index entry and version, and the ref in the repository (one
//! `ls-remote`). Also the announcement of the index's content counts, and the name a source
//! will most likely install as.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::failure::{Fate, InstallError};
use super::{PackInstall, Target};
use crate::git;
use crate::index::{Index, IndexEntry, IndexOptions};
use crate::ops::packs::InstallStep;
use crate::pack::lockfile::LockedPack;
use crate::pack::source::{self, likely_name_and_version, PackSource};

/// A PACK argument (or dependency) resolved: where to fetch it and at which ref.
pub(super) struct Resolved {
    /// The name progress and errors use until `pack.yaml` gives the ref.
    pub(super) label: String,
    pub(super) source: PackSource,
    pub(super) fetch_url: String,
    /// The ref to fetch (none: the default branch).
    pub(super) references: Vec<String>,
    pub(super) record: Value,
    /// What the argument asked for (`=REF`), for the lock file.
    pub(super) requested: Option<String>,
    /// The index the entry came from.
    pub(super) index_url: Option<String>,
    /// The lock file's entry to reproduce (`--locked`): fetched at its commit.
    pub(super) pin: Option<LockedPack>,
    /// Which pack pulled it in, when the lock file or an update says so.
    pub(super) dependency_of: Option<String>,
}

/// Where a source is fetched from before its ref is probed.
struct Location {
    fetch_url: String,
    /// The refs to try, in order of preference.
    candidates: Vec<String>,
    /// The source record to store.
    record: Value,
    /// The index the entry came from.
    index_url: Option<String>,
}

/// What a PACK argument asks for (`=REF`).
pub(super) fn requested_ref(source: &PackSource) -> Option<String> {
    match source {
        PackSource::Index { version, .. } => version.clone(),
        PackSource::Git { reference, .. } => reference.clone(),
        PackSource::Directory { .. } => None,
    }
}

impl PackInstall<'_> {
    /// The index, loaded on first use (installs from URLs never need it).
    fn index(&mut self) -> Result<&Index, InstallError> {
        if self.index.is_none() {
            let mut options = IndexOptions::from_settings(self.settings);
            options.offline = self.options.offline;
            let loaded = Index::load(&self.settings.index_urls, &options)?;
            self.warnings.extend(loaded.warnings);
            self.index = Some(loaded.index);
        }
        Ok(self.index.as_ref().expect("loaded above"))
    }

    /// The content counts the index lists for `name` (for the announcement before installing);
    /// `None` when the index has no such pack.
    fn index_content_counts(
        &mut self,
        name: &str,
    ) -> Result<Option<Vec<(String, u64)>>, InstallError> {
        Ok(self.index()?.get(name).map(|entry| entry.content_counts()))
    }

    /// Upstream prints, for Exchange names, what the index says the pack holds.
    pub(super) fn announce_content(&mut self) {
        let cwd = std::env::current_dir().unwrap_or_default();
        for argument in &self.options.packs {
            let Ok(PackSource::Index { name, .. }) = source::parse(argument, &cwd) else {
                continue;
            };
            // Errors (unknown pack, index unreachable) are reported by the install itself.
            let Ok(Some(counts)) = self.index_content_counts(&name) else {
                continue;
            };
            if !counts.is_empty() {
                self.progress.index_content(&name, &counts);
            }
        }
    }

    /// Resolve every PACK argument; every one that fails is reported, nothing is downloaded.
    pub(super) fn resolve_arguments(
        &mut self,
        packs: &[String],
    ) -> Result<Vec<Resolved>, Vec<(Option<String>, InstallError)>> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut resolved = Vec::new();
        let mut failed = Vec::new();
        for argument in packs {
            let source = match source::parse(argument, &cwd) {
                Ok(source) => source,
                Err(err) => {
                    failed.push((Some(argument.clone()), err.into()));
                    continue;
                }
            };
            let label = likely_name_and_version(&source).0;
            self.ledger.push((label.clone(), Fate::NotStarted));
            match self.resolve(&label, source) {
                Ok(one) => resolved.push(one),
                Err(err) => failed.push((Some(label), err)),
            }
        }
        if failed.is_empty() {
            Ok(resolved)
        } else {
            Err(failed)
        }
    }

    /// Resolve the targets `st2 pack update` chose: as arguments, each recording what the
    /// lock file says was asked for.
    pub(super) fn resolve_targets(
        &mut self,
        targets: Vec<Target>,
    ) -> Result<Vec<Resolved>, Vec<(Option<String>, InstallError)>> {
        let mut resolved = Vec::new();
        let mut failed = Vec::new();
        for target in targets {
            self.ledger
                .push((target.pack_ref.clone(), Fate::NotStarted));
            match self.resolve(&target.pack_ref, target.source) {
                Ok(mut one) => {
                    one.requested = target.requested;
                    one.dependency_of = target.dependency_of;
                    resolved.push(one);
                }
                Err(err) => failed.push((Some(target.pack_ref), err)),
            }
        }
        if failed.is_empty() {
            Ok(resolved)
        } else {
            Err(failed)
        }
    }

    /// Where `source` comes from, checked: the index entry and version, the ref in the
    /// repository (one `ls-remote`, nothing downloaded).
    pub(super) fn resolve(
        &mut self,
        label: &str,
        source: PackSource,
    ) -> Result<Resolved, InstallError> {
        self.current = Some(label.to_string());
        self.check_interrupt(InstallStep::Resolve)?;
        self.progress
            .start(label, InstallStep::Resolve, &source.to_string());
        let Location {
            fetch_url,
            candidates,
            mut record,
            index_url,
        } = self.locate(&source)?;
        let references = match &source {
            PackSource::Directory { .. } => Vec::new(),
            _ => {
                let chosen = self.probe_reference(label, &fetch_url, &candidates)?;
                if let Some(chosen) = &chosen {
                    record["reference"] = json!(chosen);
                }
                chosen.into_iter().collect()
            }
        };
        self.progress.done(
            label,
            InstallStep::Resolve,
            &match references.first() {
                Some(reference) => format!("{fetch_url} at {reference}"),
                None => fetch_url.clone(),
            },
        );
        Ok(Resolved {
            label: label.to_string(),
            requested: requested_ref(&source),
            source,
            fetch_url,
            references,
            record,
            index_url,
            pin: None,
            dependency_of: None,
        })
    }

    /// The first of `candidates` the repository has (one `ls-remote`); `None`: its default
    /// branch.
    fn probe_reference(
        &self,
        label: &str,
        fetch_url: &str,
        candidates: &[String],
    ) -> Result<Option<String>, InstallError> {
        git::probe(fetch_url, candidates, &self.fetch_options()).map_err(|error| {
            InstallError::Git {
                pack: label.to_string(),
                error,
            }
        })
    }

    /// Where to fetch from, which refs to try (in order of preference), and the source record
    /// to store.
    fn locate(&mut self, source: &PackSource) -> Result<Location, InstallError> {
        match source {
            PackSource::Index { name, version } => {
                let index = self.index()?;
                let Some(entry) = index.get(name) else {
                    return Err(InstallError::UnknownPack {
                        name: name.clone(),
                        suggestions: index.suggest(name),
                    });
                };
                let candidates = index_versions(name, version.as_deref(), entry)?;
                let record = json!({
                    "type": "index",
                    "name": name,
                    "url": entry.repo_url,
                    "reference": candidates.first(),
                });
                Ok(Location {
                    fetch_url: entry.repo_url.clone(),
                    candidates,
                    record,
                    index_url: Some(entry.index_url.clone()),
                })
            }
            PackSource::Git { url, reference } => Ok(Location {
                fetch_url: url.clone(),
                candidates: reference.iter().cloned().collect(),
                record: json!({"type": "git", "url": url, "reference": reference}),
                index_url: None,
            }),
            PackSource::Directory { path } => {
                let url = format!("file://{}", path.display());
                Ok(Location {
                    fetch_url: url.clone(),
                    candidates: Vec::new(),
                    record: json!({"type": "directory", "url": url}),
                    index_url: None,
                })
            }
        }
    }
}

/// The versions of an index entry to try, in order: the one asked for (refused when it looks
/// like a version the entry does not list), or every listed one, highest first.
fn index_versions(
    name: &str,
    version: Option<&str>,
    entry: &IndexEntry,
) -> Result<Vec<String>, InstallError> {
    match version {
        Some(version) => {
            let looks_like_version =
                semver::Version::parse(version.trim_start_matches('v')).is_ok();
            if looks_like_version && !entry.versions.is_empty() && !entry.has_version(version) {
                return Err(InstallError::UnknownVersion {
                    name: name.to_string(),
                    version: version.to_string(),
                    available: entry.sorted_versions(),
                });
            }
            Ok(vec![version.to_string()])
        }
        // [fix] The highest semver version of the entry, never string order. A version the
        // index lists but the repository never tagged (the real index lists kubernetes 1.8.0,
        // which is not a release) is skipped for the next highest; when none is tagged the
        // error names the first.
        None => Ok(entry.sorted_versions()),
    }
}

//! `st2 pack prune`: what packs that are no longer installed left behind, and leftovers of
//! killed commands.
//!
//! - `virtualenvs/<name>` and `configs/<name>.yaml` of a pack that is neither in a pack
//!   directory nor registered (upstream keeps both after `st2 pack remove`, and so do we);
//! - git cache repositories no installed pack and no `packs.lock` entry comes from;
//! - index copies of URLs that `[content] index_url` no longer lists;
//! - the built-in files (core pack scripts, Python modules) other st2-rs builds wrote to the
//!   cache directory: each build writes its own on first use, so upgrades leave old ones;
//! - temporary files of killed commands (`.packs.lock-*` beside the lock file, the base
//!   path's write checks).
//!
//! Staging and removal directories of killed installs are not listed: every pack command
//! removes those itself first. Each item is checked again when it is removed, under the
//! pack's lock (or the cached repository's), and directories are moved aside before they are
//! deleted, so that a prune killed part way leaves nothing half removed that the next command
//! does not finish.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::lock::{FileLock, PackLock};
use crate::ops::packs::{PruneItem, Warned};
use crate::pack::lockfile::{LockFileGuard, PacksLock};
use crate::settings::Settings;

/// A temporary file older than this belongs to no live command.
const LEFTOVER_AGE: Duration = Duration::from_secs(60);

/// What a directory being pruned is renamed to first: `.st2-pruning-<name>-<pid>`.
const PRUNING_PREFIX: &str = ".st2-pruning-";

/// What `st2 pack prune` would remove (the local side of
/// [`crate::ops::PackOps::prune_plan`]).
pub(crate) fn prune_plan(settings: &Settings) -> Warned<Vec<PruneItem>> {
    let mut warnings = Vec::new();
    let answer = plan(settings, &mut warnings);
    Warned::new(warnings, answer)
}

/// What is in use: installed packs, and the repositories packs and the lock come from.
struct InUse {
    packs: BTreeSet<String>,
    urls: BTreeSet<String>,
}

fn in_use(settings: &Settings) -> anyhow::Result<(InUse, Vec<String>)> {
    let (store, warnings) = super::open_store(settings)?;
    let mut packs = BTreeSet::new();
    let mut urls = BTreeSet::new();
    if let Some(store) = &store {
        for pack in store.packs()? {
            if let Some(url) = pack
                .source
                .as_ref()
                .and_then(|source| source.get("url"))
                .and_then(Value::as_str)
            {
                urls.insert(url.to_string());
            }
            packs.insert(pack.pack_ref);
        }
    }
    for dir in settings.pack_search_paths() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.path().join("pack.yaml").is_file() {
                    packs.insert(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
    // What the lock lists is kept too: it may be about to be installed (`--locked`).
    if let Some(lock) = PacksLock::read(&settings.lock_file())? {
        urls.extend(lock.packs.values().map(|entry| entry.url.clone()));
        packs.extend(lock.packs.keys().cloned());
    }
    Ok((InUse { packs, urls }, warnings))
}

fn plan(settings: &Settings, warnings: &mut Vec<String>) -> anyhow::Result<Vec<PruneItem>> {
    let (used, recovered) = in_use(settings)?;
    warnings.extend(recovered);
    let mut items = Vec::new();
    // Virtualenvs and configs of packs that are not installed.
    for (dir, kind) in [
        (settings.virtualenvs_dir(), "virtualenv"),
        (settings.configs_dir(), "config"),
    ] {
        for entry in sorted_entries(&dir) {
            let name = name_of(&entry);
            let pack = match kind {
                "config" => match name.strip_suffix(".yaml") {
                    Some(pack) if entry.is_file() => pack.to_string(),
                    _ => continue,
                },
                _ if name.starts_with('.') || !entry.is_dir() => continue,
                _ => name.clone(),
            };
            if !used.packs.contains(&pack) {
                items.push(PruneItem {
                    kind: kind.into(),
                    bytes: size_of(&entry),
                    path: entry,
                    reason: format!("pack {pack} is not installed (nor locked)"),
                });
            }
        }
    }
    // Cached repositories nothing comes from any more.
    for entry in sorted_entries(&settings.git_cache_dir()) {
        if entry.extension().is_none_or(|ext| ext != "git") || !entry.is_dir() {
            continue;
        }
        let reason = match crate::git::cached_repo_url(&entry) {
            Some(url) if used.urls.contains(&url) => continue,
            Some(url) => format!("no installed or locked pack comes from {url}"),
            None => "not a repository".to_string(),
        };
        items.push(PruneItem {
            kind: "git cache".into(),
            bytes: size_of(&entry),
            path: entry,
            reason,
        });
    }
    // In the cache directory (read once): index copies of URLs no longer configured, then
    // the built-in files another st2-rs build wrote (the core pack's scripts, the Python
    // modules python-script actions import): each build writes its own copy on first use,
    // so an upgrade leaves the old one.
    let configured: BTreeSet<PathBuf> = settings
        .index_urls
        .iter()
        .map(|url| crate::index::cache_path(&settings.cache_dir(), url))
        .collect();
    let current = [
        crate::action::builtin_pack_dir_name(),
        crate::runner::python::shim_dir_name(),
    ];
    let mut builds = Vec::new();
    for entry in sorted_entries(&settings.cache_dir()) {
        let name = name_of(&entry);
        if name.starts_with("index-") && name.ends_with(".json") && !configured.contains(&entry) {
            items.push(PruneItem {
                kind: "index cache".into(),
                bytes: size_of(&entry),
                path: entry,
                reason: "no [content] index_url names it".into(),
            });
        } else if (name.starts_with("builtin-core-") || name.starts_with("python-shim-"))
            && !current.contains(&name)
            && entry.is_dir()
        {
            builds.push(PruneItem {
                kind: "build cache".into(),
                bytes: size_of(&entry),
                path: entry,
                reason: "built-in files of another st2-rs build".into(),
            });
        }
    }
    items.extend(builds);
    // Directories a killed prune was removing.
    for dir in [
        settings.virtualenvs_dir(),
        settings.git_cache_dir(),
        settings.cache_dir(),
    ] {
        for entry in sorted_entries(&dir) {
            let name = name_of(&entry);
            let dead = name
                .strip_prefix(PRUNING_PREFIX)
                .and_then(|rest| rest.rsplit_once('-'))
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !crate::sys::process_alive(pid));
            if dead {
                items.push(PruneItem {
                    kind: "leftover".into(),
                    bytes: size_of(&entry),
                    path: entry,
                    reason: "half removed by a prune that was killed".into(),
                });
            }
        }
    }
    // Temporary files of killed commands.
    for entry in sorted_entries(&settings.base_path) {
        let name = name_of(&entry);
        let temporary = name.starts_with(".packs.lock-") || name.starts_with(".st2-write-check");
        if temporary && entry.is_file() && older_than(&entry, LEFTOVER_AGE) {
            items.push(PruneItem {
                kind: "leftover".into(),
                bytes: size_of(&entry),
                path: entry,
                reason: "a temporary file of a command that was killed".into(),
            });
        }
    }
    Ok(items)
}

/// The last component of `path`, as text.
fn name_of(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|meta| meta.modified())
        .is_ok_and(|at| at.elapsed().is_ok_and(|elapsed| elapsed > age))
}

/// Bytes of the files under `path` (not following symlinks).
fn size_of(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

/// Remove `items` (the local side of [`crate::ops::PackOps::prune`]), each checked again
/// under its lock.
pub(crate) fn prune(
    settings: &Settings,
    items: &[PruneItem],
) -> anyhow::Result<Vec<(PruneItem, Result<(), String>)>> {
    settings.ensure_writable()?;
    let mut done = Vec::new();
    for item in items {
        let outcome = prune_one(settings, item).map_err(|err| format!("{err:#}"));
        done.push((item.clone(), outcome));
    }
    Ok(done)
}

fn prune_one(settings: &Settings, item: &PruneItem) -> anyhow::Result<()> {
    let name = name_of(&item.path);
    match item.kind.as_str() {
        "virtualenv" | "config" => {
            let pack = name.trim_end_matches(".yaml").to_string();
            let _lock = PackLock::acquire(&settings.locks_dir(), &pack, || {})?;
            let (used, _) = in_use(settings)?;
            anyhow::ensure!(
                !used.packs.contains(&pack),
                "pack {pack} is installed now; kept"
            );
            remove_path(&item.path, &pack)
        }
        "git cache" => {
            let _lock = FileLock::acquire(&item.path.with_extension("lock"))?;
            let (used, _) = in_use(settings)?;
            if let Some(url) = crate::git::cached_repo_url(&item.path) {
                anyhow::ensure!(!used.urls.contains(&url), "{url} is in use now; kept");
            }
            remove_path(&item.path, "git")
        }
        "leftover" if name.starts_with(".packs.lock-") => {
            // No writer of the lock file is between writing and renaming this now.
            let _guard = LockFileGuard::acquire(&settings.locks_dir(), &settings.lock_file())?;
            remove_path(&item.path, "lock")
        }
        _ => remove_path(&item.path, "file"),
    }
}

/// Remove a file, or a directory moved aside first (`.st2-pruning-<name>-<pid>`, which the
/// next prune lists should this one be killed).
fn remove_path(path: &Path, name: &str) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    if !meta.is_dir() {
        return Ok(std::fs::remove_file(path)?);
    }
    let aside = path.with_file_name(format!("{PRUNING_PREFIX}{name}-{}", std::process::id()));
    std::fs::rename(path, &aside)?;
    std::fs::remove_dir_all(&aside)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_files_of_other_builds_are_listed_and_this_builds_kept() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_ini(&Default::default(), Some(dir.path().to_path_buf()), None).unwrap();
        let cache = settings.cache_dir();
        let mut names = vec![
            crate::action::builtin_pack_dir_name(),
            crate::runner::python::shim_dir_name(),
            "builtin-core-0.0.1-00000000deadbeef".to_string(),
            "python-shim-00000000deadbeef".to_string(),
        ];
        for name in &names {
            std::fs::create_dir_all(cache.join(name).join("sub")).unwrap();
            std::fs::write(cache.join(name).join("sub/file"), "12345").unwrap();
        }
        let mut warnings = Vec::new();
        let planned: Vec<PruneItem> = plan(&settings, &mut warnings)
            .unwrap()
            .into_iter()
            .filter(|item| item.kind == "build cache")
            .collect();
        let others = names.split_off(2);
        assert_eq!(
            planned
                .iter()
                .map(|item| item.path.clone())
                .collect::<Vec<_>>(),
            others
                .iter()
                .map(|name| cache.join(name))
                .collect::<Vec<_>>()
        );
        assert!(planned.iter().all(|item| item.bytes == 5));
        let done = prune(&settings, &planned).unwrap();
        assert!(done.iter().all(|(_, outcome)| outcome.is_ok()), "{done:?}");
        for name in &others {
            assert!(!cache.join(name).exists());
        }
        for name in &names {
            assert!(cache.join(name).join("sub/file").is_file());
        }
    }
}

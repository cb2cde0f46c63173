//! One registration run (`st2ctl reload`, `st2 pack register`): read every pack in parallel,
//! store each in its own transaction, register configs, reconcile what disappeared from disk,
//! and set up virtualenvs when asked.
//!
//! Unlike StackStorm, a failure never stops the run: every failure is collected as one line
//! and the other packs are still registered. What happens to the pack with a bad file depends
//! on [`RegisterRequest::fail_on_failure`]:
//! - fail on failure (StackStorm's default): [fix] the pack keeps its previous registration
//!   whole, where StackStorm stops at the first bad file with the files before it registered
//!   and the rest not;
//! - `--register-no-fail-on-failure`: its good files are registered and the bad ones reported,
//!   as StackStorm's registrars skip them; what a bad file registered before stays registered,
//!   as StackStorm's upserts leave it (a bad `config.schema.yaml` likewise leaves the previous
//!   schema). A bad `pack.yaml` still keeps the whole pack as it was: [fix] StackStorm goes on
//!   to register that directory's actions with no pack record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::recover;
use crate::ops::packs::{RegisterReport, RegisterRequest, VenvAction};
use crate::pack::{self, FoundPack};
use crate::register::{load_config, load_dirs, ContentType, LoadedPack, Selection};
use crate::runner;
use crate::settings::Settings;
use crate::store::{ReplaceSummary, Store, StoreError};
use crate::venv;

/// Register what `request` says (the local side of
/// [`PackOps::register_packs`](crate::ops::PackOps::register_packs)).
pub(crate) fn register_packs(
    settings: &Settings,
    request: &RegisterRequest,
) -> anyhow::Result<RegisterReport> {
    let targets = match &request.packs {
        Some(packs) => Some(resolve_targets(packs, settings)?),
        None => None,
    };
    Ok(register(settings, request, targets)?)
}

/// Find the named packs: a pack ref in the pack directories, or a path to a pack directory.
fn resolve_targets(packs: &[String], settings: &Settings) -> anyhow::Result<Vec<FoundPack>> {
    let (found, _) = pack::discover(settings)?;
    packs
        .iter()
        .map(|name| {
            if let Some(pack) = found.iter().find(|pack| &pack.dir_name == name) {
                return Ok(pack.clone());
            }
            let path = PathBuf::from(name);
            if path.join(pack::manifest::MANIFEST_FILE_NAME).is_file() {
                let path = std::path::absolute(&path)?;
                let dir_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Ok(FoundPack { dir_name, path });
            }
            anyhow::bail!(
                "Pack \"{name}\" is not found in {} (and is not a pack directory)",
                settings
                    .pack_search_paths()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// Errors that stop a run (failures of single packs are collected in the report instead).
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The pack directories cannot be listed.
    #[error(transparent)]
    Discover(#[from] pack::DiscoverError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The StackStorm home is not writable.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

/// What is kept of a registered pack for the config and virtualenv steps.
struct Registered<'a> {
    target: &'a FoundPack,
    pack_ref: String,
    needs_python: bool,
    config_schema: Option<serde_json::Value>,
}

/// Register `targets` (every pack in the pack directories when `None`, and then packs and
/// configs that disappeared from disk are unregistered too) as `options` says.
fn register(
    settings: &Settings,
    options: &RegisterRequest,
    targets: Option<Vec<FoundPack>>,
) -> Result<RegisterReport, RunError> {
    settings.ensure_writable()?;
    let mut report = RegisterReport::default();
    // Installs killed before they registered are rolled back first, or this run would
    // register a directory that is about to be swapped back.
    let mut store = Store::open(&settings.store_path)?;
    report
        .warnings
        .extend(recover::recover_interrupted(settings, &mut store)?);
    let reconcile = targets.is_none();
    let selection = &options.selection;
    start_counts(selection, &mut report);
    let targets = match targets {
        Some(targets) => targets,
        None => match discover_all(settings, options, &mut report)? {
            Some(found) => found,
            None => return Ok(report),
        },
    };
    let registered = register_targets(&mut store, options, &targets, &mut report)?;
    if selection.contains(&ContentType::Configs) {
        register_configs(settings, &mut store, &registered, &mut report)?;
        if reconcile {
            warn_unknown_configs(settings, &targets, &mut report);
        }
    }
    if reconcile {
        unregister_vanished(&mut store, &mut report)?;
    }
    if options.venvs != VenvAction::None {
        report.virtualenvs = Some(setup_virtualenvs(
            settings,
            options.venvs,
            &registered,
            &mut report.failures,
        ));
    }
    Ok(report)
}

/// A count of zero for every content type selected; the runners are built in, all counted.
fn start_counts(selection: &Selection, report: &mut RegisterReport) {
    for content in selection {
        report.counts.insert(*content, 0);
    }
    if selection.contains(&ContentType::Runners) {
        report
            .counts
            .insert(ContentType::Runners, runner::RUNNER_TYPES.len() as u64);
    }
}

/// Every pack in the pack directories; `None` when the base directory is missing and the
/// run goes on failures (the failure is in the report).
fn discover_all(
    settings: &Settings,
    options: &RegisterRequest,
    report: &mut RegisterReport,
) -> Result<Option<Vec<FoundPack>>, RunError> {
    match pack::discover(settings) {
        Ok((found, warnings)) => {
            report.warnings.extend(warnings);
            Ok(Some(found))
        }
        // With --register-no-fail-on-failure StackStorm logs this and registers nothing
        // (every registrar lists the pack directories first), and exits 0.
        Err(err @ pack::DiscoverError::MissingBase(_)) if !options.fail_on_failure => {
            report.failures.push(err.to_string());
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Read and store every target. Packs are loaded (in parallel) and written a chunk at a time,
/// and only what configs and virtualenvs need is kept: the whole Exchange loaded at once took
/// 120 MB.
fn register_targets<'a>(
    store: &mut Store,
    options: &RegisterRequest,
    targets: &'a [FoundPack],
    report: &mut RegisterReport,
) -> Result<Vec<Registered<'a>>, StoreError> {
    let mut registered: Vec<Registered> = Vec::new();
    let chunk = 4 * std::thread::available_parallelism().map_or(1, |n| n.get());
    for targets in targets.chunks(chunk) {
        let dirs: Vec<_> = targets.iter().map(|target| target.path.clone()).collect();
        let loaded = load_dirs(&dirs, &options.selection);
        for (target, result) in targets.iter().zip(loaded) {
            let loaded = match result {
                Ok(loaded) => loaded,
                Err(err) => {
                    report.failures.extend(err.failures);
                    continue;
                }
            };
            if let Some(pack) = register_one(store, options, target, loaded, report)? {
                registered.push(pack);
            }
        }
    }
    Ok(registered)
}

/// Store one pack read from `target`, unless it has a bad file and the run fails on failure;
/// its counts, warnings, failures and what it no longer has go into `report`.
fn register_one<'a>(
    store: &mut Store,
    options: &RegisterRequest,
    target: &'a FoundPack,
    mut loaded: LoadedPack,
    report: &mut RegisterReport,
) -> Result<Option<Registered<'a>>, StoreError> {
    if !loaded.failures.is_empty() && options.fail_on_failure {
        report.failures.append(&mut loaded.failures);
        return Ok(None);
    }
    // Counted before what the bad files had registered is carried over.
    let mut counts = BTreeMap::new();
    count_content(&loaded, &mut counts);
    if !loaded.failures.is_empty() {
        keep_previous(store, &mut loaded, &mut report.warnings)?;
        report.failures.append(&mut loaded.failures);
    }
    let summary = store.replace_pack(&loaded.registration)?;
    let pack_ref = loaded.registration.pack.pack_ref.clone();
    for (content, count) in counts {
        if let Some(total) = report.counts.get_mut(&content) {
            *total += count;
        }
    }
    report.warnings.extend(loaded.warnings.iter().cloned());
    report_removed(&pack_ref, summary, report);
    report.packs.push(pack_ref.clone());
    let selection = &options.selection;
    Ok(Some(Registered {
        target,
        pack_ref,
        // What the run did not read is looked for on disk: `--register-setup-virtualenvs`
        // alone reads no action.
        needs_python: loaded.needs_python()
            || (!(selection.contains(&ContentType::Actions)
                && selection.contains(&ContentType::Sensors))
                && has_python_code(&target.path)),
        config_schema: loaded.registration.config_schema,
    }))
}

/// What the registration of `pack_ref` removed because its file is gone.
fn report_removed(pack_ref: &str, summary: ReplaceSummary, report: &mut RegisterReport) {
    for action in summary.removed_actions {
        report
            .removed
            .push(format!("action {action} (its file is gone)"));
    }
    for resource in summary.removed_resources {
        let (kind, file) = resource.split_once(':').unwrap_or(("resource", &resource));
        report.removed.push(format!(
            "{kind} {file} of pack {pack_ref} (the file is gone)"
        ));
    }
    if summary.removed_config_schema {
        report.removed.push(format!(
            "config schema of pack {pack_ref} (the file is gone)"
        ));
    }
}

/// [fix] StackStorm never unregisters a pack whose directory was deleted (st2#3313): every
/// stored pack whose `pack.yaml` is gone, and that this run did not register, is removed.
fn unregister_vanished(store: &mut Store, report: &mut RegisterReport) -> Result<(), StoreError> {
    for stored in store.packs()? {
        let gone = !stored
            .path
            .join(pack::manifest::MANIFEST_FILE_NAME)
            .is_file();
        if gone && !report.packs.contains(&stored.pack_ref) {
            store.remove_pack(&stored.pack_ref)?;
            report.removed.push(format!(
                "pack {} ({} is gone)",
                stored.pack_ref,
                stored.path.display()
            ));
        }
    }
    Ok(())
}

/// How many actions and resources of each type `loaded` registers.
fn count_content(loaded: &LoadedPack, counts: &mut BTreeMap<ContentType, u64>) {
    let registration = &loaded.registration;
    *counts.entry(ContentType::Actions).or_insert(0) += registration.actions.len() as u64;
    for content in ContentType::ALL {
        let Some((_, kind)) = content.resource() else {
            continue;
        };
        *counts.entry(content).or_insert(0) += registration
            .resources
            .iter()
            .filter(|resource| resource.kind == kind)
            .count() as u64;
    }
}

/// With `--register-no-fail-on-failure`, a file that fails leaves what it registered before:
/// StackStorm only upserts what loads, so the previous version of that action (or sensor,
/// rule, ...) and the previous config schema stay. Carry those records into the new
/// registration, which otherwise replaces the pack's content whole.
fn keep_previous(
    store: &Store,
    loaded: &mut LoadedPack,
    warnings: &mut Vec<String>,
) -> Result<(), StoreError> {
    let registration = &mut loaded.registration;
    let pack_ref = registration.pack.pack_ref.clone();
    let failed = |file: &str| loaded.failed_files.iter().any(|failed| failed == file);
    let kept = |what: &str, file: &str| {
        format!("{what} keeps its previous registration: {file} failed (see the error below)")
    };
    if registration.scope.actions {
        for action in store.actions(Some(&pack_ref))? {
            let replaced = registration
                .actions
                .iter()
                .any(|new| new.action_ref == action.action_ref);
            if failed(&action.metadata_file) && !replaced {
                warnings.push(kept(
                    &format!("action \"{}\"", action.action_ref),
                    &action.metadata_file,
                ));
                registration.actions.push(action);
            }
        }
    }
    for resource in store.resources(&pack_ref)? {
        let in_scope = registration.scope.resource_kinds.contains(&resource.kind);
        let replaced = registration
            .resources
            .iter()
            .any(|new| new.kind == resource.kind && new.metadata_file == resource.metadata_file);
        if in_scope && failed(&resource.metadata_file) && !replaced {
            warnings.push(kept(
                &format!(
                    "{} \"{}\" of pack \"{pack_ref}\"",
                    resource.kind, resource.name
                ),
                &resource.metadata_file,
            ));
            registration.resources.push(resource);
        }
    }
    if loaded.config_schema_failed {
        registration.config_schema = store.config_schema(&pack_ref)?;
        if registration.config_schema.is_some() {
            warnings.push(kept(
                &format!("the config schema of pack \"{pack_ref}\""),
                crate::register::CONFIG_SCHEMA_FILE_NAME,
            ));
        }
    }
    Ok(())
}

/// `configs/<pack dir name>.yaml` of every pack registered in this run: validated against
/// the schema just registered, stored; a config whose file is gone is unregistered [fix].
fn register_configs(
    settings: &Settings,
    store: &mut Store,
    registered: &[Registered],
    report: &mut RegisterReport,
) -> Result<(), StoreError> {
    let configs_dir = settings.configs_dir();
    for pack in registered {
        let pack_ref = &pack.pack_ref;
        let path = configs_dir.join(format!("{}.yaml", pack.target.dir_name));
        match load_config(&path, pack_ref, pack.config_schema.as_ref()) {
            Ok(Some(config)) => {
                store.set_config(&config)?;
                *report.counts.entry(ContentType::Configs).or_insert(0) += 1;
            }
            Ok(None) => {
                if store.remove_config(pack_ref)? {
                    report.removed.push(format!(
                        "config of pack {pack_ref} ({} is gone)",
                        path.display()
                    ));
                }
            }
            Err(err) => report.failures.extend(err.failures),
        }
    }
    Ok(())
}

/// [fix] StackStorm never reads a config whose pack is not installed, and says nothing.
fn warn_unknown_configs(settings: &Settings, targets: &[FoundPack], report: &mut RegisterReport) {
    let Ok(entries) = std::fs::read_dir(settings.configs_dir()) else {
        return;
    };
    let known: BTreeSet<&str> = targets.iter().map(|t| t.dir_name.as_str()).collect();
    let mut unknown: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".yaml")?.to_string();
            (!known.contains(stem.as_str())).then(|| {
                format!(
                    "config for unknown pack \"{stem}\" ignored ({}): no such pack is installed",
                    entry.path().display()
                )
            })
        })
        .collect();
    unknown.sort();
    report.warnings.extend(unknown);
}

/// Whether the pack has Python files among its actions or sensors (or their `lib/`).
fn has_python_code(pack_dir: &std::path::Path) -> bool {
    ["actions", "sensors", "actions/lib"].iter().any(|folder| {
        std::fs::read_dir(pack_dir.join(folder)).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|entry| entry.path().extension().is_some_and(|ext| ext == "py"))
        })
    })
}

/// Set up (or recreate) the virtualenv of every registered pack that runs Python; returns how
/// many were set up.
fn setup_virtualenvs(
    settings: &Settings,
    action: VenvAction,
    registered: &[Registered],
    failures: &mut Vec<String>,
) -> u64 {
    let mut count = 0;
    for pack in registered {
        let (target, pack_ref) = (pack.target, &pack.pack_ref);
        if !target.path.join("requirements.txt").is_file() && !pack.needs_python {
            continue;
        }
        let venv_dir = settings.venv_dir(pack_ref);
        let python_cache = settings.python_cache_dir();
        let spec = venv::VenvSpec {
            pack_ref,
            pack_dir: &target.path,
            venv_dir: &venv_dir,
            python: &settings.python_binary,
            virtualenv_opts: &settings.virtualenv_opts,
            pip_opts: &settings.pip_opts,
            resolution: venv::Resolution {
                cache_dir: Some(&python_cache),
                ..Default::default()
            },
        };
        let result = match action {
            VenvAction::Recreate => venv::recreate(&spec).map(|_| ()),
            _ => venv::ensure(&spec).map(|_| ()),
        };
        match result {
            Ok(()) => count += 1,
            Err(err) => failures.push(format!(
                "Failed to setup virtualenv for pack \"{pack_ref}\": {err}"
            )),
        }
    }
    count
}

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
use crate::register::{self, load_config, ContentType, LoadedPack, Selection};
use crate::runner;
use crate::settings::Settings;
use crate::store::{Kept, ReplaceSummary, Store, StoreError};
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

/// Read and store every target, one pack at a time, each in its own transaction. A pack's
/// actions go to the store as they are read (their files parsed in parallel), so that the
/// biggest pack is never held whole (the `aws` pack's 3,585 actions held at once took most of
/// a reload's 50 MB); only what configs and virtualenvs need is kept.
fn register_targets<'a>(
    store: &mut Store,
    options: &RegisterRequest,
    targets: &'a [FoundPack],
    report: &mut RegisterReport,
) -> Result<Vec<Registered<'a>>, StoreError> {
    let mut registered: Vec<Registered> = Vec::new();
    for target in targets {
        if let Some(pack) = register_one(store, options, target, report)? {
            registered.push(pack);
        }
    }
    Ok(registered)
}

/// Read and store the pack in `target`, unless it has a bad file and the run fails on
/// failure (its transaction is then rolled back: the previous registration stays whole); its
/// counts, warnings, failures and what it no longer has go into `report`.
fn register_one<'a>(
    store: &mut Store,
    options: &RegisterRequest,
    target: &'a FoundPack,
    report: &mut RegisterReport,
) -> Result<Option<Registered<'a>>, StoreError> {
    let (manifest, pack_ref) = match register::open_dir(&target.path) {
        Ok(opened) => opened,
        Err(err) => {
            report.failures.extend(err.failures);
            return Ok(None);
        }
    };
    let selection = &options.selection;
    let record = register::pack_record(&pack_ref, &manifest, &target.path, None);
    let mut writer = store.begin_pack(&record, &register::content_scope(selection))?;
    let streamed =
        register::read_pack_streaming(&target.path, &pack_ref, manifest, selection, |action| {
            writer.add_action(&action)
        })?;
    let mut loaded = streamed.loaded;
    if !loaded.failures.is_empty() && options.fail_on_failure {
        drop(writer);
        report.failures.append(&mut loaded.failures);
        return Ok(None);
    }
    // Counted before what the bad files had registered is carried over.
    let mut counts = BTreeMap::new();
    count_content(&loaded, &mut counts);
    *counts.entry(ContentType::Actions).or_insert(0) += streamed.actions.count;
    let failed = (!loaded.failures.is_empty())
        .then_some((loaded.failed_files.as_slice(), loaded.config_schema_failed));
    let (summary, kept) = writer.finish(&loaded.registration, failed)?;
    warn_kept(&pack_ref, &kept, &mut report.warnings);
    report.failures.append(&mut loaded.failures);
    for (content, count) in counts {
        if let Some(total) = report.counts.get_mut(&content) {
            *total += count;
        }
    }
    report.warnings.extend(loaded.warnings.iter().cloned());
    report_removed(&pack_ref, summary, report);
    report.packs.push(pack_ref.clone());
    let needs_python = streamed.actions.python || loaded.needs_python();
    let config_schema = match loaded.registration.config_schema {
        None if kept.config_schema => store.config_schema(&pack_ref)?,
        schema => schema,
    };
    Ok(Some(Registered {
        target,
        pack_ref,
        // What the run did not read is looked for on disk: `--register-setup-virtualenvs`
        // alone reads no action.
        needs_python: needs_python
            || (!(selection.contains(&ContentType::Actions)
                && selection.contains(&ContentType::Sensors))
                && has_python_code(&target.path)),
        config_schema,
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

/// With `--register-no-fail-on-failure`, a file that fails leaves what it registered before
/// (StackStorm only upserts what loads): the previous version of that action (or sensor,
/// rule, ...) and the previous config schema stay (the store's `PackWriter::finish`).
/// Say so for each.
fn warn_kept(pack_ref: &str, kept: &Kept, warnings: &mut Vec<String>) {
    let kept_line = |what: &str, file: &str| {
        format!("{what} keeps its previous registration: {file} failed (see the error below)")
    };
    for (action, file) in &kept.actions {
        warnings.push(kept_line(&format!("action \"{action}\""), file));
    }
    for resource in &kept.resources {
        warnings.push(kept_line(
            &format!(
                "{} \"{}\" of pack \"{pack_ref}\"",
                resource.kind, resource.name
            ),
            &resource.metadata_file,
        ));
    }
    if kept.config_schema {
        warnings.push(kept_line(
            &format!("the config schema of pack \"{pack_ref}\""),
            crate::register::CONFIG_SCHEMA_FILE_NAME,
        ));
    }
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

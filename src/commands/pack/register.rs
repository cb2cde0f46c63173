//! `st2 pack register [REF|PATH]...`: register installed packs, all of them when none is
//! named. Shared with `st2ctl reload`, which registers everything.

use std::path::PathBuf;

use serde::Serialize;

use crate::commands::{Context, ExitStatus};
use crate::pack::{self, FoundPack};
use crate::register::{self, RegisterFailure};
use crate::store::{plural, Store};

/// What a registration run did.
#[derive(Debug, Default, Serialize)]
pub struct RegisterReport {
    /// Packs registered.
    pub packs: Vec<String>,
    /// Count of registered content per type (`actions`, `sensors`, ...), over all packs.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Registered things that disappeared from disk and were unregistered.
    pub removed: Vec<String>,
    /// One line per failure.
    pub failures: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// Run the command.
pub fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let targets = if packs.is_empty() {
        None
    } else {
        Some(resolve_targets(packs, context)?)
    };
    let report = register_packs(context, targets)?;
    print_report(&report, context);
    Ok(if report.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Find the named packs: a pack ref in the pack directories, or a path to a pack directory.
fn resolve_targets(packs: &[String], context: &Context) -> anyhow::Result<Vec<FoundPack>> {
    let (found, _) = pack::discover(&context.settings)?;
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
                context
                    .settings
                    .pack_search_paths()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// Register `targets` (every pack found when `None`; then packs registered before whose
/// directory is gone are unregistered too).
pub fn register_packs(
    context: &Context,
    targets: Option<Vec<FoundPack>>,
) -> anyhow::Result<RegisterReport> {
    let settings = &context.settings;
    settings.ensure_writable()?;
    let mut report = RegisterReport::default();
    let reconcile = targets.is_none();
    let targets = match targets {
        Some(targets) => targets,
        None => {
            let (found, warnings) = pack::discover(settings)?;
            report.warnings.extend(warnings);
            found
        }
    };
    let mut store = Store::open(&settings.store_path)?;
    for target in &targets {
        match register::register_dir(&mut store, &target.path) {
            Ok(registered) => {
                let pack_ref = registered.loaded.registration.pack.pack_ref.clone();
                for (kind, count) in store.content_counts(&pack_ref)? {
                    *report.counts.entry(kind).or_insert(0) += count;
                }
                report.warnings.extend(registered.loaded.warnings);
                for action in registered.summary.removed_actions {
                    report.removed.push(format!("action {action}"));
                }
                for resource in registered.summary.removed_resources {
                    report.removed.push(format!("{pack_ref} {resource}"));
                }
                if registered.summary.removed_config_schema {
                    report.removed.push(format!("config schema of {pack_ref}"));
                }
                report.packs.push(pack_ref);
            }
            Err(RegisterFailure::Pack(err)) => report.failures.extend(err.failures),
            Err(RegisterFailure::Store(err)) => return Err(err.into()),
        }
    }
    if reconcile {
        // [fix] StackStorm never unregisters a pack whose directory was deleted (st2#3313).
        for stored in store.packs()? {
            if !stored
                .path
                .join(pack::manifest::MANIFEST_FILE_NAME)
                .is_file()
                && !report.packs.contains(&stored.pack_ref)
            {
                store.remove_pack(&stored.pack_ref)?;
                report.removed.push(format!(
                    "pack {} ({} is gone)",
                    stored.pack_ref,
                    stored.path.display()
                ));
            }
        }
    }
    Ok(report)
}

/// Print counts StackStorm style (`Registered N actions.`), removals, failures and warnings.
pub fn print_report(report: &RegisterReport, context: &Context) {
    let printer = &context.printer;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    if printer.is_data() {
        printer.data(report);
    } else {
        printer.line(&format!("Registered {} packs.", report.packs.len()));
        for kind in ["action", "sensor", "rule", "alias", "policy", "trigger"] {
            let key = plural(kind);
            let count = report.counts.get(&key).copied().unwrap_or(0);
            printer.line(&format!("Registered {count} {key}."));
        }
        for removed in &report.removed {
            printer.line(&format!("Unregistered {removed}."));
        }
    }
    for failure in &report.failures {
        printer.error(failure);
    }
}

//! `st2 pack register [REF|PATH]...`: register installed packs, all of them when none is
//! named. Shared with `st2ctl reload`, which registers everything.

use std::path::PathBuf;

use crate::commands::{Context, ExitStatus};
use crate::ops::local::register::{self as run, RegisterReport, RunOptions, VenvAction};
use crate::pack::{self, FoundPack};
use crate::register::all_content;

/// Run the command.
pub fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let targets = if packs.is_empty() {
        None
    } else {
        Some(resolve_targets(packs, context)?)
    };
    let options = RunOptions {
        selection: all_content(),
        targets,
        venvs: VenvAction::None,
        // StackStorm's `st2 pack register` posts no `fail_on_failure`, and the API defaults it
        // to true (`st2api/controllers/v1/packs.py`).
        fail_on_failure: true,
    };
    let report = run::register(&context.settings, &options)?;
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

/// Print counts StackStorm style (`Registered N actions.`, one line per registered type in
/// StackStorm's order), what was unregistered, failures and warnings.
pub fn print_report(report: &RegisterReport, context: &Context) {
    let printer = &context.printer;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    if printer.is_data() {
        printer.data(report);
    } else {
        printer.line(&format!("Registered {} packs.", report.packs.len()));
        for (content, count) in &report.counts {
            printer.line(&format!("Registered {count} {}.", content.plural()));
        }
        if let Some(count) = report.virtualenvs {
            printer.line(&format!("Setup virtualenv for {count} pack(s)."));
        }
        for removed in &report.removed {
            printer.line(&format!("Unregistered {removed}."));
        }
    }
    for failure in &report.failures {
        printer.error(failure);
    }
}

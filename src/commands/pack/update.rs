//! `st2 pack update [REF...|--all]`: the packs moved to the newest compatible version, with
//! the install's step lines, all or none; then what moved and what was left.

use crate::cli::UpdateArgs;
use crate::commands::{Context, ExitStatus};
use crate::ops::packs::UpdateRequest;

use super::install::{interrupt_on_signals, printed_outcome, StepPrinter};

/// Run the command.
pub(crate) fn run(args: &UpdateArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let progress = StepPrinter::new(printer);
    let request = UpdateRequest {
        packs: args.packs.clone(),
        all: args.all,
        offline: args.offline,
        skip_virtualenv: args.skip_virtualenv,
    };
    let answer = context
        .backend()
        .update_packs(&request, &progress, interrupt_on_signals()?);
    progress.clear();
    let Some(report) = printed_outcome(&answer.warnings, answer.outcome, printer) else {
        return Ok(ExitStatus::Failure);
    };
    if printer.is_data() {
        printer.data(&report);
        return Ok(ExitStatus::Success);
    }
    let mut rows: Vec<Vec<String>> = report
        .updated
        .iter()
        .map(|pack| {
            vec![
                pack.pack_ref.clone(),
                pack.from.clone(),
                pack.to.clone(),
                match &pack.reason {
                    Some(note) => format!("updated ({note})"),
                    None => "updated".into(),
                },
            ]
        })
        .collect();
    rows.extend(report.unchanged.iter().map(|pack| {
        vec![
            pack.pack_ref.clone(),
            pack.from.clone(),
            pack.to.clone(),
            pack.reason.clone().unwrap_or_default(),
        ]
    }));
    if rows.is_empty() {
        printer.info("No packs installed with `st2 pack install`.");
    } else {
        printer.table(&["ref", "from", "to", "result"], rows);
    }
    for pack in &report.installed {
        for warning in &pack.warnings {
            printer.warn(warning);
        }
        if report
            .updated
            .iter()
            .all(|update| update.pack_ref != pack.pack_ref)
        {
            printer.info(&format!(
                "Installed {} {} (a new dependency)",
                pack.pack_ref, pack.version
            ));
        }
    }
    Ok(ExitStatus::Success)
}

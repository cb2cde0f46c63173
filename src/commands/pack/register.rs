//! `st2 pack register [REF|PATH]...`: register installed packs, all of them when none is
//! named. Shared with `st2ctl reload`, which registers everything.

use crate::commands::{Context, ExitStatus};
use crate::ops::packs::{RegisterReport, RegisterRequest, VenvAction};
use crate::register::all_content;

/// Run the command.
pub(crate) fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let request = RegisterRequest {
        selection: all_content(),
        packs: (!packs.is_empty()).then(|| packs.to_vec()),
        venvs: VenvAction::None,
        // StackStorm's `st2 pack register` posts no `fail_on_failure`, and the API defaults it
        // to true (`st2api/controllers/v1/packs.py`).
        fail_on_failure: true,
    };
    let report = context.backend().register_packs(&request)?;
    print_report(&report, context);
    Ok(if report.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Print counts StackStorm style (`Registered N actions.`, one line per registered type in
/// StackStorm's order), what was unregistered, failures and warnings.
pub(crate) fn print_report(report: &RegisterReport, context: &Context) {
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

//! `st2ctl reload` (also `st2 reload`): register the content of every pack in the pack
//! directories, as `st2ctl reload` does upstream, but reporting every failure on one line each
//! and still registering the other packs.

use super::pack::register::{print_report, register_packs};
use super::{Context, ExitStatus};
use crate::cli::ReloadArgs;

/// Run the command.
pub fn run(args: &ReloadArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.verbose && !context.printer.is_data() {
        let file = context
            .settings
            .config_file
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "(built-in defaults)".into());
        context.printer.info(&format!(
            "Registering content...[flags = --config-file {file}]"
        ));
    }
    let report = register_packs(context, None)?;
    print_report(&report, context);
    Ok(
        if report.failures.is_empty() || args.register_no_fail_on_failure {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        },
    )
}

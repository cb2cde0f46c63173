//! `st2 pack install PACK...`: prints what will be registered, one line per step (a spinner
//! on a terminal, with the elapsed time while a virtualenv is built), then a summary of what
//! was installed. A failure names the pack that failed and says what became of the others
//! (nothing is installed unless everything can be); Ctrl-C stops the install and removes
//! what it made.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::InstallArgs;
use crate::commands::{Context, ExitStatus};
use crate::ops::packs::{
    InstallFailed, InstallProgress, InstallRequest, InstallStep, InstalledPack,
};
use crate::output::Printer;

/// Run the command.
pub(crate) fn run(args: &InstallArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let progress = StepPrinter::new(printer);
    let request = InstallRequest {
        packs: args.packs.clone(),
        force: args.force,
        skip_dependencies: args.skip_dependencies,
        skip_virtualenv: args.skip_virtualenv,
        announce_content: !printer.is_data(),
        locked: args.locked,
        offline: args.offline,
    };
    let answer = context
        .backend()
        .install_packs(&request, &progress, interrupt_on_signals()?);
    progress.clear();
    let Some(installed) = printed_outcome(&answer.warnings, answer.outcome, printer) else {
        return Ok(ExitStatus::Failure);
    };

    if printer.is_data() {
        printer.data(&installed);
    } else {
        summary(&installed, printer);
    }
    for pack in &installed {
        for warning in &pack.warnings {
            printer.warn(warning);
        }
        if !pack.removed.removed_actions.is_empty() {
            printer.info(&format!(
                "Unregistered actions the new version of {} no longer has: {}",
                pack.pack_ref,
                pack.removed.removed_actions.join(", ")
            ));
        }
    }
    Ok(ExitStatus::Success)
}

/// A flag set by SIGINT (Ctrl-C) and SIGTERM: the install then stops at its next step (a
/// virtualenv build is stopped at once) and removes what it made. A second signal while the
/// flag is set ends the process at once, as without the handler, for a step that does not
/// look at the flag (a slow download); the next command removes what that leaves.
pub(super) fn interrupt_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // In this order: the first signal sets the flag, the second finds it set and exits.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .context("installing the signal handler")?;
    }
    Ok(flag)
}

/// Print an install's (or update's) warnings, then its failure if it failed: the messages,
/// and what was left as it was. `None` when it failed.
pub(super) fn printed_outcome<T>(
    warnings: &[String],
    outcome: Result<T, InstallFailed>,
    printer: &Printer,
) -> Option<T> {
    for warning in warnings {
        printer.warn(warning);
    }
    match outcome {
        Ok(done) => Some(done),
        Err(failure) => {
            for message in &failure.messages {
                printer.error(message);
            }
            if let Some(outcome) = &failure.outcome {
                printer.info(outcome);
            }
            None
        }
    }
}

fn summary(installed: &[InstalledPack], printer: &Printer) {
    match installed {
        [] => {}
        [pack] => {
            let mut rows = vec![
                ("name".to_string(), pack.name.clone()),
                ("description".to_string(), pack.description.clone()),
                ("version".to_string(), pack.version.clone()),
                ("author".to_string(), pack.author.clone()),
            ];
            if let Some(email) = &pack.email {
                rows.push(("email".into(), email.clone()));
            }
            if !pack.keywords.is_empty() {
                rows.push(("keywords".into(), pack.keywords.join(", ")));
            }
            rows.push(("ref".into(), pack.pack_ref.clone()));
            rows.push(("path".into(), pack.path.display().to_string()));
            rows.push(("content".into(), content(&pack.content)));
            rows.push(("virtualenv".into(), pack.virtualenv.clone()));
            printer.properties(rows);
        }
        packs => {
            let rows = packs
                .iter()
                .map(|pack| {
                    vec![
                        pack.pack_ref.clone(),
                        pack.version.clone(),
                        pack.description.clone(),
                        pack.dependency_of
                            .as_ref()
                            .map(|of| format!("dependency of {of}"))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            printer.table(&["ref", "version", "description", "note"], rows);
        }
    }
}

fn content(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "nothing to register".into();
    }
    counts
        .iter()
        .map(|(kind, count)| format!("{kind}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Step lines on stderr: a spinner while a step runs on a terminal, plain lines otherwise.
pub(super) struct StepPrinter<'a> {
    printer: &'a Printer,
    spinner: RefCell<Option<ProgressBar>>,
}

impl<'a> StepPrinter<'a> {
    pub(super) fn new(printer: &'a Printer) -> StepPrinter<'a> {
        StepPrinter {
            printer,
            spinner: RefCell::new(None),
        }
    }

    pub(super) fn clear(&self) {
        if let Some(spinner) = self.spinner.borrow_mut().take() {
            spinner.finish_and_clear();
        }
    }

    fn line(pack: &str, step: InstallStep, detail: &str) -> String {
        format!("{pack:<16} {:<10} {detail}", step.label())
    }
}

impl InstallProgress for StepPrinter<'_> {
    /// Upstream prints, for Exchange names, what the index says the pack holds.
    fn index_content(&self, name: &str, counts: &[(String, u64)]) {
        self.printer.info(&format!(
            "For the \"{name}\" pack, the following content will be registered:\n"
        ));
        for (kind, count) in counts {
            self.printer.info(&format!("{kind:<9} |  {count}"));
        }
        self.printer
            .info("\nInstallation may take a while for packs with many items.\n");
    }

    fn start(&self, pack: &str, step: InstallStep, detail: &str) {
        if !self.printer.stderr_is_terminal() {
            // Only the long step says that it started: nothing else moves meanwhile.
            if step == InstallStep::Virtualenv {
                self.printer
                    .info(&format!("{}...", Self::line(pack, step, detail)));
            }
            return;
        }
        self.clear();
        let spinner = ProgressBar::new_spinner();
        // The virtualenv step can take minutes: it shows for how long it has been running.
        let template = if step == InstallStep::Virtualenv {
            "{spinner} {msg} ({elapsed})"
        } else {
            "{spinner} {msg}"
        };
        spinner.set_style(ProgressStyle::with_template(template).expect("valid template"));
        spinner.set_message(Self::line(pack, step, detail));
        spinner.enable_steady_tick(Duration::from_millis(100));
        *self.spinner.borrow_mut() = Some(spinner);
    }

    fn done(&self, pack: &str, step: InstallStep, detail: &str) {
        self.clear();
        self.printer.info(&Self::line(pack, step, detail));
    }

    fn waiting_for_lock(&self, pack: &str) {
        self.clear();
        self.printer.info(&format!(
            "Blocking waiting for file lock on pack {pack} (another install is running)"
        ));
    }
}

//! `st2 pack remove REF...`: the pack directory, its virtualenv, and everything registered
//! for it. The user's config file (`configs/<ref>.yaml`) is kept, as upstream keeps it.

use serde::Serialize;

use crate::commands::{Context, ExitStatus};
use crate::ops::packs::{PackRemoval, RemoveProgress};
use crate::output::Printer;

#[derive(Serialize)]
struct Removed<'a> {
    #[serde(rename = "ref")]
    pack_ref: &'a str,
    removed: &'a [String],
}

/// Run the command.
pub(crate) fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let removals = context
        .backend()
        .remove_packs(packs, &RemovePrinter { printer })?;
    if printer.is_data() {
        let removed: Vec<Removed> = removals
            .iter()
            .filter_map(|(pack_ref, removal)| match removal {
                PackRemoval::Removed(what) => Some(Removed {
                    pack_ref,
                    removed: what,
                }),
                _ => None,
            })
            .collect();
        printer.data(&removed);
    }
    let failed = removals
        .iter()
        .any(|(_, removal)| !matches!(removal, PackRemoval::Removed(_)));
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Each pack's outcome on stderr as it is known.
struct RemovePrinter<'a> {
    printer: &'a Printer,
}

impl RemoveProgress for RemovePrinter<'_> {
    fn warning(&self, message: &str) {
        self.printer.warn(message);
    }

    fn waiting_for_lock(&self, pack: &str) {
        self.printer
            .info(&format!("Blocking waiting for file lock on pack {pack}"));
    }

    fn finished(&self, pack: &str, removal: &PackRemoval) {
        match removal {
            PackRemoval::Removed(what) => {
                if !self.printer.is_data() {
                    self.printer
                        .info(&format!("Removed pack {pack} ({})", what.join(", ")));
                }
            }
            PackRemoval::NotInstalled => self
                .printer
                .error(&format!("Pack \"{pack}\" is not installed.")),
            PackRemoval::Failed(reason) => self
                .printer
                .error(&format!("Failed to remove pack \"{pack}\": {reason}")),
        }
    }
}

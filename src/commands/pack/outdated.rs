//! `st2 pack outdated [REF...]`: each installed pack's version, the newest its source offers
//! and the newest compatible with the other installed packs; why a pack is held back.

use crate::commands::{Context, ExitStatus};
use crate::ops::packs::OutdatedRequest;

/// Run the command.
pub(crate) fn run(
    packs: &[String],
    offline: bool,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let request = OutdatedRequest {
        packs: packs.to_vec(),
        offline,
    };
    let found = super::warned(context.backend().outdated_packs(&request), context)?;
    let printer = &context.printer;
    let unknown = found.iter().any(|pack| pack.status == "unknown");
    if printer.is_data() {
        printer.data(&found);
    } else if found.is_empty() {
        printer.info("No packs installed with `st2 pack install`.");
    } else {
        let rows = found
            .iter()
            .map(|pack| {
                vec![
                    pack.pack_ref.clone(),
                    pack.installed.clone(),
                    pack.newest.clone().unwrap_or_else(|| "-".into()),
                    pack.compatible.clone().unwrap_or_else(|| "-".into()),
                    pack.source.clone(),
                    pack.status.clone(),
                ]
            })
            .collect();
        printer.table(
            &[
                "ref",
                "installed",
                "newest",
                "compatible",
                "source",
                "status",
            ],
            rows,
        );
        for pack in &found {
            if let Some(note) = &pack.note {
                printer.info(&format!("{}: {note}", pack.pack_ref));
            }
        }
        if found.iter().any(|pack| pack.status == "update available") {
            printer.hint("`st2 pack update --all` updates them (pinned packs only when named)");
        }
    }
    Ok(if unknown {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

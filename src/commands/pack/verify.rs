//! `st2 pack verify [REF...]`: one line per pack (`ok`, `drift`, `missing`, `not locked`),
//! what differs under it; exit 1 when anything does.

use crate::commands::{Context, ExitStatus};

/// Run the command.
pub(crate) fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let results = super::warned(context.backend().verify_packs(packs), context)?;
    let printer = &context.printer;
    let drifted = results.iter().filter(|pack| !pack.is_ok()).count();
    if printer.is_data() {
        printer.data(&results);
    } else if results.is_empty() {
        printer.info("No packs to verify: none is installed or locked.");
    } else {
        let mut text = String::new();
        for pack in &results {
            text.push_str(&format!(
                "{:<16} {:<10} {}\n",
                pack.pack_ref, pack.version, pack.status
            ));
            for (what, paths) in [
                ("modified", &pack.files.modified),
                ("added", &pack.files.added),
                ("removed", &pack.files.removed),
            ] {
                for path in paths {
                    text.push_str(&format!("  {what:<9} {path}\n"));
                }
            }
            for problem in &pack.problems {
                text.push_str(&format!("  {problem}\n"));
            }
        }
        printer.stdout(&text);
        let total = results.len();
        let packs_word = if total == 1 { "pack" } else { "packs" };
        if drifted == 0 {
            printer.info(&format!(
                "{total} {packs_word} verified: as packs.lock says."
            ));
        } else {
            printer.info(&format!(
                "{total} {packs_word} verified: {drifted} not as packs.lock says."
            ));
            printer.hint(
                "`st2 pack install --locked REF` puts a pack back as locked; `st2 pack install \
                 REF` locks it as it is installed now",
            );
        }
    }
    Ok(if drifted == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

//! `st2 pack list`: installed (registered) packs.

use crate::commands::{Context, ExitStatus};

/// Run the command.
pub fn run(context: &Context) -> anyhow::Result<ExitStatus> {
    let packs = match super::open_store(context)? {
        Some(store) => store.packs()?,
        None => Vec::new(),
    };
    if context.printer.is_data() {
        context.printer.data(&packs);
        return Ok(ExitStatus::Success);
    }
    if packs.is_empty() {
        context.printer.info("No packs installed.");
        context.printer.hint(
            "install one with `st2 pack install NAME`, or find one with `st2 pack search TEXT`",
        );
        return Ok(ExitStatus::Success);
    }
    let rows = packs
        .into_iter()
        .map(|pack| {
            vec![
                pack.pack_ref,
                pack.name,
                pack.description,
                pack.version,
                pack.author,
            ]
        })
        .collect();
    context
        .printer
        .table(&["ref", "name", "description", "version", "author"], rows);
    Ok(ExitStatus::Success)
}

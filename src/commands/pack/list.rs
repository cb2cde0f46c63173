//! `st2 pack list`: installed (registered) packs.

use crate::commands::{Context, ExitStatus};
use crate::ops::packs::PackView;

/// Run the command.
pub(crate) fn run(context: &Context) -> anyhow::Result<ExitStatus> {
    let packs = super::warned(context.backend().list_packs(), context)?;
    if context.printer.is_data() {
        context.printer.data(&packs);
        return Ok(ExitStatus::Success);
    }
    let only_builtin = packs
        .iter()
        .all(|pack| pack.path.as_os_str() == crate::action::BUILTIN_PATH);
    print_table(context, packs);
    if only_builtin {
        context.printer.hint(
            "install a pack with `st2 pack install NAME`, or find one with `st2 pack search TEXT`",
        );
    }
    Ok(ExitStatus::Success)
}

fn print_table(context: &Context, packs: Vec<PackView>) {
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
}

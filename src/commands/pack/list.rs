//! `st2 pack list`: installed (registered) packs.

use crate::commands::{Context, ExitStatus};

/// Run the command.
pub fn run(context: &Context) -> anyhow::Result<ExitStatus> {
    let store = super::open_store(context)?;
    let mut packs = match &store {
        Some(store) => store.packs()?,
        None => Vec::new(),
    };
    // The built-in core pack is there without installing anything, as upstream's is.
    if let Some(core) = crate::action::builtin_pack(store.as_ref())? {
        packs.push(core);
        packs.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
    }
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

fn print_table(context: &Context, packs: Vec<crate::store::PackRecord>) {
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

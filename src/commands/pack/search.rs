//! `st2 pack search QUERY`: packs of the index matching a text, best matches first.

use crate::commands::{Context, ExitStatus};

/// Run the command.
pub(crate) fn run(query: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let search = super::warned(context.backend().search_index(query), context)?;
    let results = search.matches;
    if context.printer.is_data() {
        let raw: Vec<&serde_json::Value> = results.iter().map(|entry| &entry.raw).collect();
        context.printer.data(&raw);
        return Ok(ExitStatus::Success);
    }
    if results.is_empty() {
        context
            .printer
            .info(&format!("No pack matches \"{query}\"."));
        if !search.suggestions.is_empty() {
            context
                .printer
                .hint(&format!("did you mean {}?", search.suggestions.join(", ")));
        }
        return Ok(ExitStatus::Success);
    }
    let rows = results
        .iter()
        .map(|entry| {
            vec![
                entry.key.clone(),
                entry.name.clone(),
                entry.description.clone(),
                entry.default_version(),
                entry.author.clone(),
            ]
        })
        .collect();
    context
        .printer
        .table(&["ref", "name", "description", "version", "author"], rows);
    Ok(ExitStatus::Success)
}

//! `st2 pack show NAME`: a pack's entry in the index.

use serde_json::Value;

use crate::commands::{Context, ExitStatus};
use crate::output::cell;

/// Run the command.
pub(crate) fn run(name: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let lookup = super::warned(context.backend().show_index_pack(name), context)?;
    let Some(entry) = lookup.entry else {
        let suggestions = lookup.suggestions;
        if suggestions.is_empty() {
            anyhow::bail!("No record of the \"{name}\" pack in the index.");
        }
        anyhow::bail!(
            "No record of the \"{name}\" pack in the index. Did you mean: {}?",
            suggestions.join(", ")
        );
    };
    if context.printer.is_data() {
        context.printer.data(&entry.raw);
        return Ok(ExitStatus::Success);
    }
    let Value::Object(map) = &entry.raw else {
        anyhow::bail!("the index entry of \"{name}\" is not an object");
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    for (key, value) in map {
        let text = match (key.as_str(), value) {
            ("versions", _) => entry.sorted_versions().join(", "),
            ("content", _) => entry
                .content_counts()
                .iter()
                .map(|(kind, count)| format!("{kind}: {count}"))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => cell(value),
        };
        rows.push((key.clone(), text));
    }
    context.printer.properties(rows);
    Ok(ExitStatus::Success)
}

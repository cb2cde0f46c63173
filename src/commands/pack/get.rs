//! `st2 pack get REF`: one installed pack, all fields.

use serde_json::{json, Value};

use crate::commands::{Context, ExitStatus};
use crate::output::cell;

/// Run the command.
pub(crate) fn run(pack_ref: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let details = super::warned(context.backend().get_pack(pack_ref), context)?;
    let (pack, counts) = (details.pack, details.content);
    // The full pack.yaml, with what registration computed on top.
    let mut object = match &pack.metadata {
        Value::Object(map) => map.clone(),
        _ => Default::default(),
    };
    object.insert("ref".into(), json!(pack.pack_ref));
    object.insert("path".into(), json!(pack.path));
    object.insert("registered_at".into(), json!(pack.registered_at));
    if let Some(source) = &pack.source {
        object.insert("source".into(), source.clone());
    }
    object.insert(
        "content".into(),
        Value::Object(counts.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
    );
    if context.printer.is_data() {
        context.printer.data(&object);
        return Ok(ExitStatus::Success);
    }
    let rows = object
        .iter()
        .map(|(key, value)| {
            let text = match (key.as_str(), value) {
                ("content" | "source", Value::Object(map)) => map
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k}: {}", cell(v)))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => cell(value),
            };
            (key.clone(), text)
        })
        .collect();
    context.printer.properties(rows);
    Ok(ExitStatus::Success)
}

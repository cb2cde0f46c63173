//! `st2 pack get REF`: one installed pack, all fields.

use serde_json::{json, Value};

use crate::commands::{Context, ExitStatus};
use crate::output::cell;
use crate::store::Store;

/// Run the command.
pub fn run(pack_ref: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = super::open_store(context)?;
    let builtin = match pack_ref {
        "core" => crate::action::builtin_pack(store.as_ref())?,
        _ => None,
    };
    let (pack, counts) = match (builtin, &store) {
        (Some(core), _) => {
            let actions = crate::action::builtin_actions().len() as u64;
            (core, vec![("actions".to_string(), actions)])
        }
        (None, None) => {
            anyhow::bail!("Pack \"{pack_ref}\" is not found (no pack is installed).")
        }
        (None, Some(store)) => match store.pack(pack_ref)? {
            Some(pack) => (pack, store.content_counts(pack_ref)?),
            None => anyhow::bail!(
                "Pack \"{pack_ref}\" is not found. Installed packs: {}",
                installed_refs(store)?
            ),
        },
    };
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

fn installed_refs(store: &Store) -> anyhow::Result<String> {
    let refs: Vec<String> = store.packs()?.into_iter().map(|p| p.pack_ref).collect();
    Ok(if refs.is_empty() {
        "none".into()
    } else {
        refs.join(", ")
    })
}

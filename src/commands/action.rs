//! `st2 action list/get/execute`.

use serde_json::{json, Value};

use crate::action::{self, Action};
use crate::cli::ActionCommand;
use crate::commands::{Context, ExitStatus};
use crate::output::cell;
use crate::store::Store;

/// Run an `st2 action` subcommand.
pub fn run(command: ActionCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    let store = Store::open_existing(&context.settings.store_path)?;
    match command {
        ActionCommand::List { pack } => {
            let actions = action::list(store.as_ref(), pack.as_deref())?;
            if context.printer.is_data() {
                let list: Vec<Value> = actions.iter().map(to_json).collect();
                context.printer.data(&list);
                return Ok(ExitStatus::Success);
            }
            if actions.is_empty() {
                context.printer.info(&match pack {
                    Some(pack) => format!("Pack \"{pack}\" has no registered actions."),
                    None => "No actions.".into(),
                });
                return Ok(ExitStatus::Success);
            }
            let rows = actions
                .iter()
                .map(|action| {
                    vec![
                        action.record.action_ref.clone(),
                        action.record.pack.clone(),
                        action.record.runner_type.clone(),
                        action.record.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            context
                .printer
                .table(&["ref", "pack", "runner_type", "description"], rows);
            Ok(ExitStatus::Success)
        }
        ActionCommand::Get { action_ref } => {
            let action = action::lookup(store.as_ref(), &action_ref)?;
            let object = to_json(&action);
            if context.printer.is_data() {
                context.printer.data(&object);
                return Ok(ExitStatus::Success);
            }
            let rows = object
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| {
                    let text = match value {
                        Value::Object(map) if !map.is_empty() => {
                            crate::yaml::to_string(value).trim_end().to_string()
                        }
                        _ => cell(value),
                    };
                    (key.clone(), text)
                })
                .collect();
            context.printer.properties(rows);
            Ok(ExitStatus::Success)
        }
        ActionCommand::Execute(args) => crate::commands::run::run(&args, context),
    }
}

/// An action as `-j` prints it: what registration stored, with the effective parameters.
fn to_json(action: &Action) -> Value {
    let record = &action.record;
    json!({
        "ref": record.action_ref,
        "pack": record.pack,
        "name": record.name,
        "description": record.description,
        "runner_type": record.runner_type,
        "entry_point": record.entry_point,
        "enabled": record.enabled,
        "parameters": Value::Object(action.schema()),
        "metadata_file": record.metadata_file,
        "builtin": action.builtin,
        "supported": crate::runner::is_supported(&record.runner_type),
        "native": crate::native::find(&record.action_ref, &record.entry_point).is_some(),
    })
}

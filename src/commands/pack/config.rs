//! `st2 pack config PACK`: write `configs/<pack>.yaml` by asking for each property of the
//! pack's config schema (secrets typed hidden, defaults and current values offered), validate
//! it, write it and register it. `--yes` takes current values and defaults without asking.
//!
//! `st2 pack config show PACK [--resolved]`: the registered config, secrets masked; with
//! `--resolved`, what an action gets (templates rendered, defaults filled in).
//!
//! A secret property whose value is a datastore reference (`{{ st2kv.system.api_key }}`) is
//! shown as written: the reference says where the secret is, it is not the secret (upstream's
//! API masks it too). Literal secret values are masked everywhere.
//!
//! The file is changed, not replaced: the user's comments, `---`, key order and the values not
//! asked for stay as they were (`ops::local::pack_config::edit`).

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context as _};
use serde_json::{Map, Value};

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::commands::{Context, ExitStatus};
use crate::config::{is_datastore_reference, MASK};
use crate::ops::packs::ConfigForm;
use crate::schema::{self, is_template};
use crate::yaml;

/// Run the command.
pub(crate) fn run(args: ConfigArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    match args.show {
        Some(ConfigCommand::Show { pack, resolved }) => show(&pack, resolved, context),
        None => {
            let pack = args.pack.context("a pack name is required")?;
            write_interactively(&pack, args.yes, context)
        }
    }
}

fn show(pack: &str, resolved: bool, context: &Context) -> anyhow::Result<ExitStatus> {
    let values = super::warned(context.backend().pack_config(pack, resolved), context)?;
    print_values(&values, context);
    Ok(ExitStatus::Success)
}

fn print_values(values: &Value, context: &Context) {
    if context.printer.is_data() {
        context.printer.data(values);
    } else {
        context.printer.stdout(&yaml::to_string(values));
    }
}

fn write_interactively(pack: &str, yes: bool, context: &Context) -> anyhow::Result<ExitStatus> {
    let ConfigForm { schema, current } = context.backend().pack_config_form(pack)?;
    let mut prompter = Prompter::new(yes, &schema);
    let mut values = Map::new();
    for (key, property) in &schema {
        if let Some(value) = prompter.ask(key, property, current.get(key), 0)? {
            values.insert(key.clone(), value);
        }
    }
    // Keys the schema does not know are kept as they were.
    for (key, value) in &current {
        if !schema.contains_key(key) {
            values.insert(key.clone(), value.clone());
        }
    }
    let written = context
        .backend()
        .write_pack_config(pack, &Value::Object(values))?;
    context
        .printer
        .info(&format!("Wrote {} and registered it.", written.location));
    print_values(&written.values, context);
    Ok(ExitStatus::Success)
}

/// How deep the prompter goes into nested objects (a `$ref` may lead back to its parent).
const MAX_PROMPT_DEPTH: usize = 8;

/// Asks for values on the terminal, or reads answers line by line from a pipe.
struct Prompter {
    yes: bool,
    terminal: bool,
    lines: Box<dyn Iterator<Item = std::io::Result<String>>>,
    /// What the schema's `$ref`s point into.
    root: Value,
}

impl Prompter {
    fn new(yes: bool, schema: &Map<String, Value>) -> Prompter {
        Prompter {
            yes,
            terminal: std::io::stdin().is_terminal(),
            lines: Box::new(std::io::stdin().lock().lines()),
            root: schema::config_schema_root(schema),
        }
    }

    fn read(&mut self, prompt: &str, secret: bool) -> anyhow::Result<String> {
        if self.terminal && secret {
            return rpassword::prompt_password(prompt).context("cannot read the answer");
        }
        crate::output::prompt(prompt);
        let line = self.lines.next().transpose()?.unwrap_or_default();
        if !self.terminal {
            crate::output::prompt_line("");
        }
        Ok(line.trim_end_matches('\r').to_string())
    }

    /// The value of one property (`None`: left out).
    fn ask(
        &mut self,
        path: &str,
        property: &Value,
        current: Option<&Value>,
        depth: usize,
    ) -> anyhow::Result<Option<Value>> {
        // A `$ref`'d property is asked for as what it points at (secret ones hidden too).
        let root = self.root.clone();
        let property = schema::resolve_config_ref(&root, property);
        let kind = property.get("type").and_then(Value::as_str).unwrap_or("");
        if let (true, Some(properties), true) = (
            kind == "object",
            property.get("properties").and_then(Value::as_object),
            depth < MAX_PROMPT_DEPTH,
        ) {
            let current = current.and_then(Value::as_object);
            let mut object = current.cloned().unwrap_or_default();
            for (key, sub) in properties {
                let value = self.ask(
                    &format!("{path}.{key}"),
                    sub,
                    current.and_then(|c| c.get(key)),
                    depth + 1,
                )?;
                match value {
                    Some(value) => object.insert(key.clone(), value),
                    None => object.remove(key),
                };
            }
            return Ok((!object.is_empty() || current.is_some()).then_some(Value::Object(object)));
        }
        let secret = property.get("secret").and_then(Value::as_bool) == Some(true);
        let required = property.get("required").and_then(Value::as_bool) == Some(true);
        let default = current
            .filter(|value| !value.is_null())
            .or_else(|| property.get("default").filter(|value| !value.is_null()))
            .cloned();
        if self.yes {
            if default.is_none() && required {
                bail!("\"{path}\" is required and has no default: run without --yes to type it");
            }
            return Ok(default);
        }
        let mut prompt = path.to_string();
        if let Some(description) = property.get("description").and_then(Value::as_str) {
            prompt.push_str(&format!(" ({})", description.trim()));
        }
        if let Some(default) = &default {
            let shown = if secret && !is_datastore_reference(default) {
                MASK.to_string()
            } else {
                match default {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }
            };
            prompt.push_str(&format!(" [{shown}]"));
        }
        prompt.push_str(": ");
        loop {
            let answer = self.read(&prompt, secret)?;
            if answer.is_empty() {
                if default.is_some() || !required {
                    return Ok(default);
                }
                if !self.terminal {
                    bail!("\"{path}\" is required: no value was given");
                }
                crate::output::prompt_line(&format!("\"{path}\" is required."));
                continue;
            }
            match parse_answer(&answer, property) {
                Ok(value) => return Ok(Some(value)),
                Err(expected) if self.terminal => {
                    crate::output::prompt_line(&format!("expected {expected}; try again"))
                }
                Err(expected) => bail!("\"{path}\": expected {expected}, got {answer:?}"),
            }
        }
    }
}

/// An answer typed for a property, as its schema type. Templates stay strings.
fn parse_answer(answer: &str, property: &Value) -> Result<Value, String> {
    if is_template(answer) {
        return Ok(Value::String(answer.to_string()));
    }
    let kind = property
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    parse_as(answer, kind, property)
}

fn parse_as(text: &str, kind: &str, property: &Value) -> Result<Value, String> {
    let text = if kind == "string" { text } else { text.trim() };
    match kind {
        "integer" => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "an integer".into()),
        "number" => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or(())
            })
            .map_err(|_| "a number".into()),
        "boolean" => match text.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "1" | "on" => Ok(Value::Bool(true)),
            "n" | "no" | "false" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err("yes or no".into()),
        },
        "array" => {
            if text.starts_with('[') {
                return match serde_json::from_str::<Value>(text) {
                    Ok(value @ Value::Array(_)) => Ok(value),
                    _ => Err("a JSON list or comma-separated values".into()),
                };
            }
            let item_kind = property
                .get("items")
                .and_then(|items| items.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("string");
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| parse_as(item, item_kind, &Value::Null))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "object" => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err("a JSON object".into()),
        },
        _ => Ok(Value::String(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_cast_to_the_schema_type() {
        let cases = [
            ("5", json!({"type": "integer"}), Ok(json!(5))),
            (
                "x",
                json!({"type": "integer"}),
                Err("an integer".to_string()),
            ),
            ("1.5", json!({"type": "number"}), Ok(json!(1.5))),
            ("Yes", json!({"type": "boolean"}), Ok(json!(true))),
            ("a, b", json!({"type": "array"}), Ok(json!(["a", "b"]))),
            (
                "1,2",
                json!({"type": "array", "items": {"type": "integer"}}),
                Ok(json!([1, 2])),
            ),
            ("[1]", json!({"type": "array"}), Ok(json!([1]))),
            ("{\"a\": 1}", json!({"type": "object"}), Ok(json!({"a": 1}))),
            (
                "{{ st2kv.system.port }}",
                json!({"type": "integer"}),
                Ok(json!("{{ st2kv.system.port }}")),
            ),
            (" spaced ", json!({"type": "string"}), Ok(json!(" spaced "))),
        ];
        for (answer, property, expected) in cases {
            assert_eq!(parse_answer(answer, &property), expected, "{answer}");
        }
    }
}

//! The live parameters checked against the action's schema, as upstream's `create_request`
//! does (`validate_action_parameters`), every problem on a line of its own that names the
//! parameter, secrets masked.

use serde_json::{Map, Value};

use super::{is_secret, ParamErrors, Schemas};
use crate::config::MASK;
use crate::schema::{self, ValidationError};

/// Check the live parameters as upstream's `create_request` does: with defaults filled in
/// against the action's schema (every problem, one line each), then no immutable parameter
/// overridden.
pub(crate) fn validate(
    schemas: Schemas,
    schema: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Result<(), ParamErrors> {
    check(schema, &with_defaults(schema, live), true)?;
    let mut immutable: Vec<&String> = live
        .keys()
        .filter(|name| {
            schemas.in_order().iter().any(|parameters| {
                parameters
                    .get(*name)
                    .and_then(|property| property.get("immutable"))
                    .is_some_and(schema::validator::truthy)
            })
        })
        .collect();
    if !immutable.is_empty() {
        immutable.sort();
        let names: Vec<String> = immutable.iter().map(|name| format!("'{name}'")).collect();
        return Err(ParamErrors::one(format!(
            "Override of immutable parameter(s) [{}] is unsupported.",
            names.join(", ")
        )));
    }
    Ok(())
}

/// The values plus the defaults of the parameters missing or `null`
/// (`assign_default_values`).
fn with_defaults(schema: &Map<String, Value>, values: &Map<String, Value>) -> Map<String, Value> {
    let mut values = values.clone();
    for (name, property) in schema {
        if let Some(default) = property.get("default") {
            if values.get(name).is_none_or(Value::is_null) {
                values.insert(name.clone(), default.clone());
            }
        }
    }
    values
}

pub(super) fn is_required(schema: &Map<String, Value>, name: &str) -> bool {
    schema
        .get(name)
        .and_then(|property| property.get("required"))
        .is_some_and(schema::validator::truthy)
}

pub(super) fn check(
    schema: &Map<String, Value>,
    values: &Map<String, Value>,
    templates_pass: bool,
) -> Result<(), ParamErrors> {
    let errors =
        schema::validate_parameters(schema, &Value::Object(values.clone()), templates_pass);
    if errors.is_empty() {
        return Ok(());
    }
    Err(ParamErrors(
        errors
            .iter()
            .map(|error| describe(error, schema, values))
            .collect(),
    ))
}

/// One error as one line; a secret value is masked in it.
fn describe(
    error: &ValidationError,
    schema: &Map<String, Value>,
    values: &Map<String, Value>,
) -> String {
    let required = error.message.ends_with("is a required property");
    let (Some(schema::PathItem::Key(name)), false) = (error.path.first(), required) else {
        return match suggestion(&error.message, schema) {
            Some(hint) => format!("{}; {hint}", error.message),
            None => error.message.clone(),
        };
    };
    let mut message = error.message.clone();
    if is_secret(schema.get(name)) {
        if let Some(value) = values.get(name) {
            let shown = match value {
                Value::String(text) => crate::schema::repr::py_str_repr(text),
                other => crate::schema::repr::py_repr(other),
            };
            message = message.replace(&shown, &format!("'{MASK}'"));
        }
    }
    format!("parameter \"{}\": {message}", error.dotted_path())
}

/// "did you mean" for an unexpected parameter name.
fn suggestion(message: &str, schema: &Map<String, Value>) -> Option<String> {
    let unexpected = message.split('\'').nth(1)?;
    if !message.starts_with("Additional properties") {
        return None;
    }
    if unexpected == "cmd" {
        return Some(
            "a word without \"=\" starts a command, which this action does not take: write \
             NAME=VALUE"
                .into(),
        );
    }
    schema
        .keys()
        .map(|name| (strsim::jaro_winkler(name, unexpected), name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| format!("did you mean \"{name}\"?"))
}

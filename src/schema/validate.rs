//! Validating values against the schemas a pack declares: an execution's parameters against
//! its action's parameter map, a pack config against its config schema, as StackStorm's
//! `validate_action_parameters` and `validate_config_against_schema` do.

use serde_json::{json, Map, Value};

use super::defaults::{allow_default_none, assign_default_values};
use super::meta::CUSTOM_META_SCHEMA;
use super::repr::py_repr;
use super::validator::{best_match, is_template, truthy, PathItem, ValidationError, Validator};
use super::walk::{visit_config, visit_config_secrets};

/// `get_schema_for_resource_parameters`: the object schema a property map stands for; an
/// empty property schema means "any type".
pub fn object_schema_for(properties: &Map<String, Value>, additional: bool) -> Value {
    if properties.is_empty() {
        return json!({});
    }
    let any_type = json!({"anyOf": [
        {"type": "array"}, {"type": "boolean"}, {"type": "integer"},
        {"type": "number"}, {"type": "object"}, {"type": "string"},
    ]});
    let normalized: Map<String, Value> = properties
        .iter()
        .map(|(key, schema)| {
            let schema = if truthy(schema) {
                schema.clone()
            } else {
                any_type.clone()
            };
            (key.clone(), schema)
        })
        .collect();
    json!({"type": "object", "properties": normalized, "additionalProperties": additional})
}

/// Validate an execution's parameter values against an action's effective parameter map, as
/// upstream's `validate_action_parameters` does (`additionalProperties: false`, nullable
/// defaults, boolean `required`); every error, jsonschema's order. With `templates_pass`,
/// template strings pass (they are checked once rendered).
pub fn validate_parameters(
    parameters: &Map<String, Value>,
    values: &Value,
    templates_pass: bool,
) -> Vec<ValidationError> {
    let object_schema = allow_default_none(&object_schema_for(parameters, false));
    Validator::with_lazy_draft4(&object_schema, &CUSTOM_META_SCHEMA)
        .templates_pass(templates_pass)
        .errors(values)
}

/// A pack config that failed validation: every problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInvalid {
    /// One entry per problem, in the order found (jsonschema's best match first).
    pub errors: Vec<ValidationError>,
}

/// Validate a pack config (the parsed `configs/<pack>.yaml`) against its config schema (the
/// bare property map) as `validate_config_against_schema` does: nullable optional
/// properties, defaults filled in for missing or null values (nested objects and arrays of
/// objects too), then draft-4-with-boolean-`required` validation.
///
/// Differences from StackStorm, on purpose: template strings (`{{ st2kv... }}`) pass the
/// type checks (they are checked once rendered, st2#4574), every problem is reported rather
/// than the first, and `decrypt_kv` on a `secret` property is refused at every depth.
///
/// Returns the config with defaults filled in (what the check saw).
pub fn validate_config(
    schema: &Map<String, Value>,
    config: &Value,
) -> Result<Value, ConfigInvalid> {
    let object_schema = allow_default_none(&object_schema_for(schema, true));
    let cleaned = if object_schema.get("type").and_then(Value::as_str) == Some("object")
        && config.is_object()
    {
        assign_default_values(config, &object_schema)
    } else {
        config.clone()
    };
    let validator =
        Validator::with_lazy_draft4(&object_schema, &CUSTOM_META_SCHEMA).templates_pass(true);
    let mut errors: Vec<ValidationError> = validator
        .errors(&cleaned)
        .into_iter()
        .filter_map(|error| best_match(vec![error]))
        .collect();
    // jsonschema raises its best match; show that one first.
    errors.sort_by_key(|error| error.path.len());
    let mut cleaned = cleaned;
    let _ = visit_config(schema, &mut cleaned, &mut |path, item_schema, item| {
        if let Value::String(text) = item {
            if is_template(text)
                && text.contains("decrypt_kv")
                && item_schema.get("secret").is_some_and(truthy)
            {
                errors.push(ValidationError {
                    message: DECRYPT_KV_ON_SECRET.into(),
                    path: path.to_vec(),
                    keyword: "secret".into(),
                    context: Vec::new(),
                });
            }
        }
        Ok::<_, std::convert::Infallible>(true)
    });
    if errors.is_empty() {
        Ok(cleaned)
    } else {
        // [fix] A secret's value is never quoted back in an error (upstream prints it).
        let mut secrets: Vec<(Vec<PathItem>, String)> = Vec::new();
        visit_config_secrets(schema, &mut cleaned.clone(), &mut |path, item| {
            secrets.push((path.to_vec(), py_repr(item)));
        });
        for error in &mut errors {
            mask_secrets(error, &secrets);
        }
        Err(ConfigInvalid { errors })
    }
}

/// Replace the quoted values of secret properties (at or under `secrets`' paths) in `error`
/// and its context with the mask.
fn mask_secrets(error: &mut ValidationError, secrets: &[(Vec<PathItem>, String)]) {
    for (path, shown) in secrets {
        if error.path.starts_with(path) || path.starts_with(&error.path) {
            error.message = error.message.replace(shown.as_str(), "'********'");
        }
    }
    for context in &mut error.context {
        mask_secrets(context, secrets);
    }
}

/// Message of the `decrypt_kv` check (`st2common/st2common/util/pack.py`).
pub const DECRYPT_KV_ON_SECRET: &str = "Values specified as \"secret: True\" in config schema are \
     automatically decrypted by default. Use of \"decrypt_kv\" jinja filter is not allowed for \
     such values. Please check the specified values in the config or the default values in the \
     schema.";

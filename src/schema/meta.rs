//! StackStorm's meta-schemas, embedded verbatim from StackStorm 3.9.0 (Apache-2.0), and the
//! checks of the schemas a pack declares: `config.schema.yaml`, an action's `parameters`
//! and its `output_schema`, as `ConfigSchemaAPI` and `ActionAPI` check them.

use std::sync::LazyLock;

use serde_json::{json, Value};

use super::validator::Validator;

/// StackStorm's `custom.json` with `additionalProperties` dropped, as
/// `get_draft_schema("custom", additional_properties=True)` builds it: what `"$ref": "#"`
/// inside the meta-schemas resolves to.
pub(super) static CUSTOM_META_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let mut schema: Value =
        serde_json::from_str(include_str!("custom.json")).expect("custom.json is valid JSON");
    if let Some(map) = schema.as_object_mut() {
        map.remove("additionalProperties");
    }
    schema
});

/// Meta-schema of one top-level parameter / config property (`action_params.json`).
static ACTION_PARAMS_META_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("action_params.json"))
        .expect("action_params.json is valid JSON")
});

/// `action_output_schema.json` with `additionalProperties` dropped, as
/// `get_action_output_schema()` (`additional_properties=True`) gives it to `ActionAPI`.
static ACTION_OUTPUT_META_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let mut schema: Value = serde_json::from_str(include_str!("action_output_schema.json"))
        .expect("action_output_schema.json is valid JSON");
    if let Some(map) = schema.as_object_mut() {
        map.remove("additionalProperties");
    }
    schema
});

/// The schema StackStorm's API models use for a parameter map (`ActionAPI.parameters`,
/// `ConfigSchemaAPI.attributes`): word keys, each an `action_params` schema.
static PARAMETER_MAP_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "patternProperties": {"^\\w+$": ACTION_PARAMS_META_SCHEMA.clone()},
        "additionalProperties": false,
    })
});

/// Check a pack's `config.schema.yaml` (already parsed) as `ConfigSchemaAPI` does.
/// The error is jsonschema's message, e.g. `'api-key' does not match any of the regexes:
/// '^\\w+$'` or `Additional properties are not allowed ('requried' was unexpected)`.
pub fn check_config_schema(schema: &Value) -> Result<(), String> {
    check_parameter_map(schema)
}

/// Check an action's `parameters` map as `ActionAPI` does (same meta-schema as configs).
pub fn check_parameters_schema(parameters: &Value) -> Result<(), String> {
    check_parameter_map(parameters)
}

/// Check an action's `output_schema` as `ActionAPI` does: `'bogus' is not one of ['array',
/// ...]`, with the path of the offending keyword when it is nested.
pub fn check_output_schema(output_schema: &Value) -> Result<(), String> {
    let validator = Validator::new(&ACTION_OUTPUT_META_SCHEMA, &CUSTOM_META_SCHEMA);
    match validator.first_error(output_schema) {
        None => Ok(()),
        Some(error) if error.path.is_empty() => Err(error.message),
        Some(error) => Err(format!("{}: {}", error.dotted_path(), error.message)),
    }
}

fn check_parameter_map(map: &Value) -> Result<(), String> {
    let validator = Validator::new(&PARAMETER_MAP_SCHEMA, &CUSTOM_META_SCHEMA);
    match validator.first_error(map) {
        None => Ok(()),
        Some(error) if error.path.is_empty() => Err(error.message),
        Some(error) => Err(format!("{}: {}", error.dotted_path(), error.message)),
    }
}

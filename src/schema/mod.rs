//! StackStorm's schema dialect: checking `config.schema.yaml` files and action parameter
//! schemas, validating pack configs against them with defaults filled in, and the defaults
//! StackStorm applies when an action runs.
//!
//! The dialect (spec `register-configs.md` §4–§6, `st2common/st2common/util/schema/`): a
//! schema file is a bare map `key: property schema`, wrapped as the `properties` of an object
//! that allows additional keys; `required` is a boolean on each property; top-level property
//! schemas are checked against StackStorm's `action_params.json` meta-schema (one simple
//! `type`, extra keywords `secret`, `immutable`, `position`), nested ones against its
//! `custom.json` (plain draft 4 with boolean `required`). Both meta-schemas are embedded
//! verbatim from StackStorm 3.9.0 (Apache-2.0). An action's `output_schema` is checked
//! against StackStorm's `action_output_schema.json` (also verbatim), whose `"$ref": "#"`
//! lands, through its draft 4 `id`, where every meta-schema's does: on `custom.json`.

mod keywords;
pub mod repr;
pub mod validator;

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use validator::{best_match, truthy, Validator};
pub use validator::{is_template, PathItem, ValidationError};

/// StackStorm's `custom.json` with `additionalProperties` dropped, as
/// `get_draft_schema("custom", additional_properties=True)` builds it: what `"$ref": "#"`
/// inside the meta-schemas resolves to.
static CUSTOM_META_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
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
    Validator::new(&object_schema, &CUSTOM_META_SCHEMA)
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
    let validator = Validator::new(&object_schema, &CUSTOM_META_SCHEMA).templates_pass(true);
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
            secrets.push((path.to_vec(), repr::py_repr(item)));
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

/// Visit every value of a config (depth first, parents before children) with the property
/// schema that applies to it, found as StackStorm's config loader finds it: object keys by
/// `properties`, then matching `patternProperties`, then a schema `additionalProperties`;
/// list items by `items` then `additionalItems`; `{}` where nothing applies. `$ref`s are not
/// followed (the loader does not follow them: a `$ref`'d schema's `secret` and `default`s are
/// not applied at run time). `visit` returns whether to go into the value's children.
pub fn visit_config<E>(
    schema: &Map<String, Value>,
    config: &mut Value,
    visit: &mut impl FnMut(&[PathItem], &Value, &mut Value) -> Result<bool, E>,
) -> Result<(), E> {
    walk_config(schema, None, config, visit)
}

/// Call `mask` on every value of `config` that is secret (not null), and not on what is under
/// it: a value whose property schema says `secret: true`, found as [`visit_config`] finds
/// schemas but with `$ref`s followed to the top-level keys they point at (`"$ref":
/// "#/properties/connection"`, as 19 Exchange packs share a secret-holding definition).
///
/// Every place that shows a config masks through this one function. [fix] StackStorm's
/// `get_secret_parameters` (`st2common/st2common/util/secrets.py`) only looks under
/// `properties` and `items`, so a secret reached through `patternProperties`,
/// `additionalProperties` or a `$ref` is shown in clear by its API.
pub fn visit_config_secrets(
    schema: &Map<String, Value>,
    config: &mut Value,
    mask: &mut impl FnMut(&[PathItem], &mut Value),
) {
    let root = config_schema_root(schema);
    let _ = walk_config(
        schema,
        Some(&root),
        config,
        &mut |path, item_schema, item| {
            let secret = item_schema.get("secret").is_some_and(truthy);
            if secret && !item.is_null() {
                mask(path, item);
            }
            Ok::<_, std::convert::Infallible>(!secret)
        },
    );
}

/// The document a config schema's `$ref`s point into: the schema file as the `properties` of
/// an object (`#/properties/<key>` is the top-level key `<key>`).
pub fn config_schema_root(schema: &Map<String, Value>) -> Value {
    json!({"type": "object", "properties": schema})
}

/// How many `$ref`s may lead to one another before a schema is taken as it is (a loop).
const MAX_REF_CHAIN: usize = 32;

/// The schema `item_schema` stands for: its `$ref` (a local JSON pointer into `root`, made by
/// [`config_schema_root`]) followed, then that one's, and so on.
/// Siblings of a `$ref` are ignored, as draft 4 says. A `$ref` that points nowhere (or out
/// of the document, or in a loop) leaves the schema as it is.
pub fn resolve_config_ref<'a>(root: &'a Value, item_schema: &'a Value) -> &'a Value {
    let mut current = item_schema;
    for _ in 0..MAX_REF_CHAIN {
        let Some(fragment) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix('#'))
        else {
            return current;
        };
        match validator::resolve_pointer(root, fragment) {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}

fn walk_config<E>(
    schema: &Map<String, Value>,
    root: Option<&Value>,
    config: &mut Value,
    visit: &mut impl FnMut(&[PathItem], &Value, &mut Value) -> Result<bool, E>,
) -> Result<(), E> {
    let Some(map) = config.as_object_mut() else {
        return Ok(());
    };
    let empty = Value::Object(Map::new());
    let mut path = Vec::new();
    for (key, item) in map.iter_mut() {
        path.push(PathItem::Key(key.clone()));
        visit_item(
            root,
            schema.get(key).unwrap_or(&empty),
            item,
            &mut path,
            visit,
        )?;
        path.pop();
    }
    Ok(())
}

fn visit_item<E>(
    root: Option<&Value>,
    item_schema: &Value,
    item: &mut Value,
    path: &mut Vec<PathItem>,
    visit: &mut impl FnMut(&[PathItem], &Value, &mut Value) -> Result<bool, E>,
) -> Result<(), E> {
    let item_schema = match root {
        Some(root) => resolve_config_ref(root, item_schema),
        None => item_schema,
    };
    if !visit(path, item_schema, item)? {
        return Ok(());
    }
    match item {
        Value::Object(map) => {
            let keys: Vec<&String> = map.keys().collect();
            let schemas = object_properties_schema(item_schema, &keys);
            for (key, child) in map.iter_mut() {
                path.push(PathItem::Key(key.clone()));
                visit_item(root, &schemas[key.as_str()], child, path, visit)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            let schemas = array_items_schema(item_schema, items.len());
            let empty = Value::Object(Map::new());
            for (index, child) in items.iter_mut().enumerate() {
                path.push(PathItem::Index(index));
                visit_item(
                    root,
                    schemas.get(index).unwrap_or(&empty),
                    child,
                    path,
                    visit,
                )?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// `modify_schema_allow_default_none`: a property whose default is null, or that is optional
/// with no default, also accepts null. Applied to object `properties` and to array `items`
/// that have `properties`, recursively.
pub fn allow_default_none(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return schema;
    };
    for property in properties.values_mut() {
        let Some(map) = property.as_object_mut() else {
            continue;
        };
        let optional = !map.get("required").is_some_and(truthy);
        let has_default = map.contains_key("default");
        let default_is_none = map.get("default").is_none_or(Value::is_null);
        if (has_default || optional) && default_is_none {
            make_nullable(map);
        }
        let attribute_type = map.get("type").cloned();
        let items_have_properties = map
            .get("items")
            .and_then(|items| items.get("properties"))
            .is_some_and(truthy);
        if is_type_name(attribute_type.as_ref(), "array") && items_have_properties {
            let items = allow_default_none(&map["items"]);
            map.insert("items".into(), items);
        }
        if is_type_name(attribute_type.as_ref(), "object")
            && map.get("properties").is_some_and(truthy)
        {
            *property = allow_default_none(property);
        }
    }
    schema
}

fn make_nullable(map: &mut Map<String, Value>) {
    let is_null_type = |t: &Value| match t {
        Value::String(name) => name == "null",
        Value::Object(schema) => schema.get("type").and_then(Value::as_str) == Some("null"),
        _ => false,
    };
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = map.get_mut(keyword) {
            if let Some(list) = branches.as_array_mut() {
                if !list.iter().any(is_null_type) {
                    list.push(json!({"type": "null"}));
                }
            }
            return;
        }
    }
    match map.get_mut("type") {
        Some(Value::Array(types)) => {
            if !types.iter().any(is_null_type) {
                types.push(json!("null"));
            }
        }
        Some(Value::String(name)) if name == "null" => {}
        Some(single) => *single = json!([single.clone(), "null"]),
        // `get("type", "string")`: no type means string for this purpose.
        None => {
            map.insert("type".into(), json!(["string", "null"]));
        }
    }
}

fn is_type_name(attribute_type: Option<&Value>, name: &str) -> bool {
    match attribute_type {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

/// `assign_default_values` at validation time: a property with a `default` whose value is
/// missing or null gets the default; present objects and arrays are filled recursively.
pub fn assign_default_values(instance: &Value, schema: &Value) -> Value {
    let mut instance = instance.clone();
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => fill_object(&mut instance, schema),
        Some("array") => fill_array(&mut instance, schema),
        _ => {}
    }
    instance
}

fn fill_object(instance: &mut Value, schema: &Value) {
    let Some(object) = instance.as_object_mut() else {
        return;
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let dependencies = schema.get("dependencies").and_then(Value::as_object);
    for (name, property) in properties {
        let mut has_default = property.get("default").is_some();
        if has_default {
            if let Some(Value::Array(required)) = dependencies.and_then(|d| d.get(name)) {
                for other in required.iter().filter_map(Value::as_str) {
                    let other_has_default = properties
                        .get(other)
                        .is_some_and(|p| p.get("default").is_some());
                    if !other_has_default && !object.contains_key(other) {
                        has_default = false;
                        break;
                    }
                }
            }
        }
        if has_default && object.get(name).is_none_or(Value::is_null) {
            object.insert(name.clone(), property["default"].clone());
        }
        let Some(value) = object.get_mut(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let attribute_type = property.get("type");
        if is_type_name(attribute_type, "array") {
            fill_array(value, property);
        } else if is_type_name(attribute_type, "object") {
            fill_object(value, property);
        }
    }
}

fn fill_array(instance: &mut Value, schema: &Value) {
    let Some(items) = instance.as_array_mut() else {
        return;
    };
    let schemas: Vec<&Value> = match schema.get("items") {
        Some(Value::Object(map)) if !map.is_empty() => {
            std::iter::repeat_n(&schema["items"], items.len()).collect()
        }
        Some(Value::Array(list)) => list.iter().collect(),
        _ => return,
    };
    for (item, item_schema) in items.iter_mut().zip(schemas) {
        if item.is_null() {
            if let Some(default) = item_schema.get("default") {
                *item = default.clone();
            }
        }
        if item.is_null() {
            continue;
        }
        let item_type = item_schema.get("type");
        if is_type_name(item_type, "array") {
            fill_array(item, item_schema);
        }
        if is_type_name(item_type, "object") {
            fill_object(item, item_schema);
        }
    }
}

/// `_get_object_properties_schema` of StackStorm's config loader: the schema of each key of an
/// object, from `properties`, else every matching `patternProperties` (merged), else
/// `additionalProperties` when it is a schema. Keys with no schema get `{}`.
pub fn object_properties_schema(object_schema: &Value, keys: &[&String]) -> Map<String, Value> {
    let mut result: Map<String, Value> =
        keys.iter().map(|key| ((*key).clone(), json!({}))).collect();
    let properties = object_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (key, schema) in &properties {
        result.insert(key.clone(), schema.clone());
    }
    let mut extra: Vec<&String> = keys
        .iter()
        .copied()
        .filter(|key| !properties.contains_key(*key))
        .collect();
    if extra.is_empty() {
        return result;
    }
    if let Some(patterns) = object_schema
        .get("patternProperties")
        .and_then(Value::as_object)
    {
        let compiled: Vec<(Option<std::sync::Arc<regex::Regex>>, &Value)> = patterns
            .iter()
            .map(|(pattern, schema)| (validator::cached_regex(pattern), schema))
            .collect();
        extra.retain(|key| {
            let mut composed = Map::new();
            let mut matched = false;
            for (regex, schema) in &compiled {
                if regex.as_ref().is_some_and(|r| r.is_match(key)) {
                    matched = true;
                    if let Some(map) = schema.as_object() {
                        composed.extend(map.clone());
                    }
                }
            }
            if matched {
                result.insert((*key).clone(), Value::Object(composed));
            }
            !matched
        });
        if extra.is_empty() {
            return result;
        }
    }
    if let Some(additional) = object_schema
        .get("additionalProperties")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        for key in extra {
            result.insert(key.clone(), additional.clone());
        }
    }
    result
}

/// `_get_array_items_schema`: the schema of each of `count` items, from `items` (one schema
/// for all, or positional) then `additionalItems` when it is a schema.
pub fn array_items_schema(array_schema: &Value, count: usize) -> Vec<Value> {
    let mut result: Vec<Value> = match array_schema.get("items") {
        Some(items @ Value::Object(_)) => vec![items.clone(); count],
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    if result.len() >= count {
        return result;
    }
    if let Some(additional) = array_schema
        .get("additionalItems")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        let missing = count - result.len();
        result.extend(std::iter::repeat_n(additional.clone(), missing));
    }
    result
}

/// The defaults StackStorm applies to a pack config when an action runs (after templates are
/// rendered): a property with a `default` whose key is absent gets it (an explicit null is
/// kept); objects with sub-schemas become `{}` when missing or falsy and are filled inside;
/// arrays with item schemas become `[]` when missing or falsy and each item is filled.
pub fn fill_runtime_defaults(schema: &Map<String, Value>, config: &mut Value) {
    if !config.is_object() {
        *config = Value::Object(Map::new());
    }
    let schemas: Vec<(String, Value)> =
        schema.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    fill_runtime_keyed(&schemas, config);
}

fn fill_runtime_keyed(schemas: &[(String, Value)], config: &mut Value) {
    for (key, item_schema) in schemas {
        let Some(object) = config.as_object_mut() else {
            return;
        };
        if let Some(default) = item_schema.get("default") {
            if !object.contains_key(key) {
                object.insert(key.clone(), default.clone());
            }
        }
        fill_runtime_value(item_schema, object, key);
    }
}

fn fill_runtime_value(item_schema: &Value, object: &mut Map<String, Value>, key: &str) {
    match item_schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let has_sub = ["properties", "patternProperties", "additionalProperties"]
                .iter()
                .any(|k| item_schema.get(*k).is_some_and(truthy));
            if !has_sub {
                return;
            }
            let value = object.entry(key.to_string()).or_insert(Value::Null);
            if !truthy(value) {
                *value = Value::Object(Map::new());
            } else if !value.is_object() {
                return;
            }
            let keys: Vec<String> = value
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let key_refs: Vec<&String> = keys.iter().collect();
            let schemas: Vec<(String, Value)> = object_properties_schema(item_schema, &key_refs)
                .into_iter()
                .collect();
            fill_runtime_keyed(&schemas, value);
        }
        Some("array") => {
            let has_sub = ["items", "additionalItems"]
                .iter()
                .any(|k| item_schema.get(*k).is_some_and(truthy));
            if !has_sub {
                return;
            }
            let value = object.entry(key.to_string()).or_insert(Value::Null);
            if !truthy(value) {
                *value = Value::Array(Vec::new());
            }
            let Some(items) = value.as_array_mut() else {
                return;
            };
            let schemas = array_items_schema(item_schema, items.len());
            // Positional schemas beyond the list are skipped (StackStorm raises an
            // IndexError there).
            for (index, schema) in schemas.iter().enumerate().take(items.len()) {
                let mut wrapper = Map::new();
                wrapper.insert("item".into(), items[index].take());
                fill_runtime_value(schema, &mut wrapper, "item");
                items[index] = wrapper.remove("item").unwrap_or(Value::Null);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn messages(schema: Value, config: Value) -> Vec<String> {
        match validate_config(&map(schema), &config) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.dotted_path(), e.message))
                .collect(),
        }
    }

    #[test]
    fn secret_values_are_not_quoted_in_config_errors() {
        let schema = json!({
            "pin": {"type": "integer", "secret": true},
            "mode": {"type": "string", "enum": ["a", "b"], "secret": true},
            "nested": {"type": "object", "properties": {
                "key": {"type": "integer", "secret": true}}},
            "plain": {"type": "integer"},
        });
        let config = json!({"pin": "hunter2", "mode": "hunter3",
                            "nested": {"key": "hunter4"}, "plain": "visible"});
        let errors = messages(schema, config).join("\n");
        assert!(!errors.contains("hunter"), "{errors}");
        assert!(
            errors.contains("pin: '********' is not of type 'integer'"),
            "{errors}"
        );
        assert!(
            errors.contains("nested.key: '********' is not of type 'integer'"),
            "{errors}"
        );
        assert!(
            errors.contains("plain: 'visible' is not of type 'integer'"),
            "{errors}"
        );
    }

    #[test]
    fn schema_files_are_checked_like_config_schema_api() {
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "string"}})),
            Ok(())
        );
        assert_eq!(
            check_config_schema(&json!({"api-key": {"type": "string"}})),
            Err("'api-key' does not match any of the regexes: '^\\\\w+$'".into())
        );
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "string", "requried": true}})),
            Err("a: Additional properties are not allowed ('requried' was unexpected)".into())
        );
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "object", "required": ["b"]}})),
            Err("a.required: ['b'] is not of type 'boolean'".into())
        );
        assert!(check_config_schema(&json!({"a": {"type": ["string", "null"]}})).is_err());
        assert!(check_config_schema(&json!({"a": {"$ref": "#/properties/b"}})).is_err());
        // Nested schemas: type lists, $ref and unknown keywords pass, boolean required too.
        assert_eq!(
            check_config_schema(&json!({
                "shared": {"type": "object"},
                "a": {"type": "object", "properties": {
                    "x": {"type": ["string", "null"], "requried": 1, "required": true},
                    "y": {"$ref": "#/properties/shared"},
                }},
            })),
            Ok(())
        );
        assert_eq!(check_config_schema(&json!({"a": {}})), Ok(()));
        assert_eq!(
            check_config_schema(&json!({"a": {"position": -1}})),
            Err("a.position: -1 is less than the minimum of 0".into())
        );
    }

    #[test]
    fn configs_get_defaults_and_nullable_optionals() {
        let schema = json!({
            "count": {"type": "integer", "default": 5},
            "token": {"type": "string", "required": true, "secret": true},
            "opt": {"type": "string"},
            "auth": {"type": "object", "properties": {
                "host": {"type": "string", "required": true},
                "port": {"type": "integer", "default": 22},
            }},
            "instances": {"type": "array", "items": {"type": "object", "properties": {
                "alias": {"type": "string", "required": true},
                "port": {"type": "integer", "default": 22},
            }}},
        });
        let cleaned = validate_config(
            &map(schema.clone()),
            &json!({"token": "t", "opt": null, "count": null, "auth": {"host": "h"},
                    "instances": [{"alias": "x"}]}),
        )
        .unwrap();
        assert_eq!(cleaned["count"], json!(5));
        assert_eq!(cleaned["auth"], json!({"host": "h", "port": 22}));
        assert_eq!(cleaned["instances"], json!([{"alias": "x", "port": 22}]));
        assert_eq!(
            messages(schema.clone(), json!({"count": "thirty", "token": "t"})),
            vec!["count: 'thirty' is not of type 'integer'"]
        );
        assert_eq!(
            messages(schema.clone(), json!({})),
            vec!["token: 'token' is a required property"]
        );
        assert_eq!(
            messages(
                schema.clone(),
                json!({"token": "t", "auth": {}, "instances": [{}]})
            ),
            vec![
                "auth.host: 'host' is a required property",
                "instances.0.alias: 'alias' is a required property"
            ]
        );
        // Templates pass type checks at registration.
        assert_eq!(
            messages(
                schema.clone(),
                json!({"token": "t", "count": "{{ st2kv.system.count }}"})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(
                schema,
                json!({"token": "{{ st2kv.system.t | decrypt_kv }}"})
            ),
            vec![format!("token: {DECRYPT_KV_ON_SECRET}")]
        );
        assert_eq!(
            messages(json!({"n": {"type": "string"}}), json!({"n": 22})),
            vec!["n: 22 is not of type 'string', 'null'"]
        );
    }

    #[test]
    fn refs_to_other_top_level_keys_resolve() {
        let schema = json!({
            "shared": {"type": "object", "properties": {"port": {"type": "integer"}}},
            "list": {"type": "array", "items": {"$ref": "#/properties/shared"}},
        });
        assert_eq!(
            messages(schema, json!({"list": [{"port": "x"}]})),
            vec!["list.0.port: 'x' is not of type 'integer', 'null'"]
        );
    }

    #[test]
    fn runtime_defaults_follow_the_config_loader() {
        let schema = map(json!({
            "auth": {"type": "object", "properties": {"host": {"default": "h"}}},
            "inst": {"type": "array", "items": {"type": "object", "properties": {"port": {"default": 22}}}},
            "a": {"default": "d"},
            "b": {"default": 1},
            "extra": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"default": 1}}}},
        }));
        let mut config = json!({"inst": [{"alias": "x"}], "a": null, "extra": {"k": {}}});
        fill_runtime_defaults(&schema, &mut config);
        assert_eq!(
            config,
            json!({"inst": [{"alias": "x", "port": 22}], "a": null, "extra": {"k": {"x": 1}},
                   "auth": {"host": "h"}, "b": 1})
        );
    }
}

/// Property tests: whatever the schema and the instance, the dialect answers, never panics.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Keys that schemas and instances share, so properties, patterns and refs meet.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["a", "b", "x", "port", "api-key", "", "items"])
                .prop_map(str::to_string),
            any::<String>(),
        ]
    }

    /// Numbers on the edges: i64::MIN and -1 (whose remainder overflows), zero, huge and
    /// tiny floats, u64 beyond i64.
    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            3 => prop::sample::select(vec![i64::MIN, -1, 0, i64::MAX]).prop_map(Value::from),
            1 => prop::sample::select(vec![0.0, -0.0, 0.5, -1.5, 1e308, -1e308, 5e-324, 1.0])
                .prop_map(Value::from),
            1 => any::<f64>().prop_map(Value::from),
        ]
    }

    /// Strings, templates among them (they pass the checks when asked).
    fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::sample::select(vec![
                "{{ st2kv.system.x }}",
                "{{ st2kv.system.t | decrypt_kv }}",
                "{% if x %}",
                "",
                "abc",
            ])
            .prop_map(str::to_string),
        ]
    }

    /// Any JSON value.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// Regex patterns: valid, invalid, ones Rust's engine refuses (look-around,
    /// back-references), and anything.
    fn pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "^\\w+$",
                "(",
                "[",
                "a{2,1}",
                "(?=x)",
                "(a)\\1",
                "\\",
                "*",
                "^$",
                ".*",
                "[^]",
                "(?P<n>",
                "\\p{Nope}",
                "",
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ]
    }

    /// `$ref`s into the schema itself (looping too), to missing places, to the draft-4
    /// meta-schema, to other documents, and anything.
    fn reference() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "#",
                "#",
                "#/properties/a",
                "#/properties/a/properties/b",
                "#/items/0",
                "#/definitions/x",
                "#/%ZZ/~2",
                "#/nowhere",
                "http://json-schema.org/draft-04/schema#",
                "other.json#/a",
                "",
            ])
            .prop_map(str::to_string),
            1 => any::<String>(),
        ]
    }

    fn type_name() -> impl Strategy<Value = Value> {
        prop::sample::select(vec![
            "array", "boolean", "integer", "null", "number", "object", "string", "any", "",
        ])
        .prop_map(Value::from)
    }

    /// A schema of StackStorm's dialect, with keywords given the right kind of value most of
    /// the time and any value some of the time.
    fn schema() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            4 => Just(json!({})),
            4 => type_name().prop_map(|t| json!({ "type": t })),
            2 => reference().prop_map(|r| json!({ "$ref": r })),
            1 => json(),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            let schemas = || prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array);
            let schema_map = || {
                prop::collection::vec((key(), inner.clone()), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
            };
            let keyword = prop_oneof![
                type_name().prop_map(|t| ("type", t)),
                prop::collection::vec(type_name(), 0..3)
                    .prop_map(|types| ("type", Value::Array(types))),
                inner.clone().prop_map(|s| ("type", json!([s, "string"]))),
                schema_map().prop_map(|m| ("properties", m)),
                prop::collection::vec((pattern(), inner.clone()), 0..3).prop_map(|pairs| (
                    "patternProperties",
                    Value::Object(pairs.into_iter().collect())
                )),
                any::<bool>().prop_map(|b| ("additionalProperties", Value::Bool(b))),
                inner.clone().prop_map(|s| ("additionalProperties", s)),
                inner.clone().prop_map(|s| ("items", s)),
                schemas().prop_map(|s| ("items", s)),
                any::<bool>().prop_map(|b| ("additionalItems", Value::Bool(b))),
                inner.clone().prop_map(|s| ("additionalItems", s)),
                prop::collection::vec(json(), 0..4).prop_map(|e| ("enum", Value::Array(e))),
                number().prop_map(|n| ("minimum", n)),
                number().prop_map(|n| ("maximum", n)),
                number().prop_map(|n| ("multipleOf", n)),
                number().prop_map(|n| ("minLength", n)),
                number().prop_map(|n| ("maxLength", n)),
                number().prop_map(|n| ("minItems", n)),
                number().prop_map(|n| ("maxProperties", n)),
                any::<bool>().prop_map(|b| ("uniqueItems", Value::Bool(b))),
                pattern().prop_map(|p| ("pattern", Value::String(p))),
                any::<bool>().prop_map(|b| ("required", Value::Bool(b))),
                prop::collection::vec(key(), 0..3).prop_map(|names| ("required", json!(names))),
                json().prop_map(|d| ("default", d)),
                any::<bool>().prop_map(|b| ("secret", Value::Bool(b))),
                any::<bool>().prop_map(|b| ("immutable", Value::Bool(b))),
                number().prop_map(|n| ("position", n)),
                schemas().prop_map(|s| ("anyOf", s)),
                schemas().prop_map(|s| ("oneOf", s)),
                schemas().prop_map(|s| ("allOf", s)),
                inner.clone().prop_map(|s| ("not", s)),
                reference().prop_map(|r| ("$ref", Value::String(r))),
                reference().prop_map(|r| ("id", Value::String(r))),
                schema_map().prop_map(|m| ("definitions", m)),
                prop::collection::vec((key(), prop::collection::vec(key(), 0..3)), 0..3).prop_map(
                    |deps| {
                        let deps: Map<String, Value> = deps
                            .into_iter()
                            .map(|(k, names)| (k, json!(names)))
                            .collect();
                        ("dependencies", Value::Object(deps))
                    }
                ),
                schema_map().prop_map(|m| ("dependencies", m)),
                json().prop_map(|v| ("description", v)),
            ];
            prop::collection::vec(keyword, 0..5).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(keyword, value)| (keyword.to_string(), value))
                        .collect(),
                )
            })
        })
    }

    /// A config schema file / parameters map: names to property schemas.
    fn property_map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec((key(), schema()), 0..5).prop_map(|pairs| pairs.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any schema against any instance, root or meta-schema resolution, templates passing
        /// or not: a list of errors, never a panic.
        #[test]
        fn validator_never_panics(
            schema in schema(),
            draft4 in schema(),
            instance in json(),
            templates_pass: bool,
        ) {
            let validator = Validator::new(&schema, &draft4).templates_pass(templates_pass);
            let errors = validator.errors(&instance);
            let first = validator.first_error(&instance);
            prop_assert_eq!(errors.is_empty(), first.is_none());
            for error in &errors {
                let _ = error.dotted_path();
            }
        }

        /// The numeric keywords on any pair of numbers (edges weighted up): an answer, never a
        /// panic.
        #[test]
        fn numeric_keywords_never_panic(
            keyword in prop::sample::select(vec!["multipleOf", "minimum", "maximum"]),
            limit in number(),
            instance in number(),
        ) {
            let schema = json!({ keyword: limit });
            let _ = Validator::new(&schema, &json!({})).errors(&instance);
        }

        /// Checking a config schema or a parameters map, whatever its shape: Ok or Err.
        #[test]
        fn schema_checks_never_panic(map in property_map(), other in json()) {
            let map = Value::Object(map);
            let _ = check_config_schema(&map);
            let _ = check_parameters_schema(&map);
            let _ = check_config_schema(&other);
        }

        /// Validating a config or parameters (defaults filled in, nullable optionals) and the
        /// runtime defaults: an answer, never a panic. A valid config validates again as it is
        /// once its defaults are in.
        #[test]
        fn config_and_parameter_validation_never_panics(
            map in property_map(),
            config in json(),
            templates_pass: bool,
        ) {
            let _ = validate_parameters(&map, &config, templates_pass);
            if let Ok(cleaned) = validate_config(&map, &config) {
                prop_assert!(validate_config(&map, &cleaned).is_ok(), "{cleaned}");
            }
            let mut runtime = config.clone();
            fill_runtime_defaults(&map, &mut runtime);
            let _ = allow_default_none(&Value::Object(map.clone()));
        }
    }
}

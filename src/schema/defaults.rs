//! The defaults StackStorm applies to values: at validation time (properties whose default is
//! null accept null, `modify_schema_allow_default_none`; missing or null values get their
//! default, `assign_default_values`), and to a pack config when an action runs (the config
//! loader's, `fill_runtime_defaults`).

use serde_json::{json, Map, Value};

use super::validator::truthy;
use super::walk::{array_items_schema, object_properties_schema};

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

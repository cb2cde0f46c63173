//! Walking a pack config with the property schema of each value, as StackStorm's config
//! loader finds it (`st2common/st2common/util/config_loader.py`), and the walk that finds
//! its secrets (`$ref`s followed). Every place that shows or masks a config goes through here.

use serde_json::{json, Map, Value};

use super::validator::{cached_regex, resolve_pointer, truthy, PathItem};

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
/// Every place that shows a config masks through this one function. \[fix\] StackStorm's
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
        match resolve_pointer(root, fragment) {
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
            .map(|(pattern, schema)| (cached_regex(pattern), schema))
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

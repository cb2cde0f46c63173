//! Secret fields of an action's result, as its `output_schema` marks them
//! (`st2common/util/output_schema.py: mask_secret_output`, `_get_masked_value`): the value
//! under the runner's `output_key` (`result` for Python actions, `body` for HTTP ones,
//! `output` for workflows) is walked with the schema, and every value whose schema says
//! `secret: true` becomes `********`. A schema without `type` is upstream's legacy form (a
//! map of property schemas) and is read as `{"type": "object", "properties": <it>,
//! "additionalProperties": true}`; a schema that is still not a valid output schema masks
//! nothing, as upstream.
//!
//! **[fix]** Upstream masks these fields only in what its API returns and keeps them in its
//! database; st2-rs masks them before the result is recorded, so neither the record nor any
//! display holds them.

use regex::Regex;
use serde_json::{json, Value};

use crate::redact::MASK;

/// Mask the secret fields of `result[output_key]` per `output_schema`.
pub(crate) fn mask(output_schema: &Value, output_key: &str, result: &mut Value) {
    let Some(value) = result.get_mut(output_key) else {
        return;
    };
    if !output_schema.is_object() || output_schema.as_object().is_some_and(|m| m.is_empty()) {
        return;
    }
    let schema = if is_valid(output_schema) {
        output_schema.clone()
    } else {
        let normalized =
            json!({"type": "object", "properties": output_schema, "additionalProperties": true});
        if !is_valid(&normalized) {
            return;
        }
        normalized
    };
    masked(&schema, value);
}

fn is_valid(schema: &Value) -> bool {
    schema.get("type").is_some() && super::check_output_schema(schema).is_ok()
}

fn masked(spec: &Value, value: &mut Value) {
    let Some(spec) = spec.as_object() else {
        return;
    };
    if spec.get("secret").is_some_and(super::validator::truthy) {
        *value = Value::String(MASK.into());
        return;
    }
    match spec.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(map) = value.as_object_mut() else {
                return;
            };
            let properties = spec.get("properties").and_then(Value::as_object);
            let mut unhandled: Vec<String> = Vec::new();
            for (key, item) in map.iter_mut() {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => masked(property, item),
                    None => unhandled.push(key.clone()),
                }
            }
            if let Some(patterns) = spec.get("patternProperties").and_then(Value::as_object) {
                for (pattern, property) in patterns {
                    if unhandled.is_empty() {
                        break;
                    }
                    let Ok(regex) = Regex::new(pattern) else {
                        continue;
                    };
                    unhandled.retain(|key| {
                        if !regex.is_match(key) {
                            return true;
                        }
                        if let Some(item) = map.get_mut(key) {
                            masked(property, item);
                        }
                        false
                    });
                }
            }
            if let Some(additional) = spec.get("additionalProperties").filter(|a| a.is_object()) {
                for key in unhandled {
                    if let Some(item) = map.get_mut(&key) {
                        masked(additional, item);
                    }
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array_mut() else {
                return;
            };
            let handled = match spec.get("items") {
                Some(Value::Array(per_item)) => {
                    for (item, item_spec) in items.iter_mut().zip(per_item) {
                        masked(item_spec, item);
                    }
                    per_item.len()
                }
                item_spec => {
                    let item_spec = item_spec.cloned().unwrap_or(json!({}));
                    for item in items.iter_mut() {
                        masked(&item_spec, item);
                    }
                    items.len()
                }
            };
            if let Some(additional) = spec.get("additionalItems").filter(|a| a.is_object()) {
                for item in items.iter_mut().skip(handled) {
                    masked(additional, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's `test_output_schema.py` `test_mask_secret_output` fixtures, shortened.
    #[test]
    fn secret_fields_are_masked_where_the_schema_says() {
        let schema = json!({
            "type": "object",
            "properties": {
                "output_1": {"type": "string"},
                "output_2": {"type": "string", "secret": true},
                "nested": {"type": "object", "properties": {"deep": {"type": "string", "secret": true}},
                           "patternProperties": {"^tok": {"type": "string", "secret": true}},
                           "additionalProperties": {"type": "integer", "secret": true}},
                "list": {"type": "array", "items": {"type": "object", "properties": {"pw": {"type": "string", "secret": true}}}},
                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "string", "secret": true}],
                          "additionalItems": {"type": "string", "secret": true}},
            },
            "additionalProperties": false,
        });
        let mut result = json!({"result": {
            "output_1": "shown", "output_2": "hidden",
            "nested": {"deep": "hidden", "token": "hidden", "n": 3, "other": "x"},
            "list": [{"pw": "hidden", "user": "shown"}, "not a map"],
            "tuple": ["shown", "hidden", "hidden too"],
            "extra": "shown",
        }, "stdout": "output_2"});
        mask(&schema, "result", &mut result);
        assert_eq!(
            result,
            json!({"result": {
                "output_1": "shown", "output_2": MASK,
                "nested": {"deep": MASK, "token": MASK, "n": MASK, "other": MASK},
                "list": [{"pw": MASK, "user": "shown"}, "not a map"],
                "tuple": ["shown", MASK, MASK],
                "extra": "shown",
            }, "stdout": "output_2"})
        );
    }

    #[test]
    fn a_legacy_schema_masks_as_an_object_of_its_properties() {
        let schema =
            json!({"token": {"type": "string", "secret": true}, "name": {"type": "string"}});
        let mut result = json!({"output": {"token": "t0ps3cret", "name": "n"}});
        mask(&schema, "output", &mut result);
        assert_eq!(result, json!({"output": {"token": MASK, "name": "n"}}));
    }

    #[test]
    fn nothing_is_masked_without_the_output_key_or_with_an_invalid_schema() {
        let schema =
            json!({"type": "object", "properties": {"a": {"secret": true, "type": "string"}}});
        let mut result = json!({"stdout": "a"});
        mask(&schema, "result", &mut result);
        assert_eq!(result, json!({"stdout": "a"}));
        let invalid = json!({"type": "bogus", "properties": {"a": {"secret": true}}});
        let mut result = json!({"result": {"a": "x"}});
        mask(&invalid, "result", &mut result);
        assert_eq!(result, json!({"result": {"a": "x"}}));
    }
}

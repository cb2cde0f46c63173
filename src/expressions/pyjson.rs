//! Python's `json.dumps` (the standard library encoder, `ensure_ascii=True`), which
//! StackStorm's `to_json_string`, `to_complex` and `json_escape` filters print with; and the
//! conversion of template values to JSON.

use minijinja::value::{Value as JinjaValue, ValueKind};
use serde_json::{Map, Value};

use crate::schema::repr::float_repr;

/// How `json.dumps` was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumps {
    /// `indent`: `None` for one line, else the text of one level (`4` is four spaces).
    pub indent: Option<String>,
    /// `sort_keys`.
    pub sort_keys: bool,
    /// `separators[0]`, between items.
    pub item_separator: String,
    /// `separators[1]`, between a key and its value.
    pub key_separator: String,
}

impl Default for Dumps {
    /// `json.dumps(value)`: `", "` and `": "`.
    fn default() -> Dumps {
        Dumps {
            indent: None,
            sort_keys: false,
            item_separator: ", ".into(),
            key_separator: ": ".into(),
        }
    }
}

/// `json.dumps(value, ...)`.
pub fn dumps(value: &Value, options: &Dumps) -> String {
    let mut out = String::new();
    write(value, options, 0, &mut out);
    out
}

fn write(value: &Value, options: &Dumps, level: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            out.push_str(&float_repr(float));
        }
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_str(text, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                separate(index, options, level + 1, out);
                write(item, options, level + 1, out);
            }
            close(options, level, out);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if options.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (index, (key, item)) in entries.into_iter().enumerate() {
                separate(index, options, level + 1, out);
                write_str(key, out);
                out.push_str(&options.key_separator);
                write(item, options, level + 1, out);
            }
            close(options, level, out);
            out.push('}');
        }
    }
}

fn separate(index: usize, options: &Dumps, level: usize, out: &mut String) {
    if index > 0 {
        out.push_str(&options.item_separator);
    }
    if let Some(indent) = &options.indent {
        out.push('\n');
        out.push_str(&indent.repeat(level));
    }
}

fn close(options: &Dumps, level: usize, out: &mut String) {
    if let Some(indent) = &options.indent {
        out.push('\n');
        out.push_str(&indent.repeat(level));
    }
}

/// A JSON string with `ensure_ascii`: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and
/// `\uXXXX` for every other character outside printable ASCII (surrogate pairs above the
/// BMP), as Python escapes them.
pub fn write_str(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// A template value as JSON: containers walked, a datastore lookup as its text, undefined
/// as null.
pub fn to_json(value: &JinjaValue) -> Value {
    if !matches!(value.kind(), ValueKind::String | ValueKind::Undefined) {
        if let Some(text) = super::pystr::opaque_text(value) {
            return Value::String(text);
        }
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(value.is_true()),
        ValueKind::Number if value.is_integer() => i64::try_from(value.clone())
            .map(Value::from)
            .or_else(|_| u64::try_from(value.clone()).map(Value::from))
            .unwrap_or_else(|_| float(value)),
        ValueKind::Number => float(value),
        ValueKind::String => Value::String(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Map => {
            let mut map = Map::new();
            if let Ok(keys) = value.try_iter() {
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    let key = match key.as_str() {
                        Some(text) => text.to_string(),
                        None => super::pystr::py_str(&key),
                    };
                    map.insert(key, to_json(&item));
                }
            }
            Value::Object(map)
        }
        ValueKind::Seq | ValueKind::Iterable => match value.try_iter() {
            Ok(items) => Value::Array(items.map(|item| to_json(&item)).collect()),
            Err(_) => Value::String(value.to_string()),
        },
        _ => Value::String(super::pystr::py_str(value)),
    }
}

fn float(value: &JinjaValue) -> Value {
    let float = f64::try_from(value.clone()).unwrap_or(f64::NAN);
    serde_json::Number::from_f64(float)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Python's `json.loads` reads every number to the nearest double; serde_json does only
    /// with `float_roundtrip` (without it, `2.5e-30` came out one unit off, and printed as
    /// `2.5000000000000002e-30`: found by the casting differential test).
    #[test]
    fn numbers_read_as_python_reads_them() {
        for text in ["2.5e-30", "0.1", "1e308", "5e-324", "123456789.123456789"] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value.as_f64(), Some(text.parse::<f64>().unwrap()), "{text}");
        }
        let value: serde_json::Value = serde_json::from_str("2.5e-30").unwrap();
        assert_eq!(dumps(&value, &Dumps::default()), "2.5e-30");
    }

    #[test]
    fn dumps_as_python() {
        let value = json!({"b": [1, 2.0, "é\u{1F600}"], "a": {"x": null, "y": true}, "c": []});
        assert_eq!(
            dumps(&value, &Dumps::default()),
            r#"{"b": [1, 2.0, "\u00e9\ud83d\ude00"], "a": {"x": null, "y": true}, "c": []}"#
        );
        let pretty = Dumps {
            indent: Some("  ".into()),
            sort_keys: true,
            item_separator: ",".into(),
            key_separator: ": ".into(),
        };
        assert_eq!(
            dumps(&value, &pretty),
            "{\n  \"a\": {\n    \"x\": null,\n    \"y\": true\n  },\n  \"b\": [\n    1,\n    2.0,\n    \"\\u00e9\\ud83d\\ude00\"\n  ],\n  \"c\": []\n}"
        );
        assert_eq!(
            dumps(&json!("a\"\\\n\u{7f}"), &Dumps::default()),
            r#""a\"\\\n\u007f""#
        );
    }
}

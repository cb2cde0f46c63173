//! Python's `str()` and `repr()` of template values: what Jinja2 prints for `{{ value }}`
//! (`True`, `None`, `['a', 1]`, `{'k': 'v'}`), so that a rendered parameter reads exactly as
//! StackStorm renders it.

use minijinja::value::{Value, ValueKind};

use crate::schema::repr::{float_repr, py_str_repr};

/// `str(value)`: strings as they are, everything else as [`py_repr`]; undefined is empty
/// (Jinja2's `Undefined.__str__`).
pub fn py_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Undefined => String::new(),
        _ => match opaque_text(value) {
            Some(text) => text,
            None => py_repr(value),
        },
    }
}

/// `repr(value)`.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

/// The text of an object that renders itself (a datastore lookup), which is not a container
/// to walk: an object with no items whose own rendering is not an empty container's.
pub(crate) fn opaque_text(value: &Value) -> Option<String> {
    value.as_object()?;
    if value.kind() != ValueKind::Plain && value.len().is_some_and(|len| len > 0) {
        return None;
    }
    let text = value.to_string();
    (value.kind() == ValueKind::Plain || !matches!(text.as_str(), "{}" | "[]")).then_some(text)
}

fn write_repr(value: &Value, out: &mut String) {
    if !matches!(value.kind(), ValueKind::String | ValueKind::Undefined) {
        if let Some(text) = opaque_text(value) {
            out.push_str(&py_str_repr(&text));
            return;
        }
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_text(value)),
        ValueKind::String => out.push_str(&py_str_repr(value.as_str().unwrap_or_default())),
        ValueKind::Bytes => {
            let text = String::from_utf8_lossy(value.as_bytes().unwrap_or_default());
            out.push('b');
            out.push_str(&py_str_repr(&text));
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (index, key) in keys.enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&key, out);
                    out.push_str(": ");
                    write_repr(&value.get_item(&key).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (index, item) in items.enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&item, out);
                }
            }
            out.push(']');
        }
        _ => out.push_str(&py_str_repr(&value.to_string())),
    }
}

/// A number as Python prints it: integers as digits, floats as `repr(float)`.
pub fn number_text(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    let float = f64::try_from(value.clone()).unwrap_or(f64::NAN);
    float_repr(float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_python_does() {
        let value = Value::from_serialize(serde_json::json!({
            "b": [true, null, 1.5, "x'y", 1.0], "a": {"n": 1, "s": "t"}
        }));
        assert_eq!(
            py_str(&value),
            r#"{'b': [True, None, 1.5, "x'y", 1.0], 'a': {'n': 1, 's': 't'}}"#
        );
        assert_eq!(py_str(&Value::from("plain")), "plain");
        assert_eq!(py_str(&Value::from(true)), "True");
        assert_eq!(py_str(&Value::from(())), "None");
        assert_eq!(py_str(&Value::from(1e16)), "1e+16");
        assert_eq!(py_str(&Value::from(-3)), "-3");
        assert_eq!(py_str(&Value::UNDEFINED), "");
        assert_eq!(
            py_repr(&Value::from("a\u{85}\u{2028}\u{a0}é\u{feff}\u{f0000}'")),
            r#""a\x85\u2028\xa0é\ufeff\U000f0000'""#
        );
    }
}

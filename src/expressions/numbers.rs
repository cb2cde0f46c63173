//! Jinja2's `int` and `float` filters (`jinja2/filters.py: do_int`, `do_float`), which
//! minijinja's own differ from (values checked with Jinja2 3.1.6, StackStorm 3.9.0's pin): Jinja2 never fails on a value it cannot convert, it answers
//! the default (`0`, `0.0`), and `"42.23" | int` is 42. Pack metadata relies on it:
//! `{{ st2kv.system.backup.timeout | int | default(600, true) }}` (the `backups` pack) is 600
//! when the key is missing, because the missing key converts to 0.
//!
//! A datastore lookup (`st2kv.system.x`) converts as its text, as StackStorm's
//! `KeyValueLookup.__int__`/`__float__` do (`float(str(self))`).

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::Error;

use super::defined;

/// The text a value converts from, when it is a string or a datastore lookup (a map-like
/// object with no length, which renders as the key's value).
fn text_of(value: &Value) -> Option<String> {
    match value.kind() {
        ValueKind::String => value.as_str().map(str::to_string),
        ValueKind::Map if value.as_object().is_some() && value.len().is_none() => {
            Some(value.to_string())
        }
        _ => None,
    }
}

/// Python's `int(text, base)`: surrounding whitespace, a sign, digits with single
/// underscores between them (and for base 0, a `0x`/`0o`/`0b` prefix).
fn python_int(text: &str, base: u32) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = digits.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &digits[2..]),
        (0 | 8, Some("0o")) => (8, &digits[2..]),
        (0 | 2, Some("0b")) => (2, &digits[2..]),
        (0, _) => (10, digits),
        (base, _) => (base, digits),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    let magnitude = i64::from_str_radix(&cleaned, base).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Python's `float(text)` (Rust's parser takes the same forms: `1e3`, `.5`, `inf`, `nan`).
fn python_float(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok()
}

/// `value | int(default=0, base=10)`.
pub(crate) fn int(
    value: Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    defined(&value)?;
    let default = match default {
        Some(default) => default,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(base) => base,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kwargs.assert_all_used()?;
    // Jinja2 3.1 answers the default for NaN and the infinities too (it catches
    // `OverflowError`).
    let truncated = |number: f64| -> Result<Value, Error> {
        if !number.is_finite() {
            return Ok(default.clone());
        }
        Ok(Value::from(number.trunc() as i64))
    };
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(i64::from(value.is_true()))),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(whole) if value.is_integer() => Ok(Value::from(whole)),
            _ => truncated(f64::try_from(value).unwrap_or(f64::NAN)),
        },
        _ => match text_of(&value) {
            Some(text) => match python_int(&text, base) {
                Some(whole) => Ok(Value::from(whole)),
                None => match python_float(&text) {
                    Some(number) => truncated(number),
                    None => Ok(default),
                },
            },
            None => Ok(default),
        },
    }
}

/// `value | float(default=0.0)`.
pub(crate) fn float(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    defined(&value)?;
    let default = match default {
        Some(default) => default,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0.0)),
    };
    kwargs.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value).map_or(default, Value::from),
        _ => match text_of(&value).as_deref().and_then(python_float) {
            Some(number) => Value::from(number),
            None => default,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use serde_json::json;

    #[test]
    fn int_converts_as_jinja2_does() {
        let cases = [
            ("{{ '42' | int }}", "42"),
            ("{{ ' -7 ' | int }}", "-7"),
            ("{{ '1_000' | int }}", "1000"),
            ("{{ '42.73' | int }}", "42"),
            ("{{ '1e3' | int }}", "1000"),
            ("{{ 'abc' | int }}", "0"),
            ("{{ '' | int }}", "0"),
            ("{{ 'abc' | int(5) }}", "5"),
            ("{{ 'ff' | int(base=16) }}", "255"),
            ("{{ '0x1A' | int(0, 0) }}", "26"),
            ("{{ 4.7 | int }}", "4"),
            ("{{ -4.7 | int }}", "-4"),
            ("{{ True | int }}", "1"),
            ("{{ None | int }}", "0"),
            ("{{ [1] | int }}", "0"),
            ("{{ {'a': 1} | int }}", "0"),
            ("{{ 'nan' | int }}", "0"),
            ("{{ x | int | default(600, true) }}", "600"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render(template, json!({"x": ""})).as_deref(),
                Ok(expected),
                "{template}"
            );
        }
        assert_eq!(render("{{ 'inf' | int }}", json!({})).as_deref(), Ok("0"));
        assert!(render("{{ missing | int }}", json!({})).is_err());
    }

    #[test]
    fn float_converts_as_jinja2_does() {
        let cases = [
            ("{{ '4.5' | float }}", "4.5"),
            ("{{ ' 3 ' | float }}", "3.0"),
            ("{{ 'abc' | float }}", "0.0"),
            ("{{ 'abc' | float(1.5) }}", "1.5"),
            ("{{ 'abc' | float(default=2.5) }}", "2.5"),
            ("{{ 2 | float }}", "2.0"),
            ("{{ False | float }}", "0.0"),
            ("{{ None | float }}", "0.0"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render(template, json!({})).as_deref(),
                Ok(expected),
                "{template}"
            );
        }
    }
}

//! Casting parameter values to their declared type as StackStorm does it
//! (`st2common/st2common/util/casts.py`), and the Python pieces it rests on: `int()`,
//! `float()` and `ast.literal_eval` of text.
//!
//! Rendering a template always gives text; [`cast`] turns it back into the parameter's type:
//! `"3"` is 3 for an integer, `"True"` is true for a boolean, `"[1, 'a']"` (Python's
//! `str()` of a list) and `'["a"]'` (JSON) are arrays. The `use_none` filter's magic value
//! becomes `null`.
//!
//! `ast.literal_eval`, a parser of Python literals, is in `casts/literal.rs`.

use serde_json::{Number, Value};

use crate::expressions::data::NONE_MAGIC_VALUE;

mod literal;

pub(crate) use literal::literal_eval;

/// Cast `value` to the type `kind` as `casts.get_cast(kind)(value)` does; unknown types and
/// `null` pass unchanged. The error is the reason (Python's words where they help).
pub(crate) fn cast(value: Value, kind: &str) -> Result<Value, String> {
    if value.is_null() {
        return Ok(value);
    }
    match kind {
        "array" | "object" => cast_object(value),
        "boolean" => cast_boolean(value),
        "integer" => cast_integer(value),
        "number" => cast_number(value),
        "string" => cast_string(value),
        _ => Ok(value),
    }
}

fn cast_none(value: Value) -> Value {
    match value {
        Value::String(text) if text == NONE_MAGIC_VALUE => Value::Null,
        other => other,
    }
}

/// JSON first, else a Python literal; anything but text is kept.
fn cast_object(value: Value) -> Result<Value, String> {
    match cast_none(value) {
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(parsed) => Ok(parsed),
            Err(_) => literal_eval(&text),
        },
        other => Ok(other),
    }
}

/// `ast.literal_eval(text.capitalize())`: `true`, `TRUE` and `True` are true.
fn cast_boolean(value: Value) -> Result<Value, String> {
    match cast_none(value) {
        Value::String(text) => literal_eval(&capitalize(&text)),
        other => Ok(other),
    }
}

/// `int(value)`.
fn cast_integer(value: Value) -> Result<Value, String> {
    match cast_none(value) {
        Value::String(text) => python_int(&text).map(Value::from).ok_or_else(|| {
            format!(
                "invalid literal for int() with base 10: {}",
                crate::schema::repr::py_str_repr(&text)
            )
        }),
        Value::Bool(b) => Ok(Value::from(i64::from(b))),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.is_finite() && float.abs() < 9.2e18 {
                Ok(Value::from(float.trunc() as i64))
            } else {
                Err(format!("cannot convert float {float} to integer"))
            }
        }
        number @ Value::Number(_) => Ok(number),
        other => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            python_type(&other)
        )),
    }
}

/// `float(value)`.
fn cast_number(value: Value) -> Result<Value, String> {
    let float = match cast_none(value) {
        Value::String(text) => python_float(&text).ok_or_else(|| {
            format!(
                "could not convert string to float: {}",
                crate::schema::repr::py_str_repr(&text)
            )
        })?,
        Value::Bool(b) => f64::from(u8::from(b)),
        Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
        other => {
            return Err(format!(
                "float() argument must be a string or a real number, not '{}'",
                python_type(&other)
            ))
        }
    };
    Number::from_f64(float).map(Value::Number).ok_or_else(|| {
        format!(
            "{} is not a finite number",
            crate::schema::repr::float_repr(float)
        )
    })
}

/// Text stays text (the magic value becomes `null`); anything else is refused.
fn cast_string(value: Value) -> Result<Value, String> {
    match value {
        Value::String(_) => Ok(cast_none(value)),
        other => Err(format!(
            "Value \"{}\" must either be a string or None. Got \"{}\".",
            python_str(&other),
            python_type(&other)
        )),
    }
}

fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => crate::schema::repr::py_repr(other),
    }
}

/// Python's name for the type of a JSON value.
pub(crate) fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `str.capitalize()`: the first character upper case, the rest lower case.
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Python's whitespace for `str.strip()`.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Digits with single underscores between them (`1_000`), as Python's number literals and
/// `int()`/`float()` take them; the digits without the underscores.
fn digits_with_underscores(text: &str) -> Option<String> {
    if text.is_empty() || text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return None;
    }
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    digits.chars().all(|c| c.is_ascii_digit()).then_some(digits)
}

/// `int(text)` (base 10), when it fits in 64 bits.
pub(crate) fn python_int(text: &str) -> Option<i64> {
    let trimmed = text.trim_matches(is_python_space);
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let digits = digits_with_underscores(body)?;
    let magnitude: i128 = digits.parse().ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `float(text)`: also `inf`, `infinity` and `nan` in any case.
pub(crate) fn python_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(is_python_space);
    let (sign, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole = if whole.is_empty() {
        String::new()
    } else {
        digits_with_underscores(whole)?
    };
    let fraction = match fraction {
        None => None,
        Some("") => Some(String::new()),
        Some(fraction) => Some(digits_with_underscores(fraction)?),
    };
    if whole.is_empty() && fraction.as_deref().is_none_or(str::is_empty) {
        return None;
    }
    let mut normal = whole;
    if let Some(fraction) = fraction {
        normal.push('.');
        normal.push_str(&fraction);
    }
    if let Some(exponent) = exponent {
        let (exp_sign, exp_digits) = match exponent.strip_prefix(['-', '+']) {
            Some(rest) => (&exponent[..1], rest),
            None => ("", exponent),
        };
        normal.push('e');
        normal.push_str(exp_sign);
        normal.push_str(&digits_with_underscores(exp_digits)?);
    }
    normal.parse::<f64>().ok().map(|value| sign * value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn casts_as_stackstorm_casts() {
        assert_eq!(
            cast(json!("True,True,True,1"), "array").unwrap(),
            json!([true, true, true, 1])
        );
        assert_eq!(cast(json!("[1, \"x\"]"), "array").unwrap(), json!([1, "x"]));
        assert_eq!(cast(json!({"a": 1}), "array").unwrap(), json!({"a": 1}));
        assert_eq!(cast(json!("true"), "boolean").unwrap(), json!(true));
        assert_eq!(cast(json!("FALSE"), "boolean").unwrap(), json!(false));
        assert_eq!(cast(json!("1"), "boolean").unwrap(), json!(1));
        assert!(cast(json!("yes"), "boolean").is_err());
        assert_eq!(cast(json!(" 42 "), "integer").unwrap(), json!(42));
        assert_eq!(cast(json!(2.9), "integer").unwrap(), json!(2));
        assert_eq!(cast(json!(true), "integer").unwrap(), json!(1));
        assert!(cast(json!("4.0"), "integer").is_err());
        assert_eq!(cast(json!("1.0"), "number").unwrap(), json!(1.0));
        assert_eq!(cast(json!(5), "number").unwrap(), json!(5.0));
        assert_eq!(cast(json!("1_000.5"), "number").unwrap(), json!(1000.5));
        assert_eq!(
            cast(json!(NONE_MAGIC_VALUE), "string").unwrap(),
            Value::Null
        );
        assert_eq!(
            cast(json!(NONE_MAGIC_VALUE), "object").unwrap(),
            Value::Null
        );
        assert_eq!(
            cast(json!(5), "string").unwrap_err(),
            "Value \"5\" must either be a string or None. Got \"int\"."
        );
        assert_eq!(cast(Value::Null, "integer").unwrap(), Value::Null);
        assert_eq!(cast(json!("x"), "weird").unwrap(), json!("x"));
    }

    #[test]
    fn python_int_and_float() {
        assert_eq!(python_int(" +1_0\n"), Some(10));
        assert_eq!(python_int("1__0"), None);
        assert_eq!(python_int("0x10"), None);
        assert_eq!(python_int("007"), Some(7));
        assert_eq!(python_float("1e3"), Some(1000.0));
        assert_eq!(python_float(".5"), Some(0.5));
        assert_eq!(python_float("5."), Some(5.0));
        assert_eq!(python_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(python_float("."), None);
        assert_eq!(python_float("1e"), None);
        assert_eq!(python_float("1_000.000_1"), Some(1000.0001));
    }
}

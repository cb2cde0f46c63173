//! Python's `repr()` of JSON values, so that validation messages read exactly as StackStorm's
//! (`'thirty' is not of type 'integer'`, `True`, `None`, `{'a': 1}`).

use serde_json::{Number, Value};

/// `repr()` of a value as Python would print the same data loaded from YAML or JSON.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => out.push_str(&number_repr(number)),
        Value::String(text) => write_str(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_str(key, out);
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// `repr(text)`: single quotes unless the text has a `'` and no `"`; backslash escapes for
/// quotes, backslashes, `\n`, `\r`, `\t` and every character Python does not print
/// (`str.isprintable()`: controls, separators other than the space, format characters,
/// private use), as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
pub fn py_str_repr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_str(text, &mut out);
    out
}

fn write_str(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let code = c as u32;
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable()` for one character, without the unassigned code points
/// (which need Unicode's tables): not a control (Cc), format (Cf), private use (Co), line or
/// paragraph separator (Zl, Zp), or space separator other than the space (Zs).
fn printable(c: char) -> bool {
    let code = c as u32;
    let control = code < 0x20 || (0x7f..0xa0).contains(&code);
    let space_separator = matches!(
        code,
        0xa0 | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000
    );
    let separator = matches!(code, 0x2028 | 0x2029);
    let format = matches!(
        code,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private_use = matches!(code, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd);
    !(control || space_separator || separator || format || private_use)
}

/// Python's number repr: integers as digits, floats with the shortest round-trip digits,
/// in exponent form outside `1e-4 <= |x| < 1e16` (`1e+20`, `1.5e-05`), `inf`, `nan`.
pub fn number_repr(number: &Number) -> String {
    if let Some(int) = number.as_i64() {
        return int.to_string();
    }
    if let Some(int) = number.as_u64() {
        return int.to_string();
    }
    float_repr(number.as_f64().unwrap_or(f64::NAN))
}

/// `repr(float)`: `1.0`, `1e+16`, `inf`, `nan`.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reprs_match_python() {
        let cases = [
            (json!("thirty"), "'thirty'"),
            (json!("it's"), "\"it's\""),
            (json!("a'b\"c"), "'a\\'b\"c'"),
            (json!("tab\there\n"), "'tab\\there\\n'"),
            (json!("\\w"), "'\\\\w'"),
            (json!("é"), "'é'"),
            (json!("nbsp\u{a0}next\u{2028}"), "'nbsp\\xa0next\\u2028'"),
            (json!(true), "True"),
            (json!(null), "None"),
            (json!(1000), "1000"),
            (json!(-3), "-3"),
            (json!(1.5), "1.5"),
            (json!(1.0), "1.0"),
            (json!(1e20), "1e+20"),
            (json!(1.5e-5), "1.5e-05"),
            (json!(0.0001), "0.0001"),
            (json!(123456789012345.0), "123456789012345.0"),
            (json!(1e16), "1e+16"),
            (json!([1, "x", null]), "[1, 'x', None]"),
            (json!({"a": 1, "b": [true]}), "{'a': 1, 'b': [True]}"),
        ];
        for (value, expected) in cases {
            assert_eq!(py_repr(&value), expected, "{value}");
        }
    }
}

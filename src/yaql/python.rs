//! The Python semantics yaql inherits, over JSON values: truthiness, `==` (across `bool`,
//! `int` and `float`), yaql's ordering (numbers, strings, `null` below everything),
//! arithmetic with Python's `int`/`float` rules, and the texts of values (`str()` as yaql's
//! `str` function prints them and as orquesta substitutes them into a string).

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::Error;
use crate::schema::repr::{float_repr, py_repr};

/// A number as Python holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    /// The number in `value`, `bool` excluded (yaql's `int`/`number` types exclude it).
    pub(crate) fn of(value: &Value) -> Option<Num> {
        let Value::Number(number) = value else {
            return None;
        };
        Some(match number.as_i64() {
            Some(int) => Num::Int(int),
            None => Num::Float(number.as_f64()?),
        })
    }

    fn float(self) -> f64 {
        match self {
            Num::Int(int) => int as f64,
            Num::Float(float) => float,
        }
    }
}

/// A float as a value; infinities and NaN have no JSON form, so they are an error.
pub(crate) fn float_value(float: f64) -> Result<Value, Error> {
    Number::from_f64(float)
        .map(Value::Number)
        .ok_or_else(|| Error::new("OverflowError", format!("{} is not a finite number", float)))
}

/// A number for Python's numeric equality: `bool` counts as `int`.
fn numeric(value: &Value) -> Option<Num> {
    match value {
        Value::Bool(flag) => Some(Num::Int(i64::from(*flag))),
        _ => Num::of(value),
    }
}

/// Python's `bool(value)`.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(_) => numeric(value).is_some_and(|n| n.float() != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Python's `==`: `1 == 1.0 == True`, deep over lists and maps.
pub(crate) fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| equal(x, y)))
        }
        _ => match (numeric(left), numeric(right)) {
            (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
            (Some(a), Some(b)) => a.float() == b.float(),
            _ => false,
        },
    }
}

/// yaql's ordering for `<`, `>`, `<=`, `>=`: numbers with numbers, strings with strings (code
/// points), `null` below everything; `None` for anything else (no operator matches).
pub(crate) fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => match (Num::of(left)?, Num::of(right)?) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.float().partial_cmp(&b.float()),
        },
    }
}

/// Python's `int + int` etc. on 64 bits: overflow is an error (**[fix]**: Python's integers
/// are unbounded).
pub(crate) fn arithmetic(op: &str, left: Num, right: Num) -> Result<Value, Error> {
    let overflow = || Error::new("OverflowError", format!("integer overflow in '{op}'"));
    match (left, right) {
        (Num::Int(a), Num::Int(b)) => {
            let result = match op {
                "+" => a.checked_add(b),
                "-" => a.checked_sub(b),
                "*" => a.checked_mul(b),
                "/" => {
                    if b == 0 {
                        return Err(zero("integer division or modulo by zero"));
                    }
                    // Floor division, as Python's `//` (yaql divides integers that way).
                    a.checked_div(b).map(|q| {
                        if (a % b != 0) && ((a < 0) != (b < 0)) {
                            q - 1
                        } else {
                            q
                        }
                    })
                }
                _ => {
                    if b == 0 {
                        return Err(zero("integer modulo by zero"));
                    }
                    a.checked_rem(b).map(|r| {
                        if r != 0 && ((r < 0) != (b < 0)) {
                            r + b
                        } else {
                            r
                        }
                    })
                }
            };
            result.map(Value::from).ok_or_else(overflow)
        }
        (a, b) => {
            let (a, b) = (a.float(), b.float());
            let result = match op {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                "/" => {
                    if b == 0.0 {
                        return Err(zero("float division by zero"));
                    }
                    a / b
                }
                _ => {
                    if b == 0.0 {
                        return Err(zero("float modulo"));
                    }
                    let r = a % b;
                    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                        r + b
                    } else {
                        r
                    }
                }
            };
            float_value(result)
        }
    }
}

fn zero(message: &str) -> Error {
    Error::new("ZeroDivisionError", message.to_string())
}

/// yaql's `str(value)`: `null`, `true`, `false` in yaql's words, numbers as Python prints
/// them, strings as they are; lists and maps as Python's `str()` (**[fix]**: yaql prints its
/// internal tuples, `(1, 'a')`).
pub(crate) fn yaql_str(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        _ => py_str(value),
    }
}

/// Python's `str(value)`: what orquesta substitutes for an expression inside a longer string
/// (`True`, `None`, `2.5`, `[1, 'a']`).
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(_) => match Num::of(value) {
            Some(Num::Float(float)) => float_repr(float),
            _ => value.to_string(),
        },
        _ => py_repr(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truthiness_is_pythons() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for true_ in [
            json!(true),
            json!(-1),
            json!(0.5),
            json!(" "),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&true_), "{true_}");
        }
    }

    #[test]
    fn equality_across_numbers() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!(true), &json!(1)));
        assert!(equal(&json!([1, {"a": false}]), &json!([1.0, {"a": 0}])));
        assert!(!equal(&json!("1"), &json!(1)));
        assert!(!equal(&json!(null), &json!(false)));
        assert!(!equal(&json!({"a": 1}), &json!({"b": 1})));
    }

    #[test]
    fn ordering() {
        assert_eq!(compare(&json!(null), &json!(1)), Some(Ordering::Less));
        assert_eq!(compare(&json!("b"), &json!(null)), Some(Ordering::Greater));
        assert_eq!(compare(&json!(1), &json!(1.5)), Some(Ordering::Less));
        assert_eq!(compare(&json!("a"), &json!("B")), Some(Ordering::Greater));
        assert_eq!(compare(&json!(1), &json!("a")), None);
        assert_eq!(compare(&json!(true), &json!(false)), None);
    }

    #[test]
    fn arithmetic_as_python() {
        let int = |op, a, b| arithmetic(op, Num::Int(a), Num::Int(b)).unwrap();
        assert_eq!(int("/", 7, 2), json!(3));
        assert_eq!(int("/", -7, 2), json!(-4));
        assert_eq!(int("mod", -7, 2), json!(1));
        assert_eq!(int("mod", 7, -3), json!(-2));
        assert_eq!(
            arithmetic("mod", Num::Float(-7.5), Num::Int(2)).unwrap(),
            json!(0.5)
        );
        assert_eq!(
            arithmetic("/", Num::Int(7), Num::Float(2.0)).unwrap(),
            json!(3.5)
        );
        assert_eq!(
            arithmetic("/", Num::Int(1), Num::Int(0)).unwrap_err().kind,
            "ZeroDivisionError"
        );
        assert_eq!(
            arithmetic("*", Num::Int(i64::MAX), Num::Int(2))
                .unwrap_err()
                .kind,
            "OverflowError"
        );
    }

    #[test]
    fn texts() {
        assert_eq!(yaql_str(&json!(null)), "null");
        assert_eq!(yaql_str(&json!(true)), "true");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(1e16)), "1e+16");
        assert_eq!(py_str(&json!([1, "a", null])), "[1, 'a', None]");
        assert_eq!(py_str(&json!({"a": 1})), "{'a': 1}");
        assert_eq!(py_str(&json!("x")), "x");
    }
}

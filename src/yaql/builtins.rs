//! The functions and methods of the subset (`../shared/spec/workflows.md` §3.3, and
//! orquesta's `ctx`, `zip` and `json` of §3.2), each in the form yaql 3.2.0 has it: a
//! function (`len(x)`), a method (`x.len()`) or both. A name yaql knows in the other form
//! only is "no matching function/method", a name it does not know at all is "unknown".

use serde_json::{Map, Value};

use super::eval::{key_text, no_function, unknown_function, Evaluator};
use super::parser::Arg;
use super::python::{compare, equal, float_value, py_str, truthy, yaql_str, Num};
use super::Error;

/// Names callable as functions (besides the caller's).
pub(crate) const FUNCTIONS: &[&str] = &[
    "abs", "bool", "ctx", "dict", "float", "int", "json", "len", "list", "max", "min", "random",
    "range", "str", "zip",
];

/// Names callable as methods.
pub(crate) const METHODS: &[&str] = &[
    "containsKey",
    "contains",
    "count",
    "distinct",
    "first",
    "flatten",
    "get",
    "join",
    "keys",
    "last",
    "len",
    "max",
    "min",
    "select",
    "split",
    "sum",
    "toLower",
    "toUpper",
    "trim",
    "values",
    "where",
];

/// `name(args)`, a built-in function.
pub(crate) fn function(
    evaluator: &Evaluator<'_>,
    name: &str,
    args: &[Arg],
    dollar: &Value,
) -> Result<Value, Error> {
    if !FUNCTIONS.contains(&name) {
        return Err(unknown_function(name));
    }
    let (args, named) = evaluator.args(args, dollar)?;
    let mismatch = || no_function(name);
    if !named.is_empty() && !matches!(name, "dict" | "zip") {
        return Err(mismatch());
    }
    match (name, args.as_slice()) {
        ("ctx", []) => Ok(ctx(evaluator.context, None)?),
        ("ctx", [key]) => ctx(evaluator.context, Some(key)),
        ("len", [value]) => len(value).ok_or_else(mismatch),
        ("str", [value]) => Ok(Value::String(yaql_str(value))),
        ("int", [value]) => int(value).map(Value::from),
        ("float", [value]) => float(value).and_then(float_value),
        ("bool", [value]) => Ok(Value::Bool(truthy(value))),
        ("list", items) => Ok(Value::Array(items.to_vec())),
        ("dict", []) => Ok(Value::Object(named.into_iter().collect())),
        ("dict", [Value::Array(pairs)]) if named.is_empty() => {
            let mut map = Map::new();
            for pair in pairs {
                match pair {
                    Value::Array(kv) if kv.len() == 2 => {
                        map.insert(key_text(&kv[0]), kv[1].clone());
                    }
                    _ => return Err(mismatch()),
                }
            }
            Ok(Value::Object(map))
        }
        ("range", [stop]) => range(&Value::from(0), stop).ok_or_else(mismatch),
        ("range", [start, stop]) => range(start, stop).ok_or_else(mismatch),
        ("abs", [value]) => match Num::of(value) {
            Some(Num::Int(int)) => int
                .checked_abs()
                .map(Value::from)
                .ok_or_else(|| Error::new("OverflowError", "integer overflow in abs".into())),
            Some(Num::Float(float)) => float_value(float.abs()),
            None => Err(mismatch()),
        },
        ("max", [a, b]) => extreme(&[a.clone(), b.clone()], true).ok_or_else(mismatch),
        ("min", [a, b]) => extreme(&[a.clone(), b.clone()], false).ok_or_else(mismatch),
        ("random", []) => float_value(random_unit()),
        ("random", [low, high]) => match (Num::of(low), Num::of(high)) {
            (Some(Num::Int(low)), Some(Num::Int(high))) if low <= high => {
                let span = (high - low) as f64 + 1.0;
                Ok(Value::from(low + (random_unit() * span) as i64))
            }
            _ => Err(mismatch()),
        },
        ("zip", lists) => zip(lists, named).ok_or_else(mismatch),
        ("json", [value]) => match value {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|err| Error::new("JSONDecodeError", err.to_string())),
            _ => Err(Error::new(
                "TypeError",
                "Given object is not typeof string.".into(),
            )),
        },
        _ => Err(mismatch()),
    }
}

/// `receiver.name(args)`, a built-in method.
pub(crate) fn method(
    evaluator: &Evaluator<'_>,
    receiver: Value,
    name: &str,
    args: &[Arg],
    dollar: &Value,
) -> Result<Value, Error> {
    if !METHODS.contains(&name) {
        return Err(Error::new(
            "NoMethodRegisteredException",
            format!(
                "Unknown method \"{name}\" for receiver {}",
                py_str(&receiver)
            ),
        ));
    }
    let mismatch = || {
        Error::new(
            "NoMatchingMethodException",
            format!(
                "No method \"{name}\" for receiver {} matches supplied arguments",
                py_str(&receiver)
            ),
        )
    };
    // `select` and `where` evaluate their argument once per element, with `$` = the element.
    if let ("select" | "where", Value::Array(items), [Arg::Positional(expr)]) =
        (name, &receiver, args)
    {
        let mut out = Vec::new();
        for item in items {
            let value = evaluator.eval(expr, item)?;
            if name == "select" {
                out.push(value);
            } else if truthy(&value) {
                out.push(item.clone());
            }
        }
        return Ok(Value::Array(out));
    }
    let (args, named) = evaluator.args(args, dollar)?;
    if !named.is_empty() {
        return Err(mismatch());
    }
    let answer = match (name, &receiver, args.as_slice()) {
        ("len", value, []) => len(value),
        ("count", Value::Array(items), []) => Some(Value::from(items.len())),
        ("max", Value::Array(items), []) => {
            return extreme(items, true).ok_or_else(|| empty_or(mismatch(), items, "max"))
        }
        ("min", Value::Array(items), []) => {
            return extreme(items, false).ok_or_else(|| empty_or(mismatch(), items, "min"))
        }
        ("get", Value::Object(map), [key]) => {
            Some(map.get(&key_text(key)).cloned().unwrap_or(Value::Null))
        }
        ("get", Value::Object(map), [key, default]) => {
            Some(map.get(&key_text(key)).cloned().unwrap_or(default.clone()))
        }
        ("keys", Value::Object(map), []) => Some(Value::Array(
            map.keys().cloned().map(Value::String).collect(),
        )),
        ("values", Value::Object(map), []) => Some(Value::Array(map.values().cloned().collect())),
        ("containsKey", Value::Object(map), [key]) => {
            Some(Value::Bool(map.contains_key(&key_text(key))))
        }
        ("contains", Value::Array(items), [item]) => {
            Some(Value::Bool(items.iter().any(|i| equal(i, item))))
        }
        ("distinct", Value::Array(items), []) => {
            let mut seen: Vec<Value> = Vec::new();
            for item in items {
                if !seen.iter().any(|s| equal(s, item)) {
                    seen.push(item.clone());
                }
            }
            Some(Value::Array(seen))
        }
        ("flatten", Value::Array(items), []) => {
            let mut out = Vec::new();
            flatten(items, &mut out);
            Some(Value::Array(out))
        }
        ("first", Value::Array(items), []) => {
            return items.first().cloned().ok_or_else(stop_iteration)
        }
        ("first", Value::Array(items), [default]) => {
            Some(items.first().cloned().unwrap_or(default.clone()))
        }
        ("last", Value::Array(items), []) => {
            return items.last().cloned().ok_or_else(stop_iteration)
        }
        ("last", Value::Array(items), [default]) => {
            Some(items.last().cloned().unwrap_or(default.clone()))
        }
        ("join", Value::Array(items), [Value::String(separator)]) => Some(Value::String(
            items
                .iter()
                .map(yaql_str)
                .collect::<Vec<_>>()
                .join(separator),
        )),
        // `separator.join(list)`, Python's way round.
        ("join", Value::String(separator), [Value::Array(items)]) => Some(Value::String(
            items
                .iter()
                .map(yaql_str)
                .collect::<Vec<_>>()
                .join(separator),
        )),
        ("split", Value::String(text), [] | [Value::Null]) => Some(Value::Array(
            text.split_whitespace()
                .map(|part| Value::String(part.into()))
                .collect(),
        )),
        ("split", Value::String(text), [Value::String(separator)]) => {
            if separator.is_empty() {
                return Err(Error::new("ValueError", "empty separator".into()));
            }
            Some(Value::Array(
                text.split(separator.as_str())
                    .map(|part| Value::String(part.into()))
                    .collect(),
            ))
        }
        ("trim", Value::String(text), []) => Some(Value::String(text.trim().into())),
        ("toUpper", Value::String(text), []) => Some(Value::String(text.to_uppercase())),
        ("toLower", Value::String(text), []) => Some(Value::String(text.to_lowercase())),
        ("sum", Value::Array(items), []) => {
            let mut items = items.iter().cloned();
            let Some(mut total) = items.next() else {
                return Err(Error::new(
                    "TypeError",
                    "reduce() of empty iterable with no initial value".into(),
                ));
            };
            for item in items {
                total = super::eval::binary(super::parser::BinaryOp::Add, total, item)?;
            }
            Some(total)
        }
        _ => None,
    };
    answer.ok_or_else(mismatch)
}

fn stop_iteration() -> Error {
    Error::new("StopIteration", String::new())
}

fn empty_or(mismatch: Error, items: &[Value], name: &str) -> Error {
    if items.is_empty() {
        Error::new("ValueError", format!("{name}() arg is an empty sequence"))
    } else {
        mismatch
    }
}

/// `ctx()`: the variables but those starting with `__`; `ctx(name)`: one of them
/// (`orquesta/expressions/functions/common.py: ctx_`).
fn ctx(context: &Map<String, Value>, key: Option<&Value>) -> Result<Value, Error> {
    match key {
        Some(key) if truthy(key) => {
            let name = key_text(key);
            let value = context.get(&name).ok_or_else(|| {
                Error::new(
                    "VariableUndefinedError",
                    format!("The variable \"{name}\" is undefined."),
                )
            })?;
            if name.starts_with("__") {
                return Err(Error::new(
                    "VariableInaccessibleError",
                    format!("The variable \"{name}\" is for internal use and inaccessible."),
                ));
            }
            Ok(value.clone())
        }
        _ => Ok(Value::Object(
            context
                .iter()
                .filter(|(key, _)| !key.starts_with("__"))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        )),
    }
}

fn len(value: &Value) -> Option<Value> {
    Some(Value::from(match value {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => return None,
    }))
}

/// Python's `int(value)`.
fn int(value: &Value) -> Result<i64, Error> {
    match value {
        Value::Null => Ok(0),
        Value::Bool(flag) => Ok(i64::from(*flag)),
        Value::String(text) => {
            let bad = || {
                Error::new(
                    "ValueError",
                    format!("invalid literal for int() with base 10: '{text}'"),
                )
            };
            let trimmed = text.trim();
            let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
            // Python allows one `_` between digits.
            let well_formed = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            if !well_formed {
                return Err(bad());
            }
            trimmed
                .replace('_', "")
                .parse()
                .map_err(|_| Error::new("OverflowError", format!("{text} does not fit in 64 bits")))
        }
        _ => match Num::of(value) {
            Some(Num::Int(int)) => Ok(int),
            Some(Num::Float(float)) if float.trunc().abs() < 9.2e18 => Ok(float.trunc() as i64),
            Some(Num::Float(_)) => Err(Error::new(
                "OverflowError",
                "float does not fit in 64 bits".into(),
            )),
            None => Err(no_function("int")),
        },
    }
}

/// Python's `float(value)`.
fn float(value: &Value) -> Result<f64, Error> {
    match value {
        Value::Null => Ok(0.0),
        Value::Bool(flag) => Ok(f64::from(u8::from(*flag))),
        Value::String(text) => {
            let trimmed = text.trim();
            let plain = trimmed
                .strip_prefix(['+', '-'])
                .unwrap_or(trimmed)
                .to_ascii_lowercase();
            // Rust also reads `inf`, `nan` and `infinity`: so does Python, but they have
            // no JSON form, which `float_value` refuses after.
            let readable = !plain.is_empty()
                && (plain
                    .chars()
                    .all(|c| c.is_ascii_digit() || ".e+-".contains(c))
                    || ["inf", "infinity", "nan"].contains(&plain.as_str()));
            match trimmed.parse::<f64>() {
                Ok(float) if readable => Ok(float),
                _ => Err(Error::new(
                    "ValueError",
                    format!("could not convert string to float: '{text}'"),
                )),
            }
        }
        _ => match Num::of(value) {
            Some(Num::Int(int)) => Ok(int as f64),
            Some(Num::Float(float)) => Ok(float),
            None => Err(no_function("float")),
        },
    }
}

/// `range(start, stop)`; `bool`s count as integers, as in Python.
fn range(start: &Value, stop: &Value) -> Option<Value> {
    let int = |value: &Value| match value {
        Value::Bool(flag) => Some(Num::Int(i64::from(*flag))),
        _ => Num::of(value),
    };
    match (int(start)?, int(stop)?) {
        (Num::Int(start), Num::Int(stop)) => Some(Value::Array(
            (start..stop.max(start)).map(Value::from).collect(),
        )),
        _ => None,
    }
}

/// The largest (or smallest) of `items`, first one on ties as Python's `max`/`min`; `None`
/// when empty or not comparable.
fn extreme(items: &[Value], largest: bool) -> Option<Value> {
    let mut best = items.first()?;
    for item in &items[1..] {
        let order = compare(item, best)?;
        if (largest && order.is_gt()) || (!largest && order.is_lt()) {
            best = item;
        }
    }
    Some(best.clone())
}

/// orquesta's `zip`: null arguments are empty lists (strings and maps are iterated as
/// Python does); one argument is returned as it is; more
/// are zipped to the longest, padded with `pad` (null).
pub(crate) fn zip(lists: &[Value], named: Vec<(String, Value)>) -> Option<Value> {
    let mut pad = Value::Null;
    for (name, value) in named {
        if name != "pad" {
            return None;
        }
        pad = value;
    }
    let lists: Vec<Vec<Value>> = lists
        .iter()
        .map(|list| match list {
            Value::Null => Some(Vec::new()),
            Value::Array(items) => Some(items.clone()),
            // Python iterates a string's characters and a map's keys.
            Value::String(text) => Some(text.chars().map(|c| Value::from(c.to_string())).collect()),
            Value::Object(map) => Some(map.keys().map(|k| Value::from(k.as_str())).collect()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if lists.len() == 1 {
        return Some(Value::Array(lists.into_iter().next()?));
    }
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    Some(Value::Array(
        (0..longest)
            .map(|at| {
                Value::Array(
                    lists
                        .iter()
                        .map(|list| list.get(at).cloned().unwrap_or(pad.clone()))
                        .collect(),
                )
            })
            .collect(),
    ))
}

fn flatten(items: &[Value], out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) => flatten(inner, out),
            _ => out.push(item.clone()),
        }
    }
}

/// A float in [0, 1) from std's randomly keyed hasher (no randomness crate: nothing here
/// needs more than "some number").
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

//! The evaluator: operators with yaql's semantics, `.attr` and `[i]`, `$`, and the calls,
//! which go to the caller's [`Functions`] first, then to the built-in functions and methods
//! of [`super::builtins`].

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::builtins;
use super::parser::{Arg, BinaryOp, Expr, UnaryOp};
use super::python::{arithmetic, compare, equal, float_value, py_str, truthy, Num};
use super::{Call, Error, Functions};

/// Named arguments, evaluated, in order.
pub(crate) type Named = Vec<(String, Value)>;

/// Evaluates expressions over one context: the workflow's variables (what `ctx()` reads) and
/// the functions the caller adds.
pub struct Evaluator<'a> {
    pub(crate) context: &'a Map<String, Value>,
    pub(crate) functions: &'a Functions,
}

impl<'a> Evaluator<'a> {
    /// An evaluator over `context` (orquesta's `__vars`: the variables, and whatever the
    /// caller's functions read) with the caller's `functions`.
    pub fn new(context: &'a Map<String, Value>, functions: &'a Functions) -> Evaluator<'a> {
        Evaluator { context, functions }
    }

    /// The value of `expr`; `$` is null at the top level.
    pub fn evaluate(&self, expr: &Expr) -> Result<Value, Error> {
        self.eval(expr, &Value::Null)
    }

    /// The value of `expr` with `$` = `dollar`.
    pub(crate) fn eval(&self, expr: &Expr, dollar: &Value) -> Result<Value, Error> {
        match expr {
            Expr::Literal(value) => Ok(value.clone()),
            // `$name` is a yaql variable; orquesta defines none, so they are all null.
            Expr::Variable(name) if name.is_empty() => Ok(dollar.clone()),
            Expr::Variable(_) => Ok(Value::Null),
            Expr::List(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|item| self.eval(item, dollar))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Map(pairs) => {
                let mut map = Map::new();
                for (key, value) in pairs {
                    let key = key_text(&self.eval(key, dollar)?);
                    map.insert(key, self.eval(value, dollar)?);
                }
                Ok(Value::Object(map))
            }
            Expr::Call(name, args) => self.call(name, args, dollar),
            Expr::Method {
                target,
                name,
                args,
                null_safe,
            } => {
                let receiver = self.eval(target, dollar)?;
                if *null_safe && receiver.is_null() {
                    return Ok(Value::Null);
                }
                builtins::method(self, receiver, name, args, dollar)
            }
            Expr::Attribute {
                target,
                name,
                null_safe,
            } => {
                let value = self.eval(target, dollar)?;
                if *null_safe && value.is_null() {
                    return Ok(Value::Null);
                }
                attribute(value, name)
            }
            Expr::Index(target, index) => {
                let target = self.eval(target, dollar)?;
                let index = self.eval(index, dollar)?;
                self::index(target, &index)
            }
            Expr::Unary(op, operand) => {
                let value = self.eval(operand, dollar)?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!truthy(&value))),
                    UnaryOp::Plus => match Num::of(&value) {
                        Some(_) => Ok(value),
                        None => Err(no_function("#unary_operator_+")),
                    },
                    UnaryOp::Minus => match Num::of(&value) {
                        Some(Num::Int(int)) => {
                            int.checked_neg().map(Value::from).ok_or_else(|| {
                                Error::new("OverflowError", "integer overflow in '-'".into())
                            })
                        }
                        Some(Num::Float(float)) => float_value(-float),
                        None => Err(no_function("#unary_operator_-")),
                    },
                }
            }
            Expr::Binary(BinaryOp::And, left, right) => {
                let left = self.eval(left, dollar)?;
                if truthy(&left) {
                    self.eval(right, dollar)
                } else {
                    Ok(left)
                }
            }
            Expr::Binary(BinaryOp::Or, left, right) => {
                let left = self.eval(left, dollar)?;
                if truthy(&left) {
                    Ok(left)
                } else {
                    self.eval(right, dollar)
                }
            }
            Expr::Binary(op, left, right) => {
                let left = self.eval(left, dollar)?;
                let right = self.eval(right, dollar)?;
                binary(*op, left, right)
            }
        }
    }

    /// Evaluated arguments: the positional ones, then the named ones.
    pub(crate) fn args(&self, args: &[Arg], dollar: &Value) -> Result<(Vec<Value>, Named), Error> {
        let mut positional = Vec::new();
        let mut named = Vec::new();
        for arg in args {
            match arg {
                Arg::Positional(expr) => positional.push(self.eval(expr, dollar)?),
                Arg::Named(name, expr) => named.push((name.clone(), self.eval(expr, dollar)?)),
            }
        }
        Ok((positional, named))
    }

    fn call(&self, name: &str, args: &[Arg], dollar: &Value) -> Result<Value, Error> {
        if let Some(function) = self.functions.get(name) {
            let (args, named) = self.args(args, dollar)?;
            return function(&Call {
                args: &args,
                named: &named,
                context: self.context,
            });
        }
        builtins::function(self, name, args, dollar)
    }
}

/// A map key from a value: strings as they are, anything else as Python's `str()` (JSON
/// maps have only string keys).
pub(crate) fn key_text(value: &Value) -> String {
    py_str(value)
}

/// `NoFunctionRegisteredException`: `Unknown function "name"`.
pub(crate) fn unknown_function(name: &str) -> Error {
    Error::new(
        "NoFunctionRegisteredException",
        format!("Unknown function \"{name}\""),
    )
}

/// `NoMatchingFunctionException`: the function exists, not for these arguments.
pub(crate) fn no_function(name: &str) -> Error {
    Error::new(
        "NoMatchingFunctionException",
        format!("No function \"{name}\" matches supplied arguments"),
    )
}

/// `target.name`: a map's value (missing: a key error), mapped over a list of maps.
fn attribute(target: Value, name: &str) -> Result<Value, Error> {
    match target {
        Value::Object(mut map) => map.remove(name).ok_or_else(|| Error::key(name)),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(_) => attribute(item, name),
                _ => Err(unknown_function(&format!("#property#{name}"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Err(unknown_function(&format!("#property#{name}"))),
    }
}

/// `target[index]`: Python indexing of a list, a map's value.
fn index(target: Value, index: &Value) -> Result<Value, Error> {
    match (target, index) {
        (Value::Array(mut items), Value::Number(_)) => {
            let Some(Num::Int(at)) = Num::of(index) else {
                return Err(no_function("#indexer"));
            };
            let len = items.len() as i64;
            let at = if at < 0 { at + len } else { at };
            if at < 0 || at >= len {
                return Err(Error::new("IndexError", "tuple index out of range".into()));
            }
            Ok(items.swap_remove(at as usize))
        }
        (Value::Object(mut map), key) if !key.is_array() && !key.is_object() => {
            let key = key_text(key);
            map.remove(&key).ok_or_else(|| Error::key(&key))
        }
        _ => Err(no_function("#indexer")),
    }
}

/// A binary operator other than `and`/`or`.
pub(crate) fn binary(op: BinaryOp, left: Value, right: Value) -> Result<Value, Error> {
    let mismatch = || no_function(&format!("#operator_{}", op.symbol()));
    let ordered = |test: fn(Ordering) -> bool| {
        compare(&left, &right)
            .map(|order| Value::Bool(test(order)))
            .ok_or_else(mismatch)
    };
    match op {
        BinaryOp::Eq => Ok(Value::Bool(equal(&left, &right))),
        BinaryOp::Ne => Ok(Value::Bool(!equal(&left, &right))),
        BinaryOp::Lt => ordered(Ordering::is_lt),
        BinaryOp::Gt => ordered(Ordering::is_gt),
        BinaryOp::Le => ordered(Ordering::is_le),
        BinaryOp::Ge => ordered(Ordering::is_ge),
        BinaryOp::In => match (&left, &right) {
            (_, Value::Array(items)) => Ok(Value::Bool(items.iter().any(|i| equal(&left, i)))),
            (Value::String(part), Value::String(whole)) => Ok(Value::Bool(whole.contains(part))),
            _ => Err(mismatch()),
        },
        BinaryOp::Matches | BinaryOp::NotMatches => match (&left, &right) {
            (Value::String(text), Value::String(pattern)) => {
                let regex = regex::Regex::new(pattern)
                    .map_err(|err| Error::new("error", format!("bad pattern: {err}")))?;
                Ok(Value::Bool(
                    regex.is_match(text) == (op == BinaryOp::Matches),
                ))
            }
            _ => Err(mismatch()),
        },
        BinaryOp::Add => match (left, right) {
            (Value::String(a), Value::String(b)) => Ok(Value::String(a + &b)),
            (Value::Array(mut a), Value::Array(b)) => {
                a.extend(b);
                Ok(Value::Array(a))
            }
            (Value::Object(mut a), Value::Object(b)) => {
                a.extend(b);
                Ok(Value::Object(a))
            }
            (left, right) => match (Num::of(&left), Num::of(&right)) {
                (Some(a), Some(b)) => arithmetic("+", a, b),
                _ => Err(mismatch()),
            },
        },
        BinaryOp::Mul => match (&left, &right) {
            // Repetition takes a `bool` as Python does (`'ab' * true` = `'ab'`).
            (Value::String(text), times) | (times, Value::String(text)) => match count(times) {
                Some(times) => Ok(Value::String(text.repeat(times))),
                None => Err(mismatch()),
            },
            (Value::Array(items), times) | (times, Value::Array(items)) => match count(times) {
                Some(times) => Ok(Value::Array(
                    (0..times).flat_map(|_| items.iter().cloned()).collect(),
                )),
                None => Err(mismatch()),
            },
            _ => numbers(op, &left, &right),
        },
        BinaryOp::Sub | BinaryOp::Div | BinaryOp::Mod => numbers(op, &left, &right),
        // Evaluated lazily by the evaluator; the same answer for values already at hand.
        BinaryOp::And => Ok(if truthy(&left) { right } else { left }),
        BinaryOp::Or => Ok(if truthy(&left) { left } else { right }),
    }
}

/// A repetition count: an integer or a `bool`, negative as zero.
fn count(value: &Value) -> Option<usize> {
    match value {
        Value::Bool(flag) => Some(usize::from(*flag)),
        _ => match Num::of(value)? {
            Num::Int(times) => Some(times.max(0) as usize),
            Num::Float(_) => None,
        },
    }
}

fn numbers(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, Error> {
    match (Num::of(left), Num::of(right)) {
        (Some(a), Some(b)) => arithmetic(op.symbol(), a, b),
        _ => Err(no_function(&format!("#operator_{}", op.symbol()))),
    }
}

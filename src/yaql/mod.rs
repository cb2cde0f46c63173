//! YAQL, the subset orquesta workflows use (`../shared/spec/workflows.md` §3.3: yaql 3.2.0's
//! grammar, 8 precedence levels, the functions and methods listed there), and orquesta's
//! way of evaluating `<% %>` in strings (§3.1, `orquesta/expressions/yql.py`).
//!
//! No Rust YAQL exists. This module is shaped to become a crate: it depends on nothing else
//! in st2-rs but Python's `repr()` of JSON values (`schema::repr`), and its values are
//! `serde_json::Value`, which is what workflows hold (inputs, results, published
//! variables) and what yaql itself sees after orquesta converts its data
//! (`yaql.language.utils.convert_input_data`: JSON in, JSON out). Python's semantics on top
//! of it (truthiness, `1 == 1.0 == True`, floor division, `str()`) live in `python.rs`.
//!
//! Use: [`parse`] an expression once (errors are one line naming the position), then
//! [`Evaluator::evaluate`] it over a context (orquesta's `__vars`: what `ctx()` reads) with
//! the caller's [`Functions`], the extension point for what only the workflow engine knows
//! (`succeeded()`, `result()`, `item()`, `task()`, `st2kv()`, ...). [`evaluate_text`] does
//! what orquesta does to a string that holds expressions. [`unknown_functions`] lists the
//! calls an expression makes that neither the caller nor the subset provides, for the
//! engine's inspection.

mod builtins;
pub(crate) use builtins::zip;
mod eval;
mod lexer;
mod parser;
mod python;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use eval::Evaluator;
pub use parser::{parse, Arg, BinaryOp, Expr, UnaryOp};
pub use python::py_str;

/// An error of the lexer, the parser or the evaluation: yaql's (or Python's) class name as
/// `kind`, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `YaqlGrammarException`, `NoFunctionRegisteredException`, `KeyError`, `TypeError`, ...
    pub kind: String,
    /// The one-line message.
    pub message: String,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: &str, message: String) -> Error {
        Error {
            kind: kind.to_string(),
            message,
        }
    }

    /// A missing map key (Python's `KeyError`, which orquesta words as "Unable to resolve
    /// key").
    pub fn key(key: &str) -> Error {
        Error::new("KeyError", key.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// The arguments of a call to one of the caller's [`Functions`].
pub struct Call<'a> {
    /// Positional arguments, evaluated.
    pub args: &'a [Value],
    /// Named arguments (`name => value`), evaluated, in order.
    pub named: &'a [(String, Value)],
    /// The evaluation's context (orquesta's `__vars`).
    pub context: &'a Map<String, Value>,
}

/// A function the caller provides.
pub type Function = dyn Fn(&Call<'_>) -> Result<Value, Error> + Send + Sync;

/// The functions the caller adds to the subset (the workflow engine's `succeeded`,
/// `result`, `task`, `st2kv`, ...). Looked up before the built-in ones, in function form
/// only (`f(x)`).
#[derive(Clone, Default)]
pub struct Functions {
    table: HashMap<String, Arc<Function>>,
}

impl Functions {
    /// No functions but the built-in ones.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Add (or replace) `name`.
    pub fn register(
        &mut self,
        name: &str,
        function: impl Fn(&Call<'_>) -> Result<Value, Error> + Send + Sync + 'static,
    ) {
        self.table.insert(name.to_string(), Arc::new(function));
    }

    /// Whether `name` was added.
    pub fn contains(&self, name: &str) -> bool {
        self.table.contains_key(name)
    }

    /// The names added, sorted (the workflow engine offers the same functions to Jinja).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.table.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Function>> {
        self.table.get(name)
    }
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.table.keys().collect();
        names.sort();
        f.debug_struct("Functions").field("names", &names).finish()
    }
}

/// The calls in `expr` that neither `functions` nor the subset provides, in order, each
/// once: `name` for a function, `.name` for a method. Inspection refuses them before
/// anything runs (yaql itself only fails when it gets there).
pub fn unknown_functions(expr: &Expr, functions: &Functions) -> Vec<String> {
    fn walk(expr: &Expr, functions: &Functions, out: &mut Vec<String>) {
        let mut add = |name: String| {
            if !out.contains(&name) {
                out.push(name);
            }
        };
        match expr {
            Expr::Literal(_) | Expr::Variable(_) => {}
            Expr::List(items) => items.iter().for_each(|item| walk(item, functions, out)),
            Expr::Map(pairs) => pairs.iter().for_each(|(key, value)| {
                walk(key, functions, out);
                walk(value, functions, out);
            }),
            Expr::Call(name, args) => {
                if !functions.contains(name) && !builtins::FUNCTIONS.contains(&name.as_str()) {
                    add(name.clone());
                }
                walk_args(args, functions, out);
            }
            Expr::Method {
                target, name, args, ..
            } => {
                if !builtins::METHODS.contains(&name.as_str()) {
                    add(format!(".{name}"));
                }
                walk(target, functions, out);
                walk_args(args, functions, out);
            }
            Expr::Attribute { target, .. } | Expr::Unary(_, target) => walk(target, functions, out),
            Expr::Index(left, right) | Expr::Binary(_, left, right) => {
                walk(left, functions, out);
                walk(right, functions, out);
            }
        }
    }
    fn walk_args(args: &[Arg], functions: &Functions, out: &mut Vec<String>) {
        for arg in args {
            match arg {
                Arg::Positional(expr) | Arg::Named(_, expr) => walk(expr, functions, out),
            }
        }
    }
    let mut out = Vec::new();
    walk(expr, functions, &mut out);
    out
}

/// The `<% ... %>` expressions in `text`, as orquesta finds them (`<%.*?%>`: the shortest
/// match, never across a line break): each one's byte range, delimiters included.
pub fn find_expressions(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("<%").map(|at| from + at) {
        let rest = &text[start + 2..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        match rest[..line_end].find("%>") {
            Some(end) => {
                let end = start + 2 + end + 2;
                found.push(start..end);
                from = end;
            }
            None => from = start + 1,
        }
    }
    found
}

/// The expression inside `<% ... %>`: delimiters and surrounding whitespace stripped, as
/// orquesta's `strip_delimiter` (`expr.strip("<%>").strip()`).
pub fn strip_delimiters(expression: &str) -> &str {
    expression.trim_matches(['<', '%', '>']).trim()
}

/// An error of [`evaluate_text`], worded as orquesta words it (`YaqlEvaluationException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// The expression, delimiters included, as written.
    pub expression: String,
    /// What went wrong in it.
    pub error: Error,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.error.kind == "KeyError" {
            write!(
                f,
                "Unable to resolve key '{}' in expression '{}' from context.",
                self.error.message, self.expression
            )
        } else {
            write!(
                f,
                "Unable to evaluate expression '{}'. {}: {}",
                self.expression, self.error.kind, self.error.message
            )
        }
    }
}

impl std::error::Error for TextError {}

/// Evaluate `text` as orquesta does (`YAQLEvaluator.evaluate`): a string that is exactly
/// one expression gives its value; otherwise each expression is replaced by Python's `str()`
/// of its value. Text without expressions comes back as it is. **\[fix\]**: a string result is
/// data, never evaluated again (orquesta renders an expression found in it).
pub fn evaluate_text(
    text: &str,
    context: &Map<String, Value>,
    functions: &Functions,
) -> Result<Value, TextError> {
    let found = find_expressions(text);
    let evaluator = Evaluator::new(context, functions);
    let value_of = |range: &std::ops::Range<usize>| {
        let expression = &text[range.clone()];
        parse(strip_delimiters(expression))
            .and_then(|expr| evaluator.evaluate(&expr))
            .map_err(|error| TextError {
                expression: expression.to_string(),
                error,
            })
    };
    if let [only] = found.as_slice() {
        if only.len() == text.len() {
            return value_of(only);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in &found {
        out.push_str(&text[copied..range.start]);
        out.push_str(&py_str(&value_of(range)?));
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests;

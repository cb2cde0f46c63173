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

mod lexer;
mod parser;

use std::fmt;

pub use parser::{parse, Arg, BinaryOp, Expr, UnaryOp};

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

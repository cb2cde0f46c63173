//! Expressions in workflow values as orquesta evaluates them (`orquesta/expressions/base.py`,
//! `yql.py`, `jinja.py`; `../shared/spec/workflows.md` §3.1, §3.4): every string anywhere in a
//! value (map keys too) with `<% %>` is YAQL, with `{{ }}`/`{% %}` Jinja (minijinja, strict
//! undefined, StackStorm's filters). Both languages call the same engine functions: the
//! `yaql::Functions` table the conductor fills (`succeeded`, `result`, `item`, `st2kv`, ...).

use std::sync::Arc;

use minijinja::value::Rest;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::yaql::{self, Call, Functions};

/// An expression that could not be evaluated, worded as orquesta words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// `YaqlEvaluationException` or `JinjaEvaluationException`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// Python's truthiness of a JSON value.
pub(crate) use crate::schema::validator::truthy;

/// Whether `text` holds a YAQL expression.
pub fn has_yaql(text: &str) -> bool {
    !yaql::find_expressions(text).is_empty()
}

/// The `{{ }}` and `{% %}` parts of `text` (the shortest match, not across lines).
pub fn jinja_expressions(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    for (open, close) in [("{{", "}}"), ("{%", "%}")] {
        let mut from = 0;
        while let Some(start) = text[from..].find(open).map(|at| from + at) {
            let rest = &text[start + 2..];
            let line_end = rest.find('\n').unwrap_or(rest.len());
            match rest[..line_end].find(close) {
                Some(end) => {
                    let end = start + 2 + end + 2;
                    found.push(start..end);
                    from = end;
                }
                None => from = start + 1,
            }
        }
    }
    found.sort_by_key(|r| r.start);
    found
}

/// Whether `text` holds a Jinja expression or block.
pub fn has_jinja(text: &str) -> bool {
    !jinja_expressions(text).is_empty()
}

/// Evaluate `value` (recursively) over `context`.
pub fn evaluate(
    value: &Value,
    context: &Map<String, Value>,
    functions: &Functions,
) -> Result<Value, ExprError> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let key = match evaluate(&Value::String(key.clone()), context, functions)? {
                    Value::String(s) => s,
                    other => crate::yaql::py_str(&other),
                };
                out.insert(key, evaluate(item, context, functions)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| evaluate(item, context, functions))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::String(text) if has_jinja(text) => jinja(text, context, functions),
        Value::String(text) if has_yaql(text) => yaql::evaluate_text(text, context, functions)
            .map_err(|e| ExprError {
                kind: "YaqlEvaluationException",
                message: e.to_string(),
            }),
        other => Ok(other.clone()),
    }
}

fn json_empty_list() -> Value {
    Value::Array(Vec::new())
}

fn to_json(value: &minijinja::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn environment(context: &Map<String, Value>, functions: &Functions) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    crate::expressions::register(&mut env);
    let shared = Arc::new(context.clone());
    let ctx = shared.clone();
    env.add_function(
        "ctx",
        move |name: Option<String>| -> Result<minijinja::Value, minijinja::Error> {
            match name {
                None => {
                    let visible: Map<String, Value> = ctx
                        .iter()
                        .filter(|(k, _)| !k.starts_with("__"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Ok(minijinja::Value::from_serialize(visible))
                }
                Some(name) => match ctx.get(&name) {
                    Some(value) if !name.starts_with("__") => {
                        Ok(minijinja::Value::from_serialize(value))
                    }
                    _ => Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("VariableUndefinedError: The variable \"{name}\" is undefined."),
                    )),
                },
            }
        },
    );
    // orquesta's own `json` and `zip` (`orquesta/expressions/functions/common.py`).
    env.add_function(
        "json",
        |value: minijinja::Value| -> Result<minijinja::Value, minijinja::Error> {
            match to_json(&value) {
                Value::String(text) => serde_json::from_str::<Value>(&text)
                    .map(minijinja::Value::from_serialize)
                    .map_err(|err| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("JSONDecodeError: {err}"),
                        )
                    }),
                map @ Value::Object(_) => Ok(minijinja::Value::from_serialize(map)),
                _ => Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    "TypeError: Given object is not typeof string.",
                )),
            }
        },
    );
    env.add_function(
        "zip",
        |args: Rest<minijinja::Value>,
         kwargs: minijinja::value::Kwargs|
         -> Result<minijinja::Value, minijinja::Error> {
            let lists: Vec<Value> = args.iter().map(to_json).collect();
            if let [only] = lists.as_slice() {
                let only = if only.is_null() {
                    json_empty_list()
                } else {
                    only.clone()
                };
                return Ok(minijinja::Value::from_serialize(only));
            }
            let mut named = Vec::new();
            for key in kwargs.args() {
                let value: minijinja::Value = kwargs.get(key)?;
                named.push((key.to_string(), to_json(&value)));
            }
            yaql::zip(&lists, named)
                .map(minijinja::Value::from_serialize)
                .ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        "TypeError: zip() takes lists and an optional pad",
                    )
                })
        },
    );
    for name in functions.names() {
        let function = functions.get(&name).cloned().expect("listed");
        let ctx = shared.clone();
        let callable = move |args: Rest<minijinja::Value>,
                             kwargs: minijinja::value::Kwargs|
              -> Result<minijinja::Value, minijinja::Error> {
            let args: Vec<Value> = args.iter().map(to_json).collect();
            let mut named = Vec::new();
            for key in kwargs.args() {
                let value: minijinja::Value = kwargs.get(key)?;
                // Python's `sort_keys=` is yaql's `sortKeys =>`, the name the table knows.
                named.push((
                    crate::expressions::yaql_functions::camel_case(key),
                    to_json(&value),
                ));
            }
            let call = Call {
                args: &args,
                named: &named,
                context: &ctx,
            };
            function(&call)
                .map(minijinja::Value::from_serialize)
                .map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })
        };
        env.add_function(name.clone(), callable);
    }
    env
}

/// `JinjaEvaluator.evaluate`: `{% raw %}` blocks are set aside (as `{0}`, `{1}`, ...), the
/// rest is evaluated, any `{{ }}` left is an error, then the raw blocks are put back and the
/// whole string rendered once more as a template, which turns each block into its text.
fn jinja(
    text: &str,
    context: &Map<String, Value>,
    functions: &Functions,
) -> Result<Value, ExprError> {
    let env = environment(context, functions);
    let raw_blocks = raw_blocks(text);
    let mut text = text.to_string();
    for (i, block) in raw_blocks.iter().enumerate() {
        text = text.replace(block, &format!("{{{i}}}"));
    }
    let output = expand(&env, &text, 0)?;
    let Value::String(mut output) = output else {
        return Ok(output);
    };
    let left: Vec<&str> = jinja_expressions(&output)
        .into_iter()
        .filter(|range| output[range.clone()].starts_with("{{"))
        .map(|range| output[range.start + 2..range.end - 2].trim())
        .collect();
    if !left.is_empty() {
        return Err(unresolved(&left));
    }
    if raw_blocks.is_empty() {
        return Ok(Value::String(output));
    }
    for (i, block) in raw_blocks.iter().enumerate() {
        output = output.replace(&format!("{{{i}}}"), block);
    }
    env.render_str(&output, ())
        .map(Value::String)
        .map_err(|e| jinja_failure(&output, &e))
}

/// The `{% raw %}...{% endraw %}` blocks of `text`, as orquesta's pattern finds them (the
/// shortest, on one line), each once.
fn raw_blocks(text: &str) -> Vec<&str> {
    const OPEN: &str = "{% raw %}";
    const CLOSE: &str = "{% endraw %}";
    let mut blocks: Vec<&str> = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find(OPEN).map(|at| from + at) {
        let rest = &text[start + OPEN.len()..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        match rest[..line_end].find(CLOSE) {
            Some(end) => {
                let end = start + OPEN.len() + end + CLOSE.len();
                if !blocks.contains(&&text[start..end]) {
                    blocks.push(&text[start..end]);
                }
                from = end;
            }
            None => from = start + 1,
        }
    }
    blocks
}

fn unresolved(names: &[&str]) -> ExprError {
    ExprError {
        kind: "JinjaEvaluationException",
        message: format!("There are unresolved variables: {}", names.join(", ")),
    }
}

fn jinja_failure(expression: &str, error: &minijinja::Error) -> ExprError {
    ExprError {
        kind: "JinjaEvaluationException",
        message: format!(
            "Unable to evaluate expression '{expression}'. {}",
            jinja_message(error)
        ),
    }
}

/// How deep string results are expanded again before giving up (upstream recurses until
/// Python's recursion limit).
const MAX_EXPANSION_DEPTH: usize = 32;

/// `JinjaEvaluator._evaluate_and_expand`: a text with a `{% %}` block is rendered whole and
/// the result evaluated again; otherwise each `{{ }}` is evaluated (a string result is itself
/// expanded), and a text that is one expression gives its value, not a string. An
/// expression whose value is undefined stays as written, for [`jinja`] to report.
fn expand(env: &Environment<'static>, text: &str, depth: usize) -> Result<Value, ExprError> {
    let found = jinja_expressions(text);
    if found.iter().any(|r| text[r.clone()].starts_with("{%")) {
        let rendered = env
            .render_str(text, ())
            .map_err(|e| jinja_failure(text, &e))?;
        if depth < MAX_EXPANSION_DEPTH && has_jinja(&rendered) && rendered != text {
            return expand(env, &rendered, depth + 1);
        }
        return Ok(Value::String(rendered));
    }
    let value_of = |range: &std::ops::Range<usize>| -> Result<Option<Value>, ExprError> {
        let expression = &text[range.clone()];
        let inner = expression[2..expression.len() - 2].trim();
        let compiled = env
            .compile_expression(inner)
            .map_err(|e| jinja_failure(expression, &e))?;
        let value = compiled
            .eval(())
            .map_err(|e| jinja_failure(expression, &e))?;
        if value.is_undefined() {
            return Ok(None);
        }
        // minijinja divides into an infinite float where Python raises.
        if f64::try_from(value.clone()).is_ok_and(|number| !number.is_finite()) {
            return Err(ExprError {
                kind: "JinjaEvaluationException",
                message: format!(
                    "Unable to evaluate expression '{expression}'. ZeroDivisionError: division by zero"
                ),
            });
        }
        match to_json(&value) {
            Value::String(s) if depth < MAX_EXPANSION_DEPTH && has_jinja(&s) => {
                expand(env, &s, depth + 1).map(Some)
            }
            value => Ok(Some(value)),
        }
    };
    if let [only] = found.as_slice() {
        if only.len() == text.len() {
            return Ok(value_of(only)?.unwrap_or_else(|| Value::String(text.to_string())));
        }
    }
    let mut out = String::new();
    let mut copied = 0;
    for range in &found {
        out.push_str(&text[copied..range.start]);
        match value_of(range)? {
            Some(value) => out.push_str(&crate::yaql::py_str(&value)),
            None => out.push_str(&text[range.clone()]),
        }
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    Ok(Value::String(out))
}

fn jinja_message(error: &minijinja::Error) -> String {
    // The engine's functions fail with their own `<Kind>: <detail>`.
    if error.kind() == minijinja::ErrorKind::InvalidOperation {
        if let Some(detail) = error.detail() {
            return detail.to_string();
        }
    }
    match error.detail() {
        Some(detail) => format!("{:?}: {detail}", error.kind()),
        None => format!("{:?}", error.kind()),
    }
}

/// Whether `text` (one `{{ }}` or `{% %}` string) is Jinja minijinja can read.
pub fn jinja_syntax_error(text: &str) -> Option<String> {
    let env = Environment::new();
    let found = jinja_expressions(text);
    if found.iter().any(|r| text[r.clone()].starts_with("{%")) {
        return env.template_from_str(text).err().map(|e| e.to_string());
    }
    for range in found {
        let expression = &text[range];
        let inner = expression[2..expression.len() - 2].trim();
        if let Err(e) = env.compile_expression(inner) {
            return Some(e.to_string());
        }
    }
    None
}

/// Call the engine function `name` with `args` over `context` (the conductor's own use).
pub fn call(
    functions: &Functions,
    name: &str,
    args: &[Value],
    context: &Map<String, Value>,
) -> Option<Result<Value, yaql::Error>> {
    let function = functions.get(name)?;
    Some(function(&Call {
        args,
        named: &[],
        context,
    }))
}

//! StackStorm's expression functions for YAQL (`../shared/spec/workflows.md` §3.2): the same
//! Python functions that are Jinja filters are YAQL functions in orquesta workflows
//! (`contrib/runners/orquesta_runner/setup.py` registers `st2common.expressions.functions.*`
//! as `orquesta.expressions.functions` entry points, under the filter names and the aliases
//! `json_dump`, `json_parse`, `yaml_dump`, `yaml_parse`).
//!
//! One implementation serves both languages: a YAQL call `regex_match(v, 'a.*', ignorecase =>
//! true)` is evaluated as the filter it is, `__0 | regex_match(__1, __2)`, in a minijinja
//! environment with [`super::register`]'s filters. Named arguments are put in their Python
//! parameter's place, as Python's call does, so filters that take their options positionally
//! get them too. They are named as yaql names Python parameters, in camel case
//! (`sortKeys => true`, `resultIndex => 1`: probed on yaql 3.2.0 through orquesta, where
//! `sort_keys => true` matches no function). `st2kv` and `task` need the datastore and the
//! workflow: the engine adds them.

use std::sync::Arc;

use minijinja::Environment;
use serde_json::Value;

use crate::yaql::{Call, Error, Functions};

/// The functions, each with its Python parameter names (the first is the value filtered),
/// and the filter that implements it.
const FUNCTIONS: &[(&str, &str, &[&str])] = &[
    (
        "to_json_string",
        "to_json_string",
        &["value", "indent", "sort_keys", "separators"],
    ),
    (
        "json_dump",
        "to_json_string",
        &["value", "indent", "sort_keys", "separators"],
    ),
    ("from_json_string", "from_json_string", &["value"]),
    ("json_parse", "from_json_string", &["value"]),
    (
        "to_yaml_string",
        "to_yaml_string",
        &["value", "indent", "allow_unicode"],
    ),
    (
        "yaml_dump",
        "to_yaml_string",
        &["value", "indent", "allow_unicode"],
    ),
    ("from_yaml_string", "from_yaml_string", &["value"]),
    ("yaml_parse", "from_yaml_string", &["value"]),
    ("json_escape", "json_escape", &["value"]),
    ("jsonpath_query", "jsonpath_query", &["value", "query"]),
    (
        "regex_match",
        "regex_match",
        &["value", "pattern", "ignorecase"],
    ),
    (
        "regex_search",
        "regex_search",
        &["value", "pattern", "ignorecase"],
    ),
    (
        "regex_replace",
        "regex_replace",
        &["value", "pattern", "replacement", "ignorecase"],
    ),
    (
        "regex_substring",
        "regex_substring",
        &["value", "pattern", "result_index", "ignorecase"],
    ),
    ("basename", "basename", &["path"]),
    ("dirname", "dirname", &["path"]),
    (
        "to_human_time_from_seconds",
        "to_human_time_from_seconds",
        &["seconds"],
    ),
    ("use_none", "use_none", &["value"]),
    ("version_compare", "version_compare", &["value", "pattern"]),
    (
        "version_more_than",
        "version_more_than",
        &["value", "pattern"],
    ),
    (
        "version_less_than",
        "version_less_than",
        &["value", "pattern"],
    ),
    ("version_equal", "version_equal", &["value", "pattern"]),
    ("version_match", "version_match", &["value", "pattern"]),
    ("version_bump_major", "version_bump_major", &["value"]),
    ("version_bump_minor", "version_bump_minor", &["value"]),
    ("version_bump_patch", "version_bump_patch", &["value"]),
    ("version_strip_patch", "version_strip_patch", &["value"]),
];

/// StackStorm's functions, for [`crate::yaql::Evaluator`]; the engine adds its own to them.
pub fn st2_functions() -> Functions {
    let mut functions = Functions::new();
    register(&mut functions);
    functions
}

/// Add StackStorm's functions to `functions` (replacing any of the same name).
pub fn register(functions: &mut Functions) {
    let bridge = Arc::new(Bridge::new());
    for &(name, filter, parameters) in FUNCTIONS {
        let bridge = Arc::clone(&bridge);
        functions.register(name, move |call| {
            bridge.call(name, filter, parameters, call)
        });
    }
}

/// The Jinja environment the calls are evaluated in.
struct Bridge {
    env: Environment<'static>,
}

impl Bridge {
    fn new() -> Bridge {
        let mut env = Environment::new();
        super::register(&mut env);
        Bridge { env }
    }

    fn call(
        &self,
        name: &str,
        filter: &str,
        parameters: &[&str],
        call: &Call<'_>,
    ) -> Result<Value, Error> {
        let arguments = place_arguments(name, parameters, call)?;
        // `__0 | filter(__1, ..., __n)`: the filter's own checks and messages apply.
        let rest: Vec<String> = (1..arguments.len()).map(|i| format!("__{i}")).collect();
        let source = format!("__0 | {filter}({})", rest.join(", "));
        let context: serde_json::Map<String, Value> = arguments
            .into_iter()
            .enumerate()
            .map(|(i, value)| (format!("__{i}"), value))
            .collect();
        let expression = self
            .env
            .compile_expression(&source)
            .map_err(|err| Error::new("TypeError", err.to_string()))?;
        let result = expression
            .eval(minijinja::Value::from_serialize(&context))
            .map_err(|err| Error::new(error_kind(&err), detail(&err)))?;
        Ok(super::pyjson::to_json(&result))
    }
}

/// The arguments in parameter order: positional first, then named ones in their places,
/// `null` where a later one is given and an earlier one is not. A call no Python signature
/// takes (too many arguments, an unknown or repeated name, no value) matches no function,
/// as yaql's overload resolution says.
fn place_arguments(name: &str, parameters: &[&str], call: &Call<'_>) -> Result<Vec<Value>, Error> {
    let no_match = || {
        Error::new(
            "NoMatchingFunctionException",
            format!("No function \"{name}\" matches supplied arguments"),
        )
    };
    if call.args.len() > parameters.len() {
        return Err(no_match());
    }
    let mut placed: Vec<Option<Value>> = call.args.iter().cloned().map(Some).collect();
    placed.resize(parameters.len(), None);
    for (key, value) in call.named {
        match parameters.iter().position(|p| camel_case(p) == *key) {
            Some(index) if placed[index].is_none() => placed[index] = Some(value.clone()),
            _ => return Err(no_match()),
        }
    }
    if placed[0].is_none() {
        return Err(no_match());
    }
    let last = placed.iter().rposition(Option::is_some).unwrap_or(0);
    placed.truncate(last + 1);
    Ok(placed
        .into_iter()
        .map(|v| v.unwrap_or(Value::Null))
        .collect())
}

/// A Python parameter name as yaql's convention exposes it: `sort_keys` is `sortKeys`.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn error_kind(err: &minijinja::Error) -> &'static str {
    match err.kind() {
        minijinja::ErrorKind::InvalidOperation => "ValueError",
        _ => "TypeError",
    }
}

/// The filter's own message, without minijinja's location suffix.
fn detail(err: &minijinja::Error) -> String {
    err.detail()
        .map(str::to_string)
        .unwrap_or_else(|| err.kind().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaql::{evaluate_text, Evaluator};
    use serde_json::json;

    fn eval(text: &str) -> Result<Value, String> {
        let functions = st2_functions();
        let context = json!({"d": {"b": [10, 20], "a": 1}, "s": "Hello World", "n": 12345});
        let context = context.as_object().unwrap();
        let expr = crate::yaql::parse(text).map_err(|e| e.to_string())?;
        Evaluator::new(context, &functions)
            .evaluate(&expr)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn functions_evaluate_as_their_filters() {
        assert_eq!(
            eval("to_json_string(ctx(d))").unwrap(),
            json!("{\"b\": [10,20],\"a\": 1}")
        );
        assert_eq!(
            eval("json_dump(ctx(d), sortKeys => true)").unwrap(),
            json!("{\"a\": 1,\"b\": [10,20]}")
        );
        assert_eq!(eval("json_parse('[1, 2]')").unwrap(), json!([1, 2]));
        assert_eq!(eval("yaml_parse('a: yes')").unwrap(), json!({"a": true}));
        // PyYAML's safe_dump sorts keys.
        assert_eq!(
            eval("to_yaml_string(ctx(d))").unwrap(),
            json!("a: 1\nb:\n- 10\n- 20\n")
        );
        assert_eq!(eval("regex_match(ctx(s), 'hello')").unwrap(), json!(false));
        assert_eq!(
            eval("regex_match(ctx(s), 'hello', ignorecase => true)").unwrap(),
            json!(true)
        );
        assert_eq!(
            // YAQL strings take Python's escapes: `'\\2'` is the text `\2` (`'\2'` is `\x02`).
            eval("regex_replace(ctx(s), '(\\w+) (\\w+)', '\\\\2 \\\\1')").unwrap(),
            json!("World Hello")
        );
        assert_eq!(
            eval("regex_substring(ctx(s), 'o.', 1)").unwrap(),
            json!("or")
        );
        assert_eq!(
            eval("to_human_time_from_seconds(ctx(n))").unwrap(),
            json!("3h25m45s")
        );
        assert_eq!(
            eval("version_compare('1.2.0', '1.10.0')").unwrap(),
            json!(-1)
        );
        assert_eq!(eval("version_strip_patch('1.2.3')").unwrap(), json!("1.2"));
        assert_eq!(eval("basename('/a/b.txt')").unwrap(), json!("b.txt"));
        assert_eq!(
            eval("use_none(null)").unwrap(),
            json!("%*****__%NONE%__*****%")
        );
        assert_eq!(eval("json_escape('a\"b')").unwrap(), json!("a\\\"b"));
    }

    #[test]
    fn calls_no_signature_takes_match_no_function() {
        // As yaql 3.2.0 answers them (probed through orquesta).
        let no_match = |text: &str, name: &str| {
            let err = eval(text).unwrap_err();
            let expected = format!("No function \"{name}\" matches supplied arguments");
            assert!(err.contains(&expected), "{text}: {err}");
        };
        no_match("regex_match(ctx(s), 'a', nocase => true)", "regex_match");
        no_match("json_dump(ctx(d), sort_keys => true)", "json_dump");
        no_match(
            "regex_match(ctx(s), 'a', false, ignorecase => true)",
            "regex_match",
        );
        no_match("regex_match(ctx(s), 'a', false, true)", "regex_match");
        no_match("regex_match(ignorecase => true)", "regex_match");
        assert_eq!(
            eval("regex_substring('Hello', 'l', resultIndex => 1)").unwrap(),
            json!("l")
        );
        assert_eq!(
            eval("regex_match('abc', 'A', ignorecase => true)").unwrap(),
            json!(true)
        );
        let err = eval("version_compare('x', '1.0.0')").unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn text_with_functions() {
        let functions = st2_functions();
        let context = json!({"s": "abc"});
        let value = evaluate_text(
            "<% regex_replace(ctx(s), 'b', 'x') %>!",
            context.as_object().unwrap(),
            &functions,
        )
        .unwrap();
        assert_eq!(value, json!("axc!"));
    }
}

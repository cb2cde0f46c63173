//! StackStorm's Jinja environment on minijinja: the filters StackStorm adds
//! (`st2common/util/jinja.py` `get_filters()`, implemented in
//! `st2common/expressions/functions/`), and values printed as Jinja2 prints them (Python's
//! `str()`: `True`, `None`, `['a', 1]`).
//!
//! [`register`] puts them into an environment; the renderer of pack configs and action
//! parameters (`config::Renderer`) calls it, and adds `decrypt_kv`, which needs the
//! datastore. One file per concern:
//!
//! | file | filters |
//! |---|---|
//! | [`data`] | `from_json_string`, `from_yaml_string`, `to_json_string`, `to_yaml_string`, `json_escape`, `jsonpath_query`, `to_complex`, `use_none` |
//! | [`regex`] | `regex_match`, `regex_replace`, `regex_search`, `regex_substring` |
//! | [`time`] | `to_human_time_from_seconds` |
//! | [`version`] | `version_compare`, `version_more_than`, `version_less_than`, `version_equal`, `version_match`, `version_bump_major`, `version_bump_minor`, `version_bump_patch`, `version_strip_patch` |
//! | [`path`] | `basename`, `dirname` |
//! | `numbers` | Jinja2's own `int` and `float`, which never fail on what they cannot convert |
//!
//! and the Python semantics they rest on: [`pystr`] (`str()`/`repr()`), [`pyjson`]
//! (`json.dumps`), [`pyyaml`] (`yaml.safe_dump`), [`jsonpath`] (jsonpath-rw), [`undefined`]
//! (Jinja2's messages for undefined values).

pub mod data;
pub mod jsonpath;
mod numbers;
pub mod path;
pub mod pyjson;
pub mod pystr;
pub mod pyyaml;
pub mod regex;
pub mod time;
pub mod undefined;
pub mod version;
pub mod yaql_functions;

use minijinja::value::{Value, ValueKind};
use minijinja::Environment;

/// Add StackStorm's filters (all but `decrypt_kv`) and Python's printing of values to `env`.
pub fn register(env: &mut Environment<'_>) {
    env.set_formatter(|out, _state, value| {
        out.write_str(&pystr::py_str(value))
            .map_err(minijinja::Error::from)
    });
    // Jinja2's `string` and `join` print with Python's `str()`, and fail on undefined.
    env.add_filter("string", |value: Value| {
        defined(&value)?;
        Ok::<_, minijinja::Error>(pystr::py_str(&value))
    });
    env.add_filter("join", join);
    env.add_filter("int", numbers::int);
    env.add_filter("float", numbers::float);
    env.add_filter("from_json_string", data::from_json_string);
    env.add_filter("from_yaml_string", data::from_yaml_string);
    env.add_filter("json_escape", data::json_escape);
    env.add_filter("jsonpath_query", data::jsonpath_query);
    env.add_filter("to_complex", data::to_complex);
    env.add_filter("to_json_string", data::to_json_string);
    env.add_filter("to_yaml_string", data::to_yaml_string);
    env.add_filter("use_none", data::use_none);
    env.add_filter("regex_match", regex::regex_match);
    env.add_filter("regex_replace", regex::regex_replace);
    env.add_filter("regex_search", regex::regex_search);
    env.add_filter("regex_substring", regex::regex_substring);
    env.add_filter(
        "to_human_time_from_seconds",
        time::to_human_time_from_seconds,
    );
    env.add_filter("version_compare", version::version_compare);
    env.add_filter("version_more_than", version::version_more_than);
    env.add_filter("version_less_than", version::version_less_than);
    env.add_filter("version_equal", version::version_equal);
    env.add_filter("version_match", version::version_match);
    env.add_filter("version_bump_major", version::version_bump_major);
    env.add_filter("version_bump_minor", version::version_bump_minor);
    env.add_filter("version_bump_patch", version::version_bump_patch);
    env.add_filter("version_strip_patch", version::version_strip_patch);
    env.add_filter("basename", path::basename);
    env.add_filter("dirname", path::dirname);
}

/// Jinja2's `join`: the items (characters of a string, keys of a mapping) as `str()`
/// prints them, between `d`.
fn join(
    value: Value,
    d: Option<Value>,
    kwargs: minijinja::value::Kwargs,
) -> Result<String, minijinja::Error> {
    defined(&value)?;
    let keyword: Option<Value> = kwargs.get("d")?;
    kwargs.assert_all_used()?;
    let joiner = d.or(keyword).map(|d| pystr::py_str(&d)).unwrap_or_default();
    if value.is_none() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "'NoneType' object is not iterable",
        ));
    }
    let items: Vec<String> = value.try_iter()?.map(|item| pystr::py_str(&item)).collect();
    Ok(items.join(&joiner))
}

/// Jinja2's `StrictUndefined` fails wherever a filter uses it: so do ours.
pub(crate) fn defined(value: &Value) -> Result<(), minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::from(minijinja::ErrorKind::UndefinedError));
    }
    Ok(())
}

/// Python's name for a value's type (`int`, `str`, `dict`, ...), for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use minijinja::{Environment, UndefinedBehavior};

    /// Render `template` with `context` in an environment set up as StackStorm's
    /// `get_jinja_environment()`; the error as text.
    pub(crate) fn render(template: &str, context: serde_json::Value) -> Result<String, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        super::register(&mut env);
        env.render_str(template, context)
            .map_err(|err| format!("{err:#}"))
    }

    #[test]
    fn values_print_as_jinja2_prints_them() {
        let context = serde_json::json!({"l": ["a", 1, true, null], "d": {"k": 1.0}});
        assert_eq!(
            render(
                "{{ l }} {{ d }} {{ l | string }} {{ true }}",
                context.clone()
            )
            .unwrap(),
            "['a', 1, True, None] {'k': 1.0} ['a', 1, True, None] True"
        );
        assert_eq!(
            render(
                "{{ l | join('+') }} {{ 'ab' | join(d=',') }}",
                context.clone()
            )
            .unwrap(),
            "a+1+True+None a,b"
        );
        assert!(render("{{ nope | string }}", context.clone()).is_err());
        assert!(render("{{ nope | join }}", context).is_err());
    }
}

//! Parameters of one execution: validated against the action's effective schema, then
//! completed with defaults and rendered (Jinja templates over other parameters,
//! `config_context`, `st2kv` and `action_context`), as upstream's `st2common/util/param.py`
//! does (spec `run-runners.md` §2).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::config::{self, Renderer, MASK};
use crate::schema::{self, is_template, ValidationError};

/// Why parameters were refused: one line per problem, each naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ParamErrors(pub Vec<String>);

/// Check the parameters given for a run: immutable ones overridden, unknown names, required
/// ones missing, wrong types, values outside `enum`. Templates pass (checked once rendered).
pub fn validate(
    schema: &Map<String, Value>,
    given: &Map<String, Value>,
) -> Result<(), ParamErrors> {
    let mut immutable: Vec<&String> = given
        .keys()
        .filter(|name| {
            schema
                .get(*name)
                .and_then(|property| property.get("immutable"))
                .and_then(Value::as_bool)
                == Some(true)
        })
        .collect();
    if !immutable.is_empty() {
        immutable.sort();
        let names: Vec<String> = immutable.iter().map(|name| format!("'{name}'")).collect();
        return Err(ParamErrors(vec![format!(
            "Override of immutable parameter(s) [{}] is unsupported.",
            names.join(", ")
        )]));
    }
    check(schema, &with_defaults(schema, given), true)
}

/// The given values plus the defaults of the parameters not given.
fn with_defaults(schema: &Map<String, Value>, given: &Map<String, Value>) -> Map<String, Value> {
    let mut values = given.clone();
    for (name, property) in schema {
        if let Some(default) = property.get("default") {
            values
                .entry(name.clone())
                .or_insert_with(|| default.clone());
        }
    }
    values
}

fn check(
    schema: &Map<String, Value>,
    values: &Map<String, Value>,
    templates_pass: bool,
) -> Result<(), ParamErrors> {
    let errors =
        schema::validate_parameters(schema, &Value::Object(values.clone()), templates_pass);
    if errors.is_empty() {
        return Ok(());
    }
    Err(ParamErrors(
        errors
            .iter()
            .map(|error| describe(error, schema, values))
            .collect(),
    ))
}

/// One error as one line; a secret value is masked in it.
fn describe(
    error: &ValidationError,
    schema: &Map<String, Value>,
    values: &Map<String, Value>,
) -> String {
    let required = error.message.ends_with("is a required property");
    let (Some(schema::PathItem::Key(name)), false) = (error.path.first(), required) else {
        return match suggestion(&error.message, schema) {
            Some(hint) => format!("{}; {hint}", error.message),
            None => error.message.clone(),
        };
    };
    let mut message = error.message.clone();
    if is_secret(schema, name) {
        if let Some(Value::String(text)) = values.get(name) {
            message = message.replace(
                &crate::schema::repr::py_str_repr(text),
                &format!("'{MASK}'"),
            );
        }
    }
    format!("parameter \"{}\": {message}", error.dotted_path())
}

/// "did you mean" for an unexpected parameter name.
fn suggestion(message: &str, schema: &Map<String, Value>) -> Option<String> {
    let unexpected = message.split('\'').nth(1)?;
    if !message.starts_with("Additional properties") {
        return None;
    }
    if unexpected == "cmd" {
        return Some(
            "a word without \"=\" starts a command, which this action does not take: write \
             NAME=VALUE"
                .into(),
        );
    }
    schema
        .keys()
        .map(|name| (strsim::jaro_winkler(name, unexpected), name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| format!("did you mean \"{name}\"?"))
}

fn is_secret(schema: &Map<String, Value>, name: &str) -> bool {
    schema
        .get(name)
        .and_then(|property| property.get("secret"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// What templates in parameters can refer to besides other parameters.
pub struct RenderContext<'a> {
    /// Renders templates; holds the `st2kv` datastore snapshot.
    pub renderer: &'a Renderer<'a>,
    /// The pack config, resolved (`config_context`).
    pub config: &'a Value,
    /// `action_context`: `user`, `pack`, `execution_id`.
    pub action_context: Value,
}

/// The final parameters: the given values plus defaults, every template rendered in
/// dependency order and cast to its parameter's type, then checked again. Also returns
/// warnings (templates that refer to datastore keys that do not exist).
pub fn finalize(
    schema: &Map<String, Value>,
    given: &Map<String, Value>,
    context: &RenderContext,
) -> Result<(Map<String, Value>, Vec<String>), ParamErrors> {
    let mut values = with_defaults(schema, given);
    let templated: Vec<String> = values
        .iter()
        .filter(|(_, value)| holds_template(value))
        .map(|(name, _)| name.clone())
        .collect();
    let mut warnings = Vec::new();
    if templated.is_empty() {
        return Ok((values, warnings));
    }
    let order = render_order(&templated, &values, context.renderer)?;
    for name in order {
        let mut variables = values.clone();
        variables.insert("config_context".into(), context.config.clone());
        variables.insert("action_context".into(), context.action_context.clone());
        let template = values[&name].clone();
        let property = schema.get(&name).cloned().unwrap_or(Value::Null);
        let rendered = render_value(
            &name,
            &template,
            &property,
            &variables,
            context.renderer,
            &mut warnings,
        )?;
        values.insert(name, rendered);
    }
    check(schema, &values, false)?;
    Ok((values, warnings))
}

fn holds_template(value: &Value) -> bool {
    match value {
        Value::String(text) => is_template(text),
        Value::Array(items) => items.iter().any(holds_template),
        Value::Object(map) => map.values().any(holds_template),
        _ => false,
    }
}

fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

/// Templated parameters in an order where each comes after the templated parameters it
/// uses; a cycle is an error naming its members.
fn render_order(
    templated: &[String],
    values: &Map<String, Value>,
    renderer: &Renderer,
) -> Result<Vec<String>, ParamErrors> {
    let templated_set: HashSet<&str> = templated.iter().map(String::as_str).collect();
    let mut depends: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for name in templated {
        let mut texts = Vec::new();
        strings(&values[name], &mut texts);
        let mut uses = BTreeSet::new();
        for text in texts.into_iter().filter(|text| is_template(text)) {
            let variables = renderer.variables_of(text).map_err(|reason| {
                ParamErrors(vec![format!(
                    "parameter \"{name}\": invalid template: {reason}"
                )])
            })?;
            for variable in variables {
                if let Some(used) = templated_set.get(variable.as_str()) {
                    uses.insert(*used);
                }
            }
        }
        depends.insert(name, uses);
    }
    let mut order = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    while order.len() < templated.len() {
        let ready: Vec<&str> = depends
            .iter()
            .filter(|(name, uses)| {
                !done.contains(*name) && uses.iter().all(|used| done.contains(used))
            })
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = depends
                .keys()
                .filter(|name| !done.contains(*name))
                .copied()
                .collect();
            return Err(ParamErrors(vec![format!(
                "Cyclic dependency found in the following variables: {}. Check the templates \
                 of these parameters for circular references.",
                stuck.join(", ")
            )]));
        }
        for name in ready {
            done.insert(name);
            order.push(name.to_string());
        }
    }
    Ok(order)
}

fn render_value(
    name: &str,
    value: &Value,
    property: &Value,
    variables: &Map<String, Value>,
    renderer: &Renderer,
    warnings: &mut Vec<String>,
) -> Result<Value, ParamErrors> {
    let fail = |reason: String| ParamErrors(vec![format!("parameter \"{name}\": {reason}")]);
    match value {
        Value::String(text) if is_template(text) => {
            let (rendered, missing) = renderer.render(text, variables).map_err(|reason| {
                fail(format!(
                    "cannot render {}: {reason}",
                    shown(name, text, property)
                ))
            })?;
            if !missing.is_empty() {
                let message = format!(
                    "refers to datastore {} {} that {} not exist",
                    if missing.len() == 1 { "key" } else { "keys" },
                    missing.join(", "),
                    if missing.len() == 1 { "does" } else { "do" }
                );
                if property.get("required").and_then(Value::as_bool) == Some(true) {
                    return Err(fail(format!("{message}; set it with `st2 key set`")));
                }
                warnings.push(format!("parameter \"{name}\" {message}; it renders empty"));
            }
            let kind = property
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("string");
            if rendered.is_empty() && kind != "string" {
                return Ok(Value::Null);
            }
            config::cast(&rendered, property).map_err(|expected| {
                fail(format!(
                    "the template rendered to {} which is not {expected}",
                    shown(name, &rendered, property)
                ))
            })
        }
        Value::Array(items) => items
            .iter()
            .map(|item| render_value(name, item, &Value::Null, variables, renderer, warnings))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| {
                render_value(name, item, &Value::Null, variables, renderer, warnings)
                    .map(|rendered| (key.clone(), rendered))
            })
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn shown(_name: &str, text: &str, property: &Value) -> String {
    if property.get("secret").and_then(Value::as_bool) == Some(true) {
        format!("'{MASK}'")
    } else {
        crate::schema::repr::py_str_repr(text)
    }
}

/// A copy of `values` with the parameters marked `secret` replaced by [`MASK`] (what the
/// execution record and its output show).
pub fn mask(schema: &Map<String, Value>, values: &Map<String, Value>) -> Map<String, Value> {
    values
        .iter()
        .map(|(name, value)| {
            let value = if is_secret(schema, name) && !value.is_null() {
                Value::String(MASK.into())
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeySnapshot;
    use serde_json::json;
    use std::sync::Arc;

    fn schema(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn given(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn local() -> Map<String, Value> {
        crate::action::lookup(None, "core.local").unwrap().schema()
    }

    #[test]
    fn refuses_bad_parameters_with_one_line_each() {
        let errors = validate(&local(), &given(json!({"cmd": "x", "sudo": true}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["Override of immutable parameter(s) ['sudo'] is unsupported."]
        );
        let errors = validate(&local(), &given(json!({"cmdd": "x"}))).unwrap_err();
        assert_eq!(
            errors.0,
            [
                "'cmd' is a required property",
                "Additional properties are not allowed ('cmdd' was unexpected); did you mean \"cmd\"?",
            ]
        );
        let errors =
            validate(&local(), &given(json!({"cmd": "x", "timeout": "soon"}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"timeout\": 'soon' is not of type 'integer'"]
        );
        let uuid = crate::action::lookup(None, "core.uuid").unwrap().schema();
        let errors = validate(&uuid, &given(json!({"uuid_type": "uuid7"}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"uuid_type\": 'uuid7' is not one of ['uuid1', 'uuid4']"]
        );
        assert!(validate(&local(), &given(json!({"cmd": "{{ st2kv.system.x }}"}))).is_ok());
        // An action without parameters (noop) takes anything, as upstream.
        let noop = crate::action::lookup(None, "core.noop").unwrap().schema();
        assert!(validate(&noop, &given(json!({"anything": 1}))).is_ok());
    }

    #[test]
    fn secret_values_are_masked_in_errors_and_records() {
        let schema = schema(json!({"token": {"type": "integer", "secret": true}}));
        let errors = validate(&schema, &given(json!({"token": "hunter2"}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"token\": '********' is not of type 'integer', 'null'"]
        );
        assert_eq!(
            Value::Object(mask(&schema, &given(json!({"token": "hunter2", "x": 1})))),
            json!({"token": "********", "x": 1})
        );
    }

    fn render(
        schema_value: Value,
        given_value: Value,
    ) -> Result<(Map<String, Value>, Vec<String>), ParamErrors> {
        let snapshot = KeySnapshot::new(
            vec![crate::store::KeyRecord {
                scope: crate::store::KeyScope::System,
                name: "greeting".into(),
                value: "hello".into(),
                secret: false,
                expire_at: None,
                updated_at: String::new(),
            }],
            Arc::new(|_: &str, _: &str| Err("no key".to_string())),
        );
        let renderer = Renderer::new("p", "stanley", &snapshot);
        let context = RenderContext {
            renderer: &renderer,
            config: &json!({"port": 8080}),
            action_context: json!({"user": "stanley"}),
        };
        finalize(&schema(schema_value), &given(given_value), &context)
    }

    #[test]
    fn renders_templates_in_dependency_order_and_casts() {
        let (values, warnings) = render(
            json!({
                "cmd": {"type": "string", "default": "echo \"{{message}}\""},
                "message": {"type": "string", "default": "{{ st2kv.system.greeting }} {{ who }}"},
                "who": {"type": "string"},
                "port": {"type": "integer", "default": "{{ config_context.port }}"},
                "by": {"type": "string", "default": "{{ action_context.user }}"},
                "list": {"type": "array", "default": ["{{ who }}", 1]},
            }),
            json!({"who": "world"}),
        )
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            Value::Object(values),
            json!({"who": "world", "cmd": "echo \"hello world\"", "message": "hello world",
                   "port": 8080, "by": "stanley", "list": ["world", 1]})
        );
    }

    #[test]
    fn cycles_and_bad_renders_are_errors() {
        let err = render(
            json!({"a": {"type": "string", "default": "{{ b }}"},
                   "b": {"type": "string", "default": "{{ a }}"}}),
            json!({}),
        )
        .unwrap_err();
        assert!(err.0[0].starts_with("Cyclic dependency found in the following variables: a, b"));
        let err = render(
            json!({"n": {"type": "integer", "default": "{{ config_context.missing }}"}}),
            json!({}),
        )
        .unwrap_err();
        assert!(
            err.0[0].starts_with("parameter \"n\": cannot render"),
            "{:?}",
            err
        );
        let err = render(
            json!({"n": {"type": "integer", "default": "x{{ config_context.port }}"}}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            ["parameter \"n\": the template rendered to 'x8080' which is not an integer"]
        );
        let (_, warnings) = render(
            json!({"s": {"type": "string", "default": "{{ st2kv.system.nope }}"}}),
            json!({}),
        )
        .unwrap();
        assert_eq!(
            warnings,
            ["parameter \"s\" refers to datastore key st2kv.system.nope that does not exist; it renders empty"]
        );
    }
}

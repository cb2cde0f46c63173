//! Parameters of one execution, as StackStorm 3.9.0 computes them
//! (`st2common/st2common/util/param.py`, spec `run-runners.md` §2):
//!
//! 1. [`render_live`] (`render_live_params`): the given values and the defaults, Jinja
//!    templates rendered in dependency order over each other, `config_context`, `st2kv` and
//!    `action_context`, each cast to its type ([`crate::casts`]). The *live* parameters are
//!    the given ones plus those whose default is a template: what the execution records.
//! 2. [`validate`]: the live parameters with their defaults against the action's schema
//!    (unknown, required, type, enum), then overrides of immutable parameters.
//! 3. [`render_final`] (`render_final_params`): every declared parameter, runner's and
//!    action's, `null` when it has no value; what the runner and the action get.
//!
//! Rendering keeps types: a template that is a whole value (`"{{ a }}"`) inside an object or
//! an array gives the value itself (upstream's `to_complex` rewrite); a value that is not a
//! valid template (`"{{a"`) is plain text. Messages are upstream's (`Failed to render
//! parameter "a2": ...`, `Dependency unsatisfied in variable "x"`, `Cyclic dependency found
//! in the following variables: ...`) or one line naming the parameter.
//!
//! The dependency graph and its rendering are in `params/graph.rs`, the checks against the
//! schema in `params/validate.rs`.
//!
//! Where we differ on purpose: a value given for a parameter wins over its default even
//! when both are templates (upstream renders the default then: the `is_none` test of
//! `_process_defaults` sees no `value` on a template node); a cycle names every parameter
//! in it (upstream names one per cycle, picked by set order, which varies between runs);
//! a template that refers to a datastore key that does not exist gives a warning (an
//! error for a required parameter) instead of silently rendering empty.

use std::collections::HashSet;

use serde_json::{Map, Value};

mod graph;
mod validate;

use graph::Graph;
pub(crate) use validate::validate;
use validate::{check, is_required};

use crate::casts;
use crate::config::{Renderer, MASK};
use crate::schema::{self, is_template};

/// Why parameters were refused: one line per problem, each naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub(crate) struct ParamErrors(pub Vec<String>);

impl ParamErrors {
    fn one(message: impl Into<String>) -> ParamErrors {
        ParamErrors(vec![message.into()])
    }
}

/// An action's parameter schemas as upstream keeps them: the runner's and the action's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schemas<'a> {
    /// The runner type's `runner_parameters`.
    pub runner: &'a Map<String, Value>,
    /// The action's `parameters`.
    pub action: &'a Map<String, Value>,
}

impl Schemas<'_> {
    /// `[action_parameters, runner_parameters]`, the order upstream walks them.
    fn in_order(&self) -> [&Map<String, Value>; 2] {
        [self.action, self.runner]
    }

    /// The schema a value is cast with: the runner's when the runner declares the name,
    /// else the action's (`_cast_params_from` keeps the last match).
    fn cast_schema(&self, name: &str) -> Option<&Value> {
        self.runner.get(name).or_else(|| self.action.get(name))
    }

    fn declares(&self, name: &str) -> bool {
        self.runner.contains_key(name) || self.action.contains_key(name)
    }
}

/// What templates in parameters can refer to besides other parameters.
pub(crate) struct RenderContext<'a> {
    /// Renders templates; holds the `st2kv` datastore snapshot.
    pub renderer: &'a Renderer<'a>,
    /// The pack config, resolved (`config_context`).
    pub config: &'a Value,
    /// `action_context`: `user`, `pack`, `api_user`.
    pub action_context: Value,
}

/// The parameters of a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    /// The live parameters (what the execution records; secrets not yet masked).
    pub live: Map<String, Value>,
    /// Every declared parameter with its final value (`null` when it has none).
    pub parameters: Map<String, Value>,
    /// Templates that referred to datastore keys that do not exist.
    pub warnings: Vec<String>,
}

/// Render, check and complete the parameters `given` for a run: [`render_live`],
/// [`validate`], [`render_final`].
pub(crate) fn prepare(
    schemas: Schemas,
    schema: &Map<String, Value>,
    given: &Map<String, Value>,
    context: &RenderContext,
) -> Result<Rendered, ParamErrors> {
    let mut warnings = Vec::new();
    let live = render_live(schemas, given, context, &mut warnings)?;
    validate(schemas, schema, &live)?;
    let parameters = render_final(schemas, &live, context, &mut warnings)?;
    // Upstream does not check the final values again; we do, for values only the final
    // rendering makes (immutable template defaults), leaving unset optional ones alone.
    let set: Map<String, Value> = parameters
        .iter()
        .filter(|(name, value)| !value.is_null() || is_required(schema, name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    check(schema, &set, false)?;
    let mut seen = HashSet::new();
    warnings.retain(|warning| seen.insert(warning.clone()));
    Ok(Rendered {
        live,
        parameters,
        warnings,
    })
}

fn is_secret(property: Option<&Value>) -> bool {
    property
        .and_then(|property| property.get("secret"))
        .is_some_and(schema::validator::truthy)
}

/// `render_live_params`: the given parameters and the ones whose default is a template,
/// rendered and cast.
pub(crate) fn render_live(
    schemas: Schemas,
    given: &Map<String, Value>,
    context: &RenderContext,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, ParamErrors> {
    let mut graph = Graph::new(context);
    for (name, value) in given {
        graph.process(name, value, context.renderer);
    }
    graph.process_defaults(schemas, context.renderer);
    graph.validate()?;
    let resolved = graph.resolve(schemas, context, warnings)?;
    let mut live = Map::new();
    for name in given.keys() {
        let value = resolved.get(name).cloned().unwrap_or(Value::Null);
        live.insert(
            name.clone(),
            cast(schemas, name, value, &resolved.rendered)?,
        );
    }
    for parameters in schemas.in_order() {
        for (name, property) in parameters {
            let Some(default) = property.get("default") else {
                continue;
            };
            let immutable = property
                .get("immutable")
                .is_some_and(schema::validator::truthy);
            let current = resolved.get(name).unwrap_or(&Value::Null);
            let template_default = default.as_str().is_some_and(is_template);
            if immutable || default == current || !template_default || given.contains_key(name) {
                continue;
            }
            let value = cast_with(name, current.clone(), property, &resolved.rendered)?;
            live.insert(name.clone(), value);
        }
    }
    Ok(live)
}

/// `render_final_params`: every declared parameter (runner's first, then the action's own),
/// from the live values and the defaults, cast; `null` when it has no value.
pub(crate) fn render_final(
    schemas: Schemas,
    live: &Map<String, Value>,
    context: &RenderContext,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, ParamErrors> {
    let mut graph = Graph::new(context);
    for (name, value) in live {
        graph.set_value(name, value.clone());
    }
    graph.process_defaults(schemas, context.renderer);
    graph.validate()?;
    let resolved = graph.resolve(schemas, context, warnings)?;
    let mut runner = Map::new();
    let mut action = Map::new();
    for (name, value) in &resolved.values {
        if !schemas.declares(name) {
            continue;
        }
        let value = cast(schemas, name, value.clone(), &resolved.rendered)?;
        if schemas.runner.contains_key(name) {
            runner.insert(name.clone(), value);
        } else {
            action.insert(name.clone(), value);
        }
    }
    runner.extend(action);
    Ok(runner)
}

fn cast(
    schemas: Schemas,
    name: &str,
    value: Value,
    rendered: &HashSet<String>,
) -> Result<Value, ParamErrors> {
    match schemas.cast_schema(name) {
        Some(property) => cast_with(name, value, property, rendered),
        None => Ok(value),
    }
}

/// `_cast`: by the property's `type`; the error names the parameter and, for a rendered
/// template, says so.
fn cast_with(
    name: &str,
    value: Value,
    property: &Value,
    rendered: &HashSet<String>,
) -> Result<Value, ParamErrors> {
    let Some(kind) = property.get("type").and_then(Value::as_str) else {
        return Ok(value);
    };
    casts::cast(value.clone(), kind).map_err(|reason| {
        let shown = if is_secret(Some(property)) {
            format!("'{MASK}'")
        } else {
            match &value {
                Value::String(text) => crate::schema::repr::py_str_repr(text),
                other => crate::schema::repr::py_repr(other),
            }
        };
        let expected = match kind {
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "a boolean",
            "array" => "an array",
            "object" => "an object",
            _ => "a string",
        };
        let what = if rendered.contains(name) {
            format!("the template rendered to {shown}")
        } else {
            shown
        };
        let reason = if is_secret(Some(property)) {
            String::new()
        } else {
            format!(" ({reason})")
        };
        ParamErrors::one(format!(
            "parameter \"{name}\": {what} which is not {expected}{reason}"
        ))
    })
}

/// A copy of `values` with the parameters marked `secret` replaced by [`MASK`] (what the
/// execution record and its output show).
pub(crate) fn mask(schema: &Map<String, Value>, values: &Map<String, Value>) -> Map<String, Value> {
    values
        .iter()
        .map(|(name, value)| {
            let value = if is_secret(schema.get(name)) && !value.is_null() {
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

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn snapshot() -> KeySnapshot {
        KeySnapshot::new(
            vec![
                crate::store::KeyRecord {
                    scope: crate::store::KeyScope::System,
                    name: "greeting".into(),
                    value: "hello".into(),
                    secret: false,
                    expire_at: None,
                    updated_at: String::new(),
                },
                crate::store::KeyRecord {
                    scope: crate::store::KeyScope::System,
                    name: "actionnumber".into(),
                    value: "1.0".into(),
                    secret: false,
                    expire_at: None,
                    updated_at: String::new(),
                },
            ],
            Arc::new(|_: &str, _: &str| Err("no key".to_string())),
        )
    }

    /// Live parameters, then the final runner and action parameters.
    type Finalized = (Map<String, Value>, Map<String, Value>, Map<String, Value>);

    /// `get_finalized_params(runner, action, params, action_context)`: the live parameters
    /// and the final ones split as upstream splits them (runner's, action's).
    fn finalized(
        runner: Value,
        action: Value,
        given: Value,
        action_context: Value,
    ) -> Result<Finalized, ParamErrors> {
        let (runner, action, given) = (map(runner), map(action), map(given));
        let snapshot = snapshot();
        let renderer = Renderer::new("p", "stanley", &snapshot);
        let context = RenderContext {
            renderer: &renderer,
            config: &json!({"port": 8080}),
            action_context,
        };
        let schemas = Schemas {
            runner: &runner,
            action: &action,
        };
        let mut warnings = Vec::new();
        let live = render_live(schemas, &given, &context, &mut warnings)?;
        let all = render_final(schemas, &live, &context, &mut warnings)?;
        let (runner_values, action_values) = all
            .into_iter()
            .partition::<Map<String, Value>, _>(|(name, _)| runner.contains_key(name));
        Ok((live, runner_values, action_values))
    }

    fn split(runner: Value, action: Value, given: Value, action_context: Value) -> (Value, Value) {
        let (_, runner, action) = finalized(runner, action, given, action_context).unwrap();
        (Value::Object(runner), Value::Object(action))
    }

    fn error(runner: Value, action: Value, given: Value) -> String {
        finalized(runner, action, given, json!({"user": null}))
            .unwrap_err()
            .to_string()
    }

    // The cases of StackStorm's `st2common/tests/unit/test_param_utils.py` at the level of
    // `get_finalized_params`, with upstream's inputs and expectations unchanged (the
    // integration tests in `tests/it/upstream_param_utils.rs` show them through `st2 run`).

    #[test]
    fn test_get_finalized_params_empty() {
        assert_eq!(
            split(json!({}), json!({}), json!({}), json!({"user": null})),
            (json!({}), json!({}))
        );
    }

    #[test]
    fn test_get_finalized_params_none() {
        assert_eq!(
            split(
                json!({"r1": {}}),
                json!({"a1": {}}),
                json!({"r1": null, "a1": null}),
                json!({"api_user": null})
            ),
            (json!({"r1": null}), json!({"a1": null}))
        );
    }

    #[test]
    fn test_get_finalized_params_no_cast() {
        assert_eq!(
            split(
                json!({"r1": {}, "r2": {}}),
                json!({"a1": {}, "a2": {}, "a3": {}}),
                json!({"r1": "{{r2}}", "r2": 1, "a1": true, "a2": "{{r1}} {{a1}}",
                       "a3": "{{action_context.api_user}}"}),
                json!({"api_user": "noob"})
            ),
            (
                json!({"r1": "1", "r2": 1}),
                json!({"a1": true, "a2": "1 True", "a3": "noob"})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_with_cast() {
        assert_eq!(
            split(
                json!({"r1": {"type": "integer"}, "r2": {"type": "integer"}}),
                json!({"a1": {"type": "boolean"}, "a2": {"type": "boolean"}, "a3": {}}),
                json!({"r1": "{{r2}}", "r2": 1, "a1": true, "a2": "{{a1}}",
                       "a3": "{{action_context.api_user}}"}),
                json!({"api_user": "noob"})
            ),
            (
                json!({"r1": 1, "r2": 1}),
                json!({"a1": true, "a2": true, "a3": "noob"})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_with_cast_overridden() {
        assert_eq!(
            split(
                json!({"r1": {"type": "integer"}, "r2": {"type": "integer"}}),
                json!({"a1": {"type": "boolean"}, "a2": {"type": "string"},
                       "a3": {"type": "integer"}, "r1": {"type": "string"}}),
                json!({"r1": "{{r2}}", "r2": 1, "a1": "{{r1}}", "a2": "{{r1}}", "a3": "{{r1}}"}),
                json!({"api_user": "noob"})
            ),
            (
                json!({"r1": 1, "r2": 1}),
                json!({"a1": 1, "a2": "1", "a3": 1})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_cross_talk_no_cast() {
        assert_eq!(
            split(
                json!({"r1": {}, "r2": {}}),
                json!({"a1": {}, "a2": {}, "a3": {}}),
                json!({"r1": "{{a1}}", "r2": 1, "a1": true, "a2": "{{r1}} {{a1}}",
                       "a3": "{{action_context.api_user}}"}),
                json!({"api_user": "noob"})
            ),
            (
                json!({"r1": "True", "r2": 1}),
                json!({"a1": true, "a2": "True True", "a3": "noob"})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_cross_talk_with_cast() {
        assert_eq!(
            split(
                json!({"r1": {"type": "boolean"}, "r2": {"type": "integer"}, "r3": {}}),
                json!({"a1": {"type": "boolean"}, "a2": {"type": "array"}, "a3": {}}),
                json!({"r1": "{{a1}}", "r2": 1, "r3": 1, "a1": true,
                       "a2": "{{r1}},{{a1}},{{a3}},{{r3}}", "a3": "{{a1}}"}),
                json!({"user": null})
            ),
            (
                json!({"r1": true, "r2": 1, "r3": 1}),
                json!({"a1": true, "a2": [true, true, true, 1], "a3": "True"})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_order() {
        let runner = json!({"r1": {}, "r2": {"default": "r2"}, "r3": {"default": "r3"}});
        let action = json!({"a1": {}, "a2": {"default": "a2"}, "r3": {"default": "a3"}});
        assert_eq!(
            split(
                runner.clone(),
                action.clone(),
                json!({"r1": "p1", "r2": "p2", "r3": "p3", "a1": "p4", "a2": "p5"}),
                json!({"api_user": "noob"})
            ),
            (
                json!({"r1": "p1", "r2": "p2", "r3": "p3"}),
                json!({"a1": "p4", "a2": "p5"})
            )
        );
        assert_eq!(
            split(runner, action, json!({}), json!({"api_user": "noob"})),
            (
                json!({"r1": null, "r2": "r2", "r3": "a3"}),
                json!({"a1": null, "a2": "a2"})
            )
        );
        let (runner_values, _) = split(
            json!({"r1": {}, "r2": {"default": "r2"}, "r3": {}}),
            json!({"r1": {}, "r2": {}, "r3": {"default": "a3"}}),
            json!({}),
            json!({"api_user": "noob"}),
        );
        assert_eq!(runner_values, json!({"r1": null, "r2": "r2", "r3": "a3"}));
    }

    #[test]
    fn test_get_finalized_params_non_existent_template_key_in_action_context() {
        let err = finalized(
            json!({"r1": {"type": "string"}, "r2": {"type": "integer"}}),
            json!({"a1": {"type": "string"}, "a2": {"type": "string"}}),
            json!({"r1": "foo", "r2": 2, "a1": "i love tests",
                   "a2": "{{action_context.lorem_ipsum}}"}),
            json!({"api_user": "noob", "source_channel": "reddit"}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to render parameter \"a2\": 'dict object' has no attribute 'lorem_ipsum'"
        );
    }

    #[test]
    fn test_get_finalized_params_with_casting_unicode_values() {
        let value = "unicode1 \u{669}(\u{33e}\u{25cf}\u{32e}\u{32e}\u{303}\u{33e}\u{2022}\u{303}\u{33e})\u{6f6} unicode2";
        assert_eq!(
            split(
                json!({}),
                json!({"a1": {"type": "string"}}),
                json!({ "a1": value }),
                json!({"user": null})
            ),
            (json!({}), json!({ "a1": value }))
        );
    }

    #[test]
    fn test_get_finalized_params_with_dict() {
        assert_eq!(
            split(
                json!({"r1": {"type": "object"}, "r2": {"type": "object"}}),
                json!({"a1": {"type": "boolean"}, "a2": {"type": "boolean"},
                       "a3": {"type": "object"}, "a4": {"type": "integer"},
                       "a5": {"type": "array"}}),
                json!({"r1": "{{r2}}", "r2": {"r2.1": 1}, "a1": true, "a2": "{{a1}}",
                       "a3": {"test": "{{a1}}", "test1": "{{a4}}", "test2": "{{a5}}"},
                       "a4": 3, "a5": ["1", "{{a1}}"]}),
                json!({"user": null})
            ),
            (
                json!({"r1": {"r2.1": 1}, "r2": {"r2.1": 1}}),
                json!({"a1": true, "a2": true,
                       "a3": {"test": true, "test1": 3, "test2": ["1", true]},
                       "a4": 3, "a5": ["1", true]})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_with_list() {
        assert_eq!(
            split(
                json!({"r1": {"type": "array"}, "r2": {"type": "array"}}),
                json!({"a1": {"type": "boolean"}, "a2": {"type": "string"},
                       "a3": {"type": "string"}, "a4": {"type": "boolean"},
                       "a5": {"type": "array"}, "a6": {"type": "array"},
                       "a7": {"type": "integer"}}),
                json!({"r1": "{{r2}}", "r2": ["1", "2"], "a1": true, "a2": "Test",
                       "a3": "Test2", "a4": "{{a1}}", "a5": ["{{a2}}", "{{a3}}"],
                       "a6": [["{{r2}}", "{{a2}}"], ["{{a3}}", "{{a1}}"],
                              ["{{a7}}", "This should be rendered as a string {{a1}}",
                               "{{a1}} This, too, should be rendered as a string {{a1}}"]],
                       "a7": 5}),
                json!({"user": null})
            ),
            (
                json!({"r1": ["1", "2"], "r2": ["1", "2"]}),
                json!({"a1": true, "a2": "Test", "a3": "Test2", "a4": true,
                       "a5": ["Test", "Test2"],
                       "a6": [[["1", "2"], "Test"], ["Test2", true],
                              [5, "This should be rendered as a string True",
                               "True This, too, should be rendered as a string True"]],
                       "a7": 5})
            )
        );
    }

    #[test]
    fn test_get_finalized_params_with_cyclic_dependency() {
        let err = error(
            json!({"r1": {}, "r2": {}}),
            json!({}),
            json!({"r1": "{{r2}}", "r2": "{{r1}}"}),
        );
        assert!(err.starts_with("Cyclic"), "{err}");
    }

    #[test]
    fn test_get_finalized_params_with_missing_dependency() {
        let err = error(
            json!({"r1": {}, "r2": {}}),
            json!({}),
            json!({"r1": "{{r3}}", "r2": "{{r3}}"}),
        );
        assert_eq!(err, "Dependency unsatisfied in variable \"r3\"");
        let err = error(
            json!({"r1": {"default": "{{r3}}"}, "r2": {"default": "{{r3}}"}}),
            json!({}),
            json!({}),
        );
        assert!(err.starts_with("Dependency"), "{err}");
    }

    #[test]
    fn test_get_finalized_params_no_double_rendering() {
        assert_eq!(
            split(
                json!({"r1": {}}),
                json!({}),
                json!({"r1": "{{ action_context.h1 }}{{ action_context.h2 }}"}),
                json!({"h1": "{", "h2": "{ missing }}", "user": null})
            ),
            (json!({"r1": "{{ missing }}"}), json!({}))
        );
    }

    #[test]
    fn test_get_finalized_params_jinja_filters() {
        let (_, action) = split(
            json!({"r1": {}}),
            json!({"cmd": {}}),
            json!({"cmd": "echo {{\"1.6.0\" | version_bump_minor}}"}),
            json!({"user": null}),
        );
        assert_eq!(action["cmd"], "echo 1.7.0");
    }

    #[test]
    fn render_errors_read_as_jinja2_reports_them() {
        let err = error(
            json!({}),
            json!({"c": {}}),
            json!({"c": "{{ 'a' | nosuch }}"}),
        );
        assert_eq!(
            err,
            "Failed to render parameter \"c\": No filter named 'nosuch'."
        );
        let err = error(
            json!({}),
            json!({"c": {}}),
            json!({"c": "{{ '1.2' | version_bump_minor }}"}),
        );
        assert_eq!(
            err,
            "Failed to render parameter \"c\": 1.2 is not valid SemVer string"
        );
    }

    #[test]
    fn test_get_finalized_params_param_rendering_failure() {
        let err = error(
            json!({}),
            json!({"cmd": {}, "a2": {}}),
            json!({"cmd": "{{a2.foo}}", "a2": "test"}),
        );
        assert_eq!(
            err,
            "Failed to render parameter \"cmd\": 'str object' has no attribute 'foo'"
        );
    }

    #[test]
    fn test_get_finalized_param_object_contains_template_notation_in_the_value() {
        let (live, _, action) = finalized(
            json!({"r1": {}}),
            json!({"params": {"type": "object",
                   "default": {"host": "{{host}}", "port": "{{port}}", "path": "/bar"}}}),
            json!({"host": "lolcathost", "port": 5555}),
            json!({"user": null}),
        )
        .unwrap();
        assert_eq!(
            action["params"],
            json!({"host": "lolcathost", "port": 5555, "path": "/bar"})
        );
        // An object default is not a template default of the live parameters.
        assert_eq!(
            Value::Object(live),
            json!({"host": "lolcathost", "port": 5555})
        );
    }

    #[test]
    fn test_process_jinja_exception() {
        let (_, action) = split(
            json!({}),
            json!({"a1": {}}),
            json!({"a1": {"test": "http://someurl?value={{a"}}),
            json!({"api_user": "noob"}),
        );
        assert_eq!(action["a1"], json!({"test": "http://someurl?value={{a"}));
    }

    #[test]
    fn test_process_jinja_template() {
        let (_, action) = split(
            json!({}),
            json!({"a": {}, "a1": {}}),
            json!({"a": "x", "a1": "http://someurl?value={{a}}"}),
            json!({"api_user": "noob"}),
        );
        assert_eq!(action["a1"], "http://someurl?value=x");
    }

    #[test]
    fn test_cyclic_dependency_friendly_error_message() {
        let err = error(
            json!({"r1": {"default": "some", "cyclic": "cyclic value", "morecyclic": "cyclic value"}}),
            json!({"r2": {"default": "{{ r1 }}"}}),
            json!({"r3": "lolcathost", "cyclic": "{{ cyclic }}", "morecyclic": "{{ morecyclic }}"}),
        );
        assert!(
            err.starts_with(
                "Cyclic dependency found in the following variables: cyclic, morecyclic"
            ),
            "{err}"
        );
    }

    #[test]
    fn test_unsatisfied_dependency_friendly_error_message() {
        let err = error(
            json!({"r1": {"default": "some"}}),
            json!({"r2": {"default": "{{ r1 }}"}}),
            json!({"r3": "lolcathost", "r4": "{{ variable_not_defined }}"}),
        );
        assert_eq!(
            err,
            "Dependency unsatisfied in variable \"variable_not_defined\""
        );
    }

    #[test]
    fn test_add_default_templates_to_live_params() {
        let live = |schema: Value, given: Value| {
            finalized(json!({}), schema, given, json!({"user": null}))
                .unwrap()
                .0
        };
        // Immutable: never live.
        let schema = json!({"templateparam": {"default": "{{ 3 | int }}", "type": "integer", "immutable": true}});
        assert_eq!(Value::Object(live(schema, json!({}))), json!({}));
        // A template default is live, cast.
        let schema = json!({"templateparam": {"default": "{{ 3 | int }}", "type": "integer"}});
        assert_eq!(
            Value::Object(live(schema.clone(), json!({}))),
            json!({"templateparam": 3})
        );
        // Plain defaults and no default: not live.
        let schema = json!({"nottemplateparam": {"default": "4", "type": "integer"}, "x": {"type": "integer"}});
        assert_eq!(Value::Object(live(schema, json!({}))), json!({}));
        // Given: the given value, cast.
        assert_eq!(
            Value::Object(live(
                json!({"templateparam": {"default": "{{ 3 | int }}", "type": "integer"}}),
                json!({"templateparam": "4"})
            )),
            json!({"templateparam": 4})
        );
    }

    #[test]
    fn test_render_final_params_and_shell_script_action_command_strings() {
        let action = json!({
            "project": {"type": "string", "default": "st2", "position": 0},
            "version": {"type": "string", "position": 1, "required": true},
            "fork": {"type": "string", "position": 2, "default": "StackStorm"},
            "branch": {"type": "string", "position": 3, "default": "master"},
            "update_changelog": {"type": "boolean", "position": 4, "default": false},
            "local_repo": {"type": "string", "position": 5},
        });
        let (_, action_values) = split(
            json!({}),
            action.clone(),
            json!({"project": "st2flow", "version": "3.0.0", "fork": "StackStorm",
                   "local_repo": "/tmp/repo"}),
            json!({}),
        );
        assert_eq!(
            action_values,
            json!({"project": "st2flow", "version": "3.0.0", "fork": "StackStorm",
                   "branch": "master", "update_changelog": false, "local_repo": "/tmp/repo"})
        );
        let (_, action_values) = split(
            json!({}),
            action.clone(),
            json!({"project": "st2rbac", "version": "3.2.0", "fork": "StackStorm2",
                   "update_changelog": null, "local_repo": "/tmp/repoc"}),
            json!({}),
        );
        assert_eq!(action_values["update_changelog"], false);
    }

    #[test]
    fn test_get_finalized_params_system_values() {
        let (_, _, action) = finalized(
            json!({"runnerint": {"type": "number"}}),
            json!({"actionnumber": {"default": "{{st2kv.system.actionnumber}}", "type": "number"},
                   "actionstr": {"default": "{{st2kv.system.greeting}}", "type": "string"}}),
            json!({"runnerint": 555}),
            json!({"api_user": "noob"}),
        )
        .unwrap();
        assert_eq!(action["actionstr"], "hello");
        assert_eq!(action["actionnumber"], json!(1.0));
    }

    #[test]
    fn given_templates_win_over_template_defaults() {
        // [fix] upstream renders the default's template here ("A").
        let (_, action) = split(
            json!({}),
            json!({"g": {"type": "string", "default": "{{ a }}"}, "a": {"default": "A"},
                   "b": {"default": "B"}}),
            json!({"g": "{{ b }}"}),
            json!({"user": null}),
        );
        assert_eq!(action["g"], "B");
    }

    #[test]
    fn cast_errors_and_missing_keys_name_the_parameter() {
        let err = error(
            json!({}),
            json!({"n": {"type": "integer", "default": "x{{ config_context.port }}"}}),
            json!({}),
        );
        assert_eq!(
            err,
            "parameter \"n\": the template rendered to 'x8080' which is not an integer \
             (invalid literal for int() with base 10: 'x8080')"
        );
        let (live, _, _) = finalized(
            json!({}),
            json!({"s": {"type": "string", "default": "{{ st2kv.system.nope }}"}}),
            json!({}),
            json!({"user": null}),
        )
        .unwrap();
        assert_eq!(live["s"], "");
    }

    fn local() -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
        let action = crate::action::lookup(None, "core.local").unwrap();
        let runner = crate::runner::parameters("local-shell-cmd")
            .cloned()
            .unwrap();
        let own = map(action.record.parameters.clone());
        (runner, own, action.schema())
    }

    #[test]
    fn refuses_bad_parameters_with_one_line_each() {
        let (runner, own, schema) = local();
        let schemas = Schemas {
            runner: &runner,
            action: &own,
        };
        let errors =
            validate(schemas, &schema, &map(json!({"cmd": "x", "sudo": true}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["Override of immutable parameter(s) ['sudo'] is unsupported."]
        );
        let errors = validate(schemas, &schema, &map(json!({"cmdd": "x"}))).unwrap_err();
        assert_eq!(
            errors.0,
            [
                "'cmd' is a required property",
                "Additional properties are not allowed ('cmdd' was unexpected); did you mean \"cmd\"?",
            ]
        );
        let errors = validate(
            schemas,
            &schema,
            &map(json!({"cmd": "x", "timeout": "soon"})),
        )
        .unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"timeout\": 'soon' is not of type 'integer'"]
        );
        let uuid = crate::action::lookup(None, "core.uuid").unwrap();
        let uuid_own = map(uuid.record.parameters.clone());
        let errors = validate(
            Schemas {
                runner: &Map::new(),
                action: &uuid_own,
            },
            &uuid.schema(),
            &map(json!({"uuid_type": "uuid7"})),
        )
        .unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"uuid_type\": 'uuid7' is not one of ['uuid1', 'uuid4']"]
        );
        // An action without parameters (noop) takes anything, as upstream.
        let noop = crate::action::lookup(None, "core.noop").unwrap().schema();
        assert!(validate(
            Schemas {
                runner: &Map::new(),
                action: &Map::new()
            },
            &noop,
            &map(json!({"anything": 1}))
        )
        .is_ok());
    }

    #[test]
    fn secret_values_are_masked_in_errors_and_records() {
        let schema = map(json!({"token": {"type": "integer", "secret": true}}));
        let schemas = Schemas {
            runner: &Map::new(),
            action: &schema,
        };
        let errors = validate(schemas, &schema, &map(json!({"token": "hunter2"}))).unwrap_err();
        assert_eq!(
            errors.0,
            ["parameter \"token\": '********' is not of type 'integer', 'null'"]
        );
        assert_eq!(
            Value::Object(mask(&schema, &map(json!({"token": "hunter2", "x": 1})))),
            json!({"token": "********", "x": 1})
        );
        let err = error(
            json!({}),
            json!({"pin": {"type": "integer", "secret": true, "default": "x{{ config_context.port }}"}}),
            json!({}),
        );
        assert_eq!(
            err,
            "parameter \"pin\": the template rendered to '********' which is not an integer"
        );
    }
}

//! The `action-chain` runner (`contrib/runners/action_chain_runner/action_chain_runner.py`,
//! `st2common/models/system/actionchain.py`; `../shared/spec/workflows.md` §4): a list of
//! nodes, each an action run as a child execution, the next one chosen by `on-success` /
//! `on-failure`, values passed on through Jinja templates and `publish`.
//!
//! [`load`] reads and checks the file (every node, **[fix]**: upstream's schema checks the
//! first only); [`run`] renders each node's parameters as upstream's `render_values` does,
//! casts them to the target action's types, hands them to the [`TaskRunner`] and records
//! the node in the result `{"tasks": [...], "published": {...}}`. The chain's status is its
//! last node's.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::workflow::{TaskRequest, TaskRunner};
use super::{RunOutcome, RunRequest};
use crate::config::{KeySnapshot, Renderer};
use crate::expressions::pyjson;
use crate::store::ExecutionStatus;

/// One node of a chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// `name`.
    pub name: String,
    /// `ref`: the action.
    pub action_ref: String,
    /// `parameters` (or the old `params`).
    pub parameters: Map<String, Value>,
    /// `on-success`.
    pub on_success: Option<String>,
    /// `on-failure`.
    pub on_failure: Option<String>,
    /// `publish`.
    pub publish: Map<String, Value>,
    /// The node as written, for the child's `context.chain`.
    written: Map<String, Value>,
}

/// A chain file, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chain {
    /// The nodes, in file order.
    pub nodes: Vec<Node>,
    /// The start node: `default`, else the first node no node refers to, else the first.
    pub start: String,
    /// `vars`.
    pub vars: Map<String, Value>,
}

/// Keys a node may have (`Node.schema`).
const NODE_KEYS: &[&str] = &[
    "name",
    "ref",
    "params",
    "parameters",
    "on-success",
    "on-failure",
    "publish",
    "notify",
];

/// Read and check a chain file; also answers warnings (unknown node keys, `notify`).
pub(crate) fn load(path: &std::path::Path) -> Result<(Chain, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        format!(
            "Failed to parse action chain definition from \"{}\": {err}",
            path.display()
        )
    })?;
    let spec = crate::yaml::from_str(&text).map_err(|err| {
        format!(
            "Failed to parse action chain definition from \"{}\": {err}",
            path.display()
        )
    })?;
    parse(&spec)
}

fn parse(spec: &Value) -> Result<(Chain, Vec<String>), String> {
    let Value::Object(spec) = spec else {
        return Err(format!("{} is not of type 'object'", py(spec)));
    };
    if let Some(key) = spec
        .keys()
        .find(|key| !matches!(key.as_str(), "chain" | "default" | "vars"))
    {
        return Err(format!(
            "Additional properties are not allowed ('{key}' was unexpected)"
        ));
    }
    let Some(chain) = spec.get("chain") else {
        return Err("'chain' is a required property".into());
    };
    let Value::Array(items) = chain else {
        return Err(format!("chain: {} is not of type 'array'", py(chain)));
    };
    let default = match spec.get("default") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => return Err(format!("default: {} is not of type 'string'", py(other))),
    };
    let vars = match spec.get("vars") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(vars)) => vars.clone(),
        Some(other) => return Err(format!("vars: {} is not of type 'object'", py(other))),
    };
    let mut warnings = Vec::new();
    let mut nodes = Vec::new();
    for (index, item) in items.iter().enumerate() {
        nodes.push(parse_node(index, item, &mut warnings)?);
    }
    let names: Vec<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
    // `ChainHolder.validate`: static names must exist (templates resolve at run time).
    for node in &nodes {
        for (key, target) in [
            ("on-success", &node.on_success),
            ("on-failure", &node.on_failure),
        ] {
            if let Some(target) = target.as_deref().filter(|t| is_static(t)) {
                if !names.contains(&target) {
                    return Err(format!(
                        "Unable to find node with name \"{target}\" referenced in \"{key}\" in \
                         task \"{}\".",
                        node.name
                    ));
                }
            }
        }
    }
    let start = match default {
        Some(name) => {
            if is_static(&name) && !names.contains(&name.as_str()) {
                return Err(format!(
                    "Unable to find node with name \"{name}\" referenced in \"default\"."
                ));
            }
            name
        }
        None => default_node(&nodes).ok_or("Failed to find default node in chain.")?,
    };
    Ok((Chain { nodes, start, vars }, warnings))
}

fn parse_node(index: usize, item: &Value, warnings: &mut Vec<String>) -> Result<Node, String> {
    let at = format!("chain[{index}]");
    let Value::Object(node) = item else {
        return Err(format!("{at}: {} is not of type 'object'", py(item)));
    };
    for key in node.keys() {
        if !NODE_KEYS.contains(&key.as_str()) {
            // [fix] upstream refuses it (for the first node only); a key it cannot use is
            // worth a warning, not a refusal (`examples/chains/publish_data.yaml` has one).
            warnings.push(format!(
                "{at}: the key \"{key}\" of an action-chain node is ignored"
            ));
        }
    }
    let text = |key: &str, required: bool| -> Result<Option<String>, String> {
        match node.get(key) {
            None | Some(Value::Null) if required => {
                Err(format!("{at}: '{key}' is a required property"))
            }
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone()).filter(|t| !t.is_empty())),
            Some(other) => Err(format!("{at}.{key}: {} is not of type 'string'", py(other))),
        }
    };
    let object = |key: &str| -> Result<Map<String, Value>, String> {
        match node.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(format!("{at}.{key}: {} is not of type 'object'", py(other))),
        }
    };
    let name = text("name", true)?.unwrap_or_default();
    let action_ref = text("ref", true)?.unwrap_or_default();
    let params = object("params")?;
    let parameters = object("parameters")?;
    if !params.is_empty() && !parameters.is_empty() {
        return Err(
            "Either \"params\" or \"parameters\" attribute needs to be provided, but not both"
                .into(),
        );
    }
    let publish = object("publish")?;
    if node.contains_key("notify") {
        warnings.push(format!(
            "{at}: \"notify\" is ignored (st2-rs sends no notifications)"
        ));
    }
    Ok(Node {
        name,
        action_ref,
        parameters: if parameters.is_empty() {
            params
        } else {
            parameters
        },
        on_success: text("on-success", false)?,
        on_failure: text("on-failure", false)?,
        publish,
        written: node.clone(),
    })
}

/// `ChainHolder._get_default`.
fn default_node(nodes: &[Node]) -> Option<String> {
    let first = nodes.first()?;
    let referenced: HashSet<&str> = nodes
        .iter()
        .flat_map(|node| [node.on_success.as_deref(), node.on_failure.as_deref()])
        .flatten()
        .collect();
    Some(
        nodes
            .iter()
            .find(|node| !referenced.contains(node.name.as_str()))
            .unwrap_or(first)
            .name
            .clone(),
    )
}

/// `jinja_utils.is_jinja_expression`: names written as templates resolve at run time.
fn is_static(name: &str) -> bool {
    !(name.contains("{{") || name.contains("{%"))
}

/// Python's `str()` of a value (a string is itself, others their `repr`).
fn py_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => crate::schema::repr::py_repr(other),
    }
}

fn py(value: &Value) -> String {
    crate::schema::repr::py_repr(value)
}

/// The warnings of a chain file, for `st2 run` to print before it starts (a file that does
/// not load has none: the run fails with its error).
pub(crate) fn warnings(path: &std::path::Path) -> Vec<String> {
    load(path).map(|(_, warnings)| warnings).unwrap_or_default()
}

/// Run the chain of `request`; its tasks run through `request.tasks`.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    let Some(tasks) = request.tasks else {
        return RunOutcome::error(
            ExecutionStatus::Failed,
            "an action-chain runs only where child executions can be recorded",
        );
    };
    let chain = match load(&request.entry_point_path()) {
        Ok((chain, _)) => chain,
        Err(message) => return RunOutcome::error(ExecutionStatus::Failed, message),
    };
    let display_published = request
        .parameters
        .get("display_published")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let datastore = match crate::datastore::Datastore::open(request.settings)
        .and_then(|datastore| datastore.snapshot())
    {
        Ok(snapshot) => snapshot,
        Err(err) => return RunOutcome::error(ExecutionStatus::Failed, err.to_string()),
    };
    let mut runner = ChainRun {
        request,
        tasks,
        chain: &chain,
        datastore: &datastore,
        result: Map::new(),
        published: display_published.then(Map::new),
        vars: Map::new(),
        results: Map::new(),
    };
    let status = runner.run();
    for secret in datastore.revealed() {
        request.output.reveal(&secret);
    }
    RunOutcome {
        outcome: status,
        result: Value::Object(runner.finish()),
    }
}

/// A top-level error: the chain fails with `result.error` and nothing more runs.
struct TopLevel(String);

impl TopLevel {
    /// `_format_error`: `<what>. <reason>` (`what` may end with a dot already, as upstream).
    fn new(what: impl std::fmt::Display, reason: impl std::fmt::Display) -> TopLevel {
        TopLevel(format!("{what}. {reason}"))
    }
}

struct ChainRun<'r, 'a> {
    request: &'r RunRequest<'a>,
    tasks: &'r dyn TaskRunner,
    chain: &'r Chain,
    datastore: &'r KeySnapshot,
    /// `tasks` and `error`.
    result: Map<String, Value>,
    /// `published`, when `display_published`.
    published: Option<Map<String, Value>>,
    /// The chain vars (initial, then published).
    vars: Map<String, Value>,
    /// Each finished node's result, by name.
    results: Map<String, Value>,
}

impl ChainRun<'_, '_> {
    fn run(&mut self) -> ExecutionStatus {
        self.result.insert("tasks".into(), Value::Array(Vec::new()));
        match self.steps() {
            Ok(status) => status,
            Err(TopLevel(error)) => {
                self.result.insert("error".into(), Value::String(error));
                ExecutionStatus::Failed
            }
        }
    }

    fn finish(mut self) -> Map<String, Value> {
        let error = self.result.remove("error");
        if let Some(published) = self.published.take() {
            self.result
                .insert("published".into(), Value::Object(published));
        }
        if let Some(error) = error {
            self.result.insert("error".into(), error);
        }
        self.result
    }

    /// The action parameters of the chain (its runner's own are not in the context).
    fn action_parameters(&self) -> Map<String, Value> {
        let runner = self.request.runner_type.parameters();
        self.request
            .parameters
            .iter()
            .filter(|(name, _)| !runner.contains_key(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    fn renderer(&self) -> Renderer<'_> {
        Renderer::new(self.request.pack, self.request.user, self.datastore)
    }

    fn steps(&mut self) -> Result<ExecutionStatus, TopLevel> {
        let parameters = self.action_parameters();
        if !self.chain.vars.is_empty() {
            let renderer = self.renderer();
            self.vars = render_values(&renderer, &self.chain.vars, &parameters)
                .map_err(|err| TopLevel::new("Failed initializing ``vars`` in chain.", err.1))?;
        }
        self.refuse_unsupported()?;
        // The chain outlives this run's borrows of `self`.
        let chain: &Chain = self.chain;
        let find = |name: &str| chain.nodes.iter().find(|node| node.name == name);
        let mut status;
        let mut node = find(&chain.start).ok_or_else(|| {
            TopLevel::new(
                format!("Failed to get starting node \"{}\".", chain.start),
                format!("Unable to find node with name \"{}\".", chain.start),
            )
        })?;
        loop {
            if self.request.cancel.is_set() {
                return Ok(ExecutionStatus::Canceled);
            }
            let outcome = self.run_node(node, &parameters)?;
            let next = match outcome {
                ExecutionStatus::Succeeded => {
                    status = ExecutionStatus::Succeeded;
                    node.on_success.as_deref()
                }
                ExecutionStatus::Canceled => return Ok(ExecutionStatus::Canceled),
                ExecutionStatus::Timeout => {
                    status = ExecutionStatus::Timeout;
                    node.on_failure.as_deref()
                }
                _ => {
                    status = ExecutionStatus::Failed;
                    node.on_failure.as_deref()
                }
            };
            if self.request.cancel.is_set() {
                return Ok(ExecutionStatus::Canceled);
            }
            let Some(next) = next else {
                return Ok(status);
            };
            node = find(next).ok_or_else(|| {
                TopLevel::new(
                    format!("Failed to get next node \"{}\".", node.name),
                    format!("Unable to find node with name \"{next}\"."),
                )
            })?;
        }
    }

    /// [fix] Nodes whose action's runner st2-rs does not run are refused before the first
    /// node runs, all of them named (upstream fails when it reaches one).
    fn refuse_unsupported(&self) -> Result<(), TopLevel> {
        let mut refused = Vec::new();
        for node in &self.chain.nodes {
            if let Ok(Some(action)) = self.tasks.action(&node.action_ref) {
                if !action.runnable {
                    refused.push(format!(
                        "\"{}\" ({}: {})",
                        node.name, node.action_ref, action.runner_type
                    ));
                }
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        Err(TopLevel::new(
            "Failed to run the chain",
            format!(
                "st2-rs does not run the runners of {} {}.",
                if refused.len() == 1 { "task" } else { "tasks" },
                refused.join(", ")
            ),
        ))
    }

    /// Run one node's action as a child; answers its status (`failed` when it could not be
    /// started).
    fn run_node(
        &mut self,
        node: &Node,
        parameters: &Map<String, Value>,
    ) -> Result<ExecutionStatus, TopLevel> {
        let created_at = task_time();
        let action = match self.tasks.action(&node.action_ref) {
            Ok(Some(action)) => action,
            Ok(None) | Err(_) => {
                return Err(TopLevel::new(
                    format!(
                        "Failed to run task \"{}\". Action with reference \"{}\" doesn't exist.",
                        node.name, node.action_ref
                    ),
                    format!(
                        "Task :: {} - Action with ref {} not registered.",
                        node.name, node.action_ref
                    ),
                ))
            }
        };
        let rendered = self.resolve_params(node, parameters).map_err(|err| {
            TopLevel::new(
                format!(
                    "Failed to run task \"{}\". Parameter rendering failed.",
                    node.name
                ),
                err,
            )
        })?;
        let cast = cast_params(&action.schema, rendered).map_err(|err| {
            TopLevel::new(
                format!(
                    "Failed to run task \"{}\". Parameter casting failed.",
                    node.name
                ),
                err,
            )
        })?;
        let context = json!({
            "user": self.request.user,
            "parent": self.parent_context(),
            "chain": chain_context(node),
        });
        let outcome = self.tasks.run_task(TaskRequest {
            action_ref: &node.action_ref,
            parameters: cast,
            context,
            mock: None,
            turn: None,
        });
        let (state, result) = match &outcome.execution_id {
            Some(_) => (outcome.status, outcome.result.clone()),
            None => {
                let reason = outcome
                    .result
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("the action could not be started");
                (
                    ExecutionStatus::Failed,
                    json!({"error": format!("Failed running task \"{}\". {reason}", node.name)}),
                )
            }
        };
        self.results.insert(node.name.clone(), result.clone());
        // Only a node whose action ran publishes.
        let published = outcome
            .execution_id
            .as_ref()
            .map(|_| self.publish(node, parameters, &result));
        self.push_task(node, outcome.execution_id, &created_at, state, result);
        if let Some(published) = published {
            let published = published.map_err(|err| {
                TopLevel::new(
                    format!("Failed to publish the results of task \"{}\".", node.name),
                    err,
                )
            })?;
            for (name, value) in published {
                if let Some(shown) = &mut self.published {
                    shown.insert(name.clone(), value.clone());
                }
                self.vars.insert(name, value);
            }
        }
        Ok(state)
    }

    fn parent_context(&self) -> Value {
        json!({
            "execution_id": self.request.execution_id,
            "user": self.request.user,
            "pack": self.request.pack,
        })
    }

    /// `_resolve_params`: action parameters, node results, chain vars, `__results`,
    /// `system`/`st2kv`, `action_context`, `config_context`.
    fn resolve_params(
        &self,
        node: &Node,
        parameters: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        let mut context = parameters.clone();
        context.extend(self.results.clone());
        context.extend(self.vars.clone());
        context.insert("__results".into(), Value::Object(self.results.clone()));
        context.insert(
            "action_context".into(),
            json!({"parent": self.parent_context()}),
        );
        context.insert("config_context".into(), self.request.config.clone());
        let renderer = self.renderer();
        render_values(&renderer, &node.parameters, &context).map_err(|(key, reason, value)| {
            format!(
                "Failed rendering value for action parameter \"{key}\" in task \"{}\" \
                 (template string={value}): {reason}",
                node.name
            )
        })
    }

    /// `_render_publish_vars`.
    fn publish(
        &self,
        node: &Node,
        parameters: &Map<String, Value>,
        result: &Value,
    ) -> Result<Map<String, Value>, String> {
        if node.publish.is_empty() {
            return Ok(Map::new());
        }
        let mut context = parameters.clone();
        context.insert(node.name.clone(), result.clone());
        context.extend(self.results.clone());
        context.extend(self.vars.clone());
        context.insert("__results".into(), Value::Object(self.results.clone()));
        let renderer = self.renderer();
        render_values(&renderer, &node.publish, &context).map_err(|(key, reason, value)| {
            format!(
                "Failed rendering value for publish parameter \"{key}\" in task \"{}\" \
                 (template string={value}): {reason}",
                node.name
            )
        })
    }

    fn push_task(
        &mut self,
        node: &Node,
        execution_id: Option<String>,
        created_at: &str,
        state: ExecutionStatus,
        result: Value,
    ) {
        let entry = json!({
            "id": node.name,
            "name": node.name,
            "execution_id": execution_id,
            "liveaction_id": execution_id,
            "workflow": null,
            "created_at": created_at,
            "updated_at": task_time(),
            "state": state.as_str(),
            "result": result,
        });
        if let Some(Value::Array(tasks)) = self.result.get_mut("tasks") {
            tasks.push(entry);
        }
    }
}

/// The child's `context.chain`: the node as upstream's `vars(action_node)` shows it.
fn chain_context(node: &Node) -> Value {
    let get = |key: &str| node.written.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "name": node.name,
        "ref": node.action_ref,
        "params": get("params"),
        "parameters": get("parameters"),
        "on_success": node.on_success,
        "on_failure": node.on_failure,
        "publish": get("publish"),
        "notify": get("notify"),
    })
}

/// `isotime.format`: microseconds and `+00:00`.
fn task_time() -> String {
    let now = crate::execution::timestamp();
    match now.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => now,
    }
}

/// `jinja_utils.render_values`: each value rendered on its own (a map or list as its JSON
/// text, decoded back); a value whose text did not change keeps its type, a changed
/// scalar becomes a string. `__context` is the whole context. An error names the key, the
/// reason and the template: `(key, reason, template)`.
pub(crate) fn render_values(
    renderer: &Renderer,
    mapping: &Map<String, Value>,
    context: &Map<String, Value>,
) -> Result<Map<String, Value>, (String, String, String)> {
    let mut variables = Map::new();
    variables.insert("__context".into(), Value::Object(context.clone()));
    variables.extend(context.clone());
    let mut rendered = Map::new();
    for (key, value) in mapping {
        let structured = matches!(value, Value::Object(_) | Value::Array(_));
        let text = match value {
            Value::Object(_) | Value::Array(_) => pyjson::dumps(value, &pyjson::Dumps::default()),
            Value::String(text) => text.clone(),
            other => py_str(other),
        };
        let output = renderer
            .render_with_system(&text, &variables)
            .map_err(|reason| (key.clone(), reason, text.clone()))?;
        if output == text {
            rendered.insert(key.clone(), value.clone());
        } else if structured {
            let decoded = serde_json::from_str(&output).map_err(|err| {
                (
                    key.clone(),
                    format!("the rendered value is not JSON: {err}"),
                    text.clone(),
                )
            })?;
            rendered.insert(key.clone(), decoded);
        } else {
            rendered.insert(key.clone(), Value::String(output));
        }
    }
    Ok(rendered)
}

/// `action_param_utils.cast_params`: each parameter the action declares with a type is cast
/// to it (`casts.py`); the others pass as they are.
pub(crate) fn cast_params(
    schema: &Map<String, Value>,
    parameters: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut cast = Map::new();
    for (name, value) in parameters {
        let kind = schema
            .get(&name)
            .and_then(|property| property.get("type"))
            .and_then(Value::as_str);
        let value = match kind {
            Some(kind) => crate::casts::cast(value.clone(), kind).map_err(|reason| {
                format!(
                    "Failed to cast value \"{}\" (type: {}) for parameter \"{name}\" of type \
                     \"{kind}\": {reason}. Perhaps the value is of an invalid type?",
                    py_str(&value),
                    crate::casts::python_type(&value),
                )
            })?,
            None => value,
        };
        cast.insert(name, value);
    }
    Ok(cast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(yaml: &str) -> Result<(Chain, Vec<String>), String> {
        parse(&crate::yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn the_start_is_default_else_the_first_unreferenced_node_else_the_first() {
        let (c, _) =
            chain("chain: [{name: a, ref: x.y, on-success: b}, {name: b, ref: x.y}]").unwrap();
        assert_eq!(c.start, "a");
        let (c, _) =
            chain("chain: [{name: a, ref: x.y}, {name: b, ref: x.y, on-success: a}]").unwrap();
        assert_eq!(c.start, "b");
        let (c, _) = chain(
            "chain: [{name: a, ref: x.y, on-success: b}, {name: b, ref: x.y, on-success: a}]",
        )
        .unwrap();
        assert_eq!(c.start, "a");
        let (c, _) =
            chain("chain: [{name: a, ref: x.y}, {name: b, ref: x.y}]\ndefault: b").unwrap();
        assert_eq!(c.start, "b");
    }

    #[test]
    fn every_node_is_checked_and_unknown_keys_warn() {
        let err = chain("chain: [{name: a, ref: x.y}, {name: b}]").unwrap_err();
        assert_eq!(err, "chain[1]: 'ref' is a required property");
        let err = chain("chain: [{name: a, ref: x.y, on-failure: zz}]").unwrap_err();
        assert_eq!(
            err,
            "Unable to find node with name \"zz\" referenced in \"on-failure\" in task \"a\"."
        );
        let (_, warnings) =
            chain("chain: [{name: a, ref: x.y, description: hello, on-success: '{{ n }}'}]")
                .unwrap();
        assert_eq!(
            warnings,
            ["chain[0]: the key \"description\" of an action-chain node is ignored"]
        );
        assert!(chain("chain: []").is_err());
        assert!(chain("chain: [{name: a, ref: x.y}]\nextra: 1").is_err());
    }

    #[test]
    fn values_render_as_upstream_render_values() {
        let snapshot = KeySnapshot::new(
            Vec::new(),
            std::sync::Arc::new(|_: &str, _: &str| Err("no datastore".into())),
        );
        let renderer = Renderer::new("p", "stanley", &snapshot);
        let context = json!({"s1": 1, "s2": "two", "d": {"a": 1}, "l": [1, "x"]});
        let mapping = json!({
            "same": 5,
            "flag": true,
            "n": "{{ s1 }}",
            "dict": "{{ d }}",
            "list": ["{{ s1 }}", "{{ s2 }}"],
            "map": {"k": "{{ s2 }}", "n": 3},
            "whole": "{{ __context.s2 }}",
            "text": "[{{ s1 }}, {{ s2 }}]",
        });
        let rendered = render_values(
            &renderer,
            mapping.as_object().unwrap(),
            context.as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(rendered),
            json!({
                "same": 5,
                "flag": true,
                "n": "1",
                "dict": "{'a': 1}",
                "list": ["1", "two"],
                "map": {"k": "two", "n": 3},
                "whole": "two",
                "text": "[1, two]",
            })
        );
        let err = render_values(
            &renderer,
            json!({"p1": "{{s9}}"}).as_object().unwrap(),
            context.as_object().unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ("p1".into(), "'s9' is undefined".into(), "{{s9}}".into())
        );
    }

    #[test]
    fn parameters_are_cast_to_the_target_types() {
        let schema = json!({"i": {"type": "integer"}, "a": {"type": "array"}, "u": {}});
        let cast = cast_params(
            schema.as_object().unwrap(),
            json!({"i": "1", "a": "[1, 'x']", "u": "5"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(cast),
            json!({"i": 1, "a": [1, "x"], "u": "5"})
        );
        let err = cast_params(
            schema.as_object().unwrap(),
            json!({"a": "stringnotanarray"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "Failed to cast value \"stringnotanarray\" (type: str) for parameter \"arrtype\""
            ) || err.starts_with(
                "Failed to cast value \"stringnotanarray\" (type: str) for parameter \"a\" of type \"array\""
            ),
            "{err}"
        );
    }

    /// Every action-chain action of the Exchange snapshot (119 packs: 14 chains) loads and
    /// passes the checks; 12 call only actions of runners st2-rs runs (the others need
    /// actions of packs the snapshot lacks: `linux`).
    #[test]
    fn exchange_chains_load_and_validate() {
        use std::path::Path;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/exchange/packs");
        if !root.is_dir() {
            return crate::test_support::skip("../shared/exchange is not present");
        }
        // Every action of the snapshot and the built-in core pack: ref -> runner type.
        let mut runners = std::collections::HashMap::new();
        for action in crate::action::builtin_actions() {
            runners.insert(action.action_ref.clone(), action.runner_type.clone());
        }
        let mut chains = Vec::new();
        for entry in walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
        {
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(&root) else {
                continue;
            };
            let parts: Vec<_> = relative.components().collect();
            if parts.len() != 3 || parts[1].as_os_str() != "actions" {
                continue;
            }
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let pack_dir = root.join(parts[0].as_os_str());
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let Ok(meta) = crate::yaml::from_str(&text) else {
                continue;
            };
            let manifest = std::fs::read_to_string(pack_dir.join("pack.yaml"))
                .ok()
                .and_then(|text| crate::yaml::from_str(&text).ok())
                .unwrap_or(Value::Null);
            let pack = manifest
                .get("ref")
                .or_else(|| manifest.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (Some(name), Some(runner)) = (
                meta.get("name").and_then(Value::as_str),
                meta.get("runner_type").and_then(Value::as_str),
            ) else {
                continue;
            };
            runners.insert(format!("{pack}.{name}"), runner.to_string());
            if runner == "action-chain" {
                let entry_point = meta["entry_point"].as_str().unwrap_or_default();
                chains.push((
                    format!("{pack}.{name}"),
                    pack_dir.join("actions").join(entry_point),
                ));
            }
        }
        let mut runnable = 0;
        let mut not = Vec::new();
        for (action, file) in &chains {
            let (chain, _) = load(file).unwrap_or_else(|err| panic!("{action}: {err}"));
            let all = chain.nodes.iter().all(|node| {
                runners
                    .get(&node.action_ref)
                    .is_some_and(|runner| super::super::is_supported(runner))
            });
            if all {
                runnable += 1;
            } else {
                let missing: Vec<String> = chain
                    .nodes
                    .iter()
                    .filter(|node| {
                        !runners
                            .get(&node.action_ref)
                            .is_some_and(|runner| super::super::is_supported(runner))
                    })
                    .map(|node| {
                        let runner = runners
                            .get(&node.action_ref)
                            .map_or("absent", |r| r.as_str());
                        format!("{}={runner}", node.action_ref)
                    })
                    .collect();
                not.push(format!("{action}: {}", missing.join(" ")));
            }
        }
        eprintln!("{} chains, {runnable} runnable; not: {not:?}", chains.len());
        assert_eq!(chains.len(), 14);
        assert_eq!(runnable, 12, "{not:?}");
    }
}

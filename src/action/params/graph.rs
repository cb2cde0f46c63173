//! Upstream's dependency graph of parameters (`param.py`'s networkx graph): each parameter a
//! node with its value or template, an edge to each parameter its template refers to;
//! checked for missing dependencies and cycles, then rendered in topological order.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::{is_secret, ParamErrors, RenderContext, Schemas};
use crate::config::{Renderer, MASK};
use crate::schema::{self, is_template};

/// A node of upstream's dependency graph: its `value` and `template` attributes (networkx
/// merges attributes when a node is added again; a template wins over a value).
#[derive(Debug, Clone, Default)]
struct Node {
    value: Option<Value>,
    template: Option<Value>,
}

/// Upstream's dependency graph (`_create_graph`, `_process`, `_validate`,
/// `_resolve_dependencies`), nodes and edges in insertion order.
pub(super) struct Graph {
    order: Vec<String>,
    nodes: HashMap<String, Node>,
    /// `dependency -> dependents`, in the order the edges were added.
    edges: Vec<(String, String)>,
}

/// What [`Graph::resolve`] gives: every node's value in resolution order, and which nodes
/// were rendered from a template.
pub(super) struct Resolved {
    pub(super) values: Map<String, Value>,
    pub(super) rendered: HashSet<String>,
}

impl Resolved {
    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
}

impl Graph {
    pub(super) fn new(context: &RenderContext) -> Graph {
        let mut graph = Graph {
            order: Vec::new(),
            nodes: HashMap::new(),
            edges: Vec::new(),
        };
        // `st2kv` is the renderer's own; its node only marks the name as satisfied.
        graph.set_value("st2kv", Value::Null);
        graph.set_value("action_context", context.action_context.clone());
        graph.set_value("config_context", context.config.clone());
        graph
    }

    fn node(&mut self, name: &str) -> &mut Node {
        if !self.nodes.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.nodes.entry(name.to_string()).or_default()
    }

    pub(super) fn set_value(&mut self, name: &str, value: Value) {
        self.node(name).value = Some(value);
    }

    /// `_process`: a template (its dependencies become edges) or a plain value; text that
    /// does not parse as a template is a plain value.
    pub(super) fn process(&mut self, name: &str, value: &Value, renderer: &Renderer) {
        let text = match value {
            Value::String(text) => Some(text.clone()),
            // Upstream looks for templates in, and parses, Python's str() of the value.
            Value::Array(_) | Value::Object(_) => Some(crate::schema::repr::py_repr(value)),
            _ => None,
        };
        let variables = text
            .filter(|text| is_template(text))
            .and_then(|text| renderer.variables_of(&text).ok());
        match variables {
            Some(variables) => {
                self.node(name).template = Some(value.clone());
                let mut variables: Vec<String> = variables.into_iter().collect();
                variables.sort();
                for variable in variables {
                    self.node(&variable);
                    self.edges.push((variable, name.to_string()));
                }
            }
            None => self.set_value(name, value.clone()),
        }
    }

    /// `_process_defaults`: the default of each parameter that has no value yet (or a `null`
    /// one), and of every immutable parameter; the action's schema first, then the
    /// runner's.
    pub(super) fn process_defaults(&mut self, schemas: Schemas, renderer: &Renderer) {
        for parameters in schemas.in_order() {
            for (name, property) in parameters {
                let node = self.nodes.get(name);
                let absent = node.is_none();
                // [fix] a node given as a template has a value to keep (upstream sees none).
                let is_none = node.is_some_and(|node| {
                    node.template.is_none() && node.value.as_ref().is_none_or(Value::is_null)
                });
                let immutable = property
                    .get("immutable")
                    .is_some_and(schema::validator::truthy);
                if absent || is_none || immutable {
                    let default = property.get("default").cloned().unwrap_or(Value::Null);
                    self.process(name, &default, renderer);
                }
            }
        }
    }

    /// `_validate`: every variable has a value or a template; no cycles.
    pub(super) fn validate(&self) -> Result<(), ParamErrors> {
        for name in &self.order {
            let node = &self.nodes[name];
            if node.value.is_none() && node.template.is_none() {
                return Err(ParamErrors::one(format!(
                    "Dependency unsatisfied in variable \"{name}\""
                )));
            }
        }
        let cyclic = self.cyclic();
        if !cyclic.is_empty() {
            return Err(ParamErrors::one(format!(
                "Cyclic dependency found in the following variables: {}. Likely the variable \
                 is referencing itself",
                cyclic.join(", ")
            )));
        }
        Ok(())
    }

    fn dependents(&self, name: &str) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.edges
            .iter()
            .filter(|(from, _)| from == name)
            .map(|(_, to)| to.as_str())
            .filter(|to| seen.insert(*to))
            .collect()
    }

    /// The variables on a cycle, sorted: those that refer to themselves and the members of
    /// every strongly connected group of more than one.
    fn cyclic(&self) -> Vec<String> {
        // Tarjan's algorithm, iteratively.
        let index_of: HashMap<&str, usize> = self
            .order
            .iter()
            .enumerate()
            .map(|(index, name)| (name.as_str(), index))
            .collect();
        let successors: Vec<Vec<usize>> = self
            .order
            .iter()
            .map(|name| {
                self.dependents(name)
                    .into_iter()
                    .map(|to| index_of[to])
                    .collect()
            })
            .collect();
        let count = self.order.len();
        let mut index = vec![usize::MAX; count];
        let mut low = vec![0; count];
        let mut on_stack = vec![false; count];
        let mut stack = Vec::new();
        let mut next = 0;
        let mut cyclic = Vec::new();
        for root in 0..count {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work = vec![(root, 0usize)];
            while let Some((node, child)) = work.pop() {
                if child == 0 {
                    index[node] = next;
                    low[node] = next;
                    next += 1;
                    stack.push(node);
                    on_stack[node] = true;
                }
                if let Some(&successor) = successors[node].get(child) {
                    work.push((node, child + 1));
                    if index[successor] == usize::MAX {
                        work.push((successor, 0));
                    } else if on_stack[successor] {
                        low[node] = low[node].min(index[successor]);
                    }
                    continue;
                }
                if low[node] == index[node] {
                    let mut group = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        group.push(member);
                        if member == node {
                            break;
                        }
                    }
                    let looped = group.len() > 1 || successors[node].contains(&node);
                    if looped {
                        cyclic.extend(group.into_iter().map(|member| self.order[member].clone()));
                    }
                }
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
            }
        }
        cyclic.sort();
        cyclic
    }

    /// `networkx.topological_sort`: generation by generation, each in insertion order.
    fn topological_order(&self) -> Vec<String> {
        let mut indegree: HashMap<&str, usize> = HashMap::new();
        for name in &self.order {
            for to in self.dependents(name) {
                *indegree.entry(to).or_default() += 1;
            }
        }
        let mut generation: Vec<&str> = self
            .order
            .iter()
            .map(String::as_str)
            .filter(|name| !indegree.contains_key(name))
            .collect();
        let mut order = Vec::new();
        while !generation.is_empty() {
            let mut next = Vec::new();
            for name in &generation {
                for to in self.dependents(name) {
                    let remaining = indegree.get_mut(to).expect("counted above");
                    *remaining -= 1;
                    if *remaining == 0 {
                        next.push(to);
                    }
                }
            }
            order.extend(generation.iter().map(|name| name.to_string()));
            generation = next;
        }
        order
    }

    /// `_resolve_dependencies`: render every template in dependency order.
    pub(super) fn resolve(
        &self,
        schemas: Schemas,
        context: &RenderContext,
        warnings: &mut Vec<String>,
    ) -> Result<Resolved, ParamErrors> {
        let mut values = Map::new();
        let mut rendered = HashSet::new();
        for name in self.topological_order() {
            let node = &self.nodes[&name];
            let value = match &node.template {
                Some(template) => {
                    let property = schemas.cast_schema(&name);
                    rendered.insert(name.clone());
                    render_node(&name, template, property, &values, context, warnings)?
                }
                None => node.value.clone().unwrap_or(Value::Null),
            };
            values.insert(name, value);
        }
        Ok(Resolved { values, rendered })
    }
}

/// `"{{name}}"` as a whole JSON string in an encoded object or array: upstream makes it
/// `{{name | to_complex}}` so that the value keeps its type.
static WHOLE_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""\{\{([A-z0-9_-]+)\}\}""#).expect("valid regex"));

/// `_render`: a string template renders to text; an object or array is rendered as its
/// JSON text (whole-value templates keeping their type) and read back.
fn render_node(
    name: &str,
    template: &Value,
    property: Option<&Value>,
    values: &Map<String, Value>,
    context: &RenderContext,
    warnings: &mut Vec<String>,
) -> Result<Value, ParamErrors> {
    let complex = template.is_array() || template.is_object();
    let text = match template {
        Value::String(text) => text.clone(),
        other => {
            let encoded = serde_json::to_string(other).unwrap_or_default();
            WHOLE_VALUE
                .replace_all(&encoded, "{{${1} | to_complex}}")
                .into_owned()
        }
    };
    let variables: Map<String, Value> = values
        .iter()
        .filter(|(name, _)| name.as_str() != "st2kv")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let failed = |reason: String| {
        ParamErrors::one(format!("Failed to render parameter \"{name}\": {reason}"))
    };
    let (output, missing) = context
        .renderer
        .render(&text, &variables)
        .map_err(|reason| {
            let reason = jinja2_words(&text, &variables, reason);
            let secret = is_secret(property);
            failed(if secret {
                mask_in(&reason, &text)
            } else {
                reason
            })
        })?;
    if !missing.is_empty() {
        let message = format!(
            "refers to datastore {} {} that {} not exist",
            if missing.len() == 1 { "key" } else { "keys" },
            missing.join(", "),
            if missing.len() == 1 { "does" } else { "do" }
        );
        let required = property
            .and_then(|property| property.get("required"))
            .is_some_and(schema::validator::truthy);
        if required {
            return Err(ParamErrors::one(format!(
                "parameter \"{name}\": {message}; set it with `st2 key set`"
            )));
        }
        warnings.push(format!("parameter \"{name}\" {message}; it renders empty"));
        let kind = property
            .and_then(|property| property.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        // An empty rendering would not cast to the type; without the key there is no value.
        if output.is_empty() && kind != "string" {
            return Ok(Value::Null);
        }
    }
    if !complex {
        return Ok(Value::String(output));
    }
    serde_json::from_str(&output).map_err(|err| failed(err.to_string()))
}

/// A render error in Jinja2's words where they are known: the undefined value named as
/// Jinja2 names it, `No filter named 'x'.`, and our filters' messages (upstream's) without
/// minijinja's "invalid operation" label.
fn jinja2_words(text: &str, variables: &Map<String, Value>, reason: String) -> String {
    let undefined = reason.ends_with(" is undefined")
        || reason.contains(" has no attribute ")
        || reason.contains(" has no element ");
    if undefined {
        // Evaluated against the values, so the parent's type is named as Jinja2 names it.
        return crate::expressions::undefined::explain(text, variables, &["st2kv"])
            .unwrap_or(reason);
    }
    for (label, kind) in [
        ("unknown filter: filter ", "filter"),
        ("unknown test: test ", "test"),
    ] {
        if let Some(name) = reason
            .strip_prefix(label)
            .and_then(|rest| rest.strip_suffix(" is unknown"))
        {
            return format!("No {kind} named '{name}'.");
        }
    }
    match reason.strip_prefix("invalid operation: ") {
        Some(message) => message.to_string(),
        None => reason,
    }
}

/// A render error that might quote a secret template's text: the text masked.
fn mask_in(reason: &str, text: &str) -> String {
    if text.is_empty() {
        reason.to_string()
    } else {
        reason.replace(text, MASK)
    }
}

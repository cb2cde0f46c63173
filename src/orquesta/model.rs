//! An orquesta workflow file as a typed model (`orquesta/specs/native/v1/models.py`): the
//! fields the conductor and the inspection read, with the graph questions orquesta asks of
//! its task mapping (`get_next_tasks`, `get_prev_tasks`, `get_start_tasks`,
//! `is_split_task`, `in_cycle`).

use std::collections::{HashSet, VecDeque};

use serde_json::{Map, Value};

/// The engine commands a transition's `do` may name (`events.ENGINE_EVENT_MAP`); reserved
/// as task names.
pub const RESERVED_TASK_NAMES: &[&str] = &["continue", "fail", "noop", "retry"];

/// A workflow file.
#[derive(Debug, Clone, Default)]
pub struct WorkflowSpec {
    /// `input`: names, each with its default (`None` when given as a bare name).
    pub input: Vec<(String, Option<Value>)>,
    /// `vars`, in order.
    pub vars: Vec<(String, Value)>,
    /// `output`, in order.
    pub output: Vec<(String, Value)>,
    /// `tasks`, in file order.
    pub tasks: Vec<TaskSpec>,
    /// The document as read.
    pub raw: Value,
}

/// `join:` of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `join: all`.
    All,
    /// `join: N`.
    Count(u64),
}

/// `with:` of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct WithItems {
    /// The names of `x, y in <expr>` (empty without names).
    pub names: Vec<String>,
    /// The expression giving the items.
    pub items: String,
    /// `concurrency` (an integer or an expression), when given.
    pub concurrency: Option<Value>,
}

/// `retry:` of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySpec {
    /// `when` (`None`: retry on failure).
    pub when: Option<String>,
    /// `count`.
    pub count: Value,
    /// `delay`.
    pub delay: Option<Value>,
}

/// One entry of `next`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// `when`, when given.
    pub when: Option<String>,
    /// `publish`, in order.
    pub publish: Vec<(String, Value)>,
    /// `do`: the task names (or engine commands), in order.
    pub targets: Vec<String>,
    /// `publish` as written (a `k=v` string or a list).
    pub raw_publish: Option<Value>,
}

/// A task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The task name.
    pub name: String,
    /// `action` as written.
    pub action: Option<String>,
    /// `input` (a map, or an expression string).
    pub input: Option<Value>,
    /// `join`.
    pub join: Option<Join>,
    /// `with`.
    pub with: Option<WithItems>,
    /// `retry`.
    pub retry: Option<RetrySpec>,
    /// `delay`.
    pub delay: Option<Value>,
    /// `next`.
    pub next: Vec<Transition>,
    /// The task as written.
    pub raw: Value,
}

/// A problem in the document's shape (orquesta's syntax errors).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where (`tasks.t1.join`).
    pub spec_path: String,
    /// The schema path.
    pub schema_path: String,
}

fn one_key_list(value: &Value) -> Option<Vec<(String, Value)>> {
    let items = value.as_array()?;
    let mut out = Vec::new();
    for item in items {
        let map = item.as_object()?;
        if map.len() != 1 {
            return None;
        }
        let (k, v) = map.iter().next()?;
        out.push((k.clone(), v.clone()));
    }
    Some(out)
}

/// `do` as orquesta reads it: a list, or a comma-separated string.
pub fn split_do(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split(',').map(|s| s.trim().to_string()).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl WorkflowSpec {
    /// Read a workflow from its parsed document, with its shape errors (all of them; the
    /// model keeps what could be read, for the other inspections).
    pub fn from_value(raw: &Value) -> (WorkflowSpec, Vec<SyntaxError>) {
        let mut errors = Vec::new();
        let mut error = |message: String, spec_path: &str, schema_path: &str| {
            errors.push(SyntaxError {
                message,
                spec_path: spec_path.to_string(),
                schema_path: schema_path.to_string(),
            })
        };
        let Some(doc) = raw.as_object() else {
            error(
                format!("{} is not of type 'object'", py_repr(raw)),
                "",
                "type",
            );
            return (WorkflowSpec::default(), errors);
        };
        let mut spec = WorkflowSpec {
            raw: raw.clone(),
            ..WorkflowSpec::default()
        };
        for key in doc.keys() {
            if !["version", "description", "input", "vars", "tasks", "output"]
                .contains(&key.as_str())
            {
                error(
                    format!("Additional properties are not allowed ('{key}' was unexpected)"),
                    "",
                    "additionalProperties",
                );
            }
        }
        if let Some(input) = doc.get("input").filter(|v| !v.is_null()) {
            match input.as_array() {
                Some(items) => {
                    for item in items {
                        match item {
                            Value::String(name) => spec.input.push((name.clone(), None)),
                            Value::Object(map) if map.len() == 1 => {
                                let (k, v) = map.iter().next().unwrap();
                                spec.input.push((k.clone(), Some(v.clone())));
                            }
                            other => error(
                                format!(
                                    "{} is not valid under any of the given schemas",
                                    py_repr(other)
                                ),
                                "input",
                                "properties.input.items.oneOf",
                            ),
                        }
                    }
                }
                None => error(
                    format!("{} is not of type 'array'", py_repr(input)),
                    "input",
                    "properties.input.type",
                ),
            }
        }
        for (field, target) in [("vars", &mut spec.vars), ("output", &mut spec.output)] {
            if let Some(value) = doc.get(field).filter(|v| !v.is_null()) {
                match one_key_list(value) {
                    Some(list) => *target = list,
                    None => error(
                        format!(
                            "{} is not valid under the schema of a list of one-key maps",
                            py_repr(value)
                        ),
                        field,
                        &format!("properties.{field}"),
                    ),
                }
            }
        }
        match doc.get("tasks") {
            None => error("'tasks' is a required property".to_string(), "", "required"),
            Some(Value::Object(tasks)) => {
                if tasks.is_empty() {
                    error(
                        "{} does not have enough properties".to_string(),
                        "tasks",
                        "properties.tasks.minProperties",
                    );
                }
                for (name, task) in tasks {
                    let path = format!("tasks.{name}");
                    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        error(
                            format!("'{name}' does not match any of the regexes: '^\\\\w+$'"),
                            "tasks",
                            "properties.tasks.additionalProperties",
                        );
                        continue;
                    }
                    match TaskSpec::from_value(name, task) {
                        Ok((task, problems)) => {
                            for (message, field, schema) in problems {
                                error(
                                    message,
                                    &format!("{path}.{field}"),
                                    &format!(
                                        "properties.tasks.patternProperties.^\\w+$.properties.{field}.{schema}"
                                    ),
                                );
                            }
                            spec.tasks.push(task)
                        }
                        Err(message) => {
                            error(message, &path, "properties.tasks.patternProperties.^\\w+$")
                        }
                    }
                }
            }
            Some(other) => error(
                format!("{} is not of type 'object'", py_repr(other)),
                "tasks",
                "properties.tasks.type",
            ),
        }
        (spec, errors)
    }

    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Whether `name` is a task or an engine command.
    pub fn has_task(&self, name: &str) -> bool {
        RESERVED_TASK_NAMES.contains(&name) || self.task(name).is_some()
    }

    /// `(next task, when, transition index)`, sorted by name (stable).
    pub fn next_tasks(&self, name: &str) -> Vec<(String, Option<String>, usize)> {
        let mut out = Vec::new();
        if let Some(task) = self.task(name) {
            for (i, transition) in task.next.iter().enumerate() {
                for target in &transition.targets {
                    out.push((target.clone(), transition.when.clone(), i));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// `(previous task, when, transition index)` of the transitions into `name`.
    pub fn prev_tasks(&self, name: &str) -> Vec<(String, Option<String>, usize)> {
        let mut out = Vec::new();
        for task in &self.tasks {
            for (next, when, i) in self.next_tasks(&task.name) {
                if next == name {
                    out.push((task.name.clone(), when, i));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The tasks no transition leads to, by name.
    pub fn start_tasks(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| self.prev_tasks(&t.name).is_empty())
            .map(|t| t.name.clone())
            .collect();
        out.sort();
        out
    }

    /// Whether `name` has `join`.
    pub fn is_join_task(&self, name: &str) -> bool {
        self.task(name).is_some_and(|t| t.join.is_some())
    }

    /// A task reached by several transitions without `join`.
    pub fn is_split_task(&self, name: &str) -> bool {
        !self.is_join_task(name) && self.prev_tasks(name).len() > 1
    }

    /// Whether following transitions from `name` leads back to it.
    pub fn in_cycle(&self, name: &str) -> bool {
        let mut traversed = HashSet::new();
        let mut queue: VecDeque<String> = self.next_tasks(name).into_iter().map(|t| t.0).collect();
        while let Some(next) = queue.pop_front() {
            if next == name {
                return true;
            }
            if !traversed.insert(next.clone()) {
                continue;
            }
            queue.extend(self.next_tasks(&next).into_iter().map(|t| t.0));
        }
        false
    }
}

impl TaskSpec {
    /// The task, and the problems of fields it could do without (`(message, field,
    /// schema keyword)`); a task that cannot be read at all is an error.
    #[allow(clippy::type_complexity)]
    fn from_value(
        name: &str,
        raw: &Value,
    ) -> Result<(TaskSpec, Vec<(String, String, String)>), String> {
        let mut problems = Vec::new();
        let empty = Map::new();
        let map = match raw {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => return Err(format!("{} is not of type 'object'", py_repr(other))),
        };
        for key in map.keys() {
            if !["delay", "join", "with", "action", "input", "retry", "next"]
                .contains(&key.as_str())
            {
                return Err(format!(
                    "Additional properties are not allowed ('{key}' was unexpected)"
                ));
            }
        }
        let text = |key: &str| -> Result<Option<String>, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("{} is not of type 'string'", py_repr(other))),
            }
        };
        let mut action = text("action")?;
        // `ref k=v ...`: the ref, and the pairs as the input (`TaskSpec.__init__`).
        let inline = action.as_deref().and_then(super::inline::split_action);
        let input = match map.get("input").filter(|v| !v.is_null()) {
            Some(Value::Object(m)) => Some(Value::Object(m.clone())),
            Some(Value::String(s)) if !s.is_empty() => Some(Value::String(s.clone())),
            Some(other) => {
                problems.push((
                    format!(
                        "{} is not valid under any of the given schemas",
                        py_repr(other)
                    ),
                    "input".to_string(),
                    "oneOf".to_string(),
                ));
                None
            }
            None => None,
        };
        let input = match inline {
            Some((reference, pairs)) => {
                action = Some(reference);
                Some(Value::Object(pairs.into_iter().collect()))
            }
            None => input,
        };
        let join = match map.get("join") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "all" => Some(Join::All),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
                Some(Join::Count(n.as_u64().unwrap()))
            }
            Some(other) => {
                return Err(format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(other)
                ))
            }
        };
        let with = match map.get("with") {
            None | Some(Value::Null) => None,
            Some(Value::String(items)) => Some(parse_items(items, None)),
            Some(Value::Object(w)) => match w.get("items") {
                Some(Value::String(items)) => {
                    Some(parse_items(items, w.get("concurrency").cloned()))
                }
                _ => return Err("'items' is a required property".to_string()),
            },
            Some(other) => {
                return Err(format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(other)
                ))
            }
        };
        let retry = match map.get("retry") {
            None | Some(Value::Null) => None,
            Some(Value::Object(r)) => Some(RetrySpec {
                when: r.get("when").and_then(Value::as_str).map(str::to_string),
                count: r
                    .get("count")
                    .cloned()
                    .ok_or_else(|| "'count' is a required property".to_string())?,
                delay: r.get("delay").cloned(),
            }),
            Some(other) => return Err(format!("{} is not of type 'object'", py_repr(other))),
        };
        let mut next = Vec::new();
        match map.get("next") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let Some(t) = item.as_object() else {
                        return Err(format!("{} is not of type 'object'", py_repr(item)));
                    };
                    let when = match t.get("when") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(other) => {
                            return Err(format!("{} is not of type 'string'", py_repr(other)))
                        }
                    };
                    let raw_publish = t.get("publish").filter(|v| !v.is_null()).cloned();
                    let publish = match &raw_publish {
                        None => Vec::new(),
                        Some(Value::String(s)) => super::inline::parse_pairs(s),
                        Some(value) => one_key_list(value).ok_or_else(|| {
                            format!(
                                "{} is not valid under any of the given schemas",
                                py_repr(value)
                            )
                        })?,
                    };
                    // No `do`: `continue` (`TaskTransitionSpec.__init__`).
                    let targets = match t.get("do") {
                        None | Some(Value::Null) => vec!["continue".to_string()],
                        Some(value) => split_do(value),
                    };
                    next.push(Transition {
                        when,
                        publish,
                        targets,
                        raw_publish,
                    });
                }
            }
            Some(other) => return Err(format!("{} is not of type 'array'", py_repr(other))),
        }
        Ok((
            TaskSpec {
                name: name.to_string(),
                action,
                input,
                join,
                with,
                retry,
                delay: map.get("delay").filter(|v| !v.is_null()).cloned(),
                next,
                raw: raw.clone(),
            },
            problems,
        ))
    }
}

/// `with` items: `x, y in <expr>` or `<expr>`.
fn parse_items(text: &str, concurrency: Option<Value>) -> WithItems {
    let trimmed = text.trim();
    if let Some(at) = trimmed.find(" in ") {
        let (names, rest) = trimmed.split_at(at);
        let names: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
        if !names.is_empty()
            && names
                .iter()
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return WithItems {
                names,
                items: rest[4..].trim().to_string(),
                concurrency,
            };
        }
    }
    WithItems {
        names: Vec::new(),
        items: trimmed.to_string(),
        concurrency,
    }
}

fn py_repr(value: &Value) -> String {
    crate::schema::repr::py_repr(value)
}

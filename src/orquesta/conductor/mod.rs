//! The conductor: orquesta's `WorkflowConductor` (`orquesta/conducting.py`) with its state
//! machines (`machines.py`) for the statuses st2-rs reaches (no pause). It does
//! not run anything: the runner asks [`Conductor::next_tasks`], runs their actions, and
//! reports each action's status with [`Conductor::action_event`]; the waves of
//! `../shared/spec/workflows.md` §2.6 are the runner's.
//!
//! | file | what |
//! |---|---|
//! | here | the state (sequence, contexts, routes, staged tasks), `next_tasks`, cancel, output |
//! | `graph` | the tasks and transitions as a graph |
//! | `render` | a staged task rendered into its action executions |
//! | `events` | an action's status applied: task status, transitions, staging, workflow status |
//! | `functions` | orquesta's own expression functions |
//! | `rerun` | the state saved and restored, and `request_workflow_rerun` |

mod events;
mod functions;
mod graph;
mod render;
mod rerun;

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::expr::{self, truthy, ExprError};
use super::inline;
use super::model::{Join, WorkflowSpec, RESERVED_TASK_NAMES};
use crate::yaql::{self, Functions};
use functions::register_functions;
use graph::{Edge, Graph};

const ACTIVE: &[&str] = &[
    "requested",
    "scheduled",
    "delayed",
    "running",
    "resuming",
    "pausing",
    "canceling",
];
/// orquesta's `EXPIRED` is `"timeout"`, StackStorm's name for it.
const COMPLETED: &[&str] = &["succeeded", "failed", "timeout", "abandoned", "canceled"];
const ABENDED: &[&str] = &["failed", "timeout", "abandoned"];
const STARTING: &[&str] = &["requested", "scheduled", "delayed", "running", "pending"];

fn is(status: &str, set: &[&str]) -> bool {
    set.contains(&status)
}

/// One task state entry of the sequence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskState {
    /// Task name.
    pub id: String,
    /// Route index.
    pub route: usize,
    /// Status (`null` until the first event).
    pub status: Option<String>,
    #[serde(skip)]
    ctxs_in: Vec<usize>,
    #[serde(skip)]
    prev: Map<String, Value>,
    /// Transition id -> whether its criteria held.
    #[serde(skip)]
    next: Map<String, Value>,
    /// Terminal: no outbound transition, or the workflow completed on it.
    #[serde(skip)]
    term: bool,
    #[serde(skip)]
    retry: Option<(i64, Option<i64>, Option<String>, i64)>,
}

#[derive(Debug, Clone)]
struct Staged {
    id: String,
    route: usize,
    ctxs_in: Vec<usize>,
    prev: Map<String, Value>,
    ready: bool,
    retry: Option<(i64, Option<i64>, Option<String>, i64)>,
    items: Option<Vec<String>>,
    completed: bool,
    run_on_fail: bool,
}

/// An action execution the conductor asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    /// The rendered action ref (`None`: the task has no action).
    pub action: Option<String>,
    /// The rendered input.
    pub input: Map<String, Value>,
    /// Its item index, for with-items tasks.
    pub item_id: Option<usize>,
}

/// A task ready to run.
#[derive(Debug, Clone)]
pub struct NextTask {
    /// Task name.
    pub id: String,
    /// Route index.
    pub route: usize,
    /// The action executions to start now.
    pub actions: Vec<ActionSpec>,
    /// Seconds to wait before each starts.
    pub delay: Option<i64>,
    /// with-items: how many items in all.
    pub items_count: Option<usize>,
    /// with-items: the concurrency (at least 1), when limited.
    pub concurrency: Option<i64>,
}

/// A workflow being conducted.
pub struct Conductor<'a> {
    spec: &'a WorkflowSpec,
    graph: Graph,
    functions: Functions,
    status: String,
    contexts: Vec<Map<String, Value>>,
    routes: Vec<Vec<String>>,
    sequence: Vec<TaskState>,
    tasks: HashMap<(String, usize), usize>,
    staged: Vec<Staged>,
    errors: Vec<Value>,
    output: Option<Map<String, Value>>,
    item_results: HashMap<(String, usize), Vec<Value>>,
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

fn error_entry(message: String, task_id: Option<&str>, route: Option<usize>) -> Value {
    let mut entry = json!({"type": "error", "message": message});
    if let Some(task_id) = task_id {
        entry["task_id"] = json!(task_id);
    }
    if let Some(route) = route {
        entry["route"] = json!(route);
    }
    entry
}

impl<'a> Conductor<'a> {
    /// Start conducting `spec`: render `input` (from `inputs`) and `vars` over `parent`
    /// (`{"st2": ..., "parent": ...}`), stage the start tasks. `functions` are the engine
    /// functions besides the conductor's own (`st2kv`, `task`, ...).
    pub fn new(
        spec: &'a WorkflowSpec,
        inputs: &Map<String, Value>,
        parent: Map<String, Value>,
        functions: Functions,
    ) -> Conductor<'a> {
        let mut functions = functions;
        register_functions(&mut functions);
        let mut conductor = Conductor {
            spec,
            graph: Graph::compose(spec),
            functions,
            status: "running".into(),
            contexts: Vec::new(),
            routes: Vec::new(),
            sequence: Vec::new(),
            tasks: HashMap::new(),
            staged: Vec::new(),
            errors: Vec::new(),
            output: None,
            item_results: HashMap::new(),
        };
        let mut ctx = parent;
        let mut errors = Vec::new();
        for (name, default) in &spec.input {
            let given = inputs
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.clone().unwrap_or(Value::Null));
            match expr::evaluate(&given, &ctx, &conductor.functions) {
                Ok(value) => {
                    ctx.insert(name.clone(), value);
                }
                Err(e) => errors.push(e),
            }
        }
        let mut rolling = ctx.clone();
        let mut vars = Map::new();
        for (name, value) in &spec.vars {
            match expr::evaluate(value, &rolling, &conductor.functions) {
                Ok(value) => {
                    rolling.insert(name.clone(), value.clone());
                    vars.insert(name.clone(), value);
                }
                Err(e) => errors.push(e),
            }
        }
        merge(&mut ctx, &vars);
        if !errors.is_empty() {
            for e in errors {
                conductor.log_error(&e, None, None, None);
            }
            conductor.status = "failed".into();
            return conductor;
        }
        conductor.contexts.push(ctx);
        conductor.routes.push(Vec::new());
        for task in spec.start_tasks() {
            conductor.staged.push(Staged {
                id: task,
                route: 0,
                ctxs_in: vec![0],
                prev: Map::new(),
                ready: true,
                retry: None,
                items: None,
                completed: false,
                run_on_fail: false,
            });
        }
        conductor
    }

    /// Add `key` to the initial context's `st2` (StackStorm adds `workflow_execution_id`
    /// once the workflow execution exists, after `input` and `vars` were rendered).
    pub fn set_st2(&mut self, key: &str, value: Value) {
        if let Some(Value::Object(st2)) = self.contexts.first_mut().and_then(|c| c.get_mut("st2")) {
            st2.insert(key.to_string(), value);
        }
    }

    /// The workflow status.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The errors logged so far.
    pub fn errors(&self) -> &[Value] {
        &self.errors
    }

    /// The rendered output (`None` until rendered, or when empty).
    pub fn output(&self) -> Option<Value> {
        self.output.clone().map(Value::Object)
    }

    /// The task state entries, in order.
    pub fn sequence(&self) -> &[TaskState] {
        &self.sequence
    }

    /// The conductor state as the `workflow` column keeps it.
    pub fn state(&self) -> Value {
        let sequence: Vec<Value> = self
            .sequence
            .iter()
            .map(|t| json!({"id": t.id, "route": t.route, "status": t.status}))
            .collect();
        json!({
            "status": self.status,
            "sequence": sequence,
            "routes": self.routes,
            "errors": self.errors,
            "output": self.output(),
        })
    }

    fn log_error(
        &mut self,
        e: &ExprError,
        task_id: Option<&str>,
        route: Option<usize>,
        transition: Option<&str>,
    ) {
        let mut entry = error_entry(e.to_string(), task_id, route);
        if let Some(t) = transition {
            entry["task_transition_id"] = json!(t);
        }
        self.log(entry);
    }

    fn log(&mut self, entry: Value) {
        if !self.errors.contains(&entry) {
            self.errors.push(entry);
        }
    }

    fn state_index(&self, id: &str, route: usize) -> Option<usize> {
        self.tasks.get(&(id.to_string(), route)).copied()
    }

    fn staged_index(&self, id: &str, route: usize) -> Option<usize> {
        self.staged
            .iter()
            .position(|s| s.id == id && s.route == route)
    }

    fn remove_staged(&mut self, id: &str, route: usize) {
        if let Some(at) = self.staged_index(id, route) {
            self.staged.remove(at);
        }
    }

    fn context_of(&self, idxs: &[usize]) -> Map<String, Value> {
        let mut ctx = Map::new();
        for &i in idxs {
            merge(&mut ctx, &self.contexts[i]);
        }
        ctx
    }

    /// Statuses for `succeeded()`/`task_status()`: `{"task__r0": status}`.
    fn status_map(&self) -> Value {
        let mut map = Map::new();
        for ((id, route), &at) in &self.tasks {
            map.insert(format!("{id}__r{route}"), json!(self.sequence[at].status));
        }
        Value::Object(map)
    }

    fn with_current(
        &self,
        mut ctx: Map<String, Value>,
        id: &str,
        route: usize,
        result: Option<&Value>,
    ) -> Map<String, Value> {
        let mut current = json!({"id": id, "route": route});
        if let Some(result) = result {
            current["result"] = result.clone();
        }
        ctx.insert("__current_task".into(), current);
        ctx.insert("__task_status".into(), self.status_map());
        ctx.insert("__routes".into(), json!(self.routes));
        ctx
    }

    fn has_active_tasks(&self) -> bool {
        self.tasks.values().any(|&i| {
            self.sequence[i]
                .status
                .as_deref()
                .is_some_and(|s| is(s, ACTIVE))
        })
    }

    fn ready_staged(&self) -> Vec<usize> {
        (0..self.staged.len())
            .filter(|&i| self.staged[i].ready && !self.staged[i].completed)
            .collect()
    }

    fn inbound_status(&self, task: &str, route: usize) -> &'static str {
        let inbound = self.graph.prev(task);
        let mut evaluation: Vec<(String, Option<bool>)> = Vec::new();
        for edge in &inbound {
            if !evaluation.iter().any(|(n, _)| *n == edge.from) {
                evaluation.push((edge.from.clone(), None));
            }
        }
        let requirement = match self.spec.task(task).and_then(|t| t.join) {
            Some(Join::All) => evaluation.len(),
            Some(Join::Count(n)) => n as usize,
            None => 1,
        };
        for edge in &inbound {
            let Some(at) = self.state_index(&edge.from, route) else {
                continue;
            };
            let satisfied = self.sequence[at]
                .next
                .get(&edge.id())
                .is_some_and(|v| v == &json!(true));
            let slot = evaluation
                .iter_mut()
                .find(|(n, _)| *n == edge.from)
                .unwrap();
            if slot.1 != Some(true) {
                slot.1 = Some(satisfied);
            }
        }
        if evaluation.iter().filter(|(_, v)| *v == Some(true)).count() >= requirement {
            return "satisfied";
        }
        if evaluation.iter().any(|(_, v)| v.is_none())
            && (self.has_active_tasks() || !self.ready_staged().is_empty())
        {
            return "wip";
        }
        "not_satisfied"
    }

    fn has_next(&self, task: &str, route: usize, eval_join: bool) -> bool {
        let Some(at) = self.state_index(task, route) else {
            return false;
        };
        let entry = &self.sequence[at];
        if !entry.status.as_deref().is_some_and(|s| is(s, COMPLETED)) {
            return false;
        }
        for edge in self.graph.next(task) {
            if edge.to == "continue" {
                continue;
            }
            if entry.next.get(&edge.id()) != Some(&json!(true)) {
                continue;
            }
            if self.spec.is_join_task(&edge.to) {
                if !eval_join {
                    return true;
                }
                if self.inbound_status(&edge.to, route) == "not_satisfied" {
                    continue;
                }
            }
            return true;
        }
        false
    }

    /// The tasks to run next (orquesta's `get_next_tasks`), sorted by (name, route). A
    /// rendering error fails the workflow and answers none.
    pub fn next_tasks(&mut self) -> Vec<NextTask> {
        let staged = self.ready_staged();
        let remediation: Vec<usize> = if self.status == "failed" {
            staged
                .iter()
                .copied()
                .filter(|&i| self.staged[i].run_on_fail)
                .collect()
        } else {
            Vec::new()
        };
        let running = ["requested", "scheduled", "delayed", "running", "resuming"];
        if !is(&self.status, &running) && remediation.is_empty() {
            return Vec::new();
        }
        let candidates = if remediation.is_empty() {
            staged
        } else {
            remediation
        };
        let mut out = Vec::new();
        let mut failed = false;
        for i in candidates {
            let (id, route) = (self.staged[i].id.clone(), self.staged[i].route);
            match self.render_task(i) {
                Ok(Some(task)) => out.push(task),
                Ok(None) => {}
                Err(e) => {
                    failed = true;
                    self.log(error_entry(e, Some(&id), Some(route)));
                }
            }
        }
        if failed {
            self.fail_workflow();
            return Vec::new();
        }
        out.sort_by(|a, b| (&a.id, a.route).cmp(&(&b.id, b.route)));
        out
    }

    fn fail_workflow(&mut self) {
        if is(
            &self.status,
            &["running", "resuming", "requested", "canceling", "succeeded"],
        ) {
            self.status = "failed".into();
        }
    }

    /// Ask the workflow to stop (`canceling` while tasks run, else `canceled`).
    pub fn cancel(&mut self) {
        if is(&self.status, &["running", "resuming", "requested"]) {
            self.status = if self.has_active_tasks() {
                "canceling"
            } else {
                "canceled"
            }
            .into();
        }
    }

    /// When a canceling workflow has no active task left: `canceled`.
    pub fn settle(&mut self) {
        if self.status == "canceling" && !self.has_active_tasks() {
            self.status = "canceled".into();
        }
        if is(&self.status, &["running", "resuming"])
            && !self.has_active_tasks()
            && self.ready_staged().is_empty()
        {
            // Nothing runs and nothing is staged: the workflow is done.
            self.status = "succeeded".into();
        }
    }

    /// Render `output` over the terminal context (once the workflow completed).
    pub fn render_output(&mut self) {
        if !is(&self.status, COMPLETED) || self.output.is_some() {
            return;
        }
        let terms: Vec<usize> = (0..self.sequence.len())
            .filter(|&i| self.sequence[i].term)
            .collect();
        let mut ctx = match terms.first() {
            Some(&first) => self.context_of(&self.sequence[first].ctxs_in.clone()),
            None => Map::new(),
        };
        for &i in terms.iter().skip(1) {
            let idxs: Vec<usize> = self.sequence[i]
                .ctxs_in
                .iter()
                .copied()
                .filter(|&c| c != 0)
                .collect();
            let more = self.context_of(&idxs);
            merge(&mut ctx, &more);
        }
        ctx.insert("__task_status".into(), self.status_map());
        ctx.insert("__routes".into(), json!(self.routes));
        let mut outputs = Map::new();
        let mut errors = Vec::new();
        for (name, value) in &self.spec.output {
            match expr::evaluate(value, &ctx, &self.functions) {
                Ok(value) => {
                    ctx.insert(name.clone(), value.clone());
                    outputs.insert(name.clone(), value);
                }
                Err(e) => errors.push(e),
            }
        }
        if !outputs.is_empty() {
            self.output = Some(outputs);
        }
        if !errors.is_empty() {
            for e in &errors {
                self.log_error(e, None, None, None);
            }
            if !is(&self.status, &["timeout", "abandoned", "canceled"]) {
                self.status = "failed".into();
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Event {
    Action {
        status: String,
        result: Value,
        item_id: Option<usize>,
    },
    Engine(String),
    Retry,
}

impl Event {
    fn status(&self) -> String {
        match self {
            Event::Action { status, .. } => status.clone(),
            Event::Engine(name) if name == "fail" => "failed".into(),
            Event::Engine(_) => "succeeded".into(),
            Event::Retry => "retrying".into(),
        }
    }
}

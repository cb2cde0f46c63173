//! The conductor: orquesta's `WorkflowConductor` (`orquesta/conducting.py`) with its state
//! machines (`machines.py`) for the statuses st2-rs reaches (no pause, no re-run). It does
//! not run anything: the runner asks [`Conductor::next_tasks`], runs their actions, and
//! reports each action's status with [`Conductor::action_event`]; the waves of
//! `../shared/spec/workflows.md` §2.6 are the runner's.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::expr::{self, truthy, ExprError};
use super::inline;
use super::model::{Join, WorkflowSpec, RESERVED_TASK_NAMES};
use crate::yaql::{self, Functions};

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

/// A transition of the graph (`networkx` edge: from, to, key) with its criteria and the
/// index of the `next` entry it comes from.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    key: usize,
    when: Option<String>,
    reference: usize,
}

impl Edge {
    /// `task2__t0`: the id of this transition in a task state's `next`.
    fn id(&self) -> String {
        format!("{}__t{}", self.to, self.key)
    }
    /// The back reference staged on the next task: `task1__t0`.
    fn backref(&self) -> String {
        format!("{}__t{}", self.from, self.key)
    }
}

/// The retry criteria of a task (`graph.get_task_retry_spec`).
#[derive(Debug, Clone)]
struct Retry {
    when: Option<String>,
    count: Value,
    delay: Option<Value>,
}

#[derive(Debug, Clone, Default)]
struct Graph {
    edges: Vec<Edge>,
    retry: HashMap<String, Retry>,
}

impl Graph {
    fn compose(spec: &WorkflowSpec) -> Graph {
        let mut graph = Graph::default();
        for task in &spec.tasks {
            if let Some(retry) = &task.retry {
                graph.retry.insert(
                    task.name.clone(),
                    Retry {
                        when: retry.when.clone(),
                        count: retry.count.clone(),
                        delay: retry.delay.clone(),
                    },
                );
            }
            for (to, when, reference) in spec.next_tasks(&task.name) {
                if to == "retry" {
                    graph.retry.insert(
                        task.name.clone(),
                        Retry {
                            when: Some(when.unwrap_or_else(|| "<% completed() %>".into())),
                            count: json!(3),
                            delay: None,
                        },
                    );
                    continue;
                }
                let same: Vec<&Edge> = graph
                    .edges
                    .iter()
                    .filter(|e| e.from == task.name && e.to == to)
                    .collect();
                if same.iter().any(|e| e.reference == reference) {
                    continue;
                }
                let key = same.len();
                graph.edges.push(Edge {
                    from: task.name.clone(),
                    to,
                    key,
                    when,
                    reference,
                });
            }
        }
        graph
    }

    fn next(&self, task: &str) -> Vec<&Edge> {
        let mut out: Vec<&Edge> = self.edges.iter().filter(|e| e.from == task).collect();
        out.sort_by(|a, b| a.to.cmp(&b.to));
        out
    }

    fn prev(&self, task: &str) -> Vec<&Edge> {
        self.edges.iter().filter(|e| e.to == task).collect()
    }
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
            &["running", "requested", "canceling", "succeeded"],
        ) {
            self.status = "failed".into();
        }
    }

    fn render_task(&mut self, staged_at: usize) -> Result<Option<NextTask>, String> {
        let staged = self.staged[staged_at].clone();
        let spec = self
            .spec
            .task(&staged.id)
            .ok_or_else(|| format!("InvalidTask: {}", staged.id))?;
        let ctx = self.with_current(
            self.context_of(&staged.ctxs_in),
            &staged.id,
            staged.route,
            None,
        );
        let (action, input) = match spec.action.as_deref().and_then(inline::split_action) {
            Some((action, pairs)) => (
                Some(Value::String(action)),
                Value::Object(pairs.into_iter().collect()),
            ),
            None => (
                spec.action.clone().map(Value::String),
                spec.input.clone().unwrap_or_else(|| json!({})),
            ),
        };
        let render_one = |ctx: &Map<String, Value>,
                          item_id: Option<usize>|
         -> Result<ActionSpec, String> {
            let action = match &action {
                Some(a) => {
                    match expr::evaluate(a, ctx, &self.functions).map_err(|e| e.to_string())? {
                        Value::Null => None,
                        Value::String(s) => Some(s),
                        other => Some(yaql::py_str(&other)),
                    }
                }
                None => None,
            };
            let input =
                match expr::evaluate(&input, ctx, &self.functions).map_err(|e| e.to_string())? {
                    Value::Object(map) => map,
                    Value::Null => Map::new(),
                    other => {
                        return Err(format!(
                            "TypeError: The input of task is not a map: {}",
                            yaql::py_str(&other)
                        ))
                    }
                };
            Ok(ActionSpec {
                action,
                input,
                item_id,
            })
        };
        let delay = match &spec.delay {
            None => None,
            Some(value) => match expr::evaluate(value, &ctx, &self.functions) {
                Ok(Value::Number(n)) if n.is_i64() => Some(n.as_i64().unwrap()),
                Ok(_) => {
                    return Err("TypeError: The value of task delay is not type of integer.".into())
                }
                Err(e) => return Err(e.to_string()),
            },
        };
        let delay = match &staged.retry {
            Some(retry) => Some(retry.1.unwrap_or(0)),
            None => delay,
        };
        let Some(with) = &spec.with else {
            let action = render_one(&ctx, None)?;
            return Ok(Some(NextTask {
                id: staged.id,
                route: staged.route,
                actions: vec![action],
                delay,
                items_count: None,
                concurrency: None,
            }));
        };
        let items = match expr::evaluate(&Value::String(with.items.clone()), &ctx, &self.functions)
        {
            Ok(Value::Array(items)) => items,
            Ok(_) => {
                return Err(format!(
                    "TypeError: The value of \"{}\" is not type of list.",
                    with.items
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        let concurrency = match &with.concurrency {
            None => None,
            Some(value) => match expr::evaluate(value, &ctx, &self.functions) {
                Ok(Value::Number(n)) => n.as_i64(),
                Ok(Value::Null) => None,
                Ok(other) => {
                    return Err(format!(
                        "TypeError: The concurrency value is not an integer: {}",
                        yaql::py_str(&other)
                    ))
                }
                Err(e) => return Err(e.to_string()),
            },
        };
        let count = items.len();
        // Every item is rendered the first time (a rendering error in any fails the task
        // then, as upstream renders them all); later waves render the items they start.
        let first = self.staged[staged_at]
            .items
            .as_ref()
            .is_none_or(|i| i.is_empty());
        let statuses = {
            let staged = &mut self.staged[staged_at];
            if first {
                staged.items = Some(vec![String::new(); count]);
            }
            staged.items.clone().unwrap()
        };
        let notrun: Vec<usize> = (0..count).filter(|&i| statuses[i].is_empty()).collect();
        let active = statuses.iter().filter(|s| is(s, ACTIVE)).count() as i64;
        let chosen: Vec<usize> = match concurrency {
            Some(c) => {
                let c = c.max(1);
                let available = (c - active).max(0) as usize;
                notrun.into_iter().take(available).collect()
            }
            None => notrun,
        };
        let render_item = |i: usize| -> Result<ActionSpec, String> {
            let item = match (&with.names[..], &items[i]) {
                ([], item) => item.clone(),
                (names, Value::Array(values)) => {
                    Value::Object(names.iter().cloned().zip(values.iter().cloned()).collect())
                }
                ([name], item) => json!({ name.clone(): item }),
                (_, item) => item.clone(),
            };
            let mut item_ctx = ctx.clone();
            item_ctx.insert("__current_item".into(), item);
            render_one(&item_ctx, Some(i))
        };
        if first {
            for i in 0..count {
                render_item(i)?;
            }
        }
        let actions: Vec<ActionSpec> = chosen
            .into_iter()
            .map(render_item)
            .collect::<Result<_, _>>()?;
        if actions.is_empty() && count != 0 {
            return Ok(None);
        }
        Ok(Some(NextTask {
            id: staged.id,
            route: staged.route,
            actions,
            delay,
            items_count: Some(count),
            concurrency: concurrency.map(|c| c.max(1)),
        }))
    }

    fn add_task_state(
        &mut self,
        id: &str,
        route: usize,
        ctxs_in: Vec<usize>,
        prev: Map<String, Value>,
    ) -> Result<usize, String> {
        let mut entry = TaskState {
            id: id.to_string(),
            route,
            status: None,
            ctxs_in: if ctxs_in.is_empty() { vec![0] } else { ctxs_in },
            prev,
            next: Map::new(),
            term: false,
            retry: None,
        };
        if let Some(retry) = self.graph.retry.get(id).cloned() {
            let ctx = self.context_of(&entry.ctxs_in);
            let int = |value: &Value, what: &str| -> Result<i64, String> {
                match expr::evaluate(value, &ctx, &self.functions) {
                    Ok(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap()),
                    _ => Err(format!(
                        "ValueError: The retry {what} for task \"{id}\" is not an integer."
                    )),
                }
            };
            let count = int(&retry.count, "count")?;
            let delay = retry.delay.as_ref().map(|d| int(d, "delay")).transpose()?;
            entry.retry = Some((count, delay, retry.when.clone(), 0));
        }
        self.sequence.push(entry);
        let at = self.sequence.len() - 1;
        self.tasks.insert((id.to_string(), route), at);
        Ok(at)
    }

    /// An action execution of task `(id, route)` reached `status` (`running`, then a final
    /// one with its `result`); for with-items tasks, `item_id` names the item.
    pub fn action_event(
        &mut self,
        id: &str,
        route: usize,
        item_id: Option<usize>,
        status: &str,
        result: Value,
    ) {
        self.update_task_state(
            id,
            route,
            Event::Action {
                status: status.to_string(),
                result,
                item_id,
            },
        );
    }

    /// The action of task `(id, route)` could not be started: the task fails with `message`
    /// logged (task and route named, no result) and the workflow fails.
    pub fn action_not_started(&mut self, id: &str, route: usize, message: &str) {
        self.log(error_entry(message.to_string(), Some(id), Some(route)));
        if let Some(at) = self.state_index(id, route) {
            self.sequence[at].status = Some("failed".into());
        }
        self.remove_staged(id, route);
        self.fail_workflow();
    }

    fn update_task_state(&mut self, id: &str, route: usize, event: Event) {
        let engine = RESERVED_TASK_NAMES.contains(&id);
        let staged_at = self.staged_index(id, route);
        let mut at = self.state_index(id, route);
        if staged_at.is_none() && at.is_none() {
            return;
        }
        let event_status = event.status();
        if at.is_none() || engine {
            let Some(s) = staged_at.map(|i| self.staged[i].clone()) else {
                return;
            };
            match self.add_task_state(id, s.route, s.ctxs_in.clone(), s.prev.clone()) {
                Ok(i) => at = Some(i),
                Err(message) => {
                    self.log(error_entry(message, Some(id), Some(route)));
                    self.fail_workflow();
                    return;
                }
            }
        }
        let mut at = at.unwrap();
        if self.sequence[at]
            .status
            .as_deref()
            .is_some_and(|s| is(s, COMPLETED))
            && is(&event_status, STARTING)
        {
            if let Some(s) = staged_at.map(|i| self.staged[i].clone()) {
                match self.add_task_state(id, s.route, s.ctxs_in.clone(), s.prev.clone()) {
                    Ok(i) => at = i,
                    Err(message) => {
                        self.log(error_entry(message, Some(id), Some(route)));
                        self.fail_workflow();
                        return;
                    }
                }
            }
        }
        let has_items = self.spec.task(id).is_some_and(|t| t.with.is_some());
        if let Some(i) = self.staged_index(id, route) {
            if self.staged[i].items.is_none() && !event_status.is_empty() {
                self.staged.remove(i);
            }
        }
        if let (
            Event::Action {
                item_id: Some(item),
                result,
                ..
            },
            Some(i),
        ) = (&event, self.staged_index(id, route))
        {
            if let Some(items) = self.staged[i].items.as_mut() {
                if *item < items.len() {
                    items[*item] = event_status.clone();
                }
            }
            if is(&event_status, COMPLETED) {
                let count = self.staged[i].items.as_ref().map_or(0, Vec::len);
                let results = self
                    .item_results
                    .entry((id.to_string(), route))
                    .or_insert_with(|| vec![Value::Null; count]);
                if *item < results.len() {
                    results[*item] = result.clone();
                }
            }
        }
        if event_status == "failed" {
            let mut entry = error_entry(
                "Execution failed. See result for details.".into(),
                Some(id),
                None,
            );
            if let Event::Action { result, .. } = &event {
                if !result.is_null() {
                    entry["result"] = result.clone();
                }
            }
            self.log(entry);
        }
        let old = self.sequence[at].status.clone();
        let new = self.task_transition(id, route, at, &event);
        if let Some(new) = &new {
            self.sequence[at].status = Some(new.clone());
        }
        let new = self.sequence[at].status.clone().unwrap_or_default();
        if new == "retrying" {
            if let Some(retry) = self.sequence[at].retry.as_mut() {
                retry.3 += 1;
            }
            let entry = self.sequence[at].clone();
            self.remove_staged(id, route);
            self.staged.push(Staged {
                id: id.to_string(),
                route,
                ctxs_in: entry.ctxs_in.clone(),
                prev: entry.prev.clone(),
                ready: true,
                retry: entry.retry.clone(),
                items: None,
                completed: false,
                run_on_fail: false,
            });
            self.item_results.remove(&(id.to_string(), route));
        }
        if is(&new, COMPLETED) {
            if !(has_items && is(&new, ABENDED)) {
                self.remove_staged(id, route);
            } else if let Some(i) = self.staged_index(id, route) {
                self.staged[i].completed = true;
            }
            let result = if has_items {
                Value::Array(
                    self.item_results
                        .get(&(id.to_string(), route))
                        .cloned()
                        .unwrap_or_default(),
                )
            } else {
                match &event {
                    Event::Action { result, .. } => result.clone(),
                    _ => Value::Null,
                }
            };
            let ctx = self.with_current(
                self.context_of(&self.sequence[at].ctxs_in.clone()),
                id,
                route,
                Some(&result),
            );
            if is(&self.status, ACTIVE) {
                match self.evaluate_retry(at, &ctx) {
                    Ok(true) => {
                        self.update_task_state(id, route, Event::Retry);
                        return;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.log_error(&e, Some(id), Some(route), None);
                        self.fail_workflow();
                    }
                }
            }
            if Some(new.as_str()) != old.as_deref() {
                self.transitions(id, route, at, ctx);
                return self.after_task_event(id, route, at);
            }
        }
        self.after_task_event_simple(id, route, at);
    }

    fn after_task_event_simple(&mut self, id: &str, route: usize, at: usize) {
        self.workflow_task_event(id, route, at);
        if is(&self.status, COMPLETED) {
            self.sequence[at].term = true;
        }
    }

    fn after_task_event(&mut self, id: &str, route: usize, at: usize) {
        self.after_task_event_simple(id, route, at);
    }

    fn task_transition(&self, id: &str, route: usize, at: usize, event: &Event) -> Option<String> {
        let current = self.sequence[at].status.clone().unwrap_or_default();
        let status = event.status();
        match event {
            Event::Engine(name) => match (current.as_str(), name.as_str()) {
                ("", "continue" | "noop") => Some("succeeded".into()),
                ("", "fail") => Some("failed".into()),
                _ => None,
            },
            Event::Retry => {
                if is(&current, COMPLETED) {
                    Some("retrying".into())
                } else {
                    None
                }
            }
            Event::Action {
                item_id: Some(item),
                ..
            } => {
                if !is(&status, COMPLETED) {
                    return if is(
                        &current,
                        &[
                            "",
                            "requested",
                            "scheduled",
                            "delayed",
                            "running",
                            "retrying",
                        ],
                    ) {
                        Some(if status == "running" {
                            "running".into()
                        } else {
                            status
                        })
                    } else {
                        None
                    };
                }
                let others: Vec<String> = self
                    .staged_index(id, route)
                    .and_then(|i| self.staged[i].items.clone())
                    .map(|items| {
                        items
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| i != item)
                            .map(|(_, s)| s)
                            .collect()
                    })
                    .unwrap_or_default();
                let active = others.iter().any(|s| is(s, ACTIVE));
                let canceled = others.iter().any(|s| s == "canceled");
                let failed = others.iter().any(|s| is(s, ABENDED));
                let incomplete = others.iter().any(|s| !is(s, COMPLETED));
                let status = match status.as_str() {
                    "timeout" | "abandoned" => "failed".to_string(),
                    other => other.to_string(),
                };
                match status.as_str() {
                    "succeeded" => Some(if active {
                        "running".into()
                    } else if canceled {
                        "canceled".into()
                    } else if failed {
                        "failed".into()
                    } else if incomplete {
                        "running".into()
                    } else {
                        "succeeded".into()
                    }),
                    "failed" => {
                        if active {
                            None
                        } else if canceled {
                            Some("canceled".into())
                        } else {
                            Some("failed".into())
                        }
                    }
                    "canceled" => Some(if active {
                        "canceling".into()
                    } else {
                        "canceled".into()
                    }),
                    _ => None,
                }
            }
            Event::Action { .. } => {
                let status = match status.as_str() {
                    "timeout" | "abandoned" => "failed".to_string(),
                    other => other.to_string(),
                };
                if is(&current, COMPLETED) {
                    return None;
                }
                Some(status)
            }
        }
    }

    fn evaluate_retry(&mut self, at: usize, ctx: &Map<String, Value>) -> Result<bool, ExprError> {
        let Some((count, _, when, tally)) = self.sequence[at].retry.clone() else {
            return Ok(false);
        };
        if tally >= count {
            return Ok(false);
        }
        let status = self.sequence[at].status.clone().unwrap_or_default();
        match when {
            None => Ok(is(&status, ABENDED)),
            Some(when) => Ok(truthy(&expr::evaluate(
                &Value::String(when),
                ctx,
                &self.functions,
            )?)),
        }
    }

    fn transitions(&mut self, id: &str, route: usize, at: usize, ctx: Map<String, Value>) {
        let edges: Vec<Edge> = self.graph.next(id).into_iter().cloned().collect();
        if edges.is_empty() {
            self.sequence[at].term = true;
        }
        let mut engine_queue = Vec::new();
        let mut staged_next = Vec::new();
        let mut has_manual_fail = false;
        let spec = self.spec.task(id).cloned();
        for edge in edges {
            let transition_id = edge.id();
            let held = match &edge.when {
                None => Ok(true),
                Some(when) => expr::evaluate(&Value::String(when.clone()), &ctx, &self.functions)
                    .map(|v| truthy(&v)),
            };
            let held = match held {
                Ok(held) => held,
                Err(e) => {
                    self.log_error(&e, Some(id), Some(route), Some(&transition_id));
                    self.fail_workflow();
                    continue;
                }
            };
            self.sequence[at]
                .next
                .insert(transition_id.clone(), json!(held));
            if !held {
                continue;
            }
            // finalize_context: publish.
            let mut rolling = ctx.clone();
            let mut new_ctx = Map::new();
            let mut errors = Vec::new();
            if let Some(transition) = spec.as_ref().and_then(|s| s.next.get(edge.reference)) {
                if transition.targets.contains(&edge.to) {
                    for (name, value) in &transition.publish {
                        match expr::evaluate(value, &rolling, &self.functions) {
                            Ok(value) => {
                                rolling.insert(name.clone(), value.clone());
                                new_ctx.insert(name.clone(), value);
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                }
            }
            if !errors.is_empty() {
                for e in errors {
                    self.log_error(&e, Some(id), Some(route), Some(&transition_id));
                }
                self.fail_workflow();
                continue;
            }
            let mut out_idxs = self.sequence[at].ctxs_in.clone();
            if !new_ctx.is_empty() {
                self.contexts.push(new_ctx);
                out_idxs.push(self.contexts.len() - 1);
            }
            let next_route = self.evaluate_route(&edge, route);
            let backref = edge.backref();
            let next_at = match self.staged_index(&edge.to, next_route) {
                Some(i) => {
                    let extra: Vec<usize> = out_idxs.iter().copied().filter(|&c| c != 0).collect();
                    let staged = &mut self.staged[i];
                    staged.ctxs_in.extend(extra);
                    staged.prev.insert(backref, json!(at));
                    staged.items = None;
                    staged.completed = false;
                    i
                }
                None => {
                    let mut prev = Map::new();
                    prev.insert(backref, json!(at));
                    self.staged.push(Staged {
                        id: edge.to.clone(),
                        route: next_route,
                        ctxs_in: out_idxs,
                        prev,
                        ready: false,
                        retry: None,
                        items: None,
                        completed: false,
                        run_on_fail: false,
                    });
                    self.staged.len() - 1
                }
            };
            let ready = self.inbound_status(&edge.to, route) == "satisfied";
            self.staged[next_at].ready = ready;
            if RESERVED_TASK_NAMES.contains(&edge.to.as_str()) {
                engine_queue.push((edge.to.clone(), next_route));
                has_manual_fail |= edge.to == "fail";
            } else if ready {
                staged_next.push((edge.to.clone(), next_route));
            }
        }
        if has_manual_fail {
            for (task, route) in staged_next {
                if let Some(i) = self.staged_index(&task, route) {
                    self.staged[i].run_on_fail = true;
                }
            }
        }
        self.workflow_task_event(id, route, at);
        for (task, route) in engine_queue {
            self.update_task_state(&task, route, Event::Engine(task.clone()));
        }
    }

    fn evaluate_route(&mut self, edge: &Edge, prev_route: usize) -> usize {
        if !self.spec.is_split_task(&edge.to) || self.spec.in_cycle(&edge.to) {
            return prev_route;
        }
        let old = self.routes[prev_route].clone();
        let mut new = old.clone();
        let id = edge.backref();
        if !old.contains(&id) {
            new.push(id);
        }
        if new == old {
            return prev_route;
        }
        self.routes.push(new);
        self.routes.len() - 1
    }

    /// `WorkflowStateMachine.process_task_event` for the task entry `at`.
    fn workflow_task_event(&mut self, id: &str, route: usize, at: usize) {
        let status = self.sequence[at].status.clone().unwrap_or_default();
        let remediated = is(&status, ABENDED)
            && (self.has_next(id, route, true) || self.has_next(id, route, false));
        let active = self.has_active_tasks();
        let current = self.status.clone();
        let kind = if remediated {
            "succeeded"
        } else {
            status.as_str()
        };
        let new = match (current.as_str(), kind) {
            ("running", "succeeded") => {
                let incomplete = !self.ready_staged().is_empty() || self.has_next(id, route, true);
                let canceled = self.tasks.values().any(|&i| {
                    matches!(
                        self.sequence[i].status.as_deref(),
                        Some("canceling" | "canceled")
                    )
                });
                if canceled {
                    if active {
                        "canceling"
                    } else {
                        "canceled"
                    }
                } else if active || incomplete {
                    "running"
                } else {
                    "succeeded"
                }
            }
            ("running", "failed" | "timeout" | "abandoned") => "failed",
            ("running", "canceling") => "canceling",
            ("running", "canceled") => {
                if active {
                    "canceling"
                } else {
                    "canceled"
                }
            }
            ("canceling", "succeeded" | "failed" | "timeout" | "abandoned" | "canceled") => {
                if active {
                    "canceling"
                } else {
                    "canceled"
                }
            }
            _ => current.as_str(),
        }
        .to_string();
        self.status = new;
        // A workflow already completed takes no event (`machines.py` returns before its
        // unreachable-join check).
        if !is(&current, COMPLETED) && is(&self.status, COMPLETED) {
            let unreachable: Vec<(String, usize)> = self
                .staged
                .iter()
                .filter(|s| self.spec.is_join_task(&s.id) && !s.ready)
                .map(|s| (s.id.clone(), s.route))
                .collect();
            for (task, route) in unreachable {
                if self.inbound_status(&task, route) == "not_satisfied" {
                    self.status = "failed".into();
                    self.log(error_entry(
                        format!("UnreachableJoinError: The join task|route \"{task}|{route}\" is partially satisfied but unreachable."),
                        Some(&task),
                        Some(route),
                    ));
                }
            }
        }
    }

    /// Ask the workflow to stop (`canceling` while tasks run, else `canceled`).
    pub fn cancel(&mut self) {
        if is(&self.status, &["running", "requested"]) {
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
        if self.status == "running" && !self.has_active_tasks() && self.ready_staged().is_empty() {
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

/// orquesta's own functions: `succeeded`, `failed`, `completed`, `result`, `item`,
/// `task_status` (over `__current_task`, `__current_item`, `__task_status`).
fn register_functions(functions: &mut Functions) {
    fn current(call: &yaql::Call<'_>) -> Result<Value, yaql::Error> {
        match call.context.get("__current_task") {
            Some(task) if !task.is_null() => Ok(task.clone()),
            _ => Err(yaql::Error::new(
                "ExpressionEvaluationException",
                "The current task is not set in the context.".into(),
            )),
        }
    }
    fn status_of(call: &yaql::Call<'_>, task: &str, route: &Value) -> Value {
        let key = format!("{task}__r{route}");
        call.context
            .get("__task_status")
            .and_then(|m| m.get(&key))
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!("null"))
    }
    fn status(call: &yaql::Call<'_>) -> Result<Value, yaql::Error> {
        let task = current(call)?;
        Ok(status_of(
            call,
            task["id"].as_str().unwrap_or_default(),
            &task["route"],
        ))
    }
    functions.register("succeeded", |call| Ok(json!(status(call)? == "succeeded")));
    functions.register("failed", |call| Ok(json!(status(call)? == "failed")));
    functions.register("completed", |call| {
        let status = status(call)?;
        Ok(json!(COMPLETED.iter().any(|s| status == *s)))
    });
    functions.register("result", |call| {
        Ok(current(call)?.get("result").cloned().unwrap_or(Value::Null))
    });
    functions.register("task_status", |call| {
        let name = call.args.first().map(yaql::py_str).unwrap_or_default();
        let route = match call.args.get(1) {
            Some(route) => route.clone(),
            None => current(call)
                .map(|t| t["route"].clone())
                .unwrap_or(json!(0)),
        };
        Ok(status_of(call, &name, &route))
    });
    functions.register("item", |call| {
        let item = call.context.get("__current_item").cloned().ok_or_else(|| {
            yaql::Error::new(
                "ExpressionEvaluationException",
                "The current item is not set in the context.".into(),
            )
        })?;
        match call.args.first() {
            None | Some(Value::Null) => Ok(item),
            Some(key) => {
                let key = yaql::py_str(key);
                item.get(&key).cloned().ok_or_else(|| {
                    yaql::Error::new(
                        "ExpressionEvaluationException",
                        format!("Item does not have key \"{key}\"."),
                    )
                })
            }
        }
    });
}

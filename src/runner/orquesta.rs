//! The `orquesta` runner (`../shared/spec/workflows.md` §1-2, §6, §8): the workflow file
//! read and inspected as upstream does (a refusal is the parent's `result.errors`, nothing
//! runs), st2's content checks through the [`TaskRunner`] (action refs, their inputs,
//! **[fix]** runners st2-rs does not run), then the conductor ([`crate::orquesta`]) driven in
//! waves, each action a child execution through [`TaskRunner::run_task`] with the orquesta
//! `context`, or, under `ST2_WORKFLOW_MOCKS`, a mocked result. When it ends, its conductor
//! (with the definition's digest and `task()`'s records) is kept; a re-run of some of its tasks
//! (`st2 execution re-run ID --tasks ...`, [`TaskRunner::resume`]) restores it, applies
//! orquesta's `request_workflow_rerun` and conducts the rest.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::workflow::{TaskOutcome, TaskRequest, TaskRunner, Turnstile};
use super::{RunOutcome, RunRequest};
use crate::datastore::Datastore;
use crate::orquesta::conductor::Conductor;
use crate::orquesta::expr::{has_jinja, has_yaql};
use crate::orquesta::inline;
use crate::orquesta::inspect::{inspect_all, sort_errors};
use crate::orquesta::model::WorkflowSpec;
use crate::orquesta::waves::{conduct, ActionRequest, ActionResult, Executor, Mocks};
use crate::store::{ExecutionStatus, KeyScope};
use crate::yaql::{self, Functions};

/// The variable naming the mocks file.
pub(crate) const MOCKS_VARIABLE: &str = "ST2_WORKFLOW_MOCKS";

/// What `st2 run` warns about an orquesta run: mocks in use (`ST2_WORKFLOW_MOCKS`), and
/// the `notify` runner parameter, accepted and ignored (st2-rs sends no notifications).
pub(crate) fn warnings(parameters: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(path) = std::env::var_os(MOCKS_VARIABLE) {
        out.push(format!(
            "workflow actions are mocked from {}",
            std::path::Path::new(&path).display()
        ));
    }
    if parameters
        .get("notify")
        .and_then(Value::as_array)
        .is_some_and(|tasks| !tasks.is_empty())
    {
        out.push("notify is ignored: st2-rs sends no notifications".to_string());
    }
    out
}

fn failed(errors: Vec<Value>) -> RunOutcome {
    RunOutcome {
        outcome: ExecutionStatus::Failed,
        result: json!({"errors": errors, "output": null}),
    }
}

fn error(message: String) -> Value {
    json!({"type": "error", "message": message})
}

/// Run the workflow of `request`.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    let Some(tasks) = request.tasks else {
        return failed(vec![error(
            "the orquesta runner needs a task runner".into(),
        )]);
    };
    // A re-run of some tasks resumes the original's conductor, on the definition it ran.
    let resume = match tasks.resume() {
        Ok(resume) => resume,
        Err(e) => return failed(vec![error(e)]),
    };
    let text = match std::fs::read_to_string(request.entry_point_path()) {
        Ok(text) => text,
        Err(e) => {
            return failed(vec![error(format!(
                "Unable to read the workflow definition {}: {e}",
                request.entry_point
            ))])
        }
    };
    // The definition is not kept (it may hold what must not be recorded), only its digest:
    // one changed since is refused rather than resumed on another graph.
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    if let Some(resume) = &resume {
        if resume.saved["definition_sha256"] != digest.as_str() {
            return failed(vec![error(format!(
                "Unable to rerun workflow execution \"{}\" because its workflow definition \
                 ({}) changed since it ran.",
                resume.original, request.entry_point
            ))]);
        }
    }
    let raw = match crate::yaml::from_str(&text) {
        Ok(raw) => raw,
        Err(e) => return failed(vec![error(format!("{e}"))]),
    };
    // The task execution records `task()` reads, kept by the executor.
    // A re-run keeps the original's (the tasks that are not run again stay readable).
    let kept = resume
        .as_ref()
        .and_then(|r| r.saved["records"].as_object().cloned())
        .unwrap_or_default();
    let records: Arc<Mutex<Map<String, Value>>> = Arc::new(Mutex::new(kept.clone()));
    let functions = engine_functions(request, records.clone());
    let (spec, mut errors) = inspect_all(&raw, &["st2", "parent"], &functions);
    errors.extend(content_errors(&spec, tasks));
    if !errors.is_empty() {
        sort_errors(&mut errors);
        return failed(errors);
    }
    let mocks = match std::env::var_os(MOCKS_VARIABLE) {
        None => None,
        Some(file) => {
            let loaded = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()))
                .and_then(|value| Mocks::from_json(&value));
            match loaded {
                Ok(mocks) => Some(mocks),
                Err(e) => {
                    return failed(vec![error(format!(
                        "{MOCKS_VARIABLE}: {}: {e}",
                        std::path::Path::new(&file).display()
                    ))])
                }
            }
        }
    };
    // [fix] null parameters are not passed: the workflow's own default applies.
    let inputs: Map<String, Value> = request
        .parameters
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let st2 = json!({
        "action_execution_id": request.execution_id,
        "api_url": request.settings.public_api_url,
        "user": request.user,
        "pack": request.pack,
        "action": request.action_ref,
        "runner": "orquesta",
    });
    let mut initial = Map::new();
    initial.insert("st2".into(), st2.clone());
    initial.insert(
        "parent".into(),
        json!({"user": request.user, "pack": request.pack}),
    );
    // A child's `context.parent` is the workflow's st2 context.
    let mut parent_ctx = st2;
    parent_ctx["workflow_execution_id"] = json!(request.execution_id);
    let mut conductor = match &resume {
        None => {
            let mut conductor = Conductor::new(&spec, &inputs, initial, functions);
            conductor.set_st2("workflow_execution_id", json!(request.execution_id));
            conductor
        }
        Some(resume) => {
            let resumed = Conductor::restore(&spec, &resume.saved["conductor"], functions)
                .and_then(|mut conductor| {
                    conductor.request_rerun(&resume.tasks, &resume.reset)?;
                    Ok(conductor)
                });
            match resumed {
                Ok(conductor) => conductor,
                Err(e) => return failed(vec![error(e)]),
            }
        }
    };
    let mut executor = Children {
        request,
        tasks,
        mocks,
        parent_ctx,
        records,
        kept: Mutex::new(kept),
        forks: Vec::new(),
    };
    conduct(&mut conductor, &mut executor);
    tasks.record_workflow(&conductor.state());
    // Once, at the end: what a re-run of some of its tasks resumes.
    let records = executor.kept.into_inner().unwrap_or_default();
    tasks.record_conductor(&json!({
        "definition_sha256": digest,
        "conductor": conductor.save(),
        "records": records,
    }));
    let status = match conductor.status() {
        "succeeded" => ExecutionStatus::Succeeded,
        "canceled" | "canceling" => ExecutionStatus::Canceled,
        _ => ExecutionStatus::Failed,
    };
    let mut result = json!({"output": conductor.output()});
    if status == ExecutionStatus::Failed {
        result["errors"] = json!(conductor.errors());
    }
    RunOutcome {
        outcome: status,
        result,
    }
}

/// st2's content checks (`services/workflows.py: inspect_task_contents`), and **[fix]** the
/// runners st2-rs does not run.
fn content_errors(spec: &WorkflowSpec, tasks: &dyn TaskRunner) -> Vec<Value> {
    let schema_path = "properties.tasks.patternProperties.^\\w+$";
    let mut out = Vec::new();
    let entry = |message: String, spec_path: String, schema_path: String| json!({"type": "content", "message": message, "spec_path": spec_path, "schema_path": schema_path});
    for task in &spec.tasks {
        let Some(action) = &task.action else { continue };
        if has_yaql(action) || has_jinja(action) {
            continue;
        }
        let (action, inline_input) = match inline::split_action(action) {
            Some((action, pairs)) => (action, Some(pairs.into_iter().collect::<Map<_, _>>())),
            None => (action.clone(), None),
        };
        let action_path = format!("tasks.{}.action", task.name);
        let action_schema = format!("{schema_path}.properties.action");
        let parts: Vec<&str> = action.splitn(2, '.').collect();
        if parts.len() != 2 || parts[0].is_empty() || parts[1].is_empty() {
            out.push(entry(
                format!("The action reference \"{action}\" is not formatted correctly."),
                action_path,
                action_schema,
            ));
            continue;
        }
        let found = match tasks.action(&action) {
            Ok(found) => found,
            Err(e) => {
                out.push(entry(e, action_path, action_schema));
                continue;
            }
        };
        let Some(found) = found else {
            out.push(entry(
                format!("The action \"{action}\" is not registered in the database."),
                action_path,
                action_schema,
            ));
            continue;
        };
        if !found.runnable {
            out.push(entry(
                format!(
                    "The action \"{action}\" uses the runner \"{}\" that st2-rs does not run.",
                    found.runner_type
                ),
                action_path.clone(),
                action_schema.clone(),
            ));
        }
        let input = match (&inline_input, &task.input, task.raw.get("input")) {
            (Some(map), _, _) => map.clone(),
            (None, Some(Value::Object(map)), _) => map.clone(),
            (None, Some(_), _) => continue,
            // An input of the wrong shape (a syntax error already): not checked.
            (None, None, Some(raw)) if !raw.is_null() => continue,
            (None, None, _) => Map::new(),
        };
        let input_path = format!("tasks.{}.input", task.name);
        let input_schema = format!("{schema_path}.properties.input");
        for (name, param) in &found.schema {
            let required = param.get("required").and_then(Value::as_bool) == Some(true);
            let has_default = param.get("default").is_some_and(|d| !d.is_null());
            if required && !has_default && !input.contains_key(name) {
                out.push(entry(
                    format!("Action \"{action}\" is missing required input \"{name}\"."),
                    input_path.clone(),
                    input_schema.clone(),
                ));
            }
        }
        for name in input.keys() {
            if !found.schema.contains_key(name) {
                out.push(entry(
                    format!("Action \"{action}\" has unexpected input \"{name}\"."),
                    format!("{input_path}.{name}"),
                    format!("{input_schema}.patternProperties.^\\w+$"),
                ));
            }
        }
    }
    out
}

/// The engine functions st2 adds (`st2kv`, `task`).
fn engine_functions(request: &RunRequest, records: Arc<Mutex<Map<String, Value>>>) -> Functions {
    let mut functions = Functions::new();
    crate::expressions::yaql_functions::register(&mut functions);
    let datastore = Datastore::open(request.settings)
        .ok()
        .map(Mutex::new)
        .map(Arc::new);
    functions.register("st2kv", move |call| {
        let key = call.args.first().map(yaql::py_str).unwrap_or_default();
        let named = |n: &str| {
            call.named
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let decrypt = named("decrypt").or_else(|| call.args.get(1).cloned());
        let decrypt = match decrypt {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(yaql::Error::new(
                    "TypeError",
                    format!("decrypt must be a boolean, not {}", yaql::py_str(&other)),
                ))
            }
        };
        let default = named("default").or_else(|| call.args.get(2).cloned());
        let user = call
            .context
            .get("st2")
            .and_then(|s| s.get("user"))
            .and_then(Value::as_str)
            .unwrap_or("stanley")
            .to_string();
        let (scope, name, shown) = match key.strip_prefix("system.") {
            Some(name) => (KeyScope::System, name.to_string(), name.to_string()),
            None => (KeyScope::User, key.clone(), format!("{user}:{key}")),
        };
        let found = datastore.as_ref().and_then(|d| {
            d.lock()
                .ok()
                .and_then(|d| d.get(scope, &user, &name, decrypt).ok())
        });
        match (found, default) {
            (Some(item), _) => Ok(Value::String(item.value)),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(yaql::Error::new(
                "Exception",
                format!("The key \"{shown}\" does not exist in the StackStorm datastore."),
            )),
        }
    });
    // `orquesta_functions/runtime.py: task`: the latest record of (task, route), falling
    // back to the routes before the split.
    functions.register("task", move |call| {
        let current = call.context.get("__current_task");
        let named = |n: &str| call.named.iter().find(|(k, _)| k == n).map(|(_, v)| v);
        let name = match call.args.first().or_else(|| named("task_id")) {
            Some(name) => yaql::py_str(name),
            None => current
                .and_then(|t| t.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let route = call
            .args
            .get(1)
            .or_else(|| named("route"))
            .and_then(Value::as_u64)
            .or_else(|| current.and_then(|t| t.get("route")).and_then(Value::as_u64))
            .unwrap_or(0) as usize;
        // Looked up under the lock: copying every record on each call cost more the longer
        // the workflow.
        let records = records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let find = |route: usize| records.get(&format!("{name}__r{route}"));
        let routes: Vec<Vec<String>> = call
            .context
            .get("__routes")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default();
        let mut route = route;
        let found = loop {
            if let Some(found) = find(route) {
                break Some(found);
            }
            let Some(current) = routes.get(route).filter(|_| route > 0) else {
                break None;
            };
            match (0..route)
                .rev()
                .find(|&prev| routes[prev].iter().all(|t| current.contains(t)))
            {
                Some(prev) => route = prev,
                None => break None,
            }
        };
        found.cloned().ok_or_else(|| {
            yaql::Error::new(
                "ExpressionEvaluationException",
                format!("Unable to find task execution for \"{name}\"."),
            )
        })
    });
    functions
}

/// Runs a wave's actions as child executions (or answers them from the mocks).
struct Children<'r, 'a> {
    request: &'r RunRequest<'a>,
    tasks: &'r dyn TaskRunner,
    mocks: Option<Mocks>,
    parent_ctx: Value,
    records: Arc<Mutex<Map<String, Value>>>,
    /// The same, as kept for a re-run: each result as recorded.
    kept: Mutex<Map<String, Value>>,
    /// The task runners of the wave's threads, made on first need and kept for the run.
    forks: Vec<Box<dyn TaskRunner + Send + 'r>>,
}

/// How an action of a wave ended: its child's id (when one was recorded), result, and the
/// result as recorded when that differs (its `output_schema`'s secret fields masked).
type Outcome = (Option<String>, ActionResult, Option<Value>);

/// What every child of the workflow shares (all of it `Sync`, for the wave's threads).
struct Shared<'s> {
    execution_id: &'s str,
    user: &'s str,
    cancel: &'s super::CancelFlag,
    parent_ctx: &'s Value,
    turnstile: Turnstile,
}

fn done(status: &str, not_started: Option<String>) -> ActionResult {
    ActionResult {
        status: status.into(),
        result: Value::Null,
        not_started,
    }
}

impl Shared<'_> {
    /// Wait `seconds`, or less when the workflow is canceled.
    fn delay(&self, seconds: i64) {
        let until = Instant::now() + Duration::from_secs(seconds.max(0) as u64);
        while Instant::now() < until && !self.cancel.is_set() {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }

    /// Run `request` (ticket `ticket` of its wave) through `tasks`.
    fn run_one(
        &self,
        tasks: &dyn TaskRunner,
        request: &ActionRequest,
        mock: Option<Result<ActionResult, String>>,
        ticket: usize,
    ) -> Outcome {
        // However it ends before `run_task`, the next child's turn to be recorded comes.
        let skip = || {
            self.turnstile.wait(ticket);
            self.turnstile.done(ticket);
        };
        let Some(action) = &request.action else {
            skip();
            return (None, done("succeeded", None), None);
        };
        if let Some(delay) = request.delay.filter(|d| *d > 0) {
            self.delay(delay);
        }
        if self.cancel.is_set() {
            skip();
            return (None, done("canceled", None), None);
        }
        let mock = match mock {
            Some(Err(message)) => {
                skip();
                return (None, done("failed", Some(message)), None);
            }
            Some(Ok(result)) => Some((
                ExecutionStatus::parse(&result.status).unwrap_or(ExecutionStatus::Failed),
                result.result,
            )),
            None => None,
        };
        let pack = action.split('.').next().unwrap_or_default();
        let mut orquesta = json!({
            "workflow_execution_id": self.execution_id,
            "task_execution_id": format!("{}__{}", request.task_id, request.route),
            "task_name": request.task_id,
            "task_id": request.task_id,
            "task_route": request.route,
        });
        if let Some(item) = request.item_id {
            orquesta["item_id"] = json!(item);
        }
        let context = json!({
            "user": self.user,
            "pack": pack,
            "parent": self.parent_ctx,
            "orquesta": orquesta,
        });
        // The input cast to the action's parameter types (`render_live_params`); a value
        // that cannot be cast fails the task before any child.
        let mut parameters = request.input.clone();
        if let Ok(Some(found)) = tasks.action(action) {
            for (name, value) in parameters.iter_mut() {
                let kind = found
                    .schema
                    .get(name)
                    .and_then(|p| p.get("type"))
                    .and_then(Value::as_str);
                if let Some(kind) = kind {
                    match crate::casts::cast(value.clone(), kind) {
                        Ok(cast) => *value = cast,
                        Err(reason) => {
                            skip();
                            return (
                                None,
                                done("failed", Some(format!("ValueError: {reason}"))),
                                None,
                            );
                        }
                    }
                }
            }
        }
        let outcome: TaskOutcome = tasks.run_task(TaskRequest {
            action_ref: action,
            parameters,
            context,
            mock,
            turn: Some((&self.turnstile, ticket)),
        });
        // A child that could not be started (its parameters refused): the task's error.
        let not_started = match &outcome.execution_id {
            None => Some(
                outcome.result["error"]
                    .as_str()
                    .map_or_else(|| outcome.result.to_string(), str::to_string),
            ),
            Some(_) => None,
        };
        (
            outcome.execution_id,
            ActionResult {
                status: outcome.status.as_str().to_string(),
                result: outcome.result,
                not_started,
            },
            outcome.recorded,
        )
    }
}

impl Children<'_, '_> {
    /// The mocked end of `request` (`ST2_WORKFLOW_MOCKS`), matched in wave order.
    fn mock_for(&mut self, request: &ActionRequest) -> Option<Result<ActionResult, String>> {
        let mocks = self.mocks.as_mut()?;
        request.action.as_ref()?;
        Some(mocks.answer(request).ok_or_else(|| {
            format!(
                "no mocked action execution matches task \"{}\" (seq_id {}{})",
                request.task_id,
                request.seq_id,
                request
                    .item_id
                    .map(|i| format!(", item_id {i}"))
                    .unwrap_or_default()
            )
        }))
    }

    /// `task()`'s record of each finished action, in wave order; and the record kept for a
    /// re-run, with the result as recorded.
    fn record(
        &self,
        request: &ActionRequest,
        id: Option<String>,
        result: &ActionResult,
        recorded: Option<Value>,
        start: &str,
    ) {
        let record = json!({
            "task_execution_id": id,
            "workflow_execution_id": self.request.execution_id,
            "task_name": request.task_id,
            "task_id": request.task_id,
            "route": request.route,
            "status": result.status,
            "start_timestamp": start,
            "end_timestamp": crate::execution::timestamp(),
        });
        let key = format!("{}__r{}", request.task_id, request.route);
        let (Ok(mut records), Ok(mut kept)) = (self.records.lock(), self.kept.lock()) else {
            return;
        };
        let kept_result = recorded.unwrap_or_else(|| result.result.clone());
        put_record(
            &mut kept,
            &key,
            record.clone(),
            request.item_id,
            &result.status,
            kept_result,
        );
        put_record(
            &mut records,
            &key,
            record,
            request.item_id,
            &result.status,
            result.result.clone(),
        );
    }
}

/// Put `record` with `result` under `key` of `records`; an item's result goes into the
/// task's `result.items`, beside the items recorded before.
fn put_record(
    records: &mut Map<String, Value>,
    key: &str,
    mut record: Value,
    item_id: Option<usize>,
    status: &str,
    result: Value,
) {
    record["result"] = match item_id {
        None => result,
        Some(item) => {
            let mut items = records
                .get_mut(key)
                .and_then(|r| r.get_mut("result"))
                .and_then(|r| r.get_mut("items"))
                .and_then(Value::as_array_mut)
                .map(std::mem::take)
                .unwrap_or_default();
            while items.len() <= item {
                items.push(Value::Null);
            }
            items[item] = json!({"status": status, "result": result});
            json!({ "items": items })
        }
    };
    records.insert(key.to_string(), record);
}

impl Executor for Children<'_, '_> {
    fn run(&mut self, wave: &[ActionRequest]) -> Vec<ActionResult> {
        let start = crate::execution::timestamp();
        let mocks: Vec<_> = wave.iter().map(|r| self.mock_for(r)).collect();
        let shared = Shared {
            execution_id: self.request.execution_id,
            user: self.request.user,
            cancel: self.request.cancel,
            parent_ctx: &self.parent_ctx,
            turnstile: Turnstile::default(),
        };
        let workers = wave
            .len()
            .min(self.request.settings.workflow_max_concurrent_actions);
        while workers > 1 && self.forks.len() < workers {
            match self.tasks.fork() {
                Some(fork) => self.forks.push(fork),
                None => break,
            }
        }
        let tasks = self.tasks;
        let forks = &mut self.forks;
        let outcomes: Vec<Outcome> = if workers > 1 && forks.len() >= workers {
            // Children run concurrently, recorded in wave order (the turnstile).
            let slots: Vec<Mutex<Option<Outcome>>> =
                wave.iter().map(|_| Mutex::new(None)).collect();
            let queue = Mutex::new(mocks.into_iter().enumerate());
            std::thread::scope(|scope| {
                for fork in forks.iter_mut().take(workers) {
                    let (shared, slots, queue) = (&shared, &slots, &queue);
                    scope.spawn(move || loop {
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some((i, mock)) = next else { break };
                        let outcome = shared.run_one(fork.as_ref(), &wave[i], mock, i);
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(outcome);
                        }
                    });
                }
            });
            slots
                .into_iter()
                .map(|slot| {
                    slot.into_inner().ok().flatten().unwrap_or_else(|| {
                        (
                            None,
                            done("failed", Some("the task did not run".into())),
                            None,
                        )
                    })
                })
                .collect()
        } else {
            mocks
                .into_iter()
                .enumerate()
                .map(|(i, mock)| shared.run_one(tasks, &wave[i], mock, i))
                .collect()
        };
        outcomes
            .into_iter()
            .zip(wave)
            .map(|((id, result, recorded), request)| {
                self.record(request, id, &result, recorded, &start);
                result
            })
            .collect()
    }

    fn canceled(&self) -> bool {
        self.request.cancel.is_set()
    }

    fn progress(&mut self, state: &Value) {
        self.tasks.record_workflow(state);
    }

    fn empty_items(&mut self, task_id: &str, route: usize) {
        let now = crate::execution::timestamp();
        let record = json!({
            "task_execution_id": null,
            "workflow_execution_id": self.request.execution_id,
            "task_name": task_id,
            "task_id": task_id,
            "route": route,
            "result": {"items": []},
            "status": "succeeded",
            "start_timestamp": now,
            "end_timestamp": now,
        });
        if let Ok(mut kept) = self.kept.lock() {
            kept.insert(format!("{task_id}__r{route}"), record.clone());
        }
        if let Ok(mut records) = self.records.lock() {
            records.insert(format!("{task_id}__r{route}"), record);
        }
    }
}

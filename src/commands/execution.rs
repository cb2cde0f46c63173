//! `st2 execution list/get/cancel/tail/re-run`, the background worker of `st2 run -a`
//! (carried out by the backend), and how an execution is printed (shared with `st2 run`).

use std::io::Write;

use anyhow::Context as _;
use serde_json::{json, Map, Value};

use crate::cli::{ExecutionCommand, ReRunArgs, RunArgs};
use crate::commands::{run, Context, ExitStatus, UsageError};
use crate::ops::executions::{
    CancelOutcome, ExecutionListRequest, ExecutionView, LiveView, OutputPiece, ReRunRequest,
    RunObserver, TailEnd, TailRequest,
};
use crate::runner::output::OutputStream;
use crate::runner::CancelFlag;
use crate::store::ExecutionStatus;

/// Run an `st2 execution` subcommand.
pub(crate) fn run(command: ExecutionCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        ExecutionCommand::List {
            last,
            action_ref,
            status,
            sort,
            showall,
        } => list(
            &ExecutionListRequest {
                action_ref,
                status: None,
                limit: last,
                with_children: showall,
                oldest_first: sort == "asc",
            },
            status,
            context,
        ),
        ExecutionCommand::Get {
            id,
            detail,
            key,
            depth,
            raw,
            show_tasks: _,
        } => {
            let execution = context.backend().execution_get(&id)?;
            // As st2client: showing an execution succeeds whatever its status (`st2 run`
            // is the command whose exit status is the execution's).
            let options = ShowOptions {
                detail,
                key,
                depth: usize::try_from(depth).ok(),
                raw,
            };
            show(&execution, &options, context);
            Ok(ExitStatus::Success)
        }
        ExecutionCommand::Cancel { ids } => cancel(&ids, context),
        ExecutionCommand::Tail {
            id,
            output_type,
            include_metadata,
        } => tail(&id, output_type.as_deref(), include_metadata, context),
        ExecutionCommand::Worker { id } => {
            context.backend().execution_worker(&id, &mut Worker)?;
            Ok(ExitStatus::Success)
        }
        ExecutionCommand::ReRun(args) => re_run(&args, context),
    }
}

/// `st2 execution re-run ID [PARAMETERS] [--tasks T...] [--no-reset T...] [--delay MS]`: the
/// new execution shown (or with `-a` where to look) as `st2 run` shows it, and its exit status.
fn re_run(args: &ReRunArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let Some(reset) = reset_tasks(&args.tasks, &args.no_reset) else {
        // st2client's check (`models/core.py` `re_run`), before any request.
        return Err(
            UsageError("List of tasks to reset does not match the tasks to rerun.".into()).into(),
        );
    };
    let request = ReRunRequest {
        id: args.id.clone(),
        words: args.parameters.clone(),
        tasks: args.tasks.clone(),
        reset,
        delay_ms: args.delay,
        auto_dict: args.auto_dict,
        inherit_env: args.inherit_env,
    };
    // `st2 run`'s observer, with the options of `run` that re-run takes.
    let run_args = RunArgs {
        action_ref: None,
        parameters: args.parameters.clone(),
        help: false,
        run_async: args.run_async,
        detail: args.detail,
        key: args.key.clone(),
        tail: args.tail,
        inherit_env: args.inherit_env,
        auto_dict: args.auto_dict,
        no_native: false,
    };
    let mut observer = run::RunCommand {
        args: &run_args,
        context,
    };
    let backend = context.backend();
    if args.run_async {
        let id = match run::refused(
            backend.execution_rerun_async(&request, &mut observer),
            context,
        )? {
            Ok(id) => id,
            Err(status) => return Ok(status),
        };
        let status = if args.delay.is_some_and(|ms| ms > 0) {
            ExecutionStatus::Delayed
        } else {
            ExecutionStatus::Requested
        };
        run::print_started(&id, status, context);
        return Ok(ExitStatus::Success);
    }
    let execution = match run::refused(backend.execution_rerun(&request, &mut observer), context)? {
        Ok(execution) => execution,
        Err(status) => return Ok(status),
    };
    Ok(show(
        &execution,
        &ShowOptions {
            detail: args.detail,
            key: args.key.clone(),
            depth: None,
            raw: false,
        },
        context,
    ))
}

/// The tasks whose with-items iterations all run again: `tasks` − `no_reset` (in the order of
/// `tasks`, without repeats); `None` when `no_reset` names a task `tasks` does not.
fn reset_tasks(tasks: &[String], no_reset: &[String]) -> Option<Vec<String>> {
    if no_reset.iter().any(|task| !tasks.contains(task)) {
        return None;
    }
    let mut reset: Vec<String> = Vec::new();
    for task in tasks {
        if !no_reset.contains(task) && !reset.contains(task) {
            reset.push(task.clone());
        }
    }
    Some(reset)
}

/// `st2 execution tail [ID]`: everything the execution printed so far, then what it prints
/// until it ends, then upstream's closing line.
fn tail(
    id: &str,
    output_type: Option<&str>,
    include_metadata: bool,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let request = TailRequest {
        id: (id != "last").then(|| id.to_string()),
        stream: output_type.and_then(OutputStream::parse),
    };
    let mut write = |pieces: &[OutputPiece]| {
        let mut out = std::io::stdout().lock();
        for piece in pieces {
            let written = if include_metadata && !piece.note {
                let mut line =
                    format!("[{}][{}] ", piece.timestamp, piece.stream.as_str()).into_bytes();
                line.extend(&piece.data);
                out.write_all(&line)
            } else {
                out.write_all(&piece.data)
            };
            if written.is_err() {
                return false;
            }
        }
        let _ = out.flush();
        true
    };
    match context.backend().execution_tail(&request, &mut write)? {
        // A closed pipe (`| head`) ends the command quietly.
        TailEnd::Stopped => {}
        TailEnd::NoExecutions => context.printer.line("No executions found in db."),
        TailEnd::Ended { id, status } => {
            // Upstream prints a finished execution's output with print(), and print("")
            // before the closing line of one it followed: one newline either way.
            context.printer.stdout("\n");
            context.printer.line(&format!(
                "Execution {id} has completed (status={}).",
                status.as_str()
            ));
        }
    }
    Ok(ExitStatus::Success)
}

fn list(
    request: &ExecutionListRequest,
    status: Option<String>,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let status = match status.as_deref() {
        None => None,
        Some(text) => Some(ExecutionStatus::parse(text).with_context(|| {
            let known: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status \"{text}\"; use one of {}", known.join(", "))
        })?),
    };
    let executions = context.backend().execution_list(&ExecutionListRequest {
        status,
        ..request.clone()
    })?;
    if context.printer.is_data() {
        let list: Vec<Value> = executions.iter().map(to_json).collect();
        context.printer.data(&list);
        return Ok(ExitStatus::Success);
    }
    if executions.is_empty() {
        context.printer.info("No executions.");
        return Ok(ExitStatus::Success);
    }
    let rows = executions
        .iter()
        .map(|execution| {
            vec![
                execution.id.clone(),
                execution.action_ref.clone(),
                execution.user.clone(),
                status_text(execution),
                context.printer.time(Some(&execution.start_timestamp)),
                context.printer.time(execution.end_timestamp.as_deref()),
            ]
        })
        .collect();
    context.printer.table(
        &[
            "id",
            "action.ref",
            "context.user",
            "status",
            "start_timestamp",
            "end_timestamp",
        ],
        rows,
    );
    Ok(ExitStatus::Success)
}

fn cancel(ids: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    for id in ids {
        match context.backend().execution_cancel(id)? {
            CancelOutcome::AlreadyEnded(ended) => {
                context.printer.error(&format!(
                    "execution {id} cannot be canceled: it is already {}",
                    ended.as_str()
                ));
                status = ExitStatus::Failure;
            }
            CancelOutcome::Ended(ended) => {
                context
                    .printer
                    .line(&format!("execution {id} is {}", ended.as_str()));
            }
            CancelOutcome::StillCanceling => context.printer.line(&format!(
                "execution {id} is canceling (its process has not stopped yet)"
            )),
        }
    }
    Ok(status)
}

/// The worker's part in the run it carries out: nobody watches, and SIGTERM
/// (`st2 execution cancel`) cancels it.
struct Worker;

impl RunObserver for Worker {
    fn warning(&mut self, _message: &str) {}

    fn cancel_flag(&mut self) -> anyhow::Result<CancelFlag> {
        cancel_on_signals()
    }

    fn live_view(&mut self, _action_ref: &str) -> Option<Box<dyn LiveView>> {
        None
    }
}

/// A cancel flag set by SIGINT and SIGTERM (Ctrl-C, `st2 execution cancel`): the runner
/// then kills the action's processes and the execution ends `canceled`.
pub(crate) fn cancel_on_signals() -> anyhow::Result<CancelFlag> {
    let cancel = CancelFlag::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, cancel.shared())
            .context("installing the signal handler")?;
    }
    Ok(cancel)
}

/// What to print of an execution.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShowOptions {
    /// `-d`: every field.
    pub detail: bool,
    /// `-k KEY`: one key of the result.
    pub key: Option<String>,
    /// `--depth N`: levels of a workflow's children listed (`None`: all).
    pub depth: Option<usize>,
    /// `--raw`: no children table.
    pub raw: bool,
}

/// Print an execution as `st2 run` / `st2 execution get` do, and say how it ended.
pub(crate) fn show(record: &ExecutionView, options: &ShowOptions, context: &Context) -> ExitStatus {
    let printer = &context.printer;
    let exit = match record.status {
        ExecutionStatus::Succeeded => ExitStatus::Success,
        _ => ExitStatus::Failure,
    };
    if let Some(key) = &options.key {
        let value = record
            .result
            .as_ref()
            .and_then(|result| lookup_key(result, key));
        match value {
            Some(Value::String(text)) if !printer.is_data() => printer.line(text),
            Some(value) if printer.is_data() => printer.data(value),
            Some(value) => printer.stdout(&crate::yaml::to_string(value)),
            // Upstream prints nothing for a missing key; the exit status stays the
            // execution's, so a script can tell a failed run from a typo in KEY.
            None => printer.warn(&format!(
                "the result of execution {} ({}) has no key \"{key}\"",
                record.id,
                record.status.as_str()
            )),
        }
        return exit;
    }
    if printer.is_data() {
        printer.data(&to_json(record));
        return exit;
    }
    if record.is_workflow() || !record.children.is_empty() {
        show_workflow(record, options, context);
        return exit;
    }
    let mut out = String::new();
    let mut field = |name: &str, value: &Value| push_field(&mut out, name, value);
    field("id", &json!(record.id));
    field("action.ref", &json!(record.action_ref));
    if options.detail {
        field("runner_type", &json!(record.runner_type));
    }
    field("context.user", &json!(record.user));
    field("parameters", &record.parameters);
    field("status", &json!(status_text(record)));
    field(
        "start_timestamp",
        &json!(context.printer.time(Some(&record.start_timestamp))),
    );
    field(
        "end_timestamp",
        &json!(context.printer.time(record.end_timestamp.as_deref())),
    );
    if options.detail {
        field("elapsed_seconds", &json!(elapsed(record)));
        if let Some(parent) = &record.parent {
            field("parent", &json!(parent));
        }
        // A task's (`chain`/`orquesta`, `parent`) or a re-run's (`re-run`).
        if !record.context.is_null() {
            field("context", &record.context);
        }
    }
    field("result", record.result.as_ref().unwrap_or(&Value::Null));
    printer.stdout(&out);
    exit
}

/// One `name: value` line (or block) of an execution, as st2client prints it.
fn push_field(out: &mut String, name: &str, value: &Value) {
    out.push_str(name);
    out.push(':');
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str(" \n");
            out.push_str(&indent(&crate::yaml::to_string(&sorted(value))));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(" \n");
            out.push_str(&indent(&crate::yaml::to_string(value)));
        }
        Value::Object(_) | Value::Null => out.push_str(" None\n"),
        Value::String(text) => {
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        other => {
            out.push(' ');
            out.push_str(&crate::yaml::to_string(other));
        }
    }
}

/// A workflow execution as st2client's `_run_and_print_child_task_list` prints it: its
/// fields (no `context.user`), for an action-chain the last task's result in place of the
/// chain's, then the table of its children, descendants under their parents.
fn show_workflow(record: &ExecutionView, options: &ShowOptions, context: &Context) {
    let mut out = String::new();
    let mut field = |name: &str, value: &Value| push_field(&mut out, name, value);
    field("id", &json!(record.id));
    field("action.ref", &json!(record.action_ref));
    if options.detail {
        field("runner_type", &json!(record.runner_type));
    }
    field("parameters", &record.parameters);
    field("status", &json!(status_text(record)));
    let result = record.result.clone().unwrap_or(Value::Null);
    let tasks = result
        .get("tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = tasks.last();
    let mut result_shown = false;
    if let Some(task_result) = last
        .and_then(|task| task.get("result"))
        .filter(|value| crate::schema::validator::truthy(value))
    {
        let name = last.and_then(|task| task.get("name")).cloned();
        field("result_task", &name.unwrap_or(json!("unknown")));
        field("result", task_result);
        result_shown = true;
    }
    if record.status == ExecutionStatus::Failed {
        let top_level = result
            .get("error")
            .filter(|error| crate::schema::validator::truthy(error));
        let task_error = last.and_then(|task| {
            let result = task.get("result")?;
            result
                .get("error")
                .filter(|error| crate::schema::validator::truthy(error))
                .or_else(|| {
                    result
                        .get("stderr")
                        .filter(|error| crate::schema::validator::truthy(error))
                })
        });
        // [fix] no `traceback` line: it is Python's, and st2-rs has none.
        if let Some(error) = top_level {
            field("error", error);
        } else if let Some(error) = task_error {
            field("error", error);
            let name = last.and_then(|task| task.get("name")).cloned();
            field("failed_on", &name.unwrap_or(json!("unknown")));
        }
        if (top_level.is_some() || task_error.is_some()) && !result_shown {
            field("result", &json!("See error and traceback."));
            result_shown = true;
        }
    }
    field(
        "start_timestamp",
        &json!(context.printer.time(Some(&record.start_timestamp))),
    );
    field(
        "end_timestamp",
        &json!(context.printer.time(record.end_timestamp.as_deref())),
    );
    if options.detail {
        field("elapsed_seconds", &json!(elapsed(record)));
        if let Some(parent) = &record.parent {
            field("parent", &json!(parent));
        }
        let children: Vec<&str> = record.children.iter().map(|c| c.id.as_str()).collect();
        field("children", &json!(children));
        if !record.context.is_null() {
            field("context", &record.context);
        }
    }
    if !result_shown {
        field("result", &result);
    }
    context.printer.stdout(&out);
    if record.children.is_empty() || options.raw || options.depth == Some(0) {
        return;
    }
    let mut rows = Vec::new();
    let any_workflow = has_workflow_rows(&record.children);
    let printer = &context.printer;
    child_rows(
        &record.children,
        0,
        options.depth,
        any_workflow,
        &mut rows,
        printer,
    );
    context
        .printer
        .table(&["id", "status", "task", "action", "start_timestamp"], rows);
}

/// Whether a row of the children table is a workflow (st2client: it has children).
fn has_workflow_rows(children: &[ExecutionView]) -> bool {
    children
        .iter()
        .any(|child| !child.children.is_empty() || has_workflow_rows(&child.children))
}

/// `format_wf_instances` and `_format_child_instances`: depth first, `+ ` before
/// workflows and two spaces before the others when any row is a workflow, one space more
/// per level of nesting.
fn child_rows(
    children: &[ExecutionView],
    level: usize,
    depth: Option<usize>,
    any_workflow: bool,
    rows: &mut Vec<Vec<String>>,
    printer: &crate::output::Printer,
) {
    if depth.is_some_and(|depth| level >= depth) {
        return;
    }
    for child in children {
        let prefix = match (any_workflow, child.children.is_empty()) {
            (false, _) => "",
            (true, false) => "+ ",
            (true, true) => "  ",
        };
        rows.push(vec![
            format!("{}{prefix}{}", " ".repeat(level), child.id),
            status_text(child),
            child.task_name().unwrap_or_default().to_string(),
            child.action_ref.clone(),
            printer.time(Some(&child.start_timestamp)),
        ]);
        child_rows(
            &child.children,
            level + 1,
            depth,
            any_workflow,
            rows,
            printer,
        );
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}\n"))
        .collect::<String>()
}

/// Keys in order, as PyYAML's `safe_dump` prints them.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted(&map[key])))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `-k a.b`: a key of the result, dots for nested keys (a key holding dots is tried first).
fn lookup_key<'v>(result: &'v Value, key: &str) -> Option<&'v Value> {
    if let Some(value) = result.get(key) {
        return Some(value);
    }
    let mut current = result;
    for part in key.split('.') {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The execution as `-j`/`-y` print it (upstream's field names); a workflow's children
/// ids and **[fix]** its `tasks` in the same document (upstream prints a second one), a
/// child's `parent` and `context`.
pub(crate) fn to_json(record: &ExecutionView) -> Value {
    let context = match &record.context {
        Value::Object(_) => record.context.clone(),
        _ => json!({"user": record.user}),
    };
    let mut value = json!({
        "id": record.id,
        "action": {"ref": record.action_ref, "runner_type": record.runner_type},
        "runner": {"name": record.runner_type},
        "context": context,
        "parameters": record.parameters,
        "status": record.status.as_str(),
        "start_timestamp": record.start_timestamp,
        "end_timestamp": record.end_timestamp,
        "elapsed_seconds": elapsed(record),
        "result": record.result,
    });
    if let Some(parent) = &record.parent {
        value["parent"] = json!(parent);
    }
    if record.is_workflow() || !record.children.is_empty() {
        let ids: Vec<&str> = record.children.iter().map(|c| c.id.as_str()).collect();
        value["children"] = json!(ids);
        value["tasks"] = Value::Array(record.children.iter().map(task_json).collect());
    }
    if let Some(workflow) = &record.workflow {
        value["workflow"] = workflow.clone();
    }
    value
}

/// A child in a workflow's `tasks` (its own children nested).
fn task_json(child: &ExecutionView) -> Value {
    let orquesta = child.context.get("orquesta");
    let mut task = json!({
        "id": child.id,
        "task": child.task_name(),
        "route": orquesta.and_then(|o| o.get("task_route")).cloned(),
        "item_id": orquesta.and_then(|o| o.get("item_id")).cloned(),
        "action": child.action_ref,
        "status": child.status.as_str(),
        "start_timestamp": child.start_timestamp,
        "end_timestamp": child.end_timestamp,
    });
    if !child.children.is_empty() {
        task["tasks"] = Value::Array(child.children.iter().map(task_json).collect());
    }
    task
}

fn elapsed(record: &ExecutionView) -> Option<f64> {
    let start: jiff::Timestamp = record.start_timestamp.parse().ok()?;
    let end: jiff::Timestamp = match &record.end_timestamp {
        Some(end) => end.parse().ok()?,
        None => jiff::Timestamp::now(),
    };
    let seconds = end.duration_since(start).as_secs_f64();
    Some((seconds * 1000.0).round() / 1000.0)
}

/// `succeeded (1s elapsed)`, as upstream shows the status.
fn status_text(record: &ExecutionView) -> String {
    match elapsed(record) {
        Some(seconds) => format!(
            "{} ({}s elapsed)",
            record.status.as_str(),
            seconds.round() as i64
        ),
        None => record.status.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_keys_with_dots() {
        let result = json!({"a": {"b": [1, {"c": 2}]}, "x.y": 3});
        assert_eq!(lookup_key(&result, "a.b.1.c"), Some(&json!(2)));
        assert_eq!(lookup_key(&result, "x.y"), Some(&json!(3)));
        assert_eq!(lookup_key(&result, "a.z"), None);
    }

    #[test]
    fn reset_is_tasks_without_no_reset_which_must_be_among_them() {
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            reset_tasks(&words(&["x", "y", "z"]), &words(&["x"])),
            Some(words(&["y", "z"]))
        );
        assert_eq!(reset_tasks(&words(&["x"]), &[]), Some(words(&["x"])));
        assert_eq!(reset_tasks(&[], &[]), Some(Vec::new()));
        assert_eq!(reset_tasks(&words(&["x"]), &words(&["y"])), None);
        assert_eq!(reset_tasks(&[], &words(&["y"])), None);
    }
}

//! `st2 execution re-run ID` on this machine: a new execution of the original's action, with
//! the original's recorded parameters overlaid by the new words (cast against that action as
//! `st2 run` casts them, the runner's parameters first), through the same checks, rendering
//! and runner as `st2 run`, recorded with upstream's context (`{"re-run": {"ref": ID}}`, as
//! st2api's `ActionExecutionReRunController` records it), so `st2 execution get -d/-j` shows
//! where it came from.
//!
//! Upstream's refusals, in its order (the client's lookups first, then the API's checks):
//! an unknown id; words that do not cast; words together with `--tasks`/`--no-reset`
//! (`Parameters override is not supported when re-running task(s) for a workflow.`); `--tasks`
//! on anything but an orquesta workflow (`Task option is only supported for Orquesta
//! workflows.`, action-chain included).
//!
//! `--tasks T... [--no-reset T...]` on an orquesta workflow resumes it as st2's
//! `request_rerun` does: the original's conductor, kept when it ended (the `conductor`
//! column), is restored in the new execution's runner, orquesta's `request_workflow_rerun`
//! resets the named tasks (every route each ran on; a with-items task keeps its succeeded
//! items when in `--no-reset`), and the rest runs to its end as the new execution's
//! children; the tasks not run again keep their results (`ctx()`, `task()`). As upstream, any
//! task that ran may be named, in a workflow that failed or succeeded. The context carries
//! `re-run: {ref, tasks, reset}` as st2api records it.
//!
//! Where we differ, and why:
//! - st2's `request_rerun` refusals (an original still running, tasks that never ran, no
//!   workflow execution) fail the new execution upstream; here they are checked first and
//!   refused with the same message, one line, exit 2, nothing recorded. An original recorded
//!   before st2-rs kept conductors is refused the same way, pointing to a plain re-run.
//! - The definition is not kept (it may hold what must not be recorded), only its digest: a
//!   workflow file changed since the original ran fails the re-run, saying so; upstream
//!   resumes on the definition it kept.
//! - A workflow given a secret cannot have its tasks re-run: its kept state holds the secret
//!   masked, and `--tasks` takes no parameters to give it again.
//! - A secret the original was given is recorded masked (st2-rs never records secrets), so a
//!   re-run that would pass the mask on is refused, naming the parameter to give again
//!   (upstream keeps the secret in MongoDB and passes it on).
//! - `--delay MS`: as on a cluster, the execution is recorded `delayed` and starts MS
//!   milliseconds later (waited for by this process, or by the `-a` worker); Ctrl-C or `st2
//!   execution cancel` during the wait cancels it.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{json, Map, Value};

use super::execution_query::{find, with_children};
use super::prepare::{prepare_task, Prepared};
use super::run::execute;
use crate::action::{self, args};
use crate::execution::{self, timestamp};
use crate::ops::executions::{ExecutionView, ReRunRequest, RunObserver};
use crate::ops::InvalidRequest;
use crate::redact::MASK;
use crate::runner::{CancelFlag, RunnerType};
use crate::settings::Settings;
use crate::store::{ExecutionRecord, ExecutionStatus, Store};

/// `st2 execution re-run ID`: check it, record the new execution, run it here.
pub(super) fn rerun(
    settings: &Settings,
    request: &ReRunRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<ExecutionView> {
    let (mut store, rerun) = prepare_rerun(settings, request, observer)?;
    let cancel = observer.cancel_flag()?;
    let id = execution::new_id();
    let delay = delay(request);
    let status = if delay.is_some() {
        ExecutionStatus::Delayed
    } else {
        ExecutionStatus::Running
    };
    record(&mut store, &rerun, &id, status, std::process::id())?;
    if let Some(delay) = delay {
        if !wait_out_delay(&mut store, &id, delay, &cancel)? {
            return Ok(find(&mut store, &id)?.into());
        }
    }
    let view = observer.live_view(&rerun.prepared.action_ref);
    let record = execute(settings, &mut store, &rerun.prepared, &id, &cancel, view)?.record;
    match rerun.prepared.runner_type {
        RunnerType::ActionChain | RunnerType::Orquesta => with_children(&mut store, record),
        _ => Ok(record.into()),
    }
}

/// `st2 execution re-run ID -a`: check it, record the new execution and hand it to a
/// background worker (which waits out `--delay` first).
pub(super) fn rerun_async(
    settings: &Settings,
    request: &ReRunRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<String> {
    let (mut store, rerun) = prepare_rerun(settings, request, observer)?;
    let id = execution::new_id();
    let delay = delay(request);
    let status = if delay.is_some() {
        ExecutionStatus::Delayed
    } else {
        ExecutionStatus::Requested
    };
    // Our pid until the worker's is known (as `st2 run -a`).
    record(&mut store, &rerun, &id, status, std::process::id())?;
    let pid =
        super::worker::spawn_delayed(settings, &id, &rerun.prepared, delay).inspect_err(|err| {
            let result = json!({ "error": format!("{err:#}") });
            let _ = store.finish_execution(&id, ExecutionStatus::Failed, &result, &timestamp());
        })?;
    store.execution_started(&id, pid)?;
    Ok(id)
}

/// A re-run checked and prepared: nothing recorded yet.
struct ReRun {
    /// The new execution, ready to run.
    prepared: Prepared,
    /// Its `context`.
    context: Value,
}

/// `--delay`, when it delays anything (upstream schedules a delay of 0 at once).
fn delay(request: &ReRunRequest) -> Option<Duration> {
    request
        .delay_ms
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// Everything that can refuse a re-run, in upstream's order; its warnings go to the observer.
fn prepare_rerun(
    settings: &Settings,
    request: &ReRunRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<(Store, ReRun)> {
    let id = &request.id;
    settings.ensure_writable()?;
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        bail!("execution \"{id}\" is not found (nothing has run yet)");
    };
    let original = find(&mut store, id)?;
    let given = cast(&store, &original, request)?;
    // st2api's checks (`ActionExecutionReRunController.post`).
    if (!request.tasks.is_empty() || !request.reset.is_empty()) && !given.is_empty() {
        return Err(InvalidRequest(
            "Parameters override is not supported when re-running task(s) for a workflow.".into(),
        )
        .into());
    }
    if !request.tasks.is_empty() {
        if original.runner_type != RunnerType::Orquesta.as_str() {
            return Err(InvalidRequest(
                "Task option is only supported for Orquesta workflows.".into(),
            )
            .into());
        }
        check_task_rerun(&store, &original, &request.tasks)?;
    }
    let parameters = merged(&original, given)?;
    let prepared = prepare_task(settings, &store, &original.action_ref, &parameters)
        .map_err(|err| err.into_anyhow())?;
    for warning in &prepared.warnings {
        observer.warning(warning);
    }
    let mut context = json!({
        "pack": prepared.pack,
        "re-run": {"ref": original.id},
        "user": prepared.user,
    });
    // st2api records the tasks and resets only when given.
    if !request.tasks.is_empty() {
        context["re-run"]["tasks"] = json!(request.tasks);
    }
    if !request.reset.is_empty() {
        context["re-run"]["reset"] = json!(request.reset);
    }
    Ok((store, ReRun { prepared, context }))
}

/// What st2's `request_rerun` refuses before resuming the original's conductor, checked
/// before anything is recorded: an original still running, one whose workflow never
/// started (its definition was refused) or whose state was recorded before st2-rs kept
/// it, tasks that never ran; and (st2-rs) a secret it was given, which its kept state
/// holds masked.
fn check_task_rerun(
    store: &Store,
    original: &ExecutionRecord,
    tasks: &[String],
) -> anyhow::Result<()> {
    let id = &original.id;
    if !original.status.is_final() {
        return Err(InvalidRequest(format!(
            "Unable to rerun workflow execution \"{id}\" because it is not in a completed state."
        ))
        .into());
    }
    let Some(saved) = store.execution_conductor(id)? else {
        if original.workflow.is_none() {
            return Err(InvalidRequest(
                "Unable to rerun workflow execution because workflow_execution_id is not \
                 provided."
                    .into(),
            )
            .into());
        }
        return Err(InvalidRequest(format!(
            "Unable to rerun the tasks of workflow execution \"{id}\": it ran before st2-rs \
             kept workflow states; `st2 execution re-run {id}` runs the whole workflow again"
        ))
        .into());
    };
    let ran = |name: &str| {
        saved["conductor"]["sequence"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|t| t["id"] == name))
    };
    let mut problems: Vec<&str> = Vec::new();
    for name in tasks {
        if !ran(name) && !problems.contains(&name.as_str()) {
            problems.push(name);
        }
    }
    if !problems.is_empty() {
        return Err(InvalidRequest(format!(
            "Unable to rerun workflow because one or more tasks is not found: {}",
            problems.join(",")
        ))
        .into());
    }
    let parameters = original.parameters.as_object().cloned().unwrap_or_default();
    if let Some((name, _)) = parameters.iter().find(|(_, value)| holds_mask(value)) {
        return Err(InvalidRequest(format!(
            "execution {id} was given a secret in parameter \"{name}\", which is recorded \
             masked (secrets are never recorded), and its tasks cannot be run again with it: \
             st2 execution re-run {id} {name}=VALUE runs the whole workflow again"
        ))
        .into());
    }
    Ok(())
}

/// The words cast against the original's action, the runner's parameters first (as `st2 run`
/// casts them); an action that is gone is a usage error, as for `st2 run`.
fn cast(
    store: &Store,
    original: &ExecutionRecord,
    request: &ReRunRequest,
) -> anyhow::Result<Map<String, Value>> {
    let action = action::lookup(Some(store), &original.action_ref)
        .map_err(|err| InvalidRequest(err.to_string()))?;
    let runner = RunnerType::parse(&action.record.runner_type)
        .map(|runner| runner.parameters().clone())
        .unwrap_or_default();
    let own = action
        .record
        .parameters
        .as_object()
        .cloned()
        .unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let given = args::parse(
        &request.words,
        args::Schemas {
            runner: &runner,
            action: &own,
        },
        args::ArgsOptions {
            auto_dict: request.auto_dict,
            inherit_env: request.inherit_env,
        },
        &cwd,
        &original.action_ref,
    )
    .map_err(|err| InvalidRequest(err.to_string()))?;
    Ok(given)
}

/// The original's parameters with `given` over them (st2api: `new_parameters.update(...)`).
/// One the original recorded with a secret masked, and that is not given again, would pass
/// the mask on: refused, naming it.
fn merged(
    original: &ExecutionRecord,
    given: Map<String, Value>,
) -> anyhow::Result<Map<String, Value>> {
    let mut parameters = original.parameters.as_object().cloned().unwrap_or_default();
    let masked: Vec<&String> = parameters
        .iter()
        .filter(|(name, value)| !given.contains_key(*name) && holds_mask(value))
        .map(|(name, _)| name)
        .collect();
    if let Some(name) = masked.first() {
        let again = if *name == "env" {
            "env=JSON (or -e, this shell's environment)".to_string()
        } else {
            format!("{name}=VALUE")
        };
        return Err(InvalidRequest(format!(
            "execution {id} was given a secret in parameter \"{name}\", which is recorded \
             masked (secrets are never recorded): give it again, st2 execution re-run {id} \
             {again}",
            id = original.id
        ))
        .into());
    }
    parameters.extend(given);
    Ok(parameters)
}

/// Whether a recorded value has a secret masked in it.
fn holds_mask(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains(MASK),
        Value::Array(items) => items.iter().any(holds_mask),
        Value::Object(map) => map.values().any(holds_mask),
        _ => false,
    }
}

/// Record the new execution (top level, with its re-run context).
fn record(
    store: &mut Store,
    rerun: &ReRun,
    id: &str,
    status: ExecutionStatus,
    pid: u32,
) -> anyhow::Result<()> {
    super::run::start_with_context(
        store,
        &rerun.prepared,
        id,
        status,
        pid,
        None,
        rerun.context.clone(),
    )?;
    Ok(())
}

/// Wait out a `delayed` execution's delay: true when it is to run now (recorded `running`),
/// false when a cancel came first (recorded `canceled`).
pub(super) fn wait_out_delay(
    store: &mut Store,
    id: &str,
    delay: Duration,
    cancel: &CancelFlag,
) -> anyhow::Result<bool> {
    let until = Instant::now() + delay;
    loop {
        if cancel.is_set() {
            let result = json!({"error": "canceled before it started"});
            store.finish_execution(id, ExecutionStatus::Canceled, &result, &timestamp())?;
            return Ok(false);
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
    store.execution_delay_over(id)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(parameters: Value) -> ExecutionRecord {
        ExecutionRecord {
            id: "65f0c0ffee0000000000ab01".into(),
            action_ref: "core.local".into(),
            runner_type: "local-shell-cmd".into(),
            user: "stanley".into(),
            parameters,
            status: ExecutionStatus::Succeeded,
            result: None,
            start_timestamp: timestamp(),
            end_timestamp: None,
            pid: None,
            parent: None,
            context: Value::Null,
            workflow: None,
        }
    }

    #[test]
    fn new_words_go_over_the_original_parameters() {
        let given = json!({"cmd": "uptime"}).as_object().cloned().unwrap();
        let merged = merged(&original(json!({"cmd": "date", "timeout": 5})), given).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"cmd": "uptime", "timeout": 5})
        );
    }

    #[test]
    fn a_masked_secret_must_be_given_again() {
        let recorded = json!({"cmd": "date", "sudo_password": MASK});
        let err = merged(&original(recorded.clone()), Map::new()).unwrap_err();
        assert!(err.to_string().contains("sudo_password=VALUE"), "{err:#}");
        let given = json!({"sudo_password": "s3cret"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            merged(&original(recorded), given).unwrap()["sudo_password"],
            "s3cret"
        );
        let env = json!({"env": {"HOME": "/root", "API_TOKEN": MASK}});
        let err = merged(&original(env), Map::new()).unwrap_err();
        assert!(err.to_string().contains("env=JSON (or -e"), "{err:#}");
    }

    #[test]
    fn only_a_positive_delay_delays() {
        let request = |delay_ms| ReRunRequest {
            delay_ms,
            ..ReRunRequest::default()
        };
        assert_eq!(delay(&request(None)), None);
        assert_eq!(delay(&request(Some(0))), None);
        assert_eq!(delay(&request(Some(250))), Some(Duration::from_millis(250)));
    }
}

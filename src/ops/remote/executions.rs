//! `st2 run`, `st2 action execute` and `st2 execution get/list/cancel/re-run` over the API
//! (`../shared/spec/remote-api.md` §2.1, §2.2): the words cast against the action's and its
//! runner's parameters as the cluster has them, `POST /executions`, then `GET
//! /executions/ID` until the execution is final.
//!
//! Where we differ on purpose: polling goes on until a final status (`succeeded`, `failed`,
//! `timeout`, `canceled`, `abandoned`; st2client stops at `delayed`, `pending`, `paused`, ...
//! and prints them as if finished); `paused` and `pending` (an inquiry) stop it with a note;
//! it starts after 0.2 s and backs off to st2client's 2 s (st2client waits 2 s before its
//! first look, so no run takes less); Ctrl-C stops waiting and leaves the execution running,
//! saying how to cancel it. A 400 (the cluster refused the parameters) is a usage error: one
//! line, exit 2, nothing ran.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{segment, ApiError, Client, Root};
use super::stream::{self, Followed, OutputFollower};
use crate::action::args;
use crate::ops::executions::{
    CancelOutcome, ExecutionListRequest, ExecutionView, LiveView, OutputPiece, ReRunRequest,
    RunActionRequest, RunObserver,
};
use crate::ops::InvalidRequest;
use crate::store::ExecutionStatus;

/// The attributes `st2 execution get` asks for (st2client's list, duplicates as it sends
/// them).
const GET_ATTRIBUTES: &str = "action.ref,action.runner_type,start_timestamp,end_timestamp,log,id,\
                              action.ref,context.user,parameters,status,start_timestamp,\
                              end_timestamp,log,result";

/// The attributes `st2 execution list` asks for.
const LIST_ATTRIBUTES: &str = "id,action.ref,context.user,status,start_timestamp,end_timestamp";

/// The first wait before looking at a new execution, doubled up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(200);

/// st2client's polling interval.
pub(super) const POLL_MAX: Duration = Duration::from_secs(2);

/// How long `execution cancel` waits for a canceling execution to end.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// An execution of the API as the commands show it.
pub(super) fn view(value: &Value, request: &str) -> anyhow::Result<ExecutionView> {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let Some(id) = text("/id") else {
        return Err(super::client::unexpected(
            request,
            "an execution without \"id\"",
        ));
    };
    let status_text = text("/status").unwrap_or("requested");
    let Some(status) = ExecutionStatus::parse(status_text) else {
        return Err(super::client::unexpected(
            request,
            &format!("unknown execution status {status_text:?}"),
        ));
    };
    let context = value.get("context").cloned().unwrap_or(Value::Null);
    Ok(ExecutionView {
        id: id.to_string(),
        action_ref: text("/action/ref")
            .or_else(|| text("/liveaction/action"))
            .unwrap_or_default()
            .to_string(),
        runner_type: text("/action/runner_type")
            .or_else(|| text("/runner/name"))
            .unwrap_or_default()
            .to_string(),
        user: text("/context/user").unwrap_or_default().to_string(),
        parameters: value.get("parameters").cloned().unwrap_or(json!({})),
        status,
        result: value.get("result").cloned(),
        start_timestamp: text("/start_timestamp").unwrap_or_default().to_string(),
        end_timestamp: text("/end_timestamp").map(str::to_string),
        parent: text("/parent").map(str::to_string),
        context: if context
            .as_object()
            .is_some_and(|map| map.keys().any(|key| key != "user" && key != "pack"))
        {
            context
        } else {
            Value::Null
        },
        children: Vec::new(),
        workflow: None,
    })
}

/// Cast the words, `POST /executions`: the new execution.
fn start(client: &Client, request: &RunActionRequest) -> anyhow::Result<ExecutionView> {
    if request.no_native {
        return Err(InvalidRequest("--no-native only applies to local mode".into()).into());
    }
    let action = fetch_action(client, &request.action_ref)?;
    let parameters = cast(
        client,
        &action,
        &request.words,
        args::ArgsOptions {
            auto_dict: request.auto_dict,
            inherit_env: request.inherit_env,
        },
    )?;
    let body = json!({
        "action": request.action_ref,
        "parameters": Value::Object(parameters),
        "user": null,
    });
    let answer = client
        .call(Method::POST, Root::Api, "/executions", &[], Some(&body))
        .map_err(refused)?;
    view(&answer.json()?, &answer.request)
}

/// The action as the cluster has it (`GET /actions/REF`); one it does not have is a usage
/// error as in local mode (nothing ran).
fn fetch_action(client: &Client, action_ref: &str) -> anyhow::Result<Value> {
    super::actions::fetch(client, action_ref).map_err(|err| {
        match err.downcast_ref::<crate::action::ActionError>() {
            Some(missing) => InvalidRequest(missing.to_string()).into(),
            None => err,
        }
    })
}

/// The words cast against `action`'s parameters, its runner's first (`GET
/// /runnertypes/?name=`), as st2client casts them.
fn cast(
    client: &Client,
    action: &Value,
    words: &[String],
    options: args::ArgsOptions,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let text = |name: &str| action.get(name).and_then(Value::as_str).unwrap_or_default();
    let runner = super::actions::runner_parameters(client, text("runner_type"))?;
    let own = action
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    args::parse(
        words,
        args::Schemas {
            runner: &runner,
            action: &own,
        },
        options,
        &cwd,
        text("ref"),
    )
    .map_err(|err| InvalidRequest(err.to_string()).into())
}

/// A 400 is the cluster refusing the request as written: a usage error.
fn refused(err: anyhow::Error) -> anyhow::Error {
    match err.downcast_ref::<ApiError>() {
        Some(api) if api.status == 400 => InvalidRequest(api.to_string()).into(),
        _ => err,
    }
}

/// `st2 run`: start, then wait for the end.
pub(super) fn run(
    client: &Client,
    request: &RunActionRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<ExecutionView> {
    let started = start(client, request)?;
    wait(client, started, &request.action_ref, observer)
}

/// Wait for a new execution to end: its output on the stream when someone watches, else (or
/// when the stream breaks) polling; a workflow's children once it ended.
fn wait(
    client: &Client,
    started: ExecutionView,
    action_ref: &str,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<ExecutionView> {
    let cancel = observer.cancel_flag()?;
    let mut live = observer.live_view(action_ref);
    let mut execution = started;
    // Someone watches (a terminal, `--tail`): the output as it comes, over the stream, until
    // the end; polling takes over if the stream breaks.
    if let (Some(view), false) = (live.as_deref_mut(), execution.status.is_final()) {
        match watch_output(client, &execution.id, &cancel, view) {
            Watched::Ended => execution = get_execution(client, &execution.id, &[])?,
            Watched::Interrupted => {
                view.finish();
                observer.warning(&format!(
                    "execution {id} continues; st2 execution cancel {id}",
                    id = execution.id
                ));
                return Ok(execution);
            }
            Watched::Broken(why) => {
                tracing::debug!("the output stream broke ({why}); polling instead");
            }
        }
    }
    let mut wait = POLL_FIRST;
    let outcome = loop {
        if execution.status.is_final() {
            break Ok(());
        }
        if matches!(
            execution.status,
            ExecutionStatus::Paused | ExecutionStatus::Pending
        ) {
            observer.warning(&format!(
                "execution {} is {}: `st2 execution get {}` shows it once it goes on",
                execution.id,
                execution.status.as_str(),
                execution.id
            ));
            break Ok(());
        }
        if sleep_watching(wait, &cancel, live.as_deref_mut()) {
            observer.warning(&format!(
                "execution {id} continues; st2 execution cancel {id}",
                id = execution.id
            ));
            break Ok(());
        }
        wait = (wait * 2).min(POLL_MAX);
        match get_execution(client, &execution.id, &[]) {
            Ok(now) => execution = now,
            Err(err) => break Err(err),
        }
    };
    if let Some(live) = live.as_mut() {
        live.finish();
    }
    outcome?;
    if execution.is_workflow() {
        execution.children = children(client, &execution.id)?;
    }
    Ok(execution)
}

/// How watching a run's output ended.
enum Watched {
    /// `EOF`: the execution ended (or is pausing).
    Ended,
    /// Ctrl-C.
    Interrupted,
    /// The stream could not be opened, broke, or stayed silent: why.
    Broken(String),
}

/// Hand a running execution's output to `view` as it comes (the stream's
/// `/executions/ID/output`; the view ticks while nothing comes). A stream that breaks is
/// opened once more, its replay of what was shown skipped, as `execution tail` does
/// ([`stream::follow`]); then the caller polls.
fn watch_output(
    client: &Client,
    id: &str,
    cancel: &crate::runner::CancelFlag,
    view: &mut dyn LiveView,
) -> Watched {
    let path = format!("/executions/{}/output", segment(id));
    let mut open = || client.open(Root::Stream, &path, &[], "text/event-stream");
    let view = std::cell::RefCell::new(view);
    let mut sink = |piece: OutputPiece| {
        view.borrow_mut().output(piece.stream, &piece.data);
        true
    };
    let mut idle = || {
        view.borrow_mut().tick();
        cancel.is_set()
    };
    let mut follower = OutputFollower::new(&mut sink, &mut idle);
    match stream::follow(&mut open, &mut follower) {
        Ok(Followed::Done) => Watched::Ended,
        Ok(Followed::Stopped) => Watched::Interrupted,
        Ok(Followed::Broken(why)) => Watched::Broken(why),
        Err(err) => Watched::Broken(format!("{err:#}")),
    }
}

/// Sleep `wait`, ticking the live view; true when Ctrl-C asked to stop.
fn sleep_watching(
    wait: Duration,
    cancel: &crate::runner::CancelFlag,
    mut live: Option<&mut (dyn LiveView + 'static)>,
) -> bool {
    let until = Instant::now() + wait;
    loop {
        if cancel.is_set() {
            return true;
        }
        if let Some(live) = live.as_deref_mut() {
            live.tick();
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}

/// `st2 run -a`: start, answer the id.
pub(super) fn run_async(client: &Client, request: &RunActionRequest) -> anyhow::Result<String> {
    Ok(start(client, request)?.id)
}

/// `GET /executions/ID` (with `include_attributes` when given); a 404 says the execution is
/// not found.
pub(super) fn get_execution(
    client: &Client,
    id: &str,
    query: &[(&str, String)],
) -> anyhow::Result<ExecutionView> {
    match client.get(Root::Api, &format!("/executions/{}", segment(id)), query) {
        Ok(answer) => view(&answer.json()?, &answer.request),
        Err(err) => match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 404 => Err(err.context(format!(
                "execution \"{id}\" is not found (`st2 execution list` shows the recent ones)"
            ))),
            _ => Err(err),
        },
    }
}

/// `st2 execution get ID`: the attributes st2client asks for, and a workflow's children.
pub(super) fn get(client: &Client, id: &str) -> anyhow::Result<ExecutionView> {
    let mut execution = get_execution(
        client,
        id,
        &[("include_attributes", GET_ATTRIBUTES.to_string())],
    )?;
    if execution.is_workflow() {
        execution.children = children(client, id)?;
    }
    Ok(execution)
}

/// A workflow's descendants (`GET /executions/ID/children/?depth=-1`), as a tree in the
/// order the API lists them.
fn children(client: &Client, id: &str) -> anyhow::Result<Vec<ExecutionView>> {
    let answer = client.get(
        Root::Api,
        &format!("/executions/{}/children/", segment(id)),
        &[("depth", "-1".to_string())],
    )?;
    let all: Vec<ExecutionView> = answer
        .list()?
        .iter()
        .map(|child| view(child, &answer.request))
        .collect::<anyhow::Result<_>>()?;
    fn under(parent: &str, all: &[ExecutionView]) -> Vec<ExecutionView> {
        all.iter()
            .filter(|child| child.parent.as_deref() == Some(parent))
            .map(|child| ExecutionView {
                children: under(&child.id, all),
                ..child.clone()
            })
            .collect()
    }
    Ok(under(id, &all))
}

/// `st2 execution list`: one page of `-n N` as st2client asks, or (**[fix]**) pages of 100
/// with `offset` when N is larger ([`Client::get_pages`]).
pub(super) fn list(
    client: &Client,
    request: &ExecutionListRequest,
) -> anyhow::Result<Vec<ExecutionView>> {
    let query = |page: usize, offset: usize| {
        let mut query = vec![("limit", page.to_string())];
        if offset > 0 {
            query.push(("offset", offset.to_string()));
        }
        if let Some(action) = &request.action_ref {
            query.push(("action", action.clone()));
        }
        if let Some(status) = request.status {
            query.push(("status", status.as_str().to_string()));
        }
        if !request.with_children {
            query.push(("parent", "null".to_string()));
        }
        // A Python bool as text, as st2client sends it.
        if request.oldest_first {
            query.push(("sort_asc", "True".to_string()));
        } else {
            query.push(("sort_desc", "True".to_string()));
        }
        query.push(("include_attributes", LIST_ATTRIBUTES.to_string()));
        query
    };
    client.get_pages("/executions/", request.limit, query, view)
}

/// `st2 execution cancel ID`: `DELETE /executions/ID`, then a few seconds for it to end.
pub(super) fn cancel(client: &Client, id: &str) -> anyhow::Result<CancelOutcome> {
    let path = format!("/executions/{}", segment(id));
    let answer = client
        .call(Method::DELETE, Root::Api, &path, &[], None)
        .map_err(|err| match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 404 => err.context(format!(
                "execution \"{id}\" is not found (`st2 execution list` shows the recent ones)"
            )),
            _ => err,
        })?;
    let body = answer.json()?;
    // A finished execution: 200 with `{"faultstring": "Action cannot be canceled. State =
    // succeeded."}` (st2api's `executions.py`).
    if let Some(fault) = body.get("faultstring").and_then(Value::as_str) {
        let state = fault
            .rsplit_once("State = ")
            .map(|(_, state)| state.trim_end_matches('.').trim());
        return match state.and_then(ExecutionStatus::parse) {
            Some(status) => Ok(CancelOutcome::AlreadyEnded(status)),
            None => anyhow::bail!("{fault} (from {})", answer.request),
        };
    }
    let mut execution = view(&body, &answer.request)?;
    let deadline = Instant::now() + CANCEL_WAIT;
    let mut wait = POLL_FIRST;
    while !execution.status.is_final() && Instant::now() < deadline {
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(1));
        execution = get_execution(client, id, &[])?;
    }
    Ok(if execution.status.is_final() {
        CancelOutcome::Ended(execution.status)
    } else {
        CancelOutcome::StillCanceling
    })
}

// `st2 execution re-run` (`../shared/spec/remote-api.md` §2, §2.1).

/// `st2 execution re-run ID`: the original (`GET /executions/ID`), its action and runner
/// type, the words cast against them, `POST /executions/ID/re_run` with `{"parameters",
/// "tasks", "reset", "delay"}` as st2client sends it (delay 0 when not given). The cluster
/// merges the original's parameters under the new ones and checks the rest (tasks only for
/// orquesta, not together with parameters): its 400 is a usage error. **[fix]** every request
/// carries the credential (st2client drops `-t` on the action and runner lookups).
fn start_rerun(client: &Client, request: &ReRunRequest) -> anyhow::Result<ExecutionView> {
    let original = get_execution(client, &request.id, &[])?;
    let action = fetch_action(client, &original.action_ref)?;
    let parameters = cast(
        client,
        &action,
        &request.words,
        args::ArgsOptions {
            auto_dict: request.auto_dict,
            inherit_env: request.inherit_env,
        },
    )?;
    let body = json!({
        "parameters": Value::Object(parameters),
        "tasks": request.tasks,
        "reset": request.reset,
        "delay": request.delay_ms.unwrap_or(0),
    });
    let path = format!("/executions/{}/re_run", segment(&request.id));
    let answer = client
        .call(Method::POST, Root::Api, &path, &[], Some(&body))
        .map_err(refused)?;
    view(&answer.json()?, &answer.request)
}

/// `st2 execution re-run ID`: start the new execution, then wait for it as `st2 run` does.
pub(super) fn rerun(
    client: &Client,
    request: &ReRunRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<ExecutionView> {
    let started = start_rerun(client, request)?;
    let action_ref = started.action_ref.clone();
    wait(client, started, &action_ref, observer)
}

/// `st2 execution re-run ID -a`: start the new execution, answer its id.
pub(super) fn rerun_async(client: &Client, request: &ReRunRequest) -> anyhow::Result<String> {
    Ok(start_rerun(client, request)?.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_executions_become_views() {
        let execution = json!({
            "id": "65f0c0ffee0000000000ab01",
            "action": {"ref": "core.local", "runner_type": "local-shell-cmd"},
            "context": {"user": "st2admin", "pack": "core"},
            "parameters": {"cmd": "date"},
            "status": "succeeded",
            "result": {"stdout": "x"},
            "start_timestamp": "2024-03-12T10:00:00.000000Z",
            "end_timestamp": "2024-03-12T10:00:01.000000Z",
        });
        let view = view(&execution, "GET u").unwrap();
        assert_eq!(view.action_ref, "core.local");
        assert_eq!(view.user, "st2admin");
        assert_eq!(view.status, ExecutionStatus::Succeeded);
        assert_eq!(view.context, Value::Null);
        let bad = json!({"id": "x", "status": "exploded"});
        assert!(super::view(&bad, "GET u")
            .unwrap_err()
            .to_string()
            .contains("unknown execution status"));
        let child = json!({"id": "c", "status": "running", "parent": "p",
                           "context": {"user": "u", "orquesta": {"task_name": "t"}}});
        let child = super::view(&child, "GET u").unwrap();
        assert_eq!(child.task_name(), Some("t"));
        assert_eq!(child.parent.as_deref(), Some("p"));
    }

    #[test]
    fn a_map_keeps_its_order() {
        // The body `st2 run` posts keeps upstream's key order.
        let body = json!({"action": "a", "parameters": serde_json::Map::new(), "user": null});
        assert_eq!(
            body.to_string(),
            r#"{"action":"a","parameters":{},"user":null}"#
        );
    }
}

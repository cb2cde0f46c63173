//! `st2 execution tail` over the API and the stream (`../shared/spec/remote-api.md` §3,
//! st2client's `ActionExecutionTailCommand.tail_execution`).
//!
//! - A finished execution: its output at once (`GET /executions/ID/output`), as st2client.
//! - A running action: the stream's `/executions/ID/output`, which replays what it printed so
//!   far and ends with `EOF` once the execution is final (**[fix]**: st2client listens to the
//!   general stream and misses what came before it connected).
//! - A running workflow (`orquesta`, `action-chain`): the general stream, as st2client: its
//!   tasks' `Child execution (task=T) ID has started.` / `... has finished (status=S).` lines
//!   and their output, nested workflows' tasks too (an execution whose parent is followed is
//!   followed), until the workflow's final status. Where we differ on purpose: the execution
//!   tailed is always the one whose end ends the tail, also when it is itself a task of a
//!   workflow (st2client then prints it as a child and misses the tasks it starts after the
//!   tail began); its children are read again once the stream is open, so that none started in
//!   between is missed, and an execution that ended in between is noticed at once (§3 **[fix]**
//!   (4)).
//!
//! Either stream is opened once more when it breaks or stays silent before the end; then the
//! execution is polled every 2 s (**[fix]** (5), [`stream::follow`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{segment, Client, Root};
use super::executions::{get_execution, view, POLL_MAX};
use super::stream::{self, Followed, Follower, OutputFollower, Step};
use crate::ops::executions::{ExecutionView, OutputPiece, TailEnd, TailRequest};
use crate::runner::output::OutputStream;
use crate::store::ExecutionStatus;

/// The events a workflow's tail listens to (st2client's).
const WORKFLOW_EVENTS: &str = "st2.execution__update,st2.execution.output__create";

/// `st2 execution tail [ID]`.
pub(super) fn tail(
    client: &Client,
    request: &TailRequest,
    output: &mut dyn FnMut(&[OutputPiece]) -> bool,
) -> anyhow::Result<TailEnd> {
    let execution = match &request.id {
        Some(id) => get_execution(client, id, &[])?,
        None => {
            let answer = client.get(Root::Api, "/executions/", &[("limit", "1".to_string())])?;
            match answer.list()?.first() {
                Some(newest) => view(newest, &answer.request)?,
                None => return Ok(TailEnd::NoExecutions),
            }
        }
    };
    if execution.status.is_final() {
        return finished(client, request, execution, 0, output);
    }
    if execution.is_workflow() {
        return workflow(client, request, execution, output);
    }
    action(client, request, execution, output)
}

/// The output of an execution that ended (`GET /executions/ID/output`), less the first
/// `shown` bytes a stream already showed.
fn finished(
    client: &Client,
    request: &TailRequest,
    execution: ExecutionView,
    shown: usize,
    output: &mut dyn FnMut(&[OutputPiece]) -> bool,
) -> anyhow::Result<TailEnd> {
    let mut query = Vec::new();
    if let Some(stream) = request.stream {
        query.push(("output_type", stream.as_str().to_string()));
    }
    let answer = client.get(
        Root::Api,
        &format!("/executions/{}/output", segment(&execution.id)),
        &query,
    )?;
    let rest = answer
        .body
        .get(shown.min(answer.body.len())..)
        .unwrap_or_default();
    if !rest.is_empty() {
        let piece = OutputPiece {
            stream: request.stream.unwrap_or(OutputStream::Stdout),
            data: rest.to_vec(),
            timestamp: execution.end_timestamp.clone().unwrap_or_default(),
            note: false,
        };
        if !output(&[piece]) {
            return Ok(TailEnd::Stopped);
        }
    }
    Ok(TailEnd::Ended {
        id: execution.id,
        status: execution.status,
    })
}

/// Wait for the end by polling, after the stream broke every time it was opened.
fn poll_to_the_end(client: &Client, id: &str, why: &str) -> anyhow::Result<ExecutionView> {
    client.warn(&format!(
        "the output stream of execution {id} broke ({why}); waiting for the end by polling"
    ));
    loop {
        std::thread::sleep(POLL_MAX);
        let execution = get_execution(client, id, &[])?;
        if execution.status.is_final() {
            return Ok(execution);
        }
    }
}

/// A running action: its output stream, then what it printed after the stream ended.
fn action(
    client: &Client,
    request: &TailRequest,
    execution: ExecutionView,
    output: &mut dyn FnMut(&[OutputPiece]) -> bool,
) -> anyhow::Result<TailEnd> {
    let id = execution.id.clone();
    let mut query = Vec::new();
    if let Some(stream) = request.stream {
        query.push(("output_type", stream.as_str().to_string()));
    }
    let path = format!("/executions/{}/output", segment(&id));
    let mut open = || client.open(Root::Stream, &path, &query, "text/event-stream");
    let mut sink = |piece: OutputPiece| output(&[piece]);
    let mut never = || false;
    let mut follower = OutputFollower::new(&mut sink, &mut never);
    let execution = match stream::follow(&mut open, &mut follower)? {
        Followed::Stopped => return Ok(TailEnd::Stopped),
        Followed::Done => {
            let execution = get_execution(client, &id, &[])?;
            if !execution.status.is_final() {
                // EOF comes for a pausing or resuming execution too.
                return Ok(TailEnd::Ended {
                    id,
                    status: execution.status,
                });
            }
            execution
        }
        Followed::Broken(why) => poll_to_the_end(client, &id, &why)?,
    };
    let shown = follower.shown_bytes;
    // What the stream did not show.
    finished(client, request, execution, shown, output)
}

/// A running workflow: the general stream, its tasks followed as st2client follows them.
fn workflow(
    client: &Client,
    request: &TailRequest,
    execution: ExecutionView,
    output: &mut dyn FnMut(&[OutputPiece]) -> bool,
) -> anyhow::Result<TailEnd> {
    let id = execution.id.clone();
    let query = [
        ("end_event", "st2.execution__update".to_string()),
        ("end_execution_id", id.clone()),
        ("events", WORKFLOW_EVENTS.to_string()),
    ];
    let mut open = || client.open(Root::Stream, "/stream", &query, "text/event-stream");
    let mut follower = WorkflowFollower {
        client,
        root: id.clone(),
        followed: HashSet::from([id.clone()]),
        only: request.stream,
        output,
        ended: None,
        final_when_connected: None,
    };
    match stream::follow(&mut open, &mut follower)? {
        Followed::Stopped => Ok(TailEnd::Stopped),
        Followed::Done => match follower.ended.take() {
            Some(Ended::OnTheStream(status)) => Ok(TailEnd::Ended { id, status }),
            // It ended before the stream was open: what it printed, as for a finished one.
            Some(Ended::Before) => {
                let execution = get_execution(client, &id, &[])?;
                finished(client, request, execution, 0, follower.output)
            }
            None => unreachable!("the workflow follower is done only at the end"),
        },
        Followed::Broken(why) => {
            let execution = poll_to_the_end(client, &id, &why)?;
            Ok(TailEnd::Ended {
                id,
                status: execution.status,
            })
        }
    }
}

/// How the workflow followed ended.
enum Ended {
    /// Its final status came on the stream.
    OnTheStream(ExecutionStatus),
    /// It had ended when the stream was opened.
    Before,
}

/// Follows a workflow on the general stream (`tail_execution`'s loop).
struct WorkflowFollower<'a, 'o> {
    client: &'a Client,
    /// The execution tailed.
    root: String,
    /// It and its descendants seen so far: their events and output are shown.
    followed: HashSet<String>,
    /// `--type`.
    only: Option<OutputStream>,
    output: &'o mut dyn FnMut(&[OutputPiece]) -> bool,
    ended: Option<Ended>,
    /// When the workflow was final once the stream was open: until when its end is waited
    /// for on the stream.
    final_when_connected: Option<Instant>,
}

/// How long the end of a workflow found final once its stream was open is waited for on the
/// stream: it is there (already sent) when the workflow ended after the stream opened; it
/// never comes when the workflow ended before.
const END_GRACE: Duration = Duration::from_secs(1);

impl WorkflowFollower<'_, '_> {
    /// Done when the workflow was final once the stream was open and its end did not come
    /// on the stream in time (or the stream ended).
    fn ended_before(&mut self, now: bool) -> Step {
        match self.final_when_connected {
            Some(until) if now || Instant::now() >= until => {
                self.ended = Some(Ended::Before);
                Step::Done
            }
            _ => Step::Continue,
        }
    }

    /// Write a line of the tail's own.
    fn note(&mut self, text: String) -> Step {
        let piece = OutputPiece {
            stream: OutputStream::Stdout,
            data: text.into_bytes(),
            timestamp: String::new(),
            note: true,
        };
        if (self.output)(&[piece]) {
            Step::Continue
        } else {
            Step::Stop
        }
    }
}

impl Follower for WorkflowFollower<'_, '_> {
    fn connected(&mut self, _attempt: usize) -> anyhow::Result<Step> {
        // Once the stream is open, nothing more is lost: the children started before it
        // (whose output events name only themselves), and whether the workflow already ended.
        let answer = self.client.get(
            Root::Api,
            &format!("/executions/{}", segment(&self.root)),
            &[("include_attributes", "id,status,children".to_string())],
        )?;
        let now = answer.json()?;
        for child in now
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.followed.insert(child.to_string());
        }
        let status = now.get("status").and_then(Value::as_str);
        if status
            .and_then(ExecutionStatus::parse)
            .is_some_and(ExecutionStatus::is_final)
            && self.final_when_connected.is_none()
        {
            // Ended before the stream opened (its end never comes), or just after (its end
            // and its tasks' events are on the stream already): a moment to tell.
            self.final_when_connected = Some(Instant::now() + END_GRACE);
        }
        Ok(Step::Continue)
    }

    fn idle(&mut self) -> Step {
        self.ended_before(false)
    }

    fn broken(&mut self, _why: &str) -> Step {
        if self.final_when_connected.is_some() {
            return self.ended_before(true);
        }
        Step::Continue
    }

    fn event(&mut self, event: &stream::Event) -> anyhow::Result<Step> {
        let step = self.handle(event)?;
        if step != Step::Continue {
            return Ok(step);
        }
        Ok(self.ended_before(false))
    }
}

impl WorkflowFollower<'_, '_> {
    /// One event of the general stream, as `tail_execution` reads it.
    fn handle(&mut self, event: &stream::Event) -> anyhow::Result<Step> {
        if let Some((execution_id, piece)) = stream::output_piece(event) {
            if !self.followed.contains(&execution_id)
                || self.only.is_some_and(|only| only != piece.stream)
            {
                return Ok(Step::Continue);
            }
            return Ok(if (self.output)(&[piece]) {
                Step::Continue
            } else {
                Step::Stop
            });
        }
        let Ok(value) = serde_json::from_str::<Value>(&event.data) else {
            return Ok(Step::Continue);
        };
        let Some(status) = value.get("status").and_then(Value::as_str) else {
            return Ok(Step::Continue);
        };
        let task = Task::of(&value);
        let Some(id) = task.id else {
            return Ok(Step::Continue);
        };
        let status = ExecutionStatus::parse(status);
        if id == self.root {
            // A second `running` update (with children by then) is not news.
            let children = value
                .get("children")
                .and_then(Value::as_array)
                .is_some_and(|children| !children.is_empty());
            return Ok(match status {
                Some(ExecutionStatus::Running) if !children => {
                    self.note(format!("Execution {id} has started.\n\n"))
                }
                Some(status) if status.is_final() => {
                    self.ended = Some(Ended::OnTheStream(status));
                    Step::Done
                }
                _ => Step::Continue,
            });
        }
        if !task
            .parent
            .is_some_and(|parent| self.followed.contains(parent))
        {
            return Ok(Step::Continue);
        }
        self.followed.insert(id.to_string());
        Ok(match status {
            Some(ExecutionStatus::Running) => self.note(format!(
                "Child execution (task={}) {id} has started.\n\n",
                task.name
            )),
            Some(status) if status.is_final() => self.note(format!(
                "\nChild execution (task={}) {id} has finished (status={}).\n",
                task.name,
                status.as_str()
            )),
            _ => Step::Continue,
        })
    }
}

/// An execution event as st2client reads it (`get_normalized_context_execution_task_event`):
/// its id, its parent, its task's name (orquesta's, else the chain node's, else `unknown`).
struct Task<'v> {
    id: Option<&'v str>,
    parent: Option<&'v str>,
    name: &'v str,
}

impl<'v> Task<'v> {
    fn of(event: &'v Value) -> Task<'v> {
        let context = event.get("context");
        let at = |pointer: &str| {
            context
                .and_then(|context| context.pointer(pointer))
                .and_then(Value::as_str)
        };
        let name = if context
            .and_then(|context| context.get("orquesta"))
            .is_some()
        {
            at("/orquesta/task_name")
        } else {
            at("/chain/name")
        };
        Task {
            id: event.get("id").and_then(Value::as_str),
            parent: at("/parent/execution_id"),
            name: name.unwrap_or("unknown"),
        }
    }
}

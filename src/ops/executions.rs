//! Execution operations: run an action, get, list, cancel, read its output.
//!
//! Shaped for StackStorm's API as well as for the embedded backend
//! (`../shared/spec/remote-api.md` §2.1, §2.2, §3): a run is the action's ref and the words
//! after it (the remote backend casts them against `GET /actions/REF` and the runner type's
//! parameters, then `POST /executions`), and its answer the execution as it ended (polling
//! `GET /executions/ID`, or the stream for live output); get, list and cancel are
//! `GET /executions/ID`, `GET /executions/` and `DELETE /executions/ID`; tail is the output
//! recorded as it came (`GET /executions/ID/output`, then the stream). A re-run is `POST
//! /executions/ID/re_run`: a new execution of the original's action, with the original's
//! parameters overlaid by new words cast against that action.

use serde_json::Value;

use crate::runner::output::OutputStream;
use crate::runner::CancelFlag;
use crate::store::ExecutionStatus;

/// What `st2 run` (and `st2 action execute`) asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunActionRequest {
    /// The action ref.
    pub(crate) action_ref: String,
    /// The words after it (`key=value`, or a command).
    pub(crate) words: Vec<String>,
    /// `--auto-dict`.
    pub(crate) auto_dict: bool,
    /// `-e/--inherit-env`.
    pub(crate) inherit_env: bool,
    /// `--no-native`: run the pack's own code even when st2-rs has a native implementation.
    pub(crate) no_native: bool,
}

/// What `st2 execution re-run` asks for (`../shared/spec/remote-api.md` §2.1).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReRunRequest {
    /// The execution to run again.
    pub(crate) id: String,
    /// Words that replace some of its parameters (cast against its action, as `st2 run`'s).
    pub(crate) words: Vec<String>,
    /// `--tasks`: the workflow tasks to run again (orquesta only).
    pub(crate) tasks: Vec<String>,
    /// The tasks among `tasks` whose with-items iterations all run again (`--tasks` minus
    /// `--no-reset`).
    pub(crate) reset: Vec<String>,
    /// `--delay MS`: how long the new execution stays `delayed` before it is scheduled.
    pub(crate) delay_ms: Option<u64>,
    /// `--auto-dict`.
    pub(crate) auto_dict: bool,
    /// `-e/--inherit-env`.
    pub(crate) inherit_env: bool,
}

/// An execution, as the commands show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExecutionView {
    /// 24 hex digits.
    pub(crate) id: String,
    /// `action.ref`.
    pub(crate) action_ref: String,
    /// `action.runner_type`.
    pub(crate) runner_type: String,
    /// `context.user`.
    pub(crate) user: String,
    /// The parameters as recorded (secrets masked).
    pub(crate) parameters: Value,
    /// Its status now.
    pub(crate) status: ExecutionStatus,
    /// The result once it ended; for one that has not, what it printed so far (`get`), or
    /// nothing.
    pub(crate) result: Option<Value>,
    /// When it started (RFC 3339, UTC, microseconds).
    pub(crate) start_timestamp: String,
    /// When it ended.
    pub(crate) end_timestamp: Option<String>,
    /// The workflow execution it is a task of.
    pub(crate) parent: Option<String>,
    /// What its workflow gave it (`chain`/`orquesta`, `parent`); `null` for a top-level one.
    pub(crate) context: Value,
    /// A workflow's child executions in creation order, each with its own (the tree).
    pub(crate) children: Vec<ExecutionView>,
    /// An orquesta workflow's conductor state (`sequence`, `routes`, `errors`, `output`).
    pub(crate) workflow: Option<Value>,
}

impl ExecutionView {
    /// Its task's name in its workflow (`context.chain.name`, `context.orquesta.task_name`).
    pub(crate) fn task_name(&self) -> Option<&str> {
        let context = &self.context;
        context
            .pointer("/chain/name")
            .or_else(|| context.pointer("/orquesta/task_name"))
            .and_then(Value::as_str)
    }

    /// Whether it is a workflow (its runner runs tasks as children).
    pub(crate) fn is_workflow(&self) -> bool {
        matches!(self.runner_type.as_str(), "action-chain" | "orquesta")
    }
}

/// Which executions `st2 execution list` shows, newest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecutionListRequest {
    /// The oldest first instead (`-s asc`).
    pub(crate) oldest_first: bool,
    /// Only this action's.
    pub(crate) action_ref: Option<String>,
    /// Only those with this status.
    pub(crate) status: Option<ExecutionStatus>,
    /// At most this many.
    pub(crate) limit: usize,
    /// Workflows' children too (`-l/--showall`), not only top-level executions.
    pub(crate) with_children: bool,
}

/// How a cancel request ended for one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelOutcome {
    /// It had already ended with this status: nothing was done.
    AlreadyEnded(ExecutionStatus),
    /// It was asked to stop and ended with this status.
    Ended(ExecutionStatus),
    /// It was asked to stop, and its process has not stopped yet.
    StillCanceling,
}

/// What `st2 execution tail` follows.
#[derive(Debug, Clone)]
pub(crate) struct TailRequest {
    /// The execution, or `None` for the newest one.
    pub(crate) id: Option<String>,
    /// Only this stream.
    pub(crate) stream: Option<OutputStream>,
}

/// A piece of an execution's output, as it was recorded (secrets masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputPiece {
    /// Which stream.
    pub(crate) stream: OutputStream,
    /// The bytes.
    pub(crate) data: Vec<u8>,
    /// When it came (RFC 3339, UTC, microseconds).
    pub(crate) timestamp: String,
    /// Not the execution's output but a line of the tail's own about a workflow's tasks
    /// (`Child execution (task=T) ID has started.`, remote mode): written as it is, never
    /// with metadata.
    pub(crate) note: bool,
}

/// How following an execution's output ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TailEnd {
    /// No execution was named and none exists.
    NoExecutions,
    /// The one who followed stopped (its output was closed).
    Stopped,
    /// The execution ended with this status.
    Ended {
        /// The execution followed.
        id: String,
        /// Its final status.
        status: ExecutionStatus,
    },
}

/// What a command implements to take part in a run: the warnings before it starts, the
/// cancel flag, and who watches its output as it comes.
pub(crate) trait RunObserver {
    /// Something worth a warning about the run (a stale config, a missing virtualenv);
    /// called before the execution is recorded.
    fn warning(&mut self, message: &str);

    /// The execution is about to be recorded and run in this process: the flag that stops it
    /// (the command sets it on Ctrl-C). An error stops the run before it is recorded.
    fn cancel_flag(&mut self) -> anyhow::Result<CancelFlag>;

    /// Who watches the output of the action `action_ref` as it comes, if anyone.
    fn live_view(&mut self, action_ref: &str) -> Option<Box<dyn LiveView>>;
}

/// Someone watching an execution's output as it comes (`st2 run` on a terminal). Called from
/// the thread that records the output.
pub(crate) trait LiveView: Send {
    /// A piece of the action's output, secrets masked.
    fn output(&mut self, stream: OutputStream, data: &[u8]);
    /// Called about every 100 ms while the action runs (to show that something moves).
    fn tick(&mut self);
    /// The action ended; nothing more comes.
    fn finish(&mut self);
}

/// Execution operations: run an action, get, list, cancel, read its output.
pub(crate) trait ExecutionOps {
    /// Check a run (an [`InvalidRequest`](super::InvalidRequest) when it cannot be carried
    /// out as written, nothing recorded), record it, carry it out and answer the execution
    /// as it ended.
    fn run_action(
        &self,
        request: &RunActionRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView>;

    /// Check a run and have it carried out in the background (`st2 run -a`); answers the
    /// execution's id. Only [`RunObserver::warning`] is called.
    fn run_action_async(
        &self,
        request: &RunActionRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String>;

    /// The background half of [`run_action_async`](ExecutionOps::run_action_async), in the
    /// process it started (`st2 execution worker ID`).
    fn execution_worker(&self, id: &str, observer: &mut dyn RunObserver) -> anyhow::Result<()>;

    /// One execution as it is now.
    fn execution_get(&self, id: &str) -> anyhow::Result<ExecutionView>;

    /// The newest executions.
    fn execution_list(&self, request: &ExecutionListRequest) -> anyhow::Result<Vec<ExecutionView>>;

    /// Ask an execution to stop, and wait a while for it to.
    fn execution_cancel(&self, id: &str) -> anyhow::Result<CancelOutcome>;

    /// Follow an execution's output, from the beginning, until it ends: what was recorded
    /// since the last look goes to `output`, a batch at a time, which answers whether to go
    /// on ([`TailEnd::Stopped`] when it does not).
    fn execution_tail(
        &self,
        request: &TailRequest,
        output: &mut dyn FnMut(&[OutputPiece]) -> bool,
    ) -> anyhow::Result<TailEnd>;

    /// Run an execution's action again (`st2 execution re-run`): check it (an
    /// [`InvalidRequest`](super::InvalidRequest) when it cannot be carried out as written,
    /// nothing recorded), record the new execution, carry it out and answer it as it ended.
    fn execution_rerun(
        &self,
        request: &ReRunRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<ExecutionView>;

    /// [`execution_rerun`](ExecutionOps::execution_rerun) carried out in the background
    /// (`-a`); answers the new execution's id. Only [`RunObserver::warning`] is called.
    fn execution_rerun_async(
        &self,
        request: &ReRunRequest,
        observer: &mut dyn RunObserver,
    ) -> anyhow::Result<String>;
}

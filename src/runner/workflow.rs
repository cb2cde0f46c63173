//! What a workflow runner (action-chain now, orquesta next) needs from whoever runs it: each
//! task's action run as a **child execution**, through the same path as `st2 run`.
//!
//! The runner layer does not know the store or the operations: the local backend
//! (`ops::local::child`) implements [`TaskRunner`] and hands it down in
//! [`RunRequest::tasks`](super::RunRequest); a workflow runner renders its tasks' parameters,
//! asks for each child, and decides what comes next from the status it answers.

use serde_json::{Map, Value};

use crate::store::ExecutionStatus;

/// A task's action, as a workflow runner checks it before running anything.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskAction {
    /// Its runner type's name.
    pub runner_type: String,
    /// Whether st2-rs can run it (its runner, or a native implementation).
    pub runnable: bool,
    /// The effective parameter schema (runner parameters merged with the action's), which
    /// the rendered parameters are cast by.
    pub schema: Map<String, Value>,
}

/// One task to run as a child execution.
#[derive(Debug, Clone)]
pub(crate) struct TaskRequest<'a> {
    /// The action ref.
    pub action_ref: &'a str,
    /// The parameters as the workflow rendered and cast them; the child's own parameter
    /// pipeline (templates, defaults, validation) runs on them as on `st2 run`'s.
    pub parameters: Map<String, Value>,
    /// The child's `context` (`user`, `parent`, and `chain` or `orquesta`).
    pub context: Value,
    /// `ST2_WORKFLOW_MOCKS`: the child is prepared and recorded, but ends with this status
    /// and result instead of running.
    pub mock: Option<(ExecutionStatus, Value)>,
    /// Its turn to be recorded, when children run concurrently.
    pub turn: Option<(&'a Turnstile, usize)>,
}

/// How a task's child execution ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskOutcome {
    /// The child's id; `None` when it could not be started (its parameters were refused,
    /// say), and so was not recorded.
    pub execution_id: Option<String>,
    /// Its final status.
    pub status: ExecutionStatus,
    /// Its result (for one not started, `{"error": why}`).
    pub result: Value,
    /// Its result as recorded, when that differs (the secret fields of its action's
    /// `output_schema` masked): what a kept workflow state holds.
    pub recorded: Option<Value>,
}

/// Runs a workflow's tasks as child executions of the workflow's execution.
pub(crate) trait TaskRunner {
    /// The action `action_ref` as a task would run it; `None` when it does not exist.
    fn action(&self, action_ref: &str) -> Result<Option<TaskAction>, String>;

    /// Record a child execution of `request`, run it to its end (synchronously; the
    /// workflow's cancel flag cancels it) and answer how it ended.
    fn run_task(&self, request: TaskRequest) -> TaskOutcome;

    /// Keep the workflow's conductor state (orquesta: the record's `workflow` column).
    fn record_workflow(&self, _state: &Value) {}

    /// Keep the workflow's serialized conductor once it ended (orquesta: the record's
    /// `conductor` column), for a re-run of some of its tasks.
    fn record_conductor(&self, _saved: &Value) {}

    /// When this workflow execution re-runs tasks of another (`st2 execution re-run ID
    /// --tasks ...`): what it resumes. An error when the original's conductor cannot be read.
    fn resume(&self) -> Result<Option<Resume>, String> {
        Ok(None)
    }

    /// Another runner of the same workflow's tasks, for another thread (children run
    /// concurrently); `None` when there can be only one.
    fn fork(&self) -> Option<Box<dyn TaskRunner + Send + '_>> {
        None
    }
}

/// What a re-run of some of a workflow's tasks resumes (upstream's
/// `services/workflows.py: request_rerun`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resume {
    /// The original workflow execution's id.
    pub original: String,
    /// Its conductor as [`TaskRunner::record_conductor`] kept it.
    pub saved: Value,
    /// The tasks to run again (`--tasks`).
    pub tasks: Vec<String>,
    /// Those whose with-items items all run again (`--tasks` minus `--no-reset`).
    pub reset: Vec<String>,
}

/// Children of one wave recorded in wave order while they run concurrently: the child of
/// ticket `n` is recorded only after those of tickets `0..n`
/// (`../shared/spec/workflows.md` §2.6).
#[derive(Debug, Default)]
pub(crate) struct Turnstile {
    next: std::sync::Mutex<usize>,
    turn: std::sync::Condvar,
}

impl Turnstile {
    /// Wait until it is `ticket`'s turn.
    pub(crate) fn wait(&self, ticket: usize) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while *next < ticket {
            next = self.turn.wait(next).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `ticket` is recorded (or will never be): the next one's turn.
    pub(crate) fn done(&self, ticket: usize) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if *next <= ticket {
            *next = ticket + 1;
        }
        self.turn.notify_all();
    }
}

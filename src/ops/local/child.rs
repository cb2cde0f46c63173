//! Child executions: a workflow's tasks run through the same path as `st2 run` (prepare:
//! validation, defaults, rendering, casting; native implementations; runners; output
//! recorded; secrets masked by the child's own schema), each recorded with its `parent` and
//! `context`, `requested` -> `running` -> final (`../shared/spec/workflows.md` §1, §5).
//!
//! [`Children`] is the [`TaskRunner`] this backend hands to a workflow runner in
//! [`RunRequest::tasks`](crate::runner::RunRequest): one per workflow execution, sharing its
//! cancel flag (Ctrl-C, SIGTERM from `st2 execution cancel` of the parent or of a child: the
//! running child is killed, and the workflow starts nothing more). A child runs in this
//! process and records its pid, so a process killed mid-workflow leaves the parent and its
//! running children `abandoned` (`execution::refresh`). A child that is a workflow gets its
//! own [`Children`] from [`super::run::execute`]: sub-workflows recurse.

use std::cell::RefCell;

use serde_json::{json, Value};

use super::prepare::{prepare_task, PrepareError};
use super::run::{execute, start, Parentage};
use crate::action::{self, ActionError};
use crate::execution;
use crate::runner::workflow::{
    Resume, TaskAction, TaskOutcome, TaskRequest, TaskRunner, Turnstile,
};
use crate::runner::{CancelFlag, RunnerType};
use crate::settings::Settings;
use crate::store::{ExecutionStatus, Store};

/// Runs the tasks of the workflow execution `parent` as its children.
pub(crate) struct Children<'a> {
    settings: &'a Settings,
    parent: &'a str,
    cancel: &'a CancelFlag,
    store: RefCell<Store>,
    /// What the recorded workflow state must not show: the secrets the parent's run
    /// knows, and its action's `output_schema` (whose secret fields of `output` are masked).
    secrets: &'a [String],
    output_schema: Option<&'a Value>,
}

impl<'a> Children<'a> {
    /// The task runner of the workflow execution `parent`, stopped by `cancel`; the
    /// workflow state it records is masked with `secrets` and `output_schema`.
    pub(crate) fn new(
        settings: &'a Settings,
        parent: &'a str,
        cancel: &'a CancelFlag,
        secrets: &'a [String],
        output_schema: Option<&'a Value>,
    ) -> anyhow::Result<Children<'a>> {
        Ok(Children {
            settings,
            parent,
            cancel,
            store: RefCell::new(Store::open(&settings.store_path)?),
            secrets,
            output_schema,
        })
    }
}

/// A child's turn to be recorded ([`Turnstile`]): waited for before the record, passed on
/// after it, or on drop when the child ends before it is recorded.
struct Turn<'t>(Option<(&'t Turnstile, usize)>);

impl Turn<'_> {
    fn wait(&self) {
        if let Some((turnstile, ticket)) = self.0 {
            turnstile.wait(ticket);
        }
    }

    fn pass(&mut self) {
        if let Some((turnstile, ticket)) = self.0.take() {
            turnstile.done(ticket);
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.wait();
        self.pass();
    }
}

impl TaskRunner for Children<'_> {
    fn fork(&self) -> Option<Box<dyn TaskRunner + Send + '_>> {
        Children::new(
            self.settings,
            self.parent,
            self.cancel,
            self.secrets,
            self.output_schema,
        )
        .ok()
        .map(|c| Box::new(c) as Box<dyn TaskRunner + Send + '_>)
    }

    fn action(&self, action_ref: &str) -> Result<Option<TaskAction>, String> {
        let store = self.store.borrow();
        let action = match action::lookup(Some(&store), action_ref) {
            Ok(action) => action,
            Err(ActionError::NotFound { .. } | ActionError::BadRef(_)) => return Ok(None),
            Err(other) => return Err(other.to_string()),
        };
        let native = crate::native::find(&action.record.action_ref, &action.record.entry_point)
            .is_some()
            && self.settings.native_actions;
        let runnable = native
            || RunnerType::parse(&action.record.runner_type).is_some_and(|r| r.is_supported());
        Ok(Some(TaskAction {
            runner_type: action.record.runner_type.clone(),
            runnable,
            schema: action.schema(),
        }))
    }

    fn record_workflow(&self, state: &Value) {
        let mut state = state.clone();
        crate::redact::Redactor::new(self.secrets).value(&mut state);
        if let Some(schema) = self.output_schema {
            crate::schema::output_secrets::mask(schema, "output", &mut state);
        }
        if let Err(err) = self
            .store
            .borrow_mut()
            .set_execution_workflow(self.parent, &state)
        {
            tracing::warn!(
                execution = self.parent,
                "recording the workflow state: {err}"
            );
        }
    }

    fn record_conductor(&self, saved: &Value) {
        let mut saved = saved.clone();
        crate::redact::Redactor::new(self.secrets).value(&mut saved);
        if let (Some(schema), Some(conductor)) = (self.output_schema, saved.get_mut("conductor")) {
            crate::schema::output_secrets::mask(schema, "output", conductor);
        }
        if let Err(err) = self
            .store
            .borrow_mut()
            .set_execution_conductor(self.parent, &saved)
        {
            tracing::warn!(execution = self.parent, "recording the conductor: {err}");
        }
    }

    fn resume(&self) -> Result<Option<Resume>, String> {
        let store = self.store.borrow();
        let parent = store.execution(self.parent).map_err(|e| e.to_string())?;
        let rerun = parent.map(|p| p.context["re-run"].clone());
        let names = |rerun: &Value, key: &str| -> Vec<String> {
            rerun[key]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let Some(rerun) = rerun.filter(|r| !names(r, "tasks").is_empty()) else {
            return Ok(None);
        };
        let original = rerun["ref"].as_str().unwrap_or_default().to_string();
        let saved = store
            .execution_conductor(&original)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "Unable to rerun workflow execution \"{original}\": its state was not kept."
                )
            })?;
        Ok(Some(Resume {
            original,
            saved,
            tasks: names(&rerun, "tasks"),
            reset: names(&rerun, "reset"),
        }))
    }

    fn run_task(&self, request: TaskRequest) -> TaskOutcome {
        // Its turn to be recorded (children of a wave run concurrently, recorded in order);
        // passed on however this ends.
        let mut turn = Turn(request.turn);
        let not_started = |reason: String| TaskOutcome {
            execution_id: None,
            status: ExecutionStatus::Failed,
            result: json!({ "error": reason }),
            recorded: None,
        };
        let mut store = self.store.borrow_mut();
        let prepared = match prepare_task(
            self.settings,
            &store,
            request.action_ref,
            &request.parameters,
        ) {
            Ok(prepared) => prepared,
            Err(PrepareError::Invalid(reason) | PrepareError::Failed(reason)) => {
                return not_started(reason)
            }
        };
        for warning in &prepared.warnings {
            tracing::warn!(action = request.action_ref, "{warning}");
        }
        let id = execution::new_id();
        let parentage = Parentage {
            parent: self.parent,
            context: &request.context,
        };
        turn.wait();
        let recorded = start(
            &mut store,
            &prepared,
            &id,
            ExecutionStatus::Requested,
            std::process::id(),
            Some(parentage),
        )
        .and_then(|_| store.execution_started(&id, std::process::id()));
        turn.pass();
        if let Err(err) = recorded {
            return not_started(err.to_string());
        }
        if let Some((status, result)) = request.mock {
            // ST2_WORKFLOW_MOCKS: recorded as run, its end mocked.
            let status = store
                .finish_execution(&id, status, &result, &execution::timestamp())
                .unwrap_or(status);
            return TaskOutcome {
                execution_id: Some(id),
                status,
                result,
                recorded: None,
            };
        }
        match execute(self.settings, &mut store, &prepared, &id, self.cancel, None) {
            Ok(executed) => TaskOutcome {
                execution_id: Some(id),
                status: executed.record.status,
                recorded: executed
                    .record
                    .result
                    .filter(|recorded| *recorded != executed.result),
                result: executed.result,
            },
            Err(err) => {
                let result = json!({ "error": err.to_string() });
                let _ = store.finish_execution(
                    &id,
                    ExecutionStatus::Failed,
                    &result,
                    &execution::timestamp(),
                );
                TaskOutcome {
                    execution_id: Some(id),
                    status: ExecutionStatus::Failed,
                    result,
                    recorded: None,
                }
            }
        }
    }
}

//! `st2 run` on this machine: one execution of an action, from the command line to the
//! stored record: find the action, read and check its parameters, resolve the pack config,
//! render the parameters, record the execution, run it with its runner, and record how it
//! ended.
//!
//! [`prepare`] does everything that can fail because of the input (nothing is recorded
//! then); [`start`] records the execution; [`execute`] runs it and stores the outcome. An
//! asynchronous run (`st2 run -a`) does the first two in the foreground and hands the
//! [`Prepared`] execution to a background worker over a pipe (it holds secrets,
//! [`super::worker`]), which calls [`execute`].
//!
//! While it runs, the action's output comes through a [`Tap`] to a recorder thread
//! ([`super::output_recorder`]) that masks it, hands it to a [`LiveView`] (`st2 run` on a
//! terminal), and records it in batches; what is left goes with the final record in one
//! transaction.

use serde_json::Value;

use super::child::Children;
use super::output_recorder::Recorder;
use super::prepare::{prepare, PrepareError, Prepared};
use crate::execution::{self, timestamp};
use crate::native;
use crate::ops::executions::{ExecutionView, LiveView, RunActionRequest, RunObserver};
use crate::redact;
use crate::runner::output::Tap;
use crate::runner::workflow::TaskRunner;
use crate::runner::{self, CancelFlag, RunRequest, RunnerType};
use crate::settings::Settings;
use crate::store::{ExecutionRecord, ExecutionStatus, Store, StoreError};

/// `st2 run`: check the run, record it, run it here and record how it ended.
pub(super) fn run_action(
    settings: &Settings,
    request: &RunActionRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<ExecutionView> {
    let (mut store, prepared) = open_and_prepare(settings, request, observer)?;
    let id = execution::new_id();
    let cancel = observer.cancel_flag()?;
    start(
        &mut store,
        &prepared,
        &id,
        ExecutionStatus::Running,
        std::process::id(),
        None,
    )?;
    let view = observer.live_view(&prepared.action_ref);
    let record = execute(settings, &mut store, &prepared, &id, &cancel, view)?.record;
    // Only a workflow's execution has children: the others need no query for them.
    match prepared.runner_type {
        RunnerType::ActionChain | RunnerType::Orquesta => {
            super::execution_query::with_children(&mut store, record)
        }
        _ => Ok(record.into()),
    }
}

/// The store, and the run checked and rendered (nothing recorded yet); its warnings go to
/// the observer.
fn open_and_prepare(
    settings: &Settings,
    request: &RunActionRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<(Store, Prepared)> {
    settings.ensure_writable()?;
    let store = Store::open(&settings.store_path)?;
    let prepared = prepare(settings, &store, request).map_err(PrepareError::into_anyhow)?;
    for warning in &prepared.warnings {
        observer.warning(warning);
    }
    Ok((store, prepared))
}

/// `st2 run -a`: check the run, record it, and hand it to a background worker.
pub(super) fn run_action_async(
    settings: &Settings,
    request: &RunActionRequest,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<String> {
    let (mut store, prepared) = open_and_prepare(settings, request, observer)?;
    let id = execution::new_id();
    // Our pid until the worker's is known: if we die before handing it over, the
    // record shows abandoned rather than requested forever.
    start(
        &mut store,
        &prepared,
        &id,
        ExecutionStatus::Requested,
        std::process::id(),
        None,
    )?;
    let pid = super::worker::spawn(settings, &id, &prepared).inspect_err(|err| {
        let result = serde_json::json!({ "error": format!("{err:#}") });
        let _ = store.finish_execution(&id, ExecutionStatus::Failed, &result, &timestamp());
    })?;
    store.execution_started(&id, pid)?;
    Ok(id)
}

/// Whose task an execution is: the workflow execution and the context it gives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parentage<'a> {
    /// The workflow execution's id.
    pub(crate) parent: &'a str,
    /// The child's `context`.
    pub(crate) context: &'a Value,
}

/// Record a new execution of `prepared` with `status` (`running` when this process runs it,
/// `requested` when a worker will, or for a workflow's child until it starts).
pub(crate) fn start(
    store: &mut Store,
    prepared: &Prepared,
    id: &str,
    status: ExecutionStatus,
    pid: u32,
    parentage: Option<Parentage>,
) -> Result<ExecutionRecord, StoreError> {
    let (parent, context) = match parentage {
        Some(parentage) => (Some(parentage.parent), parentage.context.clone()),
        None => (None, Value::Null),
    };
    start_with_context(store, prepared, id, status, pid, parent, context)
}

/// [`start`] with the parent and context given as they are (a re-run's top-level context).
pub(crate) fn start_with_context(
    store: &mut Store,
    prepared: &Prepared,
    id: &str,
    status: ExecutionStatus,
    pid: u32,
    parent: Option<&str>,
    context: Value,
) -> Result<ExecutionRecord, StoreError> {
    let record = ExecutionRecord {
        id: id.to_string(),
        action_ref: prepared.action_ref.clone(),
        runner_type: prepared.runner_type.as_str().to_string(),
        user: prepared.user.clone(),
        parameters: Value::Object(prepared.shown_parameters.clone()),
        status,
        result: None,
        start_timestamp: timestamp(),
        end_timestamp: None,
        pid: Some(pid),
        parent: parent.map(str::to_string),
        context,
        workflow: None,
    };
    store.insert_execution(&record)?;
    Ok(record)
}

/// Run a recorded execution and store how it ended; its output is recorded as it comes and
/// shown to `view`.
pub(crate) fn execute(
    settings: &Settings,
    store: &mut Store,
    prepared: &Prepared,
    id: &str,
    cancel: &CancelFlag,
    view: Option<Box<dyn LiveView>>,
) -> Result<Executed, StoreError> {
    let (tap, events) = Tap::channel();
    let recorder = Recorder::new(&settings.store_path, id, &prepared.secrets, view);
    let recorder = std::thread::spawn(move || recorder.run(events));
    // A workflow's tasks become children of this execution.
    let children = match prepared.runner_type {
        RunnerType::ActionChain | RunnerType::Orquesta => Some(Children::new(
            settings,
            id,
            cancel,
            &prepared.secrets,
            prepared.output_schema.as_ref(),
        )),
        _ => None,
    };
    let children = match children.transpose() {
        Ok(children) => children,
        Err(err) => {
            tap.close();
            drop(tap);
            let _ = recorder.join();
            let result = serde_json::json!({ "error": format!("{err:#}") });
            store.finish_execution(id, ExecutionStatus::Failed, &result, &timestamp())?;
            let record = store
                .execution(id)?
                .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
            return Ok(Executed { record, result });
        }
    };
    let request = RunRequest {
        execution_id: id,
        action_ref: &prepared.action_ref,
        pack: &prepared.pack,
        runner_type: prepared.runner_type,
        pack_dir: &prepared.pack_dir,
        entry_point: &prepared.entry_point,
        schema: &prepared.schema,
        parameters: &prepared.parameters,
        config: &prepared.config,
        user: &prepared.user,
        python: prepared.python.clone(),
        settings,
        cancel,
        output: &tap,
        tasks: children.as_ref().map(|c| c as &dyn TaskRunner),
    };
    // A cancel that arrived before the run started wins.
    let outcome = match store.execution(id)? {
        Some(record) if record.status == ExecutionStatus::Canceling => {
            runner::RunOutcome::error(ExecutionStatus::Canceled, "canceled before it started")
        }
        _ => match native::find(&prepared.action_ref, &prepared.entry_point) {
            Some(native) if prepared.native => native.run(&request),
            _ => runner::execute_action(&request),
        },
    };
    tap.close();
    drop(tap);
    let (output, learned) = recorder.join().unwrap_or_default();
    // [fix] what the action printed or returned never shows a secret the run knows, those it
    // was handed while it ran included.
    let mut outcome = outcome;
    redact::Redactor::new(prepared.secrets.iter().chain(&learned)).value(&mut outcome.result);
    // [fix] and neither do the fields its output_schema marks secret (upstream hides them in
    // API answers only). A workflow still reads them: it gets the result before that.
    let unmasked = outcome.result.clone();
    if let (Some(schema), Some(key)) = (
        &prepared.output_schema,
        runner::output_key(prepared.runner_type),
    ) {
        crate::schema::output_secrets::mask(schema, key, &mut outcome.result);
    }
    store.finish_execution_with_output(
        id,
        outcome.outcome,
        &outcome.result,
        &timestamp(),
        &output,
    )?;
    let record = store
        .execution(id)?
        .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
    Ok(Executed {
        record,
        result: unmasked,
    })
}

/// An execution that ran: its record, and its result as the workflow running it reads it
/// (the secret fields of its `output_schema` not masked; they are in the record).
pub(crate) struct Executed {
    pub(crate) record: ExecutionRecord,
    pub(crate) result: Value,
}

//! `st2 execution get/list/tail` on the embedded store: executions as they are now (one
//! whose process is gone is marked `abandoned`), and their output as it was recorded.

use std::time::Duration;

use anyhow::bail;
use serde_json::{json, Value};

use crate::execution;
use crate::ops::executions::{
    ExecutionListRequest, ExecutionView, OutputPiece, TailEnd, TailRequest,
};
use crate::runner::output::OutputStream;
use crate::settings::Settings;
use crate::store::{ExecutionFilter, ExecutionRecord, Store};

/// How often `st2 execution tail` looks for new output.
const TAIL_POLL: Duration = Duration::from_millis(100);

impl From<ExecutionRecord> for ExecutionView {
    fn from(record: ExecutionRecord) -> ExecutionView {
        ExecutionView {
            id: record.id,
            action_ref: record.action_ref,
            runner_type: record.runner_type,
            user: record.user,
            parameters: record.parameters,
            status: record.status,
            result: record.result,
            start_timestamp: record.start_timestamp,
            end_timestamp: record.end_timestamp,
            parent: record.parent,
            context: record.context,
            children: Vec::new(),
            workflow: record.workflow,
        }
    }
}

/// An execution and its descendants as they are now (children whose process is gone are
/// `abandoned`), in creation order.
pub(super) fn with_children(
    store: &mut Store,
    record: ExecutionRecord,
) -> anyhow::Result<ExecutionView> {
    let id = record.id.clone();
    let mut view: ExecutionView = record.into();
    for child in store.children(&id)? {
        let child = execution::refresh(store, child)?;
        view.children.push(with_children(store, child)?);
    }
    Ok(view)
}

/// The execution `id` as it is now.
pub(super) fn find(store: &mut Store, id: &str) -> anyhow::Result<ExecutionRecord> {
    match store.execution(id)? {
        Some(record) => Ok(execution::refresh(store, record)?),
        None => {
            bail!("execution \"{id}\" is not found (`st2 execution list` shows the recent ones)")
        }
    }
}

/// `st2 execution get ID`: a running or abandoned one shows what it printed so far.
pub(super) fn get(settings: &Settings, id: &str) -> anyhow::Result<ExecutionView> {
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        bail!("execution \"{id}\" is not found (nothing has run yet)");
    };
    let mut record = find(&mut store, id)?;
    if record.result.is_none() {
        record.result = output_so_far(&store, &record.id)?;
    }
    with_children(&mut store, record)
}

/// What a running or abandoned execution (which has no result yet) printed so far, as
/// `{"stdout": ..., "stderr": ...}`; `None` when it printed nothing.
fn output_so_far(store: &Store, id: &str) -> anyhow::Result<Option<Value>> {
    let chunks = store.output(id, 0, None)?;
    if chunks.is_empty() {
        return Ok(None);
    }
    let mut streams = [Vec::new(), Vec::new()];
    for chunk in chunks {
        let index = usize::from(chunk.stream == "stderr");
        streams[index].extend(chunk.data);
    }
    let [stdout, stderr] = streams;
    // One trailing newline off, as the runners record a finished execution's output.
    Ok(Some(json!({
        "stdout": crate::runner::process::text(&stdout),
        "stderr": crate::runner::process::text(&stderr),
    })))
}

/// `st2 execution list`.
pub(super) fn list(
    settings: &Settings,
    request: &ExecutionListRequest,
) -> anyhow::Result<Vec<ExecutionView>> {
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        return Ok(Vec::new());
    };
    let records = store.executions(&ExecutionFilter {
        action_ref: request.action_ref.clone(),
        status: request.status,
        limit: request.limit,
        with_children: request.with_children,
        oldest_first: request.oldest_first,
    })?;
    records
        .into_iter()
        .map(|record| Ok(execution::refresh(&mut store, record)?.into()))
        .collect()
}

/// `st2 execution tail [ID]`: everything the execution printed so far, then what it prints
/// until it ends. Upstream shows a running execution's output only from the moment tail
/// starts; [fix] here it starts from the beginning.
pub(super) fn tail(
    settings: &Settings,
    request: &TailRequest,
    output: &mut dyn FnMut(&[OutputPiece]) -> bool,
) -> anyhow::Result<TailEnd> {
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        match &request.id {
            None => return Ok(TailEnd::NoExecutions),
            Some(id) => bail!("execution \"{id}\" is not found (nothing has run yet)"),
        }
    };
    let id = match &request.id {
        Some(id) => id.clone(),
        None => {
            let newest = store.executions(&ExecutionFilter {
                limit: 1,
                ..Default::default()
            })?;
            match newest.into_iter().next() {
                Some(record) => record.id,
                None => return Ok(TailEnd::NoExecutions),
            }
        }
    };
    let stream = request.stream.map(|stream| stream.as_str());
    let mut record = find(&mut store, &id)?;
    let mut after = 0;
    loop {
        // The status first: output recorded with the final status is there when it says so.
        let done = record.status.is_final();
        let chunks = store.output(&id, after, stream)?;
        if let Some(last) = chunks.last() {
            after = last.seq;
        }
        let pieces: Vec<OutputPiece> = chunks
            .into_iter()
            .filter(|chunk| !chunk.data.is_empty())
            .map(|chunk| OutputPiece {
                // The recorder writes only these two.
                stream: OutputStream::parse(&chunk.stream).unwrap_or(OutputStream::Stdout),
                data: chunk.data,
                timestamp: chunk.timestamp,
                note: false,
            })
            .collect();
        if !output(&pieces) {
            return Ok(TailEnd::Stopped);
        }
        if done {
            break;
        }
        std::thread::sleep(TAIL_POLL);
        record = find(&mut store, &id)?;
    }
    Ok(TailEnd::Ended {
        id,
        status: record.status,
    })
}

//! `st2 execution cancel ID`: mark the record `canceling` and signal the process that runs
//! it, which kills the action's process group and records `canceled`.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::execution_query::find;
use crate::ops::executions::CancelOutcome;
use crate::settings::Settings;
use crate::store::{ExecutionStatus, Store};

/// How long a cancel waits for the execution to end.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Cancel one execution and wait for it to end (at most [`CANCEL_WAIT`]).
pub(super) fn cancel(settings: &Settings, id: &str) -> anyhow::Result<CancelOutcome> {
    let Some(mut store) = Store::open_existing(&settings.store_path)? else {
        bail!("execution \"{id}\" is not found (nothing has run yet)");
    };
    let record = find(&mut store, id)?;
    if record.status.is_final() {
        return Ok(CancelOutcome::AlreadyEnded(record.status));
    }
    store.mark_execution(id, ExecutionStatus::Canceling, None)?;
    if let Some(pid) = record.pid.filter(|pid| crate::sys::process_alive(*pid)) {
        // The process running it kills the action's process group and records
        // `canceled` (st2 run and the -a worker both handle SIGTERM so).
        crate::sys::signal_process(pid, crate::sys::SIGTERM);
    }
    let deadline = Instant::now() + CANCEL_WAIT;
    let final_record = loop {
        let record = find(&mut store, id)?;
        if record.status.is_final() || Instant::now() >= deadline {
            break record;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(if final_record.status.is_final() {
        CancelOutcome::Ended(final_record.status)
    } else {
        CancelOutcome::StillCanceling
    })
}

//! Executions as StackStorm records them: ids, timestamps, and what became of one whose
//! process is gone (`abandoned`). The record itself is [`ExecutionRecord`] in the store; running
//! one is an operation (`ops::local::run`).

use crate::store::{ExecutionRecord, ExecutionStatus, Store, StoreError};

/// A new execution id: 24 hex digits like a MongoDB ObjectId (seconds, then random bytes).
pub(crate) fn new_id() -> String {
    let seconds = jiff::Timestamp::now().as_second() as u32;
    let mut random = [0u8; 8];
    crate::crypto::fill_random(&mut random);
    format!("{seconds:08x}{}", hex::encode(random))
}

/// Now, as execution timestamps are stored (RFC 3339, UTC, microseconds).
pub(crate) fn timestamp() -> String {
    format_timestamp(jiff::Timestamp::now())
}

/// A time as execution timestamps are stored.
pub(crate) fn format_timestamp(at: jiff::Timestamp) -> String {
    at.round(jiff::Unit::Microsecond)
        .unwrap_or(at)
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// An execution as it is now: one whose process disappeared before it finished is marked
/// `abandoned` (or `canceled`, when a cancel was pending).
pub(crate) fn refresh(
    store: &mut Store,
    record: ExecutionRecord,
) -> Result<ExecutionRecord, StoreError> {
    if record.status.is_final() || record.pid.is_some_and(crate::sys::process_alive) {
        return Ok(record);
    }
    let status = if record.status == ExecutionStatus::Canceling {
        ExecutionStatus::Canceled
    } else {
        ExecutionStatus::Abandoned
    };
    store.mark_execution(&record.id, status, Some(&timestamp()))?;
    Ok(store.execution(&record.id)?.unwrap_or(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_object_ids_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn timestamps_have_microseconds() {
        let ts = timestamp();
        assert_eq!(ts.len(), "2026-11-25T10:00:00.000000Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
    }
}

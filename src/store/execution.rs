//! Action executions: one row per `st2 run`, written when it starts and when it ends, so that
//! `st2 execution list/get/cancel` see it from any process; and their output, recorded in
//! batches while they run (`execution_output`), for `st2 execution tail`.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError};

/// StackStorm's execution statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExecutionStatus {
    /// Recorded, not started yet (`st2 run -a` before its worker starts).
    Requested,
    /// Running.
    Running,
    /// Finished, and the action did what it was asked.
    Succeeded,
    /// Finished with a failure.
    Failed,
    /// Killed after its timeout.
    Timeout,
    /// A cancel was asked for and has not completed yet.
    Canceling,
    /// Canceled.
    Canceled,
    /// The process running it disappeared before it finished.
    Abandoned,
    /// StackStorm's scheduler took it and has not started it yet (a cluster's; never
    /// recorded locally).
    Scheduled,
    /// Waiting for its `delay` (a cluster's).
    Delayed,
    /// Waiting for an answer (an inquiry; a cluster's).
    Pending,
    /// A workflow asked to pause (a cluster's).
    Pausing,
    /// A paused workflow (a cluster's).
    Paused,
    /// A paused workflow asked to go on (a cluster's).
    Resuming,
}

impl ExecutionStatus {
    /// All statuses, for parsing and `--status` values.
    pub(crate) const ALL: [ExecutionStatus; 14] = [
        ExecutionStatus::Requested,
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Timeout,
        ExecutionStatus::Canceling,
        ExecutionStatus::Canceled,
        ExecutionStatus::Abandoned,
        ExecutionStatus::Scheduled,
        ExecutionStatus::Delayed,
        ExecutionStatus::Pending,
        ExecutionStatus::Pausing,
        ExecutionStatus::Paused,
        ExecutionStatus::Resuming,
    ];

    /// The status word.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Requested => "requested",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Timeout => "timeout",
            ExecutionStatus::Canceling => "canceling",
            ExecutionStatus::Canceled => "canceled",
            ExecutionStatus::Abandoned => "abandoned",
            ExecutionStatus::Scheduled => "scheduled",
            ExecutionStatus::Delayed => "delayed",
            ExecutionStatus::Pending => "pending",
            ExecutionStatus::Pausing => "pausing",
            ExecutionStatus::Paused => "paused",
            ExecutionStatus::Resuming => "resuming",
        }
    }

    /// Parse a status word.
    pub(crate) fn parse(text: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether nothing will change it any more (StackStorm's `LIVEACTION_COMPLETED_STATES`).
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Timeout
                | ExecutionStatus::Canceled
                | ExecutionStatus::Abandoned
        )
    }
}

/// One execution as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ExecutionRecord {
    /// 24 hex digits.
    pub id: String,
    /// The action ref.
    pub action_ref: String,
    /// The runner type.
    pub runner_type: String,
    /// `context.user`.
    pub user: String,
    /// The parameters as given on the command line, secrets masked.
    pub parameters: Value,
    /// Status.
    pub status: ExecutionStatus,
    /// The runner's result, when finished.
    pub result: Option<Value>,
    /// When it was requested (RFC 3339, UTC, microseconds).
    pub start_timestamp: String,
    /// When it finished.
    pub end_timestamp: Option<String>,
    /// The process running it, while it runs.
    #[serde(skip)]
    pub pid: Option<u32>,
    /// The workflow execution it is a task of.
    pub parent: Option<String>,
    /// What its workflow gave it (`chain`/`orquesta`, the parent's context); `null` for a
    /// top-level execution, whose context is only its user.
    pub context: Value,
    /// An orquesta parent's conductor state.
    pub workflow: Option<Value>,
}

/// A piece of an execution's output as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputChunk {
    /// Its place in the store's order (0 for one not stored yet).
    pub seq: i64,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The bytes, secrets masked.
    pub data: Vec<u8>,
    /// When they were read (RFC 3339, UTC, microseconds).
    pub timestamp: String,
}

/// Which executions `st2 execution list` shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecutionFilter {
    /// Only this action.
    pub action_ref: Option<String>,
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// At most this many, newest first.
    pub limit: usize,
    /// Children of workflows too (`--showall`), not only top-level executions.
    pub with_children: bool,
    /// The oldest first (`-s asc`) instead of the newest.
    pub oldest_first: bool,
}

const COLUMNS: &str = "id, action_ref, runner_type, user, parameters, status, result, \
                       start_timestamp, end_timestamp, pid, parent, context, workflow";

/// A row, with its JSON columns still text.
type RawRow = (ExecutionRecord, String, Option<String>, [Option<String>; 2]);

fn from_row(row: &Row) -> rusqlite::Result<RawRow> {
    let status: String = row.get(5)?;
    Ok((
        ExecutionRecord {
            id: row.get(0)?,
            action_ref: row.get(1)?,
            runner_type: row.get(2)?,
            user: row.get(3)?,
            parameters: Value::Null,
            status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Abandoned),
            result: None,
            start_timestamp: row.get(7)?,
            end_timestamp: row.get(8)?,
            pid: row.get(9)?,
            parent: row.get(10)?,
            context: Value::Null,
            workflow: None,
        },
        row.get(4)?,
        row.get(6)?,
        [row.get(11)?, row.get(12)?],
    ))
}

fn decode(
    (mut record, parameters, result, [context, workflow]): RawRow,
) -> Result<ExecutionRecord, StoreError> {
    record.parameters = serde_json::from_str(&parameters)?;
    record.result = result.as_deref().map(serde_json::from_str).transpose()?;
    record.context = context
        .as_deref()
        .map(serde_json::from_str)
        .transpose()?
        .unwrap_or(Value::Null);
    record.workflow = workflow.as_deref().map(serde_json::from_str).transpose()?;
    Ok(record)
}

fn json_column(value: &Value) -> Result<Option<String>, StoreError> {
    Ok(match value {
        Value::Null => None,
        other => Some(serde_json::to_string(other)?),
    })
}

impl Store {
    /// Record a new execution.
    pub(crate) fn insert_execution(&mut self, record: &ExecutionRecord) -> Result<(), StoreError> {
        self.conn.execute(
            &format!(
                "INSERT INTO executions ({COLUMNS}, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM executions))"
            ),
            params![
                record.id,
                record.action_ref,
                record.runner_type,
                record.user,
                serde_json::to_string(&record.parameters)?,
                record.status.as_str(),
                record
                    .result
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?,
                record.start_timestamp,
                record.end_timestamp,
                record.pid,
                record.parent,
                json_column(&record.context)?,
                record
                    .workflow
                    .as_ref()
                    .map(json_column)
                    .transpose()?
                    .flatten(),
            ],
        )?;
        Ok(())
    }

    /// The executions whose parent is `id`, in the order they were created.
    pub(crate) fn children(&self, id: &str) -> Result<Vec<ExecutionRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM executions WHERE parent = ?1 ORDER BY seq"
        ))?;
        let rows = statement.query_map([id], from_row)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// Keep an orquesta execution's conductor state (`workflow`).
    pub(crate) fn set_execution_workflow(
        &mut self,
        id: &str,
        workflow: &Value,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE executions SET workflow = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(workflow)?],
        )?;
        Ok(())
    }

    /// Keep an orquesta execution's serialized conductor (`conductor`), for a re-run of
    /// some of its tasks.
    pub(crate) fn set_execution_conductor(
        &mut self,
        id: &str,
        conductor: &Value,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE executions SET conductor = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(conductor)?],
        )?;
        Ok(())
    }

    /// The serialized conductor of execution `id` (`None`: none was kept, as for a workflow
    /// recorded before st2-rs kept them).
    pub(crate) fn execution_conductor(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let text: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT conductor FROM executions WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(text
            .flatten()
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?)
    }

    /// Say which process runs an execution, and that it runs (unless a cancel came first).
    pub(crate) fn execution_started(&mut self, id: &str, pid: u32) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE executions SET pid = ?2,
                 status = CASE status WHEN 'requested' THEN 'running' ELSE status END
             WHERE id = ?1",
            params![id, pid],
        )?;
        Ok(())
    }

    /// A `delayed` execution's wait is over: it runs now (unless a cancel came first).
    pub(crate) fn execution_delay_over(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE executions SET status = 'running' WHERE id = ?1 AND status = 'delayed'",
            params![id],
        )?;
        Ok(())
    }

    /// Record the end of an execution; a `canceling` one that did not succeed becomes
    /// `canceled`. Returns the stored status.
    pub(crate) fn finish_execution(
        &mut self,
        id: &str,
        status: ExecutionStatus,
        result: &Value,
        end_timestamp: &str,
    ) -> Result<ExecutionStatus, StoreError> {
        self.finish_execution_with_output(id, status, result, end_timestamp, &[])
    }

    /// [`Store::finish_execution`], storing the last pieces of its output in the same
    /// transaction (a quick run costs no write of its own for them).
    pub(crate) fn finish_execution_with_output(
        &mut self,
        id: &str,
        status: ExecutionStatus,
        result: &Value,
        end_timestamp: &str,
        output: &[OutputChunk],
    ) -> Result<ExecutionStatus, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert_output(&tx, id, output)?;
        let current: Option<String> = tx
            .query_row("SELECT status FROM executions WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?;
        let status = match current.as_deref().and_then(ExecutionStatus::parse) {
            Some(ExecutionStatus::Canceling) if status != ExecutionStatus::Succeeded => {
                ExecutionStatus::Canceled
            }
            _ => status,
        };
        tx.execute(
            "UPDATE executions SET status = ?2, result = ?3, end_timestamp = ?4, pid = NULL
             WHERE id = ?1",
            params![
                id,
                status.as_str(),
                serde_json::to_string(result)?,
                end_timestamp
            ],
        )?;
        tx.commit()?;
        Ok(status)
    }

    /// Record pieces of a running execution's output, in one transaction.
    pub(crate) fn append_output(
        &mut self,
        id: &str,
        output: &[OutputChunk],
    ) -> Result<(), StoreError> {
        if output.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        insert_output(&tx, id, output)?;
        tx.commit()?;
        Ok(())
    }

    /// The recorded output of an execution after `after` (a [`OutputChunk::seq`]; 0 for all),
    /// in the order it came; only one stream when `stream` is given.
    pub(crate) fn output(
        &self,
        id: &str,
        after: i64,
        stream: Option<&str>,
    ) -> Result<Vec<OutputChunk>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT rowid, stream, data, timestamp FROM execution_output
             WHERE execution_id = ?1 AND rowid > ?2 AND (?3 IS NULL OR stream = ?3)
             ORDER BY rowid",
        )?;
        let rows = statement.query_map(params![id, after, stream], |row| {
            Ok(OutputChunk {
                seq: row.get(0)?,
                stream: row.get(1)?,
                data: row.get(2)?,
                timestamp: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Move a running (or `delayed`) execution to `status` (`canceling`, or
    /// `canceled`/`abandoned` when its process is gone), unless it finished meanwhile. Returns
    /// whether it changed.
    pub(crate) fn mark_execution(
        &mut self,
        id: &str,
        status: ExecutionStatus,
        end_timestamp: Option<&str>,
    ) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "UPDATE executions SET status = ?2, end_timestamp = COALESCE(?3, end_timestamp),
                 pid = CASE WHEN ?3 IS NULL THEN pid ELSE NULL END
             WHERE id = ?1 AND status IN ('requested', 'delayed', 'running', 'canceling')",
            params![id, status.as_str(), end_timestamp],
        )?;
        Ok(changed > 0)
    }

    /// One execution.
    pub(crate) fn execution(&self, id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM executions WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?
            .map(decode)
            .transpose()
    }

    /// Executions, newest first (or oldest first).
    pub(crate) fn executions(
        &self,
        filter: &ExecutionFilter,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let order = if filter.oldest_first { "ASC" } else { "DESC" };
        let mut statement = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM executions
             WHERE (?1 IS NULL OR action_ref = ?1) AND (?2 IS NULL OR status = ?2)
                 AND (?4 OR parent IS NULL)
             ORDER BY start_timestamp {order}, seq {order} LIMIT ?3"
        ))?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            params![
                filter.action_ref,
                filter.status.map(ExecutionStatus::as_str),
                limit,
                filter.with_children
            ],
            from_row,
        )?;
        rows.map(|row| decode(row?)).collect()
    }
}

fn insert_output(
    tx: &rusqlite::Transaction,
    id: &str,
    output: &[OutputChunk],
) -> Result<(), StoreError> {
    if output.is_empty() {
        return Ok(());
    }
    let mut statement = tx.prepare_cached(
        "INSERT INTO execution_output (execution_id, stream, data, timestamp)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for chunk in output {
        statement.execute(params![id, chunk.stream, chunk.data, chunk.timestamp])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, start: &str) -> ExecutionRecord {
        ExecutionRecord {
            id: id.into(),
            action_ref: "core.local".into(),
            runner_type: "local-shell-cmd".into(),
            user: "stanley".into(),
            parameters: serde_json::json!({"cmd": "true"}),
            status: ExecutionStatus::Requested,
            result: None,
            start_timestamp: start.into(),
            end_timestamp: None,
            pid: None,
            parent: None,
            context: Value::Null,
            workflow: None,
        }
    }

    #[test]
    fn the_next_seq_is_found_by_index_not_by_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("st2.db")).unwrap();
        let mut plan = store
            .conn
            .prepare("EXPLAIN QUERY PLAN SELECT COALESCE(MAX(seq), 0) + 1 FROM executions")
            .unwrap();
        let plan: Vec<String> = plan
            .query_map([], |row| row.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|step| step.contains("executions_by_seq")),
            "{plan:?}"
        );
    }

    #[test]
    fn an_execution_goes_from_requested_to_final() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .insert_execution(&record("a", "2026-01-01T00:00:00Z"))
            .unwrap();
        store
            .insert_execution(&record("b", "2026-01-02T00:00:00Z"))
            .unwrap();
        store.execution_started("a", 42).unwrap();
        let a = store.execution("a").unwrap().unwrap();
        assert_eq!((a.status, a.pid), (ExecutionStatus::Running, Some(42)));
        let status = store
            .finish_execution(
                "a",
                ExecutionStatus::Succeeded,
                &serde_json::json!({"stdout": "x"}),
                "2026-01-01T00:00:01Z",
            )
            .unwrap();
        assert_eq!(status, ExecutionStatus::Succeeded);
        let a = store.execution("a").unwrap().unwrap();
        assert_eq!(a.result, Some(serde_json::json!({"stdout": "x"})));
        assert_eq!(a.pid, None);
        // A finished execution cannot be canceled.
        assert!(!store
            .mark_execution("a", ExecutionStatus::Canceling, None)
            .unwrap());

        let all = store
            .executions(&ExecutionFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let failed = store
            .executions(&ExecutionFilter {
                status: Some(ExecutionStatus::Failed),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert!(failed.is_empty());
    }

    #[test]
    fn children_are_listed_in_creation_order_and_hidden_from_the_top_level_list() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .insert_execution(&record("p", "2026-01-01T00:00:00Z"))
            .unwrap();
        // The later child has the earlier timestamp: creation order wins.
        for (id, start) in [
            ("c2", "2026-01-01T00:00:02Z"),
            ("c1", "2026-01-01T00:00:01Z"),
        ] {
            let mut child = record(id, start);
            child.parent = Some("p".into());
            child.context = serde_json::json!({"chain": {"name": id}});
            store.insert_execution(&child).unwrap();
        }
        let children = store.children("p").unwrap();
        assert_eq!(
            children.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["c2", "c1"]
        );
        assert_eq!(children[0].context["chain"]["name"], "c2");
        assert_eq!(children[0].parent.as_deref(), Some("p"));
        let top = store
            .executions(&ExecutionFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(top.len(), 1);
        let all = store
            .executions(&ExecutionFilter {
                limit: 10,
                with_children: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn a_canceling_execution_ends_canceled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .insert_execution(&record("a", "2026-01-01T00:00:00Z"))
            .unwrap();
        assert!(store
            .mark_execution("a", ExecutionStatus::Canceling, None)
            .unwrap());
        // A cancel before the worker starts keeps the status.
        store.execution_started("a", 7).unwrap();
        assert_eq!(
            store.execution("a").unwrap().unwrap().status,
            ExecutionStatus::Canceling
        );
        let status = store
            .finish_execution("a", ExecutionStatus::Failed, &Value::Null, "t")
            .unwrap();
        assert_eq!(status, ExecutionStatus::Canceled);
    }

    #[test]
    fn output_is_recorded_in_order_and_read_from_where_the_reader_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .insert_execution(&record("a", "2026-01-01T00:00:00Z"))
            .unwrap();
        let chunk = |stream: &str, data: &[u8]| OutputChunk {
            seq: 0,
            stream: stream.into(),
            data: data.to_vec(),
            timestamp: "2026-01-01T00:00:00.000001Z".into(),
        };
        store
            .append_output("a", &[chunk("stdout", b"one\n"), chunk("stderr", b"\xff")])
            .unwrap();
        let first = store.output("a", 0, None).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[1].data, b"\xff");
        store
            .finish_execution_with_output(
                "a",
                ExecutionStatus::Succeeded,
                &Value::Null,
                "t",
                &[chunk("stdout", b"two\n")],
            )
            .unwrap();
        let rest = store.output("a", first[1].seq, None).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].data, b"two\n");
        let stdout = store.output("a", 0, Some("stdout")).unwrap();
        assert_eq!(stdout.len(), 2);
        assert!(store.output("b", 0, None).unwrap().is_empty());
    }
}

//! The store's schema, as the migrations that build it: the schema version (`PRAGMA
//! user_version`) is the number applied. A migration, once released, never changes: a new
//! one is appended.

use rusqlite::TransactionBehavior;

use super::{Store, StoreError};

/// Schema migrations, in order; the schema version is the number applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: packs and what registration stores for them.
    r#"
    CREATE TABLE packs (
        ref           TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        description   TEXT NOT NULL,
        version       TEXT NOT NULL,
        author        TEXT NOT NULL,
        email         TEXT,
        keywords      TEXT NOT NULL,   -- JSON array
        path          TEXT NOT NULL,
        metadata      TEXT NOT NULL,   -- pack.yaml as JSON
        source        TEXT,            -- JSON: where it was installed from
        registered_at TEXT NOT NULL
    );
    CREATE TABLE actions (
        ref           TEXT PRIMARY KEY,
        pack          TEXT NOT NULL REFERENCES packs(ref) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        runner_type   TEXT NOT NULL,
        description   TEXT,
        enabled       INTEGER NOT NULL,
        entry_point   TEXT NOT NULL,
        parameters    TEXT NOT NULL,   -- JSON object
        metadata_file TEXT NOT NULL,
        metadata      TEXT NOT NULL    -- the whole metadata file as JSON
    );
    CREATE INDEX actions_by_pack ON actions(pack);
    CREATE TABLE config_schemas (
        pack          TEXT PRIMARY KEY REFERENCES packs(ref) ON DELETE CASCADE,
        schema        TEXT NOT NULL    -- JSON object
    );
    CREATE TABLE resources (
        pack          TEXT NOT NULL REFERENCES packs(ref) ON DELETE CASCADE,
        kind          TEXT NOT NULL,   -- sensor, rule, alias, policy, trigger
        name          TEXT NOT NULL,
        metadata_file TEXT NOT NULL,
        metadata      TEXT NOT NULL,
        PRIMARY KEY (pack, kind, metadata_file)
    );
    "#,
    // 2: pack configs and the datastore.
    r#"
    CREATE TABLE configs (
        pack          TEXT PRIMARY KEY REFERENCES packs(ref) ON DELETE CASCADE,
        vals          TEXT NOT NULL,   -- JSON object, as read (templates unrendered)
        file          TEXT NOT NULL,   -- the configs/<pack>.yaml it was read from
        file_mtime_ns INTEGER,         -- its modification time then
        registered_at TEXT NOT NULL
    );
    CREATE TABLE kv (
        scope         TEXT NOT NULL,   -- st2kv.system | st2kv.user
        name          TEXT NOT NULL,   -- user scope: <user>:<name>
        value         TEXT NOT NULL,   -- ciphertext (upper-case hex) when secret
        secret        INTEGER NOT NULL,
        expire_at     INTEGER,         -- unix seconds
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    );
    "#,
    // 3: action executions (`st2 run`, `st2 execution ...`).
    r#"
    CREATE TABLE executions (
        id              TEXT PRIMARY KEY, -- 24 hex digits
        action_ref      TEXT NOT NULL,
        runner_type     TEXT NOT NULL,
        user            TEXT NOT NULL,
        parameters      TEXT NOT NULL,    -- JSON object as given, secrets masked
        status          TEXT NOT NULL,
        result          TEXT,             -- JSON
        start_timestamp TEXT NOT NULL,
        end_timestamp   TEXT,
        pid             INTEGER           -- process running it, while it runs
    );
    CREATE INDEX executions_by_start ON executions(start_timestamp);
    "#,
    // 4: installs between "directory swapped into place" and "registered" (see
    // `ops::local::recover::recover_interrupted`).
    r#"
    CREATE TABLE pending_swaps (
        pack          TEXT PRIMARY KEY,
        staging       TEXT NOT NULL,   -- holds the previous version once swapped
        new_inode     INTEGER NOT NULL -- of the new pack directory
    );
    "#,
    // 5: executions' output as it comes (upstream's ActionExecutionOutput), so that
    // `st2 execution tail` follows a run and a killed run keeps what it printed.
    r#"
    CREATE TABLE execution_output (
        execution_id  TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        stream        TEXT NOT NULL,   -- stdout | stderr
        data          BLOB NOT NULL,   -- bytes as the action wrote them, secrets masked
        timestamp     TEXT NOT NULL    -- when they were read (RFC 3339, UTC)
    );
    CREATE INDEX execution_output_by_execution ON execution_output(execution_id);
    "#,
    // 6: workflows: child executions (`parent`, listed in creation order `seq`), the
    // context a workflow gives each (`context`), and an orquesta parent's conductor state
    // (`workflow`).
    r#"
    ALTER TABLE executions ADD COLUMN parent TEXT;     -- the workflow execution's id
    ALTER TABLE executions ADD COLUMN context TEXT;    -- JSON object
    ALTER TABLE executions ADD COLUMN workflow TEXT;   -- JSON object
    ALTER TABLE executions ADD COLUMN seq INTEGER;     -- creation order
    UPDATE executions SET seq = rowid;
    CREATE INDEX executions_by_parent ON executions(parent, seq);
    "#,
    // 7: the next execution's `seq` is MAX(seq) + 1, which scanned every execution without an
    // index on it (a trivial `st2 run` of a store of 3,000 executions spent most of its
    // instructions there).
    r#"
    CREATE INDEX executions_by_seq ON executions(seq);
    "#,
    // 8: an orquesta workflow's conductor serialized when it ends (every task state entry
    // with its contexts, transitions and staged tasks, and `task()`'s records), which
    // `st2 execution re-run --tasks` resumes; read only by that, never by listings.
    r#"
    ALTER TABLE executions ADD COLUMN conductor TEXT;  -- JSON object
    "#,
];

impl Store {
    /// The schema version this program writes.
    pub(crate) fn supported_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let supported = Store::supported_version();
        if self.schema_version()? == supported {
            return Ok(());
        }
        // Immediate: the write lock is taken before reading the version, so two processes
        // migrating a new file at once do it one after the other.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if current > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                supported,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tracing::debug!(version = index + 1, "applying store migration");
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

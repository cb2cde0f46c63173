//! The embedded store: one SQLite file that stands in for StackStorm's database.
//!
//! It holds what registration produces (packs, actions, config schemas, and the other content
//! types as counted resources) and, as later features land, configs, datastore keys and
//! executions. No server is involved: every command opens the file, does its work in short
//! transactions, and closes it.
//!
//! Design rules:
//! - WAL journal and a generous busy timeout, so that concurrent commands wait for each other
//!   instead of failing with "database is locked".
//! - The schema is versioned with `PRAGMA user_version`; [`MIGRATIONS`] are applied in order,
//!   each in its own immediate transaction, so two processes opening a new file at once agree.
//! - A pack's content is replaced in one transaction ([`Store::replace_pack`]): a pack is never
//!   half registered, and what the previous registration stored but the pack no longer has
//!   disappears (StackStorm never unregisters removed content, st2#3313).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

mod config;
mod execution;
mod kv;
mod pending;

pub use config::ConfigRecord;
pub use execution::{ExecutionFilter, ExecutionRecord, ExecutionStatus, OutputChunk};
pub use kv::{KeyRecord, KeyScope};
pub use pending::PendingSwap;

/// Schema migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
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
    // `pack::install::recover_interrupted`).
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
];

/// How long a command waits for another one holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or prepared.
    #[error("cannot open the store {path}: {message}")]
    Open {
        /// The SQLite file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file was written by a newer version of this program.
    #[error(
        "the store {path} has schema version {found}, newer than this program supports ({supported}); upgrade st2-rs"
    )]
    TooNew {
        /// The SQLite file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// A query failed.
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column could not be read back.
    #[error("store holds invalid data: {0}")]
    Json(#[from] serde_json::Error),
}

/// A registered pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackRecord {
    /// The pack ref (key).
    #[serde(rename = "ref")]
    pub pack_ref: String,
    /// `name` from `pack.yaml`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `version`.
    pub version: String,
    /// `author`.
    pub author: String,
    /// `email`.
    pub email: Option<String>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// Directory the pack was registered from.
    pub path: PathBuf,
    /// All of `pack.yaml`.
    #[serde(skip)]
    pub metadata: Value,
    /// Where it was installed from (URL, ref, commit), when installed by us.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// When it was registered (RFC 3339, UTC).
    pub registered_at: String,
}

/// A registered action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    /// `<pack>.<name>`.
    #[serde(rename = "ref")]
    pub action_ref: String,
    /// The pack ref.
    pub pack: String,
    /// `name`.
    pub name: String,
    /// `runner_type`.
    pub runner_type: String,
    /// `description`.
    pub description: Option<String>,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `entry_point`, relative to `<pack>/actions/`.
    pub entry_point: String,
    /// `parameters` as written in the metadata file.
    pub parameters: Value,
    /// The metadata file, relative to the pack directory.
    pub metadata_file: String,
    /// The whole metadata file, as JSON text (a parsed tree of every action of a large pack
    /// took tens of megabytes; only the store reads it).
    #[serde(skip)]
    pub metadata: String,
}

/// Content other than actions that registration records (sensors, rules, aliases, policies,
/// triggers), counted per pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceRecord {
    /// The pack ref.
    pub pack: String,
    /// `sensor`, `rule`, `alias`, `policy` or `trigger`.
    pub kind: String,
    /// The resource's name (or the file stem when it has none).
    pub name: String,
    /// The metadata file, relative to the pack directory.
    pub metadata_file: String,
    /// The whole metadata file, as JSON text.
    #[serde(skip)]
    pub metadata: String,
}

/// Everything one registration of one pack stores.
#[derive(Debug, Clone)]
pub struct PackRegistration {
    /// The pack.
    pub pack: PackRecord,
    /// Its actions.
    pub actions: Vec<ActionRecord>,
    /// Its `config.schema.yaml`, when it has one.
    pub config_schema: Option<Value>,
    /// Its other content.
    pub resources: Vec<ResourceRecord>,
    /// Which content this registration replaces (what it did not read stays as it was).
    pub scope: ContentScope,
}

/// The content types a registration read and therefore replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentScope {
    /// Actions.
    pub actions: bool,
    /// Resource kinds (`sensor`, `rule`, ...).
    pub resource_kinds: Vec<String>,
}

/// What [`Store::replace_pack`] changed compared with the previous registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplaceSummary {
    /// Action refs registered before and gone now.
    pub removed_actions: Vec<String>,
    /// Other resources (`kind:file`) registered before and gone now.
    pub removed_resources: Vec<String>,
    /// Whether a config schema was registered before and is gone now.
    pub removed_config_schema: bool,
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        let conn = Connection::open(path).map_err(|err| open_error(err.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|err| open_error(err.to_string()))?;
        // journal_mode=WAL persists in the file; setting it again is cheap. Switching a new
        // file to WAL needs an exclusive lock and SQLite does not run the busy handler for
        // it, so two commands creating the store at once retry here instead of failing.
        let started = std::time::Instant::now();
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(err, _))
                    if matches!(
                        err.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(err) => return Err(open_error(err.to_string())),
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|err| open_error(err.to_string()))?;
        // Every command is a short-lived process: without this, the last one to close the
        // file checkpoints the WAL (an fsync) and deletes it, and the next one creates it
        // again; that was most of the time of a trivial `st2 run`. Checkpoints still happen
        // as the WAL grows (SQLite's automatic checkpoint), and a crash loses nothing.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|err| open_error(err.to_string()))?;
        // The next process re-reads the whole WAL when it opens the file, so keep it small:
        // checkpoint (in the committing process) every 64 pages instead of 1000.
        conn.pragma_update(None, "wal_autocheckpoint", 64)
            .map_err(|err| open_error(err.to_string()))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|err| open_error(err.to_string()))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Open the store when its file exists; `None` when nothing was ever stored (read-only
    /// commands then show empty results without creating files).
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if path.exists() {
            Store::open(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The schema version this program writes.
    pub fn supported_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
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

    /// Replace everything registered for `registration.pack` with `registration`, in one
    /// transaction, and say what disappeared.
    pub fn replace_pack(
        &mut self,
        registration: &PackRegistration,
    ) -> Result<ReplaceSummary, StoreError> {
        self.replace_pack_with_config(registration, None)
    }

    /// [`Store::replace_pack`], also storing the pack's config in the same transaction.
    pub fn replace_pack_with_config(
        &mut self,
        registration: &PackRegistration,
        config: Option<&ConfigRecord>,
    ) -> Result<ReplaceSummary, StoreError> {
        let pack = &registration.pack;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let scope = &registration.scope;
        let previous_actions = if scope.actions {
            string_column(
                &tx,
                "SELECT ref FROM actions WHERE pack = ?1 ORDER BY ref",
                &pack.pack_ref,
            )?
        } else {
            Vec::new()
        };
        let mut previous_resources = Vec::new();
        for kind in &scope.resource_kinds {
            let mut statement = tx.prepare_cached(
                "SELECT kind || ':' || metadata_file FROM resources
                 WHERE pack = ?1 AND kind = ?2 ORDER BY 1",
            )?;
            let rows = statement.query_map([&pack.pack_ref, kind], |row| row.get(0))?;
            for row in rows {
                previous_resources.push(row?);
            }
        }
        let had_schema: bool = tx
            .query_row(
                "SELECT 1 FROM config_schemas WHERE pack = ?1",
                [&pack.pack_ref],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);

        if scope.actions {
            tx.execute("DELETE FROM actions WHERE pack = ?1", [&pack.pack_ref])?;
        }
        for kind in &scope.resource_kinds {
            tx.execute(
                "DELETE FROM resources WHERE pack = ?1 AND kind = ?2",
                [&pack.pack_ref, kind],
            )?;
        }
        tx.execute(
            "DELETE FROM config_schemas WHERE pack = ?1",
            [&pack.pack_ref],
        )?;
        tx.execute(
            "INSERT INTO packs (ref, name, description, version, author, email, keywords, path,
                                metadata, source, registered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(ref) DO UPDATE SET
                name = excluded.name, description = excluded.description,
                version = excluded.version, author = excluded.author, email = excluded.email,
                keywords = excluded.keywords, path = excluded.path, metadata = excluded.metadata,
                source = COALESCE(excluded.source, packs.source),
                registered_at = excluded.registered_at",
            params![
                pack.pack_ref,
                pack.name,
                pack.description,
                pack.version,
                pack.author,
                pack.email,
                serde_json::to_string(&pack.keywords)?,
                pack.path.to_string_lossy(),
                serde_json::to_string(&pack.metadata)?,
                pack.source
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?,
                pack.registered_at,
            ],
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO actions (ref, pack, name, runner_type, description, enabled,
                                      entry_point, parameters, metadata_file, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for action in registration.actions.iter().filter(|_| scope.actions) {
                insert.execute(params![
                    action.action_ref,
                    action.pack,
                    action.name,
                    action.runner_type,
                    action.description,
                    action.enabled,
                    action.entry_point,
                    serde_json::to_string(&action.parameters)?,
                    action.metadata_file,
                    &action.metadata,
                ])?;
            }
            let mut insert = tx.prepare(
                "INSERT INTO resources (pack, kind, name, metadata_file, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for resource in registration
                .resources
                .iter()
                .filter(|r| scope.resource_kinds.contains(&r.kind))
            {
                insert.execute(params![
                    resource.pack,
                    resource.kind,
                    resource.name,
                    resource.metadata_file,
                    &resource.metadata,
                ])?;
            }
        }
        if let Some(schema) = &registration.config_schema {
            tx.execute(
                "INSERT INTO config_schemas (pack, schema) VALUES (?1, ?2)",
                params![pack.pack_ref, serde_json::to_string(schema)?],
            )?;
        }
        if let Some(config) = config {
            config::upsert(&tx, config)?;
        }
        // The install that swapped this directory into place is complete with this commit.
        tx.execute(
            "DELETE FROM pending_swaps WHERE pack = ?1",
            [&pack.pack_ref],
        )?;
        tx.commit()?;

        let current_actions: Vec<&str> = registration
            .actions
            .iter()
            .map(|action| action.action_ref.as_str())
            .collect();
        let current_resources: Vec<String> = registration
            .resources
            .iter()
            .map(|resource| format!("{}:{}", resource.kind, resource.metadata_file))
            .collect();
        Ok(ReplaceSummary {
            removed_actions: previous_actions
                .into_iter()
                .filter(|action| !current_actions.contains(&action.as_str()))
                .collect(),
            removed_resources: previous_resources
                .into_iter()
                .filter(|resource| !current_resources.contains(resource))
                .collect(),
            removed_config_schema: had_schema && registration.config_schema.is_none(),
        })
    }

    /// Remove a pack and everything registered for it. Returns whether it was registered.
    pub fn remove_pack(&mut self, pack_ref: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Explicit deletes, so that removal does not depend on foreign key enforcement.
        tx.execute("DELETE FROM actions WHERE pack = ?1", [pack_ref])?;
        tx.execute("DELETE FROM resources WHERE pack = ?1", [pack_ref])?;
        tx.execute("DELETE FROM config_schemas WHERE pack = ?1", [pack_ref])?;
        tx.execute("DELETE FROM configs WHERE pack = ?1", [pack_ref])?;
        let removed = tx.execute("DELETE FROM packs WHERE ref = ?1", [pack_ref])? > 0;
        tx.commit()?;
        Ok(removed)
    }

    /// All registered packs, by ref.
    pub fn packs(&self) -> Result<Vec<PackRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {PACK_COLUMNS} FROM packs ORDER BY ref"))?;
        let rows = statement.query_map([], pack_from_row)?;
        rows.map(|row| row?.decode()).collect()
    }

    /// One registered pack.
    pub fn pack(&self, pack_ref: &str) -> Result<Option<PackRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {PACK_COLUMNS} FROM packs WHERE ref = ?1"),
                [pack_ref],
                pack_from_row,
            )
            .optional()?
            .map(RawPack::decode)
            .transpose()
    }

    /// Registered actions, all or of one pack, by ref.
    pub fn actions(&self, pack: Option<&str>) -> Result<Vec<ActionRecord>, StoreError> {
        self.query_actions("?1 IS NULL OR pack = ?1", pack)
    }

    /// One registered action.
    pub fn action(&self, action_ref: &str) -> Result<Option<ActionRecord>, StoreError> {
        Ok(self
            .query_actions("ref = ?1", Some(action_ref))?
            .into_iter()
            .next())
    }

    fn query_actions(
        &self,
        condition: &str,
        argument: Option<&str>,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT ref, pack, name, runner_type, description, enabled, entry_point, parameters,
                    metadata_file, metadata
             FROM actions WHERE {condition} ORDER BY ref"
        ))?;
        let rows = statement.query_map([argument], |row| {
            Ok((
                ActionRecord {
                    action_ref: row.get(0)?,
                    pack: row.get(1)?,
                    name: row.get(2)?,
                    runner_type: row.get(3)?,
                    description: row.get(4)?,
                    enabled: row.get(5)?,
                    entry_point: row.get(6)?,
                    parameters: Value::Null,
                    metadata_file: row.get(8)?,
                    metadata: row.get(9)?,
                },
                row.get::<_, String>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (mut action, parameters) = row?;
            action.parameters = serde_json::from_str(&parameters)?;
            Ok(action)
        })
        .collect()
    }

    /// Registered resources (sensors, rules, ...) of a pack, by kind and file.
    pub fn resources(&self, pack: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT pack, kind, name, metadata_file, metadata FROM resources
             WHERE pack = ?1 ORDER BY kind, metadata_file",
        )?;
        let rows = statement.query_map([pack], |row| {
            Ok(ResourceRecord {
                pack: row.get(0)?,
                kind: row.get(1)?,
                name: row.get(2)?,
                metadata_file: row.get(3)?,
                metadata: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The registered config schema of a pack.
    pub fn config_schema(&self, pack: &str) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT schema FROM config_schemas WHERE pack = ?1",
                [pack],
                |row| row.get(0),
            )
            .optional()?;
        Ok(text.map(|text| serde_json::from_str(&text)).transpose()?)
    }

    /// Count of registered content per type for a pack: `actions` plus each resource kind
    /// (pluralised, e.g. `sensors`), in a stable order; types with no content are left out.
    pub fn content_counts(&self, pack: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut counts = Vec::new();
        let actions: u64 = self.conn.query_row(
            "SELECT COUNT(*) FROM actions WHERE pack = ?1",
            [pack],
            |row| row.get(0),
        )?;
        if actions > 0 {
            counts.push(("actions".to_string(), actions));
        }
        let mut statement = self.conn.prepare(
            "SELECT kind, COUNT(*) FROM resources WHERE pack = ?1 GROUP BY kind ORDER BY kind",
        )?;
        let rows = statement.query_map([pack], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?))
        })?;
        for row in rows {
            let (kind, count) = row?;
            counts.push((plural(&kind), count));
        }
        Ok(counts)
    }
}

/// The plural a content kind is shown with (`policy` -> `policies`).
pub fn plural(kind: &str) -> String {
    match kind {
        "policy" => "policies".to_string(),
        "alias" => "aliases".to_string(),
        other => format!("{other}s"),
    }
}

struct RawPack {
    record: PackRecord,
    keywords: String,
    metadata: String,
    source: Option<String>,
}

impl RawPack {
    fn decode(mut self) -> Result<PackRecord, StoreError> {
        self.record.keywords = serde_json::from_str(&self.keywords)?;
        self.record.metadata = serde_json::from_str(&self.metadata)?;
        self.record.source = self
            .source
            .map(|text| serde_json::from_str(&text))
            .transpose()?;
        Ok(self.record)
    }
}

/// The columns [`pack_from_row`] reads, in its order.
const PACK_COLUMNS: &str =
    "ref, name, description, version, author, email, keywords, path, metadata, source, registered_at";

fn pack_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawPack> {
    Ok(RawPack {
        record: PackRecord {
            pack_ref: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            version: row.get(3)?,
            author: row.get(4)?,
            email: row.get(5)?,
            keywords: Vec::new(),
            path: PathBuf::from(row.get::<_, String>(7)?),
            metadata: Value::Null,
            source: None,
            registered_at: row.get(10)?,
        },
        keywords: row.get(6)?,
        metadata: row.get(8)?,
        source: row.get(9)?,
    })
}

fn string_column(conn: &Connection, sql: &str, parameter: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([parameter], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registration(pack_ref: &str, actions: &[&str], schema: bool) -> PackRegistration {
        PackRegistration {
            pack: PackRecord {
                pack_ref: pack_ref.into(),
                name: pack_ref.into(),
                description: "d".into(),
                version: "1.0.0".into(),
                author: "a".into(),
                email: None,
                keywords: vec!["k".into()],
                path: PathBuf::from("/p").join(pack_ref),
                metadata: json!({"name": pack_ref}),
                source: Some(json!({"url": "file:///x"})),
                registered_at: "2026-01-01T00:00:00Z".into(),
            },
            actions: actions
                .iter()
                .map(|name| ActionRecord {
                    action_ref: format!("{pack_ref}.{name}"),
                    pack: pack_ref.into(),
                    name: (*name).into(),
                    runner_type: "local-shell-cmd".into(),
                    description: None,
                    enabled: true,
                    entry_point: String::new(),
                    parameters: json!({"cmd": {"type": "string"}}),
                    metadata_file: format!("actions/{name}.yaml"),
                    metadata: json!({"name": name}).to_string(),
                })
                .collect(),
            config_schema: schema.then(|| json!({"token": {"type": "string"}})),
            resources: vec![ResourceRecord {
                pack: pack_ref.into(),
                kind: "sensor".into(),
                name: "S".into(),
                metadata_file: "sensors/s.yaml".into(),
                metadata: "{}".into(),
            }],
            scope: ContentScope {
                actions: true,
                resource_kinds: vec!["sensor".into()],
            },
        }
    }

    #[test]
    fn replace_removes_what_disappeared_and_keeps_other_packs() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .replace_pack(&registration("a", &["one", "two"], true))
            .unwrap();
        store
            .replace_pack(&registration("b", &["x"], false))
            .unwrap();
        let summary = store
            .replace_pack(&registration("a", &["two", "three"], false))
            .unwrap();
        assert_eq!(summary.removed_actions, vec!["a.one"]);
        assert!(summary.removed_config_schema);
        let refs: Vec<String> = store
            .actions(None)
            .unwrap()
            .into_iter()
            .map(|action| action.action_ref)
            .collect();
        assert_eq!(refs, vec!["a.three", "a.two", "b.x"]);
        assert_eq!(store.config_schema("a").unwrap(), None);
        let pack = store.pack("a").unwrap().unwrap();
        assert_eq!(pack.keywords, vec!["k"]);
        assert_eq!(pack.source, Some(json!({"url": "file:///x"})));
        assert_eq!(
            store.content_counts("a").unwrap(),
            vec![("actions".to_string(), 2), ("sensors".to_string(), 1)]
        );
    }

    #[test]
    fn remove_pack_deletes_all_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store
            .replace_pack(&registration("a", &["one"], true))
            .unwrap();
        assert!(store.remove_pack("a").unwrap());
        assert!(!store.remove_pack("a").unwrap());
        assert!(store.packs().unwrap().is_empty());
        assert!(store.actions(Some("a")).unwrap().is_empty());
        assert!(store.content_counts("a").unwrap().is_empty());
    }

    #[test]
    fn reopening_keeps_data_and_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("st2.db");
        Store::open(&path)
            .unwrap()
            .replace_pack(&registration("a", &["one"], false))
            .unwrap();
        assert_eq!(Store::open(&path).unwrap().packs().unwrap().len(), 1);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    }

    #[test]
    fn many_processes_creating_the_store_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("st2.db");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    store
                        .replace_pack(&registration(&format!("p{i}"), &["a"], false))
                        .unwrap();
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(Store::open(&path).unwrap().packs().unwrap().len(), 8);
    }

    #[test]
    fn open_existing_does_not_create_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("st2.db");
        assert!(Store::open_existing(&path).unwrap().is_none());
        assert!(!path.exists());
    }
}

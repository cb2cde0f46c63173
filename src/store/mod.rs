//! The embedded store: one SQLite file that stands in for StackStorm's database.
//!
//! It holds what registration produces (packs, actions, config schemas, and the other content
//! types as counted resources: `packs.rs`, `actions.rs`, `resources.rs`), pack configs
//! (`config.rs`), datastore keys (`kv.rs`), executions and their output (`execution.rs`) and
//! the install journal (`pending.rs`). No server is involved: every command opens the file,
//! does its work in short transactions, and closes it.
//!
//! Design rules:
//! - WAL journal and a generous busy timeout, so that concurrent commands wait for each other
//!   instead of failing with "database is locked".
//! - The schema is versioned with `PRAGMA user_version`; the migrations (`migrations.rs`) are
//!   applied in order in one immediate transaction, so two processes opening a new file at
//!   once apply them one after the other.
//! - A pack's content is replaced in one transaction ([`Store::replace_pack`]): a pack is never
//!   half registered, and what the previous registration stored but the pack no longer has
//!   disappears (StackStorm never unregisters removed content, st2#3313).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

mod actions;
mod config;
mod execution;
mod kv;
mod migrations;
mod packs;
mod pending;
mod resources;

pub(crate) use actions::ActionRecord;
pub(crate) use config::ConfigRecord;
pub(crate) use execution::{ExecutionFilter, ExecutionRecord, ExecutionStatus, OutputChunk};
pub(crate) use kv::{KeyRecord, KeyScope};
pub(crate) use packs::{ContentScope, Kept, PackRecord, PackRegistration, ReplaceSummary};
pub(crate) use pending::PendingSwap;
pub(crate) use resources::{ResourceKind, ResourceRecord};

/// How long a command waits for another one holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
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

/// An open store.
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `path` and bring its schema up to date.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
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
    pub(crate) fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if path.exists() {
            Store::open(path).map(Some)
        } else {
            Ok(None)
        }
    }
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
                kind: ResourceKind::Sensor,
                name: "S".into(),
                metadata_file: "sensors/s.yaml".into(),
                metadata: "{}".into(),
            }],
            scope: ContentScope {
                actions: true,
                resource_kinds: vec![ResourceKind::Sensor],
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

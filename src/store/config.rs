//! Registered pack configs (`configs/<pack>.yaml`, as read: templates unrendered, defaults not
//! filled in, as StackStorm stores them).

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError};

/// A registered pack config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ConfigRecord {
    /// The pack ref.
    pub pack: String,
    /// The values as read from the file.
    pub values: Value,
    /// The file they were read from.
    pub file: PathBuf,
    /// The file's modification time when it was read (nanoseconds since the epoch), to warn
    /// when the file changed since.
    #[serde(skip)]
    pub file_mtime_ns: Option<i64>,
    /// When it was registered (RFC 3339, UTC).
    pub registered_at: String,
}

impl Store {
    /// Store (replace) the config of a registered pack.
    pub(crate) fn set_config(&mut self, config: &ConfigRecord) -> Result<(), StoreError> {
        upsert(&self.conn, config)
    }

    /// The registered config of a pack.
    pub(crate) fn config(&self, pack: &str) -> Result<Option<ConfigRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT pack, vals, file, file_mtime_ns, registered_at FROM configs
                 WHERE pack = ?1",
                [pack],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                        row.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(pack, values, file, file_mtime_ns, registered_at)| {
            Ok(ConfigRecord {
                pack,
                values: serde_json::from_str(&values)?,
                file: PathBuf::from(file),
                file_mtime_ns,
                registered_at,
            })
        })
        .transpose()
    }

    /// Forget the config of a pack. Returns whether one was registered.
    pub(crate) fn remove_config(&mut self, pack: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM configs WHERE pack = ?1", [pack])?
            > 0)
    }
}

/// Insert or replace a config row (inside the caller's transaction, if any).
pub(super) fn upsert(conn: &rusqlite::Connection, config: &ConfigRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO configs (pack, vals, file, file_mtime_ns, registered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(pack) DO UPDATE SET vals = excluded.vals, file = excluded.file,
                file_mtime_ns = excluded.file_mtime_ns, registered_at = excluded.registered_at",
        params![
            config.pack,
            serde_json::to_string(&config.values)?,
            config.file.to_string_lossy(),
            config.file_mtime_ns,
            config.registered_at,
        ],
    )?;
    Ok(())
}

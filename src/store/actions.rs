//! Registered actions: the rows `st2 run` and `st2 action` read.

use rusqlite::{params, Transaction};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError};

/// A registered action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ActionRecord {
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

/// Insert `actions` (the pack's old rows are already deleted).
pub(super) fn insert(tx: &Transaction<'_>, actions: &[ActionRecord]) -> Result<(), StoreError> {
    for action in actions {
        upsert(tx, action)?;
    }
    Ok(())
}

/// Insert `action`, or replace the row of its ref.
pub(super) fn upsert(tx: &Transaction<'_>, action: &ActionRecord) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO actions (ref, pack, name, runner_type, description, enabled,
                                         entry_point, parameters, metadata_file, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
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
    Ok(())
}

impl Store {
    /// Registered actions, all or of one pack, by ref.
    pub(crate) fn actions(&self, pack: Option<&str>) -> Result<Vec<ActionRecord>, StoreError> {
        self.query_actions("?1 IS NULL OR pack = ?1", pack)
    }

    /// One registered action.
    pub(crate) fn action(&self, action_ref: &str) -> Result<Option<ActionRecord>, StoreError> {
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
}

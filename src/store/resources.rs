//! Registered content other than actions (sensors, rules, aliases, policies, triggers): the
//! store keeps their metadata files and counts them; nothing runs them yet.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Transaction};
use serde::Serialize;

use super::{Store, StoreError};

/// The kind of a [`ResourceRecord`], stored as its name (`sensor`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ResourceKind {
    /// A trigger type (`triggers/`).
    Trigger,
    /// A sensor (`sensors/`).
    Sensor,
    /// A rule (`rules/`).
    Rule,
    /// An action alias (`aliases/`).
    Alias,
    /// A policy (`policies/`).
    Policy,
}

impl ResourceKind {
    /// Every kind.
    pub(crate) const ALL: [ResourceKind; 5] = [
        ResourceKind::Trigger,
        ResourceKind::Sensor,
        ResourceKind::Rule,
        ResourceKind::Alias,
        ResourceKind::Policy,
    ];

    /// The name stored and shown (`sensor`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Trigger => "trigger",
            ResourceKind::Sensor => "sensor",
            ResourceKind::Rule => "rule",
            ResourceKind::Alias => "alias",
            ResourceKind::Policy => "policy",
        }
    }

    /// The plural it is counted with (`policies`).
    pub(crate) fn plural(self) -> &'static str {
        match self {
            ResourceKind::Trigger => "triggers",
            ResourceKind::Sensor => "sensors",
            ResourceKind::Rule => "rules",
            ResourceKind::Alias => "aliases",
            ResourceKind::Policy => "policies",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ResourceKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ResourceKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        ResourceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| FromSqlError::Other(format!("unknown resource kind {name:?}").into()))
    }
}

/// Content other than actions that registration records (sensors, rules, aliases, policies,
/// triggers), counted per pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ResourceRecord {
    /// The pack ref.
    pub pack: String,
    /// What it is.
    pub kind: ResourceKind,
    /// The resource's name (or the file stem when it has none).
    pub name: String,
    /// The metadata file, relative to the pack directory.
    pub metadata_file: String,
    /// The whole metadata file, as JSON text.
    #[serde(skip)]
    pub metadata: String,
}

/// Insert the resources of `kinds` among `resources` (the pack's old rows of those kinds are
/// already deleted).
pub(super) fn insert(
    tx: &Transaction<'_>,
    resources: &[ResourceRecord],
    kinds: &[ResourceKind],
) -> Result<(), StoreError> {
    let mut insert = tx.prepare(
        "INSERT INTO resources (pack, kind, name, metadata_file, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for resource in resources.iter().filter(|r| kinds.contains(&r.kind)) {
        insert.execute(params![
            resource.pack,
            resource.kind,
            resource.name,
            resource.metadata_file,
            &resource.metadata,
        ])?;
    }
    Ok(())
}

/// A row of `SELECT pack, kind, name, metadata_file, metadata FROM resources`.
pub(super) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ResourceRecord> {
    Ok(ResourceRecord {
        pack: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        metadata_file: row.get(3)?,
        metadata: row.get(4)?,
    })
}

impl Store {
    /// Count of registered content per type for a pack: `actions` plus each resource kind
    /// (pluralised, e.g. `sensors`), in a stable order; types with no content are left out.
    pub(crate) fn content_counts(&self, pack: &str) -> Result<Vec<(String, u64)>, StoreError> {
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
            Ok((row.get::<_, ResourceKind>(0)?, row.get::<_, u64>(1)?))
        })?;
        for row in rows {
            let (kind, count) = row?;
            counts.push((kind.plural().to_string(), count));
        }
        Ok(counts)
    }
}

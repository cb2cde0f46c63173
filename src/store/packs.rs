//! Registered packs, and a pack's registration replaced or removed whole, in one
//! transaction (its actions, resources and config schema with it).

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use super::actions::{self, ActionRecord};
use super::config::{self, ConfigRecord};
use super::resources::{self, ResourceKind, ResourceRecord};
use super::{Store, StoreError};

/// A registered pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PackRecord {
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

/// Everything one registration of one pack stores.
#[derive(Debug, Clone)]
pub(crate) struct PackRegistration {
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
pub(crate) struct ContentScope {
    /// Actions.
    pub actions: bool,
    /// Resource kinds.
    pub resource_kinds: Vec<ResourceKind>,
}

/// What [`Store::replace_pack`] changed compared with the previous registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct ReplaceSummary {
    /// Action refs registered before and gone now.
    pub removed_actions: Vec<String>,
    /// Other resources (`kind:file`) registered before and gone now.
    pub removed_resources: Vec<String>,
    /// Whether a config schema was registered before and is gone now.
    pub removed_config_schema: bool,
}

impl Store {
    /// Replace everything registered for `registration.pack` with `registration`, in one
    /// transaction, and say what disappeared.
    #[cfg(test)]
    pub(crate) fn replace_pack(
        &mut self,
        registration: &PackRegistration,
    ) -> Result<ReplaceSummary, StoreError> {
        let mut summaries = self.replace_packs(&[(registration, None)])?;
        Ok(summaries.pop().expect("one registration, one summary"))
    }

    /// Replace the registrations of several packs (each with its config) in one transaction,
    /// which also deletes their install journal records: all of them are registered, or
    /// none. One summary per registration, in order.
    pub(crate) fn replace_packs(
        &mut self,
        registrations: &[(&PackRegistration, Option<&ConfigRecord>)],
    ) -> Result<Vec<ReplaceSummary>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut summaries = Vec::new();
        for (registration, config) in registrations {
            summaries.push(replace_in(&tx, registration, *config)?);
        }
        tx.commit()?;
        Ok(summaries)
    }

    /// Remove a pack and everything registered for it. Returns whether it was registered.
    pub(crate) fn remove_pack(&mut self, pack_ref: &str) -> Result<bool, StoreError> {
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
    pub(crate) fn packs(&self) -> Result<Vec<PackRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {PACK_COLUMNS} FROM packs ORDER BY ref"))?;
        let rows = statement.query_map([], pack_from_row)?;
        rows.map(|row| row?.decode()).collect()
    }

    /// One registered pack.
    pub(crate) fn pack(&self, pack_ref: &str) -> Result<Option<PackRecord>, StoreError> {
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

    /// The registered config schema of a pack.
    pub(crate) fn config_schema(&self, pack: &str) -> Result<Option<Value>, StoreError> {
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
}

/// A pack's registration being replaced in one transaction, its actions written one at a
/// time as they are read ([`Store::begin_pack`]): a reload of a pack of thousands of actions
/// never holds them all. Nothing is visible to other connections before
/// [`PackWriter::finish`]; dropping the writer instead rolls everything back, so the pack
/// keeps its previous registration whole.
pub(crate) struct PackWriter<'s> {
    tx: Transaction<'s>,
    pack_ref: String,
    scope: ContentScope,
    previous: Previous,
    /// The refs written so far.
    written: std::collections::HashSet<String>,
}

/// What a registration with bad files kept of the previous one ([`PackWriter::finish`]).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// Actions whose file failed: (ref, metadata file).
    pub actions: Vec<(String, String)>,
    /// Other resources whose file failed.
    pub resources: Vec<ResourceRecord>,
    /// Whether the config schema failed and the previous one was kept.
    pub config_schema: bool,
}

impl Store {
    /// Start replacing the registration of `pack` (in `scope`): the transaction begins and
    /// the pack's record is written (its actions need it).
    pub(crate) fn begin_pack(
        &mut self,
        pack: &PackRecord,
        scope: &ContentScope,
    ) -> Result<PackWriter<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let previous = Previous::read(&tx, &pack.pack_ref, scope)?;
        upsert_pack(&tx, pack)?;
        Ok(PackWriter {
            tx,
            pack_ref: pack.pack_ref.clone(),
            scope: scope.clone(),
            previous,
            written: std::collections::HashSet::new(),
        })
    }
}

impl PackWriter<'_> {
    /// Write one action of the pack (one of the same ref written before is replaced: the
    /// later file wins).
    pub(crate) fn add_action(&mut self, action: &ActionRecord) -> Result<(), StoreError> {
        actions::upsert(&self.tx, action)?;
        self.written.insert(action.action_ref.clone());
        Ok(())
    }

    /// Write the rest of `registration` (its config schema and resources; its actions are
    /// the ones written), remove what the pack no longer has, and commit. With `failed`
    /// (the pack-relative files that failed, and whether the config schema did), what those
    /// files registered before is kept, as StackStorm's upserts leave it.
    pub(crate) fn finish(
        self,
        registration: &PackRegistration,
        failed: Option<(&[String], bool)>,
    ) -> Result<(ReplaceSummary, Kept), StoreError> {
        let PackWriter {
            tx,
            pack_ref,
            scope,
            previous,
            mut written,
        } = self;
        let failed_file =
            |file: &str| failed.is_some_and(|(files, _)| files.iter().any(|f| f == file));
        let mut kept = Kept::default();
        for (action, file) in previous.actions.iter().zip(&previous.action_files) {
            if written.contains(action) {
                continue;
            }
            if failed_file(file) {
                kept.actions.push((action.clone(), file.clone()));
            } else {
                tx.execute("DELETE FROM actions WHERE ref = ?1", [action])?;
            }
        }
        written.extend(kept.actions.iter().map(|(action, _)| action.clone()));
        if failed.is_some() {
            let mut statement = tx.prepare_cached(
                "SELECT pack, kind, name, metadata_file, metadata FROM resources
                 WHERE pack = ?1 ORDER BY kind, metadata_file",
            )?;
            let rows = statement.query_map([&pack_ref], resources::from_row)?;
            for row in rows {
                let resource = row?;
                let replaced = registration.resources.iter().any(|new| {
                    new.kind == resource.kind && new.metadata_file == resource.metadata_file
                });
                if scope.resource_kinds.contains(&resource.kind)
                    && failed_file(&resource.metadata_file)
                    && !replaced
                {
                    kept.resources.push(resource);
                }
            }
        }
        kept.config_schema = failed.is_some_and(|(_, schema)| schema) && previous.had_schema;
        for kind in &scope.resource_kinds {
            tx.execute(
                "DELETE FROM resources WHERE pack = ?1 AND kind = ?2",
                params![pack_ref, kind],
            )?;
        }
        resources::insert(&tx, &registration.resources, &scope.resource_kinds)?;
        resources::insert(&tx, &kept.resources, &scope.resource_kinds)?;
        if !kept.config_schema {
            tx.execute("DELETE FROM config_schemas WHERE pack = ?1", [&pack_ref])?;
            if let Some(schema) = &registration.config_schema {
                tx.execute(
                    "INSERT INTO config_schemas (pack, schema) VALUES (?1, ?2)",
                    params![pack_ref, serde_json::to_string(schema)?],
                )?;
            }
        }
        tx.execute("DELETE FROM pending_swaps WHERE pack = ?1", [&pack_ref])?;
        tx.commit()?;
        let current_resources: Vec<String> = registration
            .resources
            .iter()
            .chain(&kept.resources)
            .map(|resource| format!("{}:{}", resource.kind, resource.metadata_file))
            .collect();
        let summary = ReplaceSummary {
            removed_actions: previous
                .actions
                .into_iter()
                .filter(|action| !written.contains(action))
                .collect(),
            removed_resources: previous
                .resources
                .into_iter()
                .filter(|resource| !current_resources.contains(resource))
                .collect(),
            removed_config_schema: previous.had_schema
                && registration.config_schema.is_none()
                && !kept.config_schema,
        };
        Ok((summary, kept))
    }
}

/// Replace one pack's registration inside `tx` (see [`Store::replace_packs`]).
fn replace_in(
    tx: &Transaction<'_>,
    registration: &PackRegistration,
    config: Option<&ConfigRecord>,
) -> Result<ReplaceSummary, StoreError> {
    let pack_ref = &registration.pack.pack_ref;
    let scope = &registration.scope;
    let previous = Previous::read(tx, pack_ref, scope)?;
    delete_content(tx, pack_ref, scope)?;
    upsert_pack(tx, &registration.pack)?;
    if scope.actions {
        actions::insert(tx, &registration.actions)?;
    }
    resources::insert(tx, &registration.resources, &scope.resource_kinds)?;
    if let Some(schema) = &registration.config_schema {
        tx.execute(
            "INSERT INTO config_schemas (pack, schema) VALUES (?1, ?2)",
            params![pack_ref, serde_json::to_string(schema)?],
        )?;
    }
    if let Some(config) = config {
        config::upsert(tx, config)?;
    }
    // The install that swapped this directory into place is complete with this commit.
    tx.execute("DELETE FROM pending_swaps WHERE pack = ?1", [pack_ref])?;
    Ok(previous.summary(registration))
}

/// What a pack had registered, in the scope of a new registration, before it replaces it.
struct Previous {
    /// Action refs.
    actions: Vec<String>,
    /// The metadata file of each of `actions`.
    action_files: Vec<String>,
    /// `kind:metadata_file` of each resource.
    resources: Vec<String>,
    had_schema: bool,
}

impl Previous {
    fn read(
        tx: &Transaction<'_>,
        pack_ref: &str,
        scope: &ContentScope,
    ) -> Result<Self, StoreError> {
        let (mut actions, mut action_files) = (Vec::new(), Vec::new());
        if scope.actions {
            let mut statement = tx.prepare_cached(
                "SELECT ref, metadata_file FROM actions WHERE pack = ?1 ORDER BY ref",
            )?;
            let rows = statement.query_map([pack_ref], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (action, file) = row?;
                actions.push(action);
                action_files.push(file);
            }
        }
        let mut resources = Vec::new();
        for kind in &scope.resource_kinds {
            let mut statement = tx.prepare_cached(
                "SELECT kind || ':' || metadata_file FROM resources
                 WHERE pack = ?1 AND kind = ?2 ORDER BY 1",
            )?;
            let rows = statement.query_map(params![pack_ref, kind], |row| row.get(0))?;
            for row in rows {
                resources.push(row?);
            }
        }
        let had_schema: bool = tx
            .query_row(
                "SELECT 1 FROM config_schemas WHERE pack = ?1",
                [pack_ref],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        Ok(Previous {
            actions,
            action_files,
            resources,
            had_schema,
        })
    }

    /// What `registration` no longer has.
    fn summary(self, registration: &PackRegistration) -> ReplaceSummary {
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
        ReplaceSummary {
            removed_actions: self
                .actions
                .into_iter()
                .filter(|action| !current_actions.contains(&action.as_str()))
                .collect(),
            removed_resources: self
                .resources
                .into_iter()
                .filter(|resource| !current_resources.contains(resource))
                .collect(),
            removed_config_schema: self.had_schema && registration.config_schema.is_none(),
        }
    }
}

/// Delete the pack's content in `scope`, and its config schema (a registration always
/// reads it).
fn delete_content(
    tx: &Transaction<'_>,
    pack_ref: &str,
    scope: &ContentScope,
) -> Result<(), StoreError> {
    if scope.actions {
        tx.execute("DELETE FROM actions WHERE pack = ?1", [pack_ref])?;
    }
    for kind in &scope.resource_kinds {
        tx.execute(
            "DELETE FROM resources WHERE pack = ?1 AND kind = ?2",
            params![pack_ref, kind],
        )?;
    }
    tx.execute("DELETE FROM config_schemas WHERE pack = ?1", [pack_ref])?;
    Ok(())
}

/// Insert or update the pack's row; a registration without a source (a reload) keeps the
/// one its install recorded.
fn upsert_pack(tx: &Transaction<'_>, pack: &PackRecord) -> Result<(), StoreError> {
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
    Ok(())
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

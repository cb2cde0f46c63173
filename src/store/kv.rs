//! The datastore (`st2 key ...`, `{{ st2kv.system.x }}`): string values by scope and name,
//! secrets kept encrypted, optional expiry.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError};

/// A datastore scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum KeyScope {
    /// `st2kv.system`: shared.
    #[serde(rename = "st2kv.system")]
    System,
    /// `st2kv.user`: per user; names are stored as `<user>:<name>`.
    #[serde(rename = "st2kv.user")]
    User,
}

impl KeyScope {
    /// The stored name of the scope (`st2kv.system`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyScope::System => "st2kv.system",
            KeyScope::User => "st2kv.user",
        }
    }

    /// Parse `system`/`user` or their full forms.
    pub(crate) fn parse(text: &str) -> Option<KeyScope> {
        match text {
            "system" | "st2kv.system" => Some(KeyScope::System),
            "user" | "st2kv.user" => Some(KeyScope::User),
            _ => None,
        }
    }
}

/// One datastore item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KeyRecord {
    /// Scope.
    pub scope: KeyScope,
    /// Stored name (`<user>:<name>` in user scope).
    pub name: String,
    /// The value; the ciphertext when `secret`.
    pub value: String,
    /// Whether the value is encrypted.
    pub secret: bool,
    /// Expiry (unix seconds), when set with a TTL.
    pub expire_at: Option<i64>,
    /// Last change (RFC 3339, UTC).
    pub updated_at: String,
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Store {
    /// Set (create or replace) a datastore item.
    pub(crate) fn kv_set(&mut self, record: &KeyRecord) -> Result<(), StoreError> {
        self.kv_set_all(std::slice::from_ref(record))
    }

    /// Set many items in one transaction.
    pub(crate) fn kv_set_all(&mut self, records: &[KeyRecord]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for record in records {
            tx.execute(
                "INSERT INTO kv (scope, name, value, secret, expire_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value,
                secret = excluded.secret, expire_at = excluded.expire_at,
                updated_at = excluded.updated_at",
                params![
                    record.scope.as_str(),
                    record.name,
                    record.value,
                    record.secret,
                    record.expire_at,
                    record.updated_at,
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// One item; expired items are absent.
    pub(crate) fn kv_get(
        &self,
        scope: KeyScope,
        name: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT scope, name, value, secret, expire_at, updated_at FROM kv
                 WHERE scope = ?1 AND name = ?2 AND (expire_at IS NULL OR expire_at > ?3)",
                params![scope.as_str(), name, now_unix()],
                key_from_row,
            )
            .optional()?)
    }

    /// Items of a scope (or all scopes) whose stored name starts with `prefix`, by scope and
    /// name; expired items are left out.
    pub(crate) fn kv_list(
        &self,
        scope: Option<KeyScope>,
        prefix: &str,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT scope, name, value, secret, expire_at, updated_at FROM kv
             WHERE (?1 IS NULL OR scope = ?1) AND substr(name, 1, length(?2)) = ?2
               AND (expire_at IS NULL OR expire_at > ?3)
             ORDER BY scope, name",
        )?;
        let rows = statement.query_map(
            params![scope.map(KeyScope::as_str), prefix, now_unix()],
            key_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Delete one item. Returns whether it existed (and had not expired).
    pub(crate) fn kv_delete(&mut self, scope: KeyScope, name: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let live: bool = tx
            .query_row(
                "SELECT 1 FROM kv WHERE scope = ?1 AND name = ?2
                 AND (expire_at IS NULL OR expire_at > ?3)",
                params![scope.as_str(), name, now_unix()],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        tx.execute(
            "DELETE FROM kv WHERE scope = ?1 AND name = ?2",
            params![scope.as_str(), name],
        )?;
        tx.commit()?;
        Ok(live)
    }
}

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let scope: String = row.get(0)?;
    Ok(KeyRecord {
        scope: KeyScope::parse(&scope).unwrap_or(KeyScope::System),
        name: row.get(1)?,
        value: row.get(2)?,
        secret: row.get(3)?,
        expire_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(scope: KeyScope, name: &str, expire_at: Option<i64>) -> KeyRecord {
        KeyRecord {
            scope,
            name: name.into(),
            value: format!("value of {name}"),
            secret: false,
            expire_at,
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn set_get_list_delete_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("st2.db")).unwrap();
        store.kv_set(&record(KeyScope::System, "a", None)).unwrap();
        store.kv_set(&record(KeyScope::System, "ab", None)).unwrap();
        store
            .kv_set(&record(KeyScope::User, "stanley:a", None))
            .unwrap();
        store
            .kv_set(&record(KeyScope::System, "old", Some(1)))
            .unwrap();
        assert_eq!(
            store.kv_get(KeyScope::System, "a").unwrap().unwrap().value,
            "value of a"
        );
        assert!(store.kv_get(KeyScope::System, "old").unwrap().is_none());
        let names = |list: Vec<KeyRecord>| list.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(store.kv_list(None, "").unwrap()),
            ["a", "ab", "stanley:a"]
        );
        assert_eq!(
            names(store.kv_list(Some(KeyScope::System), "a").unwrap()),
            ["a", "ab"]
        );
        assert_eq!(
            names(store.kv_list(None, "%").unwrap()),
            Vec::<String>::new()
        );
        assert!(store.kv_delete(KeyScope::System, "a").unwrap());
        assert!(!store.kv_delete(KeyScope::System, "a").unwrap());
        assert!(!store.kv_delete(KeyScope::System, "old").unwrap());
    }
}

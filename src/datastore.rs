//! The datastore behind `st2 key` and `{{ st2kv... }}`: string values by scope and name in the
//! embedded store, secrets encrypted with StackStorm's key file format (spec
//! `register-configs.md` §7), so that values and key files move between StackStorm and us.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::config::KeySnapshot;
use crate::crypto::{CryptoError, CryptoKey};
use crate::settings::Settings;
use crate::store::{KeyRecord, KeyScope, Store, StoreError};

/// Errors of the datastore, in StackStorm's words where it has some.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DatastoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No key file to decrypt with.
    #[error(
        "Crypto key not found in {}. Unable to encrypt / decrypt value for key {name}.",
        path.display()
    )]
    NoKey {
        /// The key file looked for.
        path: PathBuf,
        /// The datastore item.
        name: String,
    },
    /// The key file is unusable.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A value given as already encrypted does not verify.
    #[error(
        "Failed to verify the integrity of the provided value for key \"{0}\". Ensure that the \
         value is encrypted with the correct key and not corrupted."
    )]
    Integrity(String),
    /// The item does not exist.
    #[error("Key \"{name}\" does not exist in scope {}.", scope.as_str())]
    NotFound {
        /// Shown name.
        name: String,
        /// Scope.
        scope: KeyScope,
    },
}

/// What `st2 key set`/`load` store.
#[derive(Debug, Clone)]
pub(crate) struct NewItem {
    /// Name as given (without the user prefix).
    pub name: String,
    /// The value: plaintext, or ciphertext when `encrypted`.
    pub value: String,
    /// Scope.
    pub scope: KeyScope,
    /// User of a user-scope item.
    pub user: String,
    /// Encrypt the value before storing (`--encrypt`).
    pub encrypt: bool,
    /// The value is already encrypted with our key (`--encrypted`): verify and store.
    pub encrypted: bool,
    /// Seconds to live.
    pub ttl: Option<u64>,
}

/// An item as shown by `st2 key get/list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ItemView {
    /// Name (without the user prefix).
    pub name: String,
    /// Value: the ciphertext of a secret unless decrypted.
    pub value: String,
    /// Whether the value is a secret.
    pub secret: bool,
    /// Whether `value` is shown encrypted.
    pub encrypted: bool,
    /// `st2kv.system` or `st2kv.user`.
    pub scope: KeyScope,
    /// The user of a user-scope item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Expiry (RFC 3339), when set with a TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_timestamp: Option<String>,
}

/// The datastore: the store plus the key file, loaded (or created) when first needed.
pub(crate) struct Datastore {
    store: Store,
    key_path: PathBuf,
    key: OnceLock<Arc<CryptoKey>>,
}

impl Datastore {
    /// Open the datastore of `settings` (creating the store file if needed).
    pub(crate) fn open(settings: &Settings) -> Result<Datastore, DatastoreError> {
        Ok(Datastore {
            store: Store::open(&settings.store_path)?,
            key_path: settings.datastore_key_path(),
            key: OnceLock::new(),
        })
    }

    /// The key for decrypting: it must exist.
    fn existing_key(&self, name: &str) -> Result<Arc<CryptoKey>, DatastoreError> {
        if let Some(key) = self.key.get() {
            return Ok(key.clone());
        }
        let key = load_key(&self.key_path, name)?;
        Ok(self.key.get_or_init(|| key).clone())
    }

    /// The key for encrypting: created (0600) on first use.
    fn key_for_encrypting(&self) -> Result<Arc<CryptoKey>, DatastoreError> {
        if let Some(key) = self.key.get() {
            return Ok(key.clone());
        }
        let (key, _created) = CryptoKey::load_or_create(&self.key_path)?;
        let key = Arc::new(key);
        Ok(self.key.get_or_init(|| key).clone())
    }

    /// Store an item (replacing one of the same scope and name).
    pub(crate) fn set(&mut self, item: &NewItem) -> Result<ItemView, DatastoreError> {
        let record = self.prepare(item)?;
        self.store.kv_set(&record)?;
        Ok(view(&record, false, None))
    }

    /// Store many items in one transaction, after checking all of them: nothing is
    /// written when one is invalid.
    pub(crate) fn set_all(&mut self, items: &[NewItem]) -> Result<Vec<ItemView>, DatastoreError> {
        let records = items
            .iter()
            .map(|item| self.prepare(item))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.kv_set_all(&records)?;
        Ok(records.iter().map(|r| view(r, false, None)).collect())
    }

    fn prepare(&self, item: &NewItem) -> Result<KeyRecord, DatastoreError> {
        let (value, secret) = if item.encrypted {
            decrypt_item(&*self.existing_key(&item.name)?, &item.value, &item.name)?;
            (item.value.clone(), true)
        } else if item.encrypt {
            (self.key_for_encrypting()?.encrypt(&item.value), true)
        } else {
            (item.value.clone(), false)
        };
        let now = jiff::Timestamp::now();
        Ok(KeyRecord {
            scope: item.scope,
            name: stored_name(item.scope, &item.user, &item.name),
            value,
            secret,
            expire_at: item.ttl.map(|ttl| {
                now.as_second()
                    .saturating_add(ttl.min(i64::MAX as u64) as i64)
            }),
            updated_at: now.to_string(),
        })
    }

    /// One item; `decrypt` shows a secret's plaintext.
    pub(crate) fn get(
        &self,
        scope: KeyScope,
        user: &str,
        name: &str,
        decrypt: bool,
    ) -> Result<ItemView, DatastoreError> {
        let record = self
            .store
            .kv_get(scope, &stored_name(scope, user, name))?
            .ok_or_else(|| DatastoreError::NotFound {
                name: name.to_string(),
                scope,
            })?;
        self.show(&record, decrypt)
    }

    /// Items of `scope` (all scopes when `None`; user scope: `user`'s items) whose name starts
    /// with `prefix`.
    pub(crate) fn list(
        &self,
        scope: Option<KeyScope>,
        user: &str,
        prefix: &str,
        decrypt: bool,
    ) -> Result<Vec<ItemView>, DatastoreError> {
        let mut views = Vec::new();
        for scope in scope.map_or(vec![KeyScope::System, KeyScope::User], |s| vec![s]) {
            for record in self
                .store
                .kv_list(Some(scope), &stored_name(scope, user, prefix))?
            {
                views.push(self.show(&record, decrypt)?);
            }
        }
        Ok(views)
    }

    /// Delete one item.
    pub(crate) fn delete(
        &mut self,
        scope: KeyScope,
        user: &str,
        name: &str,
    ) -> Result<(), DatastoreError> {
        if self
            .store
            .kv_delete(scope, &stored_name(scope, user, name))?
        {
            Ok(())
        } else {
            Err(DatastoreError::NotFound {
                name: name.to_string(),
                scope,
            })
        }
    }

    /// Delete every item of `scope` whose name starts with `prefix`; returns their names.
    pub(crate) fn delete_by_prefix(
        &mut self,
        scope: KeyScope,
        user: &str,
        prefix: &str,
    ) -> Result<Vec<String>, DatastoreError> {
        let items = self.list(Some(scope), user, prefix, false)?;
        for item in &items {
            self.store
                .kv_delete(scope, &stored_name(scope, user, &item.name))?;
        }
        Ok(items.into_iter().map(|item| item.name).collect())
    }

    fn show(&self, record: &KeyRecord, decrypt: bool) -> Result<ItemView, DatastoreError> {
        let plaintext = if record.secret && decrypt {
            let (_, name) = split_user(record);
            Some(decrypt_item(
                &*self.existing_key(&name)?,
                &record.value,
                &name,
            )?)
        } else {
            None
        };
        Ok(view(record, decrypt, plaintext))
    }

    /// The datastore as config templates see it (expired items left out); secrets are
    /// decrypted on demand with the key file.
    pub(crate) fn snapshot(&self) -> Result<KeySnapshot, DatastoreError> {
        let items = self.store.kv_list(None, "")?;
        let key_path = self.key_path.clone();
        let loaded: OnceLock<Result<Arc<CryptoKey>, String>> = OnceLock::new();
        if let Some(key) = self.key.get() {
            let _ = loaded.set(Ok(key.clone()));
        }
        let loaded = Arc::new(loaded);
        let decrypt = move |ciphertext: &str, name: &str| -> Result<String, String> {
            let key = loaded
                .get_or_init(|| load_key(&key_path, name).map_err(|err| err.to_string()))
                .clone()?;
            decrypt_item(&key, ciphertext, name).map_err(|err| err.to_string())
        };
        Ok(KeySnapshot::new(items, Arc::new(decrypt)))
    }
}

/// The key file, for decrypting `name`: it must exist.
fn load_key(path: &Path, name: &str) -> Result<Arc<CryptoKey>, DatastoreError> {
    match CryptoKey::load(path) {
        Ok(key) => Ok(Arc::new(key)),
        Err(CryptoError::NotFound { .. }) => Err(DatastoreError::NoKey {
            path: path.to_path_buf(),
            name: name.to_string(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// Decrypt the value of the item `name`, in StackStorm's words when it does not verify.
fn decrypt_item(key: &CryptoKey, ciphertext: &str, name: &str) -> Result<String, DatastoreError> {
    key.decrypt(ciphertext)
        .map_err(|_| DatastoreError::Integrity(name.to_string()))
}

/// How an item is stored: user-scope names are `<user>:<name>`.
pub(crate) fn stored_name(scope: KeyScope, user: &str, name: &str) -> String {
    match scope {
        KeyScope::System => name.to_string(),
        KeyScope::User => format!("{user}:{name}"),
    }
}

fn split_user(record: &KeyRecord) -> (Option<String>, String) {
    match record.scope {
        KeyScope::User => match record.name.split_once(':') {
            Some((user, name)) => (Some(user.to_string()), name.to_string()),
            None => (None, record.name.clone()),
        },
        KeyScope::System => (None, record.name.clone()),
    }
}

fn view(record: &KeyRecord, decrypted: bool, plaintext: Option<String>) -> ItemView {
    let (user, name) = split_user(record);
    let shown_encrypted = record.secret && !(decrypted && plaintext.is_some());
    ItemView {
        name,
        value: plaintext.unwrap_or_else(|| record.value.clone()),
        secret: record.secret,
        encrypted: shown_encrypted,
        scope: record.scope,
        user,
        expire_timestamp: record.expire_at.and_then(|seconds| {
            jiff::Timestamp::from_second(seconds)
                .ok()
                .map(|ts| ts.to_string())
        }),
    }
}

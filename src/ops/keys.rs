//! Datastore operations: list, get, set, delete, load keys.
//!
//! Shaped for StackStorm's API as well as for the embedded store
//! (`../shared/spec/remote-api.md` §2.3): list and get are `GET /keys/`, set and load are
//! `PUT /keys/NAME` (one per item), delete is `DELETE /keys/NAME`, each with its scope and
//! user.

use serde::Serialize;

use crate::store::KeyScope;

/// A datastore item, as `st2 key` shows it (`-j` prints it as it is).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KeyView {
    /// The name the user gave (without the `user:` prefix of user-scope items).
    pub(crate) name: String,
    /// The value: the ciphertext of a secret unless it was decrypted.
    pub(crate) value: String,
    /// Whether the value is encrypted at rest.
    pub(crate) secret: bool,
    /// Whether `value` is the ciphertext.
    pub(crate) encrypted: bool,
    /// `st2kv.system` or `st2kv.user`.
    pub(crate) scope: KeyScope,
    /// The user of a user-scope item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// When the item expires (its TTL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expire_timestamp: Option<String>,
}

/// One item: its name in a scope (and the user's, for the user scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRef {
    /// The scope.
    pub(crate) scope: KeyScope,
    /// The user whose item it is (user scope); `None`: the backend's default user (locally
    /// `[system_user] user`, on a cluster the caller).
    pub(crate) user: Option<String>,
    /// The name.
    pub(crate) name: String,
}

/// `st2 key list`.
#[derive(Debug, Clone)]
pub(crate) struct KeyListRequest {
    /// One scope, or both (`None`).
    pub(crate) scope: Option<KeyScope>,
    /// The user whose user-scope items are listed (`None`: the backend's default user).
    pub(crate) user: Option<String>,
    /// Only names starting with this.
    pub(crate) prefix: String,
    /// Show secrets' values decrypted.
    pub(crate) decrypt: bool,
    /// At most this many.
    pub(crate) limit: Option<usize>,
}

/// An item to store (`st2 key set`, one item of `st2 key load`).
#[derive(Debug, Clone)]
pub(crate) struct KeySetRequest {
    /// Where it goes.
    pub(crate) key: KeyRef,
    /// The value (ciphertext when `encrypted`).
    pub(crate) value: String,
    /// `-e/--encrypt`: encrypt the value.
    pub(crate) encrypt: bool,
    /// `--encrypted`: the value is already ciphertext.
    pub(crate) encrypted: bool,
    /// Seconds to live.
    pub(crate) ttl: Option<u64>,
}

/// Datastore operations: list, get, set, delete, load keys.
pub(crate) trait KeyOps {
    /// The items of a scope (or both) whose names start with a prefix.
    fn key_list(&self, request: &KeyListRequest) -> anyhow::Result<Vec<KeyView>>;

    /// One item; an error when it does not exist.
    fn key_get(&self, key: &KeyRef, decrypt: bool) -> anyhow::Result<KeyView>;

    /// Store one item.
    fn key_set(&self, request: &KeySetRequest) -> anyhow::Result<KeyView>;

    /// Delete one item; an error when it does not exist.
    fn key_delete(&self, key: &KeyRef) -> anyhow::Result<()>;

    /// Delete every item of a scope (and user) whose name starts with `prefix`; answers
    /// the names deleted.
    fn key_delete_by_prefix(
        &self,
        scope: KeyScope,
        user: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Vec<String>>;

    /// Store several items, all or none (`st2 key load`).
    fn key_load(&self, requests: &[KeySetRequest]) -> anyhow::Result<Vec<KeyView>>;
}

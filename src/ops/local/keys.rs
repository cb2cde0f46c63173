//! `st2 key` on the embedded store ([`Datastore`]): read-only operations create nothing
//! when no store exists yet.

use anyhow::bail;

use crate::datastore::{Datastore, ItemView, NewItem};
use crate::ops::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use crate::settings::Settings;
use crate::store::KeyScope;

impl From<ItemView> for KeyView {
    fn from(item: ItemView) -> KeyView {
        KeyView {
            name: item.name,
            value: item.value,
            secret: item.secret,
            encrypted: item.encrypted,
            scope: item.scope,
            user: item.user,
            expire_timestamp: item.expire_timestamp,
        }
    }
}

/// The user of a request: the one named, else `[system_user] user`.
fn user_of<'a>(settings: &'a Settings, user: Option<&'a str>) -> &'a str {
    user.unwrap_or(&settings.system_user)
}

fn new_item(settings: &Settings, request: &KeySetRequest) -> NewItem {
    NewItem {
        name: request.key.name.clone(),
        value: request.value.clone(),
        scope: request.key.scope,
        user: user_of(settings, request.key.user.as_deref()).to_string(),
        encrypt: request.encrypt,
        encrypted: request.encrypted,
        ttl: request.ttl,
    }
}

/// The datastore when the store file exists (read-only commands create nothing).
fn open_existing(settings: &Settings) -> anyhow::Result<Option<Datastore>> {
    if !settings.store_path.exists() {
        return Ok(None);
    }
    Ok(Some(Datastore::open(settings)?))
}

pub(super) fn list(settings: &Settings, request: &KeyListRequest) -> anyhow::Result<Vec<KeyView>> {
    let Some(datastore) = open_existing(settings)? else {
        return Ok(Vec::new());
    };
    let mut items = datastore.list(
        request.scope,
        user_of(settings, request.user.as_deref()),
        &request.prefix,
        request.decrypt,
    )?;
    if let Some(limit) = request.limit {
        items.truncate(limit);
    }
    Ok(items.into_iter().map(KeyView::from).collect())
}

pub(super) fn get(settings: &Settings, key: &KeyRef, decrypt: bool) -> anyhow::Result<KeyView> {
    let Some(datastore) = open_existing(settings)? else {
        bail!(
            "Key \"{}\" does not exist in scope {}.",
            key.name,
            key.scope.as_str()
        );
    };
    Ok(datastore
        .get(
            key.scope,
            user_of(settings, key.user.as_deref()),
            &key.name,
            decrypt,
        )?
        .into())
}

pub(super) fn set(settings: &Settings, request: &KeySetRequest) -> anyhow::Result<KeyView> {
    settings.ensure_writable()?;
    let mut datastore = Datastore::open(settings)?;
    Ok(datastore.set(&new_item(settings, request))?.into())
}

pub(super) fn delete(settings: &Settings, key: &KeyRef) -> anyhow::Result<()> {
    let Some(mut datastore) = open_existing(settings)? else {
        bail!(
            "Key \"{}\" does not exist in scope {}.",
            key.name,
            key.scope.as_str()
        );
    };
    datastore.delete(key.scope, user_of(settings, key.user.as_deref()), &key.name)?;
    Ok(())
}

pub(super) fn delete_by_prefix(
    settings: &Settings,
    scope: KeyScope,
    user: Option<&str>,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(match open_existing(settings)? {
        Some(mut datastore) => {
            datastore.delete_by_prefix(scope, user_of(settings, user), prefix)?
        }
        None => Vec::new(),
    })
}

pub(super) fn load(
    settings: &Settings,
    requests: &[KeySetRequest],
) -> anyhow::Result<Vec<KeyView>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    settings.ensure_writable()?;
    let mut datastore = Datastore::open(settings)?;
    let items: Vec<NewItem> = requests
        .iter()
        .map(|request| new_item(settings, request))
        .collect();
    Ok(datastore
        .set_all(&items)?
        .into_iter()
        .map(KeyView::from)
        .collect())
}

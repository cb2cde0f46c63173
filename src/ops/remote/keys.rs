//! `st2 key` over the API: `GET /keys/`, `GET/PUT/DELETE /keys/NAME`
//! (`../shared/spec/remote-api.md` §2.3), with st2client's parameters in its order.
//!
//! Where we differ on purpose: `delete_by_prefix` lists and deletes in the scope (and user) it
//! is given (st2client lists and deletes without a scope, so only system items go); `load`
//! cannot be all-or-nothing over the API: items are stored one `PUT` at a time, and a failure
//! names the items stored before it.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::{segment, ApiError, Client, Root};
use crate::ops::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use crate::store::KeyScope;

/// st2client's page size for `key list` when `-n` is not given.
const DEFAULT_LIMIT: usize = 50;

/// The scope as the API's `scope` parameter takes it.
fn scope_word(scope: KeyScope) -> &'static str {
    match scope {
        KeyScope::System => "system",
        KeyScope::User => "user",
    }
}

/// A `KeyValuePair` of the API as `st2 key` shows it.
fn view(item: &Value, request: &str) -> anyhow::Result<KeyView> {
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
    let flag = |name: &str| item.get(name).and_then(Value::as_bool).unwrap_or(false);
    let Some(mut name) = text("name") else {
        return Err(super::client::unexpected(request, "a key without \"name\""));
    };
    let scope = text("scope")
        .as_deref()
        .and_then(KeyScope::parse)
        .unwrap_or(KeyScope::System);
    let user = text("user");
    // A user-scope item's name may come as `user:name`, as st2 stores it.
    if let (KeyScope::User, Some(user)) = (scope, &user) {
        if let Some(bare) = name.strip_prefix(&format!("{user}:")) {
            name = bare.to_string();
        }
    }
    Ok(KeyView {
        name,
        value: text("value").unwrap_or_default(),
        secret: flag("secret"),
        encrypted: flag("encrypted"),
        scope,
        user: user.filter(|_| scope == KeyScope::User),
        expire_timestamp: text("expire_timestamp"),
    })
}

/// `GET /keys/?decrypt=&scope=[&user=]&limit=[&offset=][&prefix=]`: one page of `-n N` as
/// st2client asks when N is at most 100, else pages of 100 up to N (`usize::MAX`, from `-n
/// -1`: all of them) or the end ([`Client::get_pages`]). st2client sends `limit=N` as given.
pub(super) fn list(client: &Client, request: &KeyListRequest) -> anyhow::Result<Vec<KeyView>> {
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    let query = |page: usize, offset: usize| {
        let mut query = vec![
            ("decrypt", request.decrypt.to_string()),
            ("scope", request.scope.map_or("all", scope_word).to_string()),
        ];
        if let Some(user) = &request.user {
            query.push(("user", user.clone()));
        }
        query.push(("limit", page.to_string()));
        if offset > 0 {
            query.push(("offset", offset.to_string()));
        }
        if !request.prefix.is_empty() {
            query.push(("prefix", request.prefix.clone()));
        }
        query
    };
    client.get_pages("/keys/", limit, query, view)
}

/// `scope=` and `user=` of one item.
fn item_query(key: &KeyRef) -> Vec<(&'static str, String)> {
    let mut query = vec![("scope", scope_word(key.scope).to_string())];
    if let Some(user) = &key.user {
        query.push(("user", user.clone()));
    }
    query
}

/// A 404 on an item says which.
fn not_found(key: &KeyRef) -> impl FnOnce(anyhow::Error) -> anyhow::Error + '_ {
    move |err| match err.downcast_ref::<ApiError>() {
        Some(api) if api.status == 404 => err.context(format!(
            "Key \"{}\" does not exist in scope {}.",
            key.name,
            key.scope.as_str()
        )),
        _ => err,
    }
}

/// `GET /keys/NAME?decrypt=&scope=[&user=]`.
pub(super) fn get(client: &Client, key: &KeyRef, decrypt: bool) -> anyhow::Result<KeyView> {
    let mut query = vec![("decrypt", decrypt.to_string())];
    query.extend(item_query(key));
    let answer = client
        .get(Root::Api, &format!("/keys/{}", segment(&key.name)), &query)
        .map_err(not_found(key))?;
    view(&answer.json()?, &answer.request)
}

/// The body of `PUT /keys/NAME`, as st2client builds it.
fn body(request: &KeySetRequest, with_null_user: bool) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(request.key.name));
    body.insert("scope".into(), json!(scope_word(request.key.scope)));
    match &request.key.user {
        Some(user) => {
            body.insert("user".into(), json!(user));
        }
        None if with_null_user => {
            body.insert("user".into(), Value::Null);
        }
        None => {}
    }
    body.insert("value".into(), json!(request.value));
    if request.encrypt {
        body.insert("secret".into(), json!(true));
    }
    if request.encrypted {
        body.insert("encrypted".into(), json!(true));
    }
    if let Some(ttl) = request.ttl {
        body.insert("ttl".into(), json!(ttl));
    }
    Value::Object(body)
}

fn put(client: &Client, request: &KeySetRequest, with_null_user: bool) -> anyhow::Result<KeyView> {
    let answer = client.call(
        Method::PUT,
        Root::Api,
        &format!("/keys/{}", segment(&request.key.name)),
        &[],
        Some(&body(request, with_null_user)),
    )?;
    view(&answer.json()?, &answer.request)
}

/// `PUT /keys/NAME`.
pub(super) fn set(client: &Client, request: &KeySetRequest) -> anyhow::Result<KeyView> {
    put(client, request, true)
}

/// `GET`, then `DELETE /keys/NAME?scope=[&user=]`, as st2client does.
pub(super) fn delete(client: &Client, key: &KeyRef) -> anyhow::Result<()> {
    let path = format!("/keys/{}", segment(&key.name));
    let query = item_query(key);
    client
        .get(Root::Api, &path, &query)
        .map_err(not_found(key))?;
    client
        .call(Method::DELETE, Root::Api, &path, &query, None)
        .map_err(not_found(key))?;
    Ok(())
}

/// Every item of the scope whose name starts with `prefix`, deleted in that scope.
pub(super) fn delete_by_prefix(
    client: &Client,
    scope: KeyScope,
    user: Option<&str>,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let items = list(
        client,
        &KeyListRequest {
            scope: Some(scope),
            user: user.map(str::to_string),
            prefix: prefix.to_string(),
            decrypt: false,
            limit: Some(100),
        },
    )?;
    let mut deleted = Vec::new();
    for item in items {
        let key = KeyRef {
            scope: item.scope,
            user: item.user.clone().or_else(|| user.map(str::to_string)),
            name: item.name.clone(),
        };
        client
            .call(
                Method::DELETE,
                Root::Api,
                &format!("/keys/{}", segment(&key.name)),
                &item_query(&key),
                None,
            )
            .map_err(|err| {
                if deleted.is_empty() {
                    err
                } else {
                    err.context(format!(
                        "deleted before the failure: {}",
                        deleted.join(", ")
                    ))
                }
            })?;
        deleted.push(item.name);
    }
    Ok(deleted)
}

/// One `PUT` per item, in order.
pub(super) fn load(client: &Client, requests: &[KeySetRequest]) -> anyhow::Result<Vec<KeyView>> {
    let mut stored: Vec<KeyView> = Vec::new();
    for request in requests {
        match put(client, request, false) {
            Ok(item) => stored.push(item),
            Err(err) if stored.is_empty() => return Err(err),
            Err(err) => {
                let names: Vec<&str> = stored.iter().map(|item| item.name.as_str()).collect();
                return Err(err.context(format!(
                    "\"{}\" was not stored; stored before it: {}",
                    request.key.name,
                    names.join(", ")
                )));
            }
        }
    }
    Ok(stored)
}

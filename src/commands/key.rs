//! `st2 key list/get/set/delete/delete_by_prefix/load`: the datastore, as StackStorm's CLI
//! offers it, through the backend.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::{Context, ExitStatus, UsageError};
use crate::cli::{KeyCommand, KeyScopeArgs, ScopeArg};
use crate::ops::keys::{KeyListRequest, KeyRef, KeySetRequest, KeyView};
use crate::store::KeyScope;
use crate::yaml;

/// Run a `st2 key` subcommand.
pub(crate) fn run(command: KeyCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    let backend = context.backend();
    match command {
        KeyCommand::List {
            prefix,
            decrypt,
            scope,
            user,
            last,
        } => {
            let items = backend.key_list(&KeyListRequest {
                scope: scope_of(scope),
                user,
                prefix,
                decrypt,
                limit: last,
            })?;
            print_items(context, &items);
        }
        KeyCommand::Get {
            name,
            decrypt,
            scope,
        } => {
            let key = key_ref(&scope, name)?;
            let item = backend.key_get(&key, decrypt)?;
            print_item(context, &item);
        }
        KeyCommand::Set {
            name,
            value,
            encrypt,
            encrypted,
            ttl,
            scope,
        } => {
            let key = key_ref(&scope, name)?;
            check_name(&key.name)?;
            let value = match value {
                Some(value) => value,
                None => prompt_value(encrypt || encrypted)?,
            };
            let item = backend.key_set(&KeySetRequest {
                key,
                value,
                encrypt,
                encrypted,
                ttl,
            })?;
            print_item(context, &item);
        }
        KeyCommand::Delete { name, scope } => {
            let key = key_ref(&scope, name)?;
            backend.key_delete(&key)?;
            context.printer.info(&format!(
                "Resource with id \"{}\" has been successfully deleted.",
                key.name
            ));
        }
        KeyCommand::DeleteByPrefix { prefix, scope } => {
            let (scope, user) = single_scope(&scope)?;
            let deleted = backend.key_delete_by_prefix(scope, user.as_deref(), &prefix)?;
            if context.printer.is_data() {
                context.printer.data(&deleted);
            } else {
                context
                    .printer
                    .line(&format!("Deleted {} keys", deleted.len()));
                context
                    .printer
                    .line(&format!("Deleted key ids: {}", deleted.join(", ")));
            }
        }
        KeyCommand::Load { file, convert } => {
            let items = read_items(&file, convert)?;
            let stored = backend.key_load(&items)?;
            print_items(context, &stored);
        }
    }
    Ok(ExitStatus::Success)
}

/// The item NAME in the scope (and user) the options name.
fn key_ref(args: &KeyScopeArgs, name: String) -> anyhow::Result<KeyRef> {
    let (scope, user) = single_scope(args)?;
    Ok(KeyRef { scope, user, name })
}

fn scope_of(scope: ScopeArg) -> Option<KeyScope> {
    match scope {
        ScopeArg::System => Some(KeyScope::System),
        ScopeArg::User => Some(KeyScope::User),
        ScopeArg::All => None,
    }
}

fn single_scope(args: &KeyScopeArgs) -> anyhow::Result<(KeyScope, Option<String>)> {
    let Some(scope) = scope_of(args.scope) else {
        bail!("--scope all is only for listing; use system or user");
    };
    Ok((scope, args.user.clone()))
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty() {
        bail!("a key name cannot be empty");
    }
    Ok(())
}

/// `Please insert value for key: `, hidden when it is a secret typed at a terminal.
fn prompt_value(secret: bool) -> anyhow::Result<String> {
    let prompt = "Please insert value for key: ";
    if std::io::stdin().is_terminal() {
        if secret {
            return rpassword::prompt_password(prompt).context("cannot read the value");
        }
        crate::output::prompt(prompt);
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the value from standard input")?;
    if read == 0 {
        return Err(UsageError(
            "no value was given: pass it after the key name (st2 key set NAME VALUE), or on \
             standard input"
                .into(),
        )
        .into());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Items of a `st2 key load` file: one object or a list of
/// `{name, value, scope?, user?, secret?, encrypted?, ttl?}`.
fn read_items(path: &Path, convert: bool) -> anyhow::Result<Vec<KeySetRequest>> {
    let document = yaml::from_path(path)?;
    let entries = match document {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        entry @ Value::Object(_) => vec![entry],
        _ => bail!(
            "{}: expected an object or a list of objects with \"name\" and \"value\"",
            path.display()
        ),
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = || format!("{}: item {}", path.display(), index + 1);
            let Some(map) = entry.as_object() else {
                bail!("{}: expected an object with \"name\" and \"value\"", at());
            };
            let Some(name) = map.get("name").and_then(Value::as_str) else {
                bail!("{}: \"name\" is missing or not a string", at());
            };
            let value = match map.get("value") {
                Some(Value::String(text)) => text.clone(),
                // As upstream's `json.dumps(value)`: `{"x": 1}`.
                Some(other) if convert => crate::expressions::pyjson::dumps(
                    other,
                    &crate::expressions::pyjson::Dumps::default(),
                ),
                Some(_) => bail!(
                    "Item '{name}' has a value that is not a string. Either pass in the \
                     -c/--convert option to convert non-string types to JSON strings \
                     automatically, or inspect the item to ensure it has a string value."
                ),
                None => bail!("{}: \"value\" is missing", at()),
            };
            let scope = match map.get("scope").and_then(Value::as_str) {
                None => KeyScope::System,
                Some(text) => KeyScope::parse(text)
                    .with_context(|| format!("{}: scope \"{text}\" is not system or user", at()))?,
            };
            let flag = |field: &str| map.get(field).and_then(Value::as_bool).unwrap_or(false);
            let ttl = match map.get("ttl") {
                None | Some(Value::Null) => None,
                Some(value) => Some(value.as_u64().with_context(|| {
                    format!("{}: \"ttl\" must be a whole number of seconds", at())
                })?),
            };
            let encrypted = flag("encrypted");
            Ok(KeySetRequest {
                key: KeyRef {
                    scope,
                    user: map.get("user").and_then(Value::as_str).map(str::to_string),
                    name: name.to_string(),
                },
                value,
                encrypt: flag("secret") && !encrypted,
                encrypted,
                ttl,
            })
        })
        .collect()
}

fn print_item(context: &Context, item: &KeyView) {
    if context.printer.is_data() {
        context.printer.data(item);
        return;
    }
    let mut rows = vec![
        ("name".to_string(), item.name.clone()),
        ("value".to_string(), item.value.clone()),
        ("secret".to_string(), item.secret.to_string()),
        ("encrypted".to_string(), item.encrypted.to_string()),
        ("scope".to_string(), item.scope.as_str().to_string()),
    ];
    if let Some(user) = &item.user {
        rows.push(("user".to_string(), user.clone()));
    }
    if let Some(expire) = &item.expire_timestamp {
        // In the user's zone, as st2client shows it (`format_isodate_for_user_timezone`).
        rows.push((
            "expire_timestamp".to_string(),
            context.printer.time(Some(expire)),
        ));
    }
    context.printer.properties(rows);
}

fn print_items(context: &Context, items: &[KeyView]) {
    if context.printer.is_data() {
        context.printer.data(items);
        return;
    }
    if items.is_empty() {
        context.printer.info("No matching items found.");
        return;
    }
    let rows = items
        .iter()
        .map(|item| {
            vec![
                item.name.clone(),
                item.value.clone(),
                item.secret.to_string(),
                item.encrypted.to_string(),
                item.scope.as_str().to_string(),
                item.user.clone().unwrap_or_default(),
                context.printer.time(item.expire_timestamp.as_deref()),
            ]
        })
        .collect();
    context.printer.table(
        &[
            "name",
            "value",
            "secret",
            "encrypted",
            "scope",
            "user",
            "expire_timestamp",
        ],
        rows,
    );
}

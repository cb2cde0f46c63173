//! Actions as `st2 run` and `st2 action` see them: the registered ones, StackStorm's built-in
//! `core` pack (shipped in the binary, usable without installing anything), and the
//! effective parameter schema of an action (its runner's parameters merged with its own, as
//! upstream's `get_schema_for_action_parameters` does).
//!
//! [`args`] turns command-line words into parameter values; [`params`] validates them and
//! renders the templates in values and defaults.

pub(crate) mod args;
pub(crate) mod params;

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::runner;
use crate::settings::Settings;
use crate::store::{ActionRecord, PackRecord, Store, StoreError};

/// The built-in `core` pack: upstream's `contrib/core` files of v3.9.0, unchanged.
const CORE_FILES: &[(&str, &str)] = &[
    ("pack.yaml", include_str!("core/pack.yaml")),
    (
        "actions/local.yaml",
        include_str!("core/actions/local.yaml"),
    ),
    (
        "actions/local_sudo.yaml",
        include_str!("core/actions/local_sudo.yaml"),
    ),
    ("actions/echo.yaml", include_str!("core/actions/echo.yaml")),
    (
        "actions/error.yaml",
        include_str!("core/actions/error.yaml"),
    ),
    ("actions/noop.yaml", include_str!("core/actions/noop.yaml")),
    ("actions/http.yaml", include_str!("core/actions/http.yaml")),
    (
        "actions/pause.yaml",
        include_str!("core/actions/pause.yaml"),
    ),
    ("actions/pause.py", include_str!("core/actions/pause.py")),
    ("actions/uuid.yaml", include_str!("core/actions/uuid.yaml")),
    (
        "actions/generate_uuid.py",
        include_str!("core/actions/generate_uuid.py"),
    ),
    (
        "actions/remote.yaml",
        include_str!("core/actions/remote.yaml"),
    ),
    (
        "actions/remote_sudo.yaml",
        include_str!("core/actions/remote_sudo.yaml"),
    ),
    (
        "actions/winrm_cmd.yaml",
        include_str!("core/actions/winrm_cmd.yaml"),
    ),
    (
        "actions/winrm_ps_cmd.yaml",
        include_str!("core/actions/winrm_ps_cmd.yaml"),
    ),
    ("actions/ask.yaml", include_str!("core/actions/ask.yaml")),
    (
        "actions/announcement.yaml",
        include_str!("core/actions/announcement.yaml"),
    ),
    (
        "actions/sendmail.yaml",
        include_str!("core/actions/sendmail.yaml"),
    ),
    (
        "actions/send_mail/send_mail",
        include_str!("core/actions/send_mail/send_mail"),
    ),
];

/// The ref of the built-in pack.
pub(crate) const CORE_PACK: &str = "core";

/// Errors finding an action.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActionError {
    /// No such action.
    #[error("action \"{action_ref}\" is not found{hint}")]
    NotFound {
        /// What was asked for.
        action_ref: String,
        /// A suggestion, or what to do.
        hint: String,
    },
    /// The ref is not `<pack>.<name>`.
    #[error("\"{0}\" is not an action reference: use <pack>.<action>, e.g. core.local")]
    BadRef(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The built-in pack could not be written out for its Python actions.
    #[error("cannot write the built-in core pack to {path}: {reason}")]
    Builtin {
        /// Where.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// An action ready to run or show.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    /// What registration stored (or the built-in definition).
    pub record: ActionRecord,
    /// The pack's directory; `None` for the built-in pack until it is written out.
    pub pack_dir: Option<PathBuf>,
    /// Whether it is the built-in `core` pack's.
    pub builtin: bool,
}

impl Action {
    /// The effective parameter schema: runner parameters merged with the action's.
    pub(crate) fn schema(&self) -> Map<String, Value> {
        effective_parameters(&self.record.runner_type, &self.record.parameters)
    }
}

/// The built-in `core` actions.
pub(crate) fn builtin_actions() -> &'static [ActionRecord] {
    static ACTIONS: OnceLock<Vec<ActionRecord>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        CORE_FILES
            .iter()
            .filter(|(path, _)| path.starts_with("actions/") && path.ends_with(".yaml"))
            .map(|(path, text)| builtin_action(path, text))
            .collect()
    })
}

/// One built-in action from its file (checked by a unit test, so not at run time).
fn builtin_action(path: &str, text: &str) -> ActionRecord {
    let value = crate::yaml::from_str(text).expect("built-in core action is YAML");
    crate::register::trusted_action(CORE_PACK, path, value).expect("built-in core action is valid")
}

/// The built-in action `core.<name>`, reading only its own file (each is `<name>.yaml`).
fn builtin_lookup(action_ref: &str) -> Option<ActionRecord> {
    let name = action_ref.strip_prefix("core.")?;
    let path = format!("actions/{name}.yaml");
    CORE_FILES
        .iter()
        .find(|(file, _)| *file == path)
        .map(|(file, text)| builtin_action(file, text))
        .filter(|record| record.action_ref == action_ref)
}

/// What `st2 pack list/get` show as the built-in pack's path.
pub(crate) const BUILTIN_PATH: &str = "(built into st2)";

/// The built-in `core` pack as `st2 pack list/get` show it (upstream's `pack.yaml`), unless
/// the store holds a `core` pack of its own.
pub(crate) fn builtin_pack(store: Option<&Store>) -> Result<Option<PackRecord>, StoreError> {
    if core_registered(store)? {
        return Ok(None);
    }
    let metadata = crate::yaml::from_str(include_str!("core/pack.yaml"))
        .expect("the built-in core pack.yaml is YAML");
    let text = |key: &str| {
        metadata
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Some(PackRecord {
        pack_ref: CORE_PACK.to_string(),
        name: text("name"),
        description: text("description"),
        version: text("version"),
        author: text("author"),
        email: Some(text("email")),
        keywords: Vec::new(),
        path: PathBuf::from(BUILTIN_PATH),
        source: Some(serde_json::json!({"builtin": true})),
        registered_at: String::new(),
        metadata,
    }))
}

/// Whether the store holds its own `core` pack (then the built-in one is not used).
fn core_registered(store: Option<&Store>) -> Result<bool, StoreError> {
    Ok(match store {
        Some(store) => store.pack(CORE_PACK)?.is_some(),
        None => false,
    })
}

/// Find an action by ref: registered ones first, then the built-in `core` pack.
pub(crate) fn lookup(store: Option<&Store>, action_ref: &str) -> Result<Action, ActionError> {
    if !action_ref.contains('.') || action_ref.starts_with('.') || action_ref.ends_with('.') {
        return Err(ActionError::BadRef(action_ref.to_string()));
    }
    if let Some(store) = store {
        if let Some(record) = store.action(action_ref)? {
            let pack_dir = store.pack(&record.pack)?.map(|pack| pack.path);
            return Ok(Action {
                record,
                pack_dir,
                builtin: false,
            });
        }
    }
    if !core_registered(store)? {
        if let Some(record) = builtin_lookup(action_ref) {
            return Ok(Action {
                record,
                pack_dir: None,
                builtin: true,
            });
        }
    }
    let known: Vec<String> = list(store, None)?
        .into_iter()
        .map(|action| action.record.action_ref)
        .collect();
    let closest = known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(candidate, action_ref), candidate))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let pack = action_ref.split('.').next().unwrap_or_default();
    let hint = match closest {
        Some((_, candidate)) => format!("; did you mean \"{candidate}\"?"),
        None if known.iter().any(|known| known.starts_with(&format!("{pack}."))) => {
            format!("; `st2 action list --pack {pack}` lists the actions of pack \"{pack}\"")
        }
        None => format!(
            "; is pack \"{pack}\" installed and registered? (`st2 pack install {pack}`, `st2ctl reload`)"
        ),
    };
    Err(ActionError::NotFound {
        action_ref: action_ref.to_string(),
        hint,
    })
}

/// All actions (or those of one pack), by ref: registered ones and the built-in `core` pack.
pub(crate) fn list(store: Option<&Store>, pack: Option<&str>) -> Result<Vec<Action>, StoreError> {
    let mut actions: Vec<Action> = Vec::new();
    if let Some(store) = store {
        let paths: std::collections::HashMap<String, PathBuf> = store
            .packs()?
            .into_iter()
            .map(|pack| (pack.pack_ref, pack.path))
            .collect();
        for record in store.actions(pack)? {
            actions.push(Action {
                pack_dir: paths.get(&record.pack).cloned(),
                record,
                builtin: false,
            });
        }
    }
    if pack.is_none_or(|pack| pack == CORE_PACK) && !core_registered(store)? {
        actions.extend(builtin_actions().iter().map(|record| Action {
            record: record.clone(),
            pack_dir: None,
            builtin: true,
        }));
        actions.sort_by(|a, b| a.record.action_ref.cmp(&b.record.action_ref));
    }
    Ok(actions)
}

/// FNV-1a of every path and text of [`CORE_FILES`], computed at compile time: the name of
/// the written-out copy changes whenever a file does, also between builds of one version.
const CORE_FILES_HASH: u64 = {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut file = 0;
    while file < CORE_FILES.len() {
        let mut part = 0;
        while part < 2 {
            let bytes = if part == 0 {
                CORE_FILES[file].0.as_bytes()
            } else {
                CORE_FILES[file].1.as_bytes()
            };
            let mut at = 0;
            while at < bytes.len() {
                hash ^= bytes[at] as u64;
                hash = hash.wrapping_mul(0x0100_0000_01b3);
                at += 1;
            }
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            part += 1;
        }
        file += 1;
    }
    hash
};

/// The name of this build's copy of the built-in pack under the cache directory (other
/// builds, older or newer, have other names: `st2 pack prune` lists theirs).
pub(crate) fn builtin_pack_dir_name() -> String {
    format!(
        "builtin-core-{}-{CORE_FILES_HASH:016x}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The directory of the built-in pack, written out under the cache directory the first time
/// one of its script actions runs (atomically: a complete copy or none).
pub(crate) fn builtin_pack_dir(settings: &Settings) -> Result<PathBuf, ActionError> {
    let dir = settings.cache_dir().join(builtin_pack_dir_name());
    match crate::fs::write_tree_once(&dir, CORE_FILES) {
        Ok(()) => Ok(dir),
        Err(err) => Err(ActionError::Builtin {
            path: dir,
            reason: err.to_string(),
        }),
    }
}

/// The effective parameter schema of an action of `runner_type`: the runner's parameters,
/// deep-merged with the action's (the action may change `default`, `description`, `enum`,
/// `immutable` and `required`; registration refuses other changes).
pub(crate) fn effective_parameters(
    runner_type: &str,
    action_parameters: &Value,
) -> Map<String, Value> {
    merge_parameters(
        runner::parameters(runner_type).cloned().unwrap_or_default(),
        action_parameters,
    )
}

/// A runner's parameters deep-merged with an action's (see [`effective_parameters`]); the
/// remote backend gives the runner's as the cluster has them.
pub(crate) fn merge_parameters(
    mut merged: Map<String, Value>,
    action_parameters: &Value,
) -> Map<String, Value> {
    if let Value::Object(action_parameters) = action_parameters {
        for (name, schema) in action_parameters {
            match merged.get_mut(name) {
                Some(existing) => deep_update(existing, schema),
                None => {
                    merged.insert(name.clone(), schema.clone());
                }
            }
        }
    }
    merged
}

fn deep_update(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(target), Value::Object(update)) => {
            for (key, value) in update {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        deep_update(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, update) => *target = update.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_core_pack_has_stackstorms_actions() {
        let refs: Vec<&str> = builtin_actions()
            .iter()
            .map(|a| a.action_ref.as_str())
            .collect();
        for expected in [
            "core.local",
            "core.local_sudo",
            "core.echo",
            "core.noop",
            "core.http",
            "core.pause",
            "core.uuid",
            "core.error",
        ] {
            assert!(refs.contains(&expected), "{expected}");
        }
        let echo = lookup(None, "core.echo").unwrap();
        let schema = echo.schema();
        assert_eq!(schema["cmd"]["immutable"], true);
        assert_eq!(schema["cmd"]["default"], "echo \"{{message}}\"");
        // Runner parameters the action does not mention are there with their defaults.
        assert_eq!(schema["timeout"]["default"], 60);
        assert_eq!(schema["sudo"]["type"], "boolean");
        assert_eq!(schema["sudo"]["immutable"], true);
    }

    #[test]
    fn builtin_files_pass_registration_checks() {
        for (path, text) in CORE_FILES
            .iter()
            .filter(|(path, _)| path.starts_with("actions/") && path.ends_with(".yaml"))
        {
            let value = crate::yaml::from_str(text).unwrap();
            let checked = crate::register::action_from_value(CORE_PACK, path, value).unwrap();
            assert_eq!(
                builtin_lookup(&checked.action_ref),
                Some(checked.clone()),
                "{path}"
            );
        }
    }

    #[test]
    fn unknown_actions_get_a_hint() {
        let err = lookup(None, "core.locl").unwrap_err().to_string();
        assert!(err.contains("did you mean \"core.local\""), "{err}");
        let err = lookup(None, "nopack.x").unwrap_err().to_string();
        assert!(err.contains("st2 pack install nopack"), "{err}");
        assert!(matches!(lookup(None, "local"), Err(ActionError::BadRef(_))));
    }
}

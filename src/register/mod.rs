//! Registration: turning a pack directory into what the store holds about it.
//!
//! [`load_pack`] reads and checks everything first (pack metadata, every action metadata file,
//! the config schema, the other content types) without touching the store, so that a pack with
//! a bad file can be refused before anything changes;
//! [`Store::replace_pack`](crate::store::Store::replace_pack) then writes it in one
//! transaction. Files are parsed in parallel: the `aws` pack has about 3,600 action files,
//! which StackStorm registers at about 30 per second (st2#3686).
//!
//! This file holds the content types, [`LoadedPack`] and the reading of whole packs;
//! `actions.rs` the action metadata files and their checks, `content.rs` the other content
//! kinds, `config.rs` the config schema and the pack config ([`load_config`]), `files.rs` how
//! metadata files are found and parsed.
//!
//! Sources upstream: `st2common/st2common/bootstrap/base.py` (pack registration),
//! `actionsregistrar.py`, `st2common/st2common/models/api/action.py` (`ActionAPI`),
//! `st2common/st2common/validators/api/action.py`.

mod actions;
mod config;
mod content;
mod files;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

// `action::tests` checks the built-in actions with `action_from_value`.
#[cfg(test)]
pub(crate) use self::actions::action_from_value;
pub(crate) use self::actions::{trusted_action, ActionTally};
pub(crate) use self::config::{file_mtime_ns, load_config, CONFIG_SCHEMA_FILE_NAME};
use crate::pack::manifest::PackManifest;
use crate::runner;
use crate::store::{ActionRecord, ContentScope, PackRecord, PackRegistration, ResourceKind};

/// A content type `st2ctl reload` registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ContentType {
    /// `triggers/`.
    Triggers,
    /// `sensors/`.
    Sensors,
    /// Runner types (built in).
    Runners,
    /// `actions/`.
    Actions,
    /// `rules/`.
    Rules,
    /// `aliases/`.
    Aliases,
    /// `policies/`.
    Policies,
    /// `<base_path>/configs/<pack>.yaml`.
    Configs,
}

impl ContentType {
    /// Every type, in the fixed order StackStorm registers them (`--register-all`).
    pub(crate) const ALL: [ContentType; 8] = [
        ContentType::Triggers,
        ContentType::Sensors,
        ContentType::Runners,
        ContentType::Actions,
        ContentType::Rules,
        ContentType::Aliases,
        ContentType::Policies,
        ContentType::Configs,
    ];

    /// What `st2ctl reload` registers with no flag (policies are not among them).
    pub(crate) const DEFAULT: [ContentType; 7] = [
        ContentType::Triggers,
        ContentType::Sensors,
        ContentType::Runners,
        ContentType::Actions,
        ContentType::Rules,
        ContentType::Aliases,
        ContentType::Configs,
    ];

    /// The plural noun of the count line (`Registered 3 actions.`).
    pub(crate) fn plural(self) -> &'static str {
        match self {
            ContentType::Triggers => "triggers",
            ContentType::Sensors => "sensors",
            ContentType::Runners => "runners",
            ContentType::Actions => "actions",
            ContentType::Rules => "rules",
            ContentType::Aliases => "aliases",
            ContentType::Policies => "policies",
            ContentType::Configs => "configs",
        }
    }

    /// For content stored as a resource record: (folder in the pack, record kind).
    pub(crate) fn resource(self) -> Option<(&'static str, ResourceKind)> {
        match self {
            ContentType::Triggers => Some(("triggers", ResourceKind::Trigger)),
            ContentType::Sensors => Some(("sensors", ResourceKind::Sensor)),
            ContentType::Rules => Some(("rules", ResourceKind::Rule)),
            ContentType::Aliases => Some(("aliases", ResourceKind::Alias)),
            ContentType::Policies => Some(("policies", ResourceKind::Policy)),
            _ => None,
        }
    }
}

/// A set of content types to register.
pub(crate) type Selection = std::collections::BTreeSet<ContentType>;

/// Every content type: what an install registers.
pub(crate) fn all_content() -> Selection {
    ContentType::ALL.into_iter().collect()
}

/// The store's view of what a registration of `selection` replaces.
pub(crate) fn content_scope(selection: &Selection) -> ContentScope {
    ContentScope {
        actions: selection.contains(&ContentType::Actions),
        resource_kinds: selection
            .iter()
            .filter_map(|t| t.resource())
            .map(|(_, kind)| kind)
            .collect(),
    }
}

/// A pack that could not be registered: every problem found, one line each, in upstream's
/// message shapes (`Failed to register action "<file>" from pack "<pack>": <reason>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", failures.join("\n"))]
pub(crate) struct RegisterError {
    /// The pack (ref, or directory name when the ref could not be found).
    pub pack: String,
    /// One line per problem.
    pub failures: Vec<String>,
}

/// A pack read from disk and ready to be stored.
#[derive(Debug, Clone)]
pub(crate) struct LoadedPack {
    /// Its validated `pack.yaml`.
    pub manifest: PackManifest,
    /// What the store will hold.
    pub registration: PackRegistration,
    /// Non-fatal notes (e.g. an obsolete pack-local `config.yaml`).
    pub warnings: Vec<String>,
    /// Files that could not be read or failed validation, one line each in upstream's shapes
    /// (`Failed to register action "<file>" from pack "<pack>": <reason>`); they are left out
    /// of `registration`. Empty when every file is good.
    pub failures: Vec<String>,
    /// The pack-relative metadata files among `failures` (`actions/x.yaml`).
    pub failed_files: Vec<String>,
    /// Whether `config.schema.yaml` is among `failures` (`registration` then has no schema).
    pub config_schema_failed: bool,
}

impl LoadedPack {
    /// Whether anything in the pack runs Python from the pack (python-script actions, or
    /// sensors, which are Python classes), so that it needs a virtualenv.
    pub(crate) fn needs_python(&self) -> bool {
        self.registration
            .actions
            .iter()
            .any(|action| runner::needs_python(&action.runner_type))
            || self
                .registration
                .resources
                .iter()
                .any(|resource| resource.kind == ResourceKind::Sensor)
    }

    /// Runner types of its actions that `st2 run` cannot execute yet, with a count each.
    pub(crate) fn unsupported_runners(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for action in &self.registration.actions {
            if !runner::is_supported(&action.runner_type) {
                *counts.entry(action.runner_type.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// A warning naming the runners `st2 run` cannot execute yet, if any action uses one.
    pub(crate) fn unsupported_runners_warning(&self) -> Option<String> {
        let counts = self.unsupported_runners();
        if counts.is_empty() {
            return None;
        }
        let total: usize = counts.values().sum();
        let list: Vec<String> = counts
            .iter()
            .map(|(runner, count)| format!("{runner}: {count}"))
            .collect();
        Some(format!(
            "pack \"{}\": {total} {} st2 run does not support yet ({}); {} registered and listed, but running {} fails",
            self.registration.pack.pack_ref,
            if total == 1 { "action uses a runner" } else { "actions use runners" },
            list.join(", "),
            if total == 1 { "it is" } else { "they are" },
            if total == 1 { "it" } else { "them" },
        ))
    }
}

/// Read everything registration needs from `dir` for the pack `pack_ref`, all or nothing:
/// any bad file refuses the whole pack (what an install and a fail-on-failure run want).
///
/// `registered_path` is the directory the store will record (the final location when `dir` is
/// a staging copy); `source` says where the pack was installed from.
pub(crate) fn load_pack(
    dir: &Path,
    pack_ref: &str,
    manifest: PackManifest,
    registered_path: &Path,
    source: Option<Value>,
    selection: &Selection,
) -> Result<LoadedPack, RegisterError> {
    let loaded = read_pack(dir, pack_ref, manifest, registered_path, source, selection);
    if loaded.failures.is_empty() {
        Ok(loaded)
    } else {
        Err(RegisterError {
            pack: pack_ref.to_string(),
            failures: loaded.failures,
        })
    }
}

/// [`load_pack`], keeping the good files: the bad ones are listed in
/// [`LoadedPack::failures`] and left out of the registration, as StackStorm's registrars skip
/// them with `--register-no-fail-on-failure` (`bootstrap/actionsregistrar.py`,
/// `_register_actions_from_pack`; a bad config schema in `bootstrap/base.py`, `register_pack`,
/// leaves the pack registered without it).
pub(crate) fn read_pack(
    dir: &Path,
    pack_ref: &str,
    manifest: PackManifest,
    registered_path: &Path,
    source: Option<Value>,
    selection: &Selection,
) -> LoadedPack {
    let mut problems = Problems::default();
    let read: Result<_, std::convert::Infallible> =
        read_content(dir, pack_ref, selection, &mut problems, |problems| {
            Ok(if selection.contains(&ContentType::Actions) {
                actions::read_actions(dir, pack_ref, problems)
            } else {
                Vec::new()
            })
        });
    let Ok((config_schema, actions, resources)) = read;
    let pack = pack_record(pack_ref, &manifest, registered_path, source);
    loaded_pack(
        manifest,
        pack,
        config_schema,
        actions,
        resources,
        selection,
        problems,
    )
}

/// [`read_pack`] of the pack in `dir` (registered there, with no source: a reload), handing
/// each action to `write` as soon as it is read instead of keeping it (the registration in
/// the answer has none), so that a pack of thousands of actions is never held whole.
/// `write` stops the reading by returning an error, which is returned.
pub(crate) fn read_pack_streaming<E>(
    dir: &Path,
    pack_ref: &str,
    manifest: PackManifest,
    selection: &Selection,
    mut write: impl FnMut(ActionRecord) -> Result<(), E>,
) -> Result<StreamedPack, E> {
    let mut problems = Problems::default();
    let (config_schema, tally, resources) =
        read_content(dir, pack_ref, selection, &mut problems, |problems| {
            if selection.contains(&ContentType::Actions) {
                actions::stream_actions(dir, pack_ref, problems, |action, _| write(action))
            } else {
                Ok(ActionTally::default())
            }
        })?;
    let pack = pack_record(pack_ref, &manifest, dir, None);
    Ok(StreamedPack {
        loaded: loaded_pack(
            manifest,
            pack,
            config_schema,
            Vec::new(),
            resources,
            selection,
            problems,
        ),
        actions: tally,
    })
}

/// A pack read by [`read_pack_streaming`]: everything but its actions, which went to the
/// store, and what they were.
#[derive(Debug)]
pub(crate) struct StreamedPack {
    /// The pack, without actions.
    pub(crate) loaded: LoadedPack,
    /// Its actions.
    pub(crate) actions: ActionTally,
}

/// The config schema, the actions (as `read_actions` gives them) and the other content of
/// the pack in `dir`, in that order, the problems of each added to `problems`.
fn read_content<T, E>(
    dir: &Path,
    pack_ref: &str,
    selection: &Selection,
    problems: &mut Problems,
    read_actions: impl FnOnce(&mut Problems) -> Result<T, E>,
) -> Result<(Option<Value>, T, Vec<crate::store::ResourceRecord>), E> {
    if dir.join("config.yaml").is_file() {
        problems.warnings.push(format!(
            "pack \"{pack_ref}\" has a config.yaml inside the pack directory; StackStorm \
             stopped reading it in v2.4: move it to <base_path>/configs/{pack_ref}.yaml"
        ));
    }
    let config_schema = match config::load_config_schema(dir) {
        Ok(schema) => schema,
        Err(reason) => {
            problems
                .failures
                .push(format!("Failed to register pack \"{pack_ref}\": {reason}"));
            problems.config_schema_failed = true;
            None
        }
    };
    let actions = read_actions(problems)?;
    let resources = content::read_resources(dir, pack_ref, selection, problems);
    Ok((config_schema, actions, resources))
}

fn loaded_pack(
    manifest: PackManifest,
    pack: PackRecord,
    config_schema: Option<Value>,
    actions: Vec<ActionRecord>,
    resources: Vec<crate::store::ResourceRecord>,
    selection: &Selection,
    problems: Problems,
) -> LoadedPack {
    LoadedPack {
        manifest,
        registration: PackRegistration {
            pack,
            actions,
            config_schema,
            resources,
            scope: content_scope(selection),
        },
        warnings: problems.warnings,
        failures: problems.failures,
        failed_files: problems.failed_files,
        config_schema_failed: problems.config_schema_failed,
    }
}

/// What reading a pack found wrong, in the order found ([`LoadedPack`]'s fields of the same
/// names).
#[derive(Default)]
struct Problems {
    warnings: Vec<String>,
    failures: Vec<String>,
    failed_files: Vec<String>,
    config_schema_failed: bool,
}

impl Problems {
    /// The metadata file `file` of the pack in `dir` failed, as `message` says.
    fn file_failed(&mut self, dir: &Path, file: &Path, message: String) {
        self.failures.push(message);
        self.failed_files.push(files::relative_path(dir, file));
    }
}

/// The pack's own record, from its `pack.yaml`.
pub(crate) fn pack_record(
    pack_ref: &str,
    manifest: &PackManifest,
    registered_path: &Path,
    source: Option<Value>,
) -> PackRecord {
    PackRecord {
        pack_ref: pack_ref.to_string(),
        name: manifest.name.clone(),
        description: manifest.description.clone(),
        version: manifest.version.clone(),
        author: manifest.author.clone(),
        email: manifest.email.clone(),
        keywords: manifest.keywords.clone(),
        path: registered_path.to_path_buf(),
        metadata: Value::Object(manifest.metadata.clone()),
        source,
        registered_at: now_rfc3339(),
    }
}

/// The `pack.yaml` of `pack_dir` and the pack's ref (from it, or from the directory name), as
/// StackStorm's registrar finds them; a bad `pack.yaml` is an error naming the directory.
pub(crate) fn open_dir(pack_dir: &Path) -> Result<(PackManifest, String), RegisterError> {
    let dir_name = pack_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pack_error = |err: String| RegisterError {
        pack: dir_name.clone(),
        failures: vec![format!("Failed to register pack \"{dir_name}\": {err}")],
    };
    let manifest = PackManifest::load(pack_dir).map_err(|err| pack_error(err.to_string()))?;
    let pack_ref = manifest
        .registration_ref(&dir_name)
        .map_err(|err| pack_error(err.to_string()))?;
    Ok((manifest, pack_ref))
}

/// The current time as RFC 3339 in UTC, to the second.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn pack(dir: &Path) {
        write(
            dir,
            "pack.yaml",
            "name: demo\ndescription: d\nversion: 1.0.0\nauthor: a\n",
        );
    }

    fn load(dir: &Path) -> Result<LoadedPack, RegisterError> {
        let manifest = PackManifest::load(dir).unwrap();
        load_pack(dir, "demo", manifest, dir, None, &all_content())
    }

    #[test]
    fn loads_actions_but_not_workflows_and_counts_resources() {
        let dir = tempfile::tempdir().unwrap();
        pack(dir.path());
        write(
            dir.path(),
            "actions/hello.yaml",
            "name: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo\n",
        );
        write(
            dir.path(),
            "actions/flow.yml",
            "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n",
        );
        write(dir.path(), "actions/workflows/flow.yaml", "version: 1.0\n");
        write(dir.path(), "actions/config.yaml", "not: an action\n");
        write(dir.path(), "sensors/s.yaml", "class_name: MySensor\n");
        write(dir.path(), "rules/r.yaml", "name: on_event\n");
        write(
            dir.path(),
            "config.schema.yaml",
            "token:\n  type: string\n  secret: true\n",
        );
        let loaded = load(dir.path()).unwrap();
        let refs: Vec<&str> = loaded
            .registration
            .actions
            .iter()
            .map(|a| a.action_ref.as_str())
            .collect();
        assert_eq!(refs, vec!["demo.flow", "demo.hello"]);
        assert_eq!(loaded.registration.resources.len(), 2);
        assert_eq!(loaded.registration.resources[0].name, "MySensor");
        assert!(loaded.registration.config_schema.is_some());
        assert!(loaded.needs_python());
    }

    #[test]
    fn every_bad_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        pack(dir.path());
        write(
            dir.path(),
            "actions/a.yaml",
            "name: a\nrunner_type: mistral-v2\n",
        );
        write(
            dir.path(),
            "actions/b.yaml",
            "name: b\nrunner_type: noop\nbogus: 1\n",
        );
        write(dir.path(), "actions/c.yaml", "name: [c\n");
        write(dir.path(), "actions/d.yaml", "runner_type: noop\n");
        write(
            dir.path(),
            "actions/e.yaml",
            "name: e\nrunner_type: noop\nparameters:\n  a:\n    position: 0\n  b:\n    position: 2\n",
        );
        let err = load(dir.path()).unwrap_err();
        assert_eq!(err.failures.len(), 5, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("RunnerType mistral-v2 is not found"),
            "{text}"
        );
        assert!(text.contains("('bogus' was unexpected)"), "{text}");
        assert!(text.contains("c.yaml"), "{text}");
        assert!(text.contains("'name' is a required property"), "{text}");
        assert!(
            text.contains("[0, 2] for parameters are not contiguous"),
            "{text}"
        );
        assert!(text.contains("Failed to register action \""), "{text}");
    }

    #[test]
    fn config_schema_checks() {
        let dir = tempfile::tempdir().unwrap();
        pack(dir.path());
        write(dir.path(), "config.schema.yaml", "# nothing\n");
        assert!(load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("is empty and invalid"));
        write(
            dir.path(),
            "config.schema.yaml",
            "api-key:\n  type: string\n",
        );
        assert!(load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("'api-key' does not match"));
    }

    #[test]
    fn action_pack_field_must_match() {
        let err = action_from_value(
            "demo",
            "actions/x.yaml",
            json!({"name": "x", "runner_type": "noop", "pack": "other"}),
        )
        .unwrap_err();
        assert!(err.contains("field \"pack\" is different: other"), "{err}");
    }

    #[test]
    fn many_files_parse_in_parallel_in_order() {
        let dir = tempfile::tempdir().unwrap();
        pack(dir.path());
        for i in 0..200 {
            write(
                dir.path(),
                &format!("actions/a{i:03}.yaml"),
                &format!("name: a{i:03}\nrunner_type: python-script\nentry_point: a.py\n"),
            );
        }
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.registration.actions.len(), 200);
        assert_eq!(loaded.registration.actions[150].name, "a150");
    }
}

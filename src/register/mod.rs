//! Registration: turning a pack directory into what the store holds about it.
//!
//! [`load_pack`] reads and checks everything first (pack metadata, every action metadata file,
//! the config schema, the other content types) without touching the store, so that a pack with
//! a bad file can be refused before anything changes; [`Store::replace_pack`] then writes it in
//! one transaction. Files are parsed in parallel: the `aws` pack has about 3,600 action files,
//! which StackStorm registers at about 30 per second (st2#3686).
//!
//! Sources upstream: `st2common/st2common/bootstrap/base.py` (pack registration),
//! `actionsregistrar.py`, `st2common/st2common/models/api/action.py` (`ActionAPI`),
//! `st2common/st2common/validators/api/action.py`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::pack::manifest::{kind_of, PackManifest};
use crate::runner;
use crate::store::{
    ActionRecord, ConfigRecord, ContentScope, PackRecord, PackRegistration, ResourceKind,
    ResourceRecord,
};
use crate::yaml;

/// File name of a pack's config schema.
pub const CONFIG_SCHEMA_FILE_NAME: &str = "config.schema.yaml";

/// A content type `st2ctl reload` registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
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
    pub const ALL: [ContentType; 8] = [
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
    pub const DEFAULT: [ContentType; 7] = [
        ContentType::Triggers,
        ContentType::Sensors,
        ContentType::Runners,
        ContentType::Actions,
        ContentType::Rules,
        ContentType::Aliases,
        ContentType::Configs,
    ];

    /// The plural noun of the count line (`Registered 3 actions.`).
    pub fn plural(self) -> &'static str {
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
    pub fn resource(self) -> Option<(&'static str, ResourceKind)> {
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
pub type Selection = std::collections::BTreeSet<ContentType>;

/// Every content type: what an install registers.
pub fn all_content() -> Selection {
    ContentType::ALL.into_iter().collect()
}

/// The store's view of what a registration of `selection` replaces.
fn content_scope(selection: &Selection) -> ContentScope {
    ContentScope {
        actions: selection.contains(&ContentType::Actions),
        resource_kinds: selection
            .iter()
            .filter_map(|t| t.resource())
            .map(|(_, kind)| kind)
            .collect(),
    }
}

/// Fields an action metadata file may have (`ActionAPI.schema`, `additionalProperties: false`).
const ACTION_FIELDS: &[&str] = &[
    "id",
    "ref",
    "uid",
    "name",
    "description",
    "enabled",
    "runner_type",
    "entry_point",
    "pack",
    "parameters",
    "output_schema",
    "tags",
    "notify",
    "metadata_file",
];

/// A pack that could not be registered: every problem found, one line each, in upstream's
/// message shapes (`Failed to register action "<file>" from pack "<pack>": <reason>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", failures.join("\n"))]
pub struct RegisterError {
    /// The pack (ref, or directory name when the ref could not be found).
    pub pack: String,
    /// One line per problem.
    pub failures: Vec<String>,
}

/// A pack read from disk and ready to be stored.
#[derive(Debug, Clone)]
pub struct LoadedPack {
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
    pub fn needs_python(&self) -> bool {
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
    pub fn unsupported_runners(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for action in &self.registration.actions {
            if !runner::is_supported(&action.runner_type) {
                *counts.entry(action.runner_type.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// A warning naming the runners `st2 run` cannot execute yet, if any action uses one.
    pub fn unsupported_runners_warning(&self) -> Option<String> {
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
pub fn load_pack(
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
pub fn read_pack(
    dir: &Path,
    pack_ref: &str,
    manifest: PackManifest,
    registered_path: &Path,
    source: Option<Value>,
    selection: &Selection,
) -> LoadedPack {
    let mut failures = Vec::new();
    let mut failed_files = Vec::new();
    let mut warnings = Vec::new();
    let pack_failure = |reason: String| format!("Failed to register pack \"{pack_ref}\": {reason}");

    if dir.join("config.yaml").is_file() {
        warnings.push(format!(
            "pack \"{pack_ref}\" has a config.yaml inside the pack directory; StackStorm \
             stopped reading it in v2.4: move it to <base_path>/configs/{pack_ref}.yaml"
        ));
    }

    let mut config_schema_failed = false;
    let config_schema = match load_config_schema(dir) {
        Ok(schema) => schema,
        Err(reason) => {
            failures.push(pack_failure(reason));
            config_schema_failed = true;
            None
        }
    };

    let action_files = if selection.contains(&ContentType::Actions) {
        metadata_files(&dir.join("actions"), |name| {
            name != "config.yaml" && name != "config.yml"
        })
    } else {
        Vec::new()
    };
    let parsed = parse_in_parallel(&action_files, |file, value| {
        action_from_value(pack_ref, &relative_path(dir, file), value)
    });
    let mut actions = Vec::with_capacity(parsed.len());
    for (file, action) in action_files.iter().zip(parsed) {
        match action {
            Ok(action) => actions.push(action),
            Err(reason) => {
                failures.push(format!(
                    "Failed to register action \"{}\" from pack \"{pack_ref}\": {reason}",
                    file.display()
                ));
                failed_files.push(relative_path(dir, file));
            }
        }
    }
    // Two files defining one action: StackStorm upserts by ref, so the later file (in sorted
    // order) wins; `dimensiondata` ships such a pair. Keep that, and say so.
    let mut unique: Vec<ActionRecord> = Vec::with_capacity(actions.len());
    for action in actions {
        if let Some(earlier) = unique
            .iter_mut()
            .find(|a| a.action_ref == action.action_ref)
        {
            warnings.push(format!(
                "action \"{}\" is defined in both {} and {}; the later file wins, as in StackStorm",
                action.action_ref, earlier.metadata_file, action.metadata_file
            ));
            *earlier = action;
        } else {
            unique.push(action);
        }
    }
    let actions = unique;

    let mut resources = Vec::new();
    for (folder, kind) in selection.iter().filter_map(|t| t.resource()) {
        let files = metadata_files(&dir.join(folder), |_| true);
        let parsed = parse_in_parallel(&files, |file, value| {
            resource_from_value(pack_ref, kind, &relative_path(dir, file), value)
        });
        for (file, resource) in files.iter().zip(parsed) {
            match resource {
                Ok(resource) => resources.push(resource),
                Err(reason) => {
                    failures.push(format!(
                        "Failed to register {kind} \"{}\" from pack \"{pack_ref}\": {reason}",
                        file.display()
                    ));
                    failed_files.push(relative_path(dir, file));
                }
            }
        }
    }

    let pack = PackRecord {
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
    };
    LoadedPack {
        manifest,
        registration: PackRegistration {
            pack,
            actions,
            config_schema,
            resources,
            scope: content_scope(selection),
        },
        warnings,
        failures,
        failed_files,
        config_schema_failed,
    }
}

/// Read `pack_dir` as StackStorm's registrar does: its `pack.yaml`, the ref from it or from
/// the directory name, and the content types in `selection`. A bad `pack.yaml` is an error;
/// bad content files are listed in [`LoadedPack::failures`] ([`read_pack`]).
pub fn load_dir(pack_dir: &Path, selection: &Selection) -> Result<LoadedPack, RegisterError> {
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
    Ok(read_pack(
        pack_dir, &pack_ref, manifest, pack_dir, None, selection,
    ))
}

/// Read pack directories on all cores (each pack's files are parsed in parallel too);
/// results in the order of `dirs`.
pub fn load_dirs(
    dirs: &[PathBuf],
    selection: &Selection,
) -> Vec<Result<LoadedPack, RegisterError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(dirs.len().max(1));
    if threads <= 1 {
        return dirs.iter().map(|dir| load_dir(dir, selection)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<LoadedPack, RegisterError>>> =
        (0..dirs.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(dir) = dirs.get(index) else {
                    break;
                };
                let result = load_dir(dir, selection);
                done.lock()
                    .expect("no panics while holding")
                    .push((index, result));
            });
        }
    });
    for (index, result) in done.into_inner().expect("threads finished") {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|result| result.expect("every pack was loaded"))
        .collect()
}

/// A file's modification time in nanoseconds since the epoch, if it can be read.
pub fn file_mtime_ns(path: &Path) -> Option<i64> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|elapsed| elapsed.as_nanos() as i64)
}

/// Why a pack config could not be registered: one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", failures.join("\n"))]
pub struct ConfigError {
    /// One line per problem.
    pub failures: Vec<String>,
}

/// Read and check `<configs>/<pack>.yaml` for the pack `pack_ref` against its config schema
/// (spec `register-configs.md` §5). `Ok(None)` when there is no config file.
pub fn load_config(
    path: &Path,
    pack_ref: &str,
    schema: Option<&Value>,
) -> Result<Option<ConfigRecord>, ConfigError> {
    if !path.is_file() {
        return Ok(None);
    }
    let failed = |reason: String| ConfigError {
        failures: vec![format!(
            "Failed to register config \"{}\" for pack \"{pack_ref}\": {reason}",
            path.display()
        )],
    };
    let file_mtime_ns = file_mtime_ns(path);
    let values = match yaml::from_path(path).map_err(|err| failed(err.to_string()))? {
        // An empty file (or only comments) is an empty config.
        Value::Null => Value::Object(Map::new()),
        values @ Value::Object(_) => values,
        other => {
            return Err(failed(format!(
                "{} is not of type 'object'",
                crate::schema::repr::py_repr(&other)
            )))
        }
    };
    if let Some(Value::Object(schema)) = schema {
        if let Err(invalid) = crate::schema::validate_config(schema, &values) {
            return Err(ConfigError {
                failures: invalid
                    .errors
                    .iter()
                    .map(|error| {
                        format!(
                            "Failed validating attribute \"{}\" in config for pack \"{pack_ref}\" \
                             ({}): {}",
                            error.dotted_path(),
                            path.display(),
                            error.message
                        )
                    })
                    .collect(),
            });
        }
    }
    Ok(Some(ConfigRecord {
        pack: pack_ref.to_string(),
        values,
        file: path.to_path_buf(),
        file_mtime_ns,
        registered_at: now_rfc3339(),
    }))
}

/// `<pack>/config.schema.yaml`, checked for what registration checks: a non-empty mapping of
/// property schemas whose keys are words.
fn load_config_schema(dir: &Path) -> Result<Option<Value>, String> {
    let path = dir.join(CONFIG_SCHEMA_FILE_NAME);
    if !path.is_file() {
        return Ok(None);
    }
    let value = yaml::from_path(&path).map_err(|err| err.to_string())?;
    let map = match value {
        Value::Null => {
            return Err(format!(
                "Config schema \"{}\" is empty and invalid.",
                path.display()
            ))
        }
        Value::Object(map) if map.is_empty() => {
            return Err(format!(
                "Config schema \"{}\" is empty and invalid.",
                path.display()
            ))
        }
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "{}: expected a mapping of properties, got {}",
                path.display(),
                kind_of(&other)
            ))
        }
    };
    let schema = Value::Object(map);
    crate::schema::check_config_schema(&schema)
        .map_err(|message| format!("{}: {message}", path.display()))?;
    Ok(Some(schema))
}

pub(crate) fn action_from_value(
    pack_ref: &str,
    metadata_file: &str,
    value: Value,
) -> Result<ActionRecord, String> {
    action_record(pack_ref, metadata_file, value, true)
}

/// An action record from metadata known to be valid (the built-in core pack, whose files a
/// unit test checks): the parameter schema checks, which compile Unicode regexes, are
/// skipped.
pub(crate) fn trusted_action(
    pack_ref: &str,
    metadata_file: &str,
    value: Value,
) -> Result<ActionRecord, String> {
    action_record(pack_ref, metadata_file, value, false)
}

fn action_record(
    pack_ref: &str,
    metadata_file: &str,
    value: Value,
    check: bool,
) -> Result<ActionRecord, String> {
    // Upstream's order (`_register_action`): the `pack` field, then `ActionAPI`'s schema, then
    // the runner, then the parameters against the runner's (`validate_action`); the first
    // problem is the one reported.
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Err("the metadata file is empty".into()),
        other => return Err(format!("expected a mapping, got {}", kind_of(&other))),
    };
    // A missing, null or empty `pack` means this pack (`if not pack_field`).
    match map.get("pack") {
        None | Some(Value::Null) => {}
        Some(Value::String(pack)) if pack.is_empty() || pack == pack_ref => {}
        Some(other) => {
            let shown = match other {
                Value::String(text) => text.clone(),
                other => crate::schema::repr::py_repr(other),
            };
            return Err(format!(
                "Model is in pack \"{pack_ref}\" but field \"pack\" is different: {shown}"
            ));
        }
    }
    if let Some(extra) = map
        .keys()
        .find(|key| !ACTION_FIELDS.contains(&key.as_str()))
    {
        return Err(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        ));
    }
    let name = required_string(&map, "name")?;
    let runner_type = required_string(&map, "runner_type")?;
    let description = optional_string(&map, "description")?;
    let entry_point = optional_string(&map, "entry_point")?.unwrap_or_default();
    let enabled = match map.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(other) => {
            return Err(format!(
                "\"enabled\": expected a boolean, got {}",
                kind_of(other)
            ))
        }
    };
    let parameters = match map.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(parameters)) => parameters.clone(),
        Some(other) => {
            return Err(format!(
                "\"parameters\": expected a mapping, got {}",
                kind_of(other)
            ))
        }
    };
    if check {
        check_parameter_names(&parameters)?;
        crate::schema::check_parameters_schema(&Value::Object(parameters.clone()))
            .map_err(|message| format!("parameters: {message}"))?;
        if let Some(output_schema) = map.get("output_schema").filter(|value| !value.is_null()) {
            crate::schema::check_output_schema(output_schema)
                .map_err(|message| format!("output_schema: {message}"))?;
        }
    }
    match map.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            if let Some(tag) = tags.iter().find(|tag| !tag.is_object()) {
                return Err(format!(
                    "\"tags\": {} is not of type 'object'",
                    crate::schema::repr::py_repr(tag)
                ));
            }
        }
        Some(other) => return Err(format!("\"tags\": expected a list, got {}", kind_of(other))),
    }
    match map.get("notify") {
        None | Some(Value::Null) => {}
        Some(Value::Object(notify)) => check_notify(notify)?,
        Some(other) => {
            return Err(format!(
                "\"notify\": expected a mapping, got {}",
                kind_of(other)
            ))
        }
    }
    if !runner::is_known(&runner_type) {
        return Err(format!(
            "RunnerType {runner_type} is not found. Known runner types: {}",
            runner::RUNNER_TYPES.join(", ")
        ));
    }
    if check {
        check_against_runner(&format!("{pack_ref}.{name}"), &runner_type, &parameters)?;
    }
    Ok(ActionRecord {
        action_ref: format!("{pack_ref}.{name}"),
        pack: pack_ref.to_string(),
        name,
        runner_type,
        description,
        enabled,
        entry_point,
        parameters: Value::Object(parameters),
        metadata_file: metadata_file.to_string(),
        metadata: Value::Object(map).to_string(),
    })
}

/// `notify` as `ActionAPI` has it: `on-complete`, `on-failure`, `on-success`, each a mapping
/// of `message` (string), `data` (mapping), `routes`/`channels` (lists).
fn check_notify(notify: &Map<String, Value>) -> Result<(), String> {
    const WHEN: &[&str] = &["on-complete", "on-failure", "on-success"];
    const FIELDS: &[(&str, &str)] = &[
        ("message", "string"),
        ("data", "object"),
        ("routes", "array"),
        ("channels", "array"),
    ];
    if let Some(extra) = notify.keys().find(|key| !WHEN.contains(&key.as_str())) {
        return Err(format!(
            "\"notify\": Additional properties are not allowed ('{extra}' was unexpected)"
        ));
    }
    for (when, settings) in notify {
        let Value::Object(settings) = settings else {
            return Err(format!(
                "\"notify.{when}\": {} is not of type 'object'",
                crate::schema::repr::py_repr(settings)
            ));
        };
        for (field, value) in settings {
            let Some((_, expected)) = FIELDS.iter().find(|(name, _)| name == field) else {
                return Err(format!(
                    "\"notify.{when}\": Additional properties are not allowed ('{field}' was \
                     unexpected)"
                ));
            };
            let matches = match *expected {
                "string" => value.is_string(),
                "object" => value.is_object(),
                _ => value.is_array(),
            };
            if !matches {
                return Err(format!(
                    "\"notify.{when}.{field}\": {} is not of type '{expected}'",
                    crate::schema::repr::py_repr(value)
                ));
            }
        }
    }
    Ok(())
}

/// What an action may change of a runner parameter (upstream `RUNNER_PARAM_OVERRIDABLE_ATTRS`).
const RUNNER_PARAM_OVERRIDABLE: &[&str] =
    &["default", "description", "enum", "immutable", "required"];

/// Parameter names are words and each schema is a mapping (`ActionAPI`'s
/// `patternProperties: {"^\\w+$": ...}, additionalProperties: false`, with the registrar's
/// friendlier message).
fn check_parameter_names(parameters: &Map<String, Value>) -> Result<(), String> {
    for (name, schema) in parameters {
        if !is_word(name) {
            return Err(format!(
                "Parameter name \"{name}\" is invalid. Valid characters for parameter name are \
                 [a-zA-Z0-0_]."
            ));
        }
        if !schema.is_object() {
            return Err(format!(
                "parameter \"{name}\": expected a mapping (a parameter schema), got {}",
                kind_of(schema)
            ));
        }
    }
    Ok(())
}

/// Upstream's `_validate_parameters` (`st2common/st2common/validators/api/action.py`), per
/// parameter in file order: a runner parameter may be redeclared only to change its default,
/// description, enum, immutable or required; `position`s are unique; an `immutable` parameter
/// is not one the runner declares immutable and has a default; then the positions are
/// contiguous.
fn check_against_runner(
    action_ref: &str,
    runner_type: &str,
    parameters: &Map<String, Value>,
) -> Result<(), String> {
    let empty = Map::new();
    let runner = runner::parameters(runner_type).unwrap_or(&empty);
    let mut positions: Vec<(i64, &str)> = Vec::new();
    for (name, schema) in parameters {
        let Value::Object(schema) = schema else {
            continue;
        };
        let runner_schema = runner.get(name).and_then(Value::as_object);
        if let Some(runner_schema) = runner_schema {
            for (attribute, value) in schema {
                if RUNNER_PARAM_OVERRIDABLE.contains(&attribute.as_str())
                    || runner_schema.get(attribute).is_some_and(|runner_value| {
                        crate::schema::validator::py_eq(runner_value, value)
                    })
                {
                    continue;
                }
                return Err(format!(
                    "The attribute \"{attribute}\" for the runner parameter \"{name}\" in action \"{action_ref}\" cannot be overridden."
                ));
            }
        }
        if let Some(position) = schema.get("position") {
            let Some(position) = position.as_i64().filter(|p| *p >= 0) else {
                return Err(format!(
                    "parameter \"{name}\": \"position\" must be a non-negative integer, got {}",
                    kind_of(position)
                ));
            };
            if let Some((_, other)) = positions.iter().find(|(p, _)| *p == position) {
                return Err(format!(
                    "Parameters {name} and {other} have same position {position}. Position \
                     values have to be unique."
                ));
            }
            positions.push((position, name));
        }
        if schema.contains_key("immutable") {
            let runner_default = runner_schema.is_some_and(|r| r.contains_key("default"));
            if runner_schema.is_some_and(|r| r.contains_key("immutable")) {
                return Err(format!(
                    "Param {name} is declared immutable in runner. Cannot override in action."
                ));
            }
            if !schema.contains_key("default") && !runner_default {
                return Err(format!("Immutable param {name} requires a default value."));
            }
        }
    }
    positions.sort();
    if positions.windows(2).any(|pair| pair[1].0 != pair[0].0 + 1) {
        let list: Vec<String> = positions.iter().map(|(p, _)| p.to_string()).collect();
        return Err(format!(
            "Positions supplied [{}] for parameters are not contiguous.",
            list.join(", ")
        ));
    }
    Ok(())
}

fn resource_from_value(
    pack_ref: &str,
    kind: ResourceKind,
    metadata_file: &str,
    value: Value,
) -> Result<ResourceRecord, String> {
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Err("the metadata file is empty".into()),
        other => return Err(format!("expected a mapping, got {}", kind_of(&other))),
    };
    // Sensors are named by `class_name` upstream; everything else by `name`.
    let name = ["name", "class_name"]
        .iter()
        .find_map(|field| map.get(*field).and_then(Value::as_str))
        .map(str::to_string)
        .unwrap_or_else(|| {
            Path::new(metadata_file)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    Ok(ResourceRecord {
        pack: pack_ref.to_string(),
        kind,
        name,
        metadata_file: metadata_file.to_string(),
        metadata: Value::Object(map).to_string(),
    })
}

fn required_string(map: &Map<String, Value>, field: &str) -> Result<String, String> {
    match map.get(field) {
        None | Some(Value::Null) => Err(format!("'{field}' is a required property")),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(format!(
            "\"{field}\": expected a string, got {}",
            kind_of(other)
        )),
    }
}

fn optional_string(map: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!(
            "\"{field}\": expected a string, got {}",
            kind_of(other)
        )),
    }
}

/// `^\w+$` for ASCII names, as upstream validates parameter and config keys.
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `*.yaml` and `*.yml` files directly in `dir` (not recursive), sorted; a missing folder has
/// none.
fn metadata_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.ends_with(".yaml") || name.ends_with(".yml")) && keep(name)
        })
        .collect();
    files.sort();
    files
}

/// Parse YAML files on all cores; results in the order of `files`.
/// Parse `files` and turn each into a record with `convert`, on several threads; each file's
/// parsed tree is dropped as soon as its record is made.
fn parse_in_parallel<T: Send>(
    files: &[PathBuf],
    convert: impl Fn(&Path, Value) -> Result<T, String> + Sync,
) -> Vec<Result<T, String>> {
    let parse = |file: &PathBuf| {
        yaml::from_path(file)
            .map_err(|err| err.to_string())
            .and_then(|value| convert(file, value))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if files.len() < 64 || threads == 1 {
        return files.iter().map(parse).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("YAML parsing does not panic"))
            .collect()
    })
}

fn relative_path(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// The current time as RFC 3339 in UTC, to the second.
pub fn now_rfc3339() -> String {
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

//! Action metadata files (`actions/*.yaml`) into action records, checked as StackStorm's
//! registrar checks them: `ActionAPI`'s schema (`st2common/st2common/models/api/action.py`),
//! the runner, and the parameters against the runner's
//! (`st2common/st2common/validators/api/action.py`).

use std::path::Path;

use serde_json::{Map, Value};

use super::files::{metadata_files, metadata_mapping, parse_streaming, relative_path};
use super::Problems;
use crate::pack::manifest::kind_of;
use crate::runner;
use crate::store::ActionRecord;

/// Every action of the pack in `dir`; the bad files are added to `problems`.
pub(super) fn read_actions(
    dir: &Path,
    pack_ref: &str,
    problems: &mut Problems,
) -> Vec<ActionRecord> {
    let mut actions: Vec<ActionRecord> = Vec::new();
    let result: Result<ActionTally, std::convert::Infallible> =
        stream_actions(dir, pack_ref, problems, |action, earlier| {
            match earlier.and_then(|_| {
                actions
                    .iter_mut()
                    .find(|a| a.action_ref == action.action_ref)
            }) {
                Some(earlier) => *earlier = action,
                None => actions.push(action),
            }
            Ok(())
        });
    let Ok(_) = result;
    actions
}

/// The actions of the pack in `dir`, each handed to `write` as soon as it is read (in file
/// order; none is kept), with the file that defined the same action earlier, if one did:
/// StackStorm upserts by ref, so the later file (in sorted order) wins, and a warning says so
/// (`dimensiondata` ships such a pair). The bad files are added to `problems`. `write`
/// stops the walk by returning an error. Returns how many actions there are, and whether any
/// runs Python from the pack.
pub(super) fn stream_actions<E>(
    dir: &Path,
    pack_ref: &str,
    problems: &mut Problems,
    mut write: impl FnMut(ActionRecord, Option<&str>) -> Result<(), E>,
) -> Result<ActionTally, E> {
    let files = metadata_files(&dir.join("actions"), |name| {
        name != "config.yaml" && name != "config.yml"
    });
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut tally = ActionTally::default();
    parse_streaming(
        &files,
        |file, value| action_from_value(pack_ref, &relative_path(dir, file), value),
        |file, action| {
            let action = match action {
                Ok(action) => action,
                Err(reason) => {
                    problems.file_failed(
                        dir,
                        file,
                        format!(
                            "Failed to register action \"{}\" from pack \"{pack_ref}\": {reason}",
                            file.display()
                        ),
                    );
                    return Ok(());
                }
            };
            tally.python |= runner::needs_python(&action.runner_type);
            let earlier = seen.insert(action.action_ref.clone(), action.metadata_file.clone());
            match &earlier {
                Some(earlier) => problems.warnings.push(format!(
                    "action \"{}\" is defined in both {earlier} and {}; the later file wins, as in StackStorm",
                    action.action_ref, action.metadata_file
                )),
                None => tally.count += 1,
            }
            write(action, earlier.as_deref())
        },
    )?;
    Ok(tally)
}

/// What [`stream_actions`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ActionTally {
    /// Actions (one per ref).
    pub(crate) count: u64,
    /// Whether one of them runs Python from the pack (python-script).
    pub(crate) python: bool,
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

/// The checks run in upstream's order (`_register_action` in
/// `st2common/st2common/bootstrap/actionsregistrar.py`): the `pack` field, then `ActionAPI`'s
/// schema, then the runner, then the parameters against the runner's (`validate_action`); the
/// first problem is the one reported. `check: false` skips the parameter schema checks.
fn action_record(
    pack_ref: &str,
    metadata_file: &str,
    value: Value,
    check: bool,
) -> Result<ActionRecord, String> {
    let map = metadata_mapping(value)?;
    check_pack_field(&map, pack_ref)?;
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
    let enabled = enabled_field(&map)?;
    let parameters = parameters_field(&map)?;
    if check {
        check_schemas(&map, &parameters)?;
    }
    check_tags(&map)?;
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

/// A missing, null or empty `pack` means this pack (`if not pack_field`); another is refused.
fn check_pack_field(map: &Map<String, Value>, pack_ref: &str) -> Result<(), String> {
    match map.get("pack") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(pack)) if pack.is_empty() || pack == pack_ref => Ok(()),
        Some(other) => {
            let shown = match other {
                Value::String(text) => text.clone(),
                other => crate::schema::repr::py_repr(other),
            };
            Err(format!(
                "Model is in pack \"{pack_ref}\" but field \"pack\" is different: {shown}"
            ))
        }
    }
}

/// `enabled`: a boolean, true when missing.
fn enabled_field(map: &Map<String, Value>) -> Result<bool, String> {
    match map.get("enabled") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(enabled)) => Ok(*enabled),
        Some(other) => Err(format!(
            "\"enabled\": expected a boolean, got {}",
            kind_of(other)
        )),
    }
}

/// `parameters`: a mapping, empty when missing.
fn parameters_field(map: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    match map.get("parameters") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(parameters)) => Ok(parameters.clone()),
        Some(other) => Err(format!(
            "\"parameters\": expected a mapping, got {}",
            kind_of(other)
        )),
    }
}

/// The parameter names and schemas, and the output schema.
fn check_schemas(map: &Map<String, Value>, parameters: &Map<String, Value>) -> Result<(), String> {
    check_parameter_names(parameters)?;
    crate::schema::check_parameters_schema(&Value::Object(parameters.clone()))
        .map_err(|message| format!("parameters: {message}"))?;
    if let Some(output_schema) = map.get("output_schema").filter(|value| !value.is_null()) {
        crate::schema::check_output_schema(output_schema)
            .map_err(|message| format!("output_schema: {message}"))?;
    }
    Ok(())
}

/// `tags`: a list of mappings.
fn check_tags(map: &Map<String, Value>) -> Result<(), String> {
    match map.get("tags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(tags)) => match tags.iter().find(|tag| !tag.is_object()) {
            Some(tag) => Err(format!(
                "\"tags\": {} is not of type 'object'",
                crate::schema::repr::py_repr(tag)
            )),
            None => Ok(()),
        },
        Some(other) => Err(format!("\"tags\": expected a list, got {}", kind_of(other))),
    }
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
/// friendlier message). Its `[a-zA-Z0-0_]` is upstream's typo, copied on purpose so that the
/// message reads as StackStorm's (`_register_action` in
/// `st2common/st2common/bootstrap/actionsregistrar.py`).
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

/// `^\w+$` as Python's `re` reads it (Unicode letters and digits, and `_`), as `ActionAPI`
/// validates parameter names.
fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

//! A pack's config schema (`config.schema.yaml`, read with the pack) and its config
//! (`<configs>/<pack>.yaml`, read and checked against that schema: [`load_config`]).

use std::path::Path;

use serde_json::{Map, Value};

use super::now_rfc3339;
use crate::pack::manifest::kind_of;
use crate::store::ConfigRecord;
use crate::yaml;

/// File name of a pack's config schema.
pub(crate) const CONFIG_SCHEMA_FILE_NAME: &str = "config.schema.yaml";

/// Why a pack config could not be registered: one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", failures.join("\n"))]
pub(crate) struct ConfigError {
    /// One line per problem.
    pub failures: Vec<String>,
}

/// Read and check `<configs>/<pack>.yaml` for the pack `pack_ref` against its config schema
/// (spec `register-configs.md` §5). `Ok(None)` when there is no config file.
pub(crate) fn load_config(
    path: &Path,
    pack_ref: &str,
    schema: Option<&Value>,
) -> Result<Option<ConfigRecord>, ConfigError> {
    if !path.is_file() {
        return Ok(None);
    }
    let file_mtime_ns = file_mtime_ns(path);
    let values = config_values(path, pack_ref)?;
    if let Some(Value::Object(schema)) = schema {
        check_against_schema(path, pack_ref, schema, &values)?;
    }
    Ok(Some(ConfigRecord {
        pack: pack_ref.to_string(),
        values,
        file: path.to_path_buf(),
        file_mtime_ns,
        registered_at: now_rfc3339(),
    }))
}

/// The config file's values: a mapping (an empty file, or only comments, is an empty one).
fn config_values(path: &Path, pack_ref: &str) -> Result<Value, ConfigError> {
    let failed = |reason: String| ConfigError {
        failures: vec![format!(
            "Failed to register config \"{}\" for pack \"{pack_ref}\": {reason}",
            path.display()
        )],
    };
    match yaml::from_path(path).map_err(|err| failed(err.to_string()))? {
        Value::Null => Ok(Value::Object(Map::new())),
        values @ Value::Object(_) => Ok(values),
        other => Err(failed(format!(
            "{} is not of type 'object'",
            crate::schema::repr::py_repr(&other)
        ))),
    }
}

/// Every way `values` fails the pack's config schema, one line each.
fn check_against_schema(
    path: &Path,
    pack_ref: &str,
    schema: &Map<String, Value>,
    values: &Value,
) -> Result<(), ConfigError> {
    let Err(invalid) = crate::schema::validate_config(schema, values) else {
        return Ok(());
    };
    Err(ConfigError {
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
    })
}

/// `<pack>/config.schema.yaml`, checked for what registration checks: a non-empty mapping of
/// property schemas whose keys are words.
pub(super) fn load_config_schema(dir: &Path) -> Result<Option<Value>, String> {
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

/// A file's modification time in nanoseconds since the epoch, if it can be read.
pub(crate) fn file_mtime_ns(path: &Path) -> Option<i64> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|elapsed| elapsed.as_nanos() as i64)
}

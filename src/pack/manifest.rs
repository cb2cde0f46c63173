//! `pack.yaml`: reading and validating a pack's metadata as StackStorm does
//! (`st2common/st2common/models/api/pack.py`, `PackAPI`; `util/pack.py`; and
//! `verify_pack_version` in `util/pack_management.py`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::settings::STACKSTORM_VERSION;
use crate::yaml;

/// File name of the pack manifest (`MANIFEST_FILE_NAME` upstream).
pub(crate) const MANIFEST_FILE_NAME: &str = "pack.yaml";

/// Pack refs that no pack may take (`RESERVED_PACK_LIST`).
const RESERVED_REFS: &[&str] = &["_global"];
/// Packs built into StackStorm; a user pack may not be installed under these refs.
pub(crate) const SYSTEM_PACKS: &[&str] = &["core", "packs", "linux", "chatops"];
/// Refs a user pack may not have (`USER_PACK_NAME_BLACKLIST`).
const USER_PACK_BLACKLIST: &[&str] = &["core", "packs"];

/// A problem with a pack's metadata, naming the file and, where there is one, the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ManifestError {
    /// No `pack.yaml` in the directory.
    #[error("{}: Pack is missing a manifest file ({MANIFEST_FILE_NAME}).", dir.display())]
    Missing {
        /// The pack directory.
        dir: PathBuf,
    },
    /// `pack.yaml` could not be read or parsed (YAML errors carry line and column).
    #[error("{0}")]
    Yaml(String),
    /// `pack.yaml` is empty.
    #[error("{}: Pack metadata file is empty", file.display())]
    Empty {
        /// The manifest.
        file: PathBuf,
    },
    /// A field is missing or wrong.
    #[error("{}: field \"{field}\": {message}", file.display())]
    Field {
        /// The manifest.
        file: PathBuf,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The pack declares it does not work with this StackStorm or Python version.
    #[error("{message}")]
    Incompatible {
        /// Upstream's message, which suggests `--force`.
        message: String,
    },
}

/// A validated `pack.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PackManifest {
    /// The manifest file.
    pub file: PathBuf,
    /// All fields as written (extra fields are allowed and kept).
    pub metadata: Map<String, Value>,
    /// `name`.
    pub name: String,
    /// `ref`, when given.
    pub declared_ref: Option<String>,
    /// `description`.
    pub description: String,
    /// `version` (a number in the file is read as its string, as upstream casts it).
    pub version: String,
    /// `author`.
    pub author: String,
    /// `email`.
    pub email: Option<String>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `dependencies`: PACK arguments, as for `st2 pack install`.
    pub dependencies: Vec<String>,
    /// `stackstorm_version`: comparators such as `>=3.0.0, <4.0.0`.
    pub stackstorm_version: Option<String>,
    /// `python_versions`: `"2"` and/or `"3"`.
    pub python_versions: Vec<String>,
}

impl PackManifest {
    /// Read and validate `<dir>/pack.yaml`.
    pub(crate) fn load(dir: &Path) -> Result<PackManifest, ManifestError> {
        let file = dir.join(MANIFEST_FILE_NAME);
        if !file.is_file() {
            return Err(ManifestError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        let value = yaml::from_path(&file).map_err(|err| ManifestError::Yaml(err.to_string()))?;
        PackManifest::from_value(&file, value)
    }

    /// Validate already parsed metadata read from `file`.
    pub(crate) fn from_value(file: &Path, value: Value) -> Result<PackManifest, ManifestError> {
        let metadata = match value {
            Value::Null => {
                return Err(ManifestError::Empty {
                    file: file.to_path_buf(),
                })
            }
            Value::Object(map) => map,
            other => {
                return Err(field_error(
                    file,
                    "(top level)",
                    format!("expected a mapping, got {}", kind_of(&other)),
                ))
            }
        };
        // The fields are checked in this order: the first that fails is the error.
        let fields = Fields {
            file,
            metadata: &metadata,
        };
        let name = fields.required_string("name")?;
        let description = fields.required_string("description")?;
        let author = fields.required_string("author")?;
        let version = fields.version()?;
        let declared_ref = fields.declared_ref()?;
        let stackstorm_version = fields.stackstorm_version()?;
        let python_versions = fields.python_versions()?;
        if let Some(system) = metadata.get("system") {
            if !system.is_object() && !system.is_null() {
                return Err(fields.error(
                    "system",
                    format!("expected a mapping, got {}", kind_of(system)),
                ));
            }
        }
        fields.string_list("contributors")?;
        let email = fields.optional_string("email")?;
        let keywords = fields.string_list("keywords")?;
        let dependencies = fields.string_list("dependencies")?;
        Ok(PackManifest {
            file: file.to_path_buf(),
            email,
            keywords,
            dependencies,
            name,
            declared_ref,
            description,
            version,
            author,
            stackstorm_version,
            python_versions,
            metadata,
        })
    }

    /// The ref a pack gets when installed: `ref`, else `name` when it is a valid ref
    /// (`get_pack_ref_from_metadata` without a directory name, as the installer calls it).
    pub(crate) fn install_ref(&self) -> Result<String, ManifestError> {
        self.resolve_ref(None)
    }

    /// The ref a pack gets when registered from `<dir_name>`: `ref`, else the directory name
    /// when valid, else `name` when valid.
    pub(crate) fn registration_ref(&self, dir_name: &str) -> Result<String, ManifestError> {
        self.resolve_ref(Some(dir_name))
    }

    fn resolve_ref(&self, dir_name: Option<&str>) -> Result<String, ManifestError> {
        let pack_ref = if let Some(pack_ref) = &self.declared_ref {
            pack_ref.clone()
        } else if let Some(dir_name) = dir_name.filter(|name| is_valid_ref(name)) {
            dir_name.to_string()
        } else if is_valid_ref(&self.name) {
            self.name.clone()
        } else {
            return Err(ManifestError::Field {
                file: self.file.clone(),
                field: "name".into(),
                message: format!(
                    "Pack name \"{}\" contains invalid characters and \"ref\" attribute is not \
                     available. You either need to add \"ref\" attribute which contains only word \
                     characters to the pack metadata file or update name attribute to contain \
                     only word characters.",
                    self.name
                ),
            });
        };
        if RESERVED_REFS.contains(&pack_ref.as_str()) {
            return Err(ManifestError::Field {
                file: self.file.clone(),
                field: "ref".into(),
                message: format!("Pack ref \"{pack_ref}\" is reserved"),
            });
        }
        Ok(pack_ref)
    }

    /// Refuse refs that belong to StackStorm's own packs (`core`, `packs`): a user pack
    /// installed there would shadow them.
    pub(crate) fn check_user_pack_ref(&self, pack_ref: &str) -> Result<(), ManifestError> {
        if USER_PACK_BLACKLIST.contains(&pack_ref) {
            return Err(ManifestError::Field {
                file: self.file.clone(),
                field: "ref".into(),
                message: format!(
                    "Pack ref \"{pack_ref}\" is reserved for a StackStorm system pack; \
                     choose another ref"
                ),
            });
        }
        Ok(())
    }

    /// Check `stackstorm_version` and `python_versions` against what we run
    /// (`verify_pack_version`); `--force` skips this.
    pub(crate) fn check_compatibility(&self) -> Result<(), ManifestError> {
        if let Some(requirement) = &self.stackstorm_version {
            let matches = parse_version_requirement(requirement)
                .map(|comparators| {
                    let current = semver::Version::parse(STACKSTORM_VERSION).expect("valid");
                    comparators.iter().all(|c| c.matches(&current))
                })
                .unwrap_or(false);
            if !matches {
                return Err(ManifestError::Incompatible {
                    message: format!(
                        "Pack \"{}\" requires StackStorm \"{requirement}\", but current version \
                         is \"{STACKSTORM_VERSION}\". You can override this restriction by \
                         providing the \"force\" flag, but the pack is not guaranteed to work.",
                        self.name
                    ),
                });
            }
        }
        if self.python_versions == ["2"] {
            return Err(ManifestError::Incompatible {
                message: format!(
                    "Pack \"{}\" requires Python 2.x, but current Python version is \"3\". You \
                     can override this restriction by providing the \"force\" flag, but the pack \
                     is not guaranteed to work.",
                    self.name
                ),
            });
        }
        Ok(())
    }

    /// Warnings shown after install (`get_pack_warnings`): a pack that supports only Python 2.
    pub(crate) fn warnings(&self) -> Vec<String> {
        if self.python_versions == ["2"] {
            vec![format!(
                "DEPRECATION WARNING: Pack {} only supports Python 2.x. Python 2 support has \
                 been removed; the pack may not work.",
                self.name
            )]
        } else {
            Vec::new()
        }
    }
}

fn field_error(file: &Path, field: &str, message: String) -> ManifestError {
    ManifestError::Field {
        file: file.to_path_buf(),
        field: field.to_string(),
        message,
    }
}

/// The fields of a `pack.yaml` mapping, each read and checked as `PackAPI` does.
struct Fields<'a> {
    file: &'a Path,
    metadata: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &str, message: String) -> ManifestError {
        field_error(self.file, field, message)
    }

    fn required_string(&self, field: &str) -> Result<String, ManifestError> {
        match self.metadata.get(field) {
            None | Some(Value::Null) => {
                Err(self.error(field, format!("'{field}' is a required property")))
            }
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => {
                Err(self.error(field, format!("expected a string, got {}", kind_of(other))))
            }
        }
    }

    fn optional_string(&self, field: &str) -> Result<Option<String>, ManifestError> {
        match self.metadata.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => {
                Err(self.error(field, format!("expected a string, got {}", kind_of(other))))
            }
        }
    }

    fn string_list(&self, field: &str) -> Result<Vec<String>, ManifestError> {
        match self.metadata.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.error(
                        field,
                        format!("expected a list of strings, found {}", kind_of(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(
                field,
                format!("expected a list of strings, got {}", kind_of(other)),
            )),
        }
    }

    /// `version`, semver-like. As upstream does, on purpose: a version written as a number
    /// (`version: 0.1`) is cast to its string.
    fn version(&self) -> Result<String, ManifestError> {
        let version = match self.metadata.get("version") {
            Some(Value::Number(number)) => number.to_string(),
            _ => self.required_string("version")?,
        };
        if !is_pack_version(&version) {
            return Err(self.error(
                "version",
                format!(
                    "Pack version \"{version}\" doesn't follow a valid semver format. Valid \
                     versions and formats include: 0.1.0, 0.2.1, 1.1.0, etc."
                ),
            ));
        }
        Ok(version)
    }

    /// `ref`, when given and not empty.
    fn declared_ref(&self) -> Result<Option<String>, ManifestError> {
        let declared_ref = self
            .optional_string("ref")?
            .filter(|value| !value.is_empty());
        if let Some(pack_ref) = &declared_ref {
            if !is_valid_ref(pack_ref) {
                return Err(self.error(
                    "ref",
                    // Upstream's message, then the first line of jsonschema's detail.
                    format!(
                        "Pack ref / name can only contain valid word characters (a-z, 0-9 and \
                         _), dashes are not allowed. ('{pack_ref}' does not match \
                         '^[a-z0-9_]+$')"
                    ),
                ));
            }
        }
        Ok(declared_ref)
    }

    /// `stackstorm_version`: a version requirement (`>=3.0.0`).
    fn stackstorm_version(&self) -> Result<Option<String>, ManifestError> {
        let stackstorm_version = self.optional_string("stackstorm_version")?;
        if let Some(requirement) = &stackstorm_version {
            if let Err(message) = parse_version_requirement(requirement) {
                return Err(self.error("stackstorm_version", message));
            }
        }
        Ok(stackstorm_version)
    }

    /// `python_versions`, without repeats. `[2, 3]` written without quotes is common
    /// enough: numbers are accepted as their string form, but only "2" and "3".
    fn python_versions(&self) -> Result<Vec<String>, ManifestError> {
        let field = "python_versions";
        let items = match self.metadata.get(field) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(self.error(field, format!("expected a list, got {}", kind_of(other))))
            }
        };
        let mut versions = Vec::new();
        for item in items {
            let text = match item {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                other => {
                    return Err(self.error(
                        field,
                        format!("expected \"2\" or \"3\", found {}", kind_of(other)),
                    ))
                }
            };
            if text != "2" && text != "3" {
                return Err(self.error(field, format!("'{text}' is not one of ['2', '3']")));
            }
            if !versions.contains(&text) {
                versions.push(text);
            }
        }
        Ok(versions)
    }
}

/// `^[a-z0-9_]+$` (`PACK_REF_WHITELIST_REGEX`).
pub(crate) fn is_valid_ref(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `PACK_VERSION_REGEX`: strict semver with lower-case pre-release and build identifiers.
pub(crate) fn is_pack_version(text: &str) -> bool {
    let (core, build) = match text.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (text, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (core, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number_ok = |part: &&str| {
        !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (*part == "0" || !part.starts_with('0'))
    };
    let identifiers_ok = |text: &str| {
        text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
        })
    };
    numbers.len() == 3
        && numbers.iter().all(number_ok)
        && pre.is_none_or(identifiers_ok)
        && build.is_none_or(identifiers_ok)
}

/// One comparator of a `stackstorm_version` requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comparator {
    op: &'static str,
    version: semver::Version,
}

impl Comparator {
    /// Whether `version` satisfies this comparator.
    pub(crate) fn matches(&self, version: &semver::Version) -> bool {
        use std::cmp::Ordering::*;
        let ordering = version.cmp_precedence(&self.version);
        match self.op {
            ">" => ordering == Greater,
            ">=" => ordering != Less,
            "<" => ordering == Less,
            "<=" => ordering != Greater,
            "==" => ordering == Equal,
            "!=" => ordering != Equal,
            _ => unreachable!("operators come from parse_version_requirement"),
        }
    }
}

/// Parse a `stackstorm_version` requirement such as `>=2.9.0` or `>=3.0.0, <4.0.0`
/// (`ST2_VERSION_REGEX`, matched with `complex_semver_match`: every comma-separated comparator
/// must hold).
pub(crate) fn parse_version_requirement(text: &str) -> Result<Vec<Comparator>, String> {
    // jsonschema's message for upstream's `ST2_VERSION_REGEX`, then examples.
    let invalid = || {
        format!(
            "'{text}' does not match '^((>?>|>=|=|<=|<?<)\\\\s*[0-9]+\\\\.[0-9]+\\\\.[0-9]+?(\\\\s*,)?\\\\s*)+$' \
             (examples: \">=3.0.0\", \">=2.9.0, <4.0.0\")"
        )
    };
    let mut comparators = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        // `>>` and `<<` are accepted by the upstream pattern and mean `>` and `<`.
        let (op, rest) = [
            (">>", ">"),
            (">=", ">="),
            ("<=", "<="),
            ("<<", "<"),
            ("==", "=="),
            ("!=", "!="),
            (">", ">"),
            ("<", "<"),
            ("=", "=="),
        ]
        .iter()
        .find_map(|(prefix, op)| part.strip_prefix(prefix).map(|rest| (*op, rest)))
        .ok_or_else(invalid)?;
        let version = semver::Version::parse(rest.trim()).map_err(|_| invalid())?;
        comparators.push(Comparator { op, version });
    }
    if comparators.is_empty() {
        return Err(invalid());
    }
    Ok(comparators)
}

/// A short name for the kind of a YAML value, for error messages.
pub(crate) fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string '{s}'"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(value: Value) -> Result<PackManifest, ManifestError> {
        PackManifest::from_value(Path::new("p/pack.yaml"), value)
    }

    fn valid() -> Value {
        json!({"name": "twitter", "description": "d", "version": "1.0.0", "author": "a"})
    }

    #[test]
    fn minimal_manifest_and_refs() {
        let m = manifest(valid()).unwrap();
        assert_eq!(m.install_ref().unwrap(), "twitter");
        assert_eq!(m.registration_ref("tw").unwrap(), "tw");
        let mut v = valid();
        v["name"] = json!("Aruba AOS-CX Pack");
        let m = manifest(v.clone()).unwrap();
        let err = m.install_ref().unwrap_err().to_string();
        assert!(err.contains("contains invalid characters"), "{err}");
        v["ref"] = json!("aoscx");
        assert_eq!(manifest(v).unwrap().install_ref().unwrap(), "aoscx");
    }

    #[test]
    fn required_fields_are_named() {
        for field in ["name", "description", "version", "author"] {
            let mut v = valid();
            v.as_object_mut().unwrap().remove(field);
            let err = manifest(v).unwrap_err().to_string();
            assert!(
                err.contains(&format!("field \"{field}\"")) && err.contains("required"),
                "{err}"
            );
            assert!(err.starts_with("p/pack.yaml"), "{err}");
        }
    }

    #[test]
    fn versions_follow_upstream_pattern() {
        for good in [
            "0.1.0",
            "1.10.0",
            "1.0.0-rc.1",
            "2.0.0+build.5",
            "1.0.0-1-boto3",
        ] {
            assert!(is_pack_version(good), "{good}");
        }
        for bad in ["0.1", "01.0.0", "1.0", "1.0.0-RC1", "v1.0.0", "1.0.0-", ""] {
            assert!(!is_pack_version(bad), "{bad}");
        }
        let mut v = valid();
        v["version"] = json!(0.1);
        let err = manifest(v).unwrap_err().to_string();
        assert!(err.contains("Pack version \"0.1\" doesn't follow"), "{err}");
    }

    #[test]
    fn stackstorm_version_is_checked_unless_forced() {
        let mut v = valid();
        v["stackstorm_version"] = json!(">=2.9.0, <4.0.0");
        manifest(v.clone()).unwrap().check_compatibility().unwrap();
        v["stackstorm_version"] = json!(">=4.0.0");
        let err = manifest(v.clone())
            .unwrap()
            .check_compatibility()
            .unwrap_err()
            .to_string();
        assert!(err.contains("requires StackStorm \">=4.0.0\""), "{err}");
        assert!(err.contains("\"force\" flag"), "{err}");
        v["stackstorm_version"] = json!("at least three");
        assert!(manifest(v).is_err());
    }

    #[test]
    fn python_2_only_is_incompatible() {
        let mut v = valid();
        v["python_versions"] = json!(["2"]);
        let m = manifest(v.clone()).unwrap();
        assert!(m
            .check_compatibility()
            .unwrap_err()
            .to_string()
            .contains("Python 2.x"));
        v["python_versions"] = json!([2, 3]);
        manifest(v.clone()).unwrap().check_compatibility().unwrap();
        v["python_versions"] = json!(["4"]);
        assert!(manifest(v).is_err());
    }

    #[test]
    fn reserved_refs() {
        let mut v = valid();
        v["ref"] = json!("_global");
        assert!(manifest(v.clone()).unwrap().install_ref().is_err());
        v["ref"] = json!("core");
        let m = manifest(v).unwrap();
        assert!(m.check_user_pack_ref("core").is_err());
        v = valid();
        v["ref"] = json!("my-pack");
        assert!(manifest(v)
            .unwrap_err()
            .to_string()
            .contains("dashes are not allowed"));
    }

    #[test]
    fn empty_and_non_mapping() {
        assert!(matches!(
            manifest(Value::Null).unwrap_err(),
            ManifestError::Empty { .. }
        ));
        assert!(manifest(json!([1]))
            .unwrap_err()
            .to_string()
            .contains("expected a mapping"));
    }
}

//! `key=value` words of `st2 run` turned into parameter values, as the StackStorm CLI does
//! (`st2client/st2client/commands/action.py`, `_get_action_parameters_from_args`; spec
//! `run-runners.md` §1): typed by the parameter's schema, the runner's first.
//!
//! Where we differ on purpose: a boolean also takes `yes`/`no`, `on`/`off`, `y`/`n` and
//! `1`/`0` (the spec's extension; upstream evaluates the word as a Python literal, so `1` is
//! the integer 1, which validation then refuses); a parameter whose schema has no `type`
//! keeps the text (upstream's CLI fails with `KeyError: 'type'`); the content of an
//! `@name=path` file is cast like any value (upstream sends the text, which validation
//! refuses for a typed parameter); `--auto-dict` also reads the `properties` of the
//! array's `items` (upstream only the array schema's own `properties`); `-e` fills `env` only
//! for actions that take it. Errors are one line naming the parameter where upstream prints
//! Python's exception.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::casts::{capitalize, is_python_space, literal_eval, python_float, python_int};

/// Options that change how words are read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ArgsOptions {
    /// `--auto-dict`: an array whose items all hold `:` becomes `[{k: v, ...}]`.
    pub auto_dict: bool,
    /// `-e/--inherit-env`: the caller's environment is the `env` parameter (words after it
    /// replace it, as upstream's do).
    pub inherit_env: bool,
}

/// A word that could not be turned into a value: one line naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ArgsError(pub String);

/// The parameter schemas the words are read against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schemas<'a> {
    /// The runner type's parameters (their types win, as upstream looks them up first).
    pub runner: &'a Map<String, Value>,
    /// The action's own parameters.
    pub action: &'a Map<String, Value>,
}

/// Read `words` (everything after the action ref). `cwd` is where `@name=path` files are
/// read from; `action_ref` enables the `core.http` file-upload convention.
pub(crate) fn parse(
    words: &[String],
    schemas: Schemas,
    options: ArgsOptions,
    cwd: &Path,
    action_ref: &str,
) -> Result<Map<String, Value>, ArgsError> {
    let mut values = Map::new();
    if options.inherit_env
        && (schemas.runner.contains_key("env") || schemas.action.contains_key("env"))
    {
        values.insert("env".into(), Value::Object(inherited_env()));
    }
    let mut upload_name = None;
    for (index, word) in words.iter().enumerate() {
        let Some((key, raw)) = word.split_once('=') else {
            // The first word without `=` starts the command: `st2 run core.local echo hi`.
            values.insert("cmd".into(), Value::String(words[index..].join(" ")));
            break;
        };
        if let Some(name) = key.strip_prefix('@') {
            let path = normpath(&cwd.join(raw));
            let content = read_file(&path)?;
            if action_ref == "core.http" {
                // Upstream's special case: the file is the upload, not a parameter.
                let file_name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                upload_name = Some(file_name);
                values.insert("file_content".into(), Value::String(content));
                continue;
            }
            check_name(name, word)?;
            let value = normalize(name, &content, schemas.action, schemas, options)?;
            values.insert(name.to_string(), value);
            continue;
        }
        check_name(key, word)?;
        let value = normalize(key, raw, schemas.action, schemas, options)?;
        let array = param_type(key, schemas.action, schemas) == Some("array");
        match (values.get_mut(key), value) {
            // A repeated array parameter appends (`+=` on a Python list).
            (Some(Value::Array(existing)), more) if array => match more {
                Value::Array(items) => existing.extend(items),
                Value::Object(map) => existing.extend(map.keys().cloned().map(Value::String)),
                Value::String(text) => {
                    existing.extend(text.chars().map(|c| Value::String(c.to_string())))
                }
                other => existing.push(other),
            },
            (_, value) => {
                values.insert(key.to_string(), value);
            }
        }
    }
    if let Some(file_name) = upload_name {
        values
            .entry("method")
            .or_insert_with(|| Value::String("POST".into()));
        values
            .entry("file_name")
            .or_insert_with(|| Value::String(file_name));
    }
    Ok(values)
}

fn check_name(name: &str, word: &str) -> Result<(), ArgsError> {
    if name.is_empty() {
        return Err(ArgsError(format!(
            "\"{word}\" has no parameter name before \"=\""
        )));
    }
    Ok(())
}

/// Names never passed by `-e` (upstream's `ENV_VARS_BLACKLIST`, lower or upper case).
const ENV_BLACKLIST: &[&str] = &[
    "pwd",
    "mail",
    "username",
    "user",
    "path",
    "home",
    "ps1",
    "shell",
    "pythonpath",
    "ssh_tty",
    "ssh_connection",
    "lang",
    "ls_colors",
    "logname",
    "oldpwd",
    "term",
    "xdg_session_id",
];

/// The caller's environment, as `-e/--inherit-env` passes it in the `env` parameter (all of
/// it but upstream's blacklist; the record masks the values of names that say secret, see
/// `crate::redact::is_secret_name`).
pub(crate) fn inherited_env() -> Map<String, Value> {
    std::env::vars()
        .filter(|(name, _)| {
            !ENV_BLACKLIST
                .iter()
                .any(|listed| name == listed || *name == listed.to_ascii_uppercase())
        })
        .map(|(name, value)| (name, Value::String(value)))
        .collect()
}

/// `os.path.normpath`: `.` and `..` resolved lexically, repeated slashes collapsed.
fn normpath(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

fn read_file(full: &Path) -> Result<String, ArgsError> {
    if !full.exists() {
        return Err(ArgsError(format!(
            "File \"{}\" doesn't exist",
            full.display()
        )));
    }
    if !full.is_file() {
        return Err(ArgsError(format!("\"{}\" is not a file", full.display())));
    }
    let bytes = std::fs::read(full).map_err(|err| {
        ArgsError(format!(
            "cannot read \"{}\": {}",
            full.display(),
            crate::settings::io_reason(&err)
        ))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ArgsError(format!("\"{}\" is not UTF-8 text", full.display())))
}

/// `get_param_type`: the runner's parameter of that name first, else the one in
/// `parameters` (the action's, or an array's `properties` for `--auto-dict`).
fn param_type<'s>(
    name: &str,
    parameters: &'s Map<String, Value>,
    schemas: Schemas<'s>,
) -> Option<&'s str> {
    let schema = schemas.runner.get(name).or_else(|| parameters.get(name))?;
    schema.get("type").and_then(Value::as_str)
}

/// `normalize`: one value cast by its parameter's type.
fn normalize(
    name: &str,
    text: &str,
    parameters: &Map<String, Value>,
    schemas: Schemas,
    options: ArgsOptions,
) -> Result<Value, ArgsError> {
    let schema = schemas.runner.get(name).or_else(|| parameters.get(name));
    let secret = schema
        .and_then(|schema| schema.get("secret"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let invalid = |expected: &str| {
        let shown = if secret {
            "the given value (secret, not shown)".to_string()
        } else {
            crate::schema::repr::py_str_repr(text)
        };
        ArgsError(format!("parameter \"{name}\": {shown} is not {expected}"))
    };
    Ok(match param_type(name, parameters, schemas) {
        // Only an array of the schema at hand gets `--auto-dict` (upstream passes the
        // array's own schema, which a runner's array parameter is not).
        Some("array") if parameters.contains_key(name) => {
            let array_schema = parameters.get(name);
            array(name, text, array_schema, schemas, options)?
        }
        Some("array") => array(name, text, None, schemas, ArgsOptions::default())?,
        Some("integer") => Value::from(python_int(text).ok_or_else(|| invalid("an integer"))?),
        Some("number") => {
            let float = python_float(text).ok_or_else(|| invalid("a number"))?;
            serde_json::Number::from_f64(float)
                .map(Value::Number)
                .ok_or_else(|| invalid("a finite number"))?
        }
        Some("boolean") => boolean(name, text)?,
        Some("object") => object(text).map_err(|reason| {
            ArgsError(format!(
                "parameter \"{name}\": invalid JSON object: {reason}"
            ))
        })?,
        _ => Value::String(text.to_string()),
    })
}

/// `ast.literal_eval(text.capitalize())`, with the spec's other words for true and false.
fn boolean(name: &str, text: &str) -> Result<Value, ArgsError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "1" | "y" => return Ok(Value::Bool(true)),
        "no" | "off" | "0" | "n" => return Ok(Value::Bool(false)),
        _ => {}
    }
    literal_eval(&capitalize(text)).map_err(|_| {
        ArgsError(format!(
            "parameter \"{name}\": Invalid value for boolean parameter. Valid values are: \
             true, false (also yes/no, on/off, 1/0)"
        ))
    })
}

/// Upstream's `transform_array`: a bare integer is a one-item list, else JSON, else items
/// separated by commas (stripped, kept as text); with `--auto-dict`, items that all hold
/// `:` are one object.
fn array(
    name: &str,
    text: &str,
    schema: Option<&Value>,
    schemas: Schemas,
    options: ArgsOptions,
) -> Result<Value, ArgsError> {
    let items = match python_int(text) {
        Some(int) => Value::Array(vec![Value::from(int)]),
        None => match python_json(text) {
            Some(value) => value,
            None => Value::Array(
                text.split(',')
                    .map(|item| Value::String(item.trim_matches(is_python_space).to_string()))
                    .collect(),
            ),
        },
    };
    // Upstream iterates the value to look for `:` items: a number, a boolean or null
    // cannot be iterated, and the CLI fails.
    let entries: Vec<Value> = match &items {
        Value::Array(list) => list.clone(),
        Value::Object(map) => map.keys().cloned().map(Value::String).collect(),
        Value::String(text) => text.chars().map(|c| Value::String(c.to_string())).collect(),
        _ => {
            return Err(ArgsError(format!(
                "parameter \"{name}\": {} is not an array: give a JSON array or items \
                 separated by commas",
                crate::schema::repr::py_str_repr(text)
            )))
        }
    };
    let all_pairs = entries
        .iter()
        .all(|item| item.as_str().is_some_and(|text| text.contains(':')));
    if !(options.auto_dict && all_pairs) {
        return Ok(items);
    }
    // `--auto-dict`: ["a:1", "b:x"] is [{"a": ..., "b": ...}], each value cast by the
    // array schema's `properties` (or its items'); others stay text.
    let properties = schema.and_then(|schema| {
        schema
            .get("properties")
            .or_else(|| {
                schema
                    .get("items")
                    .and_then(|items| items.get("properties"))
            })
            .and_then(Value::as_object)
    });
    let mut dict = Map::new();
    for item in &entries {
        let item = item.as_str().unwrap_or_default();
        let parts: Vec<&str> = item.split(':').collect();
        let [key, value] = parts.as_slice() else {
            return Err(ArgsError(format!(
                "parameter \"{name}\": {} holds more than one \":\", so --auto-dict cannot \
                 read it as key:value",
                crate::schema::repr::py_str_repr(item)
            )));
        };
        let value = match properties.filter(|properties| properties.contains_key(*key)) {
            Some(properties) => normalize(key, value, properties, schemas, options)?,
            None => Value::String(value.to_string()),
        };
        dict.insert(key.to_string(), value);
    }
    Ok(Value::Array(vec![Value::Object(dict)]))
}

/// Python's `json.loads`: also `NaN` and `Infinity` (which have no JSON value here, so
/// they do not parse).
fn python_json(text: &str) -> Option<Value> {
    let trimmed = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if matches!(trimmed, "NaN" | "Infinity" | "-Infinity") {
        // A float: not an array, as null is not.
        return Some(Value::Null);
    }
    serde_json::from_str(trimmed).ok()
}

/// Upstream's `transform_object`: JSON when it starts with `{`, else `k1=v1,k2=v2` (pairs
/// without `=` left out).
fn object(text: &str) -> Result<Value, String> {
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|err| err.to_string());
    }
    let mut map = Map::new();
    for pair in text.split(',') {
        if let Some((key, value)) = pair.split_once('=') {
            map.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        json!({
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "pin": {"type": "integer", "secret": true},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "a": {"type": "array"},
            "o": {"type": "object"},
            "objs": {"type": "array", "items": {"type": "object",
                     "properties": {"port": {"type": "integer"}}}},
            "cmd": {"type": "string"},
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn parse_words(words: &[&str], auto_dict: bool) -> Result<Map<String, Value>, ArgsError> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let schema = schema();
        parse(
            &words,
            Schemas {
                runner: &Map::new(),
                action: &schema,
            },
            ArgsOptions {
                auto_dict,
                inherit_env: false,
            },
            Path::new("."),
            "x.y",
        )
    }

    #[test]
    fn casts_by_type_as_the_stackstorm_cli() {
        let values = parse_words(
            &[
                "s=a=b",
                "i=-7",
                "n=1e3",
                "b=Yes",
                "a=1,2, 3",
                "o=k1=v1,k2=v2,junk",
            ],
            false,
        )
        .unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"s": "a=b", "i": -7, "n": 1000.0, "b": true, "a": ["1", "2", "3"],
                   "o": {"k1": "v1", "k2": "v2"}})
        );
        let values = parse_words(&["a=51", "o={\"x\": [1]}", "b=FALSE", "n=5"], false).unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"a": [51], "o": {"x": [1]}, "b": false, "n": 5.0})
        );
        let values = parse_words(&["a=[1, \"x\"]", "unknown=5"], false).unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"a": [1, "x"], "unknown": "5"})
        );
    }

    #[test]
    fn repeated_arrays_append_and_bare_words_become_cmd() {
        let values = parse_words(&["a=x", "a=y,z", "echo", "hello", "a=1"], false).unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"a": ["x", "y", "z"], "cmd": "echo hello a=1"})
        );
    }

    #[test]
    fn auto_dict_builds_objects_cast_by_item_properties() {
        let values = parse_words(&["objs=port:80,host:web"], true).unwrap();
        assert_eq!(values["objs"], json!([{"port": 80, "host": "web"}]));
        let values = parse_words(&["objs=port:80,host:web"], false).unwrap();
        assert_eq!(values["objs"], json!(["port:80", "host:web"]));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let err = parse_words(&["i=thirty"], false).unwrap_err().to_string();
        assert_eq!(err, "parameter \"i\": 'thirty' is not an integer");
        let err = parse_words(&["pin=hunter2"], false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "parameter \"pin\": the given value (secret, not shown) is not an integer"
        );
        let err = parse_words(&["b=maybe"], false).unwrap_err().to_string();
        assert!(
            err.starts_with("parameter \"b\": Invalid value for boolean"),
            "{err}"
        );
        let err = parse_words(&["o={bad"], false).unwrap_err().to_string();
        assert!(
            err.starts_with("parameter \"o\": invalid JSON object"),
            "{err}"
        );
        let err = parse_words(&["=x"], false).unwrap_err().to_string();
        assert!(err.contains("no parameter name"), "{err}");
    }

    #[test]
    fn at_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("msg.txt"), "from a file").unwrap();
        let words = vec!["@s=msg.txt".to_string()];
        let schema = schema();
        let schemas = Schemas {
            runner: &Map::new(),
            action: &schema,
        };
        let values = parse(&words, schemas, ArgsOptions::default(), dir.path(), "x.y").unwrap();
        assert_eq!(values["s"], "from a file");
        let words = vec!["@s=missing.txt".to_string()];
        let err = parse(&words, schemas, ArgsOptions::default(), dir.path(), "x.y")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("File \"") && err.ends_with("missing.txt\" doesn't exist"));
        let words = vec!["@s=.".to_string()];
        let err = parse(&words, schemas, ArgsOptions::default(), dir.path(), "x.y")
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("\" is not a file"), "{err}");
    }
}

/// Property tests: whatever words `st2 run` is given, the caster answers Ok or Err.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const TYPES: [&str; 6] = ["integer", "number", "boolean", "array", "object", "string"];
    const NAMES: [&str; 8] = ["s", "i", "n", "b", "a", "o", "objs", "cmd"];

    /// Values that sit on the edges of each cast: numbers that overflow or are not quite
    /// numbers, JSON-ish text, `k=v` and `k:v` lists, booleans, anything at all.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[-+ ]?[0-9]{0,25}(\\.[0-9]*)?([eE][-+]?[0-9]{0,4})? ?",
            "[\\[{][-0-9a-z\",:\\[\\]{} ]{0,20}",
            "[a-z0-9]{0,3}([:=,][a-z0-9 ]{0,3}){0,4}",
            prop::sample::select(vec![
                "",
                " ",
                "NaN",
                "inf",
                "-inf",
                "1e999",
                "-0",
                "9223372036854775808",
                "-9223372036854775809",
                "0x10",
                "1_000",
                "yes",
                "OFF",
                "y",
                "[]",
                "{}",
                "[1, \"x\"]",
                "{\"a\": [1]}",
                "null",
                "\"quoted\"",
                "=",
                "@",
                ",",
                ":",
            ])
            .prop_map(str::to_string),
        ]
    }

    /// One word: anything, or `[@]name=value` with a known, unknown or empty name. `@`
    /// words name files of the test directory (a file, non-UTF-8 bytes, a directory, nothing).
    fn word() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            prop::sample::select(NAMES.to_vec()).prop_map(str::to_string),
            Just(String::new()),
            "[a-z@=]{1,4}",
        ];
        let file = prop::sample::select(vec!["text.txt", "binary.dat", "dir", "missing", ""]);
        prop_oneof![
            any::<String>(),
            (name.clone(), value()).prop_map(|(name, value)| format!("{name}={value}")),
            (name, file).prop_map(|(name, file)| format!("@{name}={file}")),
        ]
    }

    /// A parameter schema: the known names with a type each (sometimes odd ones), secret or
    /// not, items with properties for `--auto-dict`.
    fn schema() -> impl Strategy<Value = Map<String, Value>> {
        let kind = prop_oneof![
            prop::sample::select(TYPES.to_vec()).prop_map(Value::from),
            Just(Value::Null),
            Just(json!("null")),
            Just(json!(["string", "integer"])),
        ];
        prop::collection::vec(
            (
                prop::sample::select(NAMES.to_vec()),
                kind,
                prop::option::of(prop::sample::select(TYPES.to_vec())),
                any::<bool>(),
            ),
            0..8,
        )
        .prop_map(|entries| {
            entries
                .into_iter()
                .map(|(name, kind, item_type, secret)| {
                    let mut schema = json!({ "type": kind, "secret": secret });
                    if let Some(item_type) = item_type {
                        schema["items"] =
                            json!({"type": "object", "properties": {"k": {"type": item_type}}});
                        schema["properties"] = json!({"k": {"type": item_type}});
                    }
                    (name.to_string(), schema)
                })
                .collect()
        })
    }

    fn test_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("text.txt"), "k:1,x:y").unwrap();
        std::fs::write(dir.path().join("binary.dat"), b"\xff\xfe").unwrap();
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        dir
    }

    fn one(schema: &Map<String, Value>, word: String) -> Result<Map<String, Value>, ArgsError> {
        parse(
            &[word],
            Schemas {
                runner: &Map::new(),
                action: schema,
            },
            ArgsOptions::default(),
            Path::new("."),
            "x.y",
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any words, any of the six types: Ok or Err, never a panic.
        #[test]
        fn parse_never_panics(
            words in prop::collection::vec(word(), 0..6),
            schema in schema(),
            auto_dict: bool,
            http: bool,
        ) {
            let dir = test_dir();
            let action_ref = if http { "core.http" } else { "x.y" };
            let schemas = Schemas { runner: &Map::new(), action: &schema };
            let options = ArgsOptions { auto_dict, inherit_env: false };
            let _ = parse(&words, schemas, options, dir.path(), action_ref);
        }

        /// An integer parameter casts `name=<i64>` back to the same integer.
        #[test]
        fn integers_cast_exactly(n: i64) {
            let schema = json!({"i": {"type": "integer"}}).as_object().unwrap().clone();
            let values = one(&schema, format!("i={n}")).unwrap();
            prop_assert_eq!(&values["i"], &Value::from(n));
        }

        /// A number parameter casts a finite f64 as Rust prints it back to the same f64.
        #[test]
        fn numbers_cast_exactly(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
            let schema = json!({"n": {"type": "number"}}).as_object().unwrap().clone();
            let values = one(&schema, format!("n={x}")).unwrap();
            prop_assert_eq!(values["n"].as_f64(), Some(x));
        }

        /// A string parameter, and a parameter the schema does not know, keep the text after
        /// the first `=` byte for byte.
        #[test]
        fn strings_are_kept_byte_for_byte(text: String, known: bool) {
            let schema = json!({"s": {"type": "string"}}).as_object().unwrap().clone();
            let name = if known { "s" } else { "unknown" };
            let values = one(&schema, format!("{name}={text}")).unwrap();
            prop_assert_eq!(values[name].as_str(), Some(text.as_str()));
        }
    }
}

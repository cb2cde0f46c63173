//! `key=value` words of `st2 run` turned into parameter values, as the StackStorm CLI does
//! (`st2client/commands/action.py`, `_get_action_parameters_from_args`; spec
//! `run-runners.md` §1): typed by the action's effective parameter schema.

use std::path::Path;

use serde_json::{Map, Value};

/// Options that change how words are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArgsOptions {
    /// `--auto-dict`: an array whose items all hold `:` becomes `[{k: v, ...}]`.
    pub auto_dict: bool,
}

/// A word that could not be turned into a value: one line naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgsError(pub String);

/// Read `words` (everything after the action ref). `schema` is the effective parameter
/// schema; `cwd` is where `@name=path` files are read from; `action_ref` enables the
/// `core.http` file-upload convention.
pub fn parse(
    words: &[String],
    schema: &Map<String, Value>,
    options: ArgsOptions,
    cwd: &Path,
    action_ref: &str,
) -> Result<Map<String, Value>, ArgsError> {
    let mut values = Map::new();
    for (index, word) in words.iter().enumerate() {
        let Some((key, raw)) = word.split_once('=') else {
            // The first word without `=` starts the command: `st2 run core.local echo hi`.
            values.insert("cmd".into(), Value::String(words[index..].join(" ")));
            break;
        };
        let (name, text) = match key.strip_prefix('@') {
            Some(name) => {
                let content = read_file(cwd, raw)?;
                if action_ref == "core.http" {
                    let file_name = Path::new(raw)
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    values.insert("file_name".into(), Value::String(file_name));
                    values.insert("file_content".into(), Value::String(content.clone()));
                }
                (name, content)
            }
            None => (key, raw.to_string()),
        };
        if name.is_empty() {
            return Err(ArgsError(format!(
                "\"{word}\" has no parameter name before \"=\""
            )));
        }
        let value = cast(name, &text, schema.get(name), options)?;
        match (values.get_mut(name), value) {
            // A repeated array parameter appends: `a=x a=y` is ["x", "y"].
            (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
            (_, value) => {
                values.insert(name.to_string(), value);
            }
        }
    }
    Ok(values)
}

/// The caller's environment, as `-e/--inherit-env` passes it in the `env` parameter
/// (without the CLI's own credentials, as upstream leaves them out).
pub fn inherited_env() -> Map<String, Value> {
    std::env::vars()
        .filter(|(name, _)| !matches!(name.as_str(), "ST2_AUTH_TOKEN" | "ST2_API_KEY"))
        .map(|(name, value)| (name, Value::String(value)))
        .collect()
}

fn read_file(cwd: &Path, path: &str) -> Result<String, ArgsError> {
    let full = cwd.join(path);
    if !full.exists() {
        return Err(ArgsError(format!(
            "File \"{}\" doesn't exist",
            full.display()
        )));
    }
    if !full.is_file() {
        return Err(ArgsError(format!("\"{}\" is not a file", full.display())));
    }
    let bytes = std::fs::read(&full).map_err(|err| {
        ArgsError(format!(
            "cannot read \"{}\": {}",
            full.display(),
            crate::settings::io_reason(&err)
        ))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| ArgsError(format!("\"{}\" is not UTF-8 text", full.display())))
}

/// Cast one value by its parameter's `type`; an unknown parameter keeps the string (the
/// validation that follows names it).
fn cast(
    name: &str,
    text: &str,
    schema: Option<&Value>,
    options: ArgsOptions,
) -> Result<Value, ArgsError> {
    let kind = schema
        .and_then(|schema| schema.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("string");
    // A secret's value is never quoted back, not even when it is wrong.
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
    Ok(match kind {
        "integer" => Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| invalid("an integer"))?,
        ),
        "number" => number(text).ok_or_else(|| invalid("a number"))?,
        "boolean" => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "y" => Value::Bool(true),
            "false" | "no" | "off" | "0" | "n" => Value::Bool(false),
            _ => {
                return Err(ArgsError(format!(
                    "parameter \"{name}\": Invalid value for boolean parameter. Valid values \
                     are: true, false (also yes/no, on/off, 1/0)"
                )))
            }
        },
        "array" => array(text, schema, options),
        "object" => object(text).map_err(|reason| {
            ArgsError(format!(
                "parameter \"{name}\": invalid JSON object: {reason}"
            ))
        })?,
        _ => Value::String(text.to_string()),
    })
}

fn number(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(int) = trimmed.parse::<i64>() {
        // Python's float("5") is 5.0; JSON keeps it an integer-valued number.
        return serde_json::Number::from_f64(int as f64).map(Value::Number);
    }
    let float = trimmed.parse::<f64>().ok()?;
    serde_json::Number::from_f64(float).map(Value::Number)
}

/// Upstream's `transform_array`.
fn array(text: &str, schema: Option<&Value>, options: ArgsOptions) -> Value {
    if let Ok(int) = text.trim().parse::<i64>() {
        return Value::Array(vec![Value::from(int)]);
    }
    let items = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(_) => Value::Array(
            text.split(',')
                .map(|item| Value::String(item.trim().to_string()))
                .collect(),
        ),
    };
    let Value::Array(list) = &items else {
        return items;
    };
    let all_pairs = !list.is_empty()
        && list
            .iter()
            .all(|item| item.as_str().is_some_and(|text| text.contains(':')));
    if !(options.auto_dict && all_pairs) {
        return items;
    }
    // `--auto-dict`: ["a:1", "b:x"] is [{"a": 1, "b": "x"}], each value cast by the item
    // schema's property when there is one.
    let properties = schema.and_then(|schema| {
        schema.get("properties").or_else(|| {
            schema
                .get("items")
                .and_then(|items| items.get("properties"))
        })
    });
    let mut dict = Map::new();
    for item in list {
        let (key, value) = item
            .as_str()
            .and_then(|text| text.split_once(':'))
            .unwrap_or_default();
        let value = match properties.and_then(|properties| properties.get(key)) {
            Some(property) => cast(key, value, Some(property), options)
                .unwrap_or_else(|_| Value::String(value.to_string())),
            None => Value::String(value.to_string()),
        };
        dict.insert(key.to_string(), value);
    }
    Value::Array(vec![Value::Object(dict)])
}

/// Upstream's `transform_object`: JSON when it starts with `{`, else `k1=v1,k2=v2`.
fn object(text: &str) -> Result<Value, String> {
    if text.trim_start().starts_with('{') {
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
        parse(
            &words,
            &schema(),
            ArgsOptions { auto_dict },
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
        let values = parse(&words, &schema(), ArgsOptions::default(), dir.path(), "x.y").unwrap();
        assert_eq!(values["s"], "from a file");
        let words = vec!["@s=missing.txt".to_string()];
        let err = parse(&words, &schema(), ArgsOptions::default(), dir.path(), "x.y")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("File \"") && err.ends_with("missing.txt\" doesn't exist"));
        let words = vec!["@s=.".to_string()];
        let err = parse(&words, &schema(), ArgsOptions::default(), dir.path(), "x.y")
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
            schema,
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
            let _ = parse(&words, &schema, ArgsOptions { auto_dict }, dir.path(), action_ref);
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

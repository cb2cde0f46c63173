//! The data filters (`st2common/expressions/functions/data.py`): `from_json_string`,
//! `from_yaml_string`, `to_json_string`, `to_yaml_string`, `json_escape`,
//! `jsonpath_query`, `to_complex`, `use_none`.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::pyjson::{self, to_json, Dumps};
use super::pystr::py_str;

/// What `use_none` turns `None` into, so that it survives rendering to a string; the
/// parameter casts turn it back into `null` (`data.NONE_MAGIC_VALUE`).
pub const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

fn failed(reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, reason.into())
}

/// A positional argument, else the keyword one.
fn argument(position: Option<Value>, kwargs: &Kwargs, name: &str) -> Result<Option<Value>, Error> {
    let keyword: Option<Value> = kwargs.get(name)?;
    Ok(position.or(keyword).filter(|value| !value.is_none()))
}

/// `orjson.loads(str(value))`.
pub fn from_json_string(value: Value) -> Result<Value, Error> {
    super::defined(&value)?;
    let text = py_str(&value);
    serde_json::from_str::<serde_json::Value>(&text)
        .map(Value::from_serialize)
        .map_err(|err| failed(err.to_string()))
}

/// `yaml.safe_load(str(value))`.
pub fn from_yaml_string(value: Value) -> Result<Value, Error> {
    super::defined(&value)?;
    let text = py_str(&value);
    crate::yaml::from_str(&text)
        .map(Value::from_serialize)
        .map_err(|err| failed(err.to_string()))
}

/// `json.dumps(value, indent=indent, sort_keys=sort_keys, separators=separators)`, with
/// upstream's defaults: one line, `,` between items, `: ` after keys.
pub fn to_json_string(
    value: Value,
    indent: Option<Value>,
    sort_keys: Option<Value>,
    separators: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    super::defined(&value)?;
    let indent = argument(indent, &kwargs, "indent")?;
    let sort_keys = argument(sort_keys, &kwargs, "sort_keys")?;
    let separators = argument(separators, &kwargs, "separators")?;
    kwargs.assert_all_used()?;
    let mut options = Dumps {
        indent: indent.map(|indent| match indent.as_str() {
            Some(text) => text.to_string(),
            None => " ".repeat(i64::try_from(indent).unwrap_or(0).max(0) as usize),
        }),
        sort_keys: sort_keys.is_some_and(|sort| sort.is_true()),
        item_separator: ",".into(),
        key_separator: ": ".into(),
    };
    if let Some(separators) = separators {
        let parts: Vec<String> = separators
            .try_iter()
            .map_err(|_| failed("separators must be a pair of strings"))?
            .map(|part| py_str(&part))
            .collect();
        let [item, key] = parts.as_slice() else {
            return Err(failed(format!(
                "too many values to unpack (expected 2, got {})",
                parts.len()
            )));
        };
        options.item_separator = item.clone();
        options.key_separator = key.clone();
    }
    Ok(pyjson::dumps(&to_json(&value), &options))
}

/// `yaml.dump(value, Dumper=CSafeDumper, default_flow_style=False, indent=indent,
/// allow_unicode=allow_unicode)`; `allow_unicode` is true unless given, and an explicit
/// `allow_unicode=None` is not passed on, which leaves PyYAML's default: false.
pub fn to_yaml_string(
    value: Value,
    indent: Option<Value>,
    allow_unicode: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    super::defined(&value)?;
    let indent = argument(indent, &kwargs, "indent")?;
    let given_none = allow_unicode.is_none() && kwargs.has("allow_unicode");
    let allow_unicode = argument(allow_unicode, &kwargs, "allow_unicode")?;
    kwargs.assert_all_used()?;
    let indent = indent.and_then(|indent| usize::try_from(indent).ok());
    let allow_unicode = match allow_unicode {
        Some(allow) => allow.is_true(),
        None => !given_none,
    };
    Ok(super::pyyaml::safe_dump_template(
        &value,
        indent,
        allow_unicode,
    ))
}

/// `json.dumps(value).strip('"')`: the text escaped as inside a JSON string.
pub fn json_escape(value: Value) -> Result<String, Error> {
    super::defined(&value)?;
    Ok(pyjson::dumps(&to_json(&value), &Dumps::default())
        .trim_matches('"')
        .to_string())
}

/// The values a jsonpath-rw query matches, or `None` when none does.
pub fn jsonpath_query(value: Value, query: String) -> Result<Value, Error> {
    super::defined(&value)?;
    let found = super::jsonpath::find(&to_json(&value), &query).map_err(failed)?;
    if found.is_empty() {
        return Ok(Value::from(()));
    }
    Ok(Value::from_serialize(found))
}

/// `json.dumps(value)`: how a complex value keeps its type through rendering.
pub fn to_complex(value: Value) -> Result<String, Error> {
    super::defined(&value)?;
    Ok(pyjson::dumps(&to_json(&value), &Dumps::default()))
}

/// `None` as [`NONE_MAGIC_VALUE`], anything else unchanged: an undefined value too, as
/// upstream's `value is None` test does not use it (so `x.missing | use_none | default(..)`
/// renders the default; printing the undefined value still fails).
pub fn use_none(value: Value) -> Result<Value, Error> {
    Ok(if value.kind() == ValueKind::None {
        Value::from(NONE_MAGIC_VALUE)
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use serde_json::json;

    fn python_literal(text: &str) -> serde_json::Value {
        crate::casts::literal_eval(text).unwrap()
    }

    /// StackStorm's `test_jinja_render_data_filters.py`.
    #[test]
    fn test_filter_from_json_string() {
        let rendered = render(
            "{{k1 | from_json_string}}",
            json!({"k1": r#"{"a": "b", "c": {"d": "e", "f": 1, "g": true}}"#}),
        )
        .unwrap();
        assert_eq!(
            python_literal(&rendered),
            json!({"a": "b", "c": {"d": "e", "f": 1, "g": true}})
        );
    }

    #[test]
    fn test_filter_from_yaml_string() {
        let rendered = render(
            "{{k1 | from_yaml_string}}",
            json!({"k1": "---\na: b\nc:\n  d: e\n  f: 1\n  g: true\n"}),
        )
        .unwrap();
        assert_eq!(
            python_literal(&rendered),
            json!({"a": "b", "c": {"d": "e", "f": 1, "g": true}})
        );
    }

    #[test]
    fn test_filter_to_json_string() {
        let obj = json!({"a": "b", "c": {"d": "e", "f": 1, "g": true}});
        let rendered = render("{{k1 | to_json_string}}", json!({ "k1": obj })).unwrap();
        assert_eq!(rendered, r#"{"a": "b","c": {"d": "e","f": 1,"g": true}}"#);
        let rendered = render(
            "{{k1 | to_json_string(indent=2, sort_keys=True)}}",
            json!({"k1": {"b": 1, "a": [1]}}),
        )
        .unwrap();
        assert_eq!(rendered, "{\n  \"a\": [\n    1\n  ],\n  \"b\": 1\n}");
    }

    #[test]
    fn test_filter_to_yaml_string() {
        let obj = json!({"a": "b", "c": {"d": "e", "f": 1, "g": true}});
        let rendered = render("{{k1 | to_yaml_string}}", json!({ "k1": obj.clone() })).unwrap();
        assert_eq!(crate::yaml::from_str(&rendered).unwrap(), obj);
        assert_eq!(rendered, "a: b\nc:\n  d: e\n  f: 1\n  g: true\n");
    }

    /// StackStorm's `test_jinja_render_json_escape_filters.py`.
    #[test]
    fn test_json_escape() {
        let cases = [
            ("foo \"\"\" bar", "foo \\\"\\\"\\\" bar"),
            ("foo \\ bar", "foo \\\\ bar"),
            ("foo \u{8} bar", "foo \\b bar"),
            ("foo \u{c} bar", "foo \\f bar"),
            ("foo \n bar", "foo \\n bar"),
            ("foo \r bar", "foo \\r bar"),
            ("foo \t bar", "foo \\t bar"),
        ];
        for (input, expected) in cases {
            let rendered =
                render("{{ test_str | json_escape }}", json!({ "test_str": input })).unwrap();
            assert_eq!(rendered, expected, "{input:?}");
        }
    }

    /// StackStorm's `test_jinja_render_jsonpath_query_filters.py`.
    #[test]
    fn test_jsonpath_query() {
        let obj = json!({
            "people": [
                {"first": "James", "last": "d"},
                {"first": "Jacob", "last": "e"},
                {"first": "Jayden", "last": "f"},
                {"missing": "different"},
            ],
            "foo": {"bar": "baz"},
        });
        let rendered = render(
            r#"{{ obj | jsonpath_query("people[*].first") }}"#,
            json!({ "obj": obj.clone() }),
        )
        .unwrap();
        assert_eq!(rendered, "['James', 'Jacob', 'Jayden']");
        let rendered = render(
            "{{ obj | jsonpath_query(query) }}",
            json!({ "obj": obj.clone(), "query": "people[*].last" }),
        )
        .unwrap();
        assert_eq!(rendered, "['d', 'e', 'f']");
        let rendered = render(
            "{{ obj | jsonpath_query(query) }}",
            json!({ "obj": obj, "query": "query_returns_no_results" }),
        )
        .unwrap();
        assert_eq!(rendered, "None");
    }

    #[test]
    fn use_none_and_to_complex() {
        assert_eq!(
            render("{{ x | use_none }}", json!({"x": null})).unwrap(),
            super::NONE_MAGIC_VALUE
        );
        assert_eq!(render("{{ x | use_none }}", json!({"x": 1})).unwrap(), "1");
        assert_eq!(
            render(
                "{{ d.zeta | use_none | default('dflt') }}",
                json!({"d": {}})
            )
            .unwrap(),
            "dflt"
        );
        assert!(render("{{ d.zeta | use_none }}", json!({"d": {}})).is_err());
        assert_eq!(
            render("{{ x | to_complex }}", json!({"x": {"a": [true, null]}})).unwrap(),
            r#"{"a": [true, null]}"#
        );
    }
}

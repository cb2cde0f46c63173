//! `yaml.dump(value, Dumper=yaml.CSafeDumper, default_flow_style=False, allow_unicode=...,
//! indent=...)`, byte for byte, for the `to_yaml_string` filter.
//!
//! StackStorm's `to_yaml_string` (`st2common/expressions/functions/data.py`) calls
//! `yaml_safe_dump` (`st2common/constants/meta.py`), which dumps with PyYAML's CSafeDumper:
//! PyYAML's SafeRepresenter, Serializer and Resolver in front of libyaml 0.2.5's emitter
//! (PyYAML's `_yaml.pyx` `CEmitter`). The Python shim of `src/runner/python/` dumps the same
//! way. This module does the same in three steps:
//!
//! - the representer (`represent`, `represent_template`) turns a value into nodes as
//!   SafeRepresenter does: `null`, `true`/`false`, `str(int)`, floats as `repr(float).lower()`
//!   with `.0` put before a bare exponent (`1.0e+16`) and `.inf`/`-.inf`/`.nan`, strings
//!   unchanged, mappings with their keys sorted (`sort_keys=True`), and block collections
//!   (`default_flow_style=False`);
//! - the serializer (`dump`) turns the nodes into libyaml events as `CEmitter.serialize`
//!   does: an implicit document; for each scalar its tag and the `plain_implicit` /
//!   `quoted_implicit` flags, which say whether the Resolver reads the text back, written
//!   plain or quoted, with the scalar's own tag (a string that reads as a number, `'1'`,
//!   cannot be written plain; a float can only be written plain);
//! - libyaml's emitter, from libyaml-safer (vendored in `vendor/libyaml-safer`, a port of
//!   libyaml 0.2.5 to safe Rust, patched where it differed from libyaml's C code), chooses
//!   each scalar's style (plain, else single-quoted, else double-quoted), escapes and folds
//!   lines at 80 columns.
//!
//! What libyaml does and PyYAML's pure-Python emitter (which an earlier version of this
//! module ported) does not: no `...` after a plain scalar at the root (`ab\n`), U+0085 escaped
//! as `\N`, characters beyond U+FFFF always escaped (`"\U0001F389"`, even with
//! `allow_unicode`), a key longer than 128 bytes (not characters) written as `? key`, and its
//! own way of folding long quoted lines. `tests/it/params_differential.rs` compares this
//! module with PyYAML's CSafeDumper on generated values.
//!
//! Not represented: aliases. PyYAML writes `&id001` and `*id001` where the same list or dict
//! object appears twice in a value; values here are trees without identity.

use libyaml_safer::{Emitter, Encoding, Event, MappingStyle, ScalarStyle, SequenceStyle};
use minijinja::value::{Value as JinjaValue, ValueKind};
use serde_json::Value;

use crate::yaml::resolve;

/// A node of PyYAML's representation graph, as SafeRepresenter builds it.
#[derive(Debug)]
enum Node {
    Scalar {
        tag: &'static str,
        value: String,
    },
    Sequence(Vec<Node>),
    /// Entries in the order they are written: sorted by key.
    Mapping(Vec<(Node, Node)>),
}

/// `yaml.dump(value, Dumper=yaml.CSafeDumper, default_flow_style=False, allow_unicode=...,
/// indent=...)` of a JSON value.
pub fn safe_dump(value: &Value, indent: Option<usize>, allow_unicode: bool) -> String {
    dump(&represent(value), indent, allow_unicode)
}

/// The same dump of a template value, which unlike JSON may hold `inf` and `nan`.
pub fn safe_dump_template(
    value: &JinjaValue,
    indent: Option<usize>,
    allow_unicode: bool,
) -> String {
    dump(&represent_template(value), indent, allow_unicode)
}

/// SafeRepresenter's nodes for a JSON value.
fn represent(value: &Value) -> Node {
    match value {
        Value::Null => scalar(resolve::NULL, "null".into()),
        Value::Bool(b) => scalar(resolve::BOOL, if *b { "true" } else { "false" }.into()),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => scalar(resolve::INT, int.to_string()),
            (None, Some(int)) => scalar(resolve::INT, int.to_string()),
            _ => float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => scalar(resolve::STR, text.clone()),
        Value::Array(items) => Node::Sequence(items.iter().map(represent).collect()),
        Value::Object(map) => mapping(
            map.iter()
                .map(|(key, item)| (key.clone(), represent(item)))
                .collect(),
        ),
    }
}

/// SafeRepresenter's nodes for a template value: containers walked as
/// [`super::pyjson::to_json`] walks them (keys as text), floats kept as they are (`inf`,
/// `nan`, which JSON cannot hold), any other value as `to_json` sees it.
fn represent_template(value: &JinjaValue) -> Node {
    let opaque = || super::pystr::opaque_text(value).is_some();
    match value.kind() {
        ValueKind::Number if !value.is_integer() => {
            float(f64::try_from(value.clone()).unwrap_or(f64::NAN))
        }
        ValueKind::Map if !opaque() => {
            let mut entries = Vec::new();
            if let Ok(keys) = value.try_iter() {
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    let key = match key.as_str() {
                        Some(text) => text.to_string(),
                        None => super::pystr::py_str(&key),
                    };
                    entries.push((key, represent_template(&item)));
                }
            }
            mapping(entries)
        }
        ValueKind::Seq | ValueKind::Iterable if !opaque() => match value.try_iter() {
            Ok(items) => Node::Sequence(items.map(|item| represent_template(&item)).collect()),
            Err(_) => represent(&super::pyjson::to_json(value)),
        },
        _ => represent(&super::pyjson::to_json(value)),
    }
}

fn scalar(tag: &'static str, value: String) -> Node {
    Node::Scalar { tag, value }
}

/// `represent_float`: `.nan`, `.inf`, `-.inf`, else `repr(data).lower()` with `.0` put
/// before a bare exponent, which the resolver would not read as a float (`1e+16`).
fn float(float: f64) -> Node {
    let text = if float.is_nan() {
        ".nan".to_string()
    } else if float.is_infinite() {
        if float > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else {
        let text = crate::schema::repr::float_repr(float).to_lowercase();
        if !text.contains('.') && text.contains('e') {
            text.replacen('e', ".0e", 1)
        } else {
            text
        }
    };
    scalar(resolve::FLOAT, text)
}

/// `represent_mapping` with `sort_keys=True`: `sorted(mapping.items())`, which orders the
/// (unique, text) keys by code point, as `str` comparison in Python and byte order of UTF-8
/// both do.
fn mapping(mut entries: Vec<(String, Node)>) -> Node {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Node::Mapping(
        entries
            .into_iter()
            .map(|(key, item)| (scalar(resolve::STR, key), item))
            .collect(),
    )
}

/// `CEmitter`: `open()`, `serialize(node)`, `close()`, with libyaml's emitter set up as
/// `CEmitter.__init__` sets it (`indent` when given, unicode when `allow_unicode`; the
/// default width, 80).
fn dump(node: &Node, indent: Option<usize>, allow_unicode: bool) -> String {
    let mut out = Vec::new();
    let result = {
        let mut emitter = Emitter::new();
        emitter.set_output_string(&mut out);
        if let Some(indent) = indent {
            // libyaml takes 2..=9 and uses 2 for anything else.
            emitter.set_indent(i32::try_from(indent).unwrap_or(0));
        }
        emitter.set_unicode(allow_unicode);
        emit_document(&mut emitter, node)
    };
    // The events are one well-formed document whose every scalar has a tag, and the output
    // is a vector: libyaml's emitter has nothing to refuse and nowhere to fail writing.
    result.expect("libyaml's emitter takes one well-formed document");
    String::from_utf8(out).expect("libyaml's emitter writes UTF-8 when asked to")
}

fn emit_document(emitter: &mut Emitter<'_>, node: &Node) -> libyaml_safer::Result<()> {
    emitter.emit(Event::stream_start(Encoding::Utf8))?;
    emitter.emit(Event::document_start(None, &[], true))?;
    serialize(emitter, node)?;
    emitter.emit(Event::document_end(true))?;
    emitter.emit(Event::stream_end())
}

/// `CEmitter._serialize_node`: for a scalar, `plain_implicit` when the Resolver reads the
/// text written plain as the node's tag, `quoted_implicit` when it reads it quoted as that
/// tag (only `str`); collections are always implicit (`!!seq`, `!!map`) and block style.
fn serialize(emitter: &mut Emitter<'_>, node: &Node) -> libyaml_safer::Result<()> {
    match node {
        Node::Scalar { tag, value } => {
            // `resolve` ignores what Python's `$` allows, a match before a final line break
            // (`yes\n` is a bool to PyYAML): a text that ends with a line break is never
            // written plain, so its `plain_implicit` does not matter; and a string is always
            // `quoted_implicit`, so it never gets a tag either way.
            let plain_implicit = resolve::resolve(value, true) == *tag;
            let quoted_implicit = resolve::resolve(value, false) == *tag;
            emitter.emit(Event::scalar(
                None,
                Some(tag),
                value,
                plain_implicit,
                quoted_implicit,
                ScalarStyle::Plain,
            ))
        }
        Node::Sequence(items) => {
            emitter.emit(Event::sequence_start(
                None,
                Some(resolve::SEQ),
                true,
                SequenceStyle::Block,
            ))?;
            for item in items {
                serialize(emitter, item)?;
            }
            emitter.emit(Event::sequence_end())
        }
        Node::Mapping(entries) => {
            emitter.emit(Event::mapping_start(
                None,
                Some(resolve::MAP),
                true,
                MappingStyle::Block,
            ))?;
            for (key, item) in entries {
                serialize(emitter, key)?;
                serialize(emitter, item)?;
            }
            emitter.emit(Event::mapping_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dump(value: Value) -> String {
        safe_dump(&value, None, true)
    }

    /// Outputs of `yaml.dump(v, Dumper=yaml.CSafeDumper, default_flow_style=False,
    /// allow_unicode=True)` with PyYAML 6.0.3 (libyaml 0.2.5).
    #[test]
    fn dumps_as_csafedumper() {
        assert_eq!(
            dump(json!({"b": [1, {"x": "yes", "w": []}], "a": "plain text", "c": {}})),
            "a: plain text\nb:\n- 1\n- w: []\n  x: 'yes'\nc: {}\n"
        );
        assert_eq!(dump(json!("ab")), "ab\n");
        assert_eq!(dump(json!("")), "''\n");
        assert_eq!(dump(json!(null)), "null\n");
        assert_eq!(dump(json!("l1\nl2")), "'l1\n\n  l2'\n");
        assert_eq!(dump(json!(1e17)), "1.0e+17\n");
        assert_eq!(dump(json!(-0.0)), "-0.0\n");
        assert_eq!(dump(json!({"k": "tab\there"})), "k: \"tab\\there\"\n");
        assert_eq!(
            dump(json!({"1": true, "yes": null})),
            "'1': true\n'yes': null\n"
        );
        assert_eq!(dump(json!("x\u{85}y")), "\"x\\Ny\"\n");
        assert_eq!(dump(json!("\u{1F389}")), "\"\\U0001F389\"\n");
        assert_eq!(dump(json!("\u{7EFF}\t")), "\"\u{7EFF}\\t\"\n");
        assert_eq!(dump(json!("\u{FEFF}")), "\"\\uFEFF\"\n");
        assert_eq!(safe_dump(&json!("é"), None, false), "\"\\xE9\"\n");
        assert_eq!(
            safe_dump(&json!({"a": [{"b": 1}]}), Some(4), true),
            "a:\n-   b: 1\n"
        );
    }

    #[test]
    fn folds_long_lines_as_libyaml() {
        let long = "word ".repeat(20) + "end";
        assert_eq!(
            dump(json!({ "k": long })),
            "k: word word word word word word word word word word word word word word word word\n  word word word word end\n"
        );
        let quoted = format!("{}\t", "word ".repeat(20));
        assert_eq!(
            dump(json!(quoted)),
            "\"word word word word word word word word word word word word word word word word word\n  word word word \\t\"\n"
        );
    }

    #[test]
    fn long_keys_are_explicit_by_bytes() {
        // 100 characters, 200 bytes: libyaml counts bytes against its limit of 128.
        let key = "é".repeat(100);
        assert_eq!(dump(json!({ key.clone(): 1 })), format!("? {key}\n: 1\n"));
    }

    #[test]
    fn template_floats_keep_inf_and_nan() {
        let value = JinjaValue::from_iter([
            ("n", JinjaValue::from(f64::NAN)),
            ("i", JinjaValue::from(f64::NEG_INFINITY)),
            ("x", JinjaValue::from(vec![JinjaValue::from(f64::INFINITY)])),
        ]);
        assert_eq!(
            safe_dump_template(&value, None, true),
            "i: -.inf\nn: .nan\nx:\n- .inf\n"
        );
    }
}

//! Block YAML for `-y` output, read back by [`super::from_str`] as the same value.

use serde_json::{Map, Value};

use super::resolve;

/// Block-style YAML for `-y` output, like PyYAML's `safe_dump(default_flow_style=False)`.
/// Strings that would read back as something else are quoted, so `from_str(&to_string(v))`
/// gives `v` back.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => emit_sequence(items, 0, &mut out),
        Value::Object(map) if !map.is_empty() => emit_mapping(map, 0, &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn emit_mapping(map: &Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quote_if_needed(key));
        out.push(':');
        emit_child(value, indent + 2, out, false);
    }
}

fn emit_sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        emit_child(item, indent + 2, out, true);
    }
}

fn emit_child(value: &Value, indent: usize, out: &mut String, in_sequence: bool) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            if in_sequence {
                // First key on the dash line.
                let mut first = true;
                for (key, child) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent));
                    }
                    out.push_str(&quote_if_needed(key));
                    out.push(':');
                    emit_child(child, indent + 2, out, false);
                }
            } else {
                out.push('\n');
                emit_mapping(map, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            // PyYAML indents sequences under a key at the key's level; we indent them, which
            // reads the same.
            emit_sequence(items, indent, out);
        }
        Value::String(text) if text.contains('\n') => {
            if literal_block_keeps(text) {
                out.push_str(" |-\n");
                for line in text.split('\n') {
                    if !line.is_empty() {
                        out.push_str(&" ".repeat(indent));
                        out.push_str(line);
                    }
                    out.push('\n');
                }
            } else {
                out.push(' ');
                out.push_str(&serde_json::to_string(text).expect("string"));
                out.push('\n');
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

/// A float as PyYAML's representer writes it: YAML 1.1 reads `1e+300` (no dot) or `1e300`
/// (unsigned exponent) as a string, so `1.0e+300`.
fn float_text(text: &str) -> String {
    let mut text = text.to_lowercase();
    if let Some(at) = text.find('e') {
        if !text[at + 1..].starts_with(['+', '-']) {
            text.insert(at + 1, '+');
        }
        if !text.contains('.') {
            text.insert_str(at, ".0");
        }
    }
    text
}

/// Whether a `|-` block scalar reads back as `text`. It cannot hold a final line break,
/// leading spaces on its first line that is not empty (they would set the indentation), a
/// line of spaces only (read as an empty line), or other line breaks and control characters.
fn literal_block_keeps(text: &str) -> bool {
    !text.ends_with('\n')
        && !text
            .split('\n')
            .find(|line| !line.is_empty())
            .is_some_and(|line| line.starts_with(' '))
        && !text
            .split('\n')
            .any(|line| !line.is_empty() && line.trim_start_matches(' ').is_empty())
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => float_text(&n.to_string()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_if_needed(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Quote a string when, written plain, it would not read back as the same string.
fn quote_if_needed(text: &str) -> String {
    let plain_ok = !text.is_empty()
        && resolve::plain_is_string(text)
        && !text.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`',
        ])
        && !text.ends_with([' ', ':'])
        // A plain `<<` key is a merge key.
        && text != "<<"
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\n', '\t', '\r'])
        && text.chars().all(|c| !c.is_control());
    if plain_ok {
        text.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(text).expect("string")
    }
}

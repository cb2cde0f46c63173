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
                out.push_str(&double_quoted(text));
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
/// leading spaces or a tab on its first line that is not empty (spaces would set the
/// indentation; libyaml refuses a tab there), a line of spaces only (read as an empty
/// line), or other line breaks and control characters.
fn literal_block_keeps(text: &str) -> bool {
    !text.ends_with('\n')
        && !text
            .split('\n')
            .find(|line| !line.is_empty())
            .is_some_and(|line| line.starts_with([' ', '\t']))
        && !text
            .split('\n')
            .any(|line| !line.is_empty() && line.trim_start_matches(' ').is_empty())
        && text
            .chars()
            .all(|c| c == '\n' || c == '\t' || written_as_is(c))
}

/// Whether a character written as it is in a scalar reads back as itself: libyaml refuses
/// control characters (and U+FFFE, U+FFFF) anywhere in a stream, and reads NEL, LS and PS
/// as line breaks.
fn written_as_is(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}')
}

/// A double-quoted scalar: JSON's string (valid YAML) with the characters that
/// [`written_as_is`] refuses escaped as YAML escapes them (JSON leaves DEL, C1 controls,
/// LS and PS as they are).
fn double_quoted(text: &str) -> String {
    let json = serde_json::to_string(text).expect("string");
    if json.chars().all(written_as_is) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        match c {
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !written_as_is(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
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
        // libyaml skips a byte order mark that starts a line.
        && !text.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`', '\u{feff}',
        ])
        && !text.ends_with([' ', ':'])
        // A plain `<<` key is a merge key.
        && text != "<<"
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\n', '\t', '\r'])
        && text.chars().all(written_as_is);
    if plain_ok {
        text.to_string()
    } else {
        double_quoted(text)
    }
}

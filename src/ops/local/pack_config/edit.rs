//! Writing new values into a user's `configs/<pack>.yaml` without rewriting the rest of it:
//! comments, the leading `---`, key order, quoting and blank lines stay as they were; only the
//! entries whose value changed are rewritten, removed or added.
//!
//! Why by hand: our YAML parser (libyaml's, [`crate::yaml`]) gives events with the span of
//! each node but, like every loader, drops comments, and its emitter writes a value with
//! nothing of the original layout, so no round trip through it keeps a comment. Lossless
//! YAML editors exist outside the tree (`yaml-edit`, on rowan, at 0.x), but they read YAML
//! 1.2 where StackStorm reads YAML 1.1 (PyYAML), and one command does not justify the
//! dependency. So the spans of the parser's events find the entries and where each value
//! ends ([`parse`]), and the entries that changed are spliced with text from our own emitter
//! ([`crate::yaml::to_string`]).
//!
//! Every edit is checked: the edited text is read back with the loader StackStorm's semantics
//! ([`crate::yaml::from_str`]) and must give exactly the new values. A file this module cannot
//! edit safely (flow-style top level, anchors, tags, several documents, keys written in a way
//! the loader reads differently) or an edit that does not read back is written whole by
//! [`rewrite`], which still keeps the comments and `---` that open the file.

use serde_json::{Map, Value};

use crate::yaml::{spanned_events, ScalarKind, SpanKind, SpannedEvent};

/// `text` (a config file whose values are `old`) with `new` written into it, editing only
/// the entries that changed; when that cannot be done safely, the whole file rewritten with
/// its opening comments kept.
pub(crate) fn update(text: &str, old: &Value, new: &Value) -> String {
    edit(text, old, new).unwrap_or_else(|| rewrite(text, new))
}

/// `new` as YAML, after the comments, blank lines, directives and `---` that open `text`.
pub(crate) fn rewrite(text: &str, new: &Value) -> String {
    let mut header = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let document_start = trimmed == "---"
            || trimmed
                .strip_prefix("---")
                .is_some_and(|rest| rest.trim_start().starts_with('#'));
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('%') {
            header.push_str(line);
        } else if document_start {
            header.push_str(line);
            break;
        } else {
            break;
        }
    }
    if !header.is_empty() && !header.ends_with('\n') {
        header.push('\n');
    }
    header.push_str(&crate::yaml::to_string(new));
    header
}

/// The edited text, or `None` when this file cannot be edited safely.
fn edit(text: &str, old: &Value, new: &Value) -> Option<String> {
    let (Value::Object(old_map), Value::Object(new_map)) = (old, new) else {
        return None;
    };
    let tree = parse(text)?;
    let Node::Mapping(root) = &tree.root else {
        return None;
    };
    let mut edits = Vec::new();
    edit_mapping(&tree, root, old_map, new_map, &mut edits)?;
    edits.sort_by_key(|edit| edit.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in edits {
        if edit.start < at {
            return None;
        }
        out.push_str(&text[at..edit.start]);
        out.push_str(&edit.text);
        at = edit.end;
    }
    out.push_str(&text[at..]);
    // Read back as StackStorm reads it: exactly the new values, or no edit.
    (crate::yaml::from_str(&out).ok()? == *new).then_some(out)
}

/// Replace `text[start..end]` with `text`.
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// The edits that turn the entries of `mapping` (whose values are `old`) into `new`.
fn edit_mapping(
    tree: &Tree,
    mapping: &Mapping,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    edits: &mut Vec<Splice>,
) -> Option<()> {
    // The file's keys must be the loader's keys, one for one (not `yes:` read as `True`, no
    // duplicates), so that an entry is the value it seems to be.
    if mapping.entries.len() != old.len()
        || mapping
            .entries
            .iter()
            .any(|entry| !old.contains_key(&entry.key))
    {
        return None;
    }
    for entry in &mapping.entries {
        let before = &old[&entry.key];
        match new.get(&entry.key) {
            Some(after) if after == before => {}
            Some(Value::Object(after)) if matches!(entry.value, Node::Mapping(_)) => {
                let (Node::Mapping(inner), Value::Object(before)) = (&entry.value, before) else {
                    return None;
                };
                edit_mapping(tree, inner, before, after, edits)?;
            }
            Some(after) => edits.push(Splice {
                start: entry.start,
                end: entry.value.end(),
                text: render_entry(&entry.key, after, entry.column),
            }),
            None => {
                // The entry's lines go, from its indentation to the end of its last line.
                let line_start = tree.text[..entry.start].rfind('\n').map_or(0, |i| i + 1);
                if !tree.text[line_start..entry.start].trim().is_empty() {
                    return None;
                }
                let end = entry.value.end();
                let line_end = tree.text[end..]
                    .find('\n')
                    .map_or(tree.text.len(), |i| end + i + 1);
                edits.push(Splice {
                    start: line_start,
                    end: line_end,
                    text: String::new(),
                });
            }
        }
    }
    // New keys go after the last entry, at its indentation.
    let added: Vec<(&String, &Value)> = new
        .iter()
        .filter(|(key, _)| !old.contains_key(*key))
        .collect();
    if !added.is_empty() {
        let last = mapping.entries.last()?;
        let column = last.column;
        let end = last.value.end();
        let line_end = tree.text[end..]
            .find('\n')
            .map_or(tree.text.len(), |i| end + i);
        let mut text = String::new();
        for (key, value) in added {
            text.push('\n');
            text.push_str(&" ".repeat(column));
            text.push_str(&render_entry(key, value, column));
        }
        edits.push(Splice {
            start: line_end,
            end: line_end,
            text,
        });
    }
    Some(())
}

/// `key: value` as our emitter writes it, its lines after the first indented by `column`.
fn render_entry(key: &str, value: &Value, column: usize) -> String {
    let mut one = Map::new();
    one.insert(key.to_string(), value.clone());
    let emitted = crate::yaml::to_string(&Value::Object(one));
    let indent = " ".repeat(column);
    emitted
        .trim_end_matches('\n')
        .split('\n')
        .enumerate()
        .map(|(index, line)| {
            if index == 0 || line.is_empty() {
                line.to_string()
            } else {
                format!("{indent}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parsed document: its text and top node, positions in bytes.
struct Tree<'t> {
    text: &'t str,
    root: Node,
}

enum Node {
    /// A scalar, from its first character to just after its last.
    Scalar { end: usize },
    /// A block mapping (flow mappings are [`Node::Flow`]).
    Mapping(Mapping),
    /// A block sequence, ending where its last item ends.
    Sequence { end: usize },
    /// A flow collection, `{...}` or `[...]`, ending after its closing bracket.
    Flow { end: usize },
}

impl Node {
    fn end(&self) -> usize {
        match self {
            Node::Scalar { end } | Node::Sequence { end } | Node::Flow { end } => *end,
            Node::Mapping(mapping) => mapping.entries.last().map_or(0, |e| e.value.end()),
        }
    }
}

struct Mapping {
    entries: Vec<Entry>,
}

struct Entry {
    key: String,
    /// Byte offset of the key.
    start: usize,
    /// Its column (the mapping's indentation).
    column: usize,
    value: Node,
}

/// The document's entries and where each value ends, from the events of our own YAML
/// parser (libyaml's) with their spans; `None` for what this module does not edit (errors,
/// anchors and aliases, tags, several documents, complex keys).
fn parse(text: &str) -> Option<Tree<'_>> {
    let events = spanned_events(text)?;
    let decorated = |event: &SpannedEvent| match &event.kind {
        SpanKind::Alias => true,
        SpanKind::Scalar { decorated, .. }
        | SpanKind::MappingStart { decorated, .. }
        | SpanKind::SequenceStart { decorated, .. } => *decorated,
        _ => false,
    };
    if events.iter().any(decorated) {
        return None;
    }
    let documents = events
        .iter()
        .filter(|event| event.kind == SpanKind::DocumentStart)
        .count();
    if documents != 1 {
        return None;
    }
    let start = events
        .iter()
        .position(|event| event.kind == SpanKind::DocumentStart)?
        + 1;
    let mut reader = Reader {
        text,
        events: &events,
        at: start,
    };
    let root = reader.node()?;
    (reader.events.get(reader.at)?.kind == SpanKind::DocumentEnd).then_some(Tree { text, root })
}

struct Reader<'a> {
    text: &'a str,
    events: &'a [SpannedEvent],
    at: usize,
}

impl Reader<'_> {
    fn node(&mut self) -> Option<Node> {
        let event = self.events.get(self.at)?;
        self.at += 1;
        match &event.kind {
            SpanKind::Scalar { value, style, .. } => {
                // An empty plain or block scalar has no text to replace (an empty mapping
                // value is read by the caller).
                if value.is_empty() && *style != ScalarKind::Quoted {
                    return None;
                }
                let end = match style {
                    // A block scalar's span takes in the line breaks after it (and the next
                    // line's indentation): the value ends at its last character.
                    ScalarKind::Block => {
                        event.start + self.text[event.start..event.end].trim_end().len()
                    }
                    ScalarKind::Plain | ScalarKind::Quoted => event.end,
                };
                Some(Node::Scalar { end })
            }
            SpanKind::MappingStart { flow: true, .. }
            | SpanKind::SequenceStart { flow: true, .. } => Some(Node::Flow {
                end: self.skip_to_end()?,
            }),
            SpanKind::MappingStart { .. } => {
                let mut entries = Vec::new();
                loop {
                    let event = self.events.get(self.at)?;
                    match &event.kind {
                        SpanKind::MappingEnd => {
                            self.at += 1;
                            break;
                        }
                        SpanKind::Scalar { value, style, .. } if *style != ScalarKind::Block => {
                            let key = value.clone();
                            let (key_start, key_end) = (event.start, event.end);
                            self.at += 1;
                            // An empty value is reported where the next token is: it is
                            // right after the key's colon.
                            let value = match &self.events.get(self.at)?.kind {
                                SpanKind::Scalar {
                                    value,
                                    style: ScalarKind::Plain,
                                    ..
                                } if value.is_empty() => {
                                    self.at += 1;
                                    let colon = key_end + self.text[key_end..].find(':')?;
                                    Node::Scalar { end: colon + 1 }
                                }
                                _ => self.node()?,
                            };
                            let line_start =
                                self.text[..key_start].rfind('\n').map_or(0, |i| i + 1);
                            entries.push(Entry {
                                key,
                                start: key_start,
                                column: self.text[line_start..key_start].chars().count(),
                                value,
                            });
                        }
                        _ => return None,
                    }
                }
                if entries.is_empty() {
                    return None;
                }
                Some(Node::Mapping(Mapping { entries }))
            }
            SpanKind::SequenceStart { .. } => {
                let mut end = None;
                loop {
                    if self.events.get(self.at)?.kind == SpanKind::SequenceEnd {
                        self.at += 1;
                        break;
                    }
                    end = Some(self.node()?.end());
                }
                Some(Node::Sequence { end: end? })
            }
            _ => None,
        }
    }

    /// Skip the events of the flow collection whose start was just read; where its closing
    /// bracket ends.
    fn skip_to_end(&mut self) -> Option<usize> {
        let mut depth = 1;
        loop {
            let event = self.events.get(self.at)?;
            self.at += 1;
            match event.kind {
                SpanKind::MappingStart { .. } | SpanKind::SequenceStart { .. } => depth += 1,
                SpanKind::MappingEnd | SpanKind::SequenceEnd => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(event.end);
                    }
                }
                SpanKind::StreamEnd => return None,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `text` edited (never rewritten whole) to hold `new`.
    fn updated(text: &str, new: Value) -> String {
        let old = crate::yaml::from_str(text).unwrap();
        let out = edit(text, &old, &new).expect("edited in place");
        assert_eq!(crate::yaml::from_str(&out).unwrap(), new, "{out}");
        out
    }

    const FILE: &str = "# Twitter pack config\n---\n# Keys from developer.x.com\nconsumer_key: \"abc\"   # the API key\nconsumer_secret: \"{{ st2kv.system.secret }}\"\n\nquery:\n  - stackstorm\n  - '#st2'\ncount: 30 # per call\nnested:\n    url: http://x   # indented by 4\n    timeout: 10\nnotes: |\n  line one\n  line two\n# trailing comment\n";

    #[test]
    fn only_the_changed_values_are_rewritten() {
        let mut new = crate::yaml::from_str(FILE).unwrap();
        new["consumer_key"] = json!("xyz");
        new["count"] = json!(50);
        new["nested"]["timeout"] = json!(20);
        let out = updated(FILE, new);
        assert_eq!(
            out,
            FILE.replace("consumer_key: \"abc\"", "consumer_key: xyz")
                .replace("count: 30", "count: 50")
                .replace("timeout: 10", "timeout: 20")
        );
    }

    #[test]
    fn lists_block_scalars_added_and_removed_keys() {
        let mut new = crate::yaml::from_str(FILE).unwrap();
        new["query"] = json!(["a", "b c"]);
        new["notes"] = json!("one\nthree\n");
        new["nested"]["proxy"] = json!("http://proxy");
        new.as_object_mut().unwrap().remove("count");
        new["added"] = json!({"x": [1, 2]});
        let out = updated(FILE, new);
        assert_eq!(
            out,
            "# Twitter pack config\n---\n# Keys from developer.x.com\n\
             consumer_key: \"abc\"   # the API key\n\
             consumer_secret: \"{{ st2kv.system.secret }}\"\n\n\
             query:\n  - a\n  - b c\n\
             nested:\n    url: http://x   # indented by 4\n    timeout: 10\n    proxy: http://proxy\n\
             notes: \"one\\nthree\\n\"\n\
             added:\n  x:\n    - 1\n    - 2\n\
             # trailing comment\n"
        );
    }

    #[test]
    fn empty_values_quoted_keys_and_multi_line_plain_scalars() {
        let text = "---\na:\n\"b c\": 'it''s'  # q\nd: first\n  second\ne: ~\n";
        let mut new = crate::yaml::from_str(text).unwrap();
        new["a"] = json!("set");
        new["b c"] = json!("changed");
        new["d"] = json!("one line");
        new["e"] = json!(1);
        let out = updated(text, new);
        assert_eq!(out, "---\na: set\nb c: changed  # q\nd: one line\ne: 1\n");
    }

    #[test]
    fn what_cannot_be_edited_is_rewritten_with_its_header() {
        for text in [
            "# c\n---\n{a: 1, b: 2}\n",
            "# c\n---\na: &x 1\nb: *x\n",
            "# c\n---\nyes: 1\n",
            "# c\n---\na: 1\na: 2\n",
        ] {
            let old = crate::yaml::from_str(text).unwrap();
            let new = json!({"a": 5});
            let out = update(text, &old, &new);
            assert_eq!(out, "# c\n---\na: 5\n", "{text}");
        }
        assert_eq!(rewrite("", &json!({"a": 1})), "a: 1\n");
        assert_eq!(
            rewrite("--- # doc\nb: 2\n", &json!({"a": 1})),
            "--- # doc\na: 1\n"
        );
    }

    #[test]
    fn unchanged_values_leave_the_file_as_it_is() {
        let old = crate::yaml::from_str(FILE).unwrap();
        assert_eq!(update(FILE, &old, &old), FILE);
    }

    /// Every example config of the Exchange snapshot: each top-level scalar changed in turn
    /// is edited in place (every comment kept), or the file is one this module refuses and
    /// rewrites, rarely.
    #[test]
    fn exchange_example_configs_are_edited_in_place() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/exchange/packs");
        let Ok(packs) = std::fs::read_dir(&root) else {
            return crate::test_support::skip("../shared/exchange is not present");
        };
        let (mut edited, mut rewritten) = (0, Vec::new());
        for pack in packs {
            let Ok(files) = std::fs::read_dir(pack.unwrap().path()) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                if !path.to_string_lossy().ends_with(".yaml.example") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let Ok(old @ Value::Object(_)) = crate::yaml::from_str(&text) else {
                    continue;
                };
                // Top-level scalars and the scalars of top-level mappings, one at a time (a
                // changed mapping or list takes its own comments with it).
                let mut paths: Vec<(String, Option<String>)> = Vec::new();
                for (key, value) in old.as_object().unwrap() {
                    match value {
                        Value::Object(inner) => paths.extend(
                            inner
                                .iter()
                                .filter(|(_, v)| !v.is_object() && !v.is_array())
                                .map(|(k, _)| (key.clone(), Some(k.clone()))),
                        ),
                        Value::Array(_) => {}
                        _ => paths.push((key.clone(), None)),
                    }
                }
                for (key, inner) in paths {
                    let mut new = old.clone();
                    let changed = match &inner {
                        Some(inner) => {
                            new[&key][inner] = json!("changed value");
                            inner.clone()
                        }
                        None => {
                            new[&key] = json!("changed value");
                            key.clone()
                        }
                    };
                    match edit(&text, &old, &new) {
                        Some(out) => {
                            edited += 1;
                            let kept = |line: &&str| {
                                !line.trim_start().starts_with(&format!("{changed}:"))
                            };
                            for line in text.lines().filter(kept) {
                                if line.trim_start().starts_with('#') || line.starts_with("---") {
                                    assert!(
                                        out.contains(line),
                                        "{}: {line:?} lost:\n{out}",
                                        path.display()
                                    );
                                }
                            }
                        }
                        None => rewritten.push(format!("{}: {key}.{changed}", path.display())),
                    }
                }
            }
        }
        eprintln!("{edited} edits in place; rewritten whole: {rewritten:#?}");
        assert!(edited > 250, "{edited}");
        assert!(rewritten.len() * 20 < edited, "{rewritten:#?}");
    }
}

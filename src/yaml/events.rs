//! yaml-rust2's parser as the source of [`Event`]s in libyaml's terms (anchors by name, full
//! tags, `plain_implicit`), with libyaml's reader check and the workarounds for where
//! yaml-rust2 (a YAML 1.2 parser) reads a document differently from libyaml 0.2.5, the parser
//! under PyYAML's CSafeLoader that StackStorm uses.

use std::borrow::Cow;
use std::str::Chars;

use yaml_rust2::parser::{Event as RustEvent, Parser, Tag};
use yaml_rust2::scanner::{Marker, Scanner, TScalarStyle, TokenType};

use super::compose::{at, compose, rightmost_scalar, Event, Mark, Node};
use super::YamlError;

/// The document's node graph (`None` for an empty stream).
pub(crate) fn compose_document(text: &str) -> Result<Option<Node>, YamlError> {
    check_printable(text)?;
    let mut text = Cow::Borrowed(text);
    // Each retry parses the whole text again: at most 256 MiB of re-parsing in all.
    let mut retries = (256usize << 20) / text.len().max(1);
    loop {
        let mut events = Events::new(&text);
        match compose(|| events.next()) {
            Ok(Some(mut root)) => {
                events.fix_final_block_scalar(&mut root, &text);
                return Ok(Some(root));
            }
            Ok(None) => return Ok(None),
            Err(err) if retries > 0 && err.message() == QUOTED_INDENTATION => {
                retries -= 1;
                match reindent_quoted_scalar(&text, err.line(), err.column()) {
                    Some(fixed) => text = Cow::Owned(fixed),
                    None => return Err(err),
                }
            }
            Err(err) if retries > 0 && err.message() == TAB_AFTER_COLON => {
                retries -= 1;
                match space_after_colon(&text, err.line(), err.column()) {
                    Some(fixed) => text = Cow::Owned(fixed),
                    None => return Err(err),
                }
            }
            Err(err) => return Err(err),
        }
    }
}

/// libyaml's reader: only printable characters (tab, line breaks, NEL and the printable
/// ranges of Unicode) may appear in a YAML stream.
fn check_printable(text: &str) -> Result<(), YamlError> {
    let printable = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    if text
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || matches!(b, b'\n' | b'\t' | b'\r'))
    {
        return Ok(());
    }
    let (mut line, mut column) = (1, 1);
    for c in text.chars() {
        if !printable(c) {
            return Err(at(
                Mark { line, column },
                format!(
                    "unacceptable character #x{:04x}: control characters are not allowed",
                    u32::from(c)
                ),
            ));
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Ok(())
}

/// yaml-rust2's refusal of `key:<tab>value` (YAML 1.2 wants a space there); libyaml takes a
/// tab as the separator, and so does StackStorm.
const TAB_AFTER_COLON: &str = "':' must be followed by a valid YAML whitespace";

/// The byte offset of a 1-based line and column (in characters).
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let column = column.checked_sub(1)?;
    let line_text = &text[line_start..];
    match line_text.char_indices().nth(column) {
        Some((at, _)) => Some(line_start + at),
        None => (line_text.chars().count() == column).then_some(text.len()),
    }
}

/// The text with the tab after the `:` that yaml-rust2 stopped before (`line`:`column` is
/// the character after the tab) made a space: the separator is not part of any value.
fn space_after_colon(text: &str, line: usize, column: usize) -> Option<String> {
    let after = offset(text, line, column)?;
    let tab = after.checked_sub(1)?;
    if text.as_bytes().get(tab) != Some(&b'\t') || !text[..tab].ends_with(':') {
        return None;
    }
    let mut fixed = text.to_string();
    fixed.replace_range(tab..after, " ");
    Some(fixed)
}

/// yaml-rust2's refusal of a quoted scalar continued on a line indented less than the block
/// it is in. PyYAML does not check that indentation (libyaml's `scan_flow_scalar`, like
/// PyYAML's `scan_flow_scalar_spaces`/`_breaks`, only skips the blanks that start a
/// continuation line), and real packs have such descriptions.
const QUOTED_INDENTATION: &str = "invalid indentation in quoted scalar";

/// The text with the continuation lines of the quoted scalar that starts at `line`:`column`
/// indented to that column. Blanks that start a continuation line are not part of the value,
/// so the value is the same. `None` when the scalar is not found there or is cut by a
/// document marker (which PyYAML refuses too).
fn reindent_quoted_scalar(text: &str, line: usize, column: usize) -> Option<String> {
    let start = offset(text, line, column)?;
    let quote = text[start..].chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let pad = " ".repeat(column - 1);
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..=start]);
    let mut chars = text[start + 1..].char_indices().peekable();
    let mut at_line_start = false;
    let mut indented = false;
    while let Some((i, c)) = chars.next() {
        if at_line_start {
            // Replace the blanks that start the line.
            if c == ' ' || c == '\t' {
                indented = true;
                continue;
            }
            let rest = &text[start + 1 + i..];
            let marker = rest.starts_with("---") || rest.starts_with("...");
            if !indented
                && marker
                && (rest.len() == 3 || rest[3..].starts_with([' ', '\t', '\r', '\n']))
            {
                return None;
            }
            if c != '\n' && c != '\r' {
                out.push_str(&pad);
            }
            at_line_start = false;
        }
        out.push(c);
        match c {
            '\n' => {
                at_line_start = true;
                indented = false;
            }
            '\\' if quote == '"' => {
                // An escape: the next character is part of it (an escaped line break too).
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                    at_line_start = next == '\n';
                    indented = false;
                }
            }
            '\'' if quote == '\'' && chars.peek().map(|(_, n)| *n) == Some('\'') => {
                out.push(chars.next()?.1);
            }
            c if c == quote => {
                out.push_str(&text[start + 1 + i + c.len_utf8()..]);
                return Some(out);
            }
            _ => {}
        }
    }
    None
}

pub(crate) struct Events<'a> {
    text: &'a str,
    parser: Parser<Chars<'a>>,
    /// Open collections: whether a mapping, the character index where it started, and how
    /// many nodes it has so far (in a mapping an even count means a key comes next).
    open: Vec<(bool, usize, usize)>,
    /// Anchor names in the order yaml-rust2 numbers them (1, 2, ...).
    names: Vec<String>,
    /// Where the last node started, when it was a block scalar (`|`, `>`).
    last_block_scalar: Option<Marker>,
}

fn mark(marker: Marker) -> Mark {
    Mark {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

fn full_tag(tag: Option<Tag>) -> Option<String> {
    tag.map(|tag| format!("{}{}", tag.handle, tag.suffix))
}

impl<'a> Events<'a> {
    pub(crate) fn new(text: &'a str) -> Events<'a> {
        // yaml-rust2 numbers anchors and does not say their names; PyYAML's messages and
        // its duplicate check need them. The tokens have them, in the same order.
        let names = if text.contains('&') {
            Scanner::new(text.chars())
                .filter_map(|token| match token.1 {
                    TokenType::Anchor(name) => Some(name),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        Events {
            text,
            open: Vec::new(),
            parser: Parser::new_from_str(text),
            names,
            last_block_scalar: None,
        }
    }

    fn name(&self, id: usize) -> Option<String> {
        (id > 0).then(|| {
            self.names
                .get(id - 1)
                .cloned()
                .unwrap_or_else(|| format!("#{id}"))
        })
    }

    pub(crate) fn next(&mut self) -> Result<(Event, Mark), YamlError> {
        loop {
            let (event, marker) = self
                .parser
                .next_token()
                .map_err(|err| at(mark(*err.marker()), err.info()))?;
            let event = match event {
                RustEvent::StreamStart | RustEvent::Nothing | RustEvent::DocumentEnd => continue,
                RustEvent::StreamEnd => Event::StreamEnd,
                RustEvent::DocumentStart => Event::DocumentStart,
                RustEvent::Alias(id) => Event::Alias(self.name(id).unwrap_or_default()),
                RustEvent::Scalar(value, style, anchor, tag) => {
                    let tag = full_tag(tag);
                    let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                    Event::Scalar {
                        anchor: self.name(anchor),
                        // libyaml: an empty node (no content at all) with a tag is never
                        // plain-implicit; `!` then makes it a string.
                        plain_implicit: match &tag {
                            None => style == TScalarStyle::Plain,
                            Some(tag) => {
                                tag == "!" && !(style == TScalarStyle::Plain && value.is_empty())
                            }
                        },
                        tag,
                        value,
                        block,
                    }
                }
                RustEvent::SequenceStart(anchor, tag) => Event::SequenceStart {
                    anchor: self.name(anchor),
                    tag: full_tag(tag),
                },
                RustEvent::MappingStart(anchor, tag) => Event::MappingStart {
                    anchor: self.name(anchor),
                    tag: full_tag(tag),
                },
                RustEvent::SequenceEnd => Event::SequenceEnd,
                RustEvent::MappingEnd => Event::MappingEnd,
            };
            if let Event::Scalar {
                value,
                anchor: None,
                tag: None,
                ..
            } = &event
            {
                if value.is_empty() && self.is_key() && self.keyless(marker.index()) {
                    return Err(at(
                        mark(marker),
                        "did not find expected key: a value with no key (`: value`)",
                    ));
                }
            }
            match &event {
                Event::SequenceStart { .. } | Event::MappingStart { .. } => self.open.push((
                    matches!(event, Event::MappingStart { .. }),
                    marker.index(),
                    0,
                )),
                Event::SequenceEnd | Event::MappingEnd => {
                    self.open.pop();
                }
                _ => {}
            }
            if matches!(
                event,
                Event::Scalar { .. } | Event::Alias(_) | Event::SequenceEnd | Event::MappingEnd
            ) {
                if let Some(top) = self.open.last_mut() {
                    top.2 += 1;
                }
            }
            // Collection ends and the stream end do not change which node came last.
            match &event {
                Event::Scalar { block, .. } => {
                    self.last_block_scalar = block.then_some(marker);
                }
                Event::Alias(_) | Event::SequenceStart { .. } | Event::MappingStart { .. } => {
                    self.last_block_scalar = None
                }
                _ => {}
            }
            return Ok((event, mark(marker)));
        }
    }

    /// Whether the next node is a mapping key.
    fn is_key(&self) -> bool {
        matches!(self.open.last(), Some((true, _, count)) if count % 2 == 0)
    }

    /// Whether the empty key yaml-rust2 reports at this character index is a `:` with no key
    /// before it. YAML 1.2 reads `: value` as a null key; libyaml refuses it ("did not find
    /// expected key"), and accepts an empty key only after an explicit `?` (not on the line
    /// of a block mapping that the `:` itself starts: `? : x`).
    fn keyless(&self, index: usize) -> bool {
        let Some((at, ':')) = self.text.char_indices().nth(index) else {
            return false;
        };
        if matches!(self.open.last(), Some((_, start, _)) if *start == index) {
            return true;
        }
        let before = &self.text[..at];
        let mut lines = before.rsplit('\n');
        let same_line = lines.next().unwrap_or("").trim_end();
        if !same_line.trim_start().is_empty() {
            return !same_line.ends_with('?');
        }
        for line in lines {
            let code = if line.trim_start().starts_with('#') {
                ""
            } else {
                line.split(" #").next().unwrap_or(line)
            };
            let code = code.trim();
            if !code.is_empty() {
                return !code.ends_with('?');
            }
        }
        true
    }

    /// yaml-rust2 ends a block scalar that runs to the end of the stream with a line break
    /// that is not there (no final line break, or no content at all); libyaml, rightly,
    /// does not.
    pub(crate) fn fix_final_block_scalar(&self, root: &mut Node, text: &str) {
        let Some(marker) = self.last_block_scalar else {
            return;
        };
        let Some(Node::Scalar { value, .. }) = rightmost_scalar(root) else {
            return;
        };
        if !value.is_empty() && value.bytes().all(|b| b == b'\n') {
            // No content, only line breaks: clip and strip give "", keep gives the line
            // breaks after the header line.
            let Some((header, _)) = text.char_indices().nth(marker.index()) else {
                return;
            };
            let header_line = text[header..].split_once('\n');
            let indicators = header_line
                .map_or(&text[header..], |(line, _)| line)
                .trim_start_matches(['|', '>']);
            let keep = indicators
                .chars()
                .take_while(|c| matches!(c, '+' | '-' | '0'..='9'))
                .any(|c| c == '+');
            let breaks = match header_line {
                Some((_, rest)) if keep => {
                    let blank = rest.len() - rest.trim_start_matches([' ', '\t', '\n']).len();
                    rest[..blank].matches('\n').count()
                }
                _ => 0,
            };
            *value = "\n".repeat(breaks);
            return;
        }
        // The scalar's last line is the text's last line only when that line has content
        // that is not a comment or a document marker.
        let last_line = text
            .rsplit('\n')
            .next()
            .unwrap_or("")
            .trim_end_matches([' ', '\t']);
        let content = last_line.trim_start_matches([' ', '\t']);
        let marker = (last_line.starts_with("---") || last_line.starts_with("..."))
            && (last_line.len() == 3 || last_line[3..].starts_with([' ', '\t']));
        if !content.is_empty() && !content.starts_with('#') && !marker && value.ends_with('\n') {
            value.pop();
        }
    }
}

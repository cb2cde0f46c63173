//! libyaml's parser as the source of [`Event`]s: libyaml-safer, a line-by-line port of
//! libyaml 0.2.5 (the parser under PyYAML's CSafeLoader, which StackStorm reads packs
//! with) to safe Rust, vendored in `vendor/libyaml-safer` with fixes where the port did
//! not do what libyaml does (panics at the end of the input, byte offsets where libyaml
//! counts characters, ...: its README says which and why).
//!
//! The events are libyaml's own, so the grammar is libyaml's: tabs, NEL/LS/PS line
//! breaks, flow collections, directives, `: value` with no key, block scalars that end
//! the input. What is left here is libyaml's reader check with a line and a column, the
//! input as PyYAML hands it to libyaml, and the errors in one line.

use std::io::BufReader;
use std::panic::{catch_unwind, AssertUnwindSafe};

use libyaml_safer::{Encoding, EventData, Parser};

use super::compose::{at, compose, Event, Mark, Node};
use super::YamlError;

/// The document's node graph (`None` for an empty stream).
pub(crate) fn compose_document(text: &str) -> Result<Option<Node>, YamlError> {
    check_printable(text)?;
    // libyaml skips a byte order mark that starts the stream (PyYAML hands it the file's
    // text encoded as UTF-8, BOM included) and, anywhere else, one that starts a line.
    // The encoding is given, so libyaml-safer does not guess it: it refuses a stream
    // whose first character is one of U+F000..U+FFFF other than the BOM, which libyaml
    // reads.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new();
    parser.set_encoding(Encoding::Utf8);
    // The parser decodes what each read gives it into a buffer of `char`s (4 bytes each):
    // read in pieces, a 16 MiB file does not cost 64 MiB more.
    parser.set_input(BufReader::with_capacity(READ_PIECE, text.as_bytes()));
    compose(|| next(&mut parser))
}

/// Bytes handed to the parser at a time.
const READ_PIECE: usize = 64 * 1024;

type Input<'a> = BufReader<&'a [u8]>;

/// libyaml's reader: only printable characters (tab, line breaks, NEL and the printable
/// ranges of Unicode) may appear in a YAML stream. libyaml-safer checks that too, but says
/// only the byte offset; this says the line and column.
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

fn mark(mark: libyaml_safer::Mark) -> Mark {
    Mark {
        line: usize::try_from(mark.line)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
        column: usize::try_from(mark.column)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
    }
}

/// The next event the composer needs (stream start and document ends are not).
fn next(parser: &mut Parser<Input<'_>>) -> Result<(Event, Mark), YamlError> {
    loop {
        let event = parse(parser)?;
        let start = mark(event.start_mark);
        let event = match event.data {
            EventData::StreamStart { .. } | EventData::DocumentEnd { .. } => continue,
            EventData::StreamEnd => Event::StreamEnd,
            EventData::DocumentStart { .. } => Event::DocumentStart,
            EventData::Alias { anchor } => Event::Alias(anchor),
            EventData::Scalar {
                anchor,
                tag,
                value,
                plain_implicit,
                ..
            } => Event::Scalar {
                anchor,
                tag,
                value,
                plain_implicit,
            },
            EventData::SequenceStart { anchor, tag, .. } => Event::SequenceStart { anchor, tag },
            EventData::SequenceEnd => Event::SequenceEnd,
            EventData::MappingStart { anchor, tag, .. } => Event::MappingStart { anchor, tag },
            EventData::MappingEnd => Event::MappingEnd,
        };
        return Ok((event, start));
    }
}

/// One event from the parser. The port keeps libyaml's internal assertions as panics
/// (`unwrap`s on its own stacks); none is known to be reachable from any input, and the
/// ones that were are fixed in the vendored copy. Should one remain, the file is refused
/// with an error that says so instead of the process dying.
fn parse(parser: &mut Parser<Input<'_>>) -> Result<libyaml_safer::Event, YamlError> {
    match catch_unwind(AssertUnwindSafe(|| parser.parse())) {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(err)) => Err(error(&err)),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(YamlError::at(
                None,
                format!(
                    "internal error in the YAML parser ({reason}); the file cannot be read, \
                     please report it with the file"
                ),
            ))
        }
    }
}

/// libyaml's error in one line, at the problem's position, in PyYAML's order: `context at
/// line L, column C: problem` (PyYAML says the same over four lines).
fn error(err: &libyaml_safer::Error) -> YamlError {
    let problem_mark = err.problem_mark().map(mark);
    let message = match (err.context(), err.context_mark().map(mark)) {
        (Some(context), Some(context_mark)) if Some(context_mark) != problem_mark => format!(
            "{context} at line {}, column {}: {}",
            context_mark.line,
            context_mark.column,
            err.problem()
        ),
        (Some(context), _) => format!("{context}: {}", err.problem()),
        (None, _) => err.problem().to_string(),
    };
    YamlError::at(problem_mark, message)
}

/// One event of a document with where it stands in the text, for tools that edit YAML
/// text in place (`st2 pack config`): byte offsets of its first character and just after
/// its last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpannedEvent {
    /// What it is.
    pub kind: SpanKind,
    /// Byte offset where it starts.
    pub start: usize,
    /// Byte offset just after it (for a block scalar: after its last line, line break
    /// included, as libyaml marks it).
    pub end: usize,
}

/// The events [`spanned_events`] gives; anchors and tags only said to be there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanKind {
    /// `---` (explicit or not).
    DocumentStart,
    /// The end of a document.
    DocumentEnd,
    /// The end of the stream.
    StreamEnd,
    /// `*name`.
    Alias,
    /// A scalar and its value.
    Scalar {
        /// Its value as written.
        value: String,
        /// How it is written.
        style: ScalarKind,
        /// Whether it has an anchor or a tag.
        decorated: bool,
    },
    /// A mapping starts.
    MappingStart {
        /// `{...}` rather than a block mapping.
        flow: bool,
        /// Whether it has an anchor or a tag.
        decorated: bool,
    },
    /// A mapping ends.
    MappingEnd,
    /// A sequence starts.
    SequenceStart {
        /// `[...]` rather than a block sequence.
        flow: bool,
        /// Whether it has an anchor or a tag.
        decorated: bool,
    },
    /// A sequence ends.
    SequenceEnd,
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// Plain.
    Plain,
    /// `'...'` or `"..."`.
    Quoted,
    /// `|` or `>`.
    Block,
}

/// Every event of `text` with its span, read by the same parser as [`super::from_str`];
/// `None` when the text is not YAML (or starts with a byte order mark, which shifts
/// positions).
pub fn spanned_events(text: &str) -> Option<Vec<SpannedEvent>> {
    if text.starts_with('\u{feff}') || check_printable(text).is_err() {
        return None;
    }
    // libyaml's marks count characters: the byte offset of each.
    let mut offsets: Vec<usize> = text.char_indices().map(|(index, _)| index).collect();
    offsets.push(text.len());
    let byte = |mark: libyaml_safer::Mark| {
        usize::try_from(mark.index)
            .ok()
            .and_then(|index| offsets.get(index).copied())
    };
    let mut parser = Parser::new();
    parser.set_encoding(Encoding::Utf8);
    parser.set_input(BufReader::with_capacity(READ_PIECE, text.as_bytes()));
    let mut events = Vec::new();
    loop {
        let event = parse(&mut parser).ok()?;
        let (start, end) = (byte(event.start_mark)?, byte(event.end_mark)?);
        let kind = match event.data {
            EventData::StreamStart { .. } => continue,
            EventData::StreamEnd => SpanKind::StreamEnd,
            EventData::DocumentStart { .. } => SpanKind::DocumentStart,
            EventData::DocumentEnd { .. } => SpanKind::DocumentEnd,
            EventData::Alias { .. } => SpanKind::Alias,
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
                ..
            } => SpanKind::Scalar {
                value,
                style: match style {
                    libyaml_safer::ScalarStyle::SingleQuoted
                    | libyaml_safer::ScalarStyle::DoubleQuoted => ScalarKind::Quoted,
                    libyaml_safer::ScalarStyle::Literal | libyaml_safer::ScalarStyle::Folded => {
                        ScalarKind::Block
                    }
                    _ => ScalarKind::Plain,
                },
                decorated: anchor.is_some() || tag.is_some(),
            },
            EventData::MappingStart {
                anchor, tag, style, ..
            } => SpanKind::MappingStart {
                flow: style == libyaml_safer::MappingStyle::Flow,
                decorated: anchor.is_some() || tag.is_some(),
            },
            EventData::MappingEnd => SpanKind::MappingEnd,
            EventData::SequenceStart {
                anchor, tag, style, ..
            } => SpanKind::SequenceStart {
                flow: style == libyaml_safer::SequenceStyle::Flow,
                decorated: anchor.is_some() || tag.is_some(),
            },
            EventData::SequenceEnd => SpanKind::SequenceEnd,
        };
        let done = kind == SpanKind::StreamEnd;
        events.push(SpannedEvent { kind, start, end });
        if done {
            return Some(events);
        }
    }
}

//! yaml-rust2's parser as the source of [`Event`]s in libyaml's terms: anchors by name,
//! full tags, `plain_implicit`.

use std::str::Chars;

use yaml_rust2::parser::{Event as RustEvent, Parser, Tag};
use yaml_rust2::scanner::{Marker, Scanner, TScalarStyle, TokenType};

use super::compose::{at, rightmost_scalar, Event, Mark, Node};
use super::YamlError;

pub(crate) struct Events<'a> {
    parser: Parser<Chars<'a>>,
    /// Anchor names in the order yaml-rust2 numbers them (1, 2, ...).
    names: Vec<String>,
    last_is_block_scalar: bool,
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
            parser: Parser::new_from_str(text),
            names,
            last_is_block_scalar: false,
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
                        plain_implicit: match &tag {
                            None => style == TScalarStyle::Plain,
                            Some(tag) => tag == "!",
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
            // Collection ends and the stream end do not change which node came last.
            match &event {
                Event::Scalar { block, .. } => self.last_is_block_scalar = *block,
                Event::Alias(_) | Event::SequenceStart { .. } | Event::MappingStart { .. } => {
                    self.last_is_block_scalar = false
                }
                _ => {}
            }
            return Ok((event, mark(marker)));
        }
    }

    /// yaml-rust2 ends a block scalar that runs to the end of a file with no final line
    /// break with "\n" anyway; PyYAML (rightly) does not add the missing break.
    pub(crate) fn fix_final_block_scalar(&self, root: &mut Node, text: &str) {
        let last_line = text.rsplit('\n').next().unwrap_or("");
        if self.last_is_block_scalar
            && !text.ends_with(['\n', '\r'])
            && !last_line.trim_start().starts_with('#')
        {
            if let Some(Node::Scalar { value, .. }) = rightmost_scalar(root) {
                if value.ends_with('\n') {
                    value.pop();
                }
            }
        }
    }
}

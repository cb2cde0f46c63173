//! PyYAML's Composer and SafeConstructor over libyaml's events.
//!
//! Composing builds the node graph PyYAML builds (an alias is the anchored node itself,
//! shared); constructing turns it into [`Data`] with the SafeConstructor's rules: merge keys
//! flattened on nodes (`flatten_mapping`), `=` keys read as strings, `!!set`, `!!omap`,
//! `!!pairs`, unhashable keys refused, dict assignment with Python's key equality.
//!
//! Guards PyYAML lacks: aliases expand to at most [`MAX_EXPANDED_NODES`] nodes and
//! [`MAX_EXPANDED_BYTES`] bytes of text (billion-laughs documents fail instead of exhausting
//! memory), collections nest at most [`MAX_DEPTH`] levels, and an alias inside the node it
//! names (a recursive structure, which JSON cannot hold) is refused.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use super::data::{Data, DictBuilder, SetBuilder};
use super::resolve;
use super::YamlError;

/// Most nodes a document may expand to through aliases (and merge keys).
const MAX_EXPANDED_NODES: usize = 1_000_000;
/// Most bytes of text (strings and keys) a document may copy through aliases.
const MAX_EXPANDED_BYTES: usize = 64 << 20;
/// Deepest nesting of collections, aliases expanded.
const MAX_DEPTH: usize = 512;

/// A node of the representation graph.
pub(crate) enum Node {
    Scalar {
        tag: Cow<'static, str>,
        value: String,
        mark: Mark,
    },
    Sequence {
        tag: Cow<'static, str>,
        items: Vec<Node>,
        mark: Mark,
    },
    Mapping {
        tag: Cow<'static, str>,
        pairs: Vec<(Node, Node)>,
        mark: Mark,
    },
    /// An anchored node, where it is defined and wherever an alias names it (with where
    /// that reference is).
    Shared(Rc<Node>, Mark),
}

impl Node {
    /// The node itself, through anchors.
    fn target(&self) -> &Node {
        match self {
            Node::Shared(node, _) => node.target(),
            node => node,
        }
    }

    fn mark(&self) -> Mark {
        match self.target() {
            Node::Scalar { mark, .. }
            | Node::Sequence { mark, .. }
            | Node::Mapping { mark, .. } => *mark,
            Node::Shared(..) => unreachable!("target() resolves anchors"),
        }
    }

    fn tag(&self) -> &str {
        match self.target() {
            Node::Scalar { tag, .. } | Node::Sequence { tag, .. } | Node::Mapping { tag, .. } => {
                tag
            }
            Node::Shared(..) => unreachable!("target() resolves anchors"),
        }
    }

    fn kind(&self) -> &'static str {
        match self.target() {
            Node::Scalar { .. } => "scalar",
            Node::Sequence { .. } => "sequence",
            _ => "mapping",
        }
    }
}

/// A position in the text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// A parser event, as libyaml (and so PyYAML's CParser) reports it.
pub(crate) enum Event {
    DocumentStart,
    Alias(String),
    Scalar {
        anchor: Option<String>,
        /// The full tag, `!` included; `None` without a tag property.
        tag: Option<String>,
        value: String,
        /// libyaml's `plain_implicit`: a plain scalar without a tag, or any scalar tagged `!`.
        plain_implicit: bool,
    },
    SequenceStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    MappingStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    SequenceEnd,
    MappingEnd,
    StreamEnd,
}

/// A collection being composed.
struct Frame {
    anchor: Option<String>,
    tag: Cow<'static, str>,
    mark: Mark,
    is_mapping: bool,
    nodes: Vec<Node>,
}

/// Parse and construct one document.
pub(crate) fn load(text: &str) -> Result<Data, YamlError> {
    match super::events::compose_document(text)? {
        Some(root) => Constructor::default().construct_owned(root, 0),
        None => Ok(Data::Null),
    }
}

pub(crate) fn at(mark: Mark, message: impl Into<String>) -> YamlError {
    YamlError::at(Some(mark), message)
}

/// PyYAML's Composer: the events of one document (a second one is an error) as a node graph.
pub(crate) fn compose(
    mut next: impl FnMut() -> Result<(Event, Mark), YamlError>,
) -> Result<Option<Node>, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<String, Rc<Node>> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    loop {
        let (event, mark) = next()?;
        check_anchor(&event, mark, &stack, &anchors)?;
        let is_mapping = matches!(event, Event::MappingStart { .. });
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(at(
                        mark,
                        "expected a single document in the stream, but found another document",
                    ));
                }
                continue;
            }
            Event::Alias(name) => alias(&name, mark, &stack, &anchors)?,
            Event::Scalar {
                anchor,
                tag,
                value,
                plain_implicit,
                ..
            } => {
                // Without a tag, or with the non-specific `!`, the tag is resolved from the
                // text, as a plain scalar's when `plain_implicit`.
                let tag = match tag {
                    Some(full) if full != "!" => Cow::Owned(full),
                    _ => Cow::Borrowed(resolve::resolve(&value, plain_implicit)),
                };
                share(Node::Scalar { tag, value, mark }, anchor, &mut anchors)
            }
            Event::SequenceStart { anchor, tag } | Event::MappingStart { anchor, tag } => {
                if stack.len() >= MAX_DEPTH {
                    return Err(at(
                        mark,
                        format!("collections nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                let tag = match tag {
                    Some(full) if full != "!" => Cow::Owned(full),
                    _ if is_mapping => Cow::Borrowed(resolve::MAP),
                    _ => Cow::Borrowed(resolve::SEQ),
                };
                stack.push(Frame {
                    anchor,
                    tag,
                    mark,
                    is_mapping,
                    nodes: Vec::new(),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let mut frame = stack.pop().expect("parser balances collections");
                let anchor = frame.anchor.take();
                share(frame.into_node(), anchor, &mut anchors)
            }
        };
        match stack.last_mut() {
            Some(frame) => frame.nodes.push(node),
            None => root = Some(node),
        }
    }
    Ok(root)
}

/// PyYAML registers an anchor where its node starts and refuses a second definition of the
/// name in the same document.
fn check_anchor(
    event: &Event,
    mark: Mark,
    stack: &[Frame],
    anchors: &HashMap<String, Rc<Node>>,
) -> Result<(), YamlError> {
    if let Event::Scalar {
        anchor: Some(name), ..
    }
    | Event::SequenceStart {
        anchor: Some(name), ..
    }
    | Event::MappingStart {
        anchor: Some(name), ..
    } = event
    {
        if anchors.contains_key(name) || stack.iter().any(|f| f.anchor.as_ref() == Some(name)) {
            return Err(at(mark, format!("found duplicate anchor '{name}'")));
        }
    }
    Ok(())
}

/// The node an alias names; an alias inside the node it names (still open) is refused.
fn alias(
    name: &str,
    mark: Mark,
    stack: &[Frame],
    anchors: &HashMap<String, Rc<Node>>,
) -> Result<Node, YamlError> {
    match anchors.get(name) {
        Some(node) => Ok(Node::Shared(Rc::clone(node), mark)),
        None if stack.iter().any(|f| f.anchor.as_deref() == Some(name)) => Err(at(
            mark,
            format!(
                "found the alias '{name}' inside the node it names; recursive structures \
                 cannot be loaded"
            ),
        )),
        None => Err(at(mark, format!("found undefined alias '{name}'"))),
    }
}

impl Frame {
    /// The finished collection: a mapping's nodes are its keys and values in turn.
    fn into_node(self) -> Node {
        if self.is_mapping {
            let mut pairs = Vec::with_capacity(self.nodes.len() / 2);
            let mut nodes = self.nodes.into_iter();
            while let (Some(key), Some(value)) = (nodes.next(), nodes.next()) {
                pairs.push((key, value));
            }
            Node::Mapping {
                tag: self.tag,
                pairs,
                mark: self.mark,
            }
        } else {
            Node::Sequence {
                tag: self.tag,
                items: self.nodes,
                mark: self.mark,
            }
        }
    }
}

/// An anchored node becomes shared: the tree and every later alias hold it.
fn share(node: Node, anchor: Option<String>, anchors: &mut HashMap<String, Rc<Node>>) -> Node {
    let Some(name) = anchor else { return node };
    let shared = Rc::new(node);
    anchors.insert(name, Rc::clone(&shared));
    let mark = shared.mark();
    Node::Shared(shared, mark)
}

/// Construction state: what each shared node constructed to (with its size in nodes and
/// bytes of text), and how much aliases have copied so far.
#[derive(Default)]
struct Constructor {
    constructed: HashMap<*const Node, (Data, usize, usize)>,
    expanded_nodes: usize,
    expanded_bytes: usize,
}

impl Constructor {
    /// [`Constructor::construct`] on a node nothing else holds: its strings are moved, not
    /// copied (most of a document).
    fn construct_owned(&mut self, node: Node, depth: usize) -> Result<Data, YamlError> {
        if depth > MAX_DEPTH {
            return self.construct(&node, depth);
        }
        match node {
            Node::Scalar { tag, value, .. } if tag == resolve::STR => Ok(Data::Str(value)),
            Node::Sequence { tag, items, .. } if tag == resolve::SEQ => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    list.push(self.construct_owned(item, depth + 1)?);
                }
                Ok(Data::List(list))
            }
            Node::Mapping { tag, pairs, mark }
                if tag == resolve::MAP
                    && !pairs
                        .iter()
                        .any(|(key, _)| matches!(key.tag(), resolve::MERGE | resolve::VALUE)) =>
            {
                let mut dict = DictBuilder::default();
                for (key, value) in pairs {
                    let key = self.construct_owned(key, depth + 1)?;
                    if !key.is_hashable() {
                        return Err(at(
                            mark,
                            "while constructing a mapping: found unhashable key",
                        ));
                    }
                    let value = self.construct_owned(value, depth + 1)?;
                    dict.insert(key, value);
                }
                Ok(Data::Dict(dict.finish()))
            }
            node => self.construct(&node, depth),
        }
    }

    fn construct(&mut self, node: &Node, depth: usize) -> Result<Data, YamlError> {
        if depth > MAX_DEPTH {
            return Err(at(
                node.mark(),
                format!("collections nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        match node {
            Node::Shared(shared, mark) => self.construct_shared(shared, *mark, depth),
            Node::Scalar { tag, value, mark } => {
                resolve::construct(tag, value).map_err(|message| at(*mark, message))
            }
            Node::Sequence { tag, items, mark } => match tag.as_ref() {
                resolve::SEQ => Ok(Data::List(
                    items
                        .iter()
                        .map(|item| self.construct(item, depth + 1))
                        .collect::<Result<_, _>>()?,
                )),
                resolve::OMAP | resolve::PAIRS => self.construct_pairs(tag, items, *mark, depth),
                other => Err(self.wrong_kind(other, node)),
            },
            Node::Mapping { tag, mark, .. } => match tag.as_ref() {
                resolve::MAP => {
                    let mut dict = DictBuilder::default();
                    for (key, value) in self.flatten(node)? {
                        let key = self.construct_key(key, *mark, depth)?;
                        let value = self.construct(value, depth + 1)?;
                        dict.insert(key, value);
                    }
                    Ok(Data::Dict(dict.finish()))
                }
                resolve::SET => {
                    let mut set = SetBuilder::default();
                    for (key, _) in self.flatten(node)? {
                        set.insert(self.construct_key(key, *mark, depth)?);
                    }
                    Ok(Data::Set(set.finish()))
                }
                other => Err(self.wrong_kind(other, node)),
            },
        }
    }

    /// A shared node: constructed once, copied for each further reference (counted against
    /// the alias budget before the copy is made).
    fn construct_shared(
        &mut self,
        shared: &Rc<Node>,
        mark: Mark,
        depth: usize,
    ) -> Result<Data, YamlError> {
        let key = Rc::as_ptr(shared);
        if let Some((data, nodes, bytes)) = self.constructed.get(&key) {
            self.expanded_nodes += nodes;
            self.expanded_bytes += bytes;
            self.check_budget(mark)?;
            return Ok(data.clone());
        }
        let data = self.construct(shared, depth)?;
        // Referenced once only (anchored, never aliased): nothing to keep.
        if Rc::strong_count(shared) > 1 {
            let (nodes, bytes) = measure(&data);
            self.constructed.insert(key, (data.clone(), nodes, bytes));
        }
        Ok(data)
    }

    fn check_budget(&self, mark: Mark) -> Result<(), YamlError> {
        if self.expanded_nodes > MAX_EXPANDED_NODES {
            return Err(at(
                mark,
                format!(
                    "aliases expand to more than {MAX_EXPANDED_NODES} nodes; refusing to load \
                     the document"
                ),
            ));
        }
        if self.expanded_bytes > MAX_EXPANDED_BYTES {
            return Err(at(
                mark,
                format!(
                    "aliases expand to more than {} MiB of text; refusing to load the document",
                    MAX_EXPANDED_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    /// A mapping key: hashable, and a plain `=` (the "value" tag) read as a string, as
    /// PyYAML's `flatten_mapping` does.
    fn construct_key(
        &mut self,
        key: &Node,
        mapping: Mark,
        depth: usize,
    ) -> Result<Data, YamlError> {
        if let Node::Scalar { tag, value, .. } = key.target() {
            if tag == resolve::VALUE {
                return Ok(Data::Str(value.clone()));
            }
        }
        let data = self.construct(key, depth + 1)?;
        if !data.is_hashable() {
            return Err(at(
                mapping,
                "while constructing a mapping: found unhashable key",
            ));
        }
        Ok(data)
    }

    /// PyYAML's `flatten_mapping`: the pairs of a mapping with its merge keys (`<<`) replaced
    /// by the pairs they merge (each merged mapping flattened first; of a list, the last
    /// mapping's pairs first), all merged pairs before the mapping's own.
    fn flatten<'a>(&mut self, node: &'a Node) -> Result<Vec<(&'a Node, &'a Node)>, YamlError> {
        let Node::Mapping { pairs, mark, .. } = node.target() else {
            unreachable!("flatten is called on mappings")
        };
        let mut merged: Vec<(&Node, &Node)> = Vec::new();
        let mut own: Vec<(&Node, &Node)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            if key.tag() != resolve::MERGE {
                own.push((key, value));
                continue;
            }
            match value.target() {
                Node::Mapping { .. } => merged.extend(self.flatten(value.target())?),
                Node::Sequence { items, .. } => {
                    let mut each = Vec::with_capacity(items.len());
                    for item in items {
                        if !matches!(item.target(), Node::Mapping { .. }) {
                            return Err(at(
                                item.mark(),
                                format!(
                                    "while constructing a mapping: expected a mapping for \
                                     merging, but found {}",
                                    item.kind()
                                ),
                            ));
                        }
                        each.push(self.flatten(item.target())?);
                    }
                    for pairs in each.into_iter().rev() {
                        merged.extend(pairs);
                    }
                }
                _ => {
                    return Err(at(
                        *mark,
                        format!(
                            "while constructing a mapping: expected a mapping or list of \
                             mappings for merging, but found {}",
                            value.kind()
                        ),
                    ))
                }
            }
        }
        // Merged pairs are copies: they count against the alias budget.
        self.expanded_nodes += merged.len();
        self.check_budget(*mark)?;
        merged.extend(own);
        Ok(merged)
    }

    /// `!!omap` and `!!pairs`: a sequence of one-pair mappings, read as a list of tuples.
    fn construct_pairs(
        &mut self,
        tag: &str,
        items: &[Node],
        mark: Mark,
        depth: usize,
    ) -> Result<Data, YamlError> {
        let what = if tag == resolve::OMAP {
            "an ordered map"
        } else {
            "pairs"
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Node::Mapping { pairs, .. } = item.target() else {
                return Err(at(
                    mark,
                    format!(
                        "while constructing {what}: expected a mapping of length 1, but found {}",
                        item.kind()
                    ),
                ));
            };
            if pairs.len() != 1 {
                return Err(at(
                    mark,
                    format!(
                        "while constructing {what}: expected a single mapping item, but found \
                         {} items",
                        pairs.len()
                    ),
                ));
            }
            let key = self.construct(&pairs[0].0, depth + 1)?;
            let value = self.construct(&pairs[0].1, depth + 1)?;
            out.push((key, value));
        }
        Ok(Data::Pairs(out))
    }

    /// A collection with a tag its kind cannot have.
    fn wrong_kind(&self, tag: &str, node: &Node) -> YamlError {
        let message = match tag {
            resolve::NULL
            | resolve::BOOL
            | resolve::INT
            | resolve::FLOAT
            | resolve::BINARY
            | resolve::TIMESTAMP
            | resolve::STR => format!("expected a scalar node, but found {}", node.kind()),
            resolve::SEQ | resolve::OMAP | resolve::PAIRS => {
                format!("expected a sequence node, but found {}", node.kind())
            }
            resolve::MAP | resolve::SET => {
                format!("expected a mapping node, but found {}", node.kind())
            }
            other => format!("could not determine a constructor for the tag '{other}'"),
        };
        at(node.mark(), message)
    }
}

/// Nodes, and bytes of text (strings and keys), of a value.
fn measure(data: &Data) -> (usize, usize) {
    let add = |(nodes, bytes): (usize, usize), (n, b): (usize, usize)| (nodes + n, bytes + b);
    match data {
        Data::List(items) | Data::Set(items) => items.iter().map(measure).fold((1, 0), add),
        Data::Dict(pairs) | Data::Pairs(pairs) => pairs
            .iter()
            .map(|(key, value)| add(measure(key), measure(value)))
            .fold((1, 0), add),
        Data::Str(text) => (1, text.len()),
        Data::Bytes(bytes) => (1, bytes.len()),
        _ => (1, 0),
    }
}

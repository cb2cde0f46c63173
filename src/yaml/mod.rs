//! YAML read exactly as StackStorm reads it: PyYAML 6.0.3's SafeLoader, YAML 1.1.
//!
//! StackStorm reads every pack file with PyYAML (`yaml.load(f, CSafeLoader)` for the content
//! `st2ctl reload` registers, `yaml.safe_load` elsewhere), whose SafeLoader resolves plain
//! scalars with YAML 1.1 rules: `yes`/`no`/`on`/`off` are booleans, `0777` is octal, `1_000`
//! is an integer, `1e3` is a string (a float needs a dot and a signed exponent). YAML 1.2
//! parsers disagree on all of these, and on libyaml's grammar (tabs, NEL/LS/PS line breaks,
//! `: value` with no key, ...). So this module parses with libyaml itself, ported to safe
//! Rust (libyaml-safer, vendored with fixes in `vendor/libyaml-safer`), and builds the values
//! as PyYAML does: `events` feeds libyaml's events to `compose`, PyYAML's Composer and
//! SafeConstructor (anchors, merge keys, `!!set`/`!!omap`, Python's dict semantics),
//! `resolve` is its Resolver and scalar constructors, `data` the Python values they build
//! ([`Data`]) and their JSON view; `emit` writes block YAML for `-y`.
//! `tests/it/yaml_differential.rs` compares the result with PyYAML's CSafeLoader: the one
//! difference left is on purpose (a recursive alias is refused).
//!
//! Values are [`serde_json::Value`] ([`from_str`], [`from_path`]) or, where the exact Python
//! value matters (tests comparing with PyYAML), [`Data`] ([`load`]). What JSON cannot hold is
//! mapped the way Python's `json.dumps(..., default=str)` shows it: non-string keys become
//! their string form, timestamps their `str()` form; `.inf`/`.nan` become the strings
//! `".inf"`/`"-.inf"`/`".nan"`.
//!
//! Guards the reference lacks: an alias expansion budget in nodes and in bytes of text
//! (billion-laughs documents fail instead of exhausting memory, also when what they repeat
//! is one long string) and a nesting limit. `tests/it/yaml_differential.rs` compares this
//! module with PyYAML on thousands of generated documents.

mod compose;
mod data;
mod emit;
mod events;
pub(crate) mod resolve;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use data::{Data, Date, Timestamp};
pub use emit::to_string;
pub use events::{spanned_events, ScalarKind, SpanKind, SpannedEvent};

/// A YAML error: where (file, 1-based line and column, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct YamlError {
    path: Option<PathBuf>,
    line: usize,
    column: usize,
    message: String,
}

impl YamlError {
    fn at(mark: Option<compose::Mark>, message: impl Into<String>) -> YamlError {
        let (line, column) = mark.map(|m| (m.line, m.column)).unwrap_or((0, 0));
        YamlError {
            path: None,
            line,
            column,
            message: message.into(),
        }
    }

    /// The same error, naming the file it came from.
    pub fn with_path(mut self, path: &Path) -> YamlError {
        self.path = Some(path.to_path_buf());
        self
    }

    /// The file, when known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// 1-based line, 0 when unknown.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, 0 when unknown.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn render(&self) -> String {
        let mut text = String::new();
        if let Some(path) = &self.path {
            text.push_str(&path.display().to_string());
            text.push(':');
        }
        if self.line > 0 {
            text.push_str(&format!("{}:{}:", self.line, self.column));
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&self.message);
        text
    }
}

/// Parse one YAML document as PyYAML's `safe_load` does. An empty document is `null`.
pub fn from_str(text: &str) -> Result<Value, YamlError> {
    load(text).map(Data::into_json)
}

/// Parse one YAML document into the Python values PyYAML's `safe_load` returns.
pub fn load(text: &str) -> Result<Data, YamlError> {
    compose::load(text)
}

/// Parse the bytes of a file, which must be UTF-8 (a BOM is allowed).
pub fn from_slice(bytes: &[u8]) -> Result<Value, YamlError> {
    load_slice(bytes).map(Data::into_json)
}

/// Parse the bytes of a file into the Python values PyYAML builds. StackStorm opens pack
/// files with `open(path, "r", encoding="utf-8")` (`st2common/content/loader.py`), so line
/// ends are read as Python's universal newlines read them: `\r\n` and a lone `\r` are `\n`.
pub fn load_slice(bytes: &[u8]) -> Result<Data, YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        YamlError::at(
            None,
            format!(
                "invalid UTF-8 at byte {}: the file must be UTF-8 text",
                err.valid_up_to()
            ),
        )
    })?;
    if text.contains('\r') {
        load(&text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        load(text)
    }
}

/// Largest YAML file read: pack metadata, schemas and configs are kilobytes; a file this big
/// is a mistake or an attack, and would take seconds and hundreds of megabytes to load.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read and parse a file (at most [`MAX_FILE_BYTES`]); errors name the file.
pub fn from_path(path: &Path) -> Result<Value, YamlError> {
    let io =
        |err: std::io::Error| YamlError::at(None, crate::settings::io_reason(&err)).with_path(path);
    let file = std::fs::File::open(path).map_err(io)?;
    let Some(bytes) = crate::fs::read_at_most(file, MAX_FILE_BYTES).map_err(io)? else {
        return Err(YamlError::at(
            None,
            format!(
                "the file is larger than {} MiB, the limit for YAML files",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .with_path(path));
    };
    from_slice(&bytes).map_err(|err| err.with_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Value {
        from_str(text).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn yaml_1_1_scalars_as_pyyaml_reads_them() {
        let v = load(
            "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: 0777\ng: 0x1F\nh: 0b101\ni: 1_000\nj: 190:20:30\n\
             k: 1.5\nl: 1e3\nm: 1.5e+3\nn: ~\no:\np: 'yes'\nq: 09\nr: -.5\ns: .5\nt: +12\nu: 2001-12-14\n\
             v: 2001-12-14t21:59:43.10-05:00\nw: true\nx: .inf\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": true, "d": false, "e": "y", "f": 511, "g": 31,
                   "h": 5, "i": 1000, "j": 685230, "k": 1.5, "l": "1e3", "m": 1500.0,
                   "n": null, "o": null, "p": "yes", "q": "09", "r": "-.5", "s": 0.5, "t": 12,
                   "u": "2001-12-14", "v": "2001-12-14 21:59:43.100000-05:00", "w": true,
                   "x": ".inf"})
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = load(
            "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 9\nlist: [*b]\n",
        );
        assert_eq!(v["m"], json!({"x": 9, "y": 2, "z": 4}));
        assert_eq!(v["list"], json!([{"x": 1, "y": 2}]));
        assert_eq!(load("a: 1\na: 2\n"), json!({"a": 2}));
        // Python's dict: 1, True and 1.0 are one key (the first), holding the last value.
        assert_eq!(
            load("1: a\ntrue: b\n~: c\n1.0: d\n2.5: e\n"),
            json!({"1": "d", "null": "c", "2.5": "e"})
        );
    }

    /// The non-specific tag `!` resolves a scalar as if it were plain, quoted or not
    /// (libyaml's `plain_implicit`).
    #[test]
    fn tags() {
        assert_eq!(
            load("a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: ! 12\ne: ! '12'\n"),
            json!({"a": "123", "b": 7, "c": 1.0, "d": 12, "e": 12})
        );
        let err = from_str("a: !Ref x\n").unwrap_err();
        assert!(
            err.message()
                .contains("could not determine a constructor for the tag '!Ref'"),
            "{err}"
        );
    }

    #[test]
    fn errors_have_positions_and_paths() {
        let err = from_str("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line() >= 2, "{err}");
        assert!(err
            .to_string()
            .starts_with(&format!("{}:{}:", err.line(), err.column())));
        let err = err.with_path(Path::new("x/pack.yaml"));
        assert!(err.to_string().starts_with("x/pack.yaml:"), "{err}");
        assert!(from_str("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message()
            .contains("single document"));
        assert!(from_slice(b"a: \xff\n")
            .unwrap_err()
            .message()
            .contains("UTF-8"));
        assert_eq!(from_str("# only a comment\n").unwrap(), Value::Null);
        assert_eq!(from_str("").unwrap(), Value::Null);
        assert_eq!(from_str("\u{feff}a: 1").unwrap(), json!({"a": 1}));
    }

    /// Real packs continue a quoted description on lines indented less than its key;
    /// PyYAML reads them (the blanks that start a continuation line are not part of the
    /// value), YAML 1.2 parsers do not.
    #[test]
    fn quoted_scalars_continued_at_any_indentation() {
        assert_eq!(
            load("a:\n  b: \"one\ntwo\n\tthree \\\nfour\"\n  c: 'x\n y'\n"),
            json!({"a": {"b": "one two three four", "c": "x y"}})
        );
        assert_eq!(
            load("a:\n    b: \"one \\\"q\\\"\n  two\"\n    c: \"x\n y\"\nd: 1\n"),
            json!({"a": {"b": "one \"q\" two", "c": "x y"}, "d": 1})
        );
        assert_eq!(
            load("a:\n  b: 'it''s\nhere'\n"),
            json!({"a": {"b": "it's here"}})
        );
        // A document marker at the start of a line ends the document: refused, as PyYAML
        // refuses it.
        assert!(from_str("a:\n  b: \"one\n---\n two\"\n").is_err());
        assert!(from_str("a:\n  b: \"one\ntwo\n").is_err());
    }

    /// Block scalars that end the document, with no content or no final line break, and
    /// an empty node tagged `!`: as libyaml reads them.
    #[test]
    fn block_scalars_at_the_end_and_empty_tagged_nodes() {
        for (text, expected) in [
            ("a: |\n", ""),
            ("a: |\n\n", ""),
            ("a: |+\n", ""),
            ("a: |+\n\n", "\n"),
            ("a: |+\n  \n", "\n"),
            ("a: >\n  \n", ""),
            ("a: |2\n", ""),
            ("a: |\n  x", "x"),
            ("a: |+\n  x\n\n\n", "x\n\n\n"),
            ("a: !\n", ""),
        ] {
            assert_eq!(load(text), json!({ "a": expected }), "{text:?}");
        }
        assert_eq!(load("a: |\nb: 1\n"), json!({"a": "", "b": 1}));
    }

    /// Where libyaml-safer 0.3.0 panicked or read differently from libyaml 0.2.5, fixed in
    /// `vendor/libyaml-safer` (its README): values and refusals as PyYAML's CSafeLoader's.
    #[test]
    fn as_libyaml_where_the_port_differed() {
        // A block scalar whose last line has no line break (the port panicked).
        for (text, expected) in [
            ("a: |+\n  x", json!({"a": "x"})),
            ("a: >\n  x\n\n  y", json!({"a": "x\ny"})),
            ("- >-\n x\n y", json!(["x y"])),
            ("a: |\n  x\n  ", json!({"a": "x\n"})),
        ] {
            assert_eq!(load(text), expected, "{text:?}");
        }
        // A backslash that ends the input inside a double-quoted scalar (the port panicked).
        let err = from_str("a: \"x\\").unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:6: while parsing a quoted scalar at line 1, column 4: found unknown escape \
             character"
        );
        // A tag that a `,` ends in a flow collection (the port panicked).
        assert_eq!(load("[!!str, x]"), json!(["", "x"]));
        assert_eq!(
            load("{!!str : a, !!null , b: c}"),
            json!({"": "a", "null": null, "b": "c"})
        );
        // An implicit key is at most 1024 characters long, not bytes (the port counted
        // bytes and refused this key of 1024 two-byte characters).
        let key = "é".repeat(1024);
        assert_eq!(load(&format!("{key}: v\n")), json!({ key: "v" }));
        let err = from_str(&format!("{}: v\n", "é".repeat(1025))).unwrap_err();
        assert!(
            err.message().contains("mapping values are not allowed"),
            "{err}"
        );
        // Escaped octets in a tag are UTF-8 (the port read each octet as a character);
        // an invalid sequence is refused (PyYAML raises UnicodeDecodeError).
        let err = from_str("!<%C3%A9> x").unwrap_err();
        assert!(
            err.message()
                .contains("could not determine a constructor for the tag 'é'"),
            "{err}"
        );
        let err = from_str("<<: !<%C0%80> {a: 1}").unwrap_err();
        assert!(err.message().contains("invalid UTF-8"), "{err}");
        // Characters of 1 to 4 bytes across the pieces the parser reads the text in.
        let long: String = "aé€😀".repeat(40_000);
        assert_eq!(load(&format!("k: {long}\n")), json!({ "k": long }));
        // A first character in U+F000..U+FFFF (the port took its first byte for a broken
        // byte order mark).
        assert_eq!(load("Ｈ: 1"), json!({"Ｈ": 1}));
    }

    /// Keys compare as in Python's dict, which compares by identity first: found by the
    /// differential test.
    #[test]
    fn nan_keys_as_python_compares_them() {
        // Every `.nan` is PyYAML's one `nan_value` object: one key. `!!float nan` is a new
        // `float('nan')` each time: two keys.
        let text = ".nan: a\n.NaN: b\n!!float nan: c\n!!float nan: d\n";
        match super::load(text).unwrap() {
            Data::Dict(pairs) => {
                let values: Vec<&Data> = pairs.iter().map(|(_, v)| v).collect();
                assert_eq!(
                    values,
                    [
                        &Data::Str("b".into()),
                        &Data::Str("c".into()),
                        &Data::Str("d".into())
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// A tab after `key:` separates as a space does (libyaml), tabs inside plain scalars are
    /// kept.
    #[test]
    fn tabs_as_libyaml_reads_them() {
        assert_eq!(
            load("ref:\tslack\nlist:\n  - a:\tb\nc: x\ty\n"),
            json!({"ref": "slack", "list": [{"a": "b"}], "c": "x\ty"})
        );
        assert!(from_str("a: b:\tc\n").is_err());
    }

    /// libyaml's reader refuses control characters anywhere in the stream.
    #[test]
    fn control_characters_are_refused() {
        for c in [
            '\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}',
        ] {
            let err = from_str(&format!("a: b\nc: x{c}y\n")).unwrap_err();
            assert!(err.message().contains("unacceptable character"), "{err}");
            assert_eq!((err.line(), err.column()), (2, 5), "{err}");
        }
        assert_eq!(
            load("a: x\u{a0}\u{feff}\u{e000}😀y\n"),
            json!({"a": "x\u{a0}\u{feff}\u{e000}😀y"})
        );
    }

    /// What safe_load refuses: a second anchor of one name, `<<` or `=` as a value, a date
    /// that does not exist; and a recursive alias, which PyYAML builds but JSON cannot hold.
    #[test]
    fn refused_as_pyyaml_refuses() {
        for (text, message) in [
            ("a: &x 1\nb: &x 2\n", "duplicate anchor 'x'"),
            ("a: &x [&x 1]\n", "duplicate anchor 'x'"),
            ("a: <<\n", "tag:yaml.org,2002:merge"),
            ("a: =\n", "tag:yaml.org,2002:value"),
            ("a: 2001-02-30\n", "day is out of range"),
            ("a: !!timestamp x\n", "invalid timestamp"),
            ("&a [*a]\n", "recursive"),
            ("a: *x\n", "found undefined alias 'x'"),
            ("[a, b]: c\n", "unhashable key"),
            ("!!omap [a: 1, {b: 2, c: 3}]\n", "single mapping item"),
            ("a: !!binary aGVsbG8\n", "Incorrect padding"),
        ] {
            let err = from_str(text).unwrap_err();
            assert!(err.message().contains(message), "{text:?}: {err}");
        }
        // `: value` with no key: libyaml refuses it (YAML 1.2 parsers read a null key).
        for text in ["a: 1\n: 2\n", ": v\n", "- : v\n", "x:\n  : 2\n", "? : x\n"] {
            let err = from_str(text).unwrap_err();
            assert!(
                err.message().contains("did not find expected key"),
                "{text:?}: {err}"
            );
        }
        let err = from_str("{: v}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:2: while parsing a flow node: did not find expected node content"
        );
        // After an explicit `?`, an empty key is a null key.
        for text in [
            "? \n: v\n",
            "?\n: v\n",
            "? # c\n: v\n",
            "{? : v}\n",
            "a:\n  ?\n  # c\n  : v\n",
        ] {
            let value = from_str(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
            assert!(
                value.to_string().contains(r#"{"null":"v"}"#),
                "{text:?}: {value}"
            );
        }
        assert_eq!(load("=: 1\n"), json!({"=": 1}));
        assert_eq!(load("- &x a\n- *x\n"), json!(["a", "a"]));
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = from_str(&text).unwrap_err();
        assert!(err.message().contains("aliases expand"), "{err}");
        let deep = "[".repeat(2000) + &"]".repeat(2000);
        assert!(from_str(&deep).is_err());
    }

    /// The node budget alone let a long string through: 729 copies of a 64 KiB string (53 MB
    /// from 66 KB of YAML) loaded, and 6 levels of 9 aliases over a 1 MiB string (597,871
    /// nodes, under the budget) would have asked for 557 GB. Text copied through aliases has a
    /// budget too, checked before the copy.
    #[test]
    fn alias_bombs_of_long_strings_are_refused() {
        let mut text = format!(
            "s: &s {}\na0: &a0 [{}]\n",
            "x".repeat(1 << 20),
            ["*s"; 9].join(", ")
        );
        for i in 1..6 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        }
        let start = std::time::Instant::now();
        let err = from_str(&text).unwrap_err();
        assert!(err.message().contains("MiB of text"), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // Keys count too (an implicit key is at most 1024 characters long: this one is
        // explicit).
        let key = "k".repeat(1 << 20);
        let mut text = format!("m: &m {{? {key} : 1}}\nl: [");
        text.push_str(&["*m"; 65].join(", "));
        text.push_str("]\n");
        assert!(from_str(&text)
            .unwrap_err()
            .message()
            .contains("MiB of text"));
        // What real files do is well within it.
        let ok = format!(
            "s: &s {}\nl: [{}]\n",
            "x".repeat(1 << 20),
            ["*s"; 60].join(", ")
        );
        assert_eq!(from_str(&ok).unwrap()["l"].as_array().unwrap().len(), 60);
    }

    #[test]
    fn round_trip_through_to_string() {
        let value = json!({
            "name": "x", "yes": "yes", "num": "1.0", "empty": "", "null_str": "null",
            "list": [1, "two", {"a": true, "b": [null]}], "nested": {"k": "v: w", "m": "line1\nline2"},
            "colon": "a:b", "hash": "a #b", "dash": "-x", "none": null, "f": 1.5, "e": [], "o": {},
            "leading": " space", "multi_trailing": "a\nb\n"
        });
        let text = to_string(&value);
        assert_eq!(from_str(&text).unwrap(), value, "{text}");
        assert_eq!(to_string(&json!([])), "[]\n");
    }

    /// Found by `yaml::proptests::to_string_reads_back`: a line of spaces, or leading spaces
    /// after empty lines, lost in a `|-` block; the quoted fallback cut at a " |-" inside the
    /// text itself; a carriage return written raw in a block (unreadable); a plain `<<` key
    /// read back as a merge key; floats written `1e+300` read back as strings.
    #[test]
    fn to_string_reads_back_what_block_scalars_cannot_hold() {
        for value in [
            json!(["\n "]),
            json!(["a\n  \nb"]),
            json!(["\n !"]),
            json!({"k": "a |-\nb\n"}),
            json!({"k": "a\rb\nc"}),
            json!({"<<": null}),
            json!([1e300, 1e-7, -2e-300, 1e16, 0.5]),
        ] {
            let text = to_string(&value);
            assert_eq!(from_str(&text).unwrap(), value, "{text}");
        }
        assert_eq!(to_string(&json!([1e300])), "- 1.0e+300\n");
        assert_eq!(to_string(&json!({"k": "a\nb"})), "k: |-\n  a\n  b\n");
    }

    /// Every YAML file of the Exchange snapshot, compared with PyYAML's CSafeLoader reading
    /// the file as StackStorm's registrar does (`st2common/content/loader.py`).
    #[test]
    fn parity_with_pyyaml_on_the_exchange() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/exchange/packs");
        // A skip passes silently, so in CI (`CI` set, as `.ci/run` sets it) it fails instead,
        // as `tests/it/common.rs`'s `skip_unless` does for the integration tests.
        let skip = |why: &str| {
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
            assert!(!ci, "{why}: the PyYAML parity test cannot be skipped in CI");
            eprintln!("skipped: {why}");
        };
        if !root.is_dir() {
            return skip("../shared/exchange is not present");
        }
        if std::env::var_os(crate::settings::env::ST2_SKIP_PYYAML_PARITY).is_some() {
            return skip("ST2_SKIP_PYYAML_PARITY is set");
        }
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        let script = r#"
import json, sys, yaml
out = []
for path in sys.stdin.read().splitlines():
    try:
        with open(path, 'r', encoding='utf-8') as f:
            out.append({"ok": yaml.load(f, Loader=yaml.CSafeLoader)})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e).splitlines()[0]})
sys.stdout.write(json.dumps(out, default=str))
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect(
                "python3 is needed for the PyYAML parity test (or set ST2_SKIP_PYYAML_PARITY=1)",
            );
        {
            use std::io::Write;
            let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(list.join("\n").as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "PyYAML is needed for the parity test (pip install pyyaml): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let expected: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        let mut mismatches = Vec::new();
        let mut refused = 0;
        for (path, reference) in files.iter().zip(&expected) {
            let ours = from_path(path);
            if ours.is_err() {
                refused += 1;
            }
            match (reference.get("ok"), ours) {
                (Some(theirs), Ok(ours)) if normalise(theirs) == normalise(&ours) => {}
                (None, Err(_)) => {}
                (Some(theirs), Ok(ours)) => mismatches.push(format!(
                    "{}: {}",
                    path.display(),
                    first_difference(&normalise(theirs), &normalise(&ours), String::new())
                )),
                (Some(_), Err(err)) => {
                    mismatches.push(format!("{}: we fail: {err}", path.display()))
                }
                (None, Ok(_)) => mismatches.push(format!(
                    "{}: PyYAML fails ({}) but we load it",
                    path.display(),
                    reference["error"]
                )),
            }
        }
        println!(
            "PyYAML parity: {} files compared, {} agree ({refused} refused by both)",
            files.len(),
            files.len() - mismatches.len(),
        );
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    /// JSON numbers compare by value (PyYAML's `1.0` and ours may print differently).
    fn normalise(value: &Value) -> Value {
        match value {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
            }
            other => other.clone(),
        }
    }

    /// Where two values first differ, as a JSON pointer with both sides.
    fn first_difference(theirs: &Value, ours: &Value, at: String) -> String {
        match (theirs, ours) {
            (Value::Object(a), Value::Object(b)) => {
                let keys_a: Vec<&String> = a.keys().collect();
                let keys_b: Vec<&String> = b.keys().collect();
                if keys_a != keys_b {
                    return format!("{at}: keys PyYAML {keys_a:?} vs ours {keys_b:?}");
                }
                for (key, value) in a {
                    if value != &b[key] {
                        return first_difference(value, &b[key], format!("{at}/{key}"));
                    }
                }
                format!("{at}: equal?")
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    if x != y {
                        return first_difference(x, y, format!("{at}/{index}"));
                    }
                }
                format!("{at}: equal?")
            }
            _ => format!("{at}: PyYAML {theirs} vs ours {ours}"),
        }
    }
}

/// Property tests: any text or bytes load or fail with an error, never a panic, a hang or
/// unbounded memory.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    /// Pieces of YAML: indicators, anchors and aliases, merge keys, tags (known, unknown,
    /// collection ones), block scalars, directives, and YAML 1.1 scalars on the edges of the
    /// resolver (octal, sexagesimal, timestamps, `=`, too-big integers).
    fn yamlish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            4 => prop::sample::select(vec![
                "- ", ": ", ":", "? ", ", ", "[", "]", "{", "}", "\n", "\n  ", "\n    ", "  ",
                "&a ", "&b ", "*a", "*b", "*c", "<<: ", "<<: *a", "<<: [*a, *b]", "!!str ",
                "!!int ", "!!float ", "!!bool ", "!!null ", "!!binary ", "!!timestamp ",
                "!!set ", "!!omap ", "!!seq ", "!!map ", "!Ref ", "! ", "!<tag:x> ", "|", "|-",
                ">", ">+", "|2", "'", "\"", "\\", "# c", "---", "...", "%YAML 1.1\n",
                "%TAG !e! tag:e.com,2000:\n", "!e!x ", "yes", "Off", "~", "null", "=", "0777",
                "0x1F", "0b101", "0b_", "0_", "1_000", "190:20:30", "-1:0", "1e3", "1.5e+3",
                "._", ".inf", "-.INF", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
                "2001-1-1 1:00:00 +5", "9223372036854775808", "-9223372036854775809",
                "99999999999999999999999999999999999999999", "key", "x", "\t", "\r\n", "\u{feff}",
                // Where the libyaml port panicked or read differently (vendor/libyaml-safer):
                // the end of the input in a block scalar or after a backslash, a tag before `,`
                // in a flow collection, escaped octets in tags, line breaks beyond `\n`.
                "[!!str, x]", "{!a ,", "!<%C0%80> ", "!<%E2%82%AC> ", "!<%C3%A9> ", "!e!%21 ",
                "\u{85}", "\u{2028}", "\u{2029}", "|\n  x", "|+\n  x", ">-\n  x\n\n y",
            ])
            .prop_map(str::to_string),
            1 => any::<String>(),
        ];
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
    }

    /// Scalars that a plain YAML 1.1 scalar would read as something else.
    const TRICKY: [&str; 24] = [
        "<<",
        "yes",
        "No",
        "null",
        "~",
        "=",
        "1",
        "-",
        "? x",
        "&a",
        "*a",
        "!x",
        "1.0",
        "0777",
        ".inf",
        "2001-12-14",
        "1e3",
        "0x1F",
        "190:20:30",
        "",
        " ",
        "a: b",
        "#",
        "- x",
    ];

    /// Strings: anything, printable ASCII with line breaks and tabs, characters libyaml
    /// reads as line breaks or refuses (which `any::<String>()` rarely or never makes), the
    /// tricky ones.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~\n\t\r]{0,12}",
            prop::collection::vec(
                prop::sample::select(vec![
                    'a', ' ', '#', ':', '-', '\n', '\t', '\r', '\u{0}', '\u{1b}', '\u{7f}',
                    '\u{85}', '\u{9f}', '\u{a0}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffe}',
                    '\u{ffff}', '😀',
                ]),
                0..12
            )
            .prop_map(String::from_iter),
            prop::sample::select(TRICKY.to_vec()).prop_map(str::to_string),
        ]
    }

    /// JSON values as `st2 ... -y` prints them: any strings and keys, integers, floats
    /// (those Rust writes without a dot too, `1e300`).
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (1..10u8, -323..308i32).prop_map(|(digit, exp)| Value::from(
                format!("{digit}e{exp}").parse::<f64>().unwrap()
            )),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((text(), inner), 0..5)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// The parser's panics become an "internal error" (`events::parse`): a failure here.
    fn no_panic(result: &Result<Value, YamlError>) -> Result<(), TestCaseError> {
        if let Err(err) = result {
            prop_assert!(
                !err.message().starts_with("internal error"),
                "the parser panicked: {}",
                err
            );
        }
        Ok(())
    }

    /// `levels` anchored lists of `fan` aliases each to the one before: `fan^levels` leaves.
    fn laughs(levels: usize, fan: usize) -> String {
        let mut text = format!("a0: &a0 [{}]\n", vec!["lol"; fan].join(", "));
        for i in 1..levels {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; fan].join(", ")));
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any string: a value or an error.
        #[test]
        fn any_text_never_panics(text: String) {
            no_panic(&from_str(&text))?;
        }

        /// Any bytes (mostly not UTF-8): a value or an error.
        #[test]
        fn any_bytes_never_panic(bytes: Vec<u8>) {
            no_panic(&from_slice(&bytes))?;
        }

        /// YAML-like text, anchors and aliases included: a value or an error, and what loads
        /// is written back by `to_string` without a panic.
        #[test]
        fn yaml_like_text_never_panics(text in yamlish()) {
            let result = from_str(&text);
            no_panic(&result)?;
            if let Ok(value) = result {
                let _ = to_string(&value);
            }
        }

        /// What `to_string` writes (`-y` output) reads back as the same value.
        #[test]
        fn to_string_reads_back(value in json()) {
            let text = to_string(&value);
            prop_assert_eq!(from_str(&text).map_err(|err| err.to_string()), Ok(value), "{}", text);
        }

        /// JSON is YAML: a map of simple keys to integers written by serde_json, compact or
        /// pretty, loads back as the same map.
        #[test]
        fn json_maps_of_integers_load_back(
            map in prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_ .-]{0,12}", any::<i64>(), 0..12),
            pretty: bool,
        ) {
            let value = serde_json::to_value(&map).unwrap();
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            prop_assert_eq!(from_str(&text).unwrap(), value, "{}", text);
        }
    }

    /// Billion laughs, 9 levels of 9 aliases (9^9 = 387,420,489 leaves): refused, quickly.
    #[test]
    fn nine_levels_of_nine_aliases_are_refused_quickly() {
        let start = Instant::now();
        let err = from_str(&laughs(9, 9)).unwrap_err();
        assert!(err.message().contains("aliases expand"), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        // Below the budget the same shape loads: 9^4 leaves.
        let value = from_str(&laughs(4, 9)).unwrap();
        assert_eq!(value["a3"].as_array().unwrap().len(), 9);
    }

    /// 10,000 levels of flow or block nesting: an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        let mut block_map = String::new();
        for depth in 0..10_000 {
            block_map.push_str(&" ".repeat(depth));
            block_map.push_str("a:\n");
        }
        for text in [
            "[".repeat(10_000),
            "{".repeat(10_000),
            "[".repeat(10_000) + &"]".repeat(10_000),
            "{a: ".repeat(10_000) + &"}".repeat(10_000),
            "- ".repeat(10_000),
            "&a [".repeat(10_000),
            block_map,
        ] {
            let start = Instant::now();
            assert!(from_str(&text).is_err(), "{}", &text[..20]);
            assert!(start.elapsed() < Duration::from_secs(10));
        }
        // 200 levels of flow nesting load.
        let text = "[".repeat(200) + &"]".repeat(200);
        assert!(from_str(&text).is_ok());
    }
}

//! The YAML loader against PyYAML, differentially: thousands of documents made by mutating
//! real pack YAML from `../shared/exchange/packs` (action metadata, pack.yaml, config
//! schemas, rules, workflows, aliases, policies) are loaded by `st2_rs::yaml::load_slice` and
//! by PyYAML 6.0.3, and must give the same Python value, or both be refused.
//!
//! The reference is `yaml.load(f, Loader=yaml.CSafeLoader)` on the file opened as StackStorm
//! opens it (`open(path, "r", encoding="utf-8")`): that is what `st2ctl reload` uses for
//! everything it registers (`st2common/constants/meta.py`, `content/loader.py`; StackStorm
//! 3.9.0 pins pyyaml==6.0.3, whose wheels carry libyaml 0.2.5). Pure-Python
//! `yaml.safe_load`, which StackStorm uses for policies and the legacy in-pack `config.yaml`,
//! is run too, for the record: where the two PyYAML loaders differ (tabs, mostly), the
//! printed summary counts it, and the C loader is the one we follow.
//!
//! Values are compared in a canonical form that keeps what JSON would blur: int / float
//! (exact bits) / str / bool / None, big integers, `date` / `datetime` (with its offset),
//! `bytes`, `set` (as a multiset), tuples, and dicts with their key order and key types.
//!
//! Mutations: indentation (whole document and single lines), quoting styles (plain, single,
//! double with escapes, literal and folded blocks with chomping and indentation indicators),
//! multi-line scalars with continuation lines at every indentation from 0 to deeper than the
//! key, flow collections (also spread over lines), anchors and aliases (also duplicated
//! anchors, aliases before and after a redefinition, merge keys `<<`), tabs in every
//! position, comments, document markers and directives (`---`, `...`, `%YAML`, `%TAG`),
//! complex and odd keys (`? `, `: value` without a key, numbers / booleans / null / dates as
//! keys, `=`), YAML 1.1 scalars (`yes`, `on`, `0x1F`, `0o17`, `017`, `1_000`, `.inf`, `1:30`,
//! timestamps, `~`), BOMs, CRLF and CR line ends, unicode escapes and characters.
//!
//! The seed is printed (`ST2_TEST_SEED` replays a run); `ST2_YAML_CASES` sets the number of
//! documents (default 5000). Disagreements that remain, each for a reason stated in
//! [`known_divergence`], are counted and printed; any other fails the test with the
//! documents that show it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};
use st2_rs::yaml::{self, Data};

use crate::common::{shared_dir, Rng};

/// Real pack YAML: every `.yaml`/`.yml` file of the snapshot, sorted.
fn sources() -> Vec<String> {
    let root = shared_dir().join("exchange/packs");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|text| text.len() < 16 * 1024)
        .collect()
}

/// Scalars on the edges of YAML 1.1's resolver.
const SCALARS: &[&str] = &[
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "on",
    "On",
    "OFF",
    "off",
    "y",
    "n",
    "Y",
    "true",
    "False",
    "TRUE",
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "0x1F",
    "0x1f",
    "-0x1F",
    "0o17",
    "017",
    "-017",
    "09",
    "0b101",
    "0b_1",
    "0b",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "+12",
    "-0",
    "0",
    "00",
    "190:20:30",
    "1:30",
    "-1:30",
    "1:60",
    "1:30.5",
    "1.5",
    ".5",
    "-.5",
    "+.5",
    "1.",
    "1e3",
    "1.5e+3",
    "1.5E-3",
    "1.5e3",
    "6.8523015e+5",
    ".inf",
    "-.Inf",
    "+.INF",
    ".NaN",
    ".nan",
    "-.nan",
    "._",
    "1_0.5_0",
    "0.0",
    "-0.0",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-14T21:59:43Z",
    "2001-1-1 1:00:00",
    "2002-02-30",
    "2001-12-14 25:00:00",
    "0000-01-01",
    "2001-12-14 21:59:43 +24",
    "12:30:45",
    "=",
    "<<",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "0xffffffffffffffffffffffffffffffff",
    "99999999999999999999999",
    "1,000",
    "3.14.15",
    "0.1.2",
    "1e",
    "e1",
    "0x",
    "0xg",
    "--1",
    "+-1",
    "!",
    "&",
    "*",
    "%",
    "@x",
    "`x",
    "a:b",
    "a: b",
    "a #b",
    "a#b",
    "- x",
    "-x",
    "? x",
    "?x",
    ":x",
    "x:",
    "'q'",
    "\"q\"",
    "[x]",
    "{x: 1}",
    "|",
    ">",
    "x,y",
    "[a, b",
    "é",
    "😀",
    "\u{2028}",
    "\u{85}",
    "\u{feff}x",
];

/// Keys that are not plain strings.
const KEYS: &[&str] = &[
    "1",
    "1.0",
    "true",
    "yes",
    "~",
    "null",
    "2001-01-01",
    "0x10",
    "16",
    "1:00",
    ".inf",
    ".nan",
    "=",
    "'='",
    "<<",
    "\"<<\"",
    "? k",
    "? [a, b]",
    "? {a: 1}",
    "'key'",
    "\"key\"",
    "\"a\\tb\"",
    "-1",
    "'1'",
    "!!str 1",
    "!!int '1'",
    "!!float 1",
    "!!null ''",
    "!!bool yes",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-01-01",
    "! 1",
    "!foo k",
    "!!set k",
    "[a, b]",
    "{a: 1}",
    "&k key",
    "*k",
    "",
];

/// Values of any kind, with tags.
const VALUES: &[&str] = &[
    "!!str 123",
    "!!int '0x1F'",
    "!!int ' 12 '",
    "!!int --5",
    "!!int 09",
    "!!int ''",
    "!!float '1'",
    "!!float inf",
    "!!float ' 1.5 '",
    "!!bool maybe",
    "!!bool YES",
    "!!null x",
    "!!binary aGVsbG8=",
    "!!binary aGVsbG8",
    "!!binary \"a!GV sbG8=\"",
    "!!binary é",
    "!!timestamp 2001-12-14",
    "!!timestamp x",
    "!!set {a, b}",
    "!!set {a: 1}",
    "!!set [a]",
    "!!omap [a: 1, b: 2]",
    "!!omap [a: 1, {b: 2, c: 3}]",
    "!!omap [x]",
    "!!pairs [a: 1, a: 2]",
    "!!seq {a: 1}",
    "!!seq [a]",
    "!!map [a]",
    "!!map {a: 1}",
    "!!str [a]",
    "!!str",
    "! 12",
    "! '12'",
    "! ''",
    "! [a]",
    "!foo x",
    "!<tag:yaml.org,2002:str> 5",
    "!<!> x",
    "!!merge x",
    "!!value x",
    "!e!x y",
    "&a",
    "&a x",
    "*a",
    "*b",
    "&a [*a]",
    "{a: &a {b: *a}}",
    "[]",
    "{}",
    "[[]]",
    "{a: [b, {c: d}]}",
    "[a, b, ]",
    "{a: 1, }",
    "[a: 1]",
    "[a: 1, b]",
    "[? a : 1]",
    "{a, b}",
    "{? a}",
    "{a: }",
    "{: a}",
    "[: a]",
    "[a, , b]",
    "{a: 1, a: 2}",
    "[1, 1.0, true]",
    "{1: a, 1.0: b, true: c}",
    "\"a\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\"",
    "\"\\x4\"",
    "\"\\ud800\"",
    "\"\\q\"",
    "\"\\\t\"",
    "'it''s'",
    "'a\\n'",
    "\"a\\\n  b\"",
    "\"tab\there\"",
    "'tab\there'",
];

/// A `key: value` line: indentation, `- ` prefix, key, value.
fn split_line(line: &str) -> Option<(usize, &str, &str, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let (dash, rest) = match rest.strip_prefix("- ") {
        Some(rest) => ("- ", rest),
        None => ("", rest),
    };
    if rest.starts_with(['#', '"', '\'', '[', '{', '?', '&', '*', '!', '|', '>']) {
        return None;
    }
    let colon = rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    let key = &rest[..colon];
    if key.is_empty() || key.contains(['#', '\t']) {
        return None;
    }
    let value = rest[colon + 1..].trim_start_matches(' ');
    Some((indent, dash, key, value))
}

/// The text of a plain one-line value, when it is one.
fn plain_value(value: &str) -> Option<&str> {
    if value.is_empty()
        || value.starts_with(['"', '\'', '[', '{', '|', '>', '&', '*', '!', '#'])
        || value.contains(" #")
    {
        None
    } else {
        Some(value)
    }
}

fn quote_single(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_double(text: &str, rng: &mut Rng) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            'a' if rng.chance(3) => out.push_str("\\x61"),
            'e' if rng.chance(3) => out.push_str("\\u0065"),
            ' ' if rng.chance(3) => out.push_str("\\t"),
            '/' if rng.chance(30) => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    if rng.chance(5) {
        out.push_str("\\U0001F600\\N\\_");
    }
    out.push('"');
    out
}

/// Words of a value spread over lines: the first on the key's line, the others at
/// `indent` columns, sometimes with empty lines between.
fn spread(words: &[&str], indent: usize, rng: &mut Rng) -> String {
    let mut out = String::new();
    let per_line = 1 + rng.below(3);
    for (i, chunk) in words.chunks(per_line).enumerate() {
        if i > 0 {
            out.push('\n');
            if rng.chance(15) {
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            if rng.chance(5) {
                out.push('\t');
            }
        }
        out.push_str(&chunk.join(" "));
    }
    out
}

/// Rewrite the value of a `key: value` line in another style.
fn restyle(lines: &mut [String], at: usize, rng: &mut Rng) {
    let Some((indent, dash, key, value)) = split_line(&lines[at]) else {
        return;
    };
    let key_col = indent + dash.len();
    let text = match plain_value(value) {
        Some(text) => text.to_string(),
        None => "some words of text: here".to_string(),
    };
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let words = if words.len() < 2 {
        vec![text.as_str(), "and", "more", "words"]
    } else {
        words
    };
    let prefix = format!("{}{dash}{key}:", " ".repeat(indent));
    // Continuation lines anywhere from column 0 to deeper than the key.
    let cont = rng.below(key_col + 5);
    let new = match rng.below(9) {
        0 => format!("{prefix} {}", quote_single(&text)),
        1 => format!("{prefix} {}", quote_double(&text, rng)),
        2 => format!("{prefix} \"{}\"", spread(&words, cont, rng)),
        3 => format!("{prefix} '{}'", spread(&words, cont, rng)),
        4 => format!("{prefix} {}", spread(&words, cont, rng)),
        5 | 6 => {
            let style = rng.pick(&["|", ">"]);
            let chomp = rng.pick(&["", "-", "+"]);
            let explicit = rng.chance(30);
            let extra = if explicit { 1 + rng.below(3) } else { 2 };
            let indicator = if explicit {
                let n = extra.to_string();
                if rng.chance(50) {
                    format!("{n}{chomp}")
                } else {
                    format!("{chomp}{n}")
                }
            } else {
                chomp.to_string()
            };
            let body_indent = if rng.chance(85) {
                key_col + extra
            } else {
                rng.below(key_col + 4)
            };
            let mut out = format!("{prefix} {style}{indicator}");
            if rng.chance(10) {
                out.push_str(" # comment");
            }
            for (i, word) in words.iter().enumerate() {
                out.push('\n');
                let more = if i > 0 && rng.chance(15) { 2 } else { 0 };
                out.push_str(&" ".repeat(body_indent + more));
                out.push_str(word);
                if rng.chance(10) {
                    out.push('\n');
                }
            }
            if rng.chance(20) {
                out.push_str("\n\n");
            }
            out
        }
        7 => format!("{prefix} {}", rng.pick(SCALARS)),
        _ => format!("{prefix} {}", rng.pick(VALUES)),
    };
    lines[at] = new;
}

/// One mutation of the document's lines.
fn mutate(lines: &mut Vec<String>, rng: &mut Rng) {
    if lines.is_empty() {
        lines.push("a: b".into());
    }
    let at = rng.below(lines.len());
    let indent_of = |line: &str| line.len() - line.trim_start_matches(' ').len();
    match rng.below(22) {
        0..=4 => restyle(lines, at, rng),
        5 => {
            // Tabs: after the colon, inside the value, as indentation, at the end, before a
            // comment, after a dash.
            let line = &mut lines[at];
            let spots: Vec<usize> = line
                .char_indices()
                .filter(|(_, c)| *c == ' ')
                .map(|(i, _)| i)
                .collect();
            match rng.below(4) {
                0 if !spots.is_empty() => {
                    let spot = rng.pick(&spots);
                    line.replace_range(spot..spot + 1, "\t");
                }
                1 if !spots.is_empty() => {
                    let spot = rng.pick(&spots);
                    line.insert(spot, '\t');
                }
                2 => line.push_str(rng.pick(&["\t", "\t# c", " \t", "\t "])),
                _ => line.insert(0, '\t'),
            }
        }
        6 => {
            // A comment: at the end of a line, or a line of its own at any indentation.
            if rng.chance(50) {
                let comment = rng.pick(&[" # comment", "# not a comment", " #", "  # a: b"]);
                lines[at].push_str(comment);
            } else {
                let indent = rng.below(8);
                lines.insert(at, format!("{}# comment: {}", " ".repeat(indent), at));
            }
        }
        7 => {
            // Document markers and directives.
            match rng.below(9) {
                0 => lines.insert(0, "---".into()),
                1 => lines.push("...".into()),
                2 => {
                    lines.insert(0, "---".into());
                    lines.insert(0, "%YAML 1.1".into());
                }
                3 => {
                    lines.insert(0, "---".into());
                    lines.insert(
                        0,
                        rng.pick(&[
                            "%YAML 1.2",
                            "%YAML 2.0",
                            "%YAML 1.1 # c",
                            "%FOO bar",
                            "%YAML 1.1\n%YAML 1.1",
                        ])
                        .to_string(),
                    );
                }
                4 => {
                    lines.insert(0, "--- !e!root".into());
                    lines.insert(0, "%TAG !e! tag:yaml.org,2002:".into());
                }
                5 => lines.insert(at, "---".into()),
                6 => lines.insert(at, "...".into()),
                7 => {
                    let first = lines.remove(0);
                    lines.insert(0, format!("--- {first}"));
                }
                _ => {
                    lines.push("...".into());
                    lines.push(rng.pick(&["# after", "---", "--- x", "x"]).to_string());
                }
            }
        }
        8 => {
            // Anchors and aliases: define one on a value, refer to it below, define the same
            // name again, refer to it before its definition.
            if let Some((indent, dash, key, value)) = split_line(&lines[at]) {
                let (indent, dash, key, value) =
                    (indent, dash.to_string(), key.to_string(), value.to_string());
                let name = rng.pick(&["a", "b", "x1"]).to_string();
                lines[at] = format!("{}{dash}{key}: &{name} {value}", " ".repeat(indent));
                let col = indent + dash.len();
                let alias = format!("{}{}_ref: *{name}", " ".repeat(col), key.trim());
                let below = (at + 1..lines.len())
                    .find(|&i| indent_of(&lines[i]) <= col)
                    .unwrap_or(lines.len());
                match rng.below(5) {
                    0 => lines.insert(at, alias),
                    1 => {
                        lines.insert(below, alias.clone());
                        lines.insert(below, format!("{}again: &{name} other", " ".repeat(col)));
                        lines.insert(below, alias);
                    }
                    _ => lines.insert(below, alias),
                }
            }
        }
        9 => {
            // Merge keys.
            if let Some((indent, dash, _, _)) = split_line(&lines[at]) {
                let col = indent + dash.len();
                let pad = " ".repeat(col);
                let block = match rng.below(5) {
                    0 => format!("{pad}base: &m {{x: 1, y: 2}}\n{pad}merged:\n{pad}  <<: *m\n{pad}  y: 3"),
                    1 => format!("{pad}b1: &m1 {{x: 1}}\n{pad}b2: &m2 {{x: 2, z: 3}}\n{pad}merged:\n{pad}  <<: [*m1, *m2]\n{pad}  w: 0"),
                    2 => format!("{pad}merged:\n{pad}  <<: {{k: v}}\n{pad}  k: own"),
                    3 => format!("{pad}merged:\n{pad}  <<: [a, b]"),
                    _ => format!("{pad}b: &m [x]\n{pad}merged:\n{pad}  <<: *m"),
                };
                lines.insert(at, block);
            }
        }
        10 => {
            // Odd keys.
            if let Some((indent, dash, _, value)) = split_line(&lines[at]) {
                let value = value.to_string();
                let pad = " ".repeat(indent);
                lines[at] = match rng.below(4) {
                    0 => format!("{pad}{dash}{}: {value}", rng.pick(KEYS)),
                    1 => format!(
                        "{pad}{dash}? {}\n{pad}{}: {value}",
                        rng.pick(KEYS),
                        " ".repeat(dash.len())
                    ),
                    2 => format!("{pad}{dash}: {value}"),
                    _ => format!(
                        "{pad}{dash}? |\n{pad}{}  block key\n{pad}{}: {value}",
                        " ".repeat(dash.len()),
                        " ".repeat(dash.len())
                    ),
                };
            }
        }
        11 => {
            // `: value` with no key, on a line of its own.
            let indent = indent_of(&lines[at]);
            lines.insert(
                at + 1,
                format!("{}: {}", " ".repeat(indent), rng.pick(SCALARS)),
            );
        }
        12 => {
            // Flow collections, also spread over lines at any indentation.
            if let Some((indent, dash, key, _)) = split_line(&lines[at]) {
                let pad = " ".repeat(indent);
                let cont = " ".repeat(rng.below(indent + dash.len() + 4));
                let flow = match rng.below(6) {
                    0 => "[a, b, c]".to_string(),
                    1 => "{a: 1, b: [x, y], c: {d: e}}".to_string(),
                    2 => format!("[a,\n{cont}b,\n{cont}c]"),
                    3 => format!("{{a: 1,\n{cont}b: 2\n{cont}}}"),
                    4 => format!("[\n{cont}a, b\n{cont}]"),
                    _ => rng.pick(VALUES).to_string(),
                };
                lines[at] = format!("{pad}{dash}{key}: {flow}");
            }
        }
        13 => {
            // Indentation of one line.
            let line = &mut lines[at];
            if rng.chance(50) {
                line.insert(0, ' ');
            } else if line.starts_with(' ') {
                line.remove(0);
            }
        }
        14 => {
            // Indentation of everything: each level of 2 becomes 1, 3 or 4 columns.
            let per = rng.pick(&[1usize, 3, 4]);
            for line in lines.iter_mut() {
                let indent = indent_of(line);
                let rest = line[indent..].to_string();
                *line = format!("{}{rest}", " ".repeat(indent / 2 * per + indent % 2));
            }
        }
        15 => {
            // Unicode: characters, line and paragraph separators, NEL, control characters.
            let c = rng.pick(&[
                "é", "😀", "\u{200b}", "\u{2028}", "\u{2029}", "\u{85}", "\u{a0}", "\u{feff}",
                "\u{7}", "\u{1b}", "\u{7f}", "\u{fffe}", "\u{e000}",
            ]);
            let line = &mut lines[at];
            let spot = line
                .char_indices()
                .map(|(i, _)| i)
                .nth(rng.below(line.chars().count() + 1))
                .unwrap_or(line.len());
            line.insert_str(spot, c);
        }
        16 => {
            // Sequences: entries with nested mappings, indentless, nested dashes.
            let indent = indent_of(&lines[at]);
            let pad = " ".repeat(indent);
            let seq = match rng.below(6) {
                0 => format!("{pad}list:\n{pad}- a\n{pad}- b: 1\n{pad}  c: 2"),
                1 => format!("{pad}list:\n{pad}  - - a\n{pad}    - b\n{pad}  -\n{pad}    c"),
                2 => format!("{pad}list:\n{pad}  -\ta\n{pad}  - b"),
                3 => format!("{pad}list:\n{pad}  -a\n{pad}  - b"),
                4 => format!("{pad}list:\n{pad}  - a: 1\n{pad}   b: 2"),
                _ => format!("{pad}list: - a"),
            };
            lines.insert(at, seq);
        }
        17 => {
            // Duplicate a line (duplicate keys).
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        18 => {
            // Delete a line.
            lines.remove(at);
        }
        19 => {
            // Trailing spaces.
            lines[at].push_str(rng.pick(&[" ", "  ", " \t"]));
        }
        20 => {
            // A block scalar that ends the document without a final line break.
            let pad = " ".repeat(indent_of(&lines[at]));
            lines.push(format!(
                "{pad}last: {}\n{pad}  text{}",
                rng.pick(&["|", "|-", "|+", ">", ">-", ">+", "|2"]),
                rng.pick(&["", "\n", "\n\n", "\n  ", "\n# c"])
            ));
        }
        _ => {
            // A scalar of the resolver's edge as a whole value of a sequence entry or key.
            let indent = indent_of(&lines[at]);
            lines.insert(
                at,
                format!(
                    "{}{}: {}",
                    " ".repeat(indent),
                    rng.pick(KEYS),
                    rng.pick(SCALARS)
                ),
            );
        }
    }
}

/// One document: a real file or a window of it, mutated, then maybe re-encoded.
fn generate(sources: &[String], rng: &mut Rng) -> Vec<u8> {
    let source = &sources[rng.below(sources.len())];
    let all: Vec<&str> = source.lines().collect();
    let mut lines: Vec<String> = if rng.chance(8) || all.len() < 4 {
        all.iter().map(|l| l.to_string()).collect()
    } else {
        // A window that starts at a `key:` line and stops before the first line indented
        // less than it, re-indented to start at column 0.
        let starts: Vec<usize> = (0..all.len())
            .filter(|&i| split_line(all[i]).is_some())
            .collect();
        let start = if starts.is_empty() {
            0
        } else {
            starts[rng.below(starts.len())]
        };
        let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
        let base = indent_of(all[start]);
        let len = 3 + rng.below(20);
        all[start..]
            .iter()
            .take(len)
            .take_while(|l| l.trim().is_empty() || indent_of(l) >= base)
            .map(|l| l.get(base..).unwrap_or("").to_string())
            .collect()
    };
    let mutations = rng.below(4);
    for _ in 0..mutations {
        mutate(&mut lines, rng);
    }
    let mut text = lines.join("\n");
    if !rng.chance(10) {
        text.push('\n');
    }
    if rng.chance(4) {
        text.insert(0, '\u{feff}');
    }
    match rng.below(100) {
        0..=4 => text = text.replace('\n', "\r\n"),
        5 => text = text.replace('\n', "\r"),
        _ => {}
    }
    text.into_bytes()
}

/// PyYAML's results for each document, from one Python process: the C loader's (the
/// reference) and the pure-Python one's, in the canonical form.
const REFERENCE: &str = r#"
import datetime, io, json, struct, sys, yaml

def enc(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": "nan" if v != v else struct.pack(">d", v).hex()}
    if isinstance(v, str):
        try:
            v.encode("utf-8")
            return v
        except UnicodeEncodeError:
            return {"surrogates": v.encode("utf-8", "backslashreplace").decode()}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, datetime.datetime):
        return {"datetime": str(v)}
    if isinstance(v, datetime.date):
        return {"date": str(v)}
    if isinstance(v, list):
        return [enc(x) for x in v]
    if isinstance(v, tuple):
        return {"tuple": [enc(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[enc(k), enc(x)] for k, x in v.items()]}
    if isinstance(v, set):
        return {"set": [enc(x) for x in v]}
    return {"other": repr(v)}

def run(data, loader):
    try:
        # As StackStorm opens pack files: text mode, UTF-8, universal newlines.
        f = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        return {"ok": enc(yaml.load(f, Loader=loader))}
    except RecursionError:
        return {"error": "RecursionError: recursive structure"}
    except Exception as e:
        return {"error": type(e).__name__ + ": " + " ".join(str(e).split())[:300]}

if not getattr(yaml, "__with_libyaml__", False):
    sys.exit("PyYAML has no libyaml (CSafeLoader): install the pyyaml wheel (pip install pyyaml==6.0.3)")
cases = json.load(sys.stdin)
out = []
for hex_data in cases:
    data = bytes.fromhex(hex_data)
    # The pure-Python loader is slow: for the record, on one document in eight.
    pure = run(data, yaml.SafeLoader) if len(out) % 8 == 0 else None
    out.append([run(data, yaml.CSafeLoader), pure])
json.dump({"version": yaml.__version__, "libyaml": yaml._yaml.get_version_string(), "results": out}, sys.stdout)
"#;

/// Our result in the same canonical form.
fn canonical(data: &Data) -> Value {
    match data {
        Data::Null => Value::Null,
        Data::Bool(b) => Value::Bool(*b),
        Data::Int(i) => json!({"int": i.to_string()}),
        Data::BigInt(digits) => json!({"int": digits}),
        Data::Float(f) if f.is_nan() => json!({"float": "nan"}),
        Data::Float(f) => json!({"float": format!("{:016x}", f.to_bits())}),
        Data::Str(s) => Value::String(s.clone()),
        Data::Bytes(b) => {
            json!({"bytes": b.iter().map(|x| format!("{x:02x}")).collect::<String>()})
        }
        Data::Date(d) => json!({"date": d.to_string()}),
        Data::Timestamp(t) => json!({"datetime": t.to_string()}),
        Data::List(items) => Value::Array(items.iter().map(canonical).collect()),
        Data::Dict(pairs) => {
            json!({"dict": pairs.iter().map(|(k, v)| json!([canonical(k), canonical(v)])).collect::<Vec<_>>()})
        }
        Data::Set(items) => json!({"set": items.iter().map(canonical).collect::<Vec<_>>()}),
        Data::Pairs(pairs) => Value::Array(
            pairs
                .iter()
                .map(|(k, v)| json!({"tuple": [canonical(k), canonical(v)]}))
                .collect(),
        ),
    }
}

/// Sets compare as multisets: their members sorted by their JSON text.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let mut value = normalise(value);
                if key == "set" {
                    if let Value::Array(items) = &mut value {
                        items.sort_by_key(|item| item.to_string());
                    }
                }
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Disagreements we keep, each for a stated reason; `None` for any other.
///
/// The parser under our loader is libyaml 0.2.5's own grammar (libyaml-safer, patched in
/// `vendor/libyaml-safer` to read as libyaml does), so the classes yaml-rust2 left (tabs,
/// NEL/LS/PS line breaks, a BOM inside the stream, block scalars ending the stream, comments
/// right after a token, `: value` without a key, empty flow entries, multi-line implicit
/// keys, directives, indentation inside flow collections) are no longer known: any of them
/// fails the test. One disagreement is on purpose.
fn known_divergence(reference: &Value, ours: &Result<Value, String>) -> Option<&'static str> {
    let theirs = reference.get("error").and_then(Value::as_str);
    let our_error = ours.as_ref().err().map(String::as_str);
    match (theirs, our_error) {
        // PyYAML builds a list that contains itself; JSON (and StackStorm's database) cannot
        // hold it, so we refuse it with a clear message.
        (_, Some(ours)) if ours.contains("recursive structures") => {
            Some("recursive alias (refused on purpose)")
        }
        (Some(theirs), None) if theirs.starts_with("RecursionError") => {
            Some("recursive alias (refused on purpose)")
        }
        _ => None,
    }
}

fn show(case: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(case))
}

#[test]
fn yaml_loader_agrees_with_pyyaml_on_mutated_pack_yaml() {
    let start = Instant::now();
    let sources = sources();
    assert!(
        !sources.is_empty(),
        "no YAML under ../shared/exchange/packs: the test needs the shared Exchange snapshot"
    );
    let mut rng = Rng::from_env();
    let count: usize = std::env::var("ST2_YAML_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let cases: Vec<Vec<u8>> = (0..count).map(|_| generate(&sources, &mut rng)).collect();
    let generated = start.elapsed();

    let mut child = Command::new("python3")
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML is needed (scripts/setup.sh --ci installs it)");
    let input: Vec<String> = cases
        .iter()
        .map(|case| case.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let writer = {
        let mut stdin = child.stdin.take().unwrap();
        let input = serde_json::to_vec(&input).unwrap();
        std::thread::spawn(move || stdin.write_all(&input))
    };
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "PyYAML failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference: Value = serde_json::from_slice(&output.stdout).unwrap();
    let python = start.elapsed() - generated;
    println!(
        "reference: PyYAML {} with libyaml {}",
        reference["version"], reference["libyaml"]
    );
    assert_eq!(
        reference["version"], "6.0.3",
        "StackStorm 3.9.0 pins pyyaml==6.0.3; other versions may read YAML differently"
    );

    let ours_start = Instant::now();
    let ours: Vec<Result<Value, String>> = cases
        .iter()
        .map(|case| {
            yaml::load_slice(case)
                .map(|data| canonical(&data))
                .map_err(|err| err.to_string())
        })
        .collect();
    let ours_time = ours_start.elapsed();

    let results = reference["results"].as_array().unwrap();
    let mut agree = 0;
    let mut refused_by_both = 0;
    let mut pure_differs = 0;
    let mut pure_compared = 0;
    let mut known: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut refusals: std::collections::BTreeMap<String, usize> = Default::default();
    let mut unknown = Vec::new();
    for ((case, pair), ours) in cases.iter().zip(results).zip(&ours) {
        let (c, pure) = (&pair[0], &pair[1]);
        if !pure.is_null() {
            pure_compared += 1;
            if normalise(c) != normalise(pure)
                && (c.get("ok").is_some() || pure.get("ok").is_some())
            {
                pure_differs += 1;
            }
        }
        if let Some(error) = c.get("error").and_then(Value::as_str) {
            // The reason without its positions.
            let reason = error.split(" in \"<file>\"").next().unwrap_or(error);
            let reason: String = reason.chars().take(70).collect();
            *refusals.entry(reason).or_default() += 1;
        }
        let same = match (c.get("ok"), ours) {
            (Some(theirs), Ok(ours)) => normalise(theirs) == normalise(ours),
            (None, Err(_)) => {
                refused_by_both += 1;
                true
            }
            _ => false,
        };
        if same {
            agree += 1;
        } else if let Some(reason) = known_divergence(c, ours) {
            *known.entry(reason).or_default() += 1;
        } else {
            unknown.push((case, c, ours));
        }
    }
    let mut refusals: Vec<(String, usize)> = refusals.into_iter().collect();
    refusals.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    println!("PyYAML's most frequent refusals:");
    for (reason, count) in refusals.iter().take(8) {
        println!("  {count:5} {reason}");
    }
    println!("known divergences:");
    for (reason, count) in &known {
        println!("  {count:5} {reason}");
    }
    println!(
        "{} documents: {agree} agree ({refused_by_both} refused by both), {} known \
         divergences {known:?}, {} unexplained; pure-Python safe_load differs from \
         CSafeLoader on {pure_differs} of {pure_compared}; generate {generated:?}, PyYAML {python:?}, ours \
         {ours_time:?}",
        cases.len(),
        known.values().sum::<usize>(),
        unknown.len()
    );
    // ST2_YAML_DUMP=FILE writes every unexplained disagreement there, one JSON per line.
    if let Some(path) = std::env::var_os("ST2_YAML_DUMP") {
        let mut file = std::fs::File::create(path).unwrap();
        for (case, theirs, ours) in &unknown {
            let ours = match ours {
                Ok(value) => json!({"ok": value}),
                Err(err) => json!({"error": err}),
            };
            let line =
                json!({"case": String::from_utf8_lossy(case), "pyyaml": theirs, "ours": ours});
            writeln!(file, "{line}").unwrap();
        }
    }
    let mut report = String::new();
    for (case, theirs, ours) in unknown.iter().take(15) {
        report.push_str(&format!(
            "\n--- document {}\nPyYAML: {}\nours:   {}\n",
            show(case),
            theirs,
            match ours {
                Ok(value) => value.to_string(),
                Err(err) => format!("error: {err}"),
            }
        ));
    }
    assert!(
        unknown.is_empty(),
        "{} documents where we and PyYAML disagree (first 15):{report}",
        unknown.len()
    );
}

//! A reader for the INI dialect of oslo.config, the library StackStorm reads `st2.conf` with.
//!
//! Only what `st2.conf` files use in practice is supported, and it is supported the way
//! oslo.config's `iniparser` does it: `[section]` headers, `key = value` or `key: value`,
//! whole-line comments starting with `#` or `;`, continuation lines (indented lines append to
//! the previous value, joined with a newline), matching surrounding quotes stripped from values,
//! and the last assignment of a key winning. Keys and section names keep their case, as in
//! oslo.config (`[DEFAULT]` is an ordinary section here).

use std::collections::BTreeMap;

/// One parse error, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct IniError {
    /// 1-based line number of the offending line.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// The parsed file: section name -> key -> raw value (quotes stripped, not otherwise interpreted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ini {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl Ini {
    /// Parse the text of an INI file.
    pub(crate) fn parse(text: &str) -> Result<Ini, IniError> {
        let mut ini = Ini::default();
        let mut section: Option<String> = None;
        // (section, key) of the last assignment, for continuation lines.
        let mut last: Option<(String, String)> = None;

        for (index, raw_line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw_line.trim_end_matches('\r');
            let trimmed = line.trim();

            if trimmed.is_empty() {
                last = None;
                continue;
            }
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            // oslo.config: a line starting with whitespace continues the previous value.
            if line.starts_with([' ', '\t']) {
                if let Some((sec, key)) = &last {
                    let value = ini
                        .sections
                        .get_mut(sec)
                        .and_then(|keys| keys.get_mut(key))
                        .expect("continued key exists");
                    value.push('\n');
                    value.push_str(&strip_quotes(trimmed));
                    continue;
                }
                return Err(IniError {
                    line: line_no,
                    message: "unexpected continuation line".into(),
                });
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(IniError {
                        line: line_no,
                        message: format!("invalid section header {trimmed:?}"),
                    });
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(IniError {
                        line: line_no,
                        message: "empty section name".into(),
                    });
                }
                section = Some(name.to_string());
                ini.sections.entry(name.to_string()).or_default();
                last = None;
                continue;
            }
            let Some(split_at) = trimmed.find(['=', ':']) else {
                return Err(IniError {
                    line: line_no,
                    message: format!("expected \"key = value\", found {trimmed:?}"),
                });
            };
            let key = trimmed[..split_at].trim();
            let value = trimmed[split_at + 1..].trim();
            if key.is_empty() {
                return Err(IniError {
                    line: line_no,
                    message: "missing key name before the separator".into(),
                });
            }
            let Some(sec) = &section else {
                return Err(IniError {
                    line: line_no,
                    message: format!("option {key:?} is outside of any [section]"),
                });
            };
            ini.sections
                .entry(sec.clone())
                .or_default()
                .insert(key.to_string(), strip_quotes(value));
            last = Some((sec.clone(), key.to_string()));
        }
        Ok(ini)
    }

    /// The raw value of `key` in `section`, if set.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|keys| keys.get(key))
            .map(String::as_str)
    }

    /// A list option: comma-separated items, whitespace trimmed, empty items dropped
    /// (oslo.config `ListOpt`). `None` when the option is not set at all.
    pub(crate) fn get_list(&self, section: &str, key: &str) -> Option<Vec<String>> {
        self.get(section, key).map(split_list)
    }

    /// A boolean option as oslo.config reads it (`true/false`, `yes/no`, `on/off`, `1/0`).
    pub(crate) fn get_bool(&self, section: &str, key: &str) -> Result<Option<bool>, String> {
        match self.get(section, key) {
            None => Ok(None),
            Some(value) => parse_bool(value)
                .map(Some)
                .ok_or_else(|| format!("[{section}] {key}: expected a boolean, got {value:?}")),
        }
    }
}

/// Split an oslo.config list value on commas.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// oslo.config strips one pair of matching surrounding quotes.
fn strip_quotes(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && bytes[0] == bytes[bytes.len() - 1]
        && (bytes[0] == b'"' || bytes[0] == b'\'')
    {
        value[1..value.len() - 1].to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_separators_comments_and_quotes() {
        let ini = Ini::parse(
            "# a comment\n; another\n[system]\nbase_path = /srv/st2\n\n[content]\n\
             packs_base_paths: /a:/b\nindex_url = \"file:///x.json\"\n",
        )
        .unwrap();
        assert_eq!(ini.get("system", "base_path"), Some("/srv/st2"));
        assert_eq!(ini.get("content", "packs_base_paths"), Some("/a:/b"));
        assert_eq!(ini.get("content", "index_url"), Some("file:///x.json"));
        assert_eq!(ini.get("content", "missing"), None);
    }

    #[test]
    fn last_assignment_wins_and_lists_split_on_commas() {
        let ini = Ini::parse("[content]\nindex_url = a\nindex_url = b , c,, d\n").unwrap();
        assert_eq!(
            ini.get_list("content", "index_url").unwrap(),
            vec!["b", "c", "d"]
        );
    }

    #[test]
    fn continuation_lines_append_with_newline() {
        let ini = Ini::parse("[a]\nk = one\n  two\n").unwrap();
        assert_eq!(ini.get("a", "k"), Some("one\ntwo"));
    }

    #[test]
    fn separator_inside_value_is_kept() {
        let ini = Ini::parse("[content]\nindex_url = https://h:8080/i.json\n").unwrap();
        assert_eq!(
            ini.get("content", "index_url"),
            Some("https://h:8080/i.json")
        );
    }

    #[test]
    fn booleans_as_oslo_reads_them() {
        let ini = Ini::parse("[k]\na = Yes\nb = off\nc = maybe\n").unwrap();
        assert_eq!(ini.get_bool("k", "a"), Ok(Some(true)));
        assert_eq!(ini.get_bool("k", "b"), Ok(Some(false)));
        assert!(ini
            .get_bool("k", "c")
            .unwrap_err()
            .contains("expected a boolean"));
        assert_eq!(ini.get_bool("k", "d"), Ok(None));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(Ini::parse("key = v\n").unwrap_err().line, 1);
        assert_eq!(Ini::parse("[a]\n\nnot an option\n").unwrap_err().line, 3);
        assert_eq!(Ini::parse("[a\n").unwrap_err().line, 1);
        assert_eq!(Ini::parse("  indented\n").unwrap_err().line, 1);
    }
}

/// Property tests: any text is read or refused with a line number, never a panic.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Lines as st2.conf files have them, and the broken kinds: headers (empty, unclosed,
    /// padded), `key = value` and `key: value` with quotes and separators in the value,
    /// continuation lines, `#`/`;` comments, blank lines, junk.
    fn line() -> impl Strategy<Value = String> {
        let word = "[a-zA-Z_]{0,8}";
        prop_oneof![
            word.prop_map(|name| format!("[{name}]")),
            "\\[[ a-z\\]\\[]{0,6}",
            (word, "[ \t]{0,2}[=:][ \t]{0,2}", "[\"' a-z0-9=:#;\t]{0,12}")
                .prop_map(|(key, sep, value)| format!("{key}{sep}{value}")),
            "[ \t]{1,3}[a-z0-9 \"']{0,8}",
            "[ \t]{0,2}[#;].{0,10}",
            "[ \t\r]{0,3}",
            any::<String>(),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        (prop::collection::vec(line(), 0..12), any::<bool>())
            .prop_map(|(lines, crlf)| lines.join(if crlf { "\r\n" } else { "\n" }))
    }

    /// Text made of the options `Settings::from_ini` reads, with values on the
    /// edges of what it converts (seconds that overflow a `Duration`, booleans, paths).
    fn settings_text() -> impl Strategy<Value = String> {
        let option = prop::sample::select(vec![
            ("system", "base_path"),
            ("content", "system_packs_base_path"),
            ("content", "packs_base_paths"),
            ("content", "index_url"),
            ("content", "network_timeout"),
            ("content", "ca_bundle_path"),
            ("content", "pack_group"),
            ("database", "sqlite_path"),
            ("actionrunner", "python_binary"),
            ("actionrunner", "native_actions"),
            ("actionrunner", "virtualenv_opts"),
            ("actionrunner", "pip_opts"),
            ("keyvalue", "encryption_key_path"),
            ("system_user", "user"),
        ]);
        let value = prop_oneof![
            prop::sample::select(vec![
                "",
                "0",
                "-1",
                "1e300",
                "1e20",
                "18446744073709551616",
                "1e-320",
                "NaN",
                "inf",
                "0.001",
                "yes",
                "maybe",
                ":",
                "::/a:",
                "/",
                "a,,b",
                "\"\"",
            ])
            .prop_map(str::to_string),
            "[-+]?[0-9]{0,22}(\\.[0-9]{0,3})?(e[-+]?[0-9]{1,3})?",
            "[a-z/:,. ]{0,12}",
        ];
        prop::collection::vec((option, value), 0..8).prop_map(|entries| {
            entries
                .into_iter()
                .map(|((section, key), value)| format!("[{section}]\n{key} = {value}\n"))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text: Ok or Err, never a panic.
        #[test]
        fn any_text_never_panics(text: String) {
            let _ = Ini::parse(&text);
        }

        /// Line-ish text: Ok or an error whose line number is one of the text's lines; what
        /// parses also goes through `Settings::from_ini` without a panic.
        #[test]
        fn ini_like_text_never_panics(text in text()) {
            match Ini::parse(&text) {
                Ok(ini) => {
                    let _ = crate::settings::Settings::from_ini(&ini, None, None);
                }
                Err(err) => {
                    prop_assert!(err.line >= 1 && err.line <= text.lines().count(), "{err}");
                }
            }
        }

        /// Settings' own sections and keys with edge values: Ok or Err, never a panic.
        #[test]
        fn settings_never_panic(text in settings_text()) {
            let ini = Ini::parse(&text).unwrap();
            let _ = crate::settings::Settings::from_ini(&ini, None, None);
        }

        /// `[section]` / `key = value` written out reads back, the last assignment winning.
        #[test]
        fn written_values_read_back(
            entries in prop::collection::vec(
                ("[a-z][a-z0-9_]{0,6}", "[a-z][a-z0-9_]{0,6}", "[A-Za-z0-9_./:=-]{0,16}"),
                1..10,
            ),
            colon: bool,
        ) {
            let separator = if colon { ": " } else { " = " };
            let mut text = String::new();
            let mut expected = BTreeMap::new();
            for (section, key, value) in &entries {
                text.push_str(&format!("[{section}]\n{key}{separator}{value}\n"));
                expected.insert((section.clone(), key.clone()), value.clone());
            }
            let ini = Ini::parse(&text).unwrap();
            for ((section, key), value) in &expected {
                prop_assert_eq!(ini.get(section, key), Some(value.as_str()));
            }
        }
    }
}

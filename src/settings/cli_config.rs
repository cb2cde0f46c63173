//! The CLI config file, `~/.st2/config`, as st2client reads it (`st2client/config_parser.py`):
//! an INI file in Python `ConfigParser`'s dialect, and the one edit `st2 login` makes to it.
//!
//! The dialect: `[section]` headers (case kept), `key = value` or `key: value` (the first `=`
//! or `:` splits; keys lower-cased, as `optionxform` does), whole-line comments starting with
//! `#` or `;`, indented lines continuing the previous value, values raw (no `%`
//! interpolation, quotes kept). Booleans are `1/yes/true/on` and `0/no/false/off` in any case;
//! anything else is an error naming the option (upstream crashes with a traceback).
//!
//! Where we differ on purpose: a repeated key keeps the last value (Python's strict parser
//! refuses the file), so that the file st2-rs reads in both roles (`--config-file`, also
//! `st2.conf`, which oslo.config reads with the last value winning) reads the same way in
//! both. `st2 login` rewrites only the lines it changes and keeps comments, order and the rest
//! of the file (**[fix]**: upstream writes the file again through `ConfigParser`, dropping
//! every comment).

use std::collections::BTreeMap;

/// A parse error, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct CliConfigError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The options of a CLI config file: section -> key (lower case) -> raw value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CliConfig {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// One line of the file, as the parser sees it.
enum Line<'a> {
    Blank,
    Comment,
    Section(&'a str),
    Option { key: String, value: &'a str },
    Continuation(&'a str),
}

fn classify(raw: &str, line: usize) -> Result<Line<'_>, CliConfigError> {
    let text = raw.trim_end_matches('\r');
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Line::Blank);
    }
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Ok(Line::Comment);
    }
    if text.starts_with([' ', '\t']) {
        return Ok(Line::Continuation(trimmed));
    }
    if let Some(rest) = trimmed.strip_prefix('[') {
        return match rest.strip_suffix(']') {
            Some(name) if !name.is_empty() => Ok(Line::Section(name)),
            _ => Err(CliConfigError {
                line,
                message: format!("invalid section header {trimmed:?}"),
            }),
        };
    }
    let Some(at) = trimmed.find(['=', ':']) else {
        return Err(CliConfigError {
            line,
            message: format!("expected \"key = value\", found {trimmed:?}"),
        });
    };
    let key = trimmed[..at].trim();
    if key.is_empty() {
        return Err(CliConfigError {
            line,
            message: "missing key name before the separator".into(),
        });
    }
    Ok(Line::Option {
        key: key.to_lowercase(),
        value: trimmed[at + 1..].trim(),
    })
}

impl CliConfig {
    /// Parse the text of a CLI config file.
    pub(crate) fn parse(text: &str) -> Result<CliConfig, CliConfigError> {
        let mut config = CliConfig::default();
        let mut section: Option<String> = None;
        let mut last: Option<(String, String)> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match classify(raw, line)? {
                Line::Blank => last = None,
                Line::Comment => {}
                Line::Continuation(more) => {
                    let Some((section, key)) = &last else {
                        return Err(CliConfigError {
                            line,
                            message: "unexpected continuation line".into(),
                        });
                    };
                    let value = config
                        .sections
                        .get_mut(section)
                        .and_then(|keys| keys.get_mut(key))
                        .expect("the continued option exists");
                    value.push('\n');
                    value.push_str(more);
                }
                Line::Section(name) => {
                    config.sections.entry(name.to_string()).or_default();
                    section = Some(name.to_string());
                    last = None;
                }
                Line::Option { key, value } => {
                    let Some(section) = &section else {
                        return Err(CliConfigError {
                            line,
                            message: format!("option {key:?} is outside of any [section]"),
                        });
                    };
                    config
                        .sections
                        .entry(section.clone())
                        .or_default()
                        .insert(key.clone(), value.to_string());
                    last = Some((section.clone(), key));
                }
            }
        }
        Ok(config)
    }

    /// The raw value of `key` in `section` (`[DEFAULT]`'s when the section has none, as
    /// `ConfigParser` falls back to it); an empty value counts as set.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        self.sections
            .get(section)
            .and_then(|keys| keys.get(&key))
            .or_else(|| self.sections.get("DEFAULT").and_then(|keys| keys.get(&key)))
            .map(String::as_str)
    }

    /// A boolean option (`ConfigParser.getboolean`); `None` when unset.
    pub(crate) fn get_bool(&self, section: &str, key: &str) -> Result<Option<bool>, String> {
        let Some(value) = self.get(section, key) else {
            return Ok(None);
        };
        parse_bool(value).map(Some).ok_or_else(|| {
            format!("[{section}] {key} = {value:?} is not a boolean (use true/false, yes/no, on/off, 1/0)")
        })
    }
}

/// `ConfigParser.BOOLEAN_STATES`.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// The text of a CLI config after `st2 login USER`: `[credentials] username = USER`, and
/// `password` set (`-w`) or removed, every other line kept as it was. A missing section is
/// added at the end; an option already there is rewritten in place (its continuation lines
/// dropped).
pub(crate) fn with_login(text: &str, username: &str, password: Option<&str>) -> String {
    let mut wanted: Vec<(&str, Option<&str>)> = vec![("username", Some(username))];
    wanted.push(("password", password));
    let mut out: Vec<String> = Vec::new();
    let mut in_credentials = false;
    let mut seen_credentials = false;
    let mut written: Vec<&str> = Vec::new();
    let mut skipping_continuation = false;
    // Options still to write when the credentials section ends.
    let flush = |out: &mut Vec<String>, written: &mut Vec<&str>| {
        // Before the blank lines that end the section.
        let mut at = out.len();
        while at > 0 && out[at - 1].trim().is_empty() {
            at -= 1;
        }
        for (key, value) in &wanted {
            if let (Some(value), false) = (value, written.contains(key)) {
                out.insert(at, format!("{key} = {value}"));
                at += 1;
                written.push(key);
            }
        }
    };
    for raw in text.lines() {
        let parsed = classify(raw, 0);
        if skipping_continuation {
            if let Ok(Line::Continuation(_)) = parsed {
                continue;
            }
            skipping_continuation = false;
        }
        match parsed {
            Ok(Line::Section(name)) => {
                if in_credentials {
                    flush(&mut out, &mut written);
                }
                in_credentials = name == "credentials";
                seen_credentials |= in_credentials;
                out.push(raw.to_string());
            }
            Ok(Line::Option { key, .. }) if in_credentials => {
                match wanted.iter().find(|(name, _)| *name == key) {
                    Some((name, value)) => {
                        skipping_continuation = true;
                        if let (Some(value), false) = (value, written.contains(name)) {
                            out.push(format!("{name} = {value}"));
                            written.push(name);
                        }
                    }
                    None => out.push(raw.to_string()),
                }
            }
            _ => out.push(raw.to_string()),
        }
    }
    if in_credentials {
        flush(&mut out, &mut written);
    }
    if !seen_credentials {
        if out.last().is_some_and(|line| !line.trim().is_empty()) {
            out.push(String::new());
        }
        out.push("[credentials]".into());
        flush(&mut out, &mut written);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_configparser_reads() {
        let config = CliConfig::parse(
            "# comment\n[general]\nbase_url = https://st2.example\n\n[credentials]\n\
             Username: st2admin\n; other comment\npassword = Ch@ngeMe # not a comment\n\
             [cli]\ncache_token = off\ndebug = YES\n[DEFAULT]\napi_key = k\n",
        )
        .unwrap();
        assert_eq!(
            config.get("general", "base_url"),
            Some("https://st2.example")
        );
        assert_eq!(config.get("credentials", "username"), Some("st2admin"));
        assert_eq!(
            config.get("credentials", "password"),
            Some("Ch@ngeMe # not a comment")
        );
        assert_eq!(config.get_bool("cli", "cache_token"), Ok(Some(false)));
        assert_eq!(config.get_bool("cli", "debug"), Ok(Some(true)));
        assert_eq!(config.get_bool("cli", "nope"), Ok(None));
        // [DEFAULT] applies to every section.
        assert_eq!(config.get("credentials", "api_key"), Some("k"));
    }

    #[test]
    fn bad_input_is_one_line_naming_where() {
        let bad = CliConfig::parse("[general]\nbase_url\n").unwrap_err();
        assert_eq!(bad.line, 2);
        let bad = CliConfig::parse("base_url = x\n").unwrap_err();
        assert!(bad.message.contains("outside of any [section]"), "{bad}");
        let config = CliConfig::parse("[cli]\ncache_token = maybe\n").unwrap();
        let err = config.get_bool("cli", "cache_token").unwrap_err();
        assert!(err.contains("[cli] cache_token"), "{err}");
    }

    #[test]
    fn login_keeps_the_rest_of_the_file() {
        let before = "# my cluster\n[general]\nbase_url = https://st2\n\n[credentials]\n\
                      # who\nusername = old\npassword = secret\n  continued\napi_key = k\n\n\
                      [cli]\ncache_token = true\n";
        assert_eq!(
            with_login(before, "st2admin", None),
            "# my cluster\n[general]\nbase_url = https://st2\n\n[credentials]\n\
             # who\nusername = st2admin\napi_key = k\n\n[cli]\ncache_token = true\n"
        );
        assert_eq!(
            with_login("[general]\nbase_url = x\n", "me", Some("pw")),
            "[general]\nbase_url = x\n\n[credentials]\nusername = me\npassword = pw\n"
        );
        assert_eq!(
            with_login(
                "[credentials]\napi_key = k\n\n[cli]\ndebug = 1\n",
                "me",
                Some("pw")
            ),
            "[credentials]\napi_key = k\nusername = me\npassword = pw\n\n[cli]\ndebug = 1\n"
        );
        assert_eq!(with_login("", "me", None), "[credentials]\nusername = me\n");
    }
}

//! `regex_match`, `regex_replace`, `regex_search`, `regex_substring`
//! (`st2common/expressions/functions/regex.py`): Python's `re.match`, `re.sub`, `re.search`
//! and `re.findall(...)[index]` over `str(value)`.
//!
//! Patterns run on Rust's `regex` engine, which reads Python's syntax (`(?P<name>...)`,
//! `\d`, `\w`, classes, flags) the same way; look-around and back-references, which it does
//! not have, are refused with a message saying so. Replacement strings use Python's syntax
//! (`\1`, `\g<name>`, `\n`), translated here.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use regex::{Regex, RegexBuilder};

use super::pystr::py_str;

fn compile(pattern: &str, ignorecase: bool) -> Result<Regex, Error> {
    let pattern = pattern.replace(r"\Z", r"\z");
    RegexBuilder::new(&pattern)
        .case_insensitive(ignorecase)
        .build()
        .map_err(|err| {
            let reason = match err {
                regex::Error::Syntax(text) => text
                    .lines()
                    .find(|line| line.starts_with("error:"))
                    .map(|line| line.trim_start_matches("error: ").to_string())
                    .unwrap_or(text),
                other => other.to_string(),
            };
            Error::new(
                ErrorKind::InvalidOperation,
                format!("invalid regular expression {pattern:?}: {reason}"),
            )
        })
}

fn text(value: &Value) -> String {
    py_str(value)
}

/// `bool(re.match(pattern, str(value)))`: a match at the start.
pub fn regex_match(value: Value, pattern: String, ignorecase: Option<bool>) -> Result<bool, Error> {
    super::defined(&value)?;
    let regex = compile(&format!(r"\A(?:{pattern})"), ignorecase.unwrap_or(false))?;
    Ok(regex.is_match(&text(&value)))
}

/// `bool(re.search(pattern, str(value)))`.
pub fn regex_search(
    value: Value,
    pattern: String,
    ignorecase: Option<bool>,
) -> Result<bool, Error> {
    super::defined(&value)?;
    let regex = compile(&pattern, ignorecase.unwrap_or(false))?;
    Ok(regex.is_match(&text(&value)))
}

/// `re.sub(pattern, replacement, str(value))`.
pub fn regex_replace(
    value: Value,
    pattern: String,
    replacement: String,
    ignorecase: Option<bool>,
) -> Result<String, Error> {
    super::defined(&value)?;
    let regex = compile(&pattern, ignorecase.unwrap_or(false))?;
    let replacement = python_replacement(&replacement)?;
    Ok(regex
        .replace_all(&text(&value), replacement.as_str())
        .into_owned())
}

/// `re.findall(pattern, str(value))[result_index]`: the whole match without groups, the
/// group with one, the groups with more.
pub fn regex_substring(
    value: Value,
    pattern: String,
    result_index: Option<i64>,
    ignorecase: Option<bool>,
) -> Result<Value, Error> {
    super::defined(&value)?;
    let regex = compile(&pattern, ignorecase.unwrap_or(false))?;
    let subject = text(&value);
    let groups = regex.captures_len() - 1;
    let found: Vec<Value> = regex
        .captures_iter(&subject)
        .map(|captures| {
            let group = |index: usize| {
                Value::from(captures.get(index).map_or("", |m| m.as_str()).to_string())
            };
            match groups {
                0 => group(0),
                1 => group(1),
                _ => Value::from((1..=groups).map(group).collect::<Vec<_>>()),
            }
        })
        .collect();
    let index = result_index.unwrap_or(0);
    let at = if index < 0 {
        found.len() as i64 + index
    } else {
        index
    };
    usize::try_from(at)
        .ok()
        .and_then(|at| found.get(at).cloned())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "list index out of range"))
}

/// A Python `re.sub` replacement template in `regex`'s syntax: `\1` and `\g<x>` become
/// `${1}` and `${x}`, escapes become their characters, `$` is doubled.
fn python_replacement(template: &str) -> Result<String, Error> {
    let bad = |what: String| Error::new(ErrorKind::InvalidOperation, what);
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
            i += 1;
            continue;
        }
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            return Err(bad("bad escape (end of pattern)".into()));
        };
        i += 2;
        match next {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(bad("missing <".into()));
                }
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '>')
                    .ok_or_else(|| bad("missing >, unterminated name".into()))?;
                let name: String = chars[i + 1..i + end].iter().collect();
                if name.is_empty() {
                    return Err(bad("missing group name".into()));
                }
                out.push_str(&format!("${{{name}}}"));
                i += end + 1;
            }
            '0' => {
                let mut value = 0u32;
                let mut taken = 0;
                while taken < 2 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                    value = value * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    taken += 1;
                }
                out.push(char::from_u32(value).unwrap_or('\0'));
            }
            '1'..='9' => {
                let mut number = next.to_string();
                if chars.get(i).is_some_and(char::is_ascii_digit) {
                    let octal = chars.get(i + 1).is_some_and(|c| ('0'..='7').contains(c))
                        && ('0'..='7').contains(&next)
                        && ('0'..='7').contains(&chars[i]);
                    if octal {
                        let digits: String = [next, chars[i], chars[i + 1]].iter().collect();
                        let value = u32::from_str_radix(&digits, 8).unwrap_or(0);
                        if value > 0o377 {
                            return Err(bad(format!(
                                "octal escape value \\{digits} outside of range 0-0o377"
                            )));
                        }
                        out.push(char::from_u32(value).unwrap_or('\0'));
                        i += 2;
                        continue;
                    }
                    number.push(chars[i]);
                    i += 1;
                }
                out.push_str(&format!("${{{number}}}"));
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            '\\' => out.push('\\'),
            c if c.is_ascii_alphabetic() => return Err(bad(format!("bad escape \\{c}"))),
            c => {
                out.push('\\');
                if c == '$' {
                    out.push_str("$$");
                } else {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use serde_json::json;

    /// StackStorm's `test_jinja_render_regex_filters.py`.
    #[test]
    fn test_filters_regex_match() {
        assert_eq!(
            render(r#"{{k1 | regex_match("x")}}"#, json!({"k1": "xyz"})).unwrap(),
            "True"
        );
        assert_eq!(
            render(r#"{{k1 | regex_match("y")}}"#, json!({"k1": "xyz"})).unwrap(),
            "False"
        );
        let template = r#"{{k1 | regex_match("^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$")}}"#;
        assert_eq!(render(template, json!({"k1": "v0.10.1"})).unwrap(), "True");
    }

    #[test]
    fn test_filters_regex_replace() {
        assert_eq!(
            render(r#"{{k1 | regex_replace("x", "y")}}"#, json!({"k1": "xyz"})).unwrap(),
            "yyz"
        );
        let template = r#"{{k1 | regex_replace("(blue|white|red)", "color")}}"#;
        assert_eq!(
            render(template, json!({"k1": "blue socks and red shoes"})).unwrap(),
            "color socks and color shoes"
        );
        // Python's replacement syntax.
        let template = r#"{{k1 | regex_replace("(\\w+)@(?P<host>\\w+)", "\\g<host>:\\1 $5")}}"#;
        assert_eq!(
            render(template, json!({"k1": "me@box"})).unwrap(),
            "box:me $5"
        );
    }

    #[test]
    fn test_filters_regex_search() {
        assert_eq!(
            render(r#"{{k1 | regex_search("x")}}"#, json!({"k1": "xyz"})).unwrap(),
            "True"
        );
        assert_eq!(
            render(r#"{{k1 | regex_search("y")}}"#, json!({"k1": "xyz"})).unwrap(),
            "True"
        );
        let template = r#"{{k1 | regex_search("^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$")}}"#;
        assert_eq!(render(template, json!({"k1": "v0.10.1"})).unwrap(), "True");
    }

    #[test]
    fn test_filters_regex_substring() {
        let template = r#"{{input_str | regex_substring("([0-9]{3} \w+ (?:Ave|St|Dr))")}}"#;
        let input = json!({"input_str": "My address is 123 Somewhere Ave. See you soon!"});
        assert_eq!(render(template, input).unwrap(), "123 Somewhere Ave");
        let template = r#"{{input_str | regex_substring("([0-9]{3} \w+ (?:Ave|St|Dr))", 1)}}"#;
        let input = json!({"input_str": "Your address is 567 Elsewhere Dr. My address is 123 Somewhere Ave."});
        assert_eq!(render(template, input).unwrap(), "123 Somewhere Ave");
        let input = json!({"input_str": "Your address is 567 Elsewhere Dr."});
        assert!(render(template, input)
            .unwrap_err()
            .contains("list index out of range"));
        let template = r#"{{input_str | regex_substring("([0-3]{3} \w+ (?:Ave|St|Dr))")}}"#;
        let input = json!({"input_str": "My address is 986 Somewhere Ave. See you soon!"});
        assert!(render(template, input)
            .unwrap_err()
            .contains("list index out of range"));
    }
}

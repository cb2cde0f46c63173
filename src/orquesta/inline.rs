//! `k=v k=v` inline parameters (`orquesta/utils/parameters.py: parse_inline_params`), used by
//! a task's `action: ref k=v` and a transition's `publish: k=v`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

fn pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(concat!(
            r#"(\w+)=(\[.*\]\s*|"[^"]*"\s*|'[^']*'\s*|-?\d*\.\d+|-?\d+"#,
            r#"|(?i:true)|(?i:false)|null|\{\{.*?\}\}|<%.*?%>)"#
        ))
        .unwrap()
    })
}

/// The pairs in `text`, in order, each value as orquesta reads it: quotes stripped; an
/// unquoted value (or a `{...}` one) parsed as JSON when it is JSON; `true`/`false` in any
/// case.
pub fn parse_pairs(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for found in pattern().captures_iter(text) {
        let key = found[1].to_string();
        let mut value = found[2].trim().to_string();
        let quoted = is_quoted(&value);
        if let Some(rest) = value.strip_prefix('"') {
            value = rest.to_string();
        }
        if let Some(rest) = value.strip_suffix('"') {
            value = rest.to_string();
        }
        if let Some(rest) = value.strip_prefix('\'') {
            value = rest.to_string();
        }
        if let Some(rest) = value.strip_suffix('\'') {
            value = rest.to_string();
        }
        let braces = value.starts_with('{') && value.ends_with('}');
        let quoted_string = !value.is_empty() && quoted && !braces;
        let lower = value.to_lowercase();
        let parsed = if quoted_string {
            Value::String(value)
        } else {
            let text = if lower == "true" || lower == "false" {
                lower
            } else {
                value.clone()
            };
            serde_json::from_str(&text).unwrap_or(Value::String(value))
        };
        out.push((key, parsed));
    }
    out
}

/// Whether `value` holds a `"..."` or `'...'` part (`re.findall` of the quoted patterns).
fn is_quoted(value: &str) -> bool {
    let double = value.matches('"').count() >= 2;
    let single = value.matches('\'').count() >= 2;
    double || single
}

/// `ref k=v ...`: the ref and its inline input, when the text holds any pair.
pub fn split_action(action: &str) -> Option<(String, Vec<(String, Value)>)> {
    let pairs = parse_pairs(action);
    if pairs.is_empty() {
        return None;
    }
    let at = action.find(' ')?;
    Some((action[..at].to_string(), pairs))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_read_as_orquesta_reads_them() {
        let pairs =
            parse_pairs(r#"a=1 b="x y" c='z' d=true e=[1, 2] f=<% ctx().x %> g=2.5 h=TRUE"#);
        let got: Vec<_> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("a", json!(1)),
                ("b", json!("x y")),
                ("c", json!("z")),
                ("d", json!(true)),
                ("e", json!([1, 2])),
                ("f", json!("<% ctx().x %>")),
                ("g", json!(2.5)),
                ("h", json!(true)),
            ]
        );
    }

    #[test]
    fn a_bare_word_is_no_pair() {
        assert!(parse_pairs("message=hello").is_empty());
        assert_eq!(
            split_action("core.local cmd=\"ls\"").unwrap().0,
            "core.local"
        );
        assert!(split_action("core.noop").is_none());
    }
}

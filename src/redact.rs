//! Masking of secret values in what an action printed or returned.
//!
//! **[fix]** StackStorm masks secret *parameters* in the execution record, but not what the
//! action itself prints: the twitter pack's Python code quotes the consumer key and the access
//! token in its 401 error, and that text ends up in `stdout`, in the record and on the screen.
//! As CI systems do with the secrets they know, every secret value the run knows (secret
//! parameters, secret config values, datastore values it decrypted) is replaced by
//! [`MASK`](crate::config::MASK) wherever it appears in the result, before the result is
//! stored or shown.
//!
//! Values shorter than [`MIN_LEN`] characters are not masked, as GitLab refuses to mask
//! variables under 8 characters: a short secret such as `pass` would mangle unrelated output
//! (`********word`) and tell an onlooker little. Matching uses Aho-Corasick
//! with leftmost-longest semantics, so a secret that contains another is masked whole.

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::{Map, Value};

use crate::config::MASK;

/// Secrets shorter than this many characters are left alone.
pub const MIN_LEN: usize = 8;

/// Replaces known secret values in text.
pub struct Redactor {
    matcher: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for `secrets` (duplicates, empty and short values are dropped).
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<String> = secrets
            .into_iter()
            .map(|secret| secret.as_ref().to_string())
            .filter(|secret| secret.chars().count() >= MIN_LEN && secret != MASK)
            .collect();
        patterns.sort();
        patterns.dedup();
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        Redactor { matcher }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret replaced by the mask.
    pub fn text(&self, text: &str) -> String {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let masks = vec![MASK; matcher.patterns_len()];
                matcher.replace_all(text, &masks)
            }
            _ => text.to_string(),
        }
    }

    /// Mask every string (and object key) inside `value`, in place.
    pub fn value(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(text) => {
                let masked = self.text(text);
                if masked != *text {
                    *text = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                *map = entries
                    .into_iter()
                    .map(|(key, mut item)| {
                        self.value(&mut item);
                        (self.text(&key), item)
                    })
                    .collect::<Map<String, Value>>();
            }
            _ => {}
        }
    }
}

/// The scalar values inside `value` as text (what an action could print of them): strings as
/// they are, numbers as JSON writes them; booleans and null are never secrets worth masking.
pub fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Number(number) => out.push(number.to_string()),
        Value::Array(items) => items.iter().for_each(|item| scalars(item, out)),
        Value::Object(map) => map.values().for_each(|item| scalars(item, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let redactor = Redactor::new(["hunter22", "hunter22-long", "pass"]);
        assert_eq!(
            redactor.text("401: bad key hunter22-long (was hunter22), password stays"),
            "401: bad key ******** (was ********), password stays"
        );
    }

    #[test]
    fn masks_inside_nested_results_and_keys() {
        let redactor = Redactor::new(vec!["s3cr3t-token".to_string()]);
        let mut result = json!({
            "stdout": "token=s3cr3t-token\n",
            "result": {"list": ["x s3cr3t-token y", 5], "s3cr3t-token": true},
            "exit_code": 0,
        });
        redactor.value(&mut result);
        assert_eq!(
            result,
            json!({
                "stdout": "token=********\n",
                "result": {"list": ["x ******** y", 5], "********": true},
                "exit_code": 0,
            })
        );
    }

    #[test]
    fn short_empty_and_mask_values_are_ignored() {
        let redactor = Redactor::new(["", "yes", "1234567", MASK]);
        assert!(redactor.is_empty());
        assert_eq!(redactor.text("yes yes"), "yes yes");
    }

    #[test]
    fn scalars_are_collected_as_printed() {
        let mut out = Vec::new();
        scalars(
            &json!({"a": "text", "b": [12345, true, null], "c": {"d": 1.5}}),
            &mut out,
        );
        assert_eq!(out, ["text", "12345", "1.5"]);
    }
}

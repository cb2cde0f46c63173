//! Masking of secret values in what an action printed or returned.
//!
//! **[fix]** StackStorm masks secret *parameters* in the execution record, but not what the
//! action itself prints: the twitter pack's Python code quotes the consumer key and the access
//! token in its 401 error, and that text ends up in `stdout`, in the record and on the screen.
//! As CI systems do with the secrets they know, every secret value the run knows (secret
//! parameters, secret config values, datastore values it decrypted) is replaced by
//! [`MASK`] wherever it appears in the result, before the result is
//! stored or shown.
//!
//! Values shorter than [`MIN_LEN`] characters are not masked, as GitLab refuses to mask
//! variables under 8 characters: a short secret such as `pass` would mangle unrelated output
//! (`********word`) and tell an onlooker little. Matching uses Aho-Corasick
//! with leftmost-longest semantics, so a secret that contains another is masked whole.

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::{Map, Value};

/// What is shown instead of a secret value.
pub(crate) const MASK: &str = "********";

/// Secrets shorter than this many characters are left alone.
pub(crate) const MIN_LEN: usize = 8;

/// Replaces known secret values in text.
pub(crate) struct Redactor {
    matcher: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for `secrets` (duplicates, empty and short values are dropped).
    pub(crate) fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Redactor {
            matcher: matcher(&patterns(secrets)),
        }
    }

    /// Whether there is nothing to mask.
    pub(crate) fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret replaced by the mask.
    pub(crate) fn text(&self, text: &str) -> String {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let masks = vec![MASK; matcher.patterns_len()];
                matcher.replace_all(text, &masks)
            }
            _ => text.to_string(),
        }
    }

    /// Mask every string (and object key) inside `value`, in place.
    pub(crate) fn value(&self, value: &mut Value) {
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

/// Masks known secrets in output that arrives in pieces (an action's output as it comes): a
/// secret split across two pieces is masked as it would be in the whole text.
///
/// What could be the start of a secret at the end of a piece (its longest end that is a
/// proper prefix of one) is held back until the next piece, or [`StreamRedactor::finish`],
/// says; everything before it is final, because every occurrence that starts there is
/// complete. Without secrets nothing is held back.
#[derive(Default)]
pub(crate) struct StreamRedactor {
    patterns: Vec<String>,
    matcher: Option<AhoCorasick>,
    held: Vec<u8>,
}

impl StreamRedactor {
    /// A redactor for `secrets` (the same ones [`Redactor::new`] keeps).
    pub(crate) fn new<I, S>(secrets: I) -> StreamRedactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = patterns(secrets);
        StreamRedactor {
            matcher: matcher(&patterns),
            patterns,
            held: Vec::new(),
        }
    }

    /// Mask `secret` too from now on (a value the action was handed during the run).
    pub(crate) fn add_secret(&mut self, secret: &str) {
        let added = patterns([secret]);
        if added.is_empty() || self.patterns.contains(&added[0]) {
            return;
        }
        self.patterns.extend(added);
        self.matcher = matcher(&self.patterns);
    }

    /// The next piece: returns what can be shown now, masked (possibly nothing).
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<u8> {
        let Some(matcher) = &self.matcher else {
            let mut out = std::mem::take(&mut self.held);
            out.extend_from_slice(data);
            return out;
        };
        let mut buffer = std::mem::take(&mut self.held);
        buffer.extend_from_slice(data);
        let keep = self
            .patterns
            .iter()
            .map(|pattern| partial_suffix(&buffer, pattern.as_bytes()))
            .max()
            .unwrap_or(0);
        let mut end = buffer.len() - keep;
        let mut out = Vec::with_capacity(end);
        let mut position = 0;
        for found in matcher.find_iter(&buffer) {
            if found.start() >= end {
                break;
            }
            out.extend_from_slice(&buffer[position..found.start()]);
            out.extend_from_slice(MASK.as_bytes());
            position = found.end();
            end = end.max(found.end());
        }
        out.extend_from_slice(&buffer[position..end]);
        self.held = buffer[end..].to_vec();
        out
    }

    /// The output ended: what was held back, masked.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        match &self.matcher {
            Some(matcher) => {
                let masks = vec![MASK.as_bytes(); matcher.patterns_len()];
                matcher.replace_all_bytes(&held, &masks)
            }
            None => held,
        }
    }
}

/// The length of the longest end of `data` that is the start of `pattern` (but not all of
/// it): the bytes that may begin an occurrence the next piece completes.
pub(crate) fn partial_suffix(data: &[u8], pattern: &[u8]) -> usize {
    let Some(&last) = data.last() else {
        return 0;
    };
    let longest = data.len().min(pattern.len().saturating_sub(1));
    (1..=longest)
        .rev()
        .find(|&length| pattern[length - 1] == last && data.ends_with(&pattern[..length]))
        .unwrap_or(0)
}

/// What finds `patterns` in text, leftmost-longest (a secret that contains another is found
/// whole); none without patterns.
fn matcher(patterns: &[String]) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .ok()
}

/// The secrets worth masking: long enough, not the mask itself, each once.
fn patterns<I, S>(secrets: I) -> Vec<String>
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
    patterns
}

/// The scalar values inside `value` as text (what an action could print of them): strings as
/// they are, numbers as JSON writes them; booleans and null are never secrets worth masking.
pub(crate) fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Number(number) => out.push(number.to_string()),
        Value::Array(items) => items.iter().for_each(|item| scalars(item, out)),
        Value::Object(map) => map.values().for_each(|item| scalars(item, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Whether an environment variable's name says it holds a secret, in any case: it contains
/// `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD` or `PASSPHRASE`, or ends in `_KEY`
/// (`AWS_SECRET_ACCESS_KEY`, `ST2_API_KEY`), `PASS` (`DB_PASS`, `SSHPASS`) or `_PWD`
/// (`MYSQL_PWD`). Not every name holding `PASS`: `TOX_TESTENV_PASSENV`, `PGPASSFILE` or
/// `PASSENGER_ENV` hold no secret, and a value masked wrongly is masked in the action's
/// output too.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE"]
        .iter()
        .any(|word| upper.contains(word))
        || ["_KEY", "PASS", "_PWD"]
            .iter()
            .any(|end| upper.ends_with(end))
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

    /// Every way of cutting `text` in pieces gives the whole text's masking.
    fn streamed(secrets: &[&str], text: &str, cuts: &[usize]) -> String {
        let mut redactor = StreamRedactor::new(secrets);
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([text.len()].iter()) {
            out.extend(redactor.push(&text.as_bytes()[start..cut]));
            start = cut;
        }
        out.extend(redactor.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_split_across_pieces_is_masked() {
        let secrets = ["hunter22", "hunter22-long", "s3cr3t-token"];
        let text = "a hunter22-long b hunter22 c s3cr3t-tokens3cr3t-token hunter2 end";
        let whole = Redactor::new(secrets).text(text);
        assert_eq!(
            whole,
            "a ******** b ******** c **************** hunter2 end"
        );
        for first in 0..=text.len() {
            for second in first..=text.len() {
                assert_eq!(
                    streamed(&secrets, text, &[first, second]),
                    whole,
                    "cut at {first} and {second}"
                );
            }
        }
        // One byte at a time.
        let cuts: Vec<usize> = (1..text.len()).collect();
        assert_eq!(streamed(&secrets, text, &cuts), whole);
    }

    #[test]
    fn only_a_possible_start_of_a_secret_is_held_back() {
        let mut redactor = StreamRedactor::new(["hunter22"]);
        assert_eq!(redactor.push(b"progress 10%\n"), b"progress 10%\n");
        assert_eq!(redactor.push(b"key: hunt"), b"key: ");
        assert_eq!(redactor.push(b"er22!"), b"********!");
        assert_eq!(redactor.push(b"hun"), b"");
        assert_eq!(redactor.finish(), b"hun");
        // A secret learnt during the run masks from then on.
        redactor.add_secret("late-secret");
        assert_eq!(redactor.push(b"x late-secret"), b"x ********");
        let mut none = StreamRedactor::new(Vec::<String>::new());
        assert_eq!(none.push(b"as is"), b"as is");
        assert_eq!(none.finish(), b"");
    }

    #[test]
    fn partial_suffixes() {
        assert_eq!(partial_suffix(b"abc", b"cde"), 1);
        assert_eq!(partial_suffix(b"abcd", b"cde"), 2);
        assert_eq!(partial_suffix(b"abcde", b"cde"), 0);
        assert_eq!(partial_suffix(b"", b"cde"), 0);
        assert_eq!(partial_suffix(b"xyz", b"cde"), 0);
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

    #[test]
    fn environment_variables_named_like_secrets() {
        for name in [
            "GITHUB_TOKEN",
            "ST2_AUTH_TOKEN",
            "ST2_API_KEY",
            "aws_secret_access_key",
            "client_secret",
            "PGPASSWORD",
            "DB_PASSWD",
            "GPG_PASSPHRASE",
            "SSHPASS",
            "smtp_pass",
            "MYSQL_PWD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "HOME",
            "KEYBOARD",
            "PGPASSFILE",
            "TOX_TESTENV_PASSENV",
            "PASSENGER_ENV",
            "OLDPWD",
            "KEY_ID",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}

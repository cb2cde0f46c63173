//! Tokens of yaql 3.2.0's lexer (`yaql/language/lexer.py`): numbers, the three kinds of
//! quoted strings, `true`/`false`/`null`, function names (a name followed by `(`), bare
//! words, `$` variables, operator symbols and words.

use super::Error;

/// One token and the character offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) position: usize,
    /// The text it was read from.
    pub(crate) text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Int(i64),
    Float(f64),
    /// A quoted string (`'...'`, `"..."` with Python escapes, `` `...` `` verbatim).
    Quoted(String),
    /// A name not followed by `(`, not an operator word nor a keyword: a string.
    Word(String),
    /// A name immediately followed by `(` (the `(` is consumed).
    Func(String),
    /// `$` (empty name) or `$name`.
    Dollar(String),
    True,
    False,
    Null,
    /// An operator symbol or word (`+`, `<=`, `and`, `=>`, ...) or punctuation.
    Symbol(&'static str),
}

/// Symbols, longest first so that `<=` wins over `<`.
const SYMBOLS: &[&str] = &[
    "=>", "->", "?.", "=~", "!~", ">=", "<=", "!=", ".", "+", "-", "*", "/", ">", "<", "=", "(",
    ")", "[", "]", "{", "}", ",",
];

const WORD_OPERATORS: &[&str] = &["and", "or", "not", "in", "mod"];

/// The tokens of `text`, or the first lexical error.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            at += 1;
            continue;
        }
        let start = at;
        let kind = if c.is_ascii_digit() {
            // `\b\d+(\.?\d+)?\b`: a number must not run into a word character.
            let mut end = at;
            while end < chars.len() && chars[end].is_ascii_digit() {
                end += 1;
            }
            let mut float = false;
            if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
                end += 1;
                while end < chars.len() && chars[end].is_ascii_digit() {
                    end += 1;
                }
                float = true;
            }
            if end < chars.len() && is_word_char(chars[end]) {
                return Err(lexical(c, start));
            }
            let digits: String = chars[at..end].iter().collect();
            at = end;
            if float {
                TokenKind::Float(digits.parse().map_err(|_| lexical(c, start))?)
            } else {
                TokenKind::Int(digits.parse().map_err(|_| {
                    Error::new(
                        "OverflowError",
                        format!("integer {digits} does not fit in 64 bits"),
                    )
                })?)
            }
        } else if is_word_start(c) {
            let mut end = at;
            while end < chars.len() && is_word_char(chars[end]) {
                end += 1;
            }
            let word: String = chars[at..end].iter().collect();
            at = end;
            if at < chars.len() && chars[at] == '(' {
                at += 1;
                TokenKind::Func(word)
            } else if word.starts_with("__") {
                return Err(lexical(c, start));
            } else if let Some(op) = WORD_OPERATORS.iter().find(|op| **op == word) {
                TokenKind::Symbol(op)
            } else {
                match word.as_str() {
                    "true" => TokenKind::True,
                    "false" => TokenKind::False,
                    "null" => TokenKind::Null,
                    _ => TokenKind::Word(word),
                }
            }
        } else if c == '$' {
            let mut end = at + 1;
            while end < chars.len() && is_word_char(chars[end]) {
                end += 1;
            }
            let name: String = chars[at + 1..end].iter().collect();
            at = end;
            TokenKind::Dollar(name)
        } else if matches!(c, '\'' | '"' | '`') {
            let mut end = at + 1;
            let mut raw = String::new();
            loop {
                match chars.get(end) {
                    None => return Err(lexical(c, start)),
                    Some('\\') if end + 1 < chars.len() => {
                        raw.push('\\');
                        raw.push(chars[end + 1]);
                        end += 2;
                    }
                    Some('\\') => return Err(lexical(c, start)),
                    Some(&q) if q == c => break,
                    Some(&other) => {
                        raw.push(other);
                        end += 1;
                    }
                }
            }
            at = end + 1;
            if c == '`' {
                TokenKind::Quoted(raw.replace("\\`", "`"))
            } else {
                TokenKind::Quoted(decode_escapes(&raw))
            }
        } else {
            let rest: String = chars[at..chars.len().min(at + 2)].iter().collect();
            match SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
                Some(symbol) => {
                    at += symbol.chars().count();
                    TokenKind::Symbol(symbol)
                }
                None => return Err(lexical(c, start)),
            }
        };
        tokens.push(Token {
            kind,
            position: start,
            text: chars[start..at].iter().collect(),
        });
    }
    Ok(tokens)
}

fn lexical(c: char, position: usize) -> Error {
    Error::new(
        "YaqlLexicalException",
        format!("Lexical error: illegal character '{c}' at position {position}"),
    )
}

/// Python's `[^\W\d]`: a letter or `_`.
fn is_word_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Python's `\w`.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's escapes as yaql decodes them (`codecs.decode(..., 'unicode-escape')` on each
/// escape sequence); an unknown escape stays as written.
fn decode_escapes(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    while at < chars.len() {
        if chars[at] != '\\' || at + 1 >= chars.len() {
            out.push(chars[at]);
            at += 1;
            continue;
        }
        let next = chars[at + 1];
        let simple = match next {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            at += 2;
            continue;
        }
        let hex = |width: usize| -> Option<char> {
            let digits: String = chars.get(at + 2..at + 2 + width)?.iter().collect();
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        let (decoded, width) = match next {
            'x' => (hex(2), 4),
            'u' => (hex(4), 6),
            'U' => (hex(8), 10),
            '0'..='7' => {
                let digits: String = chars[at + 1..]
                    .iter()
                    .take(3)
                    .take_while(|c| ('0'..='7').contains(*c))
                    .collect();
                let width = digits.len() + 1;
                (
                    u32::from_str_radix(&digits, 8)
                        .ok()
                        .and_then(char::from_u32),
                    width,
                )
            }
            _ => (None, 0),
        };
        match decoded {
            Some(decoded) => {
                out.push(decoded);
                at += width;
            }
            None => {
                out.push('\\');
                at += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn numbers_words_and_functions() {
        use TokenKind::*;
        assert_eq!(
            kinds("010 2.50 foo len( True $ $x"),
            vec![
                Int(10),
                Float(2.5),
                Word("foo".into()),
                Func("len".into()),
                Word("True".into()),
                Dollar(String::new()),
                Dollar("x".into()),
            ]
        );
        assert_eq!(
            kinds("true false null and not"),
            vec![True, False, Null, Symbol("and"), Symbol("not")]
        );
        // A name then a space then `(` is a word, not a call.
        assert_eq!(kinds("len ("), vec![Word("len".into()), Symbol("(")]);
    }

    #[test]
    fn operators_longest_first() {
        use TokenKind::*;
        assert_eq!(
            kinds("a<=b!=c=>d"),
            vec![
                Word("a".into()),
                Symbol("<="),
                Word("b".into()),
                Symbol("!="),
                Word("c".into()),
                Symbol("=>"),
                Word("d".into()),
            ]
        );
    }

    #[test]
    fn strings_and_escapes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"'a\nb' "it\'s \u00e9" `a\nb` 'x\qy'"#),
            vec![
                Quoted("a\nb".into()),
                Quoted("it's é".into()),
                Quoted("a\\nb".into()),
                Quoted("x\\qy".into()),
            ]
        );
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(
            tokenize("1e5").unwrap_err().message,
            "Lexical error: illegal character '1' at position 0"
        );
        assert_eq!(
            tokenize("a # b").unwrap_err().message,
            "Lexical error: illegal character '#' at position 2"
        );
        assert_eq!(
            tokenize("__x").unwrap_err().message,
            "Lexical error: illegal character '_' at position 0"
        );
        assert!(tokenize("'open").is_err());
        assert_eq!(
            tokenize("99999999999999999999").unwrap_err().kind,
            "OverflowError"
        );
    }
}

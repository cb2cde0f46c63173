//! Python's `ast.literal_eval` of text, the literals as JSON values: what StackStorm's casts
//! use to read `str()` of a list or dict back (`"[1, 'a']"`).

use serde_json::{Map, Number, Value};

use super::{digits_with_underscores, python_float};

/// `ast.literal_eval(text)`: Python literals (strings, numbers, `True`, `False`, `None`,
/// lists, tuples, dicts) as JSON; tuples are arrays. Sets, bytes and complex numbers have no
/// JSON form and are refused, as is anything else (`malformed node or string`).
pub(crate) fn literal_eval(text: &str) -> Result<Value, String> {
    let source: Vec<char> = text.trim_start_matches([' ', '\t']).chars().collect();
    let mut parser = Literal {
        chars: source,
        at: 0,
        depth: 0,
    };
    parser.skip_space(true);
    let value = parser.expression()?;
    parser.skip_space(true);
    if parser.at < parser.chars.len() {
        return Err("invalid syntax".into());
    }
    Ok(value)
}

struct Literal {
    chars: Vec<char>,
    at: usize,
    /// Bracket depth: newlines are whitespace only inside brackets.
    depth: usize,
}

const MALFORMED: &str = "malformed node or string";

impl Literal {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self, top: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\u{c}' => self.at += 1,
                '\n' | '\r' if self.depth > 0 || top => self.at += 1,
                '\\' if matches!(self.chars.get(self.at + 1), Some('\n')) => self.at += 2,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// A top-level expression: a bare tuple (`1, 2`) or one value.
    fn expression(&mut self) -> Result<Value, String> {
        let first = self.value()?;
        self.skip_space(false);
        if self.peek() != Some(',') {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(',') {
            self.at += 1;
            self.skip_space(false);
            if self.peek().is_none() || self.peek() == Some('\n') {
                break;
            }
            items.push(self.value()?);
            self.skip_space(false);
        }
        Ok(Value::Array(items))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space(false);
        match self.peek() {
            None => Err("unexpected EOF while parsing".into()),
            Some('[') => self.sequence(']').map(Value::Array),
            Some('(') => self.parenthesized(),
            Some('{') => self.dict(),
            Some('-' | '+') => self.signed_number(),
            Some(c) if c.is_ascii_digit() => self.number(),
            Some('.')
                if self
                    .chars
                    .get(self.at + 1)
                    .is_some_and(char::is_ascii_digit) =>
            {
                self.number()
            }
            Some('.') if self.chars[self.at..].starts_with(&['.', '.', '.']) => {
                Err("Ellipsis has no JSON form".into())
            }
            Some('\'' | '"') => self.strings(),
            Some(c) if c.is_alphabetic() || c == '_' => self.name(),
            Some(_) => Err("invalid syntax".into()),
        }
    }

    /// `(...)`: the empty tuple, a parenthesized value, or a tuple.
    fn parenthesized(&mut self) -> Result<Value, String> {
        self.at += 1;
        self.depth += 1;
        self.skip_space(false);
        if self.peek() == Some(')') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value()?;
        self.skip_space(false);
        let result = match self.peek() {
            Some(')') => first,
            Some(',') => {
                let mut items = vec![first];
                while self.peek() == Some(',') {
                    self.at += 1;
                    self.skip_space(false);
                    if self.peek() == Some(')') {
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_space(false);
                }
                Value::Array(items)
            }
            _ => return Err("invalid syntax".into()),
        };
        if self.peek() != Some(')') {
            return Err("invalid syntax".into());
        }
        self.at += 1;
        self.depth -= 1;
        Ok(result)
    }

    /// A number after a sign (`-1`, `+2.5`); a sign before anything else is refused.
    fn signed_number(&mut self) -> Result<Value, String> {
        let negative = self.peek() == Some('-');
        self.at += 1;
        self.skip_space(false);
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == '.' => {}
            _ => return Err(MALFORMED.into()),
        }
        let number = self.number()?;
        Ok(match (negative, number) {
            (false, number) => number,
            (true, Value::Number(n)) if n.is_f64() => Value::from(-n.as_f64().unwrap_or_default()),
            (true, Value::Number(n)) => match n.as_i64() {
                Some(i) => Value::from(-i),
                None => return Err("integer out of range".into()),
            },
            (true, other) => other,
        })
    }

    /// `True`, `False`, `None`, or the prefix of a string (`r'...'`, `u'...'`).
    fn name(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        if matches!(self.peek(), Some('\'' | '"')) {
            let prefix = word.to_ascii_lowercase();
            if matches!(prefix.as_str(), "r" | "u") {
                self.at = start;
                return self.strings();
            }
            if matches!(prefix.as_str(), "b" | "br" | "rb") {
                return Err("bytes have no JSON form".into());
            }
            return Err(MALFORMED.into());
        }
        match word.as_str() {
            "True" => Ok(Value::Bool(true)),
            "False" => Ok(Value::Bool(false)),
            "None" => Ok(Value::Null),
            _ => Err(MALFORMED.into()),
        }
    }

    fn sequence(&mut self, close: char) -> Result<Vec<Value>, String> {
        self.at += 1;
        self.depth += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space(false);
            if self.peek() == Some(close) {
                break;
            }
            items.push(self.value()?);
            self.skip_space(false);
            match self.peek() {
                Some(',') => self.at += 1,
                Some(c) if c == close => break,
                _ => return Err("invalid syntax".into()),
            }
        }
        self.at += 1;
        self.depth -= 1;
        Ok(items)
    }

    fn dict(&mut self) -> Result<Value, String> {
        self.at += 1;
        self.depth += 1;
        let mut map = Map::new();
        let mut is_set = false;
        loop {
            self.skip_space(false);
            if self.peek() == Some('}') {
                break;
            }
            let key = self.value()?;
            self.skip_space(false);
            if self.peek() == Some(':') && !is_set {
                self.at += 1;
                let value = self.value()?;
                let key = match key {
                    Value::String(text) => text,
                    Value::Array(_) | Value::Object(_) => return Err("unhashable type".into()),
                    other => crate::schema::repr::py_repr(&other),
                };
                map.insert(key, value);
            } else if map.is_empty() {
                is_set = true;
            } else {
                return Err("invalid syntax".into());
            }
            self.skip_space(false);
            match self.peek() {
                Some(',') => self.at += 1,
                Some('}') => break,
                _ => return Err("invalid syntax".into()),
            }
        }
        self.at += 1;
        self.depth -= 1;
        if is_set {
            return Err("sets have no JSON form".into());
        }
        Ok(Value::Object(map))
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || (self.peek().is_some_and(|c| c == '+' || c == '-')
                && matches!(self.chars.get(self.at - 1), Some('e' | 'E'))
                && !self.chars[start..self.at]
                    .iter()
                    .any(|c| matches!(c, 'x' | 'X')))
        {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        let lower = text.to_ascii_lowercase();
        if lower.ends_with('j') {
            return Err("complex numbers have no JSON form".into());
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(rest) = lower.strip_prefix(prefix) {
                let rest = rest.strip_prefix('_').unwrap_or(rest);
                if rest.is_empty() || rest.ends_with('_') || rest.contains("__") {
                    return Err("invalid syntax".into());
                }
                let digits: String = rest.chars().filter(|c| *c != '_').collect();
                return i64::from_str_radix(&digits, radix)
                    .map(Value::from)
                    .map_err(|_| "invalid syntax".into());
            }
        }
        let is_float = lower.contains(['.', 'e']);
        if !is_float {
            // Leading zeros are only allowed for zero itself.
            let digits = digits_with_underscores(&lower).ok_or("invalid syntax")?;
            if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
                return Err("leading zeros in decimal integer literals are not permitted".into());
            }
            return digits
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| digits.parse::<u64>().map(Value::from))
                .map_err(|_| "integer out of range".into());
        }
        let float = python_float(&text)
            .filter(|_| !lower.contains("inf") && !lower.contains("nan"))
            .ok_or("invalid syntax")?;
        Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| "number out of range".into())
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Result<Value, String> {
        let mut text = String::new();
        loop {
            self.skip_space(false);
            let start = self.at;
            let mut raw = false;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                let c = self.peek().unwrap_or_default().to_ascii_lowercase();
                match c {
                    'r' => raw = true,
                    'u' => {}
                    'b' => return Err("bytes have no JSON form".into()),
                    _ => {
                        self.at = start;
                        return if text.is_empty() {
                            Err(MALFORMED.into())
                        } else {
                            Ok(Value::String(text))
                        };
                    }
                }
                self.at += 1;
            }
            match self.peek() {
                Some('\'' | '"') => text.push_str(&self.string(raw)?),
                _ => {
                    self.at = start;
                    return Ok(Value::String(text));
                }
            }
        }
    }

    fn string(&mut self, raw: bool) -> Result<String, String> {
        let quote = self.peek().unwrap_or('\'');
        let triple = self.chars[self.at..].starts_with(&[quote, quote, quote]);
        self.at += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated string literal".into());
            };
            if c == quote && (!triple || self.chars[self.at..].starts_with(&[quote, quote, quote]))
            {
                self.at += if triple { 3 } else { 1 };
                return Ok(out);
            }
            if c == '\n' && !triple {
                return Err("unterminated string literal".into());
            }
            self.at += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(next) = self.peek() else {
                return Err("unterminated string literal".into());
            };
            self.at += 1;
            if raw {
                out.push('\\');
                out.push(next);
                continue;
            }
            match next {
                '\n' => {}
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                '0'..='7' => {
                    let mut value = next.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(digit) => {
                                value = value * 8 + digit;
                                self.at += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(value).ok_or("invalid octal escape")?);
                }
                'x' | 'u' | 'U' => {
                    let width = match next {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = self.chars[self.at..].iter().take(width).collect();
                    if hex.len() != width || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(format!("truncated \\{next} escape"));
                    }
                    self.at += width;
                    let code = u32::from_str_radix(&hex, 16).map_err(|err| err.to_string())?;
                    out.push(char::from_u32(code).ok_or("illegal Unicode character")?);
                }
                'N' => return Err("\\N{...} escapes are not supported".into()),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_eval_reads_python_literals() {
        assert_eq!(
            literal_eval("True,True,True,1").unwrap(),
            json!([true, true, true, 1])
        );
        assert_eq!(literal_eval("['1', '2']").unwrap(), json!(["1", "2"]));
        assert_eq!(
            literal_eval("{'a': [1, 2.5, None], \"b\": (True,)}").unwrap(),
            json!({"a": [1, 2.5, null], "b": [true]})
        );
        assert_eq!(literal_eval("  -1_000").unwrap(), json!(-1000));
        assert_eq!(literal_eval("0x1F").unwrap(), json!(31));
        assert_eq!(literal_eval("'a' 'b' r'\\n'").unwrap(), json!("ab\\n"));
        assert_eq!(literal_eval("'\\x41\\u00e9\\n'").unwrap(), json!("Aé\n"));
        assert_eq!(literal_eval("1e3").unwrap(), json!(1000.0));
        assert_eq!(literal_eval("[\n 1, # one\n 2,\n]").unwrap(), json!([1, 2]));
        assert_eq!(literal_eval("()").unwrap(), json!([]));
        for bad in [
            "Yes", "true", "", "1 2", "{1, 2}", "b'x'", "1j", "--1", "+True", "x()", "01", "'a",
        ] {
            assert!(literal_eval(bad).is_err(), "{bad}");
        }
    }
}

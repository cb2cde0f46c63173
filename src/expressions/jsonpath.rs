//! The JSONPath dialect of `jsonpath-rw` 1.4 (what StackStorm's `jsonpath_query` filter
//! uses): `$`, `field`, `'quoted field'`, `a,b`, `*`, `.`, `..`, `[n]`, `[start:end]`, `[*]`,
//! `|` (union), `where`, `` `this` `` and parentheses, with its precedence and its quirks
//! (`[*]` on an object or a scalar matches the value itself).

use serde_json::Value;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Path {
    Root,
    This,
    Fields(Vec<String>),
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Child(Box<Path>, Box<Path>),
    Descendants(Box<Path>, Box<Path>),
    Union(Box<Path>, Box<Path>),
    Where(Box<Path>, Box<Path>),
}

/// The values `query` matches in `value`, in jsonpath-rw's order; `Err` with the reason
/// when the query does not parse.
pub fn find(value: &Value, query: &str) -> Result<Vec<Value>, String> {
    let tokens = lex(query)?;
    let mut parser = Parser { tokens, at: 0 };
    let path = parser.expression(0)?;
    if let Some(token) = parser.tokens.get(parser.at) {
        return Err(format!("Parse error near token {}", token.text()));
    }
    Ok(matches(&path, value, value))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Id(String),
    Number(i64),
    Named(String),
    Where,
    DoubleDot,
    Char(char),
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Id(id) => format!("{id} (ID)"),
            Token::Number(n) => format!("{n} (NUMBER)"),
            Token::Named(name) => format!("{name} (NAMED_OPERATOR)"),
            Token::Where => "where (WHERE)".into(),
            Token::DoubleDot => ".. (DOUBLEDOT)".into(),
            Token::Char(c) => format!("{c} ({c})"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '.' if chars.get(i + 1) == Some(&'.') => {
                tokens.push(Token::DoubleDot);
                i += 2;
            }
            '*' | '.' | '[' | ']' | '(' | ')' | '$' | ',' | ':' | '|' | '&' => {
                tokens.push(Token::Char(c));
                i += 1;
            }
            '\'' | '"' | '`' => {
                let mut content = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("Unterminated quoted field in {text:?}")),
                        Some('\\') if i + 1 < chars.len() => {
                            content.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&end) if end == c => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            content.push(other);
                            i += 1;
                        }
                    }
                }
                tokens.push(if c == '`' {
                    Token::Named(content)
                } else {
                    Token::Id(content)
                });
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                let number = digits
                    .parse()
                    .map_err(|_| format!("Unexpected character: {c}"))?;
                tokens.push(Token::Number(number));
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '-'))
                {
                    i += 1;
                }
                let id: String = chars[start..i].iter().collect();
                tokens.push(if id == "where" {
                    Token::Where
                } else {
                    Token::Id(id)
                });
            }
            other => return Err(format!("Unexpected character: {other}")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn error(&self) -> String {
        match self.tokens.get(self.at) {
            Some(token) => format!("Parse error near token {}", token.text()),
            None => "Parse error at end of input".into(),
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(&Token::Char(c)) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Binary operators, loosest first: `..`, `.`, `|`, `&`, `where` (all left-associative).
    fn expression(&mut self, min: u8) -> Result<Path, String> {
        let mut left = self.postfix()?;
        loop {
            let level = match self.peek() {
                Some(Token::DoubleDot) => 1,
                Some(Token::Char('.')) => 2,
                Some(Token::Char('|')) => 3,
                Some(Token::Char('&')) => 4,
                Some(Token::Where) => 5,
                _ => break,
            };
            if level <= min {
                break;
            }
            self.at += 1;
            let right = self.expression(level)?;
            left = match level {
                1 => Path::Descendants(Box::new(left), Box::new(right)),
                2 => Path::Child(Box::new(left), Box::new(right)),
                3 => Path::Union(Box::new(left), Box::new(right)),
                4 => return Err("the & operator is not implemented".into()),
                _ => Path::Where(Box::new(left), Box::new(right)),
            };
        }
        Ok(left)
    }

    fn postfix(&mut self) -> Result<Path, String> {
        let mut path = self.primary()?;
        while self.peek() == Some(&Token::Char('[')) {
            self.at += 1;
            let inner = self.bracket()?;
            path = Path::Child(Box::new(path), Box::new(inner));
        }
        Ok(path)
    }

    fn primary(&mut self) -> Result<Path, String> {
        match self.next() {
            Some(Token::Char('$')) => Ok(Path::Root),
            Some(Token::Char('*')) => Ok(Path::Fields(vec!["*".into()])),
            Some(Token::Id(id)) => self.fields(id).map(Path::Fields),
            Some(Token::Named(name)) if name == "this" => Ok(Path::This),
            Some(Token::Named(name)) => Err(format!("Unknown named operator `{name}`")),
            Some(Token::Char('[')) => self.bracket(),
            Some(Token::Char('(')) => {
                let inner = self.expression(0)?;
                self.expect(')')?;
                Ok(inner)
            }
            _ => {
                self.at = self.at.saturating_sub(1);
                Err(self.error())
            }
        }
    }

    fn fields(&mut self, first: String) -> Result<Vec<String>, String> {
        let mut fields = vec![first];
        while self.peek() == Some(&Token::Char(',')) {
            self.at += 1;
            match self.next() {
                Some(Token::Id(id)) => fields.push(id),
                _ => {
                    self.at -= 1;
                    return Err(self.error());
                }
            }
        }
        Ok(fields)
    }

    /// After `[`: an index, a slice, `*` or fields, then `]`.
    fn bracket(&mut self) -> Result<Path, String> {
        let path = match self.next() {
            Some(Token::Char('*')) => Path::Slice(None, None),
            Some(Token::Id(id)) => Path::Fields(self.fields(id)?),
            Some(Token::Number(n)) if self.peek() == Some(&Token::Char(':')) => {
                self.at += 1;
                Path::Slice(Some(n), self.maybe_number())
            }
            Some(Token::Number(n)) => Path::Index(n),
            Some(Token::Char(':')) => Path::Slice(None, self.maybe_number()),
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.error());
            }
        };
        self.expect(']')?;
        Ok(path)
    }

    fn maybe_number(&mut self) -> Option<i64> {
        match self.peek() {
            Some(Token::Number(n)) => {
                let n = *n;
                self.at += 1;
                Some(n)
            }
            _ => None,
        }
    }
}

fn matches(path: &Path, value: &Value, root: &Value) -> Vec<Value> {
    match path {
        Path::Root => vec![root.clone()],
        Path::This => vec![value.clone()],
        Path::Fields(fields) => {
            let Value::Object(map) = value else {
                return Vec::new();
            };
            if fields.iter().any(|field| field == "*") {
                return map.values().cloned().collect();
            }
            fields
                .iter()
                .filter_map(|field| map.get(field).cloned())
                .collect()
        }
        Path::Index(index) => {
            let at = |len: usize| {
                let at = if *index < 0 {
                    len as i64 + index
                } else {
                    *index
                };
                usize::try_from(at).ok().filter(|at| *at < len)
            };
            match value {
                Value::Array(items) => at(items.len())
                    .map(|at| items[at].clone())
                    .into_iter()
                    .collect(),
                // jsonpath-rw indexes whatever has a length: a string gives a character.
                Value::String(text) => {
                    let chars: Vec<char> = text.chars().collect();
                    at(chars.len())
                        .map(|at| Value::String(chars[at].to_string()))
                        .into_iter()
                        .collect()
                }
                _ => Vec::new(),
            }
        }
        Path::Slice(start, end) => {
            let items: Vec<Value> = match value {
                Value::Array(items) => items.clone(),
                // jsonpath-rw wraps an object, an integer (a boolean is one in Python) or a
                // string in a one-item list first.
                Value::Object(_) | Value::String(_) | Value::Bool(_) => vec![value.clone()],
                Value::Number(number) if !number.is_f64() => vec![value.clone()],
                _ => Vec::new(),
            };
            let (from, to) = python_slice(items.len(), *start, *end);
            items[from..to].to_vec()
        }
        Path::Child(left, right) => matches(left, value, root)
            .iter()
            .flat_map(|item| matches(right, item, root))
            .collect(),
        Path::Where(left, right) => matches(left, value, root)
            .into_iter()
            .filter(|item| !matches(right, item, root).is_empty())
            .collect(),
        Path::Union(left, right) => {
            let mut found = matches(left, value, root);
            found.extend(matches(right, value, root));
            found
        }
        Path::Descendants(left, right) => matches(left, value, root)
            .iter()
            .flat_map(|item| descend(right, item, root))
            .collect(),
    }
}

/// Python's `range(len)[start:end]` bounds.
fn python_slice(len: usize, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let len = len as i64;
    let bound = |b: Option<i64>, default: i64| match b {
        None => default,
        Some(b) if b < 0 => (len + b).max(0),
        Some(b) => b.min(len),
    };
    let (from, to) = (bound(start, 0), bound(end, len));
    if from >= to {
        (0, 0)
    } else {
        (from as usize, to as usize)
    }
}

fn descend(right: &Path, value: &Value, root: &Value) -> Vec<Value> {
    let mut found = matches(right, value, root);
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|item| found.extend(descend(right, item, root))),
        Value::Object(map) => map
            .values()
            .for_each(|item| found.extend(descend(right, item, root))),
        _ => {}
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn people() -> Value {
        json!({
            "people": [
                {"first": "James", "last": "d"},
                {"first": "Jacob", "last": "e"},
                {"first": "Jayden", "last": "f"},
                {"missing": "different"},
            ],
            "foo": {"bar": "baz"},
        })
    }

    #[test]
    fn queries_as_jsonpath_rw() {
        let data = people();
        assert_eq!(
            find(&data, "people[*].first").unwrap(),
            [json!("James"), json!("Jacob"), json!("Jayden")]
        );
        assert_eq!(find(&data, "$.foo.bar").unwrap(), [json!("baz")]);
        assert_eq!(find(&data, "people[1].last").unwrap(), [json!("e")]);
        assert_eq!(
            find(&data, "people[-1].missing").unwrap(),
            [json!("different")]
        );
        assert_eq!(
            find(&data, "people[1:3].first").unwrap(),
            [json!("Jacob"), json!("Jayden")]
        );
        assert_eq!(find(&data, "$..bar").unwrap(), [json!("baz")]);
        assert_eq!(find(&data, "foo[*].bar").unwrap(), [json!("baz")]);
        assert_eq!(
            find(&data, "people[*] where missing").unwrap(),
            [json!({"missing": "different"})]
        );
        assert_eq!(find(&data, "foo.bar|foo").unwrap(), [json!("baz")]);
        assert_eq!(find(&data, "(foo.bar)|foo").unwrap().len(), 2);
        assert_eq!(find(&json!({"s": "str"}), "s[0]").unwrap(), [json!("s")]);
        assert_eq!(find(&data, "'foo'.\"bar\"").unwrap(), [json!("baz")]);
        assert!(find(&data, "query_returns_no_results").unwrap().is_empty());
        assert!(find(&data, "people[").is_err());
        assert!(find(&data, "people#").is_err());
    }
}

//! The expression tree and the parser: yaql 3.2.0's grammar (`yaql/language/parser.py`) for
//! the subset of `../shared/spec/workflows.md` §3.3, as precedence climbing over the
//! operator table of `yaql/language/factory.py` (every binary operator left-associative).

use serde_json::Value;

use super::lexer::{tokenize, Token, TokenKind};
use super::Error;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number, a quoted string, a bare word (a string), `true`, `false` or `null`.
    Literal(Value),
    /// `$` (empty name) or `$name`.
    Variable(String),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `{k => v, ...}`.
    Map(Vec<(Expr, Expr)>),
    /// `name(args)`.
    Call(String, Vec<Arg>),
    /// `target.name(args)`; `null_safe` for `?.`.
    Method {
        /// The receiver.
        target: Box<Expr>,
        /// The method's name.
        name: String,
        /// Its arguments.
        args: Vec<Arg>,
        /// Written `?.`: null when the receiver is null.
        null_safe: bool,
    },
    /// `target.name`; `null_safe` for `?.`.
    Attribute {
        /// The value whose attribute is read.
        target: Box<Expr>,
        /// The attribute (map key).
        name: String,
        /// Written `?.`: null when the target is null.
        null_safe: bool,
    },
    /// `target[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// A prefix operator: `-`, `+`, `not`.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// A function or method argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `expr`.
    Positional(Expr),
    /// `name => expr`.
    Named(String, Expr),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`.
    Minus,
    /// `+x`.
    Plus,
    /// `not x`.
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `=~`: the left string matches the right regular expression.
    Matches,
    /// `!~`.
    NotMatches,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `mod`.
    Mod,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `in`.
    In,
    /// `and`.
    And,
    /// `or`.
    Or,
}

impl BinaryOp {
    /// The operator's symbol or word.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Matches => "=~",
            BinaryOp::NotMatches => "!~",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "mod",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::In => "in",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

// Binding powers, loosest first: the spec's levels 8 (or) to 2 (unary); `.` and `[]` bind
// tightest of all and are handled as postfix operators.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const COMPARE: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const MATCH: u8 = 7;
const UNARY: u8 = 8;

fn binary(symbol: &str) -> Option<(BinaryOp, u8)> {
    Some(match symbol {
        "or" => (BinaryOp::Or, OR),
        "and" => (BinaryOp::And, AND),
        "<" => (BinaryOp::Lt, COMPARE),
        ">" => (BinaryOp::Gt, COMPARE),
        "<=" => (BinaryOp::Le, COMPARE),
        ">=" => (BinaryOp::Ge, COMPARE),
        "=" => (BinaryOp::Eq, COMPARE),
        "!=" => (BinaryOp::Ne, COMPARE),
        "in" => (BinaryOp::In, COMPARE),
        "+" => (BinaryOp::Add, ADD),
        "-" => (BinaryOp::Sub, ADD),
        "*" => (BinaryOp::Mul, MUL),
        "/" => (BinaryOp::Div, MUL),
        "mod" => (BinaryOp::Mod, MUL),
        "=~" => (BinaryOp::Matches, MATCH),
        "!~" => (BinaryOp::NotMatches, MATCH),
        _ => return None,
    })
}

/// Parse one expression (the text between `<%` and `%>`, delimiters stripped).
pub fn parse(text: &str) -> Result<Expr, Error> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(Error::new(
            "YaqlGrammarException",
            "Parse error: unexpected end of statement".to_string(),
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        text,
    };
    let expr = parser.expr(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(parser.unexpected(&token.clone())),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, Error> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| self.end())?;
        self.at += 1;
        Ok(token)
    }

    fn peek_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Symbol(s), .. }) if *s == symbol)
    }

    fn expect(&mut self, symbol: &str) -> Result<(), Error> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Symbol(s) if s == symbol => Ok(()),
            _ => Err(self.unexpected(&token)),
        }
    }

    fn unexpected(&self, token: &Token) -> Error {
        Error::new(
            "YaqlGrammarException",
            format!(
                "Parse error: unexpected '{}' at position {} of expression '{}'",
                token.text, token.position, self.text
            ),
        )
    }

    fn end(&self) -> Error {
        Error::new(
            "YaqlGrammarException",
            format!(
                "Parse error: unexpected end of statement in expression '{}'",
                self.text
            ),
        )
    }

    /// An expression whose binary operators all bind at least as tightly as `min`.
    fn expr(&mut self, min: u8) -> Result<Expr, Error> {
        let mut left = self.prefix()?;
        while let Some(token) = self.peek().cloned() {
            let TokenKind::Symbol(symbol) = token.kind else {
                break;
            };
            match symbol {
                "." | "?." => {
                    self.at += 1;
                    left = self.member(left, symbol == "?.")?;
                }
                "[" => {
                    self.at += 1;
                    let index = self.expr(0)?;
                    self.expect("]")?;
                    left = Expr::Index(Box::new(left), Box::new(index));
                }
                _ => {
                    let Some((op, power)) = binary(symbol) else {
                        break;
                    };
                    if power < min {
                        break;
                    }
                    self.at += 1;
                    let right = self.expr(power + 1)?;
                    left = Expr::Binary(op, Box::new(left), Box::new(right));
                }
            }
        }
        Ok(left)
    }

    /// What follows `.`: a method call or an attribute.
    fn member(&mut self, target: Expr, null_safe: bool) -> Result<Expr, Error> {
        let token = self.next()?;
        let target = Box::new(target);
        match token.kind {
            TokenKind::Func(name) => Ok(Expr::Method {
                target,
                name,
                args: self.args(")")?,
                null_safe,
            }),
            TokenKind::Word(name) => Ok(Expr::Attribute {
                target,
                name,
                null_safe,
            }),
            _ => Err(self.unexpected(&token)),
        }
    }

    fn prefix(&mut self) -> Result<Expr, Error> {
        let token = self.next()?;
        Ok(match token.kind {
            TokenKind::Int(n) => Expr::Literal(Value::from(n)),
            TokenKind::Float(f) => Expr::Literal(Value::from(f)),
            TokenKind::Quoted(text) | TokenKind::Word(text) => Expr::Literal(Value::String(text)),
            TokenKind::True => Expr::Literal(Value::Bool(true)),
            TokenKind::False => Expr::Literal(Value::Bool(false)),
            TokenKind::Null => Expr::Literal(Value::Null),
            TokenKind::Dollar(name) => Expr::Variable(name),
            TokenKind::Func(name) => Expr::Call(name, self.args(")")?),
            TokenKind::Symbol("(") => {
                let inner = self.expr(0)?;
                self.expect(")")?;
                inner
            }
            TokenKind::Symbol("[") => {
                let mut items = Vec::new();
                for arg in self.args("]")? {
                    match arg {
                        Arg::Positional(expr) => items.push(expr),
                        Arg::Named(..) => return Err(self.unexpected(&token)),
                    }
                }
                Expr::List(items)
            }
            TokenKind::Symbol("{") => Expr::Map(self.pairs()?),
            TokenKind::Symbol("-") => Expr::Unary(UnaryOp::Minus, Box::new(self.expr(UNARY)?)),
            TokenKind::Symbol("+") => Expr::Unary(UnaryOp::Plus, Box::new(self.expr(UNARY)?)),
            TokenKind::Symbol("not") => Expr::Unary(UnaryOp::Not, Box::new(self.expr(NOT)?)),
            _ => return Err(self.unexpected(&token)),
        })
    }

    /// Arguments up to `close`: `expr` or `name => expr`, separated by commas.
    fn args(&mut self, close: &str) -> Result<Vec<Arg>, Error> {
        let mut args = Vec::new();
        if self.peek_symbol(close) {
            self.at += 1;
            return Ok(args);
        }
        loop {
            let named = match (self.tokens.get(self.at), self.tokens.get(self.at + 1)) {
                (
                    Some(Token {
                        kind: TokenKind::Word(name),
                        ..
                    }),
                    Some(Token {
                        kind: TokenKind::Symbol("=>"),
                        ..
                    }),
                ) => Some(name.clone()),
                _ => None,
            };
            if let Some(name) = named {
                self.at += 2;
                args.push(Arg::Named(name, self.expr(0)?));
            } else {
                args.push(Arg::Positional(self.expr(0)?));
            }
            let token = self.next()?;
            match token.kind {
                TokenKind::Symbol(",") => continue,
                TokenKind::Symbol(s) if s == close => return Ok(args),
                _ => return Err(self.unexpected(&token)),
            }
        }
    }

    /// `k => v` pairs up to `}`.
    fn pairs(&mut self) -> Result<Vec<(Expr, Expr)>, Error> {
        let mut pairs = Vec::new();
        if self.peek_symbol("}") {
            self.at += 1;
            return Ok(pairs);
        }
        loop {
            let key = self.expr(0)?;
            self.expect("=>")?;
            pairs.push((key, self.expr(0)?));
            let token = self.next()?;
            match token.kind {
                TokenKind::Symbol(",") => continue,
                TokenKind::Symbol("}") => return Ok(pairs),
                _ => return Err(self.unexpected(&token)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree written back with every operation in parentheses.
    fn shape(expr: &Expr) -> String {
        match expr {
            Expr::Literal(Value::String(s)) => s.clone(),
            Expr::Literal(v) => v.to_string(),
            Expr::Variable(name) => format!("${name}"),
            Expr::List(items) => format!(
                "[{}]",
                items.iter().map(shape).collect::<Vec<_>>().join(", ")
            ),
            Expr::Map(pairs) => format!(
                "{{{}}}",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{} => {}", shape(k), shape(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Expr::Call(name, args) => format!("{name}({})", args_shape(args)),
            Expr::Method {
                target, name, args, ..
            } => format!("{}.{name}({})", shape(target), args_shape(args)),
            Expr::Attribute { target, name, .. } => format!("{}.{name}", shape(target)),
            Expr::Index(target, index) => format!("{}[{}]", shape(target), shape(index)),
            Expr::Unary(op, operand) => {
                let op = match op {
                    UnaryOp::Minus => "-",
                    UnaryOp::Plus => "+",
                    UnaryOp::Not => "not ",
                };
                format!("({op}{})", shape(operand))
            }
            Expr::Binary(op, left, right) => {
                format!("({} {} {})", shape(left), op.symbol(), shape(right))
            }
        }
    }

    fn args_shape(args: &[Arg]) -> String {
        args.iter()
            .map(|arg| match arg {
                Arg::Positional(e) => shape(e),
                Arg::Named(n, e) => format!("{n} => {}", shape(e)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn parsed(text: &str) -> String {
        shape(&parse(text).unwrap())
    }

    #[test]
    fn precedence_levels() {
        assert_eq!(parsed("not a in b"), "(not (a in b))");
        assert_eq!(parsed("a and not b or c"), "((a and (not b)) or c)");
        assert_eq!(parsed("-7 / 2"), "((-7) / 2)");
        assert_eq!(parsed("1 + 2 * 3 - 4"), "((1 + (2 * 3)) - 4)");
        assert_eq!(parsed("a = b and c != d"), "((a = b) and (c != d))");
        assert_eq!(parsed("a < b = c"), "((a < b) = c)");
        assert_eq!(parsed("-a.b"), "(-a.b)");
        assert_eq!(parsed("a or b and c"), "(a or (b and c))");
        assert_eq!(parsed("x =~ y * 2"), "((x =~ y) * 2)");
        assert_eq!(parsed("a = not b and c"), "((a = (not b)) and c)");
        assert_eq!(parsed("5 mod 3 + 1"), "((5 mod 3) + 1)");
    }

    #[test]
    fn left_associative() {
        assert_eq!(parsed("1 - 2 - 3"), "((1 - 2) - 3)");
        assert_eq!(parsed("8 / 4 / 2"), "((8 / 4) / 2)");
        assert_eq!(parsed("a = b = c"), "((a = b) = c)");
        assert_eq!(parsed("a or b or c"), "((a or b) or c)");
    }

    #[test]
    fn postfix_calls_and_literals() {
        assert_eq!(parsed("ctx().a.b[0].get(x, 1)"), "ctx().a.b[0].get(x, 1)");
        assert_eq!(
            parsed("dict(a => 1, b => [1, 'x'])"),
            "dict(a => 1, b => [1, x])"
        );
        assert_eq!(parsed("{a => 1, 'b' => $}"), "{a => 1, b => $}");
        assert_eq!(parsed("$.x ?.y"), "$.x.y");
        assert_eq!(parsed("(1 + 2) * 3"), "((1 + 2) * 3)");
        assert_eq!(parsed("[]"), "[]");
        assert_eq!(parsed("{}"), "{}");
        assert_eq!(parsed("f()"), "f()");
    }

    #[test]
    fn errors_are_one_line_with_the_position() {
        assert_eq!(
            parse("len (1)").unwrap_err().message,
            "Parse error: unexpected '(' at position 4 of expression 'len (1)'"
        );
        assert_eq!(
            parse("1 +").unwrap_err().message,
            "Parse error: unexpected end of statement in expression '1 +'"
        );
        assert!(parse("").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("f(1,)").is_err());
        assert!(parse("[a => 1]").is_err());
        assert!(parse("{a}").is_err());
        assert!(parse("x.1").is_err());
    }
}

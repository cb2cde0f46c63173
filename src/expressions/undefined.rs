//! Jinja2's words for an undefined value (`StrictUndefined`): minijinja only says
//! "undefined value", StackStorm users read `'dict object' has no attribute 'lorem_ipsum'`.
//! [`explain`] finds, in a template that failed on an undefined value, the first variable
//! path (`a.b[0]['c']`) that does not resolve in the context, and words it as Jinja2 does.

use serde_json::{Map, Value};

/// One step of a variable path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Attribute(String),
    Key(String),
    Index(i64),
}

/// Jinja2's message for the first path of `template` that is undefined in `variables`
/// (names in `ignore` are left alone: objects that resolve every path, like `st2kv`).
pub fn explain(template: &str, variables: &Map<String, Value>, ignore: &[&str]) -> Option<String> {
    for (root, steps) in paths(template) {
        if ignore.contains(&root.as_str()) {
            continue;
        }
        let Some(mut current) = variables.get(&root) else {
            return Some(format!("'{root}' is undefined"));
        };
        for step in steps {
            let next = match (&step, current) {
                (Step::Attribute(name) | Step::Key(name), Value::Object(map)) => map.get(name),
                (Step::Index(index), Value::Array(items)) => usize::try_from(*index)
                    .ok()
                    .or_else(|| usize::try_from(items.len() as i64 + index).ok())
                    .and_then(|at| items.get(at)),
                (Step::Index(index), Value::String(text)) => {
                    if usize::try_from(*index).is_ok_and(|at| at < text.chars().count()) {
                        break;
                    }
                    None
                }
                _ => None,
            };
            match next {
                Some(value) => current = value,
                None => {
                    let kind = type_name(current);
                    return Some(match step {
                        Step::Index(index) => format!("{kind} has no element {index}"),
                        Step::Attribute(name) | Step::Key(name) => format!(
                            "'{kind}' has no attribute {}",
                            crate::schema::repr::py_str_repr(&name)
                        ),
                    });
                }
            }
        }
    }
    None
}

/// `jinja2.utils.object_type_repr`.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "bool object",
        Value::Number(number) if number.is_f64() => "float object",
        Value::Number(_) => "int object",
        Value::String(_) => "str object",
        Value::Array(_) => "list object",
        Value::Object(_) => "dict object",
    }
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "endif",
    "for",
    "endfor",
    "set",
    "endset",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "recursive",
    "with",
    "endwith",
    "macro",
    "endmacro",
    "call",
    "endcall",
    "filter",
    "endfilter",
    "block",
    "endblock",
    "raw",
    "endraw",
    "include",
    "import",
    "from",
    "as",
    "extends",
];

/// Every variable path in the expressions and statements of `template`, in order.
fn paths(template: &str) -> Vec<(String, Vec<Step>)> {
    let mut found = Vec::new();
    let mut defined: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[start + 1..];
            continue;
        };
        let body_start = start + 2;
        let Some(length) = rest[body_start..].find(close) else {
            break;
        };
        let body = &rest[body_start..body_start + length];
        scan(body, &mut found, &mut defined);
        rest = &rest[body_start + length + 2..];
    }
    found
}

fn scan(body: &str, found: &mut Vec<(String, Vec<Step>)>, defined: &mut Vec<String>) {
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut previous = ' ';
    let mut first_word = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i = skip_string(&chars, i);
            previous = c;
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            previous = '0';
            continue;
        }
        if !(c.is_alphabetic() || c == '_') {
            if !c.is_whitespace() {
                previous = c;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let is_first = first_word;
        first_word = false;
        if is_first && matches!(word.as_str(), "set" | "for") {
            i += defined_names(&word, &chars[i..], defined);
            previous = ' ';
            continue;
        }
        let next_non_space = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
        let skip = previous == '.'
            || previous == '|'
            || KEYWORDS.contains(&word.as_str())
            || next_non_space == Some('(')
            || next_non_space == Some('=')
                && chars[i..].iter().skip_while(|c| c.is_whitespace()).nth(1) != Some(&'=')
            || defined.contains(&word)
            || preceded_by_is(&chars, start);
        let (steps, end) = steps_after(&chars, i);
        i = end;
        if !skip {
            found.push((word, steps));
        }
        previous = 'a';
    }
}

/// The names a `set` or `for` statement defines: up to ` in ` (for) or `=` (set) in `tail`
/// (what follows the keyword). Returns how many characters they take.
fn defined_names(keyword: &str, tail: &[char], defined: &mut Vec<String>) -> usize {
    let tail: String = tail.iter().collect();
    let cut = if keyword == "for" {
        tail.find(" in ")
    } else {
        tail.find('=')
    };
    let Some(cut) = cut else {
        return 0;
    };
    defined.extend(
        tail[..cut]
            .split(',')
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty()),
    );
    tail[..cut].chars().count()
}

/// The attribute and index steps after a name that ends at `i` (`.a`, `.0`, `['a']`, `[0]`),
/// up to a method call or anything else; and where they end.
fn steps_after(chars: &[char], mut i: usize) -> (Vec<Step>, usize) {
    let mut steps = Vec::new();
    loop {
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        match chars.get(j) {
            Some('.')
                if chars
                    .get(j + 1)
                    .is_some_and(|c| c.is_alphabetic() || *c == '_') =>
            {
                let name_start = j + 1;
                let mut k = name_start;
                while k < chars.len() && (chars[k].is_alphanumeric() || chars[k] == '_') {
                    k += 1;
                }
                if chars[k..].iter().find(|c| !c.is_whitespace()) == Some(&'(') {
                    break;
                }
                steps.push(Step::Attribute(chars[name_start..k].iter().collect()));
                i = k;
            }
            Some('.') if chars.get(j + 1).is_some_and(char::is_ascii_digit) => {
                let mut k = j + 1;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                let digits: String = chars[j + 1..k].iter().collect();
                steps.push(Step::Index(digits.parse().unwrap_or(0)));
                i = k;
            }
            Some('[') => {
                let Some((step, end)) = subscript(chars, j + 1) else {
                    break;
                };
                steps.push(step);
                i = end;
            }
            _ => break,
        }
    }
    (steps, i)
}

fn preceded_by_is(chars: &[char], start: usize) -> bool {
    let before: String = chars[..start].iter().collect();
    let trimmed = before.trim_end();
    trimmed.ends_with(" is") || trimmed.ends_with(" is not")
}

/// A literal subscript `[3]`, `[-1]`, `['k']`, `["k"]` starting after `[`; its step and
/// where it ends.
fn subscript(chars: &[char], at: usize) -> Option<(Step, usize)> {
    let mut i = at;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let step = match chars.get(i)? {
        '\'' | '"' => {
            let end = skip_string(chars, i);
            let text: String = chars[i + 1..end.saturating_sub(1)].iter().collect();
            i = end;
            Step::Key(text)
        }
        c if c.is_ascii_digit() || *c == '-' => {
            let start = i;
            i += 1;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            Step::Index(digits.parse().ok()?)
        }
        _ => return None,
    };
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    (chars.get(i) == Some(&']')).then_some((step, i + 1))
}

fn skip_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let mut i = at + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn explain_with(template: &str, variables: Value) -> Option<String> {
        explain(template, variables.as_object().unwrap(), &["st2kv"])
    }

    #[test]
    fn words_undefined_values_as_jinja2() {
        let context =
            json!({"action_context": {"api_user": "noob"}, "a2": "test", "l": [1], "n": null});
        assert_eq!(
            explain_with("{{action_context.lorem_ipsum}}", context.clone()).unwrap(),
            "'dict object' has no attribute 'lorem_ipsum'"
        );
        assert_eq!(
            explain_with("x {{ a2.foo }}", context.clone()).unwrap(),
            "'str object' has no attribute 'foo'"
        );
        assert_eq!(
            explain_with("{{ l[5] }}", context.clone()).unwrap(),
            "list object has no element 5"
        );
        assert_eq!(
            explain_with(
                "{{ action_context['x'] | default('y') }}{{ n.z }}",
                context.clone()
            )
            .unwrap(),
            "'dict object' has no attribute 'x'"
        );
        assert_eq!(
            explain_with("{{ n.z }}", context.clone()).unwrap(),
            "'None' has no attribute 'z'"
        );
        assert_eq!(
            explain_with(
                "{% for i in l %}{{ i }}{% endfor %}{{ st2kv.system.x }}{{ nope }}",
                context.clone()
            )
            .unwrap(),
            "'nope' is undefined"
        );
        assert_eq!(explain_with("{{ a2 | upper }}{{ l[0] }}", context), None);
    }
}

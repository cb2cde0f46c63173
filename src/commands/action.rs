//! `st2 action list/get/execute`, and the help of one action (`st2 run ACTION -h`).

use serde_json::{json, Map, Value};

use crate::action::ActionError;
use crate::cli::ActionCommand;
use crate::commands::{Context, ExitStatus};
use crate::ops::actions::ActionView;
use crate::output::cell;
use crate::schema::validator::truthy;

/// Run an `st2 action` subcommand.
pub(crate) fn run(command: ActionCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        ActionCommand::List { pack } => {
            let actions = context.backend().action_list(pack.as_deref())?;
            if context.printer.is_data() {
                let list: Vec<Value> = actions.iter().map(to_json).collect();
                context.printer.data(&list);
                return Ok(ExitStatus::Success);
            }
            if actions.is_empty() {
                context.printer.info(&match pack {
                    Some(pack) => format!("Pack \"{pack}\" has no registered actions."),
                    None => "No actions.".into(),
                });
                return Ok(ExitStatus::Success);
            }
            let rows = actions
                .iter()
                .map(|action| {
                    vec![
                        action.action_ref.clone(),
                        action.pack.clone(),
                        action.runner_type.clone(),
                        action.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            context
                .printer
                .table(&["ref", "pack", "runner_type", "description"], rows);
            Ok(ExitStatus::Success)
        }
        ActionCommand::Get { action_ref } => {
            let action = context.backend().action_get(&action_ref)?;
            let object = to_json(&action);
            if context.printer.is_data() {
                context.printer.data(&object);
                return Ok(ExitStatus::Success);
            }
            let rows = object
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| {
                    let text = match value {
                        Value::Object(map) if !map.is_empty() => {
                            crate::yaml::to_string(value).trim_end().to_string()
                        }
                        _ => cell(value),
                    };
                    (key.clone(), text)
                })
                .collect();
            context.printer.properties(rows);
            Ok(ExitStatus::Success)
        }
        ActionCommand::Execute(args) => {
            crate::commands::run::run(&args, &["action", "execute"], context)
        }
    }
}

/// An action as `-j` prints it: what registration stored, with the effective parameters.
fn to_json(action: &ActionView) -> Value {
    json!({
        "ref": action.action_ref,
        "pack": action.pack,
        "name": action.name,
        "description": action.description,
        "runner_type": action.runner_type,
        "entry_point": action.entry_point,
        "enabled": action.enabled,
        "parameters": Value::Object(action.parameters.clone()),
        "metadata_file": action.metadata_file,
        "builtin": action.builtin,
        "supported": action.supported,
        "native": action.native,
    })
}

/// `st2 run ACTION -h`: the action's description and its parameters, required ones first, as
/// st2client's `_print_help` prints them (`st2client/commands/action.py`): name, then
/// description, type, enum and default, wrapped at 78 columns; immutable parameters left
/// out. An action that does not exist is a usage error here (exit 2); upstream prints a
/// message and exits 0.
pub(crate) fn help(action_ref: &str, context: &Context) -> anyhow::Result<ExitStatus> {
    match context.backend().action_get(action_ref) {
        Ok(action) => {
            context.printer.stdout(&help_text(&action));
            Ok(ExitStatus::Success)
        }
        Err(err) => match err.downcast_ref::<ActionError>() {
            Some(ActionError::NotFound { .. } | ActionError::BadRef(_)) => {
                context.printer.error(&err.to_string());
                Ok(ExitStatus::Usage)
            }
            _ => Err(err),
        },
    }
}

/// The text of [`help`].
///
/// Where we differ on purpose: a parameter the action overrides shows the runner's schema
/// merged with the action's (what the run uses; upstream shows only the action's override,
/// without its type); parameters with a `position` come before the others (upstream sorts
/// positions and names together, which Python 3 refuses with a `TypeError` that it prints as
/// `ERROR: Unable to print help`); enum and default values print as Python's `str()`.
fn help_text(action: &ActionView) -> String {
    let runner = &action.runner_parameters;
    let own = &action.action_parameters;
    let parameters = &action.parameters;
    let flag = |schemas: &Map<String, Value>, name: &str, key: &str| {
        schemas
            .get(name)
            .and_then(|schema| schema.get(key))
            .is_some_and(truthy)
    };
    let mut required = Vec::new();
    let mut optional = Vec::new();
    for (name, schema) in parameters {
        if flag(runner, name, "immutable") || flag(own, name, "immutable") {
            continue;
        }
        if schema.get("required").is_some_and(truthy) {
            required.push(name.as_str());
        } else {
            optional.push(name.as_str());
        }
    }
    let order = |name: &&str| {
        let position = parameters[*name].get("position").and_then(Value::as_f64);
        (
            position.is_none(),
            position.unwrap_or(0.0),
            name.to_string(),
        )
    };
    let sort = |names: &mut Vec<&str>| {
        names.sort_by(|a, b| {
            let (a, b) = (order(a), order(b));
            a.0.cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then_with(|| a.2.cmp(&b.2))
        })
    };
    sort(&mut required);
    sort(&mut optional);

    let mut out = String::from("\n");
    out.push_str(&fill(
        action.description.as_deref().unwrap_or_default(),
        70,
        "",
        "",
    ));
    out.push_str("\n\n");
    for (title, names) in [
        ("Required Parameters:", &required),
        ("Optional Parameters:", &optional),
    ] {
        if names.is_empty() {
            continue;
        }
        out.push_str(title);
        out.push('\n');
        for name in names {
            out.push_str(&parameter_help(name, &parameters[*name]));
        }
    }
    out
}

/// One parameter, as upstream's `_print_param`.
fn parameter_help(name: &str, schema: &Value) -> String {
    let (name_indent, indent) = ("    ", "        ");
    let mut out = fill(name, 78, name_indent, name_indent);
    out.push('\n');
    let mut line = |text: String| {
        out.push_str(&fill(&text, 78, indent, indent));
        out.push('\n');
    };
    if let Some(description) = schema.get("description").filter(|d| truthy(d)) {
        line(python_str(description));
    }
    if let Some(kind) = schema.get("type").filter(|t| truthy(t)) {
        line(format!("Type: {}", python_str(kind)));
    }
    if let Some(Value::Array(values)) = schema.get("enum").filter(|e| truthy(e)) {
        let values: Vec<String> = values.iter().map(python_str).collect();
        line(format!("Enum: {}", values.join(", ")));
    }
    if let Some(default) = schema.get("default").filter(|d| !d.is_null()) {
        line(format!("Default: {}", python_str(default)));
    }
    out.push('\n');
    out
}

/// Python's `str()` of a value.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => crate::schema::repr::py_repr(other),
    }
}

/// Python's `textwrap.TextWrapper(width, initial_indent, subsequent_indent).fill(text)` with
/// its other defaults: tabs expanded and whitespace made spaces, words split after hyphens,
/// words longer than a line broken, whitespace dropped at line ends.
fn fill(text: &str, width: usize, initial_indent: &str, subsequent_indent: &str) -> String {
    let text: String = expand_tabs(text)
        .chars()
        .map(|c| if WHITESPACE.contains(c) { ' ' } else { c })
        .collect();
    let mut chunks: Vec<Vec<char>> = split_chunks(&text.chars().collect::<Vec<_>>());
    chunks.reverse();
    let blank = |chunk: &[char]| chunk.iter().all(|c| c.is_whitespace());
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<Vec<char>> = Vec::new();
        let mut length = 0;
        let indent = if lines.is_empty() {
            initial_indent
        } else {
            subsequent_indent
        };
        let width = width.saturating_sub(indent.chars().count());
        if !lines.is_empty() && chunks.last().is_some_and(|chunk| blank(chunk)) {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            if length + chunk.len() > width {
                break;
            }
            length += chunk.len();
            line.push(chunks.pop().expect("looked at above"));
        }
        if chunks.last().is_some_and(|chunk| chunk.len() > width) {
            // _handle_long_word: break it, after its last hyphen that fits when there is one.
            let space_left = if width < 1 { 1 } else { width - length };
            let chunk = chunks.last_mut().expect("looked at above");
            let mut end = space_left;
            if chunk.len() > space_left {
                let hyphen = chunk[..space_left].iter().rposition(|c| *c == '-');
                if let Some(hyphen) = hyphen.filter(|&h| h > 0) {
                    if chunk[..hyphen].iter().any(|c| *c != '-') {
                        end = hyphen + 1;
                    }
                }
            }
            let rest = chunk.split_off(end.min(chunk.len()));
            line.push(std::mem::replace(chunk, rest));
        }
        if line.last().is_some_and(|chunk| blank(chunk)) {
            line.pop();
        }
        if !line.is_empty() {
            let text: String = line.iter().flatten().collect();
            lines.push(format!("{indent}{text}"));
        }
    }
    lines.join("\n")
}

/// textwrap's `_whitespace`.
const WHITESPACE: &str = "\t\n\u{b}\u{c}\r ";

/// `str.expandtabs()`: tabs to the next multiple of 8 columns.
fn expand_tabs(text: &str) -> String {
    let mut out = String::new();
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// textwrap's `wordsep_re` split: runs of spaces, words, words cut after a hyphen between
/// letters (`well-known` is `well-`, `known`), and em-dashes (`--`) between words.
fn split_chunks(text: &[char]) -> Vec<Vec<char>> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let letter = |c: char| word(c) && !c.is_numeric();
    let word_punct = |c: char| word(c) || "!\"'&.,?".contains(c);
    let at = |i: usize| text.get(i).copied();
    let space = |i: usize| at(i).is_some_and(|c| c == ' ');
    // `-{2,}\w` starting at i.
    let em_dash = |i: usize| {
        let dashes = text[i.min(text.len())..]
            .iter()
            .take_while(|c| **c == '-')
            .count();
        dashes >= 2 && at(i + dashes).is_some_and(word)
    };
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = if space(start) {
            let mut end = start;
            while space(end) {
                end += 1;
            }
            end
        } else if start > 0 && word_punct(text[start - 1]) && em_dash(start) {
            let mut end = start;
            while at(end) == Some('-') {
                end += 1;
            }
            end
        } else {
            let mut end = start + 1;
            loop {
                // A hyphen that ends this piece of a hyphenated word.
                let hyphenated = at(end) == Some('-')
                    && ((end >= 2 && letter(text[end - 2]) && letter(text[end - 1]))
                        || (end >= 3
                            && letter(text[end - 3])
                            && text[end - 2] == '-'
                            && letter(text[end - 1])))
                    && at(end + 1).is_some_and(letter)
                    && (at(end + 2).is_some_and(letter)
                        || (at(end + 2) == Some('-') && at(end + 3).is_some_and(letter)));
                if hyphenated {
                    break end + 1;
                }
                if end >= text.len() || space(end) {
                    break end;
                }
                if word_punct(text[end - 1]) && em_dash(end) {
                    break end;
                }
                end += 1;
            }
        };
        chunks.push(text[start..end].to_vec());
        start = end;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are Python 3.11's `textwrap.fill` of the same text.
    #[test]
    fn fill_wraps_as_python_textwrap() {
        let text = "Action that executes an arbitrary Linux command on the localhost and \
                    waits for a well-known result-set, then reports it -- or fails.";
        assert_eq!(
            fill(text, 70, "", ""),
            "Action that executes an arbitrary Linux command on the localhost and\n\
             waits for a well-known result-set, then reports it -- or fails."
        );
        assert_eq!(
            fill("Environment variables which will be available to the command(e.g. key1=val1,key2=val2)", 78, "        ", "        "),
            "        Environment variables which will be available to the command(e.g.\n        key1=val1,key2=val2)"
        );
        assert_eq!(
            fill("a-very-long-hyphenated-word-that-cannot-fit", 20, "", ""),
            "a-very-long-\nhyphenated-word-\nthat-cannot-fit"
        );
        assert_eq!(fill("x\ty\n\nz", 70, "", ""), "x       y  z");
        assert_eq!(fill("", 70, "", ""), "");
        assert_eq!(fill("   ", 70, "", ""), "");
        assert_eq!(
            fill("abcdefghijklmnopqrstuvwxyz", 10, "  ", "  "),
            "  abcdefgh\n  ijklmnop\n  qrstuvwx\n  yz"
        );
    }
}

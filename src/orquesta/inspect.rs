//! Upstream's inspection of a workflow before anything runs (`orquesta/specs/base.py:
//! inspect`, `specs/native/v1/models.py`, `st2common/services/workflows.py: inspect`;
//! `../shared/spec/workflows.md` §2.1): syntax, semantics (reserved names, start tasks,
//! undefined tasks, unreachable joins, action-less with-items), expressions (YAQL through
//! [`crate::yaql::parse`], Jinja through minijinja) and context (variables referenced before
//! they are assigned, walking the graph as `inspect_context` does). Each error is a JSON
//! entry `{type, message, spec_path, schema_path[, expression, language]}`; the runner adds
//! the st2 content checks (action refs, inputs), which need the store.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{json, Value};

use super::expr::{has_jinja, has_yaql, jinja_syntax_error};
use super::model::{WorkflowSpec, RESERVED_TASK_NAMES};
use crate::yaql::{self, Functions};

const TASK_SCHEMA: &str = "properties.tasks.patternProperties.^\\w+$";

/// yaql 3.2.0's standard library: a call to one of these that the subset lacks is refused at
/// inspection (**\[fix\]**: upstream runs it); other unknown names stay runtime errors.
pub const YAQL_STANDARD: &[&str] = &[
    "abs",
    "accumulate",
    "add",
    "aggregate",
    "all",
    "any",
    "append",
    "assert",
    "bitwiseAnd",
    "bitwiseNot",
    "bitwiseOr",
    "bitwiseXor",
    "bool",
    "call",
    "characters",
    "coalesce",
    "concat",
    "contains",
    "containsKey",
    "containsValue",
    "count",
    "cycle",
    "datetime",
    "def",
    "defaultIfEmpty",
    "delete",
    "deleteAll",
    "dict",
    "difference",
    "distinct",
    "endsWith",
    "enumerate",
    "escapeRegex",
    "examine",
    "filter",
    "first",
    "flatten",
    "float",
    "format",
    "generate",
    "generateMany",
    "get",
    "groupBy",
    "hex",
    "indexOf",
    "indexWhere",
    "insert",
    "insertMany",
    "int",
    "intersect",
    "isBoolean",
    "isDatetime",
    "isDict",
    "isEmpty",
    "isInteger",
    "isIterable",
    "isList",
    "isNumber",
    "isRegex",
    "isSet",
    "isString",
    "isTimespan",
    "items",
    "join",
    "keys",
    "last",
    "lastIndexOf",
    "lastIndexWhere",
    "len",
    "let",
    "limit",
    "list",
    "localtz",
    "map",
    "matches",
    "max",
    "memorize",
    "mergeWith",
    "min",
    "norm",
    "now",
    "orderBy",
    "orderByDescending",
    "pow",
    "random",
    "range",
    "reduce",
    "regex",
    "remove",
    "repeat",
    "replace",
    "replaceBy",
    "replaceMany",
    "reverse",
    "rightSplit",
    "round",
    "search",
    "searchAll",
    "select",
    "selectAllCases",
    "selectCase",
    "selectMany",
    "sequence",
    "set",
    "shiftBitsLeft",
    "shiftBitsRight",
    "sign",
    "single",
    "skip",
    "skipWhile",
    "slice",
    "sliceWhere",
    "split",
    "splitAt",
    "splitWhere",
    "startsWith",
    "str",
    "substring",
    "sum",
    "switch",
    "switchCase",
    "symmetricDifference",
    "take",
    "takeWhile",
    "thenBy",
    "thenByDescending",
    "timespan",
    "toCharArray",
    "toDict",
    "toList",
    "toLower",
    "toSet",
    "toUpper",
    "trim",
    "trimLeft",
    "trimRight",
    "union",
    "unpack",
    "utctz",
    "values",
    "where",
    "with",
    "zip",
    "zipLongest",
];

fn entry(kind: &str, message: String, spec_path: &str, schema_path: &str) -> Value {
    json!({"type": kind, "message": message, "spec_path": spec_path, "schema_path": schema_path})
}

/// Read and inspect a workflow document: the model, or every error upstream reports
/// (sorted by type and schema path, as st2 sorts them). `app_ctx` are the names the context
/// starts with (`st2`, `parent`); `functions` the engine's (for the unknown-function check).
pub fn inspect(
    raw: &Value,
    app_ctx: &[&str],
    functions: &Functions,
) -> Result<WorkflowSpec, Vec<Value>> {
    let (spec, errors) = inspect_all(raw, app_ctx, functions);
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// [`inspect`], answering the model read so far beside the errors (st2 adds its content
/// checks of the tasks to them).
pub fn inspect_all(
    raw: &Value,
    app_ctx: &[&str],
    functions: &Functions,
) -> (WorkflowSpec, Vec<Value>) {
    let (spec, syntax) = WorkflowSpec::from_value(raw);
    let mut errors: Vec<Value> = syntax
        .into_iter()
        .map(|e| entry("syntax", e.message, &e.spec_path, &e.schema_path))
        .collect();
    errors.extend(semantics(&spec));
    errors.extend(expressions(&spec, functions));
    errors.extend(context(&spec, app_ctx));
    sort_errors(&mut errors);
    (spec, errors)
}

/// Duplicates dropped, sorted by (type, schema path) as st2 sorts them (stable).
pub fn sort_errors(errors: &mut Vec<Value>) {
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    errors.sort_by(|a, b| {
        (a["type"].as_str(), a["schema_path"].as_str())
            .cmp(&(b["type"].as_str(), b["schema_path"].as_str()))
    });
}

fn semantics(spec: &WorkflowSpec) -> Vec<Value> {
    let mut out = Vec::new();
    for task in &spec.tasks {
        if RESERVED_TASK_NAMES.contains(&task.name.as_str()) {
            out.push(entry(
                "semantic",
                format!(
                    "The task name \"{}\" is reserved with special function.",
                    task.name
                ),
                &format!("tasks.{}", task.name),
                TASK_SCHEMA,
            ));
        }
    }
    let starts = spec.start_tasks();
    if !spec.tasks.is_empty() && starts.is_empty() {
        out.push(entry(
            "semantic",
            "Unable to identify any tasks to start the workflow. If the workflow has a loop, please add a task that serves as an entry point (or lead) into the loop.".into(),
            "tasks",
            "properties.tasks",
        ));
    }
    // Undefined tasks.
    let mut traversed: Vec<String> = Vec::new();
    let mut queued: Vec<String> = Vec::new();
    let mut queue: VecDeque<String> = starts.iter().cloned().collect();
    while let Some(name) = queue.pop_front() {
        traversed.push(name.clone());
        let Some(task) = spec.task(&name) else {
            continue;
        };
        for (i, transition) in task.next.iter().enumerate() {
            for next in &transition.targets {
                if traversed.contains(next) {
                    continue;
                }
                if spec.has_task(next) {
                    if !RESERVED_TASK_NAMES.contains(&next.as_str()) && !queued.contains(next) {
                        queue.push_back(next.clone());
                        queued.push(next.clone());
                    }
                } else {
                    out.push(entry(
                        "semantic",
                        format!("The task \"{next}\" is not defined."),
                        &format!("tasks.{name}.next[{i}].do"),
                        &format!("{TASK_SCHEMA}.properties.next.items.properties.do"),
                    ));
                }
            }
        }
    }
    out.extend(unreachable_joins(spec));
    for task in &spec.tasks {
        if task.with.is_some() && task.action.is_none() {
            out.push(entry(
                "semantic",
                "The action property is required for with items task.".into(),
                &format!("tasks.{}", task.name),
                TASK_SCHEMA,
            ));
        }
    }
    out
}

fn unreachable_joins(spec: &WorkflowSpec) -> Vec<Value> {
    struct Meta {
        join: bool,
        splits: BTreeSet<String>,
        prev: BTreeSet<String>,
    }
    let mut staging: Vec<(String, Meta)> = Vec::new();
    let mut track: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut queue: VecDeque<(Option<String>, String, Vec<String>)> = spec
        .start_tasks()
        .into_iter()
        .map(|t| (None, t, Vec::new()))
        .collect();
    while let Some((prev, name, mut splits)) = queue.pop_front() {
        if spec.task(&name).is_none() {
            continue;
        }
        if spec.is_split_task(&name) && !spec.in_cycle(&name) {
            splits.push(name.clone());
        }
        if !staging.iter().any(|(n, _)| *n == name) {
            staging.push((
                name.clone(),
                Meta {
                    join: spec.is_join_task(&name),
                    splits: BTreeSet::new(),
                    prev: BTreeSet::new(),
                },
            ));
        }
        let meta = &mut staging.iter_mut().find(|(n, _)| *n == name).unwrap().1;
        meta.splits.extend(splits.iter().cloned());
        if let Some(prev) = prev {
            meta.prev.insert(prev);
        }
        for (next, _, _) in spec.next_tasks(&name) {
            let staged = staging.iter().any(|(n, _)| *n == next);
            if !staged || !spec.in_cycle(&next) {
                let id = format!("{name}_{next}");
                let new: BTreeSet<String> = splits.iter().cloned().collect();
                match track.get_mut(&id) {
                    Some(existing) if !existing.is_empty() => {
                        if !new.is_subset(existing) {
                            queue.push_back((Some(name.clone()), next.clone(), splits.clone()));
                            existing.extend(new);
                        }
                    }
                    _ => {
                        queue.push_back((Some(name.clone()), next.clone(), splits.clone()));
                        track.insert(id, new);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (name, meta) in &staging {
        if !meta.join {
            continue;
        }
        for prev in &meta.prev {
            let prev_splits = &staging.iter().find(|(n, _)| n == prev).unwrap().1.splits;
            if meta.splits != *prev_splits {
                out.push(entry(
                    "semantic",
                    format!("The join task \"{name}\" is unreachable. A join task is determined to be unreachable if there are nested forks from multi-referenced tasks that join on the said task. This is ambiguous to the workflow engine because it does not know at which level should the join occurs."),
                    &format!("tasks.{name}"),
                    TASK_SCHEMA,
                ));
                break;
            }
        }
    }
    out
}

/// Every string in `value` (map keys too), with the path below `path`.
fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// A task's field as upstream's spec holds it: `action` without its inline input, which is
/// the `input`.
fn task_field(task: &super::model::TaskSpec, key: &str) -> Option<Value> {
    match key {
        "action" => task.action.clone().map(Value::String),
        "input" if task.input.is_some() => task.input.clone(),
        _ => task.raw.get(key).cloned(),
    }
}

/// The fields of the document that hold expressions, with their paths.
fn fields(spec: &WorkflowSpec) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for key in ["input", "vars", "output"] {
        if let Some(value) = spec.raw.get(key) {
            out.push((key.to_string(), format!("properties.{key}"), value.clone()));
        }
    }
    for task in &spec.tasks {
        for key in ["delay", "with", "action", "input", "retry", "join"] {
            if let Some(value) = task_field(task, key) {
                out.push((
                    format!("tasks.{}.{key}", task.name),
                    format!("{TASK_SCHEMA}.properties.{key}"),
                    value.clone(),
                ));
            }
        }
        if let Some(Value::Array(next)) = task.raw.get("next") {
            for (i, transition) in next.iter().enumerate() {
                for key in ["when", "publish", "do"] {
                    if let Some(value) = transition.get(key) {
                        out.push((
                            format!("tasks.{}.next[{i}].{key}", task.name),
                            format!("{TASK_SCHEMA}.properties.next.items.properties.{key}"),
                            value.clone(),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn expressions(spec: &WorkflowSpec, functions: &Functions) -> Vec<Value> {
    let mut out = Vec::new();
    for (spec_path, schema_path, value) in fields(spec) {
        let mut found = Vec::new();
        strings(&value, &mut found);
        for text in found {
            let (yaql_found, jinja_found) = (has_yaql(text), has_jinja(text));
            if yaql_found && jinja_found {
                let mut e = entry(
                    "expression",
                    "Expression with multiple types is not supported.".into(),
                    &spec_path,
                    &schema_path,
                );
                e["expression"] = json!(text);
                e["language"] = Value::Null;
                out.push(e);
            } else if yaql_found {
                for range in yaql::find_expressions(text) {
                    let expression = &text[range];
                    match yaql::parse(yaql::strip_delimiters(expression)) {
                        Err(error) => {
                            let mut e =
                                entry("expression", error.to_string(), &spec_path, &schema_path);
                            e["expression"] = json!(expression);
                            e["language"] = json!("yaql");
                            out.push(e);
                        }
                        Ok(parsed) => {
                            for name in yaql::unknown_functions(&parsed, functions) {
                                let bare = name.trim_start_matches('.');
                                if YAQL_STANDARD.contains(&bare) {
                                    let mut e = entry(
                                        "content",
                                        format!(
                                            "YAQL function \"{bare}\" is not supported by st2-rs."
                                        ),
                                        &spec_path,
                                        &schema_path,
                                    );
                                    e["expression"] = json!(expression);
                                    e["language"] = json!("yaql");
                                    out.push(e);
                                }
                            }
                        }
                    }
                }
            } else if jinja_found {
                if let Some(error) = jinja_syntax_error(text) {
                    let mut e = entry("expression", error, &spec_path, &schema_path);
                    e["expression"] = json!(text);
                    e["language"] = json!("jinja");
                    out.push(e);
                }
            }
        }
    }
    out
}

fn ctx_ref() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let r = r#"[\]\[a-zA-Z0-9_'"\.()]*"#;
        Regex::new(&format!(r#"\bctx\(['"]?{r}['"]?\)\.?{r}"#)).unwrap()
    })
}

fn extracts() -> &'static [Regex; 4] {
    static RE: OnceLock<[Regex; 4]> = OnceLock::new();
    RE.get_or_init(|| {
        let v = "[a-zA-Z0-9_-]+";
        [
            Regex::new(&format!(r"\bctx\(\)\.({v})\b")).unwrap(),
            Regex::new(&format!(r"\bctx\(({v})\)")).unwrap(),
            Regex::new(&format!(r"\bctx\('({v})'\)")).unwrap(),
            Regex::new(&format!(r#"\bctx\("({v})"\)"#)).unwrap(),
        ]
    })
}

/// The variables `value` reads through `ctx` (`expr_base.extract_vars`): `(language,
/// the string, name)`, sorted by name.
pub fn extract_vars(value: &Value) -> Vec<(&'static str, String, String)> {
    let mut found = Vec::new();
    strings(value, &mut found);
    let mut out = BTreeSet::new();
    for text in found {
        let mut parts: Vec<(&'static str, String)> = Vec::new();
        for range in yaql::find_expressions(text) {
            parts.push(("yaql", yaql::strip_delimiters(&text[range]).to_string()));
        }
        for range in super::expr::jinja_expressions(text) {
            let inner = &text[range];
            parts.push((
                "jinja",
                inner.trim_matches(['{', '}', '%']).trim().to_string(),
            ));
        }
        for (language, inner) in parts {
            for reference in ctx_ref().find_iter(&inner) {
                let reference = reference.as_str().trim();
                for (i, re) in extracts().iter().enumerate() {
                    let Some(m) = re.captures(reference) else {
                        continue;
                    };
                    let name = m.get(1).unwrap();
                    if i == 0 && reference[name.end()..].starts_with('(') {
                        continue;
                    }
                    out.insert((name.as_str().to_string(), language, text.to_string()));
                }
            }
        }
    }
    out.into_iter()
        .map(|(name, language, text)| (language, text, name))
        .collect()
}

fn check(
    value: &Value,
    ctx: &BTreeSet<String>,
    spec_path: &str,
    schema_path: &str,
    errors: &mut Vec<Value>,
) {
    for (language, expression, name) in extract_vars(value) {
        let mut report = |message: String| {
            let mut e = entry("context", message, spec_path, schema_path);
            e["expression"] = json!(expression);
            e["language"] = json!(language);
            errors.push(e);
        };
        if name.starts_with("__") {
            report(format!("Variable \"{name}\" that is prefixed with double underscores is considered a private variable and cannot be referenced."));
        }
        if !ctx.contains(&name) {
            report(format!(
                "Variable \"{name}\" is referenced before assignment."
            ));
        }
    }
}

fn names_of(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .flat_map(|item| match item {
                Value::String(s) => vec![s.clone()],
                Value::Object(m) if m.len() == 1 => m.keys().cloned().collect(),
                _ => Vec::new(),
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// One property as `Spec.inspect_context` walks it: inline `k=v` strings read as pairs, a
/// list item by item (each seeing the names the earlier ones assign, when `assigns`).
fn prop(
    value: &Value,
    rolling: &mut BTreeSet<String>,
    spec_path: &str,
    schema_path: &str,
    assigns: bool,
    errors: &mut Vec<Value>,
) {
    let value = match value {
        Value::String(text) => {
            let pairs = super::inline::parse_pairs(text);
            if pairs.is_empty() {
                value.clone()
            } else {
                Value::Array(
                    pairs
                        .into_iter()
                        .map(|(k, v)| Value::Object([(k, v)].into_iter().collect()))
                        .collect(),
                )
            }
        }
        other => other.clone(),
    };
    let mut one = |item: &Value, path: &str, rolling: &mut BTreeSet<String>| {
        check(item, rolling, path, schema_path, errors);
        if assigns {
            rolling.extend(names_of(item));
        }
    };
    match &value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                one(item, &format!("{spec_path}[{i}]"), rolling);
            }
        }
        other => one(other, spec_path, rolling),
    }
}

fn context(spec: &WorkflowSpec, app_ctx: &[&str]) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut rolling: BTreeSet<String> = app_ctx.iter().map(|s| s.to_string()).collect();
    for key in ["input", "vars"] {
        if let Some(value) = spec.raw.get(key).filter(|v| !v.is_null()) {
            prop(
                value,
                &mut rolling,
                key,
                &format!("properties.{key}"),
                true,
                &mut errors,
            );
        }
    }
    // The task mapping, walked as `TaskMappingSpec.inspect_context`.
    let mut ctxs: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut task_ctx_map: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut traversed: Vec<String> = Vec::new();
    let mut queue: VecDeque<(String, Option<BTreeSet<String>>)> = spec
        .start_tasks()
        .into_iter()
        .map(|t| (t, Some(rolling.clone())))
        .collect();
    let mut all = rolling.clone();
    let mut guard = 0;
    while let Some((name, task_ctx)) = queue.pop_front() {
        guard += 1;
        if guard > 100_000 {
            break;
        }
        traversed.push(name.clone());
        let mut task_ctx = match task_ctx {
            Some(c) if !c.is_empty() => c,
            _ => ctxs.get(&name).cloned().unwrap_or_default(),
        };
        let Some(task) = spec.task(&name) else {
            continue;
        };
        let spec_path = format!("tasks.{name}");
        for key in ["delay", "with", "action", "input"] {
            if let Some(value) = task_field(task, key).filter(|v| !v.is_null()) {
                let value = &value;
                let mut ctx = task_ctx.clone();
                prop(
                    value,
                    &mut ctx,
                    &format!("{spec_path}.{key}"),
                    &format!("{TASK_SCHEMA}.properties.{key}"),
                    false,
                    &mut errors,
                );
            }
        }
        let raw_next: Vec<Value> = task
            .raw
            .get("next")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The task's own pass over `next` (each transition with the task's context).
        for (i, transition) in raw_next.iter().enumerate() {
            transition_context(
                transition,
                &task_ctx,
                &format!("{spec_path}.next[{i}]"),
                &mut errors,
            );
        }
        all.extend(task_ctx.iter().cloned());
        let mut transitions = Vec::new();
        for (i, transition) in task.next.iter().enumerate() {
            if transition.targets.is_empty() {
                transitions.push((None, i));
            }
            for target in &transition.targets {
                transitions.push((Some(target.clone()), i));
            }
        }
        for (next, i) in transitions {
            let published = transition_context(
                &raw_next[i],
                &task_ctx,
                &format!("{spec_path}.next[{i}]"),
                &mut errors,
            );
            let mut branch = task_ctx.clone();
            branch.extend(published);
            all.extend(branch.iter().cloned());
            let Some(next) = next else { continue };
            if traversed.contains(&next) || spec.task(&next).is_none() {
                continue;
            }
            if !spec.is_join_task(&next) {
                if task_ctx_map.get(&next) != Some(&branch) {
                    queue.push_back((next.clone(), Some(branch.clone())));
                    task_ctx_map.insert(next, branch);
                }
            } else {
                ctxs.entry(next.clone()).or_default().extend(branch);
                queue.push_back((next, None));
            }
        }
        task_ctx.clear();
    }
    rolling.extend(all);
    if let Some(value) = spec.raw.get("output").filter(|v| !v.is_null()) {
        prop(
            value,
            &mut rolling,
            "output",
            "properties.output",
            true,
            &mut errors,
        );
    }
    errors
}

/// `when`, `publish`, `do` of one transition; answers the names it publishes.
fn transition_context(
    transition: &Value,
    ctx: &BTreeSet<String>,
    spec_path: &str,
    errors: &mut Vec<Value>,
) -> Vec<String> {
    let schema = format!("{TASK_SCHEMA}.properties.next.items");
    let mut rolling = ctx.clone();
    for key in ["when", "publish", "do"] {
        let Some(value) = transition.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        prop(
            value,
            &mut rolling,
            &format!("{spec_path}.{key}"),
            &format!("{schema}.properties.{key}"),
            key == "publish",
            errors,
        );
    }
    rolling.difference(ctx).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<Value> {
        let raw = crate::yaml::from_str(text).unwrap();
        inspect(&raw, &["st2", "parent"], &Functions::new())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn a_variable_used_before_it_is_published_is_refused() {
        let found = errors(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    input:\n      x: <% ctx().y %>\n    next:\n      - publish: y=1\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0]["message"],
            "Variable \"y\" is referenced before assignment."
        );
        assert_eq!(found[0]["spec_path"], "tasks.t1.input");
    }

    #[test]
    fn undefined_and_reserved_tasks_are_named() {
        let found = errors(
            "version: 1.0\ntasks:\n  noop:\n    action: core.noop\n    next:\n      - do: t9\n",
        );
        let messages: Vec<&str> = found
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.contains(&"The task \"t9\" is not defined."),
            "{messages:?}"
        );
        assert!(messages.contains(&"The task name \"noop\" is reserved with special function."));
    }

    #[test]
    fn a_well_formed_workflow_passes() {
        assert!(errors(
            "version: 1.0\ninput:\n  - a\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        publish:\n          - b: <% ctx(a) %>\n        do: t2\n  t2:\n    action: core.echo message=<% ctx().b %>\noutput:\n  - b: <% ctx().b %>\n"
        )
        .is_empty());
    }

    #[test]
    fn vars_extracted_as_orquesta_extracts_them() {
        let names: Vec<String> =
            extract_vars(&json!("<% ctx().a.b + ctx(c) + ctx('d') + ctx().e() %>"))
                .into_iter()
                .map(|v| v.2)
                .collect();
        assert_eq!(names, vec!["a", "c", "d"]);
    }
}

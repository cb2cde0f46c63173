//! One function per draft 4 keyword, as Python jsonschema 3.2's `_validators.py` has them,
//! found by name in [`lookup`] (its `VALIDATORS` table). The walk that calls them, `$ref`,
//! the error type and `best_match` are in `validator.rs`.
//!
//! Each function gets the keyword's value and a [`Check`] (the instance, where it is, the
//! schema around the keyword) and reports its errors in jsonschema's order with Python's
//! messages (both are part of the compatibility we promise, and the differential tests
//! compare them).

use serde_json::{Map, Value};

use super::repr::{py_repr, py_str_repr};
use super::validator::{is_type, py_eq, truthy, PathItem, ValidationError, Validator};

/// A keyword's check: `(check, value)`, jsonschema's `(validator, value, instance, schema)`.
pub(super) type Keyword = fn(&mut Check<'_, '_>, &Value);

/// One keyword of one schema checked against one instance: what jsonschema's keyword
/// functions get, and where their errors go.
pub(super) struct Check<'c, 'a> {
    pub(super) validator: &'c Validator<'a>,
    pub(super) instance: &'c Value,
    /// The keyword's name: the `keyword` of its errors.
    pub(super) keyword: &'c str,
    /// The schema the keyword sits in (its siblings).
    pub(super) schema: &'c Map<String, Value>,
    /// The URL the schema's `$ref`s resolve against.
    pub(super) scope: &'c str,
    /// How many schemas enclose this one.
    pub(super) depth: usize,
    /// Where the instance is.
    pub(super) path: &'c mut Vec<PathItem>,
    pub(super) errors: &'c mut Vec<ValidationError>,
}

impl Check<'_, '_> {
    /// An error of this keyword at the instance's path.
    fn error(&self, message: String) -> ValidationError {
        ValidationError {
            message,
            path: self.path.clone(),
            keyword: self.keyword.to_string(),
            context: Vec::new(),
        }
    }

    fn fail(&mut self, message: String) {
        let error = self.error(message);
        self.errors.push(error);
    }

    /// Validate `instance` (here, or under the instance) against `schema`.
    fn descend(&mut self, instance: &Value, schema: &Value) {
        let (scope, depth) = (self.scope, self.depth);
        self.validator
            .descend(instance, schema, scope, self.path, depth, self.errors);
    }

    /// Validate the instance's child `item`, at `step`, against `schema`.
    fn descend_at(&mut self, step: PathItem, item: &Value, schema: &Value) {
        self.path.push(step);
        self.descend(item, schema);
        self.path.pop();
    }

    fn is_valid(&self, schema: &Value) -> bool {
        self.validator
            .is_valid(self.instance, schema, self.scope, self.depth)
    }

    fn search(&self, pattern: &str, text: &str) -> bool {
        self.validator.search(pattern, text)
    }
}

/// The check of a draft 4 keyword; `None` for the others (ignored, as jsonschema ignores
/// them). `$ref` is not here: the walk follows it instead of the other keywords.
pub(super) fn lookup(keyword: &str) -> Option<Keyword> {
    Some(match keyword {
        "type" => type_,
        "enum" => enum_,
        "minimum" => minimum,
        "maximum" => maximum,
        "multipleOf" => multiple_of,
        "minLength" => min_length,
        "maxLength" => max_length,
        "pattern" => pattern,
        "items" => items,
        "additionalItems" => additional_items,
        "minItems" => min_items,
        "maxItems" => max_items,
        "uniqueItems" => unique_items,
        "properties" => properties,
        "patternProperties" => pattern_properties,
        "additionalProperties" => additional_properties,
        "minProperties" => min_properties,
        "maxProperties" => max_properties,
        "dependencies" => dependencies,
        "allOf" => all_of,
        "anyOf" => any_of,
        "oneOf" => one_of,
        "not" => not,
        _ => return None,
    })
}

// Types and enum.

fn type_(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let types: Vec<&Value> = match value {
        Value::Array(types) => types.iter().collect(),
        other => vec![other],
    };
    let mut matched = false;
    for expected in &types {
        match expected.as_str().map(|name| is_type(instance, name)) {
            Some(Some(true)) => matched = true,
            Some(Some(false)) => {}
            Some(None) => {
                check.fail(format!("Unknown type {}", py_repr(expected)));
                return;
            }
            // A schema as a type (draft 3): valid when the instance matches it.
            None => matched |= check.is_valid(expected),
        }
        if matched {
            break;
        }
    }
    if !matched {
        // As jsonschema 3.2's `types_msg` does, on purpose: a type given as a schema is
        // shown by its `name` when it has one.
        let names: Vec<String> = types
            .iter()
            .map(|t| match t.get("name") {
                Some(name) => py_repr(name),
                None => py_repr(t),
            })
            .collect();
        let message = format!("{} is not of type {}", py_repr(instance), names.join(", "));
        check.fail(message);
    }
}

fn enum_(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(allowed) = value.as_array() else {
        return;
    };
    if !allowed.iter().any(|each| py_eq(instance, each)) {
        let message = format!("{} is not one of {}", py_repr(instance), py_repr(value));
        check.fail(message);
    }
}

// Numbers.

fn minimum(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(number), Some(limit)) = (instance.as_f64(), value.as_f64()) else {
        return;
    };
    if number < limit {
        let message = format!(
            "{} is less than the minimum of {}",
            py_repr(instance),
            py_repr(value)
        );
        check.fail(message);
    }
}

fn maximum(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(number), Some(limit)) = (instance.as_f64(), value.as_f64()) else {
        return;
    };
    if number > limit {
        let message = format!(
            "{} is greater than the maximum of {}",
            py_repr(instance),
            py_repr(value)
        );
        check.fail(message);
    }
}

fn multiple_of(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(number), Some(divisor)) = (instance.as_f64(), value.as_f64()) else {
        return;
    };
    let failed = if instance.is_f64() || value.is_f64() {
        let quotient = number / divisor;
        quotient.trunc() != quotient
    } else {
        match (instance.as_i64(), value.as_i64()) {
            // checked: i64::MIN % -1 overflows (and is 0).
            (Some(a), Some(b)) if b != 0 => a.checked_rem(b).is_some_and(|r| r != 0),
            _ => false,
        }
    };
    if failed {
        let message = format!(
            "{} is not a multiple of {}",
            py_repr(instance),
            py_repr(value)
        );
        check.fail(message);
    }
}

// Strings (no `format`: StackStorm's validator checks no formats).

fn min_length(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(text), Some(limit)) = (instance.as_str(), value.as_u64()) else {
        return;
    };
    if (text.chars().count() as u64) < limit {
        check.fail(format!("{} is too short", py_repr(instance)));
    }
}

fn max_length(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(text), Some(limit)) = (instance.as_str(), value.as_u64()) else {
        return;
    };
    if text.chars().count() as u64 > limit {
        check.fail(format!("{} is too long", py_repr(instance)));
    }
}

fn pattern(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(text), Some(pattern)) = (instance.as_str(), value.as_str()) else {
        return;
    };
    if !check.search(pattern, text) {
        let message = format!(
            "{} does not match {}",
            py_repr(instance),
            py_str_repr(pattern)
        );
        check.fail(message);
    }
}

// Arrays.

fn items(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(items) = instance.as_array() else {
        return;
    };
    match value {
        Value::Array(schemas) => {
            for (index, (item, subschema)) in items.iter().zip(schemas).enumerate() {
                check.descend_at(PathItem::Index(index), item, subschema);
            }
        }
        Value::Bool(false) if !items.is_empty() => {
            let message = format!("{} is not allowed for {}", "False", py_repr(instance));
            check.fail(message);
        }
        subschema => {
            for (index, item) in items.iter().enumerate() {
                check.descend_at(PathItem::Index(index), item, subschema);
            }
        }
    }
}

fn additional_items(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(items) = instance.as_array() else {
        return;
    };
    let positional = match check.schema.get("items") {
        None => 0,
        Some(Value::Array(schemas)) => schemas.len(),
        Some(Value::Object(_)) => return,
        Some(_) => 0,
    };
    if value.is_object() {
        for (index, item) in items.iter().enumerate().skip(positional) {
            check.descend_at(PathItem::Index(index), item, value);
        }
    } else if !truthy(value) && items.len() > positional {
        let extras: Vec<String> = items[positional..].iter().map(py_repr).collect();
        let verb = if extras.len() == 1 { "was" } else { "were" };
        let message = format!(
            "Additional items are not allowed ({} {verb} unexpected)",
            extras.join(", ")
        );
        check.fail(message);
    }
}

fn min_items(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(items), Some(limit)) = (instance.as_array(), value.as_u64()) else {
        return;
    };
    if (items.len() as u64) < limit {
        check.fail(format!("{} is too short", py_repr(instance)));
    }
}

fn max_items(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(items), Some(limit)) = (instance.as_array(), value.as_u64()) else {
        return;
    };
    if items.len() as u64 > limit {
        check.fail(format!("{} is too long", py_repr(instance)));
    }
}

fn unique_items(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(items) = instance.as_array() else {
        return;
    };
    if truthy(value) {
        let duplicate = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[i + 1..].iter().any(|b| py_eq(a, b)));
        if duplicate {
            let message = format!("{} has non-unique elements", py_repr(instance));
            check.fail(message);
        }
    }
}

// Objects.

/// Draft 3's boolean `required` on each property, as StackStorm's `CustomValidator` keeps
/// it: a missing property whose schema says `required: true` is an error of keyword
/// `required`, at the property's path.
fn properties(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(object), Some(properties)) = (instance.as_object(), value.as_object()) else {
        return;
    };
    for (name, subschema) in properties {
        if let Some(item) = object.get(name) {
            check.descend_at(PathItem::Key(name.clone()), item, subschema);
        } else if subschema.get("required").is_some_and(truthy) {
            let mut error_path = check.path.clone();
            error_path.push(PathItem::Key(name.clone()));
            check.errors.push(ValidationError {
                message: format!("{} is a required property", py_str_repr(name)),
                path: error_path,
                keyword: "required".into(),
                context: Vec::new(),
            });
        }
    }
}

fn pattern_properties(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(object), Some(patterns)) = (instance.as_object(), value.as_object()) else {
        return;
    };
    for (pattern, subschema) in patterns {
        for (key, item) in object {
            if check.search(pattern, key) {
                check.descend_at(PathItem::Key(key.clone()), item, subschema);
            }
        }
    }
}

fn additional_properties(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(object) = instance.as_object() else {
        return;
    };
    let properties = check.schema.get("properties").and_then(Value::as_object);
    let patterns: Vec<&String> = check
        .schema
        .get("patternProperties")
        .and_then(Value::as_object)
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    let extras: Vec<&String> = object
        .keys()
        .filter(|key| !properties.is_some_and(|p| p.contains_key(*key)))
        .filter(|key| !patterns.iter().any(|pattern| check.search(pattern, key)))
        .collect();
    if value.is_object() {
        for key in extras {
            check.descend_at(PathItem::Key(key.clone()), &object[key.as_str()], value);
        }
    } else if !truthy(value) && !extras.is_empty() {
        let message = if check.schema.contains_key("patternProperties") {
            let mut sorted = extras.clone();
            sorted.sort();
            let mut sorted_patterns = patterns.clone();
            sorted_patterns.sort();
            let verb = if extras.len() == 1 { "does" } else { "do" };
            format!(
                "{} {verb} not match any of the regexes: {}",
                join_reprs(sorted.iter().map(|s| s.as_str())),
                join_reprs(sorted_patterns.iter().map(|s| s.as_str())),
            )
        } else {
            let verb = if extras.len() == 1 { "was" } else { "were" };
            format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                join_reprs(extras.iter().map(|s| s.as_str()))
            )
        };
        check.fail(message);
    }
}

fn min_properties(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(object), Some(limit)) = (instance.as_object(), value.as_u64()) else {
        return;
    };
    if (object.len() as u64) < limit {
        let message = format!("{} does not have enough properties", py_repr(instance));
        check.fail(message);
    }
}

fn max_properties(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(object), Some(limit)) = (instance.as_object(), value.as_u64()) else {
        return;
    };
    if object.len() as u64 > limit {
        let message = format!("{} has too many properties", py_repr(instance));
        check.fail(message);
    }
}

fn dependencies(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let (Some(object), Some(dependencies)) = (instance.as_object(), value.as_object()) else {
        return;
    };
    for (property, dependency) in dependencies {
        if !object.contains_key(property) {
            continue;
        }
        match dependency {
            Value::Array(names) => {
                for name in names {
                    if name.as_str().is_some_and(|n| !object.contains_key(n)) {
                        let message = format!(
                            "{} is a dependency of {}",
                            py_repr(name),
                            py_str_repr(property)
                        );
                        check.fail(message);
                    }
                }
            }
            subschema => check.descend(instance, subschema),
        }
    }
}

// Combinators.

fn all_of(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    for subschema in value.as_array().into_iter().flatten() {
        check.descend(instance, subschema);
    }
}

fn any_of(check: &mut Check<'_, '_>, value: &Value) {
    let Some(subschemas) = value.as_array() else {
        return;
    };
    if let Err(error) = first_valid_branch(check, subschemas) {
        check.errors.push(error);
    }
}

fn one_of(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    let Some(subschemas) = value.as_array() else {
        return;
    };
    let first = match first_valid_branch(check, subschemas) {
        Ok(first) => first,
        Err(error) => return check.errors.push(error),
    };
    let mut valid: Vec<&Value> = subschemas[first + 1..]
        .iter()
        .filter(|s| check.is_valid(s))
        .collect();
    if !valid.is_empty() {
        valid.push(&subschemas[first]);
        let reprs: Vec<String> = valid.into_iter().map(py_repr).collect();
        let message = format!(
            "{} is valid under each of {}",
            py_repr(instance),
            reprs.join(", ")
        );
        check.fail(message);
    }
}

/// The index of the first branch `instance` is valid under (the later ones are not tried);
/// else the error of `anyOf`/`oneOf` with every branch's errors as its context.
fn first_valid_branch(
    check: &mut Check<'_, '_>,
    subschemas: &[Value],
) -> Result<usize, ValidationError> {
    let mut context = Vec::new();
    for (index, subschema) in subschemas.iter().enumerate() {
        let mut branch = Vec::new();
        let (scope, depth) = (check.scope, check.depth);
        check.validator.descend(
            check.instance,
            subschema,
            scope,
            check.path,
            depth,
            &mut branch,
        );
        if branch.is_empty() {
            return Ok(index);
        }
        context.extend(branch);
    }
    let message = format!(
        "{} is not valid under any of the given schemas",
        py_repr(check.instance)
    );
    Err(ValidationError {
        context,
        ..check.error(message)
    })
}

fn not(check: &mut Check<'_, '_>, value: &Value) {
    let instance = check.instance;
    if check.is_valid(value) {
        let message = format!(
            "{} is not allowed for {}",
            py_repr(value),
            py_repr(instance)
        );
        check.fail(message);
    }
}

fn join_reprs<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.map(py_str_repr).collect::<Vec<_>>().join(", ")
}

//! A JSON-Schema validator that behaves as StackStorm's `CustomValidator` does: the draft 4
//! keywords as Python `jsonschema` 3.2 implements them, draft 3's boolean `required` on each
//! property, no format checking, and Python's messages and best-error choice.
//!
//! Written by hand because no Rust JSON-Schema crate accepts boolean `required` in draft 4 or
//! reports errors in Python's words, and both are part of the compatibility we promise.
//!
//! This file holds the walk (`id` scopes, `$ref`s, the depth limit), the error type and
//! `best_match`; each keyword's check is a function of `keywords.rs`, as in jsonschema's
//! `_validators.py`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::keywords::{self, Check};
use super::repr::py_str_repr;

/// One step of the path to a value: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathItem {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl std::fmt::Display for PathItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathItem::Key(key) => f.write_str(key),
            PathItem::Index(index) => write!(f, "{index}"),
        }
    }
}

/// One validation error, as jsonschema reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    /// Python's message (`'x' is not of type 'integer'`).
    pub message: String,
    /// Where in the instance (absolute).
    pub path: Vec<PathItem>,
    /// The keyword that failed.
    pub keyword: String,
    /// For `anyOf`/`oneOf`: the errors of each branch.
    pub context: Vec<ValidationError>,
}

impl ValidationError {
    /// The path joined with dots (`instances.0.alias`), as StackStorm prints it.
    pub fn dotted_path(&self) -> String {
        self.path
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The URL that `"$ref": "#"` inside StackStorm's meta-schemas points at (their `id`).
pub const DRAFT4_URL: &str = "http://json-schema.org/draft-04/schema";

/// How many schemas (subschemas and `$ref` targets) may enclose one another before the
/// schema is called recursive. Every level is a few stack frames: counting `$ref`s alone let
/// `anyOf`s nested between them overflow the stack (40 of them under a `$ref: "#"` need 8 MiB
/// in a release build). 128 is four times the deepest of the Exchange's 7,421 schema checks
/// and validations (29), and stays within a 2 MiB thread stack in a debug build.
const MAX_DEPTH: usize = 128;

/// A validator over one root schema, with the documents `$ref`s may point into.
pub struct Validator<'a> {
    /// Documents by URL without fragment; `""` is the root schema.
    documents: HashMap<String, &'a Value>,
    /// What the draft-4 URL resolves to.
    draft4: Draft4<'a>,
    /// Template strings (`{{`/`{%`) pass every check: they are validated after rendering.
    templates_pass: bool,
    /// Set when schemas nest deeper than [`MAX_DEPTH`]: the validation stops there,
    /// as Python's `RecursionError` stops jsonschema. Kept as an ordinary error inside
    /// `anyOf`/`allOf`, two self-references would mean 2^128 descents.
    too_deep: RefCell<Option<ValidationError>>,
}

/// Compiled patterns, shared by every validation of the process: compiling `^\w+$` for
/// each of the 7,000 actions of the Exchange was most of the registration time.
/// Shared behind an `Arc`: a cloned `Regex` would build its own match cache on first use.
#[allow(clippy::type_complexity)]
static REGEXES: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Option<Arc<Regex>>>>> =
    std::sync::LazyLock::new(Default::default);

/// A pattern compiled once per process; `None` when Rust's engine cannot compile it
/// (look-around, back-references).
pub fn cached_regex(pattern: &str) -> Option<Arc<Regex>> {
    let mut cache = REGEXES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok().map(Arc::new))
        .clone()
}

/// The document of the draft-4 URL: given, or made the first time a `$ref` reaches it (a
/// parameter schema seldom does, and parsing the meta-schema cost a run a tenth of its
/// preparation).
enum Draft4<'a> {
    Document(&'a Value),
    Lazy(&'static std::sync::LazyLock<Value>),
}

impl<'a> Validator<'a> {
    /// A validator whose `#` refs resolve in `root`, and whose draft-4 URL resolves to
    /// StackStorm's `custom.json` meta-schema, as in jsonschema's resolver store.
    pub fn new(root: &'a Value, draft4: &'a Value) -> Validator<'a> {
        Validator::with_draft4(root, Draft4::Document(draft4))
    }

    /// [`Validator::new`] with the meta-schema made only if a `$ref` reaches it.
    pub(crate) fn with_lazy_draft4(
        root: &'a Value,
        draft4: &'static std::sync::LazyLock<Value>,
    ) -> Validator<'a> {
        Validator::with_draft4(root, Draft4::Lazy(draft4))
    }

    fn with_draft4(root: &'a Value, draft4: Draft4<'a>) -> Validator<'a> {
        let mut documents = HashMap::new();
        documents.insert(String::new(), root);
        Validator {
            documents,
            draft4,
            templates_pass: false,
            too_deep: RefCell::new(None),
        }
    }

    /// The document at `url` (without fragment).
    fn document(&self, url: &str) -> Option<&'a Value> {
        if url == DRAFT4_URL {
            return Some(match self.draft4 {
                Draft4::Document(document) => document,
                Draft4::Lazy(lazy) => lazy,
            });
        }
        self.documents.get(url).copied()
    }

    /// Let strings holding Jinja templates pass every check (validated once rendered).
    pub fn templates_pass(mut self, yes: bool) -> Self {
        self.templates_pass = yes;
        self
    }

    /// Every error of `instance` against the root schema, in jsonschema's order; only the
    /// recursion error when the schema's `$ref`s loop.
    pub fn errors(&self, instance: &Value) -> Vec<ValidationError> {
        self.too_deep.replace(None);
        let root = self.documents[""];
        let scope = root
            .get("id")
            .and_then(Value::as_str)
            .map(strip_fragment)
            .unwrap_or_default();
        let mut errors = Vec::new();
        self.descend(instance, root, &scope, &mut Vec::new(), 0, &mut errors);
        match self.too_deep.take() {
            Some(error) => vec![error],
            None => errors,
        }
    }

    /// The error jsonschema's `validate` raises (its `best_match`), if any.
    pub fn first_error(&self, instance: &Value) -> Option<ValidationError> {
        best_match(self.errors(instance))
    }

    pub(super) fn is_valid(
        &self,
        instance: &Value,
        schema: &Value,
        scope: &str,
        depth: usize,
    ) -> bool {
        let mut errors = Vec::new();
        self.descend(instance, schema, scope, &mut Vec::new(), depth, &mut errors);
        errors.is_empty()
    }

    /// Python's `re.search`; a pattern Rust's engine cannot compile (look-around,
    /// back-references) matches everything rather than failing valid input.
    pub(super) fn search(&self, pattern: &str, text: &str) -> bool {
        cached_regex(pattern).is_none_or(|regex| regex.is_match(text))
    }

    /// `depth`: how many schemas (subschemas and `$ref` targets) enclose this one.
    pub(super) fn descend(
        &self,
        instance: &Value,
        schema: &Value,
        scope: &str,
        path: &mut Vec<PathItem>,
        depth: usize,
        errors: &mut Vec<ValidationError>,
    ) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        if self.too_deep.borrow().is_some() {
            return;
        }
        if depth >= MAX_DEPTH {
            self.too_deep.replace(Some(self.error(
                path,
                "$ref",
                "the schema nests too deeply, or its $refs are recursive",
            )));
            return;
        }
        let depth = depth + 1;
        if self.templates_pass && instance.as_str().is_some_and(is_template) {
            return;
        }
        let scope_owned;
        let scope = match schema.get("id").and_then(Value::as_str) {
            Some(id) => {
                scope_owned = join_url(scope, id);
                scope_owned.as_str()
            }
            None => scope,
        };
        if let Some(reference) = schema.get("$ref") {
            if let Some(reference) = reference.as_str() {
                self.reference(instance, reference, scope, path, depth, errors);
            }
            return;
        }
        for (keyword, value) in schema {
            let Some(check_keyword) = keywords::lookup(keyword) else {
                continue;
            };
            let mut check = Check {
                validator: self,
                instance,
                keyword,
                schema,
                scope,
                depth,
                path: &mut *path,
                errors: &mut *errors,
            };
            check_keyword(&mut check, value);
        }
    }

    fn error(
        &self,
        path: &[PathItem],
        keyword: &str,
        message: impl Into<String>,
    ) -> ValidationError {
        ValidationError {
            message: message.into(),
            path: path.to_vec(),
            keyword: keyword.into(),
            context: Vec::new(),
        }
    }

    fn reference(
        &self,
        instance: &Value,
        reference: &str,
        scope: &str,
        path: &mut Vec<PathItem>,
        depth: usize,
        errors: &mut Vec<ValidationError>,
    ) {
        let url = join_url(scope, reference);
        let (document_url, fragment) = url.split_once('#').unwrap_or((&url, ""));
        let resolved = self
            .document(document_url)
            .and_then(|document| resolve_pointer(document, fragment));
        match resolved {
            Some(target) => self.descend(instance, target, document_url, path, depth, errors),
            None => errors.push(self.error(
                path,
                "$ref",
                format!("Unresolvable JSON pointer: {}", py_str_repr(fragment)),
            )),
        }
    }
}

/// jsonschema's `best_match`: the least deep error, not an `anyOf`/`oneOf` one if possible;
/// then, while it has branch errors, the deepest of those.
pub fn best_match(errors: Vec<ValidationError>) -> Option<ValidationError> {
    // relevance = (-len(path), keyword not in weak); max() keeps the first maximum.
    let key = |error: &ValidationError| {
        (
            -(error.path.len() as i64),
            !matches!(error.keyword.as_str(), "anyOf" | "oneOf"),
        )
    };
    let mut best: Option<ValidationError> = None;
    for error in errors {
        if best.as_ref().is_none_or(|b| key(&error) > key(b)) {
            best = Some(error);
        }
    }
    let mut best = best?;
    while !best.context.is_empty() {
        let context = std::mem::take(&mut best.context);
        // min() keeps the first minimum.
        let mut chosen: Option<ValidationError> = None;
        for error in context {
            if chosen.as_ref().is_none_or(|c| key(&error) < key(c)) {
                chosen = Some(error);
            }
        }
        best = chosen.expect("context is not empty");
    }
    Some(best)
}

/// Whether a string holds a Jinja expression or statement (StackStorm's `is_jinja_expression`).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Draft 4 type check; `None` for a type name draft 4 does not know.
pub fn is_type(instance: &Value, name: &str) -> Option<bool> {
    Some(match name {
        "array" => instance.is_array(),
        "boolean" => instance.is_boolean(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "null" => instance.is_null(),
        "number" => instance.is_number(),
        "object" => instance.is_object(),
        "string" => instance.is_string(),
        _ => return None,
    })
}

/// Python truthiness of a JSON value.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python equality, with booleans kept apart from numbers (as jsonschema's `enum` does).
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, a)| y.get(key).is_some_and(|b| py_eq(a, b)))
        }
        _ => a == b,
    }
}

fn strip_fragment(url: &str) -> String {
    url.split('#').next().unwrap_or_default().to_string()
}

/// Enough of `urljoin` for schema ids and refs: a fragment-only ref stays in the current
/// document; anything with a scheme replaces it.
fn join_url(scope: &str, reference: &str) -> String {
    if let Some(fragment) = reference.strip_prefix('#') {
        format!("{}#{fragment}", strip_fragment(scope))
    } else if reference.contains("://") {
        reference.to_string()
    } else if reference.is_empty() {
        scope.to_string()
    } else {
        // A relative document reference: resolve next to the current one.
        let base = strip_fragment(scope);
        match base.rfind('/') {
            Some(slash) => format!("{}{reference}", &base[..=slash]),
            None => reference.to_string(),
        }
    }
}

/// A JSON pointer (`/properties/a~1b`, percent-decoded) inside `document`.
pub(crate) fn resolve_pointer<'v>(document: &'v Value, fragment: &str) -> Option<&'v Value> {
    let fragment = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
    let fragment = fragment.trim_start_matches('/');
    if fragment.is_empty() {
        return Some(document);
    }
    let mut current = document;
    for part in fragment.split('/') {
        let part = part.replace("~1", "/").replace("~0", "~");
        current = match current {
            Value::Object(map) => map.get(&part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn first(schema: Value, instance: Value) -> Option<(String, String)> {
        let draft4 = json!({});
        Validator::new(&schema, &draft4)
            .first_error(&instance)
            .map(|e| (e.dotted_path(), e.message))
    }

    #[test]
    fn messages_are_pythons() {
        let s = json!({"type": "object", "properties": {
            "count": {"type": "integer"},
            "mode": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "auth": {"type": "object", "properties": {"host": {"type": "string", "required": true}}},
        }});
        assert_eq!(
            first(s.clone(), json!({"count": "thirty"})),
            Some(("count".into(), "'thirty' is not of type 'integer'".into()))
        );
        assert_eq!(
            first(s.clone(), json!({"mode": "c"})),
            Some(("mode".into(), "'c' is not one of ['a', 'b']".into()))
        );
        assert_eq!(
            first(s.clone(), json!({"tags": ["x", 3]})),
            Some(("tags.1".into(), "3 is not of type 'string'".into()))
        );
        assert_eq!(
            first(s.clone(), json!({"auth": {}})),
            Some(("auth.host".into(), "'host' is a required property".into()))
        );
        assert_eq!(first(s, json!({"count": 3, "other": 1})), None);
        assert_eq!(
            first(json!({"type": ["string", "null"]}), json!(22)),
            Some(("".into(), "22 is not of type 'string', 'null'".into()))
        );
        assert_eq!(
            first(
                json!({"properties": {"a": {}}, "additionalProperties": false}),
                json!({"a": 1, "x": 2})
            ),
            Some((
                "".into(),
                "Additional properties are not allowed ('x' was unexpected)".into()
            ))
        );
        assert_eq!(
            first(
                json!({"patternProperties": {"^\\w+$": {}}, "additionalProperties": false}),
                json!({"api-key": 1})
            ),
            Some((
                "".into(),
                "'api-key' does not match any of the regexes: '^\\\\w+$'".into()
            ))
        );
    }

    #[test]
    fn integers_are_not_floats_and_booleans_are_not_numbers() {
        assert!(first(json!({"type": "integer"}), json!(1.0)).is_some());
        assert!(first(json!({"type": "number"}), json!(true)).is_some());
        assert!(first(json!({"enum": [1]}), json!(true)).is_some());
        assert!(first(json!({"enum": [1.0]}), json!(1)).is_none());
    }

    #[test]
    fn best_match_prefers_shallow_errors_and_descends_any_of() {
        let s = json!({"properties": {
            "a": {"properties": {"b": {"type": "string"}}},
            "c": {"type": "string"},
        }});
        // `c` (depth 1) wins over `a.b` (depth 2) though it comes later.
        assert_eq!(first(s, json!({"a": {"b": 1}, "c": 2})).unwrap().0, "c");
        let s = json!({"anyOf": [{"type": "string"}, {"type": "object", "properties": {"x": {"type": "integer"}}}]});
        assert_eq!(
            first(s, json!({"x": "y"})),
            Some(("x".into(), "'y' is not of type 'integer'".into()))
        );
    }

    #[test]
    fn refs_resolve_in_the_root_and_in_the_meta_schema() {
        let s = json!({"properties": {
            "shared": {"type": "object", "properties": {"port": {"type": "integer"}}},
            "list": {"type": "array", "items": {"$ref": "#/properties/shared"}},
        }});
        assert_eq!(
            first(s, json!({"list": [{"port": "x"}]})),
            Some(("list.0.port".into(), "'x' is not of type 'integer'".into()))
        );
        let missing = json!({"$ref": "#/nowhere"});
        assert!(first(missing, json!(1)).unwrap().1.contains("Unresolvable"));
        let looped = json!({"properties": {"a": {"$ref": "#/properties/a"}}});
        assert!(first(looped, json!({"a": 1}))
            .unwrap()
            .1
            .contains("recursive"));
    }

    /// Two self-references under `allOf`/`anyOf`/`oneOf` (or `not`) used to be explored
    /// branch by branch down to the depth limit: 2^128 descents, a hang. The first chain too
    /// deep now ends the validation, as Python's `RecursionError` does.
    #[test]
    fn self_references_in_branches_fail_at_once() {
        let draft4 = json!({});
        for keyword in ["allOf", "anyOf", "oneOf"] {
            let schema = json!({ keyword: [{"$ref": "#"}, {"$ref": "#"}] });
            let start = std::time::Instant::now();
            let validator = Validator::new(&schema, &draft4);
            let errors = validator.errors(&json!(1));
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "{keyword}"
            );
            assert_eq!(errors.len(), 1, "{keyword}: {errors:?}");
            assert!(errors[0].message.contains("recursive"), "{errors:?}");
            // The validator is reusable: the next call starts afresh.
            assert_eq!(validator.errors(&json!(1)).len(), 1);
        }
        // Through a pack config schema, nested where the meta-schema allows `anyOf`.
        let schema = json!({"a": {"type": "object", "properties": {"b": {"anyOf": [
            {"$ref": "#/properties/a/properties/b"}, {"$ref": "#/properties/a/properties/b"},
        ]}}}});
        assert_eq!(super::super::check_config_schema(&schema), Ok(()));
        let invalid =
            super::super::validate_config(schema.as_object().unwrap(), &json!({"a": {"b": 1}}))
                .unwrap_err();
        assert!(
            invalid.errors[0].message.contains("recursive"),
            "{invalid:?}"
        );
    }

    /// Found by `schema::proptests::validator_never_panics`: with only `$ref`s counted,
    /// `{"oneOf": [{"oneOf": [{"$ref": "#"}]}]}` overflowed a debug build's 2 MiB thread
    /// stack, and 40 `anyOf`s around a `$ref: "#"` need 8 MiB in a release build: every
    /// enclosing schema counts now. Deep schemas and loops end in the one error, on a 2 MiB
    /// stack.
    #[test]
    fn deep_schemas_fail_without_overflowing_the_stack() {
        let run = || {
            let draft4 = json!({});
            let mut around_ref = json!({"$ref": "#"});
            for _ in 0..60 {
                around_ref = json!({"anyOf": [around_ref]});
            }
            let mut nested = json!({"type": "string"});
            let mut instance = json!(1);
            for _ in 0..400 {
                nested = json!({"properties": {"a": nested}});
                instance = json!({ "a": instance });
            }
            for (schema, instance) in [
                (json!({"oneOf": [{"oneOf": [{"$ref": "#"}]}]}), json!(1)),
                (around_ref, json!(1)),
                (nested, instance),
            ] {
                let errors = Validator::new(&schema, &draft4).errors(&instance);
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert!(errors[0].message.contains("nests too deeply"), "{errors:?}");
            }
            // 100 levels are fine.
            let mut nested = json!({"type": "string"});
            let mut instance = json!(1);
            for _ in 0..100 {
                nested = json!({"properties": {"a": nested}});
                instance = json!({ "a": instance });
            }
            let errors = Validator::new(&nested, &draft4).errors(&instance);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].message, "1 is not of type 'string'");
            assert_eq!(errors[0].path.len(), 100);
        };
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn templates_pass_when_asked() {
        let s = json!({"properties": {"port": {"type": "integer"}}});
        let draft4 = json!({});
        let instance = json!({"port": "{{ st2kv.system.port }}"});
        assert!(Validator::new(&s, &draft4).first_error(&instance).is_some());
        assert!(Validator::new(&s, &draft4)
            .templates_pass(true)
            .first_error(&instance)
            .is_none());
    }

    #[test]
    fn other_keywords() {
        assert_eq!(
            first(json!({"minimum": 2}), json!(1)).unwrap().1,
            "1 is less than the minimum of 2"
        );
        assert_eq!(
            first(json!({"maxLength": 2}), json!("abc")).unwrap().1,
            "'abc' is too long"
        );
        assert_eq!(
            first(json!({"pattern": "^a"}), json!("b")).unwrap().1,
            "'b' does not match '^a'"
        );
        assert_eq!(
            first(json!({"uniqueItems": true}), json!([1, 1]))
                .unwrap()
                .1,
            "[1, 1] has non-unique elements"
        );
        assert_eq!(
            first(json!({"dependencies": {"a": ["b"]}}), json!({"a": 1}))
                .unwrap()
                .1,
            "'b' is a dependency of 'a'"
        );
        assert_eq!(
            first(json!({"not": {"type": "string"}}), json!("x"))
                .unwrap()
                .1,
            "{'type': 'string'} is not allowed for 'x'"
        );
        assert_eq!(
            first(
                json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]}),
                json!(1)
            )
            .unwrap()
            .1,
            "1 is valid under each of {'minimum': 0}, {'type': 'integer'}"
        );
        assert_eq!(
            first(
                json!({"items": [{}], "additionalItems": false}),
                json!([1, 2])
            )
            .unwrap()
            .1,
            "Additional items are not allowed (2 was unexpected)"
        );
        assert_eq!(
            first(json!({"multipleOf": 3}), json!(7)).unwrap().1,
            "7 is not a multiple of 3"
        );
        assert!(first(json!({"multipleOf": 0.5}), json!(1.5)).is_none());
    }

    /// `i64::MIN % -1` overflows: `{"multipleOf": -1}` against -9223372036854775808 panicked
    /// ("attempt to calculate the remainder with overflow"). Every numeric keyword against
    /// every pair of edge numbers, each kind of instance.
    #[test]
    fn numeric_keywords_on_edge_numbers_never_panic() {
        assert!(first(json!({"multipleOf": -1}), json!(i64::MIN)).is_none());
        assert!(first(json!({"multipleOf": 2}), json!(i64::MIN)).is_none());
        assert!(first(json!({"multipleOf": 3}), json!(i64::MIN)).is_some());
        let numbers = [
            json!(i64::MIN),
            json!(i64::MAX),
            json!(-1),
            json!(0),
            json!(1),
            json!(u64::MAX),
            json!(0.0),
            json!(-0.0),
            json!(0.5),
            json!(1e308),
            json!(-1e308),
            json!(5e-324),
        ];
        let keywords = [
            "multipleOf",
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
        ];
        let others = [json!("abc"), json!([1, 2]), json!({"a": 1}), json!(null)];
        for keyword in keywords {
            for limit in &numbers {
                for instance in numbers.iter().chain(&others) {
                    let _ = first(json!({ keyword: limit }), instance.clone());
                }
            }
        }
    }
}

//! Pack configs at run time: the registered values with `{{ st2kv... }}` templates rendered
//! (minijinja), secrets decrypted, and schema defaults filled in, as StackStorm's
//! `ContentPackConfigLoader` does (spec `register-configs.md` §6, upstream
//! `st2common/st2common/util/config_loader.py`); and masking of secret values for display
//! (§8), through [`mask_secrets`] only.
//!
//! Differences from StackStorm, on purpose ([fix] in the spec): templates in schema defaults
//! are rendered too (st2#4986), and one that cannot be is handed over as written (as upstream
//! hands every default over) with a warning; a rendered value is cast to its property's
//! `type` (datastore values are strings); a template that refers to a datastore key that does
//! not exist is an error when the property is `required` (a warning otherwise) instead of
//! silently becoming null; secrets are masked also where they are reached through
//! `patternProperties`, `additionalProperties` and `$ref`s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, Value as JinjaValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::schema::{self, is_template};
use crate::store::{KeyRecord, KeyScope};

pub(crate) use crate::redact::MASK;

/// Decrypts a datastore value (StackStorm's key file format): `(ciphertext, key name)`.
pub(crate) type Decrypt = dyn Fn(&str, &str) -> Result<String, String> + Send + Sync;

/// The datastore as templates see it: a snapshot of the items, and how to decrypt them.
#[derive(Clone)]
pub(crate) struct KeySnapshot {
    items: Arc<HashMap<(&'static str, String), KeyRecord>>,
    decrypt: Arc<Decrypt>,
    /// Every plaintext decrypted through this snapshot (and its clones), for masking.
    revealed: Arc<Mutex<Vec<String>>>,
}

impl KeySnapshot {
    /// A snapshot of `items` (expired ones already left out).
    pub(crate) fn new(items: Vec<KeyRecord>, decrypt: Arc<Decrypt>) -> KeySnapshot {
        let items = items
            .into_iter()
            .map(|item| ((item.scope.as_str(), item.name.clone()), item))
            .collect();
        KeySnapshot {
            items: Arc::new(items),
            decrypt,
            revealed: Arc::default(),
        }
    }

    /// Decrypt a datastore value, remembering the plaintext (see [`KeySnapshot::revealed`]).
    pub(crate) fn decrypt(&self, ciphertext: &str, name: &str) -> Result<String, String> {
        let plaintext = (self.decrypt)(ciphertext, name)?;
        self.revealed
            .lock()
            .expect("not poisoned")
            .push(plaintext.clone());
        Ok(plaintext)
    }

    /// The secrets decrypted so far: what a run must mask in its output ([`crate::redact`]).
    pub(crate) fn revealed(&self) -> Vec<String> {
        self.revealed.lock().expect("not poisoned").clone()
    }

    fn get(&self, scope: KeyScope, name: &str) -> Option<&KeyRecord> {
        self.items.get(&(scope.as_str(), name.to_string()))
    }
}

/// Why a config could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ResolveError(pub String);

/// A resolved config, and what deserves a warning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    /// What the action gets as `config`.
    pub values: Value,
    /// Templates that referred to missing datastore keys, on optional properties.
    pub warnings: Vec<String>,
}

/// Resolve a pack's registered config for a run by `user`, as StackStorm's
/// `ContentPackConfigLoader.get_config` does: render the templates of the registered values
/// (decrypting secrets, casting rendered values), then fill in schema defaults (also with no
/// config at all), then render the templates those defaults brought in.
pub(crate) fn resolve(
    pack: &str,
    schema: Option<&Map<String, Value>>,
    values: Option<&Value>,
    user: &str,
    datastore: &KeySnapshot,
) -> Result<Resolved, ResolveError> {
    let empty = Map::new();
    let schema = schema.unwrap_or(&empty);
    let mut config = match values {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    };
    let renderer = Renderer::new(pack, user, datastore);
    let mut warnings = Vec::new();
    // `_assign_dynamic_config_values`: a registered value that cannot be resolved fails the
    // run. What a template rendered to is not walked again.
    schema::visit_config(schema, &mut config, &mut |path, item_schema, item| {
        if let Value::String(text) = item {
            if is_template(text) {
                *item = renderer.render_value(&dotted(path), text, item_schema, &mut warnings)?;
                return Ok(false);
            }
        }
        Ok::<_, ResolveError>(true)
    })?;
    // `_assign_default_values`, after rendering as upstream does it.
    let rendered = config.clone();
    schema::fill_runtime_defaults(schema, &mut config);
    // [fix] st2#4986: upstream hands templates in schema defaults over unrendered; we render
    // them. One that cannot be resolved (the pre-2.0 `{{system.x}}` forms that real packs
    // still carry, a missing key, a value that does not decrypt) is handed over as written,
    // as upstream would, with a warning: a default never fails a run.
    let _ = schema::visit_config(schema, &mut config, &mut |path, item_schema, item| {
        if !added_by_defaults(&rendered, path) {
            return Ok::<_, std::convert::Infallible>(true);
        }
        if let Value::String(text) = item {
            if is_template(text) {
                let mut default_warnings = Vec::new();
                match renderer.render_value(&dotted(path), text, item_schema, &mut default_warnings)
                {
                    Ok(value) => {
                        *item = value;
                        warnings.extend(default_warnings);
                    }
                    Err(err) => warnings.push(format!(
                        "{err}; it is the schema default, so the action gets it as written \
                         (as StackStorm hands schema defaults over)"
                    )),
                }
                return Ok(false);
            }
        }
        Ok(true)
    });
    Ok(Resolved {
        values: config,
        warnings,
    })
}

/// Whether the value at `path` was put there by the schema defaults: `before` (the config
/// before they were filled in) has nothing there.
fn added_by_defaults(before: &Value, path: &[schema::PathItem]) -> bool {
    let mut node = before;
    for item in path {
        let next = match (node, item) {
            (Value::Object(map), schema::PathItem::Key(key)) => map.get(key),
            (Value::Array(items), schema::PathItem::Index(index)) => items.get(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return true,
        }
    }
    false
}

/// Renders templates with `st2kv` in the context (config values here; action parameters
/// in `action::params`, which add their own variables).
pub(crate) struct Renderer<'a> {
    pack: &'a str,
    /// Made on first use: a run without templates never needs it, and StackStorm's filters
    /// cost a trivial run a tenth of its preparation.
    env: std::cell::OnceCell<Environment<'static>>,
    st2kv: JinjaValue,
    missing: Arc<Mutex<Vec<String>>>,
    datastore: &'a KeySnapshot,
}

impl<'a> Renderer<'a> {
    /// A renderer for the templates of `pack`, run by `user`.
    pub(crate) fn new(pack: &'a str, user: &str, datastore: &'a KeySnapshot) -> Renderer<'a> {
        let missing = Arc::new(Mutex::new(Vec::new()));
        let node = |scope| KvNode {
            scope,
            user: user.to_string(),
            prefix: String::new(),
            datastore: datastore.clone(),
            missing: missing.clone(),
        };
        let mut roots = std::collections::BTreeMap::new();
        roots.insert("system", JinjaValue::from_object(node(KeyScope::System)));
        roots.insert("user", JinjaValue::from_object(node(KeyScope::User)));
        Renderer {
            pack,
            env: std::cell::OnceCell::new(),
            st2kv: JinjaValue::from(roots),
            missing,
            datastore,
        }
    }

    /// StackStorm's `get_jinja_environment()`: strict undefined, trim/lstrip blocks, its
    /// filters, values printed as Python prints them.
    fn env(&self) -> &Environment<'static> {
        self.env.get_or_init(|| {
            let mut env = Environment::new();
            // The failing expression, which Jinja2's messages name (`'system' is undefined`),
            // is only kept with the template source: minijinja keeps it by default in debug
            // builds only, so a release build said "a variable is undefined".
            env.set_debug(true);
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            env.set_trim_blocks(true);
            env.set_lstrip_blocks(true);
            crate::expressions::register(&mut env);
            let snapshot = self.datastore.clone();
            env.add_filter("decrypt_kv", move |value: JinjaValue| {
                decrypt_kv(&snapshot, value)
            });
            env
        })
    }

    /// Render `template` with `st2kv` and `variables` in the context. Also returns the
    /// datastore keys it referred to that do not exist (they render empty).
    pub(crate) fn render(
        &self,
        template: &str,
        variables: &Map<String, Value>,
    ) -> Result<(String, Vec<String>), String> {
        self.missing.lock().expect("not poisoned").clear();
        let mut context: std::collections::BTreeMap<String, JinjaValue> = variables
            .iter()
            .map(|(name, value)| (name.clone(), JinjaValue::from_serialize(value)))
            .collect();
        context.insert("st2kv".into(), self.st2kv.clone());
        let rendered = self.env().render_str(template, context).map_err(|err| {
            jinja2_message(&err, &|name| {
                name == "st2kv" || variables.contains_key(name)
            })
        })?;
        let missing = std::mem::take(&mut *self.missing.lock().expect("not poisoned"));
        Ok((rendered, missing))
    }

    /// Render `template` as upstream's `render_values` does for action-chains: `st2kv` and
    /// the old-style `system` (`{{ system.k }}`, the datastore's system scope) in the
    /// context, after `variables`, which they override.
    pub(crate) fn render_with_system(
        &self,
        template: &str,
        variables: &Map<String, Value>,
    ) -> Result<String, String> {
        let mut context: std::collections::BTreeMap<String, JinjaValue> = variables
            .iter()
            .map(|(name, value)| (name.clone(), JinjaValue::from_serialize(value)))
            .collect();
        context.insert("st2kv".into(), self.st2kv.clone());
        if let Ok(system) = self.st2kv.get_attr("system") {
            context.insert("system".into(), system);
        }
        self.env().render_str(template, context).map_err(|err| {
            jinja2_message(&err, &|name| {
                matches!(name, "st2kv" | "system") || variables.contains_key(name)
            })
        })
    }

    /// The variables `template` uses that it does not define itself (top-level names).
    pub(crate) fn variables_of(
        &self,
        template: &str,
    ) -> Result<std::collections::HashSet<String>, String> {
        self.env()
            .template_from_str(template)
            .map(|compiled| compiled.undeclared_variables(false))
            .map_err(|err| jinja_error(&err))
    }

    fn render_value(
        &self,
        key: &str,
        template: &str,
        item_schema: &Value,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ResolveError> {
        self.missing.lock().expect("not poisoned").clear();
        let rendered = self
            .env()
            .render_str(
                template,
                minijinja::context! { st2kv => self.st2kv.clone() },
            )
            .map_err(|err| {
                ResolveError(format!(
                    "Failed to render dynamic configuration value for key \"{key}\" with value \
                     \"{template}\" for pack \"{}\" config: {}",
                    self.pack,
                    python_exception(&err, &|name| name == "st2kv")
                ))
            })?;
        let missing: Vec<String> = std::mem::take(&mut *self.missing.lock().expect("not poisoned"));
        if !missing.is_empty() {
            let message = format!(
                "config value \"{key}\" of pack \"{}\" refers to datastore {} {} that {} not exist",
                self.pack,
                if missing.len() == 1 { "key" } else { "keys" },
                missing.join(", "),
                if missing.len() == 1 { "does" } else { "do" },
            );
            if item_schema.get("required").and_then(Value::as_bool) == Some(true) {
                return Err(ResolveError(format!(
                    "{message}; set it with `st2 key set` (the property is required)"
                )));
            }
            warnings.push(format!("{message}; it is null"));
        }
        if rendered.is_empty() {
            return Ok(Value::Null);
        }
        let secret = item_schema.get("secret").and_then(Value::as_bool) == Some(true);
        let text = if secret {
            self.datastore.decrypt(&rendered, key).map_err(|reason| {
                ResolveError(format!(
                    "config value \"{key}\" of pack \"{}\" is secret, so it must come from an \
                     encrypted datastore item (st2 key set --encrypt): {reason}",
                    self.pack
                ))
            })?
        } else {
            rendered
        };
        cast(&text, item_schema).map_err(|expected| {
            ResolveError(format!(
                "config value \"{key}\" of pack \"{}\" rendered to {} which is not {expected}",
                self.pack,
                if secret {
                    MASK.to_string()
                } else {
                    schema::repr::py_str_repr(&text)
                }
            ))
        })
    }
}

/// The message of a template error, without minijinja's template-name decoration.
fn jinja_error(err: &minijinja::Error) -> String {
    jinja2_message(err, &|_| false)
}

/// A template error as upstream's config loader words it: Python's `<class '...'>` of the
/// exception Jinja2 raises in that case, then its message (`<class
/// 'jinja2.exceptions.UndefinedError'> 'st2kvXX' is undefined`). `defined` says which
/// top-level names the context has.
pub(crate) fn python_exception(err: &minijinja::Error, defined: &dyn Fn(&str) -> bool) -> String {
    format!(
        "<class '{}'> {}",
        python_class(err),
        jinja2_message(err, defined)
    )
}

/// The exception class Jinja2 raises where minijinja gives `err`.
fn python_class(err: &minijinja::Error) -> &'static str {
    match err.kind() {
        ErrorKind::UndefinedError | ErrorKind::UnknownFunction => {
            "jinja2.exceptions.UndefinedError"
        }
        ErrorKind::SyntaxError => "jinja2.exceptions.TemplateSyntaxError",
        ErrorKind::UnknownFilter | ErrorKind::UnknownTest => {
            "jinja2.exceptions.TemplateAssertionError"
        }
        // Upstream's `decrypt_kv` raises ValueError; a bad operand is a TypeError.
        ErrorKind::InvalidOperation if failing_expression(err).contains("decrypt_kv") => {
            "ValueError"
        }
        ErrorKind::InvalidOperation => "TypeError",
        _ => "jinja2.exceptions.TemplateError",
    }
}

/// The text of the expression `err` points at, empty when unknown.
fn failing_expression(err: &minijinja::Error) -> &str {
    err.range()
        .and_then(|range| err.template_source()?.get(range))
        .unwrap_or("")
}

/// The message of a template error in Jinja2's words where they are known (`'x' is
/// undefined`, `'dict object' has no attribute 'x'`, `No filter named 'x'.`), else
/// minijinja's. Syntax errors keep minijinja's description (Jinja2's parser words them
/// differently: `expected token 'end of print statement', got 'x'`).
pub(crate) fn jinja2_message(err: &minijinja::Error, defined: &dyn Fn(&str) -> bool) -> String {
    let expression = failing_expression(err).trim();
    let leading_name = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match err.kind() {
        ErrorKind::UndefinedError => {
            let (root, rest) = match expression.strip_prefix('.') {
                // minijinja points at the attribute part only (`.nope.x`).
                Some(rest) => (None, rest.to_string()),
                None => {
                    let root = leading_name(expression);
                    let rest = expression[root.len()..]
                        .trim_start_matches(['.', '[', '\'', '"'])
                        .to_string();
                    (Some(root), rest)
                }
            };
            match root {
                Some(root) if !root.is_empty() && !defined(&root) => {
                    format!("'{root}' is undefined")
                }
                _ if !leading_name(&rest).is_empty() => {
                    format!("'dict object' has no attribute '{}'", leading_name(&rest))
                }
                _ => match err.detail() {
                    Some(detail) => format!("{detail} is undefined"),
                    None => "a variable is undefined".to_string(),
                },
            }
        }
        ErrorKind::UnknownFunction => {
            let name = leading_name(expression);
            if name.is_empty() {
                detail_or_kind(err)
            } else {
                format!("'{name}' is undefined")
            }
        }
        ErrorKind::UnknownFilter | ErrorKind::UnknownTest => {
            let name = leading_name(expression);
            let what = if err.kind() == ErrorKind::UnknownFilter {
                "filter"
            } else {
                "test"
            };
            if name.is_empty() {
                detail_or_kind(err)
            } else {
                format!("No {what} named '{name}'.")
            }
        }
        ErrorKind::SyntaxError | ErrorKind::InvalidOperation => err
            .detail()
            .map_or_else(|| detail_or_kind(err), str::to_string),
        _ => detail_or_kind(err),
    }
}

fn detail_or_kind(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

/// Cast a rendered string to the property's declared type ([fix] st2docs#510); the error
/// says what was expected ("an integer").
pub(crate) fn cast(text: &str, item_schema: &Value) -> Result<Value, String> {
    let kind = item_schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match kind {
        "integer" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "an integer".to_string()),
        "number" => {
            let trimmed = text.trim();
            if let Ok(int) = trimmed.parse::<i64>() {
                return Ok(Value::from(int));
            }
            trimmed
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .ok_or_else(|| "a number".to_string())
        }
        "boolean" => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err("a boolean".to_string()),
        },
        "object" | "array" => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) if kind == "object" => Ok(value),
            Ok(value @ Value::Array(_)) if kind == "array" => Ok(value),
            _ => Err(format!("a JSON {kind}")),
        },
        _ => Ok(Value::String(text.to_string())),
    }
}

/// `st2kv.system` / `st2kv.user` and every `.name` below them: renders as the value of the
/// key named by the dotted path (`st2kv.system.a.b` is the key `a.b`), empty when missing.
#[derive(Debug)]
struct KvNode {
    scope: KeyScope,
    user: String,
    prefix: String,
    datastore: KeySnapshot,
    missing: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for KeySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySnapshot({} items)", self.items.len())
    }
}

impl KvNode {
    fn stored_name(&self) -> String {
        match self.scope {
            KeyScope::System => self.prefix.clone(),
            KeyScope::User => format!("{}:{}", self.user, self.prefix),
        }
    }

    fn shown_name(&self) -> String {
        format!("{}.{}", self.scope.as_str(), self.prefix)
    }

    fn record(&self) -> Option<&KeyRecord> {
        self.datastore.get(self.scope, &self.stored_name())
    }
}

impl Object for KvNode {
    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let key = key.as_str()?;
        let prefix = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        Some(JinjaValue::from_object(KvNode {
            scope: self.scope,
            user: self.user.clone(),
            prefix,
            datastore: self.datastore.clone(),
            missing: self.missing.clone(),
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record() {
            Some(record) => f.write_str(&record.value),
            None => {
                self.missing
                    .lock()
                    .expect("not poisoned")
                    .push(self.shown_name());
                Ok(())
            }
        }
    }
}

/// The `decrypt_kv` filter: decrypt a datastore value.
fn decrypt_kv(datastore: &KeySnapshot, value: JinjaValue) -> Result<String, minijinja::Error> {
    let (ciphertext, name) = match value.downcast_object_ref::<KvNode>() {
        Some(node) => {
            let shown = node.shown_name();
            match node.record().filter(|record| !record.value.is_empty()) {
                Some(record) => (record.value.clone(), shown),
                None => {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "Referenced datastore item \"{shown}\" doesn't exist or it contains \
                             an empty string"
                        ),
                    ))
                }
            }
        }
        None => (value.to_string(), "value".to_string()),
    };
    datastore
        .decrypt(&ciphertext, &name)
        .map_err(|reason| minijinja::Error::new(ErrorKind::InvalidOperation, reason))
}

/// A copy of `values` with every secret value replaced by [`MASK`]: what every display of a
/// config shows (`st2 pack config show`, `st2 pack config`, run output). Which values are
/// secret is [`schema::visit_config_secrets`]'s answer (nested, pattern and additional
/// properties, `$ref`s followed).
pub(crate) fn mask_secrets(schema: Option<&Map<String, Value>>, values: &Value) -> Value {
    let Some(schema) = schema else {
        return values.clone();
    };
    let mut values = values.clone();
    schema::visit_config_secrets(schema, &mut values, &mut |_, item| {
        *item = Value::String(MASK.into());
    });
    values
}

/// Whether `value` is a datastore reference and nothing else (`{{ st2kv.system.key }}`,
/// `{{ st2kv.user.key | decrypt_kv }}`): shown as written, also for a secret property (the
/// reference says where the secret is, it is not the secret; upstream's API shows it too). A
/// template with text of its own around or in it could hold a literal secret, so only this
/// form is shown.
pub(crate) fn is_datastore_reference(value: &Value) -> bool {
    let Some(inner) = value
        .as_str()
        .map(str::trim)
        .and_then(|text| text.strip_prefix("{{"))
        .and_then(|text| text.strip_suffix("}}"))
    else {
        return false;
    };
    let inner = inner.trim();
    inner.starts_with("st2kv.")
        && !inner.contains("{{")
        && !inner.contains("}}")
        && !inner.contains(['\'', '"', '~', '+'])
}

/// [`mask_secrets`], but datastore references in secret properties are shown as written
/// ([`is_datastore_reference`]): what `st2 pack config` and `st2 pack config show` show.
pub(crate) fn mask_literal_secrets(schema: Option<&Map<String, Value>>, values: &Value) -> Value {
    let Some(schema) = schema else {
        return values.clone();
    };
    let mut values = values.clone();
    schema::visit_config_secrets(schema, &mut values, &mut |_, item| {
        if !is_datastore_reference(item) {
            *item = Value::String(MASK.into());
        }
    });
    values
}

/// `a.0.b`, as StackStorm names a config value in messages.
fn dotted(path: &[schema::PathItem]) -> String {
    path.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(scope: KeyScope, name: &str, value: &str, secret: bool) -> KeyRecord {
        KeyRecord {
            scope,
            name: name.into(),
            value: value.into(),
            secret,
            expire_at: None,
            updated_at: String::new(),
        }
    }

    /// "Encryption" for tests: `enc:` + text.
    fn snapshot() -> KeySnapshot {
        KeySnapshot::new(
            vec![
                item(KeyScope::System, "api_token", "tok", false),
                item(KeyScope::System, "a.b", "dotted", false),
                item(KeyScope::System, "port", "8080", false),
                item(KeyScope::System, "secret_pw", "enc:pw", true),
                item(KeyScope::User, "stanley:mine", "user value", false),
                item(KeyScope::System, "empty", "", false),
            ],
            Arc::new(|ciphertext: &str, name: &str| {
                ciphertext
                    .strip_prefix("enc:")
                    .map(str::to_string)
                    .ok_or_else(|| format!("Failed to verify the integrity of the provided value for key \"{name}\"."))
            }),
        )
    }

    fn resolve_with(schema: Value, values: Value) -> Result<Resolved, ResolveError> {
        resolve(
            "demo",
            schema.as_object(),
            Some(&values),
            "stanley",
            &snapshot(),
        )
    }

    #[test]
    fn templates_render_from_the_datastore_and_defaults_follow() {
        let schema = json!({
            "token": {"type": "string"},
            "dotted": {"type": "string"},
            "port": {"type": "integer"},
            "mine": {"type": "string"},
            "password": {"type": "string", "secret": true},
            "explicit": {"type": "string"},
            "nested": {"type": "object", "properties": {"t": {"type": "string"}, "d": {"default": 1}}},
            "url": {"type": "string", "default": "https://{{ st2kv.system.api_token }}/x"},
        });
        let resolved = resolve_with(
            schema,
            json!({
                "token": "{{ st2kv.system.api_token }}",
                "dotted": "{{ st2kv.system.a.b }}",
                "port": "{{ st2kv.system.port }}",
                "mine": "{{ st2kv.user.mine }}",
                "password": "{{ st2kv.system.secret_pw }}",
                "explicit": "{{ st2kv.system.secret_pw | decrypt_kv }}",
                "nested": {"t": "x-{{ st2kv.system.api_token }}"},
                "list": ["{{ st2kv.system.api_token }}", 3],
                "literal": 5,
            }),
        )
        .unwrap();
        assert_eq!(
            resolved.values,
            json!({
                "token": "tok", "dotted": "dotted", "port": 8080, "mine": "user value",
                "password": "pw", "explicit": "pw", "nested": {"t": "x-tok", "d": 1},
                "list": ["tok", 3], "literal": 5,
                "url": "https://tok/x",
            })
        );
        assert!(resolved.warnings.is_empty());
    }

    #[test]
    fn missing_keys_and_bad_templates_are_reported() {
        let optional = resolve_with(
            json!({"x": {"type": "string"}}),
            json!({"x": "{{ st2kv.system.nope }}"}),
        )
        .unwrap();
        assert_eq!(optional.values, json!({"x": null}));
        assert!(
            optional.warnings[0].contains("st2kv.system.nope"),
            "{:?}",
            optional.warnings
        );
        let required = resolve_with(
            json!({"x": {"type": "string", "required": true}}),
            json!({"x": "{{ st2kv.system.nope }}"}),
        )
        .unwrap_err();
        assert!(
            required
                .0
                .contains("datastore key st2kv.system.nope that does not exist"),
            "{required}"
        );
        let undefined =
            resolve_with(json!({}), json!({"lvl": [{"a": "{{ foo.bar }}"}]})).unwrap_err();
        assert!(
            undefined.0.starts_with(
                "Failed to render dynamic configuration value for key \"lvl.0.a\" with value \"{{ foo.bar }}\" for pack \"demo\" config:"
            ),
            "{undefined}"
        );
        assert!(undefined.0.contains("undefined"), "{undefined}");
        let empty = resolve_with(
            json!({}),
            json!({"x": "{{ st2kv.system.empty | decrypt_kv }}"}),
        )
        .unwrap_err();
        assert!(empty.0.contains("Referenced datastore item \"st2kv.system.empty\" doesn't exist or it contains an empty string"), "{empty}");
        let not_encrypted = resolve_with(
            json!({"x": {"type": "string", "secret": true}}),
            json!({"x": "{{ st2kv.system.api_token }}"}),
        )
        .unwrap_err();
        assert!(
            not_encrypted.0.contains("Failed to verify the integrity"),
            "{not_encrypted}"
        );
        let bad_cast = resolve_with(
            json!({"n": {"type": "integer"}}),
            json!({"n": "{{ st2kv.system.api_token }}"}),
        )
        .unwrap_err();
        assert!(
            bad_cast
                .0
                .contains("rendered to 'tok' which is not an integer"),
            "{bad_cast}"
        );
    }

    #[test]
    fn no_config_still_gets_defaults() {
        let resolved = resolve(
            "demo",
            json!({"a": {"default": 1}}).as_object(),
            None,
            "stanley",
            &snapshot(),
        )
        .unwrap();
        assert_eq!(resolved.values, json!({"a": 1}));
    }

    #[test]
    fn secrets_are_masked_at_every_depth() {
        let schema = json!({
            "token": {"type": "string", "secret": true},
            "auth": {"type": "object", "properties": {"password": {"secret": true}}},
            "hosts": {"type": "array", "items": {"type": "object", "properties": {"key": {"secret": true}}}},
        });
        let masked = mask_secrets(
            schema.as_object(),
            &json!({"token": "t", "auth": {"password": "p", "user": "u"}, "hosts": [{"key": "k", "name": "n"}], "other": 1}),
        );
        assert_eq!(
            masked,
            json!({"token": MASK, "auth": {"password": MASK, "user": "u"}, "hosts": [{"key": MASK, "name": "n"}], "other": 1})
        );
    }
    #[test]
    fn template_errors_are_worded_as_upstream_words_them() {
        let message = |template: &str| {
            resolve_with(json!({}), json!({"k": template}))
                .unwrap_err()
                .0
                .split(" config: ")
                .nth(1)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            message("{{st2kvXX.invalid}}"),
            "<class 'jinja2.exceptions.UndefinedError'> 'st2kvXX' is undefined"
        );
        assert_eq!(
            message("x {{ system.host }}"),
            "<class 'jinja2.exceptions.UndefinedError'> 'system' is undefined"
        );
        assert_eq!(
            message("{{ st2kv.sys }}"),
            "<class 'jinja2.exceptions.UndefinedError'> 'dict object' has no attribute 'sys'"
        );
        assert_eq!(
            message("{{ st2kv.nope.x }}"),
            "<class 'jinja2.exceptions.UndefinedError'> 'dict object' has no attribute 'nope'"
        );
        assert_eq!(
            message("{{ foo() }}"),
            "<class 'jinja2.exceptions.UndefinedError'> 'foo' is undefined"
        );
        assert_eq!(
            message("{{ st2kv.system.api_token | nofilter }}"),
            "<class 'jinja2.exceptions.TemplateAssertionError'> No filter named 'nofilter'."
        );
        assert!(message("{{ this is some invalid Jinja }}")
            .starts_with("<class 'jinja2.exceptions.TemplateSyntaxError'> "),);
        assert_eq!(
            message("{{ st2kv.system.empty | decrypt_kv }}"),
            "<class 'ValueError'> Referenced datastore item \"st2kv.system.empty\" doesn't \
             exist or it contains an empty string"
        );
    }

    #[test]
    fn defaults_that_cannot_be_resolved_are_handed_over_as_written() {
        let schema = json!({
            "host": {"type": "string", "default": "{{system.brcd_sd_host}}"},
            "vtm": {"type": "string", "default": "{{user.brcd_vtm_host}}", "secret": true},
            "token": {"type": "string", "required": true, "default": "{{ st2kv.system.nope }}"},
            "plain": {"type": "string", "default": "{{ st2kv.system.not_encrypted }}", "secret": true},
            "good": {"type": "integer", "default": "{{ st2kv.system.port }}"},
            "gone": {"type": "string", "default": "{{ st2kv.system.nope }}"},
        });
        let resolved = resolve(
            "demo",
            schema.as_object(),
            None,
            "stanley",
            &KeySnapshot::new(
                vec![
                    item(KeyScope::System, "port", "8080", false),
                    item(KeyScope::System, "not_encrypted", "x", false),
                ],
                Arc::new(|_: &str, name: &str| Err(format!("cannot decrypt {name}"))),
            ),
        )
        .unwrap();
        assert_eq!(
            resolved.values,
            json!({
                "host": "{{system.brcd_sd_host}}", "vtm": "{{user.brcd_vtm_host}}",
                "token": "{{ st2kv.system.nope }}", "plain": "{{ st2kv.system.not_encrypted }}",
                "good": 8080, "gone": null,
            })
        );
        let warnings = resolved.warnings.join("\n");
        assert_eq!(resolved.warnings.len(), 5, "{warnings}");
        assert!(
            warnings.contains("for key \"host\" with value \"{{system.brcd_sd_host}}\" for pack \"demo\" config: <class 'jinja2.exceptions.UndefinedError'> 'system' is undefined; it is the schema default, so the action gets it as written"),
            "{warnings}"
        );
        // The same template in the registered values fails the run, as upstream's does.
        let err = resolve_with(
            json!({"host": {"type": "string"}}),
            json!({"host": "{{system.brcd_sd_host}}"}),
        )
        .unwrap_err();
        assert!(err.0.contains("'system' is undefined"), "{err}");
    }

    #[test]
    fn rendered_values_are_not_rendered_again() {
        let snapshot = KeySnapshot::new(
            vec![item(
                KeyScope::System,
                "obj",
                r#"{"a": "{{ st2kv.system.obj }}"}"#,
                false,
            )],
            Arc::new(|_: &str, _: &str| Err("no".into())),
        );
        let schema = json!({"o": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"default": 1}}}});
        let resolved = resolve(
            "demo",
            schema.as_object(),
            Some(&json!({"o": "{{ st2kv.system.obj }}", "s": "{{ st2kv.system.obj }}"})),
            "stanley",
            &snapshot,
        )
        .unwrap();
        assert_eq!(
            resolved.values,
            json!({"o": {"a": "{{ st2kv.system.obj }}", "b": 1}, "s": r#"{"a": "{{ st2kv.system.obj }}"}"#})
        );
    }

    #[test]
    fn secrets_reached_through_refs_and_patterns_are_masked() {
        // The shape of the Exchange `sql` pack's schema.
        let schema = json!({
            "connections": {"type": "object", "patternProperties": {"^\\w+": {"$ref": "#/properties/connection"}}},
            "connection": {"type": "object", "properties": {"password": {"type": "string", "secret": true}}},
            "by_ref": {"$ref": "#/properties/key"},
            "key": {"type": "string", "secret": true},
            "looped": {"type": "object", "properties": {"next": {"$ref": "#/properties/looped"}}},
            "nowhere": {"type": "object", "properties": {"x": {"$ref": "#/properties/missing"}}},
        });
        let masked = mask_secrets(
            schema.as_object(),
            &json!({
                "connections": {"db1": {"password": "p1", "host": "h"}, "db2": {"password": null}},
                "by_ref": "k", "key": "k2",
                "looped": {"next": {"next": {"next": "end"}}},
                "nowhere": {"x": "shown"},
            }),
        );
        assert_eq!(
            masked,
            json!({
                "connections": {"db1": {"password": MASK, "host": "h"}, "db2": {"password": null}},
                "by_ref": MASK, "key": MASK,
                "looped": {"next": {"next": {"next": "end"}}},
                "nowhere": {"x": "shown"},
            })
        );
    }
}

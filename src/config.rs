//! Pack configs at run time: the registered values with `{{ st2kv... }}` templates rendered
//! (minijinja), secrets decrypted, and schema defaults filled in, as StackStorm's
//! `ContentPackConfigLoader` does (spec `register-configs.md` §6); and masking of secret
//! values for display (§8).
//!
//! Differences from StackStorm, on purpose ([fix] in the spec): defaults are filled before
//! rendering, so templates in schema defaults work (st2#4986); a rendered value is cast to
//! its property's `type` (datastore values are strings), and a template that refers to a
//! datastore key that does not exist is an error when the property is `required` (a warning
//! otherwise) instead of silently becoming null.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, Value as JinjaValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::schema::{self, is_template};
use crate::store::{KeyRecord, KeyScope};

/// What is shown instead of a secret value.
pub const MASK: &str = "********";

/// Decrypts a datastore value (StackStorm's key file format): `(ciphertext, key name)`.
pub type Decrypt = dyn Fn(&str, &str) -> Result<String, String> + Send + Sync;

/// The datastore as templates see it: a snapshot of the items, and how to decrypt them.
#[derive(Clone)]
pub struct KeySnapshot {
    items: Arc<HashMap<(&'static str, String), KeyRecord>>,
    decrypt: Arc<Decrypt>,
}

impl KeySnapshot {
    /// A snapshot of `items` (expired ones already left out).
    pub fn new(items: Vec<KeyRecord>, decrypt: Arc<Decrypt>) -> KeySnapshot {
        let items = items
            .into_iter()
            .map(|item| ((item.scope.as_str(), item.name.clone()), item))
            .collect();
        KeySnapshot {
            items: Arc::new(items),
            decrypt,
        }
    }

    fn get(&self, scope: KeyScope, name: &str) -> Option<&KeyRecord> {
        self.items.get(&(scope.as_str(), name.to_string()))
    }
}

/// Why a config could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// A resolved config, and what deserves a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// What the action gets as `config`.
    pub values: Value,
    /// Templates that referred to missing datastore keys, on optional properties.
    pub warnings: Vec<String>,
}

/// Resolve a pack's registered config for a run by `user`: fill schema defaults (also with
/// no config at all), then render templates, decrypt secrets and cast rendered values.
pub fn resolve(
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
    // [fix] st2#4986: defaults first, so that templates in schema defaults are rendered too.
    schema::fill_runtime_defaults(schema, &mut config);
    let renderer = Renderer::new(pack, user, datastore);
    let mut warnings = Vec::new();
    schema::visit_config(schema, &mut config, &mut |path, item_schema, item| {
        if let Value::String(text) = item {
            if is_template(text) {
                let key = dotted(path);
                *item = renderer.render_value(&key, text, item_schema, &mut warnings)?;
            }
        }
        Ok::<_, ResolveError>(true)
    })?;
    Ok(Resolved {
        values: config,
        warnings,
    })
}

/// Renders templates with `st2kv` in the context (config values here; action parameters
/// in [`crate::action::params`], which add their own variables).
pub struct Renderer<'a> {
    pack: &'a str,
    env: Environment<'static>,
    st2kv: JinjaValue,
    missing: Arc<Mutex<Vec<String>>>,
    datastore: &'a KeySnapshot,
}

impl<'a> Renderer<'a> {
    /// A renderer for the templates of `pack`, run by `user`.
    pub fn new(pack: &'a str, user: &str, datastore: &'a KeySnapshot) -> Renderer<'a> {
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
        // StackStorm's `get_jinja_environment()`: strict undefined, trim/lstrip blocks, its
        // filters, values printed as Python prints them.
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        crate::expressions::register(&mut env);
        let snapshot = datastore.clone();
        env.add_filter("decrypt_kv", move |value: JinjaValue| {
            decrypt_kv(&snapshot, value)
        });
        Renderer {
            pack,
            env,
            st2kv: JinjaValue::from(roots),
            missing,
            datastore,
        }
    }

    /// Render `template` with `st2kv` and `variables` in the context. Also returns the
    /// datastore keys it referred to that do not exist (they render empty).
    pub fn render(
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
        let rendered = self
            .env
            .render_str(template, context)
            .map_err(|err| jinja_error(&err))?;
        let missing = std::mem::take(&mut *self.missing.lock().expect("not poisoned"));
        Ok((rendered, missing))
    }

    /// The variables `template` uses that it does not define itself (top-level names).
    pub fn variables_of(
        &self,
        template: &str,
    ) -> Result<std::collections::HashSet<String>, String> {
        self.env
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
            .env
            .render_str(
                template,
                minijinja::context! { st2kv => self.st2kv.clone() },
            )
            .map_err(|err| {
                ResolveError(format!(
                    "Failed to render dynamic configuration value for key \"{key}\" with value \
                     \"{template}\" for pack \"{}\" config: {}",
                    self.pack,
                    jinja_error(&err)
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
            (self.datastore.decrypt)(&rendered, key).map_err(|reason| {
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
    match err.kind() {
        ErrorKind::UndefinedError => format!(
            "{} is undefined",
            err.detail().unwrap_or("a variable").trim()
        ),
        _ => match err.detail() {
            Some(detail) => format!("{}: {detail}", err.kind()),
            None => err.kind().to_string(),
        },
    }
}

/// Cast a rendered string to the property's declared type ([fix] st2docs#510); the error
/// says what was expected ("an integer").
pub fn cast(text: &str, item_schema: &Value) -> Result<Value, String> {
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
    (datastore.decrypt)(&ciphertext, &name)
        .map_err(|reason| minijinja::Error::new(ErrorKind::InvalidOperation, reason))
}

/// A copy of `values` with every property marked `secret: true` in `schema` (nested too)
/// replaced by [`MASK`].
pub fn mask_secrets(schema: Option<&Map<String, Value>>, values: &Value) -> Value {
    let Some(schema) = schema else {
        return values.clone();
    };
    let mut values = values.clone();
    let _ = schema::visit_config(schema, &mut values, &mut |_, item_schema, item| {
        let secret = item_schema.get("secret").and_then(Value::as_bool) == Some(true);
        if secret && !item.is_null() {
            *item = Value::String(MASK.into());
        }
        Ok::<_, std::convert::Infallible>(!secret)
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
}

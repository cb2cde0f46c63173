//! StackStorm's schema dialect: checking `config.schema.yaml` files and action parameter
//! schemas, validating pack configs against them with defaults filled in, and the defaults
//! StackStorm applies when an action runs.
//!
//! The dialect (spec `register-configs.md` §4–§6, `st2common/st2common/util/schema/`): a
//! schema file is a bare map `key: property schema`, wrapped as the `properties` of an object
//! that allows additional keys; `required` is a boolean on each property; top-level property
//! schemas are checked against StackStorm's `action_params.json` meta-schema (one simple
//! `type`, extra keywords `secret`, `immutable`, `position`), nested ones against its
//! `custom.json` (plain draft 4 with boolean `required`). Both meta-schemas are embedded
//! verbatim from StackStorm 3.9.0 (Apache-2.0). An action's `output_schema` is checked
//! against StackStorm's `action_output_schema.json` (also verbatim), whose `"$ref": "#"`
//! lands, through its draft 4 `id`, where every meta-schema's does: on `custom.json`.

//!
//! Its parts: `meta.rs` (the meta-schemas and the checks of declared schemas), `validate.rs`
//! (parameters and configs validated), `defaults.rs` (defaults at validation and at run
//! time), `walk.rs` (a config walked with the schema of each value, and its secrets),
//! `validator.rs` with `keywords.rs` (the jsonschema 3.2 validator) and `repr.rs` (Python's
//! `repr` of the values in its messages).

mod defaults;
mod keywords;
mod meta;
pub(crate) mod output_secrets;
pub mod repr;
mod validate;
pub mod validator;
mod walk;

pub use defaults::{allow_default_none, assign_default_values, fill_runtime_defaults};
pub use meta::{check_config_schema, check_output_schema, check_parameters_schema};
pub use validate::{
    object_schema_for, validate_config, validate_parameters, ConfigInvalid, DECRYPT_KV_ON_SECRET,
};
pub use validator::{is_template, PathItem, ValidationError};
pub use walk::{
    array_items_schema, config_schema_root, object_properties_schema, resolve_config_ref,
    visit_config, visit_config_secrets,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn messages(schema: Value, config: Value) -> Vec<String> {
        match validate_config(&map(schema), &config) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.dotted_path(), e.message))
                .collect(),
        }
    }

    #[test]
    fn secret_values_are_not_quoted_in_config_errors() {
        let schema = json!({
            "pin": {"type": "integer", "secret": true},
            "mode": {"type": "string", "enum": ["a", "b"], "secret": true},
            "nested": {"type": "object", "properties": {
                "key": {"type": "integer", "secret": true}}},
            "plain": {"type": "integer"},
        });
        let config = json!({"pin": "hunter2", "mode": "hunter3",
                            "nested": {"key": "hunter4"}, "plain": "visible"});
        let errors = messages(schema, config).join("\n");
        assert!(!errors.contains("hunter"), "{errors}");
        assert!(
            errors.contains("pin: '********' is not of type 'integer'"),
            "{errors}"
        );
        assert!(
            errors.contains("nested.key: '********' is not of type 'integer'"),
            "{errors}"
        );
        assert!(
            errors.contains("plain: 'visible' is not of type 'integer'"),
            "{errors}"
        );
    }

    #[test]
    fn schema_files_are_checked_like_config_schema_api() {
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "string"}})),
            Ok(())
        );
        assert_eq!(
            check_config_schema(&json!({"api-key": {"type": "string"}})),
            Err("'api-key' does not match any of the regexes: '^\\\\w+$'".into())
        );
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "string", "requried": true}})),
            Err("a: Additional properties are not allowed ('requried' was unexpected)".into())
        );
        assert_eq!(
            check_config_schema(&json!({"a": {"type": "object", "required": ["b"]}})),
            Err("a.required: ['b'] is not of type 'boolean'".into())
        );
        assert!(check_config_schema(&json!({"a": {"type": ["string", "null"]}})).is_err());
        assert!(check_config_schema(&json!({"a": {"$ref": "#/properties/b"}})).is_err());
        // Nested schemas: type lists, $ref and unknown keywords pass, boolean required too.
        assert_eq!(
            check_config_schema(&json!({
                "shared": {"type": "object"},
                "a": {"type": "object", "properties": {
                    "x": {"type": ["string", "null"], "requried": 1, "required": true},
                    "y": {"$ref": "#/properties/shared"},
                }},
            })),
            Ok(())
        );
        assert_eq!(check_config_schema(&json!({"a": {}})), Ok(()));
        assert_eq!(
            check_config_schema(&json!({"a": {"position": -1}})),
            Err("a.position: -1 is less than the minimum of 0".into())
        );
    }

    #[test]
    fn configs_get_defaults_and_nullable_optionals() {
        let schema = json!({
            "count": {"type": "integer", "default": 5},
            "token": {"type": "string", "required": true, "secret": true},
            "opt": {"type": "string"},
            "auth": {"type": "object", "properties": {
                "host": {"type": "string", "required": true},
                "port": {"type": "integer", "default": 22},
            }},
            "instances": {"type": "array", "items": {"type": "object", "properties": {
                "alias": {"type": "string", "required": true},
                "port": {"type": "integer", "default": 22},
            }}},
        });
        let cleaned = validate_config(
            &map(schema.clone()),
            &json!({"token": "t", "opt": null, "count": null, "auth": {"host": "h"},
                    "instances": [{"alias": "x"}]}),
        )
        .unwrap();
        assert_eq!(cleaned["count"], json!(5));
        assert_eq!(cleaned["auth"], json!({"host": "h", "port": 22}));
        assert_eq!(cleaned["instances"], json!([{"alias": "x", "port": 22}]));
        assert_eq!(
            messages(schema.clone(), json!({"count": "thirty", "token": "t"})),
            vec!["count: 'thirty' is not of type 'integer'"]
        );
        assert_eq!(
            messages(schema.clone(), json!({})),
            vec!["token: 'token' is a required property"]
        );
        assert_eq!(
            messages(
                schema.clone(),
                json!({"token": "t", "auth": {}, "instances": [{}]})
            ),
            vec![
                "auth.host: 'host' is a required property",
                "instances.0.alias: 'alias' is a required property"
            ]
        );
        // Templates pass type checks at registration.
        assert_eq!(
            messages(
                schema.clone(),
                json!({"token": "t", "count": "{{ st2kv.system.count }}"})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(
                schema,
                json!({"token": "{{ st2kv.system.t | decrypt_kv }}"})
            ),
            vec![format!("token: {DECRYPT_KV_ON_SECRET}")]
        );
        assert_eq!(
            messages(json!({"n": {"type": "string"}}), json!({"n": 22})),
            vec!["n: 22 is not of type 'string', 'null'"]
        );
    }

    #[test]
    fn refs_to_other_top_level_keys_resolve() {
        let schema = json!({
            "shared": {"type": "object", "properties": {"port": {"type": "integer"}}},
            "list": {"type": "array", "items": {"$ref": "#/properties/shared"}},
        });
        assert_eq!(
            messages(schema, json!({"list": [{"port": "x"}]})),
            vec!["list.0.port: 'x' is not of type 'integer', 'null'"]
        );
    }

    #[test]
    fn runtime_defaults_follow_the_config_loader() {
        let schema = map(json!({
            "auth": {"type": "object", "properties": {"host": {"default": "h"}}},
            "inst": {"type": "array", "items": {"type": "object", "properties": {"port": {"default": 22}}}},
            "a": {"default": "d"},
            "b": {"default": 1},
            "extra": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"default": 1}}}},
        }));
        let mut config = json!({"inst": [{"alias": "x"}], "a": null, "extra": {"k": {}}});
        fill_runtime_defaults(&schema, &mut config);
        assert_eq!(
            config,
            json!({"inst": [{"alias": "x", "port": 22}], "a": null, "extra": {"k": {"x": 1}},
                   "auth": {"host": "h"}, "b": 1})
        );
    }
}

/// Property tests: whatever the schema and the instance, the dialect answers, never panics.
#[cfg(test)]
mod proptests {
    use super::validator::Validator;
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    /// Keys that schemas and instances share, so properties, patterns and refs meet.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["a", "b", "x", "port", "api-key", "", "items"])
                .prop_map(str::to_string),
            any::<String>(),
        ]
    }

    /// Numbers on the edges: i64::MIN and -1 (whose remainder overflows), zero, huge and
    /// tiny floats, u64 beyond i64.
    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            3 => prop::sample::select(vec![i64::MIN, -1, 0, i64::MAX]).prop_map(Value::from),
            1 => prop::sample::select(vec![0.0, -0.0, 0.5, -1.5, 1e308, -1e308, 5e-324, 1.0])
                .prop_map(Value::from),
            1 => any::<f64>().prop_map(Value::from),
        ]
    }

    /// Strings, templates among them (they pass the checks when asked).
    fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::sample::select(vec![
                "{{ st2kv.system.x }}",
                "{{ st2kv.system.t | decrypt_kv }}",
                "{% if x %}",
                "",
                "abc",
            ])
            .prop_map(str::to_string),
        ]
    }

    /// Any JSON value.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// Regex patterns: valid, invalid, ones Rust's engine refuses (look-around,
    /// back-references), and anything.
    fn pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "^\\w+$",
                "(",
                "[",
                "a{2,1}",
                "(?=x)",
                "(a)\\1",
                "\\",
                "*",
                "^$",
                ".*",
                "[^]",
                "(?P<n>",
                "\\p{Nope}",
                "",
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ]
    }

    /// `$ref`s into the schema itself (looping too), to missing places, to the draft-4
    /// meta-schema, to other documents, and anything.
    fn reference() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "#",
                "#",
                "#/properties/a",
                "#/properties/a/properties/b",
                "#/items/0",
                "#/definitions/x",
                "#/%ZZ/~2",
                "#/nowhere",
                "http://json-schema.org/draft-04/schema#",
                "other.json#/a",
                "",
            ])
            .prop_map(str::to_string),
            1 => any::<String>(),
        ]
    }

    fn type_name() -> impl Strategy<Value = Value> {
        prop::sample::select(vec![
            "array", "boolean", "integer", "null", "number", "object", "string", "any", "",
        ])
        .prop_map(Value::from)
    }

    /// A schema of StackStorm's dialect, with keywords given the right kind of value most of
    /// the time and any value some of the time.
    fn schema() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            4 => Just(json!({})),
            4 => type_name().prop_map(|t| json!({ "type": t })),
            2 => reference().prop_map(|r| json!({ "$ref": r })),
            1 => json(),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            let schemas = || prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array);
            let schema_map = || {
                prop::collection::vec((key(), inner.clone()), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
            };
            let keyword = prop_oneof![
                type_name().prop_map(|t| ("type", t)),
                prop::collection::vec(type_name(), 0..3)
                    .prop_map(|types| ("type", Value::Array(types))),
                inner.clone().prop_map(|s| ("type", json!([s, "string"]))),
                schema_map().prop_map(|m| ("properties", m)),
                prop::collection::vec((pattern(), inner.clone()), 0..3).prop_map(|pairs| (
                    "patternProperties",
                    Value::Object(pairs.into_iter().collect())
                )),
                any::<bool>().prop_map(|b| ("additionalProperties", Value::Bool(b))),
                inner.clone().prop_map(|s| ("additionalProperties", s)),
                inner.clone().prop_map(|s| ("items", s)),
                schemas().prop_map(|s| ("items", s)),
                any::<bool>().prop_map(|b| ("additionalItems", Value::Bool(b))),
                inner.clone().prop_map(|s| ("additionalItems", s)),
                prop::collection::vec(json(), 0..4).prop_map(|e| ("enum", Value::Array(e))),
                number().prop_map(|n| ("minimum", n)),
                number().prop_map(|n| ("maximum", n)),
                number().prop_map(|n| ("multipleOf", n)),
                number().prop_map(|n| ("minLength", n)),
                number().prop_map(|n| ("maxLength", n)),
                number().prop_map(|n| ("minItems", n)),
                number().prop_map(|n| ("maxProperties", n)),
                any::<bool>().prop_map(|b| ("uniqueItems", Value::Bool(b))),
                pattern().prop_map(|p| ("pattern", Value::String(p))),
                any::<bool>().prop_map(|b| ("required", Value::Bool(b))),
                prop::collection::vec(key(), 0..3).prop_map(|names| ("required", json!(names))),
                json().prop_map(|d| ("default", d)),
                any::<bool>().prop_map(|b| ("secret", Value::Bool(b))),
                any::<bool>().prop_map(|b| ("immutable", Value::Bool(b))),
                number().prop_map(|n| ("position", n)),
                schemas().prop_map(|s| ("anyOf", s)),
                schemas().prop_map(|s| ("oneOf", s)),
                schemas().prop_map(|s| ("allOf", s)),
                inner.clone().prop_map(|s| ("not", s)),
                reference().prop_map(|r| ("$ref", Value::String(r))),
                reference().prop_map(|r| ("id", Value::String(r))),
                schema_map().prop_map(|m| ("definitions", m)),
                prop::collection::vec((key(), prop::collection::vec(key(), 0..3)), 0..3).prop_map(
                    |deps| {
                        let deps: Map<String, Value> = deps
                            .into_iter()
                            .map(|(k, names)| (k, json!(names)))
                            .collect();
                        ("dependencies", Value::Object(deps))
                    }
                ),
                schema_map().prop_map(|m| ("dependencies", m)),
                json().prop_map(|v| ("description", v)),
            ];
            prop::collection::vec(keyword, 0..5).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(keyword, value)| (keyword.to_string(), value))
                        .collect(),
                )
            })
        })
    }

    /// A config schema file / parameters map: names to property schemas.
    fn property_map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec((key(), schema()), 0..5).prop_map(|pairs| pairs.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any schema against any instance, root or meta-schema resolution, templates passing
        /// or not: a list of errors, never a panic.
        #[test]
        fn validator_never_panics(
            schema in schema(),
            draft4 in schema(),
            instance in json(),
            templates_pass: bool,
        ) {
            let validator = Validator::new(&schema, &draft4).templates_pass(templates_pass);
            let errors = validator.errors(&instance);
            let first = validator.first_error(&instance);
            prop_assert_eq!(errors.is_empty(), first.is_none());
            for error in &errors {
                let _ = error.dotted_path();
            }
        }

        /// The numeric keywords on any pair of numbers (edges weighted up): an answer, never a
        /// panic.
        #[test]
        fn numeric_keywords_never_panic(
            keyword in prop::sample::select(vec!["multipleOf", "minimum", "maximum"]),
            limit in number(),
            instance in number(),
        ) {
            let schema = json!({ keyword: limit });
            let _ = Validator::new(&schema, &json!({})).errors(&instance);
        }

        /// Checking a config schema or a parameters map, whatever its shape: Ok or Err.
        #[test]
        fn schema_checks_never_panic(map in property_map(), other in json()) {
            let map = Value::Object(map);
            let _ = check_config_schema(&map);
            let _ = check_parameters_schema(&map);
            let _ = check_config_schema(&other);
        }

        /// Validating a config or parameters (defaults filled in, nullable optionals) and the
        /// runtime defaults: an answer, never a panic. A valid config validates again as it is
        /// once its defaults are in.
        #[test]
        fn config_and_parameter_validation_never_panics(
            map in property_map(),
            config in json(),
            templates_pass: bool,
        ) {
            let _ = validate_parameters(&map, &config, templates_pass);
            if let Ok(cleaned) = validate_config(&map, &config) {
                prop_assert!(validate_config(&map, &cleaned).is_ok(), "{cleaned}");
            }
            let mut runtime = config.clone();
            fill_runtime_defaults(&map, &mut runtime);
            let _ = allow_default_none(&Value::Object(map.clone()));
        }
    }
}

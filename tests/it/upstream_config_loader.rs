//! Port of StackStorm 3.9.0's `st2common/tests/unit/test_config_loader.py` (tag `v3.9.0` of
//! `StackStorm/st2`), the tests of `ContentPackConfigLoader`: what an action gets as its pack
//! config.
//!
//! Upstream writes `ConfigDB` records and datastore items, then calls
//! `ContentPackConfigLoader(pack, user).get_config()`. Here each case registers the fixture
//! pack and its config in a temporary home (`configs/<pack>.yaml`, `st2ctl reload`), sets
//! datastore items with `st2 key set`, and observes the config twice: as a Python action of the
//! pack gets it (`self.config`, returned hex-encoded by a `get_config` action this file adds to
//! its copy of the pack, so that the run's masking of known secrets leaves it alone: `st2 run
//! <pack>.get_config`), and as `st2 pack config show <pack> --resolved -j`
//! shows it (secrets masked). The user of a run is `[system_user] user` in `st2.conf`
//! (upstream's `user` argument).
//!
//! Fixtures (`fixtures/upstream/packs/`, copied unchanged from
//! `st2tests/st2tests/fixtures/packs/`): `dummy_pack_1`, `dummy_pack_4`, `dummy_pack_5`,
//! `dummy_pack_17`, `dummy_pack_schema_with_nested_object_1` to `_5`,
//! `dummy_pack_schema_with_additional_items_1`, `dummy_pack_schema_with_additional_properties_1`,
//! `dummy_pack_schema_with_pattern_properties_1`,
//! `dummy_pack_schema_with_pattern_and_additional_properties_1`, and the registered configs of
//! `configs/` (upstream registers those from there). The packs upstream names but has no
//! fixture for (`dummy_pack_schema_with_nested_object_6` to `_8`, `dummy_pack_empty_config`:
//! upstream's loader needs no pack on disk) are made here: a `pack.yaml` and no schema.
//! The copies of `dummy_pack_4` and `dummy_pack_5` leave out `actions/invalid.yaml` (an empty
//! metadata file, which fails registration; upstream's test base registers packs ignoring
//! failures): configs are what is tested here.
//!
//! Where upstream stores a config that its own validation would refuse (falsy values of the
//! wrong type, a list where the schema says object), this port writes it into the store's
//! `configs` table directly, as upstream writes `ConfigDB` directly.
//!
//! Left out: none; every case has an effect on what an action gets.
//!
//! Deliberately different ([fix] in `../shared/spec/register-configs.md`, §10 #9): a template
//! that refers to a datastore key that does not exist fails the run when the property is
//! `required` (upstream hands the action `None` silently). `dummy_pack_1` (`api_key`) and
//! `dummy_pack_5` (`api_secret`) reference user-scoped keys upstream's cases never set;
//! `test_get_config_default_value_from_config_schema_is_used` asserts our refusal, then sets
//! them and goes on. Also: the detail of a Jinja syntax error is minijinja's wording, not
//! Jinja2's (`expected token 'end of print statement', got 'Jinja'`); the message around it is
//! upstream's.
//!
//! Beyond upstream's cases (issue 13): a schema default in the pre-2.0 `{{system.x}}` form
//! (the Exchange `vadc` pack) reaches the action as written with a warning, and a secret
//! reached through `patternProperties` -> `$ref` (the Exchange `sql` pack) is masked, also by
//! the interactive `st2 pack config`.

use serde_json::{json, Value};

use crate::common::*;

/// A Python action returning its `self.config`, added to every pack copy. It returns it as
/// hex-encoded JSON: a run masks the secret values it knows wherever they appear in its
/// result ([fix], issue 13), and these tests look at the values the action got.
const GET_CONFIG_META: &str = "---\nname: get_config\nrunner_type: python-script\n\
                               entry_point: get_config.py\n";
const GET_CONFIG_PY: &str = "import json\n\n\
                             from st2common.runners.base_action import Action\n\n\n\
                             class GetConfig(Action):\n    def run(self):\n        \
                             return json.dumps(self.config).encode('utf-8').hex()\n";

/// A home running as `user`.
fn home_as(user: &str) -> Home {
    let mut home = Home::new();
    home.set_extra_conf(&format!("[system_user]\nuser = {user}\n"));
    home
}

/// Install the fixture pack `name` (or a bare pack of that name when upstream has no
/// fixture), with the `get_config` action.
fn add_pack(home: &Home, name: &str) {
    let dir = home.pack(name);
    let fixture = format!("packs/{name}");
    if upstream_fixture(&fixture).is_dir() {
        home.add_upstream_pack(&fixture, name);
        let _ = std::fs::remove_file(dir.join("actions/invalid.yaml"));
    } else {
        write(
            &dir,
            "pack.yaml",
            &format!(
                "---\nname: {name}\ndescription: made by the test\nversion: 0.1.0\nauthor: t\n"
            ),
        );
    }
    write(&dir, "actions/get_config.yaml", GET_CONFIG_META);
    write(&dir, "actions/get_config.py", GET_CONFIG_PY);
}

/// Write `values` as the pack's config file and register it.
fn set_config(home: &Home, pack: &str, values: &Value) {
    home.write_config(pack, &serde_json::to_string(values).unwrap());
    reload_ok(home, &[]);
}

/// Store `values` as the pack's registered config without validating them, as upstream's
/// tests store `ConfigDB` records.
fn store_config(home: &Home, pack: &str, values: &Value) {
    let _ = std::fs::remove_file(home.config(pack));
    let conn = rusqlite::Connection::open(home.base.join("st2.db")).unwrap();
    conn.execute(
        "INSERT OR REPLACE INTO configs (pack, vals, file, file_mtime_ns, registered_at)
         VALUES (?1, ?2, ?3, NULL, '2024-01-01T00:00:00Z')",
        rusqlite::params![
            pack,
            values.to_string(),
            home.config(pack).to_string_lossy()
        ],
    )
    .unwrap();
}

/// `st2 key set NAME VALUE [ARGS]`.
fn key_set(home: &Home, name: &str, value: &str, args: &[&str]) {
    let output = home
        .st2()
        .args(["key", "set", name, value])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// What the pack's Python action gets as `self.config`.
fn action_config(home: &Home, pack: &str) -> Value {
    let execution = run_ok(home, &[&format!("{pack}.get_config")]);
    assert_eq!(execution["status"], "succeeded", "{execution}");
    decode_config(&execution)
}

/// The config a `get_config` execution returned.
fn decode_config(execution: &Value) -> Value {
    let encoded = execution["result"]["result"].as_str().unwrap();
    serde_json::from_slice(&hex::decode(encoded).unwrap()).unwrap()
}

/// `st2 pack config show PACK --resolved -j`.
fn shown_config(home: &Home, pack: &str) -> Value {
    st2_json(home, &["pack", "config", "show", pack, "--resolved"])
}

/// Both views: the action's config, and what `show --resolved` prints (secrets masked);
/// `masked` lists the dotted paths of the secrets.
fn assert_config(home: &Home, pack: &str, expected: &Value, masked: &[&str]) {
    assert_eq!(&action_config(home, pack), expected);
    let mut shown = expected.clone();
    for path in masked {
        let pointer = format!("/{}", path.replace('.', "/"));
        *shown.pointer_mut(&pointer).unwrap() = json!("********");
    }
    assert_eq!(shown_config(home, pack), shown);
}

/// The error of resolving the pack's config: from `show --resolved` and from a run, which
/// fails before it starts with the same message.
fn resolve_error(home: &Home, pack: &str) -> String {
    let output = home
        .st2()
        .args(["pack", "config", "show", pack, "--resolved"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let shown = stderr(&output);
    let output = home
        .st2()
        .args(["run", &format!("{pack}.get_config")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let run = stderr(&output);
    let message = shown
        .trim()
        .strip_prefix("error: ")
        .unwrap_or(&shown)
        .to_string();
    assert!(run.contains(&message), "{run} / {shown}");
    message
}

#[test]
fn test_ensure_local_pack_config_feature_removed() {
    // The pack's own config.yaml is not read (a feature upstream removed); no config is
    // registered and the schema has no defaults.
    let home = Home::new();
    add_pack(&home, "dummy_pack_4");
    assert!(home.pack("dummy_pack_4").join("config.yaml").is_file());
    reload_ok(&home, &[]);
    assert_config(&home, "dummy_pack_4", &json!({}), &[]);
}

#[test]
fn test_get_config_some_values_overriden_in_datastore() {
    let home = home_as("joe");
    add_pack(&home, "dummy_pack_5");
    home.add_upstream_config("dummy_pack_5");
    reload_ok(&home, &[]);
    key_set(
        &home,
        "api_secret",
        "some_api_secret",
        &["--encrypt", "--scope", "user", "--user", "joe"],
    );
    // A secret is stored encrypted.
    let output = home
        .st2()
        .args([
            "key",
            "get",
            "api_secret",
            "--scope",
            "user",
            "--user",
            "joe",
            "-j",
        ])
        .output()
        .unwrap();
    let item: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stored = item["value"].as_str().unwrap();
    assert_ne!(stored, "some_api_secret");
    assert!(stored.len() > "some_api_secret".len() * 2);
    assert_eq!(item["secret"], true);
    key_set(&home, "private_key_path", "some_private_key", &[]);
    let output = home
        .st2()
        .args(["key", "get", "private_key_path", "-j"])
        .output()
        .unwrap();
    let item: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(item["value"], "some_private_key");
    assert_eq!(item["secret"], false);

    assert_config(
        &home,
        "dummy_pack_5",
        &json!({
            "api_key": "some_api_key",
            "api_secret": "some_api_secret",
            "regions": ["us-west-1"],
            "region": "default-region-value",
            "private_key_path": "some_private_key",
            "non_required_with_default_value": "config value",
        }),
        &["api_secret"],
    );
}

#[test]
fn test_get_config_default_value_from_config_schema_is_used() {
    let home = Home::new();
    add_pack(&home, "dummy_pack_5");
    add_pack(&home, "dummy_pack_1");
    home.add_upstream_config("dummy_pack_5");
    home.add_upstream_config("dummy_pack_1");
    reload_ok(&home, &[]);

    // [fix] Their configs refer to user-scoped datastore keys that are not set, for required
    // properties: upstream hands the action None, we refuse with what to do.
    assert_eq!(
        resolve_error(&home, "dummy_pack_5"),
        "config value \"api_secret\" of pack \"dummy_pack_5\" refers to datastore key \
         st2kv.user.api_secret that does not exist; set it with `st2 key set` (the property \
         is required)"
    );
    assert!(resolve_error(&home, "dummy_pack_1").contains("st2kv.user.api_key"));
    let user = ["--encrypt", "--scope", "user", "--user", "stanley"];
    key_set(&home, "api_secret", "s", &user);
    key_set(&home, "api_key", "k", &user);

    // No value for "region" in the config: the schema's default.
    assert_eq!(
        action_config(&home, "dummy_pack_5")["region"],
        "default-region-value"
    );
    // A default in the schema, and a value in the config: the value.
    assert_eq!(action_config(&home, "dummy_pack_1")["region"], "us-west-1");
    // `required: false` with a default, and a value in the config: the value.
    assert_eq!(
        action_config(&home, "dummy_pack_5")["non_required_with_default_value"],
        "config value"
    );
    // No config for the pack any more: the default.
    std::fs::remove_file(home.config("dummy_pack_5")).unwrap();
    reload_ok(&home, &[]);
    assert_eq!(
        action_config(&home, "dummy_pack_5")["non_required_with_default_value"],
        "some default value"
    );
    assert_eq!(
        shown_config(&home, "dummy_pack_5")["non_required_with_default_value"],
        "some default value"
    );
}

#[test]
fn test_default_values_from_schema_are_used_when_no_config_exists() {
    let home = Home::new();
    add_pack(&home, "dummy_pack_5");
    home.add_upstream_config("dummy_pack_5");
    reload_ok(&home, &[]);
    // Delete the registered config: the file goes, and the reload forgets it.
    std::fs::remove_file(home.config("dummy_pack_5")).unwrap();
    reload_ok(&home, &[]);
    let output = home
        .st2()
        .args(["pack", "config", "show", "dummy_pack_5", "-j"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({})
    );
    assert_eq!(
        action_config(&home, "dummy_pack_5")["region"],
        "default-region-value"
    );
    assert_eq!(
        shown_config(&home, "dummy_pack_5")["region"],
        "default-region-value"
    );
}

#[test]
fn test_default_values_are_used_when_default_values_are_falsey() {
    let home = Home::new();
    add_pack(&home, "dummy_pack_17");
    reload_ok(&home, &[]);

    // 1. Default values are used.
    let config = action_config(&home, "dummy_pack_17");
    assert_eq!(config["key_with_default_falsy_value_1"], json!(false));
    assert_eq!(config["key_with_default_falsy_value_2"], json!(null));
    assert_eq!(config["key_with_default_falsy_value_3"], json!({}));
    assert_eq!(config["key_with_default_falsy_value_4"], json!(""));
    assert_eq!(config["key_with_default_falsy_value_5"], json!(0));
    assert_eq!(
        config["key_with_default_falsy_value_6"]["key_1"],
        json!(false)
    );
    assert_eq!(config["key_with_default_falsy_value_6"]["key_2"], json!(0));
    assert_eq!(shown_config(&home, "dummy_pack_17"), config);

    // 2. Default values are overwritten with config values which are also falsey (of other
    // types than the schema says: stored past validation, as upstream does).
    store_config(
        &home,
        "dummy_pack_17",
        &json!({
            "key_with_default_falsy_value_1": 0,
            "key_with_default_falsy_value_2": "",
            "key_with_default_falsy_value_3": false,
            "key_with_default_falsy_value_4": null,
            "key_with_default_falsy_value_5": {},
            "key_with_default_falsy_value_6": {"key_2": false},
        }),
    );
    let config = action_config(&home, "dummy_pack_17");
    assert_eq!(config["key_with_default_falsy_value_1"], json!(0));
    assert_eq!(config["key_with_default_falsy_value_2"], json!(""));
    assert_eq!(config["key_with_default_falsy_value_3"], json!(false));
    assert_eq!(config["key_with_default_falsy_value_4"], json!(null));
    assert_eq!(config["key_with_default_falsy_value_5"], json!({}));
    assert_eq!(
        config["key_with_default_falsy_value_6"]["key_1"],
        json!(false)
    );
    assert_eq!(
        config["key_with_default_falsy_value_6"]["key_2"],
        json!(false)
    );
}

#[test]
fn test_get_config_nested_schema_default_values_from_config_schema_are_used() {
    let mut home = Home::new();
    for n in 1..=4 {
        let pack = format!("dummy_pack_schema_with_nested_object_{n}");
        add_pack(&home, &pack);
        home.add_upstream_config(&pack);
    }
    reload_ok(&home, &[]);
    let expected = |host: &str, port: u16, token: Option<&str>| {
        let mut auth = json!({"host": host, "port": port, "device_uids": ["a", "b", "c"]});
        if let Some(token) = token {
            auth["token"] = json!(token);
        }
        json!({
            "api_key": "",
            "api_secret": "",
            "regions": ["us-west-1", "us-east-1"],
            "auth_settings": auth,
        })
    };

    // 1. None of the nested object values are provided.
    assert_config(
        &home,
        "dummy_pack_schema_with_nested_object_1",
        &expected("127.0.0.3", 8080, None),
        &["api_secret"],
    );
    // 2. Some of the nested object values are provided (host, port).
    assert_config(
        &home,
        "dummy_pack_schema_with_nested_object_2",
        &expected("127.0.0.6", 9090, None),
        &["api_secret"],
    );
    // 3. A nested attribute (auth_settings.token) references a non-secret datastore value.
    key_set(
        &home,
        "auth_settings_token",
        "some_auth_settings_token",
        &[],
    );
    assert_config(
        &home,
        "dummy_pack_schema_with_nested_object_3",
        &expected("127.0.0.10", 8080, Some("some_auth_settings_token")),
        &["api_secret"],
    );
    // 4. A nested attribute (auth_settings.token) references a secret datastore value, one
    // per user.
    for (user, token) in [("joe", "joe_token_secret"), ("alice", "alice_token_secret")] {
        key_set(
            &home,
            "auth_settings_token",
            token,
            &["--encrypt", "--scope", "user", "--user", user],
        );
    }
    for (user, token) in [("joe", "joe_token_secret"), ("alice", "alice_token_secret")] {
        home.set_extra_conf(&format!("[system_user]\nuser = {user}\n"));
        assert_config(
            &home,
            "dummy_pack_schema_with_nested_object_4",
            &expected("127.0.0.11", 8080, Some(token)),
            &["api_secret", "auth_settings.token"],
        );
    }
}

#[test]
fn test_get_config_dynamic_config_item_render_fails_user_friendly_exception_is_thrown() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_nested_object_5";
    add_pack(&home, pack);
    reload_ok(&home, &[]);
    let undefined = |key: &str| {
        format!(
            "Failed to render dynamic configuration value for key \"{key}\" with value \
             \"{{{{st2kvXX.invalid}}}}\" for pack \"{pack}\" config: <class \
             'jinja2.exceptions.UndefinedError'> 'st2kvXX' is undefined"
        )
    };

    // Render fails on a top-level item.
    set_config(&home, pack, &json!({"level0_key": "{{st2kvXX.invalid}}"}));
    assert_eq!(resolve_error(&home, pack), undefined("level0_key"));
    // On a first level item.
    set_config(
        &home,
        pack,
        &json!({"level0_object": {"level1_key": "{{st2kvXX.invalid}}"}}),
    );
    assert_eq!(
        resolve_error(&home, pack),
        undefined("level0_object.level1_key")
    );
    // On a second level item.
    set_config(
        &home,
        pack,
        &json!({"level0_object": {"level1_object": {"level2_key": "{{st2kvXX.invalid}}"}}}),
    );
    assert_eq!(
        resolve_error(&home, pack),
        undefined("level0_object.level1_object.level2_key")
    );
    // On a list item (a list where the schema says object: stored past validation).
    store_config(
        &home,
        pack,
        &json!({"level0_object": ["abc", "{{st2kvXX.invalid}}"]}),
    );
    assert_eq!(resolve_error(&home, pack), undefined("level0_object.1"));
    // On an object in a list item.
    store_config(
        &home,
        pack,
        &json!({"level0_object": [{"level2_key": "{{st2kvXX.invalid}}"}]}),
    );
    assert_eq!(
        resolve_error(&home, pack),
        undefined("level0_object.0.level2_key")
    );
    // On invalid syntax. The detail is minijinja's wording (Jinja2: "expected token 'end of
    // print statement', got 'Jinja'").
    set_config(
        &home,
        pack,
        &json!({"level0_key": "{{ this is some invalid Jinja }}"}),
    );
    let message = resolve_error(&home, pack);
    assert!(
        message.starts_with(&format!(
            "Failed to render dynamic configuration value for key \"level0_key\" with value \
             \"{{{{ this is some invalid Jinja }}}}\" for pack \"{pack}\" config: <class \
             'jinja2.exceptions.TemplateSyntaxError'> "
        )),
        "{message}"
    );
}

#[test]
fn test_get_config_dynamic_config_item() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_nested_object_6";
    add_pack(&home, pack);
    key_set(&home, "k1", "v1", &[]);
    set_config(&home, pack, &json!({"level0_key": "{{st2kv.system.k1}}"}));
    assert_config(&home, pack, &json!({"level0_key": "v1"}), &[]);
}

#[test]
fn test_get_config_dynamic_config_item_nested_dict() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_nested_object_7";
    add_pack(&home, pack);
    for n in 0..3 {
        key_set(&home, &format!("k{n}"), &format!("v{n}"), &[]);
    }
    set_config(
        &home,
        pack,
        &json!({
            "level0_key": "{{st2kv.system.k0}}",
            "level0_object": {
                "level1_key": "{{st2kv.system.k1}}",
                "level1_object": {"level2_key": "{{st2kv.system.k2}}"},
            },
        }),
    );
    assert_config(
        &home,
        pack,
        &json!({
            "level0_key": "v0",
            "level0_object": {"level1_key": "v1", "level1_object": {"level2_key": "v2"}},
        }),
        &[],
    );
}

#[test]
fn test_get_config_dynamic_config_item_list() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_nested_object_7";
    add_pack(&home, pack);
    key_set(&home, "k0", "v0", &[]);
    key_set(&home, "k1", "v1", &[]);
    set_config(
        &home,
        pack,
        &json!({"level0_key": ["a", "{{st2kv.system.k0}}", "b", "{{st2kv.system.k1}}"]}),
    );
    assert_config(
        &home,
        pack,
        &json!({"level0_key": ["a", "v0", "b", "v1"]}),
        &[],
    );
}

#[test]
fn test_get_config_dynamic_config_item_nested_list() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_nested_object_8";
    add_pack(&home, pack);
    for n in 0..3 {
        key_set(&home, &format!("k{n}"), &format!("v{n}"), &[]);
    }
    set_config(
        &home,
        pack,
        &json!({"level0_key": [
            {"level1_key0": "{{st2kv.system.k0}}"},
            "{{st2kv.system.k1}}",
            ["{{st2kv.system.k0}}", "{{st2kv.system.k1}}", "{{st2kv.system.k2}}"],
            {"level1_key2": ["{{st2kv.system.k2}}"]},
        ]}),
    );
    assert_config(
        &home,
        pack,
        &json!({"level0_key": [
            {"level1_key0": "v0"},
            "v1",
            ["v0", "v1", "v2"],
            {"level1_key2": ["v2"]},
        ]}),
        &[],
    );
}

/// The `profiles` values of the additional/pattern properties cases.
fn profiles_dev_prod() -> Value {
    json!({"profiles": {
        // No host or port: their defaults.
        "dev": {"token": "hard-coded-secret"},
        // Encrypted in the datastore; `secret: true` in the schema decrypts it.
        "prod": {"host": "127.1.2.7", "port": 8282, "token": "{{st2kv.system.k1_encrypted}}"},
    }})
}

#[test]
fn test_get_config_dynamic_config_item_under_additional_properties() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_additional_properties_1";
    add_pack(&home, pack);
    key_set(&home, "k1_encrypted", "v1_encrypted", &["--encrypt"]);
    set_config(&home, pack, &profiles_dev_prod());
    assert_config(
        &home,
        pack,
        &json!({
            "region": "us-east-1",
            "profiles": {
                "dev": {"host": "127.0.0.3", "port": 8080, "token": "hard-coded-secret"},
                "prod": {"host": "127.1.2.7", "port": 8282, "token": "v1_encrypted"},
            },
        }),
        &["profiles.dev.token", "profiles.prod.token"],
    );
}

#[test]
fn test_get_config_dynamic_config_item_under_pattern_properties() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_pattern_properties_1";
    add_pack(&home, pack);
    key_set(&home, "k1_encrypted", "v1_encrypted", &["--encrypt"]);
    set_config(&home, pack, &profiles_dev_prod());
    assert_config(
        &home,
        pack,
        &json!({
            "region": "us-east-1",
            "profiles": {
                "dev": {"host": "127.0.0.3", "port": 8080, "token": "hard-coded-secret"},
                "prod": {"host": "127.1.2.7", "port": 8282, "token": "v1_encrypted"},
            },
        }),
        &["profiles.dev.token", "profiles.prod.token"],
    );
}

#[test]
fn test_get_config_dynamic_config_item_properties_order_of_precedence() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_pattern_and_additional_properties_1";
    add_pack(&home, pack);
    for n in 1..=3 {
        key_set(
            &home,
            &format!("k{n}_encrypted"),
            &format!("v{n}_encrypted"),
            &["--encrypt"],
        );
    }
    set_config(
        &home,
        pack,
        &json!({"profiles": {
            // properties
            "foo": {"domain": "foo.example.com", "token": "hard-coded-secret"},
            "bar": {"domain": "bar.example.com", "token": "{{st2kv.system.k1_encrypted}}"},
            // patternProperties start with env-
            "env-dev": {"host": "127.0.0.127", "token": "hard-coded-secret"},
            "env-prod": {"host": "127.1.2.7", "port": 8282,
                         "token": "{{st2kv.system.k2_encrypted}}"},
            // additionalProperties
            "dev": {"url": "https://example.com", "token": "hard-coded-secret"},
            "prod": {"url": "https://other.example.com", "port": 2345,
                     "token": "{{st2kv.system.k3_encrypted}}"},
        }}),
    );
    let tokens: Vec<String> = ["foo", "bar", "env-dev", "env-prod", "dev", "prod"]
        .iter()
        .map(|name| format!("profiles.{name}.token"))
        .collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    assert_config(
        &home,
        pack,
        &json!({
            "region": "us-east-1",
            "profiles": {
                "foo": {"domain": "foo.example.com", "token": "hard-coded-secret"},
                "bar": {"domain": "bar.example.com", "token": "v1_encrypted"},
                "env-dev": {"host": "127.0.0.127", "port": 8080, "token": "hard-coded-secret"},
                "env-prod": {"host": "127.1.2.7", "port": 8282, "token": "v2_encrypted"},
                "dev": {"url": "https://example.com", "port": 1234, "token": "hard-coded-secret"},
                "prod": {"url": "https://other.example.com", "port": 2345, "token": "v3_encrypted"},
            },
        }),
        &tokens,
    );
}

#[test]
fn test_get_config_dynamic_config_item_under_additional_items() {
    let home = Home::new();
    let pack = "dummy_pack_schema_with_additional_items_1";
    add_pack(&home, pack);
    key_set(&home, "k1_encrypted", "v1_encrypted", &["--encrypt"]);
    set_config(
        &home,
        pack,
        &json!({
            "profiles": [
                {"token": "hard-coded-secret"},
                {"host": "127.1.2.7", "port": 8282, "token": "{{st2kv.system.k1_encrypted}}"},
            ],
            // foobar has additionalItems: true: no types, no defaults, nothing secret, so a
            // secret is decrypted explicitly.
            "foobar": [
                5,
                "a string",
                {"token": "hard-coded-secret"},
                {"token": "{{st2kv.system.k1_encrypted|decrypt_kv}}"},
            ],
        }),
    );
    assert_config(
        &home,
        pack,
        &json!({
            "region": "us-east-1",
            "profiles": [
                {"host": "127.0.0.3", "port": 8080, "token": "hard-coded-secret"},
                {"host": "127.1.2.7", "port": 8282, "token": "v1_encrypted"},
            ],
            "foobar": [5, "a string", {"token": "hard-coded-secret"}, {"token": "v1_encrypted"}],
        }),
        &["profiles.0.token", "profiles.1.token"],
    );
}

#[test]
fn test_empty_config_object_in_the_database() {
    let home = Home::new();
    let pack = "dummy_pack_empty_config";
    add_pack(&home, pack);
    // An empty config file registers as `{}`.
    home.write_config(pack, "");
    reload_ok(&home, &[]);
    let output = home
        .st2()
        .args(["pack", "config", "show", pack, "-j"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({})
    );
    assert_config(&home, pack, &json!({}), &[]);
}

/// Issue 13: a schema default in the pre-2.0 `{{system.x}}` / `{{user.x}}` forms (the Exchange
/// `vadc` pack's schema) reaches the action as written, as upstream hands defaults over,
/// with a warning; the same template in the registered config fails the run as upstream's.
#[test]
fn template_defaults_that_cannot_render_reach_the_action_as_written() {
    let home = Home::new();
    let pack = "vadc";
    add_pack(&home, pack);
    std::fs::copy(
        shared_dir().join("exchange/packs/vadc/config.schema.yaml"),
        home.pack(pack).join("config.schema.yaml"),
    )
    .unwrap();
    reload_ok(&home, &[]);
    let (execution, output) = run_json(&home, &["vadc.get_config"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = &decode_config(&execution);
    assert_eq!(config["brcd_sd_host"], "{{system.brcd_sd_host}}");
    assert_eq!(config["brcd_vtm_pass"], "{{user.brcd_vtm_pass}}");
    assert_eq!(config["brcd_sd_proxy"], true);
    let warnings = stderr(&output);
    assert!(
        warnings.contains(
            "warning: Failed to render dynamic configuration value for key \"brcd_sd_host\" \
             with value \"{{system.brcd_sd_host}}\" for pack \"vadc\" config: <class \
             'jinja2.exceptions.UndefinedError'> 'system' is undefined; it is the schema \
             default, so the action gets it as written"
        ),
        "{warnings}"
    );
    // `show --resolved` says the same; the secret ones are masked.
    let output = home
        .st2()
        .args(["pack", "config", "show", pack, "--resolved", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("'user' is undefined"));
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["brcd_vtm_host"], "{{user.brcd_vtm_host}}");
    assert_eq!(shown["brcd_vtm_pass"], "********");

    set_config(
        &home,
        pack,
        &json!({"brcd_sd_host": "{{system.brcd_sd_host}}"}),
    );
    assert!(resolve_error(&home, pack).contains("'system' is undefined"));
}

/// Issue 13: a `secret: true` value reached through `patternProperties` -> `$ref` (the
/// Exchange `sql` pack's schema) is masked wherever a config is shown, and reaches the action.
#[test]
fn secrets_reached_through_refs_are_masked() {
    let home = Home::new();
    let pack = "sql";
    add_pack(&home, pack);
    std::fs::copy(
        shared_dir().join("exchange/packs/sql/config.schema.yaml"),
        home.pack(pack).join("config.schema.yaml"),
    )
    .unwrap();
    let config = json!({"connections": {"main": {
        "host": "db.example.com", "username": "app", "password": "Sup3rS3cretPw",
        "database": "app", "drivername": "postgresql",
    }}});
    set_config(&home, pack, &config);
    // The shared definition is a top-level key too: an object, so `{}` (as upstream).
    let mut seen = config.clone();
    seen["connection"] = json!({});
    assert_eq!(action_config(&home, pack), seen);
    let mut masked = seen.clone();
    masked["connections"]["main"]["password"] = json!("********");
    assert_eq!(shown_config(&home, pack), masked);
    for args in [
        vec!["pack", "config", "show", pack],
        vec!["pack", "config", "show", pack, "-y"],
        vec!["pack", "config", "show", pack, "--resolved"],
    ] {
        let output = home.st2().args(&args).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(!text.contains("Sup3rS3cretPw"), "{args:?}: {text}");
        assert!(text.contains("********"), "{args:?}: {text}");
    }
    // A config that fails validation does not quote the secret either.
    let mut bad = config.clone();
    bad["connections"]["main"]["password"] = json!(["Sup3rS3cretPw"]);
    home.write_config(pack, &bad.to_string());
    let output = home
        .st2ctl()
        .args(["reload", "--register-configs"])
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(text.contains("connections.main.password"), "{text}");
    assert!(!text.contains("Sup3rS3cretPw"), "{text}");
}

/// Issue 13: `st2 pack config` (the prompter) treats a property that is a `$ref` to a secret
/// as that secret: its current value is offered masked, and what is written is shown masked.
#[test]
fn the_prompter_follows_refs_to_secrets() {
    let home = Home::new();
    let pack = "refs";
    add_pack(&home, pack);
    write(
        &home.pack(pack),
        "config.schema.yaml",
        "---\nshared_password:\n  type: string\n  secret: true\n\
         auth:\n  type: object\n  properties:\n    user:\n      type: string\n\
         \x20   password:\n      $ref: \"#/properties/shared_password\"\n",
    );
    set_config(
        &home,
        pack,
        &json!({"shared_password": "Top-Secret-1", "auth": {"user": "u", "password": "Top-Secret-2"}}),
    );
    // Every answer empty: keep the current values.
    let output = home
        .st2()
        .args(["pack", "config", pack])
        .write_stdin("\n\n\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!text.contains("Top-Secret"), "{text}");
    assert!(text.contains("auth.password [********]"), "{text}");
    assert_eq!(
        action_config(&home, pack),
        json!({"shared_password": "Top-Secret-1", "auth": {"user": "u", "password": "Top-Secret-2"}})
    );
}

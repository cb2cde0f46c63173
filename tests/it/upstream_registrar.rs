//! StackStorm's own registrar tests, ported: what `st2ctl reload` registers from a pack, what
//! it refuses and with which message, and `--register-(no-)fail-on-failure`.
//!
//! Ports, from StackStorm v3.9.0:
//! - `st2actions/tests/unit/test_actions_registrar.py` (`ActionsRegistrarTest`);
//! - `st2common/tests/unit/test_resource_registrar.py` (`ResourceRegistrarTestCase`);
//! - `st2common/tests/unit/test_configs_registrar.py` (`ConfigsRegistrarTestCase`);
//! - `st2common/tests/integration/test_register_content_script.py`
//!   (`ContentRegisterScriptTestCase`, where `--register-(no-)fail-on-failure` is tested).
//!
//! Upstream calls the registrar classes on fixture directories, with the database and some
//! lookups mocked; here every case runs `st2ctl reload` (or `st2 pack get`/`st2 action get`)
//! on a temporary StackStorm home whose pack directory holds copies of the same fixtures.
//! `st2-register-content --register-pack=DIR` (a flag `st2ctl` does not pass through) becomes
//! a home holding only that pack.
//!
//! Fixtures (`fixtures/upstream/`, unchanged copies, see its README):
//! `packs/dummy_pack_{1,4,6,7,8,9,10,11,13,14,19,20,21,22}` and `packs/configs` (from
//! `st2tests/st2tests/fixtures/packs/`), `packs_invalid/dummy_pack_{17,18}`,
//! `packs_1/dummy_pack_4`, `generic/actions` (from `st2tests/st2tests/fixtures/generic/`; that
//! directory is not a pack, upstream's tests mock the pack lookup: here it gets a `pack.yaml`
//! written by the test).
//!
//! Left out:
//! - `test_register_actions_from_bad_pack`: it cannot fail upstream (`self.fail()` inside a
//!   bare `except: pass`); its intent, a bad pack failing a fail-on-failure run, is
//!   `test_register_from_pack_action_metadata_fails_validation`.
//! - `test_register_all_configs_invalid_config_no_config_schema`: it turns schema validation
//!   off (`validate_configs=False`), which no command does (`st2ctl reload` and the API always
//!   validate).
//! - The `pack_db.files` part of `test_register_packs`: st2-rs does not record a pack's file
//!   list (no command shows it).
//!
//! Where we differ, on purpose:
//! - A failing file with fail-on-failure (the default): [fix] the pack keeps its previous
//!   registration whole and the other packs are still registered, then the exit status is 1;
//!   upstream stops at the first bad file, with the files before it registered.
//! - An action file that is empty (`---`) says "the metadata file is empty", not Python's
//!   `'NoneType' object has no attribute 'get'`.
//! - Upstream's registrars mock the runner lookup (`get_runner_model`) and so register actions
//!   of made-up runners (`run-local`, `test-runner-1`); here the real runners are used, so
//!   `test_register_all_actions` registers fewer of `generic`'s files (each refusal checked).
//! - Content and configs are registered under the pack's ref; upstream registers them under
//!   the pack's directory name (the two are equal for every Exchange pack and every installed
//!   pack; they differ for `dummy_pack_6`, `dummy_pack_19`, whose `pack.yaml` has a `ref`).
//! - `st2 pack get` shows `pack.yaml` as written, so fields outside upstream's `PackAPI`
//!   schema (`future`, `this`) are shown; upstream drops them.
//!
//! Also here (ours): `--register-no-fail-on-failure` registers the good files of a pack and
//! keeps what a bad file had registered before, as upstream's upserts do.

use serde_json::Value;

use crate::common::*;

/// A pack `dir_name` holding the given files of `generic/actions` (upstream mocks the pack
/// lookup for that directory, which has no `pack.yaml`).
fn generic_pack(home: &Home, dir_name: &str, files: &[&str]) {
    let dir = home.pack(dir_name);
    write(
        &dir,
        "pack.yaml",
        &format!("name: {dir_name}\ndescription: d\nversion: 0.1.0\nauthor: a\n"),
    );
    for file in files {
        let text =
            std::fs::read_to_string(upstream_fixture(&format!("generic/actions/{file}"))).unwrap();
        write(&dir, &format!("actions/{file}"), &text);
    }
}

/// `st2ctl reload ARGS`, expecting exit status `code`: (stdout, stderr).
fn reload_expecting(home: &Home, args: &[&str], code: i32) -> (String, String) {
    let output = reload(home, args);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(code), "{out}\n{err}");
    (out, err)
}

fn action_refs(home: &Home) -> Vec<String> {
    home.query("SELECT ref FROM actions ORDER BY ref")
}

// ---- test_actions_registrar.py -------------------------------------------------------------

#[test]
fn test_register_all_actions() {
    let home = Home::new();
    let files: Vec<String> = std::fs::read_dir(upstream_fixture("generic/actions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    generic_pack(&home, "generic", &files);
    let (_, err) = reload_expecting(
        &home,
        &["--register-actions", "--register-no-fail-on-failure"],
        0,
    );
    // The good files are registered, the others each have their line. The two that register
    // are the two upstream registers (its `Action.get_all()[0]` is the first): the others
    // name another pack in `pack` (`wolfpack`, `dummy`, `core`), or fail validation.
    assert_eq!(
        home.query("SELECT metadata_file FROM actions ORDER BY metadata_file"),
        [
            "actions/action-with-no-parameters.yaml",
            "actions/action_3_pack_missing.yaml"
        ]
    );
    let failed: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("error: Failed to register action"))
        .collect();
    assert_eq!(failed.len() + 2, files.len(), "{err}");
    for line in &failed {
        assert!(
            line.contains("but field \"pack\" is different")
                || line.contains("Additional properties are not allowed ('description\"'")
                || line.contains("Parameter name \"action-name\" is invalid")
                || line.contains("the metadata file is empty"),
            "{line}"
        );
    }
}

#[test]
fn test_pack_name_missing() {
    let home = Home::new();
    generic_pack(&home, "dummy", &["action_3_pack_missing.yaml"]);
    reload_expecting(&home, &["--register-actions"], 0);
    let action = st2_json(&home, &["action", "get", "dummy.st2.dummy.action3"]);
    assert_eq!(action["pack"], "dummy", "{action}");
}

#[test]
fn test_register_action_with_no_params() {
    let home = Home::new();
    generic_pack(&home, "dummy", &["action-with-no-parameters.yaml"]);
    let (out, _) = reload_expecting(&home, &["--register-actions"], 0);
    assert!(out.contains("Registered 1 actions."), "{out}");
    assert_eq!(
        home.query("SELECT parameters FROM actions WHERE ref = 'dummy.list_dns_zones'"),
        ["{}"]
    );
}

#[test]
fn test_register_action_invalid_parameter_type_attribute() {
    let home = Home::new();
    generic_pack(&home, "dummy", &["action_invalid_param_type.yaml"]);
    let (_, err) = reload_expecting(&home, &["--register-actions"], 1);
    // The schema is checked before the runner (`test-runner-1` exists only upstream's mock).
    assert!(
        err.contains(
            "'list' is not one of ['array', 'boolean', 'integer', 'null', 'number', 'object', \
             'string']"
        ),
        "{err}"
    );
    assert!(action_refs(&home).is_empty());
}

#[test]
fn test_register_action_invalid_parameter_name() {
    let home = Home::new();
    generic_pack(&home, "generic", &["action_invalid_parameter_name.yaml"]);
    let (_, err) = reload_expecting(&home, &["--register-actions"], 1);
    assert!(
        err.contains(
            "Parameter name \"action-name\" is invalid. Valid characters for parameter name are"
        ),
        "{err}"
    );
}

#[test]
fn test_invalid_params_schema() {
    let home = Home::new();
    generic_pack(&home, "generic", &["action-invalid-schema-params.yaml"]);
    let (_, err) = reload_expecting(&home, &["--register-actions"], 1);
    assert!(
        err.contains("action-invalid-schema-params.yaml\" from pack \"generic\": parameters"),
        "{err}"
    );
    assert!(action_refs(&home).is_empty());
}

#[test]
fn test_action_update() {
    let home = Home::new();
    generic_pack(&home, "wolfpack", &["action1.yaml"]);
    // Registering again is an update, not an error.
    for _ in 0..2 {
        reload_expecting(&home, &["--register-actions"], 0);
        let action = st2_json(&home, &["action", "get", "wolfpack.action-1"]);
        assert_eq!(action["pack"], "wolfpack", "{action}");
    }
}

// ---- test_resource_registrar.py ------------------------------------------------------------

/// Upstream's `ResourceRegistrar.register_packs` registers each pack's metadata and config
/// schema only: `--register-configs` does that (then configs; these tests have none).
const PACKS_ONLY: &[&str] = &["--register-configs"];

#[test]
fn test_register_packs() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    reload_expecting(&home, &["--register-all"], 0);
    let pack = st2_json(&home, &["pack", "get", "dummy_pack_1"]);
    assert_eq!(pack["name"], "dummy_pack_1");
    assert_eq!(
        pack["contributors"],
        serde_json::json!([
            "John Doe1 <john.doe1@gmail.com>",
            "John Doe2 <john.doe2@gmail.com>"
        ])
    );
    let schema: Value = serde_json::from_str(
        &home.query("SELECT schema FROM config_schemas WHERE pack = 'dummy_pack_1'")[0],
    )
    .unwrap();
    assert!(schema.get("api_key").is_some() && schema.get("api_secret").is_some());
}

#[test]
fn test_register_pack_arbitrary_properties_are_allowed() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_20", "dummy_pack_20");
    reload_expecting(&home, PACKS_ONLY, 0);
    let pack = st2_json(&home, &["pack", "get", "dummy_pack_20_ref"]);
    assert_eq!(pack["name"], "dummy_pack_20");
    assert!(pack.get("contributors").is_none(), "{pack}");
}

#[test]
fn test_register_pack_pack_ref() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    home.add_upstream_pack("packs/dummy_pack_6", "dummy_pack_6");
    // Upstream calls `_register_pack_db(pack_name=None)`: no usable directory name. A
    // directory name that is not a valid ref is the same for `st2ctl reload`.
    home.add_upstream_pack("packs/dummy_pack_7", "dummy-pack-7");
    reload_expecting(&home, PACKS_ONLY, 0);
    // `ref` given; the directory name; `name`.
    assert_eq!(
        home.installed(),
        ["dummy_pack_1", "dummy_pack_6_ref", "dummy_pack_7_name"]
    );
    // No `ref` and a `name` that cannot be one.
    home.add_upstream_pack("packs/dummy_pack_8", "dummy-pack-8");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(
        err.contains("Pack name \"Dummy Pack 8 Invalid Name\" contains invalid characters"),
        "{err}"
    );
}

#[test]
fn test_register_pack_invalid_ref_name_friendly_error_message() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_13", "dummy_pack_13");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(
        err.contains(
            "Pack ref / name can only contain valid word characters (a-z, 0-9 and _), dashes \
             are not allowed."
        ),
        "{err}"
    );
    assert!(
        err.contains("'invalid-has-dash' does not match '^[a-z0-9_]+$'"),
        "{err}"
    );

    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_14", "dummy pack 14");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(
        err.contains(
            "Pack name \"dummy pack 14\" contains invalid characters and \"ref\" attribute is \
             not available. You either need to add"
        ),
        "{err}"
    );
    assert!(home.installed().is_empty());
}

#[test]
fn test_register_pack_pack_stackstorm_version_and_future_parameters() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_9", "dummy_pack_9");
    reload_expecting(&home, PACKS_ONLY, 0);
    let pack = st2_json(&home, &["pack", "get", "dummy_pack_9"]);
    assert_eq!(pack["name"], "dummy_pack_9_deps");
    assert_eq!(pack["dependencies"], serde_json::json!(["core=0.2.0"]));
    assert_eq!(pack["stackstorm_version"], ">=1.6.0, <2.2.0");
    assert_eq!(
        pack["system"],
        serde_json::json!({"centos": {"foo": ">= 1.0"}})
    );
    assert_eq!(pack["python_versions"], serde_json::json!(["2", "3"]));
    // Shown as written (upstream drops what its schema does not define).
    assert_eq!(pack["future"], "arguments");

    home.add_upstream_pack("packs/dummy_pack_10", "dummy_pack_10");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(
        err.contains("'wrongstackstormversion' does not match"),
        "{err}"
    );
}

#[test]
fn test_register_pack_empty_and_invalid_config_schema() {
    let home = Home::new();
    home.add_upstream_pack("packs_invalid/dummy_pack_17", "dummy_pack_17");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    let expected = format!(
        "Config schema \"{}\" is empty and invalid.",
        home.pack("dummy_pack_17")
            .join("config.schema.yaml")
            .display()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(home.installed().is_empty());
}

#[test]
fn test_register_pack_invalid_config_schema_invalid_attribute() {
    let home = Home::new();
    home.add_upstream_pack("packs_invalid/dummy_pack_18", "dummy_pack_18");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(
        err.contains("Additional properties are not allowed ('invalid' was unexpected)"),
        "{err}"
    );
}

#[test]
fn test_register_pack_invalid_python_versions_attribute() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_21", "dummy_pack_21");
    let (_, err) = reload_expecting(&home, PACKS_ONLY, 1);
    assert!(err.contains("'4' is not one of ['2', '3']"), "{err}");
}

// ---- test_configs_registrar.py -------------------------------------------------------------

#[test]
fn test_register_configs_for_all_packs() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    home.add_upstream_config("dummy_pack_1");
    let (out, _) = reload_expecting(&home, &["--register-configs"], 0);
    assert!(out.contains("Registered 1 configs."), "{out}");
    let values: Value = serde_json::from_str(
        &home.query("SELECT vals FROM configs WHERE pack = 'dummy_pack_1'")[0],
    )
    .unwrap();
    // Stored as written: templates unrendered.
    assert_eq!(values["api_key"], "{{st2kv.user.api_key}}");
    assert_eq!(
        values["api_secret"],
        "SUPER_SECRET_PARAMETER_THAT_SHOULD_NEVER_APPEAR_IN_RESPONSES_OR_LOGS"
    );
    assert_eq!(values["region"], "us-west-1");
}

/// `st2ctl reload --register-configs` over one fixture pack and its config: the error output.
fn config_failure(pack: &str) -> String {
    let home = Home::new();
    home.add_upstream_pack(&format!("packs/{pack}"), pack);
    home.add_upstream_config(pack);
    let (_, err) = reload_expecting(&home, &["--register-configs"], 1);
    assert!(home.query("SELECT pack FROM configs").is_empty(), "{err}");
    err
}

#[test]
fn test_register_all_configs_with_config_schema_validation_validation_failure_1() {
    let err = config_failure("dummy_pack_6");
    // The pack is registered under its ref (`dummy_pack_6_ref`); upstream names the directory.
    assert!(
        err.contains(
            "Failed validating attribute \"regions\" in config for pack \"dummy_pack_6_ref\" ("
        ) && err.contains("configs/dummy_pack_6.yaml): 1000 is not of type 'array'"),
        "{err}"
    );
}

#[test]
fn test_register_all_configs_with_config_schema_validation_validation_failure_2() {
    let err = config_failure("dummy_pack_19");
    assert!(
        err.contains(
            "Failed validating attribute \"instances.0.alias\" in config for pack \"dummy_pack_19_ref\" ("
        ) && err.contains("{'not': 'string'} is not of type 'string'"),
        "{err}"
    );
}

const DECRYPT_KV_ON_SECRET: &str = "Values specified as \"secret: True\" in config schema are \
    automatically decrypted by default. Use of \"decrypt_kv\" jinja filter is not allowed for \
    such values. Please check the specified values in the config or the default values in the \
    schema.";

#[test]
fn test_register_all_configs_with_config_schema_validation_validation_failure_3() {
    let err = config_failure("dummy_pack_11");
    assert!(err.contains(DECRYPT_KV_ON_SECRET), "{err}");
}

#[test]
fn test_register_all_configs_with_config_schema_validation_validation_failure_4() {
    let err = config_failure("dummy_pack_22");
    assert!(err.contains(DECRYPT_KV_ON_SECRET), "{err}");
}

// ---- test_register_content_script.py -------------------------------------------------------

#[test]
fn test_register_from_pack_success() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    let (out, _) = reload_expecting(&home, &["--register-actions"], 0);
    assert!(out.contains("Registered 3 actions."), "{out}");
}

#[test]
fn test_register_from_pack_fail_on_failure_pack_dir_doesnt_exist() {
    let mut home = Home::new();
    let missing = home.dir.path().join("doesntexistblah");
    home.set_extra_conf(&format!(
        "[content]\npacks_base_paths = {}\n",
        missing.display()
    ));
    let (out, err) = reload_expecting(
        &home,
        &["--register-actions", "--register-no-fail-on-failure"],
        0,
    );
    assert!(out.contains("Registered 0 actions."), "{out}");
    assert!(err.contains("doesn't exist"), "{err}");
    let (_, err) = reload_expecting(
        &home,
        &["--register-actions", "--register-fail-on-failure"],
        1,
    );
    let expected = format!("Directory \"{}\" doesn't exist", missing.display());
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn test_register_from_pack_action_metadata_fails_validation() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_4", "dummy_pack_4");
    let (out, err) = reload_expecting(
        &home,
        &["--register-actions", "--register-no-fail-on-failure"],
        0,
    );
    assert!(out.contains("Registered 0 actions."), "{out}");
    assert!(err.contains("actions/invalid.yaml"), "{err}");
    let (_, err) = reload_expecting(
        &home,
        &["--register-actions", "--register-fail-on-failure"],
        1,
    );
    // Upstream: "'NoneType' object has no attribute 'get'".
    let expected =
        format!(
        "Failed to register action \"{}\" from pack \"dummy_pack_4\": the metadata file is empty",
        home.pack("dummy_pack_4").join("actions/invalid.yaml").display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn test_register_from_packs_doesnt_throw_on_missing_pack_resource_folder() {
    let home = Home::new();
    // Only an `actions/` folder (with a bad file).
    home.add_upstream_pack("packs_1/dummy_pack_4", "dummy_pack_4");
    let (out, _) = reload_expecting(&home, &["--register-sensors"], 0);
    assert!(out.contains("Registered 0 sensors."), "{out}");
    let (out, _) = reload_expecting(
        &home,
        &["--register-all", "--register-no-fail-on-failure"],
        0,
    );
    for line in [
        "Registered 0 actions.",
        "Registered 0 sensors.",
        "Registered 0 rules.",
    ] {
        assert!(out.contains(line), "{out}");
    }
}

#[test]
fn test_register_all_and_register_setup_virtualenvs() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    let (out, _) = reload_expecting(
        &home,
        &[
            "--register-all",
            "--register-setup-virtualenvs",
            "--register-no-fail-on-failure",
        ],
        0,
    );
    assert!(out.contains("Registered 3 actions."), "{out}");
    assert!(out.contains("Registered 1 rules."), "{out}");
    assert!(out.contains("Setup virtualenv for 1 pack(s)."), "{out}");
    assert!(home.venv("dummy_pack_1").join("bin/python").exists());
}

#[test]
fn test_register_setup_virtualenvs() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    let (out, _) = reload_expecting(
        &home,
        &[
            "--register-setup-virtualenvs",
            "--register-no-fail-on-failure",
        ],
        0,
    );
    assert!(out.contains("Setup virtualenv for 1 pack(s)."), "{out}");
    assert!(home.venv("dummy_pack_1").join("bin/python").exists());
}

#[test]
fn test_register_recreate_virtualenvs() {
    let home = Home::new();
    home.add_upstream_pack("packs/dummy_pack_1", "dummy_pack_1");
    let marker = home.venv("dummy_pack_1").join(".st2-venv.json");
    let (out, _) = reload_expecting(
        &home,
        &[
            "--register-setup-virtualenvs",
            "--register-no-fail-on-failure",
        ],
        0,
    );
    assert!(out.contains("Setup virtualenv for 1 pack(s)."), "{out}");
    // A file left in the old virtualenv is gone once it is recreated.
    std::fs::write(home.venv("dummy_pack_1").join("left-behind"), "x").unwrap();
    let before = std::fs::read_to_string(&marker).unwrap();
    let (out, _) = reload_expecting(
        &home,
        &[
            "--register-recreate-virtualenvs",
            "--register-no-fail-on-failure",
        ],
        0,
    );
    assert!(out.contains("Setup virtualenv for 1 pack(s)."), "{out}");
    assert!(!home.venv("dummy_pack_1").join("left-behind").exists());
    assert!(marker.is_file(), "{before}");
}

// ---- ours: what each failure mode leaves registered ----------------------------------------

/// With `--register-no-fail-on-failure` the good files of a pack are registered and each bad
/// one is reported; what a bad file had registered before stays (upstream never deletes on
/// a failed upsert), and so does a previous config schema. With fail-on-failure the pack
/// keeps its previous registration whole.
#[test]
fn no_fail_on_failure_registers_the_good_files_and_keeps_what_bad_ones_had() {
    let home = Home::new();
    let dir = home.pack("demo");
    pack_files(&dir, "demo", "1.0.0", &["one", "two"]);
    write(&dir, "config.schema.yaml", "token:\n  type: string\n");
    write(&dir, "rules/r.yaml", "name: r\n");
    reload_expecting(&home, &[], 0);

    // `two` breaks, `three` is new, `four` is new and bad, the schema and the rule break.
    write(&dir, "actions/two.yaml", "name: two\nrunner_type: nope\n");
    write(
        &dir,
        "actions/three.yaml",
        "name: three\nrunner_type: local-shell-cmd\n",
    );
    write(&dir, "actions/four.yaml", "name: [four\n");
    write(&dir, "config.schema.yaml", "api-key:\n  type: string\n");
    write(&dir, "rules/r.yaml", "name: [r\n");

    // Fail on failure: nothing of the pack changes.
    let (out, err) = reload_expecting(&home, &[], 1);
    assert_eq!(err.matches("error:").count(), 4, "{err}");
    assert!(out.contains("Registered 0 actions."), "{out}");
    assert_eq!(action_refs(&home), ["demo.one", "demo.two"]);
    let runner_of_two = || home.query("SELECT runner_type FROM actions WHERE ref = 'demo.two'");
    assert_eq!(runner_of_two(), ["local-shell-cmd"]);

    // No fail on failure: `three` joins, `two` and the rule keep their previous registration,
    // `four` was never registered, the previous schema stays.
    let (out, err) = reload_expecting(&home, &["--register-no-fail-on-failure"], 0);
    assert_eq!(err.matches("error:").count(), 4, "{err}");
    assert!(
        err.contains(
            "action \"demo.two\" keeps its previous registration: actions/two.yaml failed"
        ),
        "{err}"
    );
    assert!(out.contains("Registered 2 actions."), "{out}");
    assert!(out.contains("Registered 0 rules."), "{out}");
    assert!(!out.contains("Unregistered"), "{out}");
    assert_eq!(action_refs(&home), ["demo.one", "demo.three", "demo.two"]);
    assert_eq!(runner_of_two(), ["local-shell-cmd"]);
    assert_eq!(
        home.query("SELECT name FROM resources WHERE kind = 'rule'"),
        ["r"]
    );
    assert_eq!(
        home.query("SELECT schema FROM config_schemas WHERE pack = 'demo'"),
        [r#"{"token":{"type":"string"}}"#]
    );

    // Fixed files replace what was kept; a file removed for good is unregistered.
    write(&dir, "actions/two.yaml", "name: two\nrunner_type: noop\n");
    std::fs::remove_file(dir.join("actions/four.yaml")).unwrap();
    std::fs::remove_file(dir.join("rules/r.yaml")).unwrap();
    write(&dir, "config.schema.yaml", "key:\n  type: string\n");
    let (out, _) = reload_expecting(&home, &["--register-no-fail-on-failure"], 0);
    assert!(out.contains("Registered 3 actions."), "{out}");
    assert_eq!(runner_of_two(), ["noop"]);
    assert!(
        out.contains("Unregistered rule rules/r.yaml of pack demo"),
        "{out}"
    );
}

//! Port of StackStorm 3.9.0's `st2common/tests/unit/test_param_utils.py` (tag `v3.9.0`):
//! parameter rendering (`st2common/st2common/util/param.py`) as a user of `st2 run` sees it.
//!
//! Upstream calls `get_finalized_params` / `render_live_params` directly with a runner's and
//! an action's parameter schemas. Here each case is an action of a pack written by the test,
//! run with `st2 run -j`: a `python-script` action whose `run(**kwargs)` returns its kwargs
//! (what the action receives: the final parameters, `None` included), and the execution's
//! `parameters` (the live parameters, as upstream records them). Errors are the `error:`
//! line of a refused run (exit 2, nothing recorded).
//!
//! How upstream's inputs become a pack:
//! - Runner parameters: st2-rs has only StackStorm's real runners, so a case's runner
//!   parameters are declared as the action's, with the runner's type and, when the runner
//!   marks one immutable, the runner's definition (upstream processes the runner's schema
//!   last, so its immutable default wins). What the split between runner and action adds
//!   (the runner's type winning over the action's, `_split_params`) is checked by the unit
//!   tests named after the same cases in `src/action/params.rs`, with upstream's inputs
//!   unchanged.
//! - Given values: `st2 run` words are cast by type as the StackStorm CLI casts them, which
//!   cannot give an untyped parameter a number or a boolean, nor a template to an integer,
//!   boolean or object parameter (upstream's CLI cannot either). Such values are the
//!   parameter's default instead; templates in defaults render as given ones do.
//! - `action_context.api_user` is the user of the run: `[system_user] user = noob`.
//! - Fixtures: the parameters of upstream's `generic` fixtures
//!   `actions/action_4_action_context_param.yaml`, `actions/action_system_default.yaml` and
//!   `runners/testrunner1.yaml`, copied unchanged under `fixtures/upstream/generic/` and read
//!   by the tests.
//!
//! Left out, with the reason:
//! - `test_unicode_value_casting`: calls the internal `_cast_params`; the same value goes
//!   through `st2 run` in `test_get_finalized_params_with_casting_unicode_values`.
//! - `test_get_config`: the internal `get_config(pack, user)` with `None` arguments;
//!   `test_get_finalized_params_with_config` shows the config reaching templates.
//! - `test_get_live_params_with_additional_context`: additional contexts come from workflow
//!   engines and rules, which `st2 run` does not have.
//!
//! Where we differ on purpose (each test says so): a cycle names every parameter in it
//! (upstream names one per cycle, picked by Python's set order, which varies between runs);
//! a run is refused before anything is recorded (upstream records a failed execution);
//! `test_get_finalized_params_with_cast_overridden` cannot declare a runner parameter's type
//! twice (registration refuses an action that changes a runner parameter's type), so the
//! integration test keeps the cases that do not depend on it; an unknown action is named
//! with our words.

use serde_json::{json, Map, Value};

use crate::common::*;

const PACK: &str = "params";

/// The action every case runs: `run(**kwargs)` returns what it was given.
const KWARGS_PY: &str = "from st2common.runners.base_action import Action\n\n\n\
class Kwargs(Action):\n    def run(self, **kwargs):\n        return kwargs\n";

/// A home whose user is `noob`, with pack `params` holding `actions` (name, parameters)
/// as `python-script` actions that return their kwargs; registered.
fn home_with(actions: &[(&str, Value)]) -> Home {
    let mut home = Home::new();
    home.set_extra_conf("[system_user]\nuser = noob\n");
    let dir = home.pack(PACK);
    write(
        &dir,
        "pack.yaml",
        "ref: params\nname: params\ndescription: parameter rendering\nversion: 1.0.0\nauthor: t\n",
    );
    write(&dir, "actions/kwargs.py", KWARGS_PY);
    for (name, parameters) in actions {
        let metadata = json!({
            "name": name,
            "runner_type": "python-script",
            "entry_point": "kwargs.py",
            "parameters": parameters,
        });
        write_action(&dir, &metadata);
    }
    reload_ok(&home, &["--register-all"]);
    home
}

/// `st2 run ...` that must be refused: its one `error:` line (exit 2, nothing recorded).
fn run_refused(home: &Home, action: &str, words: &[&str]) -> String {
    let before = executions(home);
    let output = home
        .st2()
        .arg("run")
        .arg(action)
        .args(words)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(executions(home), before, "nothing is recorded");
    let text = stderr(&output);
    text.lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error line in {text}"))
        .to_string()
}

/// What `run()` received.
fn received(execution: &Value) -> &Value {
    &execution["result"]["result"]
}

/// The parameters of an upstream fixture file (`fixtures/upstream/generic/...`).
fn fixture_parameters(relative: &str, key: &str) -> Map<String, Value> {
    let path = upstream_fixture("generic").join(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    let value = st2_rs::yaml::from_str(&text).unwrap();
    value[key].as_object().unwrap().clone()
}

/// A runner's parameters declared as the action's: the action's definitions merged over the
/// runner's, except that a parameter the runner marks immutable keeps the runner's.
fn fold(runner: &Map<String, Value>, action: &Map<String, Value>) -> Value {
    let mut merged = runner.clone();
    for (name, schema) in action {
        let runner_immutable = runner
            .get(name)
            .and_then(|property| property.get("immutable"))
            == Some(&Value::Bool(true));
        if runner_immutable {
            continue;
        }
        match (merged.get_mut(name), schema) {
            (Some(Value::Object(existing)), Value::Object(update)) => {
                existing.extend(update.clone());
            }
            _ => {
                merged.insert(name.clone(), schema.clone());
            }
        }
    }
    Value::Object(merged)
}

fn testrunner1() -> Map<String, Value> {
    fixture_parameters("runners/testrunner1.yaml", "runner_parameters")
}

fn action_4() -> Map<String, Value> {
    fixture_parameters("actions/action_4_action_context_param.yaml", "parameters")
}

#[test]
fn test_process_jinja_exception() {
    // `{{a` does not parse as a template: the value is plain text.
    let home = home_with(&[("a", json!({"a1": {"type": "object"}}))]);
    let execution = run_ok(
        &home,
        &["params.a", r#"a1={"test": "http://someurl?value={{a"}"#],
    );
    let expected = json!({"test": "http://someurl?value={{a"});
    assert_eq!(execution["parameters"]["a1"], expected);
    assert_eq!(received(&execution)["a1"], expected);
}

#[test]
fn test_process_jinja_template() {
    let home = home_with(&[(
        "a",
        json!({"a": {"type": "string"}, "a1": {"type": "string"}}),
    )]);
    let execution = run_ok(&home, &["params.a", "a=x", "a1=http://someurl?value={{a}}"]);
    assert_eq!(execution["parameters"]["a1"], "http://someurl?value=x");
    assert_eq!(received(&execution)["a1"], "http://someurl?value=x");
}

#[test]
fn test_get_finalized_params() {
    let home = home_with(&[("action4", fold(&testrunner1(), &action_4()))]);
    let execution = run_ok(&home, &["params.action4", "actionstr=foo", "runnerint=555"]);
    let got = received(&execution);
    // Runner parameters: defaults resolved, the given one picked up, a default the action
    // overrides (also with a falsy 0), an immutable one keeping its value.
    assert_eq!(got["runnerstr"], "defaultfoo");
    assert_eq!(got["runnerint"], json!(555.0));
    assert_eq!(got["runnerdummy"], "actiondummy");
    assert_eq!(got["runnerdefaultint"], 0);
    assert_eq!(got["runnerimmutable"], "runnerimmutable");
    // Action parameters: the given one, the immutable one, one from the action context.
    assert_eq!(got["actionstr"], "foo");
    assert_eq!(got["actionimmutable"], "actionimmutable");
    assert_eq!(got["action_api_user"], "noob");
    // Every declared parameter reaches the action; a number default is a float.
    assert_eq!(got["actionint"], json!(10.0));
    assert_eq!(got["defaults_ovverriden_by_execution"], 1);
    // Recorded: the given values (cast) and the template default.
    assert_eq!(
        execution["parameters"],
        json!({"actionstr": "foo", "runnerint": 555.0, "action_api_user": "noob"})
    );

    // A name neither the runner nor the action declares, and immutable parameters, are
    // refused before anything runs (upstream's API refuses them when it records the
    // request; `get_finalized_params` alone drops or ignores them).
    let error = run_refused(
        &home,
        "params.action4",
        &[
            "actionstr=foo",
            "some_key_that_aint_exist_in_action_or_runner=bar",
        ],
    );
    assert!(
        error.contains(
            "Additional properties are not allowed \
             ('some_key_that_aint_exist_in_action_or_runner' was unexpected)"
        ),
        "{error}"
    );
    let error = run_refused(
        &home,
        "params.action4",
        &[
            "actionstr=foo",
            "runnerimmutable=failed_override",
            "actionimmutable=failed_override",
        ],
    );
    assert_eq!(
        error,
        "Override of immutable parameter(s) ['actionimmutable', 'runnerimmutable'] is \
         unsupported."
    );
}

#[test]
fn test_get_finalized_params_system_values() {
    let action = fixture_parameters("actions/action_system_default.yaml", "parameters");
    let home = home_with(&[("system", fold(&testrunner1(), &action))]);
    for (key, value) in [("actionstr", "foo"), ("actionnumber", "1.0")] {
        let output = home
            .st2()
            .args(["key", "set", key, value])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let execution = run_ok(&home, &["params.system", "runnerint=555"]);
    let got = received(&execution);
    assert_eq!(got["runnerstr"], "defaultfoo");
    assert_eq!(got["runnerint"], json!(555.0));
    assert_eq!(got["runnerimmutable"], "runnerimmutable");
    assert_eq!(got["actionstr"], "foo");
    assert_eq!(got["actionnumber"], json!(1.0));
    // Defaults that are templates are live parameters: recorded, cast.
    assert_eq!(
        execution["parameters"],
        json!({"runnerint": 555.0, "actionnumber": 1.0, "actionstr": "foo"})
    );
}

#[test]
fn test_get_finalized_params_action_immutable() {
    let home = home_with(&[("action4", fold(&testrunner1(), &action_4()))]);
    let error = run_refused(
        &home,
        "params.action4",
        &[
            "actionstr=foo",
            "runnerint=555",
            "actionimmutable=failed_override",
        ],
    );
    assert_eq!(
        error,
        "Override of immutable parameter(s) ['actionimmutable'] is unsupported."
    );
    let execution = run_ok(&home, &["params.action4", "actionstr=foo", "runnerint=555"]);
    let got = received(&execution);
    assert_eq!(got["runnerstr"], "defaultfoo");
    assert_eq!(got["runnerint"], json!(555.0));
    assert_eq!(got["runnerdummy"], "actiondummy");
    assert_eq!(got["actionstr"], "foo");
    assert_eq!(got["actionimmutable"], "actionimmutable");
}

#[test]
fn test_get_finalized_params_empty() {
    let home = home_with(&[]);
    let dir = home.pack(PACK);
    write(
        &dir,
        "actions/empty.yaml",
        "name: empty\nrunner_type: noop\n",
    );
    reload_ok(&home, &["--register-all"]);
    let execution = run_ok(&home, &["params.empty"]);
    assert_eq!(execution["parameters"], json!({}));
    assert_eq!(execution["status"], "succeeded");
}

#[test]
fn test_get_finalized_params_none() {
    // Parameters with no value reach the action as None (given as None upstream; through
    // the CLI, not given).
    let home = home_with(&[("none", json!({"r1": {}, "a1": {}}))]);
    let execution = run_ok(&home, &["params.none"]);
    assert_eq!(received(&execution), &json!({"r1": null, "a1": null}));
    assert_eq!(execution["parameters"], json!({}));
}

#[test]
fn test_get_finalized_params_no_cast() {
    let home = home_with(&[(
        "nocast",
        json!({"r1": {}, "r2": {"default": 1}, "a1": {"default": true}, "a2": {}, "a3": {}}),
    )]);
    let execution = run_ok(
        &home,
        &[
            "params.nocast",
            "r1={{r2}}",
            "a2={{r1}} {{a1}}",
            "a3={{action_context.api_user}}",
        ],
    );
    assert_eq!(
        received(&execution),
        &json!({"r1": "1", "r2": 1, "a1": true, "a2": "1 True", "a3": "noob"})
    );
    assert_eq!(
        execution["parameters"],
        json!({"r1": "1", "a2": "1 True", "a3": "noob"})
    );
}

#[test]
fn test_get_finalized_params_with_cast() {
    let home = home_with(&[(
        "cast",
        json!({
            "r1": {"type": "integer", "default": "{{r2}}"},
            "r2": {"type": "integer", "default": 1},
            "a1": {"type": "boolean"},
            "a2": {"type": "boolean", "default": "{{a1}}"},
            "a3": {"default": "{{action_context.api_user}}"},
        }),
    )]);
    let execution = run_ok(&home, &["params.cast", "a1=true"]);
    assert_eq!(
        received(&execution),
        &json!({"r1": 1, "r2": 1, "a1": true, "a2": true, "a3": "noob"})
    );
    assert_eq!(
        execution["parameters"],
        json!({"a1": true, "r1": 1, "a2": true, "a3": "noob"})
    );
}

#[test]
fn test_get_finalized_params_with_cast_overridden() {
    // Upstream's `a1` (a boolean rendered from the runner's integer `r1`, which gives 1) and
    // the action's re-declaration of `r1` as a string need a runner parameter typed twice:
    // see the unit test of the same name. The rest of the case:
    let home = home_with(&[(
        "overridden",
        json!({
            "r1": {"type": "integer", "default": "{{r2}}"},
            "r2": {"type": "integer", "default": 1},
            "a2": {"type": "string", "default": "{{r1}}"},
            "a3": {"type": "integer", "default": "{{r1}}"},
        }),
    )]);
    let execution = run_ok(&home, &["params.overridden"]);
    assert_eq!(
        received(&execution),
        &json!({"r1": 1, "r2": 1, "a2": "1", "a3": 1})
    );
}

#[test]
fn test_get_finalized_params_cross_talk_no_cast() {
    let home = home_with(&[(
        "crosstalk",
        json!({"r1": {}, "r2": {"default": 1}, "a1": {"default": true}, "a2": {}, "a3": {}}),
    )]);
    let execution = run_ok(
        &home,
        &[
            "params.crosstalk",
            "r1={{a1}}",
            "a2={{r1}} {{a1}}",
            "a3={{action_context.api_user}}",
        ],
    );
    assert_eq!(
        received(&execution),
        &json!({"r1": "True", "r2": 1, "a1": true, "a2": "True True", "a3": "noob"})
    );
}

#[test]
fn test_get_finalized_params_cross_talk_with_cast() {
    // A rendered array that is not JSON is read as a Python literal: a tuple, here.
    let home = home_with(&[(
        "crosstalkcast",
        json!({
            "r1": {"type": "boolean", "default": "{{a1}}"},
            "r2": {"type": "integer"},
            "r3": {"default": 1},
            "a1": {"type": "boolean"},
            "a2": {"type": "array", "default": "{{r1}},{{a1}},{{a3}},{{r3}}"},
            "a3": {"default": "{{a1}}"},
        }),
    )]);
    let execution = run_ok(&home, &["params.crosstalkcast", "r2=1", "a1=True"]);
    assert_eq!(
        received(&execution),
        &json!({"r1": true, "r2": 1, "r3": 1, "a1": true, "a2": [true, true, true, 1],
                "a3": "True"})
    );
}

#[test]
fn test_get_finalized_params_order() {
    let home = home_with(&[(
        "order",
        // Runner `r1`, `r2`, `r3` (default "r3"), action `a1`, `a2`, and the action's
        // default for `r3` ("a3"), which wins.
        json!({"r1": {}, "r2": {"default": "r2"}, "r3": {"default": "a3"}, "a1": {},
               "a2": {"default": "a2"}}),
    )]);
    let execution = run_ok(
        &home,
        &["params.order", "r1=p1", "r2=p2", "r3=p3", "a1=p4", "a2=p5"],
    );
    assert_eq!(
        received(&execution),
        &json!({"r1": "p1", "r2": "p2", "r3": "p3", "a1": "p4", "a2": "p5"})
    );
    let execution = run_ok(&home, &["params.order"]);
    assert_eq!(
        received(&execution),
        &json!({"r1": null, "r2": "r2", "r3": "a3", "a1": null, "a2": "a2"})
    );
}

#[test]
fn test_get_finalized_params_non_existent_template_key_in_action_context() {
    let home = home_with(&[(
        "context",
        json!({"r1": {"type": "string"}, "r2": {"type": "integer"},
               "a1": {"type": "string"}, "a2": {"type": "string"}}),
    )]);
    let error = run_refused(
        &home,
        "params.context",
        &[
            "r1=foo",
            "r2=2",
            "a1=i love tests",
            "a2={{action_context.lorem_ipsum}}",
        ],
    );
    assert_eq!(
        error,
        "Failed to render parameter \"a2\": 'dict object' has no attribute 'lorem_ipsum'"
    );
}

#[test]
fn test_get_finalized_params_with_casting_unicode_values() {
    let home = home_with(&[("unicode", json!({"a1": {"type": "string"}}))]);
    let value = "unicode1 \u{669}(\u{33e}\u{25cf}\u{32e}\u{32e}\u{303}\u{33e}\u{2022}\u{303}\u{33e})\u{6f6} unicode2";
    let execution = run_ok(&home, &["params.unicode", &format!("a1={value}")]);
    assert_eq!(received(&execution), &json!({ "a1": value }));
    assert_eq!(execution["parameters"], json!({ "a1": value }));
}

#[test]
fn test_get_finalized_params_with_dict() {
    // A template that is a whole value inside an object keeps the value's type.
    let home = home_with(&[(
        "dict",
        json!({
            "r1": {"type": "object", "default": "{{r2}}"},
            "r2": {"type": "object"},
            "a1": {"type": "boolean"},
            "a2": {"type": "boolean", "default": "{{a1}}"},
            "a3": {"type": "object",
                   "default": {"test": "{{a1}}", "test1": "{{a4}}", "test2": "{{a5}}"}},
            "a4": {"type": "integer"},
            "a5": {"type": "array", "default": ["1", "{{a1}}"]},
        }),
    )]);
    let execution = run_ok(
        &home,
        &["params.dict", r#"r2={"r2.1": 1}"#, "a1=true", "a4=3"],
    );
    assert_eq!(
        received(&execution),
        &json!({
            "r1": {"r2.1": 1}, "r2": {"r2.1": 1}, "a1": true, "a2": true,
            "a3": {"test": true, "test1": 3, "test2": ["1", true]},
            "a4": 3, "a5": ["1", true],
        })
    );
}

#[test]
fn test_get_finalized_params_with_list() {
    let home = home_with(&[(
        "list",
        json!({
            "r1": {"type": "array", "default": "{{r2}}"},
            "r2": {"type": "array"},
            "a1": {"type": "boolean"},
            "a2": {"type": "string"},
            "a3": {"type": "string"},
            "a4": {"type": "boolean", "default": "{{a1}}"},
            "a5": {"type": "array", "default": ["{{a2}}", "{{a3}}"]},
            "a6": {"type": "array", "default": [
                ["{{r2}}", "{{a2}}"],
                ["{{a3}}", "{{a1}}"],
                ["{{a7}}", "This should be rendered as a string {{a1}}",
                 "{{a1}} This, too, should be rendered as a string {{a1}}"],
            ]},
            "a7": {"type": "integer"},
        }),
    )]);
    let execution = run_ok(
        &home,
        &[
            "params.list",
            r#"r2=["1", "2"]"#,
            "a1=true",
            "a2=Test",
            "a3=Test2",
            "a7=5",
        ],
    );
    assert_eq!(
        received(&execution),
        &json!({
            "r1": ["1", "2"], "r2": ["1", "2"], "a1": true, "a2": "Test", "a3": "Test2",
            "a4": true, "a5": ["Test", "Test2"],
            "a6": [[["1", "2"], "Test"], ["Test2", true],
                   [5, "This should be rendered as a string True",
                    "True This, too, should be rendered as a string True"]],
            "a7": 5,
        })
    );
}

#[test]
fn test_get_finalized_params_with_cyclic_dependency() {
    let home = home_with(&[("cyclic", json!({"r1": {}, "r2": {}}))]);
    let error = run_refused(&home, "params.cyclic", &["r1={{r2}}", "r2={{r1}}"]);
    // [fix] both members of the cycle are named (upstream names either, by set order).
    assert_eq!(
        error,
        "Cyclic dependency found in the following variables: r1, r2. Likely the variable is \
         referencing itself"
    );
}

#[test]
fn test_get_finalized_params_with_missing_dependency() {
    let home = home_with(&[
        ("missing", json!({"r1": {}, "r2": {}})),
        (
            "missingdefaults",
            json!({"r1": {"default": "{{r3}}"}, "r2": {"default": "{{r3}}"}}),
        ),
    ]);
    let error = run_refused(&home, "params.missing", &["r1={{r3}}", "r2={{r3}}"]);
    assert_eq!(error, "Dependency unsatisfied in variable \"r3\"");
    let error = run_refused(&home, "params.missingdefaults", &[]);
    assert_eq!(error, "Dependency unsatisfied in variable \"r3\"");
}

#[test]
fn test_get_finalized_params_no_double_rendering() {
    // What a template renders to is not rendered again, even when it reads as a template
    // (upstream's values come from the action context; here from the datastore).
    let home = home_with(&[("double", json!({"r1": {}}))]);
    for (key, value) in [("h1", "{"), ("h2", "{ missing }}")] {
        let output = home
            .st2()
            .args(["key", "set", key, value])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let execution = run_ok(
        &home,
        &[
            "params.double",
            "r1={{ st2kv.system.h1 }}{{ st2kv.system.h2 }}",
        ],
    );
    assert_eq!(received(&execution), &json!({"r1": "{{ missing }}"}));
    assert_eq!(execution["parameters"], json!({"r1": "{{ missing }}"}));
}

#[test]
fn test_get_finalized_params_jinja_filters() {
    // StackStorm's own filters, in a real shell command.
    let home = Home::new();
    let execution = run_ok(
        &home,
        &["core.local", r#"cmd=echo {{"1.6.0" | version_bump_minor}}"#],
    );
    assert_eq!(execution["parameters"]["cmd"], "echo 1.7.0");
    assert_eq!(execution["result"]["stdout"], "1.7.0");
}

#[test]
fn test_get_finalized_params_param_rendering_failure() {
    let home = home_with(&[("failure", json!({"cmd": {}, "a2": {}}))]);
    let error = run_refused(&home, "params.failure", &["cmd={{a2.foo}}", "a2=test"]);
    assert_eq!(
        error,
        "Failed to render parameter \"cmd\": 'str object' has no attribute 'foo'"
    );
}

#[test]
fn test_get_finalized_param_object_contains_template_notation_in_the_value() {
    let home = home_with(&[(
        "object",
        json!({
            "params": {"type": "object",
                       "default": {"host": "{{host}}", "port": "{{port}}", "path": "/bar"}},
            "host": {"type": "string"},
            "port": {"type": "integer"},
        }),
    )]);
    let execution = run_ok(&home, &["params.object", "host=lolcathost", "port=5555"]);
    assert_eq!(
        received(&execution)["params"],
        json!({"host": "lolcathost", "port": 5555, "path": "/bar"})
    );
    // An object default is not a template default: it is not recorded.
    assert_eq!(
        execution["parameters"],
        json!({"host": "lolcathost", "port": 5555})
    );
}

#[test]
fn test_cast_param_referenced_action_doesnt_exist() {
    // Upstream: `Action with ref "foo.doesntexist" doesn't exist`; ours names it with a hint.
    let home = Home::new();
    let error = run_refused(&home, "foo.doesntexist", &[]);
    assert!(
        error.starts_with("action \"foo.doesntexist\" is not found"),
        "{error}"
    );
}

#[test]
fn test_get_finalized_params_with_config() {
    let home = home_with(&[("withconfig", fold(&testrunner1(), &action_4()))]);
    let dir = home.pack(PACK);
    write(
        &dir,
        "config.schema.yaml",
        "generic_config_param:\n  type: string\n",
    );
    home.write_config(PACK, "generic_config_param: So generic\n");
    reload_ok(&home, &["--register-configs"]);
    let execution = run_ok(
        &home,
        &[
            "params.withconfig",
            "actionstr=foo",
            "config_param={{config_context.generic_config_param}}",
        ],
    );
    assert_eq!(received(&execution)["config_param"], "So generic");
    assert_eq!(execution["parameters"]["config_param"], "So generic");
}

#[test]
fn test_get_value_from_datastore_through_render_live_params() {
    let parameters = json!({
        "system_value": {"default": "{{ st2kv.system.test_key }}"},
        "user_value": {"default": "{{ st2kv.user.test_key }}"},
    });
    let mut home = home_with(&[("datastore", parameters)]);
    for args in [
        vec!["key", "set", "test_key", "foo"],
        vec![
            "key", "set", "test_key", "bar", "--scope", "user", "--user", "user1",
        ],
        vec![
            "key", "set", "test_key", "baz", "--scope", "user", "--user", "stanley",
        ],
    ] {
        let output = home.st2().args(&args).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let live = |home: &Home| run_ok(home, &["params.datastore"])["parameters"].clone();

    // Run by user1: each scope's value.
    home.set_extra_conf("[system_user]\nuser = user1\n");
    assert_eq!(
        live(&home),
        json!({"system_value": "foo", "user_value": "bar"})
    );
    // user1's item is not user2's: empty (with a warning).
    home.set_extra_conf("[system_user]\nuser = user2\n");
    let (execution, output) = run_json(&home, &["params.datastore"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["parameters"]["user_value"], "");
    assert!(
        stderr(&output).contains("st2kv.user.test_key"),
        "{}",
        stderr(&output)
    );
    // No user given: the system user's scope (upstream's default system user, stanley).
    home.set_extra_conf("");
    assert_eq!(
        live(&home),
        json!({"system_value": "foo", "user_value": "baz"})
    );
}

#[test]
fn test_cyclic_dependency_friendly_error_message() {
    let home = home_with(&[(
        "friendly",
        json!({"r1": {"default": "some"}, "r2": {"default": "{{ r1 }}"}}),
    )]);
    // Rendering comes before the check of parameter names, as upstream's.
    let error = run_refused(
        &home,
        "params.friendly",
        &[
            "r3=lolcathost",
            "cyclic={{ cyclic }}",
            "morecyclic={{ morecyclic }}",
        ],
    );
    assert_eq!(
        error,
        "Cyclic dependency found in the following variables: cyclic, morecyclic. Likely the \
         variable is referencing itself"
    );
}

#[test]
fn test_unsatisfied_dependency_friendly_error_message() {
    let home = home_with(&[(
        "unsatisfied",
        json!({"r1": {"default": "some"}, "r2": {"default": "{{ r1 }}"}}),
    )]);
    let error = run_refused(
        &home,
        "params.unsatisfied",
        &["r3=lolcathost", "r4={{ variable_not_defined }}"],
    );
    assert_eq!(
        error,
        "Dependency unsatisfied in variable \"variable_not_defined\""
    );
}

#[test]
fn test_add_default_templates_to_live_params() {
    let home = home_with(&[(
        "templates",
        json!({
            "immutableparam": {"default": "{{ 3 | int }}", "type": "integer", "immutable": true},
            "templateparam": {"default": "{{ 3 | int }}", "type": "integer"},
            "nottemplateparam": {"default": "4", "type": "string"},
            "nodefault": {"type": "integer"},
            "overridden": {"default": "{{ 3 | int }}", "type": "integer"},
        }),
    )]);
    let execution = run_ok(&home, &["params.templates", "overridden=4"]);
    // Recorded: the given value and the template default that is not immutable, cast.
    assert_eq!(
        execution["parameters"],
        json!({"overridden": 4, "templateparam": 3})
    );
    // The action gets them all.
    assert_eq!(
        received(&execution),
        &json!({"immutableparam": 3, "templateparam": 3, "nottemplateparam": "4",
                "nodefault": null, "overridden": 4})
    );
}

#[test]
fn test_render_final_params_and_shell_script_action_command_strings() {
    let home = Home::new();
    let dir = home.pack("shell");
    write(
        &dir,
        "pack.yaml",
        "ref: shell\nname: shell\ndescription: d\nversion: 1.0.0\nauthor: t\n",
    );
    let parameters = json!({
        "project": {"type": "string", "default": "st2", "position": 0},
        "version": {"type": "string", "position": 1, "required": true},
        "fork": {"type": "string", "position": 2, "default": "StackStorm"},
        "branch": {"type": "string", "position": 3, "default": "master"},
        "update_changelog": {"type": "boolean", "position": 4, "default": false},
        "local_repo": {"type": "string", "position": 5},
    });
    let metadata = json!({
        "name": "release",
        "runner_type": "local-shell-script",
        "entry_point": "release.sh",
        "parameters": parameters,
    });
    write_action(&dir, &metadata);
    write(
        &dir,
        "actions/release.sh",
        "#!/bin/sh\nprintf '%s|' \"$@\"\n",
    );
    make_executable(&dir.join("actions/release.sh"));
    reload_ok(&home, &["--register-all"]);
    let arguments = |words: &[&str]| {
        let output = home
            .st2()
            .args(["run", "shell.release"])
            .args(words)
            .arg("-j")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        execution["result"]["stdout"].as_str().unwrap().to_string()
    };
    // 1. Defaults fill what is not given.
    assert_eq!(
        arguments(&[
            "project=st2flow",
            "version=3.0.0",
            "fork=StackStorm",
            "local_repo=/tmp/repo"
        ]),
        "st2flow|3.0.0|StackStorm|master|0|/tmp/repo|"
    );
    // 2. Given values win.
    assert_eq!(
        arguments(&[
            "project=st2web",
            "version=3.1.0",
            "fork=StackStorm1",
            "update_changelog=True",
            "local_repo=/tmp/repob"
        ]),
        "st2web|3.1.0|StackStorm1|master|1|/tmp/repob|"
    );
    // 3. None for a boolean (the CLI reads `none` as Python's None) takes the default.
    assert_eq!(
        arguments(&[
            "project=st2rbac",
            "version=3.2.0",
            "fork=StackStorm2",
            "update_changelog=None",
            "local_repo=/tmp/repoc"
        ]),
        "st2rbac|3.2.0|StackStorm2|master|0|/tmp/repoc|"
    );
}

/// Not an upstream case (upstream records rendered values as they are): the record shows the
/// live parameters rendered, so what a template decrypted, or took from a secret of the pack
/// config, is masked in whatever parameter it ends up (`src/redact.rs`).
#[test]
fn decrypted_and_config_secrets_are_not_recorded() {
    let home = home_with(&[(
        "secrets",
        json!({
            "t": {"type": "string", "default": "{{ st2kv.system.tok | decrypt_kv }}"},
            "u": {"type": "string", "default": "x-{{ t }}"},
            "p": {"type": "string", "default": "{{ config_context.password }}"},
            "plain": {"type": "string", "default": "{{ config_context.user }}"},
        }),
    )]);
    let dir = home.pack(PACK);
    write(
        &dir,
        "config.schema.yaml",
        "password:\n  type: string\n  secret: true\nuser:\n  type: string\n",
    );
    home.write_config(PACK, "password: hunter22\nuser: stanley\n");
    for args in [
        vec!["key", "set", "tok", "s3cr3t-value", "--encrypt"],
        vec!["reload", "--register-configs"],
    ] {
        let output = if args[0] == "reload" {
            home.st2ctl().args(&args).output().unwrap()
        } else {
            home.st2().args(&args).output().unwrap()
        };
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let execution = run_ok(&home, &["params.secrets"]);
    assert_eq!(
        execution["parameters"],
        json!({"t": "********", "u": "x-********", "p": "********", "plain": "stanley"})
    );
    // What the action returns is masked too (`src/redact.rs`), as is the stored record.
    assert_eq!(received(&execution)["u"], "x-********");
    let stored = home.query("SELECT parameters FROM executions");
    assert!(
        !stored
            .iter()
            .any(|row| row.contains("s3cr3t") || row.contains("hunter22")),
        "{stored:?}"
    );
}

//! Port of StackStorm 3.9.0's action-chain runner tests (tag `v3.9.0` of `StackStorm/st2`):
//! `contrib/runners/action_chain_runner/tests/unit/test_actionchain.py`,
//! `test_actionchain_params_rendering.py` and `test_actionchain_cancel.py`.
//!
//! Upstream builds a runner object and mocks `action_service.request` (each child "runs" and
//! answers a canned result); here each case is a real `st2 run` of a chain action in a
//! temporary home, whose children are real executions, read back with `st2 execution get`.
//! What upstream reads from the mock's calls (`request.call_count`, the parameters of each
//! call) is the parent's `result.tasks` and each child's recorded `parameters`.
//!
//! Fixtures (copied unchanged): `fixtures/upstream/generic/actionchains/` from
//! `st2tests/st2tests/fixtures/generic/actionchains/`, and `fixtures/upstream/packs/action_chain_tests/`
//! from `st2tests/st2tests/fixtures/packs/action_chain_tests/`. The chains call
//! `wolfpack.a1`, `a2`, `a3` and `action-4-action-context-param`, which upstream loads as
//! models of the fictional runners `test-runner-1/2` (`generic/actions/a1.yaml`, ...): the
//! tests make a `wolfpack` pack at run time whose actions declare the same parameters (plus
//! the ones the chains pass, which upstream's mock never validated) and run one shell command
//! (`local-shell-cmd`), which plays the mock's canned result: `printf 1` succeeds with stdout
//! `1`, `exit 1` fails. The mock's results `{"o1": "1"}` and `{"raw_out": "published"}` are a
//! shell action's `stdout`: where a chain reads `{{c1.o1}}` or `{{c1.raw_out}}`, the test
//! runs a copy whose template reads `stdout` (said at each such test).
//!
//! Left out, testing internals with no effect a user can see: `test_runner_creation`, and
//! `test_chain_runner_success_path_with_wait` (the polling of a mocked `get_liveaction_by_id`;
//! children here run synchronously).
//! `test_chain_runner_action_exception` mocks `request` to raise: the nearest real case,
//! a child whose parameters the action refuses, is `test_chain_runner_action_exception`
//! here (both tasks recorded failed with an `error`, no child recorded).
//! Pause/resume (`test_actionchain_pause_resume.py`) and notifications
//! (`test_actionchain_notifications.py`) are not ported: st2-rs does not pause (section 7 of
//! `../shared/spec/workflows.md`; `st2 execution pause` does not exist) and `notify` is a
//! warning, which `test_notify_is_a_warning` checks.
//!
//! Deliberately different ([fix] in `../shared/spec/workflows.md` §4):
//! - `test_chain_runner_publish_param_rendering_failure` and
//!   `test_chain_task_passes_invalid_parameter_type_to_action`: upstream's runner raises (the
//!   execution crashes); here the chain fails with a top-level `error` naming the same problem.
//! - `test_malformed_chain`: every node is checked (upstream checks the first only), and the
//!   error is one readable line.
//! - No `traceback` in results: where upstream asserts one, the test asserts its absence.
//! - `test_chain_runner_typed_system_params`: `{{st2kv.system.a.b.c}}` reads the key `a.b.c`
//!   as upstream's does.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;

/// The `wolfpack` pack: upstream's `a1`, `a2`, `a3`, `action-4-action-context-param`
/// parameters, each action running `cmd`.
fn wolfpack(home: &Home, cmd: &str) -> std::path::PathBuf {
    let dir = home.pack("wolfpack");
    write(
        &dir,
        "pack.yaml",
        "---\nname: wolfpack\ndescription: upstream's generic fixtures\nversion: 0.1.0\nauthor: t\n",
    );
    let shell = |name: &str, parameters: Value| {
        let mut parameters = parameters.as_object().unwrap().clone();
        parameters.insert("cmd".into(), json!({"type": "string", "default": cmd}));
        write_action(
            &dir,
            &json!({"name": name, "runner_type": "local-shell-cmd", "enabled": true,
                    "parameters": parameters}),
        );
    };
    let untyped = json!({});
    shell(
        "a1",
        json!({"p1": untyped, "p2": untyped, "pparams": untyped, "pparameters": untyped}),
    );
    shell(
        "a2",
        json!({
            "arrtype": {"type": "array"}, "booltype": {"type": "boolean"},
            "inttype": {"type": "integer"}, "numbertype": {"type": "number"},
            "objtype": {"type": "object"}, "strtype": {"type": "string"},
            "p1": untyped, "published_action_param": untyped,
        }),
    );
    shell(
        "a3",
        json!({"p1": untyped, "p2": untyped, "p3": untyped, "out": untyped}),
    );
    shell(
        "action-4-action-context-param",
        json!({"actionstr": {"type": "string", "required": true}}),
    );
    dir
}

/// A chain action `wolfpack.<name>` running `chain` (YAML text), with these parameters.
fn chain_action(dir: &Path, name: &str, chain: &str, parameters: Value) {
    write(dir, &format!("actions/chains/{name}.yaml"), chain);
    write_action(
        dir,
        &json!({"name": name, "runner_type": "action-chain", "enabled": true,
                "entry_point": format!("chains/{name}.yaml"), "parameters": parameters}),
    );
}

fn fixture_chain(file: &str) -> String {
    std::fs::read_to_string(upstream_fixture(&format!("generic/actionchains/{file}"))).unwrap()
}

/// A home with `wolfpack` running `cmd` and the chain `file` as `wolfpack.chain`.
fn home_with(cmd: &str, chain: &str, parameters: Value) -> Home {
    let home = Home::new();
    let dir = wolfpack(&home, cmd);
    chain_action(&dir, "chain", chain, parameters);
    reload_ok(&home, &[]);
    home
}

/// `st2 run wolfpack.chain ARGS -j`: the parent execution.
fn run(home: &Home, args: &[&str]) -> Value {
    let output = home
        .st2()
        .args(["run", "wolfpack.chain"])
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    execution_of(&output)
}

/// The tasks of a chain's result.
fn tasks(parent: &Value) -> Vec<Value> {
    parent["result"]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn names(parent: &Value) -> Vec<String> {
    tasks(parent)
        .iter()
        .map(|task| task["name"].as_str().unwrap().to_string())
        .collect()
}

/// The recorded parameters of each child, in order (what upstream's mock was called with).
fn child_parameters(home: &Home, parent: &Value) -> Vec<Value> {
    tasks(parent)
        .iter()
        .filter_map(|task| task["execution_id"].as_str())
        .map(|id| st2_json(home, &["execution", "get", id])["parameters"].clone())
        .collect()
}

const OK: &str = "printf 1";
const FAIL: &str = "exit 1";

#[test]
fn test_malformed_chain() {
    let home = home_with(OK, &fixture_chain("malformedchain.yaml"), json!({}));
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert!(tasks(&parent).is_empty());
    let error = parent["result"]["error"].as_str().unwrap();
    assert_eq!(error, "chain[0]: 'name' is a required property");
}

#[test]
fn test_chain_runner_success_path() {
    let home = home_with(OK, &fixture_chain("chain1.yaml"), json!({}));
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "succeeded", "{parent}");
    // c3's action wolfpack.a3 exists here: c1, c2, c3 run (upstream: 3 calls).
    assert_eq!(names(&parent), ["c1", "c2", "c3"]);
    assert_eq!(parent["children"].as_array().unwrap().len(), 3);
    assert_eq!(parent["result"]["published"], json!({}));
    let child = st2_json(
        &home,
        &[
            "execution",
            "get",
            tasks(&parent)[0]["execution_id"].as_str().unwrap(),
        ],
    );
    assert_eq!(child["parent"], parent["id"]);
    assert_eq!(child["context"]["chain"]["name"], "c1");
    assert_eq!(child["context"]["parent"]["execution_id"], parent["id"]);
    assert_eq!(child["context"]["parent"]["pack"], "wolfpack");
}

#[test]
fn test_chain_runner_chain_second_task_times_out() {
    // The second task (wolfpack.a2) times out: its timeout parameter is 1 s, its command
    // sleeps; the chain's status is the timeout, c3 runs as its on-failure.
    let home = Home::new();
    let dir = wolfpack(&home, OK);
    write_action(
        &dir,
        &json!({"name": "a2", "runner_type": "local-shell-cmd", "enabled": true,
                "parameters": {"cmd": {"type": "string", "default": "sleep 5"},
                               "timeout": {"default": 1}, "p1": {}}}),
    );
    chain_action(&dir, "chain", &fixture_chain("chain2.yaml"), json!({}));
    reload_ok(&home, &[]);
    let parent = run(&home, &[]);
    assert_eq!(names(&parent), ["c1", "c2", "c3"]);
    assert_eq!(tasks(&parent)[1]["state"], "timeout");
    // The status is the last node's: c3 succeeded.
    assert_eq!(parent["status"], "succeeded");
}

#[test]
fn test_chain_runner_task_is_canceled_while_running() {
    let home = Home::new();
    let dir = wolfpack(&home, OK);
    let marker = home.dir.path().join("a2-started");
    write_action(
        &dir,
        &json!({"name": "a2", "runner_type": "local-shell-cmd", "enabled": true,
                "parameters": {"cmd": {"type": "string",
                    "default": format!("touch {}; sleep 30", marker.display())}, "p1": {}}}),
    );
    chain_action(&dir, "chain", &fixture_chain("chain2.yaml"), json!({}));
    reload_ok(&home, &[]);
    let parent_id = run_async(&home, &["wolfpack.chain"]);
    wait_until(|| marker.exists());
    let child = running_child(&home, &parent_id);
    cancel_execution(&home, &child);
    let parent = wait_final(&home, &parent_id);
    assert_eq!(parent["status"], "canceled");
    // c3 never runs (upstream: 2 calls).
    assert_eq!(names(&parent), ["c1", "c2"]);
    assert_eq!(tasks(&parent)[1]["state"], "canceled");
}

#[test]
fn test_chain_runner_success_task_action_call_with_no_params() {
    let home = home_with(
        OK,
        &fixture_chain("chain_action_call_no_params.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(names(&parent), ["c1", "c2", "c3"]);
    assert_eq!(child_parameters(&home, &parent)[0], json!({}));
}

#[test]
fn test_chain_runner_no_default() {
    let home = home_with(OK, &fixture_chain("no_default_chain.yaml"), json!({}));
    let parent = run(&home, &[]);
    // The default is the first node: c1, c2, c3.
    assert_eq!(names(&parent), ["c1", "c2", "c3"]);
}

#[test]
fn test_chain_runner_no_default_multiple_options() {
    let home = home_with(OK, &fixture_chain("no_default_chain_2.yaml"), json!({}));
    let parent = run(&home, &[]);
    // c1 and c3 are unreferenced: the first in file order starts; 2 calls.
    assert_eq!(names(&parent), ["c1", "c2"]);
}

#[test]
fn test_chain_runner_bad_default() {
    let home = home_with(OK, &fixture_chain("bad_default_chain.yaml"), json!({}));
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(
        parent["result"]["error"],
        "Unable to find node with name \"bad_default\" referenced in \"default\"."
    );
    assert!(tasks(&parent).is_empty());
}

#[test]
fn test_chain_runner_failure_path() {
    let home = home_with(FAIL, &fixture_chain("chain1.yaml"), json!({}));
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    // c1 fails, its on-failure c4 fails: 2 calls.
    assert_eq!(names(&parent), ["c1", "c4"]);
}

#[test]
fn test_chain_runner_broken_on_success_path_static_task_name() {
    let home = home_with(
        OK,
        &fixture_chain("chain_broken_on_success_path_static_task_name.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(
        parent["result"]["error"],
        "Unable to find node with name \"c5\" referenced in \"on-success\" in task \"c2\"."
    );
}

#[test]
fn test_chain_runner_broken_on_failure_path_static_task_name() {
    let home = home_with(
        OK,
        &fixture_chain("chain_broken_on_failure_path_static_task_name.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(
        parent["result"]["error"],
        "Unable to find node with name \"c6\" referenced in \"on-failure\" in task \"c2\"."
    );
}

#[test]
fn test_chain_runner_action_exception() {
    // A child that cannot be started (wolfpack.a1 requires a parameter nobody gives): the
    // task is failed with an error and no execution, and on-failure goes on.
    let home = Home::new();
    let dir = wolfpack(&home, OK);
    write_action(
        &dir,
        &json!({"name": "a1", "runner_type": "local-shell-cmd", "enabled": true,
                "parameters": {"cmd": {"type": "string", "default": OK},
                               "needed": {"type": "string", "required": true}, "p1": {}}}),
    );
    write_action(
        &dir,
        &json!({"name": "action-4-action-context-param", "runner_type": "local-shell-cmd",
                "enabled": true, "parameters": {"cmd": {"type": "string", "default": OK},
                "needed": {"type": "string", "required": true}, "actionstr": {}}}),
    );
    chain_action(&dir, "chain", &fixture_chain("chain1.yaml"), json!({}));
    reload_ok(&home, &[]);
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(names(&parent), ["c1", "c4"]);
    let errors = tasks(&parent)
        .iter()
        .filter(|task| task["result"]["error"].is_string() && task["execution_id"].is_null())
        .count();
    assert_eq!(errors, 2);
    let error = tasks(&parent)[0]["result"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.starts_with("Failed running task \"c1\". "), "{error}");
    assert!(error.contains("needed"), "{error}");
}

#[test]
fn test_chain_runner_str_param_temp() {
    let home = home_with(
        OK,
        &fixture_chain("chain_first_task_parameter_render_fail.yaml"),
        json!({"s1": {"type": "integer"}}),
    );
    let parent = run(&home, &["s1=1"]);
    assert_eq!(child_parameters(&home, &parent), [json!({"p1": "1"})]);
}

#[test]
fn test_chain_runner_list_param_temp() {
    let home = home_with(
        OK,
        &fixture_chain("chain_list_template.yaml"),
        json!({"s2": {"type": "integer"}, "s3": {"type": "integer"}, "s4": {"type": "integer"}}),
    );
    let parent = run(&home, &["s2=2", "s3=3", "s4=4"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"p1": "[2, 3, 4]"})]
    );
}

#[test]
fn test_chain_runner_dict_param_temp() {
    let home = home_with(
        OK,
        &fixture_chain("chain_dict_template.yaml"),
        json!({"s1": {"type": "integer"}, "s2": {"type": "integer"},
               "s3": {"type": "integer"}, "s4": {"type": "integer"}}),
    );
    let parent = run(&home, &["s1=1", "s2=2", "s3=3", "s4=4"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"p1": {"p1.1": "1", "p1.2": "2", "p1.3": "[3, 4]"}})]
    );
}

#[test]
fn test_chain_runner_dependent_param_temp() {
    // `{{c1.o1}}` reads the mock's result; a shell action's is `stdout`.
    let chain = fixture_chain("chain_dependent_input.yaml").replace(".o1}}", ".stdout}}");
    let home = home_with(OK, &chain, json!({"s1": {"type": "integer"}}));
    let parent = run(&home, &["s1=1"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [
            json!({"p1": "1"}),
            json!({"p1": "1"}),
            json!({"p1": "1", "p2": "1", "p3": "1"})
        ]
    );
}

#[test]
fn test_chain_runner_dependent_results_param() {
    let chain = fixture_chain("chain_dep_result_input.yaml").replace(".o1}}", ".stdout}}");
    let home = home_with(OK, &chain, json!({"s1": {"type": "integer"}}));
    let parent = run(&home, &["s1=1"]);
    // The shell runner's result (its stdout `1` read as JSON, as the local runner does).
    let shell = "{'failed': False, 'succeeded': True, 'return_code': 0, 'stdout': 1, \
                 'stderr': ''}";
    assert_eq!(
        child_parameters(&home, &parent),
        [
            json!({"p1": "1"}),
            json!({"p1": "1"}),
            json!({"out": format!("{{'c1': {shell}, 'c2': {shell}}}")}),
        ]
    );
}

#[test]
fn test_chain_runner_missing_param_temp() {
    let home = home_with(
        OK,
        &fixture_chain("chain_first_task_parameter_render_fail.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    // No call.
    assert!(parent["children"].as_array().unwrap().is_empty());
}

#[test]
fn test_chain_runner_failure_during_param_rendering_single_task() {
    let home = home_with(
        OK,
        &fixture_chain("chain_first_task_parameter_render_fail.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(tasks(&parent), Vec::<Value>::new());
    assert_eq!(
        parent["result"]["error"],
        "Failed to run task \"c1\". Parameter rendering failed.. Failed rendering value for \
         action parameter \"p1\" in task \"c1\" (template string={{s1}}): 's1' is undefined"
    );
    assert!(parent["result"].get("traceback").is_none());
}

#[test]
fn test_chain_runner_failure_during_param_rendering_multiple_tasks() {
    let home = home_with(
        OK,
        &fixture_chain("chain_second_task_parameter_render_fail.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(names(&parent), ["c1"]);
    let error = parent["result"]["error"].as_str().unwrap();
    assert!(error.contains("Failed to run task \"c2\". Parameter rendering failed"));
    assert!(error.contains(
        "Failed rendering value for action parameter \"p1\" in task \"c2\" (template string={{s1}}):"
    ));
}

#[test]
#[allow(clippy::approx_constant, reason = "upstream's value, not pi")]
fn test_chain_runner_typed_params() {
    let home = home_with(
        OK,
        &fixture_chain("chain_typed_params.yaml"),
        json!({"s1": {"type": "integer"}, "s2": {"type": "string"}, "s3": {"type": "number"}}),
    );
    let parent = run(&home, &["s1=1", "s2=two", "s3=3.14"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({
            "arrtype": ["1", "two"],
            "booltype": true,
            "inttype": 1,
            "numbertype": 3.14,
            "objtype": {"k1": "1", "s2": "two"},
            "strtype": "two",
        })]
    );
}

fn set_key(home: &Home, name: &str, value: &str) {
    let output = home
        .st2()
        .args(["key", "set", name, value])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn test_chain_runner_typed_system_params() {
    let home = home_with(
        OK,
        &fixture_chain("chain_typed_system_params.yaml"),
        json!({}),
    );
    set_key(&home, "a", "1");
    set_key(&home, "a.b.c", "two");
    let parent = run(&home, &[]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"inttype": 1, "strtype": "two"})]
    );
}

#[test]
fn test_chain_runner_vars_system_params() {
    let home = home_with(OK, &fixture_chain("chain_with_system_vars.yaml"), json!({}));
    set_key(&home, "a", "two");
    let parent = run(&home, &[]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"booltype": true, "inttype": 1, "strtype": "two"})]
    );
}

#[test]
fn test_chain_runner_vars_action_params() {
    let home = home_with(
        OK,
        &fixture_chain("chain_with_actionparam_vars.yaml"),
        json!({"input_a": {"type": "string"}}),
    );
    let parent = run(&home, &["input_a=two"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"booltype": true, "inttype": 1, "strtype": "two"})]
    );
}

#[test]
fn test_chain_runner_publish() {
    // `{{c1.raw_out}}` reads the mock's result; a shell action's is `stdout`.
    let chain = fixture_chain("chain_with_publish.yaml").replace("c1.raw_out", "c1.stdout");
    let home = home_with(
        "printf published",
        &chain,
        json!({"action_param_1": {"type": "string"}}),
    );
    set_key(&home, "a", "x");
    let parent = run(
        &home,
        &["action_param_1=test value 1", "display_published=true"],
    );
    assert_eq!(
        child_parameters(&home, &parent)[1],
        json!({
            "booltype": true,
            "inttype": 1,
            "published_action_param": "test value 1",
            "strtype": "published",
        })
    );
    assert_eq!(
        parent["result"]["published"],
        json!({"o1": "published", "published_action_param": "test value 1"})
    );
}

#[test]
fn test_chain_runner_publish_param_rendering_failure() {
    let home = home_with(
        OK,
        &fixture_chain("chain_publish_params_rendering_failure.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    // [fix] a top-level error (upstream's runner raises).
    assert_eq!(parent["status"], "failed");
    assert_eq!(names(&parent), ["c1", "c2"]);
    let error = parent["result"]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "Failed rendering value for publish parameter \"p1\" in task \"c2\" (template \
             string={{ not_defined }}):"
        ),
        "{error}"
    );
}

#[test]
fn test_chain_task_passes_invalid_parameter_type_to_action() {
    let home = home_with(
        OK,
        &fixture_chain("chain_invalid_parameter_type_passed_to_action.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    // [fix] a top-level error (upstream's runner raises the ValueError).
    assert_eq!(parent["status"], "failed");
    let error = parent["result"]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "Failed to cast value \"stringnotanarray\" (type: str) for parameter \"arrtype\" of \
             type \"array\""
        ),
        "{error}"
    );
    assert!(tasks(&parent).is_empty());
}

#[test]
fn test_action_chain_runner_referenced_action_doesnt_exist() {
    let home = home_with(
        OK,
        &fixture_chain("chain_with_invalid_action.yaml"),
        json!({}),
    );
    set_key(&home, "a", "x");
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    let error = parent["result"]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "Failed to run task \"c2\". Action with reference \"wolfpack.doesntexist\" doesn't exist."
        ),
        "{error}"
    );
    assert!(parent["result"].get("traceback").is_none());
}

#[test]
fn test_exception_is_thrown_if_both_params_and_parameters_attributes_are_provided() {
    let home = home_with(
        OK,
        &fixture_chain("chain_action_params_and_parameters.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(
        parent["result"]["error"],
        "Either \"params\" or \"parameters\" attribute needs to be provided, but not both"
    );
}

#[test]
fn test_params_and_parameters_attributes_both_work() {
    let home = home_with(
        OK,
        &fixture_chain("chain_action_params_attribute.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(child_parameters(&home, &parent), [json!({"pparams": "v1"})]);
    let home = home_with(
        OK,
        &fixture_chain("chain_action_parameters_attribute.yaml"),
        json!({}),
    );
    let parent = run(&home, &[]);
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"pparameters": "v1"})]
    );
}

#[test]
fn test_display_published_is_true_by_default() {
    let home = home_with(OK, &fixture_chain("chain_with_publish_2.yaml"), json!({}));
    let expected = json!({
        "t1_publish_param_1": "foo1",
        "t1_publish_param_2": "foo2",
        "t1_publish_param_3": "foo3",
        "publish_last_wins": "bar_last",
        "t2_publish_param_1": "foo4",
        "t2_publish_param_2": "foo5",
        "t2_publish_param_3": "foo6",
    });
    let parent = run(&home, &[]);
    assert_eq!(parent["result"]["published"], expected);
    let parent = run(&home, &["display_published=true"]);
    assert_eq!(parent["result"]["published"], expected);
    let parent = run(&home, &["display_published=false"]);
    assert!(parent["result"].get("published").is_none());
}

#[test]
fn test_notify_is_a_warning() {
    let home = home_with(
        OK,
        &fixture_chain("chain_with_notifications.yaml"),
        json!({}),
    );
    let output = home.st2().args(["run", "wolfpack.chain"]).output().unwrap();
    assert!(
        stderr(&output).contains("warning: chain[0]: \"notify\" is ignored"),
        "{}",
        stderr(&output)
    );
}

// test_actionchain_params_rendering.py

/// A chain of one `core.local`-like node `wolfpack.a1` with these parameters, in a pack
/// with a config; the child's recorded parameters, or the parent's error.
fn render_one(parameters: Value, config: Option<&str>) -> (Value, Value) {
    let chain = json!({"chain": [{"name": "c1", "ref": "wolfpack.a3", "params": parameters}]});
    let home = Home::new();
    let dir = wolfpack(&home, OK);
    chain_action(&dir, "chain", &chain.to_string(), json!({}));
    if let Some(config) = config {
        home.write_config("wolfpack", config);
    }
    reload_ok(&home, &[]);
    if config.is_some() {
        reload_ok(&home, &["--register-configs"]);
    }
    let parent = run(&home, &[]);
    let children = child_parameters(&home, &parent);
    (parent, children.first().cloned().unwrap_or(Value::Null))
}

#[test]
fn test_render_params_action_context() {
    let (parent, child) = render_one(
        json!({"p1": {"default": "{{action_context.parent.execution_id}}"}, "p2": {}}),
        None,
    );
    assert_eq!(child["p1"]["default"], parent["id"]);
}

#[test]
fn test_render_params_action_context_non_existent_member() {
    let (parent, _) = render_one(
        json!({"p1": {"default": "{{action_context.parent.yo_gimme_tha_key}}"}}),
        None,
    );
    assert_eq!(parent["status"], "failed");
    assert!(parent["result"]["error"]
        .as_str()
        .unwrap()
        .contains("Parameter rendering failed"));
}

#[test]
fn test_render_params_with_config() {
    let (_, child) = render_one(
        json!({"p1": "{{config_context.amazing_config_value_fo_lyfe}}"}),
        Some("amazing_config_value_fo_lyfe: \"no\"\n"),
    );
    assert_eq!(child["p1"], "no");
}

#[test]
fn test_init_params_vars_with_unicode_value() {
    let chain = json!({
        "vars": {
            "unicode_var": "٩(̾●̮̮̃̾•̃̾)۶ ٩(̾●̮̮̃̾•̃̾)۶ ćšž",
            "unicode_var_param": "{{ param }}",
        },
        "chain": [{"name": "c1", "ref": "wolfpack.a3",
                   "parameters": {"p1": "{{ unicode_var }}", "p2": "{{ unicode_var_param }}"}}],
    });
    let home = Home::new();
    let dir = wolfpack(&home, OK);
    chain_action(
        &dir,
        "chain",
        &chain.to_string(),
        json!({"param": {"type": "string"}}),
    );
    reload_ok(&home, &[]);
    let parent = run(&home, &["param=٩(̾●̮̮̃̾•̃̾)۶"]);
    assert_eq!(
        child_parameters(&home, &parent),
        [json!({"p1": "٩(̾●̮̮̃̾•̃̾)۶ ٩(̾●̮̮̃̾•̃̾)۶ ćšž", "p2": "٩(̾●̮̮̃̾•̃̾)۶"})]
    );
}

// test_actionchain_cancel.py

/// The id of the running child of `id` (the deepest).
fn running_child(home: &Home, id: &str) -> String {
    let parent = st2_json(home, &["execution", "get", id]);
    let child = parent["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["status"] == "running")
        .unwrap_or_else(|| panic!("no running child: {parent}"));
    child["id"].as_str().unwrap().to_string()
}

fn cancel_home() -> (Home, std::path::PathBuf) {
    let home = Home::new();
    home.add_upstream_pack("packs/action_chain_tests", "action_chain_tests");
    reload_ok(&home, &[]);
    let tempfile = home.dir.path().join("running");
    std::fs::write(&tempfile, "").unwrap();
    (home, tempfile)
}

fn status_of(home: &Home, id: &str) -> Value {
    st2_json(home, &["execution", "get", id])["status"].clone()
}

#[test]
fn test_chain_cancel() {
    let (home, tempfile) = cancel_home();
    let id = run_async(
        &home,
        &[
            "action_chain_tests.test_cancel",
            &format!("tempfile={}", tempfile.display()),
            "message=foobar",
        ],
    );
    wait_until(|| {
        st2_json(&home, &["execution", "get", &id])["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|task| task["status"] == "running"))
    });
    let task1 = running_child(&home, &id);
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert_eq!(parent["status"], "canceled");
    // [fix] the running child is canceled too; task2 never starts.
    assert_eq!(status_of(&home, &task1), "canceled");
    assert_eq!(parent["tasks"].as_array().unwrap().len(), 1);
}

#[test]
fn test_chain_cancel_cascade_to_subworkflow() {
    let (home, tempfile) = cancel_home();
    let id = run_async(
        &home,
        &[
            "action_chain_tests.test_cancel_with_subworkflow",
            &format!("tempfile={}", tempfile.display()),
            "message=foobar",
        ],
    );
    let mut sub = String::new();
    wait_until(|| {
        let parent = st2_json(&home, &["execution", "get", &id]);
        parent["tasks"][0]["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|task| task["status"] == "running"))
            && {
                sub = parent["tasks"][0]["id"].as_str().unwrap().to_string();
                true
            }
    });
    let subtask = running_child(&home, &sub);
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert_eq!(parent["status"], "canceled");
    assert_eq!(status_of(&home, &sub), "canceled");
    assert_eq!(status_of(&home, &subtask), "canceled");
    assert_eq!(parent["tasks"].as_array().unwrap().len(), 1);
}

#[test]
fn test_chain_cancel_cascade_to_parent_workflow() {
    let (home, tempfile) = cancel_home();
    let id = run_async(
        &home,
        &[
            "action_chain_tests.test_cancel_with_subworkflow",
            &format!("tempfile={}", tempfile.display()),
            "message=foobar",
        ],
    );
    let mut sub = String::new();
    wait_until(|| {
        let parent = st2_json(&home, &["execution", "get", &id]);
        parent["tasks"][0]["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|task| task["status"] == "running"))
            && {
                sub = parent["tasks"][0]["id"].as_str().unwrap().to_string();
                true
            }
    });
    // Cancel the subworkflow: it stops, and so does its parent.
    cancel_execution(&home, &sub);
    let parent = wait_final(&home, &id);
    assert_eq!(status_of(&home, &sub), "canceled");
    assert_eq!(parent["status"], "canceled");
    assert_eq!(parent["tasks"].as_array().unwrap().len(), 1);
}

#[test]
fn a_process_killed_mid_chain_leaves_parent_and_children_abandoned() {
    let (home, tempfile) = cancel_home();
    let id = run_async(
        &home,
        &[
            "action_chain_tests.test_cancel",
            &format!("tempfile={}", tempfile.display()),
            "message=foobar",
        ],
    );
    wait_until(|| {
        st2_json(&home, &["execution", "get", &id])["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|task| task["status"] == "running"))
    });
    let task1 = running_child(&home, &id);
    let pid: i32 = home.query(&format!(
        "SELECT CAST(pid AS TEXT) FROM executions WHERE id = '{id}'"
    ))[0]
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_until(|| status_of(&home, &id) == "abandoned");
    assert_eq!(status_of(&home, &task1), "abandoned");
    let _ = std::fs::remove_file(&tempfile);
}

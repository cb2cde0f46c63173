//! Ports `contrib/runners/orquesta_runner/tests/unit/test_basic.py` (StackStorm v3.9.0): the
//! orquesta runner end to end through `st2 run`, with real child executions.
//!
//! Fixtures: `fixtures/upstream/packs/orquesta_tests` (copied unchanged from
//! `st2tests/st2tests/fixtures/packs/orquesta_tests`).
//!
//! Upstream drives the workflow engine by hand (`handle_action_execution_completion`) and
//! reads MongoDB models; we run the workflow in process and read what `st2 run -j` prints:
//! the parent (`result.output`), its children (`tasks`: task name, status, in sequence) and
//! the conductor state (`workflow`). Left out: `test_handle_action_execution_completion`
//! (the workflow engine's message handler: there is none in process).
//! Also here: `ST2_WORKFLOW_MOCKS` (spec §8), inspection refusals.

use serde_json::{json, Value};

use crate::common::*;

fn home() -> Home {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    home
}

fn run(home: &Home, args: &[&str]) -> (Value, std::process::Output) {
    let output = home.st2().arg("run").args(args).arg("-j").output().unwrap();
    (execution_of(&output), output)
}

fn task_names(parent: &Value) -> Vec<String> {
    parent["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn test_run_workflow() {
    let home = home();
    let (parent, output) = run(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    assert!(output.status.success());
    assert_eq!(
        parent["result"],
        json!({"output": {"msg": "Thanos, All your base are belong to us!"}})
    );
    assert_eq!(task_names(&parent), ["task1", "task2", "task3"]);
    for task in parent["tasks"].as_array().unwrap() {
        assert_eq!(task["status"], "succeeded");
        assert_eq!(task["action"], "core.echo");
    }
    let sequence: Vec<String> = parent["workflow"]["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}__r{}", t["id"].as_str().unwrap(), t["route"]))
        .collect();
    // task3's transition has no `do`: orquesta stages `continue`.
    assert_eq!(
        sequence,
        ["task1__r0", "task2__r0", "task3__r0", "continue__r0"]
    );
    // A child's context: the orquesta part names its task and workflow.
    let child = home
        .st2()
        .args([
            "execution",
            "get",
            parent["tasks"][0]["id"].as_str().unwrap(),
            "-j",
        ])
        .output()
        .unwrap();
    let child = execution_of(&child);
    assert_eq!(child["parent"], parent["id"]);
    assert_eq!(child["context"]["orquesta"]["task_name"], "task1");
    assert_eq!(
        child["context"]["orquesta"]["workflow_execution_id"],
        parent["id"]
    );
    assert_eq!(child["context"]["pack"], "core");
}

#[test]
fn test_run_workflow_with_unicode_input() {
    let home = home();
    let (parent, output) = run(&home, &["orquesta_tests.sequential", "who=薩諾斯"]);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    assert_eq!(
        parent["result"]["output"]["msg"],
        "薩諾斯, All your base are belong to us!"
    );
}

#[test]
fn test_run_workflow_with_action_less_tasks() {
    let home = home();
    let (parent, output) = run(&home, &["orquesta_tests.action-less-tasks", "name=Thanos"]);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    // task1 and task4 have no action: no child for them.
    assert_eq!(task_names(&parent), ["task2", "task3", "task5"]);
    assert_eq!(
        parent["result"]["output"]["greeting"],
        "THANOS, ALL YOUR BASE ARE BELONG TO US!"
    );
}

#[test]
fn test_run_workflow_action_config_context() {
    let home = home();
    let (parent, output) = run(&home, &["orquesta_tests.config-context"]);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    // The child's parameter default reads the pack config (its schema's default).
    assert_eq!(
        parent["result"]["output"],
        json!({"msg": "value of config key a"})
    );
}

#[test]
fn a_failed_inspection_fails_the_parent_with_no_child() {
    let home = home();
    let (parent, output) = run(&home, &["orquesta_tests.fail-inspection"]);
    assert_eq!(parent["status"], "failed");
    assert!(!output.status.success());
    assert_eq!(parent["result"]["output"], Value::Null);
    let errors = parent["result"]["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    assert!(parent["tasks"].as_array().unwrap().is_empty());
}

#[test]
fn an_unregistered_action_is_a_content_error() {
    let home = home();
    let (parent, _) = run(&home, &["orquesta_tests.fail-inspection-action-db"]);
    assert_eq!(parent["status"], "failed");
    let messages: Vec<&str> = parent["result"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("is not registered in the database.")),
        "{messages:?}"
    );
}

#[test]
fn a_failed_task_fails_the_workflow_with_its_error() {
    let home = home();
    let (parent, _) = run(&home, &["orquesta_tests.fail-task-execution"]);
    assert_eq!(parent["status"], "failed");
    let errors = parent["result"]["errors"].as_array().unwrap();
    assert_eq!(
        errors[0]["message"],
        "Execution failed. See result for details."
    );
    assert_eq!(errors[0]["task_id"], "task1");
}

#[test]
fn workflow_mocks_record_children_with_mocked_results() {
    let home = home();
    let mocks = home.packs().join("../mocks.json");
    std::fs::write(
        &mocks,
        json!([
            {"task_id": "task1", "result": {"stdout": "a"}},
            {"task_id": "task2", "result": {"stdout": "b"}},
            {"task_id": "task3", "result": {"stdout": "mocked"}},
        ])
        .to_string(),
    )
    .unwrap();
    let output = home
        .st2()
        .args(["run", "orquesta_tests.sequential", "-j"])
        .env("ST2_WORKFLOW_MOCKS", &mocks)
        .output()
        .unwrap();
    let parent = execution_of(&output);
    assert!(
        stderr(&output).contains("warning: workflow actions are mocked from"),
        "{}",
        stderr(&output)
    );
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(parent["result"], json!({"output": {"msg": "mocked"}}));
    assert_eq!(task_names(&parent), ["task1", "task2", "task3"]);
}

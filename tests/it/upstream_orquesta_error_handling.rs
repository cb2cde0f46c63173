//! Ports `contrib/runners/orquesta_runner/tests/unit/test_error_handling.py` (StackStorm
//! v3.9.0): each workflow of the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`, from `st2tests/st2tests/fixtures/packs/`) run
//! with `st2 run`, and the parent's `result.errors` compared with upstream's expected errors
//! (as a set: upstream sorts them with its own key). Upstream mocks the actions' results;
//! here they run (`core.local` with the workflow's command), which gives the same results.
//!
//! Where we differ on purpose: an expression error's message (yaql's parser wording) is
//! compared by type, language, expression and path only (`../shared/spec/workflows.md`
//! §2.1: the `<Kind>: <detail>` part is ours). `test_include_result_to_error_log` mocks
//! task1's result with `ST2_WORKFLOW_MOCKS`, as upstream mocks it. Every case is ported.

use serde_json::{json, Value};

use crate::common::*;

fn home() -> Home {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    home
}

/// The errors, expression messages blanked, in a canonical order (maps compare whatever
/// their key order).
fn comparable(errors: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e["type"] == "expression" {
                e["message"] = Value::Null;
            }
            e
        })
        .collect();
    out.sort_by_key(|e| {
        let mut keys: Vec<(String, String)> = e
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        keys.sort();
        format!("{keys:?}")
    });
    out
}

/// `st2 run orquesta_tests.WORKFLOW ARGS`: failed, with `expected` as `result.errors` and a
/// null output.
fn check(workflow: &str, args: &[&str], expected: Value) {
    let home = home();
    let output = home
        .st2()
        .arg("run")
        .arg(format!("orquesta_tests.{workflow}"))
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    let parent = execution_of(&output);
    assert!(!output.status.success());
    assert_eq!(parent["status"], "failed", "{parent}");
    assert_eq!(
        comparable(&parent["result"]["errors"]),
        comparable(&expected),
        "{}",
        parent["result"]
    );
}

#[test]
fn test_fail_inspection() {
    check(
        "fail-inspection",
        &[],
        json!([
            {
                "type": "content",
                "message": "The action \"std.noop\" is not registered in the database.",
                "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.action",
                "spec_path": "tasks.task3.action"
            },
            {
                "type": "context",
                "language": "yaql",
                "expression": "<% ctx().foobar %>",
                "message": "Variable \"foobar\" is referenced before assignment.",
                "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input",
                "spec_path": "tasks.task1.input"
            },
            {
                "type": "expression",
                "language": "yaql",
                "expression": "<% <% succeeded() %>",
                "message": "Parse error: unexpected '<' at position 0 of expression '<% succeeded()'",
                "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.when",
                "spec_path": "tasks.task2.next[0].when"
            },
            {
                "type": "syntax",
                "message": "[{'cmd': 'echo <% ctx().macro %>'}] is not valid under any of the given schemas",
                "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input.oneOf",
                "spec_path": "tasks.task2.input"
            }
        ]),
    );
}

#[test]
fn test_fail_input_rendering() {
    check(
        "fail-input-rendering",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% abs(4).value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\""
            }
        ]),
    );
}

#[test]
fn test_fail_vars_rendering() {
    check(
        "fail-vars-rendering",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% abs(4).value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\""
            }
        ]),
    );
}

#[test]
fn test_fail_start_task_action() {
    check(
        "fail-start-task-action",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% ctx().func.value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"",
                "task_id": "task1",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_start_task_input_expr_eval() {
    check(
        "fail-start-task-input-expr-eval",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% ctx().msg1.value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"",
                "task_id": "task1",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_next_task_action() {
    check(
        "fail-task-action",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% ctx().func.value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"",
                "task_id": "task2",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_next_task_input_expr_eval() {
    // The fixture's action is named `fail-task-input-epxr-eval` (sic).
    check(
        "fail-task-input-epxr-eval",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% ctx().msg2.value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"",
                "task_id": "task2",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_task_execution() {
    check(
        "fail-task-execution",
        &[],
        json!([
            {
                "type": "error",
                "message": "Execution failed. See result for details.",
                "task_id": "task1",
                "result": {
                    "stdout": "",
                    "stderr": "boom!",
                    "return_code": 1,
                    "failed": true,
                    "succeeded": false
                }
            }
        ]),
    );
}

#[test]
fn test_fail_task_transition() {
    check(
        "fail-task-transition",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to resolve key 'foobar' in expression '<% succeeded() and result().foobar %>' from context.",
                "task_transition_id": "task2__t0",
                "task_id": "task1",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_task_publish() {
    check(
        "fail-task-publish",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% foobar() %>'. NoFunctionRegisteredException: Unknown function \"foobar\"",
                "task_transition_id": "task2__t0",
                "task_id": "task1",
                "route": 0
            }
        ]),
    );
}

#[test]
fn test_fail_output_rendering() {
    check(
        "fail-output-rendering",
        &[],
        json!([
            {
                "type": "error",
                "message": "YaqlEvaluationException: Unable to evaluate expression '<% abs(4).value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\""
            }
        ]),
    );
}

#[test]
fn test_output_on_error() {
    check(
        "output-on-error",
        &[],
        json!([
            {
                "type": "error",
                "task_id": "task2",
                "message": "Execution failed. See result for details.",
                "result": {
                    "failed": true,
                    "return_code": 1,
                    "stderr": "",
                    "stdout": "",
                    "succeeded": false
                }
            }
        ]),
    );
}

#[test]
fn test_fail_manually() {
    check(
        "fail-manually",
        &[],
        json!([
            {
                "task_id": "fail",
                "type": "error",
                "message": "Execution failed. See result for details."
            },
            {
                "task_id": "task1",
                "type": "error",
                "message": "Execution failed. See result for details.",
                "result": {
                    "failed": true,
                    "return_code": 1,
                    "stderr": "",
                    "stdout": "",
                    "succeeded": false
                }
            }
        ]),
    );
}

#[test]
fn test_fail_manually_with_recovery_failure() {
    check(
        "fail-manually-with-recovery-failure",
        &[],
        json!([
            {
                "task_id": "fail",
                "type": "error",
                "message": "Execution failed. See result for details."
            },
            {
                "task_id": "recover",
                "type": "error",
                "message": "Execution failed. See result for details.",
                "result": {
                    "failed": true,
                    "return_code": 1,
                    "stderr": "",
                    "stdout": "",
                    "succeeded": false
                }
            },
            {
                "task_id": "task1",
                "type": "error",
                "message": "Execution failed. See result for details.",
                "result": {
                    "failed": true,
                    "return_code": 1,
                    "stderr": "",
                    "stdout": "",
                    "succeeded": false
                }
            }
        ]),
    );
}

#[test]
fn test_fail_start_task_input_value_type() {
    check(
        "fail-start-task-input-value-type",
        &[r#"var1={"x": "foobar"}"#],
        json!([{"type": "error", "message": "ValueError: Value \"{'x': 'foobar'}\" must either be a string or None. Got \"dict\".", "task_id": "task1", "route": 0}]),
    );
}

#[test]
fn test_fail_next_task_input_value_type() {
    check(
        "fail-task-input-value-type",
        &[r#"var1={"x": "foobar"}"#],
        json!([{"type": "error", "message": "ValueError: Value \"{'x': 'foobar'}\" must either be a string or None. Got \"dict\".", "task_id": "task2", "route": 0}]),
    );
}

#[test]
fn test_include_result_to_error_log() {
    // Upstream mocks task1's result; ST2_WORKFLOW_MOCKS does here.
    let home = home();
    let mocks = home.packs().join("../mocks.json");
    let result = json!({"127.0.0.1": {"hostname": "foobar"}});
    std::fs::write(
        &mocks,
        json!([{"task_id": "task1", "status": "failed", "result": result}]).to_string(),
    )
    .unwrap();
    let output = home
        .st2()
        .args(["run", "orquesta_tests.sequential", "who=Thanos", "-j"])
        .env("ST2_WORKFLOW_MOCKS", &mocks)
        .output()
        .unwrap();
    let parent = execution_of(&output);
    assert_eq!(parent["status"], "failed");
    assert_eq!(
        parent["result"]["errors"],
        json!([{"message": "Execution failed. See result for details.", "type": "error",
                "task_id": "task1", "result": result}])
    );
}

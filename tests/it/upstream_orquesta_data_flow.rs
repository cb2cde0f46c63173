//! Ports `contrib/runners/orquesta_runner/tests/unit/test_data_flow.py` (StackStorm v3.9.0):
//! input, vars, publish (list and inline `k=v` forms) and output carrying one value through
//! four tasks, a Python action among them, with the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`). Upstream mocks the Python action's result
//! (`{"k2": <k1>}`); here it runs. Upstream's API view masks `b7`, which the workflow's
//! `output_schema` marks secret; st2-rs masks it in the record too (**[fix]**), and the
//! Python action's own secret output (`py_secret_output`'s `k2`) in its child's record,
//! while the workflow reads the value itself, as upstream's does.

use serde_json::{json, Value};

use crate::common::*;

fn assert_data_flow(data: &str) {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    let output = home
        .st2()
        .args([
            "run",
            "orquesta_tests.data-flow",
            &format!("a1={data}"),
            "-j",
        ])
        .output()
        .unwrap();
    let parent: Value = execution_of(&output);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    let tasks: Vec<&str> = parent["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["task1", "task2", "task3", "task4"]);
    assert_eq!(
        parent["result"]["output"],
        json!({"a6": data, "b6": data, "a7": data, "b7": "********"})
    );
    let task3 = parent["tasks"][2]["id"].as_str().unwrap();
    let child = st2_json(&home, &["execution", "get", task3]);
    assert_eq!(child["result"]["result"]["k2"], "********", "{child}");
}

#[test]
fn test_string() {
    assert_data_flow("xyz");
}

#[test]
fn test_unicode_string() {
    assert_data_flow("床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉");
}

//! Ports `contrib/runners/orquesta_runner/tests/unit/test_functions_common.py` and
//! `test_functions_task.py` (StackStorm v3.9.0): StackStorm's expression functions and
//! `task()` in YAQL and Jinja, through the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`). Upstream mocks the actions' results; here they
//! run. The task sequence is read from the conductor state `-j` prints (`workflow.sequence`).

use serde_json::{json, Value};

use crate::common::*;

fn home() -> Home {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    home
}

fn run(workflow: &str) -> Value {
    let home = home();
    let output = home
        .st2()
        .args(["run", &format!("orquesta_tests.{workflow}"), "-j"])
        .output()
        .unwrap();
    execution_of(&output)
}

fn execute_workflow(workflow: &str, expected_output: Value) {
    let parent = run(workflow);
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert_eq!(parent["result"], json!({ "output": expected_output }));
}

fn sequence(parent: &Value) -> Vec<(String, u64)> {
    parent["workflow"]["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                t["route"].as_u64().unwrap(),
            )
        })
        .collect()
}

// test_functions_common.py

#[test]
fn test_data_functions_in_yaql() {
    execute_workflow(
        "yaql-data-functions",
        json!({
            "data_json_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_2": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_3": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_obj_1": {"foo": {"bar": "foobar"}},
            "data_json_obj_2": {"foo": {"bar": "foobar"}},
            "data_json_obj_3": {"foo": {"bar": "foobar"}},
            "data_json_obj_4": {"foo": {"bar": "foobar"}},
            "data_yaml_str_1": "foo:\n  bar: foobar\n",
            "data_yaml_str_2": "foo:\n  bar: foobar\n",
            "data_query_1": ["foobar"],
            "data_none_str": "%*****__%NONE%__*****%",
            "data_str": "foobar",
        }),
    );
}

#[test]
fn test_data_functions_in_jinja() {
    execute_workflow(
        "jinja-data-functions",
        json!({
            "data_json_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_2": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_3": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_obj_1": {"foo": {"bar": "foobar"}},
            "data_json_obj_2": {"foo": {"bar": "foobar"}},
            "data_json_obj_3": {"foo": {"bar": "foobar"}},
            "data_json_obj_4": {"foo": {"bar": "foobar"}},
            "data_yaml_str_1": "foo:\n  bar: foobar\n",
            "data_yaml_str_2": "foo:\n  bar: foobar\n",
            "data_query_1": ["foobar"],
            "data_pipe_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_none_str": "%*****__%NONE%__*****%",
            "data_str": "foobar",
            "data_list_str": "- a: 1\n  b: 2\n- x: 3\n  y: 4\n",
        }),
    );
}

#[test]
fn test_path_functions_in_yaql() {
    execute_workflow(
        "yaql-path-functions",
        json!({"basename": "file.txt", "dirname": "/path/to/some"}),
    );
}

#[test]
fn test_path_functions_in_jinja() {
    execute_workflow(
        "jinja-path-functions",
        json!({"basename": "file.txt", "dirname": "/path/to/some"}),
    );
}

#[test]
fn test_regex_functions_in_yaql() {
    execute_workflow(
        "yaql-regex-functions",
        json!({"match": true, "replace": "wxyz", "search": true, "substring": "668 Infinite Dr"}),
    );
}

#[test]
fn test_regex_functions_in_jinja() {
    execute_workflow(
        "jinja-regex-functions",
        json!({"match": true, "replace": "wxyz", "search": true, "substring": "668 Infinite Dr"}),
    );
}

#[test]
fn test_time_functions_in_yaql() {
    execute_workflow("yaql-time-functions", json!({"time": "3h25m45s"}));
}

#[test]
fn test_time_functions_in_jinja() {
    execute_workflow("jinja-time-functions", json!({"time": "3h25m45s"}));
}

fn versions() -> Value {
    json!({
        "compare_equal": 0,
        "compare_more_than": -1,
        "compare_less_than": 1,
        "equal": true,
        "more_than": false,
        "less_than": false,
        "match": true,
        "bump_major": "1.0.0",
        "bump_minor": "0.11.0",
        "bump_patch": "0.10.1",
        "strip_patch": "0.10",
    })
}

#[test]
fn test_version_functions_in_yaql() {
    execute_workflow("yaql-version-functions", versions());
}

#[test]
fn test_version_functions_in_jinja() {
    execute_workflow("jinja-version-functions", versions());
}

// test_functions_task.py

fn task_functions(workflow: &str) {
    let parent = run(workflow);
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    let expected: Vec<(String, u64)> = [
        ("task1", 0),
        ("task3", 0),
        ("task6", 0),
        ("task7", 0),
        ("task2", 0),
        ("task4", 0),
        ("task8", 1),
        ("task8", 2),
        ("task4", 0),
        ("task9", 1),
        ("task9", 2),
        ("task5", 0),
    ]
    .iter()
    .map(|(t, r)| (t.to_string(), *r))
    .collect();
    assert_eq!(sequence(&parent), expected);
    assert_eq!(
        parent["result"]["output"],
        json!({
            "last_task4_result": "False",
            "task9__1__parent": "task8__1",
            "task9__2__parent": "task8__2",
            "that_task_by_name": "task1",
            "this_task_by_name": "task1",
            "this_task_no_arg": "task1",
        })
    );
}

#[test]
fn test_task_functions_in_yaql() {
    task_functions("yaql-task-functions");
}

#[test]
fn test_task_functions_in_jinja() {
    task_functions("jinja-task-functions");
}

fn task_nonexistent(workflow: &str, message: &str) {
    let parent = run(workflow);
    assert_eq!(parent["status"], "failed");
    assert_eq!(sequence(&parent), [("task1".to_string(), 0)]);
    assert_eq!(
        parent["result"],
        json!({"output": null, "errors": [{
            "type": "error",
            "message": message,
            "task_transition_id": "continue__t0",
            "task_id": "task1",
            "route": 0,
        }]})
    );
}

#[test]
fn test_task_nonexistent_in_yaql() {
    task_nonexistent(
        "yaql-task-nonexistent",
        "YaqlEvaluationException: Unable to evaluate expression '<% task(\"task0\") %>'. \
         ExpressionEvaluationException: Unable to find task execution for \"task0\".",
    );
}

#[test]
fn test_task_nonexistent_in_jinja() {
    task_nonexistent(
        "jinja-task-nonexistent",
        "JinjaEvaluationException: Unable to evaluate expression '{{ task(\"task0\") }}'. \
         ExpressionEvaluationException: Unable to find task execution for \"task0\".",
    );
}

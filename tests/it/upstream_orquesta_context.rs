//! Ports `contrib/runners/orquesta_runner/tests/unit/test_context.py` (StackStorm v3.9.0):
//! the `st2` runtime context a workflow sees, and `action_context` in a sub-workflow's
//! parameter defaults, with the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`).
//!
//! Where we differ: `api_url` is `http://127.0.0.1:9101/v1` (StackStorm's default; upstream's
//! test configuration has `http://127.0.0.1`). Left out: `test_action_context_api_user` and
//! `test_action_context_source_channel`: they give the execution an `api_user` and a
//! `source_channel`, which only StackStorm's API sets (API keys, chatops); `st2 run` has no
//! way to give them.

use serde_json::{json, Value};

use crate::common::*;

fn run(action: &str) -> Value {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    let output = home.st2().args(["run", action, "-j"]).output().unwrap();
    execution_of(&output)
}

#[test]
fn test_runtime_context() {
    let parent = run("orquesta_tests.runtime-context");
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    let id = parent["id"].as_str().unwrap();
    let st2 = json!({
        "action_execution_id": id,
        "api_url": "http://127.0.0.1:9101/v1",
        "user": "stanley",
        "pack": "orquesta_tests",
        "action": "orquesta_tests.runtime-context",
        "runner": "orquesta",
    });
    // The workflow execution id joins the context once input and vars are rendered.
    let mut with_id = st2.clone();
    with_id["workflow_execution_id"] = json!(id);
    assert_eq!(
        parent["result"],
        json!({"output": {
            "st2_ctx_at_input": st2,
            "st2_ctx_at_vars": st2,
            "st2_ctx_at_publish": with_id,
            "st2_ctx_at_output": with_id,
        }})
    );
}

#[test]
fn test_action_context_sys_user() {
    // The fixture's action is named with its `.yaml` (sic).
    let parent = run("orquesta_tests.subworkflow-default-value-from-action-context.yaml");
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert_eq!(
        parent["result"],
        json!({"output": {"msg": "stanley, All your base are belong to us!"}})
    );
}

#[test]
fn test_action_context_no_channel() {
    let parent = run("orquesta_tests.subworkflow-source-channel-from-action-context.yaml");
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert_eq!(
        parent["result"],
        json!({"output": {"msg": "no_channel, All your base are belong to us!"}})
    );
}

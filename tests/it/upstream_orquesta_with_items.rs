//! Ports `contrib/runners/orquesta_runner/tests/unit/test_with_items.py` (StackStorm v3.9.0):
//! with-items tasks through `st2 run`, with the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`, from `st2tests/st2tests/fixtures/packs/`).
//!
//! Upstream stops the engine between waves to look at the records; we run to the end and
//! read the children `-j` prints. The cancellation cases mock the shell runner to stay
//! `running`; here the items are `sleep`s of a workflow written by the test, shaped as
//! `with-items-concurrency.yaml`, and **[fix]** (`../shared/spec/workflows.md` §6) the running
//! items are canceled with their workflow (upstream lets them finish). Left out:
//! `test_with_items_pause_and_resume`, `test_with_items_concurrency_pause_and_resume` (pause
//! and resume are not supported, §7).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

fn home() -> Home {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    home
}

fn run(home: &Home, args: &[&str]) -> Value {
    let output = home.st2().arg("run").args(args).arg("-j").output().unwrap();
    execution_of(&output)
}

fn children(parent: &Value) -> Vec<Value> {
    parent["tasks"].as_array().cloned().unwrap_or_default()
}

#[test]
fn test_with_items() {
    let home = home();
    let parent = run(&home, &["orquesta_tests.with-items"]);
    assert_eq!(parent["status"], "succeeded");
    let items = children(&parent);
    assert_eq!(items.len(), 3);
    assert!(items
        .iter()
        .all(|c| c["status"] == "succeeded" && c["task"] == "task1"));
}

#[test]
fn test_with_items_failure() {
    let home = home();
    let parent = run(&home, &["orquesta_tests.with-items-failure"]);
    assert_eq!(parent["status"], "failed");
    let items = children(&parent);
    assert_eq!(items.len(), 10);
    for (i, item) in items.iter().enumerate() {
        let expected = if i % 2 == 0 { "succeeded" } else { "failed" };
        assert_eq!(item["status"], expected, "item {i}");
        assert_eq!(item["item_id"], json!(i));
    }
}

#[test]
fn test_with_items_empty_list() {
    let home = home();
    let parent = run(&home, &["orquesta_tests.with-items", "members=[]"]);
    assert_eq!(parent["status"], "succeeded");
    assert!(children(&parent).is_empty());
    assert_eq!(parent["result"], json!({"output": {"items": []}}));
}

#[test]
fn test_with_items_concurrency() {
    let home = home();
    let parent = run(
        &home,
        &["orquesta_tests.with-items-concurrency", "concurrency=2"],
    );
    assert_eq!(parent["status"], "succeeded");
    let items = children(&parent);
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|c| c["status"] == "succeeded"));
    // Two waves: items 0 and 1, then 2.
    let ids: Vec<Value> = items.iter().map(|c| c["item_id"].clone()).collect();
    assert_eq!(ids, [json!(0), json!(1), json!(2)]);
}

#[test]
fn test_subworkflow_with_items_empty_list() {
    let home = home();
    let parent = run(
        &home,
        &["orquesta_tests.with-items-empty-parent", "members=[]"],
    );
    assert_eq!(parent["status"], "succeeded");
    let subs = children(&parent);
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["status"], "succeeded");
    assert!(subs[0]["tasks"].as_array().is_none_or(|t| t.is_empty()));
}

const SLOW_ITEMS: &str = "version: 1.0\ninput:\n  - members:\n      - Lakshmi\n      - Lindsay\n      - Tomaz\n  - concurrency\ntasks:\n  task1:\n    with:\n      items: <% ctx(members) %>\n      concurrency: <% ctx(concurrency) %>\n    action: core.local cmd=\"sleep 30\"\n";

fn cancel_while_items_run(concurrency: Option<u64>) -> Value {
    let home = Home::new();
    let dir = home.pack("flows");
    write(
        &dir,
        "pack.yaml",
        "---\nname: flows\ndescription: t\nversion: 0.1.0\nauthor: t\n",
    );
    write(&dir, "actions/workflows/slow.yaml", SLOW_ITEMS);
    write_action(
        &dir,
        &json!({"name": "slow", "runner_type": "orquesta", "enabled": true,
                "entry_point": "workflows/slow.yaml",
                "parameters": {"concurrency": {"type": "integer"}}}),
    );
    reload_ok(&home, &[]);
    let mut args = vec!["run".to_string(), "-a".into(), "flows.slow".into()];
    if let Some(c) = concurrency {
        args.push(format!("concurrency={c}"));
    }
    args.push("-j".into());
    let output = home.st2().args(&args).output().unwrap();
    let id = execution_of(&output)["id"].as_str().unwrap().to_string();
    let expected = concurrency.unwrap_or(3) as usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let parent = st2_json(&home, &["execution", "get", &id]);
        let running = children(&parent)
            .iter()
            .filter(|c| c["status"] == "running")
            .count();
        if running == expected {
            break;
        }
        assert!(Instant::now() < deadline, "items never ran: {parent}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = home
        .st2()
        .args(["execution", "cancel", &id])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    wait_final(&home, &id)
}

#[test]
fn test_with_items_cancellation() {
    let parent = cancel_while_items_run(None);
    assert_eq!(parent["status"], "canceled");
    let items = children(&parent);
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|c| c["status"] == "canceled"), "{parent}");
}

#[test]
fn test_with_items_concurrency_cancellation() {
    let parent = cancel_while_items_run(Some(2));
    assert_eq!(parent["status"], "canceled");
    // No item starts after the cancel: only the first two ever ran.
    let items = children(&parent);
    assert_eq!(items.len(), 2, "{parent}");
    assert!(items.iter().all(|c| c["status"] == "canceled"));
}

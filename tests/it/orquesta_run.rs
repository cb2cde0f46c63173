//! Orquesta workflows run by `st2 run` in process (`../shared/spec/workflows.md` §2, §6):
//! cancellation (of the parent, of a child, through a sub-workflow), delays interrupted by
//! cancel, with-items with concurrency, retry, sub-workflows, and what `st2 run` prints.
//! The workflows are small ones of a pack written by each test (`flows`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

fn flows(workflows: &[(&str, &str, Value)]) -> Home {
    let home = Home::new();
    let dir = home.pack("flows");
    write(
        &dir,
        "pack.yaml",
        "---\nname: flows\ndescription: orquesta workflows\nversion: 0.1.0\nauthor: t\n",
    );
    for (name, text, parameters) in workflows {
        write(&dir, &format!("actions/workflows/{name}.yaml"), text);
        write_action(
            &dir,
            &json!({"name": name, "runner_type": "orquesta", "enabled": true,
                    "entry_point": format!("workflows/{name}.yaml"), "parameters": parameters}),
        );
    }
    reload_ok(&home, &[]);
    home
}

fn run(home: &Home, args: &[&str]) -> (Value, std::process::Output) {
    let output = home.st2().arg("run").args(args).arg("-j").output().unwrap();
    (execution_of(&output), output)
}

fn tasks(parent: &Value) -> Vec<Value> {
    parent["tasks"].as_array().cloned().unwrap_or_default()
}

const SLEEPY: &str = "version: 1.0\ntasks:\n  task1:\n    action: core.local cmd=\"sleep 30\"\n    next:\n      - do: task2\n  task2:\n    action: core.echo message=\"never\"\noutput:\n  - done: <% ctx().st2.action %>\n";

#[test]
fn canceling_the_parent_cancels_the_running_child_and_starts_nothing_more() {
    let home = flows(&[("sleepy", SLEEPY, json!({}))]);
    let id = run_async(&home, &["flows.sleepy"]);
    wait_until(|| {
        tasks(&st2_json(&home, &["execution", "get", &id]))
            .iter()
            .any(|t| t["status"] == "running")
    });
    let started = Instant::now();
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(parent["status"], "canceled");
    let tasks = tasks(&parent);
    assert_eq!(tasks.len(), 1, "{parent}");
    assert_eq!(tasks[0]["status"], "canceled");
    // The output is rendered; a canceled workflow has no `errors`.
    assert_eq!(
        parent["result"],
        json!({"output": {"done": "flows.sleepy"}})
    );
}

#[test]
fn canceling_a_child_cancels_its_workflow() {
    let home = flows(&[("sleepy", SLEEPY, json!({}))]);
    let id = run_async(&home, &["flows.sleepy"]);
    let mut child = String::new();
    wait_until(|| {
        tasks(&st2_json(&home, &["execution", "get", &id]))
            .iter()
            .find(|t| t["status"] == "running")
            .map(|t| child = t["id"].as_str().unwrap().to_string())
            .is_some()
    });
    cancel_execution(&home, &child);
    let parent = wait_final(&home, &id);
    assert_eq!(parent["status"], "canceled");
    assert_eq!(tasks(&parent).len(), 1);
}

#[test]
fn a_canceled_parent_cancels_its_subworkflow() {
    let home = flows(&[
        ("sleepy", SLEEPY, json!({})),
        (
            "outer",
            "version: 1.0\ntasks:\n  sub:\n    action: flows.sleepy\n",
            json!({}),
        ),
    ]);
    let id = run_async(&home, &["flows.outer"]);
    let mut sub = String::new();
    wait_until(|| {
        let parent = st2_json(&home, &["execution", "get", &id]);
        let found = tasks(&parent).first().is_some_and(|t| {
            t["tasks"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["status"] == "running"))
        });
        if found {
            sub = parent["tasks"][0]["id"].as_str().unwrap().to_string();
        }
        found
    });
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert_eq!(parent["status"], "canceled");
    assert_eq!(
        st2_json(&home, &["execution", "get", &sub])["status"],
        "canceled"
    );
}

#[test]
fn a_delay_waits_and_a_cancel_ends_it() {
    let home = flows(&[(
        "delayed",
        "version: 1.0\ntasks:\n  task1:\n    delay: 30\n    action: core.echo message=\"late\"\n",
        json!({}),
    )]);
    let id = run_async(&home, &["flows.delayed"]);
    wait_until(|| st2_json(&home, &["execution", "get", &id])["status"] == "running");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(parent["status"], "canceled");
    // The action never started: no child.
    assert!(tasks(&parent).is_empty());
}

#[test]
fn a_short_delay_is_waited() {
    let home = flows(&[(
        "delayed",
        "version: 1.0\ntasks:\n  task1:\n    delay: 1\n    action: core.echo message=\"late\"\n",
        json!({}),
    )]);
    let started = Instant::now();
    let (parent, _) = run(&home, &["flows.delayed"]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(tasks(&parent).len(), 1);
}

#[test]
fn with_items_run_one_child_per_item_in_item_order() {
    let home = flows(&[(
        "items",
        "version: 1.0\ninput:\n  - names\n  - concurrency: 2\ntasks:\n  task1:\n    with:\n      items: name in <% ctx(names) %>\n      concurrency: <% ctx(concurrency) %>\n    action: core.echo message=\"<% item(name) %>!\"\n    next:\n      - when: <% succeeded() %>\n        publish: said=<% result().select($.stdout) %>\noutput:\n  - said: <% ctx(said) %>\n",
        json!({"names": {"type": "array"}}),
    )]);
    let (parent, output) = run(&home, &["flows.items", "names=a,b,c"]);
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    assert_eq!(
        parent["result"]["output"]["said"],
        json!(["a!", "b!", "c!"])
    );
    let items: Vec<Value> = tasks(&parent)
        .iter()
        .map(|t| t["item_id"].clone())
        .collect();
    assert_eq!(items, [json!(0), json!(1), json!(2)]);
    assert!(tasks(&parent).iter().all(|t| t["task"] == "task1"));
}

#[test]
fn retry_runs_the_action_again_on_the_same_task_entry() {
    let home = flows(&[(
        "retrying",
        "version: 1.0\ntasks:\n  task1:\n    action: core.local cmd=\"exit 1\"\n    retry:\n      count: 2\n",
        json!({}),
    )]);
    let (parent, _) = run(&home, &["flows.retrying"]);
    assert_eq!(parent["status"], "failed");
    // count: 2, failing thrice = 3 children, one task entry.
    assert_eq!(tasks(&parent).len(), 3);
    assert_eq!(parent["workflow"]["sequence"].as_array().unwrap().len(), 1);
}

#[test]
fn st2_run_prints_the_workflow_and_its_children() {
    let home = flows(&[(
        "hello",
        "version: 1.0\ninput:\n  - name\ntasks:\n  task1:\n    action: core.echo message=\"<% ctx(name) %>\"\n    next:\n      - publish: greeting=<% result().stdout %>\noutput:\n  - greeting: <% ctx(greeting) %>\n",
        json!({"name": {"type": "string", "default": "Stanley"}}),
    )]);
    let output = home.st2().args(["run", "flows.hello"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("action.ref: flows.hello"), "{text}");
    assert!(text.contains("  output:\n    greeting: Stanley"), "{text}");
    assert!(text.contains("| task1 | core.echo |"), "{text}");
}

#[test]
fn the_actions_of_a_wave_run_concurrently_and_are_recorded_in_order() {
    let home = flows(&[(
        "parallel",
        "version: 1.0\ntasks:\n  task1:\n    with:\n      items: <% range(8) %>\n      concurrency: 8\n    action: core.local\n    input:\n      cmd: sleep 1; echo <% item() %>\n",
        json!({}),
    )]);
    let started = Instant::now();
    let (parent, output) = run(&home, &["flows.parallel"]);
    let elapsed = started.elapsed();
    assert_eq!(parent["status"], "succeeded", "{}", stderr(&output));
    // Eight one-second actions at once, not one after the other.
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    let items: Vec<Value> = tasks(&parent)
        .iter()
        .map(|t| t["item_id"].clone())
        .collect();
    assert_eq!(items, (0..8).map(|i| json!(i)).collect::<Vec<_>>());
}

#[test]
fn notify_is_accepted_and_ignored_with_a_warning() {
    let home = flows(&[(
        "hello",
        "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n",
        json!({}),
    )]);
    let (parent, output) = run(&home, &["flows.hello", "notify=task1"]);
    assert_eq!(parent["status"], "succeeded");
    assert!(
        stderr(&output).contains("warning: notify is ignored: st2-rs sends no notifications"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_child_timeout_fails_its_task_and_the_workflow() {
    let home = flows(&[(
        "slow",
        "version: 1.0\ntasks:\n  task1:\n    action: core.local cmd=\"sleep 5\" timeout=1\n",
        json!({}),
    )]);
    let (parent, _) = run(&home, &["flows.slow"]);
    assert_eq!(parent["status"], "failed");
    assert_eq!(tasks(&parent)[0]["status"], "timeout");
    assert_eq!(parent["workflow"]["sequence"][0]["status"], "failed");
    // orquesta logs "Execution failed" for a failed action only, not for a timeout
    // (`conducting.py: update_task_state`).
    assert_eq!(parent["result"], json!({"output": null, "errors": []}));
}

#[test]
fn a_thousand_items_at_concurrency_ten_and_a_hundred_tasks_in_sequence() {
    let sequence = {
        let mut text = String::from("version: 1.0\ntasks:\n");
        for i in 0..100 {
            text.push_str(&format!("  t{i}:\n    action: core.noop\n"));
            if i < 99 {
                text.push_str(&format!("    next:\n      - do: t{}\n", i + 1));
            }
        }
        text
    };
    let home = flows(&[
        (
            "many",
            "version: 1.0\ntasks:\n  task1:\n    with:\n      items: <% range(1000) %>\n      concurrency: 10\n    action: core.noop\n",
            json!({}),
        ),
        ("sequence", &sequence, json!({})),
    ]);
    // The targets are 2 s for the items (release build: about 1.2 s here); a debug
    // build under a loaded CI gets ten times that.
    let started = Instant::now();
    let (parent, _) = run(&home, &["flows.many"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(parent["status"], "succeeded");
    let items: Vec<u64> = tasks(&parent)
        .iter()
        .map(|t| t["item_id"].as_u64().unwrap())
        .collect();
    assert_eq!(items, (0..1000).collect::<Vec<u64>>());
    let (parent, _) = run(&home, &["flows.sequence"]);
    assert_eq!(parent["status"], "succeeded");
    assert_eq!(tasks(&parent).len(), 100);
    assert_eq!(
        parent["workflow"]["sequence"].as_array().unwrap().len(),
        100
    );
}

#[test]
fn a_running_workflow_shows_its_conductor_state_so_far() {
    let home = flows(&[(
        "two",
        "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - do: t2\n  t2:\n    action: core.local cmd=\"sleep 30\"\n",
        json!({}),
    )]);
    let id = run_async(&home, &["flows.two"]);
    wait_until(|| {
        let parent = st2_json(&home, &["execution", "get", &id]);
        parent["status"] == "running"
            && parent["workflow"]["sequence"]
                .as_array()
                .is_some_and(|s| s.len() == 2 && s[0]["status"] == "succeeded")
    });
    cancel_execution(&home, &id);
    let parent = wait_final(&home, &id);
    assert_eq!(parent["status"], "canceled");
    assert_eq!(parent["workflow"]["sequence"][1]["status"], "canceled");
}

const THREE_AT_ONCE: &str = "version: 1.0\ntasks:\n  init:\n    next:\n      - do: [a, b, c]\n  a:\n    action: core.local cmd=\"sleep 0.3\"\n  b:\n    action: core.local cmd=\"sleep 0.3\"\n  c:\n    action: core.local cmd=\"sleep 0.3\"\noutput:\n  - api: <% ctx().st2.api_url %>\n";

/// The recorded `[start, end]` of each child (RFC 3339 times of one format, which sort as
/// text), in start order.
fn spans(parent: &Value) -> Vec<(String, String)> {
    let mut spans: Vec<(String, String)> = tasks(parent)
        .iter()
        .map(|t| {
            let time = |key: &str| t[key].as_str().unwrap().to_string();
            (time("start_timestamp"), time("end_timestamp"))
        })
        .collect();
    spans.sort();
    spans
}
#[test]
fn max_concurrent_actions_and_api_url_come_from_st2_conf() {
    let mut home = flows(&[("three", THREE_AT_ONCE, json!({}))]);
    // By default the three children run at once, and st2.api_url is upstream's default.
    let (parent, _) = run(&home, &["flows.three"]);
    assert_eq!(parent["status"], "succeeded", "{parent}");
    assert_eq!(
        parent["result"]["output"]["api"],
        "http://127.0.0.1:9101/v1"
    );
    let spans_all = spans(&parent);
    assert_eq!(spans_all.len(), 3, "{parent}");
    assert!(spans_all[1].0 < spans_all[0].1, "{spans_all:?}");
    // One at a time: each starts after the previous one ended.
    home.set_extra_conf(
        "[workflow_engine]\nmax_concurrent_actions = 1\n[auth]\napi_url = https://st2.example.com/\n",
    );
    let (parent, _) = run(&home, &["flows.three"]);
    assert_eq!(parent["status"], "succeeded", "{parent}");
    assert_eq!(
        parent["result"]["output"]["api"],
        "https://st2.example.com/v1"
    );
    let spans_one = spans(&parent);
    assert_eq!(spans_one.len(), 3, "{parent}");
    for pair in spans_one.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "{spans_one:?}");
    }
}

#[test]
fn a_process_killed_mid_workflow_leaves_parent_and_running_child_abandoned() {
    let home = flows(&[("sleepy", SLEEPY, json!({}))]);
    let id = run_async(&home, &["flows.sleepy"]);
    let mut child = String::new();
    wait_until(|| {
        tasks(&st2_json(&home, &["execution", "get", &id]))
            .iter()
            .find(|t| t["status"] == "running")
            .map(|t| child = t["id"].as_str().unwrap().to_string())
            .is_some()
    });
    let pid: i32 = home.query(&format!(
        "SELECT CAST(pid AS TEXT) FROM executions WHERE id = '{id}'"
    ))[0]
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // Never `running` again: the next command sees the dead process.
    wait_until(|| st2_json(&home, &["execution", "get", &id])["status"] == "abandoned");
    let child = st2_json(&home, &["execution", "get", &child]);
    assert_eq!(child["status"], "abandoned", "{child}");
    // task2 never started.
    assert_eq!(tasks(&st2_json(&home, &["execution", "get", &id])).len(), 1);
}

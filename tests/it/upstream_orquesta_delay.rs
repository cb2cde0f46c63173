//! Ports `contrib/runners/orquesta_runner/tests/unit/test_delay.py` (StackStorm v3.9.0):
//! task delays, with the `orquesta_tests` fixture pack
//! (`fixtures/upstream/packs/orquesta_tests`). Upstream asserts the `delay` field its
//! scheduler reads on each live action; st2-rs waits in process and records no such field,
//! so the tests assert the wait itself: how long the run took.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

fn run(args: &[&str]) -> (Value, Duration) {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    reload_ok(&home, &[]);
    let started = Instant::now();
    let output = home.st2().arg("run").args(args).arg("-j").output().unwrap();
    (execution_of(&output), started.elapsed())
}

#[test]
fn test_delay() {
    let (parent, elapsed) = run(&["orquesta_tests.delay", "delay=1"]);
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn test_delay_for_with_items() {
    let (parent, elapsed) = run(&["orquesta_tests.with-items-delay", "delay=1"]);
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert_eq!(parent["tasks"].as_array().unwrap().len(), 3);
    // Every item waits its second, the three at once.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn test_delay_for_with_items_concurrency() {
    let (parent, elapsed) = run(&[
        "orquesta_tests.with-items-concurrency-delay",
        "concurrency=2",
        "delay=1",
    ]);
    assert_eq!(parent["status"], "succeeded", "{}", parent["result"]);
    assert_eq!(parent["tasks"].as_array().unwrap().len(), 3);
    // Only the items below the concurrency (0 and 1) wait; item 2 starts at once after.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

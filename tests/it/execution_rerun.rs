//! `st2 execution re-run`, ported from StackStorm 3.9.0 (tag `v3.9.0`):
//! - `st2api/tests/unit/controllers/v1/test_executions.py`, the `test_re_run_*` cases: what
//!   st2api answers to `POST /executions/ID/re_run`. In local mode st2-rs is that API, so each
//!   case runs `st2 execution re-run` in a temporary home and checks the new execution (or the
//!   refusal); where a case concerns `--tasks`, its remote half checks what our client sends
//!   to, and shows from, the stand-in cluster ([`St2Server`](crate::st2server::St2Server),
//!   whose `re_run` follows the controller).
//! - `st2client/tests/unit/test_client_executions.py`, `test_rerun_with_no_params`,
//!   `test_rerun_with_params`, `test_rerun_with_delay`: the body st2client posts, checked on
//!   the requests the stand-in recorded. `st2client/tests/unit/test_action.py` has no re-run
//!   case; `test_shell.py`'s `test_action_execution` parses four `execution re-run` command
//!   lines (internals, as `upstream_st2client_shell.rs` says): the same lines run here.
//!
//! - `contrib/runners/orquesta_runner/tests/unit/test_rerun.py`: `--tasks` on a local
//!   orquesta workflow, the original failed with `ST2_WORKFLOW_MOCKS` where upstream mocks
//!   the runner's result; 5 of its 6 cases. Left out: `test_rerun_with_unexpected_error`
//!   (it patches `request_rerun` to raise; nothing a user can cause).
//! - `rerun_matches_orquesta`: a differential test against orquesta itself (the oracle of
//!   `orquesta_differential.rs`, its script re-running as st2's `request_rerun` does): the
//!   same workflows, failed the same way with mocks, re-run with the same tasks (with-items
//!   with and without `--no-reset`, a join, sequential), compared on task sequence, status,
//!   output and action executions.
//!
//! Fixtures: the built-in `core.local`; `fixtures/upstream/packs/orquesta_tests` and
//! `fixtures/upstream/packs/action_chain_tests` (copied unchanged from
//! `st2tests/st2tests/fixtures/packs/`), and workflows some tests add to the home's copy.
//! Upstream's `sixpack.st2.dummy.action1` (a `remote-shell-cmd` with a secret `d`) becomes
//! `core.local`, whose runner has the secret `sudo_password`; its workflow
//! `starterpack.st2.dummy.action4` becomes `orquesta_tests.sequential`.
//!
//! Deliberately different:
//! - `request_rerun`'s refusals (`test_rerun_with_missing_workflow_execution_id`,
//!   `test_rerun_with_invalid_workflow_execution`, `test_rerun_workflow_still_running`, and
//!   tasks not found) are one line and exit 2 with upstream's message, nothing recorded:
//!   upstream records the new execution and fails it with that message. A workflow that
//!   never started stands for upstream's missing `workflow_execution_id`; one recorded before
//!   st2-rs kept conductors for upstream's deleted workflow execution (a message of ours,
//!   pointing to a plain re-run).
//! - `rerun_of_a_changed_workflow_fails`: st2-rs keeps the definition's digest, not the
//!   definition; a workflow file changed since fails the re-run (upstream resumes on the
//!   definition it kept).
//! - `test_re_run_secret_parameter`: the original's secret is recorded masked (st2-rs never
//!   records a secret), so a re-run that does not give it again is refused, naming it; given
//!   again, the action gets it. Upstream re-uses the secret it kept.
//! - No `trace_context` in the context (st2-rs keeps no traces), and no `delay` field in the
//!   `-j` output of a delayed execution (its `delayed` status shows the delay).
//! - `test_re_run_failure_parameter_override_invalid_type` posts `{"a": 1000}` for a string
//!   parameter; words on the command line are cast to the parameter's type, so that body
//!   cannot be sent: the case that remains is a word that does not cast (`timeout=abc`),
//!   refused before anything is recorded.
//! - `test_re_run_workflow_failure_given_both_params_and_reset_tasks` posts `reset` without
//!   `tasks`, which the CLI cannot send (`reset` is `--tasks` minus `--no-reset`): `--no-reset`
//!   alone is st2client's own refusal, and parameters with `--tasks` (whose reset is the
//!   same tasks) the API's.
//! - An unknown execution is one `error:` line and exit 1 (st2client: `ERROR: Action
//!   execution with id "ID" cannot be found.`, exit 1).

use serde_json::{json, Value};

use crate::common::*;
use crate::remote::{assert_exit, show, text, Auth, Cluster};
use crate::st2server::*;

/// A home with the two workflow fixture packs registered.
fn home() -> Home {
    let home = Home::new();
    home.add_upstream_pack("packs/orquesta_tests", "orquesta_tests");
    home.add_upstream_pack("packs/action_chain_tests", "action_chain_tests");
    reload_ok(&home, &[]);
    home
}

/// `st2 execution re-run ARGS -j`: the new execution, and the output.
fn rerun(home: &Home, args: &[&str]) -> (Value, std::process::Output) {
    let output = home
        .st2()
        .args(["execution", "re-run"])
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    (execution_of(&output), output)
}

/// `st2 execution re-run ARGS`, which must be refused (exit 2) with this one line, recording
/// nothing.
#[track_caller]
fn refused(home: &Home, args: &[&str], message: &str) {
    let before = executions(home);
    let output = home
        .st2()
        .args(["execution", "re-run"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert_eq!(stderr(&output), format!("error: {message}\n"));
    assert_eq!(
        executions(home),
        before,
        "a refused re-run recorded nothing"
    );
}

fn id_of(execution: &Value) -> String {
    execution["id"].as_str().unwrap().to_string()
}

/// Wait for an execution to reach a final status; it.
fn wait_final(home: &Home, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let execution = st2_json(home, &["execution", "get", id]);
        let status = execution["status"].as_str().unwrap();
        if ["succeeded", "failed", "timeout", "canceled", "abandoned"].contains(&status) {
            return execution;
        }
        assert!(std::time::Instant::now() < deadline, "{execution}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn local_echo(home: &Home) -> String {
    id_of(&run_ok(home, &["core.local", "cmd=echo hi", "timeout=30"]))
}

#[test]
fn test_re_run_success() {
    let home = home();
    let original = local_echo(&home);
    // No parameter overrides: the original's parameters, and where they came from.
    let (again, output) = rerun(&home, &[&original]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_ne!(id_of(&again), original);
    assert_eq!(again["status"], "succeeded");
    assert_eq!(
        again["parameters"],
        json!({"cmd": "echo hi", "timeout": 30})
    );
    assert_eq!(again["result"]["stdout"], "hi");
    assert_eq!(
        again["context"],
        json!({"pack": "core", "re-run": {"ref": original}, "user": "stanley"})
    );
    // With overrides: cast against the action (the runner's `timeout` is an integer).
    let (again, output) = rerun(&home, &[&original, "cmd=echo val1", "timeout=5"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        again["parameters"],
        json!({"cmd": "echo val1", "timeout": 5})
    );
    assert_eq!(again["result"]["stdout"], "val1");
    // `execution get` shows it as the re-run printed it.
    let got = st2_json(&home, &["execution", "get", &id_of(&again)]);
    assert_eq!(got["context"]["re-run"], json!({"ref": original}));
    // test_shell.py's command line with words.
    let (again, _) = rerun(&home, &[&original, "cmd=true"]);
    assert_eq!(again["status"], "succeeded");
}

#[test]
fn test_re_run_with_delay() {
    let home = home();
    let original = local_echo(&home);
    let started = std::time::Instant::now();
    let (again, output) = rerun(&home, &[&original, "--delay", "300"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(again["status"], "succeeded");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    // In the background: `delayed` until the delay is over.
    let (queued, output) = rerun(&home, &[&original, "--delay", "1500", "-a"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(queued["status"], "delayed");
    let id = id_of(&queued);
    let now = st2_json(&home, &["execution", "get", &id]);
    assert_eq!(now["status"], "delayed", "{now}");
    assert_eq!(wait_final(&home, &id)["status"], "succeeded");
}

#[test]
fn test_re_run_with_incorrect_delay() {
    let home = home();
    let original = local_echo(&home);
    let before = executions(&home);
    let output = home
        .st2()
        .args(["execution", "re-run", &original, "--delay"])
        .arg("sudo apt -y upgrade winson")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(stderr(&output).contains("--delay"), "{}", show(&output));
    assert_eq!(executions(&home), before);
}

#[test]
fn test_re_run_with_very_large_delay() {
    let home = home();
    let original = local_echo(&home);
    let (queued, output) = rerun(&home, &[&original, "--delay", "10000000000", "-a"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(queued["status"], "delayed");
    // It waits: a cancel ends it before it starts.
    let id = id_of(&queued);
    let cancel = home
        .st2()
        .args(["execution", "cancel", &id])
        .output()
        .unwrap();
    assert!(cancel.status.success(), "{}", show(&cancel));
    // (A cancel that comes before the worker has started leaves no result.)
    assert_eq!(wait_final(&home, &id)["status"], "canceled");
}

#[test]
fn test_re_run_delayed_aciton_with_no_delay() {
    let home = home();
    let original = local_echo(&home);
    let (delayed, _) = rerun(&home, &[&original, "--delay", "100"]);
    let (queued, output) = rerun(&home, &[&id_of(&delayed), "--delay", "0", "-a"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(queued["status"], "requested");
    assert_eq!(wait_final(&home, &id_of(&queued))["status"], "succeeded");
}

#[test]
fn test_re_run_failure_execution_doesnt_exist() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["execution", "re-run", "doesntexist"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_eq!(
        stderr(&output),
        "error: execution \"doesntexist\" is not found (nothing has run yet)\n"
    );
    local_echo(&home);
    let output = home
        .st2()
        .args(["execution", "re-run", "doesntexist"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_eq!(
        stderr(&output),
        "error: execution \"doesntexist\" is not found (`st2 execution list` shows the recent \
         ones)\n"
    );
}

#[test]
fn test_re_run_failure_parameter_override_invalid_type() {
    let home = home();
    let original = local_echo(&home);
    let before = executions(&home);
    let output = home
        .st2()
        .args(["execution", "re-run", &original, "timeout=abc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", show(&output));
    assert!(stderr(&output).contains("timeout"), "{}", show(&output));
    assert_eq!(executions(&home), before);
}

#[test]
fn test_re_run_workflow_success() {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    let original = id_of(&original);
    let (again, output) = rerun(&home, &[&original]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        again["context"],
        json!({"pack": "orquesta_tests", "re-run": {"ref": original}, "user": "stanley"})
    );
    // The whole workflow ran again, as new task executions.
    let tasks: Vec<&str> = again["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["task1", "task2", "task3"]);
    assert_eq!(
        again["result"]["output"]["msg"],
        "Thanos, All your base are belong to us!"
    );
    let (other, _) = rerun(&home, &[&original, "who=Thor"]);
    assert_eq!(
        other["result"]["output"]["msg"],
        "Thor, All your base are belong to us!"
    );
}

/// Locally, `re-run ARGS` of a succeeded `orquesta_tests.sequential`: the re-run's
/// `re-run` context (its `ref` replaced by `ID`), and the tasks it ran.
fn local_tasks(args: &[&str]) -> (Value, Vec<String>) {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    let original = id_of(&original);
    let mut words = vec![original.as_str()];
    words.extend(args);
    let (again, output) = rerun(&home, &words);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(again["status"], "succeeded");
    let mut context = again["context"].clone();
    assert_eq!(context["re-run"]["ref"], original.as_str());
    context["re-run"]["ref"] = json!("ID");
    (context, task_names(&again))
}

/// The tasks of an execution's children, in order.
fn task_names(execution: &Value) -> Vec<String> {
    execution["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["task"].as_str().unwrap().to_string())
        .collect()
}

/// On a cluster: `re-run WORKFLOW ARGS -j` against the stand-in; the body posted and the
/// `re-run` context of the new execution.
fn remote_tasks(args: &[&str]) -> Option<(Value, Value)> {
    let cluster = Cluster::start()?;
    let workflow = cluster.server.world(add_failed_workflow);
    let mut words = vec!["execution", "re-run", workflow.as_str()];
    words.extend(args);
    words.push("-j");
    let output = cluster.st2(Auth::Token, &words);
    assert_exit(&output, 0);
    let posted = cluster
        .server
        .requests()
        .iter()
        .find(|request| request.method == "POST")
        .and_then(|request| request.json_body())
        .unwrap();
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut context = execution["context"].clone();
    assert_eq!(context["re-run"]["ref"], workflow.as_str());
    context["re-run"]["ref"] = json!("ID");
    cluster.server.assert_clean();
    Some((posted, context))
}

#[test]
fn test_re_run_workflow_task_success() {
    let (context, tasks) = local_tasks(&["--tasks", "task2"]);
    assert_eq!(
        context,
        json!({"pack": "orquesta_tests", "user": "stanley",
               "re-run": {"ref": "ID", "tasks": ["task2"], "reset": ["task2"]}})
    );
    assert_eq!(tasks, ["task2", "task3"]);
    let Some((posted, context)) = remote_tasks(&["--tasks", "x"]) else {
        return;
    };
    assert_eq!(
        posted,
        json!({"parameters": {}, "tasks": ["x"], "reset": ["x"], "delay": 0})
    );
    assert_eq!(
        context,
        json!({"pack": "examples", "user": USER,
               "re-run": {"ref": "ID", "tasks": ["x"], "reset": ["x"]}})
    );
}

#[test]
fn test_re_run_workflow_tasks_success() {
    let (context, tasks) = local_tasks(&["--tasks", "task1", "task2"]);
    assert_eq!(context["re-run"]["tasks"], json!(["task1", "task2"]));
    // Each runs once more, task3 after them (as orquesta conducts it: `rerun_matches_orquesta`).
    assert_eq!(tasks, ["task1", "task2", "task3"]);
    // test_shell.py's `--tasks x y z`.
    let Some((posted, context)) = remote_tasks(&["--tasks", "x", "y", "z"]) else {
        return;
    };
    assert_eq!(posted["tasks"], json!(["x", "y", "z"]));
    assert_eq!(context["re-run"]["tasks"], json!(["x", "y", "z"]));
}

#[test]
fn test_re_run_workflow_tasks_reset_success() {
    let (context, _) = local_tasks(&["--tasks", "task1", "task2", "--no-reset", "task1"]);
    assert_eq!(
        context["re-run"],
        json!({"ref": "ID", "tasks": ["task1", "task2"], "reset": ["task2"]})
    );
    // Upstream posts reset ["y"]: `--no-reset x` leaves y to reset.
    let Some((posted, context)) = remote_tasks(&["--tasks", "x", "y", "--no-reset", "x"]) else {
        return;
    };
    assert_eq!(
        posted,
        json!({"parameters": {}, "tasks": ["x", "y"], "reset": ["y"], "delay": 0})
    );
    assert_eq!(
        context["re-run"],
        json!({"ref": "ID", "tasks": ["x", "y"], "reset": ["y"]})
    );
}

#[test]
fn test_re_run_failure_tasks_option_for_non_workflow() {
    let home = home();
    let original = local_echo(&home);
    let message = "Task option is only supported for Orquesta workflows.";
    refused(&home, &[&original, "--tasks", "x"], message);
    // An action-chain is not orquesta either.
    let (chain, _) = run_json(&home, &["action_chain_tests.test_chain_sequential"]);
    refused(&home, &[&id_of(&chain), "--tasks", "task1"], message);
    // On a cluster, the API's refusal (a 400) is the same line.
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &["execution", "re-run", EXECUTION_ID, "--tasks", "x"],
    );
    assert_exit(&output, 2);
    assert!(
        text(&output.stderr).starts_with(&format!("error: {message} (HTTP 400 from POST ")),
        "{}",
        show(&output)
    );
    cluster.server.assert_clean();
}

#[test]
fn test_re_run_workflow_failure_given_both_params_and_tasks() {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    refused(
        &home,
        &[&id_of(&original), "who=xyz", "--tasks", "x"],
        "Parameters override is not supported when re-running task(s) for a workflow.",
    );
}

#[test]
fn test_re_run_workflow_failure_given_both_params_and_reset_tasks() {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    let original = id_of(&original);
    // Parameters with a task to reset (reset is --tasks without --no-reset).
    refused(
        &home,
        &[&original, "who=xyz", "--tasks", "x", "--no-reset"],
        "Parameters override is not supported when re-running task(s) for a workflow.",
    );
    // A reset task alone is not among the tasks to re-run.
    refused(
        &home,
        &[&original, "who=xyz", "--no-reset", "x"],
        "List of tasks to reset does not match the tasks to rerun.",
    );
}

#[test]
fn test_re_run_workflow_failure_invalid_reset_tasks() {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    refused(
        &home,
        &[&id_of(&original), "--tasks", "x", "--no-reset", "y"],
        "List of tasks to reset does not match the tasks to rerun.",
    );
}

#[test]
fn test_re_run_secret_parameter() {
    let home = home();
    // The command names no secret (the record would mask it there too).
    let check = r#"cmd=test "${MY_PASSWORD%-env}" = s3cr3t && echo ok"#;
    let env = r#"env={"MY_PASSWORD": "s3cr3t-env"}"#;
    let (original, output) = run_json(
        &home,
        &["core.local", check, env, "sudo_password=s3cr3t-sudo"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(original["parameters"]["sudo_password"], "********");
    let original = id_of(&original);
    // [fix] the secrets were recorded masked: re-running would hand the mask to the action.
    for (words, name, again) in [
        (vec![], "env", "env=JSON (or -e, this shell's environment)"),
        (vec![env], "sudo_password", "sudo_password=VALUE"),
    ] {
        let mut args = vec![original.as_str()];
        args.extend(words);
        refused(
            &home,
            &args,
            &format!(
                "execution {original} was given a secret in parameter \"{name}\", which is \
                 recorded masked (secrets are never recorded): give it again, st2 execution \
                 re-run {original} {again}"
            ),
        );
    }
    // Given again, the action gets them; the record and the output still mask them.
    let (again, output) = rerun(&home, &[&original, env, "sudo_password=an0ther-sudo"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(again["result"]["stdout"], "ok");
    assert_eq!(again["parameters"]["sudo_password"], "********");
    assert_eq!(again["parameters"]["env"]["MY_PASSWORD"], "********");
    let everything = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(!everything.contains("s3cr3t-env") && !everything.contains("an0ther-sudo"));
}

/// `re-run ID ARGS -a` against the stand-in's orquesta workflow: the body posted.
fn posted(args: &[&str]) -> Option<Value> {
    let cluster = Cluster::start()?;
    let workflow = cluster.server.world(add_failed_workflow);
    let mut words = vec!["execution", "re-run", workflow.as_str()];
    words.extend(args);
    words.push("-a");
    let output = cluster.st2(Auth::Token, &words);
    let body = cluster
        .server
        .requests()
        .iter()
        .find(|request| request.method == "POST")
        .and_then(|request| request.json_body());
    cluster.server.assert_clean();
    Some(body.unwrap_or_else(|| panic!("nothing posted: {}", show(&output))))
}

#[test]
fn test_rerun_with_no_params() {
    let Some(body) = posted(&["--tasks", "foobar"]) else {
        return;
    };
    assert_eq!(
        body,
        json!({"tasks": ["foobar"], "reset": ["foobar"], "parameters": {}, "delay": 0})
    );
}

#[test]
fn test_rerun_with_params() {
    // The words go before --tasks, which takes the words after it. (The API then refuses
    // parameters with tasks, as st2api's test says; the body is what st2client sends.)
    let Some(body) = posted(&["who=testing...", "--tasks", "foobar"]) else {
        return;
    };
    assert_eq!(
        body,
        json!({"tasks": ["foobar"], "reset": ["foobar"],
               "parameters": {"who": "testing..."}, "delay": 0})
    );
}

#[test]
fn test_rerun_with_delay() {
    let Some(body) = posted(&["--tasks", "foobar", "--delay", "100"]) else {
        return;
    };
    assert_eq!(
        body,
        json!({"tasks": ["foobar"], "reset": ["foobar"], "parameters": {}, "delay": 100})
    );
}

// contrib/runners/orquesta_runner/tests/unit/test_rerun.py: `--tasks` on a local orquesta
// workflow resumes the original's conductor (its failure played with `ST2_WORKFLOW_MOCKS`,
// as upstream mocks the runner).

/// `st2 run ACTION WORDS -j` with `mocks` as `ST2_WORKFLOW_MOCKS`: the execution.
fn run_mocked(home: &Home, mocks: &Value, args: &[&str]) -> Value {
    let file = home.dir.path().join("mocks.json");
    std::fs::write(&file, mocks.to_string()).unwrap();
    let output = home
        .st2()
        .env("ST2_WORKFLOW_MOCKS", &file)
        .arg("run")
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    execution_of(&output)
}

/// `st2 execution re-run ARGS -j` with `mocks` as `ST2_WORKFLOW_MOCKS`: the execution.
fn rerun_mocked(home: &Home, mocks: &Value, args: &[&str]) -> Value {
    let file = home.dir.path().join("mocks.json");
    std::fs::write(&file, mocks.to_string()).unwrap();
    let output = home
        .st2()
        .env("ST2_WORKFLOW_MOCKS", &file)
        .args(["execution", "re-run"])
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    execution_of(&output)
}

/// `orquesta_tests.sequential` with task1 failed (upstream's `RUNNER_RESULT_FAILED`).
fn failed_sequential(home: &Home) -> String {
    let mocks = json!([{"task_id": "task1", "status": "failed", "result": {"stderr": "boom"}}]);
    let original = run_mocked(home, &mocks, &["orquesta_tests.sequential", "who=Thanos"]);
    assert_eq!(original["status"], "failed", "{original}");
    assert_eq!(task_names(&original), ["task1"]);
    id_of(&original)
}

/// The task state entries of an execution's workflow: `task__rN status`.
fn sequence(execution: &Value) -> Vec<String> {
    execution["workflow"]["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}__r{} {}",
                t["id"].as_str().unwrap(),
                t["route"],
                t["status"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn test_rerun_workflow() {
    let home = home();
    let original = failed_sequential(&home);
    // Run again for real: task1 succeeds now, and the rest of the workflow follows.
    let (again, output) = rerun(&home, &[&original, "--tasks", "task1"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(again["status"], "succeeded");
    assert_eq!(
        again["context"]["re-run"],
        json!({"ref": original, "tasks": ["task1"], "reset": ["task1"]})
    );
    assert_eq!(task_names(&again), ["task1", "task2", "task3"]);
    assert_eq!(
        again["result"],
        json!({"output": {"msg": "Thanos, All your base are belong to us!"}})
    );
    // Two task1 entries in the workflow: the failed one kept, the new one succeeded.
    let again = st2_json(&home, &["execution", "get", &id_of(&again)]);
    assert_eq!(
        sequence(&again)[..2],
        ["task1__r0 failed", "task1__r0 succeeded"]
    );
    // The original is as it was.
    let original = st2_json(&home, &["execution", "get", &original]);
    assert_eq!(original["status"], "failed");
}

#[test]
fn test_rerun_with_missing_workflow_execution_id() {
    // The workflow never started (its definition was refused): there is no workflow
    // execution to resume, as when upstream's context has none.
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.fail-inspection"]);
    assert_eq!(original["status"], "failed");
    refused(
        &home,
        &[&id_of(&original), "--tasks", "task1"],
        "Unable to rerun workflow execution because workflow_execution_id is not provided.",
    );
}

#[test]
fn test_rerun_with_invalid_workflow_execution() {
    // Upstream's workflow execution was deleted; here, its state was recorded before st2-rs
    // kept workflow states (the `conductor` column empty).
    let home = home();
    let original = failed_sequential(&home);
    let conn = rusqlite::Connection::open(home.base.join("st2.db")).unwrap();
    conn.execute("UPDATE executions SET conductor = NULL", [])
        .unwrap();
    drop(conn);
    refused(
        &home,
        &[&original, "--tasks", "task1"],
        &format!(
            "Unable to rerun the tasks of workflow execution \"{original}\": it ran before \
             st2-rs kept workflow states; `st2 execution re-run {original}` runs the whole \
             workflow again"
        ),
    );
}

#[test]
fn test_rerun_workflow_still_running() {
    let home = home();
    let dir = home.pack("orquesta_tests").join("actions");
    std::fs::write(
        dir.join("slow.yaml"),
        "name: slow\npack: orquesta_tests\nrunner_type: orquesta\n\
         entry_point: workflows/slow.yaml\nenabled: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("workflows/slow.yaml"),
        "version: 1.0\ntasks:\n  task1:\n    action: core.local\n    input:\n      cmd: sleep 30\n",
    )
    .unwrap();
    reload_ok(&home, &[]);
    let output = home
        .st2()
        .args(["run", "orquesta_tests.slow", "-a", "-j"])
        .output()
        .unwrap();
    let running = id_of(&execution_of(&output));
    refused(
        &home,
        &[&running, "--tasks", "task1"],
        &format!(
            "Unable to rerun workflow execution \"{running}\" because it is not in a completed \
             state."
        ),
    );
    let output = home
        .st2()
        .args(["execution", "cancel", &running])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    wait_final(&home, &running);
}

#[test]
fn test_rerun_workflow_already_succeeded() {
    // Upstream re-runs a task of a workflow that succeeded (orquesta re-runs any task that
    // ran), and the tasks after it again.
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    assert_eq!(original["status"], "succeeded");
    let (again, output) = rerun(&home, &[&id_of(&original), "--tasks", "task1"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(task_names(&again), ["task1", "task2", "task3"]);
    assert_eq!(again["status"], "succeeded");
    // And a task that never ran is refused, naming it.
    refused(
        &home,
        &[&id_of(&original), "--tasks", "task1", "nope", "other"],
        "Unable to rerun workflow because one or more tasks is not found: nope,other",
    );
}

/// A task that is not run again keeps its result: `ctx()` (its publish) and `task()`.
#[test]
fn rerun_keeps_succeeded_tasks_results() {
    let home = home();
    let dir = home.pack("orquesta_tests").join("actions");
    std::fs::write(
        dir.join("keeps.yaml"),
        "name: keeps\npack: orquesta_tests\nrunner_type: orquesta\n\
         entry_point: workflows/keeps.yaml\nenabled: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("workflows/keeps.yaml"),
        "version: 1.0\noutput:\n  - first: <% ctx().first %>\n  - again: <% task(first).result.stdout %>\n  - second: <% ctx().second %>\n\
         tasks:\n  first:\n    action: core.local\n    input:\n      cmd: echo $RANDOM$RANDOM\n    next:\n      - when: <% succeeded() %>\n        publish: first=<% result().stdout %>\n        do: second\n\
         \x20 second:\n    action: core.local\n    input:\n      cmd: echo two\n    next:\n      - when: <% succeeded() %>\n        publish: second=<% result().stdout %>\n",
    )
    .unwrap();
    reload_ok(&home, &[]);
    let mocks = json!([
        {"task_id": "first", "result": {"stdout": "kept"}},
        {"task_id": "second", "status": "failed", "result": {"stdout": ""}},
    ]);
    let original = run_mocked(&home, &mocks, &["orquesta_tests.keeps"]);
    assert_eq!(original["status"], "failed", "{original}");
    let (again, output) = rerun(&home, &[&id_of(&original), "--tasks", "second"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(task_names(&again), ["second"]);
    assert_eq!(
        again["result"]["output"],
        json!({"first": "kept", "again": "kept", "second": "two"})
    );
}

/// The same workflow failed the same way (mocks) and re-run with the same tasks, through
/// `st2` and through orquesta itself (`request_rerun` as StackStorm calls it): the same
/// task sequence, status, output and action executions.
#[test]
fn rerun_matches_orquesta() {
    let Some(python) = orquesta_oracle_python() else {
        return;
    };
    let home = home();
    let dir = home.pack("orquesta_tests").join("actions");
    std::fs::write(
        dir.join("rerun_items.yaml"),
        "name: rerun_items\npack: orquesta_tests\nrunner_type: orquesta\n\
         entry_point: workflows/rerun_items.yaml\nenabled: true\n\
         parameters:\n  members:\n    type: array\n    default: [a, b, c]\n",
    )
    .unwrap();
    let items = "version: 1.0
input:
  - members
vars:
  - greeting: null
  - items: null
output:
  - greeting: <% ctx().greeting %>
  - items: <% ctx().items %>
tasks:
  init:
    action: core.echo
    input:
      message: start
    next:
      - when: <% succeeded() %>
        publish: greeting=<% result().stdout %>
        do:
          - each
          - side
  each:
    with: <% ctx().members %>
    action: core.echo
    input:
      message: <% item() %>
    next:
      - when: <% succeeded() %>
        publish: items=<% result().select($.stdout) %>
        do: finish
  side:
    action: core.echo
    input:
      message: side
    next:
      - when: <% succeeded() %>
        do: finish
  finish:
    join: all
    action: core.echo
    input:
      message: <% ctx().greeting %>
";
    std::fs::write(dir.join("workflows/rerun_items.yaml"), items).unwrap();
    reload_ok(&home, &[]);
    let sequential = std::fs::read_to_string(
        home.pack("orquesta_tests")
            .join("actions/workflows/sequential.yaml"),
    )
    .unwrap();
    let out = |s: &str| json!({"stdout": s});
    let items_failed = json!([
        {"task_id": "init", "result": out("hello")},
        {"task_id": "each", "item_id": 0, "result": out("a")},
        {"task_id": "each", "item_id": 1, "status": "failed", "result": out("b!")},
        {"task_id": "each", "item_id": 2, "result": out("c")},
        {"task_id": "side", "result": out("side")},
        {"task_id": "finish", "result": out("hello")},
    ]);
    let items_again = json!([
        {"task_id": "each", "item_id": 0, "result": out("A")},
        {"task_id": "each", "item_id": 1, "result": out("B")},
        {"task_id": "each", "item_id": 2, "result": out("C")},
        {"task_id": "side", "result": out("side")},
        {"task_id": "finish", "result": out("hello")},
    ]);
    let sequential_failed = json!([
        {"task_id": "task1", "result": out("one")},
        {"task_id": "task2", "status": "failed", "result": out("")},
        {"task_id": "task3", "result": out("x")},
    ]);
    let sequential_again = json!([
        {"task_id": "task1", "result": out("one")},
        {"task_id": "task2", "result": out("two")},
        {"task_id": "task3", "result": out("three")},
    ]);
    /// A workflow failed with `failed`, re-run with `--tasks tasks --no-reset no_reset`
    /// and `again`.
    struct Case<'c> {
        action: &'c str,
        text: &'c str,
        inputs: Value,
        failed: &'c Value,
        again: &'c Value,
        tasks: Vec<&'c str>,
        no_reset: Vec<&'c str>,
    }
    let with_items = |tasks: Vec<&'static str>, no_reset: Vec<&'static str>| Case {
        action: "orquesta_tests.rerun_items",
        text: items,
        inputs: json!({"members": ["a", "b", "c"]}),
        failed: &items_failed,
        again: &items_again,
        tasks,
        no_reset,
    };
    let sequential = |tasks: Vec<&'static str>| Case {
        action: "orquesta_tests.sequential",
        text: &sequential,
        inputs: json!({"who": "Thanos"}),
        failed: &sequential_failed,
        again: &sequential_again,
        tasks,
        no_reset: vec![],
    };
    let cases = [
        with_items(vec!["each"], vec!["each"]),
        with_items(vec!["each"], vec![]),
        with_items(vec!["side", "each"], vec![]),
        sequential(vec!["task2"]),
        sequential(vec!["task1", "task2"]),
    ];
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for Case {
        action,
        text,
        inputs,
        failed,
        again,
        tasks,
        no_reset,
    } in &cases
    {
        let words: Vec<String> = inputs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect();
        let mut args = vec![*action];
        args.extend(words.iter().map(String::as_str));
        let original = run_mocked(&home, failed, &args);
        assert_eq!(original["status"], "failed", "{original}");
        let mut args = vec![original["id"].as_str().unwrap(), "--tasks"];
        args.extend(tasks);
        if !no_reset.is_empty() {
            args.push("--no-reset");
            args.extend(no_reset);
        }
        let new = rerun_mocked(&home, again, &args);
        let new = st2_json(&home, &["execution", "get", &id_of(&new)]);
        let actions: Vec<Value> = new["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| json!([t["task"], t["route"], t["item_id"]]))
            .collect();
        let sequence: Vec<String> = new["workflow"]["sequence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{}__r{}", t["id"].as_str().unwrap(), t["route"]))
            .collect();
        ours.push(json!({
            "sequence": sequence,
            "status": new["status"],
            "output": new["result"]["output"],
            "actions": actions,
        }));
        let reset: Vec<&&str> = tasks.iter().filter(|t| !no_reset.contains(t)).collect();
        requests.push(json!({
            "name": format!("{action} --tasks {tasks:?}"),
            "text": text,
            "inputs": inputs,
            "mocks": failed,
            "rerun": {"tasks": tasks, "reset": reset, "mocks": again},
        }));
    }
    let theirs =
        crate::orquesta_differential::oracle(&python, &json!({"mode": "run", "cases": requests}));
    for ((ours, theirs), case) in ours.iter().zip(theirs.as_array().unwrap()).zip(&cases) {
        let actions: Vec<Value> = theirs["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("{theirs}"))
            .iter()
            .map(|a| json!([a["task"], a["route"], a["item_id"]]))
            .collect();
        let theirs = json!({
            "sequence": theirs["sequence"],
            "status": theirs["status"],
            "output": theirs["output"],
            "actions": actions,
        });
        assert_eq!(
            ours, &theirs,
            "{} --tasks {:?} --no-reset {:?}",
            case.action, case.tasks, case.no_reset
        );
    }
}

/// A workflow whose definition changed since it ran is not resumed on the new graph: the
/// re-run fails with why (upstream resumes on the definition it kept; st2-rs keeps only its
/// digest, since a definition may hold what must not be recorded).
#[test]
fn rerun_of_a_changed_workflow_fails() {
    let home = home();
    let original = failed_sequential(&home);
    let file = home
        .pack("orquesta_tests")
        .join("actions/workflows/sequential.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("msg2", "msg_two")).unwrap();
    let (again, _) = rerun(&home, &[&original, "--tasks", "task1"]);
    assert_eq!(again["status"], "failed");
    assert_eq!(
        again["result"]["errors"][0]["message"],
        format!(
            "Unable to rerun workflow execution \"{original}\" because its workflow definition \
             (workflows/sequential.yaml) changed since it ran."
        )
    );
    assert!(
        again["tasks"].as_array().is_none_or(Vec::is_empty),
        "{again}"
    );
}

/// A workflow given a secret: its kept state holds the secret masked, and `--tasks` takes
/// no parameters to give it again, so its tasks are not re-run (the whole workflow is).
#[test]
fn rerun_tasks_of_a_workflow_given_a_secret_is_refused() {
    let home = home();
    let dir = home.pack("orquesta_tests").join("actions");
    std::fs::write(
        dir.join("secretive.yaml"),
        "name: secretive\npack: orquesta_tests\nrunner_type: orquesta\n\
         entry_point: workflows/secretive.yaml\nenabled: true\n\
         parameters:\n  password:\n    type: string\n    secret: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("workflows/secretive.yaml"),
        "version: 1.0\ninput:\n  - password\ntasks:\n  task1:\n    action: core.noop\n",
    )
    .unwrap();
    reload_ok(&home, &[]);
    let (original, _) = run_json(&home, &["orquesta_tests.secretive", "password=hunter22"]);
    let original = id_of(&original);
    refused(
        &home,
        &[&original, "--tasks", "task1"],
        &format!(
            "execution {original} was given a secret in parameter \"password\", which is \
             recorded masked (secrets are never recorded), and its tasks cannot be run again \
             with it: st2 execution re-run {original} password=VALUE runs the whole workflow \
             again"
        ),
    );
    for file in ["st2.db", "st2.db-wal"] {
        let bytes = std::fs::read(home.base.join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hunter22"),
            "{file}"
        );
    }
}

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
//! Fixtures: the built-in `core.local`; `fixtures/upstream/packs/orquesta_tests` and
//! `fixtures/upstream/packs/action_chain_tests` (copied unchanged from
//! `st2tests/st2tests/fixtures/packs/`). Upstream's `sixpack.st2.dummy.action1` (a
//! `remote-shell-cmd` with a secret `d`) becomes `core.local`, whose runner has the secret
//! `sudo_password`; its workflow `starterpack.st2.dummy.action4` becomes
//! `orquesta_tests.sequential`.
//!
//! Deliberately different:
//! - `--tasks` on a local orquesta workflow is refused with one line (exit 2): upstream
//!   resumes the workflow's conductor state, which the local engine does not keep
//!   (`src/ops/local/execution_rerun.rs`). `test_re_run_workflow_task_success`,
//!   `test_re_run_workflow_tasks_success` and `test_re_run_workflow_tasks_reset_success`
//!   assert that refusal locally and upstream's context on a cluster.
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

/// The local refusal of `--tasks` on an orquesta workflow.
fn local_tasks_refused(args: &[&str]) {
    let home = home();
    let (original, _) = run_json(&home, &["orquesta_tests.sequential", "who=Thanos"]);
    let original = id_of(&original);
    let mut words = vec![original.as_str()];
    words.extend(args);
    refused(
        &home,
        &words,
        &format!(
            "--tasks re-runs orquesta tasks on a StackStorm cluster only: the local engine does \
             not keep the finished workflow's conductor state to resume from; `st2 execution \
             re-run {original}` runs the whole workflow again"
        ),
    );
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
    local_tasks_refused(&["--tasks", "x"]);
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
    local_tasks_refused(&["--tasks", "x", "y"]);
    // test_shell.py's `--tasks x y z`.
    let Some((posted, context)) = remote_tasks(&["--tasks", "x", "y", "z"]) else {
        return;
    };
    assert_eq!(posted["tasks"], json!(["x", "y", "z"]));
    assert_eq!(context["re-run"]["tasks"], json!(["x", "y", "z"]));
}

#[test]
fn test_re_run_workflow_tasks_reset_success() {
    local_tasks_refused(&["--tasks", "x", "y", "--no-reset", "x"]);
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

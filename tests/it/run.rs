//! `st2 run`, `st2 action`, `st2 execution`: parameters, the shell runners, rendering,
//! the execution record, async runs and cancellation.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

fn run(home: &Home, args: &[&str]) -> std::process::Output {
    home.st2().arg("run").args(args).output().unwrap()
}

/// A pack with shell actions, a config schema and parameter templates.
fn shell_pack(home: &Home) {
    let dir = home.pack("shelly");
    write(
        &dir,
        "pack.yaml",
        "ref: shelly\nname: shelly\ndescription: shell actions\nversion: 1.0.0\nauthor: t\n",
    );
    write(
        &dir,
        "config.schema.yaml",
        "greeting:\n  type: string\n  default: hello\nport:\n  type: integer\n  required: true\n",
    );
    write(
        &dir,
        "actions/args.yaml",
        r#"name: args
runner_type: local-shell-script
entry_point: args.sh
parameters:
  first:
    type: string
    position: 0
  second:
    type: integer
    position: 1
  count:
    type: integer
    default: 3
  verbose:
    type: boolean
    default: false
  token:
    type: string
    secret: true
  greeting:
    type: string
    default: "{{ config_context.greeting }} {{ st2kv.system.who }} on {{ config_context.port }}"
"#,
    );
    write(
        &dir,
        "actions/args.sh",
        "#!/bin/sh\nprintf '%s|' \"$@\"\necho\necho \"pack=$ST2_ACTION_PACK_NAME id=$ST2_ACTION_EXECUTION_ID\"\n",
    );
    make_executable(&dir.join("actions/args.sh"));
    write(
        &dir,
        "actions/json.yaml",
        "name: json\nrunner_type: local-shell-script\nentry_point: json.sh\n",
    );
    write(
        &dir,
        "actions/json.sh",
        "#!/bin/sh\necho '{\"answer\": 42, \"cwd\": \"'\"$(pwd)\"'\"}'\necho oops >&2\n",
    );
    // Not executable on purpose: upstream makes it so before running, and so do we.
    write(
        &dir,
        "actions/loop.yaml",
        "name: loop\nrunner_type: local-shell-script\nentry_point: loop.sh\nparameters:\n  timeout:\n    default: 1\n",
    );
    write(
        &dir,
        "actions/loop.sh",
        &format!(
            "#!/bin/sh\nsleep {} &\nwhile true; do sleep 0.1; done\n",
            unique_seconds(home, 300)
        ),
    );
    write(
        &dir,
        "actions/missing.yaml",
        "name: missing\nrunner_type: local-shell-script\nentry_point: nowhere.sh\n",
    );
    write(
        &dir,
        "actions/badshebang.yaml",
        "name: badshebang\nrunner_type: local-shell-script\nentry_point: bad.sh\n",
    );
    write(&dir, "actions/bad.sh", "#!/nonexistent/interpreter\n");
    write(
        &dir,
        "actions/pymissing.yaml",
        "name: pymissing\nrunner_type: python-script\nentry_point: nowhere.py\n",
    );
    write(
        &dir,
        "actions/pyloop.yaml",
        "name: pyloop\nrunner_type: python-script\nentry_point: pyloop.py\nparameters:\n  timeout:\n    default: 1\n",
    );
    write(
        &dir,
        "actions/pyloop.py",
        "from st2common.runners.base_action import Action\n\n\nclass Loop(Action):\n    def run(self):\n        while True:\n            pass\n",
    );
    make_executable(&dir.join("actions/bad.sh"));
    write(
        &dir,
        "actions/remote.yaml",
        "name: remote\nrunner_type: winrm-cmd\nparameters:\n  host:\n    default: localhost\n  username:\n    default: me\n  password:\n    default: pw\n  cmd:\n    default: date\n",
    );
    write(
        &dir,
        "actions/disabled.yaml",
        "name: disabled\nrunner_type: noop\nenabled: false\n",
    );
    home.write_config("shelly", "port: 8080\n");
    reload_ok(home, &["--register-all"]);
    let output = home
        .st2()
        .args(["key", "set", "who", "world"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn core_local_runs_a_command_and_records_it() {
    let home = Home::new();
    let (execution, output) = run_json(&home, &["core.local", "cmd=echo hi; echo err >&2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["action"]["ref"], "core.local");
    assert_eq!(execution["context"]["user"], "stanley");
    assert_eq!(execution["parameters"]["cmd"], "echo hi; echo err >&2");
    assert_eq!(execution["result"]["stdout"], "hi");
    assert_eq!(execution["result"]["stderr"], "err");
    assert_eq!(execution["result"]["return_code"], 0);
    assert_eq!(execution["result"]["succeeded"], true);
    let id = execution["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);

    // The record is there for `st2 execution get/list`.
    let output = home
        .st2()
        .args(["execution", "get", id, "-j"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stored: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stored["result"], execution["result"]);
    assert_eq!(stored["start_timestamp"], execution["start_timestamp"]);
    let output = home.st2().args(["execution", "list"]).output().unwrap();
    let text = stdout(&output);
    assert!(text.contains(id) && text.contains("succeeded"), "{text}");

    // The human layout, in upstream's field order.
    let output = run(&home, &["core.local", "echo", "hello", "world"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let keys: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with(' '))
        .map(|line| line.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "action.ref",
            "context.user",
            "parameters",
            "status",
            "start_timestamp",
            "end_timestamp",
            "result"
        ]
    );
    assert!(text.contains("  cmd: echo hello world\n"), "{text}");
    assert!(text.contains("  stdout: hello world\n"), "{text}");

    // -k prints one key of the result; flags may follow the parameters.
    let output = run(&home, &["core.echo", "message=from echo", "-k", "stdout"]);
    assert_eq!(stdout(&output), "from echo\n");
}

#[test]
fn failures_exit_non_zero_and_are_recorded() {
    let home = Home::new();
    let (execution, output) = run_json(&home, &["core.local", "cmd=exit 3"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "failed");
    assert_eq!(execution["result"]["return_code"], 3);
    // core.error writes to stderr and succeeds, as upstream's does.
    let output = run(&home, &["core.error", "message=boom"]);
    assert!(
        stdout(&output).contains("stderr: boom"),
        "{}",
        stdout(&output)
    );
    let output = home
        .st2()
        .args(["execution", "list", "--status", "failed", "-j"])
        .output()
        .unwrap();
    let list: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list.len(), 1);
}

#[test]
fn bad_parameters_are_refused_before_anything_runs() {
    let home = Home::new();
    shell_pack(&home);
    let cases: &[(&[&str], &str)] = &[
        (&["core.local"], "'cmd' is a required property"),
        (
            &["core.local", "cmd=x", "cmdd=y"],
            "Additional properties are not allowed ('cmdd' was unexpected); did you mean \"cmd\"?",
        ),
        (
            &["core.local", "cmd=x", "timeout=soon"],
            "parameter \"timeout\": 'soon' is not an integer",
        ),
        (
            &["core.local", "cmd=x", "sudo=true"],
            "Override of immutable parameter(s) ['sudo'] is unsupported.",
        ),
        (
            &["core.uuid", "uuid_type=uuid7"],
            "parameter \"uuid_type\": 'uuid7' is not one of ['uuid1', 'uuid4']",
        ),
        (
            &["shelly.args", "verbose=maybe"],
            "parameter \"verbose\": Invalid value for boolean parameter",
        ),
        (
            &["shelly.args", "@first=nofile.txt"],
            "nofile.txt\" doesn't exist",
        ),
        (&["core.locl", "cmd=x"], "did you mean \"core.local\"?"),
        (&["shelly.disabled"], "is disabled"),
    ];
    let before = executions(&home);
    for (args, expected) in cases {
        let output = run(&home, args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
    assert_eq!(executions(&home), before, "nothing was recorded");
}

#[test]
fn scripts_get_arguments_environment_and_rendered_defaults() {
    let home = Home::new();
    shell_pack(&home);
    let (execution, output) = run_json(
        &home,
        &[
            "shelly.args",
            "first=a b",
            "second=7",
            "verbose=yes",
            "token=hunter2",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout_text = execution["result"]["stdout"]
        .as_str()
        .unwrap_or_else(|| panic!("{execution}"));
    let (arguments, environment) = stdout_text.split_once('\n').unwrap();
    let id = execution["id"].as_str().unwrap();
    assert_eq!(environment, format!("pack=shelly id={id}"));
    // Named arguments first (`--name=value`, a true boolean as a bare flag), then positional
    // ones in position order; named ones in upstream's order of the final parameters (given
    // values, then template defaults, then plain defaults); the template default rendered
    // with config and datastore.
    assert_eq!(
        arguments,
        "--verbose|--token=hunter2|--greeting=hello world on 8080|--count=3|a b|7|"
    );
    // The secret is masked in the output and in the stored record.
    assert_eq!(execution["parameters"]["token"], "********");
    let stored = home.query("SELECT parameters FROM executions");
    assert!(
        !stored.iter().any(|row| row.contains("hunter2")),
        "{stored:?}"
    );

    // JSON on stdout is parsed; the script runs in the caller's directory unless cwd is set.
    let (execution, output) = run_json(&home, &["shelly.json", "cwd=/"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["result"]["stdout"]["answer"], 42);
    assert_eq!(execution["result"]["stdout"]["cwd"], "/");
    assert_eq!(execution["result"]["stderr"], "oops");
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let home = Home::new();
    shell_pack(&home);
    let started = Instant::now();
    let (execution, output) = run_json(&home, &["shelly.loop"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(execution["status"], "timeout");
    assert_eq!(
        execution["result"]["error"],
        "Action failed to complete in 1 seconds"
    );
    assert_eq!(execution["result"]["return_code"], -9);
    // The background `sleep` of the script died with it.
    let left = processes_matching(&format!("sleep {}", unique_seconds(&home, 300)));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn broken_actions_fail_with_a_reason() {
    let home = Home::new();
    shell_pack(&home);
    let (execution, output) = run_json(&home, &["shelly.missing"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "failed");
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.contains("nowhere.sh cannot be read: No such file"),
        "{error}"
    );

    let (execution, output) = run_json(&home, &["shelly.badshebang"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["result"]["return_code"], 127);
    assert!(execution["result"]["stderr"]
        .as_str()
        .unwrap()
        .contains("not found"));

    // StackStorm's wrapper message, in the action's stderr.
    let (execution, output) = run_json(&home, &["shelly.pymissing"]);
    assert_eq!(output.status.code(), Some(1));
    let error = execution["result"]["stderr"].as_str().unwrap();
    assert!(
        error.contains("Failed to load action class from file")
            && error.contains("nowhere.py\" (action file most likely doesn't exist")
            && error.contains("No such file or directory"),
        "{error}"
    );

    let (execution, output) = run_json(&home, &["shelly.pyloop"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "timeout");
    assert_eq!(
        execution["result"]["error"],
        "Action failed to complete in 1 seconds"
    );
    assert!(execution["end_timestamp"].is_string());

    let output = run(&home, &["shelly.remote"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("uses the winrm-cmd runner, which st2-rs does not support yet"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn async_runs_continue_in_the_background_and_can_be_canceled() {
    let home = Home::new();
    let output = run(&home, &["core.local", "cmd=sleep 0.3; echo later", "-a"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("To get the results, execute:"), "{text}");
    let id = text.split_whitespace().last().unwrap().to_string();
    let execution = wait_final(&home, &id);
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["result"]["stdout"], "later");

    let output = run(&home, &["core.local", "cmd=sleep 60", "-a"]);
    let id = stdout(&output)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let output = home
        .st2()
        .args(["execution", "cancel", &id])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("execution {id} is canceled\n"));
    let execution = wait_final(&home, &id);
    assert_eq!(execution["status"], "canceled");
    // A finished execution cannot be canceled again.
    let output = home
        .st2()
        .args(["execution", "cancel", &id])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("it is already canceled"));
}

#[test]
fn actions_are_listed_with_their_merged_parameters() {
    let home = Home::new();
    shell_pack(&home);
    let output = home.st2().args(["action", "list"]).output().unwrap();
    let text = stdout(&output);
    for action in ["core.local", "core.http", "shelly.args", "shelly.remote"] {
        assert!(text.contains(action), "{action}: {text}");
    }
    let output = home
        .st2()
        .args(["action", "list", "--pack", "shelly", "-j"])
        .output()
        .unwrap();
    let list: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(list.iter().all(|action| action["pack"] == "shelly"));
    let output = home
        .st2()
        .args(["action", "get", "core.echo", "-j"])
        .output()
        .unwrap();
    let action: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(action["runner_type"], "local-shell-cmd");
    assert_eq!(action["parameters"]["cmd"]["immutable"], true);
    assert_eq!(action["parameters"]["timeout"]["default"], 60);
    assert_eq!(action["builtin"], true);
    let output = home
        .st2()
        .args(["action", "get", "shelly.nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("action \"shelly.nope\" is not found"));
    // `st2 action execute` is `st2 run`.
    let output = home
        .st2()
        .args([
            "action",
            "execute",
            "core.local",
            "cmd=echo same",
            "-k",
            "stdout",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "same\n");
}

#[test]
fn install_warns_about_runners_that_cannot_run_yet() {
    let home = Home::new();
    let source = home.dir.path().join("src/flows");
    pack_files(&source, "flows", "1.0.0", &[]);
    write(
        &source,
        "actions/chain.yaml",
        "name: chain\nrunner_type: winrm-cmd\n",
    );
    let output = home
        .st2()
        .args(["pack", "install", source.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "warning: pack \"flows\": 1 action uses a runner st2 run does not support yet (winrm-cmd: 1)"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn python_actions_of_a_real_exchange_pack_run_in_its_virtualenv() {
    let home = Home::new();
    let csv = shared_dir().join("exchange/packs/csv");
    let output = home
        .st2()
        .args(["pack", "install", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // csv imports six without listing it: it is installed as StackStorm's base requirement.
    assert!(home.venv("csv").join("bin/python").exists());

    let (execution, output) = run_json(&home, &["csv.parse", "data=name,qty\napple,3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["runner"]["name"], "python-script");
    assert_eq!(
        execution["result"]["result"],
        serde_json::json!([["name", "qty"], ["apple", "3"]])
    );
    assert_eq!(execution["result"]["exit_code"], 0);

    let (execution, output) = run_json(&home, &["csv.format", r#"data=[{"a": 1, "b": 2}]"#]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["result"]["result"], "a,b\r\n1,2\r\n");
    // The action raises StackStorm's InvalidActionParameterException: a failed execution
    // with the traceback in stderr.
    let (execution, output) = run_json(&home, &["csv.format", "data=[]"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "failed");
    let stderr_text = execution["result"]["stderr"].as_str().unwrap();
    assert!(
        stderr_text.contains("InvalidActionParameterException: data has no rows"),
        "{stderr_text}"
    );
}

#[test]
fn builtin_python_actions_run_with_the_system_python() {
    let home = Home::new();
    let output = run(&home, &["core.uuid", "uuid_type=uuid4", "-k", "result"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let uuid = stdout(&output);
    assert_eq!(uuid.trim().len(), 36, "{uuid}");
    let (execution, output) = run_json(&home, &["core.pause", "max_pause=0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["result"]["result"], 0);
}

#[test]
fn core_http_requests_a_loopback_server() {
    let home = Home::new();
    let server = http_server(vec![(
        "/api/items?limit=2".to_string(),
        200,
        b"[1, 2]".to_vec(),
    )]);
    let url = server.url("/api/items");
    let (execution, output) = run_json(
        &home,
        &["core.http", &format!("url={url}"), "params={\"limit\": 2}"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["result"]["status_code"], 200);
    assert_eq!(execution["result"]["body"], "[1, 2]");
    // A bare word is the start of a command, which core.http does not take.
    let output = run(&home, &["core.http", &server.url("/missing")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("write NAME=VALUE"),
        "{}",
        stderr(&output)
    );
    let (execution, output) = run_json(
        &home,
        &["core.http", &format!("url={}", server.url("/missing"))],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "failed");
    assert_eq!(execution["result"]["status_code"], 404);
}

//! `st2 run` as a StackStorm user first meets it (issue 14): options wherever they stand and
//! `--` (st2client's argparse parser), `st2 run ACTION -h` (st2client's `_print_help`), the
//! environment actions get, and live output: shown on a terminal as it comes, recorded as it
//! comes (so that `st2 execution tail` follows a run from another terminal and a killed run
//! keeps what it printed), masked like the final result, a secret split across two pieces
//! included.
//!
//! `test_get_params_types` ports the case of StackStorm 3.9.0's
//! `st2client/tests/unit/test_command_actionrun.py` (tag `v3.9.0`) through the help text;
//! its runner parameter overridden as not immutable is refused at registration (as
//! upstream's API refuses it), so an action-level immutable parameter stands in for it.
//! `action_help_prints_its_parameters` matches upstream's `_print_help` output byte for byte
//! for `core.local` (checked against upstream's code).
//!
//! Terminal tests give `st2` a real pseudo-terminal (`posix_openpt`); tail tests follow a real
//! long-running action in another process. Fixture packs are written by the tests.
//!
//! Where we differ from upstream on purpose (and test our behaviour): an unknown action
//! with `-h` is an error (exit 2; upstream prints a message and exits 0); `st2 execution
//! tail` of a running execution starts with what it printed before tail started (upstream
//! shows only what comes after); output streams on a terminal without `--tail`.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// Pieces read from a child's output as they came, with when they came.
struct Reader {
    pieces: mpsc::Receiver<(Instant, Vec<u8>)>,
    seen: Vec<u8>,
}

impl Reader {
    fn start(mut source: impl Read + Send + 'static) -> Reader {
        let (sender, pieces) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // A terminal's master side fails with EIO once the last holder of the other
            // side closed it: that is its end.
            while let Ok(read @ 1..) = source.read(&mut buffer) {
                if sender
                    .send((Instant::now(), buffer[..read].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        });
        Reader {
            pieces,
            seen: Vec::new(),
        }
    }

    /// Wait until the text read so far contains `needle`; when it came.
    fn wait_for(&mut self, needle: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                return Instant::now();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pieces.recv_timeout(left) {
                Ok((at, piece)) => {
                    self.seen.extend(piece);
                    if String::from_utf8_lossy(&self.seen).contains(needle) {
                        return at;
                    }
                }
                Err(_) => panic!(
                    "no {needle:?} within {limit:?}; read: {}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// Everything until the end.
    fn rest(mut self) -> String {
        for (_, piece) in self.pieces.iter() {
            self.seen.extend(piece);
        }
        String::from_utf8_lossy(&self.seen).replace("\r\n", "\n")
    }
}

/// A pseudo-terminal: the side to read from, and a file for the child's stdout and stderr.
fn pseudo_terminal() -> (std::fs::File, std::fs::File) {
    // SAFETY: plain libc calls on descriptors we own; ptsname's buffer is copied at once.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(master)).to_owned();
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open {name:?}");
        (
            std::fs::File::from(OwnedFd::from_raw_fd(master)),
            std::fs::File::from(OwnedFd::from_raw_fd(slave)),
        )
    }
}

/// `st2 ARGS` with stdout and stderr on a terminal.
fn spawn_on_terminal(home: &Home, args: &[&str]) -> (std::process::Child, Reader) {
    let (master, slave) = pseudo_terminal();
    let child = home
        .bare_command("st2")
        .arg("--config-file")
        .arg(&home.conf)
        .args(args)
        // A terminal as users have it: colours allowed.
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    (child, Reader::start(master))
}

/// A pack of actions for these tests, registered.
fn pack(home: &Home) {
    let dir = home.pack("demo");
    write(
        &dir,
        "pack.yaml",
        "ref: demo\nname: demo\ndescription: demo actions\nversion: 1.0.0\nauthor: t\n",
    );
    write(
        &dir,
        "actions/deploy.yaml",
        r#"name: deploy
runner_type: local-shell-script
entry_point: deploy.sh
description: Deploys a well-known application to the given environment, waiting for each host to report back before it goes on to the next one.
parameters:
  target:
    type: string
    description: Where to deploy.
    required: true
    position: 0
  version:
    type: string
    position: 1
  strategy:
    type: string
    enum: [rolling, blue-green]
    default: rolling
  hosts:
    type: array
    default: [a, b]
  dry_run:
    type: boolean
    default: false
  timeout:
    default: 120
  kwarg_op:
    immutable: true
"#,
    );
    write(
        &dir,
        "actions/deploy.sh",
        "#!/bin/sh\necho deployed \"$@\"\n",
    );
    write(
        &dir,
        "actions/talk.yaml",
        "name: talk\nrunner_type: python-script\nentry_point: talk.py\n",
    );
    write(
        &dir,
        "actions/talk.py",
        r#"import os
import sys
import time

from st2common.runners.base_action import Action


class Talk(Action):
    def run(self):
        print("from python: " + os.environ.get("DEMO_VAR", "unset"))
        sys.stdout.flush()
        time.sleep(0.6)
        print("the key is " + self.action_service.get_value("vault", local=False, decrypt=True))
        return {"done": True}
"#,
    );
    // Upstream's test_get_params_types: a parameter immutable in the runner (`dir`; an
    // action cannot override it, registration refuses that as upstream's does) or in the
    // action (`cmd`) is neither required nor optional.
    write(
        &dir,
        "actions/types.yaml",
        r#"name: types
runner_type: remote-shell-cmd
description: Types.
parameters:
  cmd:
    immutable: true
    required: true
    default: date
  stuff:
    description: Some param.
    type: string
    required: true
"#,
    );
    reload_ok(home, &["--register-all"]);
}

#[test]
fn options_after_the_parameters_are_options() {
    let home = Home::new();
    // --debug, -d, an abbreviated --detail and -k after the parameters.
    let output = home
        .st2()
        .args([
            "run",
            "core.local",
            "cmd=echo hi",
            "--debug",
            "--det",
            "-k",
            "stdout",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "hi\n");
    assert!(stderr(&output).contains("DEBUG"), "{}", stderr(&output));
    // A command, then options: the options are not words of the command.
    let (execution, output) = run_json(&home, &["core.local", "echo", "hello", "-d"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["parameters"]["cmd"], "echo hello");
    assert_eq!(execution["result"]["stdout"], "hello");
    // --config-file after the parameters.
    let output = home
        .bare_command("st2")
        .args(["run", "core.local", "cmd=true", "--config-file"])
        .arg(&home.conf)
        .arg("-j")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(home.base.join("st2.db").exists());
    // A negative number is a word, as argparse reads it.
    let (execution, _) = run_json(&home, &["core.local", "echo", "-5"]);
    assert_eq!(execution["parameters"]["cmd"], "echo -5");
}

#[test]
fn unknown_options_are_usage_errors_not_words_of_the_command() {
    let home = Home::new();
    for args in [
        &["core.local", "cmd=true", "--jsn"][..],
        &["core.local", "ls", "-l"],
        &["core.local", "cmd=true", "--de"],
    ] {
        let output = home.st2().arg("run").args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("error: unexpected argument"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(stderr(
        &home
            .st2()
            .args(["run", "core.local", "cmd=true", "--jsn"])
            .output()
            .unwrap()
    )
    .contains("'--json'"));
    assert_eq!(executions(&home), 0, "nothing ran");
}

#[test]
fn double_dash_ends_the_options() {
    let home = Home::new();
    let (execution, output) = run_json(&home, &["-j", "core.local", "--", "ls", "-d", "/"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["parameters"]["cmd"], "ls -d /");
    assert_eq!(execution["result"]["stdout"], "/");
    // The README's example: -a would be --async without it.
    let (execution, output) = run_json(&home, &["-j", "core.local", "--", "uname", "-a"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(execution["parameters"]["cmd"], "uname -a");
    assert_eq!(execution["status"], "succeeded");
}

#[test]
fn action_help_prints_its_parameters() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["run", "core.local", "-h"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output), @r#"

    Action that executes an arbitrary Linux command on the localhost.

    Required Parameters:
        cmd
            Arbitrary Linux command to be executed on the local host.
            Type: string

    Optional Parameters:
        cwd
            Working directory where the command will be executed in
            Type: string

        env
            Environment variables which will be available to the command(e.g.
            key1=val1,key2=val2)
            Type: object

        kwarg_op
            Operator to use in front of keyword args i.e. "--" or "-".
            Type: string
            Default: --

        sudo_password
            Sudo password. To be used when passwordless sudo is not allowed.
            Type: string

        timeout
            Action timeout in seconds. Action will get killed if it doesn't finish
            in timeout seconds.
            Type: integer
            Default: 60

    "#);
    // --help after parameters, and `st2 action execute`, print the same.
    let again = home
        .st2()
        .args(["action", "execute", "core.local", "cmd=x", "--help"])
        .output()
        .unwrap();
    assert_eq!(stdout(&again), stdout(&output));
    assert_eq!(executions(&home), 0, "-h runs nothing");

    pack(&home);
    let output = home
        .st2()
        .args(["run", "demo.deploy", "-h"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output), @r"

    Deploys a well-known application to the given environment, waiting for
    each host to report back before it goes on to the next one.

    Required Parameters:
        target
            Where to deploy.
            Type: string

    Optional Parameters:
        version
            Type: string

        content_version
            Git revision of the pack content to use for this action execution (git
            commit sha / tag / branch). Only applies to packs which are git
            repositories.
            Type: string

        cwd
            Working directory where the script will be executed in
            Type: string

        debug
            Enable runner debug mode.
            Type: boolean
            Default: False

        dry_run
            Type: boolean
            Default: False

        env
            Environment variables which will be available to the script(e.g.
            key1=val1,key2=val2)
            Type: object

        hosts
            Type: array
            Default: ['a', 'b']

        strategy
            Type: string
            Enum: rolling, blue-green
            Default: rolling

        sudo
            The command will be executed with sudo.
            Type: boolean
            Default: False

        sudo_password
            Sudo password. To be used when passwordless sudo is not allowed.
            Type: string

        timeout
            Action timeout in seconds. Action will get killed if it doesn't finish
            in timeout seconds.
            Type: integer
            Default: 120

    ");
}

#[test]
fn test_get_params_types() {
    // Upstream's st2client/tests/unit/test_command_actionrun.py case, through the help it
    // serves: `dir` (immutable in the runner) is in neither list, `stuff` is required.
    let home = Home::new();
    pack(&home);
    let output = home
        .st2()
        .args(["run", "demo.types", "-h"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let (required, optional) = text.split_once("Optional Parameters:").unwrap();
    let names = |section: &str| -> Vec<String> {
        section
            .lines()
            .filter(|line| line.starts_with("    ") && !line.starts_with("     "))
            .map(|line| line.trim().to_string())
            .collect()
    };
    assert_eq!(names(required), ["hosts", "stuff"], "{text}");
    assert!(names(optional).contains(&"cwd".to_string()), "{text}");
    for hidden in ["dir", "cmd"] {
        assert!(!text.contains(&format!("    {hidden}\n")), "{text}");
    }
}

#[test]
fn run_help_without_an_action_and_unknown_actions() {
    let home = Home::new();
    let output = home.st2().args(["run", "-h"]).output().unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("Usage: st2 run [OPTIONS] [ACTION] [PARAMETERS]..."),
        "{text}"
    );
    assert!(text.contains("-- they are words of the command"), "{text}");
    let output = home
        .st2()
        .args(["action", "execute", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&output).contains("Usage: st2 action execute"));
    let output = home
        .st2()
        .args(["run", "core.nosuch", "-h"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: action \"core.nosuch\""),
        "{}",
        stderr(&output)
    );
    // Without -h the action is required.
    let output = home.st2().arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn actions_inherit_the_environment_of_st2() {
    let home = Home::new();
    pack(&home);
    let output = home
        .st2()
        .args(["run", "core.local", "cmd=echo $DEMO_VAR", "-k", "stdout"])
        .env("DEMO_VAR", "from the shell")
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "from the shell\n", "{}", stderr(&output));
    let (execution, output) = {
        let output = home
            .st2()
            .args(["run", "demo.talk", "-j"])
            .env("DEMO_VAR", "from the shell")
            .output()
            .unwrap();
        (
            serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null),
            output,
        )
    };
    // (The datastore key is missing: the action fails after printing.)
    assert!(
        execution["result"]["stdout"]
            .as_str()
            .is_some_and(|out| out.starts_with("from python: from the shell\n")),
        "{execution} {}",
        stderr(&output)
    );
    // Not recorded without -e.
    assert!(execution["parameters"].get("env").is_none(), "{execution}");
    // A background run (-a) too, and st2's own settings do not leak into it.
    let output = home
        .st2()
        .args([
            "run",
            "-a",
            "-j",
            "core.local",
            "cmd=echo $DEMO_VAR ${ST2_BASE_PATH:-none}",
        ])
        .env("DEMO_VAR", "from the shell")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let id = serde_json::from_slice::<Value>(&output.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let execution = wait_final(&home, &id);
    assert_eq!(execution["result"]["stdout"], "from the shell none");
}

#[test]
fn inherit_env_records_the_environment_with_secrets_masked() {
    let home = Home::new();
    let secret = "tok-4f9a1c77e2";
    let (execution, output) = {
        let output = home
            .st2()
            .args(["run", "-e", "core.local"])
            .arg("cmd=echo \"$GITHUB_TOKEN $PLAIN_SETTING\"; test \"$GITHUB_TOKEN\" = tok-4f9a1c77e2")
            .arg("-j")
            .env("GITHUB_TOKEN", secret)
            .env("DB_PASS", "db-pass-value")
            .env("PLAIN_SETTING", "visible-value")
            .output()
            .unwrap();
        (
            serde_json::from_slice::<Value>(&output.stdout).unwrap(),
            output,
        )
    };
    // The action got the real value (its test passed); the record and its output do not
    // show it.
    assert!(output.status.success(), "{execution}");
    let env = &execution["parameters"]["env"];
    assert_eq!(env["GITHUB_TOKEN"], "********");
    assert_eq!(env["DB_PASS"], "********");
    assert_eq!(env["PLAIN_SETTING"], "visible-value");
    assert_eq!(execution["result"]["stdout"], "******** visible-value");
    let stored = home.query(
        "SELECT parameters || coalesce(result, '') FROM executions UNION ALL \
         SELECT CAST(data AS TEXT) FROM execution_output",
    );
    assert!(!stored.iter().any(|row| row.contains(secret)), "{stored:?}");
    assert!(!stored.iter().any(|row| row.contains("db-pass-value")));
    assert!(stored.iter().any(|row| row.contains("visible-value")));
}

/// A command printing one line, then another one after a pause.
const SLOW: &str = "cmd=echo first line; sleep 1.5; echo second line";

#[test]
fn output_is_shown_as_it_comes_on_a_terminal() {
    let home = Home::new();
    let started = Instant::now();
    let (mut child, mut reader) = spawn_on_terminal(&home, &["run", "core.local", SLOW]);
    let first = reader.wait_for("first line", Duration::from_secs(10));
    // Nothing printed for a while: something moves on the terminal meanwhile.
    reader.wait_for("core.local: running for", Duration::from_secs(10));
    let second = reader.wait_for("second line", Duration::from_secs(10));
    assert!(child.wait().unwrap().success());
    let text = reader.rest();
    assert!(
        second.duration_since(first) >= Duration::from_millis(1000),
        "the first line came {:?} before the second",
        second.duration_since(first)
    );
    assert!(first.duration_since(started) < Duration::from_secs(5));
    // Then the execution, as without a terminal.
    let execution = text
        .split("\nid: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(execution.contains("status: succeeded"), "{text}");
    assert!(
        execution.contains("    first line\n    second line\n"),
        "{text}"
    );

    // -j prints data only: no live output, no spinner text in it.
    let (mut child, reader) = spawn_on_terminal(&home, &["run", "core.local", "-j", SLOW]);
    assert!(child.wait().unwrap().success());
    let text = reader.rest();
    let json_start = text.find('{').unwrap_or_else(|| panic!("{text}"));
    assert!(!text[..json_start].contains("first line"), "{text}");
    // The spinner (on stderr) still moves, and is cleared before the data.
    assert!(
        text[..json_start].contains("core.local: running for"),
        "{text}"
    );
    assert!(text[..json_start].ends_with("\r\x1b[K"), "{text:?}");
    serde_json::from_str::<Value>(&text[json_start..]).unwrap();
}

#[test]
fn tail_option_streams_output_without_a_terminal() {
    let home = Home::new();
    let mut child = home.spawn(
        "st2",
        &["run", "core.local", SLOW, "--tail"],
        Stdio::piped(),
    );
    let mut reader = Reader::start(child.stdout.take().unwrap());
    let first = reader.wait_for("first line\n", Duration::from_secs(10));
    let second = reader.wait_for("second line\n", Duration::from_secs(10));
    assert!(child.wait().unwrap().success());
    assert!(second.duration_since(first) >= Duration::from_millis(1000));
    let text = reader.rest();
    assert!(
        text.starts_with("first line\nsecond line\n\nid: "),
        "{text}"
    );
}

#[test]
fn streamed_output_is_masked_across_chunk_boundaries() {
    let home = Home::new();
    // The secret comes out in two pieces, read apart.
    let secret = "supersecretvalue";
    let env = format!(r#"env={{"API_TOKEN": "{secret}"}}"#);
    let cmd = "cmd=printf 'key=supers'; sleep 0.4; printf 'ecretvalue\\n'; echo done";
    let mut child = home.spawn(
        "st2",
        &["run", "core.local", &env, cmd, "--tail"],
        Stdio::piped(),
    );
    let reader = Reader::start(child.stdout.take().unwrap());
    assert!(child.wait().unwrap().success());
    let text = reader.rest();
    let (live, execution) = text.split_once("\nid: ").unwrap();
    assert_eq!(live, "key=********\ndone\n");
    assert!(
        execution.contains("  stdout: |-\n    key=********\n    done\n"),
        "{text}"
    );
    let recorded = home
        .query("SELECT CAST(data AS TEXT) FROM execution_output")
        .join("");
    assert_eq!(recorded, "key=********\ndone\n");
    let tail = home.st2().args(["execution", "tail"]).output().unwrap();
    assert!(
        stdout(&tail).starts_with("key=********\ndone\n"),
        "{}",
        stdout(&tail)
    );
}

#[test]
fn python_output_streams_without_the_result_and_masks_secrets_the_action_reads() {
    let home = Home::new();
    pack(&home);
    let secret = "the-vault-value-9931";
    let output = home
        .st2()
        .args(["key", "set", "vault", secret, "--encrypt"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let mut child = home.spawn("st2", &["run", "demo.talk", "--tail"], Stdio::piped());
    let mut reader = Reader::start(child.stdout.take().unwrap());
    let first = reader.wait_for("from python: unset\n", Duration::from_secs(20));
    let second = reader.wait_for("the key is ********\n", Duration::from_secs(20));
    assert!(child.wait().unwrap().success());
    assert!(second.duration_since(first) >= Duration::from_millis(400));
    let text = reader.rest();
    assert!(!text.contains(secret), "{text}");
    let recorded = home
        .query("SELECT CAST(data AS TEXT) FROM execution_output WHERE stream = 'stdout'")
        .join("");
    // The wrapper's result (between its delimiters) is not output.
    assert_eq!(recorded, "from python: unset\nthe key is ********\n");
}

#[test]
fn execution_tail_follows_a_running_execution_from_another_process() {
    let home = Home::new();
    let mut run = home.spawn(
        "st2",
        &[
            "run",
            "core.local",
            "cmd=echo one; sleep 1; echo two >&2; sleep 1; echo three",
        ],
        Stdio::null(),
    );
    // Wait until it is recorded, then follow it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while executions(&home) == 0 {
        assert!(Instant::now() < deadline, "no execution recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut tail = home.spawn("st2", &["execution", "tail"], Stdio::piped());
    let mut reader = Reader::start(tail.stdout.take().unwrap());
    let one = reader.wait_for("one\n", Duration::from_secs(10));
    let three = reader.wait_for("three\n", Duration::from_secs(10));
    assert!(three.duration_since(one) >= Duration::from_millis(1200));
    assert!(tail.wait().unwrap().success());
    assert!(run.wait().unwrap().success());
    let text = reader.rest();
    let id = home.query("SELECT id FROM executions")[0].clone();
    assert_eq!(
        text,
        format!("one\ntwo\nthree\n\nExecution {id} has completed (status=succeeded).\n")
    );
}

#[test]
fn execution_tail_of_a_finished_execution_prints_its_output() {
    let home = Home::new();
    let (execution, _) = run_json(&home, &["core.local", "cmd=echo out; echo err >&2; exit 4"]);
    let id = execution["id"].as_str().unwrap();
    let output = home.st2().args(["execution", "tail", id]).output().unwrap();
    // As `st2 execution get`: it showed what was asked.
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text == format!("out\nerr\n\nExecution {id} has completed (status=failed).\n")
            || text == format!("err\nout\n\nExecution {id} has completed (status=failed).\n"),
        "{text}"
    );
    let output = home
        .st2()
        .args([
            "execution",
            "tail",
            id,
            "--type",
            "stderr",
            "--include-metadata",
        ])
        .output()
        .unwrap();
    let text = stdout(&output);
    let line = text.lines().next().unwrap();
    assert!(
        line.starts_with("[20") && line.ends_with("Z][stderr] err"),
        "{text}"
    );
    let output = home
        .st2()
        .args(["execution", "tail", "0123456789abcdef01234567"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("is not found"));
    let output = home
        .st2()
        .args(["execution", "tail", id, "--type", "both"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_killed_run_keeps_what_it_printed() {
    let home = Home::new();
    let mut run = home.spawn(
        "st2",
        &["run", "core.local", "cmd=echo before the kill; sleep 60"],
        Stdio::null(),
    );
    // Wait until the line is recorded (st2 execution get shows a running execution's output).
    let deadline = Instant::now() + Duration::from_secs(10);
    while executions(&home) == 0 {
        assert!(Instant::now() < deadline, "no execution recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = loop {
        let rows = home.query(
            "SELECT execution_id FROM execution_output \
             WHERE CAST(data AS TEXT) LIKE '%before the kill%'",
        );
        if let Some(id) = rows.into_iter().next() {
            break id;
        }
        assert!(Instant::now() < deadline, "the output was not recorded");
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = home
        .st2()
        .args(["execution", "get", &id, "-j"])
        .output()
        .unwrap();
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "running");
    assert_eq!(execution["result"]["stdout"], "before the kill");
    run.kill().unwrap();
    run.wait().unwrap();
    let output = home.st2().args(["execution", "get", &id]).output().unwrap();
    let text = stdout(&output);
    assert!(text.contains("status: abandoned"), "{text}");
    assert!(text.contains("  stdout: before the kill\n"), "{text}");
}

#[test]
fn output_is_recorded_in_batches_not_per_write() {
    let home = Home::new();
    let started = Instant::now();
    let (execution, output) = run_json(
        &home,
        &[
            "core.local",
            "cmd=for i in $(seq 1 150); do echo line $i; sleep 0.01; done",
        ],
    );
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(execution["result"]["stdout"]
        .as_str()
        .unwrap()
        .ends_with("line 150"));
    let rows = home.query("SELECT CAST(count(*) AS TEXT) FROM execution_output")[0]
        .parse::<u128>()
        .unwrap();
    // At most one write per 250 ms (and the last with the end), not one per line.
    assert!(
        rows <= elapsed.as_millis() / 250 + 2,
        "{rows} rows in {elapsed:?}"
    );
    let recorded = home
        .query("SELECT CAST(data AS TEXT) FROM execution_output")
        .join("");
    assert_eq!(recorded.lines().count(), 150);
}

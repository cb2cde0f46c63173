//! The `python-script` runner (upstream `contrib/runners/python_runner`): the pack's action
//! class run by the pack virtualenv's interpreter through StackStorm's action wrapper, ported
//! (`python/shim/python_runner/python_action_wrapper.py`, started by `python/wrapper.py`).
//!
//! The parameters and the resolved pack config go to the wrapper as one JSON line on stdin,
//! never on the command line (they hold secrets). The wrapper prints the JSON result between
//! two copies of StackStorm's delimiter; everything else on stdout is the action's output,
//! kept byte for byte as upstream keeps it (nothing stripped). `self.action_service` (the
//! datastore) is served over a Unix socket pair whose child end the wrapper gets as
//! `--service-fd=N`: one JSON request line, one JSON reply line.
//!
//! What upstream's `PythonRunner.run` and `_get_output_values` do, this does: `-u`, the
//! sandbox `PATH` and `PYTHONPATH` (pack `lib/` first with `[packs] enable_common_libs`, then
//! `actions/lib`; a `PYTHONPATH` in the `env` parameter is ignored), `--log-level` from the
//! `log_level` parameter or `[actionrunner] python_runner_log_level`, the result `"None"`
//! when the wrapper printed none, and exit code 220 (a status that is not a boolean) as the
//! error.

mod shim;

pub(crate) use shim::dir_name as shim_dir_name;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::output::Tap;
use super::process::{self, Ended};
use super::{RunOutcome, RunRequest};
use crate::datastore::{Datastore, NewItem};
use crate::settings::env;
use crate::store::ExecutionStatus;
use crate::store::KeyScope;

/// The wrapper's entry, run as `python -u -c`.
const WRAPPER: &str = include_str!("python/wrapper.py");

/// StackStorm's `ACTION_OUTPUT_RESULT_DELIMITER`.
const DELIMITER: &str = "%%%%%~=~=~=************=~=~=~%%%%";

/// Default `timeout` of Python actions, in seconds.
const DEFAULT_TIMEOUT: f64 = 600.0;

/// The wrapper's exit code when `run()` returned a status that is not a boolean
/// (upstream `PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE`).
const INVALID_STATUS_EXIT_CODE: i32 = 220;

/// Upstream's `PYTHON_RUNNER_DEFAULT_LOG_LEVEL`: the `log_level` parameter's default, which
/// means "as `[actionrunner] python_runner_log_level` says".
const DEFAULT_LOG_LEVEL: &str = "DEBUG";

/// Run one execution.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    if request.entry_point.is_empty() {
        let name = request
            .action_ref
            .strip_prefix(&format!("{}.", request.pack))
            .unwrap_or(request.action_ref);
        return RunOutcome::error(
            ExecutionStatus::Failed,
            format!("Action \"{name}\" is missing entry_point attribute"),
        );
    }
    let python = request.python.clone().unwrap_or_else(|| "python3".into());
    let shim = match shim::dir(request.settings) {
        Ok(dir) => dir,
        Err(err) => {
            return RunOutcome::error(
                ExecutionStatus::Failed,
                format!(
                    "cannot write StackStorm's Python modules for actions under {}: {}",
                    request.settings.cache_dir().display(),
                    crate::settings::io_reason(&err)
                ),
            )
        }
    };
    let (ours, theirs) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(err) => {
            return RunOutcome::error(
                ExecutionStatus::Failed,
                format!("cannot set up the datastore channel: {err}"),
            )
        }
    };
    let command = command(request, &python, &shim, &theirs);
    let input = stdin_payload(request);
    let service = serve_datastore(ours, request);
    let timeout = request.timeout_seconds().unwrap_or(DEFAULT_TIMEOUT);
    let finished = process::run(
        command,
        &input,
        Some(Duration::from_secs_f64(timeout.max(0.0))),
        request.cancel,
        // The wrapper's result is not output (upstream's streaming drops its lines too).
        &request.output.hiding_between(DELIMITER),
    );
    drop(theirs);
    let _ = service.join();
    match finished {
        Ok(finished) => outcome(&finished, timeout),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => RunOutcome::error(
            ExecutionStatus::Failed,
            format!(
                "the Python interpreter {} does not exist; create the pack's virtualenv with \
                 `st2ctl reload --register-setup-virtualenvs`, or install python3",
                python.display()
            ),
        ),
        Err(err) => RunOutcome::error(
            ExecutionStatus::Failed,
            format!("cannot start {}: {err}", python.display()),
        ),
    }
}

/// The log level the wrapper gets: the `log_level` parameter, or `[actionrunner]
/// python_runner_log_level` when the parameter is left at `DEBUG` (upstream `pre_run`).
fn log_level<'a>(request: &'a RunRequest) -> &'a str {
    match request.parameters.get("log_level").and_then(Value::as_str) {
        Some(level) if level != DEFAULT_LOG_LEVEL => level,
        _ => &request.settings.python_runner_log_level,
    }
}

/// The wrapper's command line: no parameter or config value on it.
fn command(request: &RunRequest, python: &Path, shim: &Path, channel: &UnixStream) -> Command {
    let settings = request.settings;
    let mut command = Command::new(python);
    command
        .arg("-u")
        .arg("-c")
        .arg(WRAPPER)
        .arg(format!("--pack={}", request.pack))
        .arg(format!(
            "--file-path={}",
            request.entry_point_path().display()
        ))
        .arg(format!("--user={}", request.user))
        .arg(format!("--base-path={}", settings.base_path.display()))
        .arg(format!(
            "--packs-base-paths={}",
            std::env::join_paths(settings.pack_search_paths())
                .unwrap_or_default()
                .to_string_lossy()
        ))
        .arg(format!("--system-user={}", settings.system_user))
        .arg("--stdin-parameters")
        .current_dir(request.pack_dir.join("actions"));
    // Upstream passes --log-level only when it is not the default.
    let level = log_level(request);
    if level != DEFAULT_LOG_LEVEL {
        command.arg(format!("--log-level={level}"));
    }
    for (name, value) in super::shell::environment(request) {
        // Upstream's BLACKLISTED_ENV_VARS: the env parameter cannot replace PYTHONPATH.
        if !name.eq_ignore_ascii_case("pythonpath") {
            command.env(name, value);
        }
    }
    command.env(env::PYTHONPATH, python_path(request, shim));
    // The virtualenv's bin/ first on PATH (upstream get_sandbox_path).
    let venv = settings.venv_dir(request.pack);
    if python.starts_with(&venv) {
        let mut path = venv.join("bin/").into_os_string();
        if let Some(parent) = std::env::var_os(env::PATH).filter(|path| !path.is_empty()) {
            path.push(":");
            path.push(parent);
        }
        command.env(env::PATH, path);
    }
    let fd = channel.as_raw_fd();
    command.arg(format!("--service-fd={fd}"));
    // The child keeps the channel under its own number.
    crate::sys::inherit_fd(&mut command, fd);
    command
}

/// The action's `PYTHONPATH`: the pack's `lib/` with `[packs] enable_common_libs` (upstream
/// `COMMON_LIB_DIR`), the pack's `actions/lib`, the caller's `PYTHONPATH`, and last the
/// StackStorm modules for actions.
fn python_path(request: &RunRequest, shim: &Path) -> std::ffi::OsString {
    let mut entries: Vec<PathBuf> = Vec::new();
    if request.settings.enable_common_libs {
        entries.push(request.pack_dir.join("lib"));
    }
    entries.push(request.pack_dir.join("actions").join("lib"));
    if let Some(parent) = std::env::var_os(env::PYTHONPATH) {
        entries.extend(std::env::split_paths(&parent).filter(|p| !p.as_os_str().is_empty()));
    }
    entries.push(shim.to_path_buf());
    std::env::join_paths(entries).unwrap_or_default()
}

/// What the wrapper reads on stdin: the action's own parameters (not the runner's), every
/// one of them including those that are `null` (`None` in `run()`), and the resolved config.
fn stdin_payload(request: &RunRequest) -> Vec<u8> {
    let runner = super::parameters(request.runner_type.as_str());
    let parameters: Map<String, Value> = request
        .parameters
        .iter()
        .filter(|(name, _)| runner.is_none_or(|runner| !runner.contains_key(*name)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut line = serde_json::to_vec(&json!({
        "parameters": parameters,
        "config": request.config,
    }))
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// The execution's result from what the wrapper left (upstream `_get_output_values` and
/// `_get_final_status`).
fn outcome(finished: &process::Finished, timeout: f64) -> RunOutcome {
    let code = finished.ended.return_code();
    // [fix] Upstream decodes the output as strict UTF-8 and fails the whole execution with a
    // UnicodeDecodeError on the first other byte; invalid bytes become U+FFFD here.
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let stderr = String::from_utf8_lossy(&finished.stderr).into_owned();
    if finished.ended == Ended::Exited(INVALID_STATUS_EXIT_CODE) {
        // Upstream raises ValueError(stderr): the execution fails with it as the error.
        return RunOutcome::error(ExecutionStatus::Failed, stderr);
    }
    let (action_stdout, output) = match split_output(&stdout) {
        Ok(split) => split,
        Err(message) => return RunOutcome::error(ExecutionStatus::Failed, message),
    };
    let (result, status) = match output {
        Some(Value::Object(mut output)) => (
            output.remove("result").unwrap_or(Value::Null),
            output.remove("status").unwrap_or(Value::Null),
        ),
        Some(other) => (other, Value::Null),
        None => (Value::String("None".into()), Value::Null),
    };
    let mut fields = Map::new();
    fields.insert("stdout".into(), Value::String(action_stdout));
    fields.insert("stderr".into(), Value::String(stderr));
    fields.insert("exit_code".into(), Value::from(code));
    fields.insert("result".into(), result);
    let outcome = match finished.ended {
        Ended::TimedOut => {
            fields.insert(
                "error".into(),
                Value::String(format!(
                    "Action failed to complete in {} seconds",
                    super::shell::seconds(timeout)
                )),
            );
            ExecutionStatus::Timeout
        }
        Ended::Canceled => ExecutionStatus::Canceled,
        Ended::Exited(0) if status != Value::Bool(false) => ExecutionStatus::Succeeded,
        _ => ExecutionStatus::Failed,
    };
    RunOutcome {
        outcome,
        result: Value::Object(fields),
    }
}

/// The action's own stdout and the parsed output between the delimiters (upstream: the text
/// itself when it is not JSON), or upstream's error when the delimiter is not there exactly
/// twice.
fn split_output(stdout: &str) -> Result<(String, Option<Value>), String> {
    if !stdout.contains(DELIMITER) {
        return Ok((stdout.to_string(), None));
    }
    let parts: Vec<&str> = stdout.split(DELIMITER).collect();
    if parts.len() != 3 {
        return Err(format!(
            "The result length should be 3, was {}.",
            parts.len()
        ));
    }
    let action_result = parts[1].trim();
    let rest = format!("{}{}", parts[0], parts[2]);
    if action_result.is_empty() {
        return Ok((rest, None));
    }
    let parsed = serde_json::from_str::<Value>(action_result)
        .unwrap_or_else(|_| Value::String(action_result.to_string()));
    Ok((rest, Some(parsed)))
}

/// Serve the wrapper's datastore requests until it closes its end. [fix] What it decrypts
/// for the action is a secret the run knows too: announced on the run's output tap before
/// the action has it, so that it is masked in what the action prints and returns
/// (the recorder of the run's output masks them).
fn serve_datastore(stream: UnixStream, request: &RunRequest) -> std::thread::JoinHandle<()> {
    let settings = request.settings.clone();
    let user = request.user.to_string();
    let tap = request.output.clone();
    std::thread::spawn(move || {
        let mut datastore: Option<Datastore> = None;
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let reply = match serde_json::from_str::<Value>(&line) {
                Ok(request) => {
                    if datastore.is_none() {
                        match Datastore::open(&settings) {
                            Ok(opened) => datastore = Some(opened),
                            Err(err) => {
                                let reply = json!({ "error": err.to_string() });
                                let _ = writeln!(writer, "{reply}");
                                continue;
                            }
                        }
                    }
                    let store = datastore.as_mut().expect("opened above");
                    match handle(store, &settings, &user, &request, &tap) {
                        Ok(value) => json!({ "value": value }),
                        Err(message) => json!({ "error": message }),
                    }
                }
                Err(err) => json!({ "error": format!("invalid request: {err}") }),
            };
            if writeln!(writer, "{reply}").is_err() {
                break;
            }
        }
    })
}

/// One datastore request: `get`, `set`, `delete`, `list`, and `decrypt` (the `decrypt_kv`
/// Jinja filter). Secrets it decrypts are revealed on `tap` before they are returned.
fn handle(
    datastore: &mut Datastore,
    settings: &crate::settings::Settings,
    user: &str,
    request: &Value,
    tap: &Tap,
) -> Result<Value, String> {
    let text = |key: &str| request.get(key).and_then(Value::as_str).unwrap_or_default();
    let scope = match text("scope") {
        "" | "system" | "st2kv.system" => KeyScope::System,
        "user" | "st2kv.user" => KeyScope::User,
        other => {
            return Err(format!(
                "Invalid scope \"{other}\": use \"system\" or \"user\""
            ))
        }
    };
    let flag = |key: &str| request.get(key).and_then(Value::as_bool).unwrap_or(false);
    match text("op") {
        "get" => match datastore.get(scope, user, text("name"), flag("decrypt")) {
            Ok(item) => {
                if item.secret && flag("decrypt") {
                    tap.reveal(&item.value);
                }
                Ok(Value::String(item.value))
            }
            Err(crate::datastore::DatastoreError::NotFound { .. }) => Ok(Value::Null),
            Err(err) => Err(err.to_string()),
        },
        "set" => datastore
            .set(&NewItem {
                name: text("name").to_string(),
                value: text("value").to_string(),
                scope,
                user: user.to_string(),
                encrypt: flag("encrypt"),
                encrypted: false,
                ttl: request.get("ttl").and_then(Value::as_u64),
            })
            .map(|_| Value::Bool(true))
            .map_err(|err| err.to_string()),
        "delete" => match datastore.delete(scope, user, text("name")) {
            Ok(()) => Ok(Value::Bool(true)),
            Err(crate::datastore::DatastoreError::NotFound { .. }) => Ok(Value::Bool(false)),
            Err(err) => Err(err.to_string()),
        },
        "list" => datastore
            .list(Some(KeyScope::System), user, text("prefix"), false)
            .map(|items| serde_json::to_value(items).unwrap_or_default())
            .map_err(|err| err.to_string()),
        "decrypt" => crate::crypto::CryptoKey::load(settings.datastore_key_path())
            .and_then(|key| key.decrypt(text("value")))
            .map(|plaintext| {
                tap.reveal(&plaintext);
                Value::String(plaintext)
            })
            .map_err(|err| err.to_string()),
        other => Err(format!("unknown datastore operation \"{other}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::output::Tap;
    use crate::runner::CancelFlag;
    use crate::settings::Settings;

    static NO_TAP: Tap = Tap::none();

    /// A pack with one action module, in a temporary base path.
    struct Fixture {
        _dir: tempfile::TempDir,
        settings: Settings,
        pack_dir: std::path::PathBuf,
    }

    fn pack_with(source: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("st2");
        let pack_dir = base.join("packs/demo");
        std::fs::create_dir_all(pack_dir.join("actions/lib")).unwrap();
        std::fs::write(pack_dir.join("actions/act.py"), source).unwrap();
        std::fs::write(
            pack_dir.join("actions/lib/helper.py"),
            "VALUE = 'from lib'\n",
        )
        .unwrap();
        let settings = Settings::from_ini(&Default::default(), Some(base), None).unwrap();
        Fixture {
            _dir: dir,
            settings,
            pack_dir,
        }
    }

    fn request<'a>(
        fixture: &'a Fixture,
        parameters: &'a Map<String, Value>,
        config: &'a Value,
        schema: &'a Map<String, Value>,
        cancel: &'a CancelFlag,
    ) -> RunRequest<'a> {
        RunRequest {
            execution_id: "0123456789abcdef01234567",
            action_ref: "demo.act",
            pack: "demo",
            runner_type: crate::runner::RunnerType::PythonScript,
            pack_dir: &fixture.pack_dir,
            entry_point: "act.py",
            schema,
            parameters,
            config,
            user: "stanley",
            python: None,
            settings: &fixture.settings,
            cancel,
            output: &NO_TAP,
            tasks: None,
        }
    }

    fn execute(fixture: &Fixture, parameters: Value, config: Value, timeout: f64) -> RunOutcome {
        let mut parameters = parameters.as_object().unwrap().clone();
        parameters.insert("timeout".into(), json!(timeout));
        parameters.insert("log_level".into(), json!("INFO"));
        let (schema, cancel) = (Map::new(), CancelFlag::new());
        run(&request(fixture, &parameters, &config, &schema, &cancel))
    }

    #[test]
    fn runs_the_action_class_with_parameters_and_config() {
        let fixture = pack_with(include_str!("../../fixtures/python/act.py"));
        let run = execute(
            &fixture,
            json!({"name": "ab", "count": 2}),
            json!({"token": "s3cret"}),
            30.0,
        );
        assert_eq!(run.outcome, ExecutionStatus::Succeeded, "{}", run.result);
        assert_eq!(
            run.result["result"],
            json!({"hello": "abab", "token": "s3cret", "lib": "from lib", "pack": "demo"})
        );
        // Kept as printed, newline included (upstream strips nothing).
        assert_eq!(run.result["stdout"], "working\n");
        assert_eq!(
            run.result["stderr"],
            "st2.actions.python.Act: INFO     logged\n"
        );
        assert_eq!(run.result["exit_code"], 0);
        // Nothing secret on the command line.
        let (_, theirs) = UnixStream::pair().unwrap();
        let (schema, parameters, cancel) = (Map::new(), Map::new(), CancelFlag::new());
        let config = json!({"token": "s3cret"});
        let request = request(&fixture, &parameters, &config, &schema, &cancel);
        let shim = std::path::Path::new("/shim");
        let command = command(&request, std::path::Path::new("python3"), shim, &theirs);
        let line: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!line.iter().any(|arg| arg.contains("s3cret")));
    }

    #[test]
    fn failures_have_a_reason() {
        let fixture = pack_with(include_str!("../../fixtures/python/modes.py"));
        let run = execute(&fixture, json!({"mode": "tuple"}), json!({}), 30.0);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(run.result["result"], json!({"why": "no"}));
        let run = execute(&fixture, json!({"mode": "raise"}), json!({}), 30.0);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        let stderr = run.result["stderr"].as_str().unwrap();
        assert!(
            stderr.contains("Traceback") && stderr.contains("ValueError: bad input"),
            "{stderr}"
        );
        // os._exit(0) before the result: upstream's succeeded execution with result "None".
        let run = execute(&fixture, json!({"mode": "exit"}), json!({}), 30.0);
        assert_eq!(run.outcome, ExecutionStatus::Succeeded);
        assert_eq!(run.result["stdout"], "{\"garb");
        assert_eq!(run.result["result"], "None");
        let run = execute(&fixture, json!({"mode": "loop"}), json!({}), 0.5);
        assert_eq!(run.outcome, ExecutionStatus::Timeout);
        assert_eq!(
            run.result["error"],
            "Action failed to complete in 0.5 seconds"
        );

        let empty = pack_with("x = 1\n");
        let run = execute(&empty, json!({}), json!({}), 30.0);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        let stderr = run.result["stderr"].as_str().unwrap();
        assert!(
            stderr.contains("Found no classes in plugin file") && stderr.contains("act.py"),
            "{stderr}"
        );
        let broken = pack_with("def broken(:\n");
        let run = execute(&broken, json!({}), json!({}), 30.0);
        assert!(run.result["stderr"]
            .as_str()
            .unwrap()
            .contains("Failed to load action class"));
    }

    #[test]
    fn a_missing_interpreter_is_named() {
        let fixture = pack_with(include_str!("../../fixtures/python/act.py"));
        let (schema, parameters, cancel) = (Map::new(), Map::new(), CancelFlag::new());
        let config = json!({});
        let mut request = request(&fixture, &parameters, &config, &schema, &cancel);
        request.python = Some("/nonexistent/venv/bin/python".into());
        let run = run(&request);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        let error = run.result["error"].as_str().unwrap();
        assert!(
            error.starts_with("the Python interpreter /nonexistent/venv/bin/python does not exist"),
            "{error}"
        );
    }

    #[test]
    fn the_action_service_reaches_the_datastore() {
        let fixture = pack_with(include_str!("../../fixtures/python/keeper.py"));
        let run = execute(&fixture, json!({}), json!({}), 30.0);
        assert_eq!(run.outcome, ExecutionStatus::Succeeded, "{}", run.result);
        assert_eq!(
            run.result["result"],
            json!({
                "names": ["demo.Keeper:plain", "demo.Keeper:secret"],
                "got": ["v1", "hush", "g", null],
                "raw_is_hidden": true,
                "deleted": [true, false],
            })
        );
    }

    #[test]
    fn the_result_is_cut_out_of_stdout() {
        let stdout =
            format!("before\n{DELIMITER}{{\"result\": [1], \"status\": null}}\n{DELIMITER}after\n");
        let (rest, parsed) = split_output(&stdout).unwrap();
        assert_eq!(rest, "before\nafter\n");
        assert_eq!(parsed, Some(json!({"result": [1], "status": null})));
        let (rest, parsed) = split_output("garbage only").unwrap();
        assert_eq!((rest.as_str(), parsed), ("garbage only", None));
        // Upstream's mocked outputs: a result that is not JSON is kept as text.
        let (rest, parsed) = split_output(&format!("a{DELIMITER}True{DELIMITER}b")).unwrap();
        assert_eq!((rest.as_str(), parsed), ("ab", Some(json!("True"))));
        assert_eq!(
            split_output(&format!("{DELIMITER}{DELIMITER}{DELIMITER}")).unwrap_err(),
            "The result length should be 3, was 4."
        );
    }

    #[test]
    fn outcomes_follow_exit_code_and_status() {
        let finished = |ended, stdout: &str| process::Finished {
            ended,
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        };
        let ok = format!("{DELIMITER}{{\"result\": 1, \"status\": null}}\n{DELIMITER}");
        assert_eq!(
            outcome(&finished(Ended::Exited(0), &ok), 1.0).outcome,
            ExecutionStatus::Succeeded
        );
        let failed = format!("{DELIMITER}{{\"result\": 1, \"status\": false}}\n{DELIMITER}");
        let run = outcome(&finished(Ended::Exited(0), &failed), 1.0);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(run.result["result"], 1);
        // No result printed, exit code 0: upstream's success with the result "None".
        let run = outcome(&finished(Ended::Exited(0), "half a result"), 1.0);
        assert_eq!(run.outcome, ExecutionStatus::Succeeded);
        assert_eq!(run.result["result"], "None");
        assert_eq!(run.result["stdout"], "half a result");
        let run = outcome(&finished(Ended::TimedOut, ""), 2.0);
        assert_eq!(run.outcome, ExecutionStatus::Timeout);
        assert_eq!(run.result["exit_code"], -9);
        assert_eq!(run.result["result"], "None");
        assert_eq!(
            run.result["error"],
            "Action failed to complete in 2 seconds"
        );
        // A status that is not a boolean: upstream's ValueError(stderr) as the error.
        let run = outcome(
            &process::Finished {
                ended: Ended::Exited(INVALID_STATUS_EXIT_CODE),
                stdout: Vec::new(),
                stderr: b"Status returned ... got: succeeded\n".to_vec(),
            },
            1.0,
        );
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(
            run.result,
            json!({"error": "Status returned ... got: succeeded\n"})
        );
        // Bytes that are not UTF-8 are replaced, not fatal.
        let run = outcome(&finished(Ended::Exited(0), "a\u{FFFD}"), 1.0);
        assert_eq!(run.result["stdout"], "a\u{FFFD}");
        assert_eq!(
            outcome(&finished(Ended::Exited(1), &ok), 1.0).outcome,
            ExecutionStatus::Failed
        );
    }
}

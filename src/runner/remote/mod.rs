//! The `remote-shell-cmd` and `remote-shell-script` runners (upstream
//! `contrib/runners/remote_runner`, on `st2common/runners/paramiko_ssh_runner.py`,
//! `parallel_ssh.py` and `paramiko_ssh.py`): one command, or one script copied over, run on
//! every host of the `hosts` parameter over SSH, with a result per host.
//!
//! The SSH side is the system's OpenSSH client ([`ssh`]): one `ssh` process per host and
//! step, so that users' keys (any type, encrypted, in an agent), `~/.ssh/config` (with
//! `[ssh_runner] use_ssh_config`: aliases, `ProxyJump`, `ProxyCommand`) and OpenSSH's
//! algorithms work as they do in a terminal; ARCHITECTURE.md says why over a Rust SSH
//! library. What runs remotely is upstream's command line inside a small wrapper
//! ([`command`]) that ends the command when the session is lost, so that a timeout or a
//! cancel stops the remote command too, not just our side.
//!
//! The result is upstream's: `{host: {stdout, stderr, return_code, succeeded, failed}}`, a
//! host that could not be reached or timed out having `{failed, succeeded, timeout,
//! return_code, stdout, stderr, error}` (upstream adds a Python `traceback`, which we have
//! none of); the execution succeeds when every host did (any host with `[ssh_runner]
//! allow_partial_failure`), times out when every host did, and is canceled on cancel.
//!
//! Differences, on purpose:
//! - **[fix]** hosts are worked on in parallel, up to `[ssh_runner] max_parallel_actions` at
//!   once. Upstream's `parallel` parameter is immutable and false, so its runner does one
//!   host at a time (`concurrency = len(hosts) / 3 + 1 if parallel else 1`); `parallel` is
//!   accepted and has no effect.
//! - **[fix]** when no host can be reached upstream fails the whole execution with one
//!   `error` holding every host's error as JSON; here each host still has its own result.
//! - **[fix]** the sudo password goes to `sudo -S` through the session's input, not on the
//!   command line (upstream's `echo -e '<password>' | sudo -S`, visible in `ps` and in its
//!   error messages).
//! - **[fix]** the action's `timeout` bounds each host's whole run (connecting, copying the
//!   script, running it); the connection gives up after `ssh_connect_timeout`, at most two
//!   seconds less than the timeout (upstream's intent in `ParamikoSSHClient`, which its
//!   caller never gives the timeout).
//! - **[fix]** an encrypted key without `passphrase` is tried through the SSH agent when one
//!   runs (upstream refuses it before connecting).

pub(crate) mod askpass;
mod command;
mod credentials;
mod hosts;
mod key;
mod session;
mod ssh;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use self::command::{Marker, RemoteCommand, Sudo, Wrapper};
use self::credentials::{credentials, Credentials};
use self::hosts::Host;
use self::session::{Ended, Ending, Session};
use self::ssh::{ClientOptions, SshClient};
use super::{RunOutcome, RunRequest, RunnerType};
use crate::store::ExecutionStatus;

/// Default `timeout` of the remote runners, in seconds (upstream's
/// `REMOTE_RUNNER_DEFAULT_ACTION_TIMEOUT`).
const DEFAULT_TIMEOUT: f64 = 60.0;
/// `ssh`'s exit code for its own failures.
const SSH_FAILED: i32 = 255;

/// Run one execution.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    let plan = match Plan::new(request) {
        Ok(plan) => plan,
        Err(message) => return RunOutcome::error(ExecutionStatus::Failed, message),
    };
    plan.execute(request)
}

/// A `remote-shell-script`'s script: where it is, and the archive copied to each host.
struct Script {
    local: PathBuf,
    archive: Vec<u8>,
    /// `<dir>/<execution id>` on the hosts.
    remote_dir: String,
}

/// Everything decided before connecting anywhere.
struct Plan {
    hosts: Vec<Host>,
    client: SshClient,
    command: RemoteCommand,
    sudo: Sudo,
    sudo_password: Option<String>,
    script: Option<Script>,
    timeout: Option<f64>,
    connect_timeout: u64,
    /// An encrypted key is used without a passphrase (through the agent, if it has it).
    encrypted_key_without_passphrase: Option<String>,
    concurrency: usize,
    allow_partial_failure: bool,
}

/// A string parameter, `None` when absent, null or empty.
fn text<'a>(parameters: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    parameters
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
}

impl Plan {
    fn new(request: &RunRequest) -> Result<Plan, String> {
        let parameters = request.parameters;
        let settings = &request.settings.ssh;
        let action_name = request
            .action_ref
            .split_once('.')
            .map_or(request.action_ref, |(_, name)| name);
        let is_script = request.runner_type == RunnerType::RemoteShellScript;
        if is_script && request.entry_point.is_empty() {
            return Err(format!(
                "Action \"{action_name}\" is missing \"entry_point\" attribute. Perhaps wanted \
                 to use \"remote-shell-cmd\" runner?"
            ));
        }
        if !is_script && !request.entry_point.is_empty() {
            return Err(format!(
                "Action \"{action_name}\" specified \"entry_point\" attribute. Perhaps wanted \
                 to use \"remote-shell-script\" runner?"
            ));
        }
        let hosts = hosts::parse(text(parameters, "hosts").unwrap_or(""))?;
        if hosts.is_empty() {
            return Err(format!(
                "No hosts specified to run action for action {}.",
                request.execution_id
            ));
        }
        let port = match parameters.get("port") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|port| u16::try_from(port).ok())
                    .filter(|port| *port > 0)
                    .ok_or_else(|| {
                        format!("the port parameter must be a port number, not {value}")
                    })?,
            ),
        };
        let bastion = text(parameters, "bastion_host")
            .map(|value| {
                let (name, port) = hosts::split_host_port(value.trim())?;
                let host = hosts::parse(&name)?;
                if host.len() != 1 {
                    return Err(format!("invalid bastion_host \"{value}\""));
                }
                Ok((name, port))
            })
            .transpose()?;

        let sudo = match (
            parameters.get("sudo").and_then(Value::as_bool) == Some(true),
            text(parameters, "sudo_password"),
        ) {
            (false, _) => Sudo::No,
            (true, None) => Sudo::Passwordless,
            (true, Some(_)) => Sudo::WithPassword,
        };
        let sudo_password = match sudo {
            Sudo::WithPassword => text(parameters, "sudo_password").map(str::to_string),
            _ => None,
        };
        if sudo_password
            .as_deref()
            .is_some_and(|password| password.contains(['\n', '\r']))
        {
            return Err("the sudo_password parameter cannot hold a line break".into());
        }

        let timeout = match parameters.get("timeout") {
            None | Some(Value::Null) => Some(DEFAULT_TIMEOUT),
            Some(value) => value.as_f64().filter(|seconds| *seconds > 0.0),
        };
        let connect_timeout = match timeout {
            Some(timeout) => settings
                .connect_timeout
                .min(((timeout - 2.0).floor() as u64).max(1)),
            None => settings.connect_timeout,
        };

        let program = crate::fs::find_executable("ssh").ok_or(
            "the remote runners need the OpenSSH client (ssh), which is not installed (or not \
             on PATH); install it (Debian/Ubuntu: apt-get install openssh-client)",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("st2-ssh-")
            .tempdir()
            .map_err(|err| format!("cannot create a temporary directory for ssh: {err}"))?;

        let password = text(parameters, "password");
        let Credentials {
            login,
            default_key,
            passphrase,
            encrypted_key_without_passphrase,
        } = credentials(parameters, settings, dir.path())?;

        let client = SshClient::new(
            program,
            dir,
            ClientOptions {
                settings,
                system_user: &request.settings.system_user,
                username: text(parameters, "username"),
                password,
                login,
                default_key,
                passphrase,
                port,
                bastion,
                connect_timeout,
            },
        )?;

        let env = super::shell::environment(request);
        let cwd = text(parameters, "cwd").unwrap_or("/tmp");
        let (command, script) = if is_script {
            let local = request.entry_point_path();
            if !local.is_file() {
                return Err(format!(
                    "Failed copying content to remote boxes. Local path {} does not exist.",
                    local.display()
                ));
            }
            let name = local
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = text(parameters, "dir").unwrap_or(&settings.remote_dir);
            let remote_dir = format!("{}/{}", dir.trim_end_matches('/'), request.execution_id);
            let remote_script = format!("{remote_dir}/{name}");
            let archive = script_archive(&local, &name)?;
            let arguments = super::shell::script_arguments(request);
            (
                command::script_command(&env, cwd, &remote_script, &arguments, sudo),
                Some(Script {
                    local,
                    archive,
                    remote_dir,
                }),
            )
        } else {
            let cmd = text(parameters, "cmd").ok_or("the cmd parameter is required")?;
            (command::shell_command(&env, cwd, cmd, sudo), None)
        };
        Ok(Plan {
            concurrency: hosts.len().min(settings.max_parallel_actions).max(1),
            hosts,
            client,
            command,
            sudo,
            sudo_password,
            script,
            timeout,
            connect_timeout,
            encrypted_key_without_passphrase,
            allow_partial_failure: settings.allow_partial_failure,
        })
    }

    /// Work on every host, `concurrency` at a time, and gather their results.
    fn execute(&self, request: &RunRequest) -> RunOutcome {
        let started = Instant::now();
        let deadline = self
            .timeout
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .map(|timeout| started + timeout);
        // Upstream streams the output only when there is one host (it belongs to the
        // execution, not to a host).
        let tap = (self.hosts.len() == 1).then_some(request.output);
        let cancel = request.cancel;
        let results: Mutex<Vec<Option<Value>>> = Mutex::new(vec![None; self.hosts.len()]);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.concurrency {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(host) = self.hosts.get(index) else {
                        break;
                    };
                    let result = if cancel.is_set() {
                        self.canceled(host, "", "")
                    } else {
                        self.run_host(index, host, deadline, cancel, tap)
                    };
                    results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(result);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut map = Map::new();
        for (host, result) in self.hosts.iter().zip(results) {
            map.insert(host.key.clone(), result.unwrap_or(Value::Null));
        }
        let outcome = if request.cancel.is_set() {
            ExecutionStatus::Canceled
        } else {
            status(&map, self.allow_partial_failure)
        };
        RunOutcome {
            outcome,
            result: Value::Object(map),
        }
    }

    fn run_host(
        &self,
        index: usize,
        host: &Host,
        deadline: Option<Instant>,
        cancel: &super::CancelFlag,
        tap: Option<&super::output::Tap>,
    ) -> Value {
        let log = self.client.log_path(index);
        if let Some(script) = &self.script {
            if let Err(result) = self.upload(script, host, &log, deadline, cancel) {
                return result;
            }
        }
        let marker = Marker::new();
        let pty = self.sudo == Sudo::Passwordless;
        let wrapper = Wrapper {
            marker: &marker,
            pty,
            sudo_password: self.sudo_password.is_some(),
            cleanup: self
                .script
                .as_ref()
                .map(|script| script.remote_dir.as_str()),
        };
        let input = self
            .sudo_password
            .as_ref()
            .map(|password| format!("{password}\n").into_bytes())
            .unwrap_or_default();
        let session = Session {
            command: self
                .client
                .command(host, &log, pty, &wrapper.wrap(&self.command.exec)),
            input,
            keep_input_open: true,
            marker: Some(marker.pattern()),
            pty,
            deadline,
            cancel,
            tap,
        };
        let ended = match session.run() {
            Ok(ended) => ended,
            Err(err) => {
                return self.failure(
                    &format!(
                        "Failed connecting to host {}. cannot start ssh: {err}",
                        host.name
                    ),
                    "",
                    "",
                )
            }
        };
        match ended.ending {
            Ending::Completed(code) => self.completed(host, code, &ended),
            Ending::Exited(SSH_FAILED) => {
                if ended.stdout.is_empty() && ended.stderr.is_empty() {
                    self.unreachable(host, &log)
                } else {
                    let reason =
                        ssh_log(&log).unwrap_or_else(|| "the SSH connection was lost".into());
                    self.failure(
                        &format!(
                            "Failed executing command \"{}\" on host \"{}\" {reason}",
                            self.command.display, host.name
                        ),
                        &super::process::text(&ended.stdout),
                        &super::process::text(&ended.stderr),
                    )
                }
            }
            // The wrapper did not get to its end (the shell refused the command line): the
            // exit code is the shell's.
            Ending::Exited(code) => self.completed(host, code, &ended),
            Ending::TimedOut => self.timed_out(host, &ended),
            Ending::Canceled => self.canceled(
                host,
                &super::process::text(&ended.stdout),
                &super::process::text(&ended.stderr),
            ),
        }
    }

    /// Copy the script (and its `lib/`) to `<dir>/<execution id>` on `host`: unpacked by
    /// `tar` from `ssh`'s input. The host's result when it fails.
    fn upload(
        &self,
        script: &Script,
        host: &Host,
        log: &Path,
        deadline: Option<Instant>,
        cancel: &super::CancelFlag,
    ) -> Result<(), Value> {
        let remote = format!(
            "mkdir -- {dir} && tar -x -o -f - -C {dir}",
            dir = super::shell::quote(&script.remote_dir)
        );
        let upload = Session {
            command: self.client.command(host, log, false, &remote),
            input: script.archive.clone(),
            keep_input_open: false,
            marker: None,
            pty: false,
            deadline,
            cancel,
            tap: None,
        };
        let ended = upload.run().map_err(|err| {
            self.failure(
                &format!(
                    "Failed connecting to host {}. cannot start ssh: {err}",
                    host.name
                ),
                "",
                "",
            )
        })?;
        match ended.ending {
            Ending::Exited(0) | Ending::Completed(0) => Ok(()),
            Ending::TimedOut => Err(self.timed_out(host, &ended)),
            Ending::Canceled => Err(self.canceled(host, "", "")),
            Ending::Exited(SSH_FAILED) | Ending::Completed(SSH_FAILED) => {
                Err(self.unreachable(host, log))
            }
            Ending::Exited(_) | Ending::Completed(_) => Err(self.failure(
                &format!(
                    "Failed sending file(s) in path {} to host {} {}",
                    script.local.display(),
                    host.name,
                    super::process::text(&ended.stderr)
                ),
                "",
                "",
            )),
        }
    }

    /// Upstream's `_handle_command_result`.
    fn completed(&self, host: &Host, code: i32, ended: &Ended) -> Value {
        let stdout = super::process::text(&ended.stdout);
        let stderr = super::process::text(&ended.stderr);
        if self.sudo_password.is_some() {
            if let Some(user) = super::shell::sudo_password_refused(&stderr) {
                return self.failure(
                    &format!(
                        "Failed executing command \"{}\" on host \"{}\" Invalid sudo password \
                         provided or sudo is not configured for this user ({user})",
                        self.command.display, host.name
                    ),
                    "",
                    "",
                );
            }
        }
        let succeeded = code == 0;
        let mut result = Map::new();
        result.insert("stdout".into(), super::shell::try_json(stdout));
        result.insert("stderr".into(), super::shell::try_json(stderr));
        result.insert("return_code".into(), Value::from(code));
        result.insert("succeeded".into(), Value::Bool(succeeded));
        result.insert("failed".into(), Value::Bool(!succeeded));
        Value::Object(result)
    }

    /// A host that could not be reached or logged in to.
    fn unreachable(&self, host: &Host, log: &Path) -> Value {
        let mut reason = ssh_log(log).unwrap_or_else(|| "ssh failed without saying why".into());
        if let Some(what) = &self.encrypted_key_without_passphrase {
            reason.push_str(&format!(
                " ({what} is passphrase protected and the SSH agent did not have it: supply a \
                 passphrase)"
            ));
        }
        self.failure(
            &format!("Failed connecting to host {}. {reason}", host.name),
            "",
            "",
        )
    }

    fn timed_out(&self, host: &Host, ended: &Ended) -> Value {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        error_result(
            &format!(
                "Failed executing command \"{}\" on host \"{}\" Command didn't finish in {} \
                 seconds or the SSH connection did not succeed in {} seconds",
                self.command.display,
                host.name,
                super::shell::seconds(timeout),
                self.connect_timeout
            ),
            true,
            -crate::sys::SIGKILL,
            &super::process::text(&ended.stdout),
            &super::process::text(&ended.stderr),
        )
    }

    fn canceled(&self, host: &Host, stdout: &str, stderr: &str) -> Value {
        error_result(
            &format!(
                "Execution canceled: the command on host \"{}\" was stopped",
                host.name
            ),
            false,
            -crate::sys::SIGKILL,
            stdout,
            stderr,
        )
    }

    /// A host's failure other than a timeout: return code 255, as upstream's.
    fn failure(&self, error: &str, stdout: &str, stderr: &str) -> Value {
        error_result(error, false, SSH_FAILED, stdout, stderr)
    }
}

/// Upstream's `_generate_error_result` (without its Python traceback).
fn error_result(error: &str, timeout: bool, code: i32, stdout: &str, stderr: &str) -> Value {
    let mut result = Map::new();
    result.insert("failed".into(), Value::Bool(true));
    result.insert("succeeded".into(), Value::Bool(false));
    result.insert("timeout".into(), Value::Bool(timeout));
    result.insert("return_code".into(), Value::from(code));
    result.insert("stdout".into(), Value::String(stdout.into()));
    result.insert("stderr".into(), Value::String(stderr.into()));
    result.insert("error".into(), Value::String(error.into()));
    Value::Object(result)
}

/// What `ssh` logged (its errors), on one line.
fn ssh_log(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// The script (mode 0744) and the action's `lib/` directory beside it, if any.
fn script_archive(local: &Path, name: &str) -> Result<Vec<u8>, String> {
    let data = std::fs::read(local).map_err(|err| {
        format!(
            "Failed copying content to remote boxes. {}: {}",
            local.display(),
            crate::settings::io_reason(&err)
        )
    })?;
    let mtime = std::fs::metadata(local)
        .map(|metadata| upload::mtime_of(&metadata))
        .unwrap_or(0);
    let mut archive = upload::Archive::new();
    archive.add_file(name, 0o744, mtime, &data)?;
    if let Some(lib) = local.parent().map(|dir| dir.join("lib")) {
        if lib.is_dir() {
            archive.add_tree(&lib, "lib")?;
        }
    }
    Ok(archive.finish())
}

/// Upstream's `_get_result_status`: succeeded when every host did (any, with
/// `allow_partial_failure`), timeout when every host timed out, else failed. **[fix]**
/// Upstream stops looking at the first host that decides success, so whether a failure is
/// `timeout` depends on the order of its dict; here every host counts.
fn status(results: &Map<String, Value>, allow_partial_failure: bool) -> ExecutionStatus {
    let flag = |result: &Value, name: &str| result.get(name).and_then(Value::as_bool) == Some(true);
    let succeeded = if allow_partial_failure {
        results.values().any(|result| flag(result, "succeeded"))
    } else {
        results.values().all(|result| flag(result, "succeeded"))
    };
    if succeeded {
        ExecutionStatus::Succeeded
    } else if !results.is_empty() && results.values().all(|result| flag(result, "timeout")) {
        ExecutionStatus::Timeout
    } else {
        ExecutionStatus::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// Upstream's `_get_result_status`, as `test_paramiko_ssh_runner.py` and the runner use it.
    #[test]
    fn status_as_upstream_computes_it() {
        let ok = json!({"succeeded": true, "failed": false});
        let bad = json!({"succeeded": false, "failed": true});
        let late = json!({"succeeded": false, "failed": true, "timeout": true});
        let both = map(json!({"a": ok, "b": bad}));
        assert_eq!(status(&both, false), ExecutionStatus::Failed);
        assert_eq!(status(&both, true), ExecutionStatus::Succeeded);
        assert_eq!(
            status(&map(json!({"a": ok})), false),
            ExecutionStatus::Succeeded
        );
        assert_eq!(
            status(&map(json!({"a": late, "b": late})), false),
            ExecutionStatus::Timeout
        );
        assert_eq!(
            status(&map(json!({"a": late, "b": bad})), false),
            ExecutionStatus::Failed
        );
        assert_eq!(
            status(&map(json!({"a": late, "b": ok})), false),
            ExecutionStatus::Failed
        );
    }

    #[test]
    fn ssh_log_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(
            &path,
            "ssh: connect to host a port 22: Connection refused\r\n\n",
        )
        .unwrap();
        assert_eq!(
            ssh_log(&path).as_deref(),
            Some("ssh: connect to host a port 22: Connection refused")
        );
        assert_eq!(ssh_log(&dir.path().join("none")), None);
    }
}

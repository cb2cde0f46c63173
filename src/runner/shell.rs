//! The `local-shell-cmd` and `local-shell-script` runners (upstream
//! `contrib/runners/local_runner`): a command line run with `/bin/sh -c` (Python's
//! `subprocess` with `shell=True`), or through `sudo -E -- bash -c` when `sudo` is true.
//!
//! Scripts get the action's parameters as arguments the way upstream builds them: parameters
//! with a `position` first as positional words in position order, the others as
//! `<kwarg_op><name>=<value>` (a `true` boolean as the bare flag), every word shell-quoted.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::{self, Ended};
use super::{RunOutcome, RunRequest};
use crate::schema::validator::truthy;
use crate::settings::env;
use crate::store::ExecutionStatus;

/// Default `timeout` of the local runners, in seconds.
const DEFAULT_TIMEOUT: f64 = 60.0;

/// Run one execution.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    let parameters = request.parameters;
    let line = if request.runner_type == super::RunnerType::LocalShellScript {
        match script_line(request) {
            Ok(line) => line,
            Err(reason) => return RunOutcome::error(ExecutionStatus::Failed, reason),
        }
    } else {
        match parameters.get("cmd") {
            Some(Value::String(cmd)) => cmd.clone(),
            _ => {
                return RunOutcome::error(ExecutionStatus::Failed, "the cmd parameter is required")
            }
        }
    };
    let sudo = parameters.get("sudo").and_then(Value::as_bool) == Some(true);
    let sudo_password = parameters
        .get("sudo_password")
        .and_then(Value::as_str)
        .filter(|password| !password.is_empty());
    let mut command = if sudo {
        if crate::fs::find_executable("sudo").is_none() {
            return RunOutcome::error(
                ExecutionStatus::Failed,
                "sudo=true needs the sudo command, which is not installed (or not on PATH)",
            );
        }
        let mut command = Command::new("sudo");
        // -n without a password: never wait for a prompt nobody can answer.
        command.arg(if sudo_password.is_some() { "-S" } else { "-n" });
        command.args(["-E", "--", "bash", "-c", &line]);
        command
    } else {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(&line);
        command
    };
    if let Some(cwd) = parameters.get("cwd").and_then(Value::as_str) {
        if !std::path::Path::new(cwd).is_dir() {
            return RunOutcome::error(
                ExecutionStatus::Failed,
                format!("the working directory {cwd} (cwd parameter) does not exist"),
            );
        }
        command.current_dir(cwd);
    }
    for (name, value) in environment(request) {
        command.env(name, value);
    }
    // Upstream pipes `echo "<password>\n"` into the command: the password, then an empty line.
    let input = sudo_password
        .map(|password| format!("{password}\n\n").into_bytes())
        .unwrap_or_default();
    let timeout = request.timeout_seconds().unwrap_or(DEFAULT_TIMEOUT);
    let finished = match process::run(
        command,
        &input,
        Some(Duration::from_secs_f64(timeout.max(0.0))),
        request.cancel,
        request.output,
    ) {
        Ok(finished) => finished,
        Err(err) => {
            return RunOutcome::error(
                ExecutionStatus::Failed,
                format!("cannot start the command: {err}"),
            )
        }
    };
    shell_result(&finished, timeout, sudo_password.is_some())
}

/// The environment an action process gets on top of the caller's: the `env` parameter, then
/// StackStorm's `ST2_ACTION_*` variables.
pub(crate) fn environment(request: &RunRequest) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    if let Some(Value::Object(env)) = request.parameters.get("env") {
        for (name, value) in env {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            vars.insert(name.clone(), value);
        }
    }
    vars.insert(env::ST2_ACTION_PACK_NAME.into(), request.pack.to_string());
    vars.insert(
        env::ST2_ACTION_EXECUTION_ID.into(),
        request.execution_id.to_string(),
    );
    let debug = request.parameters.get("debug").and_then(Value::as_bool) == Some(true);
    // Python's str() of the flag, as upstream sets it.
    vars.insert(
        env::ST2_ACTION_DEBUG.into(),
        if debug { "True" } else { "False" }.into(),
    );
    vars
}

/// The result of a shell action, as upstream's local runner shapes it
/// (`contrib/runners/local_runner/local_runner/base.py`, `_run`).
fn shell_result(finished: &process::Finished, timeout: f64, sudo_password: bool) -> RunOutcome {
    let mut code = finished.ended.return_code();
    let stdout = process::text(&finished.stdout);
    let stderr = process::text(&finished.stderr);
    let mut error = match finished.ended {
        Ended::TimedOut => Some(format!(
            "Action failed to complete in {} seconds",
            seconds(timeout)
        )),
        _ => None,
    };
    // With a sudo password, sudo's complaint on stderr means the password was refused (or
    // sudo is not set up for the user): upstream says so in `error`, with return code -1.
    if sudo_password {
        if let Some(user) = sudo_password_refused(&stderr) {
            error = Some(format!(
                "Invalid sudo password provided or sudo is not configured for this user \
                 ({user})"
            ));
            code = -1;
        }
    }
    let succeeded = code == 0;
    let mut result = Map::new();
    result.insert("failed".into(), Value::Bool(!succeeded));
    result.insert("succeeded".into(), Value::Bool(succeeded));
    result.insert("return_code".into(), Value::from(code));
    result.insert("stdout".into(), try_json(stdout));
    result.insert("stderr".into(), try_json(stderr));
    if let Some(error) = error {
        result.insert("error".into(), Value::String(error));
    }
    // Upstream's PROC_EXIT_CODE_TO_LIVEACTION_STATUS_MAP: 0 succeeded, -9 (SIGKILL, as a
    // timeout kills) timeout, -15 (SIGTERM, as a shutdown kills) abandoned, anything else
    // failed. A cancel is ours.
    let outcome = match (finished.ended, code) {
        (Ended::Canceled, _) => ExecutionStatus::Canceled,
        (_, 0) => ExecutionStatus::Succeeded,
        (_, code) if code == -crate::sys::SIGKILL => ExecutionStatus::Timeout,
        (_, code) if code == -crate::sys::SIGTERM => ExecutionStatus::Abandoned,
        _ => ExecutionStatus::Failed,
    };
    RunOutcome {
        outcome,
        result: Value::Object(result),
    }
}

/// The user sudo asked the password of, when `stderr` says the password was refused
/// (`sudo: 3 incorrect password attempts`); `unknown` when no prompt names one. Newer sudo
/// versions also say `1 incorrect password attempt`, which upstream's pattern misses.
pub(crate) fn sudo_password_refused(stderr: &str) -> Option<String> {
    let refused = stderr.match_indices("sudo: ").any(|(at, _)| {
        let rest = &stderr[at + "sudo: ".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" incorrect password attempt")
    });
    if !refused {
        return None;
    }
    // `\[sudo\] password for (.+?)\:`
    let user = stderr.find("[sudo] password for ").and_then(|at| {
        let rest = &stderr[at + "[sudo] password for ".len()..];
        let end = rest.find(':')?;
        let user = &rest[..end];
        (!user.is_empty() && !user.contains('\n')).then(|| user.to_string())
    });
    Some(user.unwrap_or_else(|| "unknown".into()))
}

/// `60` rather than `60.0` for whole seconds.
pub(crate) fn seconds(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Upstream's `jsonify.try_loads`: output that is JSON becomes that value.
pub(crate) fn try_json(text: String) -> Value {
    if text.is_empty() {
        return Value::String(text);
    }
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// The command line of a `local-shell-script` action: the quoted script path and arguments.
fn script_line(request: &RunRequest) -> Result<String, String> {
    if request.entry_point.is_empty() {
        return Err("the action has no entry_point: local-shell-script needs a script".into());
    }
    let script = request.entry_point_path();
    let metadata = std::fs::metadata(&script).map_err(|err| {
        format!(
            "the entry point {} cannot be read: {}",
            script.display(),
            crate::settings::io_reason(&err)
        )
    })?;
    if !metadata.is_file() {
        return Err(format!(
            "the entry point {} is not a file",
            script.display()
        ));
    }
    // Upstream runs `chmod +x <script>` before every run when the file system is writable;
    // do the same once, and say what to do when it is not possible.
    if metadata.permissions().mode() & 0o111 == 0 {
        let mut permissions = metadata.permissions();
        permissions.set_mode(permissions.mode() | 0o111);
        std::fs::set_permissions(&script, permissions).map_err(|err| {
            format!(
                "the entry point {} is not executable and cannot be made so ({}); run chmod +x on it",
                script.display(),
                crate::settings::io_reason(&err)
            )
        })?;
    }
    let mut words = vec![quote(&script.to_string_lossy())];
    let arguments = script_arguments(request);
    if !arguments.is_empty() {
        words.push(arguments);
    }
    Ok(words.join(" "))
}

/// Upstream's `_get_script_arguments`: named arguments, then positional ones.
pub(crate) fn script_arguments(request: &RunRequest) -> String {
    let runner = super::parameters(request.runner_type.as_str());
    let is_action_parameter = |name: &str| runner.is_none_or(|runner| !runner.contains_key(name));
    let kwarg_op = request
        .parameters
        .get("kwarg_op")
        .and_then(Value::as_str)
        .unwrap_or("--");
    let mut positional: BTreeMap<i64, (&str, &Value)> = BTreeMap::new();
    for (name, schema) in request.schema {
        if let Some(position) = schema.get("position").and_then(Value::as_i64) {
            if is_action_parameter(name) {
                positional.insert(position, (name.as_str(), schema));
            }
        }
    }
    let mut parts = Vec::new();
    for (name, value) in request.parameters {
        if !is_action_parameter(name) || positional.values().any(|(p, _)| p == name) {
            continue;
        }
        match value {
            Value::Null => {}
            Value::String(text) if text.is_empty() => {}
            Value::Bool(true) => parts.push(format!("{kwarg_op}{name}")),
            Value::Bool(false) => {}
            other => parts.push(format!(
                "{}={}",
                quote(&format!("{kwarg_op}{name}")),
                quote(&python_str(other))
            )),
        }
    }
    for (name, schema) in positional.values() {
        let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let value = request.parameters.get(*name).unwrap_or(&Value::Null);
        parts.push(quote(&positional_word(kind, value)));
    }
    parts.join(" ")
}

/// Upstream's `serialize_positional_argument`.
fn positional_word(kind: &str, value: &Value) -> String {
    match (kind, value) {
        (_, Value::Null) => String::new(),
        ("boolean", value) => if truthy(value) { "1" } else { "0" }.into(),
        ("array" | "list", Value::Array(items)) => {
            items.iter().map(python_str).collect::<Vec<_>>().join(",")
        }
        ("object", value) if truthy(value) => value.to_string(),
        ("object", _) => String::new(),
        ("string" | "number" | "float", value) => python_str(value),
        (_, value) if truthy(value) => python_str(value),
        _ => String::new(),
    }
}

/// Python's `str()` of a JSON value (what upstream puts on the command line).
fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => crate::schema::repr::py_repr(other),
    }
}

/// `shlex.quote`: the word as is when it is made of safe characters, else single-quoted.
pub(crate) fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    let safe = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_shlex() {
        assert_eq!(quote("abc-1.txt"), "abc-1.txt");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r#"'it'"'"'s'"#);
    }

    #[test]
    fn positional_words_as_upstream_serializes_them() {
        assert_eq!(positional_word("boolean", &Value::Bool(false)), "0");
        assert_eq!(positional_word("boolean", &Value::Bool(true)), "1");
        assert_eq!(
            positional_word("array", &serde_json::json!(["a", 1, true])),
            "a,1,True"
        );
        assert_eq!(
            positional_word("object", &serde_json::json!({"a": 1})),
            r#"{"a":1}"#
        );
        assert_eq!(positional_word("string", &Value::Null), "");
        assert_eq!(positional_word("integer", &serde_json::json!(5)), "5");
        // Upstream's `str(v) if v else ""` for integers: 0 is lost; we keep that.
        assert_eq!(positional_word("integer", &serde_json::json!(0)), "");
        assert_eq!(positional_word("number", &serde_json::json!(0)), "0");
    }

    #[test]
    fn refused_sudo_passwords_are_recognized() {
        let stderr = "[sudo] password for bar: Sorry, try again.\n[sudo] password for bar: \
                      \nsudo: 2 incorrect password attempts";
        assert_eq!(sudo_password_refused(stderr), Some("bar".into()));
        assert_eq!(
            sudo_password_refused("sudo: 1 incorrect password attempt"),
            Some("unknown".into())
        );
        assert_eq!(sudo_password_refused("sudo: a password is required"), None);
        assert_eq!(
            sudo_password_refused("sudo: incorrect password attempts"),
            None
        );
    }

    #[test]
    fn json_output_is_parsed() {
        assert_eq!(try_json("{\"a\": 1}".into()), serde_json::json!({"a": 1}));
        assert_eq!(try_json("hi".into()), Value::String("hi".into()));
        assert_eq!(try_json(String::new()), Value::String(String::new()));
    }
}

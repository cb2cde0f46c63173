//! The commands that build a virtualenv (`uv venv` or `python -m venv`, then `uv pip
//! install` or `pip install`), and how they run: in a process group of their own, stopped
//! whole on cancel, their output kept for the error.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::interpreter::Interpreter;
use super::plan::BuildTool;
use super::{python_path, VenvError, VenvSpec};

/// How many lines of installer output an error keeps.
pub(super) const TAIL_LINES: usize = 20;

pub(super) fn create_venv(
    tool: &BuildTool,
    interp: &Interpreter,
    staging: &Path,
    final_dir: &Path,
    spec: &VenvSpec,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let (mut cmd, label) = match tool {
        BuildTool::Uv(uv) | BuildTool::UvSeededPip(uv) => {
            let mut cmd = Command::new(uv);
            cmd.args([
                "venv",
                "--quiet",
                "--no-project",
                "--relocatable",
                "--python",
            ])
            .arg(&interp.executable);
            if matches!(tool, BuildTool::UvSeededPip(_)) {
                cmd.arg("--seed");
            }
            cmd.args(uv_network_args(spec, spec.resolution.offline));
            (cmd, "uv".to_string())
        }
        BuildTool::Pip => {
            let mut cmd = Command::new(&interp.executable);
            cmd.args(["-m", "venv"]);
            (cmd, format!("{} -m venv", spec.python))
        }
    };
    cmd.args(spec.virtualenv_opts).arg(staging);
    if let Some(parent) = staging.parent() {
        cmd.current_dir(parent);
    }
    let (status, output) = run_combined(cmd, &label, cancel)?;
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output);
    if matches!(tool, BuildTool::Pip) && text.contains("ensurepip") {
        return Err(VenvError::VenvModuleMissing {
            python: spec.python.to_string(),
        });
    }
    Err(VenvError::CreateFailed {
        venv: final_dir.to_path_buf(),
        tool: label,
        status: status_text(status),
        tail: tail(&output, TAIL_LINES),
    })
}

/// How one `pip install` (or `uv pip install`) runs: from the network or the cache alone,
/// and with which constraints file.
#[derive(Debug, Clone, Copy)]
pub(super) struct InstallMode<'a> {
    /// Only the cache (uv `--offline`; pip `--no-index`).
    pub(super) offline: bool,
    /// A constraints file (`-c`).
    pub(super) constraints: Option<&'a Path>,
}

pub(super) fn install_requirements(
    tool: &BuildTool,
    staging: &Path,
    pack_dir: &Path,
    requirements: &Path,
    spec: &VenvSpec,
    mode: InstallMode,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let args = [OsStr::new("-r"), requirements.as_os_str()];
    install(
        tool,
        staging,
        pack_dir,
        &args,
        requirements,
        spec,
        mode,
        cancel,
    )
}

/// Install named packages (the base requirements) into the staging virtualenv.
pub(super) fn install_packages(
    tool: &BuildTool,
    staging: &Path,
    pack_dir: &Path,
    packages: &[String],
    spec: &VenvSpec,
    mode: InstallMode,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let args: Vec<&OsStr> = packages.iter().map(OsStr::new).collect();
    install(
        tool,
        staging,
        pack_dir,
        &args,
        Path::new(&packages.join(" ")),
        spec,
        mode,
        cancel,
    )
}

/// `--cache-dir` (unless the user set `UV_CACHE_DIR`) and `--offline`, for uv.
fn uv_network_args(spec: &VenvSpec, offline: bool) -> Vec<OsString> {
    let mut args = Vec::new();
    if let Some(dir) = spec.resolution.cache_dir {
        if std::env::var_os(crate::settings::env::UV_CACHE_DIR).is_none() {
            args.push(OsString::from("--cache-dir"));
            args.push(dir.join("uv").into_os_string());
        }
    }
    if offline {
        args.push(OsString::from("--offline"));
    }
    args
}

/// `--cache-dir` (unless the user set `PIP_CACHE_DIR`) and `--no-index`, for pip.
fn pip_network_args(spec: &VenvSpec, offline: bool) -> Vec<OsString> {
    let mut args = Vec::new();
    if let Some(dir) = spec.resolution.cache_dir {
        if std::env::var_os(crate::settings::env::PIP_CACHE_DIR).is_none() {
            args.push(OsString::from("--cache-dir"));
            args.push(dir.join("pip").into_os_string());
        }
    }
    if offline {
        args.push(OsString::from("--no-index"));
    }
    args
}

/// `pip install ARGS` (or `uv pip install`) into the staging virtualenv; `what` names what
/// was being installed in the error.
#[allow(clippy::too_many_arguments)]
fn install(
    tool: &BuildTool,
    staging: &Path,
    pack_dir: &Path,
    args: &[&OsStr],
    what: &Path,
    spec: &VenvSpec,
    mode: InstallMode,
    cancel: Option<&AtomicBool>,
) -> Result<(), VenvError> {
    let venv_python = python_path(staging);
    let mut cmd = match tool {
        BuildTool::Uv(uv) => {
            let mut cmd = Command::new(uv);
            cmd.args(["pip", "install", "--quiet", "--python"])
                .arg(&venv_python)
                .args(uv_network_args(spec, mode.offline));
            cmd
        }
        BuildTool::Pip | BuildTool::UvSeededPip(_) => {
            let mut cmd = Command::new(&venv_python);
            cmd.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .args(pip_network_args(spec, mode.offline));
            cmd
        }
    };
    if let Some(constraints) = mode.constraints {
        cmd.arg("-c").arg(constraints);
    }
    cmd.args(spec.pip_opts)
        .args(args)
        // Requirements may be relative paths (`./lib`, `-e .`): upstream
        // runs pip from the pack directory.
        .current_dir(pack_dir);
    let label = tool.venv_tool().as_str();
    let (status, output) = run_combined(cmd, label, cancel)?;
    if status.success() {
        return Ok(());
    }
    Err(VenvError::InstallFailed {
        requirements: what.to_path_buf(),
        tool: label.to_string(),
        status: status_text(status),
        tail: tail(&output, TAIL_LINES),
    })
}

/// Which of `pins` (`name==version`) uv cannot install from its cache alone: each tried on
/// its own, without dependencies and without installing anything (`--dry-run`).
pub(super) fn missing_from_uv_cache(
    uv: &Path,
    staging: &Path,
    pins: &[String],
    spec: &VenvSpec,
) -> Vec<String> {
    pins.iter()
        .filter(|pin| {
            let mut cmd = Command::new(uv);
            cmd.args([
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--no-deps",
                "--python",
            ])
            .arg(python_path(staging))
            .args(uv_network_args(spec, true))
            .args(spec.pip_opts)
            .arg(pin.as_str());
            !run_combined(cmd, "uv", None).is_ok_and(|(status, _)| status.success())
        })
        .cloned()
        .collect()
}

/// The packages an installer's output says it could not find offline: uv's
/// `Because X was not found in the cache`, pip's `No matching distribution found for X`.
pub(super) fn missing_in_output(output: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for line in output.lines() {
        for marker in ["Because ", "No matching distribution found for "] {
            let Some(at) = line.find(marker) else {
                continue;
            };
            let rest = &line[at + marker.len()..];
            let found = if marker == "Because " {
                rest.split_once(" was not found in the cache")
                    .map(|(name, _)| name.trim())
            } else {
                rest.split_whitespace().next()
            };
            if let Some(name) = found.filter(|name| !name.is_empty()) {
                if !missing.iter().any(|known| known == name) {
                    missing.push(name.to_string());
                }
            }
        }
    }
    missing
}

/// A shell that runs its arguments as a command and, when it gets SIGHUP, kills its whole
/// process group (itself included).
const GROUP_GUARD: &str = "trap 'kill -KILL 0' HUP; \"$@\" & wait $!";

/// `cmd` run by [`GROUP_GUARD`]: its program, arguments, environment changes and directory.
fn guarded(cmd: &Command) -> Command {
    let mut guard = Command::new("/bin/sh");
    guard
        .arg("-c")
        .arg(GROUP_GUARD)
        // `$0`, which `"$@"` does not include.
        .arg("st2-installer-guard")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => guard.env(name, value),
            None => guard.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        guard.current_dir(dir);
    }
    guard
}

/// Run `cmd` with stdin closed and stdout+stderr interleaved in one pipe,
/// as a terminal would show them.
///
/// The child gets a process group of its own, so that `cancel` (Ctrl-C in `st2 pack
/// install`) stops it whole, pip's own subprocesses included. If this process dies first, the
/// whole group dies too, so that a killed install leaves no installer writing into a directory
/// the next command deletes: the installer runs under a shell ([`guarded`]) that gets SIGHUP
/// when we die (`PR_SET_PDEATHSIG`) and kills its group. (`PR_SET_PDEATHSIG` on the installer
/// itself would not reach the processes it starts: ensurepip runs pip in a child of its own.)
fn run_combined(
    cmd: Command,
    label: &str,
    cancel: Option<&AtomicBool>,
) -> Result<(ExitStatus, Vec<u8>), VenvError> {
    use std::os::unix::process::CommandExt;
    let spawn_err = |source| VenvError::Spawn {
        program: label.to_string(),
        source,
    };
    let (mut reader, writer) = io::pipe().map_err(spawn_err)?;
    let writer2 = writer.try_clone().map_err(spawn_err)?;
    let mut cmd = guarded(&cmd);
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    cmd.process_group(0);
    crate::sys::hangup_with_parent(&mut cmd);
    tracing::debug!(command = ?cmd, "running");
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The Command holds our copies of the pipe's write end: close them so
    // that reading ends when the child exits.
    drop(cmd);
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let read = reader.read_to_end(&mut output);
        let status = child.wait();
        let _ = done.send((status, read.map(|_| output)));
    });
    let wait = |timeout: Duration| finished.recv_timeout(timeout).ok();
    let result = loop {
        if let Some(result) = wait(Duration::from_millis(100)) {
            break result;
        }
        if cancel.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
            // SIGTERM first (pip and uv clean up their temporary files), then SIGKILL.
            crate::sys::signal_group(pid, crate::sys::SIGTERM);
            if wait(Duration::from_secs(3)).is_none() {
                crate::sys::signal_group(pid, crate::sys::SIGKILL);
                let _ = wait(Duration::from_secs(5));
            }
            // What the installer started and left running goes too.
            crate::sys::signal_group(pid, crate::sys::SIGKILL);
            tracing::debug!(program = label, "stopped: interrupted");
            return Err(VenvError::Interrupted);
        }
    };
    let (status, output) = result;
    let status = status.map_err(spawn_err)?;
    let output = output.map_err(spawn_err)?;
    tracing::debug!(%status, output = %String::from_utf8_lossy(&output), "finished");
    Ok((status, output))
}

pub(super) fn status_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last `n` non-blank-trailing lines of `output`, with a note saying how
/// many earlier lines were left out.
pub(super) fn tail(output: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.trim_end().lines().map(str::trim_end).collect();
    if lines.is_empty() || (lines.len() == 1 && lines[0].is_empty()) {
        return "(no output)".to_string();
    }
    let skip = lines.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[... {skip} earlier lines omitted]\n"));
    }
    out.push_str(&lines[skip..].join("\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let output: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        let t = tail(output.as_bytes(), 20);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "[... 30 earlier lines omitted]");
        assert_eq!(lines[1], "line 31");
        assert_eq!(lines[20], "line 50");
        assert_eq!(tail(b"one\ntwo\n\n", 20), "one\ntwo");
        assert_eq!(tail(b"", 20), "(no output)");
        assert_eq!(tail(b" \n\n", 20), "(no output)");
    }

    #[test]
    fn missing_packages_are_read_from_either_installer() {
        let uv = "error: No solution found when resolving dependencies\n  cause: Because twython \
                  was not found in the cache and you require twython==3.7.0, we can conclude";
        assert_eq!(missing_in_output(uv), vec!["twython"]);
        let pip = "ERROR: Could not find a version that satisfies the requirement six==1.16 \
                   (from versions: none)\nERROR: No matching distribution found for six==1.16";
        assert_eq!(missing_in_output(pip), vec!["six==1.16"]);
        assert!(missing_in_output("all good").is_empty());
    }
}

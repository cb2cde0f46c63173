//! The configured Python interpreter, probed: where it is, which version, whether it can
//! make virtualenvs itself.

use std::io;
use std::process::{Command, Stdio};

use super::build::{status_text, tail};
use super::{VenvError, MIN_PYTHON};

/// What we learned about the configured interpreter.
#[derive(Debug, Clone)]
pub(super) struct Interpreter {
    /// `sys.executable`: what we run to create the venv.
    pub(super) executable: String,
    /// `realpath(sys.executable)`: part of the fingerprint.
    pub(super) resolved: String,
    /// `sys.version`, newlines flattened: part of the fingerprint.
    pub(super) version: String,
    /// Whether `import venv, ensurepip` works.
    pub(super) has_venv: bool,
}

/// Runs under any Python (2 included) so we can say "too old" rather than
/// fail with a syntax error.
const PROBE: &str = r#"
import os, sys
try:
    import venv, ensurepip
    ok = 1
except Exception:
    ok = 0
sys.stdout.write("st2-venv-probe\n%s\n%s\n%d.%d.%d\n%d\n%s\n" % (
    sys.executable, os.path.realpath(sys.executable),
    sys.version_info[0], sys.version_info[1], sys.version_info[2],
    ok, sys.version.replace("\n", " ")))
"#;

pub(super) fn probe_python(python: &str) -> Result<Interpreter, VenvError> {
    let not_found = || VenvError::PythonNotFound {
        python: python.to_string(),
    };
    let unusable = |detail: String| VenvError::PythonUnusable {
        python: python.to_string(),
        detail,
    };
    if python.trim().is_empty() {
        return Err(not_found());
    }
    let output = match Command::new(python)
        .arg("-c")
        .arg(PROBE)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(unusable(e.to_string())),
    };
    if !output.status.success() {
        // 127: a shell wrapper (e.g. a pyenv shim) that found no interpreter.
        if output.status.code() == Some(127) {
            return Err(not_found());
        }
        let mut combined = output.stdout.clone();
        combined.extend_from_slice(&output.stderr);
        let last = tail(&combined, 1);
        return Err(unusable(format!(
            "it exited with {}{}",
            status_text(output.status),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout
        .lines()
        .skip_while(|l| l.trim_end() != "st2-venv-probe")
        .skip(1);
    let mut next = || lines.next().map(|l| l.trim_end().to_string());
    let (Some(executable), Some(resolved), Some(numbers), Some(ok), Some(version)) =
        (next(), next(), next(), next(), next())
    else {
        return Err(unusable("unexpected output when queried".to_string()));
    };
    let parts: Vec<u32> = numbers.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() != 3 || executable.is_empty() {
        return Err(unusable("unexpected output when queried".to_string()));
    }
    if (parts[0], parts[1]) < MIN_PYTHON {
        return Err(VenvError::PythonTooOld {
            python: python.to_string(),
            version: numbers,
        });
    }
    Ok(Interpreter {
        executable,
        resolved,
        version,
        has_venv: ok == "1",
    })
}

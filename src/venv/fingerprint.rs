//! When a virtualenv is up to date: the fingerprint of what it is built from, and the
//! marker file (`.st2-venv.json`) inside the virtualenv that records it.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::interpreter::Interpreter;
use super::{io_err, VenvError, MARKER_FILE};

/// Bumped whenever the way a virtualenv is built changes, so that
/// virtualenvs built by an older st2-rs are rebuilt.
const FINGERPRINT_VERSION: u32 = 1;

/// The fingerprint stored in the marker, and the requirements hash it
/// includes (recorded separately for humans).
#[derive(Debug)]
pub(super) struct Fingerprint {
    pub(super) digest: String,
    pub(super) requirements_sha256: Option<String>,
}

impl Fingerprint {
    /// Set the fingerprint of a pack whose requirements only pip takes. Such virtualenvs
    /// built before pip was chosen for them (or before editable installs were moved
    /// correctly) do not work: a fingerprint of their own rebuilds them once.
    pub(super) fn mark_pip_only(&mut self) {
        self.digest = hex::encode(Sha256::digest(format!("{}:pip-only:1", self.digest)));
    }
}

pub(super) fn fingerprint(
    requirements: Option<&[u8]>,
    base_requirements: &[String],
    interp: &Interpreter,
    virtualenv_opts: &[String],
    pip_opts: &[String],
) -> Fingerprint {
    #[derive(Serialize)]
    struct Input<'a> {
        version: u32,
        requirements_sha256: Option<&'a str>,
        // Left out when empty, so that virtualenvs built before it existed stay valid.
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        base_requirements: &'a [String],
        python: &'a str,
        python_version: &'a str,
        virtualenv_opts: &'a [String],
        pip_opts: &'a [String],
    }
    let requirements_sha256 = requirements.map(|content| hex::encode(Sha256::digest(content)));
    let input = Input {
        version: FINGERPRINT_VERSION,
        requirements_sha256: requirements_sha256.as_deref(),
        base_requirements,
        python: &interp.resolved,
        python_version: &interp.version,
        virtualenv_opts,
        pip_opts,
    };
    let bytes = serde_json::to_vec(&input).expect("serializing strings cannot fail");
    Fingerprint {
        digest: hex::encode(Sha256::digest(&bytes)),
        requirements_sha256,
    }
}

/// Content of `<venv>/.st2-venv.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Marker {
    pub(super) fingerprint: String,
    pub(super) tool: String,
    pub(super) created_at: String,
    pub(super) python: String,
    pub(super) python_version: String,
    pub(super) requirements_sha256: Option<String>,
    pub(super) virtualenv_opts: Vec<String>,
    pub(super) pip_opts: Vec<String>,
    /// What the virtualenv held before its requirements were installed (`name==version`),
    /// left out of the lock file's packages; absent in virtualenvs of older st2-rs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) seed: Option<Vec<String>>,
}

pub(super) fn read_marker(venv_dir: &Path) -> Option<Marker> {
    let bytes = fs::read(venv_dir.join(MARKER_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn write_marker(venv_dir: &Path, marker: &Marker) -> Result<(), VenvError> {
    let path = venv_dir.join(MARKER_FILE);
    let mut bytes = serde_json::to_vec_pretty(marker).expect("serializing strings cannot fail");
    bytes.push(b'\n');
    fs::write(&path, bytes).map_err(io_err(&path))
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn rfc3339_now() -> String {
    rfc3339(jiff::Timestamp::now())
}

/// A time as the marker records it: UTC, to the second (truncated).
fn rfc3339(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_covers_requirements_interpreter_and_options() {
        let interp = Interpreter {
            executable: "/usr/bin/python3".into(),
            resolved: "/usr/bin/python3.11".into(),
            version: "3.11.2 (main)".into(),
            has_venv: true,
        };
        let opts = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let base = fingerprint(Some(b"requests\n"), &[], &interp, &[], &[]).digest;
        assert_eq!(
            base,
            fingerprint(Some(b"requests\n"), &[], &interp, &[], &[]).digest
        );
        let mut variants = vec![
            fingerprint(Some(b"requests==2\n"), &[], &interp, &[], &[]).digest,
            fingerprint(None, &[], &interp, &[], &[]).digest,
            fingerprint(Some(b""), &[], &interp, &[], &[]).digest,
            fingerprint(
                Some(b"requests\n"),
                &[],
                &interp,
                &opts(&["--system-site-packages"]),
                &[],
            )
            .digest,
            fingerprint(
                Some(b"requests\n"),
                &[],
                &interp,
                &[],
                &opts(&["--no-index"]),
            )
            .digest,
        ];
        let mut other = interp.clone();
        other.version = "3.11.3 (main)".into();
        variants.push(fingerprint(Some(b"requests\n"), &[], &other, &[], &[]).digest);
        let mut other = interp.clone();
        other.resolved = "/opt/python/bin/python3.11".into();
        variants.push(fingerprint(Some(b"requests\n"), &[], &other, &[], &[]).digest);
        // `executable` is how we call it, not what it is.
        let mut same = interp.clone();
        same.executable = "/usr/local/bin/python3".into();
        assert_eq!(
            base,
            fingerprint(Some(b"requests\n"), &[], &same, &[], &[]).digest
        );
        variants.push(base);
        let count = variants.len();
        variants.sort();
        variants.dedup();
        assert_eq!(variants.len(), count, "fingerprints collide");
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        let at = |secs| jiff::Timestamp::from_second(secs).unwrap();
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
    }
}

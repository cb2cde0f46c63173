//! Tests of the whole: virtualenvs built, reused, updated and rebuilt with uv and pip from
//! offline requirements, and the errors a user sees.

use std::process::{Command, Stdio};
use std::time::Instant;

use super::build::TAIL_LINES;
use super::fingerprint::read_marker;
use super::plan::find_uv;
use super::*;

/// The interpreter the tests build from.
fn test_python() -> String {
    std::env::var(crate::settings::env::ST2_TEST_PYTHON).unwrap_or_else(|_| "python3".to_string())
}

/// Writes `localpkg-<version>` as a wheel (a zip with the module, its
/// dist-info and a console script) so requirements install offline.
const MAKE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
ver, out = sys.argv[1], sys.argv[2]
files = {
    "localpkg/__init__.py": "VALUE = %r\ndef hello():\n    print('hello', VALUE)\n" % ver,
    "localpkg-%s.dist-info/METADATA" % ver: "Metadata-Version: 2.1\nName: localpkg\nVersion: %s\n" % ver,
    "localpkg-%s.dist-info/WHEEL" % ver: "Wheel-Version: 1.0\nGenerator: st2-rs-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "localpkg-%s.dist-info/entry_points.txt" % ver: "[console_scripts]\nlocalpkg-hello = localpkg:hello\n",
}
record = "localpkg-%s.dist-info/RECORD" % ver
lines = []
with zipfile.ZipFile(out, "w") as z:
    for name, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (name, digest, len(data)))
        z.writestr(name, data)
    lines.append(record + ",,")
    z.writestr(record, "\n".join(lines) + "\n")
"#;

/// Builds `<pack>/wheels/localpkg-<version>-py3-none-any.whl` and
/// returns the requirement line for it, relative to the pack directory.
fn make_wheel(pack_dir: &Path, version: &str) -> String {
    let wheels = pack_dir.join("wheels");
    fs::create_dir_all(&wheels).unwrap();
    let name = format!("localpkg-{version}-py3-none-any.whl");
    let status = Command::new(test_python())
        .arg("-c")
        .arg(MAKE_WHEEL)
        .arg(version)
        .arg(wheels.join(&name))
        .status()
        .unwrap();
    assert!(status.success());
    format!("./wheels/{name}")
}

struct Fixture {
    _tmp: tempfile::TempDir,
    pack_dir: PathBuf,
    virtualenvs: PathBuf,
    venv_dir: PathBuf,
    python: String,
    pip_opts: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let pack_dir = tmp.path().join("packs").join("mypack");
        fs::create_dir_all(&pack_dir).unwrap();
        let virtualenvs = tmp.path().join("virtualenvs");
        let venv_dir = virtualenvs.join("mypack");
        Fixture {
            _tmp: tmp,
            pack_dir,
            virtualenvs,
            venv_dir,
            python: test_python(),
            pip_opts: vec!["--no-index".to_string()],
        }
    }

    fn spec(&self) -> VenvSpec<'_> {
        VenvSpec {
            pack_ref: "mypack",
            pack_dir: &self.pack_dir,
            venv_dir: &self.venv_dir,
            python: &self.python,
            virtualenv_opts: &[],
            pip_opts: &self.pip_opts,
            resolution: Resolution::default(),
        }
    }

    fn write_requirements(&self, content: &str) {
        fs::write(self.pack_dir.join(REQUIREMENTS_FILE), content).unwrap();
    }

    /// `localpkg.VALUE` as seen by the final venv's interpreter.
    fn imported_value(&self) -> String {
        let out = Command::new(python_path(&self.venv_dir))
            .args(["-c", "import localpkg; print(localpkg.VALUE)"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Names in `<virtualenvs>` other than the venv and its lock file.
    fn leftovers(&self) -> Vec<String> {
        fs::read_dir(&self.virtualenvs)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "mypack" && n != ".st2-venv-mypack.lock")
            .collect()
    }
}

/// Full cycle with one installer: create, reuse, update, failed update
/// keeps the old venv, forced rebuild.
fn lifecycle(installer: VenvTool) {
    let fx = Fixture::new();
    let v1 = make_wheel(&fx.pack_dir, "1.0");
    fx.write_requirements(&format!("# comment\n{v1}\n"));

    // Create: built in a staging dir, then moved to the final path; the
    // moved venv still imports the package and runs console scripts.
    let start = Instant::now();
    let (outcome, used) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
    eprintln!("{installer}: create took {:?}", start.elapsed());
    assert_eq!((outcome, used), (VenvOutcome::Created, installer));
    assert_eq!(fx.imported_value(), "1.0");
    let hello = Command::new(fx.venv_dir.join("bin").join("localpkg-hello"))
        .output()
        .unwrap();
    assert!(
        hello.status.success(),
        "{}",
        String::from_utf8_lossy(&hello.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&hello.stdout).trim(), "hello 1.0");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    let marker = read_marker(&fx.venv_dir).expect("marker written");
    assert_eq!(marker.tool, installer.as_str());
    assert_eq!(marker.pip_opts, fx.pip_opts);

    // Reuse: nothing changed, nothing touched.
    let marker_path = fx.venv_dir.join(MARKER_FILE);
    let before = (
        fs::metadata(&fx.venv_dir).unwrap().modified().unwrap(),
        fs::read(&marker_path).unwrap(),
        fs::metadata(&marker_path).unwrap().modified().unwrap(),
    );
    let start = Instant::now();
    let (outcome, used) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
    let took = start.elapsed();
    eprintln!("{installer}: reuse took {took:?}");
    assert_eq!((outcome, used), (VenvOutcome::Reused, installer));
    assert!(took.as_secs_f64() < 2.0, "reuse took {took:?}");
    let after = (
        fs::metadata(&fx.venv_dir).unwrap().modified().unwrap(),
        fs::read(&marker_path).unwrap(),
        fs::metadata(&marker_path).unwrap().modified().unwrap(),
    );
    assert_eq!(before, after);

    // Update: requirements changed.
    let v2 = make_wheel(&fx.pack_dir, "2.0");
    fx.write_requirements(&format!("{v2}\n"));
    let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
    assert_eq!(outcome, VenvOutcome::Updated);
    assert_eq!(fx.imported_value(), "2.0");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());

    // Failure: a requirement that cannot be found offline. The old venv
    // keeps working, no staging dir is left, the error names the file
    // and shows the installer's last lines.
    fx.write_requirements(&format!("{v2}\nst2rs-no-such-package-xyz\n"));
    let err = ensure_with(&fx.spec(), Some(installer), false).unwrap_err();
    let msg = err.to_string();
    eprintln!("{installer}: failure message:\n{msg}");
    let requirements = fx.pack_dir.join(REQUIREMENTS_FILE);
    assert!(
        matches!(&err, VenvError::InstallFailed { requirements: r, .. } if r == &requirements),
        "{err:?}"
    );
    assert!(msg.starts_with(&format!(
        "Failed to install requirements from \"{}\" ({installer} exited with status 1):\n",
        requirements.display()
    )));
    assert!(msg.contains("st2rs-no-such-package-xyz"), "{msg}");
    assert!(msg.lines().count() <= TAIL_LINES + 2, "{msg}");
    assert_eq!(fx.imported_value(), "2.0");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());

    // Forced rebuild, even though the (restored) requirements match.
    fx.write_requirements(&format!("{v2}\n"));
    let sentinel = fx.venv_dir.join("sentinel");
    fs::write(&sentinel, "old venv").unwrap();
    let (outcome, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
    assert_eq!((outcome, used), (VenvOutcome::Updated, installer));
    assert!(!sentinel.exists(), "venv was not rebuilt");
    assert_eq!(fx.imported_value(), "2.0");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
}

#[test]
fn pip_lifecycle() {
    lifecycle(VenvTool::Pip);
}

#[test]
fn uv_lifecycle() {
    if find_uv().is_none() {
        eprintln!("skipping uv_lifecycle: no `uv` on PATH");
        return;
    }
    lifecycle(VenvTool::Uv);
}

#[test]
fn pack_without_requirements_gets_a_bare_venv() {
    let fx = Fixture::new();
    let installer = if find_uv().is_some() {
        VenvTool::Uv
    } else {
        VenvTool::Pip
    };
    let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
    assert_eq!(outcome, VenvOutcome::Created);
    let status = Command::new(python_path(&fx.venv_dir))
        .args(["-c", "import sys; assert sys.prefix != sys.base_prefix"])
        .status()
        .unwrap();
    assert!(status.success());
    let marker = read_marker(&fx.venv_dir).unwrap();
    assert_eq!(marker.requirements_sha256, None);
    let (outcome, _) = ensure_with(&fx.spec(), Some(installer), false).unwrap();
    assert_eq!(outcome, VenvOutcome::Reused);
}

#[test]
fn python_not_found() {
    let mut fx = Fixture::new();
    fx.python = "/nonexistent/bin/python3.99".to_string();
    let err = ensure_with(&fx.spec(), Some(VenvTool::Pip), false).unwrap_err();
    assert!(matches!(err, VenvError::PythonNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("/nonexistent/bin/python3.99"), "{msg}");
    assert!(msg.contains("[actionrunner] python_binary"), "{msg}");
    assert!(!fx.venv_dir.exists());
}

/// A shell script answering the probe like a given interpreter would.
fn fake_python(dir: &Path, version: &str, has_venv: bool) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("fakepython-{version}-{has_venv}"));
    let script = format!(
        "#!/bin/sh\nprintf 'st2-venv-probe\\n/usr/bin/python3\\n/usr/bin/python3\\n{version}\\n{}\\n{version} (fake)\\n'\n",
        u8::from(has_venv)
    );
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn python_too_old_and_venv_module_missing() {
    let mut fx = Fixture::new();
    let dir = fx.pack_dir.clone();

    fx.python = fake_python(&dir, "2.7.18", false);
    let err = ensure_with(&fx.spec(), Some(VenvTool::Pip), false).unwrap_err();
    assert!(matches!(&err, VenvError::PythonTooOld { version, .. } if version == "2.7.18"));
    assert!(err.to_string().contains("3.8 or newer"), "{err}");

    fx.python = fake_python(&dir, "3.11.2", false);
    let err = ensure_with(&fx.spec(), Some(VenvTool::Pip), false).unwrap_err();
    assert!(
        matches!(err, VenvError::VenvModuleMissing { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("apt-get install python3-venv"), "{msg}");
    assert!(!fx.venv_dir.exists());
}

#[test]
fn invalid_pack_ref_is_rejected() {
    let fx = Fixture::new();
    let mut spec = fx.spec();
    spec.pack_ref = "../evil";
    let err = ensure_with(&spec, Some(VenvTool::Pip), false).unwrap_err();
    assert!(matches!(err, VenvError::InvalidPackRef { .. }), "{err:?}");
}

/// An in-tree PEP 517 backend with no requirements, so that pip and uv
/// build `tinypkg` from a git checkout offline: a wheel with the module,
/// or (editable) a `.pth` pointing at the checkout.
const TINY_BACKEND: &str = r#"
import base64, hashlib, os, zipfile
NAME, VERSION = "tinypkg", "0.1.0"
def _wheel(directory, files):
    dist = "%s-%s.dist-info" % (NAME, VERSION)
    files = dict(files)
    files[dist + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION)
    files[dist + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    name = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
            z.writestr(path, data)
        record.append(dist + "/RECORD,,")
        z.writestr(dist + "/RECORD", "\n".join(record) + "\n")
    return name
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join("tinypkg", "__init__.py")) as f:
        return _wheel(wheel_directory, {"tinypkg/__init__.py": f.read()})
def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {"tinypkg.pth": os.path.abspath(".") + "\n"})
def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError
"#;

/// A git repository holding `tinypkg` (`VALUE = "from git"`), with a
/// `feature` branch; returns its `file://` URL.
fn tiny_git_repo(dir: &Path) -> String {
    let repo = dir.join("tinyrepo");
    fs::create_dir_all(repo.join("tinypkg")).unwrap();
    fs::write(
        repo.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"tinybackend\"\nbackend-path = [\".\"]\n",
    )
    .unwrap();
    fs::write(repo.join("tinybackend.py"), TINY_BACKEND).unwrap();
    fs::write(repo.join("tinypkg/__init__.py"), "VALUE = 'from git'\n").unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "tinypkg"]);
    git(&["branch", "feature"]);
    format!("file://{}", repo.display())
}

/// `tinypkg.VALUE` and `tinypkg.__file__` as the final venv sees them.
fn tiny_import(venv_dir: &Path) -> (String, String) {
    let out = Command::new(python_path(venv_dir))
        .args([
            "-c",
            "import tinypkg; print(tinypkg.VALUE); print(tinypkg.__file__)",
        ])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap(), lines.next().unwrap())
}

/// `-e git+URL#egg=x` as StackStorm installs it (pip): an editable
/// checkout in `<venv>/src/`, still importable once the venv built in
/// staging is moved into place; also with a branch.
fn editable_git_requirement(installer: VenvTool) {
    let fx = Fixture::new();
    let url = tiny_git_repo(fx._tmp.path());
    for line in [
        format!("-e git+{url}#egg=tinypkg"),
        format!("--editable=git+{url}@feature#egg=tinypkg"),
    ] {
        fx.write_requirements(&format!("six; python_version < '3'\n{line}\n"));
        let (_, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
        // uv cannot install it: pip does, whatever was chosen.
        assert_eq!(used, VenvTool::Pip, "{line}");
        let (value, file) = tiny_import(&fx.venv_dir);
        assert_eq!(value, "from git");
        assert!(
            Path::new(&file).starts_with(fx.venv_dir.join("src")),
            "{file} is not in the editable checkout"
        );
        assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    }
    // A plain git requirement goes to the chosen installer.
    fx.write_requirements(&format!("git+{url}#egg=tinypkg\n"));
    let (_, used) = ensure_with(&fx.spec(), Some(installer), true).unwrap();
    assert_eq!(used, installer);
    let (value, file) = tiny_import(&fx.venv_dir);
    assert_eq!(value, "from git");
    assert!(file.contains("site-packages"), "{file}");
}

#[test]
fn editable_git_requirement_with_pip() {
    editable_git_requirement(VenvTool::Pip);
}

#[test]
fn editable_git_requirement_with_uv() {
    if find_uv().is_none() {
        eprintln!("skipping editable_git_requirement_with_uv: no `uv` on PATH");
        return;
    }
    editable_git_requirement(VenvTool::Uv);
}

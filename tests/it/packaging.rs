//! How st2-rs ships (issue 20): one binary that is `st2ctl` too when called by that name, and
//! the `.deb` and tarball of `scripts/release.sh`, installed with `dpkg -i` on this machine.
//!
//! The release build itself (static flags, several minutes) is not made here: the script
//! packages the binary `cargo test` built (`--binary`, stripped first so that packing it is
//! quick), which is the same program; `bash scripts/release.sh --check` does the same checks
//! on the real artifact.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::common::*;

/// The `st2` binary reached through a link named `st2ctl`: it answers as `st2ctl` (the
/// packages install one binary and this link).
#[test]
fn st2_called_as_st2ctl_is_st2ctl() {
    let home = Home::new();
    pack_files(&home.pack("demo"), "demo", "1.0.0", &["hello"]);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("st2ctl");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("st2"), &link).unwrap();
    let version = StdCommand::new(&link).arg("--version").output().unwrap();
    assert_eq!(
        stdout(&version),
        format!("st2ctl {}\n", env!("CARGO_PKG_VERSION"))
    );
    let output = StdCommand::new(&link)
        .env("NO_COLOR", "1")
        .env_remove("ST2_CONF")
        .env_remove("ST2_BASE_PATH")
        .arg("--config-file")
        .arg(&home.conf)
        .arg("reload")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Registered 1 actions."),
        "{}",
        stdout(&output)
    );
}

/// A copy of the test build of `st2` without its debug information (a few seconds to pack
/// instead of a minute).
fn stripped_binary(dir: &Path) -> PathBuf {
    let binary = dir.join("st2");
    std::fs::copy(assert_cmd::cargo::cargo_bin("st2"), &binary).unwrap();
    let status = StdCommand::new("strip")
        .args(["--strip-debug"])
        .arg(&binary)
        .status()
        .unwrap();
    assert!(status.success());
    binary
}

/// `scripts/release.sh --binary BIN --out DIR --quick`: the artifacts it wrote.
fn package(binary: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release.sh");
    let output = StdCommand::new("bash")
        .arg(script)
        .arg("--binary")
        .arg(binary)
        .arg("--out")
        .arg(out)
        .arg("--quick")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let version = env!("CARGO_PKG_VERSION");
    let deb = out.join(format!("st2-rs_{version}_amd64.deb"));
    let tarball = out.join(format!("st2-rs-{version}-x86_64-linux.tar.gz"));
    assert!(deb.is_file() && tarball.is_file());
    (deb, tarball)
}

/// The tarball: `bin/st2`, `bin/st2ctl` (a link), the manual pages and completions under
/// `share/`, README and LICENSE, and checksums that match.
#[test]
fn the_tarball_holds_the_binary_pages_and_completions_with_checksums() {
    if skip_unless(
        on_path("dpkg-deb") && on_path("strip"),
        "needs dpkg-deb and strip (Debian/Ubuntu: apt-get install dpkg-dev binutils)",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let binary = stripped_binary(work.path());
    let out = work.path().join("dist");
    let (_, tarball) = package(&binary, &out);
    let sums = StdCommand::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{}", stdout(&sums));
    let list = StdCommand::new("tar")
        .arg("-tzvf")
        .arg(&tarball)
        .output()
        .unwrap();
    let list = stdout(&list);
    let name = format!("st2-rs-{}", env!("CARGO_PKG_VERSION"));
    for path in [
        "bin/st2",
        "bin/st2ctl -> st2",
        "share/man/man1/st2.1.gz",
        "share/man/man1/st2ctl.1.gz",
        "share/man/man1/st2-pack-install.1.gz",
        "share/bash-completion/completions/st2",
        "share/zsh/vendor-completions/_st2",
        "share/fish/vendor_completions.d/st2.fish",
        "README.md",
        "LICENSE",
    ] {
        assert!(list.contains(&format!("{name}/{path}")), "{path}:\n{list}");
    }
}

/// `dpkg -i` of the `.deb` on this machine: `st2 --version`, `st2ctl --version`, `man st2` and
/// the bash completion of `st2 pa` work from where Debian puts them; then it is purged. Runs
/// one at a time on a machine (a lock file), and only where no other `st2` is installed.
#[test]
fn the_deb_installs_with_dpkg_and_brings_man_pages_and_completions() {
    let root = StdCommand::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if skip_unless(
        root && on_path("dpkg") && on_path("man") && on_path("strip"),
        "needs root, dpkg, man and strip (Debian/Ubuntu as root: apt-get install man-db \
         binutils; scripts/setup.sh --ci installs them)",
    ) {
        return;
    }
    let lock = std::fs::File::create(std::env::temp_dir().join("st2-rs-dpkg-test.lock")).unwrap();
    lock.lock().unwrap();
    let owner = StdCommand::new("dpkg")
        .args(["-S", "/usr/bin/st2"])
        .output()
        .unwrap();
    let ours_or_none = !Path::new("/usr/bin/st2").exists() || stdout(&owner).starts_with("st2-rs:");
    if skip_unless(
        ours_or_none,
        "/usr/bin/st2 belongs to something else on this machine; the test would replace it",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let binary = stripped_binary(work.path());
    let (deb, _) = package(&binary, &work.path().join("dist"));
    // Minimal images exclude manual pages from installs (/etc/dpkg/dpkg.cfg.d): include ours.
    let install = StdCommand::new("dpkg")
        .args(["-i", "--path-include=/usr/share/man/man1/st2*"])
        .arg(&deb)
        .output()
        .unwrap();
    struct Purge;
    impl Drop for Purge {
        fn drop(&mut self) {
            let _ = StdCommand::new("dpkg").args(["--purge", "st2-rs"]).output();
        }
    }
    let _purge = Purge;
    assert!(install.status.success(), "{}", stderr(&install));

    let version = StdCommand::new("/usr/bin/st2")
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&version),
        format!("st2 {}\n", env!("CARGO_PKG_VERSION"))
    );
    let version = StdCommand::new("/usr/bin/st2ctl")
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        stdout(&version).starts_with("st2ctl "),
        "{}",
        stdout(&version)
    );

    let man = StdCommand::new("man")
        .arg("st2")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(man.status.success(), "{}", stderr(&man));
    assert!(
        stdout(&man).contains("st2 - StackStorm-compatible pack manager and action runner"),
        "{}",
        stdout(&man)
    );
    let man = StdCommand::new("man")
        .arg("st2-pack-install")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert!(man.status.success(), "{}", stderr(&man));

    let completion = StdCommand::new("bash")
        .arg("-c")
        .arg(
            "source /usr/share/bash-completion/completions/st2; \
             COMP_WORDS=(st2 pa); COMP_CWORD=1; COMP_LINE='st2 pa'; COMP_POINT=6; \
             _st2 st2 pa st2; echo \"${COMPREPLY[*]}\"",
        )
        .output()
        .unwrap();
    assert_eq!(
        stdout(&completion).trim(),
        "pack",
        "{}",
        stderr(&completion)
    );
}

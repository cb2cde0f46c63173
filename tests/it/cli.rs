//! Global behaviour: version, help, completions, man page, settings errors.

use predicates::prelude::*;

use crate::common::*;

#[test]
fn version_help_completions_and_man_page() {
    let home = Home::new();
    home.st2()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("st2 "));
    for args in [
        vec!["--help"],
        vec!["pack", "--help"],
        vec!["pack", "install", "--help"],
        vec!["pack", "list", "--help"],
        vec!["pack", "get", "--help"],
        vec!["pack", "show", "--help"],
        vec!["pack", "search", "--help"],
        vec!["pack", "remove", "--help"],
        vec!["pack", "register", "--help"],
        vec!["completion", "--help"],
    ] {
        home.st2()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage"));
    }
    home.st2ctl().args(["reload", "--help"]).assert().success();
    for shell in ["bash", "zsh", "fish"] {
        home.st2()
            .args(["completion", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("install"));
    }
    home.st2()
        .args(["man"])
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH st2"));
}

#[test]
fn usage_errors_exit_2_and_bad_config_files_exit_1() {
    let home = Home::new();
    home.st2().args(["pack", "install"]).assert().code(2);
    home.st2().args(["pack", "frobnicate"]).assert().code(2);
    let bad = home.dir.path().join("bad.conf");
    std::fs::write(&bad, "[system]\nbase_path = /tmp\nnot an option line\n").unwrap();
    assert_cmd::Command::cargo_bin("st2")
        .unwrap()
        .env("ST2_CONF", &bad)
        .args(["pack", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.conf: line 3"));
    assert_cmd::Command::cargo_bin("st2")
        .unwrap()
        .args(["--config-file", "/nonexistent/st2.conf", "pack", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read config file /nonexistent/st2.conf",
        ));
}

#[test]
fn debug_logs_go_to_stderr() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["--debug", "pack", "list", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(stderr(&output).contains("DEBUG"), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "[]");
}

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
    let packs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(packs[0]["ref"], "core", "only the built-in pack: {packs}");
}

#[test]
fn usage_errors_in_values_exit_2() {
    let home = Home::new();
    home.st2()
        .args(["execution", "list", "--status", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "possible values: requested, running",
        ));
    home.st2()
        .args(["key", "set", "NAME"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no value was given"));
    home.st2()
        .args(["man", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the pages are: st2, st2-action"));
    home.st2()
        .args(["pack", "list", "-j", "-y"])
        .assert()
        .code(2);
}

#[test]
fn every_manual_page_a_page_names_exists() {
    let home = Home::new();
    let dir = home.dir.path().join("man");
    home.st2()
        .args(["man", "--output-dir", dir.to_str().unwrap()])
        .assert()
        .success();
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in ["st2.1", "st2ctl.1", "st2-pack-install.1", "st2ctl-reload.1"] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    let reference = regex::Regex::new(r"(st2[a-z_\\-]*)\(1\)").unwrap();
    for page in &pages {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        for named in reference.captures_iter(&text) {
            let file = format!("{}.1", named[1].replace("\\-", "-"));
            assert!(
                pages.contains(&file),
                "{page} names {file}, which is missing"
            );
        }
        // Each page prints on its own too, titled with its own name.
        let name = page.trim_end_matches(".1");
        home.st2()
            .args(["man", name])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(".TH {name} 1")));
    }
}

#[test]
fn help_keeps_global_options_apart() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["pack", "install", "--help"])
        .output()
        .unwrap();
    let help = stdout(&output);
    let global = help
        .find("Global options:")
        .expect("a global options heading");
    assert!(help.find("--force").unwrap() < global, "{help}");
    assert!(help.find("--config-file").unwrap() > global, "{help}");
}

#[test]
fn debug_logs_have_no_colour_codes_in_a_pipe() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["--debug", "pack", "list"])
        .output()
        .unwrap();
    assert!(stderr(&output).contains("DEBUG"));
    assert!(!stderr(&output).contains('\x1b'), "{:?}", stderr(&output));
}

#[test]
fn the_builtin_core_pack_is_listed_and_shown() {
    let home = Home::new();
    let output = home.st2().args(["pack", "list", "-j"]).output().unwrap();
    let packs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(packs[0]["ref"], "core", "{packs}");
    assert_eq!(packs[0]["version"], "3.9.0");
    let output = home
        .st2()
        .args(["pack", "get", "core", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let core: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(core["description"], "Basic core actions.");
    assert_eq!(core["content"]["actions"], 15);
}

#[test]
fn execution_get_succeeds_whatever_the_status_and_a_missing_key_warns() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["run", "core.local", "cmd=exit 3", "-j"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let execution: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = execution["id"].as_str().unwrap();
    // As st2client: it showed what was asked.
    home.st2()
        .args(["execution", "get", id])
        .assert()
        .success()
        .stdout(predicate::str::contains("status: failed"));
    home.st2()
        .args(["execution", "get", id, "-k", "nosuch"])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: the result of execution"));
    // `st2 run -k` with a missing key keeps the execution's exit status.
    home.st2()
        .args(["run", "core.local", "cmd=true", "-k", "nosuch"])
        .assert()
        .success()
        .stderr(predicate::str::contains("has no key \"nosuch\""));
    home.st2()
        .args(["run", "core.local", "cmd=false", "-k", "nosuch"])
        .assert()
        .code(1);
}

#[test]
fn piped_tables_wrap_long_descriptions_without_losing_words() {
    let mut home = Home::new();
    let words: Vec<String> = (0..80).map(|i| format!("word{i}")).collect();
    let mut index = index_json(&[("longpack", "file:///nowhere".into(), &["1.0.0"])]);
    index["packs"]["longpack"]["description"] = serde_json::json!(words.join(" "));
    let url = write_index(home.dir.path(), &index);
    home.set_index_urls(&[url]);
    for (columns, width) in [(None, 150), (Some("60"), 60)] {
        let mut command = home.st2();
        command.args(["pack", "search", "longpack"]);
        match columns {
            Some(columns) => command.env("COLUMNS", columns),
            None => command.env_remove("COLUMNS"),
        };
        let output = command.output().unwrap();
        let table = stdout(&output);
        let widest = table.lines().map(|line| line.chars().count()).max();
        assert_eq!(widest, Some(width), "{table}");
        for word in &words {
            assert!(table.contains(word.as_str()), "{word} lost:\n{table}");
        }
    }
}

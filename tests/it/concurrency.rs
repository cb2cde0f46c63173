//! Concurrency: many commands on one StackStorm home at once. Nothing is lost, and no command
//! fails with "database is locked" (the store waits for its turn instead).

use std::process::{Output, Stdio};

use serde_json::Value;

use crate::common::*;

/// Start `program ARGS` on `home` without waiting, stdout and stderr piped.
fn spawn(home: &Home, program: &str, args: &[&str]) -> std::process::Child {
    home.spawn(program, args, Stdio::piped())
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        stdout(output),
        stderr(output)
    );
    assert!(
        !stderr(output).contains("locked"),
        "{what}: {}",
        stderr(output)
    );
}

/// 8 installs of different packs and 2 of the same pack, all at once.
#[test]
fn ten_installs_at_once_all_land() {
    let home = Home::new();
    let mut repos = Vec::new();
    for index in 0..8 {
        let name = format!("para{index}");
        repos.push(GitRepo::pack(
            &home.dir.path().join("remotes").join(&name),
            &name,
            &["1.0.0"],
        ));
    }
    repos.push(GitRepo::pack(
        &home.dir.path().join("remotes/twice"),
        "twice",
        &["1.0.0"],
    ));
    let mut arguments: Vec<String> = repos.iter().map(GitRepo::url).collect();
    arguments.push(repos[8].url());
    let children: Vec<_> = arguments
        .iter()
        .map(|url| spawn(&home, "st2", &["pack", "install", url]))
        .collect();
    for (child, url) in children.into_iter().zip(&arguments) {
        assert_ok(&child.wait_with_output().unwrap(), url);
    }
    let mut installed = home.installed();
    installed.sort();
    let mut expected: Vec<String> = (0..8).map(|index| format!("para{index}")).collect();
    expected.push("twice".into());
    assert_eq!(installed, expected);
    for pack in &expected {
        assert!(
            home.pack(pack).join("actions/hello.yaml").is_file(),
            "{pack}"
        );
        assert_eq!(
            home.query(&format!("SELECT ref FROM actions WHERE pack = '{pack}'")),
            [format!("{pack}.hello")]
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(home.packs())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// 100 `st2 run` at once: each succeeds, prints its own output, and is recorded once.
#[test]
fn a_hundred_runs_at_once_are_all_recorded() {
    let home = Home::new();
    // The store exists already, as after any first command.
    assert_ok(
        &home.st2().args(["run", "core.noop"]).output().unwrap(),
        "first run",
    );
    let runs = 100;
    let children: Vec<_> = (0..runs)
        .map(|index| {
            spawn(
                &home,
                "st2",
                &["run", "core.local", &format!("cmd=echo run-{index}"), "-j"],
            )
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (index, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_ok(&output, &format!("run {index}"));
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(execution["result"]["stdout"], format!("run-{index}"));
        ids.insert(execution["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), runs);
    let recorded = home.query("SELECT id FROM executions WHERE action_ref = 'core.local'");
    assert_eq!(recorded.len(), runs);
    assert!(recorded.iter().all(|id| ids.contains(id)));
    assert_eq!(
        home.query("SELECT DISTINCT status FROM executions"),
        ["succeeded"]
    );
}

/// Reloads while a pack's actions run: every run finds its action, every reload succeeds.
#[test]
fn reload_while_actions_run() {
    let home = Home::new();
    for index in 0..6 {
        let name = format!("busy{index}");
        pack_files(&home.pack(&name), &name, "1.0.0", &["one", "two", "three"]);
    }
    assert_ok(&home.st2ctl().arg("reload").output().unwrap(), "reload");
    let reloads: Vec<_> = (0..4)
        .map(|_| spawn(&home, "st2ctl", &["reload", "--register-all"]))
        .collect();
    let runs: Vec<_> = (0..40)
        .map(|index| {
            let action = format!("busy{}.two", index % 6);
            spawn(&home, "st2", &["run", &action, "cmd=echo ran", "-j"])
        })
        .collect();
    for (index, child) in runs.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_ok(&output, &format!("run {index}"));
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(execution["result"]["stdout"], "ran");
    }
    for child in reloads {
        assert_ok(&child.wait_with_output().unwrap(), "reload");
    }
    assert_eq!(
        home.query("SELECT CAST(count(*) AS TEXT) FROM executions"),
        ["40"]
    );
    assert_eq!(
        home.query("SELECT CAST(count(*) AS TEXT) FROM actions"),
        ["18"]
    );
}

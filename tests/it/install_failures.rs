//! `st2 pack install` of several packs when one fails (issue 14): every name is resolved
//! before anything is downloaded, virtualenvs are built only once every pack is good and only
//! in staging, the error names the pack that failed and says what became of the others, and
//! nothing is left behind: no pack, no virtualenv, no staging directory, no installer process,
//! after a failure, after Ctrl-C (SIGINT) during the virtualenv step, and, once the next
//! command ran, after SIGKILL. Progress lines name packs, not the raw arguments.
//!
//! Ours: upstream's `packs.install` workflow downloads each pack in turn and leaves what it
//! downloaded and built when a later one fails, and has no Ctrl-C handling of its own (the
//! workflow runs on the server).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::common::*;

/// A pack with one Python action (so it gets a virtualenv) and, when given, requirements.
pub(crate) fn python_pack(
    dir: &std::path::Path,
    name: &str,
    version: &str,
    requirements: Option<&str>,
) {
    pack_files(dir, name, version, &[]);
    write(
        dir,
        "actions/hello.yaml",
        "---\nname: hello\nrunner_type: python-script\nentry_point: hello.py\n",
    );
    write(
        dir,
        "actions/hello.py",
        "from st2common.runners.base_action import Action\n\n\nclass Hello(Action):\n    \
         def run(self):\n        return 'hello'\n",
    );
    if let Some(requirements) = requirements {
        write(dir, "requirements.txt", requirements);
    }
}

/// Every name in the packs and virtualenvs directories (the lock files of virtualenvs aside).
fn left_on_disk(home: &Home) -> Vec<String> {
    let mut names = Vec::new();
    for dir in [home.packs(), home.base.join("virtualenvs")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if !name.ends_with(".lock") {
                    names.push(format!(
                        "{}/{name}",
                        dir.file_name().unwrap().to_str().unwrap()
                    ));
                }
            }
        }
    }
    names.sort();
    names
}

/// `text` with the test's temporary directory written `[TMP]`, for snapshots.
fn filtered(home: &Home, text: &str) -> String {
    text.replace(home.dir.path().to_str().unwrap(), "[TMP]")
}

/// Processes whose command line mentions the test's home (installers left running).
fn processes_in(home: &Home) -> String {
    processes_matching(home.dir.path().to_str().unwrap()).join("\n")
}

#[test]
fn an_unknown_name_among_several_stops_the_install_before_any_download() {
    let mut home = Home::new();
    let demo = GitRepo::pack(&home.dir.path().join("remotes/demo"), "demo", &["1.0.0"]);
    let other = GitRepo::pack(&home.dir.path().join("remotes/other"), "other", &["2.0.0"]);
    home.set_index_urls(&[write_index(
        home.dir.path(),
        &index_json(&[
            ("demo", demo.url(), &["1.0.0"]),
            ("other", other.url(), &["2.0.0"]),
        ]),
    )]);
    let output = home
        .st2()
        .args(["pack", "install", "demo", "nosuchpack", "other", "-j"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(filtered(&home, &stderr(&output)), @r###"
    demo             resolve    file://[TMP]/remotes/demo at 1.0.0
    other            resolve    file://[TMP]/remotes/other at 2.0.0
    error: nosuchpack: No record of the "nosuchpack" pack in the index.
    Nothing was installed; demo, other were not started.
    "###);
    assert!(stdout(&output).is_empty());
    assert!(left_on_disk(&home).is_empty(), "{:?}", left_on_disk(&home));

    // A ref the repository does not have is found by its ls-remote, also before any
    // download; every name that cannot be resolved is reported.
    let output = home
        .st2()
        .args([
            "pack",
            "install",
            &format!("{}=nope", demo.url()),
            "other",
            "othre",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = filtered(&home, &stderr(&output));
    assert!(
        err.contains(
            "error: demo: \"nope\" is not a valid version, hash, tag or branch in \
             file://[TMP]/remotes/demo. Available versions are: 1.0.0."
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "error: othre: No record of the \"othre\" pack in the index. Did you mean: other?"
        ),
        "{err}"
    );
    assert!(
        err.contains("Nothing was installed; other was not started."),
        "{err}"
    );
    assert!(!err.contains("download"), "{err}");
    assert!(left_on_disk(&home).is_empty(), "{:?}", left_on_disk(&home));
}

#[test]
fn a_pack_failing_validation_rolls_back_the_others_before_any_virtualenv() {
    let home = Home::new();
    python_pack(&home.dir.path().join("src/pyok"), "pyok", "1.0.0", None);
    let bad = home.dir.path().join("src/bad");
    pack_files(&bad, "bad", "1.0.0", &["hello"]);
    write(
        &bad,
        "pack.yaml",
        "name: bad\ndescription: d\nauthor: a\nversion: 0.1\n",
    );
    let output = home
        .st2()
        .args(["pack", "install", "./src/pyok", "./src/bad"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(filtered(&home, &stderr(&output)), @r###"
    pyok             resolve    file://[TMP]/src/pyok
    bad              resolve    file://[TMP]/src/bad
    pyok             download   copied
    pyok             validate   pyok 1.0.0 (1 actions)
    bad              download   copied
    error: bad: [TMP]/src/bad/pack.yaml: field "version": Pack version "0.1" doesn't follow a valid semver format. Valid versions and formats include: 0.1.0, 0.2.1, 1.1.0, etc.
    Nothing was installed; pyok was rolled back.
    "###);
    assert!(left_on_disk(&home).is_empty(), "{:?}", left_on_disk(&home));
}

/// The virtualenv of the second pack cannot be built: the first pack's new virtualenv, built
/// in staging, is dropped, and its installed version keeps the virtualenv it had. The error
/// names the requirements file where the user has it.
#[test]
fn a_failed_virtualenv_leaves_the_other_packs_and_their_virtualenvs_as_they_were() {
    let home = Home::new();
    let pyok = home.dir.path().join("src/pyok");
    python_pack(&pyok, "pyok", "1.0.0", Some("# version 1\n"));
    home.st2()
        .args(["pack", "install", "./src/pyok"])
        .assert()
        .success();
    let marker = home.venv("pyok").join(".st2-venv.json");
    let venv_before = std::fs::read_to_string(&marker).unwrap();

    python_pack(&pyok, "pyok", "2.0.0", Some("# version 2\n"));
    let badreq = home.dir.path().join("src/badreq");
    python_pack(
        &badreq,
        "badreq",
        "1.0.0",
        Some("./no-such-1.0-py3-none-any.whl\n"),
    );
    let output = home
        .st2()
        .args(["pack", "install", "./src/pyok", "./src/badreq"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = filtered(&home, &stderr(&output));
    assert!(
        err.contains("pyok             virtualenv building with uv...")
            || err.contains("pyok             virtualenv building with pip..."),
        "{err}"
    );
    assert!(
        err.contains("pyok             virtualenv updated with "),
        "{err}"
    );
    assert!(
        err.contains(
            "error: badreq: virtualenv: Failed to install requirements from \
             \"[TMP]/src/badreq/requirements.txt\""
        ),
        "{err}"
    );
    assert!(!err.contains(".st2-staging"), "{err}");
    assert!(
        err.ends_with("Nothing was installed; pyok was rolled back.\n"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), venv_before);
    assert_eq!(
        home.query("SELECT version FROM packs WHERE ref = 'pyok'"),
        ["1.0.0"]
    );
    assert_eq!(left_on_disk(&home), ["packs/pyok", "virtualenvs/pyok"]);
}

#[test]
fn progress_names_the_pack_and_the_virtualenv_tool() {
    let home = Home::new();
    let repo_dir = home.dir.path().join("remotes/stackstorm-pyrepo.git");
    let repo = GitRepo::init(&repo_dir);
    python_pack(&repo_dir, "pyrepo", "1.0.0", None);
    repo.commit_all("release");
    repo.tag("v1.0.0");
    for tool in ["pip", "uv"] {
        if tool == "uv"
            && skip_unless(
                on_path("uv"),
                "the uv case: uv is not on PATH (`. scripts/env.sh` after `bash scripts/setup.sh`)",
            )
        {
            continue;
        }
        let _ = std::fs::remove_dir_all(home.venv("pyrepo"));
        let output = home
            .st2()
            .env("ST2_VENV_TOOL", tool)
            .args(["pack", "install", &format!("{}=v1.0.0", repo.url())])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let err = stderr(&output);
        let lines: Vec<&str> = err.lines().collect();
        for line in &lines {
            assert!(line.starts_with("pyrepo "), "{line:?} in\n{err}");
        }
        assert!(
            err.contains(&format!("virtualenv building with {tool}...")),
            "{err}"
        );
        // The last line of the step says how long it took.
        let done = lines
            .iter()
            .find(|line| line.contains(&format!("virtualenv created with {tool} in ")))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(done.ends_with('s'), "{done}");
    }
}

/// An index that never answers: the installer waits on it until stopped. `hit` is set when
/// the first request arrives (the install is then in its virtualenv step).
fn hanging_index() -> (LoopbackServer, Arc<AtomicBool>) {
    let hit = Arc::new(AtomicBool::new(false));
    let held = Arc::new(Mutex::new(Vec::new()));
    let server_hit = Arc::clone(&hit);
    let server = LoopbackServer::start(move |request| {
        server_hit.store(true, Ordering::SeqCst);
        held.lock().unwrap().push(request);
    });
    (server, hit)
}

fn wait_for(flag: &AtomicBool, what: &str) {
    let started = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_with_timeout(child: &mut std::process::Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("st2 did not stop within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_during_the_virtualenv_step_stops_the_installer_and_leaves_nothing() {
    let home = Home::new();
    let slow = home.dir.path().join("src/slow");
    python_pack(&slow, "slow", "1.0.0", Some("# nothing yet\n"));
    home.st2()
        .args(["pack", "install", "./src/slow"])
        .assert()
        .success();
    let marker = home.venv("slow").join(".st2-venv.json");
    let venv_before = std::fs::read_to_string(&marker).unwrap();

    let (server, hit) = hanging_index();
    python_pack(
        &slow,
        "slow",
        "2.0.0",
        Some(&format!(
            "--index-url {}/simple\nslowpkg\n",
            server.base_url
        )),
    );
    let mut child = home.spawn_st2(&["pack", "install", "./src/slow"]);
    wait_for(&hit, "the installer's request to the index");
    // SAFETY: kill(2) on the child we started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = wait_with_timeout(&mut child);
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "error: slow: interrupted during the virtualenv step\nNothing was installed.\n"
        ),
        "{err}"
    );
    assert_eq!(processes_in(&home), "", "installer processes left running");
    assert_eq!(left_on_disk(&home), ["packs/slow", "virtualenvs/slow"]);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), venv_before);
    assert_eq!(
        home.query("SELECT version FROM packs WHERE ref = 'slow'"),
        ["1.0.0"]
    );
    drop(server);
}

/// Killed (SIGKILL) during the virtualenv step: the installer dies with st2, and the next
/// `st2 pack list` or `st2ctl reload` removes the staging directories. So is a virtualenv
/// build of `st2ctl reload --register-setup-virtualenvs` that was killed.
#[test]
fn what_a_killed_install_left_is_removed_by_pack_list_and_by_reload() {
    let home = Home::new();
    let (server, _) = hanging_index();
    python_pack(
        &home.dir.path().join("src/slow"),
        "slow",
        "1.0.0",
        Some(&format!(
            "--index-url {}/simple\nslowpkg\n",
            server.base_url
        )),
    );
    for (round, next) in [["st2", "pack list"], ["st2ctl", "reload"]]
        .iter()
        .enumerate()
    {
        let mut child = home.spawn_st2(&["pack", "install", "./src/slow"]);
        // The staging directories of its virtualenv step exist.
        let started = Instant::now();
        while left_on_disk(&home).len() < 2 || processes_in(&home).is_empty() {
            assert!(started.elapsed() < Duration::from_secs(60), "round {round}");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let _ = child.kill();
        let _ = child.wait();
        let left = left_on_disk(&home);
        assert!(
            left.iter()
                .any(|name| name.starts_with("packs/.st2-staging-"))
                && left
                    .iter()
                    .any(|name| name.starts_with("virtualenvs/.st2-staging-")),
            "{left:?}"
        );
        std::fs::create_dir_all(home.base.join("virtualenvs/.staging-other-abcd1234/bin")).unwrap();
        let started = Instant::now();
        while !processes_in(&home).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the installer outlived st2: {}",
                processes_in(&home)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (program, args) = (next[0], next[1].split(' ').collect::<Vec<_>>());
        let command = if program == "st2" {
            home.st2()
        } else {
            home.st2ctl()
        };
        let mut command = command;
        command.args(&args).assert().success();
        assert!(
            left_on_disk(&home).is_empty(),
            "after {}: {:?}",
            next[1],
            left_on_disk(&home)
        );
    }
    drop(server);
}

#[test]
fn a_single_failing_pack_is_reported_as_before() {
    let home = Home::new();
    home.st2()
        .args(["pack", "install", "./missing"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: Local pack directory"))
        .stderr(predicate::str::contains("Nothing was installed").not());
}

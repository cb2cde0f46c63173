//! `st2 pack install`: every PACK form, the index, validation, dependencies, atomicity.

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

/// A home whose file index lists `demo` (versions 0.1.0, 1.2.0, 1.10.0) in a local repo.
fn demo_home() -> (Home, GitRepo) {
    let mut home = Home::new();
    let repo = GitRepo::pack(
        &home.dir.path().join("remotes/demo"),
        "demo",
        &["0.1.0", "1.2.0", "1.10.0"],
    );
    // The index lists versions string-sorted, as the real Exchange index does.
    let url = write_index(
        home.dir.path(),
        &index_json(&[("demo", repo.url(), &["1.2.0", "1.10.0", "0.1.0"])]),
    );
    home.set_index_urls(&[url]);
    (home, repo)
}

fn installed_version(home: &Home, pack_ref: &str) -> String {
    let output = home
        .st2()
        .args(["pack", "get", pack_ref, "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let pack: Value = serde_json::from_slice(&output.stdout).unwrap();
    pack["version"].as_str().unwrap().to_string()
}

#[test]
fn install_by_name_takes_the_highest_semver_and_registers() {
    let (home, _repo) = demo_home();
    let output = home
        .st2()
        .args(["pack", "install", "demo"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("For the \"demo\" pack, the following content will be registered"),
        "{err}"
    );
    for step in ["resolve", "download", "validate", "register"] {
        assert!(err.contains(step), "step {step} missing: {err}");
    }
    let out = stdout(&output);
    assert!(
        out.contains("The demo test pack") && out.contains("1.10.0"),
        "{out}"
    );
    assert_eq!(installed_version(&home, "demo"), "1.10.0");
    // Upstream keeps the clone, .git included.
    assert!(home.pack("demo").join(".git").is_dir());
    assert!(home.pack("demo").join("actions/hello.yaml").is_file());
    assert_eq!(home.query("SELECT ref FROM actions"), vec!["demo.hello"]);
    // No Python action, no requirements: no virtualenv.
    assert!(!home.venv("demo").exists());
}

#[test]
fn install_name_at_version_and_unknown_version_lists_versions() {
    let (home, _repo) = demo_home();
    home.st2()
        .args(["pack", "install", "demo=1.2.0"])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "1.2.0");
    home.st2()
        .args(["pack", "install", "demo=9.9.9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "Available versions are: 1.10.0, 1.2.0, 0.1.0.",
        ));
    // The failed attempt left the installed version alone.
    assert_eq!(installed_version(&home, "demo"), "1.2.0");
}

#[test]
fn unknown_name_suggests_close_names() {
    let (home, _repo) = demo_home();
    home.st2()
        .args(["pack", "install", "dem"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "No record of the \"dem\" pack in the index.",
        ))
        .stderr(predicate::str::contains("demo"));
    assert!(home.installed().is_empty());
}

#[test]
fn index_over_http_then_from_cache_when_unreachable() {
    let mut home = Home::new();
    let repo = GitRepo::pack(&home.dir.path().join("remotes/demo"), "demo", &["1.0.0"]);
    let index = serde_json::to_vec(&index_json(&[("demo", repo.url(), &["1.0.0"])])).unwrap();
    let server = http_server(vec![("/v1/index.json".into(), 200, index)]);
    home.set_index_urls(&[server.url("/v1/index.json")]);
    home.st2()
        .args(["pack", "install", "demo"])
        .assert()
        .success();
    drop(server);
    home.st2()
        .args(["pack", "install", "demo"])
        .assert()
        .success()
        .stderr(predicate::str::contains("using the cached copy"));
}

#[test]
fn git_url_at_tag_branch_and_commit() {
    let home = Home::new();
    let repo = GitRepo::pack(
        &home.dir.path().join("remotes/demo"),
        "demo",
        &["1.0.0", "2.0.0"],
    );
    git(&repo.path, &["checkout", "-q", "-b", "dev"]);
    pack_files(&repo.path, "demo", "3.0.0-dev", &["hello", "dev_only"]);
    let dev_commit = repo.commit_all("dev work");
    git(&repo.path, &["checkout", "-q", "master"]);

    home.st2()
        .args(["pack", "install", &format!("{}=v1.0.0", repo.url())])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "1.0.0");
    home.st2()
        .args(["pack", "install", &format!("{}=2.0.0", repo.url())])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "2.0.0");
    home.st2()
        .args(["pack", "install", &format!("{}=dev", repo.url())])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "3.0.0-dev");
    assert_eq!(
        home.query("SELECT ref FROM actions ORDER BY ref"),
        vec!["demo.dev_only", "demo.hello"]
    );
    // Back to a commit of master: the action only dev had disappears.
    let output = home
        .st2()
        .args([
            "pack",
            "install",
            &format!("{}={}", repo.url(), &dev_commit[..10]),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    home.st2()
        .args(["pack", "install", &repo.url()])
        .assert()
        .success()
        .stderr(predicate::str::contains("demo.dev_only"));
    assert_eq!(installed_version(&home, "demo"), "2.0.0");
    assert_eq!(home.query("SELECT ref FROM actions"), vec!["demo.hello"]);

    home.st2()
        .args(["pack", "install", &format!("{}=nope", repo.url())])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "\"nope\" is not a valid version, hash, tag or branch",
        ))
        .stderr(predicate::str::contains(
            "Available versions are: 2.0.0, 1.0.0.",
        ));
}

#[test]
fn local_plain_directory_and_local_git_repo_paths() {
    let home = Home::new();
    let plain = home.dir.path().join("work/plain_pack");
    pack_files(&plain, "plain_pack", "0.1.0", &["one", "two"]);
    home.st2()
        .args(["pack", "install", "./work/plain_pack"])
        .assert()
        .success();
    assert!(home.pack("plain_pack").join("actions/two.yaml").is_file());
    assert!(!home.pack("plain_pack").join(".git").exists());

    let repo = GitRepo::pack(
        &home.dir.path().join("work/repo_pack"),
        "repo_pack",
        &["0.2.0"],
    );
    home.st2()
        .args(["pack", "install", repo.path.to_str().unwrap()])
        .assert()
        .success();
    assert!(home.pack("repo_pack").join(".git").is_dir());
    assert_eq!(home.installed(), vec!["plain_pack", "repo_pack"]);

    home.st2()
        .args(["pack", "install", "./work/missing"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("Local pack directory"));
}

#[test]
fn invalid_pack_yaml_is_refused_and_changes_nothing() {
    let home = Home::new();
    let good = home.dir.path().join("good/demo");
    pack_files(&good, "demo", "1.0.0", &["hello"]);
    home.st2()
        .args(["pack", "install", "./good/demo"])
        .assert()
        .success();

    let cases: &[(&str, &str)] = &[
        ("name: demo\ndescription: d\nauthor: a\n", "field \"version\": 'version' is a required property"),
        ("name: demo\ndescription: d\nauthor: a\nversion: 0.1\n", "Pack version \"0.1\" doesn't follow a valid semver format"),
        ("name: demo\ndescription: [d\nversion: 1.0.0\n", "pack.yaml:3:"),
        ("name: My Demo\ndescription: d\nauthor: a\nversion: 1.0.0\n", "contains invalid characters"),
        ("name: demo\ndescription: d\nauthor: a\nversion: 1.0.0\nstackstorm_version: \">=4.0.0\"\n", "requires StackStorm \">=4.0.0\""),
        ("name: demo\ndescription: d\nauthor: a\nversion: 1.0.0\npython_versions: [\"2\"]\n", "requires Python 2.x"),
    ];
    for (index, (pack_yaml, expected)) in cases.iter().enumerate() {
        let dir = home.dir.path().join(format!("bad{index}/demo"));
        pack_files(&dir, "demo", "9.0.0", &["hello", "new_action"]);
        write(&dir, "pack.yaml", pack_yaml);
        home.st2()
            .args(["pack", "install", &format!("./bad{index}/demo")])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(*expected));
        assert_eq!(installed_version(&home, "demo"), "1.0.0", "case {index}");
        assert_eq!(
            home.query("SELECT ref FROM actions"),
            vec!["demo.hello"],
            "case {index}"
        );
    }
    // Nothing is left behind in the packs directory.
    let leftovers: Vec<_> = std::fs::read_dir(home.packs())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec!["demo"]);

    // --force skips the version checks.
    let dir = home.dir.path().join("forced/demo");
    pack_files(&dir, "demo", "9.0.0", &["hello"]);
    write(
        &dir,
        "pack.yaml",
        "name: demo\ndescription: d\nauthor: a\nversion: 9.0.0\nstackstorm_version: \">=4.0.0\"\n",
    );
    home.st2()
        .args(["pack", "install", "--force", "./forced/demo"])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "9.0.0");
}

#[test]
fn invalid_action_file_fails_the_install_with_file_and_reason() {
    let home = Home::new();
    let dir = home.dir.path().join("src/demo");
    pack_files(&dir, "demo", "1.0.0", &["hello"]);
    write(
        &dir,
        "actions/broken.yaml",
        "name: broken\nrunner_type: no-such-runner\n",
    );
    home.st2()
        .args(["pack", "install", "./src/demo"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("actions/broken.yaml"))
        .stderr(predicate::str::contains(
            "RunnerType no-such-runner is not found",
        ));
    assert!(!home.pack("demo").exists());
}

#[test]
fn dependencies_are_installed_first_and_conflicts_are_named() {
    let home = Home::new();
    let base = home.dir.path().join("remotes");
    let lib = GitRepo::pack(
        &base.join("stackstorm-lib_pack"),
        "lib_pack",
        &["1.0.0", "2.0.0"],
    );
    let app_dir = base.join("app");
    let app = GitRepo::init(&app_dir);
    pack_files(&app_dir, "app", "1.0.0", &["run"]);
    let mut pack_yaml = std::fs::read_to_string(app_dir.join("pack.yaml")).unwrap();
    pack_yaml.push_str(&format!(
        "dependencies:\n  - core\n  - {}=1.0.0\n",
        lib.url()
    ));
    write(&app_dir, "pack.yaml", &pack_yaml);
    app.commit_all("app");

    let output = home
        .st2()
        .args(["pack", "install", &app.url(), "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let installed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let refs: Vec<&str> = installed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec!["lib_pack", "app"]);
    assert_eq!(installed[0]["dependency_of"], "app");
    assert_eq!(installed_version(&home, "lib_pack"), "1.0.0");

    // lib_pack 2.0.0 installed by hand; app still wants 1.0.0: a conflict naming both.
    home.st2()
        .args(["pack", "install", &format!("{}=2.0.0", lib.url())])
        .assert()
        .success();
    home.st2()
        .args(["pack", "install", &app.url()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "Unable to install packs due to conflicts",
        ))
        .stderr(predicate::str::contains(
            "\"app\" depends on \"lib_pack\" version 1.0.0, but version 2.0.0 is installed",
        ));
    // --skip-dependencies installs app alone.
    home.st2()
        .args(["pack", "install", "--skip-dependencies", &app.url()])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "lib_pack"), "2.0.0");
}

#[test]
fn dependency_cycles_install_each_pack_once() {
    let home = Home::new();
    let base = home.dir.path().join("remotes");
    let (a_dir, b_dir) = (base.join("cyc_a"), base.join("cyc_b"));
    let (a, b) = (GitRepo::init(&a_dir), GitRepo::init(&b_dir));
    pack_files(&a_dir, "cyc_a", "1.0.0", &["x"]);
    pack_files(&b_dir, "cyc_b", "1.0.0", &["y"]);
    let a_yaml = std::fs::read_to_string(a_dir.join("pack.yaml")).unwrap();
    write(
        &a_dir,
        "pack.yaml",
        &format!("{a_yaml}dependencies:\n  - {}\n", b.url()),
    );
    let b_yaml = std::fs::read_to_string(b_dir.join("pack.yaml")).unwrap();
    write(
        &b_dir,
        "pack.yaml",
        &format!("{b_yaml}dependencies:\n  - {}\n", a.url()),
    );
    a.commit_all("a");
    b.commit_all("b");
    home.st2()
        .args(["pack", "install", &a.url()])
        .assert()
        .success();
    assert_eq!(home.installed(), vec!["cyc_a", "cyc_b"]);
}

#[test]
fn python_pack_gets_a_virtualenv_that_is_reused() {
    let home = Home::new();
    let pack = fixtures_dir().join("packs/pyhello");
    let pack = pack.to_str().unwrap();
    home.st2()
        .args(["pack", "install", pack])
        .assert()
        .success()
        .stderr(predicate::str::contains("virtualenv").and(predicate::str::contains("created")));
    assert!(home.venv("pyhello").join("bin/python").exists());
    home.st2()
        .args(["pack", "install", pack])
        .assert()
        .success()
        .stderr(predicate::str::contains("reused"));
    home.st2()
        .args(["pack", "install", "--skip-virtualenv", pack, "-j"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"virtualenv\": \"skipped\""));
}

#[test]
fn two_installs_of_one_pack_at_once_both_succeed() {
    let home = Home::new();
    let repo = GitRepo::pack(&home.dir.path().join("remotes/demo"), "demo", &["1.0.0"]);
    let spawn = || home.spawn_st2(&["pack", "install", &repo.url()]);
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert_eq!(home.installed(), vec!["demo"]);
    assert_eq!(home.query("SELECT ref FROM actions"), vec!["demo.hello"]);
}

#[test]
fn unwritable_base_path_says_how_to_choose_another() {
    let mut home = Home::new();
    let file = home.dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    home.set_extra_conf("");
    let src = home.dir.path().join("src/demo");
    pack_files(&src, "demo", "1.0.0", &["hello"]);
    home.st2()
        .args([
            "--base-path",
            file.join("home").to_str().unwrap(),
            "pack",
            "install",
            "./src/demo",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not writable"))
        .stderr(predicate::str::contains("--base-path"));
}

#[test]
fn install_over_smart_http_is_shallow() {
    let mut home = Home::new();
    let work = home.dir.path().join("work/demo");
    GitRepo::pack(&work, "demo", &["1.0.0", "1.1.0"]);
    let served = home.dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(
        &served,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            "stackstorm-demo.git",
        ],
    );
    let server = git_http_server(&served);
    let url = format!("{}/stackstorm-demo.git", server.base_url);
    home.set_index_urls(&[write_index(
        home.dir.path(),
        &index_json(&[("demo", url.clone(), &["1.0.0", "1.1.0"])]),
    )]);

    home.st2()
        .args(["pack", "install", "demo=1.0.0"])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "1.0.0");
    // Only the asked-for commit came over the network.
    assert!(home.pack("demo").join(".git/shallow").is_file());
    home.st2()
        .args(["pack", "install", &format!("{url}=master")])
        .assert()
        .success();
    assert_eq!(installed_version(&home, "demo"), "1.1.0");

    drop(server);
    home.st2()
        .args(["pack", "install", &url])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "Unable to reach the git repository {url}"
        )));
}

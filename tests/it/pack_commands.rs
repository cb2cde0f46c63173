//! `st2 pack list/get/show/search/remove/register` and `st2ctl reload`.

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

fn exchange_index() -> Option<String> {
    let path = shared_dir().join("exchange/index.json");
    path.is_file().then(|| format!("file://{}", path.display()))
}

#[test]
fn search_ranks_name_matches_first_and_show_prints_the_entry() {
    let index = exchange_index();
    if skip_unless(
        index.is_some(),
        "../shared/exchange is not present (the shared test data beside the repository)",
    ) {
        return;
    }
    let index = index.unwrap();
    let mut home = Home::new();
    home.set_index_urls(&[index]);
    let output = home
        .st2()
        .args(["pack", "search", "twitter", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results[0]["name"], "twitter");
    home.st2()
        .args(["pack", "search", "twitter"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Monitor and send Tweets"));

    home.st2()
        .args(["pack", "show", "twitter"])
        .assert()
        .success()
        .stdout(predicate::str::contains("repo_url"))
        .stdout(predicate::str::contains("1.0.0, 0.4.2"));
    home.st2()
        .args(["pack", "show", "twiter"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Did you mean: twitter"));
    home.st2()
        .args(["pack", "search", "zzzz-nothing"])
        .assert()
        .success()
        .stderr(predicate::str::contains("No pack matches"));
    home.st2()
        .args(["pack", "search", "twiter"])
        .assert()
        .success()
        .stderr(predicate::str::contains("hint: did you mean twitter"));
    // An index that cannot be read beside one that can: said, then skipped.
    let mut urls = vec!["http://127.0.0.1:9/index.json".to_string()];
    let second = home.dir.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    let good = write_index(
        &second,
        &index_json(&[("twitter", "file:///nowhere".into(), &["1.0.0"])]),
    );
    urls.push(good);
    home.set_index_urls(&urls);
    home.st2()
        .args(["pack", "search", "twitter"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: index http://127.0.0.1:9/index.json skipped: ",
        ));
    // None can: one line saying what was tried and what to do.
    home.set_index_urls(&urls[..1]);
    let output = home
        .st2()
        .args(["pack", "search", "twitter"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains("check [content] index_url in st2.conf"),
        "{error}"
    );
}

#[test]
fn list_get_and_remove() {
    let home = Home::new();
    home.st2()
        .args(["pack", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Basic core actions."))
        .stderr(predicate::str::contains(
            "install a pack with `st2 pack install NAME`",
        ));
    let dir = home.dir.path().join("src/demo");
    pack_files(&dir, "demo", "1.0.0", &["hello"]);
    write(&dir, "requirements.txt", "");
    write(
        &dir,
        "sensors/watch.yaml",
        "class_name: Watch\nentry_point: watch.py\n",
    );
    write(
        &dir,
        "config.schema.yaml",
        "token:\n  type: string\n  secret: true\n  required: true\n",
    );
    home.st2()
        .args(["pack", "install", "./src/demo"])
        .assert()
        .success();

    home.st2().args(["pack", "list"]).assert().success().stdout(
        predicate::str::contains("demo").and(predicate::str::contains("The demo test pack")),
    );
    let output = home
        .st2()
        .args(["pack", "get", "demo", "-y"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("version: 1.0.0"), "{text}");
    assert!(text.contains("sensors: 1"), "{text}");
    home.st2()
        .args(["pack", "get", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Pack \"nope\" is not found"));

    home.st2()
        .args(["pack", "remove", "demo"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Removed pack demo"));
    assert!(!home.pack("demo").exists());
    assert!(!home.venv("demo").exists());
    assert!(home.installed().is_empty());
    assert!(home.query("SELECT ref FROM actions").is_empty());
    assert!(home.query("SELECT pack FROM config_schemas").is_empty());
    assert!(home.query("SELECT name FROM resources").is_empty());
    home.st2()
        .args(["pack", "remove", "demo"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Pack \"demo\" is not installed."));
}

/// A home where the pack `demo` (actions `one` and `two`) was installed from a directory.
fn home_with_demo_installed() -> Home {
    let home = Home::new();
    let dir = home.dir.path().join("src/demo");
    pack_files(&dir, "demo", "1.0.0", &["one", "two"]);
    home.st2()
        .args(["pack", "install", "./src/demo"])
        .assert()
        .success();
    home
}

#[test]
fn register_types_registers_only_the_types_named() {
    let home = home_with_demo_installed();
    // StackStorm's names, singular or plural, as st2client passes them to the API.
    home.st2()
        .args(["pack", "register", "demo", "--types", "actions", "config"])
        .assert()
        .success()
        .stdout("Registered 1 packs.\nRegistered 2 actions.\nRegistered 0 configs.\n");
    home.st2()
        .args(["pack", "register", "--types", "rule_types"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("need no registering"));
    home.st2()
        .args(["pack", "register", "--types", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'bogus' for '--types",
        ));
}

#[test]
fn register_and_reload_reconcile_with_disk() {
    let home = home_with_demo_installed();
    // Edit the installed pack: one action removed, a broken one added elsewhere.
    std::fs::remove_file(home.pack("demo").join("actions/two.yaml")).unwrap();
    home.st2()
        .args(["pack", "register", "demo"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Registered 1 packs."))
        .stdout(predicate::str::contains("Registered 1 actions."))
        .stdout(predicate::str::contains(
            "Unregistered action demo.two (its file is gone).",
        ));
    let broken = home.packs().join("broken");
    pack_files(&broken, "broken", "1.0.0", &["ok"]);
    write(&broken, "actions/bad.yaml", "name: bad\n");
    home.st2ctl()
        .args(["reload"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Registered 1 packs."))
        .stderr(predicate::str::contains("Failed to register action"))
        .stderr(predicate::str::contains(
            "'runner_type' is a required property",
        ));
    home.st2ctl()
        .args(["reload", "--register-no-fail-on-failure"])
        .assert()
        .success();
    // A pack deleted from disk is unregistered by a full reload.
    std::fs::remove_dir_all(home.pack("demo")).unwrap();
    std::fs::remove_dir_all(&broken).unwrap();
    home.st2ctl()
        .args(["reload"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Unregistered pack demo"));
    assert!(home.installed().is_empty());
}

#[test]
fn packs_base_paths_are_searched_after_the_system_path() {
    let mut home = Home::new();
    let extra = home.dir.path().join("extra-packs");
    pack_files(&extra.join("extra_one"), "extra_one", "0.1.0", &["a"]);
    home.set_extra_conf(&format!(
        "[content]\npacks_base_paths = {}:\n",
        extra.display()
    ));
    home.st2ctl().args(["reload"]).assert().success();
    assert_eq!(home.installed(), vec!["extra_one"]);
    home.set_extra_conf("[content]\npacks_base_paths = /does/not/exist\n");
    home.st2ctl()
        .args(["reload"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Directory \"/does/not/exist\" doesn't exist",
        ));
}

/// Issue 14: `st2 pack config` changes the user's `configs/<pack>.yaml` rather than replacing
/// it (comments, `---`, key order and the values not asked for stay as written), and shows a
/// datastore reference in a secret property as written (it is where the secret is, not the
/// secret), masking only literal secret values.
#[test]
fn pack_config_keeps_the_users_file_and_shows_datastore_references() {
    let home = Home::new();
    let src = home.dir.path().join("src/cfgpack");
    pack_files(&src, "cfgpack", "1.0.0", &["one"]);
    write(
        &src,
        "config.schema.yaml",
        "---\napi_key:\n  type: string\n  secret: true\n  required: true\n\
         password:\n  type: string\n  secret: true\n\
         region:\n  type: string\n  default: eu\n\
         count:\n  type: integer\n",
    );
    home.st2()
        .args(["pack", "install", "./src/cfgpack"])
        .assert()
        .success();
    home.st2()
        .args([
            "key",
            "set",
            "cfg_api_key",
            "Key-From-The-Datastore",
            "--encrypt",
        ])
        .assert()
        .success();
    let file = "---\n# My config for cfgpack\n\
                api_key: \"{{ st2kv.system.cfg_api_key }}\"   # from the datastore\n\
                password: hunter2-secret\n\
                region: us   # where we run\n\n\
                count: 3\n\
                extra: kept   # unknown to the schema\n";
    home.write_config("cfgpack", file);
    home.st2ctl()
        .args(["reload", "--register-configs"])
        .assert()
        .success();

    // api_key, password, count: kept; region: changed.
    let output = home
        .st2()
        .args(["pack", "config", "cfgpack"])
        .write_stdin("\n\neu-west\n\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    for text in [&out, &err] {
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(!text.contains("Key-From-The-Datastore"), "{text}");
    }
    assert!(
        err.contains("api_key [{{ st2kv.system.cfg_api_key }}]: "),
        "{err}"
    );
    assert!(err.contains("password [********]: "), "{err}");
    insta::assert_snapshot!(out, @r###"
    api_key: "{{ st2kv.system.cfg_api_key }}"
    password: "********"
    region: eu-west
    count: 3
    extra: kept
    "###);
    assert_eq!(
        std::fs::read_to_string(home.config("cfgpack")).unwrap(),
        file.replace("region: us ", "region: eu-west ")
    );

    // `show` as well; with --resolved the rendered secret is masked.
    let output = home
        .st2()
        .args(["pack", "config", "show", "cfgpack"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("api_key: \"{{ st2kv.system.cfg_api_key }}\"\n"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("password: \"********\"\n"));
    let output = home
        .st2()
        .args(["pack", "config", "show", "cfgpack", "--resolved"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("api_key: \"********\"\n"),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains("Key-From-The-Datastore"));

    // A template that is more than a reference could hold a literal secret: masked.
    home.write_config(
        "cfgpack",
        "api_key: \"hunter3-{{ st2kv.system.cfg_api_key }}\"\nregion: us\n",
    );
    home.st2ctl()
        .args(["reload", "--register-configs"])
        .assert()
        .success();
    let output = home
        .st2()
        .args(["pack", "config", "show", "cfgpack"])
        .output()
        .unwrap();
    assert!(!stdout(&output).contains("hunter3"), "{}", stdout(&output));
    assert!(stdout(&output).contains("api_key: \"********\"\n"));
}

/// Issue 14: `st2ctl reload --register-setup-virtualenvs` (which reads no action) gives a
/// Python pack without `requirements.txt` its virtualenv, as upstream gives every pack one
/// (`setup_virtualenvs` in `st2common/content/bootstrap.py`), and its actions then run in it;
/// so does a pack whose only Python is a sensor. A pack without Python code gets none (ours:
/// nothing would use it).
#[test]
fn register_setup_virtualenvs_gives_python_packs_without_requirements_their_virtualenv() {
    let home = Home::new();
    let action_pack = home.dir.path().join("src/pynoreq");
    pack_files(&action_pack, "pynoreq", "1.0.0", &[]);
    write(
        &action_pack,
        "actions/where.yaml",
        "---\nname: where\nrunner_type: python-script\nentry_point: where.py\n",
    );
    write(
        &action_pack,
        "actions/where.py",
        "import sys\nfrom st2common.runners.base_action import Action\n\n\n\
         class Where(Action):\n    def run(self):\n        return sys.prefix\n",
    );
    let sensor_pack = home.dir.path().join("src/pysensor");
    pack_files(&sensor_pack, "pysensor", "1.0.0", &["shell"]);
    write(
        &sensor_pack,
        "sensors/watch.yaml",
        "---\nclass_name: Watch\nentry_point: watch.py\ntrigger_types:\n  - name: seen\n",
    );
    write(
        &sensor_pack,
        "sensors/watch.py",
        "class Watch(object):\n    pass\n",
    );
    let shell_pack = home.dir.path().join("src/shellonly");
    pack_files(&shell_pack, "shellonly", "1.0.0", &["a"]);
    for pack in ["./src/pynoreq", "./src/pysensor", "./src/shellonly"] {
        home.st2()
            .args(["pack", "install", "--skip-virtualenv", pack])
            .assert()
            .success();
    }
    for pack in ["pynoreq", "pysensor", "shellonly"] {
        assert!(!home.venv(pack).exists(), "{pack}");
    }

    let output = home
        .st2ctl()
        .args(["reload", "--register-setup-virtualenvs"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Setup virtualenv for 2 pack(s)."),
        "{}",
        stdout(&output)
    );
    for pack in ["pynoreq", "pysensor"] {
        assert!(home.venv(pack).join("bin/python").exists(), "{pack}");
    }
    assert!(!home.venv("shellonly").exists());
    let output = home
        .st2()
        .args(["run", "pynoreq.where", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        execution["result"]["result"],
        home.venv("pynoreq").to_str().unwrap(),
        "{execution}"
    );
}

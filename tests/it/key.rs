//! `st2 key`: the datastore, scopes, encryption compatible with StackStorm key files, load.

use predicates::prelude::*;

use crate::common::*;

#[test]
fn set_get_list_delete_in_both_scopes() {
    let home = Home::new();
    // Nothing stored yet: listing creates nothing.
    home.st2()
        .args(["key", "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("No matching items found."));
    assert!(!home.base.join("st2.db").exists());

    home.st2()
        .args(["key", "set", "api_url", "https://x"])
        .assert()
        .success();
    home.st2()
        .args([
            "key", "set", "mine", "v", "--scope", "user", "--ttl", "3600",
        ])
        .assert()
        .success();
    let item = st2_json(&home, &["key", "get", "api_url"]);
    assert_eq!(item["value"], "https://x");
    assert_eq!(item["scope"], "st2kv.system");
    let mine = st2_json(&home, &["key", "get", "mine", "-s", "user"]);
    assert_eq!(mine["user"], "stanley");
    assert!(mine["expire_timestamp"].as_str().unwrap().ends_with('Z'));
    // Stored as <user>:<name>, as StackStorm does.
    assert_eq!(
        home.query("SELECT name FROM kv WHERE scope = 'st2kv.user'"),
        ["stanley:mine"]
    );
    let all = st2_json(&home, &["key", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let system = st2_json(
        &home,
        &["key", "list", "--scope", "system", "--prefix", "api"],
    );
    assert_eq!(system[0]["name"], "api_url");
    home.st2()
        .args(["key", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| api_url"));

    home.st2()
        .args(["key", "delete", "api_url"])
        .assert()
        .success();
    home.st2()
        .args(["key", "get", "api_url"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Key \"api_url\" does not exist in scope st2kv.system.",
        ));
    home.st2()
        .args(["key", "delete", "api_url"])
        .assert()
        .code(1);
    // The value can come from standard input.
    home.st2()
        .args(["key", "set", "piped"])
        .write_stdin("from stdin\n")
        .assert()
        .success();
    assert_eq!(
        st2_json(&home, &["key", "get", "piped"])["value"],
        "from stdin"
    );
    home.st2()
        .args(["key", "set", "nothing"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no value was given"));
    for name in ["p.a", "p.b", "q"] {
        home.st2()
            .args(["key", "set", name, "x"])
            .assert()
            .success();
    }
    home.st2()
        .args(["key", "delete_by_prefix", "-p", "p."])
        .assert()
        .success()
        .stdout(predicate::str::contains("Deleted 2 keys"));
}

#[test]
fn secrets_are_encrypted_with_a_private_key_file_and_never_shown() {
    let home = Home::new();
    let output = home
        .st2()
        .args(["key", "set", "password", "hunter2", "--encrypt"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("hunter2") && !stderr(&output).contains("hunter2"));
    let key_file = home.base.join("keys/datastore_key.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stored = home.query("SELECT value FROM kv WHERE name = 'password'");
    assert!(!stored[0].contains("hunter2"));
    let shown = st2_json(&home, &["key", "get", "password"]);
    assert_eq!(shown["encrypted"], true);
    assert_eq!(shown["value"], stored[0]);
    let listed = home.st2().args(["key", "list"]).output().unwrap();
    assert!(!stdout(&listed).contains("hunter2"));
    assert_eq!(
        st2_json(&home, &["key", "get", "password", "-d"])["value"],
        "hunter2"
    );
    // The ciphertext moves to another item with --encrypted (verified with the key).
    home.st2()
        .args(["key", "set", "copy", &stored[0], "--encrypted"])
        .assert()
        .success();
    assert_eq!(
        st2_json(&home, &["key", "get", "copy", "--decrypt"])["value"],
        "hunter2"
    );
    home.st2()
        .args(["key", "set", "bad", "3030DEADBEEF", "--encrypted"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Failed to verify the integrity of the provided value for key \"bad\".",
        ));
    // Without the key file nothing decrypts, and the message says where it looked.
    std::fs::remove_file(&key_file).unwrap();
    home.st2()
        .args(["key", "get", "password", "-d"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Crypto key not found in"))
        .stderr(predicate::str::contains("datastore_key.json"));
}

#[test]
fn values_encrypted_by_stackstorm_decrypt_with_its_key_file() {
    let mut home = Home::new();
    let key_file = fixtures_dir().join("keys/st2_datastore_key.json");
    home.set_extra_conf(&format!(
        "[keyvalue]\nencryption_key_path = {}\n",
        key_file.display()
    ));
    // Made by StackStorm 3.9.0's crypto.py with that key file (see src/crypto.rs tests).
    let from_stackstorm = "30303030308F6A21EFF691C2344CA11CD84179E77335D95EEBAC2A94676BE0B9A06778EEE1D6CCDDCACD6B6A9894AE265077DE12E0F4E378D6";
    home.st2()
        .args(["key", "set", "token", from_stackstorm, "--encrypted"])
        .assert()
        .success();
    assert_eq!(
        st2_json(&home, &["key", "get", "token", "-d"])["value"],
        "secret"
    );
}

#[test]
fn load_reads_json_and_yaml_and_writes_nothing_when_an_item_is_bad() {
    let home = Home::new();
    let file = home.dir.path().join("items.yaml");
    std::fs::write(&file, "- name: a\n  value: one\n- name: n\n  value: 5\n").unwrap();
    home.st2()
        .args(["key", "load"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Item 'n' has a value that is not a string. Either pass in the -c/--convert option",
        ));
    assert!(!home.base.join("st2.db").exists() || home.query("SELECT name FROM kv").is_empty());
    home.st2()
        .args(["key", "load", "-c"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(st2_json(&home, &["key", "get", "n"])["value"], "5");
    let file = home.dir.path().join("items.json");
    std::fs::write(
        &file,
        r#"[{"name": "s", "value": "pw", "secret": true}, {"name": "u", "value": "x", "scope": "user", "user": "joe"}]"#,
    )
    .unwrap();
    home.st2()
        .args(["key", "load"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(st2_json(&home, &["key", "get", "s"])["encrypted"], true);
    assert_eq!(
        st2_json(&home, &["key", "get", "u", "-s", "user", "-u", "joe"])["value"],
        "x"
    );
    std::fs::write(&file, "").unwrap();
    home.st2()
        .args(["key", "load"])
        .arg(&file)
        .assert()
        .success();
}

/// st2client shows a key's `expire_timestamp` as it shows execution times: in `[cli]
/// timezone` (`format_isodate_for_user_timezone`); `-j` keeps the ISO time.
#[test]
fn expire_timestamp_is_shown_in_the_users_time_zone() {
    let home = Home::new();
    // `--config-file` (the harness's) is the CLI config too.
    let mut conf = std::fs::read_to_string(&home.conf).unwrap();
    conf.push_str("\n[cli]\ntimezone = Asia/Tokyo\n");
    std::fs::write(&home.conf, &conf).unwrap();
    home.st2()
        .args(["key", "set", "short", "v", "--ttl", "3600"])
        .assert()
        .success();
    let iso = st2_json(&home, &["key", "get", "short"])["expire_timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(iso.ends_with('Z'), "{iso}");
    for args in [&["key", "get", "short"][..], &["key", "list"]] {
        let output = home.st2().args(args).output().unwrap();
        let shown = String::from_utf8_lossy(&output.stdout);
        // Tokyo has no daylight saving time: always JST, UTC+9.
        assert!(shown.contains(" JST"), "{shown}");
        assert!(!shown.contains(&iso), "{shown}");
    }
}

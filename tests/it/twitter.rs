//! `twitter.update_status` against a fake X API on 127.0.0.1 that verifies every OAuth
//! signature on its own, and the tutorial run as a user types it.

use serde_json::Value;

use crate::common::*;

const SECRETS: [&str; 3] = ["cs-secret-5678", "ats-secret-3456", "at-test-9012"];

/// The twitter pack's config with the test keys (or with `consumer_secret` replaced).
fn config_text(consumer_secret: &str) -> String {
    format!(
        "consumer_key: \"ck-test-1234\"\nconsumer_secret: \"{consumer_secret}\"\n\
         access_token: \"at-test-9012\"\naccess_token_secret: \"ats-secret-3456\"\n\
         query:\n  - \"StackStorm\"\ncount: 30\n"
    )
}

/// A home with the real twitter pack installed from the snapshot (no virtualenv: the native
/// action needs none) and its config registered.
fn twitter_home(config: Option<&str>) -> Home {
    let home = Home::new();
    let pack = shared_dir().join("exchange/packs/twitter");
    let output = home
        .st2()
        .args([
            "pack",
            "install",
            "--skip-virtualenv",
            pack.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    if let Some(config) = config {
        home.write_config("twitter", config);
        reload_ok(&home, &["--register-configs"]);
    }
    home
}

fn post(home: &Home, api: &str, args: &[&str]) -> std::process::Output {
    home.st2()
        .args(["run", "twitter.update_status"])
        .args(args)
        .env("ST2_TWITTER_API_URL", api)
        .env_remove("ST2_TWITTER_API_VERSION")
        .output()
        .unwrap()
}

fn assert_no_secrets(home: &Home, output: &std::process::Output) {
    let all = format!(
        "{}{}{:?}",
        stdout(output),
        stderr(output),
        home.query("SELECT parameters || coalesce(result, '') FROM executions")
    );
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

#[test]
fn a_post_is_signed_and_sent_to_api_v2() {
    let home = twitter_home(Some(&config_text("cs-secret-5678")));
    let x = XServer::start(0);
    let output = post(&home, &x.url(), &["status=Hello from st2-rs ✓", "-j"]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["result"]["text"], "Hello from st2-rs ✓");
    assert_eq!(execution["result"]["status_code"], 201);
    assert!(execution["result"]["id"]
        .as_str()
        .unwrap()
        .starts_with("18"));
    let posts = x.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "rejected: {:?}", x.rejected.lock().unwrap());
    assert_eq!(posts[0].path, "/2/tweets");
    assert_eq!(posts[0].text, "Hello from st2-rs ✓");
    assert_no_secrets(&home, &output);

    // --no-native runs the pack's own Python code instead: here without its virtualenv, so
    // it stops at importing its libraries, and nothing is posted.
    let output = post(
        &home,
        &x.url(),
        &["status=from python", "--no-native", "-j"],
    );
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stderr_text = execution["result"]["stderr"].as_str().unwrap_or_default();
    assert!(stderr_text.contains("No module named"), "{execution}");
    assert!(execution["result"]["exit_code"].is_number());
    assert_eq!(x.posts.lock().unwrap().len(), 1);
}

#[test]
fn the_v1_1_form_endpoint_and_media_are_signed_too() {
    let home = twitter_home(Some(&config_text("cs-secret-5678")));
    let x = XServer::start(0);
    let image = home.dir.path().join("cat.png");
    std::fs::write(&image, b"\x89PNG fake").unwrap();
    let media = format!("media={}", image.display());
    let output = home
        .st2()
        .args([
            "run",
            "twitter.update_status",
            "status=Form & signed: 100%",
            &media,
        ])
        .env("ST2_TWITTER_API_URL", x.url())
        .env("ST2_TWITTER_API_VERSION", "1.1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let posts = x.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "rejected: {:?}", x.rejected.lock().unwrap());
    assert_eq!(posts[0].path, "/1.1/statuses/update.json");
    assert_eq!(posts[0].text, "Form & signed: 100%");
    assert_eq!(posts[0].media_ids, ["770"]);

    // A missing media file is a parameter error: nothing is sent or recorded.
    let output = post(&home, &x.url(), &["status=x", "media=/nonexistent/cat.png"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("file \"/nonexistent/cat.png\" does not exist"));
    assert_eq!(x.posts.lock().unwrap().len(), 1);
}

#[test]
fn errors_are_one_line_with_the_reason() {
    let home = twitter_home(Some(&config_text("wrong-secret")));
    let x = XServer::start(0);
    let output = post(&home, &x.url(), &["status=hi", "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "failed");
    assert_eq!(execution["result"]["status_code"], 401);
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("X rejected the credentials (401 Unauthorized)"),
        "{error}"
    );
    assert!(error.contains("configs/twitter.yaml"), "{error}");
    assert!(x.posts.lock().unwrap().is_empty());
    assert_eq!(x.rejected.lock().unwrap().len(), 1);
    assert_no_secrets(&home, &output);
    assert!(!stdout(&output).contains("wrong-secret"));

    let home = twitter_home(Some(&config_text("cs-secret-5678")));
    for (code, expected) in [
        (403, "X refused the post (403 Forbidden): You are not allowed to create a Tweet with duplicate content."),
        (429, "rate limited by X (429 Too Many Requests): Too Many Requests; retry after "),
        (500, "X had a server error (500)"),
        (503, "X had a server error (503): Service Unavailable; retry later"),
    ] {
        let x = XServer::start(code);
        let output = post(&home, &x.url(), &["status=hi", "-j"]);
        assert_eq!(output.status.code(), Some(1), "{code}");
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(execution["result"]["status_code"], code);
        let error = execution["result"]["error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{code}: {error}");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = post(&home, &dead, &["status=hi", "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        execution["result"]["error"],
        format!("connection refused: {dead}/2/tweets")
    );
}

/// An X API that never answers, or answers a byte at a time, fails the run within
/// `[content] network_timeout` (plus the runner's grace), not the action's 60-second timeout.
#[test]
fn a_silent_or_slow_x_api_fails_within_the_network_timeout() {
    let mut home = twitter_home(Some(&config_text("cs-secret-5678")));
    home.set_extra_conf("[content]\nnetwork_timeout = 1\n");
    for fault in [Fault::Hang, Fault::Drip] {
        let server = FaultServer::start(fault);
        let started = std::time::Instant::now();
        let output = post(&home, &server.base_url, &["status=hi", "-j"]);
        let took = started.elapsed();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{fault:?}: {}",
            stderr(&output)
        );
        assert!(
            took < std::time::Duration::from_secs(9),
            "{fault:?}: took {took:?}"
        );
        let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(execution["status"], "failed");
        let error = execution["result"]["error"].as_str().unwrap();
        assert!(error.contains("within 1 seconds"), "{fault:?}: {error}");
        assert_no_secrets(&home, &output);
    }
}

#[test]
fn a_missing_config_says_which_key_and_file() {
    let home = twitter_home(None);
    let x = XServer::start(0);
    let output = post(&home, &x.url(), &["status=hi", "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the twitter pack config has no consumer_key: set the four keys"),
        "{error}"
    );
    assert!(
        error.contains(&home.config("twitter").display().to_string()),
        "{error}"
    );
    // The example values are not keys.
    let example =
        std::fs::read_to_string(home.pack("twitter").join("twitter.yaml.example")).unwrap();
    home.write_config("twitter", &example);
    reload_ok(&home, &["--register-configs"]);
    let output = post(&home, &x.url(), &["status=hi", "-j"]);
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.contains("consumer_key in") && error.contains("still holds the example value"),
        "{error}"
    );
}

/// The tutorial, as shell commands against the built binaries: install by name from an
/// index, copy and edit the example config, register it, post.
#[test]
fn the_tutorial_works_end_to_end() {
    let mut home = Home::new();
    let remote = home.dir.path().join("remotes/stackstorm-twitter");
    copy_tree(&shared_dir().join("exchange/packs/twitter"), &remote);
    let repo = GitRepo::init(&remote);
    repo.commit_all("twitter pack from the Exchange snapshot");
    repo.tag("v1.0.0");
    let index = write_index(
        home.dir.path(),
        &index_json(&[("twitter", repo.url(), &["1.0.0"])]),
    );
    home.set_index_urls(&[index]);
    let x = XServer::start(0);
    let bin = assert_cmd::cargo::cargo_bin("st2");
    let script = r#"
set -euo pipefail
st2 pack install twitter
cp "$BASE/packs/twitter/twitter.yaml.example" "$BASE/configs/twitter.yaml"
sed -i -e 's/your consumer key/ck-test-1234/' -e 's/your consumer secret/cs-secret-5678/' \
       -e 's/your access token secret/ats-secret-3456/' -e 's/your access token/at-test-9012/' \
       "$BASE/configs/twitter.yaml"
st2ctl reload --register-configs
st2 run twitter.update_status status="Test from StackStorm CLI"
"#;
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("ST2_CONF", &home.conf)
        .env_remove("ST2_BASE_PATH")
        .env("BASE", &home.base)
        .env("ST2_TWITTER_API_URL", x.url())
        .env("NO_COLOR", "1")
        .env("HOME", home.dir.path())
        .current_dir(home.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("status: succeeded"), "{text}");
    assert!(text.contains("text: Test from StackStorm CLI"), "{text}");
    let posts = x.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "rejected: {:?}", x.rejected.lock().unwrap());
    assert_eq!(posts[0].text, "Test from StackStorm CLI");
    assert!(x.rejected.lock().unwrap().is_empty());
    assert_no_secrets(&home, &output);
}

/// `scripts/fake_x_api.py`, the stand-in the demo and the benchmark use, on a free port.
struct FakeXApi {
    child: std::process::Child,
    url: String,
}

impl FakeXApi {
    fn start(home: &Home) -> FakeXApi {
        let port_file = home.dir.path().join("x-api.port");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fake_x_api.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args([
                "--keys",
                "ck-test-1234,cs-secret-5678,at-test-9012,ats-secret-3456",
            ])
            .arg("--port-file")
            .arg(&port_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs scripts/fake_x_api.py");
        for _ in 0..200 {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                if !port.is_empty() {
                    return FakeXApi {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                    };
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("scripts/fake_x_api.py did not start");
    }
}

impl Drop for FakeXApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn media_files_and_urls_are_uploaded_and_duplicates_refused_as_x_does() {
    let home = twitter_home(Some(&config_text("cs-secret-5678")));
    let x = FakeXApi::start(&home);
    let picture = home.dir.path().join("cat.png");
    std::fs::write(&picture, b"\x89PNG not really").unwrap();
    let images = http_server(vec![("/pics/dog.png".into(), 200, b"GIF89a".to_vec())]);
    let media = format!(
        "media={},{}",
        picture.display(),
        images.url("/pics/dog.png")
    );
    let output = post(&home, &x.url, &["status=With two pictures", &media, "-j"]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["result"]["text"], "With two pictures");

    // The same text again: X's 403 for duplicate content, one line saying so.
    let output = post(&home, &x.url, &["status=With two pictures", "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        execution["result"]["error"],
        "X refused the post (403 Forbidden): You are not allowed to create a Tweet with \
         duplicate content."
    );
    // A media URL that does not answer 200 fails before anything is posted.
    let missing = format!("media={}", images.url("/pics/none.png"));
    let output = post(&home, &x.url, &["status=Broken picture", &missing, "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot download media http://127.0.0.1:"),
        "{error}"
    );
    assert_no_secrets(&home, &output);
}

//! Network faults: servers that hang, reset, drip, answer 500 or garbage, and git remotes that
//! vanish mid-clone. Every command fails within the configured `[content] network_timeout`
//! with one clear error, installs nothing, and the index cache keeps installs working offline.
//! And TLS: an index and a git remote over https are trusted through the configured CA bundle
//! (rustls compiled in, no system OpenSSL), and refused, with the reason, without it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

/// Upper bound for a command whose network timeout is 1 second: connect + request, with
/// slack for a loaded CI machine.
const BOUND: Duration = Duration::from_secs(8);

fn timed(command: &mut assert_cmd::Command) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let output = command.output().unwrap();
    (output, started.elapsed())
}

fn assert_failed_with(output: &std::process::Output, expected: &str, case: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{case}: {err}");
    assert!(
        err.contains("error:") && err.contains(expected),
        "{case}: {err}"
    );
    assert!(!err.contains("panicked"), "{case}: {err}");
}

/// A home whose index is served by `url`, with a 1-second network timeout.
fn home_with_index(url: &str) -> Home {
    let mut home = Home::new();
    home.set_index_urls(&[url.to_string()]);
    let conf = std::fs::read_to_string(&home.conf).unwrap();
    std::fs::write(
        &home.conf,
        conf.replace("network_timeout = 5", "network_timeout = 1"),
    )
    .unwrap();
    home
}

#[test]
fn index_faults_fail_fast_and_the_cache_keeps_installs_working() {
    let work = tempfile::tempdir().unwrap();
    let repo = GitRepo::pack(&work.path().join("demo"), "demo", &["1.0.0"]);
    let index = serde_json::to_vec(&index_json(&[("demo", repo.url(), &["1.0.0"])])).unwrap();
    let faults = [
        (Fault::Hang, "timed out"),
        (Fault::Reset, "Connection reset by peer"),
        (Fault::Drip, "timed out"),
        (Fault::Status500, "HTTP status 500"),
        (Fault::Garbage, "invalid JSON"),
    ];
    let mut tried = 0;
    for (fault, expected) in faults {
        // No cache yet: a clear error, soon.
        let server = FaultServer::start(fault);
        let home = home_with_index(&server.url("/index.json"));
        let (output, took) = timed(home.st2().args(["pack", "install", "demo"]));
        assert_failed_with(&output, expected, &format!("{fault:?}"));
        assert!(took < BOUND, "{fault:?}: took {took:?}");
        assert!(home.installed().is_empty());

        // A good answer first, then the fault: the cached copy is used, with a warning.
        let server = FaultServer::after_good(fault, Some(index.clone()));
        let home = home_with_index(&server.url("/index.json"));
        let output = home
            .st2()
            .args(["pack", "search", "demo"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let (output, took) = timed(home.st2().args(["pack", "install", "demo"]));
        assert!(output.status.success(), "{fault:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("using the cached copy"),
            "{fault:?}: {}",
            stderr(&output)
        );
        assert!(took < BOUND, "{fault:?}: took {took:?}");
        assert_eq!(home.installed(), ["demo"]);
        tried += 2;
    }
    println!("index faults tried: {tried}");
}

/// A bare copy of a pack repository under `root`, served by smart HTTP.
fn served_repo(root: &std::path::Path) -> String {
    let work = root.join("work");
    GitRepo::pack(&work, "demo", &["1.0.0"]);
    for index in 0..40 {
        // Enough content that the pack file is worth cutting in half.
        write(
            &work,
            &format!("data/file{index}.txt"),
            &format!("{index}").repeat(4000),
        );
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "data"]);
    let served = root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(
        &served,
        &["clone", "-q", "--bare", work.to_str().unwrap(), "demo.git"],
    );
    "demo.git".into()
}

/// The git remote goes away during the clone: the ref advertisement works, then the pack
/// download is cut in half, or the repository is gone, or the server stops answering.
#[test]
fn a_git_remote_failing_mid_clone_installs_nothing() {
    let root = tempfile::tempdir().unwrap();
    let name = served_repo(root.path());
    let served = root.path().join("served");
    let home = home_with_index("file:///nonexistent/index.json");

    #[derive(Clone, Copy, Debug)]
    enum MidClone {
        CutPack,
        RepoGone,
        Hang,
    }
    for fault in [MidClone::CutPack, MidClone::RepoGone, MidClone::Hang] {
        let served = served.clone();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let server = LoopbackServer::start(move |mut request| {
            counter.fetch_add(1, Ordering::SeqCst);
            if request.method() != &tiny_http::Method::Post {
                let (status, headers, body) = run_git_http_backend(&served, &mut request);
                let mut response = tiny_http::Response::from_data(body).with_status_code(status);
                for header in headers {
                    response.add_header(header);
                }
                let _ = request.respond(response);
                return;
            }
            match fault {
                MidClone::CutPack => {
                    let (status, headers, body) = run_git_http_backend(&served, &mut request);
                    let half = body[..body.len() / 2].to_vec();
                    let reader = std::io::Cursor::new(half).chain(FailingReader);
                    let response = tiny_http::Response::new(
                        tiny_http::StatusCode(status),
                        headers,
                        reader,
                        Some(body.len()),
                        None,
                    );
                    let _ = request.respond(response);
                }
                MidClone::RepoGone => {
                    let _ = request
                        .respond(tiny_http::Response::from_string("gone").with_status_code(404));
                }
                MidClone::Hang => std::thread::sleep(Duration::from_secs(4)),
            }
        });
        let url = format!("{}/{name}", server.base_url);
        let (output, took) = timed(home.st2().args(["pack", "install", &url]));
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{fault:?}: {err}");
        assert!(
            err.contains("error:") && err.contains(&url),
            "{fault:?}: {err}"
        );
        println!(
            "{fault:?} took {took:?}: {}",
            err.lines().last().unwrap_or_default()
        );
        assert!(took < BOUND, "{fault:?}: took {took:?}");
        assert!(
            requests.load(Ordering::SeqCst) >= 2,
            "{fault:?}: got to the download"
        );
        assert!(home.installed().is_empty());
        let left: Vec<_> = std::fs::read_dir(home.packs())
            .map(|entries| entries.collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{fault:?}: {left:?}");
    }
    // The remote is back: the same install works.
    let server = git_http_server(&served);
    let url = format!("{}/{name}", server.base_url);
    let output = home.st2().args(["pack", "install", &url]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The index and the git remote behind TLS, with a CA of their own: trusted through `[content]
/// ca_bundle_path`, `SSL_CERT_FILE` or (git only) `GIT_SSL_CAINFO`; without any of them (the
/// system's store) both are refused with the certificate's fault, and nothing is installed.
#[test]
fn https_index_and_git_remote_trust_the_configured_ca_bundle() {
    let root = tempfile::tempdir().unwrap();
    let name = served_repo(root.path());
    let served = root.path().join("served");
    let index = Arc::new(std::sync::Mutex::new(Vec::new()));
    let served_index = index.clone();
    let server = LoopbackServer::start(move |mut request| {
        if request.url() == "/index.json" {
            let body = served_index.lock().unwrap().clone();
            let _ = request.respond(tiny_http::Response::from_data(body));
            return;
        }
        let (status, headers, body) = run_git_http_backend(&served, &mut request);
        let mut response = tiny_http::Response::from_data(body).with_status_code(status);
        for header in headers {
            response.add_header(header);
        }
        let _ = request.respond(response);
    });
    let tls = TlsProxy::start(&server.base_url);
    let url = tls.url(&format!("/{name}"));
    *index.lock().unwrap() =
        serde_json::to_vec(&index_json(&[("demo", url.clone(), &["1.0.0"])])).unwrap();

    // This machine's own bundles are not in the way.
    let st2 = |home: &Home| {
        let mut command = home.st2();
        command
            .env_remove("SSL_CERT_FILE")
            .env_remove("GIT_SSL_CAINFO");
        command
    };
    // Trusted through the configured bundle: by name (index and git over https).
    let mut home = Home::new();
    home.set_index_urls(&[tls.url("/index.json")]);
    home.set_extra_conf(&format!(
        "[content]\nca_bundle_path = {}\n",
        tls.ca_file.display()
    ));
    let output = st2(&home)
        .args(["pack", "install", "demo"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(home.installed(), ["demo"]);
    assert!(home.pack("demo").join(".git/shallow").is_file());

    // No bundle: the index and the repository are both refused, saying why.
    let mut home = Home::new();
    home.set_index_urls(&[tls.url("/index.json")]);
    let output = st2(&home)
        .args(["pack", "install", "demo"])
        .output()
        .unwrap();
    assert_failed_with(&output, "UnknownIssuer", "index without a bundle");
    let output = st2(&home).args(["pack", "install", &url]).output().unwrap();
    assert_failed_with(&output, "UnknownIssuer", "git without a bundle");
    assert!(stderr(&output).contains(&format!("Unable to reach the git repository {url}")));
    assert!(home.installed().is_empty());

    // The environment's bundles, as OpenSSL-based tools read them.
    for variable in ["SSL_CERT_FILE", "GIT_SSL_CAINFO"] {
        let output = st2(&home)
            .env(variable, &tls.ca_file)
            .args(["pack", "install", &url])
            .output()
            .unwrap();
        assert!(output.status.success(), "{variable}: {}", stderr(&output));
        assert_eq!(home.installed(), ["demo"], "{variable}");
        home.st2()
            .args(["pack", "remove", "demo"])
            .assert()
            .success();
    }
}

/// A reader that fails: the connection drops before the promised length is sent.
struct FailingReader;

impl std::io::Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "cut",
        ))
    }
}

use std::io::Read as _;

//! Port of StackStorm 3.9.0's `st2client/tests/unit/test_client.py` (tag `v3.9.0`): the
//! endpoints a client derives from its arguments and the environment, `cacert`, and Basic auth
//! to a proxy in front of the API.
//!
//! Upstream builds `Client(...)` objects and reads `client.endpoints`; here the real binary is
//! run with the same settings and `--debug` says which endpoints it resolved (`st2 completion
//! bash` sends no request), or the request it sends reaches the stand-in cluster
//! ([`St2Server`](crate::st2server::St2Server)), over HTTPS through
//! [`TlsFront`](crate::st2server::TlsFront) for `cacert`.
//!
//! Left out: `test_managers` (which Python manager objects a client holds: internals).
//!
//! Where we differ on purpose: certificates are checked by default (upstream: `cacert` unset
//! checks nothing), so `test_cacert_arg` also shows that an unknown certificate is refused
//! with a message naming the CA options, and that `cacert = false` is said out loud.

use crate::remote::{assert_exit, show, text, Auth, Cluster};
use crate::st2server::*;

fn debug_lines(cluster: &Cluster, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = cluster.home.bare_command("st2");
    command
        .arg("--debug")
        .args(args)
        .args(["completion", "bash"]);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[track_caller]
fn assert_urls(output: &std::process::Output, base: &str, api: &str, stream: &str) {
    assert_exit(output, 0);
    let debug = text(&output.stderr);
    for (name, url) in [("base", base), ("api", api), ("stream", stream)] {
        assert!(
            debug.contains(&format!("{name} URL: {url} (")),
            "{name} URL {url} in:\n{debug}"
        );
    }
}

#[test]
fn test_default() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = debug_lines(&cluster, &["--mode", "remote"], &[]);
    assert_urls(
        &output,
        "http://127.0.0.1",
        "http://127.0.0.1:9101/v1",
        "http://127.0.0.1:9102/v1",
    );
}

#[test]
fn test_env() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = debug_lines(
        &cluster,
        &[],
        &[
            ("ST2_BASE_URL", "http://www.stackstorm.com"),
            ("ST2_API_URL", "http://www.st2.com:9101/v1"),
            ("ST2_STREAM_URL", "http://www.st2.com:9102/v1"),
        ],
    );
    assert_urls(
        &output,
        "http://www.stackstorm.com",
        "http://www.st2.com:9101/v1",
        "http://www.st2.com:9102/v1",
    );
}

#[test]
fn test_env_base_only() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = debug_lines(
        &cluster,
        &[],
        &[("ST2_BASE_URL", "http://www.stackstorm.com")],
    );
    assert_urls(
        &output,
        "http://www.stackstorm.com",
        "http://www.stackstorm.com:9101/v1",
        "http://www.stackstorm.com:9102/v1",
    );
}

#[test]
fn test_args() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = debug_lines(
        &cluster,
        &[
            "--url",
            "http://www.stackstorm.com",
            "--api-url",
            "http://www.st2.com:9101/v1",
            "--stream-url",
            "http://www.st2.com:9102/v1",
        ],
        &[],
    );
    assert_urls(
        &output,
        "http://www.stackstorm.com",
        "http://www.st2.com:9101/v1",
        "http://www.st2.com:9102/v1",
    );
}

#[test]
fn test_args_base_only() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = debug_lines(&cluster, &["--url", "http://www.stackstorm.com"], &[]);
    assert_urls(
        &output,
        "http://www.stackstorm.com",
        "http://www.stackstorm.com:9101/v1",
        "http://www.stackstorm.com:9102/v1",
    );
}

#[test]
fn test_cacert_arg() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let front = TlsFront::start(cluster.server.port);
    let https = |args: &[&str]| {
        let mut command = cluster.home.bare_command("st2");
        command
            .args(front.url_args())
            .args(args)
            .args(["action", "list"])
            .env("ST2_AUTH_TOKEN", TOKEN);
        command.output().unwrap()
    };
    // [fix] Unset: verified against the system's CAs, which do not know this certificate.
    let unknown = https(&[]);
    assert_exit(&unknown, 1);
    let stderr = text(&unknown.stderr);
    assert!(
        stderr.contains("cannot be verified")
            && stderr.contains("hint: give the cluster's CA with --cacert PATH, ST2_CACERT"),
        "{}",
        show(&unknown)
    );
    // A path to the CA bundle.
    let bundle = cluster.home.dir.path().join("ca.pem");
    std::fs::write(&bundle, &front.cert_pem).unwrap();
    let verified = https(&["--cacert", bundle.to_str().unwrap()]);
    assert_exit(&verified, 0);
    assert!(
        text(&verified.stdout).contains("core.local"),
        "{}",
        show(&verified)
    );
    // False: no check, and a warning saying so.
    let unchecked = https(&["--cacert", "false"]);
    assert_exit(&unchecked, 0);
    assert!(
        text(&unchecked.stderr).contains("warning: TLS certificates are not checked"),
        "{}",
        show(&unchecked)
    );
    // True: the system's CAs.
    let system = https(&["--cacert", "True"]);
    assert_exit(&system, 1);
    // A path that does not exist.
    let missing = https(&["--cacert", "doesntexist"]);
    assert_exit(&missing, 2);
    assert_eq!(
        text(&missing.stderr),
        "error: CA cert file \"doesntexist\" (from --cacert) does not exist\n"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_basic_auth_option_success() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &["--basic-auth", "username:password", "action", "list"],
    );
    assert_exit(&output, 0);
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("username:password")
    );
    let request = &cluster.server.requests()[0];
    assert_eq!(request.header("authorization"), Some(expected.as_str()));
    assert_eq!(request.header("x-auth-token"), Some(TOKEN));
    cluster.server.assert_clean();
}

#[test]
fn test_basic_auth_option_success_password_with_colon() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &[
            "--basic-auth",
            "username:password:with:colon",
            "action",
            "list",
        ],
    );
    assert_exit(&output, 0);
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("username:password:with:colon")
    );
    assert_eq!(
        cluster.server.requests()[0].header("authorization"),
        Some(expected.as_str())
    );
}

#[test]
fn test_basic_auth_option_invalid_notation() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &["--basic-auth", "username_password", "action", "list"],
    );
    assert_exit(&output, 2);
    assert_eq!(
        text(&output.stderr),
        "error: basic auth (from --basic-auth) needs to be in the username:password notation\n"
    );
    assert!(cluster.server.requests().is_empty());
}

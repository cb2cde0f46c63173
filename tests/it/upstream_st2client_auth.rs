//! Port of StackStorm 3.9.0's `st2client/tests/unit/test_auth.py` (tag `v3.9.0`): `st2 login`
//! (with `-p`, with the password typed, with `-w`, failing) and which credential each request
//! carries (`TestAuthToken`).
//!
//! Upstream mocks `requests` and inspects the kwargs of its calls; here `st2` talks to the
//! stand-in cluster ([`St2Server`](crate::st2server::St2Server)), which records the headers
//! each request carried. The config file is the fixture of `TestLoginBase` (written by the
//! test: `[credentials] username = olduser / password = Password1!`).
//!
//! Left out, with the reason: `test_decorate_resource_list`, `_get`, `_post`, `_put`,
//! `_delete` check that each Python resource manager method passes `token=` down to the HTTP
//! layer (internals); what reaches the wire for list, get, post, put and delete is checked by
//! `test_decorate_auth_token_to_http_headers` below, one request of each kind.
//!
//! Where we differ on purpose: the config file keeps its comments and the rest of its lines
//! (upstream rewrites it through `ConfigParser`), is written 0600 (upstream 0660 for a new
//! file), and the note after login gives the token's real expiry on stderr (upstream: "in 24
//! hours", on stdout); a token and an API key together send only the token.

use serde_json::json;

use crate::remote::{assert_exit, show, text, Auth, Cluster};
use crate::st2server::*;

const CONFIG_CONTENTS: &str = "[credentials]\nusername = olduser\npassword = Password1!\n";

/// The cluster knows st2admin / Password1!; the config file names olduser.
fn login_base() -> Option<(Cluster, std::path::PathBuf)> {
    let cluster = Cluster::start()?;
    cluster.server.world(|world| {
        world.users.insert(USER.into(), "Password1!".into());
    });
    let config = cluster.home.dir.path().join("testconfig/logintest.cfg");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, CONFIG_CONTENTS).unwrap();
    Some((cluster, config))
}

fn login(
    cluster: &Cluster,
    config: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut command = cluster.home.bare_command("st2");
    command
        .args(cluster.server.url_args())
        .arg("--config-file")
        .arg(config)
        .arg("login")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn test_login_password_and_config() {
    let Some((cluster, config)) = login_base() else {
        return;
    };
    let output = login(&cluster, &config, &[USER, "--password", "Password1!"], "");
    assert_exit(&output, 0);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(!written.contains("password"), "{written}");
    assert!(!written.contains("olduser"), "{written}");
    assert!(written.contains("username = st2admin\n"), "{written}");
    assert!(cluster
        .home
        .dir
        .path()
        .join(".st2/token-st2admin")
        .is_file());
    cluster.server.assert_clean();
}

#[test]
fn test_login_int_pwd_and_config() {
    let Some((cluster, config)) = login_base() else {
        return;
    };
    // The password typed (here: on stdin, which is not a terminal).
    let output = login(&cluster, &config, &[USER], "Password1!\n");
    assert_exit(&output, 0);
    let request = &cluster.server.requests()[0];
    assert_eq!(request.line(), "POST /auth/v1/tokens");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.json_body().unwrap(), json!({}));
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("st2admin:Password1!")
    );
    assert_eq!(request.header("authorization"), Some(basic.as_str()));
    use std::os::unix::fs::PermissionsExt;
    // [fix] 0600 (upstream 0660).
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        !written.contains("password") && !written.contains("olduser"),
        "{written}"
    );
    // The token is sent on the next requests.
    let token: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cluster.home.dir.path().join(".st2/token-st2admin")).unwrap(),
    )
    .unwrap();
    cluster.server.clear();
    let list = cluster
        .home
        .bare_command("st2")
        .args(cluster.server.url_args())
        .arg("--config-file")
        .arg(&config)
        .args(["pack", "list"])
        .output()
        .unwrap();
    assert_exit(&list, 0);
    let request = &cluster.server.requests()[0];
    assert_eq!(
        request.line(),
        "GET /api/v1/packs?include_attributes=ref%2Cname%2Cdescription%2Cversion%2Cauthor"
    );
    assert_eq!(request.header("x-auth-token"), token["token"].as_str());
    cluster.server.assert_clean();
}

#[test]
fn test_login_write_pwd_okay() {
    let Some((cluster, config)) = login_base() else {
        return;
    };
    let output = login(
        &cluster,
        &config,
        &[USER, "--password", "Password1!", "-w"],
        "",
    );
    assert_exit(&output, 0);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("password = Password1!\n"), "{written}");
    assert!(written.contains("username = st2admin\n"), "{written}");
    assert!(!written.contains("olduser"), "{written}");
}

#[test]
fn test_login_uncaught_exception() {
    let Some((cluster, config)) = login_base() else {
        return;
    };
    // No password to read: the login fails, and says as whom.
    let output = login(&cluster, &config, &[USER], "");
    assert_exit(&output, 2);
    assert!(
        !text(&output.stdout).contains("Logged in as"),
        "{}",
        show(&output)
    );
    // A refused password.
    let output = login(&cluster, &config, &[USER, "-p", "wrong"], "");
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).starts_with("error: Failed to log in as st2admin: "),
        "{}",
        show(&output)
    );
    assert!(!text(&output.stdout).contains("Logged in as"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG_CONTENTS);
}

/// Which credential header the requests of a command carried.
fn credentials(cluster: &Cluster) -> Vec<(Option<String>, Option<String>)> {
    cluster
        .server
        .requests()
        .iter()
        .map(|request| {
            (
                request.header("x-auth-token").map(str::to_string),
                request.header("st2-api-key").map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn test_decorate_auth_token_by_cli() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    for flag in ["-t", "--token"] {
        cluster.server.clear();
        assert_exit(
            &cluster.st2(Auth::Nothing, &["action", "list", flag, TOKEN]),
            0,
        );
        assert_eq!(credentials(&cluster), [(Some(TOKEN.to_string()), None)]);
    }
}

#[test]
fn test_decorate_api_key_by_cli() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    assert_exit(
        &cluster.st2(Auth::Nothing, &["action", "list", "--api-key", API_KEY]),
        0,
    );
    assert_eq!(credentials(&cluster), [(None, Some(API_KEY.to_string()))]);
}

#[test]
fn test_decorate_auth_token_by_env() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    assert_exit(&cluster.st2(Auth::Token, &["action", "list"]), 0);
    assert_eq!(credentials(&cluster), [(Some(TOKEN.to_string()), None)]);
}

#[test]
fn test_decorate_api_key_by_env() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    assert_exit(&cluster.st2(Auth::ApiKey, &["action", "list"]), 0);
    assert_eq!(credentials(&cluster), [(None, Some(API_KEY.to_string()))]);
}

#[test]
fn test_decorate_without_auth_token() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    assert_exit(&cluster.st2(Auth::Nothing, &["action", "list"]), 1);
    assert_eq!(credentials(&cluster), [(None, None)]);
}

#[test]
fn test_decorate_auth_token_to_http_headers() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // A GET list, a GET of one, a POST, a PUT and a DELETE: each with the token, and a
    // content type with a body only.
    for args in [
        &["key", "list"][..],
        &["key", "get", "k1"],
        &["run", "core.local", "cmd=date", "-a"],
        &["key", "set", "k2", "v"],
        &["key", "delete", "k2"],
    ] {
        assert_exit(&cluster.st2(Auth::Token, args), 0);
    }
    for request in cluster.server.requests() {
        assert_eq!(
            request.header("x-auth-token"),
            Some(TOKEN),
            "{}",
            request.line()
        );
        assert_eq!(
            request.header("content-type").is_some(),
            request.body.is_some(),
            "{}",
            request.line()
        );
    }
    cluster.server.assert_clean();
}

#[test]
fn test_decorate_api_key_to_http_headers() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    assert_exit(&cluster.st2(Auth::ApiKey, &["key", "set", "k2", "v"]), 0);
    let request = &cluster.server.requests()[0];
    assert_eq!(request.header("st2-api-key"), Some(API_KEY));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[test]
fn test_decorate_without_auth_token_to_http_headers() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // Basic credentials (a login) and no token: only `Authorization`.
    assert_exit(
        &cluster.st2(Auth::Nothing, &["auth", USER, "-p", PASSWORD]),
        0,
    );
    let request = &cluster.server.requests()[0];
    assert!(request.header("authorization").is_some());
    assert_eq!(request.header("x-auth-token"), None);
    assert_eq!(request.header("st2-api-key"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
}

//! Port of StackStorm 3.9.0's `st2client/tests/unit/test_config_parser.py` (tag `v3.9.0`):
//! what `st2` takes from a CLI config file.
//!
//! Fixtures: `fixtures/upstream/st2client/st2rc.full.ini`, `st2rc.partial.ini` and
//! `test_unicode.ini` (upstream's `st2client/tests/fixtures/`). Their `cacert = cacartpath`
//! names a file relative to the working directory; the tests put a CA bundle there.
//!
//! Upstream calls `CLIConfigParser.parse()` and compares the dictionary; here `st2
//! --print-config` prints that dictionary (secrets masked), `st2 --debug` what the binary
//! took from the file and where each value came from, and a login
//! shows the credentials (`st2 completion bash` sends no request; `st2 action list` does, to
//! the stand-in cluster).
//!
//! Left out, with the reason:
//! - `test_constructor`: the parser object's argument checks (internals).
//! - `test_correct_permissions_emit_no_warnings`, `test_weird_but_correct_permissions_emit_no_warnings`,
//!   `test_warn_on_bad_config_permissions`, `test_disable_permissions_warnings`: the parser's
//!   permission warnings, which the `st2` command itself never turns on
//!   (`shell.py` parses the file with `validate_config_permissions=False`).

use crate::common::*;
use crate::remote::{assert_exit, show, text, Cluster};
use crate::st2server::*;

/// The fixture file copied into the home, with a CA bundle at `cacartpath` beside it.
fn fixture(cluster: &Cluster, name: &str) -> std::path::PathBuf {
    let path = cluster.home.dir.path().join(name);
    std::fs::copy(upstream_fixture(&format!("st2client/{name}")), &path).unwrap();
    let front = TlsFront::start(cluster.server.port);
    std::fs::write(cluster.home.dir.path().join("cacartpath"), &front.cert_pem).unwrap();
    path
}

#[test]
fn test_parse() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // No file: the defaults (local mode, nothing set).
    let output = cluster
        .home
        .bare_command("st2")
        .args(["--debug", "--mode", "remote", "completion", "bash"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let debug = text(&output.stderr);
    assert!(debug.contains("CLI config: none"), "{debug}");
    assert!(debug.contains("credential: none"), "{debug}");
    // All the options: every one taken, each named with its source.
    let full = fixture(&cluster, "st2rc.full.ini");
    let output = cluster
        .home
        .bare_command("st2")
        .args(["--debug", "completion", "bash"])
        .env("ST2_CONFIG_FILE", &full)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let debug = text(&output.stderr);
    let in_file = format!(" in {})", full.display());
    for expected in [
        format!("base URL: http://127.0.0.1 (from [general] base_url{in_file}"),
        format!("api URL: http://127.0.0.1:9101/v1 (from [api] url{in_file}"),
        // A trailing `/` is dropped.
        format!("auth URL: http://127.0.0.1:9100 (from [auth] url{in_file}"),
        format!("stream URL: http://127.0.0.1:9102/v1/stream (from [stream] url{in_file}"),
        format!("TLS: verified against cacartpath (from [general] cacert{in_file}"),
        // api_key comes before username (one credential).
        format!("credential: API key ******** (from [credentials] api_key{in_file}"),
        format!("basic auth: user1:******** (from [credentials] basic_auth{in_file}"),
    ] {
        assert!(debug.contains(&expected), "{expected}\nin:\n{debug}");
    }
    assert!(
        !debug.contains("pass1") && !debug.contains("api_key ="),
        "{debug}"
    );
    // Missing options take their defaults (`cache_token` true: a second command reuses the
    // token the first one got).
    cluster.server.world(|world| {
        world.users.insert("test1".into(), "test1".into());
    });
    let partial = fixture(&cluster, "st2rc.partial.ini");
    let api = cluster.server.api_url();
    let auth = format!("{}/auth/v1", cluster.server.base());
    for _ in 0..2 {
        let output = cluster
            .home
            .bare_command("st2")
            .args(["--api-url", &api, "--auth-url", &auth, "action", "list"])
            .env("ST2_CONFIG_FILE", &partial)
            .output()
            .unwrap();
        assert_exit(&output, 0);
    }
    let logins = cluster
        .server
        .lines()
        .iter()
        .filter(|line| line.starts_with("POST /auth/v1/tokens"))
        .count();
    assert_eq!(logins, 1, "{:?}", cluster.server.lines());
    // Upstream's whole dictionary, as `--print-config` shows it (secrets masked, the
    // defaults of the options the file leaves out included).
    let output = cluster
        .home
        .bare_command("st2")
        .arg("--print-config")
        .env("ST2_CONFIG_FILE", &full)
        .output()
        .unwrap();
    assert_exit(&output, 3);
    let shown = text(&output.stdout);
    let values: Vec<String> = shown
        .lines()
        .take_while(|line| !line.is_empty())
        .map(|line| line.split("  (").next().unwrap().to_string())
        .collect();
    assert_eq!(
        values,
        [
            "[general]",
            "base_url = http://127.0.0.1",
            "api_version = v1",
            "cacert = cacartpath",
            "silence_ssl_warnings = False",
            "silence_schema_output = True",
            "[cli]",
            "debug = True",
            "cache_token = False",
            "timezone = UTC",
            "http_timeout = 60",
            "[credentials]",
            "username = test1",
            "password = ********",
            "api_key = ********",
            "basic_auth = user1:********",
            "[api]",
            "url = http://127.0.0.1:9101/v1",
            "[auth]",
            // [fix] the trailing `/` is dropped.
            "url = http://127.0.0.1:9100",
            "[stream]",
            "url = http://127.0.0.1:9102/v1/stream",
        ],
        "{shown}"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_get_config_for_unicode_char() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // The password is read raw: unicode and `%` as written.
    cluster.server.world(|world| {
        world.users.insert("test1".into(), "密码%".into());
    });
    let config = fixture(&cluster, "test_unicode.ini");
    let api = cluster.server.api_url();
    let auth = format!("{}/auth/v1", cluster.server.base());
    let output = cluster
        .home
        .bare_command("st2")
        .args(["--api-url", &api, "--auth-url", &auth, "action", "list"])
        .env("ST2_CONFIG_FILE", &config)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let login = &cluster.server.requests()[0];
    assert_eq!(login.line(), "POST /auth/v1/tokens");
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("test1:密码%")
    );
    assert_eq!(login.header("authorization"), Some(expected.as_str()));
    assert!(!text(&output.stderr).contains("密码"), "{}", show(&output));
    cluster.server.assert_clean();
}

//! Remote mode (`../shared/spec/remote-api.md`): `st2` against a stand-in cluster
//! ([`St2Server`]), which checks every request against StackStorm 3.9.0's OpenAPI document
//! and answers from a small world. Each test ends with `assert_clean()`: no request and no
//! answer broke the spec.
//!
//! Covered here: the mode switch and the precedence of settings (§1, §4), credentials and the
//! token cache (§1.5), `login`/`auth`/`whoami` (§1.6), actions, runs with polling and `-a`,
//! execution get/list/cancel/tail (§2.1, §2.2, §3), keys (§2.3), and faults: 401/403/404/500,
//! a hanging, a resetting and a garbage-speaking server, a stream that breaks (§2.5, §4).

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use crate::st2server::*;

/// How a command authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `ST2_AUTH_TOKEN`.
    Token,
    /// `ST2_API_KEY`.
    ApiKey,
    /// Nothing in the environment.
    Nothing,
}

/// A home (for `~/.st2`) and a stand-in cluster.
pub(crate) struct Cluster {
    pub(crate) home: Home,
    pub(crate) server: St2Server,
}

impl Cluster {
    /// `None` (after saying why) when the spec is not there.
    pub(crate) fn start() -> Option<Cluster> {
        if skip_unless(
            spec_available(),
            "../shared/spec/remote-api/openapi-v3.9.0.yaml is missing",
        ) {
            return None;
        }
        Some(Cluster {
            home: Home::new(),
            server: St2Server::start(),
        })
    }

    /// `st2 --api-url ... --auth-url ... --stream-url ... ARGS`.
    pub(crate) fn command(&self, auth: Auth, args: &[&str]) -> std::process::Command {
        let mut command = self.home.bare_command("st2");
        command.args(self.server.url_args()).args(args);
        match auth {
            Auth::Token => {
                command.env("ST2_AUTH_TOKEN", TOKEN);
            }
            Auth::ApiKey => {
                command.env("ST2_API_KEY", API_KEY);
            }
            Auth::Nothing => {}
        }
        command.stdin(std::process::Stdio::null());
        command
    }

    pub(crate) fn st2(&self, auth: Auth, args: &[&str]) -> Output {
        self.command(auth, args).output().unwrap()
    }

    pub(crate) fn config_path(&self) -> std::path::PathBuf {
        self.home.dir.path().join(".st2/config")
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code, stdout and stderr, for messages.
pub(crate) fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

#[track_caller]
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", show(output));
}

#[track_caller]
pub(crate) fn assert_stderr_contains(output: &Output, expected: &str) {
    assert!(text(&output.stderr).contains(expected), "{}", show(output));
}

#[track_caller]
pub(crate) fn assert_stdout_contains(output: &Output, expected: &str) {
    assert!(text(&output.stdout).contains(expected), "{}", show(output));
}

#[test]
fn action_list_asks_for_the_columns_it_shows() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["action", "list"]);
    assert_exit(&output, 0);
    assert_stdout_contains(&output, "core.local");
    let requests = cluster.server.requests();
    assert_eq!(
        cluster.server.lines(),
        ["GET /api/v1/actions?include_attributes=ref%2Cpack%2Cdescription%2Crunner_type"]
    );
    assert_eq!(requests[0].header("x-auth-token"), Some(TOKEN));
    assert_eq!(requests[0].header("st2-api-key"), None);
    assert!(requests[0]
        .header("user-agent")
        .is_some_and(|agent| agent.starts_with("st2-rs/")));
    cluster.server.assert_clean();
}

#[test]
fn action_get_shows_parameters_merged_with_the_runners() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["action", "get", "core.local", "-j"]);
    assert_exit(&output, 0);
    let action: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(action["ref"], "core.local");
    assert_eq!(action["runner_type"], "local-shell-cmd");
    // The runner's `timeout`, the action's `cmd` (required).
    assert_eq!(action["parameters"]["timeout"]["default"], 60);
    assert_eq!(action["parameters"]["cmd"]["required"], true);
    assert_eq!(
        cluster.server.lines(),
        [
            "GET /api/v1/actions/core.local",
            "GET /api/v1/runnertypes/?name=local-shell-cmd"
        ]
    );
    let missing = cluster.st2(Auth::Token, &["action", "get", "nope.nope"]);
    assert_exit(&missing, 1);
    assert_stderr_contains(&missing, "action \"nope.nope\" is not found on the cluster");
    cluster.server.assert_clean();
}

#[test]
fn run_posts_the_cast_parameters_and_polls_to_the_end() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &["run", "core.local", "cmd=date", "timeout=30"],
    );
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("status: succeeded"), "{}", show(&output));
    assert!(stdout.contains("action.ref: core.local"), "{stdout}");
    let requests = cluster.server.requests();
    let lines = cluster.server.lines();
    assert_eq!(
        lines[..3],
        [
            "GET /api/v1/actions/core.local",
            "GET /api/v1/runnertypes/?name=local-shell-cmd",
            "POST /api/v1/executions",
        ]
    );
    // The runner's `timeout` is an integer: cast before the POST, as st2client does.
    assert_eq!(
        requests[2].json_body().unwrap(),
        json!({"action": "core.local", "parameters": {"cmd": "date", "timeout": 30}, "user": null})
    );
    assert_eq!(requests[2].header("content-type"), Some("application/json"));
    // Running, then succeeded.
    let id = "65f0c0ffee0000000000ab11";
    assert_eq!(
        lines[3..],
        [
            format!("GET /api/v1/executions/{id}"),
            format!("GET /api/v1/executions/{id}")
        ]
    );
    cluster.server.assert_clean();
}

#[test]
fn a_run_that_fails_exits_1_and_a_refused_one_2() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let failed = cluster.st2(Auth::Token, &["run", "core.local", "cmd=false"]);
    assert_exit(&failed, 1);
    assert_stdout_contains(&failed, "status: failed");
    // The cluster refuses a run without its required `cmd`: nothing ran.
    let refused = cluster.st2(Auth::Token, &["run", "core.local"]);
    assert_exit(&refused, 2);
    assert_eq!(
        text(&refused.stderr),
        "error: 'cmd' is a required property (HTTP 400 from POST http://127.0.0.1:PORT/api/v1/executions)\n"
            .replace("PORT", &cluster.server.port.to_string())
    );
    let unknown = cluster.st2(Auth::Token, &["run", "nope.nope", "x=1"]);
    assert_exit(&unknown, 2);
    assert_stderr_contains(&unknown, "\"nope.nope\" is not found");
    let bad_cast = cluster.st2(Auth::Token, &["run", "core.local", "cmd=x", "timeout=abc"]);
    assert_exit(&bad_cast, 2);
    assert!(!cluster
        .server
        .lines()
        .iter()
        .any(|line| line.contains("POST") && line.contains("abc")));
    cluster.server.assert_clean();
}

#[test]
fn run_async_prints_where_to_look_and_does_not_wait() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["run", "core.local", "date", "-a"]);
    assert_exit(&output, 0);
    let id = "65f0c0ffee0000000000ab11";
    assert_eq!(
        text(&output.stdout),
        format!(
            "To get the results, execute:\n st2 execution get {id}\n\n\
             To view output in real-time, execute:\n st2 execution tail {id}\n"
        )
    );
    assert_eq!(cluster.server.lines().len(), 3);
    let body = cluster.server.requests()[2].json_body().unwrap();
    assert_eq!(body["parameters"], json!({"cmd": "date"}));
    cluster.server.assert_clean();
}

#[test]
fn run_tail_shows_the_output_as_it_comes_over_the_stream() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ab11";
    cluster.server.world(|world| {
        world.output.insert(id.into(), Vec::new());
        world.streams.insert(
            id.into(),
            vec![
                StreamStep::Output("stdout", "first\n".into()),
                StreamStep::Sleep(Duration::from_millis(300)),
                StreamStep::Heartbeat,
                StreamStep::Output("stderr", "second\n".into()),
                StreamStep::Finish("succeeded"),
            ],
        );
    });
    let output = cluster.st2(Auth::Token, &["run", "core.local", "cmd=date", "--tail"]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("first\n\nid: "), "{}", show(&output));
    assert!(stdout.contains("status: succeeded"), "{stdout}");
    assert_stderr_contains(&output, "second\n");
    assert_eq!(
        cluster.server.lines()[3..],
        [
            format!("GET /stream/v1/executions/{id}/output"),
            format!("GET /api/v1/executions/{id}"),
        ]
    );
    cluster.server.assert_clean();
}

#[test]
fn polling_goes_on_through_non_final_statuses() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.server.world(|world| world.running_polls = 0);
    let id = "65f0c0ffee0000000000ab11";
    cluster.server.world(|world| {
        world.set_progress(
            id,
            &["scheduled", "delayed", "running", "running", "succeeded"],
        )
    });
    let output = cluster.st2(Auth::Token, &["run", "core.local", "cmd=date", "-j"]);
    assert_exit(&output, 0);
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "succeeded");
    let polls = cluster
        .server
        .lines()
        .iter()
        .filter(|line| line.starts_with("GET /api/v1/executions/"))
        .count();
    assert_eq!(polls, 5);
    cluster.server.assert_clean();
}

#[test]
fn execution_get_list_and_cancel() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let get = cluster.st2(Auth::Token, &["execution", "get", EXECUTION_ID]);
    assert_exit(&get, 0);
    assert_stdout_contains(&get, "status: succeeded");
    let missing = cluster.st2(
        Auth::Token,
        &["execution", "get", "deadbeefdeadbeefdeadbeef"],
    );
    assert_exit(&missing, 1);
    assert!(
        text(&missing.stderr).starts_with(
            "error: execution \"deadbeefdeadbeefdeadbeef\" is not found (`st2 execution list` \
             shows the recent ones): Resource with a id"
        ),
        "{}",
        show(&missing)
    );
    let list = cluster.st2(
        Auth::Token,
        &[
            "execution",
            "list",
            "-n",
            "5",
            "--status",
            "succeeded",
            "--action",
            "core.local",
        ],
    );
    assert_exit(&list, 0);
    assert_stdout_contains(&list, EXECUTION_ID);
    // Already finished: the cluster says so, and the exit status too.
    let cancel = cluster.st2(Auth::Token, &["execution", "cancel", EXECUTION_ID]);
    assert_exit(&cancel, 1);
    assert_stderr_contains(&cancel, "cannot be canceled: it is already succeeded");
    let lines = cluster.server.lines();
    assert_eq!(
        lines[0],
        format!(
            "GET /api/v1/executions/{EXECUTION_ID}?include_attributes=action.ref%2Caction.runner_type%2Cstart_timestamp%2Cend_timestamp%2Clog%2Cid%2Caction.ref%2Ccontext.user%2Cparameters%2Cstatus%2Cstart_timestamp%2Cend_timestamp%2Clog%2Cresult"
        )
    );
    assert_eq!(
        lines[2],
        "GET /api/v1/executions/?limit=5&action=core.local&status=succeeded&parent=null&sort_desc=True&include_attributes=id%2Caction.ref%2Ccontext.user%2Cstatus%2Cstart_timestamp%2Cend_timestamp"
    );
    assert_eq!(
        lines[3],
        format!("DELETE /api/v1/executions/{EXECUTION_ID}")
    );
    cluster.server.assert_clean();
}

#[test]
fn cancel_of_a_running_execution_waits_for_it_to_end() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ab99";
    cluster.server.world(|world| {
        world.executions.insert(
            id.into(),
            execution(id, "running", json!({"cmd": "sleep 60"})),
        );
    });
    let cancel = cluster.st2(Auth::Token, &["execution", "cancel", id]);
    assert_exit(&cancel, 0);
    assert_eq!(
        text(&cancel.stdout),
        format!("execution {id} is canceled\n")
    );
    cluster.server.assert_clean();
}

#[test]
fn keys_over_the_api() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let list = cluster.st2(Auth::ApiKey, &["key", "list"]);
    assert_exit(&list, 0);
    assert_stdout_contains(&list, "k1");
    let set = cluster.st2(
        Auth::ApiKey,
        &[
            "key", "set", "k2", "s3cr3t", "-e", "-l", "60", "-s", "user", "-u", "bob",
        ],
    );
    assert_exit(&set, 0);
    assert!(!text(&set.stdout).contains("s3cr3t"), "{}", show(&set));
    let get = cluster.st2(
        Auth::ApiKey,
        &["key", "get", "k2", "-s", "user", "-u", "bob", "-j"],
    );
    assert_exit(&get, 0);
    let item: Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(item["name"], "k2");
    assert_eq!(item["secret"], true);
    assert_eq!(item["user"], "bob");
    let delete = cluster.st2(Auth::ApiKey, &["key", "delete", "k1"]);
    assert_exit(&delete, 0);
    let again = cluster.st2(Auth::ApiKey, &["key", "get", "k1"]);
    assert_exit(&again, 1);
    assert_stderr_contains(&again, "Key \"k1\" does not exist in scope st2kv.system.");
    let requests = cluster.server.requests();
    assert_eq!(
        requests[0].line(),
        "GET /api/v1/keys/?decrypt=false&scope=all&limit=50"
    );
    assert_eq!(requests[1].line(), "PUT /api/v1/keys/k2");
    assert_eq!(
        requests[1].json_body().unwrap(),
        json!({"name": "k2", "scope": "user", "user": "bob", "value": "s3cr3t",
               "secret": true, "ttl": 60})
    );
    assert_eq!(requests[1].header("st2-api-key"), Some(API_KEY));
    assert_eq!(
        requests[2].line(),
        "GET /api/v1/keys/k2?decrypt=false&scope=user&user=bob"
    );
    assert_eq!(requests[3].line(), "GET /api/v1/keys/k1?scope=system");
    assert_eq!(requests[4].line(), "DELETE /api/v1/keys/k1?scope=system");
    cluster.server.assert_clean();
}

#[test]
fn key_delete_by_prefix_and_load() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let file = cluster.home.dir.path().join("kv.yaml");
    std::fs::write(
        &file,
        "- name: a\n  value: \"1\"\n- name: b\n  value: {\"x\": 1}\n  secret: true\n  ttl: 60\n",
    )
    .unwrap();
    let load = cluster.st2(Auth::ApiKey, &["key", "load", "-c", file.to_str().unwrap()]);
    assert_exit(&load, 0);
    let requests = cluster.server.requests();
    assert_eq!(
        requests[1].json_body().unwrap(),
        json!({"name": "b", "scope": "system", "value": "{\"x\": 1}", "secret": true, "ttl": 60})
    );
    cluster.server.clear();
    let deleted = cluster.st2(Auth::ApiKey, &["key", "delete_by_prefix", "-p", "k"]);
    assert_exit(&deleted, 0);
    assert_eq!(
        text(&deleted.stdout),
        "Deleted 1 keys\nDeleted key ids: k1\n"
    );
    assert_eq!(
        cluster.server.lines(),
        [
            "GET /api/v1/keys/?decrypt=false&scope=system&limit=100&prefix=k",
            "DELETE /api/v1/keys/k1?scope=system"
        ]
    );
    cluster.server.assert_clean();
}

#[test]
fn no_credential_is_one_line_and_a_hint() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Nothing, &["action", "list"]);
    assert_exit(&output, 1);
    assert_eq!(
        text(&output.stderr),
        format!(
            "error: Unauthorized - One of Token or API key required. (HTTP 401 from GET \
             {}/actions?include_attributes=ref%2Cpack%2Cdescription%2Crunner_type)\n\
             hint: st2 login USER, or set ST2_AUTH_TOKEN / ST2_API_KEY\n",
            cluster.server.api_url()
        )
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn exactly_one_credential_is_sent() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // A token and a key: st2client sends both; the token wins here.
    let mut command = cluster.command(Auth::ApiKey, &["action", "list"]);
    command.env("ST2_AUTH_TOKEN", TOKEN);
    let output = command.output().unwrap();
    assert_exit(&output, 0);
    // `-t` on `execution cancel`, which st2client drops.
    let cancel = cluster.st2(
        Auth::Nothing,
        &["execution", "cancel", EXECUTION_ID, "-t", TOKEN],
    );
    assert_exit(&cancel, 1);
    for request in cluster.server.requests() {
        assert_eq!(
            request.header("x-auth-token"),
            Some(TOKEN),
            "{}",
            request.line()
        );
        assert_eq!(request.header("st2-api-key"), None, "{}", request.line());
        assert!(!request.query.contains(TOKEN));
    }
    cluster.server.assert_clean();
}

#[test]
fn server_errors_are_one_line_and_only_404_is_not_found() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    for (fault, expected) in [
        (
            ApiFault::Status(500, r#"{"faultstring": "Internal Server Error"}"#.into()),
            "error: Internal Server Error (HTTP 500 from GET ",
        ),
        (
            ApiFault::Status(
                403,
                r#"{"faultstring": "User \"bob\" doesn't have required permission"}"#.into(),
            ),
            "error: User \"bob\" doesn't have required permission (HTTP 403 from GET ",
        ),
        (
            ApiFault::Status(500, "<html><body>proxy says no</body></html>".into()),
            "error: Internal Server Error (HTTP 500 from GET ",
        ),
        (ApiFault::Garbage, "error: unexpected answer from GET "),
    ] {
        cluster
            .server
            .fault("GET /api/v1/actions/{ref_or_id}", fault);
        let output = cluster.st2(Auth::Token, &["action", "get", "core.local"]);
        assert_exit(&output, 1);
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with(expected), "{}", show(&output));
        assert_eq!(stderr.lines().count(), 1, "{}", show(&output));
    }
}

#[test]
fn gets_are_retried_after_a_reset_or_a_503_and_posts_never() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.server.fault("GET /api/v1/actions", ApiFault::Reset);
    cluster.server.fault(
        "GET /api/v1/actions",
        ApiFault::Status(503, r#"{"faultstring": "busy"}"#.into()),
    );
    let output = cluster.st2(Auth::Token, &["action", "list"]);
    assert_exit(&output, 0);
    assert_eq!(cluster.server.lines().len(), 3);
    cluster.server.clear();
    cluster
        .server
        .fault("POST /api/v1/executions", ApiFault::Reset);
    let output = cluster.st2(Auth::Token, &["run", "core.local", "cmd=date"]);
    assert_exit(&output, 1);
    let posts = cluster
        .server
        .lines()
        .iter()
        .filter(|line| line.starts_with("POST"))
        .count();
    assert_eq!(posts, 1, "a POST is never sent twice");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // Slow is not silent: an answer within the timeout is taken.
    cluster.server.fault(
        "GET /api/v1/actions",
        ApiFault::Slow(Duration::from_millis(500)),
    );
    let slow = cluster
        .command(Auth::Token, &["action", "list"])
        .env("ST2_HTTP_TIMEOUT", "3")
        .output()
        .unwrap();
    assert_exit(&slow, 0);
    cluster.server.fault("GET /api/v1/actions", ApiFault::Hang);
    let started = Instant::now();
    let output = cluster
        .command(Auth::Token, &["action", "list"])
        .env("ST2_HTTP_TIMEOUT", "1")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: no answer to GET ") && stderr.contains("within 1 s"),
        "{}",
        show(&output)
    );
    assert!(
        stderr.contains("hint: a slower cluster needs --http-timeout"),
        "{stderr}"
    );
}

#[test]
fn a_refused_connection_names_the_url_and_where_it_came_from() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster
        .home
        .bare_command("st2")
        .args(["action", "list"])
        .env("ST2_API_URL", "http://127.0.0.1:1/api/v1")
        .env("ST2_API_KEY", API_KEY)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_eq!(
        text(&output.stderr),
        "error: cannot reach GET http://127.0.0.1:1/api/v1/actions?include_attributes=ref%2Cpack%2Cdescription%2Crunner_type (URL from ST2_API_URL): Connection refused\n"
    );
}

#[test]
fn login_caches_the_token_and_names_the_user_in_the_config() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cluster.config_path(),
        "# my cluster\n[credentials]\n# who\nusername = someone\npassword = old\n\n[cli]\ncache_token = True\n",
    )
    .unwrap();
    let login = cluster.st2(Auth::Nothing, &["login", USER, "-p", PASSWORD]);
    assert_exit(&login, 0);
    assert_eq!(text(&login.stdout), "Logged in as st2admin\n");
    assert_stderr_contains(&login, "2099-01-01T00:00:00.000000Z");
    let requests = cluster.server.requests();
    assert_eq!(requests[0].line(), "POST /auth/v1/tokens");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic c3QyYWRtaW46Q2hAbmdlTWU=")
    );
    assert_eq!(requests[0].json_body().unwrap(), json!({}));
    // The config keeps its comments; the password is gone (no -w).
    assert_eq!(
        std::fs::read_to_string(cluster.config_path()).unwrap(),
        "# my cluster\n[credentials]\n# who\nusername = st2admin\n\n[cli]\ncache_token = True\n"
    );
    let cache = cluster.home.dir.path().join(".st2/token-st2admin");
    let cached: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let token = cached["token"].as_str().unwrap().to_string();
    assert_eq!(cached["expire_timestamp"], 4070908800_i64);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The next commands use the cached token: no second login.
    cluster.server.clear();
    let whoami = cluster.st2(Auth::Nothing, &["whoami"]);
    assert_exit(&whoami, 0);
    assert_eq!(
        text(&whoami.stdout),
        "Currently logged in as \"st2admin\".\n\nAuthentication method: authentication \
         token\nAuthentication token expire time: 2099-01-01T00:00:00Z\n\nRBAC:\n - \
         Enabled: False\n - Roles: \n"
    );
    assert_eq!(cluster.server.lines(), ["GET /api/v1/user"]);
    assert_eq!(
        cluster.server.requests()[0].header("x-auth-token"),
        Some(token.as_str())
    );
    cluster.server.assert_clean();
}

#[test]
fn a_revoked_cached_token_logs_in_again_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cluster.config_path(),
        format!("[credentials]\nusername = {USER}\npassword = {PASSWORD}\n"),
    )
    .unwrap();
    std::fs::write(
        cluster.home.dir.path().join(".st2/token-st2admin"),
        r#"{"token": "ffffffffffffffffffffffffffffffff", "expire_timestamp": 4070908800}"#,
    )
    .unwrap();
    let output = cluster.st2(Auth::Nothing, &["action", "list"]);
    assert_exit(&output, 0);
    assert_eq!(
        cluster.server.lines(),
        [
            "GET /api/v1/actions?include_attributes=ref%2Cpack%2Cdescription%2Crunner_type",
            "POST /auth/v1/tokens",
            "GET /api/v1/actions?include_attributes=ref%2Cpack%2Cdescription%2Crunner_type",
        ]
    );
    // The new token is cached.
    let cached =
        std::fs::read_to_string(cluster.home.dir.path().join(".st2/token-st2admin")).unwrap();
    assert!(!cached.contains("ffffffff"), "{cached}");
    // A corrupt cache: a warning, then a fresh login.
    std::fs::write(cluster.home.dir.path().join(".st2/token-st2admin"), "").unwrap();
    let output = cluster.st2(Auth::Nothing, &["action", "list"]);
    assert_exit(&output, 0);
    assert_stderr_contains(&output, "is corrupt; logging in again");
    cluster.server.assert_clean();
}

#[test]
fn a_user_without_password_or_cache_is_told_to_log_in() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cluster.config_path(),
        "[credentials]\nusername = st2admin\n",
    )
    .unwrap();
    let output = cluster.st2(Auth::Nothing, &["action", "list"]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("no password for st2admin in [credentials] username in ")
            && text(&output.stderr).contains("run st2 login st2admin"),
        "{}",
        show(&output)
    );
    assert!(cluster.server.requests().is_empty());
}

#[test]
fn auth_prints_a_token_and_bad_credentials_fail() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Nothing,
        &["auth", USER, "-p", PASSWORD, "-l", "3600", "-t"],
    );
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout).trim().len(), 32);
    assert_eq!(
        cluster.server.requests()[0].json_body().unwrap(),
        json!({"ttl": 3600})
    );
    let bad = cluster.st2(Auth::Nothing, &["auth", USER, "-p", "wrong"]);
    assert_exit(&bad, 1);
    assert!(
        text(&bad.stderr).starts_with(
            "error: cannot log in as st2admin: Invalid or missing credentials (HTTP 401 from POST"
        ),
        "{}",
        show(&bad)
    );
    assert!(!text(&bad.stderr).contains("wrong"));
    cluster.server.assert_clean();
    // [fix] exit 1 (st2client prints "Not authenticated" and exits 0).
    let whoami = cluster.st2(Auth::Nothing, &["whoami"]);
    assert_exit(&whoami, 1);
    assert!(
        text(&whoami.stderr).starts_with("error: Not authenticated: "),
        "{}",
        show(&whoami)
    );
}

#[test]
fn the_mode_switch_and_where_each_setting_came_from() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // Nothing set: local mode, the local store.
    let local = cluster
        .home
        .st2()
        .args(["key", "list", "-j"])
        .output()
        .unwrap();
    assert_exit(&local, 0);
    assert_eq!(text(&local.stdout), "[]\n");
    // A credential alone means remote, at st2client's default endpoints.
    let remote = cluster
        .home
        .bare_command("st2")
        .args(["--debug", "key", "list"])
        .env("ST2_API_KEY", "s3cr3t-k3y")
        .env("ST2_HTTP_TIMEOUT", "2")
        .output()
        .unwrap();
    let stderr = text(&remote.stderr);
    assert!(
        stderr.contains("mode: remote (a credential is set by ST2_API_KEY)"),
        "{}",
        show(&remote)
    );
    assert!(
        stderr.contains("api URL: http://127.0.0.1:9101/v1 (from the base URL (the default))"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t-k3y"), "{stderr}");
    // --mode local wins over everything.
    let forced = cluster
        .home
        .st2()
        .args(["--mode", "local", "key", "list", "-j"])
        .env("ST2_API_URL", cluster.server.api_url())
        .output()
        .unwrap();
    assert_exit(&forced, 0);
    assert!(cluster.server.requests().is_empty());
    // A local-only option in remote mode.
    let base_path = cluster.st2(Auth::Token, &["--base-path", "/tmp", "action", "list"]);
    assert_exit(&base_path, 2);
    assert_eq!(
        text(&base_path.stderr),
        "error: --base-path only applies to local mode\n"
    );
    let native = cluster.st2(
        Auth::Token,
        &["run", "core.local", "cmd=date", "--no-native"],
    );
    assert_exit(&native, 2);
}

#[test]
fn the_environment_beats_the_config_file_and_flags_beat_both() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let other = St2Server::start();
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cluster.config_path(),
        format!(
            "[api]\nurl = {}\n[credentials]\napi_key = {API_KEY}\n",
            other.api_url()
        ),
    )
    .unwrap();
    // The file alone.
    let output = cluster
        .home
        .bare_command("st2")
        .args(["action", "list"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(other.requests().len(), 1);
    assert_eq!(other.requests()[0].header("st2-api-key"), Some(API_KEY));
    // [fix] ST2_API_URL beats [api] url (st2client 3.9.0: the file wins).
    let output = cluster
        .home
        .bare_command("st2")
        .args(["action", "list"])
        .env("ST2_API_URL", cluster.server.api_url())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(cluster.server.requests().len(), 1);
    // --api-url beats ST2_API_URL.
    let output = cluster
        .home
        .bare_command("st2")
        .args(["--api-url", &other.api_url(), "action", "list"])
        .env("ST2_API_URL", cluster.server.api_url())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(other.requests().len(), 2);
    cluster.server.assert_clean();
    other.assert_clean();
}

#[test]
fn tail_of_a_finished_execution_prints_its_output() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["execution", "tail", EXECUTION_ID]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Tue Mar 12 10:00:00 UTC 2024\n\nExecution {EXECUTION_ID} has completed \
             (status=succeeded).\n"
        )
    );
    assert_eq!(
        cluster.server.lines(),
        [
            format!("GET /api/v1/executions/{EXECUTION_ID}"),
            format!("GET /api/v1/executions/{EXECUTION_ID}/output"),
        ]
    );
    let newest = cluster.st2(Auth::Token, &["execution", "tail"]);
    assert_exit(&newest, 0);
    assert_eq!(cluster.server.lines()[2], "GET /api/v1/executions/?limit=1");
    cluster.server.assert_clean();
}

#[test]
fn tail_of_a_running_execution_follows_the_stream_to_its_end() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ab98";
    cluster.server.world(|world| {
        world
            .executions
            .insert(id.into(), execution(id, "running", json!({"cmd": "x"})));
        world
            .output
            .insert(id.into(), vec![("stdout".into(), "before\n".into())]);
        world.streams.insert(
            id.into(),
            vec![
                StreamStep::Heartbeat,
                StreamStep::Sleep(Duration::from_millis(100)),
                StreamStep::Output("stderr", "oops\n".into()),
                StreamStep::Output("stdout", "after\n".into()),
                StreamStep::Finish("succeeded"),
            ],
        );
    });
    let output = cluster.st2(Auth::Token, &["execution", "tail", id, "--type", "stdout"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!("before\nafter\n\nExecution {id} has completed (status=succeeded).\n")
    );
    let stream = cluster
        .server
        .requests()
        .into_iter()
        .find(|request| request.path.starts_with("/stream/"))
        .unwrap();
    assert_eq!(
        stream.line(),
        format!("GET /stream/v1/executions/{id}/output?output_type=stdout")
    );
    assert_eq!(stream.header("x-auth-token"), Some(TOKEN));
    assert_eq!(stream.header("accept"), Some("text/event-stream"));
    cluster.server.assert_clean();
}

#[test]
fn tail_through_a_stream_that_breaks_reconnects_then_polls() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ab97";
    cluster.server.world(|world| {
        world
            .executions
            .insert(id.into(), execution(id, "running", json!({"cmd": "x"})));
        world
            .output
            .insert(id.into(), vec![("stdout".into(), "one\n".into())]);
        world.streams.insert(
            id.into(),
            vec![
                StreamStep::Output("stdout", "two\n".into()),
                StreamStep::Close,
            ],
        );
        world.set_progress(id, &["running", "running", "running", "succeeded"]);
    });
    let output = cluster.st2(Auth::Token, &["execution", "tail", id]);
    assert_exit(&output, 0);
    // Nothing twice, nothing lost: the second stream's replay ("one", "two") is skipped and
    // what it sends after it ("two" again) shown; /output at the end has nothing more.
    assert_eq!(
        text(&output.stdout),
        format!("one\ntwo\ntwo\n\nExecution {id} has completed (status=succeeded).\n")
    );
    assert_stderr_contains(&output, "waiting for the end by polling");
    cluster.server.assert_clean();
}

#[test]
fn a_silent_stream_is_dropped_after_the_timeout() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ab96";
    cluster.server.world(|world| {
        world
            .executions
            .insert(id.into(), execution(id, "running", json!({"cmd": "x"})));
        world.streams.insert(id.into(), vec![StreamStep::Hang]);
        world.set_progress(id, &["running", "running", "succeeded"]);
    });
    let started = Instant::now();
    let output = cluster
        .command(Auth::Token, &["execution", "tail", id])
        .env("ST2_HTTP_TIMEOUT", "1")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        text(&output.stdout).ends_with(&format!(
            "Execution {id} has completed (status=succeeded).\n"
        )),
        "{}",
        show(&output)
    );
    cluster.server.assert_clean();
}

#[test]
fn pack_list_get_search_and_show() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let list = cluster.st2(Auth::Token, &["pack", "list"]);
    assert_exit(&list, 0);
    assert_stdout_contains(&list, "Basic core actions.");
    let get = cluster.st2(Auth::Token, &["pack", "get", "core", "-j"]);
    assert_exit(&get, 0);
    let pack: Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(pack["ref"], "core");
    assert_eq!(pack["email"], "info@stackstorm.com");
    let missing = cluster.st2(Auth::Token, &["pack", "get", "nope"]);
    assert_exit(&missing, 1);
    assert!(
        text(&missing.stderr).starts_with("error: pack \"nope\" is not installed on the cluster"),
        "{}",
        show(&missing)
    );
    let search = cluster.st2(Auth::Token, &["pack", "search", "CSV"]);
    assert_exit(&search, 0);
    assert_stdout_contains(&search, "st2 content pack containing CSV");
    let shown = cluster.st2(Auth::Token, &["pack", "show", "csv"]);
    assert_exit(&shown, 0);
    assert_stdout_contains(&shown, "actions: 2");
    let unknown = cluster.st2(Auth::Token, &["pack", "show", "nope"]);
    assert_exit(&unknown, 1);
    let requests = cluster.server.requests();
    assert_eq!(
        requests[0].line(),
        "GET /api/v1/packs?include_attributes=ref%2Cname%2Cdescription%2Cversion%2Cauthor"
    );
    assert_eq!(requests[1].line(), "GET /api/v1/packs/core");
    assert_eq!(requests[3].line(), "POST /api/v1/packs/index/search");
    assert_eq!(requests[3].json_body().unwrap(), json!({"query": "CSV"}));
    assert_eq!(requests[4].json_body().unwrap(), json!({"pack": "csv"}));
    cluster.server.assert_clean();
}

#[test]
fn pack_register_and_reload_send_the_types_and_packs() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let all = cluster.st2(Auth::Token, &["pack", "register"]);
    assert_exit(&all, 0);
    assert_eq!(
        text(&all.stdout),
        "Registered 1 packs.\nRegistered 0 triggers.\nRegistered 0 sensors.\n\
         Registered 13 runners.\nRegistered 21 actions.\nRegistered 0 rules.\n\
         Registered 0 aliases.\nRegistered 0 policies.\nRegistered 0 configs.\n"
    );
    let one = cluster.st2(Auth::Token, &["pack", "register", "core"]);
    assert_exit(&one, 0);
    let reload = cluster.st2(
        Auth::Token,
        &[
            "reload",
            "--register-actions",
            "--register-no-fail-on-failure",
        ],
    );
    assert_exit(&reload, 0);
    let missing = cluster.st2(Auth::Token, &["pack", "register", "nope"]);
    assert_exit(&missing, 2);
    assert!(
        text(&missing.stderr).starts_with("error: Pack \"nope\" not found on disk"),
        "{}",
        show(&missing)
    );
    let venvs = cluster.st2(Auth::Token, &["reload", "--register-setup-virtualenvs"]);
    assert_exit(&venvs, 2);
    let bodies: Vec<Value> = cluster
        .server
        .requests()
        .iter()
        .filter(|request| request.method == "POST")
        .map(|request| request.json_body().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({}),
            json!({"packs": ["core"]}),
            json!({"types": ["runner", "actions"], "fail_on_failure": false}),
            json!({"packs": ["nope"]}),
        ]
    );
    cluster.server.assert_clean();
}

#[test]
fn pack_install_follows_the_workflow_task_by_task() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["pack", "install", "csv"]);
    assert_exit(&output, 0);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("For the \"csv\" pack, the following content will be registered:"),
        "{}",
        show(&output)
    );
    assert!(
        stderr.contains("download   download_pack: succeeded"),
        "{stderr}"
    );
    assert!(
        stderr.contains("register   register_pack: succeeded"),
        "{stderr}"
    );
    assert_stdout_contains(&output, "the csv pack");
    let lines = cluster.server.lines();
    let id = "65f0c0ffee0000000000ab11";
    assert_eq!(
        lines,
        [
            "POST /api/v1/packs/index/search".to_string(),
            "POST /api/v1/packs/install".to_string(),
            format!(
                "GET /stream/v1/stream?end_event=st2.execution__update&end_execution_id={id}\
                 &events=st2.execution__create%2Cst2.execution__update"
            ),
            format!("GET /api/v1/executions/{id}"),
            format!("GET /api/v1/executions/{id}"),
            "GET /api/v1/packs/csv".to_string(),
        ]
    );
    let requests = cluster.server.requests();
    assert_eq!(
        requests[1].json_body().unwrap(),
        json!({"packs": ["csv"], "force": false, "skip_dependencies": false})
    );
    assert_eq!(requests[2].header("x-auth-token"), Some(TOKEN));
    cluster.server.assert_clean();
}

#[test]
fn a_failed_install_exits_1_with_the_workflows_error() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["pack", "install", "broken", "-j"]);
    assert_exit(&output, 1);
    assert_stderr_contains(&output, "ended failed: Failed to download pack \"broken\"");
    cluster.server.assert_clean();
}

#[test]
fn an_install_whose_stream_drops_is_polled_to_its_end() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster
        .server
        .world(|world| world.drop_workflow_streams = true);
    let output = cluster.st2(Auth::Token, &["pack", "install", "csv", "--force", "-j"]);
    assert_exit(&output, 0);
    let installed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(installed[0]["ref"], "csv");
    let skip = cluster.st2(
        Auth::Token,
        &["pack", "install", "csv", "--skip-virtualenv"],
    );
    assert_exit(&skip, 1);
    assert_stderr_contains(&skip, "--skip-virtualenv only applies to local mode");
    cluster.server.assert_clean();
}

#[test]
fn pack_remove_checks_that_the_pack_is_gone() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(Auth::Token, &["pack", "remove", "core", "nope"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("Pack \"nope\" is not installed."),
        "{}",
        show(&output)
    );
    assert!(stderr.contains("Removed pack core"), "{stderr}");
    let lines = cluster.server.lines();
    assert_eq!(lines[0], "GET /api/v1/packs");
    assert_eq!(lines[1], "POST /api/v1/packs/uninstall");
    assert_eq!(lines.last().unwrap(), "GET /api/v1/packs/core");
    assert_eq!(
        cluster.server.requests()[1].json_body().unwrap(),
        json!({"packs": ["core"]})
    );
    cluster.server.assert_clean();
}

#[test]
fn pack_config_show_and_write() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let shown = cluster.st2(Auth::Token, &["pack", "config", "show", "core", "-j"]);
    assert_exit(&shown, 0);
    let values: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(values, json!({"region": "eu-west-1", "token": "********"}));
    let resolved = cluster.st2(
        Auth::Token,
        &["pack", "config", "show", "core", "--resolved"],
    );
    assert_exit(&resolved, 2);
    let written = cluster.st2(Auth::Token, &["pack", "config", "core", "--yes", "-j"]);
    assert_exit(&written, 0);
    assert!(
        !text(&written.stdout).contains("s3cr3t-t0ken"),
        "{}",
        show(&written)
    );
    let put = cluster
        .server
        .requests()
        .into_iter()
        .find(|request| request.method == "PUT")
        .unwrap();
    assert_eq!(put.line(), "PUT /api/v1/configs/core");
    assert_eq!(
        put.json_body().unwrap(),
        json!({"region": "eu-west-1", "token": "s3cr3t-t0ken"})
    );
    let missing = cluster.st2(Auth::Token, &["pack", "config", "show", "nope"]);
    assert_exit(&missing, 1);
    assert!(
        text(&missing.stderr)
            .contains("Pack \"nope\" doesn't exist or doesn't have a config schema defined."),
        "{}",
        show(&missing)
    );
    cluster.server.assert_clean();
}

/// The cluster has csv 1.0.0 installed (its index has 2.0.0).
fn install_csv_1_0_0(cluster: &Cluster) {
    cluster.server.world(|world| {
        world
            .packs
            .push(json!({"ref": "csv", "name": "csv", "version": "1.0.0",
                                "description": "CSV", "author": "StackStorm, Inc."}));
    });
}

#[test]
fn pack_outdated_compares_with_the_clusters_index_and_local_lifecycle_is_refused() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    install_csv_1_0_0(&cluster);
    let output = cluster.st2(Auth::Token, &["pack", "outdated", "-j"]);
    assert_exit(&output, 0);
    let packs: Value = serde_json::from_slice(&output.stdout).unwrap();
    let csv = packs
        .as_array()
        .unwrap()
        .iter()
        .find(|pack| pack["ref"] == "csv")
        .unwrap();
    assert_eq!(csv["installed"], "1.0.0");
    assert_eq!(csv["newest"], "2.0.0");
    assert_eq!(csv["status"], "update available");
    let core = packs
        .as_array()
        .unwrap()
        .iter()
        .find(|pack| pack["ref"] == "core")
        .unwrap();
    assert_eq!(core["status"], "not in the index");
    for args in [&["pack", "verify"][..], &["pack", "prune"]] {
        let refused = cluster.st2(Auth::Token, args);
        assert_exit(&refused, 2);
        assert_stderr_contains(&refused, "only applies to local mode");
    }
    cluster.server.assert_clean();
}

// `st2 execution re-run` (`../shared/spec/remote-api.md` §2, §2.1).

#[test]
fn re_run_casts_the_words_against_the_original_action_and_polls_to_the_end() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &[
            "execution",
            "re-run",
            EXECUTION_ID,
            "cmd=uptime",
            "timeout=30",
        ],
    );
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("status: succeeded"), "{}", show(&output));
    assert!(stdout.contains("cmd: uptime"), "{stdout}");
    let id = "65f0c0ffee0000000000ab11";
    assert!(stdout.starts_with(&format!("id: {id}\n")), "{stdout}");
    let lines = cluster.server.lines();
    assert_eq!(
        lines[..4],
        [
            format!("GET /api/v1/executions/{EXECUTION_ID}"),
            "GET /api/v1/actions/core.local".to_string(),
            "GET /api/v1/runnertypes/?name=local-shell-cmd".to_string(),
            format!("POST /api/v1/executions/{EXECUTION_ID}/re_run"),
        ]
    );
    // The runner's `timeout` is an integer, the action's `cmd` a string: cast before the
    // POST; the body's keys in st2client's order.
    let requests = cluster.server.requests();
    assert_eq!(
        requests[3].body.as_deref(),
        Some(r#"{"parameters":{"cmd":"uptime","timeout":30},"tasks":[],"reset":[],"delay":0}"#)
    );
    assert_eq!(requests[3].header("content-type"), Some("application/json"));
    // Running, then succeeded.
    assert_eq!(
        lines[4..],
        [
            format!("GET /api/v1/executions/{id}"),
            format!("GET /api/v1/executions/{id}")
        ]
    );
    // `-a`: where to look, as `st2 run -a` prints it, and no polling.
    cluster.server.clear();
    let output = cluster.st2(Auth::Token, &["execution", "re-run", EXECUTION_ID, "-a"]);
    assert_exit(&output, 0);
    let id = "65f0c0ffee0000000000ab12";
    assert_eq!(
        text(&output.stdout),
        format!(
            "To get the results, execute:\n st2 execution get {id}\n\n\
             To view output in real-time, execute:\n st2 execution tail {id}\n"
        )
    );
    assert_eq!(cluster.server.lines().len(), 4);
    cluster.server.assert_clean();
}

#[test]
fn re_run_tasks_reset_and_delay_go_in_the_body() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let workflow = cluster.server.world(add_failed_workflow);
    let output = cluster.st2(
        Auth::Token,
        &[
            "execution",
            "re-run",
            &workflow,
            "--tasks",
            "task2",
            "task3",
            "--no-reset",
            "task3",
            "--delay",
            "100",
            "-j",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(
        cluster.server.lines()[..4],
        [
            format!("GET /api/v1/executions/{workflow}"),
            "GET /api/v1/actions/examples.orquesta-sequential".to_string(),
            "GET /api/v1/runnertypes/?name=orquesta".to_string(),
            format!("POST /api/v1/executions/{workflow}/re_run"),
        ]
    );
    assert_eq!(
        cluster.server.requests()[3].json_body().unwrap(),
        json!({"parameters": {}, "tasks": ["task2", "task3"], "reset": ["task2"], "delay": 100})
    );
    // The new execution says where it came from.
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(
        execution["context"]["re-run"],
        json!({"ref": workflow, "tasks": ["task2", "task3"], "reset": ["task2"]})
    );
    assert_eq!(execution["parameters"], json!({"who": "Thanos"}));
    cluster.server.assert_clean();
}

#[test]
fn re_run_with_a_delay_polls_through_delayed() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let output = cluster.st2(
        Auth::Token,
        &["execution", "re-run", EXECUTION_ID, "--delay", "100", "-j"],
    );
    assert_exit(&output, 0);
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["parameters"], json!({"cmd": "date"}));
    // delayed (the POST's answer and the first GET), running, succeeded.
    let polls = cluster
        .server
        .lines()
        .iter()
        .filter(|line| line.starts_with("GET /api/v1/executions/65f0c0ffee0000000000ab11"))
        .count();
    assert_eq!(polls, 3);
    cluster.server.assert_clean();
}

#[test]
fn re_run_refusals_are_one_line() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // st2client's own check, before any request.
    let subset = cluster.st2(
        Auth::Token,
        &[
            "execution",
            "re-run",
            EXECUTION_ID,
            "--tasks",
            "a",
            "--no-reset",
            "b",
        ],
    );
    assert_exit(&subset, 2);
    assert_eq!(
        text(&subset.stderr),
        "error: List of tasks to reset does not match the tasks to rerun.\n"
    );
    assert!(cluster.server.lines().is_empty());
    // The cluster's: tasks of a non-orquesta execution, parameters with tasks.
    let port = cluster.server.port.to_string();
    let refused = |args: &[&str], message: &str| {
        let mut words = vec!["execution", "re-run", EXECUTION_ID];
        words.extend(args);
        let output = cluster.st2(Auth::Token, &words);
        assert_exit(&output, 2);
        assert_eq!(
            text(&output.stderr),
            format!(
                "error: {message} (HTTP 400 from POST http://127.0.0.1:{port}/api/v1/executions/\
                 {EXECUTION_ID}/re_run)\n"
            )
        );
    };
    refused(
        &["--tasks", "a"],
        "Task option is only supported for Orquesta workflows.",
    );
    refused(
        &["cmd=x", "--tasks", "a"],
        "Parameters override is not supported when re-running task(s) for a workflow.",
    );
    // A word that does not cast: nothing is posted.
    cluster.server.clear();
    let bad_cast = cluster.st2(
        Auth::Token,
        &["execution", "re-run", EXECUTION_ID, "timeout=abc"],
    );
    assert_exit(&bad_cast, 2);
    assert_eq!(
        text(&bad_cast.stderr).lines().count(),
        1,
        "{}",
        show(&bad_cast)
    );
    assert!(!cluster
        .server
        .lines()
        .iter()
        .any(|line| line.starts_with("POST")));
    cluster.server.assert_clean();
}

#[test]
fn re_run_of_an_unknown_execution_is_not_found() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let unknown = "65f0c0ffee00000000000bad";
    let output = cluster.st2(Auth::Token, &["execution", "re-run", unknown, "cmd=x"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{}", show(&output));
    assert!(
        stderr.starts_with(&format!("error: execution \"{unknown}\" is not found")),
        "{stderr}"
    );
    assert_eq!(
        cluster.server.lines(),
        [format!("GET /api/v1/executions/{unknown}")]
    );
    cluster.server.assert_clean();
}

#[test]
fn re_run_sends_the_token_of_t_on_every_request() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // [fix] st2client drops `-t` on the action and runner lookups (401 without another
    // credential).
    let output = cluster.st2(
        Auth::Nothing,
        &[
            "execution",
            "re-run",
            EXECUTION_ID,
            "cmd=uptime",
            "-t",
            TOKEN,
        ],
    );
    assert_exit(&output, 0);
    let requests = cluster.server.requests();
    assert!(requests.len() >= 5, "{:?}", cluster.server.lines());
    for request in requests {
        assert_eq!(
            request.header("x-auth-token"),
            Some(TOKEN),
            "{}",
            request.line()
        );
        assert_eq!(request.header("st2-api-key"), None, "{}", request.line());
    }
    cluster.server.assert_clean();
}

#[test]
fn pack_update_installs_the_indexs_newer_versions_through_the_pack_workflow() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    install_csv_1_0_0(&cluster);
    let nothing_named = cluster.st2(Auth::Token, &["pack", "update"]);
    assert_exit(&nothing_named, 2);
    assert_stderr_contains(&nothing_named, "<REF>");
    // core is not in the index: named, nothing is updated.
    let not_indexed = cluster.st2(Auth::Token, &["pack", "update", "core", "csv"]);
    assert_exit(&not_indexed, 1);
    assert_stderr_contains(&not_indexed, "core: not in the cluster's index");
    assert!(!cluster
        .server
        .requests()
        .iter()
        .any(|request| request.path.ends_with("/packs/install")));
    let updated = cluster.st2(Auth::Token, &["pack", "update", "--all", "-j"]);
    assert_exit(&updated, 0);
    let report: Value = serde_json::from_slice(&updated.stdout).unwrap();
    assert_eq!(
        report["updated"],
        json!([{"ref": "csv", "from": "1.0.0", "to": "2.0.0"}]),
        "{}",
        show(&updated)
    );
    assert_eq!(report["unchanged"][0]["ref"], "core");
    assert_eq!(report["unchanged"][0]["reason"], "not in the index");
    let installs: Vec<Value> = cluster
        .server
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/packs/install"))
        .map(|request| request.json_body().unwrap())
        .collect();
    assert_eq!(
        installs,
        [json!({"packs": ["csv=2.0.0"], "force": false, "skip_dependencies": false})]
    );
    // Up to date now: no second install.
    let again = cluster.st2(Auth::Token, &["pack", "update", "csv"]);
    assert_exit(&again, 0);
    assert_eq!(
        cluster
            .server
            .requests()
            .iter()
            .filter(|request| request.path.ends_with("/packs/install"))
            .count(),
        1
    );
    for args in [
        &["pack", "update", "--all", "--offline"][..],
        &["pack", "update", "csv", "--skip-virtualenv"],
    ] {
        let refused = cluster.st2(Auth::Token, args);
        assert_stderr_contains(&refused, "only applies to local mode");
    }
    cluster.server.assert_clean();
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn auto_login_skips_an_auth_server_it_cannot_reach_and_stops_on_refused_credentials() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    let config = |password: &str| {
        std::fs::write(
            cluster.config_path(),
            format!("[credentials]\nusername = {USER}\npassword = {password}\n"),
        )
        .unwrap();
    };
    config(PASSWORD);
    // Unreachable: as st2client, one warning, then the command goes on without a credential
    // (here the cluster wants one: its 401 is the error).
    let unreachable = format!("http://127.0.0.1:{}/auth/v1", closed_port());
    let output = cluster
        .home
        .bare_command("st2")
        .args([
            "--api-url",
            &cluster.server.api_url(),
            "--auth-url",
            &unreachable,
        ])
        .args(["key", "list"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "warning: Auth API server is not available, skipping authentication (cannot \
             reach POST {unreachable}/tokens (URL from --auth-url): "
        )),
        "{}",
        show(&output)
    );
    assert!(
        lines[1].starts_with("error: Unauthorized - One of Token or API key required."),
        "{}",
        show(&output)
    );
    let requests = cluster.server.requests();
    assert_eq!(requests.len(), 1, "{:?}", cluster.server.lines());
    assert!(requests[0].line().starts_with("GET /api/v1/keys/"));
    assert_eq!(requests[0].header("x-auth-token"), None);
    assert_eq!(requests[0].problems, ["no credential"]);
    cluster.server.clear();
    // Reached, and the credentials refused: st2client's words, and nothing else is sent.
    config("wrong");
    let output = cluster.st2(Auth::Nothing, &["key", "list"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: Failed to authenticate with credentials provided in the config (user \
             {USER}, from [credentials] username in {}): Invalid or missing credentials \
             (HTTP 401 from POST ",
            cluster.config_path().display()
        )),
        "{}",
        show(&output)
    );
    assert!(!stderr.contains("wrong"), "{stderr}");
    assert_eq!(cluster.server.lines(), ["POST /auth/v1/tokens"]);
    cluster.server.assert_clean();
}

#[test]
fn key_list_beyond_100_fetches_pages_of_100() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.server.world(|world| {
        // RBAC on, a user who is not an admin: no page above 100, no -1.
        world.max_page_size = Some(100);
        for n in 0..260 {
            let name = format!("p{n:03}");
            world.keys.insert(
                ("st2kv.system".into(), String::new(), name.clone()),
                json!({"name": name, "value": "v", "secret": false, "encrypted": false,
                       "scope": "st2kv.system", "uid": format!("key_value_pair:st2kv.system:{name}"),
                       "id": "65f0ffff0000000000000001"}),
            );
        }
    });
    let names = |output: &Output| -> Vec<String> {
        let items: Value = serde_json::from_slice(&output.stdout).unwrap();
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_string())
            .collect()
    };
    let output = cluster.st2(Auth::Token, &["key", "list", "-n", "250", "-p", "p", "-j"]);
    assert_exit(&output, 0);
    let listed = names(&output);
    assert_eq!(listed.len(), 250);
    // st2client's -j order is the reverse of the answer's.
    assert!(listed.contains(&"p000".to_string()) && listed.contains(&"p249".to_string()));
    assert!(!listed.contains(&"p250".to_string()));
    assert_eq!(
        cluster.server.lines(),
        [
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=100&prefix=p",
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=100&offset=100&prefix=p",
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=50&offset=200&prefix=p",
        ]
    );
    cluster.server.clear();
    // -n -1: all of them, 100 at a time, until a page comes back short.
    let output = cluster.st2(Auth::Token, &["key", "list", "-n", "-1", "-j"]);
    assert_exit(&output, 0);
    assert_eq!(names(&output).len(), 261);
    assert_eq!(
        cluster.server.lines(),
        [
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=100",
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=100&offset=100",
            "GET /api/v1/keys/?decrypt=false&scope=all&limit=100&offset=200",
        ]
    );
    cluster.server.clear();
    // At most 100: one request, as st2client sends it.
    let output = cluster.st2(Auth::Token, &["key", "list", "-n", "100", "-j"]);
    assert_exit(&output, 0);
    assert_eq!(names(&output).len(), 100);
    assert_eq!(
        cluster.server.lines(),
        ["GET /api/v1/keys/?decrypt=false&scope=all&limit=100"]
    );
    let bad = cluster.st2(Auth::Token, &["key", "list", "-n", "-2"]);
    assert_exit(&bad, 2);
    assert_stderr_contains(
        &bad,
        "\"-2\" is not a number of items (or -1 for all of them)",
    );
    cluster.server.assert_clean();
}

#[test]
fn execution_list_beyond_100_fetches_pages_of_100() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.server.world(|world| {
        world.max_page_size = Some(100);
        for n in 0..150 {
            let id = format!("65f0c0ffee00000000{n:06x}");
            world.executions.insert(
                id.clone(),
                execution(&id, "succeeded", json!({"cmd": "date"})),
            );
        }
    });
    let output = cluster.st2(Auth::Token, &["execution", "list", "-n", "-1", "-j"]);
    assert_exit(&output, 0);
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 151);
    let attributes = "include_attributes=id%2Caction.ref%2Ccontext.user%2Cstatus%2C\
                      start_timestamp%2Cend_timestamp";
    assert_eq!(
        cluster.server.lines(),
        [
            format!("GET /api/v1/executions/?limit=100&parent=null&sort_desc=True&{attributes}"),
            format!(
                "GET /api/v1/executions/?limit=100&offset=100&parent=null&sort_desc=True&\
                 {attributes}"
            ),
        ]
    );
    cluster.server.assert_clean();
}

/// A running orquesta workflow `id` whose one task `task` is `child`.
fn running_workflow(cluster: &Cluster, id: &str) {
    cluster.server.world(|world| {
        world.executions.insert(
            id.into(),
            workflow_execution(id, "orquesta", "running", None),
        );
    });
}

#[test]
fn tail_of_a_workflow_whose_stream_breaks_reconnects_then_polls() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ac01";
    let child = "65f0c0ffee0000000000ac02";
    running_workflow(&cluster, id);
    let task = |status: &str| {
        EventStep::Event(
            "st2.execution__update",
            task_of("orquesta", child, id, "t1", status),
        )
    };
    cluster.server.world(|world| {
        world.general_streams.insert(
            id.into(),
            std::collections::VecDeque::from([
                vec![
                    task("running"),
                    output_event(child, "stdout", "one\n"),
                    EventStep::Close,
                ],
                vec![
                    output_event(child, "stdout", "two\n"),
                    task("succeeded"),
                    EventStep::Event(
                        "st2.execution__update",
                        workflow_execution(id, "orquesta", "succeeded", None),
                    ),
                ],
            ]),
        );
    });
    let output = cluster.st2(Auth::Token, &["execution", "tail", id]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Child execution (task=t1) {child} has started.\n\none\ntwo\n\nChild execution \
             (task=t1) {child} has finished (status=succeeded).\n\nExecution {id} has \
             completed (status=succeeded).\n"
        ),
        "{}",
        show(&output)
    );
    assert_eq!(text(&output.stderr), "");
    let stream = format!(
        "GET /stream/v1/stream?end_event=st2.execution__update&end_execution_id={id}&\
         events=st2.execution__update%2Cst2.execution.output__create"
    );
    let after = format!("GET /api/v1/executions/{id}?include_attributes=id%2Cstatus%2Cchildren");
    assert_eq!(
        cluster.server.lines(),
        [
            format!("GET /api/v1/executions/{id}"),
            stream.clone(),
            after.clone(),
            stream,
            after,
        ]
    );
    let requests = cluster.server.requests();
    assert_eq!(requests[1].header("x-auth-token"), Some(TOKEN));
    assert_eq!(requests[1].header("accept"), Some("text/event-stream"));
    cluster.server.assert_clean();
    // Broken twice: polled to the end, with a warning.
    let id = "65f0c0ffee0000000000ac03";
    running_workflow(&cluster, id);
    cluster.server.world(|world| {
        world.general_streams.insert(
            id.into(),
            std::collections::VecDeque::from([vec![EventStep::Close], vec![EventStep::Close]]),
        );
        world.set_progress(id, &["running", "running", "running", "failed"]);
    });
    let output = cluster.st2(Auth::Token, &["execution", "tail", id]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!("\nExecution {id} has completed (status=failed).\n")
    );
    assert_stderr_contains(&output, "waiting for the end by polling");
    cluster.server.assert_clean();
}

#[test]
fn tail_of_a_workflow_that_ended_before_its_stream_opened() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let id = "65f0c0ffee0000000000ac04";
    running_workflow(&cluster, id);
    cluster.server.world(|world| {
        // Running when first asked, over once the stream is open; the stream says nothing.
        world.set_progress(id, &["running", "succeeded"]);
        world
            .output
            .insert(id.into(), vec![("stdout".into(), "done\n".into())]);
        world
            .general_streams
            .insert(id.into(), std::collections::VecDeque::from([vec![]]));
    });
    let started = Instant::now();
    let output = cluster.st2(Auth::Token, &["execution", "tail", id]);
    assert_exit(&output, 0);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        text(&output.stdout),
        format!("done\n\nExecution {id} has completed (status=succeeded).\n")
    );
    assert_eq!(
        cluster.server.lines()[2..],
        [
            format!("GET /api/v1/executions/{id}?include_attributes=id%2Cstatus%2Cchildren"),
            format!("GET /api/v1/executions/{id}"),
            format!("GET /api/v1/executions/{id}/output"),
        ]
    );
    cluster.server.assert_clean();
}

#[test]
fn run_following_its_output_reconnects_once_then_polls() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // The execution `st2 run` starts next (the stand-in's ids come in order).
    let id = "65f0c0ffee0000000000ab11";
    cluster.server.world(|world| {
        world.output.insert(id.into(), Vec::new());
        world.stream_scripts.insert(
            id.into(),
            std::collections::VecDeque::from([
                vec![
                    StreamStep::Output("stdout", "first\n".into()),
                    StreamStep::Close,
                ],
                vec![
                    StreamStep::Output("stderr", "second\n".into()),
                    StreamStep::Finish("succeeded"),
                ],
            ]),
        );
    });
    let output = cluster.st2(Auth::Token, &["run", "core.local", "cmd=date", "--tail"]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    // "first" once: the second stream's replay of it is skipped.
    assert!(stdout.starts_with("first\n\nid: "), "{}", show(&output));
    assert_eq!(stdout.matches("first").count(), 1, "{stdout}");
    assert_stderr_contains(&output, "second\n");
    let output_stream = format!("GET /stream/v1/executions/{id}/output");
    assert_eq!(
        cluster.server.lines()[3..],
        [
            output_stream.clone(),
            output_stream,
            format!("GET /api/v1/executions/{id}"),
        ]
    );
    cluster.server.assert_clean();
    // Broken twice: polled to the end, the result printed as always.
    let id = "65f0c0ffee0000000000ab12";
    cluster.server.world(|world| {
        world.output.insert(id.into(), Vec::new());
        world.stream_scripts.insert(
            id.into(),
            std::collections::VecDeque::from([vec![StreamStep::Close], vec![StreamStep::Close]]),
        );
    });
    cluster.server.clear();
    let output = cluster.st2(Auth::Token, &["run", "core.local", "cmd=date", "--tail"]);
    assert_exit(&output, 0);
    assert_stdout_contains(&output, "status: succeeded");
    let streams = cluster
        .server
        .lines()
        .iter()
        .filter(|line| line.starts_with("GET /stream/"))
        .count();
    assert_eq!(streams, 2, "{:?}", cluster.server.lines());
    cluster.server.assert_clean();
}

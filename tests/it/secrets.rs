//! Secret leakage: every command, with secrets in a pack config, the encrypted datastore, and
//! `secret: true` parameters, in every output format and with debug logs on. No secret string
//! may appear in any output, log, execution record or file st2 writes.

use std::process::Output;

use serde_json::{json, Value};

use crate::common::*;

const CONFIG_KEY: &str = "cfgSECRET1f3a";
const KV_TOKEN: &str = "kvSECRET77b2";
const PARAM: &str = "paramSECRETc0de";
const HTTP_PASSWORD: &str = "httpSECRET9a9a";
const PIN: &str = "pinSECRET4242";
/// A secret only an action reads, through action_service.get_value(decrypt=True).
const KV_ONLY: &str = "kvonlySECRET5e5e";
const SECRETS: [&str; 6] = [CONFIG_KEY, KV_TOKEN, PARAM, HTTP_PASSWORD, PIN, KV_ONLY];

/// Collects every output and checks it for secrets, naming the command that leaked.
struct Audit<'a> {
    home: &'a Home,
    commands: usize,
}

impl Audit<'_> {
    fn check(&mut self, what: &str, output: &Output) -> String {
        self.commands += 1;
        for text in [stdout(output), stderr(output)] {
            for secret in SECRETS {
                assert!(
                    !text.contains(secret),
                    "`{what}` printed the secret {secret}:\n{text}"
                );
            }
        }
        stdout(output)
    }

    /// `st2 ARGS` in the plain, JSON and YAML formats, each also with `--debug` logs.
    fn st2(&mut self, args: &[&str]) -> Vec<Output> {
        let mut outputs = Vec::new();
        for format in [None, Some("-j"), Some("-y")] {
            for debug in [false, true] {
                let mut command = self.home.st2();
                if debug {
                    command.arg("--debug");
                }
                command.args(args);
                if let Some(format) = format {
                    command.arg(format);
                }
                let output = command.output().unwrap();
                self.check(
                    &format!("st2 {} {format:?} debug={debug}", args.join(" ")),
                    &output,
                );
                outputs.push(output);
            }
        }
        outputs
    }

    fn st2ctl(&mut self, args: &[&str]) -> Output {
        let output = self
            .home
            .st2ctl()
            .arg("--debug")
            .args(args)
            .output()
            .unwrap();
        self.check(&format!("st2ctl {}", args.join(" ")), &output);
        output
    }
}

#[test]
fn no_command_prints_or_records_a_secret() {
    let home = Home::new();
    let mut audit = Audit {
        home: &home,
        commands: 0,
    };
    let server = http_server(vec![("/login".into(), 200, b"{\"ok\": true}".to_vec())]);

    let output = home
        .st2()
        .args(["key", "set", "vault_token", KV_TOKEN, "--encrypt"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    audit.check("st2 key set --encrypt", &output);
    let output = home
        .st2()
        .args(["key", "set", "kv_only", KV_ONLY, "--encrypt"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    home.write_config(
        "vault",
        &format!("api_key: {CONFIG_KEY}\ntoken: '{{{{ st2kv.system.vault_token }}}}'\n"),
    );
    let pack = fixtures_dir().join("packs/vault");
    for output in audit.st2(&["pack", "install", pack.to_str().unwrap()]) {
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let output = audit.st2ctl(&["reload", "--register-all", "--register-configs"]);
    assert!(output.status.success(), "{}", stderr(&output));

    for args in [
        vec!["pack", "list"],
        vec!["pack", "get", "vault"],
        vec!["pack", "config", "show", "vault"],
        vec!["pack", "config", "show", "vault", "--resolved"],
        vec!["key", "list"],
        vec!["key", "get", "vault_token"],
        vec!["action", "list"],
        vec!["action", "get", "vault.use"],
    ] {
        for output in audit.st2(&args) {
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        }
    }

    // Runs that succeed, with the secrets in use.
    let password = format!("password={PARAM}");
    for output in audit.st2(&["run", "vault.use", &password]) {
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let outputs = audit.st2(&["run", "vault.use", &password, "-d"]);
    let lengths: Value = serde_json::from_slice(&outputs[2].stdout).unwrap();
    assert_eq!(lengths["result"]["result"]["key_length"], CONFIG_KEY.len());
    assert_eq!(lengths["result"]["result"]["token_length"], KV_TOKEN.len());
    assert_eq!(lengths["result"]["result"]["password_length"], PARAM.len());
    for output in audit.st2(&["run", "vault.shell", &password]) {
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("fine"));
    }
    // [fix] Actions that print their secrets themselves: masked in what is shown and stored.
    for output in audit.st2(&["run", "vault.leak", &password]) {
        assert!(!output.status.success(), "vault.leak returns (False, ...)");
    }
    let outputs = audit.st2(&["run", "vault.leak", &password, "-d"]);
    let leaked: Value = serde_json::from_slice(&outputs[2].stdout).unwrap();
    let text = |key: &str| {
        leaked["result"][key]
            .as_str()
            .unwrap()
            .trim_end()
            .to_string()
    };
    assert_eq!(
        text("stdout"),
        "auth failed for key ******** token ********\nfetched ********"
    );
    assert!(text("stderr").ends_with("password was ********"));
    assert_eq!(
        leaked["result"]["result"],
        serde_json::json!({"password": "********", "key": "********"})
    );
    for output in audit.st2(&["run", "vault.shell_leak", &password]) {
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("password: ********"));
    }
    let http_password = format!("password={HTTP_PASSWORD}");
    for url in [
        server.url("/login"),
        "http://127.0.0.1:9/refused".to_string(),
    ] {
        let url = format!("url={url}");
        audit.st2(&["run", "core.http", &url, "username=me", &http_password]);
    }
    let output = home
        .st2()
        .args(["run", "vault.use", &password, "-a"])
        .output()
        .unwrap();
    audit.check("st2 run -a", &output);

    // Runs refused before they start: the secret is in the rejected arguments.
    for args in [
        vec!["run", "vault.use", &password, "nope=1"],
        vec!["run", "vault.use", &password, &format!("count={PIN}")],
        vec![
            "run",
            "vault.shell",
            &password,
            &format!("cmd=echo {PARAM}"),
        ],
    ] {
        for output in audit.st2(&args) {
            assert!(!output.status.success(), "{args:?} should fail");
        }
    }

    // Everything recorded since.
    for args in [
        vec!["execution", "list"],
        vec!["execution", "list", "-n", "100"],
    ] {
        audit.st2(&args);
    }
    let ids = home.query("SELECT id FROM executions");
    assert!(ids.len() >= 20, "{}", ids.len());
    for id in &ids {
        audit.st2(&["execution", "get", id]);
        audit.st2(&["execution", "get", id, "-d"]);
    }
    let records = home.query(
        "SELECT id || action_ref || parameters || status || coalesce(result, '') FROM executions",
    );
    for record in &records {
        for secret in SECRETS {
            assert!(
                !record.contains(secret),
                "execution record holds {secret}: {record}"
            );
        }
    }

    // A config whose secret has the wrong type: the error must not quote it.
    home.write_config(
        "vault",
        &format!("api_key: {CONFIG_KEY}\ntoken: x\npin: {PIN}\n"),
    );
    let output = audit.st2ctl(&["reload", "--register-configs"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("pin"), "{}", stderr(&output));
    for output in audit.st2(&["pack", "config", "show", "vault"]) {
        assert!(output.status.success());
    }

    // Files st2 wrote itself (not the user's config, not the store, checked above).
    for entry in walkdir::WalkDir::new(&home.base) {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy();
        if !entry.file_type().is_file()
            || path.starts_with(home.base.join("configs"))
            || name.starts_with("st2.db")
        {
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in SECRETS {
            assert!(!text.contains(secret), "{} holds {secret}", path.display());
        }
    }
    println!(
        "commands checked: {}, executions checked: {}",
        audit.commands,
        records.len()
    );
}

/// An action's `output_schema` marks `token` secret (`mask_secret_output`): neither what
/// `st2 run` prints nor the recorded execution holds it, in the parent or in a workflow's
/// child; the other fields are shown.
#[test]
fn output_schema_secret_fields_are_masked_in_output_and_records() {
    const TOKEN: &str = "tok-4f1c9e27b8d3";
    let home = Home::new();
    let dir = home.pack("outs");
    write(
        &dir,
        "pack.yaml",
        "---\nname: outs\ndescription: d\nversion: 0.1.0\nauthor: t\n",
    );
    write(
        &dir,
        "actions/workflows/login.yaml",
        &format!("version: 1.0\ntasks:\n  first:\n    action: core.noop\noutput:\n  - token: {TOKEN}\n  - user: alice\n"),
    );
    write_action(
        &dir,
        &json!({"name": "login", "runner_type": "orquesta", "enabled": true,
                "entry_point": "workflows/login.yaml",
                "output_schema": {"type": "object", "properties": {
                    "token": {"type": "string", "secret": true},
                    "user": {"type": "string"}}}}),
    );
    // A workflow calling it: the child's result is masked in its own record too.
    write(
        &dir,
        "actions/workflows/outer.yaml",
        "version: 1.0\ntasks:\n  login:\n    action: outs.login\n",
    );
    write_action(
        &dir,
        &json!({"name": "outer", "runner_type": "orquesta", "enabled": true,
                "entry_point": "workflows/outer.yaml"}),
    );
    reload_ok(&home, &[]);
    let output = home.st2().args(["run", "outs.login"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!printed.contains(TOKEN), "{printed}");
    assert!(printed.contains("alice"), "{printed}");
    let output = home
        .st2()
        .args(["run", "outs.login", "-j"])
        .output()
        .unwrap();
    let execution = execution_of(&output);
    assert_eq!(
        execution["result"]["output"],
        json!({"token": "********", "user": "alice"})
    );
    let output = home
        .st2()
        .args(["run", "outs.outer", "-j"])
        .output()
        .unwrap();
    let outer = execution_of(&output);
    assert_eq!(outer["status"], "succeeded", "{outer}");
    let child = st2_json(
        &home,
        &["execution", "get", outer["children"][0].as_str().unwrap()],
    );
    assert_eq!(child["result"]["output"]["token"], "********");
    drop(home.st2().args(["execution", "list"]).output().unwrap());
    for entry in std::fs::read_dir(&home.base).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("st2.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(TOKEN),
                "{} holds the token",
                path.display()
            );
        }
    }
}

/// Remote mode: the credentials (a token, an API key, the config's password, a proxy's Basic
/// password) and a secret datastore value never appear in any output, `--debug` logs or error
/// line, whatever the command and however it ends (`../shared/spec/remote-api.md` §4).
#[test]
fn remote_mode_never_shows_credentials() {
    use crate::remote::{Auth, Cluster};
    use crate::st2server::{ApiFault, API_KEY, TOKEN, USER};
    let Some(cluster) = Cluster::start() else {
        return;
    };
    const PASSWORD: &str = "pwSECRET8d8d";
    const PROXY: &str = "proxySECRET3c3c";
    const VALUE: &str = "kvSECRETremote1";
    cluster.server.world(|world| {
        world.users.insert(USER.into(), PASSWORD.into());
    });
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cluster.config_path(),
        format!(
            "[credentials]\nusername = {USER}\npassword = {PASSWORD}\nbasic_auth = proxy:{PROXY}\n"
        ),
    )
    .unwrap();
    let secrets = [TOKEN, API_KEY, PASSWORD, PROXY, VALUE];
    let check = |what: &str, output: &Output| {
        for text in [stdout(output), stderr(output)] {
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "`{what}` printed the secret {secret}:\n{text}"
                );
            }
        }
    };
    let runs: &[(Auth, &[&str])] = &[
        (Auth::Nothing, &["--debug", "login", USER, "-p", PASSWORD]),
        (Auth::Nothing, &["--debug", "whoami"]),
        (Auth::Nothing, &["--debug", "action", "list"]),
        (Auth::Token, &["--debug", "key", "set", "k9", VALUE, "-e"]),
        (Auth::Token, &["--debug", "key", "get", "k9", "-j"]),
        (Auth::ApiKey, &["--debug", "key", "list", "-y"]),
        (Auth::Token, &["--debug", "run", "core.local", "cmd=date"]),
        (Auth::ApiKey, &["--debug", "execution", "list"]),
        (Auth::Token, &["--debug", "pack", "config", "show", "core"]),
        (
            Auth::Nothing,
            &["--debug", "auth", USER, "-p", "wrong-password"],
        ),
    ];
    for (auth, args) in runs {
        check(&args.join(" "), &cluster.st2(*auth, args));
    }
    // Errors name the request, never the credential.
    cluster.server.fault(
        "GET /api/v1/actions",
        ApiFault::Status(
            401,
            r#"{"faultstring": "Unauthorized - Token has expired."}"#.into(),
        ),
    );
    check(
        "401",
        &cluster.st2(Auth::Token, &["--debug", "action", "list"]),
    );
    let refused = cluster
        .home
        .bare_command("st2")
        .args([
            "--debug",
            "--api-url",
            "http://127.0.0.1:1/api/v1",
            "action",
            "list",
        ])
        .env("ST2_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    check("refused", &refused);
    // What st2 wrote: the CLI config keeps its password (it was there), the token cache holds
    // the token (0600), nothing else.
    use std::os::unix::fs::PermissionsExt;
    let cache = cluster.home.dir.path().join(".st2/token-st2admin");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

//! Side by side with st2client 3.9.0 (`../shared/spec/remote-api.md` §5, test 1): the 40
//! commands of `../shared/spec/remote-api/st2client-3.9.0-requests.jsonl`, which holds the
//! exact requests st2client sent for each against `standin.py`, run with our `st2` against
//! [`St2Server`](crate::st2server::St2Server) (the same canned world), and our requests
//! compared with theirs: method, path (one trailing `/` dropped, as st2's router does), query
//! as a multiset, which credential (token, API key, Basic with its value, none) and the JSON
//! body. The exit code is compared too.
//!
//! Every difference is listed below with its reason: the spec's **[fix]**es and our documented
//! choices; any other difference fails the test. stdout is not compared: remote mode prints
//! local mode's layouts (tables with `=` under the header, `true`/`false`, the run block), as
//! `ARCHITECTURE.md`'s ops boundary asks; what each command prints is checked in
//! `remote.rs`.
//!
//! All 40 are covered.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::*;
use crate::st2server::*;

/// One request, as compared.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    credential: String,
    body: Option<Value>,
}

/// Execution ids replaced by their order of appearance (`<id1>`, `<id2>`): st2client's
/// stand-in answered one fixed id where ours makes a new one per execution.
fn number_ids(requests: &mut [Request]) {
    let mut seen: Vec<String> = Vec::new();
    let mut rename = |text: &str| -> String {
        text.split('/')
            .map(|part| {
                if part.len() == 24 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                    let index = match seen.iter().position(|id| id == part) {
                        Some(index) => index,
                        None => {
                            seen.push(part.to_string());
                            seen.len() - 1
                        }
                    };
                    format!("<id{}>", index + 1)
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    for request in requests {
        request.path = rename(&request.path);
        for (_, value) in &mut request.query {
            *value = rename(value);
        }
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A request in the form both sides are compared in.
fn normalize(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Request {
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let mut credential = "none".to_string();
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(name).as_str() {
            "x-auth-token" => credential = "token".into(),
            "st2-api-key" => credential = "key".into(),
            name => pairs.push((name.to_string(), decode(value))),
        }
    }
    pairs.sort();
    for (name, value) in headers {
        match name.to_lowercase().as_str() {
            "x-auth-token" => credential = "token".into(),
            "st2-api-key" => credential = "key".into(),
            "authorization" => credential = format!("basic {value}"),
            _ => {}
        }
    }
    Request {
        method: method.to_string(),
        path: path.to_string(),
        query: pairs,
        credential,
        body: body.map(|body| serde_json::from_str(body).expect("JSON body")),
    }
}

/// How our requests for one command differ from st2client's, on purpose.
enum Edit {
    /// Set a query parameter of request N (the `include_attributes` we ask for).
    Query(usize, &'static str, &'static str),
    /// Drop a query parameter of request N.
    DropQuery(usize, &'static str),
    /// We send request N that st2client does not: (method, path, query).
    Insert(usize, &'static str, String, &'static str),
    /// st2client sends request N, we do not.
    Remove(usize),
    /// Request N carries this credential.
    Credential(usize, &'static str),
    /// Request N goes to this path instead.
    Path(usize, String),
    /// We exit with this code.
    Exit(i32),
}

/// Our differences, by command line, each with its reason.
fn edits(argv: &str) -> (Vec<Edit>, &'static str) {
    use Edit::*;
    // Ids as numbered by `number_ids`.
    let new = "<id1>";
    let pack_wf = "<id1>";
    let attributes = "ref,pack,description,runner_type";
    match argv {
        "st2 action list" | "st2 action list --pack core -j" => (
            vec![Query(0, "include_attributes", attributes)],
            "[ours] local mode's table has a runner_type column",
        ),
        "st2 pack register" => (
            vec![Insert(
                1,
                "GET",
                "/api/v1/packs".into(),
                "include_attributes=ref,name,description,version,author",
            )],
            "[ours] the packs registered are counted (the API answers only content counts)",
        ),
        "st2 action get core.local" => (
            vec![Insert(
                1,
                "GET",
                "/api/v1/runnertypes".into(),
                "name=local-shell-cmd",
            )],
            "[ours] parameters shown merged with the runner's, as local mode shows them",
        ),
        "st2 run core.local cmd=date --tail" => (
            vec![
                Remove(3),
                Path(3, format!("/stream/v1/executions/{new}/output")),
                Credential(3, "token"),
                DropQuery(3, "end_event"),
                DropQuery(3, "end_execution_id"),
                DropQuery(3, "events"),
            ],
            "[fix] §3: the execution's own output stream, which replays what came before the \
             connection, credential in a header; no `include_attributes=id,children` probe",
        ),
        "st2 action execute core.local cmd=date" => (
            vec![
                Insert(3, "GET", format!("/api/v1/executions/{new}"), ""),
                Insert(4, "GET", format!("/api/v1/executions/{new}"), ""),
            ],
            "[ours] `action execute` waits for the end as `st2 run` does (local mode's choice; \
             st2client's is asynchronous)",
        ),
        "st2 run core.local" | "st2 run nope.nope x=1" => (
            vec![Exit(2)],
            "[fix] §2.1: a refused run is a usage error, exit 2 (nothing ran)",
        ),
        "st2 execution cancel 65f0c0ffee0000000000ab01" => (
            vec![Exit(1)],
            "[fix] §2.2: exit 1 when an execution was not canceled (it had already ended)",
        ),
        "st2 key delete_by_prefix -p k" => (
            vec![
                Path(0, "/api/v1/keys".into()),
                Query(0, "scope", "system"),
                Query(0, "decrypt", "false"),
                Query(0, "limit", "100"),
                Query(1, "scope", "system"),
            ],
            "[fix] §2.3: list and delete in the scope given (system by default)",
        ),
        "st2 pack install csv" | "st2 pack install csv --force --skip-dependencies -j" => {
            let at = if argv.ends_with("-j") { 1 } else { 2 };
            (
                vec![
                    Credential(at, "token"),
                    Insert(at + 1, "GET", format!("/api/v1/executions/{pack_wf}"), ""),
                ],
                "[fix] §3: the stream's credential in a header; the execution looked at once \
                 the stream is connected (a workflow that ended before it would hang \
                 st2client)",
            )
        }
        "st2 pack remove csv" => (
            vec![
                Credential(2, "token"),
                Insert(3, "GET", format!("/api/v1/executions/{pack_wf}"), ""),
                Exit(0),
            ],
            "[fix] §3 as install; and the pack is gone, so exit 0 (st2client's stand-in kept \
             answering for it and st2client exited 2 without a word)",
        ),
        "st2 execution cancel 65f0c0ffee0000000000ab01 -t 0123456789abcdef0123456789abcdef" => (
            vec![Credential(0, "token")],
            "[fix] §1.5: `-t` is sent on every command (st2client drops it on cancel: 401)",
        ),
        _ => (Vec::new(), ""),
    }
}

fn apply(edits: &[Edit], theirs: &mut Vec<Request>, rc: &mut i32) {
    for edit in edits {
        match edit {
            Edit::Query(at, name, value) => {
                let query = &mut theirs[*at].query;
                query.retain(|(key, _)| key != name);
                query.push((name.to_string(), value.to_string()));
                query.sort();
            }
            Edit::DropQuery(at, name) => theirs[*at].query.retain(|(key, _)| key != name),
            Edit::Insert(at, method, path, query) => {
                let credential = theirs
                    .first()
                    .map(|request| request.credential.clone())
                    .unwrap_or_else(|| "none".into());
                let mut request = normalize(method, path, query, &[], None);
                request.credential = credential;
                theirs.insert(*at, request);
            }
            Edit::Remove(at) => {
                theirs.remove(*at);
            }
            Edit::Credential(at, credential) => theirs[*at].credential = credential.to_string(),
            Edit::Path(at, path) => theirs[*at].path = path.clone(),
            Edit::Exit(code) => *rc = *code,
        }
    }
}

/// One command of the golden file: its words, credential kind, exit code and st2client's
/// requests.
struct Capture {
    argv: Vec<String>,
    joined: String,
    auth: String,
    rc: i32,
    requests: Vec<Request>,
    raw: Value,
}

/// The golden file's commands, or `None` (the test skipped) without `../shared/spec`.
fn captures() -> Option<Vec<Capture>> {
    let golden = shared_dir().join("spec/remote-api/st2client-3.9.0-requests.jsonl");
    if skip_unless(
        golden.is_file() && crate::st2server::spec_available(),
        "../shared/spec/remote-api/ is missing",
    ) {
        return None;
    }
    let text = std::fs::read_to_string(&golden).unwrap();
    let captures = text
        .lines()
        .map(|line| {
            let raw: Value = serde_json::from_str(line).unwrap();
            let argv: Vec<String> = raw["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|word| word.as_str().unwrap().to_string())
                .collect();
            let requests = raw["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|request| {
                    let headers: Vec<(String, String)> = request["headers"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_string()))
                        .collect();
                    normalize(
                        request["method"].as_str().unwrap(),
                        request["path"].as_str().unwrap(),
                        request["query"].as_str().unwrap(),
                        &headers,
                        request["body"].as_str(),
                    )
                })
                .collect();
            Capture {
                joined: argv.join(" "),
                argv,
                auth: raw["auth"].as_str().unwrap().to_string(),
                rc: raw["rc"].as_i64().unwrap() as i32,
                requests,
                raw,
            }
        })
        .collect();
    Some(captures)
}

/// Runs the golden file's commands one after another, each with a new home and cluster
/// except `whoami` after `login` (the same home, its token cache, and the same cluster),
/// and the world as st2client's stand-in had it for that command.
struct Replay {
    home: Home,
    server: St2Server,
}

impl Replay {
    fn new() -> Replay {
        Replay {
            home: Home::new(),
            server: St2Server::start(),
        }
    }

    /// Set up for `capture`; the command to run it with `program` (its words after `st2`
    /// follow), the credential in the environment as the capture had it.
    fn prepare(&mut self, capture: &Capture, program: &std::path::Path) -> std::process::Command {
        if capture.auth != "cached" {
            self.home = Home::new();
            self.server = St2Server::start();
        }
        self.server.clear();
        let joined = &capture.joined;
        if joined == "st2 pack remove csv" || joined.starts_with("st2 pack register csv") {
            // st2client's stand-in answered for csv as installed.
            self.server.world(|world| {
                world.packs.push(serde_json::json!({
                    "ref": "csv", "name": "csv", "description": "CSV", "version": "2.0.0",
                    "author": "StackStorm, Inc."
                }))
            });
        }
        std::fs::write(
            self.home.dir.path().join("kv.yaml"),
            "- name: a\n  value: \"1\"\n- name: b\n  value: {\"x\": 1}\n  secret: true\n  ttl: 60\n",
        )
        .unwrap();
        let mut command = self.home.bare_command("st2");
        command
            .env("TERM", "dumb")
            .env("COLUMNS", "100")
            .args(self.server.url_args())
            .args(&capture.argv[1..])
            .stdin(std::process::Stdio::null());
        match capture.auth.as_str() {
            "token" => {
                command.env("ST2_AUTH_TOKEN", TOKEN);
            }
            "apikey" => {
                command.env("ST2_API_KEY", API_KEY);
            }
            _ => {}
        }
        let mut renamed = std::process::Command::new(program);
        renamed
            .args(command.get_args())
            .current_dir(self.home.dir.path());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => renamed.env(name, value),
                None => renamed.env_remove(name),
            };
        }
        renamed
    }

    /// The requests the cluster received since [`prepare`](Self::prepare), normalized.
    fn requests(&self) -> Vec<Request> {
        self.server
            .requests()
            .iter()
            .map(|request| {
                normalize(
                    &request.method,
                    &request.path,
                    &request.query,
                    &request.headers,
                    request.body.as_deref(),
                )
            })
            .collect()
    }
}

/// Token values as their kind (a token our stand-in issued is not st2client's stand-in's),
/// and execution ids numbered.
fn comparable(mut requests: Vec<Request>) -> Vec<Request> {
    for request in &mut requests {
        if request.credential.starts_with("token") {
            request.credential = "token".into();
        }
    }
    number_ids(&mut requests);
    requests
}

#[test]
fn the_requests_of_st2client_3_9_0_for_40_commands() {
    let Some(captures) = captures() else {
        return;
    };
    let st2 = assert_cmd::cargo::cargo_bin("st2");
    let mut replay = Replay::new();
    let mut covered = 0;
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<String, &str> = BTreeMap::new();
    for capture in &captures {
        let joined = &capture.joined;
        covered += 1;
        let output = replay.prepare(capture, &st2).output().unwrap();
        let ours = comparable(replay.requests());
        let mut theirs = comparable(capture.requests.clone());
        let mut rc = capture.rc;
        let (edits, reason) = edits(joined);
        if !reason.is_empty() {
            reasons.insert(joined.clone(), reason);
        }
        apply(&edits, &mut theirs, &mut rc);
        if ours != theirs || output.status.code() != Some(rc) {
            failures.push(format!(
                "{joined}: exit {:?} (expected {rc})\n  ours:   {ours:?}\n  theirs: {theirs:?}\n  \
                 stderr: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        // Ours follow the spec, except where st2client's broke it the same way (no
        // credential at all).
        let theirs_broke = capture.raw["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|request| {
                request["problems"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
            });
        if !theirs_broke {
            replay.server.assert_clean();
        }
    }
    assert_eq!(covered, 40, "the 40 commands are covered");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Each difference has its reason (printed with --nocapture).
    for (argv, reason) in reasons {
        println!("{argv}: {reason}");
    }
}

/// `../shared/spec/remote-api.md` §5, test 2, opt-in: the real st2client 3.9.0
/// (`ST2_REFERENCE_ST2=/path/to/venv/bin/st2`, from `pip install st2client==3.9.0`) runs the
/// golden file's 40 commands against our stand-in cluster, and its requests and exit codes
/// must be the golden file's. That checks the golden file is still what st2client sends, and
/// that our stand-in answers st2client as its Python model did, so the parity test above,
/// which compares ours with the golden file, compares ours with st2client itself.
/// `ST2_REFERENCE_WRITE=FILE` writes what st2client did in the golden file's format, to
/// refresh it. Without `ST2_REFERENCE_ST2` the test says so and passes (CI has no network to
/// install st2client; `bench/run.sh` installs it into `target/bench-st2client/`).
#[test]
fn live_st2client_sends_what_the_golden_file_holds() {
    let Some(st2client) = std::env::var_os("ST2_REFERENCE_ST2") else {
        eprintln!("live_st2client: set ST2_REFERENCE_ST2=/path/to/venv/bin/st2 to run it");
        return;
    };
    let Some(captures) = captures() else {
        return;
    };
    let st2client = std::path::PathBuf::from(st2client);
    let mut replay = Replay::new();
    let mut differences = Vec::new();
    let mut refreshed = String::new();
    for capture in &captures {
        let output = replay.prepare(capture, &st2client).output().unwrap();
        let recorded = replay.server.requests();
        let live = comparable(replay.requests());
        let golden = comparable(capture.requests.clone());
        // st2client's stand-in kept answering for a removed pack, so st2client exited 2
        // ("not removed properly"); ours removes it, and st2client then exits 0.
        let rc = if capture.joined == "st2 pack remove csv" {
            0
        } else {
            capture.rc
        };
        if live != golden || output.status.code() != Some(rc) {
            differences.push(format!(
                "{}: exit {:?} (expected {rc})\n  live:   {live:?}\n  golden: {golden:?}\n  \
                 stdout: {}\n  stderr: {}",
                capture.joined,
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let port = replay.server.base().rsplit(':').next().unwrap().to_string();
        let requests: Vec<Value> = recorded
            .iter()
            .map(|request| {
                let headers: serde_json::Map<String, Value> = request
                    .headers
                    .iter()
                    .filter(|(name, _)| {
                        [
                            "x-auth-token",
                            "st2-api-key",
                            "authorization",
                            "content-type",
                        ]
                        .contains(&name.to_lowercase().as_str())
                    })
                    .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                    .collect();
                serde_json::json!({
                    "method": request.method, "path": request.path, "query": request.query,
                    "headers": headers, "body": request.body,
                })
            })
            .collect();
        let line = serde_json::json!({
            "auth": capture.auth, "argv": capture.argv, "rc": output.status.code(),
            "stdout": String::from_utf8_lossy(&output.stdout),
            "stderr": String::from_utf8_lossy(&output.stderr).trim_matches('\n'),
            "requests": requests,
        });
        refreshed.push_str(
            &line
                .to_string()
                .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT"),
        );
        refreshed.push('\n');
    }
    if let Some(file) = std::env::var_os("ST2_REFERENCE_WRITE") {
        std::fs::write(file, &refreshed).unwrap();
    }
    assert!(
        differences.is_empty(),
        "{} of {} commands differ from the golden file:\n{}",
        differences.len(),
        captures.len(),
        differences.join("\n\n")
    );
}

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
//! Not covered (1 of 40): `execution re-run` (st2-rs has no such command yet, in either mode).

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

#[test]
fn the_requests_of_st2client_3_9_0_for_40_commands() {
    let golden = shared_dir().join("spec/remote-api/st2client-3.9.0-requests.jsonl");
    if skip_unless(
        golden.is_file() && crate::st2server::spec_available(),
        "../shared/spec/remote-api/ is missing",
    ) {
        return;
    }
    let mut home = Home::new();
    let mut server = St2Server::start();
    let mut covered = 0;
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<String, &str> = BTreeMap::new();
    for line in std::fs::read_to_string(&golden).unwrap().lines() {
        let capture: Value = serde_json::from_str(line).unwrap();
        let argv: Vec<String> = capture["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|word| word.as_str().unwrap().to_string())
            .collect();
        let joined = argv.join(" ");
        if joined.contains(" re-run ") {
            continue;
        }
        covered += 1;
        let auth = capture["auth"].as_str().unwrap();
        // `whoami` after `login`: the same home (its token cache) and the same cluster.
        if auth != "cached" {
            home = Home::new();
            server = St2Server::start();
        }
        server.clear();
        if joined == "st2 pack remove csv" || joined.starts_with("st2 pack register csv") {
            // st2client's stand-in answered for csv as installed.
            server.world(|world| {
                world.packs.push(serde_json::json!({
                    "ref": "csv", "name": "csv", "description": "CSV", "version": "2.0.0",
                    "author": "StackStorm, Inc."
                }))
            });
        }
        std::fs::write(
            home.dir.path().join("kv.yaml"),
            "- name: a\n  value: \"1\"\n- name: b\n  value: {\"x\": 1}\n  secret: true\n  ttl: 60\n",
        )
        .unwrap();
        let mut command = home.bare_command("st2");
        command
            .args(server.url_args())
            .args(&argv[1..])
            .stdin(std::process::Stdio::null());
        match auth {
            "token" => {
                command.env("ST2_AUTH_TOKEN", TOKEN);
            }
            "apikey" => {
                command.env("ST2_API_KEY", API_KEY);
            }
            _ => {}
        }
        let output = command.output().unwrap();
        let ours: Vec<Request> = server
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
            .collect();
        let mut theirs: Vec<Request> = capture["requests"]
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
        let mut rc = capture["rc"].as_i64().unwrap() as i32;
        let (edits, reason) = edits(&joined);
        if !reason.is_empty() {
            reasons.insert(joined.clone(), reason);
        }

        // A token our stand-in issued is not st2client's: the kind is compared.
        let strip = |requests: &mut Vec<Request>| {
            for request in requests {
                if request.credential.starts_with("token") {
                    request.credential = "token".into();
                }
            }
        };
        strip(&mut theirs);
        let mut ours = ours;
        strip(&mut ours);
        number_ids(&mut theirs);
        number_ids(&mut ours);
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
        let theirs_broke = capture["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|request| {
                request["problems"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
            });
        if !theirs_broke {
            server.assert_clean();
        }
    }
    assert_eq!(covered, 39, "39 of the 40 commands are covered");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Each difference has its reason (printed with --nocapture).
    for (argv, reason) in reasons {
        println!("{argv}: {reason}");
    }
}

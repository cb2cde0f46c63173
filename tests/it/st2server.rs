//! `St2Server`: a stand-in for a StackStorm cluster's api, auth and stream services on one
//! 127.0.0.1 port, driven by the rendered OpenAPI document of StackStorm 3.9.0
//! (`../shared/spec/remote-api/openapi-v3.9.0.yaml`; `../shared/spec/remote-api.md` §5).
//!
//! Every request is checked as st2's router checks it, and more strictly: the route (nginx
//! layout `/api/v1`, `/auth/v1`, `/stream/v1`, or the direct-port layout `/v1/...`, one
//! trailing `/` dropped), the method, every query parameter declared and castable as the
//! router casts it (boolean, integer, CSV arrays), the body against its schema (Draft 4 with
//! `x-nullable`, through st2-rs's own validator), and exactly one credential (a known token or
//! API key, as a header or in the query) unless the operation has `security: []`. Every answer
//! is checked against the operation's response schema before it is sent, so the canned world
//! cannot drift from the spec. Problems are recorded with the request; tests end with
//! [`St2Server::assert_clean`].
//!
//! The world is small and stateful: users and their tokens, API keys, actions and runner types,
//! executions whose status moves on with each `GET` (a script per execution), their output
//! (served as text and as the stream's replay), datastore items, packs. Faults are scripted per
//! operation: hang, reset, a status with a body, slow answers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::common::TlsProxy;

/// The token every test's user holds (`ST2_AUTH_TOKEN`), as captured from st2client.
pub(crate) const TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The API key the world knows.
pub(crate) const API_KEY: &str = "KEY123";
/// The user and password of the world.
pub(crate) const USER: &str = "st2admin";
pub(crate) const PASSWORD: &str = "Ch@ngeMe";
/// The execution the canned world has (st2client's capture used it).
pub(crate) const EXECUTION_ID: &str = "65f0c0ffee0000000000ab01";
const NOW: &str = "2024-03-12T10:00:00.000000Z";
const LATER: &str = "2024-03-12T10:00:01.000000Z";

/// The spec, `x-nullable` turned into `type: [T, "null"]`; loaded once per test process.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = crate::common::shared_dir().join("spec/remote-api/openapi-v3.9.0.yaml");
        let mut spec = st2_rs::yaml::from_path(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        nullable(&mut spec);
        spec
    })
}

/// Whether the spec is there (it lives in `../shared`).
pub(crate) fn spec_available() -> bool {
    crate::common::shared_dir()
        .join("spec/remote-api/openapi-v3.9.0.yaml")
        .is_file()
}

fn nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("x-nullable") == Some(&Value::Bool(true)) {
                match map.get_mut("type") {
                    Some(Value::String(kind)) => {
                        let kind = kind.clone();
                        map.insert("type".into(), json!([kind, "null"]));
                    }
                    Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => {
                        kinds.push(json!("null"))
                    }
                    _ => {}
                }
            }
            for child in map.values_mut() {
                nullable(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable),
        _ => {}
    }
}

/// `/` in a JSON pointer.
fn escape(part: &str) -> String {
    part.replace('~', "~0").replace('/', "~1")
}

/// The errors of `instance` against the spec's schema at `pointer`.
fn schema_errors(pointer: &str, instance: &Value) -> Vec<String> {
    let draft4 = st2_rs::schema::validator::DRAFT4_URL;
    let root = json!({ "$ref": format!("{draft4}#{pointer}") });
    let validator = st2_rs::schema::validator::Validator::new(&root, spec());
    validator
        .errors(instance)
        .into_iter()
        .map(|error| format!("{} at {:?}", error.message, error.dotted_path()))
        .collect()
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// `METHOD /api/v1/...` of the spec, or what was asked when no route matched.
    pub operation: String,
    pub problems: Vec<String>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `METHOD path?query`.
    pub(crate) fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }

    /// The query as (name, decoded value) pairs.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }

    pub(crate) fn json_body(&self) -> Option<Value> {
        self.body
            .as_deref()
            .map(|body| serde_json::from_str(body).unwrap())
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// How the server misbehaves for an operation.
#[derive(Debug, Clone)]
pub(crate) enum ApiFault {
    /// Read the request, never answer (until the server stops).
    Hang,
    /// Read the request, reset the connection.
    Reset,
    /// Answer this status and body (`Content-Type: application/json` when it parses, else
    /// text/html).
    Status(u16, String),
    /// Wait this long, then answer properly.
    Slow(Duration),
    /// Answer 200 with a body that is not JSON.
    Garbage,
}

/// One step of an execution's output stream after the replay.
#[derive(Debug, Clone)]
pub(crate) enum StreamStep {
    /// Wait.
    Sleep(Duration),
    /// An output event (`stdout`/`stderr`, data), recorded with the execution too.
    Output(&'static str, String),
    /// The execution ends with this status; `EOF` follows.
    Finish(&'static str),
    /// A heartbeat (`\n`).
    Heartbeat,
    /// Close the connection (before `EOF`).
    Close,
    /// Stop sending, keep the connection open.
    Hang,
}

/// The world the server answers from.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub users: HashMap<String, String>,
    /// token -> (user, expiry)
    pub tokens: HashMap<String, (String, String)>,
    pub api_keys: Vec<String>,
    pub actions: Vec<Value>,
    pub runners: Vec<Value>,
    pub executions: BTreeMap<String, Value>,
    /// Statuses an execution takes on its next `GET`s (the last one stays).
    pub progress: HashMap<String, VecDeque<String>>,
    /// Output per execution: (output_type, data).
    pub output: HashMap<String, Vec<(String, String)>>,
    /// What the output stream of a running execution sends after its replay.
    pub streams: HashMap<String, Vec<StreamStep>>,
    /// The same, one script per connection, in order, before `streams`.
    pub stream_scripts: HashMap<String, VecDeque<Vec<StreamStep>>>,
    /// (scope, user, name) -> item.
    pub keys: BTreeMap<(String, String, String), Value>,
    pub packs: Vec<Value>,
    /// The index `packs/index/search` searches.
    pub index: Vec<Value>,
    /// Config schemas (pack -> attributes) and configs (pack -> values).
    pub config_schemas: HashMap<String, Value>,
    pub configs: HashMap<String, Value>,
    /// The events the general stream sends for a workflow (by the workflow's id), then the
    /// workflow's own final event.
    pub workflow_events: HashMap<String, Vec<(String, Value)>>,
    /// Whether the general stream drops before the workflow's end event.
    pub drop_workflow_streams: bool,
    /// "METHOD /api/v1/path" of the spec -> faults to play, in order.
    pub faults: HashMap<String, VecDeque<ApiFault>>,
    /// Tokens issued by `POST /tokens` so far.
    pub issued: usize,
    next_id: u64,
    /// How long a new execution stays `running` (`GET`s) before it ends.
    pub running_polls: usize,
    /// st2api's `[api] max_page_size` for a user who is not an admin, RBAC on: a list's
    /// `limit` above it, or `-1`, is refused (403). `None`: RBAC off (everyone is an admin).
    pub max_page_size: Option<usize>,
    /// Scripts of the general stream (`GET /stream/v1/stream`) by `end_execution_id`, one per
    /// connection, in order; when none is left, `workflow_events` is played.
    pub general_streams: HashMap<String, VecDeque<Vec<EventStep>>>,
}

/// One step of a scripted general stream.
#[derive(Debug, Clone)]
pub(crate) enum EventStep {
    /// Send this event. An `st2.execution__update` also becomes what the API answers for
    /// that execution from then on.
    Event(&'static str, Value),
    /// Close the connection.
    Close,
}

/// `limit` and `offset` of a list request as st2api's `validate_limit_query_param` checks
/// them: `(offset, limit)` (`usize::MAX` for `-1`), or the refusal.
fn page(query: &[(String, String)], max_page_size: Option<usize>) -> Result<(usize, usize), Reply> {
    let offset = first(query, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let limit: i64 = first(query, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    match (limit, max_page_size) {
        (-1, Some(_)) => Err(fault_reply(
            403,
            "Administrator access required to be able to specify limit=-1 and retrieve all \
             the records",
        )),
        (-1, None) => Ok((offset, usize::MAX)),
        (0, _) => Err(fault_reply(
            400,
            "Limit, \"0\" specified, must be a positive number or -1 for full result set.",
        )),
        (limit, _) if limit < 0 => Err(fault_reply(
            400,
            &format!("Limit, \"{limit}\" specified, must be a positive number."),
        )),
        (limit, Some(max)) if limit as usize > max => Err(fault_reply(
            403,
            &format!("Limit \"{limit}\" specified, maximum value is \"{max}\""),
        )),
        (limit, _) => Ok((offset, limit as usize)),
    }
}

impl World {
    /// The statuses `GET /executions/ID` answers for `id`, one per request, the last one
    /// from then on.
    pub(crate) fn set_progress(&mut self, id: &str, statuses: &[&str]) {
        self.progress.insert(
            id.to_string(),
            statuses.iter().map(|status| status.to_string()).collect(),
        );
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("65f0c0ffee{:014x}", 0xab00 + self.next_id)
    }
}

fn core_local() -> Value {
    json!({
        "id": "65f0aaaa0000000000000001", "uid": "action:core:local", "ref": "core.local",
        "pack": "core", "name": "local", "enabled": true, "entry_point": "",
        "description": "Action that executes an arbitrary Linux command on the localhost.",
        "runner_type": "local-shell-cmd", "tags": [], "notify": {},
        "parameters": {
            "cmd": {"type": "string", "required": true,
                    "description": "Arbitrary Linux command to be executed on the local host."},
            "sudo": {"immutable": true}
        }
    })
}

fn local_runner() -> Value {
    json!({
        "id": "65f0bbbb0000000000000001", "uid": "runner_type:local-shell-cmd",
        "name": "local-shell-cmd", "enabled": true,
        "description": "A runner to execute local actions as a fixed user.",
        "runner_package": "local_runner", "runner_module": "local_shell_command_runner",
        "output_key": "stdout",
        "runner_parameters": {
            "cmd": {"type": "string"}, "cwd": {"type": "string"},
            "env": {"type": "object"}, "kwarg_op": {"type": "string", "default": "--"},
            "sudo": {"type": "boolean", "default": false},
            "sudo_password": {"type": "string", "secret": true, "required": false},
            "timeout": {"type": "integer", "default": 60}
        }
    })
}

/// An execution of `core.local` in the API's shape.
pub(crate) fn execution(id: &str, status: &str, parameters: Value) -> Value {
    let mut execution = json!({
        "id": id, "action": core_local(), "runner": local_runner(), "status": status,
        "start_timestamp": NOW, "parameters": parameters.clone(),
        "context": {"user": USER, "pack": "core"},
        "liveaction": {"id": "65f0dddd0000000000000001", "action": "core.local",
                       "parameters": parameters, "status": status},
        "log": [{"timestamp": NOW, "status": "requested"}],
        "web_url": format!("https://st2.example/#/history/{id}/general")
    });
    finish(&mut execution, status);
    execution
}

/// Set an execution's status, with the end time and result of a final one.
fn finish(execution: &mut Value, status: &str) {
    execution["status"] = json!(status);
    execution["liveaction"]["status"] = json!(status);
    if ["succeeded", "failed", "timeout", "canceled", "abandoned"].contains(&status) {
        execution["end_timestamp"] = json!(LATER);
        execution["elapsed_seconds"] = json!(1.0);
        let ok = status == "succeeded";
        if execution.get("result").is_none() {
            execution["result"] = json!({
                "failed": !ok, "succeeded": ok, "return_code": if ok { 0 } else { 1 },
                "stdout": if ok { "Tue Mar 12 10:00:00 UTC 2024" } else { "" }, "stderr": ""
            });
        }
    }
}

impl World {
    /// The canned world of st2client's capture: `core.local`, its runner, one finished
    /// execution, one system key, the `core` pack; the token, key and user above.
    pub(crate) fn canned() -> World {
        let mut world = World {
            running_polls: 1,
            ..World::default()
        };
        world.users.insert(USER.into(), PASSWORD.into());
        world.tokens.insert(
            TOKEN.into(),
            (USER.into(), "2099-01-01T00:00:00.000000Z".into()),
        );
        world.api_keys.push(API_KEY.into());
        world.actions.push(core_local());
        world.runners.push(local_runner());
        world.executions.insert(
            EXECUTION_ID.into(),
            execution(EXECUTION_ID, "succeeded", json!({"cmd": "date"})),
        );
        world.output.insert(
            EXECUTION_ID.into(),
            vec![("stdout".into(), "Tue Mar 12 10:00:00 UTC 2024\n".into())],
        );
        world.keys.insert(
            ("st2kv.system".into(), String::new(), "k1".into()),
            json!({"name": "k1", "value": "v1", "secret": false, "encrypted": false,
                   "scope": "st2kv.system", "uid": "key_value_pair:st2kv.system:k1",
                   "id": "65f0ffff0000000000000001"}),
        );
        world.packs.push(json!({
            "ref": "core", "name": "core", "description": "Basic core actions.",
            "version": "3.9.0", "author": "StackStorm, Inc.", "email": "info@stackstorm.com",
            "id": "65f0abcd0000000000000001"
        }));
        world.index.push(json!({
            "name": "csv", "ref": "csv",
            "description": "st2 content pack containing CSV integrations",
            "version": "2.0.0", "author": "StackStorm, Inc.", "keywords": ["csv"],
            "repo_url": "https://github.com/StackStorm-Exchange/stackstorm-csv",
            "content": {"actions": {"count": 2, "resources": ["format", "parse"]}}
        }));
        world.config_schemas.insert(
            "core".into(),
            json!({
                "region": {"type": "string", "default": "us-east-1", "required": true,
                           "description": "Region"},
                "token": {"type": "string", "secret": true, "required": false}
            }),
        );
        world.configs.insert(
            "core".into(),
            json!({"region": "eu-west-1", "token": "s3cr3t-t0ken"}),
        );
        world.next_id = 0x10;
        world
    }
}

/// What a handler answers.
enum Reply {
    Json(u16, Value, Vec<(String, String)>),
    Text(u16, String, &'static str),
    Empty(u16),
    /// The output stream of an execution.
    OutputStream(String, Option<String>),
    /// The general stream, for the workflow with this id.
    EventStream(String),
}

fn fault_reply(status: u16, message: &str) -> Reply {
    Reply::Json(status, json!({"faultstring": message}), Vec::new())
}

/// The stand-in server; stops when dropped.
pub(crate) struct St2Server {
    pub port: u16,
    world: Arc<Mutex<World>>,
    log: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl St2Server {
    /// A server with the canned world.
    pub(crate) fn start() -> St2Server {
        St2Server::with_world(World::canned())
    }

    pub(crate) fn with_world(world: World) -> St2Server {
        let _ = spec();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let world = Arc::new(Mutex::new(world));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_world, thread_log, thread_stop) = (world.clone(), log.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (world, log, stop) = (
                            thread_world.clone(),
                            thread_log.clone(),
                            thread_stop.clone(),
                        );
                        std::thread::spawn(move || serve(stream, &world, &log, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        St2Server {
            port,
            world,
            log,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn api_url(&self) -> String {
        format!("{}/api/v1", self.base())
    }

    /// `--api-url`, `--auth-url`, `--stream-url` of the nginx layout.
    pub(crate) fn url_args(&self) -> Vec<String> {
        let base = self.base();
        vec![
            "--api-url".into(),
            format!("{base}/api/v1"),
            "--auth-url".into(),
            format!("{base}/auth/v1"),
            "--stream-url".into(),
            format!("{base}/stream/v1"),
        ]
    }

    /// Change the world.
    pub(crate) fn world<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        change(&mut self.world.lock().unwrap())
    }

    /// Play `fault` on the next request of `operation` ("GET /api/v1/actions").
    pub(crate) fn fault(&self, operation: &str, fault: ApiFault) {
        self.world(|world| {
            world
                .faults
                .entry(operation.to_string())
                .or_default()
                .push_back(fault)
        });
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// Forget the requests so far.
    pub(crate) fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    /// `METHOD path?query` of every request so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::line).collect()
    }

    /// No request broke the spec, and no answer did.
    pub(crate) fn assert_clean(&self) {
        let problems: Vec<String> = self
            .requests()
            .iter()
            .filter(|request| !request.problems.is_empty())
            .map(|request| format!("{}: {}", request.line(), request.problems.join("; ")))
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

impl Drop for St2Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Method, target, headers (lower-case names), body.
type RawRequest = (String, String, Vec<(String, String)>, Vec<u8>);

/// One request off the wire.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<RawRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, target, headers, body))
}

fn serve(stream: TcpStream, world: &Mutex<World>, log: &Mutex<Vec<Recorded>>, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let request = loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match reader.fill_buf() {
                Ok([]) => return,
                Ok(_) => break read_request(&mut reader),
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => return,
            }
        };
        let Some((method, target, headers, body)) = request else {
            return;
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut recorded = Recorded {
            method: method.clone(),
            path: path.to_string(),
            query: query.to_string(),
            headers: headers.clone(),
            body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
            operation: String::new(),
            problems: Vec::new(),
        };
        let reply = handle(&mut recorded, world, &body);
        log.lock().unwrap().push(recorded.clone());
        let fault = world
            .lock()
            .unwrap()
            .faults
            .get_mut(&recorded.operation)
            .and_then(VecDeque::pop_front);
        match fault {
            Some(ApiFault::Hang) => {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Some(ApiFault::Reset) => {
                reset(&out);
                return;
            }
            Some(ApiFault::Status(status, body)) => {
                let kind = if serde_json::from_str::<Value>(&body).is_ok() {
                    "application/json"
                } else {
                    "text/html"
                };
                if write_reply(&mut out, status, kind, &[], body.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
            Some(ApiFault::Garbage) => {
                if write_reply(&mut out, 200, "application/json", &[], b"<html>oops</html>")
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Some(ApiFault::Slow(delay)) => std::thread::sleep(delay),
            None => {}
        }
        let sent = match reply {
            Reply::Json(status, value, headers) => {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect();
                write_reply(
                    &mut out,
                    status,
                    "application/json",
                    &headers,
                    value.to_string().as_bytes(),
                )
            }
            Reply::Text(status, text, kind) => {
                write_reply(&mut out, status, kind, &[], text.as_bytes())
            }
            Reply::Empty(status) => write_reply(&mut out, status, "application/json", &[], b""),
            Reply::OutputStream(id, output_type) => {
                output_stream(&mut out, world, stop, &id, output_type.as_deref());
                return;
            }
            Reply::EventStream(id) => {
                event_stream(&mut out, world, &id);
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn write_reply(
    out: &mut TcpStream,
    status: u16,
    kind: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// The spec path (`/api/v1/...`) of a request path, in either layout, one trailing `/`
/// dropped.
fn spec_path(path: &str) -> String {
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    for prefix in ["/api/v1", "/auth/v1", "/stream/v1"] {
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            return path.to_string();
        }
    }
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    if rest.starts_with("/tokens") {
        return format!("/auth/v1{rest}");
    }
    if rest.starts_with("/stream") {
        return format!("/stream/v1{rest}");
    }
    format!("/api/v1{rest}")
}

/// The spec's route for a concrete path: (template, captured parameters).
fn route(path: &str) -> Option<(String, HashMap<String, String>)> {
    let spec = spec();
    let mut best: Option<(usize, String, HashMap<String, String>)> = None;
    for template in spec["paths"].as_object().unwrap().keys() {
        let parts: Vec<&str> = template.split('/').collect();
        let given: Vec<&str> = path.split('/').collect();
        if parts.len() != given.len() {
            continue;
        }
        let mut captured = HashMap::new();
        let mut literal = 0;
        let matched = parts.iter().zip(&given).all(|(part, value)| {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                captured.insert(
                    name.to_string(),
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                !value.is_empty()
            } else {
                literal += part.len();
                part == value
            }
        });
        if matched && best.as_ref().is_none_or(|(length, _, _)| literal > *length) {
            best = Some((literal, template.clone(), captured));
        }
    }
    best.map(|(_, template, captured)| (template, captured))
}

/// Whether `raw` casts to the parameter's type as st2's router casts query values.
fn castable(kind: Option<&str>, raw: &str) -> bool {
    match kind {
        Some("boolean") => ["true", "1", "yes", "y", "false", "0", "no", "n"]
            .contains(&raw.to_lowercase().as_str()),
        Some("integer") => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        Some("number") => raw.parse::<f64>().is_ok(),
        _ => true,
    }
}

/// Check a request against the spec, then answer it from the world.
fn handle(recorded: &mut Recorded, world: &Mutex<World>, body: &[u8]) -> Reply {
    let concrete = spec_path(&recorded.path);
    let Some((template, captured)) = route(&concrete) else {
        recorded.operation = format!("{} {concrete}", recorded.method);
        recorded
            .problems
            .push(format!("no route for {}", recorded.path));
        return fault_reply(404, "The resource could not be found.");
    };
    let method = recorded.method.to_lowercase();
    recorded.operation = format!("{} {template}", recorded.method);
    let Some(operation) = spec()["paths"][&template].get(&method) else {
        recorded
            .problems
            .push(format!("no {} on {template}", recorded.method));
        return fault_reply(405, "The method is not allowed for the requested URL.");
    };
    let parameters: Vec<(usize, &Value)> = operation
        .get("parameters")
        .and_then(Value::as_array)
        .map(|list| list.iter().enumerate().collect())
        .unwrap_or_default();
    let declared = |name: &str, place: &str| {
        parameters
            .iter()
            .find(|(_, p)| p["name"] == name && p["in"] == place)
            .map(|(_, p)| *p)
    };
    let query = recorded.query_pairs();
    let mut query_credential = Vec::new();
    for (name, value) in &query {
        if name == "x-auth-token" || name == "st2-api-key" {
            query_credential.push((name.clone(), value.clone()));
            continue;
        }
        match declared(name, "query") {
            None => recorded
                .problems
                .push(format!("undeclared query parameter {name:?}")),
            Some(parameter) => {
                if !castable(parameter["type"].as_str(), value) {
                    recorded.problems.push(format!(
                        "query {name}={value:?} is not {}",
                        parameter["type"]
                    ));
                }
            }
        }
    }
    for (_, parameter) in &parameters {
        if parameter["in"] == "query"
            && parameter["required"] == json!(true)
            && !query
                .iter()
                .any(|(name, _)| parameter["name"] == name.as_str())
        {
            recorded
                .problems
                .push(format!("missing required query {}", parameter["name"]));
        }
    }
    let mut json_body = None;
    match parameters.iter().find(|(_, p)| p["in"] == "body") {
        Some((index, _)) => {
            let content_type = recorded.header("content-type").unwrap_or_default();
            if !body.is_empty() && !content_type.starts_with("application/json") {
                recorded
                    .problems
                    .push(format!("body sent as {content_type:?}"));
            }
            let value = if body.is_empty() {
                json!({})
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(value) => value,
                    Err(err) => {
                        recorded.problems.push(format!("body is not JSON: {err}"));
                        Value::Null
                    }
                }
            };
            let pointer = format!(
                "/paths/{}/{method}/parameters/{index}/schema",
                escape(&template)
            );
            for error in schema_errors(&pointer, &value) {
                recorded.problems.push(format!("body: {error}"));
            }
            json_body = Some(value);
        }
        None => {
            if !body.is_empty() {
                recorded
                    .problems
                    .push("body sent to an operation that takes none".into());
            }
            if recorded.header("content-type").is_some() {
                recorded
                    .problems
                    .push("content-type sent without a body".into());
            }
        }
    }
    // Exactly one credential, unless the operation needs none.
    let secured = operation.get("security") != Some(&json!([]));
    let mut credentials: Vec<(&str, String)> = Vec::new();
    if let Some(token) = recorded.header("x-auth-token") {
        credentials.push(("token", token.to_string()));
    }
    if let Some(key) = recorded.header("st2-api-key") {
        credentials.push(("key", key.to_string()));
    }
    for (name, value) in &query_credential {
        credentials.push((
            if name == "x-auth-token" {
                "token"
            } else {
                "key"
            },
            value.clone(),
        ));
    }
    let mut world = world.lock().unwrap();
    let mut caller = None;
    if secured {
        match credentials.as_slice() {
            [] => {
                recorded.problems.push("no credential".into());
                return fault_reply(401, "Unauthorized - One of Token or API key required.");
            }
            [(kind, value)] => {
                if *kind == "token" {
                    match world.tokens.get(value) {
                        Some((user, _)) => caller = Some((user.clone(), "authentication token")),
                        None => return fault_reply(401, "Unauthorized - Token has expired."),
                    }
                } else if world.api_keys.contains(value) {
                    caller = Some((USER.to_string(), "API key"));
                } else {
                    return fault_reply(401, "Unauthorized - API key provided is not valid.");
                }
            }
            _ => recorded
                .problems
                .push("more than one credential".to_string()),
        }
    } else if !credentials.is_empty() {
        recorded
            .problems
            .push("a credential sent to an operation that takes none".into());
    }
    if !recorded.problems.is_empty() {
        let message = recorded.problems.join("; ");
        return fault_reply(400, &message);
    }
    let reply = answer(
        &mut world,
        &recorded.method,
        &template,
        &captured,
        &query,
        json_body.as_ref(),
        recorded.header("authorization"),
        caller,
    );
    // The answer must follow the spec too (a partial object, `include_attributes`, need not:
    // st2 does not check those either).
    let partial = query
        .iter()
        .any(|(name, _)| name == "include_attributes" || name == "exclude_attributes");
    if let (Reply::Json(status, value, _), false) = (&reply, partial) {
        let responses = &operation["responses"];
        let key = if responses.get(status.to_string()).is_some() {
            status.to_string()
        } else {
            "default".to_string()
        };
        if responses[&key].get("schema").is_some() {
            let pointer = format!(
                "/paths/{}/{method}/responses/{key}/schema",
                escape(&template)
            );
            for error in schema_errors(&pointer, value) {
                recorded
                    .problems
                    .push(format!("the stand-in's answer: {error}"));
            }
        } else if !responses.as_object().unwrap().contains_key(&key) {
            recorded.problems.push(format!(
                "the stand-in answered {status}, which the spec lacks"
            ));
        }
    }
    reply
}

fn first(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

fn full_scope(scope: &str) -> String {
    match scope {
        "system" | "st2kv.system" | "" => "st2kv.system".into(),
        "user" | "st2kv.user" => "st2kv.user".into(),
        other => other.into(),
    }
}

/// The world's answer to a request that passed the checks.
#[allow(clippy::too_many_arguments)]
fn answer(
    world: &mut World,
    method: &str,
    template: &str,
    captured: &HashMap<String, String>,
    query: &[(String, String)],
    body: Option<&Value>,
    authorization: Option<&str>,
    caller: Option<(String, &str)>,
) -> Reply {
    let param = |name: &str| captured.get(name).cloned().unwrap_or_default();
    match (method, template) {
        ("POST", "/auth/v1/tokens") => {
            use base64::Engine;
            let decoded = authorization
                .and_then(|value| value.strip_prefix("Basic "))
                .and_then(|value| base64::engine::general_purpose::STANDARD.decode(value).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            let valid = decoded
                .as_deref()
                .and_then(|text| text.split_once(':'))
                .filter(|(user, password)| world.users.get(*user).is_some_and(|p| p == password));
            let Some((user, _)) = valid else {
                return fault_reply(401, "Invalid or missing credentials");
            };
            world.issued += 1;
            let token = format!("{:032x}", 0xfeed_0000_u64 + world.issued as u64);
            let expiry = match body.and_then(|b| b.get("ttl")).and_then(Value::as_u64) {
                Some(ttl) if ttl < 3600 * 24 * 365 => "2098-01-01T00:00:00.000000Z",
                _ => "2099-01-01T00:00:00.000000Z",
            };
            world
                .tokens
                .insert(token.clone(), (user.to_string(), expiry.to_string()));
            Reply::Json(
                201,
                json!({"user": user, "token": token, "expiry": expiry,
                       "id": "65f0eeee0000000000000001", "metadata": {}}),
                Vec::new(),
            )
        }
        ("GET", "/api/v1/user") => {
            let (user, how) = caller.unwrap_or_default();
            let mut authentication = json!({"method": how, "location": "header"});
            if how == "authentication token" {
                authentication["token_expire"] = json!("2099-01-01T00:00:00Z");
            }
            Reply::Json(
                200,
                json!({"username": user, "authentication": authentication,
                       "rbac": {"enabled": false, "roles": [], "is_admin": true}}),
                Vec::new(),
            )
        }
        ("GET", "/api/v1/actions") => {
            let pack = first(query, "pack");
            let list: Vec<Value> = world
                .actions
                .iter()
                .filter(|a| pack.as_deref().is_none_or(|p| a["pack"] == p))
                .map(|action| include(action, first(query, "include_attributes")))
                .collect();
            let count = list.len().to_string();
            Reply::Json(
                200,
                Value::Array(list),
                vec![("X-Total-Count".into(), count)],
            )
        }
        ("GET", "/api/v1/actions/{ref_or_id}") => {
            let wanted = param("ref_or_id");
            match world
                .actions
                .iter()
                .find(|a| a["ref"] == wanted.as_str() || a["id"] == wanted.as_str())
            {
                Some(action) => Reply::Json(200, action.clone(), Vec::new()),
                None => fault_reply(
                    404,
                    &format!("Resource with a reference or id \"{wanted}\" not found"),
                ),
            }
        }
        ("GET", "/api/v1/runnertypes") => {
            let name = first(query, "name");
            let list: Vec<Value> = world
                .runners
                .iter()
                .filter(|r| name.as_deref().is_none_or(|n| r["name"] == n))
                .cloned()
                .collect();
            Reply::Json(200, Value::Array(list), Vec::new())
        }
        ("POST", "/api/v1/executions") => {
            let body = body.cloned().unwrap_or_default();
            let action_ref = body["action"].as_str().unwrap_or_default().to_string();
            let Some(action) = world
                .actions
                .iter()
                .find(|a| a["ref"] == action_ref.as_str())
                .cloned()
            else {
                return fault_reply(400, &format!("Action \"{action_ref}\" cannot be found."));
            };
            let parameters = body["parameters"].clone();
            let required: Vec<String> = action["parameters"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, schema)| schema["required"] == json!(true))
                .map(|(name, _)| name.clone())
                .filter(|name| parameters.get(name).is_none())
                .collect();
            if let Some(name) = required.first() {
                return fault_reply(400, &format!("'{name}' is a required property"));
            }
            let id = world.new_id();
            let mut created = execution(&id, "requested", parameters.clone());
            created["action"] = action;
            world.executions.insert(id.clone(), created.clone());
            let fails = parameters["cmd"] == "false";
            let mut steps: VecDeque<String> =
                std::iter::repeat_n("running".to_string(), world.running_polls).collect();
            steps.push_back(if fails { "failed" } else { "succeeded" }.into());
            world.progress.entry(id.clone()).or_insert(steps);
            world.output.entry(id.clone()).or_insert_with(|| {
                if fails {
                    Vec::new()
                } else {
                    vec![("stdout".into(), "Tue Mar 12 10:00:00 UTC 2024\n".into())]
                }
            });
            Reply::Json(201, created, Vec::new())
        }
        ("GET", "/api/v1/executions") => {
            let (offset, limit) = match page(query, world.max_page_size) {
                Ok(page) => page,
                Err(refused) => return refused,
            };
            let mut all: Vec<&Value> = world.executions.values().collect();
            all.reverse();
            let list: Vec<Value> = all
                .into_iter()
                .filter(|e| {
                    first(query, "status").is_none_or(|s| e["status"] == s.as_str())
                        && first(query, "action").is_none_or(|a| e["action"]["ref"] == a.as_str())
                })
                .skip(offset)
                .take(limit)
                .map(|e| include(e, first(query, "include_attributes")))
                .collect();
            let total = world.executions.len().to_string();
            Reply::Json(
                200,
                Value::Array(list),
                vec![
                    ("X-Total-Count".into(), total),
                    ("X-Limit".into(), limit.to_string()),
                ],
            )
        }
        ("GET", "/api/v1/executions/{id}") => {
            let id = param("id");
            let next = world.progress.get_mut(&id).and_then(|steps| {
                if steps.len() > 1 {
                    steps.pop_front()
                } else {
                    steps.front().cloned()
                }
            });
            match world.executions.get_mut(&id) {
                None => fault_reply(404, &format!("Resource with a id \"{id}\" not found")),
                Some(execution) => {
                    if let Some(status) = next {
                        finish(execution, &status);
                    }
                    let value = include(execution, first(query, "include_attributes"));
                    Reply::Json(200, value, Vec::new())
                }
            }
        }
        ("GET", "/api/v1/executions/{id}/children") => {
            let id = param("id");
            let list: Vec<Value> = world
                .executions
                .values()
                .filter(|e| e["parent"] == id.as_str())
                .cloned()
                .collect();
            Reply::Json(200, Value::Array(list), Vec::new())
        }
        ("DELETE", "/api/v1/executions/{id}") => {
            let id = param("id");
            match world.executions.get_mut(&id) {
                None => fault_reply(404, &format!("Resource with a id \"{id}\" not found")),
                Some(execution) => {
                    let status = execution["status"].as_str().unwrap_or_default().to_string();
                    if ["succeeded", "failed", "timeout", "canceled", "abandoned"]
                        .contains(&status.as_str())
                    {
                        return Reply::Json(
                            200,
                            json!({"faultstring": format!(
                                "Action cannot be canceled. State = {status}."
                            )}),
                            Vec::new(),
                        );
                    }
                    finish(execution, "canceling");
                    let answer = execution.clone();
                    world
                        .progress
                        .insert(id, VecDeque::from(["canceled".to_string()]));
                    Reply::Json(200, answer, Vec::new())
                }
            }
        }
        ("GET", "/api/v1/executions/{id}/output") => {
            let id = param("id");
            let wanted = first(query, "output_type").unwrap_or_else(|| "all".into());
            let text: String = world
                .output
                .get(&id)
                .into_iter()
                .flatten()
                .filter(|(kind, _)| wanted == "all" || *kind == wanted)
                .map(|(_, data)| data.as_str())
                .collect();
            Reply::Text(200, text, "text/plain")
        }
        ("GET", "/stream/v1/executions/{id}/output") => {
            let id = param("id");
            if !world.executions.contains_key(&id) {
                return fault_reply(404, &format!("Resource with a id \"{id}\" not found"));
            }
            Reply::OutputStream(id, first(query, "output_type"))
        }
        ("GET", "/api/v1/keys") => {
            let scope = first(query, "scope").unwrap_or_else(|| "all".into());
            let prefix = first(query, "prefix").unwrap_or_default();
            let (offset, limit) = match page(query, world.max_page_size) {
                Ok(page) => page,
                Err(refused) => return refused,
            };
            let matching: Vec<Value> = world
                .keys
                .iter()
                .filter(|((item_scope, _, name), _)| {
                    (scope == "all" || full_scope(&scope) == *item_scope)
                        && name.starts_with(&prefix)
                })
                .map(|(_, item)| item.clone())
                .collect();
            let count = matching.len().to_string();
            let list: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
            Reply::Json(
                200,
                Value::Array(list),
                vec![("X-Total-Count".into(), count)],
            )
        }
        ("GET", "/api/v1/keys/{name}") => {
            let scope = full_scope(&first(query, "scope").unwrap_or_default());
            let user = first(query, "user").unwrap_or_default();
            let name = param("name");
            let user = if scope == "st2kv.user" && user.is_empty() {
                caller.map(|(user, _)| user).unwrap_or_default()
            } else {
                user
            };
            match world.keys.get(&(scope.clone(), user, name.clone())) {
                Some(item) => Reply::Json(200, item.clone(), Vec::new()),
                None => fault_reply(
                    404,
                    &format!("The key \"{name}\" does not exist in the StackStorm datastore."),
                ),
            }
        }
        ("PUT", "/api/v1/keys/{name}") => {
            let body = body.cloned().unwrap_or_default();
            let scope = full_scope(body["scope"].as_str().unwrap_or_default());
            let name = param("name");
            let user = match body["user"].as_str() {
                Some(user) => user.to_string(),
                None if scope == "st2kv.user" => caller.map(|(user, _)| user).unwrap_or_default(),
                None => String::new(),
            };
            let secret = body["secret"] == json!(true);
            let mut item = json!({
                "name": name, "value": body["value"], "secret": secret,
                "encrypted": secret, "scope": scope,
                "uid": format!("key_value_pair:{scope}:{name}"),
                "id": "65f0ffff0000000000000002"
            });
            if secret {
                item["value"] = json!("CIPHERTEXT0123456789ABCDEF");
            }
            if !user.is_empty() {
                item["user"] = json!(user);
            }
            if let Some(ttl) = body["ttl"].as_u64() {
                item["ttl"] = json!(ttl);
                item["expire_timestamp"] = json!("2099-01-01T00:01:00.000000Z");
            }
            world.keys.insert((scope, user, name), item.clone());
            Reply::Json(200, item, Vec::new())
        }
        ("DELETE", "/api/v1/keys/{name}") => {
            let scope = full_scope(&first(query, "scope").unwrap_or_default());
            let user = first(query, "user").unwrap_or_default();
            let name = param("name");
            match world.keys.remove(&(scope, user, name.clone())) {
                Some(_) => Reply::Empty(204),
                None => fault_reply(
                    404,
                    &format!("The key \"{name}\" does not exist in the StackStorm datastore."),
                ),
            }
        }
        ("GET", "/api/v1/packs") => {
            let list: Vec<Value> = world
                .packs
                .iter()
                .map(|pack| include(pack, first(query, "include_attributes")))
                .collect();
            Reply::Json(200, Value::Array(list), Vec::new())
        }
        ("GET", "/api/v1/packs/{ref_or_id}") => {
            let wanted = param("ref_or_id");
            match world.packs.iter().find(|p| p["ref"] == wanted.as_str()) {
                Some(pack) => Reply::Json(200, pack.clone(), Vec::new()),
                None => fault_reply(
                    404,
                    &format!("Unable to identify resource with pack_ref_or_id \"{wanted}\"."),
                ),
            }
        }
        ("POST", "/api/v1/packs/index/search") => {
            let body = body.cloned().unwrap_or_default();
            if let Some(name) = body["pack"].as_str() {
                return match world.index.iter().find(|entry| entry["ref"] == name) {
                    Some(entry) => Reply::Json(200, entry.clone(), Vec::new()),
                    None => Reply::Json(200, json!([]), Vec::new()),
                };
            }
            let query = body["query"].as_str().unwrap_or_default().to_lowercase();
            let found: Vec<Value> = world
                .index
                .iter()
                .filter(|entry| entry.to_string().to_lowercase().contains(&query))
                .cloned()
                .collect();
            Reply::Json(200, Value::Array(found), Vec::new())
        }
        ("POST", "/api/v1/packs/register") => {
            let body = body.cloned().unwrap_or_default();
            if let Some(missing) = body["packs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|pack| !world.packs.iter().any(|p| p["ref"] == *pack))
            {
                return fault_reply(
                    400,
                    &format!(
                        "Pack \"{missing}\" not found on disk: Directory \"/opt/stackstorm/packs/{missing}\" doesn't exist"
                    ),
                );
            }
            Reply::Json(
                200,
                json!({"runners": 13, "actions": 21, "triggers": 0, "sensors": 0, "rules": 0,
                       "rule_types": 2, "aliases": 0, "policy_types": 4, "policies": 0,
                       "configs": 0}),
                Vec::new(),
            )
        }
        ("POST", "/api/v1/packs/install") | ("POST", "/api/v1/packs/uninstall") => {
            let install = template.ends_with("install") && !template.ends_with("uninstall");
            let packs: Vec<String> = body
                .and_then(|b| b["packs"].as_array())
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let id = world.new_id();
            let broken = packs.iter().any(|pack| pack == "broken");
            let tasks: &[&str] = if install {
                &[
                    "download_pack",
                    "install_pack_requirements",
                    "register_pack",
                ]
            } else {
                &["unregister_pack", "delete_pack"]
            };
            let action = if install { "install" } else { "uninstall" };
            let mut parent = workflow(&id, action, "running", &packs);
            let mut events = Vec::new();
            for task in tasks {
                let child_id = world.new_id();
                let fails = broken && *task == "download_pack";
                for status in [
                    "scheduled",
                    "running",
                    if fails { "failed" } else { "succeeded" },
                ] {
                    let name = if status == "scheduled" {
                        "st2.execution__create"
                    } else {
                        "st2.execution__update"
                    };
                    events.push((
                        name.to_string(),
                        task_execution(&child_id, &id, task, status),
                    ));
                }
                if fails {
                    break;
                }
            }
            let final_status = if broken { "failed" } else { "succeeded" };
            finish(&mut parent, final_status);
            parent["result"] = if broken {
                json!({"errors": [{"message": "Failed to download pack \"broken\": the repository does not exist"}],
                       "output": null})
            } else {
                // The refs of the packs downloaded (`packs.virtualenv_prerun`'s answer), not
                // the words asked for: `csv=2.0.0` is `csv`.
                let refs: Vec<&str> = packs
                    .iter()
                    .map(|pack| pack.split_once('=').map_or(pack.as_str(), |(name, _)| name))
                    .collect();
                json!({"output": {"packs_list": refs, "warning_list": [],
                                  "message": "", "conflict_list": null, "dependency_list": null}})
            };
            events.push(("st2.execution__update".into(), parent.clone()));
            // The execution as the API has it now: running until the stream has been read.
            let running = workflow(&id, action, "running", &packs);
            world.executions.insert(id.clone(), running);
            world
                .progress
                .insert(id.clone(), VecDeque::from([String::from("running")]));
            world.workflow_events.insert(id.clone(), events);
            if !broken {
                if install {
                    for pack in &packs {
                        // `REF=VERSION` installs that version (the index's 2.0.0 otherwise).
                        let (pack, version) = pack.split_once('=').unwrap_or((pack, "2.0.0"));
                        match world.packs.iter_mut().find(|p| p["ref"] == pack) {
                            Some(installed) => installed["version"] = json!(version),
                            None => world.packs.push(json!({
                                "ref": pack, "name": pack, "version": version,
                                "description": format!("the {pack} pack"),
                                "author": "StackStorm, Inc.", "id": "65f0abcd0000000000000002"
                            })),
                        }
                    }
                } else {
                    world
                        .packs
                        .retain(|p| !packs.iter().any(|pack| p["ref"] == pack.as_str()));
                }
            }
            Reply::Json(202, json!({"execution_id": id}), Vec::new())
        }
        ("GET", "/stream/v1/stream") => {
            let id = first(query, "end_execution_id").unwrap_or_default();
            Reply::EventStream(id)
        }
        ("GET", "/api/v1/config_schemas/{pack_ref}") => {
            let pack = param("pack_ref");
            match world.config_schemas.get(&pack) {
                Some(attributes) => Reply::Json(
                    200,
                    json!({"id": "65f0abcd0000000000000009", "pack": pack,
                           "attributes": attributes}),
                    Vec::new(),
                ),
                None => fault_reply(
                    404,
                    &format!("Unable to identify resource with pack_ref \"{pack}\"."),
                ),
            }
        }
        ("GET", "/api/v1/configs/{pack_ref}") => {
            let pack = param("pack_ref");
            let show = first(query, "show_secrets").is_some_and(|v| v == "true");
            match (world.configs.get(&pack), world.config_schemas.get(&pack)) {
                (Some(values), Some(schema)) => {
                    let values = if show {
                        values.clone()
                    } else {
                        masked(values, schema)
                    };
                    Reply::Json(200, json!({"pack": pack, "values": values}), Vec::new())
                }
                _ => fault_reply(
                    404,
                    &format!("Unable to identify resource with pack_ref \"{pack}\"."),
                ),
            }
        }
        ("PUT", "/api/v1/configs/{pack_ref}") => {
            let pack = param("pack_ref");
            let values = body.cloned().unwrap_or_default();
            world.configs.insert(pack.clone(), values.clone());
            // As st2api: the answer masks secrets unless an admin asks with show_secrets.
            let schema = world.config_schemas.get(&pack).cloned().unwrap_or_default();
            let values = masked(&values, &schema);
            Reply::Json(
                200,
                json!({"id": "65f0abcd000000000000000a", "pack": pack, "values": values}),
                Vec::new(),
            )
        }
        ("POST", "/api/v1/executions/{id}/re_run") => {
            re_run(world, &param("id"), body.cloned().unwrap_or_default())
        }
        _ => fault_reply(
            404,
            &format!("the stand-in has no answer for {method} {template}"),
        ),
    }
}

/// An orquesta workflow the world knows (`examples.orquesta-sequential`, its `orquesta`
/// runner type) and one failed execution of it, whose id it answers: what `--tasks` re-runs.
pub(crate) fn add_failed_workflow(world: &mut World) -> String {
    let action = json!({
        "id": "65f0aaaa0000000000000003", "uid": "action:examples:orquesta-sequential",
        "ref": "examples.orquesta-sequential", "pack": "examples", "name": "orquesta-sequential",
        "enabled": true, "runner_type": "orquesta", "entry_point": "workflows/sequential.yaml",
        "description": "A basic sequential workflow.",
        "parameters": {"who": {"type": "string", "default": "Stanley", "required": true}}
    });
    let runner = json!({
        "id": "65f0bbbb0000000000000002", "uid": "runner_type:orquesta", "name": "orquesta",
        "enabled": true, "description": "A runner for executing orquesta workflow.",
        "runner_package": "orquesta_runner", "runner_module": "orquesta_runner",
        "runner_parameters": {}
    });
    let id = world.new_id();
    let mut failed = execution(&id, "failed", json!({"who": "Thanos"}));
    failed["action"] = action.clone();
    failed["runner"] = runner.clone();
    failed["liveaction"]["action"] = json!("examples.orquesta-sequential");
    failed["context"]["pack"] = json!("examples");
    failed["result"] = json!({"errors": [{"message": "task2 failed", "task_id": "task2"}],
                              "output": null});
    world.actions.push(action);
    world.runners.push(runner);
    world.executions.insert(id.clone(), failed);
    id
}

/// `POST /executions/ID/re_run` as st2api's `ActionExecutionReRunController.post` answers it:
/// its checks in its order, the original's parameters under the given ones, a new execution
/// of the original's action with the `re-run` context (`tasks`/`reset` when given), `delayed`
/// first when a delay above 0 is asked for; it then runs as `POST /executions`' do.
fn re_run(world: &mut World, id: &str, body: Value) -> Reply {
    let list = |name: &str| body[name].as_array().cloned().unwrap_or_default();
    let (tasks, reset) = (list("tasks"), list("reset"));
    let given = body["parameters"].as_object().cloned().unwrap_or_default();
    if (!tasks.is_empty() || !reset.is_empty()) && !given.is_empty() {
        return fault_reply(
            400,
            "Parameters override is not supported when re-running task(s) for a workflow.",
        );
    }
    if reset.iter().any(|task| !tasks.contains(task)) {
        return fault_reply(
            400,
            "List of tasks to reset does not match the tasks to rerun.",
        );
    }
    let Some(original) = world.executions.get(id).cloned() else {
        return fault_reply(404, &format!("Resource with a id \"{id}\" not found"));
    };
    if !tasks.is_empty() && original["runner"]["name"] != "orquesta" {
        return fault_reply(400, "Task option is only supported for Orquesta workflows.");
    }
    let mut parameters = original["parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    parameters.extend(given);
    let parameters = Value::Object(parameters);
    let mut rerun = json!({"ref": id});
    if !tasks.is_empty() {
        rerun["tasks"] = Value::Array(tasks);
    }
    if !reset.is_empty() {
        rerun["reset"] = Value::Array(reset);
    }
    let delay = body["delay"].as_i64().filter(|delay| *delay > 0);
    let new_id = world.new_id();
    let first = if delay.is_some() {
        "delayed"
    } else {
        "requested"
    };
    let mut created = execution(&new_id, first, parameters.clone());
    created["action"] = original["action"].clone();
    created["runner"] = original["runner"].clone();
    created["liveaction"]["action"] = original["action"]["ref"].clone();
    created["context"] = json!({"user": USER, "pack": original["action"]["pack"],
                                "re-run": rerun});
    if let Some(delay) = delay {
        created["delay"] = json!(delay);
    }
    world.executions.insert(new_id.clone(), created.clone());
    let fails = parameters["cmd"] == "false";
    let mut steps: VecDeque<String> = delay.map(|_| "delayed".to_string()).into_iter().collect();
    steps.extend(std::iter::repeat_n(
        "running".to_string(),
        world.running_polls,
    ));
    steps.push_back(if fails { "failed" } else { "succeeded" }.into());
    world.progress.insert(new_id.clone(), steps);
    if !fails {
        world.output.insert(
            new_id,
            vec![("stdout".into(), "Tue Mar 12 10:00:00 UTC 2024\n".into())],
        );
    }
    Reply::Json(201, created, Vec::new())
}

/// A config's values with the schema's secrets masked.
fn masked(values: &Value, schema: &Value) -> Value {
    let mut values = values.clone();
    for (key, property) in schema.as_object().into_iter().flatten() {
        if property["secret"] == json!(true) && values.get(key).is_some() {
            values[key] = json!("********");
        }
    }
    values
}

/// A `packs.install`/`packs.uninstall` workflow execution.
fn workflow(id: &str, action: &str, status: &str, packs: &[String]) -> Value {
    let action = json!({
        "id": "65f0aaaa0000000000000002", "uid": format!("action:packs:{action}"),
        "ref": format!("packs.{action}"), "pack": "packs", "name": action, "enabled": true,
        "runner_type": "orquesta", "entry_point": format!("workflows/{action}.yaml"),
        "description": "Installs or uninstalls packs.",
        "parameters": {"packs": {"type": "array", "required": true}}
    });
    let mut execution = execution(id, status, json!({"packs": packs}));
    execution["action"] = action;
    execution["runner"] = json!({"name": "orquesta", "runner_parameters": {}});
    execution["result"] = Value::Null;
    if let Some(map) = execution.as_object_mut() {
        map.remove("result");
    }
    execution
}

/// A task of a workflow, as the stream shows it.
fn task_execution(id: &str, parent: &str, task: &str, status: &str) -> Value {
    let mut child = execution(id, status, json!({}));
    child["parent"] = json!(parent);
    child["context"] = json!({"user": USER, "orquesta": {"task_name": task},
                              "parent": {"execution_id": parent}});
    child
}

/// The general stream for a workflow: its tasks' events, then its own end (which sets the
/// execution's final status), then the server closes it.
fn event_stream(out: &mut TcpStream, world: &Mutex<World>, id: &str) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=UTF-8\r\n\
                Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let script = world
        .lock()
        .unwrap()
        .general_streams
        .get_mut(id)
        .and_then(VecDeque::pop_front);
    if let Some(script) = script {
        play_events(out, world, script);
        return;
    }
    let (events, drop) = {
        let world = world.lock().unwrap();
        (
            world.workflow_events.get(id).cloned().unwrap_or_default(),
            world.drop_workflow_streams,
        )
    };
    let count = events.len();
    for (index, (name, body)) in events.into_iter().enumerate() {
        let last = index + 1 == count;
        if last {
            // The workflow ends: the API says so from now on.
            let mut world = world.lock().unwrap();
            world.executions.insert(id.to_string(), body.clone());
            let status = body["status"].as_str().unwrap_or_default().to_string();
            world
                .progress
                .insert(id.to_string(), VecDeque::from([status]));
            if drop {
                return;
            }
        }
        let text = format!("event: {name}\ndata: {body}\n\n");
        if out.write_all(text.as_bytes()).is_err() {
            return;
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A scripted general stream, after its headers.
fn play_events(out: &mut TcpStream, world: &Mutex<World>, script: Vec<EventStep>) {
    for step in script {
        match step {
            EventStep::Close => return,
            EventStep::Event(name, body) => {
                if name == "st2.execution__update" {
                    let mut world = world.lock().unwrap();
                    if let Some(id) = body["id"].as_str() {
                        let status = body["status"].as_str().unwrap_or_default().to_string();
                        world.executions.insert(id.to_string(), body.clone());
                        world
                            .progress
                            .insert(id.to_string(), VecDeque::from([status]));
                    }
                }
                let text = format!("event: {name}\ndata: {body}\n\n");
                if out.write_all(text.as_bytes()).is_err() {
                    return;
                }
                let _ = out.flush();
            }
        }
    }
}

/// An output event of the general stream (`st2.execution.output__create`).
pub(crate) fn output_event(execution_id: &str, output_type: &str, data: &str) -> EventStep {
    EventStep::Event(
        "st2.execution.output__create",
        json!({"id": "65f0aaaa00000000000000fe", "execution_id": execution_id,
               "action_ref": "core.local", "runner_ref": "local-shell-cmd",
               "timestamp": "1505732598", "output_type": output_type, "data": data}),
    )
}

/// A workflow execution (`runner`: `orquesta` or `action-chain`) in the API's shape; when it
/// is itself a task, `parent` is its parent's (runner, id, task name).
pub(crate) fn workflow_execution(
    id: &str,
    runner: &str,
    status: &str,
    parent: Option<(&str, &str, &str)>,
) -> Value {
    let name = if runner == "orquesta" {
        "flow"
    } else {
        "chain"
    };
    let mut execution = execution(id, status, json!({}));
    execution["action"] = json!({
        "id": "65f0aaaa0000000000000003", "uid": format!("action:examples:{name}"),
        "ref": format!("examples.{name}"), "pack": "examples", "name": name, "enabled": true,
        "runner_type": runner, "entry_point": format!("workflows/{name}.yaml"),
        "description": "A workflow.", "parameters": {}
    });
    execution["runner"] = json!({"name": runner, "runner_parameters": {}});
    if let Some(map) = execution.as_object_mut() {
        map.remove("result");
    }
    if let Some((parent_runner, parent, task)) = parent {
        execution["parent"] = json!(parent);
        execution["context"] = task_context(parent_runner, parent, task);
    }
    execution
}

/// The context of a task of a workflow run by `runner` (`orquesta`: `orquesta.task_name`;
/// `action-chain`: `chain.name`), as st2's runners record it.
fn task_context(runner: &str, parent: &str, task: &str) -> Value {
    if runner == "orquesta" {
        json!({"user": USER, "orquesta": {"task_name": task}, "parent": {"execution_id": parent}})
    } else {
        json!({"user": USER, "chain": {"name": task}, "parent": {"execution_id": parent}})
    }
}

/// A task of a workflow run by `runner`: a `core.local` execution with its parent and task
/// context.
pub(crate) fn task_of(runner: &str, id: &str, parent: &str, task: &str, status: &str) -> Value {
    let mut child = execution(id, status, json!({"cmd": "date"}));
    child["parent"] = json!(parent);
    child["context"] = task_context(runner, parent, task);
    child
}

/// `include_attributes=a,b.c`: only those (top-level) attributes, as st2's API filters.
fn include(value: &Value, attributes: Option<String>) -> Value {
    let Some(attributes) = attributes else {
        return value.clone();
    };
    let mut out = Map::new();
    for attribute in attributes.split(',') {
        let mut parts = attribute.split('.');
        let top = parts.next().unwrap_or_default();
        let Some(inner) = value.get(top) else {
            continue;
        };
        match parts.next() {
            None => {
                out.insert(top.to_string(), inner.clone());
            }
            Some(field) => {
                if let Some(field_value) = inner.get(field) {
                    let entry = out.entry(top.to_string()).or_insert_with(|| json!({}));
                    if entry.is_object() {
                        entry[field] = field_value.clone();
                    }
                }
            }
        }
    }
    Value::Object(out)
}

/// The stream's `/executions/ID/output`: the replay, the scripted steps, then `EOF` once the
/// execution is final.
fn output_stream(
    out: &mut TcpStream,
    world: &Mutex<World>,
    stop: &AtomicBool,
    id: &str,
    output_type: Option<&str>,
) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=UTF-8\r\n\
                Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let wanted = |kind: &str| output_type.is_none_or(|t| t == "all" || t == kind);
    let event = |kind: &str, data: &str| {
        let body = json!({"id": "65f0aaaa00000000000000ff", "execution_id": id,
                          "action_ref": "core.local", "runner_ref": "local-shell-cmd",
                          "timestamp": NOW, "output_type": kind, "data": data});
        format!("event: st2.execution.output__create\ndata: {body}\n\n")
    };
    let (replay, steps, final_now) = {
        let mut world = world.lock().unwrap();
        let scripted = world
            .stream_scripts
            .get_mut(id)
            .and_then(VecDeque::pop_front);
        let replay: Vec<(String, String)> = world.output.get(id).cloned().unwrap_or_default();
        let status = world.executions[id]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // Unscripted: the execution ends as its progress says it will.
        let steps = scripted
            .or_else(|| world.streams.get(id).cloned())
            .unwrap_or_else(|| {
                let last = world
                    .progress
                    .get(id)
                    .and_then(|steps| steps.back().cloned())
                    .unwrap_or_default();
                let last: &'static str = match last.as_str() {
                    "failed" => "failed",
                    "canceled" => "canceled",
                    "timeout" => "timeout",
                    _ => "succeeded",
                };
                vec![StreamStep::Finish(last)]
            });
        (
            replay,
            steps,
            ["succeeded", "failed", "timeout", "canceled", "abandoned"].contains(&status.as_str()),
        )
    };
    for (kind, data) in &replay {
        if wanted(kind) && out.write_all(event(kind, data).as_bytes()).is_err() {
            return;
        }
    }
    let eof = "event: EOF\ndata: ''\n\n";
    if final_now {
        let _ = out.write_all(eof.as_bytes());
        return;
    }
    for step in steps {
        let sent = match step {
            StreamStep::Sleep(duration) => {
                std::thread::sleep(duration);
                Ok(())
            }
            StreamStep::Heartbeat => out.write_all(b"\n"),
            StreamStep::Output(kind, data) => {
                world
                    .lock()
                    .unwrap()
                    .output
                    .entry(id.to_string())
                    .or_default()
                    .push((kind.to_string(), data.clone()));
                if wanted(kind) {
                    out.write_all(event(kind, &data).as_bytes())
                } else {
                    Ok(())
                }
            }
            StreamStep::Finish(status) => {
                let mut world = world.lock().unwrap();
                if let Some(execution) = world.executions.get_mut(id) {
                    finish(execution, status);
                }
                world
                    .progress
                    .insert(id.to_string(), VecDeque::from([status.to_string()]));
                drop(world);
                let _ = out.write_all(eof.as_bytes());
                return;
            }
            StreamStep::Close => return,
            StreamStep::Hang => {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
        };
        if sent.is_err() {
            return;
        }
        let _ = out.flush();
    }
}

/// An HTTPS front for a stand-in: TLS with a certificate for 127.0.0.1 signed by a CA made
/// at test time (the CA's PEM in `cert_pem`, the bundle a client trusts), each connection
/// relayed to the plain server's port ([`TlsProxy`]). Stops when dropped.
pub(crate) struct TlsFront {
    pub port: u16,
    pub cert_pem: Vec<u8>,
    _proxy: TlsProxy,
}

impl TlsFront {
    pub(crate) fn start(backend_port: u16) -> TlsFront {
        let proxy = TlsProxy::start(&format!("http://127.0.0.1:{backend_port}"));
        let port = proxy
            .base_url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap();
        TlsFront {
            port,
            cert_pem: std::fs::read(&proxy.ca_file).unwrap(),
            _proxy: proxy,
        }
    }

    /// `--api-url` & co. through the front.
    pub(crate) fn url_args(&self) -> Vec<String> {
        let base = format!("https://127.0.0.1:{}", self.port);
        vec![
            "--api-url".into(),
            format!("{base}/api/v1"),
            "--auth-url".into(),
            format!("{base}/auth/v1"),
            "--stream-url".into(),
            format!("{base}/stream/v1"),
        ]
    }
}

/// The stand-in for `bench/run.sh`: the canned world (a new execution ends at its first
/// `GET`), serving until the file named by `ST2_STANDIN_PORT_FILE` (where it writes its port)
/// is removed.
#[test]
#[ignore = "serves until its port file is removed; bench/run.sh starts it"]
fn serve_stand_in_for_benchmarks() {
    let Ok(port_file) = std::env::var("ST2_STANDIN_PORT_FILE") else {
        panic!("set ST2_STANDIN_PORT_FILE to where the port is written");
    };
    let server = St2Server::with_world(World {
        running_polls: 0,
        ..World::canned()
    });
    std::fs::write(&port_file, server.port.to_string()).unwrap();
    while std::path::Path::new(&port_file).exists() {
        std::thread::sleep(Duration::from_millis(200));
        // The log would grow with every benchmark run.
        server.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_as_st2s_routers_map_them() {
        assert_eq!(spec_path("/api/v1/executions/"), "/api/v1/executions");
        assert_eq!(spec_path("/v1/actions"), "/api/v1/actions");
        assert_eq!(spec_path("/tokens"), "/auth/v1/tokens");
        assert_eq!(spec_path("/v1/stream"), "/stream/v1/stream");
    }
}

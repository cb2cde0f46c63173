//! The `http-request` runner (upstream `contrib/runners/http_runner`, used by `core.http`):
//! one HTTP request with reqwest, its response as the result.
//!
//! As upstream: `method` defaults to `POST` when there is a body and `GET` otherwise; with a
//! `Content-Type: application/json` header the body is sent as JSON (a string body must be
//! JSON), an object body without it is form-encoded; `User-Agent: st2/v3.9.0` and
//! `X-Stanley-Action` are added; `username`/`password` are basic auth; `allow_redirects` is
//! false by default; `url_hosts_blacklist`/`url_hosts_whitelist` (mutually exclusive) are
//! checked against the URL's host; a file from `@file_path=...` is uploaded as multipart.
//! The result is `{status_code, body, parsed, headers}` (`body` parsed when the response is
//! `application/json`); 200 to 206 succeed, other codes fail; a request that runs out of
//! time ends `timeout`.
//!
//! Ours: `auth` given as `name=value` is sent as that header (upstream hands the string to
//! requests, which fails); errors never show the password; a plain `http://` request that
//! cannot be redirected loads no CA certificate.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::Url;
use serde_json::{Map, Value};

use super::{RunOutcome, RunRequest};
use crate::store::ExecutionStatus;

/// Seconds a request may take when the action gives no `timeout` (upstream's default).
const DEFAULT_TIMEOUT: f64 = 60.0;

/// Redirects followed when `allow_redirects` is true (requests' limit).
const MAX_REDIRECTS: usize = 30;

/// How often the waiting thread looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Status codes upstream counts as success.
const SUCCESS: std::ops::RangeInclusive<u16> = 200..=206;

/// Run one execution.
pub(crate) fn run(request: &RunRequest) -> RunOutcome {
    let timeout = request
        .parameters
        .get("timeout")
        .and_then(Value::as_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
        .max(0.001);
    let timeout = Duration::from_secs_f64(timeout);
    let (builder, shown) = match build(request, timeout) {
        Ok(built) => built,
        Err(reason) => return RunOutcome::error(ExecutionStatus::Failed, reason),
    };
    match send(builder, read_response, request.cancel, timeout) {
        Sent::Done(Ok(result)) => result,
        Sent::Done(Err(err)) => failure(&err, &shown, timeout),
        Sent::Canceled => {
            RunOutcome::error(ExecutionStatus::Canceled, format!("canceled: {shown}"))
        }
        Sent::TimedOut => {
            RunOutcome::error(ExecutionStatus::Timeout, timeout_message(&shown, timeout))
        }
    }
}

/// Build a client that verifies servers against the system's CA store (`tls`). Without
/// `needs_tls` (a plain-http request that cannot be redirected) no certificate is loaded.
pub(crate) fn build_client(
    builder: reqwest::blocking::ClientBuilder,
    needs_tls: bool,
) -> Result<Client, String> {
    let builder = if needs_tls {
        crate::tls::configure(builder, crate::tls::Trust::System)?
    } else {
        builder
    };
    builder.build().map_err(|err| err.to_string())
}

/// How [`send`] ended.
pub(crate) enum Sent<T> {
    /// The request finished (or failed) and `read` ran on its response.
    Done(reqwest::Result<T>),
    /// The execution was canceled while it was in flight.
    Canceled,
    /// It outlived its timeout (a backstop: reqwest's own timeout normally ends it first).
    TimedOut,
}

/// Send a request on a thread and wait for it, looking at `cancel` meanwhile, so that a
/// cancel does not wait for a slow server. `read` turns the response into what the caller
/// keeps (on the same thread).
pub(crate) fn send<T: Send + 'static>(
    builder: RequestBuilder,
    read: fn(reqwest::blocking::Response) -> reqwest::Result<T>,
    cancel: &super::CancelFlag,
    timeout: Duration,
) -> Sent<T> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(builder.send().and_then(read));
    });
    let started = Instant::now();
    loop {
        match receiver.recv_timeout(CANCEL_POLL) {
            Ok(done) => return Sent::Done(done),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Sent::TimedOut,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if cancel.is_set() {
            return Sent::Canceled;
        }
        if started.elapsed() > timeout + Duration::from_secs(5) {
            return Sent::TimedOut;
        }
    }
}

/// One line for a request that got no response: `connection refused: <url>`, ...
pub(crate) fn describe_failure(err: &reqwest::Error, shown: &str) -> String {
    let mut innermost: &dyn std::error::Error = err;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let reason = innermost.to_string();
    let reason = if err.is_connect() && reason.to_ascii_lowercase().contains("refused") {
        "connection refused".to_string()
    } else if err.is_connect() {
        format!("connection failed: {reason}")
    } else {
        reason
    };
    format!("{reason}: {shown}")
}

/// The request to send, and the URL as errors show it (password masked).
fn build(request: &RunRequest, timeout: Duration) -> Result<(RequestBuilder, String), String> {
    let p = request.parameters;
    let (url, shown) = request_url(p)?;
    let client = client(p, &url, timeout)?;
    let body = p
        .get("body")
        .filter(|body| !body.is_null() && body.as_str() != Some(""));
    let upload = upload(p);
    let method = match text(p, "method") {
        Some(method) => method.to_ascii_uppercase(),
        None if body.is_some() || upload.is_some() => "POST".into(),
        None => "GET".into(),
    };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("invalid HTTP method \"{method}\""))?;
    let headers = headers(request);
    let json_content = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type") && value.trim() == "application/json"
    });

    let mut builder = client.request(method, url);
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(username) = text(p, "username") {
        let password = text(p, "password").unwrap_or_default();
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        builder = builder.header("Authorization", format!("Basic {token}"));
    }
    builder = match body {
        Some(Value::String(text)) if json_content => {
            let value: Value = serde_json::from_str(text)
                .map_err(|_| format!("Request body ({text}) can't be parsed as JSON"))?;
            builder.body(value.to_string())
        }
        Some(value) if json_content => builder.body(value.to_string()),
        Some(Value::String(text)) => builder.body(text.clone()),
        Some(Value::Object(map)) => {
            let pairs: Vec<(String, String)> =
                map.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
            builder.form(&pairs)
        }
        Some(other) => builder.body(other.to_string()),
        None => builder,
    };
    if let Some((name, content, content_type)) = upload {
        let mut part = reqwest::blocking::multipart::Part::text(content).file_name(name.clone());
        if let Some(content_type) = content_type {
            part = part
                .mime_str(&content_type)
                .map_err(|_| format!("invalid file_content_type \"{content_type}\""))?;
        }
        builder = builder.multipart(reqwest::blocking::multipart::Form::new().part(name, part));
    }
    Ok((builder, shown))
}

/// A string parameter, when set and not empty.
fn text<'p>(p: &'p Map<String, Value>, name: &str) -> Option<&'p str> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn flag(p: &Map<String, Value>, name: &str, default: bool) -> bool {
    p.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// `url` checked (http or https, the host lists) with `params` added to its query, and as
/// errors show it.
fn request_url(p: &Map<String, Value>) -> Result<(Url, String), String> {
    let raw_url = text(p, "url").ok_or("URL must be specified.")?;
    let mut url = Url::parse(raw_url).map_err(|err| format!("invalid url \"{raw_url}\": {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid url \"{raw_url}\": only http and https are supported"
        ));
    }
    let shown = shown_url(&url);
    check_hosts(p, &url, &shown)?;
    if let Some(Value::Object(params)) = p.get("params") {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, &plain(value));
        }
    }
    Ok((url, shown))
}

/// The client for one request: timeout, certificate check, redirects, proxies.
fn client(p: &Map<String, Value>, url: &Url, timeout: Duration) -> Result<Client, String> {
    let allow_redirects = flag(p, "allow_redirects", false);
    let verify = flag(p, "verify_ssl_cert", true);
    let mut client = Client::builder()
        .timeout(timeout)
        .danger_accept_invalid_certs(!verify)
        .redirect(if allow_redirects {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        });
    let proxied = text(p, "http_proxy").is_some() || text(p, "https_proxy").is_some();
    if let Some(proxy) = text(p, "http_proxy") {
        client =
            client.proxy(reqwest::Proxy::http(proxy).map_err(|err| format!("http_proxy: {err}"))?);
    }
    if let Some(proxy) = text(p, "https_proxy") {
        client = client
            .proxy(reqwest::Proxy::https(proxy).map_err(|err| format!("https_proxy: {err}"))?);
    }
    // Without verification reqwest's own configuration (which checks nothing) is used.
    let needs_tls = verify && !(url.scheme() == "http" && !allow_redirects && !proxied);
    build_client(client, needs_tls).map_err(|err| format!("cannot set up the HTTP client: {err}"))
}

/// `headers`, then the ones upstream adds: `User-Agent`, `X-Stanley-Action`, `auth`
/// (`Name=value`) and `cookies`.
fn headers(request: &RunRequest) -> Vec<(String, String)> {
    let p = request.parameters;
    let mut headers: Vec<(String, String)> = match p.get("headers") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), plain(v))).collect(),
        _ => Vec::new(),
    };
    headers.push(("User-Agent".into(), "st2/v3.9.0".into()));
    let action_name = request
        .action_ref
        .split_once('.')
        .map_or(request.action_ref, |(_, name)| name);
    headers.push(("X-Stanley-Action".into(), action_name.to_string()));
    if let Some((name, value)) = text(p, "auth").and_then(|auth| auth.split_once('=')) {
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    if let Some(Value::Object(cookies)) = p.get("cookies") {
        let cookie: Vec<String> = cookies
            .iter()
            .map(|(name, value)| format!("{name}={}", plain(value)))
            .collect();
        if !cookie.is_empty() {
            headers.push(("Cookie".into(), cookie.join("; ")));
        }
    }
    headers
}

/// `file_name`/`file_content` (set by `@file_path=...` on the command line), with
/// `file_content_type`.
fn upload(p: &Map<String, Value>) -> Option<(String, String, Option<String>)> {
    let name = p.get("file_name").and_then(Value::as_str)?;
    let content = p.get("file_content").and_then(Value::as_str)?;
    if name.is_empty() || content.is_empty() {
        return None;
    }
    let content_type = p
        .get("file_content_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some((name.to_string(), content.to_string(), content_type))
}

/// Upstream's host lists: the URL's host must not be in the blacklist / must be in the
/// whitelist; both at once is an error.
fn check_hosts(p: &Map<String, Value>, url: &Url, shown: &str) -> Result<(), String> {
    let list = |name: &str| -> Vec<String> {
        match p.get(name) {
            Some(Value::Array(items)) => items.iter().map(plain).collect(),
            _ => Vec::new(),
        }
    };
    let (blacklist, whitelist) = (list("url_hosts_blacklist"), list("url_hosts_whitelist"));
    if !blacklist.is_empty() && !whitelist.is_empty() {
        return Err(
            "\"url_hosts_blacklist\" and \"url_hosts_whitelist\" parameters are mutually \
                    exclusive. Only one should be provided."
                .into(),
        );
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let listed = |list: &[String]| {
        list.iter()
            .any(|entry| entry.trim_matches(['[', ']']).eq_ignore_ascii_case(host))
    };
    if listed(&blacklist) {
        return Err(format!("URL \"{shown}\" is blacklisted"));
    }
    if !whitelist.is_empty() && !listed(&whitelist) {
        return Err(format!("URL \"{shown}\" is not whitelisted"));
    }
    Ok(())
}

/// The result of a response.
fn read_response(response: reqwest::blocking::Response) -> reqwest::Result<RunOutcome> {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let text = response.text()?;
    let (body, parsed) = match content_type.as_deref() {
        Some("application/json") => match serde_json::from_str::<Value>(&text) {
            Ok(value) => (value, true),
            Err(_) => (Value::String(text), false),
        },
        _ => (Value::String(text), false),
    };
    let mut result = Map::new();
    result.insert("status_code".into(), Value::from(status));
    result.insert("body".into(), body);
    result.insert("parsed".into(), Value::Bool(parsed));
    result.insert("headers".into(), Value::Object(headers));
    Ok(RunOutcome {
        outcome: if SUCCESS.contains(&status) {
            ExecutionStatus::Succeeded
        } else {
            ExecutionStatus::Failed
        },
        result: Value::Object(result),
    })
}

/// A request that got no response.
fn failure(err: &reqwest::Error, shown: &str, timeout: Duration) -> RunOutcome {
    if err.is_timeout() {
        return RunOutcome::error(ExecutionStatus::Timeout, timeout_message(shown, timeout));
    }
    RunOutcome::error(ExecutionStatus::Failed, describe_failure(err, shown))
}

/// `no response from <url> within N seconds`.
pub(crate) fn timeout_message(shown: &str, timeout: Duration) -> String {
    format!(
        "no response from {shown} within {} seconds",
        super::shell::seconds(timeout.as_secs_f64())
    )
}

/// The URL with any password masked.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(crate::redact::MASK));
    }
    shown.to_string()
}

/// A value as text for a header, query string or form: strings as they are, the rest JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::CancelFlag;
    use crate::settings::Settings;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// What the test server received: method, URL, headers (lower-case names), body.
    type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, String)>>>;

    /// A server on 127.0.0.1 answering every request with `status`, `content_type`, `body`
    /// (after `delay`), recording what it received.
    fn server(status: u16, content_type: &str, body: &str, delay: Duration) -> (String, Seen) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let (content_type, body) = (content_type.to_string(), body.to_string());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let headers = request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.to_string().to_ascii_lowercase(),
                            h.value.to_string(),
                        )
                    })
                    .collect();
                record.lock().unwrap().push((
                    request.method().to_string(),
                    request.url().to_string(),
                    headers,
                    text,
                ));
                std::thread::sleep(delay);
                let mut response =
                    tiny_http::Response::from_string(body.clone()).with_status_code(status);
                if status == 302 {
                    response.add_header(
                        tiny_http::Header::from_bytes("Location", "/elsewhere").unwrap(),
                    );
                }
                response.add_header(
                    tiny_http::Header::from_bytes("Content-Type", content_type.as_str()).unwrap(),
                );
                let _ = request.respond(response);
            }
        });
        (format!("http://127.0.0.1:{port}"), seen)
    }

    fn execute(parameters: Value, cancel: &CancelFlag) -> RunOutcome {
        let settings =
            Settings::from_ini(&Default::default(), Some("/nonexistent".into()), None).unwrap();
        let parameters = parameters.as_object().unwrap().clone();
        let schema = Map::new();
        run(&RunRequest {
            execution_id: "0123456789abcdef01234567",
            action_ref: "core.http",
            pack: "core",
            runner_type: crate::runner::RunnerType::HttpRequest,
            pack_dir: std::path::Path::new("/nonexistent"),
            entry_point: "",
            schema: &schema,
            parameters: &parameters,
            config: &Value::Null,
            user: "stanley",
            python: None,
            settings: &settings,
            cancel,
            output: &crate::runner::output::Tap::none(),
            tasks: None,
        })
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn get_with_query_headers_and_a_json_answer() {
        let (url, seen) = server(
            200,
            "application/json; charset=utf-8",
            "{\"ok\": [1]}",
            Duration::ZERO,
        );
        let run = execute(
            json!({"url": format!("{url}/api?x=1"), "params": {"q": "a b", "n": 2},
                   "headers": {"X-Token": "abc"}, "cookies": {"c": "1"}}),
            &CancelFlag::new(),
        );
        assert_eq!(run.outcome, ExecutionStatus::Succeeded, "{}", run.result);
        assert_eq!(run.result["status_code"], 200);
        assert_eq!(run.result["body"], json!({"ok": [1]}));
        assert_eq!(run.result["parsed"], true);
        let seen = seen.lock().unwrap();
        let (method, path, headers, _) = &seen[0];
        assert_eq!(method, "GET");
        assert_eq!(path, "/api?x=1&q=a+b&n=2");
        assert_eq!(header(headers, "x-token"), Some("abc"));
        assert_eq!(header(headers, "cookie"), Some("c=1"));
        assert_eq!(header(headers, "user-agent"), Some("st2/v3.9.0"));
        assert_eq!(header(headers, "x-stanley-action"), Some("http"));
    }

    #[test]
    fn post_bodies_and_basic_auth() {
        let (url, seen) = server(201, "text/plain", "made", Duration::ZERO);
        let run = execute(
            json!({"url": url, "body": "{\"a\": 1}", "headers": {"Content-Type": "application/json"},
                   "username": "me", "password": "hunter2"}),
            &CancelFlag::new(),
        );
        assert_eq!(run.outcome, ExecutionStatus::Succeeded);
        assert_eq!(run.result["body"], "made");
        assert_eq!(run.result["parsed"], false);
        assert!(!run.result.to_string().contains("hunter2"));
        let run = execute(
            json!({"url": url, "body": {"k": "v"}, "method": "put"}),
            &CancelFlag::new(),
        );
        assert_eq!(run.outcome, ExecutionStatus::Succeeded);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, "POST");
        assert_eq!(seen[0].3, "{\"a\":1}");
        assert_eq!(
            header(&seen[0].2, "authorization"),
            Some("Basic bWU6aHVudGVyMg==")
        );
        assert_eq!(seen[1].0, "PUT");
        assert_eq!(seen[1].3, "k=v");
        let bad = execute(
            json!({"url": url, "body": "not json", "headers": {"Content-Type": "application/json"}}),
            &CancelFlag::new(),
        );
        assert_eq!(
            bad.result["error"],
            "Request body (not json) can't be parsed as JSON"
        );
    }

    #[test]
    fn error_statuses_fail_with_the_response() {
        let (url, _) = server(500, "text/plain", "boom", Duration::ZERO);
        let run = execute(json!({"url": url}), &CancelFlag::new());
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(run.result["status_code"], 500);
        assert_eq!(run.result["body"], "boom");
    }

    #[test]
    fn redirects_only_when_allowed() {
        let (url, seen) = server(302, "text/plain", "moved", Duration::ZERO);
        let run = execute(json!({"url": url}), &CancelFlag::new());
        assert_eq!(run.result["status_code"], 302);
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(seen.lock().unwrap().len(), 1);
        let run = execute(
            json!({"url": url, "allow_redirects": true}),
            &CancelFlag::new(),
        );
        // Every answer is a redirect: reqwest gives up after the limit.
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert!(seen.lock().unwrap().len() > 2);
    }

    #[test]
    fn unreachable_slow_and_blocked_hosts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/");
        let run = execute(json!({"url": url}), &CancelFlag::new());
        assert_eq!(run.outcome, ExecutionStatus::Failed);
        assert_eq!(run.result["error"], format!("connection refused: {url}"));

        let (slow, _) = server(200, "text/plain", "late", Duration::from_secs(3));
        let started = Instant::now();
        let run = execute(json!({"url": slow, "timeout": 0.3}), &CancelFlag::new());
        assert_eq!(run.outcome, ExecutionStatus::Timeout);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(run.result["error"]
            .as_str()
            .unwrap()
            .contains("within 0.3 seconds"));

        let run = execute(
            json!({"url": "http://127.0.0.1:9/", "url_hosts_blacklist": ["127.0.0.1"]}),
            &CancelFlag::new(),
        );
        assert_eq!(
            run.result["error"],
            "URL \"http://127.0.0.1:9/\" is blacklisted"
        );
        let run = execute(
            json!({"url": "http://127.0.0.1:9/", "url_hosts_whitelist": ["example.com"]}),
            &CancelFlag::new(),
        );
        assert_eq!(
            run.result["error"],
            "URL \"http://127.0.0.1:9/\" is not whitelisted"
        );
        let run = execute(
            json!({"url": "http://u:secret@127.0.0.1:9/", "url_hosts_blacklist": ["a"],
                   "url_hosts_whitelist": ["b"]}),
            &CancelFlag::new(),
        );
        assert!(run.result["error"]
            .as_str()
            .unwrap()
            .contains("mutually exclusive"));
    }

    #[test]
    fn cancel_ends_a_request_in_flight() {
        let (slow, _) = server(200, "text/plain", "late", Duration::from_secs(5));
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            flag.cancel();
        });
        let started = Instant::now();
        let run = execute(json!({"url": slow}), &cancel);
        assert_eq!(run.outcome, ExecutionStatus::Canceled);
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

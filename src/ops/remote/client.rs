//! The HTTP side of remote mode: one blocking `reqwest` client for the cluster's api, auth and
//! stream roots, every request bounded by a timeout, TLS verified by default, the one
//! credential as a header (never in a URL), and every error one readable line
//! (`../shared/spec/remote-api.md` §1.4, §2.5, §4 "Faults").
//!
//! Where we differ from st2client on purpose: requests time out (connect 10 s, each request
//! `--http-timeout`, 60 s by default; st2#4893: st2client waits forever); certificates are
//! checked unless `cacert = false` (st2client checks none by default); a GET is retried twice
//! (0.5 s, then 2 s) after a connection error, a reset or a 502/503/504, and nothing else is
//! (a second `POST /executions` would run the action twice); redirects are not followed (a
//! redirect would carry the token to wherever it points).

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::Method;
use serde_json::Value;

use super::auth::TokenCache;
use crate::settings::client::{ClientSettings, Credential, Source, Sourced, Verify};

/// Connecting may take this long, whatever `--http-timeout` says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits before the retries of a GET.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

/// Characters sent as they are in a path segment or a query value (RFC 3986 unreserved);
/// st2client sends `,` as `%2C`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment (a ref, a key name, an id), percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

/// Which of the cluster's three services a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// st2api.
    Api,
    /// st2auth.
    Auth,
    /// st2stream.
    Stream,
}

/// An answer from the cluster with a 2xx status.
#[derive(Debug)]
pub(crate) struct Answer {
    /// `X-Total-Count`, when the answer is a page of a list.
    pub(crate) total_count: Option<u64>,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// `METHOD URL` of the request, for messages.
    pub(crate) request: String,
}

impl Answer {
    /// The body as JSON (`null` when empty); anything else is an "unexpected answer".
    pub(crate) fn json(&self) -> anyhow::Result<Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|err| unexpected(&self.request, &format!("not JSON: {err}")))
    }

    /// The body as a JSON object.
    pub(crate) fn object(&self) -> anyhow::Result<serde_json::Map<String, Value>> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            other => Err(unexpected(
                &self.request,
                &format!("expected an object, got {}", kind(&other)),
            )),
        }
    }

    /// The body as a JSON list.
    pub(crate) fn list(&self) -> anyhow::Result<Vec<Value>> {
        match self.json()? {
            Value::Array(items) => Ok(items),
            other => Err(unexpected(
                &self.request,
                &format!("expected a list, got {}", kind(&other)),
            )),
        }
    }
}

/// The largest page st2api gives a user who is not an admin (`[api] max_page_size`).
pub(crate) const MAX_PAGE: usize = 100;

/// What a JSON value is, in a message.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A 2xx answer the client cannot use.
pub(crate) fn unexpected(request: &str, reason: &str) -> anyhow::Error {
    anyhow::anyhow!("unexpected answer from {request}: {reason}")
}

/// The cluster answered with an error status: its `faultstring`, the status and the request
/// (`error: <faultstring> (HTTP 401 from GET https://h/api/v1/actions)`), and for a 401 what to
/// do about it.
#[derive(Debug, thiserror::Error)]
#[error("{faultstring} (HTTP {status} from {request}){}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The answer's `faultstring`, or its reason phrase when it has none.
    pub(crate) faultstring: String,
    /// `METHOD URL`.
    pub(crate) request: String,
    /// What to do, on its own line.
    pub(crate) hint: Option<String>,
}

/// The credential as sent: resolved once per run.
#[derive(Clone)]
enum Active {
    /// Nothing to send.
    Nothing,
    /// `X-Auth-Token`; `cached` when it came from the token cache (a 401 then means log in
    /// again).
    Token { token: String, cached: bool },
    /// `St2-Api-Key`.
    ApiKey(String),
}

/// The cluster's HTTP client.
pub(crate) struct Client {
    http: reqwest::blocking::Client,
    pub(crate) settings: ClientSettings,
    active: Mutex<Option<Active>>,
    warn: Box<dyn Fn(&str)>,
    /// The warning an unverified https request gets, until it is said.
    unverified: Mutex<Option<String>>,
}

impl Client {
    /// A client for these settings; `warn` shows a warning to the user.
    pub(crate) fn new(settings: ClientSettings, warn: Box<dyn Fn(&str)>) -> anyhow::Result<Client> {
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(settings.http_timeout.value)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("st2-rs/", env!("CARGO_PKG_VERSION")));
        // The system's CA store is read only when an endpoint is https (`tls`).
        let https = [&settings.api_url, &settings.auth_url, &settings.stream_url]
            .iter()
            .any(|url| url.value.starts_with("https://"));
        match &settings.verify.value {
            Verify::System if https => {
                builder = crate::tls::configure(builder, crate::tls::Trust::System)
                    .map_err(anyhow::Error::msg)?;
            }
            Verify::System => {}
            Verify::CaFile(path) => {
                let pem = std::fs::read(path).with_context(|| {
                    format!(
                        "cannot read the CA bundle {} (from {})",
                        path.display(),
                        settings.verify.source
                    )
                })?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                    anyhow::anyhow!(
                        "the CA bundle {} (from {}) is not PEM certificates: {err}",
                        path.display(),
                        settings.verify.source
                    )
                })?;
                if certificates.is_empty() {
                    anyhow::bail!(
                        "the CA bundle {} (from {}) holds no PEM certificate",
                        path.display(),
                        settings.verify.source
                    );
                }
                // That bundle alone, as st2client's `requests` takes it.
                builder = crate::tls::configure(builder, crate::tls::Trust::Only(path))
                    .map_err(|err| anyhow::anyhow!("{err} (from {})", settings.verify.source))?;
            }
            Verify::Off => {
                builder = builder.danger_accept_invalid_certs(true);
            }
        }
        let http = builder
            .build()
            .context("cannot set up the HTTP client for the StackStorm API")?;
        // Said before the first https request, once per run; `[general]
        // silence_ssl_warnings` silences it, as it silences urllib3's InsecureRequestWarning
        // in st2client (`base.py`), which comes with every unverified request.
        let unverified = (settings.verify.value == Verify::Off && !settings.silence_ssl_warnings)
            .then(|| {
                format!(
                    "TLS certificates are not checked (cacert = false, from {}): anyone on \
                     the way can read and change what st2 sends, the credential included",
                    settings.verify.source
                )
            });
        Ok(Client {
            http,
            settings,
            active: Mutex::new(None),
            warn,
            unverified: Mutex::new(unverified),
        })
    }

    /// Before a request to `url`: the warning that its certificate is not checked, the first
    /// time that matters.
    fn about_to_send(&self, url: &str) {
        if !url.starts_with("https://") {
            return;
        }
        let warning = self
            .unverified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(warning) = warning {
            self.warn(&warning);
        }
    }

    /// Show a warning.
    pub(crate) fn warn(&self, message: &str) {
        (self.warn)(message)
    }

    fn root(&self, root: Root) -> &Sourced<String> {
        match root {
            Root::Api => &self.settings.api_url,
            Root::Auth => &self.settings.auth_url,
            Root::Stream => &self.settings.stream_url,
        }
    }

    /// The full URL of `path` (which starts with `/`, its segments already encoded) under a
    /// root, with the query (values percent-encoded, in the order given).
    pub(crate) fn url(&self, root: Root, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{path}", self.root(root).value);
        for (index, (name, value)) in query.iter().enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.push_str(&segment(value));
        }
        url
    }

    /// `GET`, retried on connection errors and 502/503/504.
    pub(crate) fn get(
        &self,
        root: Root,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Answer> {
        self.call(Method::GET, root, path, query, None)
    }

    /// Up to `limit` items of the list at `path` (API root), each made by `view`, in pages
    /// of at most [`MAX_PAGE`]: one page as st2client asks when `limit` is at most 100, else
    /// (**[fix]**) pages with `offset`, since st2api refuses a `limit` above 100 (and `-1`) to
    /// users who are not admins when RBAC is on. `query(page, offset)` is each request's
    /// query, `limit=page` and (after the first page) `offset` where st2client puts them.
    /// Stops at `limit`, at a short page or at `X-Total-Count`.
    pub(crate) fn get_pages<T>(
        &self,
        path: &str,
        limit: usize,
        query: impl Fn(usize, usize) -> Vec<(&'static str, String)>,
        view: impl Fn(&Value, &str) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let mut found = Vec::new();
        loop {
            let page = (limit - found.len()).min(MAX_PAGE);
            let answer = self.get(Root::Api, path, &query(page, found.len()))?;
            let items = answer.list()?;
            let got = items.len();
            for item in &items {
                found.push(view(item, &answer.request)?);
            }
            let total = answer
                .total_count
                .map_or(usize::MAX, |total| total as usize);
            if got < page || found.len() >= limit || found.len() >= total {
                return Ok(found);
            }
        }
    }

    /// A request whose answer must be 2xx; otherwise an [`ApiError`] (a 401 on a cached
    /// token logs in again once and retries).
    pub(crate) fn call(
        &self,
        method: Method,
        root: Root,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let url = self.url(root, path, query);
        let request = format!("{method} {}", redact_url(&url));
        let active = self.active()?;
        let response = self.send_retrying(&method, root, &url, &request, body, &active, None)?;
        let response = match (response.status().as_u16(), &active) {
            (401, Active::Token { cached: true, .. }) => {
                // The cached token was revoked or expired early: log in again, once.
                let fresh = self.relogin()?;
                self.send_retrying(&method, root, &url, &request, body, &fresh, None)?
            }
            _ => response,
        };
        self.finish(response, request)
    }

    /// `POST /tokens` with Basic credentials: the answer, error statuses included.
    pub(crate) fn post_token(
        &self,
        username: &str,
        password: &str,
        body: &Value,
    ) -> anyhow::Result<Answer> {
        let url = self.url(Root::Auth, "/tokens", &[]);
        let request = format!("POST {}", redact_url(&url));
        let response = self.send_retrying(
            &Method::POST,
            Root::Auth,
            &url,
            &request,
            Some(body),
            &Active::Nothing,
            Some((username, password)),
        )?;
        self.finish(response, request)
    }

    /// Open a request whose body is read as it comes (the stream); the answer's status is
    /// checked, its body not read.
    pub(crate) fn open(
        &self,
        root: Root,
        path: &str,
        query: &[(&str, String)],
        accept: &str,
    ) -> anyhow::Result<Response> {
        let url = self.url(root, path, query);
        let request = format!("GET {}", redact_url(&url));
        let active = self.active()?;
        let started = Instant::now();
        self.about_to_send(&url);
        let mut builder = self.http.get(&url).header("Accept", accept);
        builder = self.authorize(builder, root, &active, None);
        let response = builder
            .send()
            .map_err(|err| self.transport_error(&err, root, &request))?;
        tracing::debug!(
            "{request} -> {} in {} ms",
            response.status().as_u16(),
            started.elapsed().as_millis()
        );
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let _ = response.take(64 * 1024).read_to_end(&mut body);
        Err(api_error(status, &body, request, self.hint_for(status)).into())
    }

    /// Check the status of a response, read its body.
    fn finish(&self, response: Response, request: String) -> anyhow::Result<Answer> {
        let status = response.status().as_u16();
        let total_count = response
            .headers()
            .get("X-Total-Count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok());
        let body = response
            .bytes()
            .map_err(|err| {
                anyhow::anyhow!(
                    "the answer to {request} could not be read: {}",
                    describe(&err)
                )
            })?
            .to_vec();
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body, request, self.hint_for(status)).into());
        }
        Ok(Answer {
            total_count,
            body,
            request,
        })
    }

    fn hint_for(&self, status: u16) -> Option<String> {
        (status == 401).then(|| "st2 login USER, or set ST2_AUTH_TOKEN / ST2_API_KEY".to_string())
    }

    /// Send once, then again after the delays of [`RETRY_DELAYS`] for a GET that could not
    /// connect, was reset, or got a 502/503/504.
    #[allow(clippy::too_many_arguments)]
    fn send_retrying(
        &self,
        method: &Method,
        root: Root,
        url: &str,
        request: &str,
        body: Option<&Value>,
        active: &Active,
        basic: Option<(&str, &str)>,
    ) -> anyhow::Result<Response> {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let started = Instant::now();
            self.about_to_send(url);
            let mut builder = self.http.request(method.clone(), url);
            if let Some(body) = body {
                builder = builder
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_vec(body).expect("JSON values serialize"));
            }
            builder = self.authorize(builder, root, active, basic);
            let outcome = builder.send();
            let retry = match &outcome {
                Ok(response) => {
                    tracing::debug!(
                        "{request} -> {} in {} ms",
                        response.status().as_u16(),
                        started.elapsed().as_millis()
                    );
                    matches!(response.status().as_u16(), 502..=504)
                }
                Err(err) => {
                    tracing::debug!("{request} -> {}", describe(err));
                    !err.is_timeout() && (err.is_connect() || err.is_request())
                }
            };
            if retry && *method == Method::GET {
                if let Some(delay) = delays.next() {
                    std::thread::sleep(*delay);
                    continue;
                }
            }
            return outcome.map_err(|err| self.transport_error(&err, root, request));
        }
    }

    /// The headers of the credential (and the proxy's Basic auth on the api and stream).
    fn authorize(
        &self,
        mut builder: RequestBuilder,
        root: Root,
        active: &Active,
        basic: Option<(&str, &str)>,
    ) -> RequestBuilder {
        match active {
            Active::Nothing => {}
            Active::Token { token, .. } => builder = builder.header("X-Auth-Token", token),
            Active::ApiKey(key) => builder = builder.header("St2-Api-Key", key),
        }
        match (basic, &self.settings.basic_auth) {
            (Some((user, password)), _) => builder.basic_auth(user, Some(password)),
            (None, Some(proxy)) if root != Root::Auth => {
                builder.basic_auth(&proxy.value.user, Some(&proxy.value.password))
            }
            _ => builder,
        }
    }

    /// The credential to send, resolved on first use (a login when the config names a user).
    fn active(&self) -> anyhow::Result<Active> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(active) = guard.as_ref() {
            return Ok(active.clone());
        }
        let active = match self.settings.credential.as_ref().map(|c| &c.value) {
            None => Active::Nothing,
            Some(Credential::Token(token)) => Active::Token {
                token: token.clone(),
                cached: false,
            },
            Some(Credential::ApiKey(key)) => Active::ApiKey(key.clone()),
            Some(Credential::Login { username, password }) => {
                let cache = TokenCache::new(&self.settings.token_dir, username);
                match self
                    .settings
                    .cache_token
                    .then(|| cache.read(&|message: &str| self.warn(message)))
                {
                    Some(Ok(Some(token))) => Active::Token {
                        token,
                        cached: true,
                    },
                    other => {
                        if let Some(Err(problem)) = other {
                            self.warn(&format!("{problem}; logging in again"));
                        }
                        match self.login_from_config(username, password.as_deref()) {
                            Ok(token) => Active::Token {
                                token,
                                cached: false,
                            },
                            // As st2client (`base.py get_client`): an auth service that
                            // cannot be reached is skipped, and the command goes on without a
                            // credential (a cluster without auth answers it).
                            Err(err)
                                if err
                                    .downcast_ref::<TransportError>()
                                    .is_some_and(|err| err.unreachable) =>
                            {
                                self.warn(&format!(
                                    "Auth API server is not available, skipping \
                                     authentication ({})",
                                    err.root_cause()
                                ));
                                Active::Nothing
                            }
                            Err(err) => return Err(err),
                        }
                    }
                }
            }
        };
        *guard = Some(active.clone());
        Ok(active)
    }

    /// Log in again after a 401 on a cached token.
    fn relogin(&self) -> anyhow::Result<Active> {
        let Some(Credential::Login { username, password }) =
            self.settings.credential.as_ref().map(|c| &c.value)
        else {
            unreachable!("only a login's token is cached");
        };
        let active = Active::Token {
            token: self.login_from_config(username, password.as_deref())?,
            cached: false,
        };
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = Some(active.clone());
        Ok(active)
    }

    /// `POST /tokens` with the config's user and password; the token is cached.
    fn login_from_config(&self, username: &str, password: Option<&str>) -> anyhow::Result<String> {
        let config = self
            .settings
            .credential
            .as_ref()
            .map(|c| c.source.clone())
            .unwrap_or(Source::Default);
        let Some(password) = password else {
            anyhow::bail!(
                "no password for {username} in {config} and no valid cached token; run st2 \
                 login {username}"
            );
        };
        // Not reached is said by the caller; any other failure stops the command, with
        // st2client's words (`base.py`).
        let answer = self
            .post_token(username, password, &serde_json::json!({}))
            .map_err(|err| match err.downcast_ref::<TransportError>() {
                Some(transport) if transport.unreachable => err,
                _ => err.context(format!(
                    "Failed to authenticate with credentials provided in the config \
                     (user {username}, from {config})"
                )),
            })?;
        let token = super::auth::token_view(&answer)?;
        if let Err(problem) = TokenCache::new(&self.settings.token_dir, &token.user).write(&token) {
            self.warn(&problem);
        }
        Ok(token.token)
    }

    /// One line for a request that got no answer: which URL, from where it came, why.
    fn transport_error(&self, err: &reqwest::Error, root: Root, request: &str) -> anyhow::Error {
        let source = &self.root(root).source;
        let reason = describe(err);
        let chain = chain_text(err);
        let tls = chain.contains("certificate") || chain.contains("SSL") || chain.contains("TLS");
        // What st2client's `requests` calls a ConnectionError (refused, unknown host, no
        // connection in time), certificates aside.
        let unreachable = err.is_connect() && !tls;
        let message = if err.is_timeout() {
            format!(
                "no answer to {request} within {} s (URL from {source})\nhint: a slower cluster \
                 needs --http-timeout SECONDS or ST2_HTTP_TIMEOUT",
                self.settings.http_timeout.value.as_secs_f64()
            )
        } else if tls {
            format!(
                "the TLS certificate of {request} (URL from {source}) cannot be verified: \
                 {reason}\nhint: give the cluster's CA with --cacert PATH, ST2_CACERT or \
                 [general] cacert in the CLI config"
            )
        } else {
            format!("cannot reach {request} (URL from {source}): {reason}")
        };
        TransportError {
            message,
            unreachable,
        }
        .into()
    }
}

/// A request that got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct TransportError {
    /// The line to show.
    message: String,
    /// No connection could be made (not a certificate, not a slow answer).
    pub(crate) unreachable: bool,
}

/// An [`ApiError`] from an error answer: its `faultstring`, else its text, else the status.
fn api_error(status: u16, body: &[u8], request: String, hint: Option<String>) -> ApiError {
    let faultstring = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map
            .get("faultstring")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
    .or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        // A short plain-text body (a proxy's) says more than the status; HTML does not.
        (!text.is_empty() && text.len() <= 200 && !text.starts_with('<') && !text.contains('\n'))
            .then(|| text.to_string())
    })
    .unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("error")
            .to_string()
    });
    ApiError {
        status,
        faultstring,
        request,
        hint,
    }
}

/// A URL as it may be shown: credentials in its query masked (ours never carry one, but a
/// URL given by the user may).
pub(crate) fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if ["x-auth-token", "st2-api-key"].contains(&name.to_lowercase().as_str()) =>
            {
                format!("{name}={}", crate::redact::MASK)
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The innermost cause of a reqwest error, without Rust's `(os error N)`.
pub(crate) fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut innermost: &dyn std::error::Error = err;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let text = innermost.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn chain_text(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = current {
        text.push_str(&error.to_string());
        text.push('\n');
        current = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded_as_st2client_sends_them() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("ref,pack,description"), "ref%2Cpack%2Cdescription");
        assert_eq!(segment("core.local"), "core.local");
    }

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            redact_url("http://h/stream?x-auth-token=abc&events=a"),
            "http://h/stream?x-auth-token=********&events=a"
        );
        assert_eq!(redact_url("http://h/x"), "http://h/x");
    }

    #[test]
    fn error_lines_carry_the_faultstring_status_and_request() {
        let err = api_error(
            401,
            br#"{"faultstring": "Unauthorized - One of Token or API key required."}"#,
            "GET http://h/api/v1/actions".into(),
            Some("st2 login USER".into()),
        );
        assert_eq!(
            err.to_string(),
            "Unauthorized - One of Token or API key required. (HTTP 401 from GET \
             http://h/api/v1/actions)\nhint: st2 login USER"
        );
        let html = api_error(502, b"<html>bad gateway</html>", "GET u".into(), None);
        assert_eq!(html.to_string(), "Bad Gateway (HTTP 502 from GET u)");
        let text = api_error(500, b"oops", "GET u".into(), None);
        assert_eq!(text.to_string(), "oops (HTTP 500 from GET u)");
    }
}

//! git's smart HTTP protocol (`git help http-protocol`) over reqwest, for libgit2: the ref
//! advertisement is `GET <url>/info/refs?service=git-upload-pack`, each round of the
//! negotiation a `POST <url>/git-upload-pack` of what libgit2 wrote, answered by what it
//! reads. Only fetching (upload-pack); "dumb" HTTP servers are refused as libgit2 refuses
//! them.
//!
//! - TLS as everywhere in the crate (`tls`): the system's store, and the configured bundle
//!   (`[content] ca_bundle_path`, else `GIT_SSL_CAINFO`, else `SSL_CERT_FILE`). A plain
//!   `http://` remote loads no certificate.
//! - Credentials as git finds them: the URL's `user:password@`, else git's credential
//!   helpers (`credential.helper`), asked once the server answers 401.
//! - Proxies: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, and git's `http.proxy`
//!   first, as git does.
//! - A redirect of the advertisement moves the following requests to where it led (as git
//!   and libgit2 do for the first request).
//! - The timeout bounds the connection, each response's headers and each read of its body,
//!   not the whole download: a large pack arriving steadily never times out.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream};
use git2::ErrorClass;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{StatusCode, Url};

use super::{error, push_refused, TransportOptions};

const ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";
const REQUEST: &str = "application/x-git-upload-pack-request";
const RESULT: &str = "application/x-git-upload-pack-result";

/// The clients every transport of the process shares (one for `http://`, one with TLS),
/// made when first needed.
#[derive(Clone)]
pub(super) struct Http {
    shared: Arc<Shared>,
}

struct Shared {
    options: TransportOptions,
    plain: OnceLock<Result<Client, String>>,
    secure: OnceLock<Result<Client, String>>,
}

impl Http {
    pub(super) fn shared(options: TransportOptions) -> Http {
        Http {
            shared: Arc::new(Shared {
                options,
                plain: OnceLock::new(),
                secure: OnceLock::new(),
            }),
        }
    }

    /// The subtransport of one connection to a remote.
    pub(super) fn subtransport(&self) -> Subtransport {
        Subtransport {
            http: self.clone(),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn client(&self, url: &Url) -> Result<Client, Failure> {
        let https = url.scheme() == "https";
        let cell = if https {
            &self.shared.secure
        } else {
            &self.shared.plain
        };
        cell.get_or_init(|| build_client(&self.shared.options, https))
            .clone()
            .map_err(Failure::other)
    }

    /// Send one request (`body`: a POST of it), with the credentials known so far; on a 401
    /// without any, find them (URL, credential helper) and send it again once.
    fn send(
        &self,
        url: &Url,
        body: Option<&[u8]>,
        state: &Mutex<State>,
    ) -> Result<Response, Failure> {
        let client = self.client(url)?;
        let request = |auth: Option<&(String, String)>| {
            let mut request = match body {
                None => client.get(url.clone()),
                Some(body) => client
                    .post(url.clone())
                    .header(CONTENT_TYPE, REQUEST)
                    .header(ACCEPT, RESULT)
                    .body(body.to_vec()),
            };
            if let Some((user, password)) = auth {
                request = request.basic_auth(user, Some(password));
            }
            request
                .send()
                .map_err(|err| Failure::other(crate::net::describe_failure(&err)))
        };
        let known = lock(state).auth.clone();
        let response = request(known.as_ref())?;
        if response.status() != StatusCode::UNAUTHORIZED || known.is_some() {
            return checked(response, known.is_some());
        }
        let username = lock(state).username.clone();
        let Some(found) = credentials(url, username.as_deref()) else {
            return Err(Failure::auth(
                "the server asks for credentials (HTTP 401) and none were found: put them in \
                 the URL or in a git credential helper (git config credential.helper)",
            ));
        };
        let response = request(Some(&found))?;
        lock(state).auth = Some(found);
        checked(response, true)
    }
}

fn build_client(options: &TransportOptions, https: bool) -> Result<Client, String> {
    let mut builder = Client::builder()
        .connect_timeout(options.timeout)
        .timeout(options.timeout)
        .user_agent(concat!("git/2.0 (st2-rs/", env!("CARGO_PKG_VERSION"), ")"));
    if let Some(proxy) = git_http_proxy() {
        let proxy = reqwest::Proxy::all(&proxy)
            .map_err(|err| format!("git's http.proxy \"{proxy}\": {err}"))?
            .no_proxy(reqwest::NoProxy::from_env());
        builder = builder.proxy(proxy);
    }
    if https {
        builder = crate::tls::configure(
            builder,
            crate::tls::Trust::system_and(ca_bundle(options.ca_bundle.as_deref()).as_deref()),
        )?;
    }
    builder.build().map_err(|err| err.to_string())
}

/// The bundle git over https trusts besides the system's store: `[content] ca_bundle_path`,
/// else `$GIT_SSL_CAINFO` (git's own variable), else `$SSL_CERT_FILE` (`configured` is the
/// first, or else the last, as `settings` resolves them), else none.
fn ca_bundle(configured: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    use crate::settings::env::{GIT_SSL_CAINFO, SSL_CERT_FILE};
    let variable = |name: &str| {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(std::path::PathBuf::from)
    };
    let from_ssl_cert_file =
        configured.is_some() && configured == variable(SSL_CERT_FILE).as_deref();
    match configured {
        Some(bundle) if !from_ssl_cert_file => Some(bundle.to_path_buf()),
        _ => variable(GIT_SSL_CAINFO).or_else(|| configured.map(std::path::Path::to_path_buf)),
    }
}

/// git's `http.proxy`, when set.
fn git_http_proxy() -> Option<String> {
    let config = git2::Config::open_default().ok()?;
    config
        .get_string("http.proxy")
        .ok()
        .filter(|proxy| !proxy.is_empty())
}

/// The URL's `user:password@`, else what git's credential helpers give for it.
fn credentials(url: &Url, username: Option<&str>) -> Option<(String, String)> {
    let config = git2::Config::open_default().ok()?;
    git2::CredentialHelper::new(url.as_str())
        .config(&config)
        .username(username)
        .execute()
}

/// What a connection knows after its first request.
#[derive(Default)]
struct State {
    /// Where the repository is (the URL without credentials, after a redirect).
    base: Option<Url>,
    /// The URL's user name, for the credential helper.
    username: Option<String>,
    /// The credentials the server accepted (or the URL's, to try first).
    auth: Option<(String, String)>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A failed request: what to say, and whether credentials were refused.
struct Failure {
    auth: bool,
    message: String,
}

impl Failure {
    fn other(message: impl Into<String>) -> Failure {
        Failure {
            auth: false,
            message: message.into(),
        }
    }

    fn auth(message: impl Into<String>) -> Failure {
        Failure {
            auth: true,
            message: message.into(),
        }
    }

    fn into_git(self) -> git2::Error {
        error(ErrorClass::Http, self.auth, self.message)
    }

    fn into_io(self) -> io::Error {
        io::Error::other(self.message)
    }
}

/// The response when its status is success; else why not.
fn checked(response: Response, with_credentials: bool) -> Result<Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = format!(
        "HTTP status {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) && with_credentials {
        return Err(Failure::auth(format!(
            "the server refused the credentials ({text})"
        )));
    }
    Err(Failure::other(text.trim_end().to_string()))
}

/// That `response` has the content type of the smart protocol's `expected` answer.
fn check_type(response: &Response, expected: &str) -> Result<(), Failure> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type.split(';').next().map(str::trim) == Some(expected) {
        return Ok(());
    }
    Err(Failure::other(format!(
        "the server did not answer as a smart git server (Content-Type \"{content_type}\", \
         expected {expected}); dumb HTTP servers are not supported"
    )))
}

/// A read of a response body that failed: "timed out", or its cause.
fn read_failure(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::TimedOut {
        return io::Error::new(io::ErrorKind::TimedOut, "timed out");
    }
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    {
        Some(inner) => io::Error::new(err.kind(), crate::net::describe_failure(inner)),
        None => err,
    }
}

/// The transport of one connection (a ref listing, then the fetch's rounds).
pub(super) struct Subtransport {
    http: Http,
    state: Arc<Mutex<State>>,
}

impl Subtransport {
    /// The repository's URL: where the advertisement was found, else `url` without its
    /// credentials (which are kept to try first).
    fn base(&self, url: &str) -> Result<Url, Failure> {
        let mut state = lock(&self.state);
        if let Some(base) = &state.base {
            return Ok(base.clone());
        }
        let mut base =
            Url::parse(url).map_err(|err| Failure::other(format!("invalid URL: {err}")))?;
        if !base.username().is_empty() {
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let user = decode(base.username());
            if let Some(password) = base.password() {
                state.auth = Some((user.clone(), decode(password)));
            }
            state.username = Some(user);
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        let path = base.path().trim_end_matches('/').to_string();
        base.set_path(&path);
        Ok(base)
    }

    fn advertisement(&self, url: &str) -> Result<Response, Failure> {
        let base = self.base(url)?;
        let mut request = base.clone();
        request.set_path(&format!("{}/info/refs", base.path()));
        request.set_query(Some("service=git-upload-pack"));
        let response = self.http.send(&request, None, &self.state)?;
        check_type(&response, ADVERTISEMENT)?;
        // Redirected: the next requests go where the advertisement was found.
        let mut found = response.url().clone();
        if found != request {
            if let Some(path) = found.path().strip_suffix("/info/refs").map(str::to_string) {
                found.set_path(&path);
                found.set_query(None);
                tracing::debug!("{base} redirected to {found}");
                lock(&self.state).base = Some(found);
                return Ok(response);
            }
        }
        lock(&self.state).base = Some(base);
        Ok(response)
    }
}

impl SmartSubtransport for Subtransport {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        match action {
            Service::UploadPackLs => {
                let response = self.advertisement(url).map_err(Failure::into_git)?;
                Ok(Box::new(Advertisement { response }))
            }
            Service::UploadPack => {
                let base = self.base(url).map_err(Failure::into_git)?;
                let mut post = base.clone();
                post.set_path(&format!("{}/git-upload-pack", base.path()));
                Ok(Box::new(Round {
                    http: self.http.clone(),
                    state: self.state.clone(),
                    url: post,
                    body: Vec::new(),
                    response: None,
                }))
            }
            Service::ReceivePackLs | Service::ReceivePack => Err(push_refused(ErrorClass::Http)),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// The ref advertisement, as the server sent it.
struct Advertisement {
    response: Response,
}

impl Read for Advertisement {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.response.read(buf).map_err(read_failure)
    }
}

impl Write for Advertisement {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("the ref advertisement takes no request"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One round of the negotiation: what libgit2 writes is posted when it starts reading.
struct Round {
    http: Http,
    state: Arc<Mutex<State>>,
    url: Url,
    body: Vec<u8>,
    response: Option<Response>,
}

impl Read for Round {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.response.is_none() {
            let response = self
                .http
                .send(&self.url, Some(&self.body), &self.state)
                .and_then(|response| check_type(&response, RESULT).map(|()| response))
                .map_err(Failure::into_io)?;
            self.body = Vec::new();
            self.response = Some(response);
        }
        let response = self.response.as_mut().expect("sent above");
        response.read(buf).map_err(read_failure)
    }
}

impl Write for Round {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.response.is_some() {
            return Err(io::Error::other("written to after the answer was read"));
        }
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! `twitter.update_status`, natively: a post to X API v2 (`POST /2/tweets`, JSON) or, when
//! asked, the v1.1 form endpoint (`POST /1.1/statuses/update.json`), signed with OAuth 1.0a
//! user context from the pack's registered config; `media` files are uploaded first, and
//! `media` URLs downloaded then uploaded, as the pack's parameter description promises.
//!
//! The Exchange pack's Python code calls the v1.1 endpoint X retired for new apps (spec
//! `x-api.md`). Settings, from the pack config (`configs/twitter.yaml`) first, then the
//! environment:
//!
//! | config key | environment | default |
//! |---|---|---|
//! | `api_url` | `ST2_TWITTER_API_URL` | `https://api.x.com` |
//! | `api_version` | `ST2_TWITTER_API_VERSION` | `2` (or `1.1`) |

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Url;
use serde_json::{json, Map, Value};

use super::NativeAction;
use crate::oauth::{self, Credentials, Nonce};
use crate::runner::http::{self, Sent};
use crate::runner::{RunOutcome, RunRequest};
use crate::settings::env::{ST2_TWITTER_API_URL, ST2_TWITTER_API_VERSION};
use crate::store::ExecutionStatus;

/// The default API base URL.
pub(crate) const DEFAULT_API_URL: &str = "https://api.x.com";

/// The four credentials, in the order the example config lists them.
const CREDENTIAL_KEYS: [&str; 4] = [
    "consumer_key",
    "consumer_secret",
    "access_token",
    "access_token_secret",
];

/// `twitter.update_status`.
pub(crate) struct UpdateStatus;

impl NativeAction for UpdateStatus {
    fn action_ref(&self) -> &'static str {
        "twitter.update_status"
    }

    fn entry_point(&self) -> &'static str {
        "update_status.py"
    }

    fn check(&self, parameters: &Map<String, Value>) -> Result<(), String> {
        for item in media(parameters) {
            if is_url(&item) {
                // Downloaded when the action runs, as the pack's code does.
                Url::parse(&item).map_err(|err| {
                    format!("parameter \"media\": \"{item}\" is not a valid URL: {err}")
                })?;
                continue;
            }
            if !Path::new(&item).is_file() {
                return Err(format!(
                    "parameter \"media\": file \"{item}\" does not exist"
                ));
            }
        }
        Ok(())
    }

    fn run(&self, request: &RunRequest) -> RunOutcome {
        match Api::new(request) {
            Ok(api) => api.post(request),
            Err(reason) => RunOutcome::error(ExecutionStatus::Failed, reason),
        }
    }
}

/// Whether a `media` item is a URL to download rather than a local file.
fn is_url(item: &str) -> bool {
    item.starts_with("http://") || item.starts_with("https://")
}

/// The most a `media` URL may answer with (X takes at most 15 MB for a GIF, 5 MB for an
/// image through this upload; videos need chunked uploads, which the pack does not make).
const MAX_MEDIA_BYTES: u64 = 64 * 1024 * 1024;

fn media(parameters: &Map<String, Value>) -> Vec<String> {
    match parameters.get("media") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Which endpoint family to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V2,
    V11,
}

/// What one run needs to talk to X.
struct Api {
    base: String,
    version: Version,
    credentials: Credentials,
    client: Client,
    timeout: Duration,
}

impl Api {
    fn new(request: &RunRequest) -> Result<Api, String> {
        let config_file = request.settings.config_path(request.pack);
        let config = request.config;
        let setting = |key: &str, var: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| std::env::var(var).ok())
                .filter(|value| !value.trim().is_empty())
        };
        let mut values = Vec::new();
        for key in CREDENTIAL_KEYS {
            let value = config.get(key).and_then(Value::as_str).unwrap_or_default();
            if value.trim().is_empty() {
                return Err(format!(
                    "the twitter pack config has no {key}: set the four keys ({}) in {} (copy \
                     it from the pack's twitter.yaml.example), then run `st2ctl reload \
                     --register-configs`",
                    CREDENTIAL_KEYS.join(", "),
                    config_file.display()
                ));
            }
            if value.starts_with("your ") {
                return Err(format!(
                    "{key} in {} still holds the example value: put your own keys from X's \
                     developer portal (Keys and tokens), then run `st2ctl reload \
                     --register-configs`",
                    config_file.display()
                ));
            }
            values.push(value.to_string());
        }
        let credentials = Credentials {
            consumer_key: values[0].clone(),
            consumer_secret: values[1].clone(),
            token: values[2].clone(),
            token_secret: values[3].clone(),
        };
        let base =
            setting("api_url", ST2_TWITTER_API_URL).unwrap_or_else(|| DEFAULT_API_URL.into());
        let base = base.trim_end_matches('/').to_string();
        let parsed = Url::parse(&base).map_err(|err| {
            format!("the twitter API URL \"{base}\" (api_url or {ST2_TWITTER_API_URL}) is invalid: {err}")
        })?;
        let version = match setting("api_version", ST2_TWITTER_API_VERSION).as_deref() {
            None | Some("2") => Version::V2,
            Some("1.1") => Version::V11,
            Some(other) => {
                return Err(format!(
                    "api_version \"{other}\" (in {} or {ST2_TWITTER_API_VERSION}) is not 2 or 1.1",
                    config_file.display()
                ))
            }
        };
        let timeout = request.settings.network_timeout;
        let builder = Client::builder()
            .timeout(timeout)
            .user_agent(concat!("st2-rs/", env!("CARGO_PKG_VERSION")));
        // A plain-http API (a local gateway or test server) needs no CA bundle.
        let client = http::build_client(builder, parsed.scheme() == "https")
            .map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Api {
            base,
            version,
            credentials,
            client,
            timeout,
        })
    }

    fn post(&self, request: &RunRequest) -> RunOutcome {
        let status = request
            .parameters
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut media_ids = Vec::new();
        for file in media(request.parameters) {
            match self.upload(&file, request) {
                Ok(id) => media_ids.push(id),
                Err(outcome) => return outcome,
            }
        }
        let (url, builder) = match self.version {
            Version::V2 => {
                let url = self.url("/2/tweets");
                let mut body = json!({ "text": status });
                if !media_ids.is_empty() {
                    body["media"] = json!({ "media_ids": media_ids });
                }
                let auth =
                    oauth::authorization("POST", &url, &[], &self.credentials, &Nonce::fresh());
                let builder = self
                    .client
                    .post(url.clone())
                    .header("Authorization", auth)
                    .header("Content-Type", "application/json")
                    .body(body.to_string());
                (url, builder)
            }
            Version::V11 => {
                let url = self.url("/1.1/statuses/update.json");
                let mut form = vec![("status".to_string(), status.to_string())];
                if !media_ids.is_empty() {
                    form.push(("media_ids".into(), media_ids.join(",")));
                }
                let auth =
                    oauth::authorization("POST", &url, &form, &self.credentials, &Nonce::fresh());
                let builder = self
                    .client
                    .post(url.clone())
                    .header("Authorization", auth)
                    .form(&form);
                (url, builder)
            }
        };
        match self.exchange(builder, &url, request) {
            Ok((code, body)) => {
                let post = match self.version {
                    Version::V2 => body.get("data").cloned().unwrap_or(Value::Null),
                    Version::V11 => body.clone(),
                };
                let id = post
                    .get("id_str")
                    .or_else(|| post.get("id"))
                    .map(|id| match id {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default();
                RunOutcome {
                    outcome: ExecutionStatus::Succeeded,
                    result: json!({
                        "id": id,
                        "text": post.get("text").cloned().unwrap_or(Value::Null),
                        "url": format!("https://x.com/i/web/status/{id}"),
                        "status_code": code,
                        "api_version": if self.version == Version::V2 { "2" } else { "1.1" },
                    }),
                }
            }
            Err(outcome) => outcome,
        }
    }

    fn url(&self, path: &str) -> Url {
        // The base was checked in `new`, and paths are ours.
        Url::parse(&format!("{}{path}", self.base)).expect("a valid API URL")
    }

    /// Download a `media` URL, as the pack's code does before uploading: its file name and
    /// bytes.
    fn download(&self, item: &str, request: &RunRequest) -> Result<(String, Vec<u8>), RunOutcome> {
        let failed = |reason: String| RunOutcome::error(ExecutionStatus::Failed, reason);
        let url = Url::parse(item)
            .map_err(|err| failed(format!("media URL \"{item}\" is not valid: {err}")))?;
        let builder = Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("st2-rs/", env!("CARGO_PKG_VERSION")));
        let client = http::build_client(builder, url.scheme() == "https")
            .map_err(|err| failed(format!("cannot set up the HTTP client: {err}")))?;
        let shown = url.as_str();
        let (status, bytes) = match http::send(
            client.get(url.clone()),
            read_media,
            request.cancel,
            self.timeout,
        ) {
            Sent::Done(Ok(Ok(answer))) => answer,
            Sent::Done(Ok(Err(reason))) => {
                return Err(failed(format!("cannot download media {shown}: {reason}")))
            }
            Sent::Done(Err(err)) if err.is_timeout() => {
                return Err(failed(http::timeout_message(shown, self.timeout)))
            }
            Sent::Done(Err(err)) => {
                return Err(failed(format!(
                    "cannot download media: {}",
                    http::describe_failure(&err, shown)
                )))
            }
            Sent::Canceled => {
                return Err(RunOutcome::error(
                    ExecutionStatus::Canceled,
                    format!("canceled: {shown}"),
                ))
            }
            Sent::TimedOut => return Err(failed(http::timeout_message(shown, self.timeout))),
        };
        if !(200..300).contains(&status) {
            return Err(failed(format!(
                "cannot download media {shown}: the server answered {status}"
            )));
        }
        let name = url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .filter(|name| !name.is_empty())
            .unwrap_or("media")
            .to_string();
        Ok((name, bytes))
    }

    /// Upload one media file (or URL, downloaded first); its `media_id` string.
    fn upload(&self, file: &str, request: &RunRequest) -> Result<String, RunOutcome> {
        let (name, bytes) = if is_url(file) {
            self.download(file, request)?
        } else {
            let bytes = std::fs::read(file).map_err(|err| {
                RunOutcome::error(
                    ExecutionStatus::Failed,
                    format!(
                        "cannot read media file {file}: {}",
                        crate::settings::io_reason(&err)
                    ),
                )
            })?;
            let name = Path::new(file)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "media".into());
            (name, bytes)
        };
        let url = match (self.version, self.base.as_str()) {
            (Version::V11, DEFAULT_API_URL) => {
                Url::parse("https://upload.twitter.com/1.1/media/upload.json").expect("valid")
            }
            (Version::V11, _) => self.url("/1.1/media/upload.json"),
            (Version::V2, _) => self.url("/2/media/upload"),
        };
        let auth = oauth::authorization("POST", &url, &[], &self.credentials, &Nonce::fresh());
        let part = reqwest::blocking::multipart::Part::bytes(bytes).file_name(name);
        let builder = self
            .client
            .post(url.clone())
            .header("Authorization", auth)
            .multipart(reqwest::blocking::multipart::Form::new().part("media", part));
        let (_, body) = self.exchange(builder, &url, request)?;
        let id = body
            .get("media_id_string")
            .or_else(|| body.pointer("/data/id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        id.ok_or_else(|| {
            RunOutcome::error(
                ExecutionStatus::Failed,
                format!("the media upload to {url} answered without a media id: {body}"),
            )
        })
    }

    /// Send, and sort the answer: a success's status code and JSON body, or a failed outcome
    /// with one line saying why.
    fn exchange(
        &self,
        builder: RequestBuilder,
        url: &Url,
        request: &RunRequest,
    ) -> Result<(u16, Value), RunOutcome> {
        let answer = match http::send(builder, read, request.cancel, self.timeout) {
            Sent::Done(Ok(answer)) => answer,
            Sent::Done(Err(err)) if err.is_timeout() => {
                return Err(RunOutcome::error(
                    ExecutionStatus::Failed,
                    http::timeout_message(url.as_str(), self.timeout),
                ))
            }
            Sent::Done(Err(err)) => {
                return Err(RunOutcome::error(
                    ExecutionStatus::Failed,
                    http::describe_failure(&err, url.as_str()),
                ))
            }
            Sent::Canceled => {
                return Err(RunOutcome::error(
                    ExecutionStatus::Canceled,
                    format!("canceled: {url}"),
                ))
            }
            Sent::TimedOut => {
                return Err(RunOutcome::error(
                    ExecutionStatus::Failed,
                    http::timeout_message(url.as_str(), self.timeout),
                ))
            }
        };
        if (200..300).contains(&answer.status) {
            return Ok((answer.status, answer.body));
        }
        let reason = reason(&answer, &request.settings.config_path(request.pack));
        Err(RunOutcome {
            outcome: ExecutionStatus::Failed,
            result: json!({
                "error": reason,
                "status_code": answer.status,
                "body": answer.body,
            }),
        })
    }
}

/// What the API answered.
struct Answer {
    status: u16,
    reset: Option<i64>,
    body: Value,
}

fn read(response: Response) -> reqwest::Result<Answer> {
    let status = response.status().as_u16();
    let reset = response
        .headers()
        .get("x-rate-limit-reset")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    let text = response.text()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer {
        status,
        reset,
        body,
    })
}

/// A downloaded media file: the status and at most [`MAX_MEDIA_BYTES`] of body, or why the
/// body could not be read.
fn read_media(response: Response) -> reqwest::Result<Result<(u16, Vec<u8>), String>> {
    use std::io::Read;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    let read = response
        .take(MAX_MEDIA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| err.to_string());
    Ok(read.and_then(|_| {
        if bytes.len() as u64 > MAX_MEDIA_BYTES {
            Err(format!(
                "it is larger than {} MiB",
                MAX_MEDIA_BYTES / 1024 / 1024
            ))
        } else {
            Ok((status, bytes))
        }
    }))
}

/// One line for an error answer, with the server's own words.
fn reason(answer: &Answer, config_file: &Path) -> String {
    let detail = answer
        .body
        .get("detail")
        .or_else(|| answer.body.get("title"))
        .or_else(|| answer.body.pointer("/errors/0/message"))
        .and_then(Value::as_str)
        .map(|text| format!(": {text}"))
        .unwrap_or_default();
    match answer.status {
        401 => format!(
            "X rejected the credentials (401 Unauthorized){detail}; check the four keys in {}",
            config_file.display()
        ),
        403 => format!("X refused the post (403 Forbidden){detail}"),
        429 => {
            let when = answer
                .reset
                .and_then(|reset| {
                    jiff::Timestamp::from_second(reset)
                        .ok()
                        .map(|ts| (reset, ts))
                })
                .map(|(reset, ts)| {
                    let wait = reset - jiff::Timestamp::now().as_second();
                    format!("; retry after {ts} (in {} s)", wait.max(0))
                })
                .unwrap_or_else(|| "; retry later".into());
            format!("rate limited by X (429 Too Many Requests){detail}{when}")
        }
        code if code >= 500 => {
            format!("X had a server error ({code}){detail}; retry later")
        }
        code => format!("X answered {code}{detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_are_local_files_or_urls() {
        let check = |media: Value| {
            let mut parameters = Map::new();
            parameters.insert("media".into(), media);
            UpdateStatus.check(&parameters)
        };
        assert!(check(json!([])).is_ok());
        assert!(check(json!(["/nonexistent/cat.png"]))
            .unwrap_err()
            .contains("file \"/nonexistent/cat.png\" does not exist"));
        assert!(check(json!(["https://imgur.com/a.png"])).is_ok());
        assert!(check(json!(["http://"]))
            .unwrap_err()
            .contains("is not a valid URL"));
        let file = tempfile::NamedTempFile::new().unwrap();
        assert!(check(json!([file.path()])).is_ok());
    }

    #[test]
    fn error_answers_read_as_one_line() {
        let answer = |status, body: Value, reset| Answer {
            status,
            reset,
            body,
        };
        let config = Path::new("/opt/stackstorm/configs/twitter.yaml");
        assert_eq!(
            reason(&answer(401, json!({"title": "Unauthorized", "detail": "Unauthorized"}), None), config),
            "X rejected the credentials (401 Unauthorized): Unauthorized; check the four keys in /opt/stackstorm/configs/twitter.yaml"
        );
        assert_eq!(
            reason(
                &answer(
                    403,
                    json!({"errors": [{"code": 187, "message": "Status is a duplicate."}]}),
                    None
                ),
                config
            ),
            "X refused the post (403 Forbidden): Status is a duplicate."
        );
        let reset = jiff::Timestamp::now().as_second() + 60;
        let text = reason(
            &answer(429, json!({"title": "Too Many Requests"}), Some(reset)),
            config,
        );
        assert!(
            text.starts_with(
                "rate limited by X (429 Too Many Requests): Too Many Requests; retry after "
            ),
            "{text}"
        );
        assert!(text.ends_with(" s)"), "{text}");
        assert_eq!(
            reason(&answer(503, Value::String("down".into()), None), config),
            "X had a server error (503); retry later"
        );
    }
}

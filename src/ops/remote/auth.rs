//! Tokens: `st2 auth`, `st2 login`, `st2 whoami`, and the token cache st2client keeps in
//! `~/.st2/token-<user>` (`st2client/base.py`, `commands/auth.py`;
//! `../shared/spec/remote-api.md` §1.5, §1.6).
//!
//! The cache file is st2client's: `{"token": "...", "expire_timestamp": <UTC epoch seconds>}`,
//! valid while `expire_timestamp - 15` is in the future, so that each client reads the
//! other's. Where we differ on purpose: it is written atomically (a temporary file renamed
//! over it) with mode 0600, and `~/.st2` is created 0700 when missing (st2client writes in
//! place without truncating, 0660, and makes `~/.st2` 0o2770); a corrupt or expired cache is
//! replaced by a fresh login with a warning (st2client stops with "Please delete this file").

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Answer, ApiError, Client, Root};
use crate::ops::auth::{LoginOutcome, TokenRequest, TokenView, WhoAmI};
use crate::settings::cli_config;

/// A cached token is used until this many seconds before it expires (st2client's
/// `TOKEN_EXPIRATION_GRACE_PERIOD_SECONDS`).
const GRACE_SECONDS: i64 = 15;

/// The token cache of one user.
pub(crate) struct TokenCache {
    path: PathBuf,
    dir: PathBuf,
}

impl TokenCache {
    /// `<dir>/token-<user>`.
    pub(crate) fn new(dir: &Path, user: &str) -> TokenCache {
        TokenCache {
            path: dir.join(format!("token-{user}")),
            dir: dir.to_path_buf(),
        }
    }

    /// The cached token when there is one still valid; `Err` (a warning's text) when the file
    /// cannot be read or makes no sense. A file others may read or write is used, with a
    /// warning (`warn`), as st2client does.
    pub(crate) fn read(&self, warn: &dyn Fn(&str)) -> Result<Option<String>, String> {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(&self.path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o006 != 0 {
                warn(&format!(
                    "Permissions ({mode:#o}) for cached token file \"{}\" are too permissive. \
                     Please restrict the permissions and make sure only your own user can \
                     read from or write to the file.",
                    self.path.display()
                ));
            }
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(format!(
                    "cannot read the cached token {}: {}",
                    self.path.display(),
                    crate::settings::io_reason(&err)
                ))
            }
        };
        let parsed: Option<(String, i64)> =
            serde_json::from_str::<Value>(&text).ok().and_then(|value| {
                Some((
                    value.get("token")?.as_str()?.to_string(),
                    value.get("expire_timestamp")?.as_i64()?,
                ))
            });
        let Some((token, expire)) = parsed else {
            return Err(format!(
                "the cached token {} is corrupt",
                self.path.display()
            ));
        };
        if expire - GRACE_SECONDS < jiff::Timestamp::now().as_second() {
            tracing::debug!("the cached token {} has expired", self.path.display());
            return Ok(None);
        }
        tracing::debug!("using the cached token {}", self.path.display());
        Ok(Some(token))
    }

    /// Cache `token`; `Err` is a warning's text (the login itself worked).
    pub(crate) fn write(&self, token: &TokenView) -> Result<(), String> {
        let expire = parse_expiry(&token.expiry).ok_or_else(|| {
            format!(
                "the token's expiry {:?} is not a time; it was not cached",
                token.expiry
            )
        })?;
        let why = |err: std::io::Error| {
            format!(
                "cannot cache the token in {}: {}; the next command logs in again",
                self.path.display(),
                crate::settings::io_reason(&err)
            )
        };
        if !self.dir.is_dir() {
            create_private_dir(&self.dir).map_err(why)?;
        }
        // json.dumps's separators, so that the file reads as st2client writes it.
        let text = format!(
            "{{\"token\": {}, \"expire_timestamp\": {expire}}}",
            Value::String(token.token.clone())
        );
        crate::fs::write_atomic(&self.path, text.as_bytes()).map_err(why)?;
        tracing::debug!("token cached in {}", self.path.display());
        Ok(())
    }
}

/// `mkdir -p` with mode 0700 for what it creates.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// An ISO 8601 expiry (`2099-01-01T00:00:00.000000Z`, or with an offset) as UTC epoch seconds.
fn parse_expiry(expiry: &str) -> Option<i64> {
    if let Ok(timestamp) = expiry.parse::<jiff::Timestamp>() {
        return Some(timestamp.as_second());
    }
    // Without a zone, st2 means UTC.
    let civil: jiff::civil::DateTime = expiry.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp().as_second())
}

/// The token of a `POST /tokens` answer.
pub(crate) fn token_view(answer: &Answer) -> anyhow::Result<TokenView> {
    let object = answer.object()?;
    let field = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                super::client::unexpected(&answer.request, &format!("no \"{name}\" string"))
            })
    };
    Ok(TokenView {
        user: field("user")?,
        token: field("token")?,
        expiry: field("expiry")?,
    })
}

/// `st2 auth`: `POST /tokens`.
pub(super) fn create_token(client: &Client, request: &TokenRequest) -> anyhow::Result<TokenView> {
    let body = match request.ttl {
        Some(ttl) => json!({ "ttl": ttl }),
        None => json!({}),
    };
    let answer = client
        .post_token(&request.username, &request.password, &body)
        .with_context(|| format!("cannot log in as {}", request.username))?;
    token_view(&answer)
}

/// `st2 login`: a token, cached, and the user written into the CLI config.
pub(super) fn login(
    client: &Client,
    request: &TokenRequest,
    write_password: bool,
) -> anyhow::Result<LoginOutcome> {
    let token = create_token(client, request)?;
    let mut warnings = Vec::new();
    if let Err(problem) = TokenCache::new(&client.settings.token_dir, &token.user).write(&token) {
        warnings.push(problem);
    }
    let path = client.settings.login_config_file.clone();
    let before = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => anyhow::bail!(
            "logged in, but cannot read the CLI config {}: {}",
            path.display(),
            crate::settings::io_reason(&err)
        ),
    };
    let after = cli_config::with_login(
        &before,
        &request.username,
        write_password.then_some(request.password.as_str()),
    );
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if !dir.is_dir() {
            create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    crate::fs::write_atomic(&path, after.as_bytes()).with_context(|| {
        format!(
            "logged in, but cannot write the CLI config {}",
            path.display()
        )
    })?;
    Ok(LoginOutcome {
        token,
        config_file: path,
        warnings,
    })
}

/// `st2 whoami`: `GET /user`.
pub(super) fn whoami(client: &Client) -> anyhow::Result<WhoAmI> {
    let answer = client
        .call(Method::GET, Root::Api, "/user", &[], None)
        .map_err(|err| match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 401 => err.context("Not authenticated"),
            _ => err.context("Unable to retrieve currently logged-in user"),
        })?;
    let object = answer.object()?;
    let text = |pointer: &str| {
        Value::Object(object.clone())
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let rbac = object.get("rbac");
    Ok(WhoAmI {
        username: text("/username")
            .ok_or_else(|| super::client::unexpected(&answer.request, "no \"username\""))?,
        method: text("/authentication/method").unwrap_or_default(),
        token_expire: text("/authentication/token_expire"),
        rbac_enabled: rbac
            .and_then(|rbac| rbac.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        roles: rbac
            .and_then(|rbac| rbac.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .map(|role| {
                        role.as_str()
                            .map_or_else(|| role.to_string(), str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn token(expiry: &str) -> TokenView {
        TokenView {
            user: "st2admin".into(),
            token: "0123456789abcdef0123456789abcdef".into(),
            expiry: expiry.into(),
        }
    }

    #[test]
    fn the_cache_file_is_st2clients() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".st2");
        let cache = TokenCache::new(&dir, "st2admin");
        cache.write(&token("2099-01-01T00:00:00.000000Z")).unwrap();
        let path = dir.join("token-st2admin");
        let quiet = |message: &str| panic!("no warning expected: {message}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"token": "0123456789abcdef0123456789abcdef", "expire_timestamp": 4070908800}"#
        );
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            cache.read(&quiet).unwrap().as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn expired_within_the_grace_period_or_corrupt_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path(), "u");
        let quiet = |message: &str| panic!("no warning expected: {message}");
        assert_eq!(cache.read(&quiet), Ok(None));
        let soon = jiff::Timestamp::now().as_second() + 10;
        std::fs::write(
            dir.path().join("token-u"),
            format!(r#"{{"token": "t", "expire_timestamp": {soon}}}"#),
        )
        .unwrap();
        let ignore = |_: &str| {};
        assert_eq!(cache.read(&ignore), Ok(None));
        std::fs::write(dir.path().join("token-u"), "").unwrap();
        assert!(cache.read(&ignore).unwrap_err().contains("corrupt"));
    }

    #[test]
    fn expiries_in_st2s_formats() {
        assert_eq!(
            parse_expiry("2099-01-01T00:00:00.000000Z"),
            Some(4070908800)
        );
        assert_eq!(parse_expiry("2099-01-01T00:00:00+00:00"), Some(4070908800));
        assert_eq!(parse_expiry("2099-01-01T00:00:00.000000"), Some(4070908800));
        assert_eq!(parse_expiry("soon"), None);
    }
}

//! Authentication operations: `st2 auth`, `st2 login`, `st2 whoami`
//! (`../shared/spec/remote-api.md` §1.6). They only mean something against a cluster
//! (`POST /tokens` of its auth API, `GET /user` of its API); the local backend refuses them.

use std::path::PathBuf;

/// `st2 auth` / `st2 login`'s request for a token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRequest {
    /// The user.
    pub(crate) username: String,
    /// The password.
    pub(crate) password: String,
    /// Seconds the token should live (the cluster's default when `None`).
    pub(crate) ttl: Option<u64>,
}

/// A token the cluster issued.
#[derive(Debug, Clone)]
pub(crate) struct TokenView {
    /// Whose it is.
    pub(crate) user: String,
    /// The token itself.
    pub(crate) token: String,
    /// When it expires (ISO 8601, as the cluster wrote it).
    pub(crate) expiry: String,
}

/// What `st2 login` did.
#[derive(Debug, Clone)]
pub(crate) struct LoginOutcome {
    /// The token, now cached.
    pub(crate) token: TokenView,
    /// The CLI config that now names the user.
    pub(crate) config_file: PathBuf,
    /// Problems that did not stop the login (the token could not be cached).
    pub(crate) warnings: Vec<String>,
}

/// Who the cluster says the caller is (`GET /user`).
#[derive(Debug, Clone)]
pub(crate) struct WhoAmI {
    /// `username`.
    pub(crate) username: String,
    /// `authentication.method`: `authentication token` or `API key`.
    pub(crate) method: String,
    /// `authentication.token_expire`, for a token.
    pub(crate) token_expire: Option<String>,
    /// `rbac.enabled`.
    pub(crate) rbac_enabled: bool,
    /// `rbac.roles`.
    pub(crate) roles: Vec<String>,
}

/// Authentication operations.
pub(crate) trait AuthOps {
    /// A new token for a user and password (`st2 auth`); nothing is cached.
    fn create_token(&self, request: &TokenRequest) -> anyhow::Result<TokenView>;

    /// A new token, cached as st2client caches it, and the user written into the CLI config
    /// (with the password when `write_password`).
    fn login(&self, request: &TokenRequest, write_password: bool) -> anyhow::Result<LoginOutcome>;

    /// Who the credential in use belongs to.
    fn whoami(&self) -> anyhow::Result<WhoAmI>;
}

//! What `st2` needs to talk to a StackStorm cluster, and whether it should: the endpoints, the
//! CA to verify them with, the one credential, the timeouts, and the mode switch
//! (`../shared/spec/remote-api.md` §1, §4). Read once, before any command runs, from the
//! command line, the environment and the CLI config file (`~/.st2/config`, read by
//! [`cli_config`](super::cli_config)), each value with the [`Source`] it came from, so that
//! `--debug` can say where.
//!
//! Precedence, for every setting: flag, then environment variable, then the CLI config, then
//! the default (**[fix]**: st2client 3.9.0 lets the config file beat the environment, the
//! opposite of its documentation). An explicit api/auth/stream URL from any source beats the
//! one derived from the base URL.
//!
//! The mode (**[ours]**): remote when any endpoint or any credential is set anywhere (a
//! cluster node's config often holds only `[credentials]`, and st2client then talks to
//! 127.0.0.1), local otherwise; `--mode` / `ST2_MODE` force one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cli_config::CliConfig;
use super::env;

/// How a secret is shown (`redact::MASK`, which sits above this layer).
const MASK: &str = "********";

/// Where st2client's endpoints are when nothing says otherwise (`st2client/client.py`).
pub(crate) const DEFAULT_BASE_URL: &str = "http://127.0.0.1";
/// `DEFAULT_API_PORT`.
const API_PORT: u16 = 9101;
/// `DEFAULT_AUTH_PORT`.
const AUTH_PORT: u16 = 9100;
/// `DEFAULT_STREAM_PORT`.
const STREAM_PORT: u16 = 9102;
/// Seconds a request may take by default (**[ours]**: st2client has no timeout at all,
/// st2#4893).
const DEFAULT_HTTP_TIMEOUT: f64 = 60.0;

/// The CLI options that feed these settings (from `cli::GlobalArgs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientArgs {
    /// `--config-file`: read as the CLI config too.
    pub config_file: Option<PathBuf>,
    /// `--skip-config`.
    pub skip_config: bool,
    /// `--url`.
    pub url: Option<String>,
    /// `--api-url`.
    pub api_url: Option<String>,
    /// `--auth-url`.
    pub auth_url: Option<String>,
    /// `--stream-url`.
    pub stream_url: Option<String>,
    /// `--api-version`.
    pub api_version: Option<String>,
    /// `--cacert`.
    pub cacert: Option<String>,
    /// `--basic-auth USER:PASSWORD`.
    pub basic_auth: Option<String>,
    /// `-t/--token`.
    pub token: Option<String>,
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--mode`.
    pub mode: Option<String>,
    /// `--http-timeout`.
    pub http_timeout: Option<String>,
    /// `--debug`.
    pub debug: bool,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A command-line option (`--api-url`).
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// An option of the CLI config file.
    File {
        /// The file.
        path: PathBuf,
        /// `[section] key`.
        option: &'static str,
    },
    /// Derived from the base URL, which came from this source.
    Derived(Box<Source>),
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(name) => write!(f, "{name}"),
            Source::File { path, option } => write!(f, "{option} in {}", path.display()),
            Source::Derived(base) => write!(f, "the base URL ({base})"),
            Source::Default => write!(f, "the default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// Local or remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The embedded backend: this machine's StackStorm layout and store.
    Local,
    /// A StackStorm cluster over its REST API.
    Remote,
}

/// The one credential sent on every request (**[fix]**: st2client may send a token and a key
/// together, or drop `-t` on some commands).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `X-Auth-Token`.
    Token(String),
    /// `St2-Api-Key`.
    ApiKey(String),
    /// A token got with these credentials (`POST /tokens`), cached in `~/.st2/token-USER`.
    Login {
        /// `[credentials] username`.
        username: String,
        /// `[credentials] password`.
        password: Option<String>,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Token(_) => write!(f, "Token(********)"),
            Credential::ApiKey(_) => write!(f, "ApiKey(********)"),
            Credential::Login { username, password } => write!(
                f,
                "Login {{ username: {username:?}, password: {} }}",
                if password.is_some() {
                    "********"
                } else {
                    "None"
                }
            ),
        }
    }
}

impl Credential {
    /// What it is, without its secret.
    pub(crate) fn describe(&self) -> String {
        match self {
            Credential::Token(_) => "auth token ********".into(),
            Credential::ApiKey(_) => "API key ********".into(),
            Credential::Login { username, .. } => format!("login as {username}"),
        }
    }
}

/// How HTTPS certificates are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Against the system's roots (and `SSL_CERT_FILE`, which OpenSSL reads).
    System,
    /// Against this CA bundle.
    CaFile(PathBuf),
    /// Not at all (`cacert = false`): said once per run.
    Off,
}

/// HTTP Basic credentials for a proxy in front of the API (`--basic-auth`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BasicAuth {
    /// The user.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasicAuth({}:********)", self.user)
    }
}

/// One option of the CLI config as `--print-config` shows it: the value it resolved to
/// (from a flag, the environment, the file or the default) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigOption {
    /// `general`, `cli`, `credentials`, `api`, `auth` or `stream`.
    pub section: &'static str,
    /// The option.
    pub key: &'static str,
    /// As st2client prints it (`None`, `True`, `False`, the text), secrets as `********`.
    pub shown: String,
    /// Where the value came from.
    pub source: Source,
}

/// A setting that cannot be used: one line naming it and its source (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ClientSettingsError(pub String);

/// Everything remote mode needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    /// Local or remote, and why.
    pub mode: Mode,
    /// Why that mode.
    pub mode_reason: String,
    /// Whether `--mode`/`ST2_MODE` chose it (rather than what is set).
    pub mode_forced: bool,
    /// The CLI config that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Why the `--config-file` could not be read as the CLI config (an error in remote mode;
    /// in local mode st2.conf's reader reports it).
    pub config_error: Option<String>,
    /// Where `st2 login` writes (the config file chosen, even when it does not exist yet).
    pub login_config_file: PathBuf,
    /// `~/.st2`: where tokens are cached.
    pub token_dir: PathBuf,
    /// The base URL the others derive from when they are not given.
    pub base_url: Sourced<String>,
    /// The API root (`.../api/v1` or `http://h:9101/v1`), no trailing `/`.
    pub api_url: Sourced<String>,
    /// The auth root.
    pub auth_url: Sourced<String>,
    /// The stream root.
    pub stream_url: Sourced<String>,
    /// Certificate checks.
    pub verify: Sourced<Verify>,
    /// The one credential.
    pub credential: Option<Sourced<Credential>>,
    /// Basic auth to a proxy, on every API request.
    pub basic_auth: Option<Sourced<BasicAuth>>,
    /// `[cli] cache_token`: whether a cached token is read.
    pub cache_token: bool,
    /// Each request's timeout; a stream's longest silence.
    pub http_timeout: Sourced<Duration>,
    /// `--debug` or `[cli] debug`: debug logs on stderr.
    pub debug: bool,
    /// `[general] silence_ssl_warnings`: no warning when `cacert = false` turns certificate
    /// checks off.
    pub silence_ssl_warnings: bool,
    /// `[cli] timezone` (`UTC` by default): the zone times are shown in.
    pub timezone: Sourced<jiff::tz::TimeZone>,
    /// Every option of the CLI config, resolved, in st2client's order (`--print-config`).
    pub options: Vec<ConfigOption>,
}

/// Reads the environment (a parameter, so that tests give their own).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, empty values as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl ClientSettings {
    /// Resolve the settings. `home` is the user's home (`~/.st2` is under it).
    pub(crate) fn load(
        args: &ClientArgs,
        env: EnvLookup<'_>,
        home: &Path,
    ) -> Result<ClientSettings, ClientSettingsError> {
        let token_dir = home.join(".st2");
        let (login_config_file, explicit) = match (&args.config_file, env(env::ST2_CONFIG_FILE)) {
            (Some(path), _) => (path.clone(), Some(Source::Flag("--config-file"))),
            (None, Some(path)) => (PathBuf::from(path), Some(Source::Env(env::ST2_CONFIG_FILE))),
            (None, None) => (token_dir.join("config"), None),
        };
        let skip_config = args.skip_config
            || env(env::ST2_CLI_SKIP_CONFIG).is_some_and(|value| value.trim() != "0");
        let read = if skip_config {
            Ok((CliConfig::default(), None))
        } else {
            match std::fs::read_to_string(&login_config_file) {
                Ok(text) => match CliConfig::parse(&text) {
                    Ok(config) => Ok((config, Some(login_config_file.clone()))),
                    Err(err) => Err(ClientSettingsError(format!(
                        "invalid CLI config file {}: {err}",
                        login_config_file.display()
                    ))),
                },
                Err(err) if err.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                    Ok((CliConfig::default(), None))
                }
                Err(err) => Err(ClientSettingsError(format!(
                    "cannot read the CLI config file {} (from {}): {}",
                    login_config_file.display(),
                    explicit.clone().unwrap_or(Source::Default),
                    super::io_reason(&err)
                ))),
            }
        };
        // `--config-file` names st2.conf too: in local mode its reader says what is wrong
        // with it, so the CLI config's complaint waits for the mode.
        let (config, config_file, config_error) = match read {
            Ok((config, file)) => (config, file, None),
            Err(err) if args.config_file.is_some() => (CliConfig::default(), None, Some(err.0)),
            Err(err) => return Err(err),
        };
        let resolver = Resolver {
            env,
            config: &config,
            file: config_file.as_deref(),
        };

        let api_version = resolver
            .pick(
                args.api_version.as_deref(),
                ("--api-version", env::ST2_API_VERSION),
                ("general", "api_version", "[general] api_version"),
            )
            .unwrap_or(Sourced {
                value: "v1".into(),
                source: Source::Default,
            });
        let base = resolver
            .pick(
                args.url.as_deref(),
                ("--url", env::ST2_BASE_URL),
                ("general", "base_url", "[general] base_url"),
            )
            .map(|base| -> Result<_, ClientSettingsError> {
                Ok(Sourced {
                    value: base_url(&base.value, &base.source)?,
                    source: base.source,
                })
            })
            .transpose()?
            .unwrap_or(Sourced {
                value: DEFAULT_BASE_URL.into(),
                source: Source::Default,
            });
        let endpoint = |given: Option<&str>,
                        names: (&'static str, &'static str),
                        option: (&'static str, &'static str, &'static str),
                        derived: String|
         -> Result<(Sourced<String>, bool), ClientSettingsError> {
            match resolver.pick(given, names, option) {
                Some(url) => Ok((
                    Sourced {
                        value: endpoint_url(&url.value, &url.source)?,
                        source: url.source,
                    },
                    true,
                )),
                None => Ok((
                    Sourced {
                        value: derived,
                        source: Source::Derived(Box::new(base.source.clone())),
                    },
                    false,
                )),
            }
        };
        let version = api_version.value.trim_matches('/');
        let (api_url, api_set) = endpoint(
            args.api_url.as_deref(),
            ("--api-url", env::ST2_API_URL),
            ("api", "url", "[api] url"),
            format!("{}:{API_PORT}/{version}", base.value),
        )?;
        let (auth_url, auth_set) = endpoint(
            args.auth_url.as_deref(),
            ("--auth-url", env::ST2_AUTH_URL),
            ("auth", "url", "[auth] url"),
            format!("{}:{AUTH_PORT}", base.value),
        )?;
        let (stream_url, stream_set) = endpoint(
            args.stream_url.as_deref(),
            ("--stream-url", env::ST2_STREAM_URL),
            ("stream", "url", "[stream] url"),
            format!("{}:{STREAM_PORT}/{version}", base.value),
        )?;

        let cacert = resolver.pick(
            args.cacert.as_deref(),
            ("--cacert", env::ST2_CACERT),
            ("general", "cacert", "[general] cacert"),
        );
        let verify = match cacert.clone() {
            None => Sourced {
                value: Verify::System,
                source: Source::Default,
            },
            Some(Sourced { value, source }) => {
                let verify = match value.to_lowercase().as_str() {
                    "true" | "1" | "t" | "y" | "yes" => Verify::System,
                    "false" | "0" | "f" | "no" => Verify::Off,
                    _ => {
                        let path = PathBuf::from(&value);
                        if !path.is_file() {
                            return Err(ClientSettingsError(format!(
                                "CA cert file \"{value}\" (from {source}) does not exist"
                            )));
                        }
                        Verify::CaFile(path)
                    }
                };
                Sourced {
                    value: verify,
                    source,
                }
            }
        };

        let credential = resolver.credential(args)?;
        let basic_auth = resolver
            .pick(
                args.basic_auth.as_deref(),
                ("--basic-auth", ""),
                ("credentials", "basic_auth", "[credentials] basic_auth"),
            )
            .map(|given| -> Result<_, ClientSettingsError> {
                let Some((user, password)) = given.value.split_once(':') else {
                    return Err(ClientSettingsError(format!(
                        "basic auth (from {}) needs to be in the username:password notation",
                        given.source
                    )));
                };
                Ok(Sourced {
                    value: BasicAuth {
                        user: user.into(),
                        password: password.into(),
                    },
                    source: given.source,
                })
            })
            .transpose()?;
        let cache_token = resolver.flag_or_file_bool(
            false,
            ("", ""),
            ("cli", "cache_token", "[cli] cache_token"),
            true,
        )?;
        let debug = resolver.flag_or_file_bool(
            args.debug,
            ("--debug", ""),
            ("cli", "debug", "[cli] debug"),
            false,
        )?;
        let silence_ssl_warnings = resolver.flag_or_file_bool(
            false,
            ("", ""),
            (
                "general",
                "silence_ssl_warnings",
                "[general] silence_ssl_warnings",
            ),
            false,
        )?;
        let silence_schema_output = resolver.flag_or_file_bool(
            false,
            ("", ""),
            (
                "general",
                "silence_schema_output",
                "[general] silence_schema_output",
            ),
            true,
        )?;
        let timezone_name = resolver
            .pick(None, ("", ""), ("cli", "timezone", "[cli] timezone"))
            .unwrap_or(Sourced {
                value: "UTC".into(),
                source: Source::Default,
            });
        let timezone = Sourced {
            value: time_zone(&timezone_name.value, &timezone_name.source)?,
            source: timezone_name.source.clone(),
        };
        let http_timeout = match resolver.pick(
            args.http_timeout.as_deref(),
            ("--http-timeout", env::ST2_HTTP_TIMEOUT),
            ("cli", "http_timeout", "[cli] http_timeout"),
        ) {
            None => Sourced {
                value: Duration::from_secs_f64(DEFAULT_HTTP_TIMEOUT),
                source: Source::Default,
            },
            Some(Sourced { value, source }) => {
                let seconds = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds <= 86_400.0)
                    .ok_or_else(|| {
                        ClientSettingsError(format!(
                            "HTTP timeout {value:?} (from {source}) is not a number of seconds \
                             between 0 and 86400"
                        ))
                    })?;
                Sourced {
                    value: Duration::from_secs_f64(seconds),
                    source,
                }
            }
        };

        let (mode, mode_reason, mode_forced) = match resolver.pick(
            args.mode.as_deref(),
            ("--mode", env::ST2_MODE),
            ("", "", ""),
        ) {
            Some(Sourced { value, source }) if value != "auto" => match value.as_str() {
                "local" => (Mode::Local, format!("{source} says local"), true),
                "remote" => (Mode::Remote, format!("{source} says remote"), true),
                other => {
                    return Err(ClientSettingsError(format!(
                        "mode {other:?} (from {source}) is not auto, local or remote"
                    )))
                }
            },
            _ => {
                let endpoint_set = [
                    (base.source != Source::Default, &base.source, "the base URL"),
                    (api_set, &api_url.source, "the API URL"),
                    (auth_set, &auth_url.source, "the auth URL"),
                    (stream_set, &stream_url.source, "the stream URL"),
                ]
                .into_iter()
                .find(|(set, _, _)| *set);
                match (endpoint_set, &credential) {
                    (Some((_, source, what)), _) => {
                        (Mode::Remote, format!("{what} is set by {source}"), false)
                    }
                    (None, Some(credential)) => (
                        Mode::Remote,
                        format!("a credential is set by {}", credential.source),
                        false,
                    ),
                    (None, None) => (
                        Mode::Local,
                        "no StackStorm API URL or credential is set".into(),
                        false,
                    ),
                }
            }
        };

        let options = {
            let shown = |value: Option<&Sourced<String>>, secret: bool| match value {
                Some(given) if secret => (MASK.to_string(), given.source.clone()),
                Some(given) => (given.value.clone(), given.source.clone()),
                None => ("None".to_string(), Source::Default),
            };
            let boolean = |value: &Sourced<bool>| {
                (
                    if value.value { "True" } else { "False" }.to_string(),
                    value.source.clone(),
                )
            };
            let file_only = |section: &'static str, key: &'static str, option: &'static str| {
                resolver.pick(None, ("", ""), (section, key, option))
            };
            let api_key = resolver.pick(
                args.api_key.as_deref(),
                ("--api-key", env::ST2_API_KEY),
                ("credentials", "api_key", "[credentials] api_key"),
            );
            let basic = basic_auth.as_ref().map(|basic| Sourced {
                value: format!("{}:{MASK}", basic.value.user),
                source: basic.source.clone(),
            });
            let seconds = Sourced {
                value: format!("{}", http_timeout.value.as_secs_f64()),
                source: http_timeout.source.clone(),
            };
            let rows: Vec<(&'static str, &'static str, (String, Source))> = vec![
                ("general", "base_url", shown(Some(&base), false)),
                ("general", "api_version", shown(Some(&api_version), false)),
                ("general", "cacert", shown(cacert.as_ref(), false)),
                (
                    "general",
                    "silence_ssl_warnings",
                    boolean(&silence_ssl_warnings),
                ),
                (
                    "general",
                    "silence_schema_output",
                    boolean(&silence_schema_output),
                ),
                ("cli", "debug", boolean(&debug)),
                ("cli", "cache_token", boolean(&cache_token)),
                ("cli", "timezone", shown(Some(&timezone_name), false)),
                ("cli", "http_timeout", shown(Some(&seconds), false)),
                (
                    "credentials",
                    "username",
                    shown(
                        file_only("credentials", "username", "[credentials] username").as_ref(),
                        false,
                    ),
                ),
                (
                    "credentials",
                    "password",
                    shown(
                        file_only("credentials", "password", "[credentials] password").as_ref(),
                        true,
                    ),
                ),
                ("credentials", "api_key", shown(api_key.as_ref(), true)),
                ("credentials", "basic_auth", shown(basic.as_ref(), false)),
                ("api", "url", shown(Some(&api_url), false)),
                ("auth", "url", shown(Some(&auth_url), false)),
                ("stream", "url", shown(Some(&stream_url), false)),
            ];
            rows.into_iter()
                .map(|(section, key, (shown, source))| ConfigOption {
                    section,
                    key,
                    shown,
                    source,
                })
                .collect()
        };

        Ok(ClientSettings {
            mode,
            mode_reason,
            mode_forced,
            config_file,
            config_error,
            login_config_file,
            token_dir,
            base_url: base,
            api_url,
            auth_url,
            stream_url,
            verify,
            credential,
            basic_auth,
            cache_token: cache_token.value,
            http_timeout,
            debug: debug.value,
            silence_ssl_warnings: silence_ssl_warnings.value,
            timezone,
            options,
        })
    }

    /// What `--debug` says about the settings: one line each, secrets masked.
    pub(crate) fn describe(&self) -> Vec<String> {
        let mut lines = vec![self.mode_line()];
        if self.mode == Mode::Local {
            return lines;
        }
        lines.push(match &self.config_file {
            Some(path) => format!("CLI config: {}", path.display()),
            None => "CLI config: none".into(),
        });
        for (name, url) in [
            ("base", &self.base_url),
            ("api", &self.api_url),
            ("auth", &self.auth_url),
            ("stream", &self.stream_url),
        ] {
            lines.push(format!("{name} URL: {} (from {})", url.value, url.source));
        }
        lines.push(self.tls_line());
        lines.push(self.credential_line());
        if let Some(basic) = &self.basic_auth {
            lines.push(format!(
                "basic auth: {}:{MASK} (from {})",
                basic.value.user, basic.source
            ));
        }
        lines.push(format!(
            "HTTP timeout: {} s (from {})",
            self.http_timeout.value.as_secs_f64(),
            self.http_timeout.source
        ));
        lines
    }

    /// What `--print-config` prints: every option of the CLI config as it resolved (from a
    /// flag, the environment, the file or the default), with where it came from, in
    /// st2client's layout (`[section]`, then `key = value`); then the mode and why, the CLI
    /// config read, the one credential and how certificates are checked. **[fix]** st2client
    /// prints the file's options only, its password and API key in clear, and neither the
    /// mode nor the endpoints it derives.
    pub(crate) fn print_config(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut section = "";
        for option in &self.options {
            if option.section != section {
                section = option.section;
                lines.push(format!("[{section}]"));
            }
            lines.push(format!(
                "{} = {}  ({})",
                option.key,
                option.shown,
                origin(&option.source)
            ));
        }
        lines.push(String::new());
        lines.push(self.mode_line());
        lines.push(match &self.config_file {
            Some(path) => format!("CLI config: {}", path.display()),
            None => format!(
                "CLI config: none (st2 login writes {})",
                self.login_config_file.display()
            ),
        });
        lines.push(self.credential_line());
        lines.push(self.tls_line());
        lines
    }

    fn mode_line(&self) -> String {
        format!(
            "mode: {} ({})",
            match self.mode {
                Mode::Local => "local",
                Mode::Remote => "remote",
            },
            self.mode_reason
        )
    }

    fn tls_line(&self) -> String {
        format!(
            "TLS: {} (from {})",
            match &self.verify.value {
                Verify::System => "verified against the system's CAs".to_string(),
                Verify::CaFile(path) => format!("verified against {}", path.display()),
                Verify::Off => "NOT verified".to_string(),
            },
            self.verify.source
        )
    }

    fn credential_line(&self) -> String {
        match &self.credential {
            Some(credential) => format!(
                "credential: {} (from {})",
                credential.value.describe(),
                credential.source
            ),
            None => "credential: none".into(),
        }
    }
}

/// Where a value came from, after it in `--print-config`: `from ST2_API_URL`, `default`.
fn origin(source: &Source) -> String {
    match source {
        Source::Default => "default".into(),
        Source::Derived(base) => format!("derived from the base URL, {}", origin(base)),
        other => format!("from {other}"),
    }
}

/// Looks a setting up in the three sources, in order.
struct Resolver<'a> {
    env: EnvLookup<'a>,
    config: &'a CliConfig,
    file: Option<&'a Path>,
}

impl Resolver<'_> {
    /// The flag's value, else the variable's (`""`: none), else the file's (`("", "", "")`:
    /// none). Empty values count as unset, as st2client's `or` does.
    fn pick(
        &self,
        given: Option<&str>,
        (flag, variable): (&'static str, &'static str),
        (section, key, option): (&'static str, &'static str, &'static str),
    ) -> Option<Sourced<String>> {
        if let Some(value) = given.filter(|value| !value.is_empty()) {
            return Some(Sourced {
                value: value.into(),
                source: Source::Flag(flag),
            });
        }
        if !variable.is_empty() {
            if let Some(value) = (self.env)(variable) {
                return Some(Sourced {
                    value,
                    source: Source::Env(variable),
                });
            }
        }
        let path = self.file?;
        if section.is_empty() {
            return None;
        }
        self.config
            .get(section, key)
            .filter(|value| !value.is_empty())
            .map(|value| Sourced {
                value: value.into(),
                source: Source::File {
                    path: path.to_path_buf(),
                    option,
                },
            })
    }

    /// A boolean: `true` when the flag is given, else the file's value (`ConfigParser`'s
    /// spellings), else `default`.
    fn flag_or_file_bool(
        &self,
        flag_given: bool,
        (flag, _): (&'static str, &'static str),
        (section, key, option): (&'static str, &'static str, &'static str),
        default: bool,
    ) -> Result<Sourced<bool>, ClientSettingsError> {
        if flag_given {
            return Ok(Sourced {
                value: true,
                source: Source::Flag(flag),
            });
        }
        let from_file = match self.file {
            Some(path) => self
                .config
                .get_bool(section, key)
                .map_err(|err| self.file_error(&err))?
                .map(|value| Sourced {
                    value,
                    source: Source::File {
                        path: path.to_path_buf(),
                        option,
                    },
                }),
            None => None,
        };
        Ok(from_file.unwrap_or(Sourced {
            value: default,
            source: Source::Default,
        }))
    }

    fn file_error(&self, message: &str) -> ClientSettingsError {
        ClientSettingsError(match self.file {
            Some(path) => format!("invalid CLI config file {}: {message}", path.display()),
            None => message.to_string(),
        })
    }

    /// The first of `-t`, `--api-key`, `ST2_AUTH_TOKEN`, `ST2_API_KEY`, `[credentials]
    /// api_key`, `[credentials] username` (with its password).
    fn credential(
        &self,
        args: &ClientArgs,
    ) -> Result<Option<Sourced<Credential>>, ClientSettingsError> {
        let sourced = |value: Credential, source: Source| Some(Sourced { value, source });
        if let Some(token) = args.token.clone().filter(|t| !t.is_empty()) {
            return Ok(sourced(
                Credential::Token(token),
                Source::Flag("-t/--token"),
            ));
        }
        if let Some(key) = args.api_key.clone().filter(|k| !k.is_empty()) {
            return Ok(sourced(Credential::ApiKey(key), Source::Flag("--api-key")));
        }
        if let Some(token) = (self.env)(env::ST2_AUTH_TOKEN) {
            return Ok(sourced(
                Credential::Token(token),
                Source::Env(env::ST2_AUTH_TOKEN),
            ));
        }
        if let Some(key) = (self.env)(env::ST2_API_KEY) {
            return Ok(sourced(
                Credential::ApiKey(key),
                Source::Env(env::ST2_API_KEY),
            ));
        }
        let Some(path) = self.file else {
            return Ok(None);
        };
        let file = |option| Source::File {
            path: path.to_path_buf(),
            option,
        };
        if let Some(key) = self
            .config
            .get("credentials", "api_key")
            .filter(|k| !k.is_empty())
        {
            return Ok(sourced(
                Credential::ApiKey(key.into()),
                file("[credentials] api_key"),
            ));
        }
        if let Some(username) = self
            .config
            .get("credentials", "username")
            .filter(|u| !u.is_empty())
        {
            let password = self
                .config
                .get("credentials", "password")
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            return Ok(sourced(
                Credential::Login {
                    username: username.into(),
                    password,
                },
                file("[credentials] username"),
            ));
        }
        Ok(None)
    }
}

/// `[cli] timezone`: an IANA name (`Europe/Ljubljana`), looked up as pytz does it (any case)
/// in the system's time zone database, else the copy built in (as pytz has its own).
fn time_zone(name: &str, source: &Source) -> Result<jiff::tz::TimeZone, ClientSettingsError> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("UTC") {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    jiff::tz::TimeZone::get(trimmed).map_err(|_| {
        ClientSettingsError(format!(
            "unknown time zone {name:?} (from {source}): use an IANA time zone name such as \
             UTC or Europe/Paris"
        ))
    })
}

/// The base URL as given, checked: `http(s)://host` with no port and no path (**[fix]**:
/// st2client appends `:9101` to whatever it gets and fails later with `Failed to parse`).
fn base_url(value: &str, source: &Source) -> Result<String, ClientSettingsError> {
    let trimmed = value.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|err| {
        ClientSettingsError(format!(
            "base URL {value:?} (from {source}) is not a URL: {err}"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ClientSettingsError(format!(
            "base URL {value:?} (from {source}) must be http://HOST or https://HOST"
        )));
    }
    if url.port().is_some() || url.path() != "/" || url.query().is_some() {
        return Err(ClientSettingsError(format!(
            "base URL {value:?} (from {source}) cannot carry a port or a path: StackStorm's \
             ports are added to it; give full endpoints with --api-url, --auth-url and \
             --stream-url instead"
        )));
    }
    Ok(trimmed.to_string())
}

/// An api/auth/stream URL as given, checked, without its trailing `/`.
fn endpoint_url(value: &str, source: &Source) -> Result<String, ClientSettingsError> {
    let trimmed = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(trimmed.to_string())
        }
        Ok(_) => Err(ClientSettingsError(format!(
            "URL {value:?} (from {source}) must start with http:// or https://"
        ))),
        Err(err) => Err(ClientSettingsError(format!(
            "URL {value:?} (from {source}) is not a URL: {err}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load_with(
        args: &ClientArgs,
        vars: &[(&str, &str)],
        config: Option<&str>,
    ) -> Result<ClientSettings, ClientSettingsError> {
        let home = tempfile::tempdir().unwrap();
        if let Some(text) = config {
            std::fs::create_dir_all(home.path().join(".st2")).unwrap();
            std::fs::write(home.path().join(".st2/config"), text).unwrap();
        }
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| vars.get(name).cloned();
        ClientSettings::load(args, &lookup, home.path())
    }

    #[test]
    fn nothing_set_is_local_with_upstream_default_endpoints() {
        let settings = load_with(&ClientArgs::default(), &[], None).unwrap();
        assert_eq!(settings.mode, Mode::Local);
        assert_eq!(settings.api_url.value, "http://127.0.0.1:9101/v1");
        assert_eq!(settings.auth_url.value, "http://127.0.0.1:9100");
        assert_eq!(settings.stream_url.value, "http://127.0.0.1:9102/v1");
        assert_eq!(settings.verify.value, Verify::System);
        assert!(settings.credential.is_none());
        assert_eq!(settings.http_timeout.value, Duration::from_secs(60));
    }

    #[test]
    fn flags_beat_environment_beat_config_file() {
        let config = "[api]\nurl = https://file/api/v1\n[general]\nbase_url = https://filebase\n";
        let from_file = load_with(&ClientArgs::default(), &[], Some(config)).unwrap();
        assert_eq!(from_file.api_url.value, "https://file/api/v1");
        assert_eq!(from_file.auth_url.value, "https://filebase:9100");
        assert_eq!(from_file.mode, Mode::Remote);
        assert!(
            from_file.mode_reason.contains("[general] base_url"),
            "{}",
            from_file.mode_reason
        );
        // [fix] the documented order: the variable beats the file.
        let from_env = load_with(
            &ClientArgs::default(),
            &[("ST2_API_URL", "https://env/api/v1/")],
            Some(config),
        )
        .unwrap();
        assert_eq!(from_env.api_url.value, "https://env/api/v1");
        assert_eq!(from_env.api_url.source, Source::Env("ST2_API_URL"));
        let from_flag = load_with(
            &ClientArgs {
                api_url: Some("http://flag:1/api/v1".into()),
                ..ClientArgs::default()
            },
            &[("ST2_API_URL", "https://env/api/v1")],
            Some(config),
        )
        .unwrap();
        assert_eq!(from_flag.api_url.value, "http://flag:1/api/v1");
        assert_eq!(from_flag.api_url.source, Source::Flag("--api-url"));
    }

    #[test]
    fn a_base_url_with_a_port_names_the_endpoint_options() {
        let err = load_with(
            &ClientArgs {
                url: Some("http://127.0.0.1:34205".into()),
                ..ClientArgs::default()
            },
            &[],
            None,
        )
        .unwrap_err();
        assert!(
            err.0.contains("--api-url, --auth-url and --stream-url"),
            "{err}"
        );
    }

    #[test]
    fn one_credential_in_order() {
        let config = "[credentials]\nusername = st2admin\npassword = pw\napi_key = filekey\n";
        let pick = |args: ClientArgs, vars: &[(&str, &str)]| {
            load_with(&args, vars, Some(config))
                .unwrap()
                .credential
                .unwrap()
        };
        let token = ClientArgs {
            token: Some("T".into()),
            api_key: Some("K".into()),
            ..ClientArgs::default()
        };
        assert_eq!(pick(token, &[]).value, Credential::Token("T".into()));
        let key = ClientArgs {
            api_key: Some("K".into()),
            ..ClientArgs::default()
        };
        assert_eq!(
            pick(key, &[("ST2_AUTH_TOKEN", "E")]).value,
            Credential::ApiKey("K".into())
        );
        assert_eq!(
            pick(
                ClientArgs::default(),
                &[("ST2_AUTH_TOKEN", "E"), ("ST2_API_KEY", "EK")]
            )
            .value,
            Credential::Token("E".into())
        );
        assert_eq!(
            pick(ClientArgs::default(), &[("ST2_API_KEY", "EK")]).value,
            Credential::ApiKey("EK".into())
        );
        assert_eq!(
            pick(ClientArgs::default(), &[]).value,
            Credential::ApiKey("filekey".into())
        );
        let login = load_with(
            &ClientArgs::default(),
            &[],
            Some("[credentials]\nusername = st2admin\n"),
        )
        .unwrap();
        assert_eq!(login.mode, Mode::Remote);
        assert_eq!(
            login.credential.unwrap().value,
            Credential::Login {
                username: "st2admin".into(),
                password: None
            }
        );
    }

    #[test]
    fn skip_config_ignores_the_file_credentials_included() {
        let config = "[credentials]\nusername = st2admin\n";
        let settings = load_with(
            &ClientArgs::default(),
            &[("ST2_CLI_SKIP_CONFIG", "1")],
            Some(config),
        )
        .unwrap();
        assert!(settings.credential.is_none());
        assert_eq!(settings.mode, Mode::Local);
    }

    #[test]
    fn mode_override_and_bad_values() {
        let forced = load_with(&ClientArgs::default(), &[("ST2_MODE", "remote")], None).unwrap();
        assert_eq!(forced.mode, Mode::Remote);
        let local = load_with(
            &ClientArgs {
                mode: Some("local".into()),
                ..ClientArgs::default()
            },
            &[("ST2_API_KEY", "k")],
            None,
        )
        .unwrap();
        assert_eq!(local.mode, Mode::Local);
        assert!(load_with(&ClientArgs::default(), &[("ST2_MODE", "cloud")], None).is_err());
        assert!(load_with(&ClientArgs::default(), &[("ST2_HTTP_TIMEOUT", "-1")], None).is_err());
        let err =
            load_with(&ClientArgs::default(), &[("ST2_CACERT", "/nope.pem")], None).unwrap_err();
        assert!(err.0.contains("ST2_CACERT"), "{err}");
        let off = load_with(&ClientArgs::default(), &[("ST2_CACERT", "false")], None).unwrap();
        assert_eq!(off.verify.value, Verify::Off);
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let err = load_with(
            &ClientArgs::default(),
            &[("ST2_CONFIG_FILE", "/nonexistent/config")],
            None,
        )
        .unwrap_err();
        assert!(err.0.contains("ST2_CONFIG_FILE"), "{err}");
        // `--config-file` is st2.conf too: its problem waits for the mode.
        let settings = load_with(
            &ClientArgs {
                config_file: Some("/nonexistent/st2.conf".into()),
                ..ClientArgs::default()
            },
            &[],
            None,
        )
        .unwrap();
        assert_eq!(settings.mode, Mode::Local);
        assert!(settings
            .config_error
            .is_some_and(|problem| problem.contains("/nonexistent/st2.conf")));
    }

    #[test]
    fn print_config_shows_every_option_with_its_source_and_masks_secrets() {
        let config = "[credentials]\nusername = st2admin\npassword = s3cr3t-pw\n\
                      [cli]\ncache_token = no\ntimezone = Europe/Ljubljana\n";
        let settings = load_with(
            &ClientArgs {
                api_key: Some("s3cr3t-key".into()),
                ..ClientArgs::default()
            },
            &[("ST2_API_URL", "https://env/api/v1")],
            Some(config),
        )
        .unwrap();
        let text = settings.print_config().join("\n");
        assert!(
            !text.contains("s3cr3t-pw") && !text.contains("s3cr3t-key"),
            "{text}"
        );
        for expected in [
            "[general]\nbase_url = http://127.0.0.1  (default)\n",
            "cacert = None  (default)",
            "silence_ssl_warnings = False  (default)",
            "cache_token = False  (from [cli] cache_token in ",
            "timezone = Europe/Ljubljana  (from [cli] timezone in ",
            "username = st2admin  (from [credentials] username in ",
            "password = ********  (from [credentials] password in ",
            "api_key = ********  (from --api-key)",
            "basic_auth = None  (default)",
            "[api]\nurl = https://env/api/v1  (from ST2_API_URL)",
            "[auth]\nurl = http://127.0.0.1:9100  (derived from the base URL, default)",
            "\n\nmode: remote (the API URL is set by ST2_API_URL)\nCLI config: ",
            "credential: API key ******** (from --api-key)",
            "TLS: verified against the system's CAs (from the default)",
        ] {
            assert!(text.contains(expected), "{expected:?} in:\n{text}");
        }
    }

    #[test]
    fn the_time_zone_is_an_iana_name_and_a_wrong_one_names_the_option() {
        let settings = load_with(&ClientArgs::default(), &[], None).unwrap();
        assert_eq!(settings.timezone.value, jiff::tz::TimeZone::UTC);
        let err = load_with(
            &ClientArgs::default(),
            &[],
            Some("[cli]\ntimezone = Mars/Olympus_Mons\n"),
        )
        .unwrap_err();
        assert!(
            err.0
                .starts_with("unknown time zone \"Mars/Olympus_Mons\" (from [cli] timezone in "),
            "{err}"
        );
        // Any case, as pytz looks names up.
        let settings = load_with(
            &ClientArgs::default(),
            &[],
            Some("[cli]\ntimezone = europe/ljubljana\n"),
        )
        .unwrap();
        assert_eq!(
            settings.timezone.value.iana_name(),
            Some("Europe/Ljubljana")
        );
        let utc = load_with(&ClientArgs::default(), &[], Some("[cli]\ntimezone = utc\n")).unwrap();
        assert_eq!(utc.timezone.value, jiff::tz::TimeZone::UTC);
    }

    #[test]
    fn debug_description_masks_secrets() {
        let settings = load_with(
            &ClientArgs {
                token: Some("s3cr3t-token".into()),
                basic_auth: Some("proxy:pr0xy-pw".into()),
                ..ClientArgs::default()
            },
            &[],
            None,
        )
        .unwrap();
        let text = settings.describe().join("\n");
        assert!(
            !text.contains("s3cr3t-token") && !text.contains("pr0xy-pw"),
            "{text}"
        );
        assert!(text.contains("mode: remote"), "{text}");
        assert!(text.contains("api URL: http://127.0.0.1:9101/v1"), "{text}");
    }
}

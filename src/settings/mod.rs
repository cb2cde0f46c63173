//! Settings: where StackStorm content lives and how to reach the network, read once from
//! `st2.conf` (and a few overrides) before any command runs.
//!
//! Commands receive a [`Settings`] and never read the configuration file or the environment
//! themselves. The file is chosen as StackStorm's tools choose it: `--config-file PATH`, else
//! `$ST2_CONF`, else `/etc/st2/st2.conf` when it exists, else built-in defaults. Every
//! environment variable the project reads is a constant in [`env`].

pub(crate) mod cli_config;
pub(crate) mod client;
pub(crate) mod ini;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ini::Ini;

/// Names of every environment variable the project reads.
pub(crate) mod env {
    /// Path of the `st2.conf` to read (as `st2ctl` uses it).
    pub(crate) const ST2_CONF: &str = "ST2_CONF";
    /// Overrides `[system] base_path` (ours: StackStorm has no such variable).
    pub(crate) const ST2_BASE_PATH: &str = "ST2_BASE_PATH";
    /// A PEM CA bundle for HTTPS (index and git), as OpenSSL-based tools read it.
    pub(crate) const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
    /// Forces the virtualenv tool (`uv` or `pip`).
    pub(crate) const ST2_VENV_TOOL: &str = "ST2_VENV_TOOL";
    /// uv's own cache directory: when set, pack virtualenvs use it rather than
    /// `<base_path>/cache/python/uv`.
    pub(crate) const UV_CACHE_DIR: &str = "UV_CACHE_DIR";
    /// pip's own cache directory: when set, pack virtualenvs use it rather than
    /// `<base_path>/cache/python/pip`.
    pub(crate) const PIP_CACHE_DIR: &str = "PIP_CACHE_DIR";
    /// Disables colours in output when set (<https://no-color.org>).
    pub(crate) const NO_COLOR: &str = "NO_COLOR";
    /// The width tables are fitted to, before the terminal's (st2client reads it too).
    pub(crate) const COLUMNS: &str = "COLUMNS";
    /// The terminal type: `dumb` gets no spinner.
    pub(crate) const TERM: &str = "TERM";
    /// The user's home, for `~/` in a PACK argument.
    pub(crate) const HOME: &str = "HOME";
    /// Where programs are looked up (uv, sudo, python), and what an action's virtualenv
    /// `bin/` is put in front of.
    pub(crate) const PATH: &str = "PATH";
    /// A Python action's module path: the pack's libraries, then the caller's, then
    /// StackStorm's modules.
    pub(crate) const PYTHONPATH: &str = "PYTHONPATH";
    /// A CA bundle for git over https, as git reads it (after `[content] ca_bundle_path`,
    /// before `SSL_CERT_FILE`).
    pub(crate) const GIT_SSL_CAINFO: &str = "GIT_SSL_CAINFO";
    /// The command git runs instead of `ssh` (a shell command line; git's own variable).
    pub(crate) const GIT_SSH_COMMAND: &str = "GIT_SSH_COMMAND";
    /// The program git runs instead of `ssh` (git's own variable, after `GIT_SSH_COMMAND`).
    pub(crate) const GIT_SSH: &str = "GIT_SSH";
    /// Set for the `git` commands the tests run, so that the system's gitconfig is not read.
    #[cfg(test)]
    pub(crate) const GIT_CONFIG_NOSYSTEM: &str = "GIT_CONFIG_NOSYSTEM";
    /// The native `twitter` actions' API base URL (ours: for tests and proxies).
    pub(crate) const ST2_TWITTER_API_URL: &str = "ST2_TWITTER_API_URL";
    /// The native `twitter` actions' API version (`2` or `1.1`).
    pub(crate) const ST2_TWITTER_API_VERSION: &str = "ST2_TWITTER_API_VERSION";
    /// Given to a shell action: its pack (StackStorm's `ST2_ACTION_*` variables).
    pub(crate) const ST2_ACTION_PACK_NAME: &str = "ST2_ACTION_PACK_NAME";
    /// Given to a shell action: its execution id.
    pub(crate) const ST2_ACTION_EXECUTION_ID: &str = "ST2_ACTION_EXECUTION_ID";
    /// Given to a shell action: its `debug` parameter, as Python prints a bool.
    pub(crate) const ST2_ACTION_DEBUG: &str = "ST2_ACTION_DEBUG";
    /// OpenSSH's: the program `ssh` asks for a password or a key's passphrase (the remote
    /// runners point it at `st2` itself).
    pub(crate) const SSH_ASKPASS: &str = "SSH_ASKPASS";
    /// OpenSSH's (8.4 and later): `force` makes `ssh` use `SSH_ASKPASS` and never the terminal.
    pub(crate) const SSH_ASKPASS_REQUIRE: &str = "SSH_ASKPASS_REQUIRE";
    /// The SSH agent's socket: an encrypted key without a passphrase is tried through the
    /// agent when one runs.
    pub(crate) const SSH_AUTH_SOCK: &str = "SSH_AUTH_SOCK";
    /// Set (to `1`) in the environment of the `ssh` processes the remote runners start: `st2`
    /// started with it is `ssh`'s askpass program, not the CLI (ours).
    pub(crate) const ST2_SSH_ASKPASS: &str = "ST2_SSH_ASKPASS";
    /// The password askpass answers a password prompt with (the `password` parameter; ours,
    /// never logged).
    pub(crate) const ST2_SSH_ASKPASS_PASSWORD: &str = "ST2_SSH_ASKPASS_PASSWORD";
    /// The passphrase askpass answers a key's passphrase prompt with (the `passphrase`
    /// parameter; ours, never logged).
    pub(crate) const ST2_SSH_ASKPASS_PASSPHRASE: &str = "ST2_SSH_ASKPASS_PASSPHRASE";
    /// Debug builds only: the failpoint where the process kills itself (`failpoint`).
    #[cfg(debug_assertions)]
    pub(crate) const ST2_FAILPOINT: &str = "ST2_FAILPOINT";
    /// The CLI config file (st2client's; default `~/.st2/config`).
    pub(crate) const ST2_CONFIG_FILE: &str = "ST2_CONFIG_FILE";
    /// Set (and not `0`): the CLI config file is not read (st2client's).
    pub(crate) const ST2_CLI_SKIP_CONFIG: &str = "ST2_CLI_SKIP_CONFIG";
    /// The cluster's base URL (`http(s)://HOST`; st2client's).
    pub(crate) const ST2_BASE_URL: &str = "ST2_BASE_URL";
    /// The cluster's API URL (st2client's).
    pub(crate) const ST2_API_URL: &str = "ST2_API_URL";
    /// The cluster's auth URL (st2client's).
    pub(crate) const ST2_AUTH_URL: &str = "ST2_AUTH_URL";
    /// The cluster's stream URL (st2client's).
    pub(crate) const ST2_STREAM_URL: &str = "ST2_STREAM_URL";
    /// The API version in derived URLs (`v1`; st2client's).
    pub(crate) const ST2_API_VERSION: &str = "ST2_API_VERSION";
    /// The CA bundle the cluster's certificates are checked with (st2client's).
    pub(crate) const ST2_CACERT: &str = "ST2_CACERT";
    /// An auth token for the cluster (st2client's).
    pub(crate) const ST2_AUTH_TOKEN: &str = "ST2_AUTH_TOKEN";
    /// An API key for the cluster (st2client's).
    pub(crate) const ST2_API_KEY: &str = "ST2_API_KEY";
    /// Seconds each request to the cluster may take (ours).
    pub(crate) const ST2_HTTP_TIMEOUT: &str = "ST2_HTTP_TIMEOUT";
    /// `auto`, `local` or `remote` (ours).
    pub(crate) const ST2_MODE: &str = "ST2_MODE";
    /// Tests: skips the YAML parity test against PyYAML.
    #[cfg(test)]
    pub(crate) const ST2_SKIP_PYYAML_PARITY: &str = "ST2_SKIP_PYYAML_PARITY";
    /// Tests: the Python the virtualenv tests build from (default `python3`).
    #[cfg(test)]
    pub(crate) const ST2_TEST_PYTHON: &str = "ST2_TEST_PYTHON";
}

/// The StackStorm release whose behaviour we reproduce; `stackstorm_version` in `pack.yaml`
/// is checked against it.
pub(crate) const STACKSTORM_VERSION: &str = "3.9.0";

/// Default `[system] base_path`.
pub(crate) const DEFAULT_BASE_PATH: &str = "/opt/stackstorm";
/// Where StackStorm packages install `st2.conf`.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "/etc/st2/st2.conf";
/// Default `[content] index_url`.
pub(crate) const DEFAULT_INDEX_URL: &str = "https://index.stackstorm.org/v1/index.json";

/// Errors reading the settings.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    /// The chosen config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid oslo.config INI.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what.
        source: ini::IniError,
    },
    /// An option holds a value of the wrong kind.
    #[error("invalid config file {path}: {message}")]
    Option {
        /// The file.
        path: PathBuf,
        /// Which option and why.
        message: String,
    },
    /// The base path cannot be written to.
    #[error(
        "the StackStorm base path {path} is not writable ({reason})\n\
         hint: run as a user who can write it, or choose another base path with \
         --base-path DIR, the {var} environment variable, or `[system] base_path` in st2.conf",
        var = env::ST2_BASE_PATH
    )]
    NotWritable {
        /// The base path.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

/// Values given on the command line or in the environment that take precedence over the file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    /// `--config-file`.
    pub config_file: Option<PathBuf>,
    /// `--base-path` (or `$ST2_BASE_PATH`).
    pub base_path: Option<PathBuf>,
}

/// Resolved settings, ready to use.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The `st2.conf` that was read, if any.
    pub config_file: Option<PathBuf>,
    /// `[system] base_path`.
    pub base_path: PathBuf,
    /// `[content] system_packs_base_path`: always searched first; packs are installed here.
    pub system_packs_base_path: PathBuf,
    /// `[content] packs_base_paths`: further directories searched for packs.
    pub packs_base_paths: Vec<PathBuf>,
    /// `[content] index_url`, in order.
    pub index_urls: Vec<String>,
    /// `[content] pack_group`: group given to installed packs when set and it exists.
    pub pack_group: Option<String>,
    /// `[actionrunner] python_binary`.
    pub python_binary: String,
    /// `[actionrunner] native_actions` (ours, default true): run the actions st2-rs has a
    /// native implementation of (e.g. `twitter.update_status`) natively rather than with the
    /// pack's own code.
    pub native_actions: bool,
    /// `[actionrunner] virtualenv_opts`.
    pub virtualenv_opts: Vec<String>,
    /// `[actionrunner] python_runner_log_level`: the level of `self.logger` in Python actions
    /// whose `log_level` parameter is left at its default (`DEBUG`).
    pub python_runner_log_level: String,
    /// `[packs] enable_common_libs`: the pack's `lib/` directory on Python actions'
    /// `PYTHONPATH` (upstream default false).
    pub enable_common_libs: bool,
    /// The API's public URL with its version, as workflows see it in `st2.api_url`:
    /// `[auth] api_url` (trailing `/` removed), else `http://<[api] host>:<[api] port>`
    /// (`127.0.0.1:9101`), then `/v1` (`st2common/util/api.py: get_full_public_api_url`).
    pub public_api_url: String,
    /// `[workflow_engine] max_concurrent_actions` (ours, default 8): how many children of a
    /// workflow run at once.
    pub workflow_max_concurrent_actions: usize,
    /// `[actionrunner] pip_opts`.
    pub pip_opts: Vec<String>,
    /// `[keyvalue] encryption_key_path`.
    pub encryption_key_path: Option<PathBuf>,
    /// `[system_user] user`: the user of runs and of `st2 key --scope user` (default
    /// `stanley`); the remote runners log in as this user when neither the `username`
    /// parameter nor the SSH config names one.
    pub system_user: String,
    /// The remote runners' settings: `[system_user] ssh_key_file` and `[ssh_runner]`.
    pub ssh: SshSettings,
    /// The embedded store (ours): `[database] sqlite_path`, default `<base_path>/st2.db`.
    pub store_path: PathBuf,
    /// Timeout of network operations (ours): `[content] network_timeout` seconds, default 30.
    pub network_timeout: Duration,
    /// CA bundle for HTTPS (ours): `[content] ca_bundle_path`, else `$SSL_CERT_FILE`.
    pub ca_bundle: Option<PathBuf>,
}

impl Settings {
    /// Choose the config file, read it, and apply the overrides.
    pub(crate) fn load(overrides: &Overrides) -> Result<Settings, SettingsError> {
        let config_file = match &overrides.config_file {
            Some(path) => Some(path.clone()),
            None => match std::env::var_os(env::ST2_CONF) {
                Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
                _ => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|path| path.is_file()),
            },
        };
        let ini = match &config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.clone(),
                    source,
                })?;
                Ini::parse(&text).map_err(|source| SettingsError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => Ini::default(),
        };
        let env_base = std::env::var_os(env::ST2_BASE_PATH)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        let mut settings = Settings::from_ini(
            &ini,
            overrides.base_path.clone().or(env_base),
            config_file.as_deref(),
        )?;
        settings.config_file = config_file;
        Ok(settings)
    }

    /// Settings from a parsed file; `base_path` (when given) overrides `[system] base_path`.
    pub(crate) fn from_ini(
        ini: &Ini,
        base_path: Option<PathBuf>,
        file: Option<&Path>,
    ) -> Result<Settings, SettingsError> {
        let file_name = file.map(Path::to_path_buf).unwrap_or_default();
        let option_error = |message: String| SettingsError::Option {
            path: file_name.clone(),
            message,
        };
        let base_path = absolute(
            base_path
                .or_else(|| ini.get("system", "base_path").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BASE_PATH)),
        );
        // Upstream computes this default before the file is read, so it stays
        // /opt/stackstorm/packs even when base_path changes (st2common/st2common/config.py);
        // we derive it from the base path actually in use.
        let system_packs_base_path = ini
            .get("content", "system_packs_base_path")
            .filter(|value| !value.is_empty())
            .map(|value| absolute(PathBuf::from(value)))
            .unwrap_or_else(|| base_path.join("packs"));
        let packs_base_paths = ini
            .get("content", "packs_base_paths")
            .map(split_packs_base_paths)
            .unwrap_or_default();
        let index_urls = ini
            .get_list("content", "index_url")
            .filter(|urls| !urls.is_empty())
            .unwrap_or_else(|| vec![DEFAULT_INDEX_URL.to_string()]);
        let network_timeout = match ini.get("content", "network_timeout") {
            None => Duration::from_secs(30),
            Some(value) => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|secs| secs.is_finite() && *secs > 0.0)
                // Not `from_secs_f64`: it panics past u64::MAX seconds (`1e300`).
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .filter(|timeout| !timeout.is_zero())
                .ok_or_else(|| {
                    option_error(format!(
                        "[content] network_timeout: expected a positive number of seconds, got {value:?}"
                    ))
                })?,
        };
        let ca_bundle = ini
            .get("content", "ca_bundle_path")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os(env::SSL_CERT_FILE)
                    .filter(|value| !value.is_empty())
                    .map(PathBuf::from)
            });
        let public_api_url = match ini.get("auth", "api_url").filter(|url| !url.is_empty()) {
            Some(url) => format!("{}/v1", url.trim_end_matches('/')),
            None => {
                let host = ini
                    .get("api", "host")
                    .filter(|host| !host.is_empty())
                    .unwrap_or("127.0.0.1");
                let port = match ini.get("api", "port") {
                    None => 9101,
                    Some(value) => value.trim().parse::<u16>().map_err(|_| {
                        option_error(format!(
                            "[api] port: expected a port number (0-65535), got {value:?}"
                        ))
                    })?,
                };
                format!("http://{host}:{port}/v1")
            }
        };
        let workflow_max_concurrent_actions =
            match ini.get("workflow_engine", "max_concurrent_actions") {
                None => 8,
                Some(value) => value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|count| *count > 0)
                    .ok_or_else(|| {
                        option_error(format!(
                            "[workflow_engine] max_concurrent_actions: expected a positive whole number, got {value:?}"
                        ))
                    })?,
            };
        let store_path = ini
            .get("database", "sqlite_path")
            .filter(|value| !value.is_empty())
            .map(|value| absolute(PathBuf::from(value)))
            .unwrap_or_else(|| base_path.join("st2.db"));

        let ssh = SshSettings::from_ini(ini).map_err(option_error)?;

        Ok(Settings {
            config_file: file.map(Path::to_path_buf),
            ssh,
            system_packs_base_path,
            packs_base_paths,
            index_urls,
            pack_group: ini
                .get("content", "pack_group")
                .filter(|group| !group.is_empty())
                .map(str::to_string),
            python_binary: ini
                .get("actionrunner", "python_binary")
                .filter(|value| !value.is_empty())
                .unwrap_or("python3")
                .to_string(),
            native_actions: ini
                .get_bool("actionrunner", "native_actions")
                .map_err(option_error)?
                .unwrap_or(true),
            // Upstream defaults to `--system-site-packages` so that packs see StackStorm's own
            // libraries; there are none to see here, so the default is an isolated venv.
            virtualenv_opts: ini
                .get_list("actionrunner", "virtualenv_opts")
                .unwrap_or_default(),
            pip_opts: ini.get_list("actionrunner", "pip_opts").unwrap_or_default(),
            python_runner_log_level: ini
                .get("actionrunner", "python_runner_log_level")
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .unwrap_or("DEBUG")
                .to_string(),
            enable_common_libs: ini
                .get_bool("packs", "enable_common_libs")
                .map_err(option_error)?
                .unwrap_or(false),
            public_api_url,
            workflow_max_concurrent_actions,
            encryption_key_path: ini
                .get("keyvalue", "encryption_key_path")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
            system_user: ini
                .get("system_user", "user")
                .filter(|value| !value.is_empty())
                .unwrap_or("stanley")
                .to_string(),
            store_path,
            network_timeout,
            ca_bundle,
            base_path,
        })
    }

    /// Where packs are installed: `<system_packs_base_path>`.
    pub(crate) fn packs_dir(&self) -> &Path {
        &self.system_packs_base_path
    }

    /// Every directory searched for packs, system one first, duplicates removed, order kept.
    pub(crate) fn pack_search_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.system_packs_base_path.clone()];
        for path in &self.packs_base_paths {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        }
        paths
    }

    /// `<base_path>/virtualenvs`.
    pub(crate) fn virtualenvs_dir(&self) -> PathBuf {
        self.base_path.join("virtualenvs")
    }

    /// `<base_path>/configs`: pack configs, `<ref>.yaml` (hard-wired upstream too).
    pub(crate) fn configs_dir(&self) -> PathBuf {
        self.base_path.join("configs")
    }

    /// Our cache (index copies), under the base path so that one home holds everything.
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.base_path.join("cache")
    }

    /// The cache of Python distributions the virtualenv tools keep (`uv/`, `pip/`), under
    /// ours: one home holds everything, and `st2 pack prune` knows where it is.
    pub(crate) fn python_cache_dir(&self) -> PathBuf {
        self.cache_dir().join("python")
    }

    /// Cached git repositories, one per URL.
    pub(crate) fn git_cache_dir(&self) -> PathBuf {
        self.cache_dir().join("git")
    }

    /// `<base_path>/packs.lock`: the packs installed, exactly (`pack::lockfile` reads and
    /// writes it).
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.base_path.join("packs.lock")
    }

    /// Lock files, one per pack ref.
    pub(crate) fn locks_dir(&self) -> PathBuf {
        self.base_path.join("locks")
    }

    /// `<packs_dir>/<ref>`.
    pub(crate) fn pack_dir(&self, pack_ref: &str) -> PathBuf {
        self.packs_dir().join(pack_ref)
    }

    /// `<base_path>/virtualenvs/<ref>`.
    pub(crate) fn venv_dir(&self, pack_ref: &str) -> PathBuf {
        self.virtualenvs_dir().join(pack_ref)
    }

    /// The datastore's AES key file: `[keyvalue] encryption_key_path`, else (ours)
    /// `<base_path>/keys/datastore_key.json`, created on first use.
    pub(crate) fn datastore_key_path(&self) -> PathBuf {
        self.encryption_key_path
            .clone()
            .unwrap_or_else(|| self.base_path.join("keys").join("datastore_key.json"))
    }

    /// `<base_path>/configs/<ref>.yaml`.
    pub(crate) fn config_path(&self, pack_ref: &str) -> PathBuf {
        self.configs_dir().join(format!("{pack_ref}.yaml"))
    }

    /// Create the directories that commands write to and check that they are writable, with an
    /// error that says how to choose another base path (never a silent fallback).
    pub(crate) fn ensure_writable(&self) -> Result<(), SettingsError> {
        let not_writable = |reason: String| SettingsError::NotWritable {
            path: self.base_path.clone(),
            reason,
        };
        for dir in [
            self.base_path.clone(),
            self.system_packs_base_path.clone(),
            self.virtualenvs_dir(),
            self.configs_dir(),
            self.cache_dir(),
            self.locks_dir(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|err| not_writable(format!("{}: {}", dir.display(), io_reason(&err))))?;
        }
        if let Some(parent) = self.store_path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| {
                not_writable(format!("{}: {}", parent.display(), io_reason(&err)))
            })?;
        }
        // A directory can exist and still refuse new files (read-only mount, other owner).
        crate::sys::check_writable_dir(&self.base_path).map_err(|err| not_writable(io_reason(&err)))
    }
}

/// Default `[system_user] ssh_key_file` (upstream's).
pub(crate) const DEFAULT_SSH_KEY_FILE: &str = "/home/stanley/.ssh/stanley_rsa";

/// The remote runners' settings (`remote-shell-cmd`, `remote-shell-script`), with upstream's
/// names and defaults (`st2common/st2common/config.py`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SshSettings {
    /// `[system_user] ssh_key_file`: the key used when an action gives neither `password`
    /// nor `private_key` (and the SSH config names none); `None` when set empty (then the
    /// SSH agent and the user's default keys are used, as upstream does).
    pub key_file: Option<PathBuf>,
    /// Whether `key_file` was set in st2.conf. Ours: the default key is used only when it
    /// exists, so that a machine without a `stanley` user falls back to the agent and the
    /// user's own keys instead of failing on a missing file.
    pub key_file_configured: bool,
    /// `[ssh_runner] remote_dir` (default `/tmp`): where scripts are uploaded when the
    /// action's `dir` parameter has no value.
    pub remote_dir: String,
    /// `[ssh_runner] allow_partial_failure` (default false): the execution succeeds when any
    /// host did, rather than every host.
    pub allow_partial_failure: bool,
    /// `[ssh_runner] max_parallel_actions` (default 50): how many hosts are worked on at once.
    pub max_parallel_actions: usize,
    /// `[ssh_runner] use_ssh_config` (default false): read `ssh_config_file_path`.
    pub use_ssh_config: bool,
    /// `[ssh_runner] ssh_config_file_path` (default `~/.ssh/config`), `~` not expanded yet.
    pub ssh_config_file_path: String,
    /// `[ssh_runner] ssh_connect_timeout` in seconds (default 60).
    pub connect_timeout: u64,
}

impl Default for SshSettings {
    fn default() -> SshSettings {
        SshSettings {
            key_file: Some(PathBuf::from(DEFAULT_SSH_KEY_FILE)),
            key_file_configured: false,
            remote_dir: "/tmp".into(),
            allow_partial_failure: false,
            max_parallel_actions: 50,
            use_ssh_config: false,
            ssh_config_file_path: "~/.ssh/config".into(),
            connect_timeout: 60,
        }
    }
}

impl SshSettings {
    fn from_ini(ini: &Ini) -> Result<SshSettings, String> {
        let defaults = SshSettings::default();
        let key_file = ini.get("system_user", "ssh_key_file");
        let positive = |key: &str, default: u64| -> Result<u64, String> {
            match ini.get("ssh_runner", key) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|number| *number > 0)
                    .ok_or_else(|| {
                        format!("[ssh_runner] {key}: expected a positive integer, got {value:?}")
                    }),
            }
        };
        Ok(SshSettings {
            key_file: match key_file {
                None => defaults.key_file,
                Some(value) if value.trim().is_empty() => None,
                Some(value) => Some(PathBuf::from(value.trim())),
            },
            key_file_configured: key_file.is_some(),
            remote_dir: ini
                .get("ssh_runner", "remote_dir")
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map_or(defaults.remote_dir, str::to_string),
            allow_partial_failure: ini
                .get_bool("ssh_runner", "allow_partial_failure")?
                .unwrap_or(defaults.allow_partial_failure),
            max_parallel_actions: usize::try_from(positive(
                "max_parallel_actions",
                defaults.max_parallel_actions as u64,
            )?)
            .unwrap_or(usize::MAX),
            use_ssh_config: ini
                .get_bool("ssh_runner", "use_ssh_config")?
                .unwrap_or(defaults.use_ssh_config),
            ssh_config_file_path: ini
                .get("ssh_runner", "ssh_config_file_path")
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map_or(defaults.ssh_config_file_path, str::to_string),
            connect_timeout: positive("ssh_connect_timeout", defaults.connect_timeout)?,
        })
    }
}

impl Settings {
    /// What `--print-config` says in local mode: the `st2.conf` read and the base path, each
    /// with where it came from (`overrides` as [`Settings::load`] was given them).
    pub(crate) fn describe_local(&self, overrides: &Overrides) -> Vec<String> {
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        let config = match (&self.config_file, &overrides.config_file) {
            (Some(path), Some(_)) => format!("st2.conf: {} (from --config-file)", path.display()),
            (Some(path), None) if set(env::ST2_CONF) => {
                format!("st2.conf: {} (from {})", path.display(), env::ST2_CONF)
            }
            (Some(path), None) => format!("st2.conf: {} (default)", path.display()),
            (None, _) => {
                format!("st2.conf: none ({DEFAULT_CONFIG_FILE} does not exist; built-in defaults)")
            }
        };
        let in_file = self.config_file.as_deref().is_some_and(|path| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|text| Ini::parse(&text).ok())
                .is_some_and(|ini| ini.get("system", "base_path").is_some())
        });
        let from = if overrides.base_path.is_some() {
            "from --base-path".to_string()
        } else if set(env::ST2_BASE_PATH) {
            format!("from {}", env::ST2_BASE_PATH)
        } else if in_file {
            "from [system] base_path in st2.conf".to_string()
        } else {
            "default".to_string()
        };
        vec![
            config,
            format!("base path: {} ({from})", self.base_path.display()),
        ]
    }
}

/// `packs_base_paths` as upstream splits it: on `:`, a trailing `:` dropped, empty entries and
/// duplicates removed, order kept (`st2common/st2common/content/utils.py`).
fn split_packs_base_paths(value: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for part in value
        .split(':')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let path = absolute(PathBuf::from(part));
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// The OS reason of an I/O error without Rust's `(os error N)` suffix.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::from_ini(&Ini::parse(text).unwrap(), None, None).unwrap()
    }

    #[test]
    fn defaults_follow_stackstorm() {
        let s = settings("");
        assert_eq!(s.base_path, PathBuf::from("/opt/stackstorm"));
        assert_eq!(s.packs_dir(), Path::new("/opt/stackstorm/packs"));
        assert_eq!(
            s.venv_dir("x"),
            PathBuf::from("/opt/stackstorm/virtualenvs/x")
        );
        assert_eq!(
            s.config_path("x"),
            PathBuf::from("/opt/stackstorm/configs/x.yaml")
        );
        assert_eq!(s.index_urls, vec![DEFAULT_INDEX_URL]);
        assert_eq!(s.python_binary, "python3");
        assert_eq!(s.store_path, PathBuf::from("/opt/stackstorm/st2.db"));
    }

    #[test]
    fn base_path_moves_everything_and_override_wins() {
        let s = settings("[system]\nbase_path = /srv/st2\n");
        assert_eq!(s.packs_dir(), Path::new("/srv/st2/packs"));
        let ini = Ini::parse("[system]\nbase_path = /srv/st2\n").unwrap();
        let s = Settings::from_ini(&ini, Some("/tmp/home".into()), None).unwrap();
        assert_eq!(s.configs_dir(), PathBuf::from("/tmp/home/configs"));
    }

    #[test]
    fn packs_base_paths_split_dedup_and_system_first() {
        let s = settings(
            "[content]\nsystem_packs_base_path = /sys/packs\npacks_base_paths = /a::/b:/a:/sys/packs:\n",
        );
        assert_eq!(
            s.pack_search_paths(),
            vec![
                PathBuf::from("/sys/packs"),
                PathBuf::from("/a"),
                PathBuf::from("/b")
            ]
        );
    }

    #[test]
    fn public_api_url_follows_get_full_public_api_url() {
        assert_eq!(settings("").public_api_url, "http://127.0.0.1:9101/v1");
        assert_eq!(
            settings("[api]\nhost = 0.0.0.0\nport = 9999\n").public_api_url,
            "http://0.0.0.0:9999/v1"
        );
        // `[auth] api_url` wins, its trailing slash dropped.
        assert_eq!(
            settings("[api]\nport = 1\n[auth]\napi_url = https://st2.example.com/api/\n")
                .public_api_url,
            "https://st2.example.com/api/v1"
        );
        let ini = Ini::parse("[api]\nport = web\n").unwrap();
        let err = Settings::from_ini(&ini, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[api] port: expected a port number"), "{err}");
    }

    #[test]
    fn workflow_max_concurrent_actions_is_a_positive_count() {
        assert_eq!(settings("").workflow_max_concurrent_actions, 8);
        assert_eq!(
            settings("[workflow_engine]\nmax_concurrent_actions = 2\n")
                .workflow_max_concurrent_actions,
            2
        );
        for bad in ["0", "-1", "many"] {
            let ini = Ini::parse(&format!(
                "[workflow_engine]\nmax_concurrent_actions = {bad}\n"
            ))
            .unwrap();
            let err = Settings::from_ini(&ini, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("expected a positive whole number"), "{err}");
        }
    }

    #[test]
    fn index_url_is_a_list() {
        let s = settings("[content]\nindex_url = file:///a.json, https://b/index.json\n");
        assert_eq!(s.index_urls, vec!["file:///a.json", "https://b/index.json"]);
    }

    #[test]
    fn runner_options() {
        let s = settings(
            "[actionrunner]\npython_binary = /usr/bin/python3.11\nvirtualenv_opts = --system-site-packages\npip_opts = --index-url, http://127.0.0.1/simple\n",
        );
        assert_eq!(s.python_binary, "/usr/bin/python3.11");
        assert_eq!(s.virtualenv_opts, vec!["--system-site-packages"]);
        assert_eq!(s.pip_opts, vec!["--index-url", "http://127.0.0.1/simple"]);
        assert!(s.native_actions);
        assert!(!settings("[actionrunner]\nnative_actions = no\n").native_actions);
        assert_eq!(s.python_runner_log_level, "DEBUG");
        assert!(!s.enable_common_libs);
        let s = settings(
            "[actionrunner]\npython_runner_log_level = INFO\n[packs]\nenable_common_libs = True\n",
        );
        assert_eq!(s.python_runner_log_level, "INFO");
        assert!(s.enable_common_libs);
        let ini = Ini::parse("[actionrunner]\nnative_actions = maybe\n").unwrap();
        let err = Settings::from_ini(&ini, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("native_actions: expected a boolean"), "{err}");
    }

    /// A full st2.conf in the shape StackStorm packages install (fixtures/st2.conf).
    #[test]
    fn reads_a_packaged_st2_conf() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/st2.conf");
        let text = std::fs::read_to_string(&path).unwrap();
        let s = Settings::from_ini(&Ini::parse(&text).unwrap(), None, Some(&path)).unwrap();
        assert_eq!(s.base_path, PathBuf::from("/var/lib/stackstorm"));
        assert_eq!(
            s.pack_search_paths(),
            vec![
                PathBuf::from("/var/lib/stackstorm/packs"),
                PathBuf::from("/srv/st2/packs"),
                PathBuf::from("/home/ops/packs")
            ]
        );
        assert_eq!(s.index_urls.len(), 2);
        assert_eq!(s.pack_group.as_deref(), Some("st2packs"));
        assert_eq!(s.python_binary, "/usr/bin/python3");
        assert_eq!(s.virtualenv_opts, vec!["--always-copy"]);
        // A continuation line continues the list.
        assert_eq!(
            s.pip_opts,
            vec!["--index-url", "https://pypi.example.com/simple"]
        );
        assert_eq!(
            s.encryption_key_path,
            Some(PathBuf::from("/etc/st2/keys/datastore_key.json"))
        );
        assert_eq!(s.store_path, PathBuf::from("/var/lib/stackstorm/st2.db"));
    }

    #[test]
    fn ssh_runner_options_as_upstream_names_them() {
        let s = settings("");
        assert_eq!(s.ssh, SshSettings::default());
        assert_eq!(
            s.ssh.key_file.as_deref(),
            Some(Path::new("/home/stanley/.ssh/stanley_rsa"))
        );
        let s = settings(
            "[system_user]\nuser = ops\nssh_key_file = /keys/ops\n[ssh_runner]\nremote_dir = /var/tmp\n\
             allow_partial_failure = True\nmax_parallel_actions = 4\nuse_ssh_config = yes\n\
             ssh_config_file_path = /etc/st2/ssh_config\nssh_connect_timeout = 5\n",
        );
        assert_eq!(s.system_user, "ops");
        assert_eq!(
            s.ssh,
            SshSettings {
                key_file: Some(PathBuf::from("/keys/ops")),
                key_file_configured: true,
                remote_dir: "/var/tmp".into(),
                allow_partial_failure: true,
                max_parallel_actions: 4,
                use_ssh_config: true,
                ssh_config_file_path: "/etc/st2/ssh_config".into(),
                connect_timeout: 5,
            }
        );
        // An empty key file means none: the agent and the user's default keys.
        let s = settings("[system_user]\nssh_key_file =\n");
        assert_eq!(s.ssh.key_file, None);
        assert!(s.ssh.key_file_configured);
        for bad in [
            "[ssh_runner]\nssh_connect_timeout = soon\n",
            "[ssh_runner]\nmax_parallel_actions = 0\n",
            "[ssh_runner]\nuse_ssh_config = maybe\n",
        ] {
            let ini = Ini::parse(bad).unwrap();
            let err = Settings::from_ini(&ini, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("[ssh_runner]"), "{err}");
        }
    }

    #[test]
    fn bad_timeout_is_an_error_naming_the_option() {
        let ini = Ini::parse("[content]\nnetwork_timeout = soon\n").unwrap();
        let err = Settings::from_ini(&ini, None, Some(Path::new("st2.conf"))).unwrap_err();
        assert!(
            err.to_string().contains("[content] network_timeout"),
            "{err}"
        );
    }

    /// Found by `settings::ini::proptests::settings_never_panic`: `Duration::from_secs_f64`
    /// panicked on a finite timeout too big for a `Duration`.
    #[test]
    fn huge_or_tiny_timeout_is_an_error_not_a_panic() {
        for value in ["1e300", "1e20", "1e-320"] {
            let ini = Ini::parse(&format!("[content]\nnetwork_timeout = {value}\n")).unwrap();
            let err = Settings::from_ini(&ini, None, None).unwrap_err();
            assert!(
                err.to_string()
                    .contains("expected a positive number of seconds"),
                "{value}: {err}"
            );
        }
        let ini = Ini::parse("[content]\nnetwork_timeout = 0.5\n").unwrap();
        let settings = Settings::from_ini(&ini, None, None).unwrap();
        assert_eq!(settings.network_timeout, Duration::from_millis(500));
    }

    #[test]
    fn not_writable_base_path_says_how_to_choose_another() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let s = Settings::from_ini(&Ini::default(), Some(file.join("home")), None).unwrap();
        let message = s.ensure_writable().unwrap_err().to_string();
        assert!(message.contains("is not writable"), "{message}");
        assert!(message.contains("--base-path"), "{message}");
    }
}

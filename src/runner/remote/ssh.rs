//! The system OpenSSH client, as the remote runners start it: one `ssh` process per host
//! and step, with options that give upstream's behaviour (`paramiko_ssh.py`):
//!
//! - **host keys are not checked and not recorded**: upstream's paramiko client uses
//!   `AutoAddPolicy` and never loads or saves a known_hosts file, so any host key is
//!   accepted (`StrictHostKeyChecking no`, known_hosts files `/dev/null`);
//! - the SSH config file is read only with `[ssh_runner] use_ssh_config` (then
//!   `ssh_config_file_path`, not the system-wide one); otherwise none is (`-F` our own);
//! - credentials in upstream's order: the action's `password`, else its `private_key` (a
//!   path, or the key itself written to a 0600 file of ours that is removed afterwards),
//!   else the SSH config's `IdentityFile`, else `[system_user] ssh_key_file`, else the
//!   agent and the user's default keys; the user is the action's `username`, else the SSH
//!   config's `User`, else `[system_user] user`; values st2.conf gives are defaults written
//!   after the `Include` of the user's config, so that the config wins as upstream's does;
//! - a password or passphrase reaches `ssh` through `SSH_ASKPASS`: `st2` itself, started by
//!   `ssh` with [`crate::settings::env::ST2_SSH_ASKPASS`] set, prints the secret it finds
//!   in its environment ([`super::askpass`]); never on a command line, never in a file.
//!   Without one, `BatchMode` makes `ssh` fail rather than ask anyone;
//! - `ssh`'s own messages go to a log file per host (`-E`), so that the command's stderr is
//!   the command's, and a failed connection has its reason.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::hosts::Host;
use crate::runner::shell::quote;
use crate::settings::{env, SshSettings};

/// OpenSSH's default port: a port equal to it is left to the SSH config (upstream's rule).
const DEFAULT_PORT: u16 = 22;

/// How the login is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Login {
    /// The `password` parameter (password or keyboard-interactive authentication only).
    Password,
    /// A key file: the `private_key` parameter (a path, or the key written to our file).
    Key(PathBuf),
    /// What the SSH config and st2.conf give (`IdentityFile`, `[system_user] ssh_key_file`),
    /// else the agent and the default keys.
    Default,
}

/// Everything one execution's `ssh` processes share.
pub(crate) struct SshClient {
    program: PathBuf,
    /// Our 0700 directory: the config file, a key given as material, the logs.
    dir: tempfile::TempDir,
    /// Options every `ssh` gets, after `ssh`.
    args: Vec<OsString>,
    /// Environment of every `ssh`: askpass and the secrets it answers with.
    envs: Vec<(&'static str, OsString)>,
    /// `bastion_host`: name and port.
    bastion: Option<(String, Option<u16>)>,
    /// The port of the `port` parameter.
    port: Option<u16>,
}

/// What an execution's connections are made with.
pub(crate) struct ClientOptions<'a> {
    /// The remote runners' settings.
    pub settings: &'a SshSettings,
    /// `[system_user] user`.
    pub system_user: &'a str,
    /// The `username` parameter.
    pub username: Option<&'a str>,
    /// The `password` parameter.
    pub password: Option<&'a str>,
    /// How to log in.
    pub login: Login,
    /// The key file `Login::Default` falls back to, after the SSH config's.
    pub default_key: Option<PathBuf>,
    /// The `passphrase` parameter.
    pub passphrase: Option<&'a str>,
    /// The `port` parameter.
    pub port: Option<u16>,
    /// The `bastion_host` parameter.
    pub bastion: Option<(String, Option<u16>)>,
    /// Seconds to wait for a connection (and the SSH banner).
    pub connect_timeout: u64,
}

impl SshClient {
    /// Prepare the config file and the options. `dir` is a fresh 0700 directory of ours.
    pub(crate) fn new(
        program: PathBuf,
        dir: tempfile::TempDir,
        options: ClientOptions<'_>,
    ) -> Result<SshClient, String> {
        let config = dir.path().join("ssh_config");
        write_private(&config, config_text(&options)?.as_bytes())
            .map_err(|err| format!("cannot write the SSH config of this run: {err}"))?;
        let secrets = options.password.is_some() || options.passphrase.is_some();
        let mut args: Vec<OsString> = vec!["-F".into(), config.into_os_string()];
        // Upstream's client: no host key checking, nothing recorded; no mux master, agent
        // or X11 forwarding, forwardings or local commands from a user's config.
        for option in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            "ControlMaster=no",
            "ForwardAgent=no",
            "ForwardX11=no",
            "ClearAllForwardings=yes",
            "PermitLocalCommand=no",
            "NumberOfPasswordPrompts=1",
        ] {
            args.push("-o".into());
            args.push(option.into());
        }
        args.push("-o".into());
        args.push(format!("ConnectTimeout={}", options.connect_timeout).into());
        args.push("-o".into());
        args.push(format!("BatchMode={}", if secrets { "no" } else { "yes" }).into());
        match &options.login {
            Login::Password => {
                for option in [
                    "PubkeyAuthentication=no",
                    "PreferredAuthentications=password,keyboard-interactive",
                ] {
                    args.push("-o".into());
                    args.push(option.into());
                }
            }
            Login::Key(path) => {
                args.push("-i".into());
                args.push(path.clone().into_os_string());
                for option in ["IdentitiesOnly=yes", "PreferredAuthentications=publickey"] {
                    args.push("-o".into());
                    args.push(option.into());
                }
            }
            Login::Default => {}
        }
        if let Some(user) = options.username {
            args.push("-l".into());
            args.push(user.into());
        }
        let mut envs = Vec::new();
        if secrets {
            let exe = std::env::current_exe()
                .map_err(|err| format!("cannot find the st2 program for SSH_ASKPASS: {err}"))?;
            envs.push((env::SSH_ASKPASS, exe.into_os_string()));
            envs.push((env::SSH_ASKPASS_REQUIRE, "force".into()));
            envs.push((env::ST2_SSH_ASKPASS, "1".into()));
            if let Some(password) = options.password {
                envs.push((env::ST2_SSH_ASKPASS_PASSWORD, password.into()));
            }
            if let Some(passphrase) = options.passphrase {
                envs.push((env::ST2_SSH_ASKPASS_PASSPHRASE, passphrase.into()));
            }
        }
        Ok(SshClient {
            program,
            dir,
            args,
            envs,
            bastion: options.bastion,
            port: options.port,
        })
    }

    /// Where `ssh`'s messages about `host` go.
    pub(crate) fn log_path(&self, index: usize) -> PathBuf {
        self.dir.path().join(format!("host-{index}.log"))
    }

    /// The `-p` of a host: its own port, else the `port` parameter; none for 22, so that
    /// the SSH config's `Port` applies (upstream's rule), else OpenSSH's 22.
    fn port_of(&self, host: &Host) -> Option<u16> {
        host.port.or(self.port).filter(|port| *port != DEFAULT_PORT)
    }

    /// `ssh` running `remote` on `host`, its messages in `log`; with a terminal when `pty`.
    pub(crate) fn command(&self, host: &Host, log: &Path, pty: bool, remote: &str) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        command.arg("-E").arg(log);
        command.arg(if pty { "-tt" } else { "-T" });
        command.args(["-e", "none"]);
        let port = self.port_of(host);
        if let Some(port) = port {
            command.arg("-p").arg(port.to_string());
        }
        if let Some((bastion, bastion_port)) = &self.bastion {
            let proxy = self.proxy_command(bastion, bastion_port.or(port), log);
            command.arg("-o").arg(format!("ProxyCommand={proxy}"));
        }
        command.arg("--").arg(&host.name).arg(remote);
        for name in [
            env::SSH_ASKPASS,
            env::SSH_ASKPASS_REQUIRE,
            env::ST2_SSH_ASKPASS,
            env::ST2_SSH_ASKPASS_PASSWORD,
            env::ST2_SSH_ASKPASS_PASSPHRASE,
        ] {
            command.env_remove(name);
        }
        for (name, value) in &self.envs {
            command.env(name, value);
        }
        command
    }

    /// Upstream connects to the bastion with the same parameters and opens a `direct-tcpip`
    /// channel through it; ours is a second `ssh -W` with the same options, as the
    /// `ProxyCommand` of the first (`%h`, `%p`: the host and port `ssh` connects to).
    fn proxy_command(&self, bastion: &str, port: Option<u16>, log: &Path) -> String {
        let mut words: Vec<String> = vec![self.program.to_string_lossy().into_owned()];
        words.extend(
            self.args
                .iter()
                .map(|arg| arg.to_string_lossy().into_owned()),
        );
        words.push("-E".into());
        words.push(log.to_string_lossy().into_owned());
        if let Some(port) = port {
            words.push("-p".into());
            words.push(port.to_string());
        }
        words.push("--".into());
        words.push(bastion.to_string());
        // `%` starts a token in a ProxyCommand: ours are the last two words.
        let mut line: Vec<String> = words
            .iter()
            .map(|word| quote(word).replace('%', "%%"))
            .collect();
        line.insert(line.len() - 2, "-W '[%h]:%p'".into());
        line.join(" ")
    }
}

/// Our SSH config: the user's (with `use_ssh_config`), then st2.conf's defaults.
fn config_text(options: &ClientOptions<'_>) -> Result<String, String> {
    let mut text = String::from("# Written by st2 for one execution of a remote runner.\n");
    if options.settings.use_ssh_config {
        let path = user_config_path(&options.settings.ssh_config_file_path);
        if let Err(err) = std::fs::File::open(&path) {
            return Err(format!(
                "Error accessing ssh config file {} ([ssh_runner] ssh_config_file_path): {}",
                path.display(),
                crate::settings::io_reason(&err)
            ));
        }
        text.push_str(&format!(
            "Include {}\n",
            config_word(&path.to_string_lossy(), "[ssh_runner] ssh_config_file_path")?
        ));
    }
    text.push_str("Host *\n");
    text.push_str(&format!(
        "  User {}\n",
        config_word(options.system_user, "[system_user] user")?
    ));
    if options.login == Login::Default {
        if let Some(key) = &options.default_key {
            text.push_str(&format!(
                "  IdentityFile {}\n  IdentitiesOnly yes\n",
                config_word(&key.to_string_lossy(), "[system_user] ssh_key_file")?
            ));
        }
    }
    // For the connections `ssh` makes on its own (a ProxyJump of the user's config).
    text.push_str(
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  \
         GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n",
    );
    text.push_str(&format!("  ConnectTimeout {}\n", options.connect_timeout));
    let secrets = options.password.is_some() || options.passphrase.is_some();
    text.push_str(&format!(
        "  BatchMode {}\n",
        if secrets { "no" } else { "yes" }
    ));
    Ok(text)
}

/// `ssh_config_file_path` with `~` expanded, relative to the current directory.
fn user_config_path(value: &str) -> PathBuf {
    let path = expand_home(value);
    std::path::absolute(&path).unwrap_or(path)
}

/// `~` and `~/...` made absolute with `$HOME` (as `os.path.expanduser` does).
pub(crate) fn expand_home(value: &str) -> PathBuf {
    let home = std::env::var_os(env::HOME).filter(|home| !home.is_empty());
    match (value, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (value, Some(home)) if value.starts_with("~/") => PathBuf::from(home).join(&value[2..]),
        (value, _) => PathBuf::from(value),
    }
}

/// A value in double quotes, as ssh_config reads it.
fn config_word(value: &str, what: &str) -> Result<String, String> {
    if value.contains(['"', '\n', '\r']) {
        return Err(format!(
            "{what} {value:?} cannot be given to ssh: it holds a double quote or a line break"
        ));
    }
    Ok(format!("\"{value}\""))
}

/// Create `path` readable by us only, with `bytes`.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(
        login: Login,
        settings: &SshSettings,
        extra: impl FnOnce(&mut ClientOptions),
    ) -> SshClient {
        let mut options = ClientOptions {
            settings,
            system_user: "stanley",
            username: None,
            password: None,
            login,
            default_key: Some(PathBuf::from("/keys/stanley")),
            passphrase: None,
            port: None,
            bastion: None,
            connect_timeout: 7,
        };
        extra(&mut options);
        SshClient::new(
            PathBuf::from("/usr/bin/ssh"),
            tempfile::tempdir().unwrap(),
            options,
        )
        .unwrap()
    }

    fn args(command: &Command) -> Vec<String> {
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    fn host(given: &str) -> Host {
        super::super::hosts::parse(given).unwrap().remove(0)
    }

    fn config(client: &SshClient) -> String {
        std::fs::read_to_string(client.dir.path().join("ssh_config")).unwrap()
    }

    /// Upstream's `test_paramiko_ssh.py::test_create_with_password`: password only, no keys,
    /// no agent; the password reaches ssh through askpass, not the arguments.
    #[test]
    fn test_create_with_password() {
        let settings = SshSettings::default();
        let client = client(Login::Password, &settings, |o| {
            o.password = Some("the-password");
            o.username = Some("ubuntu");
        });
        let command = client.command(&host("dummy.host.org"), Path::new("/l"), false, "true");
        let words = args(&command);
        assert!(
            words.contains(&"PubkeyAuthentication=no".to_string()),
            "{words:?}"
        );
        assert!(words.contains(&"BatchMode=no".to_string()), "{words:?}");
        assert!(
            !words.iter().any(|w| w.contains("the-password")),
            "{words:?}"
        );
        assert_eq!(&words[words.len() - 3..], ["--", "dummy.host.org", "true"]);
        let envs: Vec<(String, String)> = command
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        assert!(envs.contains(&(env::ST2_SSH_ASKPASS_PASSWORD.into(), "the-password".into())));
        assert!(envs.contains(&(env::SSH_ASKPASS_REQUIRE.into(), "force".into())));
        // The default key is not offered with a password.
        assert!(!config(&client).contains("IdentityFile"));
    }

    /// Upstream's `test_create_with_key` and `test_deprecated_key_argument`: that key only.
    #[test]
    fn test_create_with_key() {
        let settings = SshSettings::default();
        let client = client(Login::Key(PathBuf::from("/k/id_rsa")), &settings, |_| {});
        let words = args(&client.command(&host("h"), Path::new("/l"), false, "true"));
        let at = words.iter().position(|w| w == "-i").unwrap();
        assert_eq!(words[at + 1], "/k/id_rsa");
        assert!(words.contains(&"IdentitiesOnly=yes".to_string()));
        assert!(words.contains(&"BatchMode=yes".to_string()));
        assert!(!config(&client).contains("IdentityFile"));
    }

    /// Upstream's `test_create_without_credentials_use_default_key`: the system user and
    /// its key, as defaults after the user's config.
    #[test]
    fn test_create_without_credentials_use_default_key() {
        let settings = SshSettings::default();
        let client = client(Login::Default, &settings, |_| {});
        let text = config(&client);
        assert!(text.contains("  User \"stanley\"\n"), "{text}");
        assert!(
            text.contains("  IdentityFile \"/keys/stanley\"\n"),
            "{text}"
        );
        assert!(!text.contains("Include"), "{text}");
    }

    /// Upstream's `test_use_ssh_config_port_value_provided_in_the_config`: a port of 22 (or
    /// none) leaves the config's `Port` in force; another port is given to ssh.
    #[test]
    fn test_use_ssh_config_port_value_provided_in_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, "Host dummy.host.org\n  Port 6677\n").unwrap();
        let settings = SshSettings {
            use_ssh_config: true,
            ssh_config_file_path: file.to_string_lossy().into_owned(),
            ..SshSettings::default()
        };
        let port = |port: Option<u16>, given: &str| {
            let client = client(Login::Default, &settings, |o| o.port = port);
            let words = args(&client.command(&host(given), Path::new("/l"), false, "true"));
            words
                .iter()
                .position(|w| w == "-p")
                .map(|at| words[at + 1].clone())
        };
        assert_eq!(port(None, "dummy.host.org"), None);
        assert_eq!(port(Some(22), "dummy.host.org"), None);
        assert_eq!(port(Some(5555), "dummy.host.org"), Some("5555".into()));
        assert_eq!(port(Some(9999), "dummy.host.org"), Some("9999".into()));
        assert_eq!(port(None, "dummy.host.org:2200"), Some("2200".into()));
        let text = config(&client(Login::Default, &settings, |_| {}));
        assert!(
            text.starts_with(&format!(
                "# Written by st2 for one execution of a remote runner.\nInclude \"{}\"\nHost *\n",
                file.display()
            )),
            "{text}"
        );
    }

    /// Upstream's `test_fail_set_proxycommand`: an SSH config that cannot be read is an
    /// error naming it.
    #[test]
    fn test_fail_set_proxycommand() {
        let settings = SshSettings {
            use_ssh_config: true,
            ssh_config_file_path: "/nonexistent/ssh_config".into(),
            ..SshSettings::default()
        };
        let options = ClientOptions {
            settings: &settings,
            system_user: "stanley",
            username: None,
            password: None,
            login: Login::Default,
            default_key: None,
            passphrase: None,
            port: None,
            bastion: None,
            connect_timeout: 7,
        };
        let err = SshClient::new("/usr/bin/ssh".into(), tempfile::tempdir().unwrap(), options)
            .err()
            .unwrap();
        assert!(
            err.contains("Error accessing ssh config file /nonexistent/ssh_config"),
            "{err}"
        );
    }

    /// Upstream's `test_create_with_key_via_bastion`: the bastion is reached with the same
    /// options, and the host through it.
    #[test]
    fn test_create_with_key_via_bastion() {
        let settings = SshSettings::default();
        let client = client(Login::Key(PathBuf::from("/k/id 50%")), &settings, |o| {
            o.bastion = Some(("bastion.host.org".into(), None));
            o.port = Some(2222);
        });
        let words = args(&client.command(&host("dummy.host.org"), Path::new("/l"), false, "true"));
        let proxy = words
            .iter()
            .find_map(|w| w.strip_prefix("ProxyCommand="))
            .unwrap();
        assert!(proxy.starts_with("/usr/bin/ssh -F "), "{proxy}");
        assert!(proxy.contains(" -i '/k/id 50%%' "), "{proxy}");
        assert!(
            proxy.ends_with(" -E /l -p 2222 -W '[%h]:%p' -- bastion.host.org"),
            "{proxy}"
        );
    }

    #[test]
    fn home_is_expanded() {
        let home = std::env::var("HOME").unwrap_or_default();
        if home.is_empty() {
            return;
        }
        assert_eq!(
            expand_home("~/.ssh/config"),
            PathBuf::from(&home).join(".ssh/config")
        );
        assert_eq!(expand_home("/etc/x"), PathBuf::from("/etc/x"));
        assert_eq!(expand_home("~other/x"), PathBuf::from("~other/x"));
    }
}

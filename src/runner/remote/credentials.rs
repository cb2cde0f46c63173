//! How an execution logs in, in upstream's order (`paramiko_ssh_runner.py` `pre_run`,
//! `paramiko_ssh.py` `_connect`), decided before connecting anywhere: the `password`
//! parameter; else `private_key` (the key itself, written to our directory, or a path);
//! else what the SSH config and `[system_user] ssh_key_file` give, and ours: the SSH agent
//! and the user's default keys when neither names a key.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ssh::{self, Login};
use super::{key, text};

/// How an execution logs in, decided before connecting.
pub(super) struct Credentials<'a> {
    /// How to log in.
    pub login: Login,
    /// The key file `Login::Default` falls back to.
    pub default_key: Option<PathBuf>,
    /// The passphrase, when a key is used.
    pub passphrase: Option<&'a str>,
    /// An encrypted key used without a passphrase (through the agent): what it is.
    pub encrypted_key_without_passphrase: Option<String>,
}

/// Upstream's order: the `password` parameter; else `private_key` (the key itself, written
/// to `dir`, or a path); else what the SSH config and `[system_user] ssh_key_file` give.
pub(super) fn credentials<'a>(
    parameters: &'a Map<String, Value>,
    settings: &crate::settings::SshSettings,
    dir: &Path,
) -> Result<Credentials<'a>, String> {
    let passphrase = text(parameters, "passphrase");
    let mut encrypted_key: Option<String> = None;
    let (login, default_key) = if text(parameters, "password").is_some() {
        (Login::Password, None)
    } else if let Some(private_key) = text(parameters, "private_key") {
        if key::is_material(private_key) {
            let path = dir.join("private_key");
            let material = key::normalized(private_key);
            ssh::write_private(&path, material.as_bytes())
                .map_err(|err| format!("cannot write the private key for ssh: {err}"))?;
            if key::is_encrypted(&material) {
                encrypted_key = Some("The private key (private_key parameter)".into());
            }
            (Login::Key(path), None)
        } else {
            let path = ssh::expand_home(private_key.trim());
            let what = format!("the private_key parameter ({private_key})");
            if read_key(&path, &what)? {
                encrypted_key = Some(format!("Private key file {}", path.display()));
            }
            (Login::Key(path), None)
        }
    } else {
        let fallback = match &settings.key_file {
            Some(path) if settings.key_file_configured => {
                Some(ssh::expand_home(&path.to_string_lossy()))
            }
            // Ours: upstream's default key only when it exists.
            Some(path) if path.is_file() => Some(path.clone()),
            _ => None,
        };
        if let Some(path) = &fallback {
            if read_key(path, "[system_user] ssh_key_file")? {
                encrypted_key = Some(format!("Private key file {}", path.display()));
            }
        } else if !settings.use_ssh_config {
            if passphrase.is_some() {
                return Err("passphrase should accompany private key material".into());
            }
            if !agent_or_default_key() {
                return Err(format!(
                    "Either password or key file location or key material should be supplied \
                     for action. You can also add an entry for the hosts in SSH config file {} \
                     ([ssh_runner] use_ssh_config and ssh_config_file_path).",
                    settings.ssh_config_file_path
                ));
            }
        }
        (Login::Default, fallback)
    };
    let passphrase = if login == Login::Password {
        None
    } else {
        passphrase
    };
    let encrypted_key_without_passphrase = match (encrypted_key, passphrase) {
        (Some(what), None) => {
            if !agent_runs() {
                return Err(format!(
                    "{what} is passphrase protected. Supply a passphrase."
                ));
            }
            Some(what)
        }
        _ => None,
    };
    Ok(Credentials {
        login,
        default_key,
        passphrase,
        encrypted_key_without_passphrase,
    })
}

/// Whether an SSH agent runs for us (`SSH_AUTH_SOCK`).
fn agent_runs() -> bool {
    std::env::var_os(crate::settings::env::SSH_AUTH_SOCK).is_some_and(|sock| !sock.is_empty())
}

/// Whether `ssh` has something to log in with when it is given no key: an SSH agent, or
/// one of OpenSSH's default keys in `~/.ssh`. (Ours: upstream refuses to connect without a
/// password or a key file, and never uses either.)
fn agent_or_default_key() -> bool {
    if agent_runs() {
        return true;
    }
    let ssh_dir = ssh::expand_home("~/.ssh");
    [
        "id_rsa",
        "id_ecdsa",
        "id_ecdsa_sk",
        "id_ed25519",
        "id_ed25519_sk",
        "id_xmss",
        "id_dsa",
    ]
    .iter()
    .any(|name| ssh_dir.join(name).is_file())
}

/// Whether the key file can be read and is encrypted; an error naming `what` when it
/// cannot be read.
fn read_key(path: &Path, what: &str) -> Result<bool, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(key::is_encrypted(&String::from_utf8_lossy(&bytes))),
        Err(err) => Err(format!(
            "the private key file {} ({what}) cannot be read: {}",
            path.display(),
            crate::settings::io_reason(&err)
        )),
    }
}

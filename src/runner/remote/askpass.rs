//! `st2` as `ssh`'s askpass program. The remote runners start `ssh` with `SSH_ASKPASS`
//! pointing at the `st2` program itself, `SSH_ASKPASS_REQUIRE=force` (OpenSSH 8.4 and
//! later: never the terminal) and [`env::ST2_SSH_ASKPASS`] set; `ssh` runs it with the
//! prompt as its only argument, and it prints the password or the passphrase found in its
//! environment. The secret is never on a command line (where `ps` shows it) nor in a file;
//! the environment of a process is readable by its user only.

use std::io::Write;
use std::process::ExitCode;

use crate::settings::env;

/// When this process was started as `ssh`'s askpass program: answer the prompt and give the
/// exit code (`main` returns it at once). `None` otherwise.
pub(crate) fn answer_if_asked() -> Option<ExitCode> {
    if std::env::var_os(env::ST2_SSH_ASKPASS).is_none_or(|value| value != "1") {
        return None;
    }
    let prompt = std::env::args_os().nth(1).unwrap_or_default();
    let secret = secret_for(&prompt.to_string_lossy(), |name| std::env::var(name).ok());
    Some(match secret {
        Some(secret) => {
            let mut stdout = std::io::stdout().lock();
            let written = stdout
                .write_all(secret.as_bytes())
                .and_then(|()| stdout.write_all(b"\n"))
                .and_then(|()| stdout.flush());
            if written.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        // Anything else (a one-time code, a question): no answer, and ssh gives up.
        None => ExitCode::FAILURE,
    })
}

/// The secret that answers `prompt`: the key passphrase for `Enter passphrase for key ...`,
/// the password for `user@host's password:` and keyboard-interactive's `Password:`.
fn secret_for(prompt: &str, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let prompt = prompt.to_lowercase();
    let name = if prompt.contains("passphrase") {
        env::ST2_SSH_ASKPASS_PASSPHRASE
    } else if prompt.contains("password") {
        env::ST2_SSH_ASKPASS_PASSWORD
    } else {
        return None;
    };
    lookup(name).filter(|secret| !secret.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_prompt_gets_its_secret() {
        let lookup = |name: &str| match name {
            env::ST2_SSH_ASKPASS_PASSWORD => Some("pw".to_string()),
            env::ST2_SSH_ASKPASS_PASSPHRASE => Some("phrase".to_string()),
            _ => None,
        };
        assert_eq!(
            secret_for("Enter passphrase for key '/tmp/k': ", lookup),
            Some("phrase".into())
        );
        assert_eq!(
            secret_for("stanley@web1's password: ", lookup),
            Some("pw".into())
        );
        assert_eq!(
            secret_for("(stanley@web1) Password: ", lookup),
            Some("pw".into())
        );
        assert_eq!(secret_for("Verification code: ", lookup), None);
        assert_eq!(
            secret_for(
                "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
                lookup
            ),
            None
        );
        assert_eq!(secret_for("Password: ", |_| None), None);
    }
}

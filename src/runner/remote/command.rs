//! What runs on each host: upstream's command line (`paramiko_command_action.py`,
//! `paramiko_script_action.py`: the `export`s, the `cd`, `sudo -E -- bash -c`), inside a
//! small POSIX shell wrapper of ours that
//!
//! - reads the sudo password from the session's input, so that it is never on a command
//!   line (upstream puts `echo -e '<password>'` into the command, where `ps` and the error
//!   messages show it);
//! - ends the command when the session is lost: a watcher reads the session's input, which
//!   `st2` keeps open and never writes to again; when `ssh` is killed (timeout, cancel, `st2`
//!   itself killed) the input ends and the watcher sends SIGTERM, then SIGKILL, to the
//!   session's process group (sshd makes the login shell a session and group leader; `sudo`
//!   relays the SIGTERM to its command);
//! - prints an end marker with the exit code on stdout and on stderr once the command is
//!   done, so that the run ends when the command does, even when something it left in the
//!   background still holds the output open (upstream returns at the exit status too,
//!   where OpenSSH waits for the output to close). The marker is a random word per run,
//!   written by `printf` in two halves so that it is not on the command line either.
//!
//! The user's command runs in a subshell of the login shell, as upstream's does in the
//! login shell itself: `exit`, `cd` and shell syntax behave the same.

use std::collections::BTreeMap;

use crate::runner::shell::quote;

/// Name of the shell variable the wrapper reads the sudo password into.
const PASSWORD_VAR: &str = "st2_sudo_password";

/// How the command gets its privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sudo {
    /// As the login user.
    No,
    /// `sudo -E -- bash -c ...` (upstream then asks for a terminal: stdout and stderr come
    /// merged).
    Passwordless,
    /// `sudo -S -E -- bash -c ...`, the password on sudo's input.
    WithPassword,
}

/// Upstream's command for one execution, in the two forms we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteCommand {
    /// What the wrapper runs (the sudo password taken from the wrapper's variable).
    pub exec: String,
    /// Upstream's command line as its error messages show it, the password masked.
    pub display: String,
}

/// `export K=V ...` of upstream's `_get_env_vars_export_string`: sorted by name, names and
/// values quoted; with a sudo password, `HISTFILE` and `HISTSIZE` keep it out of bash's
/// history (upstream's reason; ours never has it on the command line, but the variables are
/// the same).
fn export_string(env: &BTreeMap<String, String>, sudo: Sudo) -> String {
    if env.is_empty() {
        return String::new();
    }
    let mut env = env.clone();
    if sudo == Sudo::WithPassword {
        env.insert("HISTFILE".into(), "/dev/null".into());
        env.insert("HISTSIZE".into(), "0".into());
    }
    let exports: Vec<String> = env
        .iter()
        .map(|(name, value)| format!("{}={}", quote(name), quote(value)))
        .collect();
    format!("export {}", exports.join(" "))
}

/// `<exports> && cd <cwd> && <command>`, then under sudo as upstream wraps it.
fn assemble(env: &BTreeMap<String, String>, cwd: &str, command: &str, sudo: Sudo) -> RemoteCommand {
    let exports = export_string(env, sudo);
    let inner = if exports.is_empty() {
        format!("cd {cwd} && {command}")
    } else {
        format!("{exports} && cd {cwd} && {command}")
    };
    match sudo {
        Sudo::No => RemoteCommand {
            exec: inner.clone(),
            display: inner,
        },
        Sudo::Passwordless => {
            let line = format!("sudo -E -- bash -c {}", quote(&inner));
            RemoteCommand {
                exec: line.clone(),
                display: line,
            }
        }
        Sudo::WithPassword => {
            let line = format!("sudo -S -E -- bash -c {}", quote(&inner));
            RemoteCommand {
                exec: format!("printf '%s\\n' \"${PASSWORD_VAR}\" | {line}"),
                display: format!(
                    "set +o history ; echo -e '{}\\n' | {line}",
                    crate::redact::MASK
                ),
            }
        }
    }
}

/// A `remote-shell-cmd` action's command (`ParamikoRemoteCommandAction`): `cwd` as given,
/// unquoted, as upstream has it (so `~` works there).
pub(crate) fn shell_command(
    env: &BTreeMap<String, String>,
    cwd: &str,
    cmd: &str,
    sudo: Sudo,
) -> RemoteCommand {
    assemble(env, cwd, cmd, sudo)
}

/// A `remote-shell-script` action's command (`ParamikoRemoteScriptAction`): the uploaded
/// script with its arguments, `cwd` and the script's path quoted.
pub(crate) fn script_command(
    env: &BTreeMap<String, String>,
    cwd: &str,
    script: &str,
    arguments: &str,
    sudo: Sudo,
) -> RemoteCommand {
    let mut line = quote(script);
    if !arguments.is_empty() {
        line.push(' ');
        line.push_str(arguments);
    }
    assemble(env, &quote(cwd), &line, sudo)
}

/// The end marker of one run: a random word, and how the wrapper prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    head: String,
    tail: String,
}

impl Marker {
    /// A new random marker.
    pub(crate) fn new() -> Marker {
        let mut bytes = [0u8; 12];
        if !crate::sys::getrandom(&mut bytes) {
            // Without the kernel's randomness, the time and our pid still make a word no
            // command prints by chance.
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            for (index, byte) in seed.bytes().enumerate() {
                bytes[index % bytes.len()] ^= byte;
            }
        }
        Marker {
            head: "st2-end-".into(),
            tail: hex::encode(bytes),
        }
    }

    /// What precedes the exit code on stdout (and ends stderr): a newline and the word.
    pub(crate) fn pattern(&self) -> Vec<u8> {
        format!("\n{}{}", self.head, self.tail).into_bytes()
    }
}

/// What the wrapper does besides running the command.
#[derive(Debug, Clone)]
pub(crate) struct Wrapper<'a> {
    /// The end marker.
    pub marker: &'a Marker,
    /// The session has a terminal (stderr comes on stdout): one marker, on stdout.
    pub pty: bool,
    /// Read the sudo password from the first line of the input.
    pub sudo_password: bool,
    /// A directory to remove when the command is over or stopped (an uploaded script's).
    pub cleanup: Option<&'a str>,
}

impl Wrapper<'_> {
    /// The text the login shell runs.
    pub(crate) fn wrap(&self, command: &str) -> String {
        let mut text = String::from("exec 3<&0 </dev/null\n");
        if self.sudo_password {
            text.push_str(&format!("IFS= read -r {PASSWORD_VAR} <&3\n"));
        }
        let cleanup = self
            .cleanup
            .map(|dir| format!("rm -rf -- {}; ", quote(dir)))
            .unwrap_or_default();
        // With a terminal the command's input is the terminal, as upstream's is (sudo relays
        // its output differently when its input is not one); without, nothing (upstream
        // closes the input at once).
        let input = if self.pty { "<&3 " } else { "" };
        text.push_str(&format!("(\n{command}\n) {input}3<&- &\n"));
        text.push_str("st2_pid=$!\n");
        text.push_str(&format!(
            "{{ trap '' HUP TERM; while read -r st2_line; do :; done; kill -TERM 0; sleep 1; \
             {cleanup}kill -KILL 0; }} <&3 >/dev/null 2>&1 &\n"
        ));
        text.push_str("st2_watch=$!\nexec 3<&-\n");
        if self.sudo_password {
            text.push_str(&format!("unset {PASSWORD_VAR}\n"));
        }
        // Waiting with stderr to /dev/null: a shell reports a job killed by a signal there
        // ("Killed"), which would add our wrapper's text to the command's stderr.
        text.push_str("wait \"$st2_pid\" 2>/dev/null\nst2_rc=$?\n");
        text.push_str("{ kill -KILL \"$st2_watch\"; wait \"$st2_watch\"; } 2>/dev/null\n");
        if let Some(dir) = self.cleanup {
            text.push_str(&format!("rm -rf -- {}\n", quote(dir)));
        }
        let (head, tail) = (&self.marker.head, &self.marker.tail);
        text.push_str(&format!(
            "printf '\\n%s%s %s\\n' '{head}' '{tail}' \"$st2_rc\"\n"
        ));
        if !self.pty {
            text.push_str(&format!("printf '\\n%s%s\\n' '{head}' '{tail}' >&2\n"));
        }
        text.push_str("exit \"$st2_rc\"\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // Upstream's st2common/tests/unit/test_paramiko_command_action_model.py: the command
    // line as upstream builds it (`display`; `exec` differs only by the sudo password).

    #[test]
    fn test_get_command_string_no_env_vars() {
        let none = env(&[]);
        let line = shell_command(&none, "/tmp", "echo boo bah baz", Sudo::No);
        assert_eq!(line.display, "cd /tmp && echo boo bah baz");
        assert_eq!(line.exec, line.display);
        let line = shell_command(&none, "/tmp", "echo boo bah baz", Sudo::Passwordless);
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'cd /tmp && echo boo bah baz'"
        );
        let line = shell_command(&none, "/tmp", "\"/t/space stuff.sh\"", Sudo::No);
        assert_eq!(line.display, "cd /tmp && \"/t/space stuff.sh\"");
        let line = shell_command(&none, "/tmp", "echo boo bah baz", Sudo::WithPassword);
        assert_eq!(
            line.display,
            "set +o history ; echo -e '********\\n' | sudo -S -E -- bash -c \
             'cd /tmp && echo boo bah baz'"
        );
        assert_eq!(
            line.exec,
            "printf '%s\\n' \"$st2_sudo_password\" | sudo -S -E -- bash -c \
             'cd /tmp && echo boo bah baz'"
        );
    }

    #[test]
    fn test_get_command_string_with_env_vars() {
        let vars = env(&[("FOO", "BAR"), ("BAR", "BEET CAFE")]);
        let line = shell_command(&vars, "/tmp", "echo boo bah baz", Sudo::No);
        assert_eq!(
            line.display,
            "export BAR='BEET CAFE' FOO=BAR && cd /tmp && echo boo bah baz"
        );
        let line = shell_command(&vars, "/tmp", "echo boo bah baz", Sudo::Passwordless);
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'export BAR='\"'\"'BEET CAFE'\"'\"' FOO=BAR && cd /tmp && \
             echo boo bah baz'"
        );
        let line = shell_command(&vars, "/tmp", "echo boo bah baz", Sudo::WithPassword);
        assert_eq!(
            line.display,
            "set +o history ; echo -e '********\\n' | sudo -S -E -- bash -c \
             'export BAR='\"'\"'BEET CAFE'\"'\"' FOO=BAR HISTFILE=/dev/null HISTSIZE=0 && \
             cd /tmp && echo boo bah baz'"
        );
    }

    #[test]
    fn test_get_command_string_no_user_env_vars() {
        let line = shell_command(
            &env(&[("FOO", "BAR")]),
            "/tmp",
            "echo boo bah baz",
            Sudo::No,
        );
        assert_eq!(
            line.display,
            "export FOO=BAR && cd /tmp && echo boo bah baz"
        );
    }

    #[test]
    fn test_get_command_string_no_user() {
        // Upstream's `user` does not change the command line (the login user is ssh's).
        let none = env(&[]);
        let line = shell_command(&none, "/tmp", "echo boo bah baz", Sudo::No);
        assert_eq!(line.display, "cd /tmp && echo boo bah baz");
        let line = shell_command(&none, "/tmp", "bash \"/tmp/stuff space.sh\"", Sudo::No);
        assert_eq!(line.display, "cd /tmp && bash \"/tmp/stuff space.sh\"");
    }

    // Upstream's st2common/tests/unit/test_paramiko_script_action_model.py.

    #[test]
    fn test_get_command_string_no_env_vars_script() {
        let none = env(&[]);
        let args = "song='b s' 'taylor swift'";
        let line = script_command(&none, "/tmp", "/tmp/remote_script.sh", args, Sudo::No);
        assert_eq!(
            line.display,
            "cd /tmp && /tmp/remote_script.sh song='b s' 'taylor swift'"
        );
        let line = script_command(
            &none,
            "/tmp",
            "/tmp/remote_script.sh",
            args,
            Sudo::Passwordless,
        );
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'cd /tmp && /tmp/remote_script.sh song='\"'\"'b s'\"'\"' \
             '\"'\"'taylor swift'\"'\"''"
        );
        let line = script_command(
            &none,
            "/tmp",
            "/tmp/remote_script.sh",
            args,
            Sudo::WithPassword,
        );
        assert_eq!(
            line.display,
            "set +o history ; echo -e '********\\n' | sudo -S -E -- bash -c 'cd /tmp && \
             /tmp/remote_script.sh song='\"'\"'b s'\"'\"' '\"'\"'taylor swift'\"'\"''"
        );
    }

    #[test]
    fn test_get_command_string_with_env_vars_script() {
        let vars = env(&[
            ("ST2_ACTION_EXECUTION_ID", "55ce39d532ed3543aecbe71d"),
            ("FOO", "BAR BAZ BOOZ"),
        ]);
        let line = script_command(
            &vars,
            "/tmp",
            "/tmp/remote_script.sh",
            "song='b s' 'taylor swift'",
            Sudo::No,
        );
        assert_eq!(
            line.display,
            "export FOO='BAR BAZ BOOZ' ST2_ACTION_EXECUTION_ID=55ce39d532ed3543aecbe71d && \
             cd /tmp && /tmp/remote_script.sh song='b s' 'taylor swift'"
        );
        let line = script_command(
            &vars,
            "/tmp",
            "/tmp/remote_script.sh",
            "",
            Sudo::Passwordless,
        );
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'export FOO='\"'\"'BAR BAZ BOOZ'\"'\"' \
             ST2_ACTION_EXECUTION_ID=55ce39d532ed3543aecbe71d && cd /tmp && \
             /tmp/remote_script.sh'"
        );
    }

    #[test]
    fn test_get_command_string_no_script_args_no_env_args() {
        let line = script_command(&env(&[]), "/tmp", "/tmp/remote_script.sh", "", Sudo::No);
        assert_eq!(line.display, "cd /tmp && /tmp/remote_script.sh");
        let line = script_command(
            &env(&[]),
            "/tmp",
            "/tmp/remote_script.sh",
            "",
            Sudo::Passwordless,
        );
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'cd /tmp && /tmp/remote_script.sh'"
        );
    }

    #[test]
    fn test_get_command_string_no_script_args_with_env_args() {
        let vars = env(&[
            ("ST2_ACTION_EXECUTION_ID", "55ce39d532ed3543aecbe71d"),
            ("FOO", "BAR BAZ BOOZ"),
        ]);
        let line = script_command(&vars, "/tmp", "/tmp/remote_script.sh", "", Sudo::No);
        assert_eq!(
            line.display,
            "export FOO='BAR BAZ BOOZ' ST2_ACTION_EXECUTION_ID=55ce39d532ed3543aecbe71d && \
             cd /tmp && /tmp/remote_script.sh"
        );
    }

    #[test]
    fn test_script_path_shell_injection_safe() {
        let none = env(&[]);
        let line = script_command(&none, "/tmp", "/tmp/remote script.sh", "", Sudo::No);
        assert_eq!(line.display, "cd /tmp && '/tmp/remote script.sh'");
        let line = script_command(
            &none,
            "/tmp",
            "/tmp/remote script.sh",
            "",
            Sudo::Passwordless,
        );
        assert_eq!(
            line.display,
            "sudo -E -- bash -c 'cd /tmp && '\"'\"'/tmp/remote script.sh'\"'\"''"
        );
        let line = script_command(
            &env(&[("FOO", "BAR")]),
            "/tmp",
            "/tmp/remote script.sh",
            "",
            Sudo::No,
        );
        assert_eq!(
            line.display,
            "export FOO=BAR && cd /tmp && '/tmp/remote script.sh'"
        );
    }

    /// Upstream's `test_paramiko_remote_script_runner.py::test_cwd_used_correctly`.
    #[test]
    fn test_cwd_used_correctly() {
        let line = script_command(
            &env(&[]),
            "/test/cwd/",
            "/tmp/shiz_storm.py",
            "'blank space'",
            Sudo::No,
        );
        assert_eq!(
            line.display,
            "cd /test/cwd/ && /tmp/shiz_storm.py 'blank space'"
        );
    }

    #[test]
    fn the_wrapper_keeps_the_marker_and_the_password_off_the_command_line() {
        let marker = Marker::new();
        let pattern = String::from_utf8(marker.pattern()).unwrap();
        let word = pattern.trim_start_matches('\n');
        assert_eq!(word.len(), "st2-end-".len() + 24);
        let wrapper = Wrapper {
            marker: &marker,
            pty: false,
            sudo_password: true,
            cleanup: Some("/tmp/x y"),
        };
        let text = wrapper.wrap("echo hi");
        assert!(!text.contains(word), "{text}");
        assert!(text.contains("(\necho hi\n) 3<&- &\n"), "{text}");
        assert!(
            text.contains("IFS= read -r st2_sudo_password <&3"),
            "{text}"
        );
        assert!(text.contains("rm -rf -- '/tmp/x y'"), "{text}");
        assert_eq!(text.matches("printf '\\n%s%s").count(), 2, "{text}");
        let text = Wrapper {
            marker: &marker,
            pty: true,
            sudo_password: false,
            cleanup: None,
        }
        .wrap("true");
        assert_eq!(text.matches("printf '\\n%s%s").count(), 1, "{text}");
        assert!(!text.contains("read -r st2_sudo_password"), "{text}");
        assert_ne!(Marker::new(), marker);
    }
}

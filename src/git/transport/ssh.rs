//! git over SSH through the system's OpenSSH client, run as `git` runs it: `ssh [-p PORT]
//! [USER@]HOST "git-upload-pack 'PATH'"`, libgit2 speaking the protocol over its standard
//! input and output. The command is `$GIT_SSH_COMMAND` (a shell command line), else
//! `$GIT_SSH` (a program), else git's `core.sshCommand`, else `ssh`; keys, agents, known
//! hosts and `~/.ssh/config` are OpenSSH's business, as for `git clone`.
//!
//! URLs: `ssh://[user@]host[:port]/path` (also `ssh+git://`, `git+ssh://`; `/~user/path` is
//! relative to a home, as git reads it) and `[user@]host:path`. A host or user starting with
//! `-` is refused (it would be read as an option of `ssh`: CVE-2017-1000117), and the path is
//! quoted for the remote shell as git quotes it.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream};
use git2::ErrorClass;

use super::{error, push_refused};

/// The subtransport of one connection: one `ssh` process for the listing and the fetch.
pub(super) struct Ssh {
    timeout: Duration,
}

impl Ssh {
    pub(super) fn new(timeout: Duration) -> Ssh {
        Ssh { timeout }
    }
}

impl SmartSubtransport for Ssh {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        match action {
            // libgit2 reuses the listing's stream for the fetch (a stateful transport).
            Service::UploadPackLs | Service::UploadPack => {
                let remote =
                    Remote::parse(url).map_err(|message| error(ErrorClass::Ssh, false, message))?;
                Ok(Box::new(Session::start(&remote, self.timeout)?))
            }
            Service::ReceivePackLs | Service::ReceivePack => Err(push_refused(ErrorClass::Ssh)),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// Where an SSH URL points.
#[derive(Debug, PartialEq, Eq)]
struct Remote {
    /// `user@host` or `host`, as `ssh` takes it.
    destination: String,
    port: Option<u16>,
    /// The repository's path on the server, as `git-upload-pack` takes it.
    path: String,
}

impl Remote {
    fn parse(url: &str) -> Result<Remote, String> {
        let scheme = ["ssh://", "ssh+git://", "git+ssh://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme));
        let (authority, path, port) = match scheme {
            Some(rest) => {
                let (authority, path) = rest
                    .find('/')
                    .map(|at| rest.split_at(at))
                    .ok_or_else(|| format!("no path in the SSH URL {url}"))?;
                // `/~user/path` is relative to a home directory.
                let path = path
                    .strip_prefix('/')
                    .filter(|p| p.starts_with('~'))
                    .unwrap_or(path);
                let (authority, port) = split_port(authority, url)?;
                (authority.to_string(), path.to_string(), port)
            }
            None => {
                // scp-like: `[user@]host:path` (an IPv6 host in brackets).
                let colon = if url.starts_with('[') || url.contains("@[") {
                    url.find("]:").map(|at| at + 1)
                } else {
                    url.find(':')
                };
                let at = colon.ok_or_else(|| format!("not an SSH URL: {url}"))?;
                (url[..at].to_string(), url[at + 1..].to_string(), None)
            }
        };
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority.as_str()),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || path.is_empty() {
            return Err(format!("no host or path in the SSH URL {url}"));
        }
        if host.starts_with('-') || user.is_some_and(|user| user.starts_with('-')) {
            return Err(format!(
                "refusing the SSH URL {url}: its host or user starts with '-'"
            ));
        }
        let user = user.map(|user| percent_encoding::percent_decode_str(user).decode_utf8_lossy());
        let destination = match user {
            Some(user) => format!("{user}@{host}"),
            None => host.to_string(),
        };
        Ok(Remote {
            destination,
            port,
            path: percent_encoding::percent_decode_str(&path)
                .decode_utf8_lossy()
                .into_owned(),
        })
    }

    /// The command run on the server.
    fn upload_pack(&self) -> String {
        format!("git-upload-pack {}", shell_quote(&self.path))
    }
}

/// `host[:port]` (`[v6]:port`) into the host and the port.
fn split_port<'u>(authority: &'u str, url: &str) -> Result<(&'u str, Option<u16>), String> {
    let bracket = authority.rfind(']').unwrap_or(0);
    match authority.rfind(':') {
        Some(colon) if colon > bracket => {
            let port = &authority[colon + 1..];
            if port.is_empty() {
                return Ok((&authority[..colon], None));
            }
            let port = port
                .parse()
                .map_err(|_| format!("invalid port in the SSH URL {url}"))?;
            Ok((&authority[..colon], Some(port)))
        }
        _ => Ok((authority, None)),
    }
}

/// Quoted for a POSIX shell as git's `sq_quote_buf` does: in single quotes, a `'` or `!` put
/// outside them.
fn shell_quote(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        match c {
            '\'' => quoted.push_str("'\\''"),
            '!' => quoted.push_str("'\\!'"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// The command that runs `ssh`, as git chooses it, with `args` after it.
fn ssh_command(args: &[String], timeout: Duration) -> Command {
    let non_empty = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let configured = || {
        git2::Config::open_default()
            .ok()?
            .get_string("core.sshCommand")
            .ok()
            .filter(|value| !value.is_empty())
    };
    if let Some(line) = non_empty(crate::settings::env::GIT_SSH_COMMAND).or_else(configured) {
        // As git runs it: through the shell, the arguments after the command line.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{line} \"$@\""))
            .arg(line)
            .args(args);
        return command;
    }
    let program = non_empty(crate::settings::env::GIT_SSH);
    let mut command = Command::new(program.as_deref().unwrap_or("ssh"));
    if program.is_none() {
        // Only OpenSSH's own `ssh` is known to take this option.
        command
            .arg("-o")
            .arg(format!("ConnectTimeout={}", timeout.as_secs().max(1)));
    }
    command.args(args);
    command
}

/// One `ssh` process: libgit2 writes to its input and reads its output; what it says on
/// standard error is kept for the error message.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    /// The first bytes, read to tell a working connection from a failed one.
    first: Vec<u8>,
}

impl Session {
    fn start(remote: &Remote, timeout: Duration) -> Result<Session, git2::Error> {
        let mut args = Vec::new();
        if let Some(port) = remote.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.push(remote.destination.clone());
        args.push(remote.upload_pack());
        let mut command = ssh_command(&args, timeout);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::sys::die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|err| {
            error(
                ErrorClass::Ssh,
                false,
                format!(
                    "cannot run ssh: {}; install OpenSSH's client (Debian/Ubuntu: apt-get \
                     install openssh-client) or set GIT_SSH_COMMAND",
                    crate::settings::io_reason(&err)
                ),
            )
        })?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let kept = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buf) {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() < 64 * 1024 {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        });
        // The first bytes tell a connection that works from one that failed, whose
        // error is then ssh's own (an unknown host, a refused key).
        let mut first = vec![0u8; 4096];
        let n = stdout.read(&mut first).unwrap_or(0);
        first.truncate(n);
        let mut session = Session {
            child,
            stdin,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
            first,
        };
        if n == 0 {
            let message = session.failure();
            let auth = message.contains("Permission denied");
            return Err(error(ErrorClass::Ssh, auth, message));
        }
        Ok(session)
    }

    /// Why the session ended early: the last lines `ssh` wrote on its standard error, or
    /// how it exited.
    fn failure(&mut self) -> String {
        self.stdin = None;
        let status = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let stderr = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&stderr);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        if !lines.is_empty() {
            return lines[lines.len().saturating_sub(3)..].join("; ");
        }
        match status {
            Ok(status) => format!("ssh ended ({status}) before the server answered"),
            Err(err) => format!("ssh ended before the server answered: {err}"),
        }
    }
}

impl Read for Session {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.first.is_empty() {
            let n = buf.len().min(self.first.len());
            buf[..n].copy_from_slice(&self.first[..n]);
            self.first.drain(..n);
            return Ok(n);
        }
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            // The server's side ended: say why when ssh failed.
            if let Ok(Some(status)) = self.child.try_wait() {
                if !status.success() {
                    return Err(io::Error::other(self.failure()));
                }
            }
        }
        Ok(n)
    }
}

impl Write for Session {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(stdin) => stdin.write(data),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The fetch is over (or abandoned): nothing more is needed from the server.
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(destination: &str, port: Option<u16>, path: &str) -> Remote {
        Remote {
            destination: destination.to_string(),
            port,
            path: path.to_string(),
        }
    }

    #[test]
    fn urls_are_read_as_git_reads_them() {
        let cases = [
            (
                "ssh://git@host/owner/repo.git",
                remote("git@host", None, "/owner/repo.git"),
            ),
            (
                "ssh://host:2222/srv/repo",
                remote("host", Some(2222), "/srv/repo"),
            ),
            (
                "git+ssh://u@h/~/repo.git",
                remote("u@h", None, "~/repo.git"),
            ),
            (
                "ssh://u@[::1]:22/r.git",
                remote("u@::1", Some(22), "/r.git"),
            ),
            (
                "git@github.com:owner/repo.git",
                remote("git@github.com", None, "owner/repo.git"),
            ),
            ("host:/abs/repo", remote("host", None, "/abs/repo")),
            ("[::1]:repo", remote("::1", None, "repo")),
            ("ssh://h/a%20b", remote("h", None, "/a b")),
        ];
        for (url, expected) in cases {
            assert_eq!(Remote::parse(url).unwrap(), expected, "{url}");
        }
    }

    #[test]
    fn hosts_and_users_that_would_be_options_are_refused() {
        for url in [
            "ssh://-oProxyCommand=touch%20x/repo",
            "ssh://-oProxyCommand=x@host/repo",
            "-oProxyCommand=x:repo",
            "ssh://host",
            "ssh://host:notaport/repo",
        ] {
            assert!(Remote::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn the_path_is_quoted_as_git_quotes_it() {
        assert_eq!(
            remote("h", None, "/it's here!").upload_pack(),
            r"git-upload-pack '/it'\''s here'\!''"
        );
    }
}

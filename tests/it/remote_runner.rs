//! The `remote-shell-cmd` and `remote-shell-script` runners (`core.remote`,
//! `core.remote_sudo`) against a real OpenSSH server: ports of StackStorm 3.9.0's tests of
//! its SSH client and remote runners (tag `v3.9.0` of `StackStorm/st2`):
//!
//! - `st2actions/tests/unit/test_parallel_ssh.py` (`ParallelSSHClient`),
//! - `st2actions/tests/unit/test_paramiko_ssh.py` (`ParamikoSSHClient`),
//! - `st2actions/tests/unit/test_paramiko_ssh_runner.py`, `test_remote_runners.py` and
//!   `test_paramiko_remote_script_runner.py` (the runners),
//! - `st2common/tests/unit/test_paramiko_command_action_model.py` and
//!   `test_paramiko_script_action_model.py` (the command lines).
//!
//! Upstream mocks paramiko and asserts the arguments its client was called with; here each
//! case is an `st2 run` of `core.remote` (or an action of a pack made at test time) against
//! `sshd` from Debian's openssh-server, started once for the module as the current user on
//! a free loopback port, with its own host key, authorized_keys and config (`UsePAM no`,
//! `StrictModes no`; `SetEnv SHLVL=1`, so that the login shell does not read the user's
//! `~/.bashrc`, which on a developer's machine can take longer than the command). The
//! "hosts" are loopback addresses: 127.0.0.2 to .4 answer (on .4 password login is on as
//! well), .5 refuses every key, .6 refuses connections, .7 accepts them and never speaks.
//! Keys are made with `ssh-keygen` at test time (upstream's `dummy_rsa` fixtures are not
//! authorized anywhere, so they are not copied). No fixture pack is used: the packs are
//! written by the tests.
//!
//! How upstream's cases map (the command-line cases also have unit tests with upstream's
//! exact strings in `src/runner/remote/command.rs`, the argument cases in `ssh.rs`):
//! `test_connect_with_random_ports`, `test_connect_with_key`, `test_run_command`,
//! `test_create_with_key`, `test_deprecated_key_argument` →
//! [`test_run_command`]; `test_connect_with_password`, `test_create_with_password` →
//! [`test_create_with_password`] (the server logs the password attempt: there is no account
//! whose password a test may know, so the login fails, but it is the password that was sent,
//! through askpass); `test_create_with_password_and_key` → the same test; the key material,
//! passphrase and bastion cases under their own names.
//!
//! Left out, testing internals with no effect a user can see: `test_put`, `test_delete_file`,
//! `test_delete_dir` (calls on mocked clients; the upload and the removal of the script's
//! directory are checked by [`test_basic_usage_absolute_path`]), `test_sftp_connection_is_only
//! _established_if_required` (we copy with `tar`, not SFTP), `test_socket_closed`,
//! `test_socket_not_closed_if_none`, `test_post_run` (paramiko objects closed; our `ssh`
//! processes end with each host's run), `test_pre_run` (the keyword arguments given to
//! `ParallelSSHClient`; each credential is used by a test here),
//! `test_key_files_and_key_material_arguments_are_mutual_exclusive` (one `private_key`
//! parameter cannot be both). `test_consume_stdout`/`test_consume_stderr` read one byte at a
//! time from a mocked channel; here a command prints a four-byte character on both streams
//! ([`test_run_command_json_output_transformed_to_object`]). `test_set_proxycommand` and
//! `test_fail_set_proxycommand` are in [`test_use_ssh_config_port_value_provided_in_the_config`];
//! `test_cwd_used_correctly`, `test_command_construction_correct_default_parameter_values_are_used`
//! in [`test_parameter_formatting`]; `test_username_invalid_private_key` and
//! `test_key_material_contains_path_not_contents` in [`test_key_material_argument_invalid_key`];
//! `test_passphrase_*` and `test_incorrect_passphrase` in [`test_key_with_passphrase_success`].
//!
//! Deliberately different (each says why in its test): hosts run in parallel (upstream's
//! immutable `parallel: false` makes them run one at a time); when no host can be reached,
//! each still has its result (upstream fails the execution with one error holding them all);
//! the sudo password is given on sudo's input, not in the command line, so
//! `test_run_sudo_password_user_friendly_error`'s message shows it masked; a `private_key`
//! that is no key material is a path, as upstream's runner treats it, so
//! `test_key_material_argument_invalid_key` and `test_key_material_contains_path_not_contents`
//! get the file's error; an encrypted key without a passphrase is refused only when no SSH
//! agent runs.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// The passphrase of the encrypted test key.
const PASSPHRASE: &str = "correct horse battery staple";

/// The test's OpenSSH server and keys.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    /// sshd's log (`-e`, LogLevel INFO).
    log: PathBuf,
    /// Accepts connections on 127.0.0.7 and never speaks.
    _silent: TcpListener,
    ipv6: bool,
}

impl Sshd {
    fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `127.0.0.N:PORT`.
    fn host(&self, n: u8) -> String {
        format!("127.0.0.{n}:{}", self.port)
    }

    /// What sshd logged so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

static SSHD: OnceLock<Option<Sshd>> = OnceLock::new();

/// The server, started on first use; `None` (the test skips, or fails in CI) when this
/// machine has no `sshd`.
fn sshd() -> Option<&'static Sshd> {
    let sshd = SSHD.get_or_init(start_sshd).as_ref();
    if skip_unless(
        sshd.is_some(),
        "needs sshd and ssh-keygen (Debian/Ubuntu: apt-get install openssh-server; \
         scripts/setup.sh --ci installs it)",
    ) {
        return None;
    }
    sshd
}

fn sshd_program() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// Make the keys (`name`, type, passphrase) in `dir`, all at once.
fn keygen(dir: &Path, keys: &[(&str, &str, &str)]) {
    let children: Vec<_> = keys
        .iter()
        .map(|(name, kind, passphrase)| {
            let mut command = Command::new("ssh-keygen");
            command.args(["-q", "-t", kind, "-N", passphrase, "-C", "st2-test"]);
            if *kind == "rsa" {
                command.args(["-b", "2048"]);
            }
            let child = command
                .arg("-f")
                .arg(dir.join(name))
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            (name, child)
        })
        .collect();
    for (name, mut child) in children {
        assert!(child.wait().unwrap().success(), "ssh-keygen {name}");
    }
}

fn start_sshd() -> Option<Sshd> {
    let program = sshd_program()?;
    if !on_path("ssh-keygen") || !on_path("ssh") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    keygen(
        path,
        &[
            ("host_key", "ed25519", ""),
            ("id_ed25519", "ed25519", ""),
            ("id_rsa", "rsa", ""),
            ("id_encrypted", "ed25519", PASSPHRASE),
            ("id_unauthorized", "ed25519", ""),
        ],
    );
    let mut authorized = String::new();
    for key in ["id_ed25519", "id_rsa", "id_encrypted"] {
        authorized.push_str(&std::fs::read_to_string(path.join(format!("{key}.pub"))).unwrap());
    }
    std::fs::write(path.join("authorized_keys"), authorized).unwrap();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if root {
        // sshd run by root wants its privilege separation directory (the Debian package's
        // service makes it when it starts; the test starts sshd itself).
        std::fs::create_dir_all("/run/sshd").unwrap();
    }
    let ipv6 = TcpListener::bind("[::1]:0").is_ok();
    let log = path.join("sshd.log");
    for _ in 0..10 {
        let port = TcpListener::bind("127.0.0.2:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Ok(silent) = TcpListener::bind(("127.0.0.7", port)) else {
            continue;
        };
        let mut config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.2\nListenAddress 127.0.0.3\nListenAddress 127.0.0.4\n\
             ListenAddress 127.0.0.5\n{ipv6_line}\
             HostKey {dir}/host_key\nPidFile none\nAuthorizedKeysFile {dir}/authorized_keys\n\
             UsePAM no\nStrictModes no\nPermitRootLogin yes\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowTcpForwarding yes\nMaxStartups 200\nMaxSessions 200\nLogLevel INFO\n\
             SetEnv SHLVL=1\n",
            ipv6_line = if ipv6 { "ListenAddress [::1]\n" } else { "" },
            dir = path.display()
        );
        config.push_str("Match LocalAddress 127.0.0.4\n  PasswordAuthentication yes\n");
        config.push_str("Match LocalAddress 127.0.0.5\n  AuthorizedKeysFile none\n");
        std::fs::write(path.join("sshd_config"), config).unwrap();
        let log_file = std::fs::File::create(&log).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let program = program.clone();
        let config = path.join("sshd_config");
        // sshd dies with this process (PR_SET_PDEATHSIG), and the signal comes when the
        // *thread* that started it ends: a thread of its own that never ends starts it.
        std::thread::spawn(move || {
            let mut command = Command::new(&program);
            command
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file);
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn();
            let _ = sender.send(child.map(|child| child.id()));
            loop {
                std::thread::park();
            }
        });
        let Ok(Ok(pid)) = receiver.recv() else {
            return None;
        };
        // Ready when it says its banner on every address.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut ready = false;
        while Instant::now() < deadline {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            if ["127.0.0.2", "127.0.0.5"]
                .iter()
                .all(|address| banner(&format!("{address}:{port}")))
            {
                ready = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if ready {
            return Some(Sshd {
                dir,
                port,
                user,
                log,
                _silent: silent,
                ipv6,
            });
        }
        // The port was taken on another address in the meantime: try another.
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    panic!(
        "sshd did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// Whether an SSH server answers at `address` with its banner.
fn banner(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut bytes = [0u8; 8];
    stream.read_exact(&mut bytes).is_ok() && bytes.starts_with(b"SSH-2.0")
}

/// A home whose st2.conf logs in as the current user with the test key, with a short
/// connection timeout (the silent host).
fn home(sshd: &Sshd) -> Home {
    let mut home = Home::new();
    home.set_extra_conf(&format!(
        "[system_user]\nuser = {}\nssh_key_file = {}\n\n[ssh_runner]\nssh_connect_timeout = 1\n",
        sshd.user,
        sshd.key("id_ed25519").display()
    ));
    home
}

/// `st2 run ARGS -j` without an SSH agent: the execution and the output.
fn run(home: &Home, args: &[&str]) -> (Value, std::process::Output) {
    let output = home
        .st2()
        .env_remove("SSH_AUTH_SOCK")
        .arg("run")
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    (execution_of(&output), output)
}

/// `st2 run core.remote hosts=HOSTS cmd=CMD ARGS -j`.
fn remote(home: &Home, hosts: &str, cmd: &str, args: &[&str]) -> Value {
    let hosts = format!("hosts={hosts}");
    let cmd = format!("cmd={cmd}");
    let mut all = vec!["core.remote", hosts.as_str(), cmd.as_str()];
    all.extend_from_slice(args);
    run(home, &all).0
}

/// Whether `sudo` runs without a password here (upstream runs its sudo cases only in CI).
fn passwordless_sudo() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn needs_sudo() -> bool {
    skip_unless(
        passwordless_sudo(),
        "needs sudo without a password on this machine (as root: apt-get install sudo; \
         scripts/setup.sh --ci installs it)",
    )
}

/// A pack `remotes` with a `remote-shell-script` action `name` running `script`.
fn script_pack(home: &Home, name: &str, script: &str, parameters: Value) {
    let dir = home.pack("remotes");
    if !dir.join("pack.yaml").exists() {
        write(
            &dir,
            "pack.yaml",
            "---\nref: remotes\nname: remotes\ndescription: remote scripts\nversion: 1.0.0\n\
             author: t\n",
        );
    }
    write(&dir, &format!("actions/{name}.sh"), script);
    make_executable(&dir.join(format!("actions/{name}.sh")));
    write_action(
        &dir,
        &json!({
            "name": name,
            "runner_type": "remote-shell-script",
            "entry_point": format!("{name}.sh"),
            "parameters": parameters,
        }),
    );
}

fn result_of<'a>(execution: &'a Value, host: &str) -> &'a Value {
    let value = &execution["result"][host];
    assert!(value.is_object(), "no result for {host}: {execution:#}");
    value
}

/// Upstream's `test_run_command` (three hosts, `pwd`), `test_connect_with_random_ports`
/// (ports in the hosts list and the `port` parameter), `test_connect_with_key` and
/// `test_create_with_key` (the `private_key` parameter as a path, an RSA key).
#[test]
fn test_run_command() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let hosts = format!("{},{},{}", sshd.host(2), sshd.host(3), sshd.host(4));
    let execution = remote(&home, &hosts, "pwd; echo err >&2", &[]);
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    for n in 2..=4 {
        assert_eq!(
            result_of(&execution, &format!("127.0.0.{n}")),
            &json!({"stdout": "/tmp", "stderr": "err", "return_code": 0, "succeeded": true, "failed": false})
        );
    }
    // The port as a parameter, the key as a path (an RSA one), the user as a parameter.
    let port = format!("port={}", sshd.port);
    let key = format!("private_key={}", sshd.key("id_rsa").display());
    let user = format!("username={}", sshd.user);
    let execution = remote(
        &home,
        "127.0.0.2,127.0.0.3",
        "echo $USER",
        &[&port, &key, &user],
    );
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert_eq!(result_of(&execution, "127.0.0.3")["stdout"], sshd.user);
}

/// The issue's hosts: answering, refusing the key, refusing the connection, never speaking,
/// in one run: each host has its own result with one readable line, the execution fails.
/// **[fix]** upstream fails the whole execution with one error when no host connects; here
/// each host still has its own result (the second run).
#[test]
fn unreachable_hosts_each_have_their_error() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let hosts = [2, 5, 6, 7].map(|n| sshd.host(n)).join(",");
    let started = Instant::now();
    let execution = remote(&home, &hosts, "echo up", &[]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(execution["status"], "failed", "{execution:#}");
    assert_eq!(result_of(&execution, "127.0.0.2")["stdout"], "up");
    let expect = |n: u8, text: &str| {
        let result = result_of(&execution, &format!("127.0.0.{n}"));
        assert_eq!(result["failed"], true);
        assert_eq!(result["succeeded"], false);
        assert_eq!(result["timeout"], false);
        assert_eq!(result["return_code"], 255);
        let error = result["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("Failed connecting to host 127.0.0.{n}. ")),
            "{error}"
        );
        assert!(error.contains(text), "{n}: {error}");
        assert!(!error.contains('\n'), "{error}");
    };
    expect(5, "Permission denied (publickey)");
    expect(6, "Connection refused");
    expect(7, "timed out");

    let execution = remote(&home, &sshd.host(6), "echo up", &[]);
    assert_eq!(execution["status"], "failed");
    assert!(result_of(&execution, "127.0.0.6")["error"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
}

/// Upstream's `test_run_command_timeout`: what the command printed before the timeout is
/// kept, the return code is -9, the execution times out (every host did). And the remote
/// command is gone (upstream leaves it running).
#[test]
fn test_run_command_timeout() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let pids = home.dir.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    // Each host's sleep writes its pid to a file named after the host's address.
    let cmd = format!(
        "echo a; echo b >&2; sh -c 'echo $$ > {}/$(echo $SSH_CONNECTION | cut -d\" \" -f3); exec sleep 60'",
        pids.display()
    );
    let hosts = format!("{},{}", sshd.host(2), sshd.host(3));
    let started = Instant::now();
    let execution = remote(&home, &hosts, &cmd, &["timeout=3"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(execution["status"], "timeout", "{execution:#}");
    for n in [2, 3] {
        let result = result_of(&execution, &format!("127.0.0.{n}"));
        assert_eq!(result["failed"], true);
        assert_eq!(result["timeout"], true);
        assert_eq!(result["return_code"], -9);
        assert_eq!(result["stdout"], "a");
        assert_eq!(result["stderr"], "b");
        let error = result["error"].as_str().unwrap();
        assert!(
            error.ends_with("Command didn't finish in 3 seconds or the SSH connection did not succeed in 1 seconds"),
            "{error}"
        );
    }
    assert_remote_processes_end(&pids, 2);
}

/// The pids written in `dir` (`count` of them) are of processes that end within a few
/// seconds.
fn assert_remote_processes_end(dir: &Path, count: usize) {
    let mut pids = Vec::new();
    wait_until(|| {
        pids = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok())
            .filter_map(|text| text.trim().parse::<u32>().ok())
            .collect::<Vec<_>>();
        pids.len() == count
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
    {
        assert!(
            Instant::now() < deadline,
            "remote processes still running: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `st2 execution cancel` of a remote run ends the remote command on every host, not just
/// the local `ssh`.
#[test]
fn cancel_ends_the_remote_commands() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let pids = home.dir.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let cmd = format!(
        "sh -c 'echo $$ > {}/$(echo $SSH_CONNECTION | cut -d\" \" -f3); exec sleep 60'",
        pids.display()
    );
    let hosts = format!("hosts={},{}", sshd.host(3), sshd.host(4));
    let cmd = format!("cmd={cmd}");
    let id = run_async(&home, &["core.remote", &hosts, &cmd]);
    wait_until(|| std::fs::read_dir(&pids).unwrap().count() == 2);
    cancel_execution(&home, &id);
    let execution = wait_final(&home, &id);
    assert_eq!(execution["status"], "canceled", "{execution:#}");
    assert_remote_processes_end(&pids, 2);
}

/// Upstream's `test_run_command_json_output_transformed_to_object` and
/// `test_consume_stdout` (a character of four UTF-8 bytes comes whole).
#[test]
fn test_run_command_json_output_transformed_to_object() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let execution = remote(&home, &sshd.host(2), r#"echo '{"foo": "bar"}'"#, &[]);
    assert_eq!(
        result_of(&execution, "127.0.0.2")["stdout"],
        json!({"foo": "bar"})
    );
    let execution = remote(
        &home,
        &sshd.host(2),
        r"printf '\360\220\215\210'; printf '\360\220\215\210' >&2",
        &[],
    );
    let result = result_of(&execution, "127.0.0.2");
    assert_eq!(result["stdout"], "\u{10348}");
    assert_eq!(result["stderr"], "\u{10348}");
}

/// Upstream's `test_handle_stdout_and_stderr_line_funcs`:
/// with one host the output is recorded as it comes (`st2 execution tail`); a command that
/// leaves a process in the background holding the output open ends when the command does
/// (upstream returns at the exit status too).
#[test]
fn test_handle_stdout_and_stderr_line_funcs() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let started = Instant::now();
    let execution = remote(
        &home,
        &sshd.host(2),
        "echo 'stdout 1'; echo 'stderr 1' >&2; echo 'stdout 2'; sleep 30 & exit 3",
        &[],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let result = result_of(&execution, "127.0.0.2");
    assert_eq!(result["return_code"], 3);
    assert_eq!(result["stdout"], "stdout 1\nstdout 2");
    let id = execution["id"].as_str().unwrap();
    assert_eq!(recorded_output(&home, id, "stdout"), "stdout 1\nstdout 2\n");
    assert_eq!(recorded_output(&home, id, "stderr"), "stderr 1\n");
}

/// Upstream's `test_create_with_password`, `test_connect_with_password` and
/// `test_create_with_password_and_key`: with a password, only password authentication is
/// tried (a key given too is not used), and the password reaches the server through
/// askpass. No account here has a password a test may know, so the login fails; the server's
/// log shows that a password was tried, and the password is nowhere in the output.
#[test]
fn test_create_with_password() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let password = "pw-not-the-real-one-8c1f";
    let key = format!("private_key={}", sshd.key("id_ed25519").display());
    let host = sshd.host(4);
    let hosts = format!("hosts={host}");
    let before = sshd.log_text().matches("Failed password for").count();
    let (execution, output) = run(
        &home,
        &[
            "core.remote",
            &hosts,
            "cmd=true",
            &format!("password={password}"),
            &key,
        ],
    );
    assert_eq!(execution["status"], "failed", "{execution:#}");
    let error = result_of(&execution, "127.0.0.4")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("Permission denied"), "{error}");
    wait_until(|| sshd.log_text().matches("Failed password for").count() > before);
    assert!(!stdout(&output).contains(password));
    assert!(!stderr(&output).contains(password));
    assert!(!sshd.log_text().contains(password));
    // Where the server takes keys only, the password is not even tried.
    let execution = remote(
        &home,
        &sshd.host(2),
        "true",
        &[&format!("password={password}")],
    );
    assert!(result_of(&execution, "127.0.0.2")["error"]
        .as_str()
        .unwrap()
        .contains("Permission denied"));
}

/// Upstream's `test_key_material_argument`: the key itself as `private_key`.
#[test]
fn test_key_material_argument() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let material = std::fs::read_to_string(sshd.key("id_rsa")).unwrap();
    let execution = remote(
        &home,
        &sshd.host(2),
        "echo keyed",
        &[&format!("private_key={material}")],
    );
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert_eq!(result_of(&execution, "127.0.0.2")["stdout"], "keyed");
}

/// Upstream's `test_key_material_argument_invalid_key`: key material ssh cannot load fails
/// the host with ssh's reason; `test_key_material_contains_path_not_contents` and
/// `test_username_invalid_private_key` (`test_paramiko_remote_script_runner.py`): a
/// `private_key` that is no key material is a path (upstream's runner reads it so too), and
/// one that does not exist is an error before anything is run.
#[test]
fn test_key_material_argument_invalid_key() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let garbage =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----";
    let execution = remote(
        &home,
        &sshd.host(2),
        "true",
        &[&format!("private_key={garbage}")],
    );
    assert_eq!(execution["status"], "failed");
    let error = result_of(&execution, "127.0.0.2")["error"]
        .as_str()
        .unwrap();
    assert!(
        error.starts_with("Failed connecting to host 127.0.0.2."),
        "{error}"
    );
    for path in [
        "~/.ssh/id_rsa",
        "/tmp/no-such-id_rsa",
        "invalid private key",
    ] {
        let execution = remote(
            &home,
            &sshd.host(2),
            "true",
            &[&format!("private_key={path}"), "username=test_user"],
        );
        assert_eq!(execution["status"], "failed");
        let error = execution["result"]["error"].as_str().unwrap();
        assert!(error.contains("(the private_key parameter"), "{error}");
        assert!(
            error.contains("cannot be read: No such file or directory"),
            "{error}"
        );
    }
}

/// Upstream's `test_key_with_passphrase_success` (the encrypted key as material and as a
/// path), `test_incorrect_passphrase`, `test_passphrase_not_provided_for_encrypted_key_file`,
/// `test_passphrase_no_key_provided` and `test_passphrase_and_no_key`.
#[test]
fn test_key_with_passphrase_success() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let path = sshd.key("id_encrypted");
    let material = std::fs::read_to_string(&path).unwrap();
    let passphrase = format!("passphrase={PASSPHRASE}");
    for key in [path.display().to_string(), material] {
        let (execution, output) = run(
            &home,
            &[
                "core.remote",
                &format!("hosts={}", sshd.host(2)),
                "cmd=echo unlocked",
                &format!("private_key={key}"),
                &passphrase,
            ],
        );
        assert_eq!(execution["status"], "succeeded", "{execution:#}");
        assert_eq!(result_of(&execution, "127.0.0.2")["stdout"], "unlocked");
        assert!(!stdout(&output).contains(PASSPHRASE));
    }
    // test_incorrect_passphrase: the host fails, saying why.
    let execution = remote(
        &home,
        &sshd.host(2),
        "true",
        &[
            &format!("private_key={}", path.display()),
            "passphrase=not the passphrase",
        ],
    );
    assert_eq!(execution["status"], "failed");
    assert!(result_of(&execution, "127.0.0.2")["error"]
        .as_str()
        .unwrap()
        .starts_with("Failed connecting to host 127.0.0.2."));
    // test_passphrase_not_provided_for_encrypted_key_file (no SSH agent runs).
    let execution = remote(
        &home,
        &sshd.host(2),
        "true",
        &[&format!("private_key={}", path.display())],
    );
    assert_eq!(execution["status"], "failed");
    // The path is the value of a secret parameter: masked wherever it appears.
    assert_eq!(
        execution["result"]["error"],
        "Private key file ******** is passphrase protected. Supply a passphrase."
    );
    // test_passphrase_no_key_provided / test_passphrase_and_no_key: no key anywhere.
    let mut keyless = Home::new();
    keyless.set_extra_conf(&format!(
        "[system_user]\nuser = {}\nssh_key_file =\n",
        sshd.user
    ));
    let execution = remote(&keyless, &sshd.host(2), "true", &["passphrase=testphrase"]);
    assert_eq!(execution["status"], "failed");
    assert_eq!(
        execution["result"]["error"],
        "passphrase should accompany private key material"
    );
}

/// Upstream's `test_create_without_credentials`: no password, no key anywhere (and no agent
/// nor default key to fall back on) is an error before connecting; and
/// `test_create_without_credentials_use_default_key`: `[system_user] ssh_key_file` is the
/// key then (every other test here logs in with it).
#[test]
fn test_create_without_credentials() {
    let Some(sshd) = sshd() else { return };
    let mut keyless = Home::new();
    keyless.set_extra_conf(&format!(
        "[system_user]\nuser = {}\nssh_key_file =\n",
        sshd.user
    ));
    let execution = remote(&keyless, &sshd.host(2), "true", &[]);
    assert_eq!(execution["status"], "failed");
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "Either password or key file location or key material should be supplied for action."
        ),
        "{error}"
    );
}

/// Upstream's `test_connect_with_bastion` and `test_create_with_key_via_bastion`: through
/// `bastion_host`, with the same credentials. A bastion that refuses connections fails the
/// host even though the host itself would answer: the connection does go through it.
#[test]
fn test_create_with_key_via_bastion() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let port = format!("port={}", sshd.port);
    let execution = remote(
        &home,
        "127.0.0.3,127.0.0.4",
        "echo $SSH_CONNECTION",
        &[&port, "bastion_host=127.0.0.2"],
    );
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert!(result_of(&execution, "127.0.0.3")["stdout"]
        .as_str()
        .unwrap()
        .ends_with(&format!(" 127.0.0.3 {}", sshd.port)));
    let execution = remote(
        &home,
        "127.0.0.3",
        "true",
        &[&port, "bastion_host=127.0.0.6"],
    );
    assert_eq!(execution["status"], "failed");
    let error = result_of(&execution, "127.0.0.3")["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("127.0.0.6"), "{error}");
}

/// Upstream's `test_set_proxycommand` and `test_use_ssh_config_port_value_provided_in_the_
/// config`: with `[ssh_runner] use_ssh_config`, a host alias of the SSH config with its
/// `HostName`, `Port`, `User`, `IdentityFile` and `ProxyCommand` (or `ProxyJump`) is used;
/// a port of 22 leaves the config's in force, another port wins over it.
#[test]
fn test_use_ssh_config_port_value_provided_in_the_config() {
    let Some(sshd) = sshd() else { return };
    let mut home = Home::new();
    let config = home.dir.path().join("ssh_config");
    let key = sshd.key("id_rsa");
    std::fs::write(
        &config,
        format!(
            "Host web\n  HostName 127.0.0.2\n  Port {port}\n  User {user}\n  IdentityFile {key}\n\n\
             Host proxied\n  HostName 127.0.0.3\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
             ProxyCommand ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o BatchMode=yes -i {key} -l {user} -p {port} -W %h:%p 127.0.0.4\n\n\
             Host jumped\n  HostName 127.0.0.3\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
             ProxyJump web\n",
            port = sshd.port,
            user = sshd.user,
            key = key.display()
        ),
    )
    .unwrap();
    // No key of st2.conf's that would work: only the config's does.
    home.set_extra_conf(&format!(
        "[system_user]\nuser = nobody-here\nssh_key_file = {}\n\n[ssh_runner]\nuse_ssh_config = True\n\
         ssh_config_file_path = {}\nssh_connect_timeout = 1\n",
        sshd.key("id_unauthorized").display(),
        config.display()
    ));
    let execution = remote(&home, "web,proxied,jumped", "echo $SSH_CONNECTION", &[]);
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    for (host, address) in [
        ("web", "127.0.0.2"),
        ("proxied", "127.0.0.3"),
        ("jumped", "127.0.0.3"),
    ] {
        assert!(
            result_of(&execution, host)["stdout"]
                .as_str()
                .unwrap()
                .ends_with(&format!(" {address} {}", sshd.port)),
            "{host}: {execution:#}"
        );
    }
    let execution = remote(&home, "web", "true", &["port=22"]);
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    let execution = remote(&home, "web:1", "true", &[]);
    assert!(result_of(&execution, "web")["error"]
        .as_str()
        .unwrap()
        .contains("port 1: Connection refused"));
    // test_fail_set_proxycommand: a config file that cannot be read.
    home.set_extra_conf(
        "[ssh_runner]\nuse_ssh_config = True\nssh_config_file_path = /nonexistent/ssh_config\n",
    );
    let execution = remote(&home, "web", "true", &[]);
    assert_eq!(execution["status"], "failed");
    assert!(execution["result"]["error"]
        .as_str()
        .unwrap()
        .starts_with("Error accessing ssh config file /nonexistent/ssh_config"));
}

/// Upstream's `test_host_port_info` with a real server: an IPv6 address in brackets with a
/// port.
#[test]
fn test_host_port_info() {
    let Some(sshd) = sshd() else { return };
    if skip_unless(sshd.ipv6, "needs the IPv6 loopback address ::1") {
        return;
    }
    let home = home(sshd);
    let execution = remote(&home, &format!("[::1]:{}", sshd.port), "echo six", &[]);
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert_eq!(result_of(&execution, "::1")["stdout"], "six");
    let (execution, _) = run(&home, &["core.remote", "hosts=web1:http", "cmd=true"]);
    assert_eq!(execution["status"], "failed");
    assert_eq!(
        execution["result"]["error"],
        "Invalid port http specified (host \"web1:http\")."
    );
}

/// Upstream's `test_get_command_string_with_env_vars` and `..._no_env_vars`
/// (`test_paramiko_command_action_model.py`), as their effect on the host: the `env`
/// parameter and StackStorm's variables are exported, values with spaces intact, in `cwd`;
/// with `sudo` (`core.remote_sudo`) too, as root.
#[test]
fn test_get_command_string_with_env_vars() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let cmd = "echo \"$FOO|$BAR|$ST2_ACTION_PACK_NAME\"; pwd";
    let execution = remote(
        &home,
        &sshd.host(2),
        cmd,
        &[r#"env={"FOO": "BAR", "BAR": "BEET CAFE"}"#, "cwd=/"],
    );
    assert_eq!(
        result_of(&execution, "127.0.0.2")["stdout"],
        "BAR|BEET CAFE|core\n/"
    );
    if needs_sudo() {
        return;
    }
    let (execution, _) = run(
        &home,
        &[
            "core.remote_sudo",
            &format!("hosts={}", sshd.host(2)),
            &format!("cmd={cmd}; id -u; echo to-stderr >&2"),
            r#"env={"FOO": "BAR", "BAR": "BEET CAFE"}"#,
        ],
    );
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    // Upstream runs sudo on a terminal: stderr comes on stdout, line ends are `\n`.
    assert_eq!(
        result_of(&execution, "127.0.0.2"),
        &json!({"stdout": "BAR|BEET CAFE|core\n/tmp\n0\nto-stderr", "stderr": "", "return_code": 0, "succeeded": true, "failed": false})
    );
}

/// Upstream's `test_run_sudo_password_user_friendly_error`: with `sudo_password`, sudo's
/// "incorrect password attempts" on stderr is that host's error. **[fix]** the password is
/// given to `sudo -S` on its input, never in the command line: the message upstream builds
/// from the command line shows it masked. As root sudo asks no password, so the command
/// prints sudo's message itself; and the password reaches sudo's input.
#[test]
fn test_run_sudo_password_user_friendly_error() {
    let Some(sshd) = sshd() else { return };
    if needs_sudo() {
        return;
    }
    let home = home(sshd);
    let password = "sudo-pass-4f9e2a71";
    let (execution, output) = run(
        &home,
        &[
            "core.remote_sudo",
            &format!("hosts={}", sshd.host(2)),
            "cmd=printf '[sudo] password for bar: \\nsudo: 2 incorrect password attempts\\n' >&2",
            &format!("sudo_password={password}"),
        ],
    );
    assert_eq!(execution["status"], "failed", "{execution:#}");
    let result = result_of(&execution, "127.0.0.2");
    assert_eq!(result["return_code"], 255);
    let error = result["error"].as_str().unwrap();
    assert!(error.starts_with("Failed executing command \"set +o history ; echo -e '********\\n' | sudo -S -E -- bash -c "), "{error}");
    assert!(error.ends_with("on host \"127.0.0.2\" Invalid sudo password provided or sudo is not configured for this user (bar)"), "{error}");
    assert!(!stdout(&output).contains(password));
    // The password is sudo's input: a command run by `sudo -S` that reads its input gets
    // nothing more (sudo as root took no password, so the line is still there for it).
    let execution = remote(
        &home,
        &sshd.host(2),
        "read line; echo \"$line\" | od -An -tx1 | tr -d ' \\n'",
        &[],
    );
    // Without sudo nothing is on the input (an empty line read: `0a`).
    assert_eq!(result_of(&execution, "127.0.0.2")["stdout"], "0a");
    let (execution, _) = run(
        &home,
        &[
            "core.remote_sudo",
            &format!("hosts={}", sshd.host(2)),
            "cmd=read line; echo \"$line\" | od -An -tx1 | tr -d ' \\n'",
            &format!("sudo_password={password}"),
        ],
    );
    let hex: String = format!("{password}\n")
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        result_of(&execution, "127.0.0.2")["stdout"],
        hex,
        "{execution:#}"
    );
}

/// Upstream's `test_basic_usage_absolute_path`, `test_delete_script` and `test_put_dir`
/// (`test_paramiko_ssh.py`): a `remote-shell-script` action's script and its `lib/` are
/// copied to `<dir>/<execution id>` on the host, run there, then removed.
#[test]
fn test_basic_usage_absolute_path() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    script_pack(
        &home,
        "show",
        "#!/bin/sh\necho \"script in $(dirname \"$0\")\"\n. \"$(dirname \"$0\")/lib/util.sh\"\nutil\n\
         ls -l \"$0\" | cut -c1-10\n",
        json!({}),
    );
    write(
        &home.pack("remotes"),
        "actions/lib/util.sh",
        "util() { echo from lib; }\n",
    );
    reload_ok(&home, &["--register-actions"]);
    let dir = home.dir.path().join("remote-dir");
    std::fs::create_dir_all(&dir).unwrap();
    // One host: every "host" here is this machine, and the directory is per execution.
    let hosts = format!("hosts={}", sshd.host(3));
    let (execution, _) = run(
        &home,
        &["remotes.show", &hosts, &format!("dir={}", dir.display())],
    );
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    let id = execution["id"].as_str().unwrap();
    let stdout = result_of(&execution, "127.0.0.3")["stdout"]
        .as_str()
        .unwrap();
    assert_eq!(
        stdout,
        format!("script in {}/{id}\nfrom lib\n-rwxr--r--", dir.display())
    );
    // Removed afterwards.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

/// Upstream's `test_parameter_formatting` (`test_remote_runners.py`: named arguments, a true
/// boolean as the bare flag, a false one left out), `test_cwd_used_correctly` (a positional
/// argument with a space, in `cwd`) and
/// `test_command_construction_correct_default_parameter_values_are_used` (positional
/// defaults, a boolean as 0/1).
#[test]
fn test_parameter_formatting() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let string = json!({"type": "string"});
    let flag = json!({"type": "boolean"});
    script_pack(
        &home,
        "named",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\npwd\n",
        json!({"foo1": string, "foo2": string, "foo3": flag, "foo4": flag}),
    );
    script_pack(
        &home,
        "positional",
        "#!/bin/sh\necho \"$@\"\n",
        json!({
            "project": {"type": "string", "default": "st2", "position": 0},
            "version": {"type": "string", "position": 1, "required": true},
            "fork": {"type": "string", "position": 2, "default": "StackStorm"},
            "branch": {"type": "string", "position": 3, "default": "master"},
            "update_changelog": {"type": "boolean", "position": 4, "default": false},
            "local_repo": {"type": "string", "position": 5},
        }),
    );
    reload_ok(&home, &["--register-actions"]);
    let hosts = format!("hosts={}", sshd.host(2));
    let (execution, _) = run(
        &home,
        &[
            "remotes.named",
            &hosts,
            "foo1=bar1",
            "foo2=blank space",
            "foo3=true",
            "foo4=false",
            "cwd=/",
        ],
    );
    assert_eq!(
        result_of(&execution, "127.0.0.2")["stdout"],
        "[--foo1=bar1]\n[--foo2=blank space]\n[--foo3]\n/"
    );
    for (given, expected) in [
        (
            vec!["project=st2flow", "version=3.0.0", "local_repo=/tmp/repo"],
            "st2flow 3.0.0 StackStorm master 0 /tmp/repo",
        ),
        (
            vec![
                "project=st2web",
                "version=3.1.0",
                "fork=StackStorm1",
                "update_changelog=true",
                "local_repo=/tmp/repob",
            ],
            "st2web 3.1.0 StackStorm1 master 1 /tmp/repob",
        ),
    ] {
        let mut args = vec!["remotes.positional", hosts.as_str()];
        args.extend(given);
        let (execution, _) = run(&home, &args);
        assert_eq!(
            result_of(&execution, "127.0.0.2")["stdout"],
            expected,
            "{execution:#}"
        );
    }
}

/// Upstream's `test_top_level_error_is_correctly_reported`: a script that cannot be copied
/// fails the execution with one error, before any host is contacted.
#[test]
fn test_top_level_error_is_correctly_reported() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    script_pack(&home, "gone", "#!/bin/sh\ntrue\n", json!({}));
    reload_ok(&home, &["--register-actions"]);
    std::fs::remove_file(home.pack("remotes").join("actions/gone.sh")).unwrap();
    let (execution, output) = run(&home, &["remotes.gone", &format!("hosts={}", sshd.host(2))]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(execution["status"], "failed");
    let error = execution["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("Failed copying content to remote boxes."),
        "{error}"
    );
    assert!(error.ends_with("gone.sh does not exist."), "{error}");
}

/// Many hosts at once (**[fix]**: upstream's immutable `parallel: false` runs them one at a
/// time): twelve hosts whose commands each sleep a second end in far less than twelve
/// seconds, and `[ssh_runner] max_parallel_actions` bounds how many run at once.
#[test]
fn hosts_run_in_parallel() {
    let Some(sshd) = sshd() else { return };
    let mut home = home(sshd);
    // Twelve entries on three addresses: ports spelled differently make them distinct.
    let hosts: Vec<String> = (0..12)
        .map(|i| format!("127.0.0.{}:{}{}", 2 + i % 3, "0".repeat(i / 3), sshd.port))
        .collect();
    let started = Instant::now();
    let execution = remote(&home, &hosts.join(","), "sleep 1; echo done", &[]);
    let parallel = started.elapsed();
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert_eq!(execution["result"].as_object().unwrap().len(), 12);
    // One host after the other would take at least twelve seconds.
    assert!(parallel < Duration::from_secs(10), "{parallel:?}");
    home.set_extra_conf(&format!(
        "[system_user]\nuser = {}\nssh_key_file = {}\n\n[ssh_runner]\nmax_parallel_actions = 2\n",
        sshd.user,
        sshd.key("id_ed25519").display()
    ));
    let started = Instant::now();
    let execution = remote(&home, &hosts[..4].join(","), "sleep 0.5", &[]);
    assert_eq!(execution["status"], "succeeded");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// Secrets (password, passphrase, sudo password, key material) never reach the output, the
/// execution record or the recorded output, whatever the command prints.
#[test]
fn secrets_stay_out_of_output_and_records() {
    let Some(sshd) = sshd() else { return };
    let home = home(sshd);
    let material = std::fs::read_to_string(sshd.key("id_encrypted")).unwrap();
    let body_line = material.lines().nth(1).unwrap().to_string();
    let sudo_password = "sudo-secret-0d5c9b";
    let (execution, output) = run(
        &home,
        &[
            "core.remote",
            &format!("hosts={},{}", sshd.host(2), sshd.host(6)),
            &format!("cmd=echo {PASSPHRASE}; echo {sudo_password} >&2"),
            &format!("private_key={material}"),
            &format!("passphrase={PASSPHRASE}"),
            &format!("sudo_password={sudo_password}"),
        ],
    );
    assert_eq!(execution["parameters"]["passphrase"], "********");
    assert_eq!(result_of(&execution, "127.0.0.2")["stdout"], "********");
    let (password_execution, password_output) = run(
        &home,
        &[
            "core.remote",
            &format!("hosts={}", sshd.host(4)),
            "cmd=true",
            "password=login-secret-77aa01",
        ],
    );
    assert_eq!(password_execution["status"], "failed");
    let db = std::fs::read(home.base.join("st2.db")).unwrap();
    let mut everything = String::from_utf8_lossy(&db).into_owned();
    for path in ["st2.db-wal", "st2.db-shm"] {
        if let Ok(bytes) = std::fs::read(home.base.join(path)) {
            everything.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    for output in [&output, &password_output] {
        everything.push_str(&stdout(output));
        everything.push_str(&stderr(output));
    }
    let id = execution["id"].as_str().unwrap();
    let listing = home
        .st2()
        .args(["execution", "get", id, "-d", "-j"])
        .output()
        .unwrap();
    everything.push_str(&stdout(&listing));
    for secret in [
        PASSPHRASE,
        sudo_password,
        "login-secret-77aa01",
        body_line.as_str(),
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    // Our temporary files (the key written for ssh) are gone.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("st2-ssh-"))
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("private_key"))
                .is_ok_and(|key| key.contains(&body_line))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Ours (issue 20), not a port: `st2 pack install` of an `ssh://` or `user@host:path` URL
/// fetches through the system's `ssh`, chosen as git chooses it (`GIT_SSH_COMMAND` here,
/// which carries the test's key and port), shallow; a server that refuses the key gives the
/// authentication error, with ssh's own reason.
#[test]
fn packs_install_over_ssh_with_the_systems_client() {
    let Some(sshd) = sshd() else { return };
    let work = tempfile::tempdir().unwrap();
    GitRepo::pack(&work.path().join("demo"), "demo", &["1.0.0", "1.1.0"]);
    git(work.path(), &["clone", "-q", "--bare", "demo", "demo.git"]);
    let repo = work.path().join("demo.git");
    let ssh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        sshd.key("id_ed25519").display()
    );
    let home = Home::new();
    let st2 = || {
        let mut command = home.st2();
        command
            .env_remove("SSH_AUTH_SOCK")
            .env("GIT_SSH_COMMAND", &ssh);
        command
    };
    let url = format!(
        "ssh://{}@127.0.0.2:{}{}",
        sshd.user,
        sshd.port,
        repo.display()
    );
    let output = st2()
        .args(["pack", "install", &format!("{url}=1.0.0")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(home.installed(), ["demo"]);
    assert!(home.pack("demo").join(".git/shallow").is_file());

    // scp-like, the port in the command as a user would put it in ~/.ssh/config.
    let scp = format!("{}@127.0.0.3:{}", sshd.user, repo.display());
    let output = st2()
        .env("GIT_SSH_COMMAND", format!("{ssh} -p {}", sshd.port))
        .args(["pack", "install", &scp])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let version = std::fs::read_to_string(home.pack("demo").join("pack.yaml")).unwrap();
    assert!(version.contains("1.1.0"), "{version}");

    // 127.0.0.5 refuses every key.
    let refused = format!(
        "ssh://{}@127.0.0.5:{}{}",
        sshd.user,
        sshd.port,
        repo.display()
    );
    let output = st2().args(["pack", "install", &refused]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "Authentication failed for the git repository {refused}"
        )) && err.contains("Permission denied"),
        "{err}"
    );
}

//! Running an action's process: in its own process group, with its input written to stdin,
//! stdout and stderr captured (and passed on through a [`Tap`] as they come), a timeout, and
//! cancellation. When time is up or the execution is canceled the whole group is killed, so
//! children the action started die with it.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::output::{OutputStream, Tap};
use super::CancelFlag;

/// How often a waiting runner looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// It ran past the timeout; its group was killed.
    TimedOut,
    /// The execution was canceled; its group was killed.
    Canceled,
}

impl Ended {
    /// The exit code as StackStorm reports it: the code, or minus the signal number.
    pub(crate) fn return_code(self) -> i32 {
        match self {
            Ended::Exited(code) => code,
            Ended::Signaled(signal) => -signal,
            Ended::TimedOut | Ended::Canceled => -crate::sys::SIGKILL,
        }
    }
}

/// What a finished process left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    /// How it ended.
    pub ended: Ended,
    /// Everything it wrote on stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote on stderr.
    pub stderr: Vec<u8>,
}

/// Run `command` to completion: a new process group, `input` on stdin (then closed),
/// stdout and stderr captured, and sent through `tap` as they are read. After `timeout`
/// (when given) or when `cancel` is set, the process group gets SIGKILL.
pub(crate) fn run(
    mut command: Command,
    input: &[u8],
    timeout: Option<Duration>,
    cancel: &CancelFlag,
    tap: &Tap,
) -> std::io::Result<Finished> {
    command
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // If st2 itself dies (SIGKILL, a closed terminal), the action's process is killed with it
    // rather than left running unrecorded; `st2 execution list` then reports it abandoned.
    crate::sys::die_with_parent(&mut command);
    let mut child = command.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // A thread, so that a process that does not read its stdin cannot block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    match crate::sys::pidfd_open(child.id()) {
        Ok(exited) => watch(child, exited, timeout, cancel, tap),
        Err(_) => watch_with_threads(child, timeout, cancel, tap),
    }
}

/// Watch the running `child` on this thread alone: its pipes and its exit (`exited`, a pidfd)
/// in one `poll`, the timeout and the cancel flag between polls. Threads to read each pipe
/// and wait for the exit cost a trivial run as much as the rest of what it does after
/// starting the action.
fn watch(
    mut child: std::process::Child,
    exited: std::os::fd::OwnedFd,
    timeout: Option<Duration>,
    cancel: &CancelFlag,
    tap: &Tap,
) -> std::io::Result<Finished> {
    use std::os::fd::AsFd;
    let pgid = child.id();
    let mut streams = [
        child
            .stdout
            .take()
            .map(|pipe| Stream::new(pipe.into(), tap.writer(OutputStream::Stdout))),
        child
            .stderr
            .take()
            .map(|pipe| Stream::new(pipe.into(), tap.writer(OutputStream::Stderr))),
    ];
    let started = Instant::now();
    let mut killed = None;
    let mut status = None;
    loop {
        let open: Vec<usize> = (0..streams.len())
            .filter(|&i| streams[i].as_ref().is_some_and(|s| !s.done))
            .collect();
        if status.is_some() && open.is_empty() {
            break;
        }
        let wait = match timeout {
            Some(limit) => limit.saturating_sub(started.elapsed()).min(CANCEL_POLL),
            None => CANCEL_POLL,
        };
        let mut fds: Vec<std::os::fd::BorrowedFd<'_>> = open
            .iter()
            .map(|&i| streams[i].as_ref().expect("open").pipe.as_fd())
            .collect();
        if status.is_none() {
            fds.push(exited.as_fd());
        }
        let ready = crate::sys::poll_readable(&fds, wait)?;
        drop(fds);
        for (&i, ready) in open.iter().zip(&ready) {
            if *ready {
                streams[i].as_mut().expect("open").read();
            }
        }
        if status.is_none() && ready.last() == Some(&true) {
            status = Some(child.wait()?);
            // The action's own children may still hold the pipes open; they are in its group.
            kill_group(pgid);
            continue;
        }
        if killed.is_some() || status.is_some() {
            continue;
        }
        if cancel.is_set() {
            kill_group(pgid);
            killed = Some(Ended::Canceled);
        } else if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            kill_group(pgid);
            killed = Some(Ended::TimedOut);
        }
    }
    let status = status.expect("the loop ends once the process has");
    let ended = killed.unwrap_or_else(|| match status.code() {
        Some(code) => Ended::Exited(code),
        None => Ended::Signaled(status.signal().unwrap_or(crate::sys::SIGKILL)),
    });
    let [stdout, stderr] = streams.map(|stream| stream.map(Stream::finish).unwrap_or_default());
    Ok(Finished {
        ended,
        stdout,
        stderr,
    })
}

/// One of the action's output pipes, read as it becomes readable.
struct Stream {
    pipe: std::fs::File,
    writer: super::output::TapWriter,
    bytes: Vec<u8>,
    done: bool,
}

impl Stream {
    fn new(pipe: std::os::fd::OwnedFd, writer: super::output::TapWriter) -> Stream {
        Stream {
            pipe: std::fs::File::from(pipe),
            writer,
            bytes: Vec::new(),
            done: false,
        }
    }

    /// Read what is there (the pipe is readable: this does not block), passing it on.
    fn read(&mut self) {
        let mut buffer = [0u8; 16 * 1024];
        match self.pipe.read(&mut buffer) {
            Ok(0) => self.done = true,
            Ok(read) => {
                self.bytes.extend_from_slice(&buffer[..read]);
                self.writer.write(&buffer[..read]);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.done = true,
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.writer.finish();
        self.bytes
    }
}

/// [`watch`] where the kernel gives no pidfd (before Linux 5.3, or a sandbox that refuses
/// it): a thread reads each pipe and one waits for the exit.
fn watch_with_threads(
    mut child: std::process::Child,
    timeout: Option<Duration>,
    cancel: &CancelFlag,
    tap: &Tap,
) -> std::io::Result<Finished> {
    let pgid = child.id();
    let stdout = (child.stdout.take()).map(|pipe| drain(pipe, tap.writer(OutputStream::Stdout)));
    let stderr = (child.stderr.take()).map(|pipe| drain(pipe, tap.writer(OutputStream::Stderr)));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let started = Instant::now();
    let mut killed = None;
    let status = loop {
        let wait = match timeout {
            Some(limit) => limit.saturating_sub(started.elapsed()).min(CANCEL_POLL),
            None => CANCEL_POLL,
        };
        match receiver.recv_timeout(wait) {
            Ok(status) => break status?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(std::io::Error::other("lost track of the action process"))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if killed.is_some() {
            continue;
        }
        if cancel.is_set() {
            kill_group(pgid);
            killed = Some(Ended::Canceled);
        } else if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            kill_group(pgid);
            killed = Some(Ended::TimedOut);
        }
    };
    // The action's own children may still hold the pipes open; they are in its group.
    kill_group(pgid);
    let ended = killed.unwrap_or_else(|| match status.code() {
        Some(code) => Ended::Exited(code),
        None => Ended::Signaled(status.signal().unwrap_or(crate::sys::SIGKILL)),
    });
    Ok(Finished {
        ended,
        stdout: stdout.map(join).unwrap_or_default(),
        stderr: stderr.map(join).unwrap_or_default(),
    })
}

/// SIGKILL to every process of the group (no error when it is already gone).
pub(crate) fn kill_group(pgid: u32) {
    crate::sys::signal_group(pgid, crate::sys::SIGKILL);
}

/// Read a pipe to its end in a thread, passing each piece on as it comes.
fn drain(
    mut pipe: impl Read + Send + 'static,
    mut writer: super::output::TapWriter,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => {
                    bytes.extend_from_slice(&buffer[..read]);
                    writer.write(&buffer[..read]);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        writer.finish();
        bytes
    })
}

fn join(handle: std::thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}

/// Text from captured output: lossy UTF-8, one trailing newline removed (as StackStorm's
/// runners strip it).
pub(crate) fn text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.strip_suffix('\r').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(script);
        command
    }

    /// `script` run by `sh -c` with `input` on its stdin, neither canceled nor tapped.
    fn run_sh(script: &str, input: &[u8], timeout: Option<Duration>) -> Finished {
        run(sh(script), input, timeout, &CancelFlag::new(), &Tap::none()).unwrap()
    }

    /// Every case again with the threads of a kernel without pidfd.
    #[test]
    fn the_threaded_fallback_watches_the_same_way() {
        let threaded = |script: &str, timeout: Option<Duration>, cancel: &CancelFlag| {
            let mut command = sh(script);
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
            let child = command.spawn().unwrap();
            watch_with_threads(child, timeout, cancel, &Tap::none()).unwrap()
        };
        let done = threaded("echo out; echo err >&2; exit 3", None, &CancelFlag::new());
        assert_eq!(done.ended, Ended::Exited(3));
        assert_eq!(
            (done.stdout.as_slice(), done.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
        let done = threaded(
            "sleep 30 & sleep 30",
            Some(Duration::from_millis(200)),
            &CancelFlag::new(),
        );
        assert_eq!(done.ended, Ended::TimedOut);
        let cancel = CancelFlag::new();
        cancel.cancel();
        assert_eq!(threaded("sleep 30", None, &cancel).ended, Ended::Canceled);
    }

    #[test]
    fn a_process_that_closes_its_output_early_is_still_waited_for() {
        let started = Instant::now();
        let done = run_sh("exec >/dev/null 2>&1; sleep 0.3; exit 4", b"", None);
        assert_eq!(done.ended, Ended::Exited(4));
        assert!(started.elapsed() >= Duration::from_millis(300));
        // And the timeout still holds then.
        let done = run_sh(
            "exec >/dev/null 2>&1; sleep 30",
            b"",
            Some(Duration::from_millis(200)),
        );
        assert_eq!(done.ended, Ended::TimedOut);
    }

    #[test]
    fn a_background_child_holding_the_pipes_is_killed_with_the_group() {
        let started = Instant::now();
        let done = run_sh("sleep 30 & echo started", b"", None);
        assert_eq!(done.ended, Ended::Exited(0));
        assert_eq!(done.stdout, b"started\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn captures_output_and_exit_code() {
        let done = run_sh("cat; echo err >&2; exit 3", b"in", None);
        assert_eq!(done.ended, Ended::Exited(3));
        assert_eq!(done.stdout, b"in");
        assert_eq!(text(&done.stderr), "err");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let started = Instant::now();
        // The grandchild keeps stdout open: without the group kill this would hang.
        let done = run_sh("sleep 30 & sleep 30", b"", Some(Duration::from_millis(200)));
        assert_eq!(done.ended, Ended::TimedOut);
        assert_eq!(done.ended.return_code(), -9);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn cancel_kills_the_process() {
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.cancel();
        });
        let done = run(sh("sleep 30"), b"", None, &cancel, &Tap::none()).unwrap();
        assert_eq!(done.ended, Ended::Canceled);
    }

    #[test]
    fn a_signal_is_a_negative_return_code() {
        let done = run_sh("kill -TERM $$", b"", None);
        assert_eq!(done.ended, Ended::Signaled(crate::sys::SIGTERM));
        assert_eq!(done.ended.return_code(), -15);
    }

    #[test]
    fn output_is_passed_on_while_the_process_runs() {
        let (tap, receiver) = Tap::channel();
        let collector = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for event in receiver {
                if let super::super::output::TapEvent::Output { stream, data, .. } = event {
                    seen.push((stream, data, Instant::now()));
                }
            }
            seen
        });
        let started = Instant::now();
        let done = run(
            sh("echo first; sleep 0.5; echo second >&2"),
            b"",
            None,
            &CancelFlag::new(),
            &tap,
        )
        .unwrap();
        drop(tap);
        let seen = collector.join().unwrap();
        assert_eq!(done.stdout, b"first\n");
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(
            (seen[0].0, seen[0].1.as_slice()),
            (OutputStream::Stdout, &b"first\n"[..])
        );
        assert_eq!(
            (seen[1].0, seen[1].1.as_slice()),
            (OutputStream::Stderr, &b"second\n"[..])
        );
        // The first line came before the process ended, not with the rest at the end.
        assert!(seen[0].2.duration_since(started) < Duration::from_millis(400));
    }

    #[test]
    fn text_strips_one_trailing_newline() {
        assert_eq!(text(b"a\n\n"), "a\n");
        assert_eq!(text(b"a\r\n"), "a");
        assert_eq!(text(b""), "");
    }
}

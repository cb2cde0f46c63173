//! One `ssh` process, run to its end: its input written (and, for a command, kept open as
//! the remote side's lifeline), stdout and stderr read as they come and scanned for the end
//! marker of [`super::command::Wrapper`], a deadline and the cancel flag. It runs in its own
//! process group, which is killed when the deadline passes, when the execution is canceled,
//! and at the end (a `ProxyCommand` started by `ssh` goes with it).

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::runner::output::{OutputStream, Tap, TapWriter};
use crate::runner::CancelFlag;

/// How often the cancel flag is looked at.
const POLL: Duration = Duration::from_millis(50);
/// How long `ssh` may take to exit once the command's end marker came (it waits for the
/// output to be closed, which a process the command left in the background may hold).
const EXIT_GRACE: Duration = Duration::from_millis(200);
/// How long the output may stay open after `ssh` and its group are gone.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// One `ssh` run.
pub(crate) struct Session<'a> {
    /// The `ssh` command.
    pub command: Command,
    /// Written to its input first.
    pub input: Vec<u8>,
    /// Keep the input open after it (the remote side's lifeline), else close it.
    pub keep_input_open: bool,
    /// The end marker's pattern (`\n<word>`) when the remote side prints one.
    pub marker: Option<Vec<u8>>,
    /// The remote side has a terminal: `\r\n` is `\n`, and only stdout has a marker.
    pub pty: bool,
    /// When to give up.
    pub deadline: Option<Instant>,
    /// Set when the execution is canceled.
    pub cancel: &'a CancelFlag,
    /// Where the output goes as it comes (single-host runs).
    pub tap: Option<&'a Tap>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The command ran and exited with this code (from the end marker).
    Completed(i32),
    /// `ssh` exited with this code (or was killed by this signal, negative) without an end
    /// marker: 255 is `ssh`'s own failure (its log says why).
    Exited(i32),
    /// The deadline passed.
    TimedOut,
    /// The execution was canceled.
    Canceled,
}

/// What a session left.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    /// How it ended.
    pub ending: Ending,
    /// The command's stdout (the marker and what came after it left out).
    pub stdout: Vec<u8>,
    /// The command's stderr.
    pub stderr: Vec<u8>,
}

enum Event {
    Data(usize, Vec<u8>),
    Eof(usize),
    Exit(std::io::Result<ExitStatus>),
}

impl Session<'_> {
    /// Run it.
    pub(crate) fn run(mut self) -> std::io::Result<Ended> {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        crate::sys::die_with_parent(&mut self.command);
        let mut child = self.command.spawn()?;
        let pgid = child.id();
        let (events, receiver) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            read_pipe(pipe, 0, events.clone());
        }
        if let Some(pipe) = child.stderr.take() {
            read_pipe(pipe, 1, events.clone());
        }
        // The input is written by a thread (a large upload must not block us), which then
        // holds it open until `release` is dropped, when `keep_input_open`.
        let (release, released) = mpsc::channel::<()>();
        if let Some(mut stdin) = child.stdin.take() {
            let input = std::mem::take(&mut self.input);
            let keep = self.keep_input_open;
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
                let _ = stdin.flush();
                if keep {
                    let _ = released.recv();
                }
                drop(stdin);
            });
        }
        {
            let events = events.clone();
            std::thread::spawn(move || {
                let _ = events.send(Event::Exit(child.wait()));
            });
        }
        drop(events);

        let tap_writer = |stream| self.tap.map(|tap| tap.writer(stream));
        let mut scanners = [
            Scanner::new(
                self.marker.clone(),
                true,
                self.pty,
                tap_writer(OutputStream::Stdout),
            ),
            Scanner::new(
                if self.pty { None } else { self.marker.clone() },
                false,
                false,
                tap_writer(OutputStream::Stderr),
            ),
        ];
        let mut eof = [false, false];
        let mut exit: Option<(std::io::Result<ExitStatus>, Instant)> = None;
        let mut stopped: Option<Ending> = None;
        let mut marked_at: Option<Instant> = None;
        let mut killed = false;
        loop {
            let now = Instant::now();
            let mut wait = POLL;
            if let (Some(deadline), None) = (self.deadline, stopped) {
                wait = wait.min(deadline.saturating_duration_since(now));
            }
            match receiver.recv_timeout(wait) {
                Ok(Event::Data(stream, data)) => scanners[stream].feed(&data),
                Ok(Event::Eof(stream)) => eof[stream] = true,
                Ok(Event::Exit(status)) => {
                    exit = Some((status, Instant::now()));
                    // Whatever `ssh` started (a ProxyCommand) goes with it; the pipes close.
                    crate::sys::signal_group(pgid, crate::sys::SIGKILL);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let complete = scanners[0].marked() && (self.pty || scanners[1].marked());
            if let Some((_, at)) = &exit {
                if (eof[0] && eof[1]) || complete || at.elapsed() >= DRAIN_GRACE {
                    break;
                }
                continue;
            }
            if stopped.is_some() || killed {
                continue;
            }
            if self.cancel.is_set() {
                stopped = Some(Ending::Canceled);
            } else if complete {
                let at = *marked_at.get_or_insert_with(Instant::now);
                if at.elapsed() >= EXIT_GRACE {
                    killed = true;
                }
            } else if self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                stopped = Some(Ending::TimedOut);
            }
            if stopped.is_some() || killed {
                crate::sys::signal_group(pgid, crate::sys::SIGKILL);
            }
        }
        drop(release);
        crate::sys::signal_group(pgid, crate::sys::SIGKILL);
        for scanner in &mut scanners {
            scanner.finish();
        }
        let ending = match (stopped, scanners[0].code) {
            (Some(stopped), _) => stopped,
            (None, Some(code)) => Ending::Completed(code),
            (None, None) => match exit {
                Some((Ok(status), _)) => Ending::Exited(
                    status
                        .code()
                        .unwrap_or_else(|| -status.signal().unwrap_or(crate::sys::SIGKILL)),
                ),
                Some((Err(err), _)) => return Err(err),
                None => return Err(std::io::Error::other("lost track of the ssh process")),
            },
        };
        let [stdout, stderr] = scanners.map(|scanner| scanner.out);
        Ok(Ended {
            ending,
            stdout,
            stderr,
        })
    }
}

/// Read a pipe to its end in a thread, sending each piece as it comes.
fn read_pipe(mut pipe: impl Read + Send + 'static, stream: usize, events: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => {
                    if events
                        .send(Event::Data(stream, buffer[..read].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = events.send(Event::Eof(stream));
    });
}

/// One stream's output up to the end marker; with `with_code`, the exit code after it.
struct Scanner {
    pattern: Option<Vec<u8>>,
    with_code: bool,
    crlf: bool,
    pending_cr: bool,
    held: Vec<u8>,
    out: Vec<u8>,
    after: Option<Vec<u8>>,
    code: Option<i32>,
    writer: Option<TapWriter>,
}

impl Scanner {
    fn new(
        pattern: Option<Vec<u8>>,
        with_code: bool,
        crlf: bool,
        writer: Option<TapWriter>,
    ) -> Scanner {
        Scanner {
            pattern,
            with_code,
            crlf,
            pending_cr: false,
            held: Vec::new(),
            out: Vec::new(),
            after: None,
            code: None,
            writer,
        }
    }

    fn marked(&self) -> bool {
        self.after.is_some() && (!self.with_code || self.code.is_some())
    }

    fn emit(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.out.extend_from_slice(data);
        if let Some(writer) = &mut self.writer {
            writer.write(data);
        }
    }

    /// `\r\n` as `\n` (a terminal's line ends, as upstream's `sanitize_output` makes them).
    fn uncrlf(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 1);
        if std::mem::take(&mut self.pending_cr) && data.first() != Some(&b'\n') {
            out.push(b'\r');
        }
        let mut bytes = data.iter().peekable();
        while let Some(&byte) = bytes.next() {
            if byte == b'\r' {
                match bytes.peek() {
                    Some(b'\n') => continue,
                    None => {
                        self.pending_cr = true;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            out.push(byte);
        }
        out
    }

    fn feed(&mut self, data: &[u8]) {
        let data = if self.crlf {
            self.uncrlf(data)
        } else {
            data.to_vec()
        };
        if let Some(after) = &mut self.after {
            if self.with_code && self.code.is_none() {
                after.extend_from_slice(&data);
                self.code = parse_code(after);
            }
            return;
        }
        let Some(pattern) = self.pattern.clone() else {
            self.emit(&data);
            return;
        };
        let mut buffer = std::mem::take(&mut self.held);
        buffer.extend_from_slice(&data);
        match buffer
            .windows(pattern.len())
            .position(|window| window == pattern.as_slice())
        {
            Some(at) => {
                self.emit(&buffer[..at]);
                let after = buffer[at + pattern.len()..].to_vec();
                self.code = parse_code(&after);
                self.after = Some(after);
            }
            None => {
                let keep = crate::redact::partial_suffix(&buffer, &pattern);
                let cut = buffer.len() - keep;
                self.emit(&buffer[..cut]);
                self.held = buffer[cut..].to_vec();
            }
        }
    }

    fn finish(&mut self) {
        if self.after.is_none() {
            let mut held = std::mem::take(&mut self.held);
            if std::mem::take(&mut self.pending_cr) {
                held.push(b'\r');
            }
            self.emit(&held);
        }
        if let Some(writer) = &mut self.writer {
            writer.finish();
        }
    }
}

/// The exit code after the marker: ` <code>\n`.
fn parse_code(after: &[u8]) -> Option<i32> {
    let end = after.iter().position(|byte| *byte == b'\n')?;
    std::str::from_utf8(&after[..end]).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(pattern: &str, with_code: bool, crlf: bool, chunks: &[&[u8]]) -> Scanner {
        let mut scanner = Scanner::new(Some(pattern.as_bytes().to_vec()), with_code, crlf, None);
        for chunk in chunks {
            scanner.feed(chunk);
        }
        scanner.finish();
        scanner
    }

    #[test]
    fn the_marker_ends_the_output_whatever_the_chunks() {
        let text = b"out\nmore\n\nEND 3\nlate output";
        for size in 1..=text.len() {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            let scanner = scan("\nEND", true, false, &chunks);
            assert_eq!(scanner.out, b"out\nmore\n", "chunks of {size}");
            assert_eq!(scanner.code, Some(3), "chunks of {size}");
            assert!(scanner.marked());
        }
        // No marker: everything is output, and there is no code.
        let scanner = scan("\nEND", true, false, &[b"a\nEN"]);
        assert_eq!(scanner.out, b"a\nEN");
        assert!(!scanner.marked());
        // A marker without its code yet is not the end.
        let mut scanner = Scanner::new(Some(b"\nEND".to_vec()), true, false, None);
        scanner.feed(b"x\nEND 1");
        assert!(!scanner.marked());
        scanner.feed(b"27\n");
        assert_eq!(scanner.code, Some(127));
    }

    #[test]
    fn terminal_line_ends_become_newlines() {
        let text = b"a\r\nb\rc\r\n\r\nEND 0\r\n";
        for size in 1..=text.len() {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            let scanner = scan("\nEND", true, true, &chunks);
            assert_eq!(scanner.out, b"a\nb\rc\n", "chunks of {size}");
            assert_eq!(scanner.code, Some(0), "chunks of {size}");
        }
        let scanner = scan("\nEND", true, true, &[b"ends with\r"]);
        assert_eq!(scanner.out, b"ends with\r");
    }

    fn sh(script: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(script);
        command
    }

    fn session(
        command: Command,
        marker: Option<&str>,
        deadline: Option<Duration>,
        cancel: &CancelFlag,
    ) -> Ended {
        Session {
            command,
            input: Vec::new(),
            keep_input_open: true,
            marker: marker.map(|m| m.as_bytes().to_vec()),
            pty: false,
            deadline: deadline.map(|d| Instant::now() + d),
            cancel,
            tap: None,
        }
        .run()
        .unwrap()
    }

    #[test]
    fn the_session_ends_at_the_marker_even_when_the_output_stays_open() {
        let started = Instant::now();
        // The background sleep keeps stdout open; the markers end the session anyway.
        let ended = session(
            sh("sleep 30 & echo hi; printf '\\nEND 4\\n'; printf '\\nEND\\n' >&2; exit 0"),
            Some("\nEND"),
            None,
            &CancelFlag::new(),
        );
        assert_eq!(ended.ending, Ending::Completed(4));
        assert_eq!(ended.stdout, b"hi\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn without_a_marker_the_exit_code_is_ssh_s() {
        let ended = session(
            sh("echo err >&2; exit 255"),
            Some("\nEND"),
            None,
            &CancelFlag::new(),
        );
        assert_eq!(ended.ending, Ending::Exited(255));
        assert_eq!(ended.stderr, b"err\n");
    }

    #[test]
    fn the_deadline_and_cancel_stop_it() {
        let started = Instant::now();
        let ended = session(
            sh("echo partial; sleep 30"),
            Some("\nEND"),
            Some(Duration::from_millis(300)),
            &CancelFlag::new(),
        );
        assert_eq!(ended.ending, Ending::TimedOut);
        assert_eq!(ended.stdout, b"partial\n");
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.cancel();
        });
        let ended = session(sh("sleep 30"), None, None, &cancel);
        assert_eq!(ended.ending, Ending::Canceled);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_input_is_written_then_kept_open() {
        let ended = session(
            sh("read line; echo \"got $line\"; read rest || echo eof"),
            None,
            Some(Duration::from_millis(500)),
            &CancelFlag::new(),
        );
        // The second read never ends: the input is still open when the deadline comes.
        assert_eq!(ended.ending, Ending::TimedOut);
        let mut with_input = Session {
            command: sh("read line; echo \"got $line\"; read rest || echo eof"),
            input: b"secret line\n".to_vec(),
            keep_input_open: false,
            marker: None,
            pty: false,
            deadline: None,
            cancel: &CancelFlag::new(),
            tap: None,
        };
        with_input.input = b"secret line\n".to_vec();
        let ended = with_input.run().unwrap();
        assert_eq!(ended.ending, Ending::Exited(0));
        assert_eq!(ended.stdout, b"got secret line\neof\n");
    }
}

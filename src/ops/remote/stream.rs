//! The cluster's event stream (st2stream, `../shared/spec/remote-api.md` §3): server-sent
//! events read as they come, with a bound on silence.
//!
//! Where we differ from st2client on purpose: the credential goes in a header, never in the
//! URL (st2client puts `x-auth-token=` in the query, which lands in proxy logs and in its own
//! error messages); the whole SSE format is read (`data:` lines joined with `\n`, `:`
//! comments, `id:`/`retry:` ignored, a blank line dispatches); and a stream silent for longer
//! than the HTTP timeout (60 s by default; st2stream sends a heartbeat every 25 s) counts as
//! dropped instead of hanging forever (st2#3959, st2#4842); a stream that breaks before its
//! end is opened once more, then the caller polls ([`follow`]; `run`, `execution tail` and a
//! workflow's tail share it). st2client's stream never reconnects.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::ops::executions::OutputPiece;
use crate::runner::output::OutputStream;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// `event:` (`message` when the server names none).
    pub(crate) name: String,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: String,
}

/// How reading a stream ended.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    /// The server closed it.
    Closed,
    /// Nothing came for longer than the timeout, or the connection broke: why.
    Broken(String),
}

/// Events of a `text/event-stream` body, one at a time.
pub(crate) struct EventReader<R: Read> {
    lines: BufReader<R>,
}

impl<R: Read> EventReader<R> {
    /// Read events from `body`.
    pub(crate) fn new(body: R) -> EventReader<R> {
        EventReader {
            lines: BufReader::new(body),
        }
    }

    /// The next event; `Err` when the stream ended before one.
    pub(crate) fn next_event(&mut self) -> Result<Event, StreamEnd> {
        let mut name = String::new();
        let mut data: Option<String> = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            match self.lines.read_until(b'\n', &mut line) {
                Ok(0) => return Err(StreamEnd::Closed),
                Ok(_) => {}
                Err(err) => return Err(StreamEnd::Broken(broken(&err))),
            }
            if !line.ends_with(b"\n") {
                // The last line of a stream cut short: not an event.
                return Err(StreamEnd::Closed);
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\n').trim_end_matches('\r');
            if text.is_empty() {
                // A blank line dispatches the event; alone, it is a heartbeat.
                if let Some(data) = data.take() {
                    let name = if name.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut name)
                    };
                    return Ok(Event { name, data });
                }
                name.clear();
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = match text.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (text, ""),
            };
            match field {
                "event" => name = value.to_string(),
                "data" => match &mut data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => data = Some(value.to_string()),
                },
                _ => {}
            }
        }
    }
}

/// How many times a stream is opened before the caller falls back to polling: once, then
/// once more after it broke (`../shared/spec/remote-api.md` §3 **[fix]** (5)).
pub(crate) const ATTEMPTS: usize = 2;

/// How often the one who follows a stream hears from it while nothing comes (a spinner
/// ticks, Ctrl-C is noticed).
const IDLE_TICK: Duration = Duration::from_millis(100);

/// What the one who follows a stream says after each thing it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Go on reading.
    Continue,
    /// The end it waited for came.
    Done,
    /// Stop now (its reader went away, Ctrl-C).
    Stop,
}

/// How following a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Followed {
    /// The follower saw the end it waited for.
    Done,
    /// The follower stopped.
    Stopped,
    /// The stream broke (closed before the end, stayed silent, could not be opened) every
    /// time it was opened: why, the last time. The caller polls.
    Broken(String),
}

/// The one who follows a stream.
pub(crate) trait Follower {
    /// The stream is open (`attempt` 1, or 2 after it broke): anything to do before its
    /// events are read (the replay of an output stream starts again).
    fn connected(&mut self, attempt: usize) -> anyhow::Result<Step>;
    /// An event.
    fn event(&mut self, event: &Event) -> anyhow::Result<Step>;
    /// Nothing came for a while (about 100 ms).
    fn idle(&mut self) -> Step {
        Step::Continue
    }
    /// The stream broke before the end (`why`): [`Step::Continue`] opens it again (while
    /// attempts are left).
    fn broken(&mut self, _why: &str) -> Step {
        Step::Continue
    }
}

/// Follow a stream: `open` it, hand its events to `follower` until it says it is done, and
/// open it once more when it breaks first ([`ATTEMPTS`]). Events are read by a thread, so
/// that the follower hears [`Follower::idle`] while the stream is silent.
pub(crate) fn follow<R: Read + Send + 'static>(
    open: &mut dyn FnMut() -> anyhow::Result<R>,
    follower: &mut dyn Follower,
) -> anyhow::Result<Followed> {
    let mut why = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tracing::debug!("the stream broke ({why}); opening it again");
        }
        let body = match open() {
            Ok(body) => body,
            Err(err) => {
                why = format!("{err:#}");
                continue;
            }
        };
        match follower.connected(attempt)? {
            Step::Continue => {}
            Step::Done => return Ok(Followed::Done),
            Step::Stop => return Ok(Followed::Stopped),
        }
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut events = EventReader::new(body);
            loop {
                let event = events.next_event();
                let end = event.is_err();
                if sender.send(event).is_err() || end {
                    return;
                }
            }
        });
        why = loop {
            let step = match receiver.recv_timeout(IDLE_TICK) {
                Ok(Ok(event)) => follower.event(&event)?,
                Ok(Err(StreamEnd::Broken(why))) => break why,
                Ok(Err(StreamEnd::Closed)) | Err(RecvTimeoutError::Disconnected) => {
                    break "it closed before the end".to_string()
                }
                Err(RecvTimeoutError::Timeout) => follower.idle(),
            };
            match step {
                Step::Continue => {}
                Step::Done => return Ok(Followed::Done),
                Step::Stop => return Ok(Followed::Stopped),
            }
        };
        match follower.broken(&why) {
            Step::Continue => {}
            Step::Done => return Ok(Followed::Done),
            Step::Stop => return Ok(Followed::Stopped),
        }
    }
    Ok(Followed::Broken(why))
}

/// The output of an `st2.execution.output__create` event (`{execution_id, timestamp,
/// output_type, data, ...}`), and the execution it belongs to.
pub(crate) fn output_piece(event: &Event) -> Option<(String, OutputPiece)> {
    if event.name != "st2.execution.output__create" {
        return None;
    }
    let value = serde_json::from_str::<serde_json::Value>(&event.data).ok()?;
    let text = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    Some((
        text("execution_id").unwrap_or_default().to_string(),
        OutputPiece {
            stream: text("output_type")
                .and_then(OutputStream::parse)
                .unwrap_or(OutputStream::Stdout),
            data: text("data").unwrap_or_default().as_bytes().to_vec(),
            timestamp: text("timestamp").unwrap_or_default().to_string(),
            note: false,
        },
    ))
}

/// Follows an execution's output stream (`S/executions/ID/output`), which replays what the
/// execution printed before it sends what comes, and ends with `EOF`: after a reconnect, the
/// replay of what was already handed on is skipped, so nothing shows twice.
pub(crate) struct OutputFollower<'a> {
    /// Output events handed on so far, over every connection.
    shown_events: usize,
    /// Their bytes.
    pub(crate) shown_bytes: usize,
    /// Output events seen on this connection.
    seen: usize,
    /// Takes each piece; false: stop.
    sink: &'a mut dyn FnMut(OutputPiece) -> bool,
    /// Called while nothing comes; true: stop.
    idle: &'a mut dyn FnMut() -> bool,
}

impl<'a> OutputFollower<'a> {
    /// A follower handing pieces to `sink`, asking `idle` whether to stop while nothing comes.
    pub(crate) fn new(
        sink: &'a mut dyn FnMut(OutputPiece) -> bool,
        idle: &'a mut dyn FnMut() -> bool,
    ) -> OutputFollower<'a> {
        OutputFollower {
            shown_events: 0,
            shown_bytes: 0,
            seen: 0,
            sink,
            idle,
        }
    }
}

impl Follower for OutputFollower<'_> {
    fn connected(&mut self, _attempt: usize) -> anyhow::Result<Step> {
        self.seen = 0;
        Ok(Step::Continue)
    }

    fn event(&mut self, event: &Event) -> anyhow::Result<Step> {
        if event.name == "EOF" {
            return Ok(Step::Done);
        }
        let Some((_, piece)) = output_piece(event) else {
            return Ok(Step::Continue);
        };
        self.seen += 1;
        if self.seen <= self.shown_events {
            return Ok(Step::Continue);
        }
        self.shown_events = self.seen;
        self.shown_bytes += piece.data.len();
        Ok(if (self.sink)(piece) {
            Step::Continue
        } else {
            Step::Stop
        })
    }

    fn idle(&mut self) -> Step {
        if (self.idle)() {
            Step::Stop
        } else {
            Step::Continue
        }
    }
}

/// Why a read failed, in a few words.
fn broken(err: &std::io::Error) -> String {
    if matches!(
        err.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) || err.to_string().contains("timed out")
    {
        return "nothing came for longer than the HTTP timeout".into();
    }
    let text = err.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> (Vec<Event>, StreamEnd) {
        let mut reader = EventReader::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            match reader.next_event() {
                Ok(event) => out.push(event),
                Err(end) => return (out, end),
            }
        }
    }

    #[test]
    fn reads_st2streams_events_and_the_whole_format() {
        let (got, end) = events(
            "\nevent: st2.execution__update\ndata: {\"id\": 1}\n\n\n: comment\n\
             data: a\ndata: b\nid: 7\nretry: 10\n\nevent: EOF\ndata: ''\r\n\r\n\
             event: half\ndata: x",
        );
        assert_eq!(
            got,
            vec![
                Event {
                    name: "st2.execution__update".into(),
                    data: "{\"id\": 1}".into()
                },
                Event {
                    name: "message".into(),
                    data: "a\nb".into()
                },
                Event {
                    name: "EOF".into(),
                    data: "''".into()
                },
            ]
        );
        assert!(matches!(end, StreamEnd::Closed));
    }
}

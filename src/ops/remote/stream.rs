//! The cluster's event stream (st2stream, `../shared/spec/remote-api.md` §3): server-sent
//! events read as they come, with a bound on silence.
//!
//! Where we differ from st2client on purpose: the credential goes in a header, never in the
//! URL (st2client puts `x-auth-token=` in the query, which lands in proxy logs and in its own
//! error messages); the whole SSE format is read (`data:` lines joined with `\n`, `:`
//! comments, `id:`/`retry:` ignored, a blank line dispatches); and a stream silent for longer
//! than the HTTP timeout (60 s by default; st2stream sends a heartbeat every 25 s) counts as
//! dropped instead of hanging forever (st2#3959, st2#4842).

use std::io::{BufRead, BufReader, Read};

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

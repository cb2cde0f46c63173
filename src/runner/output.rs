//! An action's output as it comes (StackStorm 3's output streaming, `[actionrunner]
//! stream_output`): the runners send what they read from the action's pipes through a [`Tap`]
//! while it runs, so that `st2 run` can show it on a terminal and record it for
//! `st2 execution tail` before the execution ends.
//!
//! The tap carries raw bytes, exactly as read (no line splitting: a progress bar without
//! newlines streams too). Masking the secrets of the run is the receiver's job
//! ([`crate::redact::StreamRedactor`]); a runner that learns a secret during the run (the
//! Python runner's datastore service) announces it with [`Tap::reveal`] before handing it to
//! the action, so that the receiver knows it before any output can contain it (and masks the
//! result with it too).

use std::sync::mpsc;

/// Which pipe of the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OutputStream {
    /// Its stdout.
    Stdout = 0,
    /// Its stderr.
    Stderr = 1,
}

impl OutputStream {
    /// `stdout` or `stderr`, as upstream's `output_type`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }

    /// Parse `stdout` / `stderr`.
    pub(crate) fn parse(text: &str) -> Option<OutputStream> {
        match text {
            "stdout" => Some(OutputStream::Stdout),
            "stderr" => Some(OutputStream::Stderr),
            _ => None,
        }
    }
}

/// What travels through a tap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TapEvent {
    /// Bytes the action wrote, as read (not masked yet).
    Output {
        /// Which pipe.
        stream: OutputStream,
        /// The bytes.
        data: Vec<u8>,
        /// When they were read.
        at: jiff::Timestamp,
    },
    /// A secret the action was handed during the run: mask it from now on.
    Secret(String),
    /// The run is over: nothing more comes (sent by [`Tap::close`]).
    End,
}

/// The sending end: cheap to clone, and a no-op when nobody listens.
#[derive(Debug, Clone)]
pub(crate) struct Tap {
    sender: Option<mpsc::Sender<TapEvent>>,
    /// A delimiter around text on stdout that is not output (the Python wrapper's result).
    hidden_between: Option<&'static str>,
}

impl Tap {
    /// A tap nobody listens to.
    #[cfg(test)]
    pub(crate) const fn none() -> Tap {
        Tap {
            sender: None,
            hidden_between: None,
        }
    }

    /// A tap and the receiver of what goes through it. The receiver sees the end when every
    /// clone of the tap (and every writer made from it) is dropped.
    pub(crate) fn channel() -> (Tap, mpsc::Receiver<TapEvent>) {
        let (sender, receiver) = mpsc::channel();
        (
            Tap {
                sender: Some(sender),
                hidden_between: None,
            },
            receiver,
        )
    }

    /// The same tap, leaving out of stdout what the action prints between two copies of
    /// `delimiter` (upstream's `make_read_and_store_stream_func` drops the lines that hold
    /// the Python wrapper's result delimiter).
    pub(crate) fn hiding_between(&self, delimiter: &'static str) -> Tap {
        Tap {
            sender: self.sender.clone(),
            hidden_between: Some(delimiter),
        }
    }

    /// Announce a secret the action is about to be handed.
    pub(crate) fn reveal(&self, secret: &str) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(TapEvent::Secret(secret.to_string()));
        }
    }

    /// Say that the run is over (the receiver need not wait for every clone to be dropped).
    pub(crate) fn close(&self) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(TapEvent::End);
        }
    }

    /// A writer for one pipe (one per reading thread: it keeps the filter's state).
    pub(crate) fn writer(&self, stream: OutputStream) -> TapWriter {
        let filter = match (stream, self.hidden_between) {
            (OutputStream::Stdout, Some(delimiter)) => Some(HideBetween::new(delimiter)),
            _ => None,
        };
        TapWriter {
            sender: self.sender.clone(),
            stream,
            filter,
        }
    }
}

/// Sends what one pipe gives; call [`TapWriter::finish`] at its end.
#[derive(Debug)]
pub(crate) struct TapWriter {
    sender: Option<mpsc::Sender<TapEvent>>,
    stream: OutputStream,
    filter: Option<HideBetween>,
}

impl TapWriter {
    /// Pass on bytes just read.
    pub(crate) fn write(&mut self, data: &[u8]) {
        if self.sender.is_none() || data.is_empty() {
            return;
        }
        let data = match &mut self.filter {
            Some(filter) => filter.push(data),
            None => data.to_vec(),
        };
        self.send(data);
    }

    /// The pipe ended: pass on what the filter still held.
    pub(crate) fn finish(&mut self) {
        if let Some(filter) = &mut self.filter {
            let rest = filter.finish();
            self.send(rest);
        }
    }

    fn send(&self, data: Vec<u8>) {
        if let (Some(sender), false) = (&self.sender, data.is_empty()) {
            let _ = sender.send(TapEvent::Output {
                stream: self.stream,
                data,
                at: jiff::Timestamp::now(),
            });
        }
    }
}

/// Leaves out what stands between the first two copies of a delimiter (and the delimiters).
/// A chunk may end inside a delimiter, so the longest tail that could start one is held back
/// until the next chunk tells.
#[derive(Debug)]
struct HideBetween {
    delimiter: &'static [u8],
    seen: u8,
    held: Vec<u8>,
}

impl HideBetween {
    fn new(delimiter: &'static str) -> HideBetween {
        HideBetween {
            delimiter: delimiter.as_bytes(),
            seen: 0,
            held: Vec::new(),
        }
    }

    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        let mut buffer = std::mem::take(&mut self.held);
        buffer.extend_from_slice(data);
        let mut out = Vec::new();
        let mut rest: &[u8] = &buffer;
        loop {
            if self.seen >= 2 {
                out.extend_from_slice(rest);
                return out;
            }
            match find(rest, self.delimiter) {
                Some(at) => {
                    if self.seen == 0 {
                        out.extend_from_slice(&rest[..at]);
                    }
                    self.seen += 1;
                    rest = &rest[at + self.delimiter.len()..];
                }
                None => {
                    let keep = crate::redact::partial_suffix(rest, self.delimiter);
                    let cut = rest.len() - keep;
                    if self.seen == 0 {
                        out.extend_from_slice(&rest[..cut]);
                    }
                    self.held = rest[cut..].to_vec();
                    return out;
                }
            }
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        if self.seen == 1 {
            Vec::new()
        } else {
            held
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(receiver: &mpsc::Receiver<TapEvent>) -> Vec<(OutputStream, String)> {
        receiver
            .try_iter()
            .filter_map(|event| match event {
                TapEvent::Output { stream, data, .. } => {
                    Some((stream, String::from_utf8(data).unwrap()))
                }
                TapEvent::Secret(_) | TapEvent::End => None,
            })
            .collect()
    }

    #[test]
    fn output_passes_as_read_and_nothing_without_a_listener() {
        let (tap, receiver) = Tap::channel();
        let mut writer = tap.writer(OutputStream::Stderr);
        writer.write(b"a");
        writer.write(b"");
        writer.write(b"b\n");
        writer.finish();
        assert_eq!(
            collect(&receiver),
            [
                (OutputStream::Stderr, "a".into()),
                (OutputStream::Stderr, "b\n".into())
            ]
        );
        let mut silent = Tap::none().writer(OutputStream::Stdout);
        silent.write(b"nobody listens");
        silent.finish();
    }

    #[test]
    fn the_result_between_delimiters_is_left_out_whatever_the_chunks() {
        let text = "before\n<D>{\"result\": 1}\n<D>after";
        for size in 1..=text.len() {
            let (tap, receiver) = Tap::channel();
            let mut writer = tap.hiding_between("<D>").writer(OutputStream::Stdout);
            for chunk in text.as_bytes().chunks(size) {
                writer.write(chunk);
            }
            writer.finish();
            let joined: String = collect(&receiver).into_iter().map(|(_, s)| s).collect();
            assert_eq!(joined, "before\nafter", "chunks of {size}");
        }
        // Only stdout is filtered; a lone delimiter hides the rest; a partial one is output.
        let (tap, receiver) = Tap::channel();
        let tap = tap.hiding_between("<D>");
        let mut err = tap.writer(OutputStream::Stderr);
        err.write(b"<D>x<D>");
        let mut out = tap.writer(OutputStream::Stdout);
        out.write(b"a<D>half");
        out.finish();
        let mut partial = tap.writer(OutputStream::Stdout);
        partial.write(b"ends with <");
        partial.finish();
        let got: Vec<String> = collect(&receiver).into_iter().map(|(_, s)| s).collect();
        assert_eq!(got, ["<D>x<D>", "a", "ends with ", "<"]);
    }
}

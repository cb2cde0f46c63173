//! The recorder of a run's output: a thread at the other end of the runner's [`Tap`] that
//! masks each stream as it comes ([`redact::StreamRedactor`], which holds back only what
//! could be the start of a secret), hands it to a [`LiveView`], and records it in
//! `execution_output` in batches (at most one write every [`OUTPUT_FLUSH`], or per
//! [`OUTPUT_BATCH_BYTES`]).
//!
//! [`Tap`]: crate::runner::output::Tap

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::execution::format_timestamp;
use crate::ops::executions::LiveView;
use crate::redact;
use crate::runner::output::{OutputStream, TapEvent};
use crate::store::{OutputChunk, Store};

/// How long recorded output may wait before it is written to the store.
pub(crate) const OUTPUT_FLUSH: Duration = Duration::from_millis(250);

/// How much recorded output may wait before it is written to the store.
pub(crate) const OUTPUT_BATCH_BYTES: usize = 1024 * 1024;

/// How often a [`LiveView`] is ticked while the action runs.
const TICK: Duration = Duration::from_millis(100);

/// The recorder thread of one execution: masks the output as it comes, shows it, records it
/// in batches, and returns what it has not written yet with the secrets it learned.
pub(super) struct Recorder {
    store_path: PathBuf,
    id: String,
    /// One per stream (stdout, stderr): each holds back its own partial secret.
    redactors: [redact::StreamRedactor; 2],
    /// The secrets announced during the run ([`TapEvent::Secret`]).
    learned: Vec<String>,
    pending: Vec<OutputChunk>,
    pending_bytes: usize,
    pending_since: Option<Instant>,
    /// Opened on the first batch written during the run (a quick run never needs it).
    store: Option<Store>,
    view: Option<Box<dyn LiveView>>,
}

impl Recorder {
    /// The recorder of execution `id`'s output, masking `secrets`, showing it to `view`.
    pub(super) fn new(
        store_path: &Path,
        id: &str,
        secrets: &[String],
        view: Option<Box<dyn LiveView>>,
    ) -> Recorder {
        Recorder {
            store_path: store_path.to_path_buf(),
            id: id.to_string(),
            redactors: [
                redact::StreamRedactor::new(secrets),
                redact::StreamRedactor::new(secrets),
            ],
            learned: Vec::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            pending_since: None,
            store: None,
            view,
        }
    }

    /// Record until the tap closes; answers what is left to write and the secrets learned.
    pub(super) fn run(mut self, events: Receiver<TapEvent>) -> (Vec<OutputChunk>, Vec<String>) {
        loop {
            match events.recv_timeout(TICK) {
                Ok(TapEvent::Output { stream, data, at }) => {
                    let masked = self.redactors[stream as usize].push(&data);
                    self.emit(stream, masked, at);
                }
                Ok(TapEvent::Secret(secret)) => {
                    self.redactors
                        .iter_mut()
                        .for_each(|redactor| redactor.add_secret(&secret));
                    self.learned.push(secret);
                }
                Ok(TapEvent::End) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if let Some(view) = &mut self.view {
                view.tick();
            }
            let due = self
                .pending_since
                .is_some_and(|since| since.elapsed() >= OUTPUT_FLUSH)
                || self.pending_bytes >= OUTPUT_BATCH_BYTES;
            if due {
                self.flush();
            }
        }
        for stream in [OutputStream::Stdout, OutputStream::Stderr] {
            let rest = self.redactors[stream as usize].finish();
            self.emit(stream, rest, jiff::Timestamp::now());
        }
        if let Some(view) = &mut self.view {
            view.finish();
        }
        (self.pending, self.learned)
    }

    fn emit(&mut self, stream: OutputStream, data: Vec<u8>, at: jiff::Timestamp) {
        if data.is_empty() {
            return;
        }
        if let Some(view) = &mut self.view {
            view.output(stream, &data);
        }
        self.pending_bytes += data.len();
        self.pending_since.get_or_insert_with(Instant::now);
        // Pieces of one stream that follow each other are one row (with the first's time).
        match self.pending.last_mut() {
            Some(last) if last.stream == stream.as_str() => last.data.extend(data),
            _ => self.pending.push(OutputChunk {
                seq: 0,
                stream: stream.as_str().to_string(),
                data,
                timestamp: format_timestamp(at),
            }),
        }
    }

    /// Write what is pending; on failure it stays pending for the final write.
    fn flush(&mut self) {
        if self.store.is_none() {
            match Store::open(&self.store_path) {
                Ok(store) => self.store = Some(store),
                Err(err) => {
                    tracing::debug!("cannot record the output yet: {err}");
                    self.pending_since = Some(Instant::now());
                    return;
                }
            }
        }
        let store = self.store.as_mut().expect("opened above");
        match store.append_output(&self.id, &self.pending) {
            Ok(()) => {
                self.pending.clear();
                self.pending_bytes = 0;
                self.pending_since = None;
            }
            Err(err) => {
                tracing::debug!("cannot record the output yet: {err}");
                self.pending_since = Some(Instant::now());
            }
        }
    }
}

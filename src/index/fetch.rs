//! Reading an index document from its URL: over HTTP with one client for every index of a
//! scheme (the timeout covering the whole download; for https the system's CA store and the
//! configured bundle, read only when an https index is), or from a file; at most
//! [`MAX_INDEX_BYTES`] either way.

use super::IndexOptions;

/// The HTTP clients of one load of the indexes, made when first needed: plain `http://`
/// needs no certificate, and reading the system's costs milliseconds.
#[derive(Default)]
pub(super) struct Clients {
    plain: Option<reqwest::blocking::Client>,
    secure: Option<reqwest::blocking::Client>,
}

/// Read one URL: `http(s)://`, `file://` or a plain path.
pub(super) fn fetch(
    url: &str,
    options: &IndexOptions,
    clients: &mut Clients,
) -> Result<Vec<u8>, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        let https = url.starts_with("https://");
        let client = if https {
            &mut clients.secure
        } else {
            &mut clients.plain
        };
        if client.is_none() {
            *client = Some(http_client(options, https)?);
        }
        let started = std::time::Instant::now();
        let response = client
            .as_ref()
            .expect("built above")
            .get(url)
            .send()
            .map_err(|err| crate::net::describe_failure(&err))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP status {status}"));
        }
        // reqwest's blocking reader bounds each read, not the whole body: a server dripping
        // a byte at a time would never time out. The deadline covers the whole download.
        let deadline = Deadline {
            inner: response,
            until: started + options.timeout,
        };
        return read_limited(deadline, |err| {
            if err.kind() == std::io::ErrorKind::TimedOut {
                return "timed out".to_string();
            }
            // reqwest's body errors wrap the cause (timeout, reset) in io::Error.
            match err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            {
                Some(err) => crate::net::describe_failure(err),
                None => err.to_string(),
            }
        });
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    let file = std::fs::File::open(path).map_err(|err| crate::settings::io_reason(&err))?;
    read_limited(file, |err| crate::settings::io_reason(&err))
}

/// A reader that fails with `TimedOut` once `until` has passed.
struct Deadline<R> {
    inner: R,
    until: std::time::Instant,
}

impl<R: std::io::Read> std::io::Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::time::Instant::now() >= self.until {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ));
        }
        self.inner.read(buf)
    }
}

/// Largest index document read: the Exchange index is under 1 MiB.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

fn read_limited(
    source: impl std::io::Read,
    describe: impl Fn(std::io::Error) -> String,
) -> Result<Vec<u8>, String> {
    crate::fs::read_at_most(source, MAX_INDEX_BYTES)
        .map_err(describe)?
        .ok_or_else(|| {
            format!(
                "the index is larger than {} MiB; this is not a pack index",
                MAX_INDEX_BYTES / (1024 * 1024)
            )
        })
}

fn http_client(options: &IndexOptions, https: bool) -> Result<reqwest::blocking::Client, String> {
    let builder = reqwest::blocking::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("st2-rs/", env!("CARGO_PKG_VERSION")));
    if !https {
        // A redirect to https then fails verification (no certificate is trusted), saying so.
        return builder.build().map_err(|err| err.to_string());
    }
    crate::tls::configure(
        builder,
        crate::tls::Trust::system_and(options.ca_bundle.as_deref()),
    )?
    .build()
    .map_err(|err| err.to_string())
}

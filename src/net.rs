//! What the crate's HTTP clients share beyond TLS (`tls`): how a request that got no answer
//! is told to the user. The index download and git's smart HTTP transport say it the same
//! way, so a failed `st2 pack install` reads alike whichever of the two failed.

/// A short reason for a request that got no answer: "timed out", "connection failed:
/// <innermost cause>", or the innermost cause (reqwest's own text wraps it in layers that
/// repeat the URL).
pub(crate) fn describe_failure(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_string();
    }
    let mut innermost: &dyn std::error::Error = err;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    if err.is_connect() {
        format!("connection failed: {innermost}")
    } else {
        innermost.to_string()
    }
}

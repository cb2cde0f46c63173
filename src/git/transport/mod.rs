//! git's network transports for `http://`, `https://` and `ssh://` (and `user@host:path`),
//! registered with libgit2 in place of its own. libgit2 keeps the git protocol (the ref
//! advertisement, the negotiation, the pack); these only carry its bytes:
//!
//! - `http.rs`: smart HTTP over reqwest, with the same TLS as every other connection of the
//!   crate (`tls`: rustls compiled in, the configured CA bundle or the system's store), the
//!   same proxies (`HTTPS_PROXY`, ..., git's `http.proxy`) and timeouts;
//! - `ssh.rs`: the system's OpenSSH client, as `git` itself runs it (`GIT_SSH_COMMAND`,
//!   `GIT_SSH`, `core.sshCommand`), so keys, agents and `~/.ssh/config` work as they do for
//!   `git clone`.
//!
//! Why not libgit2's own: on Linux they are OpenSSL (loaded from the system at every start,
//! which ties the binary to the distribution's OpenSSL version) and libssh2 (over OpenSSL
//! too, without `~/.ssh/config`). The remote runners use the system's `ssh` for the same
//! reasons (ARCHITECTURE.md). `git://` and local paths stay libgit2's.

mod http;
mod ssh;

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

/// What the transports need to know, process-wide (libgit2's registry of transports is).
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    /// Connect and read timeout.
    pub(crate) timeout: Duration,
    /// The CA bundle https trusts (`None`: the system's store).
    pub(crate) ca_bundle: Option<PathBuf>,
}

/// Register the transports, once per process, before libgit2 opens any connection (the first
/// fetch's options hold for the process: they come from its settings).
pub(crate) fn register(options: &TransportOptions) {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        let http = http::Http::shared(options.clone());
        for scheme in ["http", "https"] {
            let http = http.clone();
            let registered = crate::sys::libgit2_register_transport(scheme, move |remote| {
                git2::transport::Transport::smart(remote, true, http.subtransport())
            });
            if let Err(err) = registered {
                tracing::warn!("cannot register the {scheme} transport: {err}");
            }
        }
        for scheme in ["ssh", "ssh+git", "git+ssh"] {
            let timeout = options.timeout;
            let registered = crate::sys::libgit2_register_transport(scheme, move |remote| {
                git2::transport::Transport::smart(remote, false, ssh::Ssh::new(timeout))
            });
            if let Err(err) = registered {
                tracing::warn!("cannot register the {scheme} transport: {err}");
            }
        }
    });
}

/// A git2 error of `class` (`Auth` when `auth`), for a transport's failure.
fn error(class: git2::ErrorClass, auth: bool, message: impl Into<String>) -> git2::Error {
    let code = if auth {
        git2::ErrorCode::Auth
    } else {
        git2::ErrorCode::GenericError
    };
    git2::Error::new(code, class, message.into())
}

/// Pushing is not something st2 does.
fn push_refused(class: git2::ErrorClass) -> git2::Error {
    error(class, false, "pushing is not supported")
}

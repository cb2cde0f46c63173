//! What HTTPS trusts, for every connection the crate makes: the index, git over `https://`
//! (`git::transport`), the `http-request` runner and the native actions. TLS is rustls with
//! ring's cryptography, compiled into the binary: nothing depends on the system's OpenSSL
//! (its version, or whether it is installed), and a client whose requests are all plain
//! `http://` loads no certificate at all.
//!
//! The roots ([`Trust`]):
//! - the system's store, found as OpenSSL finds it (`$SSL_CERT_FILE`, `$SSL_CERT_DIR`, then
//!   the distribution's bundle such as `/etc/ssl/certs/ca-certificates.crt`:
//!   rustls-native-certs), so that a CA the administrator added is trusted and one the
//!   distribution removed is not; on a system without any (a bare container), Mozilla's
//!   roots built into the binary (webpki-roots), so that the public Exchange still installs;
//! - plus a configured CA bundle (`[content] ca_bundle_path` for the index and git, as the
//!   index always took it: a private index's CA does not stop github.com from being
//!   trusted);
//! - or a bundle alone (the remote client's `--cacert PATH`, as st2client's `requests` takes
//!   it).
//!
//! The configuration is made once per process and per trust: parsing the system's ~150
//! certificates costs about 3 ms of CPU (8.5M instructions; OpenSSL 3 took 45 ms), which
//! only a command that opens an HTTPS connection pays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Which certificates a client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust<'a> {
    /// The system's store.
    System,
    /// The system's store and this bundle's certificates.
    SystemAnd(&'a Path),
    /// This bundle's certificates alone.
    Only(&'a Path),
}

impl<'a> Trust<'a> {
    /// The system's store, plus `bundle` when there is one.
    pub(crate) fn system_and(bundle: Option<&'a Path>) -> Trust<'a> {
        bundle.map_or(Trust::System, Trust::SystemAnd)
    }
}

/// `builder` set up to verify servers against `trust`. An unreadable or empty bundle is an
/// error naming it.
pub(crate) fn configure(
    builder: reqwest::blocking::ClientBuilder,
    trust: Trust<'_>,
) -> Result<reqwest::blocking::ClientBuilder, String> {
    let config = client_config(trust)?;
    Ok(builder.use_preconfigured_tls((*config).clone()))
}

/// What a configuration was made for: how (0 system, 1 system and bundle, 2 bundle), and the
/// bundle.
type Key = (u8, Option<PathBuf>);

/// The rustls configuration for `trust`, made once per process.
pub(crate) fn client_config(trust: Trust<'_>) -> Result<Arc<ClientConfig>, String> {
    static CONFIGS: Mutex<Vec<(Key, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let key: Key = match trust {
        Trust::System => (0, None),
        Trust::SystemAnd(bundle) => (1, Some(bundle.to_path_buf())),
        Trust::Only(bundle) => (2, Some(bundle.to_path_buf())),
    };
    let mut configs = CONFIGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, config)) = configs.iter().find(|(made_for, _)| *made_for == key) {
        return Ok(config.clone());
    }
    let roots = match trust {
        Trust::System => system_roots(),
        Trust::Only(bundle) => bundle_roots(bundle)?,
        Trust::SystemAnd(bundle) => {
            let mut roots = bundle_roots(bundle)?;
            // `$SSL_CERT_FILE` is the system's store itself when set: not read twice.
            let is_the_system_store = std::env::var_os(crate::settings::env::SSL_CERT_FILE)
                .is_some_and(|file| Path::new(&file) == bundle);
            if !is_the_system_store {
                roots.roots.extend(system_roots().roots);
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("cannot set up TLS: {err}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // What reqwest offers when it makes the configuration itself (http2 is enabled).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = Arc::new(config);
    configs.push((key, config.clone()));
    Ok(config)
}

/// Every certificate of the PEM file `bundle`; an error when it cannot be read or holds none
/// that parses.
fn bundle_roots(bundle: &Path) -> Result<RootCertStore, String> {
    let pem = std::fs::read(bundle).map_err(|err| {
        format!(
            "cannot read CA bundle {}: {}",
            bundle.display(),
            crate::settings::io_reason(&err)
        )
    })?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("invalid CA bundle {}: {err}", bundle.display()))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(format!(
            "invalid CA bundle {}: it holds no PEM certificate",
            bundle.display()
        ));
    }
    Ok(roots)
}

/// The system's store; Mozilla's roots when it has none.
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(
        added,
        ignored,
        errors = found.errors.len(),
        "the system's CA certificates"
    );
    if added == 0 {
        tracing::debug!("no CA certificate on this system: using the built-in Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_that_is_missing_or_holds_no_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(Trust::Only(&missing)).unwrap_err();
        assert!(err.starts_with("cannot read CA bundle"), "{err}");
        assert!(err.contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(Trust::SystemAnd(&empty)).unwrap_err();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }

    #[test]
    fn configurations_are_made_once_per_bundle() {
        let first = client_config(Trust::System).unwrap();
        let second = client_config(Trust::system_and(None)).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!first.alpn_protocols.is_empty());
    }
}

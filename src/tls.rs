//! What HTTPS trusts, for every connection the crate makes: the index, git over `https://`
//! (`git::transport`), the `http-request` runner and the native actions. TLS is rustls with
//! ring's cryptography, compiled into the binary: nothing depends on the system's OpenSSL
//! (its version, or whether it is installed), and a client whose requests are all plain
//! `http://` loads no certificate at all.
//!
//! The roots, in order:
//! - a CA bundle when one is configured (`[content] ca_bundle_path`, else `$SSL_CERT_FILE`, as
//!   `settings` resolves it; git also honours `$GIT_SSL_CAINFO`, as git does): only its
//!   certificates;
//! - else the system's store, found as OpenSSL finds it (`$SSL_CERT_FILE`, `$SSL_CERT_DIR`,
//!   then the distribution's bundle such as `/etc/ssl/certs/ca-certificates.crt`:
//!   rustls-native-certs), so that a CA the administrator added is trusted and one the
//!   distribution removed is not;
//! - else, on a system without any (a bare container), Mozilla's roots built into the binary
//!   (webpki-roots), so that the public Exchange still installs.
//!
//! The configuration is made once per process and per bundle: parsing the system's ~150
//! certificates costs a few milliseconds, which only a command that opens an HTTPS connection
//! pays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// `builder` set up to verify servers against the roots above (`ca_bundle`: the configured
/// bundle, if any). An unreadable or empty bundle is an error naming it.
pub(crate) fn configure(
    builder: reqwest::blocking::ClientBuilder,
    ca_bundle: Option<&Path>,
) -> Result<reqwest::blocking::ClientBuilder, String> {
    let config = client_config(ca_bundle)?;
    Ok(builder.use_preconfigured_tls((*config).clone()))
}

/// The rustls configuration for `ca_bundle` (or the system's store), made once per process.
pub(crate) fn client_config(ca_bundle: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    static CONFIGS: Mutex<Vec<(Option<PathBuf>, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let mut configs = CONFIGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, config)) = configs.iter().find(|(key, _)| key.as_deref() == ca_bundle) {
        return Ok(config.clone());
    }
    let roots = match ca_bundle {
        Some(bundle) => bundle_roots(bundle)?,
        None => system_roots(),
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
    configs.push((ca_bundle.map(Path::to_path_buf), config.clone()));
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
        let err = client_config(Some(&missing)).unwrap_err();
        assert!(err.starts_with("cannot read CA bundle"), "{err}");
        assert!(err.contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(Some(&empty)).unwrap_err();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }

    #[test]
    fn configurations_are_made_once_per_bundle() {
        let first = client_config(None).unwrap();
        let second = client_config(None).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!first.alpn_protocols.is_empty());
    }
}

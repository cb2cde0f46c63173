//! OAuth 1.0a request signing, HMAC-SHA1 (RFC 5849 §3.4), as X's API wants it for user
//! context: the signature base string over the method, the base URL and every `oauth_*`,
//! query and form parameter, keyed by the consumer and token secrets.

use base64::Engine;
use hmac::Mac;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;

/// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode as OAuth requires (UTF-8, upper-case hex).
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// The four user-context credentials.
#[derive(Clone)]
pub(crate) struct Credentials {
    /// `consumer_key` (API key).
    pub consumer_key: String,
    /// `consumer_secret` (API key secret).
    pub consumer_secret: String,
    /// `access_token`.
    pub token: String,
    /// `access_token_secret`.
    pub token_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, even in debug logs.
        f.write_str("Credentials(********)")
    }
}

/// The per-request values: a fresh nonce and the current time, unless given (tests).
#[derive(Debug, Clone)]
pub(crate) struct Nonce {
    /// `oauth_nonce`.
    pub nonce: String,
    /// `oauth_timestamp` (epoch seconds).
    pub timestamp: u64,
}

impl Nonce {
    /// A random nonce (32 hex digits) and now.
    pub(crate) fn fresh() -> Nonce {
        let mut bytes = [0u8; 16];
        crate::crypto::fill_random(&mut bytes);
        Nonce {
            nonce: hex::encode(bytes),
            timestamp: jiff::Timestamp::now().as_second().max(0) as u64,
        }
    }
}

/// `scheme://host[:port]/path` as the signature base string wants it: lower-case host, the
/// port only when it is not the scheme's default, no query or fragment.
pub(crate) fn base_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = match url.port() {
        Some(port) => format!(":{port}"),
        None => String::new(),
    };
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

/// The `Authorization` header value for a request. `form` holds the body's parameters when
/// the body is `application/x-www-form-urlencoded` (they are signed); pass none for a JSON
/// body.
pub(crate) fn authorization(
    method: &str,
    url: &Url,
    form: &[(String, String)],
    credentials: &Credentials,
    nonce: &Nonce,
) -> String {
    let timestamp = nonce.timestamp.to_string();
    let protocol: Vec<(&str, &str)> = vec![
        ("oauth_consumer_key", &credentials.consumer_key),
        ("oauth_nonce", &nonce.nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", &timestamp),
        ("oauth_token", &credentials.token),
        ("oauth_version", "1.0"),
    ];
    let mut pairs: Vec<(String, String)> = protocol
        .iter()
        .map(|(key, value)| (encode(key), encode(value)))
        .collect();
    pairs.extend(
        url.query_pairs()
            .map(|(key, value)| (encode(&key), encode(&value))),
    );
    pairs.extend(form.iter().map(|(key, value)| (encode(key), encode(value))));
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_url(url)),
        encode(&normalized)
    );
    let key = format!(
        "{}&{}",
        encode(&credentials.consumer_secret),
        encode(&credentials.token_secret)
    );
    let signature = hmac_sha1(key.as_bytes(), base.as_bytes());
    let mut header: Vec<String> = protocol
        .iter()
        .map(|(key, value)| format!("{}=\"{}\"", encode(key), encode(value)))
        .collect();
    header.push(format!("oauth_signature=\"{}\"", encode(&signature)));
    format!("OAuth {}", header.join(", "))
}

/// base64(HMAC-SHA1(key, data)).
pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> String {
    let digest = crate::crypto::hmac_sha1(key)
        .chain_update(data)
        .finalize()
        .into_bytes();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// X's documented example ("Creating a signature").
    #[test]
    fn known_answer_from_the_x_documentation() {
        let url =
            Url::parse("https://api.twitter.com/1.1/statuses/update.json?include_entities=true")
                .unwrap();
        let credentials = Credentials {
            consumer_key: "xvz1evFS4wEEPTGEFPHBog".into(),
            consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw".into(),
            token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into(),
            token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE".into(),
        };
        let nonce = Nonce {
            nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg".into(),
            timestamp: 1318622958,
        };
        let form = vec![(
            "status".to_string(),
            "Hello Ladies + Gentlemen, a signed OAuth request!".to_string(),
        )];
        let header = authorization("post", &url, &form, &credentials, &nonce);
        assert!(
            header.contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\""),
            "{header}"
        );
        assert!(header.starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "));
        assert!(!format!("{credentials:?}").contains("kAcS"));
    }

    #[test]
    fn base_urls_and_encoding() {
        let url = Url::parse("HTTP://Example.COM:80/a%20b?x=1#frag").unwrap();
        assert_eq!(base_url(&url), "http://example.com/a%20b");
        let url = Url::parse("http://127.0.0.1:8080/2/tweets").unwrap();
        assert_eq!(base_url(&url), "http://127.0.0.1:8080/2/tweets");
        assert_eq!(encode("a b+c~é"), "a%20b%2Bc~%C3%A9");
    }
}

//! StackStorm's datastore encryption (`st2common/st2common/util/crypto.py`), byte for byte:
//! a keyczar-style JSON key file with an AES-256 key and an HMAC-SHA1 key, and values stored
//! as upper-case hex of `"00000"` + IV + AES-CBC(PKCS#5-padded UTF-8) + HMAC-SHA1 of all that.
//! Values and key files move between StackStorm and us unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt, encrypt, Cipher};
use serde_json::{json, Value};

/// The unused keyczar header StackStorm writes before the IV.
const HEADER: &[u8] = b"00000";
/// AES block (and IV) size.
const BLOCK: usize = 16;
/// HMAC-SHA1 length.
const HMAC_LEN: usize = 20;
/// Key size StackStorm generates, in bits.
const KEY_BITS: usize = 256;

/// Errors of key files and ciphertexts.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key file cannot be read or written.
    #[error("{action} key file {}: {reason}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS reason.
        reason: String,
    },
    /// The key file is not a usable key.
    #[error("Invalid or malformed key file \"{}\": {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A value does not decrypt with this key (tampered, truncated, other key, not hex).
    #[error("the value is not valid ciphertext for this key ({0})")]
    Integrity(&'static str),
}

/// A datastore key: AES and HMAC key bytes. Never printed.
#[derive(Clone)]
pub struct CryptoKey {
    aes: Vec<u8>,
    hmac: Vec<u8>,
}

impl std::fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CryptoKey(AES-{}, redacted)", self.aes.len() * 8)
    }
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    // keyczar writes URL-safe base64 without padding; accept padded and standard too.
    let trimmed = text.trim().trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()
}

fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl CryptoKey {
    /// A new random key (256-bit AES and HMAC keys, as `st2-generate-symmetric-crypto-key`).
    pub fn generate() -> CryptoKey {
        let mut aes = vec![0; KEY_BITS / 8];
        let mut hmac = vec![0; KEY_BITS / 8];
        openssl::rand::rand_bytes(&mut aes).expect("the OS random source works");
        openssl::rand::rand_bytes(&mut hmac).expect("the OS random source works");
        CryptoKey { aes, hmac }
    }

    /// Read a StackStorm key file.
    pub fn load(path: &Path) -> Result<CryptoKey, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|err| CryptoError::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            reason: crate::settings::io_reason(&err),
        })?;
        Self::from_json(&text).map_err(|reason| CryptoError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn from_json(text: &str) -> Result<CryptoKey, String> {
        let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
        let field = |value: &Value, name: &str| -> Result<String, String> {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("'{name}' is missing"))
        };
        let aes = field(&value, "aesKeyString")?;
        let hmac_key = value.get("hmacKey").ok_or("'hmacKey' is missing")?;
        let hmac = field(hmac_key, "hmacKeyString")?;
        let mode = field(&value, "mode")?;
        if !mode.eq_ignore_ascii_case("CBC") {
            return Err(format!("mode \"{mode}\" is not supported (only CBC)"));
        }
        let aes = b64_decode(&aes).ok_or("'aesKeyString' is not base64")?;
        let hmac = b64_decode(&hmac).ok_or("'hmacKeyString' is not base64")?;
        if ![16, 24, 32].contains(&aes.len()) {
            return Err(format!(
                "AES key of {} bits is not 128, 192 or 256",
                aes.len() * 8
            ));
        }
        if hmac.is_empty() {
            return Err("'hmacKeyString' is empty".into());
        }
        Ok(CryptoKey { aes, hmac })
    }

    /// The key file's JSON, as StackStorm writes it.
    pub fn to_json(&self) -> String {
        json!({
            "hmacKey": {"hmacKeyString": b64_encode(&self.hmac), "size": self.hmac.len() * 8},
            "aesKeyString": b64_encode(&self.aes),
            "mode": "CBC",
            "size": self.aes.len() * 8,
        })
        .to_string()
    }

    /// Write the key file atomically with mode 0600, creating its directory (0700).
    pub fn write(&self, path: &Path) -> Result<(), CryptoError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |err: std::io::Error| CryptoError::Io {
                action,
                path,
                reason: crate::settings::io_reason(&err),
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("cannot create the directory of the", path))?;
        }
        // tempfile creates the file with mode 0600.
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("cannot write", path))?;
        file.write_all(self.to_json().as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(io("cannot write", path))?;
        file.persist(path)
            .map_err(|err| io("cannot write", path)(err.error))?;
        Ok(())
    }

    /// Load the key file, creating a new key there first when there is none. Returns the key
    /// and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(CryptoKey, bool), CryptoError> {
        if path.exists() {
            return Self::load(path).map(|key| (key, false));
        }
        let key = Self::generate();
        key.write(path)?;
        // Two processes creating it at once: the file that landed is the key.
        Self::load(path).map(|key| (key, true))
    }

    fn cipher(&self) -> Cipher {
        match self.aes.len() {
            16 => Cipher::aes_128_cbc(),
            24 => Cipher::aes_192_cbc(),
            _ => Cipher::aes_256_cbc(),
        }
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let key = PKey::hmac(&self.hmac).expect("an HMAC key of any length is valid");
        let mut signer = Signer::new(MessageDigest::sha1(), &key).expect("SHA-1 HMAC exists");
        signer.update(data).expect("HMAC update does not fail");
        signer.sign_to_vec().expect("HMAC sign does not fail")
    }

    /// Encrypt a value; returns upper-case hex, as StackStorm stores it.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut iv = [0u8; BLOCK];
        openssl::rand::rand_bytes(&mut iv).expect("the OS random source works");
        self.encrypt_with_iv(plaintext, &iv)
    }

    fn encrypt_with_iv(&self, plaintext: &str, iv: &[u8; BLOCK]) -> String {
        // openssl pads with PKCS#7, which is PKCS#5 for 16-byte blocks.
        let ciphertext = encrypt(self.cipher(), &self.aes, Some(iv), plaintext.as_bytes())
            .expect("AES-CBC encryption with a valid key does not fail");
        let mut message = Vec::with_capacity(HEADER.len() + BLOCK + ciphertext.len() + HMAC_LEN);
        message.extend_from_slice(HEADER);
        message.extend_from_slice(iv);
        message.extend_from_slice(&ciphertext);
        let signature = self.sign(&message);
        message.extend_from_slice(&signature);
        hex::encode_upper(message)
    }

    /// Decrypt a value written by [`CryptoKey::encrypt`] or by StackStorm.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError> {
        let bytes =
            hex::decode(ciphertext.trim()).map_err(|_| CryptoError::Integrity("not hex"))?;
        if bytes.len() < HEADER.len() + BLOCK + HMAC_LEN {
            return Err(CryptoError::Integrity("too short"));
        }
        let (message, signature) = bytes.split_at(bytes.len() - HMAC_LEN);
        if !openssl::memcmp::eq(&self.sign(message), signature) {
            return Err(CryptoError::Integrity("signature mismatch"));
        }
        let data = &message[HEADER.len()..];
        let (iv, body) = data.split_at(BLOCK);
        let plaintext = decrypt(self.cipher(), &self.aes, Some(iv), body)
            .map_err(|_| CryptoError::Integrity("bad padding"))?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Integrity("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A key file and values made by StackStorm 3.9.0's own `cryptography_symmetric_encrypt`
    /// (run once with Python's `cryptography`; random IVs).
    const ST2_KEY: &str = r#"{"hmacKey": {"hmacKeyString": "GByYH0ng4A1hpPXkQ24BHIPk1ag0r92KLEs40WiMBJA", "size": 256}, "aesKeyString": "a_TRIn5ejzkVz9MtjVEqbj0V_SkCrDqXY86xvhqYXa4", "mode": "CBC", "size": 256}"#;
    const ST2_VALUES: &[(&str, &str)] = &[
        ("", "30303030301F5F88777ADA75C43D2E6489DDC553134CE2D39FE7ACFE82A76BADB55C7476F92F5D332C643B7691A7F1A6795DC5059B5BD0A7AE"),
        ("secret", "30303030308F6A21EFF691C2344CA11CD84179E77335D95EEBAC2A94676BE0B9A06778EEE1D6CCDDCACD6B6A9894AE265077DE12E0F4E378D6"),
        ("pässwörd ✓", "30303030304BCFE3BFF72358A30484D1CA28A85E4448CC0583C4FC5FF82966F64559FA4E9FFE338187FD35D211D4ED27F8E365722929739780"),
        ("exactly16bytes!!", "3030303030DFBF9ABC117BC89D1934EC14C6D6241DD192E73F20808DB40574073168F1DA7A080092E9AA6A3EA9802114DBA50E0FD5E643659C8913FB99E0ED24C2619301D62567FC92"),
    ];

    #[test]
    fn stackstorm_values_decrypt_and_ours_are_byte_identical() {
        let key = CryptoKey::from_json(ST2_KEY).unwrap();
        for (plaintext, ciphertext) in ST2_VALUES {
            assert_eq!(key.decrypt(ciphertext).unwrap(), *plaintext);
            // Same key and IV: our encryption gives StackStorm's bytes exactly.
            let bytes = hex::decode(ciphertext).unwrap();
            let iv: [u8; BLOCK] = bytes[HEADER.len()..HEADER.len() + BLOCK]
                .try_into()
                .unwrap();
            assert_eq!(key.encrypt_with_iv(plaintext, &iv), *ciphertext);
        }
        // And the key file we write reads back as the same key.
        let again = CryptoKey::from_json(&key.to_json()).unwrap();
        assert_eq!(again.decrypt(ST2_VALUES[1].1).unwrap(), "secret");
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = CryptoKey::generate();
        for text in ["", "secret", "pässwörd ✓", "exactly16bytes!!"] {
            let ciphertext = key.encrypt(text);
            assert_eq!(ciphertext, ciphertext.to_uppercase());
            assert!(
                ciphertext.starts_with("3030303030"),
                "header is ASCII 00000"
            );
            assert_eq!(key.decrypt(&ciphertext).unwrap(), text);
            assert_eq!(key.decrypt(&ciphertext.to_lowercase()).unwrap(), text);
        }
        let ciphertext = key.encrypt("secret");
        let mut tampered = ciphertext.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert!(key
            .decrypt(std::str::from_utf8(&tampered).unwrap())
            .is_err());
        assert!(key.decrypt(&ciphertext[..40]).is_err());
        assert!(key.decrypt("zz").is_err());
        assert!(CryptoKey::generate().decrypt(&ciphertext).is_err());
    }

    #[test]
    fn key_files_are_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/datastore_key.json");
        let (key, created) = CryptoKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = CryptoKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.decrypt(&key.encrypt("x")).unwrap(), "x");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains('='), "unpadded base64: {text}");
        assert!(!format!("{key:?}").contains(&b64_encode(&key.aes)));
    }

    #[test]
    fn malformed_key_files_say_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        for (text, expected) in [
            (
                r#"{"hmacKey": {"hmacKeyString": "AA", "size": 256}, "mode": "CBC", "size": 256}"#,
                "'aesKeyString' is missing",
            ),
            (
                r#"{"aesKeyString": "AA", "mode": "CBC", "size": 256}"#,
                "'hmacKey' is missing",
            ),
            ("not json", "not JSON"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = CryptoKey::load(&path).unwrap_err().to_string();
            assert!(err.starts_with("Invalid or malformed key file \""), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}

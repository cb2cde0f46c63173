//! StackStorm's datastore encryption (`st2common/st2common/util/crypto.py` of StackStorm
//! 3.9.0), byte for byte, so that key files and encrypted values move between StackStorm and
//! us unchanged.
//!
//! - The key file is keyczar's JSON format: `{"hmacKey": {"hmacKeyString": <b64>, "size": 256},
//!   "aesKeyString": <b64>, "mode": "CBC", "size": 256}`, keys in URL-safe base64 without `=`
//!   padding (keyczar's "web safe" flavour).
//! - A value is the upper-case hex of `b"00000"` (a 5-byte stand-in for keyczar's header;
//!   ASCII zeros, so every value starts `3030303030`), a random 16-byte IV, the AES-CBC
//!   encryption of the PKCS#5-padded UTF-8 text, and the HMAC-SHA1 (20 bytes) of all of that.
//!   Decryption ignores what the header holds (it is covered by the HMAC only), so values from
//!   the keyczar era, whose header is a version byte and a key hash, decrypt too.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::Mac;
use serde_json::{json, Value};

/// What StackStorm writes in place of keyczar's 5-byte header.
const HEADER: &[u8] = b"00000";
/// AES block (and IV) size.
const BLOCK: usize = 16;
/// HMAC-SHA1 length.
const HMAC_LEN: usize = 20;
/// Key size StackStorm generates, in bits (`AESKey.generate(key_size=256)`).
const KEY_BITS: usize = 256;
/// StackStorm refuses keys whose declared size is smaller (`MINIMUM_AES_KEY_SIZE`).
const MIN_KEY_BITS: f64 = 128.0;

/// Errors of key files and ciphertexts.
///
/// The messages never contain key material. Where StackStorm words an error around the name of
/// the datastore item, `datastore::DatastoreError` words it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CryptoError {
    /// There is no key file.
    #[error("Crypto key not found in {}.", path.display())]
    NotFound {
        /// The key file looked for.
        path: PathBuf,
    },
    /// The key file cannot be read or written.
    #[error("{action} key file {}: {reason}", path.display())]
    Io {
        /// What was being done ("cannot read", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS reason.
        reason: String,
    },
    /// The key file is not a usable key (StackStorm's `read_crypto_key` wording).
    #[error("Invalid or malformed key file \"{}\": {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A value does not decrypt with this key: not hex, too short, tampered with, encrypted
    /// with another key.
    #[error(
        "Failed to verify the integrity of the provided value ({0}). Ensure that the value is \
         encrypted with the correct key and not corrupted."
    )]
    Integrity(&'static str),
}

/// A datastore key: the AES key (128, 192 or 256 bits; StackStorm generates 256) and the
/// HMAC-SHA1 key. `Debug` is redacted; the bytes are zeroed when dropped.
#[derive(Clone)]
pub(crate) struct CryptoKey {
    aes: Vec<u8>,
    hmac: Vec<u8>,
}

impl std::fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CryptoKey(AES-{}-CBC, redacted)", self.aes.len() * 8)
    }
}

impl Drop for CryptoKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.aes.zeroize();
        self.hmac.zeroize();
    }
}

/// Lenient URL-safe decoding: no padding required, stray low bits allowed (as Python's
/// `base64` allows them).
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// keyczar's `Base64WSDecode`: whitespace ignored, `=` padding optional, and (as Python's
/// `urlsafe_b64decode`) the standard alphabet's `+` and `/` accepted besides `-` and `_`.
fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    B64_LENIENT.decode(cleaned.trim_end_matches('=')).ok()
}

/// keyczar's `Base64WSEncode`: URL-safe alphabet, no padding.
fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Random bytes for ids and nonces (not keys): getrandom(2). Falls back to the clock and pid
/// if the call fails.
pub(crate) fn fill_random(buf: &mut [u8]) {
    if !crate::sys::getrandom(buf) {
        let seed = (jiff::Timestamp::now().as_nanosecond() as u128)
            ^ (u128::from(std::process::id()) << 64);
        for (byte, value) in buf.iter_mut().zip(seed.to_be_bytes().iter().cycle()) {
            *byte = *value;
        }
    }
}

/// Random bytes for keys and IVs: the kernel's CSPRNG (getrandom(2), which waits until it is
/// seeded), with no fallback.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    assert!(
        crate::sys::getrandom(&mut bytes),
        "the OS random source works"
    );
    bytes
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CryptoError {
    let path = path.to_path_buf();
    move |err| CryptoError::Io {
        action,
        path,
        reason: crate::settings::io_reason(&err),
    }
}

impl CryptoKey {
    /// A new random key: 256-bit AES and 256-bit HMAC keys from the OS random source, as
    /// `st2-generate-symmetric-crypto-key` makes.
    pub(crate) fn generate() -> CryptoKey {
        CryptoKey {
            aes: random_bytes(KEY_BITS / 8),
            hmac: random_bytes(KEY_BITS / 8),
        }
    }

    /// Read a StackStorm (keyczar JSON) key file. A missing file is [`CryptoError::NotFound`].
    pub(crate) fn load(path: impl AsRef<Path>) -> Result<CryptoKey, CryptoError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                CryptoError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                io_error("cannot read", path)(err)
            }
        })?;
        Self::from_json(&text).map_err(|reason| CryptoError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parse a key file's text, checking what StackStorm's `read_crypto_key` and `AESKey`
    /// check, in the same order (then that the keys decode and the AES key has a valid length,
    /// which StackStorm only finds out when it first uses the key).
    fn from_json(text: &str) -> Result<CryptoKey, String> {
        let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
        if !value.is_object() {
            return Err("not a JSON object".into());
        }
        // StackStorm reports a missing field as Python's KeyError does: the quoted name.
        let get = |value: &Value, name: &str| -> Result<Value, String> {
            value
                .get(name)
                .cloned()
                .ok_or_else(|| format!("'{name}' is missing"))
        };
        let string = |value: Value, name: &str| -> Result<String, String> {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("'{name}' is not a string"))
        };
        let aes = string(get(&value, "aesKeyString")?, "aesKeyString")?;
        let hmac_key = get(&value, "hmacKey")?;
        if !hmac_key.is_object() {
            return Err("'hmacKey' is not an object".into());
        }
        let hmac = string(get(&hmac_key, "hmacKeyString")?, "hmacKeyString")?;
        // `int(hmac_key_size)`: a number or a string of digits.
        match get(&hmac_key, "size")? {
            Value::Number(_) => {}
            Value::String(text) if text.trim().parse::<i64>().is_ok() => {}
            other => return Err(format!("'size' of 'hmacKey' is not a number: {other}")),
        }
        let mode = string(get(&value, "mode")?, "mode")?;
        let size = get(&value, "size")?;
        if !mode.eq_ignore_ascii_case("CBC") {
            return Err(format!("Unsupported mode: {mode}"));
        }
        let size = size
            .as_f64()
            .ok_or_else(|| format!("'size' is not a number: {size}"))?;
        if size < MIN_KEY_BITS {
            return Err(format!("Unsafe key size: {size}"));
        }
        let aes = b64_decode(&aes).ok_or("'aesKeyString' is not valid base64")?;
        let hmac = b64_decode(&hmac).ok_or("'hmacKeyString' is not valid base64")?;
        if ![16, 24, 32].contains(&aes.len()) {
            return Err(format!(
                "the AES key has {} bits, not 128, 192 or 256",
                aes.len() * 8
            ));
        }
        if hmac.is_empty() {
            return Err("'hmacKeyString' is empty".into());
        }
        Ok(CryptoKey { aes, hmac })
    }

    /// The key file's JSON exactly as StackStorm 3.9.0 writes it (`AESKey.to_json()` through
    /// orjson: compact, in this key order). It holds the key material.
    pub(crate) fn to_json(&self) -> String {
        json!({
            "hmacKey": {"hmacKeyString": b64_encode(&self.hmac), "size": self.hmac.len() * 8},
            "aesKeyString": b64_encode(&self.aes),
            "mode": "CBC",
            "size": self.aes.len() * 8,
        })
        .to_string()
    }

    /// The AES key size in bits.
    #[cfg(test)]
    pub(crate) fn bits(&self) -> usize {
        self.aes.len() * 8
    }

    /// Write the key file atomically (a temporary file in the same directory, synced, then
    /// renamed over `path`) with mode 0600, creating missing parent directories (mode 0700).
    /// An existing file is replaced.
    #[cfg(test)]
    pub(crate) fn write(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        self.write_file(path.as_ref(), true).map(|_| ())
    }

    /// [`CryptoKey::write`], but `replace: false` leaves an existing file alone (the rename
    /// does not replace) and returns false.
    fn write_file(&self, path: &Path, replace: bool) -> Result<bool, CryptoError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_error("cannot create the directory of the", path))?;
        }
        // tempfile creates the file with mode 0600, and the rename keeps it.
        let mut file = tempfile::Builder::new()
            .prefix(".st2-crypto-key-")
            .tempfile_in(dir)
            .map_err(io_error("cannot write", path))?;
        file.write_all(self.to_json().as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(io_error("cannot write", path))?;
        let persisted = if replace {
            file.persist(path)
        } else {
            file.persist_noclobber(path)
        };
        match persisted {
            Ok(_) => {}
            Err(err) if !replace && err.error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok(false);
            }
            Err(err) => return Err(io_error("cannot write", path)(err.error)),
        }
        // Make the rename itself durable; a failure here loses nothing already written.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(true)
    }

    /// Load the key file, first creating a new key there when there is none. Returns the key
    /// and whether this call created it. When several processes create it at once, the first
    /// file to land wins and everyone returns that key.
    pub(crate) fn load_or_create(path: impl AsRef<Path>) -> Result<(CryptoKey, bool), CryptoError> {
        let path = path.as_ref();
        match Self::load(path) {
            Ok(key) => return Ok((key, false)),
            Err(CryptoError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
        let key = Self::generate();
        if key.write_file(path, false)? {
            Ok((key, true))
        } else {
            Self::load(path).map(|key| (key, false))
        }
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        hmac_sha1(&self.hmac)
            .chain_update(data)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// AES-CBC with PKCS#7 padding, which is StackStorm's `pkcs5_pad` for 16-byte blocks (a
    /// whole block of 0x10 when the text is a multiple of 16 bytes).
    fn aes_cbc_encrypt(&self, iv: &[u8; BLOCK], plaintext: &[u8]) -> Vec<u8> {
        use aes::cipher::block_padding::Pkcs7;
        match self.aes.len() {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
            24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(plaintext)),
        }
        .expect("a key file gives a 128, 192 or 256-bit AES key")
    }

    /// The inverse of [`CryptoKey::aes_cbc_encrypt`]; `None` on bad padding.
    fn aes_cbc_decrypt(&self, iv: &[u8], body: &[u8]) -> Option<Vec<u8>> {
        use aes::cipher::block_padding::Pkcs7;
        match self.aes.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.aes, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(body),
            24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&self.aes, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(body),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.aes, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(body),
        }
        .ok()
    }

    /// Encrypt a value as StackStorm's `symmetric_encrypt` does (fresh random IV); returns
    /// upper-case hex, as StackStorm stores it.
    pub(crate) fn encrypt(&self, plaintext: &str) -> String {
        let iv: [u8; BLOCK] = random_bytes(BLOCK).try_into().expect("BLOCK bytes");
        self.encrypt_with_iv(plaintext, &iv)
    }

    fn encrypt_with_iv(&self, plaintext: &str, iv: &[u8; BLOCK]) -> String {
        let ciphertext = self.aes_cbc_encrypt(iv, plaintext.as_bytes());
        let mut message = Vec::with_capacity(HEADER.len() + BLOCK + ciphertext.len() + HMAC_LEN);
        message.extend_from_slice(HEADER);
        message.extend_from_slice(iv);
        message.extend_from_slice(&ciphertext);
        let signature = self.sign(&message);
        message.extend_from_slice(&signature);
        hex::encode_upper(message)
    }

    /// Decrypt a value made by [`CryptoKey::encrypt`] or by StackStorm (hex of either case, as
    /// `binascii.unhexlify` takes it; no surrounding whitespace). The HMAC is checked, in
    /// constant time, before anything is decrypted; every failure is
    /// [`CryptoError::Integrity`].
    pub(crate) fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError> {
        let bytes = hex::decode(ciphertext).map_err(|_| CryptoError::Integrity("not hex"))?;
        if bytes.len() < HEADER.len() + BLOCK + HMAC_LEN {
            return Err(CryptoError::Integrity("too short"));
        }
        let (message, signature) = bytes.split_at(bytes.len() - HMAC_LEN);
        // `verify_slice` compares in constant time.
        if hmac_sha1(&self.hmac)
            .chain_update(message)
            .verify_slice(signature)
            .is_err()
        {
            return Err(CryptoError::Integrity("HMAC signature mismatch"));
        }
        let (iv, body) = message[HEADER.len()..].split_at(BLOCK);
        if body.is_empty() || body.len() % BLOCK != 0 {
            return Err(CryptoError::Integrity("not whole AES blocks"));
        }
        let plaintext = self
            .aes_cbc_decrypt(iv, body)
            .ok_or(CryptoError::Integrity("bad padding"))?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Integrity("not UTF-8"))
    }
}

/// HMAC-SHA1 keyed by `key` (any length is a valid HMAC key).
pub(crate) fn hmac_sha1(key: &[u8]) -> hmac::Hmac<sha1::Sha1> {
    hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    // Every vector below was made by StackStorm 3.9.0's own `st2common/util/crypto.py`
    // (`AESKey.generate`, `AESKey.to_json`, `cryptography_symmetric_encrypt`), run with
    // Python's `cryptography` package and orjson, and checked with its
    // `cryptography_symmetric_decrypt`. IVs are random, so they cannot be made again.

    /// Key A: the key file in `fixtures/keys/st2_datastore_key.json` (also used by
    /// `tests/it/key.rs`).
    const KEY_A: &str = r#"{"hmacKey": {"hmacKeyString": "GByYH0ng4A1hpPXkQ24BHIPk1ag0r92KLEs40WiMBJA", "size": 256}, "aesKeyString": "a_TRIn5ejzkVz9MtjVEqbj0V_SkCrDqXY86xvhqYXa4", "mode": "CBC", "size": 256}"#;
    const VALUES_A: &[(&str, &str)] = &[
        ("", "30303030301F5F88777ADA75C43D2E6489DDC553134CE2D39FE7ACFE82A76BADB55C7476F92F5D332C643B7691A7F1A6795DC5059B5BD0A7AE"),
        ("secret", "30303030308F6A21EFF691C2344CA11CD84179E77335D95EEBAC2A94676BE0B9A06778EEE1D6CCDDCACD6B6A9894AE265077DE12E0F4E378D6"),
        ("pässwörd ✓", "30303030304BCFE3BFF72358A30484D1CA28A85E4448CC0583C4FC5FF82966F64559FA4E9FFE338187FD35D211D4ED27F8E365722929739780"),
        ("exactly16bytes!!", "3030303030DFBF9ABC117BC89D1934EC14C6D6241DD192E73F20808DB40574073168F1DA7A080092E9AA6A3EA9802114DBA50E0FD5E643659C8913FB99E0ED24C2619301D62567FC92"),
    ];

    /// Key B: byte for byte the file `AESKey.generate(256).to_json()` wrote.
    const KEY_B: &str = r#"{"hmacKey":{"hmacKeyString":"1ry295GUn6Q7Exk952OCWqx4seNFe0QISaZiwB2IXZQ","size":256},"aesKeyString":"NHww30oUUVxbIVvbb3LkDS-vnUzWcUJ3M_DgSAaBc3c","mode":"CBC","size":256}"#;
    const VALUES_B: &[(&str, &str)] = &[
        ("", "303030303016FECA3F502CF2815A71ECA8A333675590A5A26DFB7304E77265C9B24D9EDE5C6923D801EE821BD4E9A2E0C60F5A14489D17A3BB"),
        ("secret", "30303030301C547D38745325DEC4013642D5BBE735D88F41C829B86D4CE8AD8087DC9C26E08F85B7F94C07576CF7F462636012165E684936DA"),
        ("pässwörd ✓ 日本", "3030303030E10AC7A26B8A056F30ED6D47FBCF2496A897CED22BA030B0BBB4D4479D8C188B0FF597DF520BBEB932F31DB7A57E6ABB83961BB26775B958AE738C1BA5AC53D5CA0DA958"),
        ("exactly16bytes!!", "3030303030C91E9F7D4CC69D628495A18BFDDD80DE025BC875115B74F349531833EB11F51E97D22BBB9CD4F9A4C4EE45E81EF03D553424E2A74CEB84EE1BBE745FE9CCAE965B7AC4F2"),
        ("thirty-two bytes of plain text!!", "303030303025499CF38E87ABE6B96842D90F1D45BFAA10D2BE1D6A198C68FB537D8BA3A2894F97C34595EFE2C2035356A5C7261517E774D428B098C728B7868482379B133C933BA10B6E196184A6A6F496F41FB3E2B8F670F5"),
        // Made by *our* `encrypt`, and decrypted to this text by StackStorm's
        // `cryptography_symmetric_decrypt` with key B.
        ("made by st2-rs ✓", "3030303030513DDB150392FDDF0CE6CFD8E58DFDA660356C12E3510049F887E3F782A6339DF3BEED1805D06D7899B9EBBDE4E2DE25D0903125E580C6BBB8C5BEB1AFA05851CA9C0C58"),
    ];

    /// Key B as StackStorm still reads it: `"cbc"`, the HMAC size as a string, the AES key
    /// split by whitespace and `=`-padded.
    const KEY_B_ODD: &str = r#"{"hmacKey": {"hmacKeyString": "1ry295GUn6Q7Exk952OCWqx4seNFe0QISaZiwB2IXZQ", "size": "256"}, "aesKeyString": "NHww30oUUVxbIVvbb3Lk\n DS-vnUzWcUJ3M_DgSAaBc3c=", "mode": "cbc", "size": 256}"#;

    /// A value in the layout keyczar wrote (header: version byte 0 and a 4-byte key hash),
    /// made with `cryptography` primitives and StackStorm's `pkcs5_pad` under key B, and
    /// accepted by StackStorm's `cryptography_symmetric_decrypt` (in upper and lower case).
    const KEYCZAR_HEADER_B: (&str, &str) = ("keyczar era", "009A4F11027F32EB866E487A9C8CC56545206B1A930049D0D82A05DE13EE73FC39227ABF7C9AC17930AC48D1A53BEE35CF1F126F288EF74F61");

    /// An AES-128 key (`AESKey.generate(key_size=128)`) and a value under it.
    const KEY_128: &str = r#"{"hmacKey":{"hmacKeyString":"QI3cA_39bA4MjxVdLhD7zQ","size":128},"aesKeyString":"iNie3vzlzo7SUxZ9UeFFyg","mode":"CBC","size":128}"#;
    const VALUE_128: (&str, &str) = ("aes-128 value", "3030303030CD17734641ABE68F189E06F389F068DC0B4CF11A39ED0D8E15FEACC528363866E76E141C37028573AF8C7345E69162A9BDA6D803");

    fn key(json: &str) -> CryptoKey {
        CryptoKey::from_json(json).unwrap()
    }

    fn iv_of(ciphertext: &str) -> [u8; BLOCK] {
        let bytes = hex::decode(ciphertext).unwrap();
        bytes[HEADER.len()..HEADER.len() + BLOCK]
            .try_into()
            .unwrap()
    }

    #[test]
    fn stackstorm_values_decrypt() {
        for (json, values) in [(KEY_A, VALUES_A), (KEY_B, VALUES_B)] {
            let key = key(json);
            for (plaintext, ciphertext) in values {
                assert_eq!(key.decrypt(ciphertext).unwrap(), *plaintext);
                assert_eq!(key.decrypt(&ciphertext.to_lowercase()).unwrap(), *plaintext);
            }
        }
        let odd = key(KEY_B_ODD);
        for (plaintext, ciphertext) in VALUES_B {
            assert_eq!(odd.decrypt(ciphertext).unwrap(), *plaintext);
        }
        let (plaintext, ciphertext) = KEYCZAR_HEADER_B;
        assert_eq!(key(KEY_B).decrypt(ciphertext).unwrap(), plaintext);
        let (plaintext, ciphertext) = VALUE_128;
        let key_128 = key(KEY_128);
        assert_eq!(key_128.bits(), 128);
        assert_eq!(key_128.decrypt(ciphertext).unwrap(), plaintext);
    }

    #[test]
    fn our_encryption_is_byte_identical_to_stackstorms() {
        // With StackStorm's key and IV, we produce StackStorm's exact bytes.
        for (json, values) in [(KEY_A, VALUES_A), (KEY_B, VALUES_B)] {
            let key = key(json);
            for (plaintext, ciphertext) in values.iter() {
                assert_eq!(
                    key.encrypt_with_iv(plaintext, &iv_of(ciphertext)),
                    *ciphertext
                );
            }
        }
        let (plaintext, ciphertext) = VALUE_128;
        assert_eq!(
            key(KEY_128).encrypt_with_iv(plaintext, &iv_of(ciphertext)),
            ciphertext
        );
    }

    #[test]
    fn key_files_are_written_as_stackstorm_writes_them() {
        assert_eq!(key(KEY_B).to_json(), KEY_B);
        assert_eq!(key(KEY_B_ODD).to_json(), KEY_B);
        assert_eq!(key(KEY_128).to_json(), KEY_128);
        let generated = CryptoKey::generate();
        let json: Value = serde_json::from_str(&generated.to_json()).unwrap();
        assert_eq!(json["size"], 256);
        assert_eq!(json["hmacKey"]["size"], 256);
        assert_eq!(json["mode"], "CBC");
        for b64 in [&json["aesKeyString"], &json["hmacKey"]["hmacKeyString"]] {
            let b64 = b64.as_str().unwrap();
            assert_eq!(b64.len(), 43, "32 bytes, unpadded: {b64}");
            assert!(!b64.contains(['=', '+', '/']), "URL-safe, unpadded: {b64}");
        }
        assert_eq!(generated.aes.len(), 32);
        assert_eq!(generated.hmac.len(), 32);
        assert_ne!(generated.aes, generated.hmac);
        assert_ne!(CryptoKey::generate().aes, generated.aes);
    }

    #[test]
    fn round_trip() {
        let key = CryptoKey::generate();
        for text in [
            "",
            "secret",
            "pässwörd ✓ 日本",
            "exactly16bytes!!",
            &"x".repeat(1000),
        ] {
            let ciphertext = key.encrypt(text);
            assert_eq!(ciphertext, ciphertext.to_uppercase());
            assert!(
                ciphertext.starts_with("3030303030"),
                "header is ASCII 00000"
            );
            let padded = text.len() / BLOCK * BLOCK + BLOCK;
            assert_eq!(ciphertext.len(), 2 * (5 + BLOCK + padded + HMAC_LEN));
            assert_eq!(key.decrypt(&ciphertext).unwrap(), text);
        }
        // A fresh IV every time.
        assert_ne!(key.encrypt("same"), key.encrypt("same"));
    }

    #[test]
    fn tampered_short_malformed_and_foreign_values_fail_integrity() {
        let key = key(KEY_B);
        let (_, ciphertext) = VALUES_B[1];
        // One hex digit changed in the header, the IV, the AES blocks, the HMAC.
        for at in [0, 9, 10, 41, 42, ciphertext.len() - 1] {
            let mut tampered = ciphertext.as_bytes().to_vec();
            tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            let err = key.decrypt(&tampered).unwrap_err();
            assert!(matches!(err, CryptoError::Integrity(_)), "{at}: {err}");
        }
        for bad in [
            "",
            "3030DEADBEEF",
            &ciphertext[..2 * (5 + BLOCK + HMAC_LEN) - 2],
            &ciphertext[..ciphertext.len() - 1],
            "zz",
            &ciphertext.replace('A', "G"),
            &format!(" {ciphertext}"),
            &format!("{ciphertext}\n"),
        ] {
            assert!(
                matches!(key.decrypt(bad), Err(CryptoError::Integrity(_))),
                "{bad:?}"
            );
        }
        // Header, IV and HMAC but no AES block: signed correctly, still refused.
        let mut empty_body = HEADER.to_vec();
        empty_body.extend_from_slice(&[7; BLOCK]);
        empty_body.extend_from_slice(&key.sign(&empty_body));
        assert!(key.decrypt(&hex::encode(empty_body)).is_err());
        // Another key, whether a new one or StackStorm's key A.
        assert!(CryptoKey::generate().decrypt(ciphertext).is_err());
        let err = self::key(KEY_A).decrypt(ciphertext).unwrap_err();
        assert!(err.to_string().starts_with(
            "Failed to verify the integrity of the provided value (HMAC signature mismatch)."
        ));
    }

    #[test]
    fn missing_and_malformed_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let err = CryptoKey::load(&path).unwrap_err();
        assert!(matches!(err, CryptoError::NotFound { .. }), "{err}");
        let good: Value = serde_json::from_str(KEY_B).unwrap();
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut value = good.clone();
            edit(&mut value);
            value.to_string()
        };
        for (text, expected) in [
            (
                with(&|v| drop(v.as_object_mut().unwrap().remove("aesKeyString"))),
                "'aesKeyString' is missing",
            ),
            (
                with(&|v| drop(v.as_object_mut().unwrap().remove("hmacKey"))),
                "'hmacKey' is missing",
            ),
            (
                with(&|v| {
                    drop(
                        v["hmacKey"]
                            .as_object_mut()
                            .unwrap()
                            .remove("hmacKeyString"),
                    )
                }),
                "'hmacKeyString' is missing",
            ),
            (
                with(&|v| drop(v.as_object_mut().unwrap().remove("mode"))),
                "'mode' is missing",
            ),
            (
                with(&|v| drop(v.as_object_mut().unwrap().remove("size"))),
                "'size' is missing",
            ),
            (with(&|v| v["mode"] = json!("GCM")), "Unsupported mode: GCM"),
            (with(&|v| v["size"] = json!(64)), "Unsafe key size: 64"),
            (
                with(&|v| v["aesKeyString"] = json!("not base64!")),
                "'aesKeyString' is not valid base64",
            ),
            (
                with(&|v| v["aesKeyString"] = json!(b64_encode(&[1; 20]))),
                "the AES key has 160 bits",
            ),
            (
                with(&|v| v["aesKeyString"] = json!(32)),
                "'aesKeyString' is not a string",
            ),
            ("not json".to_string(), "not JSON"),
            ("[]".to_string(), "not a JSON object"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let err = CryptoKey::load(&path).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, CryptoError::Malformed { .. }), "{message}");
            assert!(
                message.starts_with(&format!(
                    "Invalid or malformed key file \"{}\": ",
                    path.display()
                )),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
            // Malformed is not "not found": load_or_create must not replace the file.
            assert!(CryptoKey::load_or_create(&path).is_err());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }

    #[test]
    fn key_files_are_created_private_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/keys/datastore_key.json");
        let (key, created) = CryptoKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), key.to_json());
        let (again, created) = CryptoKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.to_json(), key.to_json());
        assert_eq!(again.decrypt(&key.encrypt("x")).unwrap(), "x");
        // Creating never replaces a file that appeared meanwhile; writing does.
        let other = CryptoKey::generate();
        assert!(!other.write_file(&path, false).unwrap());
        assert_eq!(CryptoKey::load(&path).unwrap().to_json(), key.to_json());
        other.write(&path).unwrap();
        assert_eq!(CryptoKey::load(&path).unwrap().to_json(), other.to_json());
        assert_eq!(mode(&path), 0o600);
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datastore_key.json");
        let results: Vec<(String, bool)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let (key, created) = CryptoKey::load_or_create(&path).unwrap();
                        (key.to_json(), created)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
        assert!(results.iter().all(|(json, _)| *json == results[0].0));
    }

    #[test]
    fn key_material_is_never_shown() {
        let key = key(KEY_B);
        let shown = format!("{key:?}");
        assert_eq!(shown, "CryptoKey(AES-256-CBC, redacted)");
        for secret in [b64_encode(&key.aes), b64_encode(&key.hmac)] {
            assert!(!shown.contains(&secret));
        }
        assert!(!shown.contains(&hex::encode(&key.aes)));
    }
}

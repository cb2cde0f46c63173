//! Private keys as the remote runners take them: the `private_key` parameter is either the
//! key itself or the path of a key file (upstream tells them apart by the PEM header,
//! `paramiko_ssh_runner.py` `_is_private_key_material`), and an encrypted key needs the
//! `passphrase` parameter (upstream refuses one without it before connecting).

use base64::Engine;

/// Upstream's `REMOTE_RUNNER_PRIVATE_KEY_HEADER`, lower case.
const PRIVATE_KEY_HEADER: &str = "private key-----";

/// Whether `value` is key material rather than a path.
pub(crate) fn is_material(value: &str) -> bool {
    value.to_lowercase().contains(PRIVATE_KEY_HEADER)
}

/// Key material as OpenSSH reads it from a file: `\r\n` made `\n`, surrounding blanks
/// removed, ending with a newline (OpenSSH refuses a key whose last line has none).
pub(crate) fn normalized(material: &str) -> String {
    let mut text = material.replace("\r\n", "\n").trim().to_string();
    text.push('\n');
    text
}

/// Whether the key (the text of a key file) is protected by a passphrase: an OpenSSH key
/// whose cipher is not `none`, a PEM key with `Proc-Type: 4,ENCRYPTED`, or an encrypted
/// PKCS#8 key. Anything this cannot read counts as not encrypted (`ssh` then says what is
/// wrong with it).
pub(crate) fn is_encrypted(text: &str) -> bool {
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return true;
    }
    let Some(body) = text
        .split("-----BEGIN OPENSSH PRIVATE KEY-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END OPENSSH PRIVATE KEY-----").next())
    else {
        return false;
    };
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) else {
        return false;
    };
    // "openssh-key-v1\0", then the cipher name as an SSH string (u32 length, bytes).
    let Some(rest) = bytes.strip_prefix(b"openssh-key-v1\0") else {
        return false;
    };
    let Some(length) = rest.get(..4) else {
        return false;
    };
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
    rest.get(4..4 + length)
        .is_some_and(|cipher| cipher != b"none")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OpenSSH key file whose body starts with `cipher` (the rest does not matter here).
    fn openssh_key(cipher: &str) -> String {
        let mut blob = b"openssh-key-v1\0".to_vec();
        blob.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
        blob.extend_from_slice(cipher.as_bytes());
        blob.extend_from_slice(&[0; 40]);
        let body = base64::engine::general_purpose::STANDARD.encode(blob);
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n")
    }

    #[test]
    fn material_or_path() {
        assert!(is_material(&openssh_key("none")));
        assert!(is_material("-----BEGIN RSA PRIVATE KEY-----\nabc"));
        assert!(!is_material("~/.ssh/id_rsa"));
        assert!(!is_material("invalid private key"));
    }

    #[test]
    fn encrypted_keys_are_recognized() {
        assert!(!is_encrypted(&openssh_key("none")));
        assert!(is_encrypted(&openssh_key("aes256-ctr")));
        assert!(is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n"
        ));
        assert!(is_encrypted("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        assert!(!is_encrypted("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"));
        assert!(!is_encrypted("-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n"));
    }

    #[test]
    fn material_is_normalized_for_openssh() {
        assert_eq!(normalized("  a\r\nb"), "a\nb\n");
        let key = openssh_key("none");
        assert_eq!(normalized(&key), key);
    }
}

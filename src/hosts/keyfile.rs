//! Whether a private key file is protected by a passphrase, read from the file itself: the
//! window asks for a passphrase before it connects, rather than failing the login first.

use base64::Engine as _;

/// True when the key in `text` (OpenSSH or PEM form) is encrypted.
pub(crate) fn is_encrypted(text: &str) -> bool {
    if text.contains("ENCRYPTED") {
        // PEM: `Proc-Type: 4,ENCRYPTED` or `BEGIN ENCRYPTED PRIVATE KEY`.
        return true;
    }
    let Some(body) = between(
        text,
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "-----END OPENSSH PRIVATE KEY-----",
    ) else {
        return false;
    };
    let joined: String = body.split_whitespace().collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined) else {
        return false;
    };
    // openssh-key-v1\0, then the cipher name as a length-prefixed string: `none` when plain.
    let Some(rest) = bytes.strip_prefix(b"openssh-key-v1\0") else {
        return false;
    };
    let Some((len, rest)) = rest.split_first_chunk::<4>() else {
        return false;
    };
    let len = u32::from_be_bytes(*len) as usize;
    rest.get(..len).is_some_and(|cipher| cipher != b"none")
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text.get(from..)?.find(end)? + from;
    text.get(from..to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes a key with ssh-keygen and reads it back.
    fn key(passphrase: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "qs-keyfile-{}-{}",
            std::process::id(),
            passphrase.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("id");
        std::fs::remove_file(&path).ok();
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        text
    }

    #[test]
    fn a_key_made_with_a_passphrase_reads_as_encrypted_and_one_without_does_not() {
        assert!(is_encrypted(&key("correct horse")));
        assert!(!is_encrypted(&key("")));
    }

    #[test]
    fn pem_keys_say_so_in_their_header_and_junk_is_not_encrypted() {
        assert!(is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n..."
        ));
        assert!(is_encrypted(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII..."
        ));
        assert!(!is_encrypted("not a key"));
        assert!(!is_encrypted(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----"
        ));
    }
}

//! Host key trust: reading an OpenSSH known_hosts file, matching the presented key, saving a
//! newly accepted one, and choosing which host-key algorithm to ask the server for.
//!
//! Whether a line names this host (plain names, `[host]:port` entries and hashed `|1|` names)
//! is decided by libssh2's own matcher, one line at a time, so hashing and port rules are
//! libssh2's. Comparing keys is done here on the decoded key blobs: a line for the host with the
//! same key is a match, a line with the same key type but another key means the key CHANGED,
//! and lines of other key types only steer the algorithm preference. This module never
//! connects anywhere.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest as _, Sha256};
use ssh2::{CheckResult, KnownHostFileKind, MethodType, Session};

use crate::ssh::error::SshError;

/// One usable line of a known_hosts file.
#[derive(Clone, Debug)]
pub struct KnownHostEntry {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// The whole line as written.
    pub text: String,
    /// Key type named inside the key blob (e.g. `ssh-ed25519`).
    pub key_type: String,
    /// The decoded public key blob.
    pub blob: Vec<u8>,
}

/// The verdict on a presented host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds exactly this key.
    Match,
    /// No line for this host holds a key of this type.
    Unknown {
        key_type: String,
        fingerprint: String,
    },
    /// A line for this host holds another key of the same type.
    Changed {
        key_type: String,
        fingerprint: String,
        line_no: usize,
        line: String,
    },
}

/// Reads a known_hosts file; a missing file is an empty one.
///
/// Comments, blank lines, `@cert-authority`/`@revoked` marker lines and lines whose key does
/// not decode are skipped.
pub fn load(path: &Path) -> Result<Vec<KnownHostEntry>, SshError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(SshError::KnownHostsFile {
                path: path.to_owned(),
                detail: e.to_string(),
            });
        }
    };
    Ok(parse(&text))
}

/// Parses the text of a known_hosts file (see [`load`]).
pub fn parse(text: &str) -> Vec<KnownHostEntry> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('@') {
            continue;
        }
        let mut fields = trimmed.split_whitespace();
        let (Some(_hosts), Some(_type), Some(key_b64)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(blob) = STANDARD.decode(key_b64) else {
            continue;
        };
        let Some(key_type) = key_type_of(&blob) else {
            continue;
        };
        entries.push(KnownHostEntry {
            line_no: index + 1,
            text: trimmed.to_owned(),
            key_type,
            blob,
        });
    }
    entries
}

/// The key type name at the start of an SSH public key blob.
pub fn key_type_of(blob: &[u8]) -> Option<String> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    String::from_utf8(name.to_vec()).ok()
}

/// The OpenSSH fingerprint of a key blob: `SHA256:` and unpadded base64.
pub fn fingerprint_sha256(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// Whether libssh2 says `entry` is a line for `host`/`port` (plain, bracketed or hashed).
fn entry_names_host(sess: &Session, entry: &KnownHostEntry, host: &str, port: u16) -> bool {
    let Ok(mut kh) = sess.known_hosts() else {
        return false;
    };
    if kh
        .read_str(&entry.text, KnownHostFileKind::OpenSSH)
        .is_err()
    {
        return false;
    }
    // Checking the line against its own key: Match means the host part matched.
    matches!(kh.check_port(host, port, &entry.blob), CheckResult::Match)
}

/// Judges the key `blob` presented by `host`/`port` against the entries.
pub fn check_key(
    sess: &Session,
    entries: &[KnownHostEntry],
    host: &str,
    port: u16,
    blob: &[u8],
) -> HostKeyStatus {
    let key_type = key_type_of(blob).unwrap_or_else(|| "unknown".to_owned());
    let fingerprint = fingerprint_sha256(blob);
    let mut changed = None;
    for entry in entries
        .iter()
        .filter(|e| entry_names_host(sess, e, host, port))
    {
        if entry.blob == blob {
            return HostKeyStatus::Match;
        }
        if entry.key_type == key_type && changed.is_none() {
            changed = Some(entry);
        }
    }
    match changed {
        Some(entry) => HostKeyStatus::Changed {
            key_type,
            fingerprint,
            line_no: entry.line_no,
            line: entry.text.clone(),
        },
        None => HostKeyStatus::Unknown {
            key_type,
            fingerprint,
        },
    }
}

/// Host-key algorithms to offer, those known for this host first, in file order.
///
/// The rest of libssh2's algorithms follow, so a host whose known keys are all of types the
/// server lacks still completes the handshake and is reported as Unknown, not as a failure.
/// Returns `None` when no line names the host (libssh2's default order is then used).
pub fn preferred_host_key_algs(
    sess: &Session,
    entries: &[KnownHostEntry],
    host: &str,
    port: u16,
) -> Option<String> {
    let mut prefs: Vec<&str> = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| entry_names_host(sess, e, host, port))
    {
        for alg in algs_for_key_type(&entry.key_type) {
            if !prefs.contains(alg) {
                prefs.push(alg);
            }
        }
    }
    if prefs.is_empty() {
        return None;
    }
    let supported = sess.supported_algs(MethodType::HostKey).unwrap_or_default();
    prefs.retain(|alg| supported.contains(alg));
    for alg in &supported {
        if !prefs.contains(alg) {
            prefs.push(alg);
        }
    }
    Some(prefs.join(","))
}

/// The signature algorithms that prove a key of this type (RSA has three).
fn algs_for_key_type(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "ssh-ed25519" => &["ssh-ed25519"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        "ssh-dss" => &["ssh-dss"],
        _ => &[],
    }
}

/// The known_hosts line OpenSSH would write for this host: `[host]:port` unless port is 22.
pub fn entry_line(host: &str, port: u16, blob: &[u8]) -> String {
    let key_type = key_type_of(blob).unwrap_or_else(|| "unknown".to_owned());
    let name = if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    };
    format!("{name} {key_type} {}", STANDARD.encode(blob))
}

/// Appends the entry for this host and key to the file, creating the file if needed.
pub fn append(path: &Path, host: &str, port: u16, blob: &[u8]) -> Result<(), SshError> {
    let err = |e: std::io::Error| SshError::KnownHostsFile {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let needs_newline = match fs::read(path) {
        Ok(bytes) => !bytes.is_empty() && bytes.last() != Some(&b'\n'),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(err(e)),
    };
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    text.push_str(&entry_line(host, port, blob));
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway ed25519 key; `ssh-keygen -lf` printed the fingerprint below for it.
    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIPIZ2aFqxioKWk6WDGSFOEbEAPPADcZh0uif6GohrOsh";
    const KEY_A_FP: &str = "SHA256:8FnRqVDM3OocnSdEL0SE20M+rbSLPpfWXTXefs8yjlQ";

    fn blob(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    /// A second ed25519 blob: key A with its last byte changed.
    fn key_b() -> Vec<u8> {
        let mut b = blob(KEY_A);
        let last = b.len() - 1;
        b[last] ^= 0x55;
        b
    }

    fn session() -> Session {
        Session::new().unwrap()
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        assert_eq!(fingerprint_sha256(&blob(KEY_A)), KEY_A_FP);
    }

    #[test]
    fn key_type_is_read_from_the_blob() {
        assert_eq!(key_type_of(&blob(KEY_A)).as_deref(), Some("ssh-ed25519"));
        assert_eq!(key_type_of(&[0, 0, 0, 99, b'x']), None);
    }

    #[test]
    fn parse_skips_comments_markers_and_bad_keys() {
        let text = format!(
            "# comment\n\n@cert-authority * ssh-ed25519 {KEY_A}\nh ssh-ed25519 !!!\nh ssh-ed25519 {KEY_A}\n"
        );
        let entries = parse(&text);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line_no, 5);
    }

    #[test]
    fn bracketed_entry_matches_only_its_port() {
        let entries = parse(&format!("[10.0.0.1]:2200 ssh-ed25519 {KEY_A}\n"));
        let sess = session();
        assert_eq!(
            check_key(&sess, &entries, "10.0.0.1", 2200, &blob(KEY_A)),
            HostKeyStatus::Match
        );
        assert!(matches!(
            check_key(&sess, &entries, "10.0.0.1", 2201, &blob(KEY_A)),
            HostKeyStatus::Unknown { .. }
        ));
    }

    #[test]
    fn other_host_gives_unknown_with_fingerprint() {
        let entries = parse(&format!("other.example ssh-ed25519 {KEY_A}\n"));
        let status = check_key(&session(), &entries, "lab-1", 22, &blob(KEY_A));
        assert_eq!(
            status,
            HostKeyStatus::Unknown {
                key_type: "ssh-ed25519".into(),
                fingerprint: KEY_A_FP.into()
            }
        );
    }

    #[test]
    fn same_type_other_key_is_changed_with_its_line() {
        let entries = parse(&format!("# x\nlab-1 ssh-ed25519 {KEY_A}\n"));
        match check_key(&session(), &entries, "lab-1", 22, &key_b()) {
            HostKeyStatus::Changed { line_no, line, .. } => {
                assert_eq!(line_no, 2);
                assert!(line.starts_with("lab-1 ssh-ed25519"));
            }
            other => panic!("expected Changed, got {other:?}"),
        }
    }

    #[test]
    fn a_matching_line_wins_over_a_stale_one() {
        let b = STANDARD.encode(key_b());
        let entries = parse(&format!(
            "lab-1 ssh-ed25519 {b}\nlab-1 ssh-ed25519 {KEY_A}\n"
        ));
        assert_eq!(
            check_key(&session(), &entries, "lab-1", 22, &blob(KEY_A)),
            HostKeyStatus::Match
        );
    }

    #[test]
    fn preference_puts_known_types_first() {
        let rsa_blob = {
            let mut v = vec![0, 0, 0, 7];
            v.extend_from_slice(b"ssh-rsa");
            v.extend_from_slice(&[0, 0, 0, 1, 1]);
            STANDARD.encode(v)
        };
        let entries = parse(&format!("[h]:2200 ssh-rsa {rsa_blob}\n"));
        let sess = session();
        // Built by hand, the entry's key is not a real RSA key; libssh2 may refuse the line,
        // in which case no preference is the right answer too.
        if let Some(prefs) = preferred_host_key_algs(&sess, &entries, "h", 2200) {
            assert!(prefs.starts_with("rsa-sha2-512"), "{prefs}");
            assert!(prefs.contains("ssh-ed25519"));
        }
        let entries = parse(&format!("[h]:2200 ssh-ed25519 {KEY_A}\n"));
        let prefs = preferred_host_key_algs(&sess, &entries, "h", 2200).unwrap();
        assert!(prefs.starts_with("ssh-ed25519,"), "{prefs}");
        assert_eq!(preferred_host_key_algs(&sess, &entries, "other", 22), None);
    }

    #[test]
    fn entry_line_brackets_non_default_ports() {
        assert_eq!(
            entry_line("h", 22, &blob(KEY_A)),
            format!("h ssh-ed25519 {KEY_A}")
        );
        assert_eq!(
            entry_line("h", 2200, &blob(KEY_A)),
            format!("[h]:2200 ssh-ed25519 {KEY_A}")
        );
    }

    #[test]
    fn append_adds_a_line_that_then_matches() {
        let dir = std::env::temp_dir().join(format!("qs-kh-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("known_hosts");
        fs::write(&path, "# no newline at end").unwrap();
        append(&path, "h", 2200, &blob(KEY_A)).unwrap();
        let entries = load(&path).unwrap();
        assert_eq!(
            check_key(&session(), &entries, "h", 2200, &blob(KEY_A)),
            HostKeyStatus::Match
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

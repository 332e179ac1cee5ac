//! What a caller tells the SSH layer about one host: address, user, credentials, trust.
//!
//! Plain data only; nothing here opens a socket or reads a file.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach and log in to one host.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// Short name used in thread names, logs and errors (e.g. the profile's host name).
    pub label: String,
    /// DNS name or address to connect to.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Methods tried in order until one is accepted.
    pub auth: Vec<SshAuth>,
    /// The OpenSSH known_hosts file to check the host key against.
    pub known_hosts: PathBuf,
    /// Limit for the TCP connect, and for each blocking step of handshake and auth.
    pub connect_timeout: Duration,
    /// How often an idle session sends a keepalive; also bounds dead-peer detection.
    pub keepalive_interval: Duration,
    /// Most session channels (execs, exec streams) open at once; more wait in line. OpenSSH's
    /// sshd refuses more than `MaxSessions` per connection, 10 by default.
    pub max_sessions: usize,
}

impl SshConfig {
    /// A config with the usual timeouts (connect 10 s, keepalive 15 s).
    pub fn new(host: &str, port: u16, user: &str, known_hosts: PathBuf) -> Self {
        Self {
            label: host.to_owned(),
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            auth: Vec::new(),
            known_hosts,
            connect_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(15),
            max_sessions: 10,
        }
    }
}

/// One way to authenticate.
#[derive(Clone)]
pub enum SshAuth {
    /// A private key file, with its passphrase if it has one.
    KeyFile {
        path: PathBuf,
        passphrase: Option<String>,
    },
    /// Keys held by an ssh-agent; `socket: None` means `$SSH_AUTH_SOCK`.
    Agent { socket: Option<PathBuf> },
}

impl std::fmt::Debug for SshAuth {
    // Written by hand so that a passphrase never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", &passphrase.as_ref().map(|_| "<hidden>"))
                .finish(),
            Self::Agent { socket } => f.debug_struct("Agent").field("socket", socket).finish(),
        }
    }
}

/// What to do with a host key that known_hosts does not hold yet.
///
/// A changed key is refused whatever the policy says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys (the error carries the fingerprint to show the user).
    Strict,
    /// Accept an unknown key for this connection only. With `Some(fingerprint)`, only a key
    /// with that fingerprint (the one the user saw) is accepted.
    AcceptOnce { fingerprint: Option<String> },
    /// Accept an unknown key and append it to the known_hosts file.
    AcceptAndSave { fingerprint: Option<String> },
}

//! The one error type of the SSH layer, in plain words.
//!
//! Every variant names the host and says what went wrong and, where there is one, how to fix
//! it. A changed host key has its own variant with its own words, so no other failure can be
//! mistaken for it. Privilege problems (sudo wanting a password) are the caller's, not here.

use std::io;
use std::path::PathBuf;

/// A failure of the SSH layer: connecting, trusting the host, authenticating, or a channel.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host name did not resolve to any address.
    #[error("could not resolve the address of {host}: {source}")]
    Resolve { host: String, source: io::Error },

    /// No TCP connection within the connect timeout.
    #[error("connecting to {host} port {port} timed out after {timeout_ms} ms")]
    ConnectTimeout {
        host: String,
        port: u16,
        timeout_ms: u64,
    },

    /// The host answered with a reset: nothing listens on that port.
    #[error("{host} refused the connection on port {port}: is sshd running and listening there?")]
    Refused { host: String, port: u16 },

    /// Any other TCP connect failure (unreachable network, ...).
    #[error("could not connect to {host} port {port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: io::Error,
    },

    /// The SSH handshake (banner, key exchange) failed or timed out.
    #[error("the SSH handshake with {host} port {port} failed: {detail}")]
    Handshake {
        host: String,
        port: u16,
        detail: String,
    },

    /// The host key is not in known_hosts, and the policy does not accept it.
    #[error(
        "the host key of {host} port {port} is not known yet ({key_type} key {fingerprint}); \
         if this fingerprint is the host's, accept it, or add it with: \
         ssh-keyscan -p {port} {host} >> {}",
        known_hosts.display()
    )]
    HostKeyUnknown {
        host: String,
        port: u16,
        key_type: String,
        /// `SHA256:...` in OpenSSH's form.
        fingerprint: String,
        known_hosts: PathBuf,
    },

    /// The host presented a different key than the one saved for it. Always refused.
    #[error(
        "the host key of {host} port {port} has CHANGED: known_hosts {} line {line} holds \
         another key, and the host now shows {key_type} key {fingerprint}. Someone may be \
         intercepting the connection. If the host was reinstalled, remove the old entry with: \
         ssh-keygen -R '[{host}]:{port}' -f {}",
        known_hosts.display(),
        known_hosts.display()
    )]
    HostKeyChanged {
        host: String,
        port: u16,
        key_type: String,
        fingerprint: String,
        known_hosts: PathBuf,
        /// 1-based line number of the saved entry that no longer matches.
        line: usize,
    },

    /// The known_hosts file could not be read or written.
    #[error("could not use the known_hosts file {}: {detail}", path.display())]
    KnownHostsFile { path: PathBuf, detail: String },

    /// Every configured authentication method was refused.
    #[error(
        "authentication as {user} on {host} failed; tried: {}; the server offers: {server_methods}",
        tried.join("; ")
    )]
    AuthFailed {
        user: String,
        host: String,
        tried: Vec<String>,
        server_methods: String,
    },

    /// The session is gone (the peer closed, the network broke, or it was shut down).
    #[error("the SSH connection to {host} is down: {reason}")]
    Disconnected { host: String, reason: String },

    /// A channel could not be opened or failed while in use; the session itself is fine.
    #[error("SSH channel for {what} on {host} failed: {detail}")]
    Channel {
        host: String,
        what: String,
        detail: String,
    },

    /// The Docker engine could not be reached or did not answer through the session.
    #[error("the Docker engine at {socket} on {host} could not be used over SSH: {detail}")]
    Docker {
        host: String,
        socket: String,
        detail: String,
    },

    /// A local resource (socket pair, thread) could not be created.
    #[error("local I/O for the SSH connection to {host} failed while {what}: {source}")]
    LocalIo {
        host: String,
        what: String,
        source: io::Error,
    },
}

//! Opening a session, in blocking mode on the session thread: TCP connect with a timeout,
//! handshake, host key check against known_hosts, then authentication.
//!
//! After this, the session is switched to non-blocking mode and handed to the multiplexer.

use std::io;
use std::net::{TcpStream, ToSocketAddrs as _};

use ssh2::{MethodType, Session};

use crate::ssh::config::{HostKeyPolicy, SshAuth, SshConfig};
use crate::ssh::error::SshError;
use crate::ssh::known_hosts::{self, HostKeyStatus};
use crate::ssh::sys;

/// A connected, trusted and authenticated session.
pub(crate) struct Established {
    pub sess: Session,
    /// A second handle on the session's socket (for poll and socket options).
    pub tcp: TcpStream,
}

/// Connects, checks the host key, and logs in.
pub(crate) fn establish(cfg: &SshConfig, policy: &HostKeyPolicy) -> Result<Established, SshError> {
    let tcp = connect_tcp(cfg)?;
    let local_io = |what: &str, source: io::Error| SshError::LocalIo {
        host: cfg.label.clone(),
        what: what.to_owned(),
        source,
    };
    sys::set_nodelay(&tcp).map_err(|e| local_io("setting TCP_NODELAY", e))?;
    sys::set_user_timeout(&tcp, cfg.keepalive_interval * 2)
        .map_err(|e| local_io("setting TCP_USER_TIMEOUT", e))?;
    let timeout_ms = u32::try_from(cfg.connect_timeout.as_millis()).unwrap_or(u32::MAX);
    let handshake_error = |e: ssh2::Error| SshError::Handshake {
        host: cfg.host.clone(),
        port: cfg.port,
        detail: e.message().to_owned(),
    };

    // Ask for a host key of a type that known_hosts holds for this host.
    let mut sess = Session::new().map_err(handshake_error)?;
    let entries = known_hosts::load(&cfg.known_hosts)?;
    if let Some(prefs) = known_hosts::preferred_host_key_algs(&sess, &entries, &cfg.host, cfg.port)
    {
        tracing::debug!(host = %cfg.label, prefs, "host key algorithm preference");
        sess.method_pref(MethodType::HostKey, &prefs)
            .map_err(handshake_error)?;
    }
    sess.set_timeout(timeout_ms);
    let sess_tcp = tcp
        .try_clone()
        .map_err(|e| local_io("duplicating the socket", e))?;
    sess.set_tcp_stream(sess_tcp);
    sess.handshake().map_err(handshake_error)?;

    check_host_key(cfg, policy, &sess, &entries)?;
    authenticate(cfg, &sess)?;

    sess.set_keepalive(
        false,
        u32::try_from(cfg.keepalive_interval.as_secs()).unwrap_or(15),
    );
    sess.set_blocking(false);
    Ok(Established { sess, tcp })
}

/// TCP connect to the first address that answers, within the timeout.
fn connect_tcp(cfg: &SshConfig) -> Result<TcpStream, SshError> {
    let addrs = (cfg.host.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(|source| SshError::Resolve {
            host: cfg.host.clone(),
            source,
        })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    let (host, port) = (cfg.host.clone(), cfg.port);
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
            let timeout_ms = u64::try_from(cfg.connect_timeout.as_millis()).unwrap_or(u64::MAX);
            SshError::ConnectTimeout {
                host,
                port,
                timeout_ms,
            }
        }
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => SshError::Refused { host, port },
        Some(source) => SshError::Connect { host, port, source },
        None => SshError::Resolve {
            host,
            source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        },
    })
}

/// Applies the policy to the verdict on the presented key.
fn check_host_key(
    cfg: &SshConfig,
    policy: &HostKeyPolicy,
    sess: &Session,
    entries: &[known_hosts::KnownHostEntry],
) -> Result<(), SshError> {
    let Some((blob, _)) = sess.host_key() else {
        return Err(SshError::Handshake {
            host: cfg.host.clone(),
            port: cfg.port,
            detail: "the server presented no host key".to_owned(),
        });
    };
    match known_hosts::check_key(sess, entries, &cfg.host, cfg.port, blob) {
        HostKeyStatus::Match => Ok(()),
        HostKeyStatus::Changed {
            key_type,
            fingerprint,
            line_no,
            ..
        } => Err(SshError::HostKeyChanged {
            host: cfg.host.clone(),
            port: cfg.port,
            key_type,
            fingerprint,
            known_hosts: cfg.known_hosts.clone(),
            line: line_no,
        }),
        HostKeyStatus::Unknown {
            key_type,
            fingerprint,
        } => {
            let unknown = || SshError::HostKeyUnknown {
                host: cfg.host.clone(),
                port: cfg.port,
                key_type: key_type.clone(),
                fingerprint: fingerprint.clone(),
                known_hosts: cfg.known_hosts.clone(),
            };
            let accepted =
                |expected: &Option<String>| expected.as_ref().is_none_or(|f| *f == fingerprint);
            match policy {
                HostKeyPolicy::Strict => Err(unknown()),
                HostKeyPolicy::AcceptOnce {
                    fingerprint: expected,
                } if accepted(expected) => {
                    tracing::warn!(host = %cfg.label, %fingerprint, "unknown host key accepted for this connection");
                    Ok(())
                }
                HostKeyPolicy::AcceptAndSave {
                    fingerprint: expected,
                } if accepted(expected) => {
                    known_hosts::append(&cfg.known_hosts, &cfg.host, cfg.port, blob)?;
                    tracing::info!(host = %cfg.label, %fingerprint, path = %cfg.known_hosts.display(), "host key saved");
                    Ok(())
                }
                // The key differs from the one the user accepted.
                HostKeyPolicy::AcceptOnce { .. } | HostKeyPolicy::AcceptAndSave { .. } => {
                    Err(unknown())
                }
            }
        }
    }
}

/// Tries each configured method in order; the error lists what was tried.
fn authenticate(cfg: &SshConfig, sess: &Session) -> Result<(), SshError> {
    // This also tries "none", which a few servers accept.
    let offered = match sess.auth_methods(&cfg.user) {
        Ok(methods) => methods.to_owned(),
        Err(_) if sess.authenticated() => return Ok(()),
        Err(e) => format!("unknown ({})", e.message()),
    };
    if sess.authenticated() {
        return Ok(());
    }
    let mut tried = Vec::new();
    for auth in &cfg.auth {
        match auth {
            SshAuth::KeyFile { path, passphrase } => {
                match sess.userauth_pubkey_file(&cfg.user, None, path, passphrase.as_deref()) {
                    Ok(()) if sess.authenticated() => return Ok(()),
                    Ok(()) => tried.push(format!("key file {} (not accepted)", path.display())),
                    Err(e) => tried.push(format!("key file {} ({})", path.display(), e.message())),
                }
            }
            SshAuth::Agent { socket } => {
                let where_ = socket
                    .as_ref()
                    .map_or_else(|| "$SSH_AUTH_SOCK".to_owned(), |p| p.display().to_string());
                match agent_auth(sess, &cfg.user, socket.as_deref()) {
                    Ok(true) => return Ok(()),
                    Ok(false) => tried.push(format!("ssh-agent at {where_} (no key accepted)")),
                    Err(e) => tried.push(format!("ssh-agent at {where_} ({})", e.message())),
                }
            }
        }
    }
    if tried.is_empty() {
        tried.push("nothing (no method configured)".to_owned());
    }
    Err(SshError::AuthFailed {
        user: cfg.user.clone(),
        host: cfg.host.clone(),
        tried,
        server_methods: offered,
    })
}

/// Offers each agent identity in turn; Ok(true) once one is accepted.
fn agent_auth(
    sess: &Session,
    user: &str,
    socket: Option<&std::path::Path>,
) -> Result<bool, ssh2::Error> {
    let mut agent = sess.agent()?;
    if let Some(path) = socket {
        agent.set_identity_path(path)?;
    }
    agent.connect()?;
    agent.list_identities()?;
    let mut accepted = false;
    for identity in agent.identities()? {
        if agent.userauth(user, &identity).is_ok() && sess.authenticated() {
            accepted = true;
            break;
        }
    }
    // The session is authenticated or not either way; a failed agent disconnect changes nothing.
    agent.disconnect().ok();
    Ok(accepted)
}

//! Results of one non-blocking libssh2 call: done, would block, failed (and how badly).
//!
//! libssh2 reports "try again" as an error (EAGAIN), and ssh2's `Read`/`Write` impls keep only
//! the message of an error. These helpers turn both shapes into `Ok(Some(v))` (done),
//! `Ok(None)` (would block) or an [`OpError`] with libssh2's code, read back from the session
//! when the `io::Error` lost it, so the loop can tell a dead transport from a failed channel.

use std::io;

use ssh2::{ErrorCode, Session};

/// libssh2's "would block" code.
const EAGAIN: i32 = -37;

/// A libssh2 failure with its code.
#[derive(Clone, Debug)]
pub(crate) struct OpError {
    pub code: i32,
    pub message: String,
}

impl OpError {
    fn from_ssh(e: &ssh2::Error) -> Self {
        let code = match e.code() {
            ErrorCode::Session(c) => c,
            ErrorCode::SFTP(_) => 0,
        };
        Self {
            code,
            message: e.message().to_owned(),
        }
    }

    /// Whether the failure means the transport (the TCP connection) is gone, so every channel
    /// of the session is gone too.
    pub(crate) fn is_fatal(&self) -> bool {
        // SOCKET_NONE, SOCKET_SEND, TIMEOUT, SOCKET_DISCONNECT, PROTO, SOCKET_TIMEOUT,
        // SOCKET_RECV, and the kex/decrypt failures a broken stream produces.
        matches!(
            self.code,
            -1 | -7 | -9 | -12 | -13 | -14 | -30 | -43 | -5 | -8
        )
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (libssh2 code {})", self.message, self.code)
    }
}

/// Maps a libssh2 call's result: `Ok(None)` when it would block.
pub(crate) fn nb<T>(r: Result<T, ssh2::Error>) -> Result<Option<T>, OpError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == ErrorCode::Session(EAGAIN) => Ok(None),
        Err(e) => Err(OpError::from_ssh(&e)),
    }
}

/// Maps a channel `Read`/`Write` result, taking the lost code from the session.
pub(crate) fn nb_io<T>(r: io::Result<T>, sess: &Session) -> Result<Option<T>, OpError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(match ssh2::Error::last_session_error(sess) {
            Some(last) if last.code() != ErrorCode::Session(0) => OpError::from_ssh(&last),
            _ => OpError {
                code: 0,
                message: e.to_string(),
            },
        }),
    }
}

/// Maps a local (non-blocking std socket) result: `Ok(None)` when it would block.
pub(crate) fn nb_local<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends EOF on `channel` once: `Ok(true)` when it went out now (or the channel cannot take it
/// any more, which ends the sending side all the same), `Ok(false)` when it must wait.
pub(crate) fn send_eof_once(
    channel: &mut ssh2::Channel,
    eof_sent: &mut bool,
) -> Result<bool, OpError> {
    if *eof_sent {
        return Ok(false);
    }
    match nb(channel.send_eof()) {
        Ok(None) => Ok(false),
        Err(e) if e.is_fatal() => Err(e),
        Ok(Some(())) | Err(_) => {
            *eof_sent = true;
            Ok(true)
        }
    }
}

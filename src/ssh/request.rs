//! What the session thread serves: requests waiting for a channel, and open channels (tasks).
//!
//! Plain dispatch over the two kinds of channel (exec, tunnel); the loop itself is in `mux`.

use std::os::unix::net::UnixStream;
use std::time::Instant;

use ssh2::Session;
use tokio::sync::oneshot;

use crate::ssh::error::SshError;
use crate::ssh::exec::{ExecOutput, ExecTask};
use crate::ssh::op::OpError;
use crate::ssh::tunnel::TunnelTask;

/// A request to the session thread.
pub(crate) enum Request {
    Exec {
        command: String,
        stdin: Option<Vec<u8>>,
        reply: oneshot::Sender<Result<ExecOutput, SshError>>,
    },
    /// Open a direct-streamlocal channel to `path` and pump it to `local`.
    Streamlocal {
        path: String,
        local: UnixStream,
        reply: oneshot::Sender<Result<(), SshError>>,
    },
    /// Run `command` and pump its stdin/stdout to `local`.
    ExecStream {
        command: String,
        local: UnixStream,
        reply: oneshot::Sender<Result<(), SshError>>,
    },
    /// Close the session and end the thread.
    Shutdown,
}

impl Request {
    pub(crate) fn what(&self) -> String {
        match self {
            Self::Exec { command, .. } => format!("exec `{command}`"),
            Self::Streamlocal { path, .. } => format!("unix socket {path}"),
            Self::ExecStream { command, .. } => format!("exec stream `{command}`"),
            Self::Shutdown => "shutdown".to_owned(),
        }
    }

    /// Whether the channel counts against the server's MaxSessions.
    pub(crate) fn needs_session(&self) -> bool {
        matches!(self, Self::Exec { .. } | Self::ExecStream { .. })
    }

    pub(crate) fn fail(self, error: SshError) {
        // In every arm: the caller may have stopped waiting; then nobody wants the error.
        match self {
            Self::Exec { reply, .. } => reply.send(Err(error)).ok(),
            Self::Streamlocal { reply, .. } | Self::ExecStream { reply, .. } => {
                reply.send(Err(error)).ok()
            }
            Self::Shutdown => None,
        };
    }
}

/// A request waiting for its channel.
pub(crate) struct Queued {
    pub(crate) request: Request,
    /// How often the server refused this session channel so far.
    pub(crate) refused: u32,
    /// Not to be tried again before this.
    pub(crate) retry_at: Option<Instant>,
}

/// Refusals of a session channel that are retried while other sessions are open. sshd counts
/// a closed session until its next loop turn, so an open that follows a close in the same
/// batch can be refused ("no more sessions") although our count is under the limit.
pub(crate) const MAX_SESSION_REFUSALS: u32 = 100;

/// A channel being served.
pub(crate) enum Task {
    Exec(ExecTask),
    Tunnel(TunnelTask),
}

impl Task {
    pub(crate) fn step(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        match self {
            Self::Exec(t) => t.step(sess, buf),
            Self::Tunnel(t) => t.step(sess, buf),
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Self::Exec(t) => t.is_finished(),
            Self::Tunnel(t) => t.is_finished(),
        }
    }

    pub(crate) fn awaits_reply(&self) -> bool {
        match self {
            Self::Exec(t) => t.awaits_reply(),
            Self::Tunnel(t) => t.awaits_reply(),
        }
    }

    /// Whether libssh2 holds input for the task, or (when the socket can take more) the
    /// peer's window has room for output it waits to send.
    pub(crate) fn has_work_queued(&self, socket_writable: bool) -> bool {
        match self {
            Self::Exec(t) => t.has_queued_input() || (socket_writable && t.can_write_more()),
            Self::Tunnel(t) => t.has_queued_input() || (socket_writable && t.can_write_more()),
        }
    }

    pub(crate) fn is_session(&self) -> bool {
        match self {
            Self::Exec(_) => true,
            Self::Tunnel(t) => t.is_exec(),
        }
    }

    pub(crate) fn what(&self) -> String {
        match self {
            Self::Exec(t) => format!("exec `{}`", t.command),
            Self::Tunnel(t) => t.what.clone(),
        }
    }

    pub(crate) fn finish(self, host: &str) {
        match self {
            Self::Exec(t) => t.finish(host),
            Self::Tunnel(_) => {}
        }
    }

    pub(crate) fn fail(self, error: SshError) {
        match self {
            Self::Exec(t) => t.fail(error),
            Self::Tunnel(t) => t.fail(error),
        }
    }
}

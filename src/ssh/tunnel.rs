//! A byte pipe between one SSH channel and one end of a local socket pair.
//!
//! Used for direct-streamlocal channels (a remote unix socket such as the Docker socket) and for
//! exec channels whose stdin/stdout carry a protocol (`docker system dial-stdio`). The other end
//! of the pair belongs to the caller (hyper). Each direction has one buffer; a full buffer stops
//! reading from its source, so a slow reader slows the remote down through the SSH window
//! instead of growing memory. EOF is passed on in both directions (our EOF becomes the
//! channel's EOF, the channel's EOF shuts the local socket for writing); when both directions
//! have ended, or the local side broke, the channel is closed. A write to a local end the
//! caller has closed fails with EPIPE rather than killing the process, because Rust programs
//! start with SIGPIPE ignored.

use std::io::{Read as _, Write as _};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use ssh2::{Channel, Session};
use tokio::sync::oneshot;

use crate::ssh::error::SshError;
use crate::ssh::op::{OpError, nb, nb_io, nb_local, send_eof_once};
use crate::ssh::sys::Flags;

/// Bytes buffered per direction.
const BUF_BYTES: usize = 64 * 1024;
/// Read-write rounds per direction in one step, so one busy tunnel cannot hold up the others.
const PUMP_ROUNDS: usize = 4;

/// Where a tunnel is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Exec tunnels only: waiting for the exec reply.
    Starting,
    Pumping,
    Closing,
    Finished,
}

/// Bytes read from one side and not yet written to the other.
struct Pending {
    buf: Vec<u8>,
    pos: usize,
}

impl Pending {
    fn new() -> Self {
        Self {
            buf: Vec::with_capacity(BUF_BYTES),
            pos: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn consumed(&mut self, n: usize) {
        self.pos += n;
        if self.is_empty() {
            self.buf.clear();
            self.pos = 0;
        }
    }
}

/// One channel pumped to one local socket.
pub(crate) struct TunnelTask {
    channel: Channel,
    local: UnixStream,
    /// What this tunnel is for, for logs and errors.
    pub(crate) what: String,
    /// Remote command for exec tunnels (None for streamlocal).
    command: Option<String>,
    phase: Phase,
    /// Local → remote.
    up: Pending,
    /// Remote → local.
    down: Pending,
    local_eof: bool,
    eof_sent: bool,
    remote_eof: bool,
    local_shut: bool,
    reply: Option<oneshot::Sender<Result<(), SshError>>>,
}

impl TunnelTask {
    /// Wraps an opened channel; `command` is run first for exec tunnels.
    pub(crate) fn new(
        channel: Channel,
        local: UnixStream,
        what: String,
        command: Option<String>,
        reply: oneshot::Sender<Result<(), SshError>>,
    ) -> Self {
        let phase = if command.is_some() {
            Phase::Starting
        } else {
            Phase::Pumping
        };
        let mut task = Self {
            channel,
            local,
            what,
            command,
            phase,
            up: Pending::new(),
            down: Pending::new(),
            local_eof: false,
            eof_sent: false,
            remote_eof: false,
            local_shut: false,
            reply: Some(reply),
        };
        if task.phase == Phase::Pumping {
            task.report_ready();
        }
        task
    }

    fn report_ready(&mut self) {
        if let Some(reply) = self.reply.take() {
            // A caller that gave up drops its end; the tunnel then ends on local EOF.
            reply.send(Ok(())).ok();
        }
    }

    /// Moves bytes both ways as far as possible without blocking; returns whether anything
    /// moved. Channel errors end the tunnel (Err); local errors only close it.
    pub(crate) fn step(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        let mut progress = false;
        if self.phase == Phase::Starting {
            let command = self.command.as_deref().unwrap_or_default();
            if nb(self.channel.exec(command))?.is_none() {
                return Ok(false);
            }
            self.phase = Phase::Pumping;
            self.report_ready();
            progress = true;
        }
        if self.phase == Phase::Pumping {
            progress |= self.pump_down(sess, buf)?;
            progress |= self.pump_up(sess)?;
            if self.command.is_some() {
                progress |= self.drain_stderr(sess, buf)?;
            }
            let down_done = self.remote_eof && self.down.is_empty();
            let up_done = self.local_eof && self.eof_sent;
            if down_done && up_done {
                self.phase = Phase::Closing;
                progress = true;
            }
        }
        if self.phase == Phase::Closing {
            match nb(self.channel.close()) {
                Ok(None) => return Ok(progress),
                Err(e) if e.is_fatal() => return Err(e),
                Ok(Some(())) | Err(_) => {}
            }
            self.phase = Phase::Finished;
            progress = true;
        }
        Ok(progress)
    }

    /// Remote → local: read the channel when the buffer is empty, write the buffer out.
    fn pump_down(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        let mut progress = false;
        for _ in 0..PUMP_ROUNDS {
            if self.down.is_empty() && !self.remote_eof {
                let limit = buf.len().min(BUF_BYTES);
                let Some(room) = buf.get_mut(..limit) else {
                    break;
                };
                match nb_io(self.channel.read(room), sess)? {
                    Some(0) => self.remote_eof = true,
                    Some(n) => self
                        .down
                        .buf
                        .extend_from_slice(room.get(..n).unwrap_or_default()),
                    None => {}
                }
                progress |= self.remote_eof || !self.down.is_empty();
            }
            if self.down.is_empty() {
                break;
            }
            match nb_local(self.local.write(self.down.rest())) {
                Ok(Some(n)) => {
                    self.down.consumed(n);
                    progress = true;
                }
                Ok(None) => break,
                Err(e) => {
                    self.local_broke(&e);
                    return Ok(true);
                }
            }
        }
        if self.remote_eof && self.down.is_empty() && !self.local_shut {
            // The caller may have closed its end already; then there is nothing to shut.
            self.local.shutdown(Shutdown::Write).ok();
            self.local_shut = true;
            progress = true;
        }
        Ok(progress)
    }

    /// Local → remote: read the local socket when the buffer is empty, write it to the channel.
    fn pump_up(&mut self, sess: &Session) -> Result<bool, OpError> {
        let mut progress = false;
        for _ in 0..PUMP_ROUNDS {
            if self.up.is_empty() && !self.local_eof {
                let mut chunk = [0u8; 16 * 1024];
                match nb_local(self.local.read(&mut chunk)) {
                    Ok(Some(0)) => self.local_eof = true,
                    Ok(Some(n)) => self
                        .up
                        .buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                    Ok(None) => {}
                    Err(e) => {
                        self.local_broke(&e);
                        return Ok(true);
                    }
                }
                progress |= self.local_eof || !self.up.is_empty();
            }
            if self.up.is_empty() {
                break;
            }
            match nb_io(self.channel.write(self.up.rest()), sess) {
                Ok(Some(n)) => {
                    self.up.consumed(n);
                    progress = true;
                }
                Ok(None) => break,
                Err(e) if e.is_fatal() => return Err(e),
                Err(_) => {
                    // The remote end no longer takes data: drop what is left, end this way.
                    self.up.consumed(self.up.rest().len());
                    self.local_eof = true;
                    self.eof_sent = true;
                    return Ok(true);
                }
            }
        }
        if self.local_eof && self.up.is_empty() {
            progress |= send_eof_once(&mut self.channel, &mut self.eof_sent)?;
        }
        Ok(progress)
    }

    /// Exec tunnels: stderr is not part of the protocol, but must be read or it fills the window.
    fn drain_stderr(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        let mut progress = false;
        let mut stderr = self.channel.stderr();
        while let Some(n) = nb_io(stderr.read(buf), sess)? {
            if n == 0 {
                break;
            }
            tracing::debug!(what = %self.what, stderr = %String::from_utf8_lossy(buf.get(..n).unwrap_or_default()), "remote stderr");
            progress = true;
        }
        Ok(progress)
    }

    /// The caller's end is gone or broken: stop both directions and close the channel.
    fn local_broke(&mut self, error: &std::io::Error) {
        tracing::debug!(what = %self.what, %error, "local end of tunnel closed");
        self.down.consumed(self.down.rest().len());
        self.up.consumed(self.up.rest().len());
        self.remote_eof = true;
        self.local_eof = true;
        self.eof_sent = true;
        self.local_shut = true;
        self.phase = Phase::Closing;
    }

    /// Whether this tunnel runs over an exec (session) channel.
    pub(crate) fn is_exec(&self) -> bool {
        self.command.is_some()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    pub(crate) fn awaits_reply(&self) -> bool {
        matches!(self.phase, Phase::Starting | Phase::Closing)
    }

    /// Whether the tunnel would take channel data now.
    fn wants_channel_data(&self) -> bool {
        self.phase == Phase::Pumping && self.down.is_empty() && !self.remote_eof
    }

    /// Whether libssh2 already holds data or EOF that the tunnel would take now.
    pub(crate) fn has_queued_input(&self) -> bool {
        self.wants_channel_data()
            && (self.channel.read_window().available > 0 || self.channel.eof())
    }

    /// Whether local data waits and the peer's window has room again.
    pub(crate) fn can_write_more(&self) -> bool {
        self.phase == Phase::Pumping
            && !self.up.is_empty()
            && self.channel.write_window().remaining > 0
    }

    /// The local fd and what to wait for on it (none when the tunnel waits only on SSH).
    pub(crate) fn local_watch(&self) -> (BorrowedFd<'_>, Flags) {
        let mut flags = Flags::empty();
        if self.phase == Phase::Pumping {
            if self.up.is_empty() && !self.local_eof {
                flags |= Flags::IN;
            }
            if !self.down.is_empty() {
                flags |= Flags::OUT;
            }
        }
        (self.local.as_fd(), flags)
    }

    /// Tells a caller still waiting for the tunnel that it failed; closes the local end.
    pub(crate) fn fail(mut self, error: SshError) {
        if let Some(reply) = self.reply.take() {
            // The caller may have stopped waiting; then nobody wants the error.
            reply.send(Err(error)).ok();
        }
    }
}

//! The session thread: one per host, owning the `ssh2::Session` in non-blocking mode.
//!
//! Requests arrive on a bounded channel, each followed by a byte on the wake socket. The loop
//! makes passes over every exec and tunnel until a pass moves nothing, then sleeps in `poll()`
//! on the TCP socket, the wake socket and the tunnels' local sockets.
//!
//! libssh2 keeps its own packet queue: reading one channel can pull another channel's data,
//! EOF or an open confirmation off the socket, and poll() then has nothing to report. Three
//! rules keep those bytes from going unnoticed: before sleeping, every channel is asked whether
//! libssh2 already holds input for it (then there is no sleep); the pending channel open is
//! attempted last in a pass, after every channel read; and while an exec or open waits for a
//! reply the poll timeout is short. Opens are serialized because libssh2 tracks one open per
//! session. TCP_QUICKACK is set before every poll (see `sys::set_quickack`).
//!
//! Any transport-level failure, a peer EOF or missed keepalives end the session: every pending
//! request fails with `SshError::Disconnected` and later requests fail at once with the reason.

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Session};
use tokio::sync::mpsc;

use crate::ssh::config::SshConfig;
use crate::ssh::connect::Established;
use crate::ssh::error::SshError;
use crate::ssh::exec::ExecTask;
use crate::ssh::op::{OpError, nb};
use crate::ssh::request::{MAX_SESSION_REFUSALS, Queued, Request, Task};

/// How long after a session channel closed a refused session open is still taken for sshd
/// not having freed that session yet, and retried.
const SESSION_RELEASE_GRACE: Duration = Duration::from_secs(1);
use crate::ssh::sys::{self, Flags, Watch};
use crate::ssh::tunnel::TunnelTask;

/// Poll timeout while a reply may be hidden in libssh2's queue.
const SHORT_POLL: Duration = Duration::from_millis(5);
/// Read buffer for channel data.
const READ_BUF_BYTES: usize = 64 * 1024;
/// Receive window of session channels (see `try_open`).
const SESSION_WINDOW_BYTES: u32 = 256 * 1024;
/// Largest packet we accept on a channel (libssh2's default).
const PACKET_BYTES: u32 = 32 * 1024;
/// libssh2's code for a refused channel open.
const CHANNEL_FAILURE: i32 = -21;

/// The session thread's state.
pub(crate) struct Mux {
    label: String,
    sess: Session,
    /// A second handle on the session's socket, for poll and socket options.
    tcp: TcpStream,
    wake: UnixStream,
    requests: mpsc::Receiver<Request>,
    /// Requests whose channel is not open yet; the front one is being opened.
    opens: VecDeque<Queued>,
    /// The front of `opens` is half-opened: libssh2 holds its open state until it completes.
    opening: bool,
    /// When a session channel last closed (see `SESSION_RELEASE_GRACE`).
    session_closed_at: Option<Instant>,
    /// Cap on open session channels (see `SshConfig::max_sessions`).
    max_sessions: usize,
    tasks: Vec<Task>,
    /// Set once, with the reason, when the session ends.
    down: Arc<OnceLock<String>>,
    keepalive_interval: Duration,
    next_keepalive: Instant,
    /// The peer sent bytes while no channel existed to consume them; stop watching the socket
    /// for input until a channel exists, or poll would spin.
    idle_input_seen: bool,
}

impl Mux {
    /// Takes over an established session; `down` receives the reason when it ends.
    pub(crate) fn new(
        config: &SshConfig,
        established: Established,
        wake: UnixStream,
        requests: mpsc::Receiver<Request>,
        down: Arc<OnceLock<String>>,
    ) -> Self {
        let keepalive_interval = config.keepalive_interval;
        Self {
            label: config.label.clone(),
            sess: established.sess,
            tcp: established.tcp,
            wake,
            requests,
            opens: VecDeque::new(),
            opening: false,
            session_closed_at: None,
            max_sessions: config.max_sessions.max(1),
            tasks: Vec::new(),
            down,
            keepalive_interval,
            next_keepalive: Instant::now() + keepalive_interval,
            idle_input_seen: false,
        }
    }

    /// Runs until shutdown or until the connection dies.
    pub(crate) fn run(mut self) {
        let mut buf = vec![0u8; READ_BUF_BYTES];
        let mut idle_passes = 0u32;
        let reason = loop {
            if let Err(reason) = self.take_requests() {
                break reason;
            }
            let progress = match self.pass(&mut buf) {
                Ok(progress) => progress,
                Err(reason) => break reason,
            };
            if let Err(reason) = self.keepalive() {
                break reason;
            }
            if progress {
                idle_passes = 0;
                continue;
            }

            // Before sleeping: libssh2 may hold input that poll() cannot see.
            let writable = !matches!(
                self.sess.block_directions(),
                BlockDirections::Outbound | BlockDirections::Both
            );
            let queued = self.tasks.iter().any(|t| t.has_work_queued(writable));
            idle_passes = if queued { idle_passes + 1 } else { 0 };
            let timeout = if queued && idle_passes < 4 {
                Duration::ZERO
            } else if queued {
                // A queued-input hint that no step can act on: do not spin on it.
                Duration::from_millis(1)
            } else if self.opening || self.tasks.iter().any(Task::awaits_reply) {
                SHORT_POLL
            } else {
                let now = Instant::now();
                let retry = self.opens.iter().filter_map(|q| q.retry_at).min();
                let until = retry.map_or(self.next_keepalive, |r| r.min(self.next_keepalive));
                until.saturating_duration_since(now)
            };
            if let Err(reason) = self.sleep(timeout) {
                break reason;
            }
        };
        self.end(&reason);
    }

    /// Moves queued requests to the open queue; Err when the session should end.
    fn take_requests(&mut self) -> Result<(), String> {
        // Drain the wake socket; its bytes only mean "look at the request channel".
        let mut sink = [0u8; 256];
        while matches!(self.wake.read(&mut sink), Ok(n) if n > 0) {}
        loop {
            match self.requests.try_recv() {
                Ok(Request::Shutdown) => return Err("the connection was shut down".to_owned()),
                Ok(request) => self.opens.push_back(Queued {
                    request,
                    refused: 0,
                    retry_at: None,
                }),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(()),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Err("every handle on the connection was dropped".to_owned());
                }
            }
        }
    }

    /// One pass over every task, then the pending open (last, see the module doc).
    fn pass(&mut self, buf: &mut [u8]) -> Result<bool, String> {
        let mut progress = false;
        let mut i = 0;
        while let Some(task) = self.tasks.get_mut(i) {
            match task.step(&self.sess, buf) {
                Ok(moved) => progress |= moved,
                Err(e) if e.is_fatal() => return Err(format!("the transport failed: {e}")),
                Err(e) => {
                    let task = self.tasks.swap_remove(i);
                    if task.is_session() {
                        self.session_closed_at = Some(Instant::now());
                    }
                    let error = self.channel_error(&task.what(), &e);
                    tracing::debug!(host = %self.label, %error, "channel failed");
                    task.fail(error);
                    progress = true;
                    continue;
                }
            }
            if self.tasks.get(i).is_some_and(|t| t.is_finished()) {
                let task = self.tasks.swap_remove(i);
                if task.is_session() {
                    self.session_closed_at = Some(Instant::now());
                }
                task.finish(&self.label);
                progress = true;
                continue;
            }
            i += 1;
        }
        progress |= self.try_open()?;
        Ok(progress)
    }

    /// Attempts to open the channel for the front request; Err when the transport died.
    fn try_open(&mut self) -> Result<bool, String> {
        if !self.opening {
            // Pick the first request the session-channel cap lets through; move it to the front.
            let sessions = self.tasks.iter().filter(|t| t.is_session()).count();
            let room = sessions < self.max_sessions;
            let now = Instant::now();
            let eligible = |q: &Queued| {
                (room || !q.request.needs_session()) && q.retry_at.is_none_or(|t| now >= t)
            };
            match self.opens.iter().position(eligible) {
                None => return Ok(false),
                Some(0) => {}
                Some(i) => {
                    if let Some(request) = self.opens.remove(i) {
                        self.opens.push_front(request);
                    }
                }
            }
        }
        let Some(front) = self.opens.front() else {
            return Ok(false);
        };
        let opened = match &front.request {
            Request::Streamlocal { path, .. } => {
                nb(self.sess.channel_direct_streamlocal(path, None))
            }
            // A smaller window than libssh2's 2 MiB default: the server may have at most this
            // much of one command's output in flight ahead of other channels' replies.
            _ => nb(self
                .sess
                .channel_open("session", SESSION_WINDOW_BYTES, PACKET_BYTES, None)),
        };
        self.opening = matches!(opened, Ok(None));
        let channel = match opened {
            Ok(None) => return Ok(false),
            Ok(Some(channel)) => channel,
            Err(e) if e.is_fatal() => return Err(format!("the transport failed: {e}")),
            Err(e) => {
                let sessions = self.tasks.iter().filter(|t| t.is_session()).count();
                if let Some(mut queued) = self.opens.pop_front() {
                    // sshd frees a closed session only after the rest of that packet batch, so a
                    // session that closed just now still counts against its MaxSessions.
                    let closed_lately = self
                        .session_closed_at
                        .is_some_and(|at| at.elapsed() < SESSION_RELEASE_GRACE);
                    let retry = queued.request.needs_session()
                        && e.code == CHANNEL_FAILURE
                        && (sessions > 0 || closed_lately)
                        && queued.refused < MAX_SESSION_REFUSALS;
                    if retry {
                        queued.refused += 1;
                        let delay_ms = 2 * u64::from(queued.refused.min(10));
                        queued.retry_at = Some(Instant::now() + Duration::from_millis(delay_ms));
                        tracing::debug!(host = %self.label, sessions, refused = queued.refused, "session channel refused; retrying");
                        self.opens.push_front(queued);
                    } else {
                        let error = self.channel_error(&queued.request.what(), &e);
                        queued.request.fail(error);
                    }
                }
                return Ok(true);
            }
        };
        let task = match self.opens.pop_front().map(|q| q.request) {
            Some(Request::Exec {
                command,
                stdin,
                reply,
            }) => Task::Exec(ExecTask::new(channel, command, stdin, reply)),
            Some(Request::Streamlocal { path, local, reply }) => Task::Tunnel(TunnelTask::new(
                channel,
                local,
                format!("unix socket {path}"),
                None,
                reply,
            )),
            Some(Request::ExecStream {
                command,
                local,
                reply,
            }) => {
                let what = format!("exec stream `{command}`");
                Task::Tunnel(TunnelTask::new(channel, local, what, Some(command), reply))
            }
            Some(Request::Shutdown) | None => return Ok(true),
        };
        self.tasks.push(task);
        Ok(true)
    }

    fn channel_error(&self, what: &str, e: &OpError) -> SshError {
        SshError::Channel {
            host: self.label.clone(),
            what: what.to_owned(),
            detail: e.to_string(),
        }
    }

    /// Sends a keepalive when due; a failed send means the transport is gone.
    fn keepalive(&mut self) -> Result<(), String> {
        if Instant::now() < self.next_keepalive {
            return Ok(());
        }
        // libssh2 keeps its own whole-second clock and says when it wants the next call; a
        // call before then sends nothing, so its answer sets our next wake-up.
        let next = match nb(self.sess.keepalive_send()) {
            Ok(Some(secs)) => Duration::from_secs(u64::from(secs.max(1))),
            Ok(None) => SHORT_POLL,
            Err(e) if e.is_fatal() => return Err(format!("a keepalive could not be sent: {e}")),
            Err(e) => {
                tracing::debug!(host = %self.label, error = %e, "keepalive not sent");
                self.keepalive_interval
            }
        };
        self.next_keepalive = Instant::now() + next;
        Ok(())
    }

    /// Sleeps in poll() until the socket, the wake socket or a tunnel needs attention.
    fn sleep(&mut self, timeout: Duration) -> Result<(), String> {
        if !self.tasks.is_empty() || !self.opens.is_empty() {
            self.idle_input_seen = false;
        }
        let mut tcp_flags = Flags::empty();
        if !self.idle_input_seen {
            tcp_flags |= Flags::IN;
        }
        if self.sess.block_directions() == BlockDirections::Outbound
            || self.sess.block_directions() == BlockDirections::Both
        {
            tcp_flags |= Flags::OUT;
        }
        let mut watches = vec![
            Watch {
                fd: self.tcp.as_fd(),
                flags: tcp_flags,
            },
            Watch {
                fd: self.wake.as_fd(),
                flags: Flags::IN,
            },
        ];
        for task in &self.tasks {
            if let Task::Tunnel(t) = task {
                let (fd, flags) = t.local_watch();
                if !flags.is_empty() {
                    watches.push(Watch { fd, flags });
                }
            }
        }

        // Delayed ACKs come back on by themselves, so this is set before every poll.
        if let Err(error) = sys::set_quickack(&self.tcp) {
            tracing::debug!(host = %self.label, %error, "TCP_QUICKACK not set");
        }
        let ready = sys::poll(&watches, timeout).map_err(|e| format!("poll failed: {e}"))?;
        drop(watches);

        let tcp_ready = ready.first().copied().unwrap_or_else(Flags::empty);
        if tcp_ready.intersects(Flags::ERR | Flags::HUP) {
            return Err("the server closed the connection".to_owned());
        }
        if tcp_ready.contains(Flags::IN) && sys::peer_closed(&self.tcp) {
            return Err("the server closed the connection".to_owned());
        }
        if tcp_ready.contains(Flags::IN) && self.tasks.is_empty() && self.opens.is_empty() {
            self.idle_input_seen = true;
        }
        Ok(())
    }

    /// Fails everything still pending, closes the session politely if it can, records why.
    fn end(mut self, reason: &str) {
        let graceful = reason.contains("shut down") || reason.contains("dropped");
        if graceful {
            tracing::info!(host = %self.label, reason, "SSH session closed");
        } else {
            tracing::error!(host = %self.label, reason, "SSH session lost");
        }
        // Record the reason first, so requests racing with the end see it.
        self.down.set(reason.to_owned()).ok();
        self.requests.close();
        let error = || SshError::Disconnected {
            host: self.label.clone(),
            reason: reason.to_owned(),
        };
        while let Ok(request) = self.requests.try_recv() {
            request.fail(error());
        }
        for queued in self.opens.drain(..) {
            queued.request.fail(error());
        }
        for task in self.tasks.drain(..) {
            task.fail(error());
        }
        if graceful {
            self.sess.set_blocking(true);
            self.sess.set_timeout(1_000);
            // Best effort: the peer learns we left; if it is gone, there is nobody to tell.
            self.sess.disconnect(None, "closed by Quayside", None).ok();
        }
    }
}

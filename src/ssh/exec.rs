//! One remote command on its own exec channel, driven step by step by the session thread.
//!
//! The steps: start the command, feed stdin while reading stdout and stderr (both at once, so
//! a chatty stderr cannot fill the channel window and stall stdout), send EOF, wait for both
//! streams to end, close, wait for the server's close, then read the exit status. Every call is
//! non-blocking; a step that would block is simply tried again on the next pass.

use std::io::{Read as _, Write as _};
use std::time::Instant;

use ssh2::{Channel, Session};
use tokio::sync::oneshot;

use crate::ssh::error::SshError;
use crate::ssh::op::{OpError, nb, nb_io, send_eof_once};

/// Largest stdin slice handed to libssh2 at once.
const WRITE_CHUNK: usize = 32 * 1024;
/// Reads per stream in one step (each up to the loop's read buffer, 64 KiB).
const READS_PER_STEP: usize = 4;

/// What a finished remote command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit status; -1 when the command was killed by a signal.
    pub status: i32,
    /// The signal that killed the command, e.g. `KILL`.
    pub signal: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Where an exec is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The exec request is sent or being sent; waiting for the server's reply.
    Starting,
    /// Streams flow.
    Running,
    /// Both streams ended; sending our close.
    Closing,
    /// Waiting for the server's close, after which the exit status is final.
    WaitClose,
    /// Done; the output is ready to hand over.
    Finished,
}

/// An exec channel and everything gathered from it so far.
pub(crate) struct ExecTask {
    channel: Channel,
    pub(crate) command: String,
    stdin: Vec<u8>,
    stdin_pos: usize,
    eof_sent: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_done: bool,
    stderr_done: bool,
    phase: Phase,
    /// When the request reached the session thread, for the debug log.
    started: Instant,
    reply: Option<oneshot::Sender<Result<ExecOutput, SshError>>>,
}

impl ExecTask {
    /// Wraps a freshly opened session channel.
    pub(crate) fn new(
        channel: Channel,
        command: String,
        stdin: Option<Vec<u8>>,
        reply: oneshot::Sender<Result<ExecOutput, SshError>>,
    ) -> Self {
        Self {
            channel,
            command,
            stdin: stdin.unwrap_or_default(),
            stdin_pos: 0,
            eof_sent: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_done: false,
            stderr_done: false,
            phase: Phase::Starting,
            started: Instant::now(),
            reply: Some(reply),
        }
    }

    /// Moves the exec on as far as it goes without blocking; returns whether anything moved.
    pub(crate) fn step(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        let mut progress = false;
        if self.phase == Phase::Starting {
            if nb(self.channel.exec(&self.command))?.is_none() {
                return Ok(false);
            }
            self.phase = Phase::Running;
            progress = true;
        }
        if self.phase == Phase::Running {
            progress |= self.feed_stdin(sess)?;
            progress |= self.read_streams(sess, buf)?;
            if self.stdout_done && self.stderr_done {
                self.phase = Phase::Closing;
                progress = true;
            }
        }
        if self.phase == Phase::Closing {
            if nb(self.channel.close())?.is_none() {
                return Ok(progress);
            }
            self.phase = Phase::WaitClose;
            progress = true;
        }
        if self.phase == Phase::WaitClose {
            match nb(self.channel.wait_close()) {
                Ok(None) => return Ok(progress),
                Err(e) if e.is_fatal() => return Err(e),
                // Closed, or libssh2 refused to wait (it already counts the channel closed).
                Ok(Some(())) | Err(_) => {}
            }
            self.phase = Phase::Finished;
            progress = true;
        }
        Ok(progress)
    }

    /// Writes what stdin the window takes, then EOF. Write failures after the command stopped
    /// reading (the server closed its side) only end stdin; the output still counts.
    fn feed_stdin(&mut self, sess: &Session) -> Result<bool, OpError> {
        let mut progress = false;
        while self.stdin_pos < self.stdin.len() && !self.eof_sent {
            let end = self.stdin.len().min(self.stdin_pos + WRITE_CHUNK);
            match nb_io(
                self.channel
                    .write(self.stdin.get(self.stdin_pos..end).unwrap_or_default()),
                sess,
            ) {
                Ok(Some(n)) => {
                    self.stdin_pos += n;
                    progress = true;
                }
                Ok(None) => return Ok(progress),
                Err(e) if e.is_fatal() => return Err(e),
                Err(_) => {
                    self.eof_sent = true;
                    return Ok(true);
                }
            }
        }
        progress |= send_eof_once(&mut self.channel, &mut self.eof_sent)?;
        Ok(progress)
    }

    /// Drains whatever stdout and stderr data libssh2 holds or can read now.
    fn read_streams(&mut self, sess: &Session, buf: &mut [u8]) -> Result<bool, OpError> {
        let mut progress = false;
        // Bounded per pass, so one big output cannot starve the session's other channels.
        for _ in 0..READS_PER_STEP {
            if self.stdout_done {
                break;
            }
            match nb_io(self.channel.read(buf), sess)? {
                Some(0) => self.stdout_done = true,
                Some(n) => self
                    .stdout
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
                None => break,
            }
            progress = true;
        }
        let mut stderr = self.channel.stderr();
        for _ in 0..READS_PER_STEP {
            if self.stderr_done {
                break;
            }
            match nb_io(stderr.read(buf), sess)? {
                Some(0) => self.stderr_done = true,
                Some(n) => self
                    .stderr
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
                None => break,
            }
            progress = true;
        }
        Ok(progress)
    }

    /// Whether the exec has its exit status and can be handed over.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Whether the exec waits for a reply that may already sit in libssh2's queue unseen by
    /// poll (exec reply, close); the loop then polls with a short timeout.
    pub(crate) fn awaits_reply(&self) -> bool {
        matches!(
            self.phase,
            Phase::Starting | Phase::Closing | Phase::WaitClose
        )
    }

    /// Whether libssh2 already holds data or EOF for this exec that a read would return.
    pub(crate) fn has_queued_input(&self) -> bool {
        self.phase == Phase::Running
            && !(self.stdout_done && self.stderr_done)
            && (self.channel.read_window().available > 0 || self.channel.eof())
    }

    /// Whether stdin is waiting and the peer's window has room again.
    pub(crate) fn can_write_more(&self) -> bool {
        self.phase == Phase::Running
            && !self.eof_sent
            && self.stdin_pos < self.stdin.len()
            && self.channel.write_window().remaining > 0
    }

    /// Hands the output to the caller.
    pub(crate) fn finish(mut self, host: &str) {
        let signal = self.channel.exit_signal().ok().and_then(|s| s.exit_signal);
        let status = match (&signal, self.channel.exit_status()) {
            (Some(_), _) => -1,
            (None, Ok(status)) => status,
            (None, Err(_)) => -1,
        };
        let output = ExecOutput {
            status,
            signal,
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
        };
        tracing::debug!(
            host,
            command = %self.command,
            status,
            stdout_bytes = output.stdout.len(),
            stderr_bytes = output.stderr.len(),
            elapsed_ms = self.started.elapsed().as_millis() as u64,
            "exec finished"
        );
        if let Some(reply) = self.reply.take() {
            // The caller may have stopped waiting; then nobody wants the output.
            reply.send(Ok(output)).ok();
        }
    }

    /// Tells the caller the exec failed.
    pub(crate) fn fail(mut self, error: SshError) {
        if let Some(reply) = self.reply.take() {
            // The caller may have stopped waiting; then nobody wants the error.
            reply.send(Err(error)).ok();
        }
    }
}

//! The async face of one host's SSH session: a cheap, cloneable handle.
//!
//! Each call sends a request to the session thread (see `mux`) and awaits its reply; nothing
//! here touches libssh2. When the session is down, calls fail at once with the reason it went
//! down. Dropping the last handle ends the session thread.

use std::io::Write as _;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::ssh::config::{HostKeyPolicy, SshConfig};
use crate::ssh::connect;
use crate::ssh::error::SshError;
use crate::ssh::exec::ExecOutput;
use crate::ssh::mux::Mux;
use crate::ssh::request::Request;

/// Requests that may wait for the session thread; senders wait (asynchronously) beyond that.
const REQUEST_CAPACITY: usize = 256;

/// A connected SSH session to one host. Clones share the session.
#[derive(Clone)]
pub struct SshHost {
    inner: Arc<Inner>,
}

struct Inner {
    label: String,
    requests: Option<mpsc::Sender<Request>>,
    /// Writing a byte here wakes the session thread out of poll().
    waker: StdUnixStream,
    /// Why the session ended, once it has.
    down: Arc<OnceLock<String>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the request channel, then waking the thread, makes it shut down.
        self.requests.take();
        wake(&self.waker);
    }
}

fn wake(waker: &StdUnixStream) {
    // A full wake socket already holds a wake-up; any other failure means the thread is gone.
    (&*waker).write_all(&[1]).ok();
}

impl SshHost {
    /// Connects, checks the host key under `policy`, authenticates, and starts the session
    /// thread `ssh-<label>`.
    pub async fn connect(config: SshConfig, policy: HostKeyPolicy) -> Result<SshHost, SshError> {
        let label = config.label.clone();
        let local_io = |what: &str, source: std::io::Error| SshError::LocalIo {
            host: label.clone(),
            what: what.to_owned(),
            source,
        };
        let (waker, wake_rx) =
            StdUnixStream::pair().map_err(|e| local_io("creating the wake socket", e))?;
        waker
            .set_nonblocking(true)
            .map_err(|e| local_io("configuring the wake socket", e))?;
        wake_rx
            .set_nonblocking(true)
            .map_err(|e| local_io("configuring the wake socket", e))?;
        let (tx, rx) = mpsc::channel(REQUEST_CAPACITY);
        let (ready_tx, ready_rx) = oneshot::channel();
        let down = Arc::new(OnceLock::new());

        let thread_down = Arc::clone(&down);
        let thread = std::thread::Builder::new()
            .name(format!("ssh-{label}"))
            .spawn(move || {
                let started = std::time::Instant::now();
                match connect::establish(&config, &policy) {
                    Ok(est) => {
                        tracing::info!(host = %config.label, connect_ms = started.elapsed().as_millis() as u64, "SSH session connected");
                        // If the caller stopped waiting, the handles are gone and the loop ends at once.
                        ready_tx.send(Ok(())).ok();
                        Mux::new(&config, est, wake_rx, rx, thread_down).run();
                    }
                    Err(e) => {
                        // A caller that stopped waiting has no use for the error.
                        ready_tx.send(Err(e)).ok();
                    }
                }
            })
            .map_err(|e| local_io("starting the session thread", e))?;

        let host = SshHost {
            inner: Arc::new(Inner {
                label: label.clone(),
                requests: Some(tx),
                waker,
                down,
                thread: Mutex::new(Some(thread)),
            }),
        };
        match ready_rx.await {
            Ok(Ok(())) => Ok(host),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SshError::Disconnected {
                host: label,
                reason: "the session thread ended during connect".to_owned(),
            }),
        }
    }

    /// The host's label from its config.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Whether the session is still up (as far as the session thread knows).
    pub fn is_connected(&self) -> bool {
        self.inner.down.get().is_none()
    }

    fn disconnected(&self) -> SshError {
        let reason = self
            .inner
            .down
            .get()
            .cloned()
            .unwrap_or_else(|| "the session ended".to_owned());
        SshError::Disconnected {
            host: self.inner.label.clone(),
            reason,
        }
    }

    async fn send(&self, request: Request) -> Result<(), SshError> {
        if self.inner.down.get().is_some() {
            return Err(self.disconnected());
        }
        let Some(tx) = &self.inner.requests else {
            return Err(self.disconnected());
        };
        tx.send(request).await.map_err(|_| self.disconnected())?;
        wake(&self.inner.waker);
        Ok(())
    }

    /// Runs `command` through the user's login shell on the host, feeding `stdin` (then EOF),
    /// and returns its exit status with stdout and stderr kept apart.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, SshError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Exec {
            command: command.to_owned(),
            stdin,
            reply,
        })
        .await?;
        rx.await.map_err(|_| self.disconnected())?
    }

    /// Connects to a unix socket on the host (direct-streamlocal forwarding) and returns the
    /// local end of the pipe. No socket is listening anywhere on this side.
    pub async fn open_streamlocal(
        &self,
        socket_path: &str,
    ) -> Result<tokio::net::UnixStream, SshError> {
        let (ours, theirs) = self.socket_pair()?;
        let (reply, rx) = oneshot::channel();
        self.send(Request::Streamlocal {
            path: socket_path.to_owned(),
            local: theirs,
            reply,
        })
        .await?;
        rx.await.map_err(|_| self.disconnected())??;
        Ok(ours)
    }

    /// Runs `command` and returns a stream wired to its stdin and stdout (stderr goes to the
    /// debug log). Meant for `docker system dial-stdio`.
    pub async fn exec_stream(&self, command: &str) -> Result<tokio::net::UnixStream, SshError> {
        let (ours, theirs) = self.socket_pair()?;
        let (reply, rx) = oneshot::channel();
        self.send(Request::ExecStream {
            command: command.to_owned(),
            local: theirs,
            reply,
        })
        .await?;
        rx.await.map_err(|_| self.disconnected())??;
        Ok(ours)
    }

    /// A connected pair: a tokio end for the caller, a non-blocking std end for the thread.
    fn socket_pair(&self) -> Result<(tokio::net::UnixStream, StdUnixStream), SshError> {
        let local_io = |source| SshError::LocalIo {
            host: self.inner.label.clone(),
            what: "creating a socket pair".to_owned(),
            source,
        };
        let (ours, theirs) = StdUnixStream::pair().map_err(local_io)?;
        ours.set_nonblocking(true).map_err(local_io)?;
        theirs.set_nonblocking(true).map_err(local_io)?;
        let ours = tokio::net::UnixStream::from_std(ours).map_err(local_io)?;
        Ok((ours, theirs))
    }

    /// Closes the session (pending requests fail) and waits for the session thread to end.
    pub async fn disconnect(&self) {
        if let Some(tx) = &self.inner.requests {
            // A closed channel means the thread is already ending.
            tx.send(Request::Shutdown).await.ok();
            wake(&self.inner.waker);
        }
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            // A panicked session thread has nothing more to clean up.
            tokio::task::spawn_blocking(move || thread.join().ok())
                .await
                .ok();
        }
    }
}

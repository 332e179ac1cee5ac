//! Socket calls the multiplexer needs beyond std: poll(2), TCP_QUICKACK, a peek for EOF.
//!
//! All through rustix's safe wrappers, so this crate has no `unsafe`.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::RecvFlags;

pub(crate) use rustix::event::PollFlags as Flags;

/// Turns delayed ACKs off until the kernel turns them back on (it does so on its own, which is
/// why the multiplexer calls this before every poll).
///
/// Without it, a response that spans several SSH packets waits ~40 ms for our ACK, because
/// sshd leaves Nagle on for non-interactive sessions.
pub(crate) fn set_quickack(fd: impl AsFd) -> io::Result<()> {
    rustix::net::sockopt::set_tcp_quickack(fd, true).map_err(io::Error::from)
}

/// Sets TCP_NODELAY.
pub(crate) fn set_nodelay(fd: impl AsFd) -> io::Result<()> {
    rustix::net::sockopt::set_tcp_nodelay(fd, true).map_err(io::Error::from)
}

/// Sets TCP_USER_TIMEOUT: the kernel drops the connection when sent data stays unacknowledged
/// this long, so a peer that vanished without a FIN (power loss, cable) is noticed by the next
/// keepalive instead of after the default ~15 minutes of retransmissions.
pub(crate) fn set_user_timeout(fd: impl AsFd, timeout: Duration) -> io::Result<()> {
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    rustix::net::sockopt::set_tcp_user_timeout(fd, ms).map_err(io::Error::from)
}

/// Whether the peer has closed a TCP socket (a peek reads end-of-file). Never blocks.
pub(crate) fn peer_closed(fd: impl AsFd) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        rustix::net::recv(fd, &mut byte[..], RecvFlags::PEEK | RecvFlags::DONTWAIT),
        Ok((0, _))
    )
}

/// One descriptor to watch and what for.
pub(crate) struct Watch<'a> {
    pub fd: std::os::fd::BorrowedFd<'a>,
    pub flags: PollFlags,
}

/// Waits for any of `watches`; returns the ready flags in the same order.
pub(crate) fn poll(watches: &[Watch<'_>], timeout: Duration) -> io::Result<Vec<PollFlags>> {
    let mut fds: Vec<PollFd<'_>> = watches
        .iter()
        .map(|w| PollFd::from_borrowed_fd(w.fd, w.flags))
        .collect();
    let ts = Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) => return Ok(fds.iter().map(PollFd::revents).collect()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

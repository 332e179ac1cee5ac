//! The SSH layer: one session per host, shared by remote commands and Docker.
//!
//! `SshHost::connect` opens a session (TCP, handshake, host key check against known_hosts,
//! key-file or agent auth) and hands it to a named thread that owns it (`mux`). The async
//! handle sends it requests: exec a command, open a unix-socket tunnel, or run a command
//! whose stdin/stdout become a stream. `docker` builds a bollard client on top. This module
//! never opens a listening socket.

pub mod config;
mod connect;
pub mod docker;
pub mod error;
pub mod exec;
pub mod host;
pub mod known_hosts;
mod mux;
mod op;
mod request;
mod sys;
mod tunnel;

pub use config::{HostKeyPolicy, SshAuth, SshConfig};
pub use docker::docker_over_ssh;
pub use error::SshError;
pub use exec::ExecOutput;
pub use host::SshHost;
pub use known_hosts::HostKeyStatus;

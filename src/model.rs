//! Plain data the backend reports and the UI and CLI show: ids, container rows, container
//! details and host states.
//!
//! Nothing here talks to Docker or the kernel; conversion from the engine's types lives in
//! `docker.rs`, so that this module stays the shared vocabulary of both sides of the seam.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

/// A host's name as written in a profile (`local` without one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub(crate) struct HostId(pub(crate) String);

impl HostId {
    /// The local Docker engine, present when no profile names any host.
    pub(crate) fn local() -> Self {
        Self("local".to_owned())
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container's full id as the engine reports it (64 hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub(crate) struct ContainerId(pub(crate) String);

impl ContainerId {
    /// The 12-digit form `docker ps` shows.
    pub(crate) fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One container on one host: the key every command and event carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct ContainerKey {
    pub(crate) host: HostId,
    pub(crate) id: ContainerId,
}

impl fmt::Display for ContainerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.id.short())
    }
}

/// A container's run state, as the engine names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

impl RunState {
    /// Reads the engine's lower-case state word.
    pub(crate) fn from_engine(word: &str) -> Self {
        match word.to_ascii_lowercase().as_str() {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => Self::Unknown,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Unknown => "unknown",
        }
    }

    pub(crate) fn is_running(self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Restarting)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the container table: what `docker ps -a` knows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ContainerSummary {
    pub(crate) host: HostId,
    pub(crate) id: ContainerId,
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) state: RunState,
    /// The engine's human status, e.g. `Up 3 minutes` or `Exited (0) 2 hours ago`.
    pub(crate) status: String,
    /// When the duration in `status` counts from (Unix seconds), to word it anew later.
    #[serde(skip)]
    pub(crate) status_since_unix_secs: Option<i64>,
    /// Published ports in `docker ps` form, e.g. `127.0.0.1:8080->80/tcp`.
    pub(crate) ports: String,
    /// Creation time, seconds since the Unix epoch.
    pub(crate) created_unix_secs: i64,
}

impl ContainerSummary {
    pub(crate) fn key(&self) -> ContainerKey {
        ContainerKey {
            host: self.host.clone(),
            id: self.id.clone(),
        }
    }
}

/// One network a container is attached to, as inspect reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NetworkAttachment {
    pub(crate) network: String,
    pub(crate) ip_address: String,
    pub(crate) mac_address: String,
}

/// One mount of a container.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct MountInfo {
    pub(crate) kind: String,
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) read_write: bool,
}

/// What inspect knows about a container, for the property panel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ContainerDetails {
    pub(crate) key: ContainerKey,
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) command: String,
    pub(crate) created: String,
    pub(crate) state: RunState,
    /// The process id of the container's init on its host; 0 when not running.
    pub(crate) pid: i64,
    pub(crate) restart_policy: String,
    /// `bridge`, `host`, `none`, `container:<id>` or a user network's name.
    pub(crate) network_mode: String,
    pub(crate) networks: Vec<NetworkAttachment>,
    pub(crate) ports: Vec<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) mounts: Vec<MountInfo>,
}

/// How a host's connection stands, shown on its badge.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum HostState {
    Connecting,
    Online {
        docker_version: String,
        /// Something the user should know about the connection (plain tcp://, …).
        warning: Option<String>,
    },
    Offline {
        reason: String,
        retry_at: SystemTime,
    },
    /// Not connected until the user decides about the host's key (no retries meanwhile).
    Untrusted {
        reason: String,
    },
}

impl HostState {
    pub(crate) fn is_online(&self) -> bool {
        matches!(self, Self::Online { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_id_is_twelve_digits_or_the_whole_id() {
        assert_eq!(
            ContainerId("0123456789abcdef".into()).short(),
            "0123456789ab"
        );
        assert_eq!(ContainerId("abc".into()).short(), "abc");
    }

    #[test]
    fn run_state_reads_engine_words_and_unknown_ones() {
        assert_eq!(RunState::from_engine("running"), RunState::Running);
        assert_eq!(RunState::from_engine("Exited"), RunState::Exited);
        assert_eq!(RunState::from_engine("weird"), RunState::Unknown);
        assert!(RunState::Paused.is_running());
        assert!(!RunState::Exited.is_running());
    }
}

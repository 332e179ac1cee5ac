//! The Docker engine of one host, through bollard: connect, list, inspect, lifecycle, events.
//!
//! Converts the engine's types into the plain rows of `model.rs` and its errors into words a
//! user can act on. It holds no state of its own and never decides what to retry: the host
//! actor does that.
//!
//! What happens inside one container (create and run, exec, top, stats, logs) lives in the
//! files of `docker/`, beside the pure parser of port mappings.

pub(crate) mod exec;
pub(crate) mod logs;
pub(crate) mod ports;
pub(crate) mod run;
pub(crate) mod stats;
pub(crate) mod top;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, ContainerSummary as EngineSummary, PortSummary};
use bollard::query_parameters::{
    EventsOptions, ListContainersOptions, RemoveContainerOptions, RestartContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use futures_util::{Stream, StreamExt as _};

use crate::model::{
    ContainerDetails, ContainerId, ContainerKey, ContainerSummary, HostId, MountInfo,
    NetworkAttachment, RunState,
};
use crate::status_age;

/// How long one engine request may take (a stop waits up to the container's grace time).
const REQUEST_TIMEOUT_SECS: u64 = 60;

/// A failure talking to a Docker engine, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DockerError {
    #[error("cannot reach the Docker engine at {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("the Docker engine did not answer: {0}")]
    Failed(String),
    #[error("no such container {0}")]
    NoSuchContainer(String),
    #[error("the Docker engine refused: {0}")]
    Engine(String),
    #[error("the Docker engine's event stream ended")]
    EventsEnded,
}

impl DockerError {
    pub(crate) fn from_bollard(err: BollardError) -> Self {
        match err {
            BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            } => Self::NoSuchContainer(message),
            BollardError::DockerResponseServerError { message, .. } => Self::Engine(message),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// The endpoint the local engine is reached at: DOCKER_HOST, else the default socket.
pub(crate) fn local_endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

/// Connects to the engine at `address` (`unix:///path` or `tcp://host:port`), or to the local
/// default when `None`, and agrees on an API version both sides speak.
pub(crate) async fn connect_at(address: Option<&str>) -> Result<Docker, DockerError> {
    let endpoint = address.map(str::to_owned).unwrap_or_else(local_endpoint);
    let unreachable = |e: BollardError| DockerError::Unreachable {
        endpoint: endpoint.clone(),
        detail: e.to_string(),
    };
    let connected = match address {
        None => Docker::connect_with_local_defaults(),
        Some(a) if a.starts_with("unix://") => {
            Docker::connect_with_unix(a, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        }
        Some(a) => Docker::connect_with_http(a, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION),
    };
    let docker = connected
        .map_err(unreachable)?
        .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS));
    docker.negotiate_version().await.map_err(unreachable)
}

/// Connects to a `tcp://` engine over TLS, with the client's key and certificate and the CA
/// that signed the engine's certificate.
pub(crate) async fn connect_tls(
    address: &str,
    ca: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Docker, DockerError> {
    let unreachable = |e: BollardError| DockerError::Unreachable {
        endpoint: address.to_owned(),
        detail: e.to_string(),
    };
    let docker = Docker::connect_with_ssl(
        address,
        key,
        cert,
        ca,
        REQUEST_TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(unreachable)?
    .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS));
    docker.negotiate_version().await.map_err(unreachable)
}

/// The engine's version string, e.g. `20.10.24`.
pub(crate) async fn engine_version(docker: &Docker) -> Result<String, DockerError> {
    let version = docker.version().await.map_err(DockerError::from_bollard)?;
    Ok(version.version.unwrap_or_else(|| "unknown".to_owned()))
}

/// Every container of the host, stopped ones included when `all`.
pub(crate) async fn list(
    docker: &Docker,
    host: &HostId,
    all: bool,
) -> Result<Vec<ContainerSummary>, DockerError> {
    list_filtered(docker, host, all, None).await
}

/// The row of one container, or `None` when the engine no longer has it.
pub(crate) async fn one(
    docker: &Docker,
    host: &HostId,
    id: &str,
) -> Result<Option<ContainerSummary>, DockerError> {
    let filters = HashMap::from([("id".to_owned(), vec![id.to_owned()])]);
    let rows = list_filtered(docker, host, true, Some(filters)).await?;
    Ok(rows.into_iter().find(|row| row.id.0 == id))
}

async fn list_filtered(
    docker: &Docker,
    host: &HostId,
    all: bool,
    filters: Option<HashMap<String, Vec<String>>>,
) -> Result<Vec<ContainerSummary>, DockerError> {
    let options = ListContainersOptions {
        all,
        filters,
        ..Default::default()
    };
    let rows = docker
        .list_containers(Some(options))
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(rows
        .into_iter()
        .map(|row| summary_from_engine(host, row))
        .collect())
}

/// What inspect knows about one container.
pub(crate) async fn inspect(
    docker: &Docker,
    key: &ContainerKey,
) -> Result<ContainerDetails, DockerError> {
    let response = docker
        .inspect_container(&key.id.0, None)
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(details_from_engine(&key.host, response))
}

/// A lifecycle action on one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Start,
    Stop,
    Restart,
    Remove { force: bool },
}

impl Lifecycle {
    /// The past tense for reports: `started`, `stopped`, ….
    pub(crate) fn done_word(self) -> &'static str {
        match self {
            Self::Start => "started",
            Self::Stop => "stopped",
            Self::Restart => "restarted",
            Self::Remove { .. } => "removed",
        }
    }

    /// The verb for error messages: `start`, `stop`, ….
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Remove { .. } => "remove",
        }
    }
}

/// Runs a lifecycle action and waits for the engine to finish it.
pub(crate) async fn lifecycle(
    docker: &Docker,
    id: &ContainerId,
    action: Lifecycle,
) -> Result<(), DockerError> {
    let id = id.0.as_str();
    let result = match action {
        Lifecycle::Start => {
            docker
                .start_container(id, None::<StartContainerOptions>)
                .await
        }
        Lifecycle::Stop => {
            docker
                .stop_container(id, None::<StopContainerOptions>)
                .await
        }
        Lifecycle::Restart => {
            docker
                .restart_container(id, None::<RestartContainerOptions>)
                .await
        }
        Lifecycle::Remove { force } => {
            let options = RemoveContainerOptions {
                force,
                ..Default::default()
            };
            docker.remove_container(id, Some(options)).await
        }
    };
    result.map_err(DockerError::from_bollard)
}

/// A container event from the engine's stream, reduced to what the table needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContainerEvent {
    pub(crate) id: String,
    pub(crate) action: String,
}

impl ContainerEvent {
    /// True when the container is gone from the engine.
    pub(crate) fn is_removal(&self) -> bool {
        self.action == "destroy"
    }

    /// True for actions that leave the table's row unchanged (exec, attach, top, …).
    pub(crate) fn is_noise(&self) -> bool {
        let a = self.action.as_str();
        a.starts_with("exec_")
            || matches!(
                a,
                "attach"
                    | "detach"
                    | "top"
                    | "resize"
                    | "export"
                    | "commit"
                    | "copy"
                    | "archive-path"
                    | "extract-to-dir"
            )
    }
}

/// The engine's container events, as they happen.
pub(crate) fn container_events(
    docker: &Docker,
) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + use<> {
    let filters = HashMap::from([("type".to_owned(), vec!["container".to_owned()])]);
    let options = EventsOptions {
        filters: Some(filters),
        ..Default::default()
    };
    docker.events(Some(options)).map(|item| {
        let message = item.map_err(DockerError::from_bollard)?;
        let id = message.actor.and_then(|a| a.id).unwrap_or_default();
        let action = message.action.unwrap_or_default();
        Ok(ContainerEvent { id, action })
    })
}

fn summary_from_engine(host: &HostId, row: EngineSummary) -> ContainerSummary {
    let name = row
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_default();
    let state = row
        .state
        .map(|s| RunState::from_engine(s.as_ref()))
        .unwrap_or(RunState::Unknown);
    ContainerSummary {
        host: host.clone(),
        id: ContainerId(row.id.unwrap_or_default()),
        name,
        image: row.image.unwrap_or_default(),
        state,
        status_since_unix_secs: row
            .status
            .as_deref()
            .and_then(|s| status_age::since(s, now_unix_secs())),
        status: row.status.unwrap_or_default(),
        ports: format_ports(row.ports.as_deref().unwrap_or_default()),
        created_unix_secs: row.created.unwrap_or_default(),
    }
}

/// The time now, in Unix seconds.
pub(crate) fn now_unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Ports in `docker ps` form: `127.0.0.1:8080->80/tcp, 443/tcp`, sorted, without repeats.
pub(crate) fn format_ports(ports: &[PortSummary]) -> String {
    let mut parts: Vec<(u16, String)> = ports
        .iter()
        .map(|p| {
            let proto = p
                .typ
                .map(|t| t.to_string())
                .unwrap_or_else(|| "tcp".to_owned());
            let text = match p.public_port {
                Some(public) => {
                    let ip = p.ip.as_deref().unwrap_or("0.0.0.0");
                    format!("{ip}:{public}->{}/{proto}", p.private_port)
                }
                None => format!("{}/{proto}", p.private_port),
            };
            (p.private_port, text)
        })
        .collect();
    parts.sort();
    parts.dedup();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}

fn details_from_engine(host: &HostId, r: ContainerInspectResponse) -> ContainerDetails {
    let state = r.state.as_ref();
    let run_state = state
        .and_then(|s| s.status)
        .map(|s| RunState::from_engine(s.as_ref()))
        .unwrap_or(RunState::Unknown);
    let config = r.config.as_ref();
    let host_config = r.host_config.as_ref();
    let settings = r.network_settings.as_ref();

    let mut command: Vec<String> = r.path.iter().cloned().collect();
    command.extend(r.args.iter().flatten().cloned());

    let mut networks: Vec<NetworkAttachment> = settings
        .and_then(|s| s.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .map(|(name, ep)| NetworkAttachment {
                    network: name.clone(),
                    ip_address: ep.ip_address.clone().unwrap_or_default(),
                    mac_address: ep.mac_address.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    networks.sort_by(|a, b| a.network.cmp(&b.network));

    let mut ports: Vec<String> = settings
        .and_then(|s| s.ports.as_ref())
        .map(|map| {
            map.iter()
                .flat_map(|(container_port, bindings)| match bindings {
                    Some(list) if !list.is_empty() => list
                        .iter()
                        .map(|b| {
                            format!(
                                "{}:{}->{container_port}",
                                b.host_ip.as_deref().unwrap_or(""),
                                b.host_port.as_deref().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>(),
                    _ => vec![container_port.clone()],
                })
                .collect()
        })
        .unwrap_or_default();
    ports.sort();

    let mut labels: Vec<(String, String)> = config
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.sort();

    let mounts = r
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| MountInfo {
            kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
            source: m.source.unwrap_or_default(),
            destination: m.destination.unwrap_or_default(),
            read_write: m.rw.unwrap_or(false),
        })
        .collect();

    ContainerDetails {
        key: ContainerKey {
            host: host.clone(),
            id: ContainerId(r.id.unwrap_or_default()),
        },
        name: r
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: config.and_then(|c| c.image.clone()).unwrap_or_default(),
        command: command.join(" "),
        created: r.created.unwrap_or_default(),
        state: run_state,
        pid: state.and_then(|s| s.pid).unwrap_or(0),
        restart_policy: host_config
            .and_then(|h| h.restart_policy.as_ref())
            .and_then(|p| p.name)
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "no".to_owned()),
        network_mode: host_config
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default(),
        networks,
        ports,
        labels,
        mounts,
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::PortSummaryTypeEnum;

    use super::*;

    #[test]
    fn ports_read_like_docker_ps() {
        let ports = vec![
            PortSummary {
                ip: Some("127.0.0.1".into()),
                private_port: 80,
                public_port: Some(8080),
                typ: Some(PortSummaryTypeEnum::TCP),
            },
            PortSummary {
                ip: None,
                private_port: 53,
                public_port: None,
                typ: Some(PortSummaryTypeEnum::UDP),
            },
        ];
        assert_eq!(format_ports(&ports), "53/udp, 127.0.0.1:8080->80/tcp");
    }

    #[test]
    fn exec_events_are_noise_and_destroy_is_removal() {
        let ev = |a: &str| ContainerEvent {
            id: "x".into(),
            action: a.into(),
        };
        assert!(ev("exec_start: sh").is_noise());
        assert!(!ev("start").is_noise());
        assert!(ev("destroy").is_removal());
        assert!(!ev("die").is_removal());
    }
}

//! Creating and starting a container from a [`RunSpec`]: what the Run dialog and `quayside run`
//! fill in.
//!
//! Checks come in two rounds, both before anything is created: [`RunSpec::validate`] is pure
//! (name syntax, environment, restart policy against auto-remove) and runs before a host is even
//! contacted; [`preflight`] asks the engine read-only questions (is the name taken, is the image
//! there, does the network exist). Only then is the container created and started. Progress is
//! reported through a callback so the window can show each step.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, PortBinding, RestartPolicy as EngineRestart,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, ListContainersOptions, ListImagesOptions,
    ListNetworksOptions, WaitContainerOptions,
};

use super::ports::{self, PortMapping};
use super::{DockerError, Lifecycle};
use crate::model::ContainerId;

/// When the engine starts the container again by itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure,
}

impl RestartPolicy {
    pub(crate) const ALL: [Self; 4] =
        [Self::No, Self::Always, Self::UnlessStopped, Self::OnFailure];

    /// The engine's (and `docker run --restart`'s) spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Always => "always",
            Self::UnlessStopped => "unless-stopped",
            Self::OnFailure => "on-failure",
        }
    }

    fn engine(self) -> RestartPolicyNameEnum {
        match self {
            Self::No => RestartPolicyNameEnum::NO,
            Self::Always => RestartPolicyNameEnum::ALWAYS,
            Self::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
            Self::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
        }
    }
}

impl std::str::FromStr for RestartPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown restart policy '{s}': use no, always, unless-stopped or on-failure"
                )
            })
    }
}

/// Everything needed to create and start one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunSpec {
    pub(crate) image: String,
    /// The container's name; empty lets the engine choose one.
    pub(crate) name: String,
    pub(crate) ports: Vec<PortMapping>,
    /// `KEY=VALUE` pairs.
    pub(crate) env: Vec<(String, String)>,
    /// The command and its arguments; empty runs the image's own.
    pub(crate) command: Vec<String>,
    /// The network to attach to; empty is the engine's default bridge.
    pub(crate) network: String,
    pub(crate) restart: RestartPolicy,
    /// Remove the container when it exits.
    pub(crate) auto_remove: bool,
}

/// Why a container was not created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error("no image given: choose one of the host's images or type its name")]
    NoImage,
    #[error(
        "'{0}' is not a valid container name: use letters, digits, '_', '.' and '-', starting with a letter or digit"
    )]
    BadName(String),
    #[error("environment entry '{0}' has no name: write NAME=VALUE")]
    BadEnv(String),
    #[error(transparent)]
    Ports(#[from] ports::PortError),
    #[error(
        "auto-remove cannot be combined with the restart policy '{0}': the engine would remove the container it is asked to restart"
    )]
    AutoRemoveWithRestart(&'static str),
    #[error("the name '{name}' is taken on host {host} (container {id}): choose another name")]
    NameTaken {
        name: String,
        host: String,
        id: String,
    },
    #[error(
        "image '{image}' is not on host {host}: images cannot be pulled from here; choose one the host has, or load it there (docker load)"
    )]
    ImageMissing { image: String, host: String },
    #[error("network '{network}' does not exist on host {host}")]
    NetworkMissing { network: String, host: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// A step of creating a container, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunStage {
    Checking,
    Creating,
    Starting,
}

impl RunStage {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Checking => "Checking the name, image and network on the host…",
            Self::Creating => "Creating the container…",
            Self::Starting => "Starting the container…",
        }
    }
}

impl RunSpec {
    /// The checks that need no engine: run before a host is contacted.
    pub(crate) fn validate(&self) -> Result<(), RunError> {
        if self.image.trim().is_empty() {
            return Err(RunError::NoImage);
        }
        if !self.name.is_empty() && !valid_name(&self.name) {
            return Err(RunError::BadName(self.name.clone()));
        }
        if let Some((key, value)) = self.env.iter().find(|(k, _)| k.trim().is_empty()) {
            return Err(RunError::BadEnv(format!("{key}={value}")));
        }
        ports::check_unique(&self.ports)?;
        if self.auto_remove && self.restart != RestartPolicy::No {
            return Err(RunError::AutoRemoveWithRestart(self.restart.as_str()));
        }
        Ok(())
    }

    /// The engine's create request.
    fn create_body(&self) -> ContainerCreateBody {
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for m in &self.ports {
            bindings
                .entry(m.container_key())
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: m.host_ip.clone(),
                    host_port: Some(m.host_port.to_string()),
                });
        }
        let exposed: Vec<String> = ports::exposed(&self.ports).into_iter().collect();
        let host_config = HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            auto_remove: Some(self.auto_remove),
            restart_policy: Some(EngineRestart {
                name: Some(self.restart.engine()),
                maximum_retry_count: None,
            }),
            network_mode: (!self.network.is_empty()).then(|| self.network.clone()),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.image.trim().to_owned()),
            env: (!self.env.is_empty()).then(|| {
                self.env
                    .iter()
                    .map(|(k, v)| format!("{}={v}", k.trim()))
                    .collect()
            }),
            cmd: (!self.command.is_empty()).then(|| self.command.clone()),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        }
    }
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parses `KEY=VALUE` lines (one per line, blank lines skipped).
pub(crate) fn parse_env(text: &str) -> Result<Vec<(String, String)>, RunError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(RunError::BadEnv(line.to_owned())),
        })
        .collect()
}

/// Splits a command line as a POSIX shell would (quotes, escapes), without running a shell.
pub(crate) fn split_command(text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| format!("cannot split '{text}': a quote is not closed"))
}

/// The engine-side checks: the name is free, the image and the network exist. Read-only.
pub(crate) async fn preflight(docker: &Docker, host: &str, spec: &RunSpec) -> Result<(), RunError> {
    if !spec.name.is_empty()
        && let Some(id) = container_named(docker, &spec.name).await?
    {
        return Err(RunError::NameTaken {
            name: spec.name.clone(),
            host: host.to_owned(),
            id: id.chars().take(12).collect(),
        });
    }
    match docker.inspect_image(spec.image.trim()).await {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(RunError::ImageMissing {
                image: spec.image.trim().to_owned(),
                host: host.to_owned(),
            });
        }
        Err(other) => return Err(DockerError::from_bollard(other).into()),
    }
    let builtin = matches!(spec.network.as_str(), "" | "bridge" | "host" | "none");
    if !builtin && !spec.network.starts_with("container:") {
        match docker.inspect_network(&spec.network, None).await {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(RunError::NetworkMissing {
                    network: spec.network.clone(),
                    host: host.to_owned(),
                });
            }
            Err(other) => return Err(DockerError::from_bollard(other).into()),
        }
    }
    Ok(())
}

/// The id of the container named exactly `name`, if there is one.
async fn container_named(docker: &Docker, name: &str) -> Result<Option<String>, DockerError> {
    // The engine's name filter matches substrings: keep only the exact name.
    let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
    let rows = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(rows
        .into_iter()
        .find(|r| {
            r.names
                .iter()
                .flatten()
                .any(|n| n.trim_start_matches('/') == name)
        })
        .and_then(|r| r.id))
}

/// The images of the host by their tags (`busybox:latest`), sorted; untagged ones left out.
pub(crate) async fn images(docker: &Docker) -> Result<Vec<String>, DockerError> {
    let listed = docker
        .list_images(None::<ListImagesOptions>)
        .await
        .map_err(DockerError::from_bollard)?;
    let mut tags: Vec<String> = listed
        .into_iter()
        .flat_map(|image| image.repo_tags)
        .filter(|tag| tag != "<none>:<none>")
        .collect();
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// The names of the host's networks, sorted.
pub(crate) async fn networks(docker: &Docker) -> Result<Vec<String>, DockerError> {
    let listed = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(DockerError::from_bollard)?;
    let mut names: Vec<String> = listed.into_iter().filter_map(|n| n.name).collect();
    names.sort();
    Ok(names)
}

/// Validates, checks on the engine, creates and starts; `progress` hears each step. Returns the
/// new container's id. A container that was created but failed to start is removed again.
pub(crate) async fn run(
    docker: &Docker,
    host: &str,
    spec: &RunSpec,
    mut progress: impl FnMut(RunStage),
) -> Result<ContainerId, RunError> {
    let id = create(docker, host, spec, &mut progress).await?;
    progress(RunStage::Starting);
    start_or_discard(docker, &id).await?;
    Ok(id)
}

/// Validates, checks on the engine and creates, without starting: for a caller that attaches
/// to the output first.
pub(crate) async fn create(
    docker: &Docker,
    host: &str,
    spec: &RunSpec,
    mut progress: impl FnMut(RunStage),
) -> Result<ContainerId, RunError> {
    spec.validate()?;
    progress(RunStage::Checking);
    preflight(docker, host, spec).await?;

    progress(RunStage::Creating);
    let options = CreateContainerOptions {
        name: (!spec.name.is_empty()).then(|| spec.name.clone()),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(options), spec.create_body())
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(ContainerId(created.id))
}

/// Starts a container just created; one that fails to start is removed again, since it never
/// ran and is of no use to anyone.
pub(crate) async fn start_or_discard(docker: &Docker, id: &ContainerId) -> Result<(), RunError> {
    if let Err(err) = super::lifecycle(docker, id, Lifecycle::Start).await {
        if let Err(cleanup) = super::lifecycle(docker, id, Lifecycle::Remove { force: true }).await
        {
            tracing::warn!(id = %id.0, error = %cleanup, "cannot remove the container that failed to start");
        }
        return Err(err.into());
    }
    Ok(())
}

/// The container's output from its start on, for a caller that runs it attached; attach before
/// starting so that nothing written early is missed.
pub(crate) async fn attach(
    docker: &Docker,
    id: &ContainerId,
) -> Result<
    std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<super::exec::OutputChunk, DockerError>> + Send>,
    >,
    DockerError,
> {
    use futures_util::StreamExt as _;
    let attached = docker
        .attach_container(
            &id.0,
            Some(AttachContainerOptions {
                stream: true,
                logs: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(Box::pin(attached.output.filter_map(|item| async move {
        super::exec::chunk_of(item.map_err(DockerError::from_bollard))
    })))
}

/// Waits until the container stops; its exit code, or `None` when it is already gone
/// (auto-removed) and the engine no longer knows it.
pub(crate) async fn wait_exit(
    docker: &Docker,
    id: &ContainerId,
) -> Result<Option<i64>, DockerError> {
    use futures_util::StreamExt as _;
    let mut waits = Box::pin(docker.wait_container(&id.0, None::<WaitContainerOptions>));
    match waits.next().await {
        Some(Ok(done)) => Ok(Some(done.status_code)),
        // The engine reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(Some(code)),
        Some(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }))
        | None => Ok(None),
        Some(Err(other)) => Err(DockerError::from_bollard(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            image: "busybox".into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_follow_the_engines_rule() {
        assert!(valid_name("web-1"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a"));
        assert!(!valid_name("web 1"));
        assert!(!valid_name("wéb"));
    }

    #[test]
    fn auto_remove_with_a_restart_policy_is_refused() {
        let mut s = spec();
        s.auto_remove = true;
        assert!(s.validate().is_ok());
        s.restart = RestartPolicy::Always;
        assert!(matches!(
            s.validate(),
            Err(RunError::AutoRemoveWithRestart("always"))
        ));
    }

    #[test]
    fn an_empty_image_and_a_bad_name_are_refused() {
        assert!(matches!(
            RunSpec::default().validate(),
            Err(RunError::NoImage)
        ));
        let mut s = spec();
        s.name = "bad name".into();
        assert!(matches!(s.validate(), Err(RunError::BadName(_))));
    }

    #[test]
    fn env_lines_need_a_name_and_keep_equals_in_values() {
        let env = parse_env("A=1\n\n B=x=y \n").ok();
        assert_eq!(
            env,
            Some(vec![("A".into(), "1".into()), ("B".into(), "x=y".into())])
        );
        assert!(parse_env("=3").is_err());
        assert!(parse_env("NOEQUALS").is_err());
    }

    #[test]
    fn the_create_body_publishes_each_mapping() {
        let mut s = spec();
        s.ports = ports::parse("80/tcp:83,443/tcp:448,80/tcp:84").unwrap_or_default();
        let body = s.create_body();
        let bindings = body
            .host_config
            .and_then(|h| h.port_bindings)
            .unwrap_or_default();
        let ports_of = |key: &str| -> Vec<String> {
            bindings
                .get(key)
                .cloned()
                .flatten()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|b| b.host_port)
                .collect()
        };
        assert_eq!(ports_of("80/tcp"), vec!["83", "84"]);
        assert_eq!(ports_of("443/tcp"), vec!["448"]);
        assert_eq!(
            body.exposed_ports,
            Some(vec!["443/tcp".to_owned(), "80/tcp".to_owned()])
        );
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("sh -c 'echo hi; exit 3'"),
            Ok(vec!["sh".into(), "-c".into(), "echo hi; exit 3".into()])
        );
        assert!(split_command("echo 'open").is_err());
    }
}

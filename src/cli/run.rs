//! `quayside run`: create and start a container on one host, with the original tool's flags
//! (`--host --image --name --detach --port "80/tcp:83,443/tcp:448" --auto_remove`).
//!
//! Everything that can be checked without the host is checked before connecting (ports, name,
//! environment, restart policy against auto-remove); the engine is then asked, read-only,
//! whether the name is free and the image there, before anything is created. Attached (without
//! `--detach`), the container's output is printed as it comes and its exit code becomes
//! quayside's own.

use std::io::Write as _;

use clap::Args;
use futures_util::StreamExt as _;

use super::{ExitStatus, connect_host};
use crate::docker::exec::OutputStream;
use crate::docker::ports;
use crate::docker::run::{self, RestartPolicy, RunSpec};
use crate::hosts::profile::Profile;
use crate::model::HostId;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The host to run on, as named in the profile (`local` without one).
    #[arg(long)]
    host: String,
    /// The image, e.g. busybox:latest; it must be on that host already.
    #[arg(long)]
    image: String,
    /// The container's name (the engine picks one when left out).
    #[arg(long)]
    name: Option<String>,
    /// Published ports: CONTAINER_PORT/PROTOCOL:HOST_PORT, comma-separated, e.g. "80/tcp:83,443/tcp:448".
    #[arg(long, value_name = "MAPPINGS")]
    port: Option<String>,
    /// Start it and return at once, printing its id (otherwise follow its output until it exits).
    #[arg(short = 'd', long)]
    detach: bool,
    /// Remove the container when it exits.
    #[arg(long = "auto_remove", alias = "auto-remove", visible_alias = "rm")]
    auto_remove: bool,
    /// An environment variable, NAME=VALUE (repeatable).
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// The command to run instead of the image's own, split as a shell would.
    #[arg(long)]
    cmd: Option<String>,
    /// The network to attach to (default: the engine's bridge).
    #[arg(long)]
    network: Option<String>,
    /// Restart policy: no, always, unless-stopped or on-failure.
    #[arg(long, default_value = "no")]
    restart: String,
    /// Print JSON ({"host","id","name"}) instead of the id.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    /// The spec the flags describe, checked as far as can be without a host.
    fn spec(&self) -> anyhow::Result<RunSpec> {
        let ports = ports::parse(self.port.as_deref().unwrap_or(""))?;
        let env = run::parse_env(&self.env.join("\n"))?;
        let command = match &self.cmd {
            Some(cmd) => run::split_command(cmd).map_err(anyhow::Error::msg)?,
            None => Vec::new(),
        };
        let restart: RestartPolicy = self.restart.parse().map_err(anyhow::Error::msg)?;
        let spec = RunSpec {
            image: self.image.clone(),
            name: self.name.clone().unwrap_or_default(),
            ports,
            env,
            command,
            network: self.network.clone().unwrap_or_default(),
            restart,
            auto_remove: self.auto_remove,
        };
        spec.validate()?;
        Ok(spec)
    }
}

pub(super) async fn run(profile: &Profile, args: &RunArgs) -> anyhow::Result<()> {
    // Refused here, before any host is contacted.
    let spec = args.spec()?;
    let host = HostId(args.host.clone());
    let conn = connect_host(profile, &host).await?;
    let docker = &conn.docker;

    let id = run::create(docker, &host.0, &spec, |stage| {
        tracing::debug!(host = %host, stage = stage.describe(), "run");
    })
    .await?;
    let output = if args.detach {
        None
    } else {
        Some(run::attach(docker, &id).await?)
    };
    run::start_or_discard(docker, &id).await?;

    let name = if spec.name.is_empty() {
        crate::docker::inspect(
            docker,
            &crate::model::ContainerKey {
                host: host.clone(),
                id: id.clone(),
            },
        )
        .await
        .map(|d| d.name)
        .unwrap_or_default()
    } else {
        spec.name.clone()
    };
    if args.json {
        let value = serde_json::json!({
            "host": host.0,
            "id": id.0,
            "name": name,
            "ports": ports::format(&spec.ports),
        });
        println!("{value}");
    } else if args.detach {
        println!("{}", id.0);
    }
    let Some(mut output) = output else {
        return Ok(());
    };

    // Attached: the output as it comes, then the container's exit code as ours.
    while let Some(chunk) = output.next().await {
        let chunk = chunk?;
        match chunk.stream {
            OutputStream::Stdout => print!("{}", chunk.text),
            OutputStream::Stderr => eprint!("{}", chunk.text),
        }
    }
    std::io::stdout().flush().ok();
    match run::wait_exit(docker, &id).await? {
        Some(0) | None => Ok(()),
        Some(code) => Err(ExitStatus::of(code).into()),
    }
}

//! The command line: the original tool's verbs (`ps`, `start`, `stop`, `restart`, `rm`, `net`)
//! on the same backend functions the window uses, with no window.
//!
//! Every verb prints a table or JSON and exits 0 on success; on failure it prints one line,
//! `quayside: <reason>`, and exits non-zero.

mod net;
mod net_flags;
mod ps;
mod target;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::docker::{self, Lifecycle};
use crate::hosts::profile::Profile;

/// Quayside: Docker containers on many Linux hosts, and their network shaped with tc.
///
/// Without a command it opens the window.
#[derive(Debug, Parser)]
#[command(name = "quayside", version, about)]
pub(crate) struct Cli {
    /// The host profile to use (default: hosts.toml in the config folder, else `local` alone).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) hosts: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Option<Verb>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Verb {
    /// List containers on every host (running ones unless -a).
    Ps(PsArgs),
    /// Start a stopped container.
    Start(IdArgs),
    /// Stop a running container.
    Stop(IdArgs),
    /// Restart a container.
    Restart(IdArgs),
    /// Remove a container (--force for a running one).
    Rm(RmArgs),
    /// Shape a container's network, clear it, or show it.
    Net(net::NetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Show all containers, stopped ones too.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Show only the latest created container of each host.
    #[arg(short = 'l', long = "latest")]
    latest: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: String,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: String,
    /// Remove it even when it is running.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Runs one verb against the hosts of `profile`; the error is the one-line reason to print.
pub(crate) async fn run(verb: Verb, profile: &Profile) -> anyhow::Result<()> {
    match verb {
        Verb::Ps(args) => ps::run(profile, &args).await,
        Verb::Start(args) => lifecycle(profile, &args.id, Lifecycle::Start).await,
        Verb::Stop(args) => lifecycle(profile, &args.id, Lifecycle::Stop).await,
        Verb::Restart(args) => lifecycle(profile, &args.id, Lifecycle::Restart).await,
        Verb::Rm(args) => {
            lifecycle(profile, &args.id, Lifecycle::Remove { force: args.force }).await
        }
        Verb::Net(args) => net::run(profile, &args).await,
    }
}

async fn lifecycle(profile: &Profile, id: &str, action: Lifecycle) -> anyhow::Result<()> {
    let (conn, found) = target::resolve(profile, id).await?;
    docker::lifecycle(&conn.docker, &found.id, action)
        .await
        .map_err(|e| anyhow::anyhow!("cannot {} {id}: {e}", action.verb()))?;
    println!("{}:{} {}", found.host, found.name, action.done_word());
    Ok(())
}

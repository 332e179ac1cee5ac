//! The command line: the original tool's verbs (`ps`, `run`, `start`, `stop`, `restart`, `rm`,
//! `top`, `stats`, `exec`, `net`) on the same backend functions the window uses, with no window.
//!
//! Every verb prints a table or JSON and exits 0 on success; on failure it prints one line,
//! `quayside: <reason>`, and exits non-zero. `exec` (and `run` attached) exit with the code of
//! what ran in the container. The lifecycle verbs take `--id` more than once and report each
//! container on a line of its own.

mod exec;
mod net;
mod net_flags;
mod ps;
mod run;
mod stats;
mod target;
mod top;

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
    /// Create and start a container on a host.
    Run(run::RunArgs),
    /// Run a command in a container; its exit code becomes quayside's.
    Exec(exec::ExecArgs),
    /// List a container's processes.
    Top(top::TopArgs),
    /// Show a container's CPU, memory, network and block I/O use (once, or --follow).
    Stats(stats::StatsArgs),
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
    /// The container, as HOST:NAME or HOST:ID-PREFIX (repeat for several, on any hosts).
    #[arg(long, required = true)]
    id: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX (repeat for several, on any hosts).
    #[arg(long, required = true)]
    id: Vec<String>,
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
        Verb::Run(args) => run::run(profile, &args).await,
        Verb::Exec(args) => exec::run(profile, &args).await,
        Verb::Top(args) => top::run(profile, &args).await,
        Verb::Stats(args) => stats::run(profile, &args).await,
    }
}

/// Runs `action` on every container named, all at once; prints one line per container (in the
/// order given) and fails when any of them failed.
async fn lifecycle(profile: &Profile, ids: &[String], action: Lifecycle) -> anyhow::Result<()> {
    let results =
        futures_util::future::join_all(ids.iter().map(|id| lifecycle_one(profile, id, action)))
            .await;
    let mut failed = 0;
    for (id, result) in ids.iter().zip(results) {
        match result {
            Ok(line) => println!("{line}"),
            Err(err) => {
                failed += 1;
                if ids.len() == 1 {
                    return Err(err);
                }
                println!("{id}: error: {}", crate::one_line(&err));
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} containers failed", ids.len());
    }
    Ok(())
}

async fn lifecycle_one(profile: &Profile, id: &str, action: Lifecycle) -> anyhow::Result<String> {
    let (conn, found) = target::resolve(profile, id).await?;
    docker::lifecycle(&conn.docker, &found.id, action)
        .await
        .map_err(|e| anyhow::anyhow!("cannot {} {id}: {e}", action.verb()))?;
    Ok(format!(
        "{}:{} {}",
        found.host,
        found.name,
        action.done_word()
    ))
}

/// The exit code of what ran in a container, to be quayside's own: not an error to print.
#[derive(Debug, thiserror::Error)]
#[error("exited with code {0}")]
pub(crate) struct ExitStatus(pub(crate) u8);

impl ExitStatus {
    /// The process exit status for a container's exit code (kept in 1..=255: a code that
    /// wraps to 0 would read as success).
    pub(crate) fn of(code: i64) -> Self {
        let wrapped = u8::try_from(code.rem_euclid(256)).unwrap_or(1);
        Self(if wrapped == 0 { 1 } else { wrapped })
    }
}

/// Connects to the profile's host named `host`, strictly checking its key.
pub(crate) async fn connect_host(
    profile: &Profile,
    host: &crate::model::HostId,
) -> anyhow::Result<crate::hosts::connect::HostConnection> {
    let Some(entry) = profile.hosts.iter().find(|h| h.id() == *host) else {
        let known: Vec<&str> = profile.hosts.iter().map(|h| h.name.as_str()).collect();
        anyhow::bail!("no host named {host}: known hosts are {}", known.join(", "));
    };
    let policy = crate::ssh::HostKeyPolicy::Strict;
    Ok(crate::hosts::connect::connect(entry, policy, &Default::default()).await?)
}

/// Lines of cells as left-aligned columns, three spaces apart.
pub(crate) fn columns(lines: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod exit_tests {
    use super::*;

    #[test]
    fn a_containers_exit_code_becomes_ours_without_wrapping_to_success() {
        assert_eq!(ExitStatus::of(3).0, 3);
        assert_eq!(ExitStatus::of(255).0, 255);
        assert_eq!(
            ExitStatus::of(256).0,
            1,
            "256 would wrap to 0, which reads as success"
        );
        assert_eq!(ExitStatus::of(-1).0, 255);
    }

    #[test]
    fn columns_line_up() {
        let lines = vec![
            vec!["PID".to_owned(), "CMD".to_owned()],
            vec!["12345".to_owned(), "httpd -f".to_owned()],
        ];
        assert_eq!(columns(&lines), "PID     CMD\n12345   httpd -f\n");
    }
}

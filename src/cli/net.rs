//! `quayside net`: shape a container's network with the original tool's policies and values,
//! clear it, or show what the kernel holds.
//!
//! A seed policy edits the shaping the container holds now, so `--policy loss` after
//! `--policy delay` keeps the delay.

use clap::{Args, Subcommand};

use super::target;
use crate::hosts::connect::HostConnection;
use crate::hosts::profile::Profile;
use crate::model::ContainerKey;
use crate::shaping::ops::{self, ApplyOptions, ShapingReport};
use crate::shaping::seed::{self, ProfileEdit};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct NetArgs {
    #[command(subcommand)]
    action: Option<NetAction>,
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: Option<String>,
    /// clear, rate, delay, loss, duplicate, corrupt or reorder (also: retrans).
    #[arg(long)]
    policy: Option<String>,
    /// The policy's value: rate "DOWN [UP]" in kbit/s, delay "100ms [10ms]", others "20%".
    #[arg(long, allow_hyphen_values = true)]
    value: Option<String>,
    /// Replace a root qdisc on the veth that Quayside did not create.
    #[arg(long)]
    replace_foreign: bool,
    /// Print the read-back as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum NetAction {
    /// Show the shaping the kernel holds for a container.
    Show {
        /// The container, as HOST:NAME or HOST:ID-PREFIX.
        #[arg(long)]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(profile: &Profile, args: &NetArgs) -> anyhow::Result<()> {
    if let Some(NetAction::Show { id, json }) = &args.action {
        let (conn, key) = locate(profile, id).await?;
        let report = ops::read(&conn.docker, &conn.runner, &key).await?;
        return print(&report, *json);
    }

    let Some(id) = args.id.as_deref() else {
        anyhow::bail!(
            "say which container: --id HOST:NAME (or `quayside net show --id HOST:NAME`)"
        );
    };
    let Some(policy) = args.policy.as_deref() else {
        anyhow::bail!("say what to do: --policy clear|rate|delay|loss|duplicate|corrupt|reorder");
    };
    // The value is read before anything is asked of the host.
    let edit = seed::parse_seed_value(policy, args.value.as_deref())?;
    let (conn, key) = locate(profile, id).await?;

    let report = if edit == ProfileEdit::Clear {
        ops::clear(&conn.docker, &conn.runner, &key).await?
    } else {
        let current = ops::read(&conn.docker, &conn.runner, &key).await?;
        let mut profile = current.profile().unwrap_or_default();
        edit.apply(&mut profile);
        let options = ApplyOptions {
            replace_foreign: args.replace_foreign,
        };
        ops::apply(&conn.docker, &conn.runner, &key, &profile, &options).await?
    };
    print(&report, args.json)
}

async fn locate(profile: &Profile, id: &str) -> anyhow::Result<(HostConnection, ContainerKey)> {
    let (conn, found) = target::resolve(profile, id).await?;
    Ok((conn, found.key()))
}

fn print(report: &ShapingReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!("{}", report.headline());
    for line in report.lines() {
        println!("{line}");
    }
    for command in &report.commands {
        println!("ran: {command}");
    }
    Ok(())
}

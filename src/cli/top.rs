//! `quayside top --id HOST:NAME`: the container's processes, as a table or JSON.

use clap::Args;

use super::target;
use crate::docker::top;
use crate::hosts::profile::Profile;

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: String,
    /// Print JSON ({"titles": [...], "processes": [[...]]}).
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(profile: &Profile, args: &TopArgs) -> anyhow::Result<()> {
    let (conn, found) = target::resolve(profile, &args.id).await?;
    let table = top::top(&conn.docker, &found.id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the processes of {}: {e}", args.id))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&table)?);
        return Ok(());
    }
    let mut lines = vec![table.titles.clone()];
    lines.extend(table.processes.iter().cloned());
    print!("{}", super::columns(&lines));
    Ok(())
}

//! `quayside ps`: containers of every host, asked of all hosts at once, each host's failure on
//! its own line.

use futures_util::future::join_all;
use serde::Serialize;

use super::PsArgs;
use crate::docker;
use crate::hosts::connect;
use crate::hosts::profile::{HostEntry, Profile};
use crate::model::{ContainerSummary, HostId};
use crate::ssh::HostKeyPolicy;
use crate::ui::format;

/// One host's answer, for `--json`.
#[derive(Serialize)]
struct HostListing {
    host: HostId,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    containers: Vec<ContainerSummary>,
}

pub(super) async fn run(profile: &Profile, args: &PsArgs) -> anyhow::Result<()> {
    let listings = join_all(profile.hosts.iter().map(|entry| list_host(entry, args))).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listings)?);
    } else {
        print!("{}", table(&listings));
    }
    let failed: Vec<&HostListing> = listings.iter().filter(|l| l.error.is_some()).collect();
    if failed.len() == listings.len() && !failed.is_empty() {
        anyhow::bail!("no host answered");
    }
    Ok(())
}

async fn list_host(entry: &HostEntry, args: &PsArgs) -> HostListing {
    let host = &entry.id();
    let result = async {
        let conn = connect::connect(entry, HostKeyPolicy::Strict, &Default::default()).await?;
        Ok::<_, anyhow::Error>(docker::list(&conn.docker, host, args.all || args.latest).await?)
    }
    .await;
    match result {
        Ok(mut containers) => {
            containers.sort_by(|a, b| {
                b.created_unix_secs
                    .cmp(&a.created_unix_secs)
                    .then(a.name.cmp(&b.name))
            });
            if args.latest {
                containers.truncate(1);
            }
            HostListing {
                host: host.clone(),
                error: None,
                containers,
            }
        }
        Err(err) => HostListing {
            host: host.clone(),
            error: Some(err.to_string()),
            containers: Vec::new(),
        },
    }
}

fn table(listings: &[HostListing]) -> String {
    let mut lines = vec![[
        "HOST".to_owned(),
        "CONTAINER ID".to_owned(),
        "IMAGE".to_owned(),
        "NAME".to_owned(),
        "STATE".to_owned(),
        "STATUS".to_owned(),
        "PORTS".to_owned(),
        "CREATED".to_owned(),
    ]];
    let mut errors = String::new();
    for listing in listings {
        if let Some(error) = &listing.error {
            errors.push_str(&format!("{}: error: {error}\n", listing.host));
        }
        for c in &listing.containers {
            lines.push([
                c.host.0.clone(),
                c.id.short().to_owned(),
                c.image.clone(),
                c.name.clone(),
                c.state.as_str().to_owned(),
                c.status.clone(),
                c.ports.clone(),
                format::utc_minutes(c.created_unix_secs),
            ]);
        }
    }
    let mut widths = [0usize; 8];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out.push_str(&errors);
    out
}

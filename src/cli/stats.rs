//! `quayside stats --id HOST:NAME`: the container's resource use, once (after the engine's
//! one-second interval, so that CPU % means something) or, with `--follow`, a line per sample
//! until interrupted. Rates are computed between consecutive samples.

use std::time::Instant;

use clap::Args;
use futures_util::StreamExt as _;

use super::target;
use crate::docker::stats::{self, StatsSample};
use crate::hosts::profile::Profile;

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: String,
    /// Keep printing a line per sample (about one a second) until interrupted.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Print JSON: one object (with --follow, one object per line).
    #[arg(long)]
    json: bool,
}

const MIB: f64 = 1024.0 * 1024.0;

pub(super) async fn run(profile: &Profile, args: &StatsArgs) -> anyhow::Result<()> {
    let (conn, found) = target::resolve(profile, &args.id).await?;
    let name = format!("{}:{}", found.host, found.name);
    if !args.follow {
        let sample = stats::once(&conn.docker, &found.id)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the stats of {}: {e}", args.id))?;
        print_sample(args.json, &name, &sample, true)?;
        return Ok(());
    }

    let mut stream = Box::pin(stats::follow(&conn.docker, &found.id));
    let mut previous: Option<(Instant, StatsSample)> = None;
    let mut first = true;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(sample) = next else {
            anyhow::bail!("the stats of {} ended: the container stopped", args.id);
        };
        let sample = sample?;
        print_sample(args.json, &name, &sample, first)?;
        if let Some((at, before)) = &previous
            && !args.json
        {
            let dt = at.elapsed().as_secs_f64();
            println!(
                "    net ↓ {:.1} kbit/s ↑ {:.1} kbit/s",
                rate(before.net_rx_bytes, sample.net_rx_bytes, dt) * 8.0 / 1000.0,
                rate(before.net_tx_bytes, sample.net_tx_bytes, dt) * 8.0 / 1000.0
            );
        }
        previous = Some((Instant::now(), sample));
        first = false;
    }
}

fn rate(before: u64, after: u64, dt_secs: f64) -> f64 {
    if dt_secs <= 0.0 {
        0.0
    } else {
        after.saturating_sub(before) as f64 / dt_secs
    }
}

fn print_sample(json: bool, name: &str, s: &StatsSample, header: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(s)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("container".to_owned(), name.into());
        }
        println!("{value}");
        return Ok(());
    }
    if header {
        println!(
            "{:<28} {:>7} {:>11} {:>11} {:>12} {:>12} {:>12} {:>12} {:>5}",
            "CONTAINER",
            "CPU %",
            "MEM",
            "LIMIT",
            "NET RX",
            "NET TX",
            "BLOCK READ",
            "BLOCK WRITE",
            "PIDS"
        );
    }
    println!(
        "{:<28} {:>7.2} {:>11} {:>11} {:>12} {:>12} {:>12} {:>12} {:>5}",
        name,
        s.cpu_percent,
        format!("{:.1} MiB", s.memory_bytes as f64 / MIB),
        format!("{:.1} MiB", s.memory_limit_bytes as f64 / MIB),
        format!("{} B", s.net_rx_bytes),
        format!("{} B", s.net_tx_bytes),
        format!("{} B", s.block_read_bytes),
        format!("{} B", s.block_write_bytes),
        s.pids
    );
    Ok(())
}

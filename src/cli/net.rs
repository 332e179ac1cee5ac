//! `quayside net`: shape a container's network with the original tool's policies and values,
//! clear it, or show what the kernel holds.
//!
//! Two forms change the shaping: the original tool's `--policy P --value V`, and the full form
//! with one flag per field and direction (`--down-rate 2mbit --up-delay 50ms`). Both edit the
//! shaping the container holds now, so `--policy loss` after `--policy delay` keeps the delay,
//! and `--up-loss 1%` keeps the download rate. One call uses one form. Every value is read and
//! checked before any host is asked.

use clap::{Args, Subcommand};

use super::net_flags::FullForm;
use super::target;
use crate::hosts::connect::HostConnection;
use crate::hosts::profile::Profile;
use crate::model::{ContainerKey, HostId};
use crate::shaping::edit::ShapingEdit;
use crate::shaping::memory::ShapingMemory;
use crate::shaping::ops::{self, ApplyOptions, ShapingReport};
use crate::shaping::presets;
use crate::shaping::profile::ShapingProfile;
use crate::shaping::seed::{self, ProfileEdit};
use crate::shaping::{preflight, trees};

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
    #[command(flatten)]
    full: Box<FullForm>,
    /// Start from a preset (3G, LTE, DSL, satellite, lossy-wifi, … or one of the profile's
    /// own) instead of the current shaping; --down-*/--up-* flags then change its values.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Replace a root qdisc on the veth that Quayside did not create.
    #[arg(long)]
    replace_foreign: bool,
    /// Print the read-back as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum NetAction {
    /// List every tree of Quayside's on a host, with the container that owns it.
    Trees {
        /// The host, as the profile names it (`local` without a profile).
        #[arg(long)]
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove every tree of Quayside's from a host, orphaned IFBs included.
    ClearAll {
        /// The host, as the profile names it (`local` without a profile).
        #[arg(long)]
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Try what a host can do for shaping: tc, privileges, IFB devices and netem.
    Preflight {
        /// The host, as the profile names it (`local` without a profile).
        #[arg(long)]
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
    if let Some(NetAction::Trees { host, json }) = &args.action {
        let host = HostId(host.clone());
        let conn = target::connect_host(profile, &host).await?;
        let trees = trees::owned_trees(&conn.docker, &conn.runner, &host).await?;
        if *json {
            println!("{}", serde_json::to_string_pretty(&trees)?);
        } else if trees.is_empty() {
            println!("{host}: no shaping of Quayside's");
        } else {
            for tree in &trees {
                let held = tree
                    .profile
                    .as_ref()
                    .map(|p| p.summary())
                    .unwrap_or_else(|| "an IFB left behind".to_owned());
                println!("{host}: {}: {held}", tree.label());
            }
        }
        return Ok(());
    }
    if let Some(NetAction::ClearAll { host, json }) = &args.action {
        let host = HostId(host.clone());
        let conn = target::connect_host(profile, &host).await?;
        let report = trees::clear_all(&conn.docker, &conn.runner, &host).await?;
        if *json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            for line in report.lines() {
                println!("{line}");
            }
        }
        if !report.all_cleared() {
            anyhow::bail!("some trees on {host} could not be cleared");
        }
        return Ok(());
    }
    if let Some(NetAction::Preflight { host, json }) = &args.action {
        let host = HostId(host.clone());
        let conn = target::connect_host(profile, &host).await?;
        let answer = preflight::preflight(&conn.runner).await;
        if *json {
            println!("{}", serde_json::to_string_pretty(&answer)?);
        } else {
            for (name, capability) in answer.named() {
                println!("{host}: {name} {}", capability.line());
            }
        }
        return Ok(());
    }
    if let Some(NetAction::Show { id, json }) = &args.action {
        let (conn, key, _) = locate(profile, id).await?;
        let report = ops::read(&conn.docker, &conn.runner, &key).await?;
        return print(&report, *json);
    }

    let Some(id) = args.id.as_deref() else {
        anyhow::bail!(
            "say which container: --id HOST:NAME (or `quayside net show --id HOST:NAME`)"
        );
    };
    // The values are read and checked before anything is asked of the host.
    let base = preset_of(profile, args.preset.as_deref())?;
    let change = match (&base, change_of(args)) {
        // A preset alone is a complete change.
        (Some(_), Err(_)) if args.policy.is_none() && args.value.is_none() => Change::None,
        (_, change) => change?,
    };
    let (conn, key, name) = locate(profile, id).await?;

    let report = match change {
        Change::Clear => ops::clear(&conn.docker, &conn.runner, &key).await?,
        edit => {
            let mut wanted = match base {
                Some(preset) => preset,
                None => {
                    let current = ops::read(&conn.docker, &conn.runner, &key).await?;
                    current.profile().unwrap_or_default()
                }
            };
            edit.apply(&mut wanted);
            wanted.validate()?;
            ops::apply(&conn.docker, &conn.runner, &key, &wanted, &options(args)).await?
        }
    };
    remember(&key, &name, &report);
    print(&report, args.json)
}

/// The preset named `name`, among the built-in ones and the profile's own.
fn preset_of(profile: &Profile, name: Option<&str>) -> anyhow::Result<Option<ShapingProfile>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let mut all = presets::built_in();
    all.extend(profile.presets.iter().cloned());
    match presets::find(&all, name) {
        Some(preset) => Ok(Some(preset.profile.clone())),
        None => {
            let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            anyhow::bail!(
                "no preset named {name:?}; the presets are: {}",
                names.join(", ")
            )
        }
    }
}

/// Records what the container holds now, so that the window re-applies it after a restart; a
/// failure to record is reported but does not undo the change.
fn remember(key: &ContainerKey, name: &str, report: &ShapingReport) {
    let Some(memory) = ShapingMemory::default_location() else {
        return;
    };
    let held = report.profile().unwrap_or_default();
    if let Err(err) = memory.remember(&key.host.0, name, &held, None) {
        eprintln!("quayside: warning: {err}");
    }
}

/// What a call asks to change, read from its flags.
#[derive(Debug, PartialEq)]
enum Change {
    /// Remove all shaping.
    Clear,
    /// The original tool's policy and value.
    Seed(ProfileEdit),
    /// The full form's fields.
    Fields(Box<ShapingEdit>),
    /// Nothing beyond the preset.
    None,
}

impl Change {
    /// Edits `profile` as asked, keeping what the change does not name.
    fn apply(&self, profile: &mut ShapingProfile) {
        match self {
            Change::Clear => *profile = ShapingProfile::default(),
            Change::Seed(edit) => edit.apply(profile),
            Change::Fields(edit) => edit.apply(profile),
            Change::None => {}
        }
    }
}

/// Reads the change a call asks for; mixing the two forms, or giving neither, is an error
/// that shows both forms.
fn change_of(args: &NetArgs) -> anyhow::Result<Change> {
    let fields = args.full.edit();
    let seed_form = args.policy.is_some() || args.value.is_some();
    if seed_form && !fields.is_empty() {
        anyhow::bail!(
            "--policy/--value and the --down-*/--up-* flags are two forms of the same change: \
             use one of them per call (e.g. --policy rate --value \"500 300\", or \
             --down-rate 500kbit --up-rate 300kbit)"
        );
    }
    if !fields.is_empty() {
        fields.check()?;
        return Ok(Change::Fields(Box::new(fields)));
    }
    let Some(policy) = args.policy.as_deref() else {
        anyhow::bail!(
            "say what to do: --policy clear|rate|delay|loss|duplicate|corrupt|reorder, or \
             --down-rate/--down-delay/.../--up-reorder"
        );
    };
    Ok(
        match seed::parse_seed_value(policy, args.value.as_deref())? {
            ProfileEdit::Clear => Change::Clear,
            edit => Change::Seed(edit),
        },
    )
}

fn options(args: &NetArgs) -> ApplyOptions {
    ApplyOptions {
        replace_foreign: args.replace_foreign,
    }
}

async fn locate(
    profile: &Profile,
    id: &str,
) -> anyhow::Result<(HostConnection, ContainerKey, String)> {
    let (conn, found) = target::resolve(profile, id).await?;
    let key = found.key();
    Ok((conn, key, found.name))
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Verb};
    use crate::shaping::edit::DirectionEdit;

    fn net_args(words: &[&str]) -> Result<NetArgs, clap::Error> {
        let mut argv = vec!["quayside", "net"];
        argv.extend_from_slice(words);
        match Cli::try_parse_from(argv)?.command {
            Some(Verb::Net(args)) => Ok(args),
            other => panic!("not a net command: {other:?}"),
        }
    }

    fn change(words: &[&str]) -> anyhow::Result<Change> {
        change_of(&net_args(words)?)
    }

    #[test]
    fn the_full_form_reads_each_direction_and_unit() -> anyhow::Result<()> {
        let got = change(&[
            "--id",
            "local:web",
            "--down-rate",
            "2mbit",
            "--up-delay",
            "50ms",
            "--down-loss",
            "1%",
            "--up-rate",
            "512kbit",
            "--up-jitter",
            "1s",
            "--up-loss",
            "0.5",
        ])?;
        let want = ShapingEdit {
            download: DirectionEdit {
                rate_kbit: Some(2000),
                loss_pct: Some(1.0),
                ..Default::default()
            },
            upload: DirectionEdit {
                rate_kbit: Some(512),
                delay_ms: Some(50.0),
                jitter_ms: Some(1000.0),
                loss_pct: Some(0.5),
                ..Default::default()
            },
        };
        assert_eq!(got, Change::Fields(Box::new(want)));
        Ok(())
    }

    #[test]
    fn every_field_of_both_directions_has_a_flag() -> anyhow::Result<()> {
        let mut words: Vec<String> = vec!["--id".into(), "local:web".into()];
        for dir in ["down", "up"] {
            for (field, value) in [
                ("delay", "100ms"),
                ("jitter", "10ms"),
                ("correlation", "25%"),
                ("loss", "1%"),
                ("duplicate", "2%"),
                ("corrupt", "3%"),
                ("reorder", "4%"),
                ("rate", "1mbit"),
            ] {
                words.push(format!("--{dir}-{field}"));
                words.push(value.to_owned());
            }
        }
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let Change::Fields(edit) = change(&words)? else {
            panic!("not a field edit");
        };
        for d in [&edit.download, &edit.upload] {
            assert_eq!(
                *d,
                DirectionEdit {
                    rate_kbit: Some(1000),
                    delay_ms: Some(100.0),
                    jitter_ms: Some(10.0),
                    correlation_pct: Some(25.0),
                    loss_pct: Some(1.0),
                    duplicate_pct: Some(2.0),
                    corrupt_pct: Some(3.0),
                    reorder_pct: Some(4.0),
                }
            );
        }
        Ok(())
    }

    #[test]
    fn rates_accept_spaced_units_unlimited_and_zero() -> anyhow::Result<()> {
        for (text, kbit) in [
            ("2 Mbit/s", 2000),
            ("512kbit", 512),
            ("unlimited", 0),
            ("Unlimited", 0),
            ("0", 0),
        ] {
            let Change::Fields(edit) = change(&["--id", "local:web", "--down-rate", text])? else {
                panic!("not a field edit");
            };
            assert_eq!(edit.download.rate_kbit, Some(kbit), "{text}");
        }
        Ok(())
    }

    #[test]
    fn a_bad_value_is_refused_by_the_parser_naming_the_flag() {
        for (flag, value) in [
            ("--down-loss", "150%"),
            ("--up-delay", "fast"),
            ("--down-rate", "2 parsecs"),
            ("--up-reorder", "-1%"),
        ] {
            let err = net_args(&["--id", "local:web", flag, value])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(flag), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn mixing_the_policy_form_and_the_full_form_is_an_error_that_names_both() {
        let err = change(&[
            "--id",
            "local:web",
            "--policy",
            "loss",
            "--value",
            "1%",
            "--down-delay",
            "50ms",
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("--policy/--value") && err.contains("--down-*/--up-*"),
            "{err}"
        );
    }

    #[test]
    fn a_rate_below_the_floor_is_refused_before_the_host_is_asked() {
        let err = change(&["--id", "local:web", "--up-rate", "2kbit"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("upload rate 2 kbit/s is too low"), "{err}");
    }

    #[test]
    fn the_policy_form_is_unchanged() -> anyhow::Result<()> {
        assert_eq!(
            change(&["--id", "local:web", "--policy", "clear"])?,
            Change::Clear
        );
        assert_eq!(
            change(&[
                "--id",
                "local:web",
                "--policy",
                "rate",
                "--value",
                "500 300"
            ])?,
            Change::Seed(ProfileEdit::Rate {
                download_kbit: 500,
                upload_kbit: Some(300)
            })
        );
        Ok(())
    }

    #[test]
    fn neither_form_is_an_error_that_shows_both() {
        let err = change(&["--id", "local:web"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("--policy") && err.contains("--down-rate"),
            "{err}"
        );
    }

    #[test]
    fn host_wide_actions_take_a_host_and_json() -> Result<(), clap::Error> {
        let args = net_args(&["preflight", "--host", "lab-1", "--json"])?;
        assert!(matches!(
            args.action,
            Some(NetAction::Preflight { ref host, json: true }) if host == "lab-1"
        ));
        let args = net_args(&["clear-all", "--host", "local"])?;
        assert!(matches!(
            args.action,
            Some(NetAction::ClearAll { ref host, json: false }) if host == "local"
        ));
        let args = net_args(&["trees", "--host", "local", "--json"])?;
        assert!(matches!(
            args.action,
            Some(NetAction::Trees { json: true, .. })
        ));
        assert!(net_args(&["clear-all"]).is_err(), "--host is required");
        Ok(())
    }
}

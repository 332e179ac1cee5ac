//! Shaping on a real host: find the container's veths, read what the kernel holds, apply a
//! plan as one tc batch, and read back.
//!
//! This is the only shaping module that runs commands; the decisions (what to run, how to read
//! tc's output) are the pure modules' job. An apply either lands whole or leaves each veth as
//! it was: when a step fails, what was changed is cleared and the previous shaping is applied
//! again, and the error says so with tc's own words.

use bollard::Docker;

use super::plan::{self, ApplyPlan, ClearPlan, PlanError};
use super::profile::{ShapingProfile, Tolerance};
use super::readback::{self, DeviceText, Observed, ReadbackError, TcSnapshot};
pub(crate) use super::report::{InterfaceShaping, Outcome, ShapingReport, Target};
use super::steps::{checked, current_host_links, run_plan, tool_words};
use super::validate::ValidationError;
use super::veth::{self, VethError};
use crate::docker::{self, DockerError};
use crate::model::{ContainerDetails, ContainerKey, HostId};
use crate::privileged::{RunError, Runner};

/// How an apply may go beyond the plain case.
#[derive(Clone, Debug, Default)]
pub(crate) struct ApplyOptions {
    /// Delete a root qdisc Quayside did not create instead of refusing.
    pub(crate) replace_foreign: bool,
}

/// Why shaping could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShapingError {
    #[error("{name} is not running: a stopped container has no network to shape; start it first")]
    NotRunning { name: String },
    #[error(
        "{name} shares the host's network; shaping it would shape the host, so Quayside refuses"
    )]
    HostNetwork { name: String },
    #[error("{name} uses the network of another container ({mode}); shape that container instead")]
    SharedNetwork { name: String, mode: String },
    #[error("{name} has no network interface besides loopback (network mode {mode})")]
    NoInterfaces { name: String, mode: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Veth(#[from] VethError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    #[error("`{command}` failed: {words}")]
    Tool { command: String, words: String },
    #[error("tc refused the change on {veth}: {words}{hint}; {restored}")]
    Refused {
        veth: String,
        words: String,
        hint: String,
        restored: String,
    },
}

/// Finds the host veth of each of the container's interfaces.
pub(crate) async fn discover(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<(ContainerDetails, Vec<Target>, String), ShapingError> {
    let details = docker::inspect(docker, key).await?;
    let name = details.name.clone();
    if !details.state.is_running() || details.pid <= 0 {
        return Err(ShapingError::NotRunning { name });
    }
    let mode = details.network_mode.clone();
    if mode == "host" {
        return Err(ShapingError::HostNetwork { name });
    }
    if mode.starts_with("container:") {
        return Err(ShapingError::SharedNetwork { name, mode });
    }

    let tools = runner.tools();
    let pid = details.pid.to_string();
    let inside = checked(
        runner,
        &[
            &tools.nsenter,
            "-t",
            &pid,
            "-n",
            &tools.ip,
            "-d",
            "-j",
            "link",
            "show",
        ],
    )
    .await?;
    let host_links = checked(runner, &[&tools.ip, "-d", "-j", "link", "show"]).await?;
    let links = veth::match_interfaces(&inside, &host_links)?;
    if links.is_empty() {
        return Err(ShapingError::NoInterfaces { name, mode });
    }
    let targets = links
        .into_iter()
        .map(|link| Target {
            network: details
                .networks
                .iter()
                .find(|n| n.mac_address.eq_ignore_ascii_case(&link.mac))
                .map(|n| n.network.clone())
                .unwrap_or_else(|| "unknown network".to_owned()),
            container_if: link.container_if,
            veth: link.host_veth,
            veth_ifindex: link.peer_ifindex,
        })
        .collect();
    Ok((details, targets, host_links))
}

/// Reads what the kernel holds for one veth and its IFB.
// TODO(#4): each read is its own (sudo) process, so an apply with its read-backs runs about
// eight in a row: ~65-115 ms over SSH on the lab machine against a 15 ms target. One remote
// shell for all the reads, and remembering a container's veths until it restarts, would fix it.
async fn observe(
    runner: &Runner,
    target: &Target,
    host_links: &str,
) -> Result<Observed, ShapingError> {
    let tc = &runner.tools().tc;
    let ifb = plan::ifb_name(target.veth_ifindex)?;
    let veth_qdisc = checked(
        runner,
        &[tc, "-s", "-j", "qdisc", "show", "dev", &target.veth],
    )
    .await?;
    let veth_class = checked(runner, &[tc, "class", "show", "dev", &target.veth]).await?;
    let filter = if veth_qdisc.contains("\"ingress\"") || veth_qdisc.contains("\"clsact\"") {
        Some(
            checked(
                runner,
                &[
                    tc,
                    "-j",
                    "filter",
                    "show",
                    "dev",
                    &target.veth,
                    "parent",
                    "ffff:",
                ],
            )
            .await?,
        )
    } else {
        None
    };
    let ifb_texts = if veth::link_exists(host_links, &ifb) {
        let qdisc = checked(runner, &[tc, "-s", "-j", "qdisc", "show", "dev", &ifb]).await?;
        let class = checked(runner, &[tc, "class", "show", "dev", &ifb]).await?;
        Some((qdisc, class))
    } else {
        None
    };
    let snapshot = TcSnapshot {
        veth_name: &target.veth,
        veth: DeviceText {
            qdisc_json: &veth_qdisc,
            class_text: &veth_class,
        },
        ingress_filter_json: filter.as_deref(),
        ifb_name: &ifb,
        ifb: ifb_texts.as_ref().map(|(q, c)| DeviceText {
            qdisc_json: q,
            class_text: c,
        }),
    };
    Ok(readback::read_observed(&snapshot)?)
}

/// Reads the container's shaping without changing it.
pub(crate) async fn read(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<ShapingReport, ShapingError> {
    let (_, targets, host_links) = discover(docker, runner, key).await?;
    let mut interfaces = Vec::new();
    for target in targets {
        let observed = observe(runner, &target, &host_links).await?;
        interfaces.push(InterfaceShaping::new(target, &observed));
    }
    Ok(ShapingReport {
        outcome: Outcome::Read,
        interfaces,
        commands: Vec::new(),
        warnings: Vec::new(),
    })
}

/// Replaces the container's shaping with `wanted` on every interface, then reads back.
pub(crate) async fn apply(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
    wanted: &ShapingProfile,
    options: &ApplyOptions,
) -> Result<ShapingReport, ShapingError> {
    // Validate before anything touches the host.
    let warnings: Vec<String> = wanted.validate()?.iter().map(ToString::to_string).collect();
    let (_, targets, host_links) = discover(docker, runner, key).await?;
    sweep_orphan_ifbs(runner, &host_links).await;

    // Every plan is made before any runs, so a refusal on one veth changes none.
    let mut planned = Vec::new();
    for target in targets {
        let observed = observe(runner, &target, &host_links).await?;
        let plan = plan::plan_apply(
            &target.veth,
            target.veth_ifindex,
            wanted,
            &observed,
            options.replace_foreign,
        )?;
        planned.push((target, observed, plan));
    }

    let mut commands = Vec::new();
    for (done, (target, _, plan)) in planned.iter().enumerate() {
        commands.extend(plan::render_commands(plan));
        if let Err(failure) = run_plan(runner, plan, false).await {
            let restored =
                restore(runner, &key.host, planned.get(..=done).unwrap_or_default()).await;
            return Err(ShapingError::Refused {
                veth: target.veth.clone(),
                hint: hint_for(&failure.words, wanted),
                words: failure.words,
                restored,
            });
        }
    }

    let mut interfaces = Vec::new();
    let mut warnings = warnings;
    let host_links = current_host_links(runner).await?;
    for (target, _, _) in planned {
        let observed = observe(runner, &target, &host_links).await?;
        let held = InterfaceShaping::new(target, &observed);
        if !held.profile().approx_eq(wanted, &Tolerance::TC_READBACK) {
            warnings.push(format!(
                "{} holds {}, not the {} asked for",
                held.target.veth,
                held.profile().summary(),
                wanted.summary()
            ));
        }
        interfaces.push(held);
    }
    Ok(ShapingReport {
        outcome: Outcome::Applied,
        interfaces,
        commands,
        warnings,
    })
}

/// The exact commands an apply of `wanted` would run now, without running them.
pub(crate) async fn preview(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
    wanted: &ShapingProfile,
    options: &ApplyOptions,
) -> Result<Vec<String>, ShapingError> {
    wanted.validate()?;
    let (_, targets, host_links) = discover(docker, runner, key).await?;
    let mut commands = Vec::new();
    for target in targets {
        let observed = observe(runner, &target, &host_links).await?;
        let plan = plan::plan_apply(
            &target.veth,
            target.veth_ifindex,
            wanted,
            &observed,
            options.replace_foreign,
        )?;
        commands.extend(plan::render_commands(&plan));
    }
    Ok(commands)
}

/// Removes all of Quayside's shaping from the container; a clean container is already clear.
pub(crate) async fn clear(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<ShapingReport, ShapingError> {
    let (_, targets, host_links) = discover(docker, runner, key).await?;
    sweep_orphan_ifbs(runner, &host_links).await;
    let mut commands = Vec::new();
    let mut cleared = Vec::new();
    for target in targets {
        let observed = observe(runner, &target, &host_links).await?;
        if let ClearPlan::Steps(steps) =
            plan::clear_plan(&target.veth, target.veth_ifindex, &observed)?
        {
            commands.extend(plan::render_commands(&steps));
            if let Err(failure) = run_plan(runner, &steps, true).await {
                return Err(ShapingError::Tool {
                    command: failure.command,
                    words: failure.words,
                });
            }
        }
        cleared.push(target);
    }

    let host_links = current_host_links(runner).await?;
    let mut interfaces = Vec::new();
    for target in cleared {
        let observed = observe(runner, &target, &host_links).await?;
        interfaces.push(InterfaceShaping::new(target, &observed));
    }
    let outcome = if commands.is_empty() {
        Outcome::AlreadyClear
    } else {
        Outcome::Cleared
    };
    Ok(ShapingReport {
        outcome,
        interfaces,
        commands,
        warnings: Vec::new(),
    })
}

/// Puts each touched veth back as it was: clears what is there now, then applies the profile
/// it held before. Returns a sentence saying how that went.
async fn restore(
    runner: &Runner,
    host: &HostId,
    touched: &[(Target, Observed, ApplyPlan)],
) -> String {
    let mut problems = Vec::new();
    for (target, before, _) in touched {
        if let Err(err) = restore_one(runner, target, before).await {
            tracing::error!(host = %host, veth = %target.veth, error = %err, "could not restore shaping");
            problems.push(format!("{}: {err}", target.veth));
        }
    }
    if problems.is_empty() {
        "nothing was changed: the previous shaping is in place".to_owned()
    } else {
        format!(
            "restoring the previous shaping failed too ({})",
            problems.join("; ")
        )
    }
}

async fn restore_one(
    runner: &Runner,
    target: &Target,
    before: &Observed,
) -> Result<(), ShapingError> {
    let host_links = current_host_links(runner).await?;
    let now = observe(runner, target, &host_links).await?;
    if let ClearPlan::Steps(steps) = plan::clear_plan(&target.veth, target.veth_ifindex, &now)? {
        run_plan(runner, &steps, true)
            .await
            .map_err(|f| ShapingError::Tool {
                command: f.command,
                words: f.words,
            })?;
    }
    let previous = before.shaping();
    if previous.is_unshaped() {
        return Ok(());
    }
    let host_links = current_host_links(runner).await?;
    let clean = observe(runner, target, &host_links).await?;
    let plan = plan::plan_apply(&target.veth, target.veth_ifindex, &previous, &clean, false)?;
    run_plan(runner, &plan, false)
        .await
        .map_err(|f| ShapingError::Tool {
            command: f.command,
            words: f.words,
        })
}

/// Deletes Quayside's IFBs whose veth is gone (their container was removed while shaped). A
/// failure is logged and changes nothing else: the apply or clear goes on.
async fn sweep_orphan_ifbs(runner: &Runner, host_links: &str) {
    for ifb in veth::orphan_ifbs(host_links) {
        let argv = vec![
            runner.tools().ip.clone(),
            "link".into(),
            "del".into(),
            ifb.clone(),
        ];
        match runner.run(&argv, None).await {
            Ok(out) if out.success() => {
                tracing::info!(ifb = %ifb, "removed an IFB whose container is gone")
            }
            Ok(out) => {
                tracing::warn!(ifb = %ifb, words = %tool_words(&out), "could not remove an orphan IFB")
            }
            Err(err) => tracing::warn!(ifb = %ifb, error = %err, "could not remove an orphan IFB"),
        }
    }
}

/// The fix for a refusal whose cause is known.
fn hint_for(words: &str, wanted: &ShapingProfile) -> String {
    let wants_netem = wanted.download.has_impairment() || wanted.upload.has_impairment();
    if wants_netem && words.contains("Specified qdisc kind is unknown") {
        " (netem is not available in this host's kernel: load it with `modprobe sch_netem` \
         or install the kernel's extra modules; rate limits work without it)"
            .to_owned()
    } else if words.contains("Operation not permitted") {
        " (changing qdiscs needs root or CAP_NET_ADMIN on the host)".to_owned()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shaping::profile::DirectionProfile;

    #[test]
    fn a_missing_netem_gets_the_modprobe_hint_only_when_netem_was_wanted() {
        let mut wanted = ShapingProfile::default();
        wanted.download.delay_ms = 100.0;
        assert!(
            hint_for("Error: Specified qdisc kind is unknown.", &wanted)
                .contains("modprobe sch_netem")
        );
        let rate_only = ShapingProfile {
            download: DirectionProfile {
                rate_kbit: 1000,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            hint_for("Error: Specified qdisc kind is unknown.", &rate_only),
            ""
        );
    }

    #[test]
    fn the_headline_says_already_clear_for_a_clean_clear() {
        let report = ShapingReport {
            outcome: Outcome::AlreadyClear,
            interfaces: Vec::new(),
            commands: Vec::new(),
            warnings: Vec::new(),
        };
        assert!(report.headline().contains("already clear"));
    }
}

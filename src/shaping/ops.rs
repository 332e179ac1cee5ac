//! Shaping on a real host: find the container's veths, read what the kernel holds, apply a
//! plan as one tc batch, and read back.
//!
//! This module and `steps` are the only shaping modules that run commands; the decisions (what
//! to run, how to read tc's output) are the pure modules' job. Every step is one process on the
//! host (see `gather`): a read, or a plan with its read-back. An apply either lands whole or
//! leaves each veth as it was: when a step fails, what was changed is cleared and the previous
//! shaping is applied again, and the error says so with tc's own words.

use bollard::Docker;

use super::gather::{ReadSpec, Reads};
use super::memo::{self, LastRead};
use super::plan::{self, ApplyPlan, ClearPlan, PlanError};
use super::profile::{ShapingProfile, Tolerance};
use super::readback::{Observed, ReadbackError};
pub(crate) use super::report::{InterfaceShaping, Outcome, ShapingReport, Target};
use super::restore;
use super::steps::{self, Guarded, StepFailure};
use super::validate::ValidationError;
use super::veth::{self, VethError};
use crate::docker::{self, DockerError};
use crate::model::{ContainerDetails, ContainerKey};
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

/// Finds the host veth of each of the container's interfaces: remembered ones when the
/// container has not restarted nor changed networks since, else through its namespace.
pub(crate) async fn discover(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<(ContainerDetails, Vec<Target>), ShapingError> {
    let (details, targets, _) = discover_remembered(docker, runner, key).await?;
    Ok((details, targets))
}

/// `discover`, with the last read of the veths when one is remembered.
async fn discover_remembered(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<(ContainerDetails, Vec<Target>, Option<LastRead>), ShapingError> {
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
    if let Some((targets, last)) = memo::recall(&key.host, &details) {
        return Ok((details, targets, last));
    }
    let targets = find_veths(runner, &details).await?;
    Ok((details, targets, None))
}

/// Matches the container's interfaces to host veths through its namespace, and remembers them.
async fn find_veths(
    runner: &Runner,
    details: &ContainerDetails,
) -> Result<Vec<Target>, ShapingError> {
    let (inside, host_links) = steps::discover_links(runner, details.pid).await?;
    let links = veth::match_interfaces(&inside, &host_links)?;
    if links.is_empty() {
        return Err(ShapingError::NoInterfaces {
            name: details.name.clone(),
            mode: details.network_mode.clone(),
        });
    }
    let targets = Target::of_links(details, links);
    memo::remember(&details.key.host, details, &targets);
    Ok(targets)
}

/// What one container's veths hold now.
pub(super) struct Located {
    details: ContainerDetails,
    pub(super) targets: Vec<Target>,
    pub(super) specs: Vec<ReadSpec>,
    pub(super) observed: Vec<Observed>,
}

/// Finds the container's veths and reads them.
async fn locate(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<Located, ShapingError> {
    let (details, targets, _) = discover_remembered(docker, runner, key).await?;
    locate_from(runner, details, targets).await
}

/// Reads the container's veths; remembered veths found stale are looked up again, once.
async fn locate_from(
    runner: &Runner,
    details: ContainerDetails,
    mut targets: Vec<Target>,
) -> Result<Located, ShapingError> {
    for fresh in [false, true] {
        if fresh {
            memo::forget(&details.key.host, &details);
            targets = find_veths(runner, &details).await?;
        }
        let specs = read_specs(&targets)?;
        if let Reads::Current {
            observed,
            fingerprint,
            ..
        } = steps::read(runner, &specs).await?
        {
            remember_read(&details, fingerprint, &observed);
            return Ok(Located {
                details,
                targets,
                specs,
                observed,
            });
        }
    }
    memo::forget(&details.key.host, &details);
    Err(ShapingError::Tool {
        command: "reading the container's veths".to_owned(),
        words: format!(
            "the veths of {} changed while they were read; try again",
            details.name
        ),
    })
}

fn read_specs(targets: &[Target]) -> Result<Vec<ReadSpec>, ShapingError> {
    targets
        .iter()
        .map(|t| {
            Ok(ReadSpec {
                veth: t.veth.clone(),
                ifindex: t.veth_ifindex,
                ifb: plan::ifb_name(t.veth_ifindex)?,
            })
        })
        .collect()
}

fn remember_read(details: &ContainerDetails, fingerprint: String, observed: &[Observed]) {
    let last = LastRead {
        fingerprint,
        observed: observed.to_vec(),
    };
    memo::remember_read(&details.key.host, details, Some(last));
}

/// The read-back after a change: what each target holds, remembered for the next change.
fn held(
    details: &ContainerDetails,
    targets: Vec<Target>,
    reads: Reads,
) -> Result<Vec<InterfaceShaping>, ShapingError> {
    match reads {
        Reads::Current {
            observed,
            fingerprint,
            ..
        } => {
            remember_read(details, fingerprint, &observed);
            Ok(targets
                .into_iter()
                .zip(&observed)
                .map(|(target, observed)| InterfaceShaping::new(target, observed))
                .collect())
        }
        Reads::Stale => {
            memo::forget(&details.key.host, details);
            Err(ShapingError::Tool {
                command: "reading back".to_owned(),
                words: "a veth of the container was gone right after the change".to_owned(),
            })
        }
    }
}

/// Reads the container's shaping without changing it.
pub(crate) async fn read(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
) -> Result<ShapingReport, ShapingError> {
    let located = locate(docker, runner, key).await?;
    let interfaces = located
        .targets
        .into_iter()
        .zip(&located.observed)
        .map(|(target, observed)| InterfaceShaping::new(target, observed))
        .collect();
    Ok(ShapingReport {
        outcome: Outcome::Read,
        interfaces,
        commands: Vec::new(),
        warnings: Vec::new(),
    })
}

/// Replaces the container's shaping with `wanted` on every interface, then reads back.
///
/// When the last read of the container's veths is remembered, the change is planned from it
/// and runs in one process behind a guard that finds the kernel unchanged since; otherwise
/// (or when the guard finds a change) the veths are read first, then changed and read back.
pub(crate) async fn apply(
    docker: &Docker,
    runner: &Runner,
    key: &ContainerKey,
    wanted: &ShapingProfile,
    options: &ApplyOptions,
) -> Result<ShapingReport, ShapingError> {
    // Validate before anything touches the host.
    let warnings: Vec<String> = wanted.validate()?.iter().map(ToString::to_string).collect();
    let (details, targets, last) = discover_remembered(docker, runner, key).await?;

    let mut fresh = None;
    if let Some(last) = last {
        match apply_from_last(runner, &details, &targets, &last, wanted, options).await? {
            Ok((commands, interfaces)) => {
                return Ok(applied(wanted, commands, interfaces, warnings));
            }
            Err(now) => fresh = now,
        }
    }
    let located = match fresh {
        Some(located) => located,
        None => locate_from(runner, details, targets).await?,
    };

    // Every plan is made before any runs, so a refusal on one veth changes none.
    let mut plans = Vec::with_capacity(located.targets.len());
    for (target, observed) in located.targets.iter().zip(&located.observed) {
        plans.push(plan::plan_apply(
            &target.veth,
            target.veth_ifindex,
            wanted,
            observed,
            options.replace_foreign,
        )?);
    }
    let commands: Vec<String> = plans.iter().flat_map(plan::render_commands).collect();
    let plan_refs: Vec<&ApplyPlan> = plans.iter().collect();
    let reads = match steps::run_plans(runner, &plan_refs, &[], false, &located.specs).await {
        Ok(reads) => reads?,
        Err(failure) => return Err(refused(runner, &located, failure, wanted).await),
    };
    let interfaces = held(&located.details, located.targets, reads)?;
    Ok(applied(wanted, commands, interfaces, warnings))
}

/// The change planned from the last read, run behind the guard. `Ok(Err(now))` when it did
/// not run: the plan needs links made or deleted, or the kernel changed since the last read
/// (`now` is what it holds, when the guard's read could be used).
async fn apply_from_last(
    runner: &Runner,
    details: &ContainerDetails,
    targets: &[Target],
    last: &LastRead,
    wanted: &ShapingProfile,
    options: &ApplyOptions,
) -> Result<Result<(Vec<String>, Vec<InterfaceShaping>), Option<Located>>, ShapingError> {
    if last.observed.len() != targets.len() {
        return Ok(Err(None));
    }
    let specs = read_specs(targets)?;
    let mut plans = Vec::with_capacity(targets.len());
    for (target, observed) in targets.iter().zip(&last.observed) {
        // A refusal is decided on what the kernel holds now, not on what it held then.
        let Ok(plan) = plan::plan_apply(
            &target.veth,
            target.veth_ifindex,
            wanted,
            observed,
            options.replace_foreign,
        ) else {
            return Ok(Err(None));
        };
        if !plan.link_steps.is_empty() || !plan.cleanup_links.is_empty() {
            return Ok(Err(None));
        }
        plans.push(plan);
    }
    let commands: Vec<String> = plans.iter().flat_map(plan::render_commands).collect();
    let plan_refs: Vec<&ApplyPlan> = plans.iter().collect();
    match steps::run_guarded(runner, &plan_refs, &last.fingerprint, &specs).await {
        Ok(Guarded::Applied(reads)) => {
            let interfaces = held(details, targets.to_vec(), reads?)?;
            Ok(Ok((commands, interfaces)))
        }
        Ok(Guarded::Changed(Some(Reads::Current {
            observed,
            fingerprint,
            ..
        }))) => {
            remember_read(details, fingerprint, &observed);
            Ok(Err(Some(Located {
                details: details.clone(),
                targets: targets.to_vec(),
                specs,
                observed,
            })))
        }
        Ok(Guarded::Changed(_)) => {
            memo::remember_read(&details.key.host, details, None);
            Ok(Err(None))
        }
        Err(failure) => {
            let before = Located {
                details: details.clone(),
                targets: targets.to_vec(),
                specs,
                observed: last.observed.clone(),
            };
            Err(refused(runner, &before, failure, wanted).await)
        }
    }
}

/// The error for a change tc refused, after putting back what each veth held.
async fn refused(
    runner: &Runner,
    before: &Located,
    failure: StepFailure,
    wanted: &ShapingProfile,
) -> ShapingError {
    memo::remember_read(&before.details.key.host, &before.details, None);
    if failure.sudo_refused {
        return failure.into_error();
    }
    let restored = restore::restore(runner, &before.details.key.host, before).await;
    let veth = failure
        .plan_index
        .and_then(|i| before.targets.get(i))
        .or(before.targets.first())
        .map(|t| t.veth.clone())
        .unwrap_or_default();
    ShapingError::Refused {
        veth,
        hint: hint_for(&failure.words, wanted),
        words: failure.words,
        restored,
    }
}

/// The report of an apply: what each veth holds, and a warning for each that does not hold
/// what was asked.
fn applied(
    wanted: &ShapingProfile,
    commands: Vec<String>,
    interfaces: Vec<InterfaceShaping>,
    mut warnings: Vec<String>,
) -> ShapingReport {
    for held in &interfaces {
        if !held.profile().approx_eq(wanted, &Tolerance::TC_READBACK) {
            warnings.push(format!(
                "{} holds {}, not the {} asked for",
                held.target.veth,
                held.profile().summary(),
                wanted.summary()
            ));
        }
    }
    ShapingReport {
        outcome: Outcome::Applied,
        interfaces,
        commands,
        warnings,
    }
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
    let located = locate(docker, runner, key).await?;
    let mut commands = Vec::new();
    for (target, observed) in located.targets.iter().zip(&located.observed) {
        let plan = plan::plan_apply(
            &target.veth,
            target.veth_ifindex,
            wanted,
            observed,
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
    let located = locate(docker, runner, key).await?;
    let mut plans = Vec::new();
    for (target, observed) in located.targets.iter().zip(&located.observed) {
        if let ClearPlan::Steps(steps) =
            plan::clear_plan(&target.veth, target.veth_ifindex, observed)?
        {
            plans.push(steps);
        }
    }
    let commands: Vec<String> = plans.iter().flat_map(plan::render_commands).collect();
    if plans.is_empty() {
        let interfaces = located
            .targets
            .into_iter()
            .zip(&located.observed)
            .map(|(target, observed)| InterfaceShaping::new(target, observed))
            .collect();
        return Ok(ShapingReport {
            outcome: Outcome::AlreadyClear,
            interfaces,
            commands,
            warnings: Vec::new(),
        });
    }

    let plan_refs: Vec<&ApplyPlan> = plans.iter().collect();
    let result = steps::run_plans(runner, &plan_refs, &[], true, &located.specs).await;
    let reads = match result {
        Ok(reads) => reads?,
        Err(failure) => {
            memo::remember_read(&located.details.key.host, &located.details, None);
            return Err(failure.into_error());
        }
    };
    Ok(ShapingReport {
        outcome: Outcome::Cleared,
        interfaces: held(&located.details, located.targets, reads)?,
        commands,
        warnings: Vec::new(),
    })
}

/// The fix for a refusal whose cause is known.
fn hint_for(words: &str, wanted: &ShapingProfile) -> String {
    let wants_netem = wanted.download.has_impairment() || wanted.upload.has_impairment();
    if wants_netem && words.contains("Specified qdisc kind is unknown") {
        " (netem is not available in this host's kernel: load it with `modprobe sch_netem` \
         or install the kernel's extra modules; rate limits work without it: \
         `quayside net … --rates-only` applies the rates alone)"
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

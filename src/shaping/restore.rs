//! Putting a container's veths back as they were after tc refused a change: what the failed
//! batch left is cleared, then the profile each veth held before is applied again. Used only
//! on that failure path; it reports how it went in a sentence instead of failing.

use super::gather::Reads;
use super::ops::{Located, ShapingError};
use super::plan::{self, ApplyPlan, ClearPlan};
use super::steps::{self, StepFailure};
use crate::model::HostId;
use crate::privileged::Runner;

/// Puts the container's veths back as they were: clears what is there now, then applies the
/// profile each held before. Returns a sentence saying how that went.
pub(super) async fn restore(runner: &Runner, host: &HostId, before: &Located) -> String {
    match restore_all(runner, before).await {
        Ok(()) => "nothing was changed: the previous shaping is in place".to_owned(),
        Err(err) => {
            tracing::error!(host = %host, error = %err, "could not restore shaping");
            format!("restoring the previous shaping failed too ({err})")
        }
    }
}

async fn restore_all(runner: &Runner, before: &Located) -> Result<(), ShapingError> {
    // Clear whatever the failed batch left.
    let Reads::Current { observed: now, .. } = steps::read(runner, &before.specs).await? else {
        return Err(ShapingError::Tool {
            command: "reading back".to_owned(),
            words: "a veth of the container is gone".to_owned(),
        });
    };
    let mut clears = Vec::new();
    for (target, observed) in before.targets.iter().zip(&now) {
        if let ClearPlan::Steps(steps) =
            plan::clear_plan(&target.veth, target.veth_ifindex, observed)?
        {
            clears.push(steps);
        }
    }
    let clear_refs: Vec<&ApplyPlan> = clears.iter().collect();
    let Reads::Current {
        observed: clean, ..
    } = steps::run_plans(runner, &clear_refs, &[], true, &before.specs)
        .await
        .map_err(StepFailure::into_error)??
    else {
        return Err(ShapingError::Tool {
            command: "reading back".to_owned(),
            words: "a veth of the container is gone".to_owned(),
        });
    };

    // Apply again what each veth held.
    let mut plans = Vec::new();
    for ((target, previous), clean) in before.targets.iter().zip(&before.observed).zip(&clean) {
        let previous = previous.shaping();
        if !previous.is_unshaped() {
            plans.push(plan::plan_apply(
                &target.veth,
                target.veth_ifindex,
                &previous,
                clean,
                false,
            )?);
        }
    }
    if plans.is_empty() {
        return Ok(());
    }
    let plan_refs: Vec<&ApplyPlan> = plans.iter().collect();
    steps::run_plans(runner, &plan_refs, &[], false, &before.specs)
        .await
        .map_err(StepFailure::into_error)??;
    Ok(())
}

//! Turns a wanted profile and the observed state into the exact `ip` and `tc` steps.
//!
//! This module owns Quayside's tc layout: root handle `7173:` (HTB, or netem alone), HTB class
//! `7173:1`, netem child `7174:`, and for upload an `ingress` qdisc on the veth redirecting to
//! an IFB `qs-ifb<ifindex>` that carries the same kind of tree. A change is one `tc -batch`
//! that deletes our old root and adds the new tree. It must not run anything, and must never
//! touch a root it did not create unless told to replace it.

use thiserror::Error;

use crate::shaping::profile::{DirectionProfile, ShapingProfile};
use crate::shaping::readback::{ForeignQdisc, Observed};
use crate::shaping::units::{format_tc_percent, format_tc_rate, format_tc_time};
use crate::shaping::validate::{ValidationError, Warning};

/// Handle of every root qdisc Quayside creates ("qs" in ASCII, 0x7173).
pub(crate) const ROOT_HANDLE: &str = "7173:";
/// The one HTB class, also the HTB default class.
pub(crate) const ROOT_CLASS: &str = "7173:1";
/// Handle of netem when it sits under the HTB class.
pub(crate) const NETEM_HANDLE: &str = "7174:";
/// Prefix of our IFB devices; the veth's ifindex follows.
pub(crate) const IFB_PREFIX: &str = "qs-ifb";

/// The longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_IFNAME_LEN: usize = 15;
/// netem's queue never holds fewer packets than tc's own default.
const MIN_NETEM_LIMIT: u64 = 1000;
/// netem's queue is capped so that a huge rate × delay cannot pin unbounded memory.
const MAX_NETEM_LIMIT: u64 = 1_000_000;
/// Rate assumed for netem without HTB: a veth moves about 10 Gbit/s.
const ASSUMED_LINE_RATE_KBIT: u64 = 10_000_000;
/// Packet size used to turn bytes in flight into packets (a full Ethernet frame).
const FULL_PACKET_BYTES: f64 = 1500.0;
/// HTB's smallest burst, the same tc computes by default (one MTU plus headers).
const MIN_HTB_BURST_BYTES: u64 = 1600;

/// The steps to move one veth from its observed state to the wanted one.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ApplyPlan {
    /// `ip` argv run before the batch (create and raise the IFB).
    pub(crate) link_steps: Vec<Vec<String>>,
    /// Lines for `tc -batch -` (no leading `tc`), run as one batch.
    pub(crate) tc_batch: Vec<String>,
    /// `ip` argv run after the batch (delete an IFB no longer needed).
    pub(crate) cleanup_links: Vec<Vec<String>>,
    /// Warnings of the wanted profile, to show next to the result.
    pub(crate) warnings: Vec<Warning>,
}

impl ApplyPlan {
    /// True when there is nothing to run.
    pub(crate) fn is_empty(&self) -> bool {
        self.link_steps.is_empty() && self.tc_batch.is_empty() && self.cleanup_links.is_empty()
    }
}

/// What clearing a container's shaping needs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ClearPlan {
    /// Nothing of ours is there: clearing succeeds without running anything.
    AlreadyClear,
    /// Run these steps.
    Steps(ApplyPlan),
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub(crate) enum PlanError {
    #[error("the wanted shaping is not valid: {0}")]
    Invalid(#[from] ValidationError),
    #[error(
        "{dev} already has a root qdisc {kind} {handle} that Quayside did not create: \
         replace it (`--replace-foreign` on the command line, \"Replace it\" in the window) or \
         remove it first"
    )]
    ForeignRoot {
        dev: String,
        kind: String,
        handle: String,
    },
    #[error(
        "{dev} already has an {kind} qdisc that does not redirect to Quayside's IFB: \
         replace it to shape the upload (`--replace-foreign`, or \"Replace it\" in the window)"
    )]
    ForeignIngress { dev: String, kind: String },
    #[error("\"{name}\" cannot be used as an interface name: {reason}")]
    BadDeviceName { name: String, reason: &'static str },
}

/// The IFB name for a veth: `qs-ifb<ifindex>`, at most 15 characters.
pub(crate) fn ifb_name(veth_ifindex: u32) -> Result<String, PlanError> {
    let name = format!("{IFB_PREFIX}{veth_ifindex}");
    check_device_name(&name)?;
    Ok(name)
}

/// Plans the change from `observed` to `wanted` on one veth.
pub(crate) fn plan_apply(
    veth: &str,
    veth_ifindex: u32,
    wanted: &ShapingProfile,
    observed: &Observed,
    replace_foreign: bool,
) -> Result<ApplyPlan, PlanError> {
    check_device_name(veth)?;
    let ifb = ifb_name(veth_ifindex)?;
    let mut plan = ApplyPlan {
        warnings: wanted.validate()?,
        ..Default::default()
    };

    // Download: the veth's root.
    if wanted.download.is_unshaped() {
        if observed.download.is_some() {
            plan.tc_batch.push(format!("qdisc del dev {veth} root"));
        }
    } else {
        if observed.download.is_some() {
            plan.tc_batch.push(format!("qdisc del dev {veth} root"));
        } else if let Some(ForeignQdisc { kind, handle }) = &observed.foreign_root {
            if !replace_foreign {
                return Err(PlanError::ForeignRoot {
                    dev: veth.to_owned(),
                    kind: kind.clone(),
                    handle: handle.clone(),
                });
            }
            plan.tc_batch.push(format!("qdisc del dev {veth} root"));
        }
        plan.tc_batch.extend(tree_lines(veth, &wanted.download));
    }

    // Upload: the IFB, the redirect on the veth's ingress, and the IFB's root.
    if wanted.upload.is_unshaped() {
        if observed.ingress_ours {
            plan.tc_batch.push(format!("qdisc del dev {veth} ingress"));
        }
        if observed.ifb_present {
            plan.cleanup_links.push(argv(&["link", "del", &ifb]));
        }
        return Ok(plan);
    }
    if !observed.ifb_present {
        plan.link_steps
            .push(argv(&["link", "add", &ifb, "type", "ifb"]));
        plan.link_steps.push(argv(&["link", "set", &ifb, "up"]));
    }
    // A redirect made for an earlier IFB points at an ifindex that is gone: renew it.
    let redirect_ok = observed.ingress_ours && observed.ifb_present;
    if !redirect_ok {
        if let Some(ForeignQdisc { kind, .. }) = &observed.foreign_ingress
            && !replace_foreign
        {
            return Err(PlanError::ForeignIngress {
                dev: veth.to_owned(),
                kind: kind.clone(),
            });
        }
        if observed.ingress_ours || observed.foreign_ingress.is_some() {
            plan.tc_batch.push(format!("qdisc del dev {veth} ingress"));
        }
        plan.tc_batch.push(format!("qdisc add dev {veth} ingress"));
        plan.tc_batch.push(format!(
            "filter add dev {veth} parent ffff: protocol all prio 1 u32 match u32 0 0 \
             action mirred egress redirect dev {ifb}"
        ));
    }
    if observed.ifb_present && (observed.upload.is_some() || observed.ifb_other_root.is_some()) {
        plan.tc_batch.push(format!("qdisc del dev {ifb} root"));
    }
    plan.tc_batch.extend(tree_lines(&ifb, &wanted.upload));
    Ok(plan)
}

/// Plans removing all of Quayside's shaping from one veth: our root, the ingress qdisc and
/// the IFB, one step each. A foreign root is left alone.
pub(crate) fn clear_plan(
    veth: &str,
    veth_ifindex: u32,
    observed: &Observed,
) -> Result<ClearPlan, PlanError> {
    check_device_name(veth)?;
    let ifb = ifb_name(veth_ifindex)?;
    let mut plan = ApplyPlan::default();
    if observed.download.is_some() {
        plan.tc_batch.push(format!("qdisc del dev {veth} root"));
    }
    if observed.ingress_ours {
        plan.tc_batch.push(format!("qdisc del dev {veth} ingress"));
    }
    if observed.ifb_present {
        plan.cleanup_links.push(argv(&["link", "del", &ifb]));
    }
    Ok(if plan.is_empty() {
        ClearPlan::AlreadyClear
    } else {
        ClearPlan::Steps(plan)
    })
}

/// The commands of a plan as a user would type them, in the order they run.
pub(crate) fn render_commands(plan: &ApplyPlan) -> Vec<String> {
    let ip = |steps: &[Vec<String>]| -> Vec<String> {
        steps
            .iter()
            .map(|step| format!("ip {}", step.join(" ")))
            .collect()
    };
    let mut out = ip(&plan.link_steps);
    out.extend(plan.tc_batch.iter().map(|line| format!("tc {line}")));
    out.extend(ip(&plan.cleanup_links));
    out
}

/// The lines that add one direction's tree at the root of `dev`.
fn tree_lines(dev: &str, p: &DirectionProfile) -> Vec<String> {
    let mut lines = Vec::new();
    if p.rate_kbit > 0 {
        let rate = format_tc_rate(p.rate_kbit);
        let burst = htb_burst_bytes(p.rate_kbit);
        lines.push(format!(
            "qdisc add dev {dev} root handle {ROOT_HANDLE} htb default 1"
        ));
        lines.push(format!(
            "class add dev {dev} parent {ROOT_HANDLE} classid {ROOT_CLASS} htb rate {rate} \
             ceil {rate} burst {burst} cburst {burst}"
        ));
        if p.has_impairment() {
            lines.push(format!(
                "qdisc add dev {dev} parent {ROOT_CLASS} handle {NETEM_HANDLE} {}",
                netem_args(p)
            ));
        }
    } else if p.has_impairment() {
        lines.push(format!(
            "qdisc add dev {dev} root handle {ROOT_HANDLE} {}",
            netem_args(p)
        ));
    }
    lines
}

/// `netem delay 100ms 10ms 25% loss 1% ... limit N`, with only the parts that are set.
fn netem_args(p: &DirectionProfile) -> String {
    let mut words = vec!["netem".to_owned()];
    if p.delay_ms > 0.0 {
        words.push(format!("delay {}", format_tc_time(p.delay_ms)));
        if p.jitter_ms > 0.0 {
            words.push(format_tc_time(p.jitter_ms));
            if p.correlation_pct > 0.0 {
                words.push(format_tc_percent(p.correlation_pct));
            }
        }
    }
    for (word, pct) in [
        ("loss", p.loss_pct),
        ("duplicate", p.duplicate_pct),
        ("corrupt", p.corrupt_pct),
        ("reorder", p.reorder_pct),
    ] {
        if pct > 0.0 {
            words.push(format!("{word} {}", format_tc_percent(pct)));
        }
    }
    words.push(format!("limit {}", netem_limit_packets(p)));
    words.join(" ")
}

/// netem's queue length: enough packets for everything in flight during the delay (rate ×
/// (delay + jitter) in full-size packets, doubled for duplicates and small packets), at least
/// tc's default of 1000 and at most `MAX_NETEM_LIMIT`.
fn netem_limit_packets(p: &DirectionProfile) -> u64 {
    let rate_kbit = if p.rate_kbit > 0 {
        p.rate_kbit
    } else {
        ASSUMED_LINE_RATE_KBIT
    };
    let hold_secs = (p.delay_ms + p.jitter_ms) / 1000.0;
    let bytes_in_flight = rate_kbit as f64 * 125.0 * hold_secs;
    let packets = (2.0 * bytes_in_flight / FULL_PACKET_BYTES).ceil();
    if packets.is_finite() && packets > 0.0 {
        (packets as u64).clamp(MIN_NETEM_LIMIT, MAX_NETEM_LIMIT)
    } else {
        MIN_NETEM_LIMIT
    }
}

/// HTB's burst: what the rate sends in 1 ms, at least one MTU's 1600 bytes.
///
/// tc's default is one MTU, which at high rates makes HTB refill every few microseconds and
/// fall short of its rate because timers and softirqs are not that precise; 1 ms of tokens
/// absorbs that jitter while the excess over any 1 s window stays below 0.1 %.
fn htb_burst_bytes(rate_kbit: u64) -> u64 {
    (rate_kbit.saturating_mul(125) / 1000).max(MIN_HTB_BURST_BYTES)
}

/// Refuses names the kernel rejects or that would break a `tc -batch` line.
fn check_device_name(name: &str) -> Result<(), PlanError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_IFNAME_LEN {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is a path component")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "/:\"'\\#".contains(c))
    {
        Some("it holds a space, control character, quote, '/', ':', '\\' or '#'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PlanError::BadDeviceName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upload_tests;

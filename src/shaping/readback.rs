//! Reads what the kernel holds (as `tc` printed it) back into shaping profiles.
//!
//! This module owns the reading of `tc -s -j qdisc show` JSON, `tc class show` text (tc 6.1
//! prints HTB class rates only in text) and `tc -j filter show ... parent ffff:` JSON into an
//! `Observed` state: our trees per direction, a foreign root qdisc, our ingress redirect, and
//! counters. It must not run tc nor decide what to change (see `plan`). The JSON keys follow
//! iproute2 6.1 (`tc/q_netem.c`, `tc/q_htb.c`, `tc/tc_qdisc.c`, `tc/m_mirred.c`): netem times
//! are seconds, netem percentages are fractions of 1.

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::shaping::plan::{NETEM_HANDLE, ROOT_CLASS, ROOT_HANDLE};
use crate::shaping::profile::{DirectionProfile, ShapingProfile};
use crate::shaping::units::parse_tc_printed_rate_kbit;

/// Root qdisc kinds the kernel (or `net.core.default_qdisc`) puts on a device by itself, with
/// handle `0:`; such a root is not "foreign" and is replaced without asking.
const DEFAULT_ROOT_KINDS: &[&str] = &[
    "noqueue",
    "noop",
    "pfifo_fast",
    "fq_codel",
    "mq",
    "pfifo",
    "fq",
    "sfq",
    "cake",
];

/// A qdisc that Quayside did not create, as tc names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ForeignQdisc {
    /// The qdisc kind, such as `netem` or `tbf`.
    pub(crate) kind: String,
    /// The handle as tc prints it, such as `8001:`.
    pub(crate) handle: String,
}

/// Counters of one direction's tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QdiscStats {
    /// Bytes sent by the tree's root.
    pub(crate) bytes: u64,
    /// Packets sent by the tree's root.
    pub(crate) packets: u64,
    /// Packets dropped anywhere in the tree (netem's loss counts here).
    pub(crate) drops: u64,
    /// Times the rate limit held a packet back.
    pub(crate) overlimits: u64,
}

/// What tc printed for one device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeviceText<'a> {
    /// Output of `tc -s -j qdisc show dev DEV`.
    pub(crate) qdisc_json: &'a str,
    /// Output of `tc class show dev DEV`.
    pub(crate) class_text: &'a str,
}

/// Everything printed about one container's host veth and its IFB.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcSnapshot<'a> {
    /// The host-side veth's name, for messages.
    pub(crate) veth_name: &'a str,
    /// The host-side veth.
    pub(crate) veth: DeviceText<'a>,
    /// Output of `tc -j filter show dev VETH parent ffff:`; give it whenever the qdisc JSON
    /// shows an ingress qdisc, else that ingress cannot be recognised as ours.
    pub(crate) ingress_filter_json: Option<&'a str>,
    /// The name of our IFB for this veth (`plan::ifb_name`).
    pub(crate) ifb_name: &'a str,
    /// The IFB, when `ip link` shows it exists.
    pub(crate) ifb: Option<DeviceText<'a>>,
}

/// The shaping state of one container's veth as the kernel holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Observed {
    /// Our download tree (None = no tree of ours on the veth).
    pub(crate) download: Option<DirectionProfile>,
    /// Our upload tree on the IFB (None = no tree of ours there).
    pub(crate) upload: Option<DirectionProfile>,
    /// A root qdisc on the veth that Quayside did not create and that is not a default.
    pub(crate) foreign_root: Option<ForeignQdisc>,
    /// True when the veth has an ingress qdisc whose filter redirects to our IFB.
    pub(crate) ingress_ours: bool,
    /// An ingress (or clsact) qdisc on the veth that does not redirect to our IFB.
    pub(crate) foreign_ingress: Option<ForeignQdisc>,
    /// True when our IFB exists.
    pub(crate) ifb_present: bool,
    /// A non-default root on our IFB that is not our tree (it is replaced without asking).
    pub(crate) ifb_other_root: Option<ForeignQdisc>,
    /// Counters of the download tree, when tc printed them (`tc -s`).
    pub(crate) download_stats: Option<QdiscStats>,
    /// Counters of the upload tree, when tc printed them (`tc -s`).
    pub(crate) upload_stats: Option<QdiscStats>,
    /// Things that look wrong but do not stop reading (a tree without its class, ...).
    pub(crate) notes: Vec<String>,
}

impl Observed {
    /// The shaping in force, as one profile (an absent tree is an unshaped direction).
    pub(crate) fn shaping(&self) -> ShapingProfile {
        ShapingProfile {
            download: self.download.clone().unwrap_or_default(),
            upload: self.effective_upload().cloned().unwrap_or_default(),
        }
    }

    /// The upload tree only when traffic actually reaches it (the redirect is in place).
    pub(crate) fn effective_upload(&self) -> Option<&DirectionProfile> {
        self.upload.as_ref().filter(|_| self.ingress_ours)
    }
}

/// Why tc's output could not be read.
#[derive(Debug, Error)]
pub(crate) enum ReadbackError {
    #[error("cannot read tc's qdisc list for {dev}: {source}")]
    QdiscJson {
        dev: String,
        source: serde_json::Error,
    },
    #[error("cannot read tc's filter list for {dev}: {source}")]
    FilterJson {
        dev: String,
        source: serde_json::Error,
    },
    #[error("tc's batch output has no {what} list for {dev} where one was due; found \"{found}\"")]
    BatchOutput {
        dev: String,
        what: &'static str,
        found: String,
    },
    #[error("tc's class list for {dev} has no rate for class {classid}: \"{line}\"")]
    ClassLine {
        dev: String,
        classid: &'static str,
        line: String,
    },
}

/// One entry of `tc -s -j qdisc show`.
#[derive(Debug, Deserialize)]
struct QdiscEntry {
    kind: String,
    handle: String,
    #[serde(default)]
    root: bool,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    options: Value,
    /// Counters, printed only with `tc -s`.
    #[serde(default)]
    bytes: Option<u64>,
    #[serde(default)]
    packets: Option<u64>,
    #[serde(default)]
    drops: Option<u64>,
    #[serde(default)]
    overlimits: Option<u64>,
}

/// What one device's root holds.
#[derive(Debug, Default)]
struct DeviceTree {
    ours: Option<DirectionProfile>,
    other_root: Option<ForeignQdisc>,
    stats: Option<QdiscStats>,
    ingress: Option<ForeignQdisc>,
}

/// Reads a snapshot of the veth (and IFB) into the observed state.
pub(crate) fn read_observed(snapshot: &TcSnapshot<'_>) -> Result<Observed, ReadbackError> {
    let mut observed = Observed::default();

    // Download: the veth's root.
    let veth = read_device(snapshot.veth_name, &snapshot.veth, &mut observed.notes)?;
    observed.download = veth.ours;
    observed.download_stats = veth.stats;
    observed.foreign_root = veth.other_root;

    // Upload, part one: the ingress qdisc and its redirect.
    if let Some(ingress) = veth.ingress {
        let redirects = match snapshot.ingress_filter_json {
            Some(text) => redirects_to(text, snapshot.ifb_name).map_err(|source| {
                ReadbackError::FilterJson {
                    dev: snapshot.veth_name.to_owned(),
                    source,
                }
            })?,
            None => false,
        };
        if redirects && ingress.kind == "ingress" {
            observed.ingress_ours = true;
        } else {
            observed.foreign_ingress = Some(ingress);
        }
    }

    // Upload, part two: the IFB's root.
    if let Some(ifb) = &snapshot.ifb {
        observed.ifb_present = true;
        let tree = read_device(snapshot.ifb_name, ifb, &mut observed.notes)?;
        observed.upload = tree.ours;
        observed.upload_stats = tree.stats;
        observed.ifb_other_root = tree.other_root;
    }
    if observed.upload.is_some() && !observed.ingress_ours {
        observed.notes.push(format!(
            "{} holds an upload tree but the veth does not redirect to it",
            snapshot.ifb_name
        ));
    }
    Ok(observed)
}

/// The devices of `tc -j qdisc show` (all devices) whose root has our handle or that have an
/// ingress qdisc (which may be our redirect: reading its filter tells).
pub(crate) fn devices_with_our_handles(
    all_qdiscs_json: &str,
) -> Result<Vec<String>, ReadbackError> {
    #[derive(Deserialize)]
    struct Entry {
        kind: String,
        handle: String,
        #[serde(default)]
        dev: String,
        #[serde(default)]
        root: bool,
    }
    let entries: Vec<Entry> =
        serde_json::from_str(all_qdiscs_json).map_err(|source| ReadbackError::QdiscJson {
            dev: "every device".to_owned(),
            source,
        })?;
    let mut devices: Vec<String> = Vec::new();
    for entry in entries {
        let ours = (entry.root && entry.handle == ROOT_HANDLE) || entry.kind == "ingress";
        if ours && !devices.contains(&entry.dev) {
            devices.push(entry.dev);
        }
    }
    Ok(devices)
}

/// Reads one device's qdiscs and classes.
fn read_device(
    dev: &str,
    text: &DeviceText<'_>,
    notes: &mut Vec<String>,
) -> Result<DeviceTree, ReadbackError> {
    let qdiscs: Vec<QdiscEntry> =
        serde_json::from_str(text.qdisc_json).map_err(|source| ReadbackError::QdiscJson {
            dev: dev.to_owned(),
            source,
        })?;
    let mut tree = DeviceTree {
        ingress: qdiscs
            .iter()
            .find(|q| q.parent.as_deref() == Some("ffff:fff1"))
            .map(|q| ForeignQdisc {
                kind: q.kind.clone(),
                handle: q.handle.clone(),
            }),
        ..Default::default()
    };
    let Some(root) = qdiscs.iter().find(|q| q.root) else {
        return Ok(tree);
    };

    // Counters only where tc printed them (`tc -s`); a read without them has no stats.
    let mut stats = root.bytes.map(|bytes| QdiscStats {
        bytes,
        packets: root.packets.unwrap_or_default(),
        drops: root.drops.unwrap_or_default(),
        overlimits: root.overlimits.unwrap_or_default(),
    });
    match (root.handle.as_str(), root.kind.as_str()) {
        (ROOT_HANDLE, "htb") => {
            let mut profile = DirectionProfile {
                rate_kbit: class_rate_kbit(dev, text.class_text)?.unwrap_or_else(|| {
                    notes.push(format!("{dev}: our HTB root has no class {ROOT_CLASS}"));
                    0
                }),
                ..Default::default()
            };
            let child = qdiscs
                .iter()
                .find(|q| q.parent.as_deref() == Some(ROOT_CLASS) && q.kind == "netem");
            if let Some(netem) = child {
                if netem.handle != NETEM_HANDLE {
                    notes.push(format!(
                        "{dev}: netem under {ROOT_CLASS} has handle {}",
                        netem.handle
                    ));
                }
                read_netem(dev, &netem.options, &mut profile, notes);
                if let Some(stats) = &mut stats {
                    stats.drops += netem.drops.unwrap_or_default();
                    stats.overlimits += netem.overlimits.unwrap_or_default();
                }
            }
            tree.ours = Some(profile);
        }
        (ROOT_HANDLE, "netem") => {
            let mut profile = DirectionProfile::default();
            read_netem(dev, &root.options, &mut profile, notes);
            tree.ours = Some(profile);
        }
        ("0:", kind) if DEFAULT_ROOT_KINDS.contains(&kind) => return Ok(tree),
        (handle, kind) => {
            tree.other_root = Some(ForeignQdisc {
                kind: kind.to_owned(),
                handle: handle.to_owned(),
            });
            return Ok(tree);
        }
    }
    tree.stats = stats;
    Ok(tree)
}

/// The rate of our class in `tc class show` text, or None when the class is absent.
///
/// A line looks like `class htb 7173:1 root leaf 7174: prio 0 rate 2Mbit ceil 2Mbit burst
/// 1600b cburst 1600b`.
fn class_rate_kbit(dev: &str, class_text: &str) -> Result<Option<u64>, ReadbackError> {
    for line in class_text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !matches!(words.as_slice(), ["class", "htb", id, ..] if *id == ROOT_CLASS) {
            continue;
        }
        let rate = words
            .windows(2)
            .find_map(|pair| match pair {
                ["rate", value] => parse_tc_printed_rate_kbit(value),
                _ => None,
            })
            .ok_or_else(|| ReadbackError::ClassLine {
                dev: dev.to_owned(),
                classid: ROOT_CLASS,
                line: line.trim().to_owned(),
            })?;
        return Ok(Some(rate));
    }
    Ok(None)
}

/// Copies netem's options (iproute2 6.1 JSON) into `profile`.
fn read_netem(dev: &str, options: &Value, profile: &mut DirectionProfile, notes: &mut Vec<String>) {
    let seconds_to_ms = |v: Option<f64>| v.map_or(0.0, |s| (s * 1e6).round() / 1e3);
    let fraction_to_pct = |v: Option<f64>| v.map_or(0.0, |f| (f * 1e8).round() / 1e6);
    let num = |path: &[&str]| {
        let mut v = options;
        for key in path {
            v = v.get(key)?;
        }
        v.as_f64()
    };

    profile.delay_ms = seconds_to_ms(num(&["delay", "delay"]));
    profile.jitter_ms = seconds_to_ms(num(&["delay", "jitter"]));
    profile.correlation_pct = fraction_to_pct(num(&["delay", "correlation"]));
    profile.loss_pct = fraction_to_pct(num(&["loss-random", "loss"]));
    profile.duplicate_pct = fraction_to_pct(num(&["duplicate", "duplicate"]));
    profile.corrupt_pct = fraction_to_pct(num(&["corrupt", "corrupt"]));
    profile.reorder_pct = fraction_to_pct(num(&["reorder", "reorder"]));

    // Features Quayside never sets: say so rather than pretend the profile is complete.
    let unknown: Vec<&str> = ["loss-state", "loss-gemodel", "rate", "slot"]
        .into_iter()
        .filter(|key| options.get(key).is_some())
        .chain(
            options
                .get("ecn")
                .and_then(Value::as_bool)
                .filter(|on| *on)
                .map(|_| "ecn"),
        )
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "{dev}: netem also uses {}, which Quayside does not set",
            unknown.join(", ")
        ));
    }
}

/// True when the filter JSON holds a mirred redirect to `ifb_name`.
fn redirects_to(filter_json: &str, ifb_name: &str) -> Result<bool, serde_json::Error> {
    fn walk(v: &Value, ifb_name: &str) -> bool {
        match v {
            Value::Object(map) => {
                let is_redirect = map.get("kind").and_then(Value::as_str) == Some("mirred")
                    && map.get("mirred_action").and_then(Value::as_str) == Some("redirect")
                    && map.get("to_dev").and_then(Value::as_str) == Some(ifb_name);
                is_redirect || map.values().any(|child| walk(child, ifb_name))
            }
            Value::Array(items) => items.iter().any(|child| walk(child, ifb_name)),
            _ => false,
        }
    }
    let value: Value = serde_json::from_str(filter_json)?;
    Ok(walk(&value, ifb_name))
}

#[cfg(test)]
mod tests;

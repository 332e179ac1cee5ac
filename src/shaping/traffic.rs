//! Live traffic counters of a container's shaped interfaces, for the Network tab's graph.
//!
//! One sample is two read-only commands (`ip -s -j link show`, `tc -s -j qdisc show`), whatever
//! the number of interfaces: download is what left the host veth (its tx bytes, after our
//! qdisc), upload is what left Quayside's IFB (after its qdisc) or, with no IFB, what the veth
//! received. Drops are those of the root qdisc of each direction, which count its children's.
//! Counters are summed over the container's interfaces. Rates are the UI's business: it keeps
//! the history and takes differences.

use std::collections::HashMap;
use std::time::Instant;

use serde::Deserialize;

use super::ops::ShapingError;
use super::plan;
use super::report::Target;
use super::steps::checked;
use crate::privileged::Runner;

/// Counters of one container at one instant, summed over its interfaces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TrafficSample {
    pub(crate) at: Instant,
    /// Bytes delivered into the container.
    pub(crate) down_bytes: u64,
    /// Bytes sent out of the container (after upload shaping).
    pub(crate) up_bytes: u64,
    /// Packets dropped by the download tree (rate overflow and netem loss).
    pub(crate) down_drops: u64,
    /// Packets dropped by the upload tree.
    pub(crate) up_drops: u64,
}

#[derive(Deserialize)]
struct Link {
    ifname: String,
    #[serde(default)]
    stats64: Option<Stats64>,
}

#[derive(Deserialize)]
struct Stats64 {
    rx: Counter,
    tx: Counter,
}

#[derive(Deserialize)]
struct Counter {
    bytes: u64,
}

#[derive(Deserialize)]
struct Qdisc {
    dev: String,
    #[serde(default)]
    root: bool,
    #[serde(default)]
    drops: u64,
}

/// Reads one sample of `targets` on the host.
pub(crate) async fn sample(
    runner: &Runner,
    targets: &[Target],
) -> Result<TrafficSample, ShapingError> {
    let tools = runner.tools();
    let links = checked(runner, &[&tools.ip, "-s", "-j", "link", "show"]).await?;
    let qdiscs = checked(runner, &[&tools.tc, "-s", "-j", "qdisc", "show"]).await?;
    let at = Instant::now();
    sample_from(targets, &links, &qdiscs, at)
}

/// The sample that `ip -s -j link show` and `tc -s -j qdisc show` describe.
pub(crate) fn sample_from(
    targets: &[Target],
    links_json: &str,
    qdiscs_json: &str,
    at: Instant,
) -> Result<TrafficSample, ShapingError> {
    let links: Vec<Link> = serde_json::from_str(links_json).map_err(|e| ShapingError::Tool {
        command: "ip -s -j link show".to_owned(),
        words: format!("unexpected output: {e}"),
    })?;
    let qdiscs: Vec<Qdisc> = serde_json::from_str(qdiscs_json).map_err(|e| ShapingError::Tool {
        command: "tc -s -j qdisc show".to_owned(),
        words: format!("unexpected output: {e}"),
    })?;
    let stats: HashMap<&str, &Stats64> = links
        .iter()
        .filter_map(|l| l.stats64.as_ref().map(|s| (l.ifname.as_str(), s)))
        .collect();
    let root_drops = |dev: &str| -> u64 {
        qdiscs
            .iter()
            .filter(|q| q.root && q.dev == dev)
            .map(|q| q.drops)
            .sum()
    };

    let mut sample = TrafficSample {
        at,
        down_bytes: 0,
        up_bytes: 0,
        down_drops: 0,
        up_drops: 0,
    };
    for target in targets {
        let Some(veth) = stats.get(target.veth.as_str()) else {
            return Err(ShapingError::Tool {
                command: "ip -s -j link show".to_owned(),
                words: format!(
                    "{} is gone (the container restarted or stopped)",
                    target.veth
                ),
            });
        };
        sample.down_bytes += veth.tx.bytes;
        sample.down_drops += root_drops(&target.veth);
        let ifb = plan::ifb_name(target.veth_ifindex)?;
        match stats.get(ifb.as_str()) {
            Some(ifb_stats) => {
                sample.up_bytes += ifb_stats.tx.bytes;
                sample.up_drops += root_drops(&ifb);
            }
            None => sample.up_bytes += veth.rx.bytes,
        }
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(veth: &str, ifindex: u32) -> Target {
        Target {
            network: "bridge".to_owned(),
            container_if: "eth0".to_owned(),
            veth: veth.to_owned(),
            veth_ifindex: ifindex,
        }
    }

    const LINKS: &str = r#"[
      {"ifindex":7,"ifname":"veth1","stats64":{"rx":{"bytes":100},"tx":{"bytes":5000}}},
      {"ifindex":9,"ifname":"qs-ifb7","stats64":{"rx":{"bytes":90},"tx":{"bytes":80}}},
      {"ifindex":12,"ifname":"veth2","stats64":{"rx":{"bytes":300},"tx":{"bytes":700}}}
    ]"#;
    const QDISCS: &str = r#"[
      {"kind":"htb","handle":"7173:","dev":"veth1","root":true,"drops":4},
      {"kind":"netem","handle":"7174:","dev":"veth1","parent":"7173:1","drops":3},
      {"kind":"ingress","handle":"ffff:","dev":"veth1","parent":"ffff:fff1","drops":0},
      {"kind":"netem","handle":"7173:","dev":"qs-ifb7","root":true,"drops":2}
    ]"#;

    #[test]
    fn upload_is_counted_after_the_ifb_and_drops_at_each_root() {
        let at = Instant::now();
        let s = sample_from(&[target("veth1", 7)], LINKS, QDISCS, at).unwrap();
        assert_eq!(s.down_bytes, 5000);
        assert_eq!(s.up_bytes, 80);
        assert_eq!(s.down_drops, 4, "the root's drops include its children's");
        assert_eq!(s.up_drops, 2);
    }

    #[test]
    fn without_an_ifb_upload_is_what_the_veth_received_and_interfaces_add_up() {
        let at = Instant::now();
        let s = sample_from(
            &[target("veth1", 7), target("veth2", 12)],
            LINKS,
            QDISCS,
            at,
        )
        .unwrap();
        assert_eq!(s.down_bytes, 5700);
        assert_eq!(s.up_bytes, 80 + 300);
    }

    #[test]
    fn a_vanished_veth_is_an_error_not_a_zero() {
        let err = sample_from(&[target("veth9", 99)], LINKS, QDISCS, Instant::now()).unwrap_err();
        assert!(err.to_string().contains("veth9 is gone"), "{err}");
    }
}

//! Live traffic counters of a container's shaped interfaces, for the Network tab's graph.
//!
//! One sample is one unprivileged script, whatever the number of interfaces: the host's clock
//! (`/proc/uptime`) and every byte counter are read by shell builtins one right after the
//! other, so the time stamps the counters even on a busy host; then `tc -s -j qdisc show` gives
//! the drops. Download is what left the host veth (its tx bytes, after our qdisc), upload is
//! what left Quayside's IFB (after its qdisc) or, with no IFB, what the veth received. Drops are
//! those of the root qdisc of each direction, which count its children's. Counters are summed
//! over the container's interfaces. Rates are the UI's business: it keeps the history and takes
//! differences.

use std::collections::HashMap;

use serde::Deserialize;

use super::ops::ShapingError;
use super::plan;
use super::report::Target;
use super::script::{ScriptBuilder, quote};
use crate::privileged::Runner;

/// Counters of one container at one instant, summed over its interfaces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TrafficSample {
    /// When the counters were read, in seconds of the host's uptime.
    pub(crate) at_secs: f64,
    /// Bytes delivered into the container.
    pub(crate) down_bytes: u64,
    /// Bytes sent out of the container (after upload shaping).
    pub(crate) up_bytes: u64,
    /// Packets dropped by the download tree (rate overflow and netem loss).
    pub(crate) down_drops: u64,
    /// Packets dropped by the upload tree.
    pub(crate) up_drops: u64,
}

/// The byte counters of one device: received, sent.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bytes {
    rx: u64,
    tx: u64,
}

#[derive(Deserialize)]
struct Qdisc {
    dev: String,
    #[serde(default)]
    root: bool,
    #[serde(default)]
    drops: u64,
}

const COUNTERS: &str = "counters";
const QDISCS: &str = "qdiscs";

/// Reads one sample of `targets` on the host.
pub(crate) async fn sample(
    runner: &Runner,
    targets: &[Target],
) -> Result<TrafficSample, ShapingError> {
    let mut devices = Vec::new();
    for target in targets {
        devices.push(target.veth.clone());
        devices.push(plan::ifb_name(target.veth_ifindex)?);
    }
    let mut b = ScriptBuilder::new(runner.sudo());
    b.shell(COUNTERS, &counters_code(&devices), false);
    b.command(
        QDISCS,
        &[&runner.tools().tc, "-s", "-j", "qdisc", "show"],
        false,
        None,
    );
    let script = b.finish();
    let out = runner.run_script(&script.text).await?;
    let tool_error = |words: String| ShapingError::Tool {
        command: "the traffic counters script".to_owned(),
        words,
    };
    let sections = script
        .sections(&out.stdout, &out.stderr)
        .ok_or_else(|| tool_error(format!("no output: {}", out.stderr.trim())))?;
    let section = |name: &str| {
        sections
            .iter()
            .find(|s| s.name == name)
            .filter(|s| s.success())
            .ok_or_else(|| {
                let words = sections
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.stderr.trim().to_owned())
                    .unwrap_or_else(|| format!("{name} did not run"));
                tool_error(words)
            })
    };
    let counters = section(COUNTERS)?;
    let qdiscs = section(QDISCS)?;
    sample_from(targets, &counters.stdout, &qdiscs.stdout)
}

/// Shell code printing `uptime SECS` and then `DEVICE RX TX` (or `DEVICE gone`) per device,
/// with builtins only, so nothing starts between the clock and the counters.
fn counters_code(devices: &[String]) -> String {
    let mut code = String::from("read qs_up qs_idle < /proc/uptime\necho \"uptime $qs_up\"\n");
    for device in devices {
        let dir = format!("/sys/class/net/{device}/statistics");
        let (rx, tx) = (
            quote(&format!("{dir}/rx_bytes")),
            quote(&format!("{dir}/tx_bytes")),
        );
        let name = quote(device);
        code.push_str(&format!(
            "if [ -r {tx} ]; then read qs_rx < {rx}; read qs_tx < {tx}; \
             echo {name} \"$qs_rx\" \"$qs_tx\"; else echo {name} gone; fi\n"
        ));
    }
    code
}

/// The sample that the counters section and `tc -s -j qdisc show` describe.
fn sample_from(
    targets: &[Target],
    counters: &str,
    qdiscs_json: &str,
) -> Result<TrafficSample, ShapingError> {
    let bad = |words: String| ShapingError::Tool {
        command: "the traffic counters script".to_owned(),
        words,
    };
    let mut at_secs = None;
    let mut bytes: HashMap<&str, Bytes> = HashMap::new();
    for line in counters.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["uptime", secs] => at_secs = secs.parse::<f64>().ok(),
            [_, "gone"] | [] => {}
            [device, rx, tx] => {
                let (Ok(rx), Ok(tx)) = (rx.parse(), tx.parse()) else {
                    return Err(bad(format!("unexpected counters: {line}")));
                };
                bytes.insert(device, Bytes { rx, tx });
            }
            _ => return Err(bad(format!("unexpected counters: {line}"))),
        }
    }
    let at_secs = at_secs.ok_or_else(|| bad("no uptime in the counters".to_owned()))?;
    let qdiscs: Vec<Qdisc> = serde_json::from_str(qdiscs_json).map_err(|e| ShapingError::Tool {
        command: "tc -s -j qdisc show".to_owned(),
        words: format!("unexpected output: {e}"),
    })?;
    let root_drops = |dev: &str| -> u64 {
        qdiscs
            .iter()
            .filter(|q| q.root && q.dev == dev)
            .map(|q| q.drops)
            .sum()
    };

    let mut sample = TrafficSample {
        at_secs,
        down_bytes: 0,
        up_bytes: 0,
        down_drops: 0,
        up_drops: 0,
    };
    for target in targets {
        let Some(veth) = bytes.get(target.veth.as_str()) else {
            return Err(bad(format!(
                "{} is gone (the container restarted or stopped)",
                target.veth
            )));
        };
        sample.down_bytes += veth.tx;
        sample.down_drops += root_drops(&target.veth);
        let ifb = plan::ifb_name(target.veth_ifindex)?;
        match bytes.get(ifb.as_str()) {
            Some(ifb_bytes) => {
                sample.up_bytes += ifb_bytes.tx;
                sample.up_drops += root_drops(&ifb);
            }
            None => sample.up_bytes += veth.rx,
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

    const COUNTERS_TEXT: &str =
        "uptime 1234.56\nveth1 100 5000\nqs-ifb7 90 80\nveth2 300 700\nqs-ifb12 gone\n";
    const QDISCS: &str = r#"[
      {"kind":"htb","handle":"7173:","dev":"veth1","root":true,"drops":4},
      {"kind":"netem","handle":"7174:","dev":"veth1","parent":"7173:1","drops":3},
      {"kind":"ingress","handle":"ffff:","dev":"veth1","parent":"ffff:fff1","drops":0},
      {"kind":"netem","handle":"7173:","dev":"qs-ifb7","root":true,"drops":2}
    ]"#;

    #[test]
    fn upload_is_counted_after_the_ifb_and_drops_at_each_root() {
        let s = sample_from(&[target("veth1", 7)], COUNTERS_TEXT, QDISCS).unwrap();
        assert_eq!(s.at_secs, 1234.56);
        assert_eq!(s.down_bytes, 5000);
        assert_eq!(s.up_bytes, 80);
        assert_eq!(s.down_drops, 4, "the root's drops include its children's");
        assert_eq!(s.up_drops, 2);
    }

    #[test]
    fn without_an_ifb_upload_is_what_the_veth_received_and_interfaces_add_up() {
        let s = sample_from(
            &[target("veth1", 7), target("veth2", 12)],
            COUNTERS_TEXT,
            QDISCS,
        )
        .unwrap();
        assert_eq!(s.down_bytes, 5700);
        assert_eq!(s.up_bytes, 80 + 300);
    }

    #[test]
    fn a_vanished_veth_is_an_error_not_a_zero() {
        let err = sample_from(&[target("veth9", 99)], COUNTERS_TEXT, QDISCS).unwrap_err();
        assert!(err.to_string().contains("veth9 is gone"), "{err}");
    }

    #[test]
    fn the_counters_code_quotes_device_names_and_reads_with_builtins() {
        let code = counters_code(&["veth1".to_owned(), "we ird".to_owned()]);
        assert!(code.starts_with("read qs_up qs_idle < /proc/uptime"));
        assert!(code.contains("'/sys/class/net/we ird/statistics/tx_bytes'"));
        assert!(
            !code.contains("cat "),
            "no process between the clock and the counters"
        );
    }
}

//! Changes planned from the last read (the window's slider case): within one process the
//! next apply runs behind a guard that finds the kernel unchanged since that read. These tests
//! change the kernel behind Quayside's back between two applies of the same process, and
//! check that the second apply sees it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::hosts::{ProfileFile, local_entry};
use common::{TestContainer, kernel_has_netem, quayside_ok, run_ok, tc_snapshot};
use quayside::testing::ConnectedHost;

fn connect(rt: &tokio::runtime::Runtime, profile: &ProfileFile) -> ConnectedHost {
    rt.block_on(ConnectedHost::connect(&profile.path, "local"))
        .unwrap()
}

#[test]
fn k1_a_root_put_by_hand_after_an_apply_is_refused_by_the_next_apply_of_the_same_process() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let profile = ProfileFile::new(&local_entry("local"));
    let host = connect(&rt, &profile);
    let c = TestContainer::sleeper("guard-k1");
    let target = rt.block_on(host.shaping_target(&c.name)).unwrap();
    let first = rt.block_on(host.apply_rates(&target, 2000, 0)).unwrap();
    assert!(first.contains("↓2 Mbit/s"), "{first}");

    // Someone replaces the root by hand.
    let veth = c.host_veths()[0].2.clone();
    run_ok("tc", &["qdisc", "del", "dev", &veth, "root"]);
    run_ok(
        "tc",
        &[
            "qdisc", "add", "dev", &veth, "root", "handle", "8001:", "tbf", "rate", "1mbit",
            "burst", "10k", "latency", "50ms",
        ],
    );

    let err = rt
        .block_on(host.apply_rates(&target, 1000, 0))
        .expect_err("a root Quayside did not create is refused");
    assert!(
        err.contains("tbf 8001:") && err.contains("did not create"),
        "{err}"
    );
    assert!(tc_snapshot(&veth).contains("tbf 8001:"), "left alone");
}

#[test]
fn a_tree_cleared_by_another_process_is_applied_again_not_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let profile = ProfileFile::new(&local_entry("local"));
    let host = connect(&rt, &profile);
    let c = TestContainer::sleeper("guard-cleared");
    let target = rt.block_on(host.shaping_target(&c.name)).unwrap();
    rt.block_on(host.apply_rates(&target, 2000, 512)).unwrap();

    // Another process (the command line) clears the container meanwhile.
    quayside_ok(&["net", "--id", &c.id(), "--policy", "clear"]);

    let again = rt.block_on(host.apply_rates(&target, 1000, 256)).unwrap();
    assert!(again.contains("↓1 Mbit/s ↑256 kbit/s"), "{again}");
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    assert!(tc_snapshot(&veth).contains("rate 1Mbit"));
    assert!(tc_snapshot(&format!("qs-ifb{ifindex}")).contains("rate 256Kbit"));
}

#[test]
fn repeated_applies_of_one_process_each_hold_what_was_asked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let profile = ProfileFile::new(&local_entry("local"));
    let host = connect(&rt, &profile);
    let c = TestContainer::sleeper("guard-repeat");
    let target = rt.block_on(host.shaping_target(&c.name)).unwrap();
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    for (down, up) in [(2000, 512), (1000, 768), (0, 768), (3000, 0), (0, 0)] {
        let held = rt.block_on(host.apply_rates(&target, down, up)).unwrap();
        let veth_tc = tc_snapshot(&veth);
        if down > 0 {
            assert!(
                veth_tc.contains(&format!("rate {}Mbit", down / 1000)),
                "{held}: {veth_tc}"
            );
        } else {
            assert!(!veth_tc.contains("7173:"), "{held}: {veth_tc}");
        }
        let ifb_exists =
            run_ok("ip", &["-br", "link", "show"]).contains(&format!("qs-ifb{ifindex} "));
        assert_eq!(ifb_exists, up > 0, "{held}");
    }
}

#[test]
fn k10_a_guarded_change_tc_refuses_leaves_the_previous_tree_in_place() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let profile = ProfileFile::new(&local_entry("local"));
    let host = connect(&rt, &profile);
    let c = TestContainer::sleeper("guard-k10");
    let target = rt.block_on(host.shaping_target(&c.name)).unwrap();
    rt.block_on(host.apply_download(&target, 2000, 0.0))
        .unwrap();
    let veth = c.host_veths()[0].2.clone();

    let result = rt.block_on(host.apply_download(&target, 2000, 100.0));
    if kernel_has_netem() {
        assert!(result.unwrap().contains("100 ms"));
        return;
    }
    let err = result.expect_err("no netem in this kernel");
    assert!(
        err.contains("Specified qdisc kind is unknown")
            && err.contains("modprobe sch_netem")
            && err.contains("the previous shaping is in place"),
        "{err}"
    );
    assert!(
        tc_snapshot(&veth).contains("rate 2Mbit"),
        "{}",
        tc_snapshot(&veth)
    );

    // The next change of the same process reads the kernel afresh and works.
    let again = rt
        .block_on(host.apply_download(&target, 1000, 0.0))
        .unwrap();
    assert!(again.contains("↓1 Mbit/s"), "{again}");
}

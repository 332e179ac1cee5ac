//! Shaping on this machine's kernel, through the `quayside` binary: which veth is found for a
//! container on several networks, a stopped container, and IFBs outliving their container.
//! The cases K1 to K12 are in `shaping_cases.rs`; rates on the wire in `wire_rate.rs`.
//!
//! These tests change qdiscs on veths of containers they start themselves. They run one at a
//! time (a lock).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Mutex;

use common::{TestContainer, TestNetwork, docker, quayside, quayside_ok, stderr};

static SERIAL: Mutex<()> = Mutex::new(());

/// `quayside net --id CONTAINER --policy POLICY --value VALUE`.
fn net(c: &TestContainer, policy: &str, value: &str) -> std::process::Output {
    quayside(&["net", "--id", &c.id(), "--policy", policy, "--value", value])
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The interfaces `quayside net show --json` reports: (container interface, network, veth).
fn shown_interfaces(id: &str) -> Vec<(String, String, String)> {
    let report: serde_json::Value =
        serde_json::from_str(&quayside_ok(&["net", "show", "--id", id, "--json"])).unwrap();
    let mut found: Vec<_> = report["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["container_if"].as_str().unwrap().to_owned(),
                i["network"].as_str().unwrap().to_owned(),
                i["veth"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_container_on_two_networks_maps_to_two_veths_by_exact_index() {
    let _lock = serial();
    let net = TestNetwork::create("second-net");
    let c = TestContainer::sleeper("two-nets");
    docker(&["network", "connect", &net.name, &c.name]);

    let shown = shown_interfaces(&c.id());
    let truth = c.host_veths();
    assert_eq!(shown.len(), 2, "{shown:?}");
    let shown_pairs: Vec<(String, String)> = shown
        .iter()
        .map(|(i, _, v)| (i.clone(), v.clone()))
        .collect();
    let true_pairs: Vec<(String, String)> = truth
        .iter()
        .map(|(i, _, v)| (i.clone(), v.clone()))
        .collect();
    assert_eq!(
        shown_pairs, true_pairs,
        "each interface maps to the veth whose ifindex is its peer index"
    );
    let networks: Vec<&str> = shown.iter().map(|(_, n, _)| n.as_str()).collect();
    assert!(
        networks.contains(&"bridge") && networks.contains(&net.name.as_str()),
        "named by network: {networks:?}"
    );
}

#[test]
fn a_stopped_container_is_refused_as_not_running() {
    let _lock = serial();
    let c = TestContainer::sleeper("stopped-net");
    docker(&["stop", "-t", "0", &c.name]);
    let out = net(&c, "rate", "1000");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
}

#[test]
fn a_container_removed_while_upload_shaped_leaves_no_ifb_behind_the_next_apply() {
    let _lock = serial();
    let gone = TestContainer::sleeper("ifb-gone");
    quayside_ok(&[
        "net",
        "--id",
        &gone.id(),
        "--policy",
        "rate",
        "--value",
        "1000 500",
    ]);
    let (_, peer, _) = gone.host_veths()[0].clone();
    let ifb = format!("qs-ifb{peer}");
    assert!(
        common::run_ok("ip", &["-br", "link", "show"]).contains(&format!("{ifb} ")),
        "the upload has its IFB"
    );
    drop(gone);

    // The engine removed the veth; the IFB outlives it until Quayside next touches the host.
    let next = TestContainer::sleeper("ifb-next");
    quayside_ok(&[
        "net",
        "--id",
        &next.id(),
        "--policy",
        "rate",
        "--value",
        "1000",
    ]);
    assert!(
        !common::run_ok("ip", &["-br", "link", "show"]).contains(&format!("{ifb} ")),
        "the orphan IFB is gone"
    );
    quayside_ok(&["net", "--id", &next.id(), "--policy", "clear"]);
}

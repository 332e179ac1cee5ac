//! Shaping on this machine's kernel, through the `quayside` binary: which veth is found, what
//! a rate does on the wire, what happens without netem, and clearing.
//!
//! These tests change qdiscs on veths of containers they start themselves, and measure
//! transfers to ports published on 127.0.0.1. They run one at a time (a lock), so that one
//! transfer does not share the machine with another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{
    TestContainer, TestNetwork, docker, kernel_has_netem, qdiscs, quayside, quayside_ok, receiver,
    send_and_measure_kbit, stderr, stdout, tc_snapshot,
};

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

/// True when the veth carries any qdisc or filter Quayside owns.
fn has_our_tree(veth: &str) -> bool {
    let snapshot = tc_snapshot(veth);
    snapshot.contains("7173:") || snapshot.contains("7174:") || snapshot.contains("ingress")
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
fn wrong_interface_host_network_container_is_refused_with_the_reason() {
    let _lock = serial();
    let c = TestContainer::run("host-net", &["--network", "host"], &["sleep", "3600"]);
    let before = Command::new("tc")
        .args(["qdisc", "show"])
        .output()
        .unwrap()
        .stdout;
    let out = net(&c, "rate", "1000");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("shares the host's network"),
        "{}",
        stderr(&out)
    );
    let after = Command::new("tc")
        .args(["qdisc", "show"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(before, after, "no qdisc anywhere on the host changed");
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
fn several_containers_on_one_network_only_the_chosen_one_is_shaped() {
    let _lock = serial();
    let net = TestNetwork::create("shared-net");
    let first = TestContainer::run("shared-a", &["--network", &net.name], &["sleep", "3600"]);
    let second = TestContainer::run("shared-b", &["--network", &net.name], &["sleep", "3600"]);
    quayside_ok(&[
        "net",
        "--id",
        &first.id(),
        "--policy",
        "rate",
        "--value",
        "1000",
    ]);
    let first_veth = first.host_veths()[0].2.clone();
    let second_veth = second.host_veths()[0].2.clone();
    assert!(has_our_tree(&first_veth));
    assert!(
        !has_our_tree(&second_veth),
        "the other container's veth is untouched"
    );
    quayside_ok(&["net", "--id", &first.id(), "--policy", "clear"]);
}

#[test]
fn download_rate_measured_on_the_wire_then_clear_unshapes() {
    let _lock = serial();
    let (c, port) = receiver("rate-wire");
    let veth = c.host_veths()[0].2.clone();

    let out = quayside_ok(&[
        "net",
        "--id",
        &c.id(),
        "--policy",
        "rate",
        "--value",
        "2000",
    ]);
    assert!(
        out.contains("↓2 Mbit/s"),
        "the read-back shows the rate: {out}"
    );
    let set_kbit = 2000.0;
    let goodput = send_and_measure_kbit(port, 2_000_000);
    let ratio = goodput / set_kbit;
    eprintln!("2 Mbit/s download: goodput {goodput:.0} kbit/s, ratio {ratio:.3}");
    assert!(
        (0.9..=1.0).contains(&ratio),
        "goodput {goodput:.0} kbit/s is {ratio:.3} of the set rate"
    );

    let out = quayside_ok(&["net", "--id", &c.id(), "--policy", "clear"]);
    assert!(out.contains("shaping cleared"), "{out}");
    assert!(
        !has_our_tree(&veth),
        "tc shows no tree of ours: {}",
        tc_snapshot(&veth)
    );
    let unshaped = send_and_measure_kbit(port, 20_000_000);
    eprintln!("after clear: {unshaped:.0} kbit/s");
    assert!(
        unshaped > 20.0 * set_kbit,
        "after Clear the transfer is unshaped again ({unshaped:.0} kbit/s)"
    );
}

#[test]
fn clear_twice_both_succeed_and_say_already_clear() {
    let _lock = serial();
    let c = TestContainer::sleeper("clear-twice");
    for _ in 0..2 {
        let out = quayside_ok(&["net", "--id", &c.id(), "--policy", "clear"]);
        assert!(out.contains("already clear"), "{out}");
    }
    let shown = quayside_ok(&["net", "show", "--id", &c.id()]);
    assert!(shown.contains("no shaping"), "{shown}");
}

#[test]
fn netem_missing_delay_fails_with_the_kernels_words_and_leaves_the_veth_as_before() {
    let _lock = serial();
    let c = TestContainer::sleeper("netem");
    let veth = c.host_veths()[0].2.clone();
    // A rate first, so that there is a tree of ours that must survive the failed change.
    quayside_ok(&[
        "net",
        "--id",
        &c.id(),
        "--policy",
        "rate",
        "--value",
        "1500",
    ]);
    let before = tc_snapshot(&veth);

    let out = quayside(&[
        "net",
        "--id",
        &c.id(),
        "--policy",
        "delay",
        "--value",
        "100ms 10ms",
    ]);
    if kernel_has_netem() {
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("100±10 ms"), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("1.5 Mbit/s"),
            "the rate is kept: {}",
            stdout(&out)
        );
    } else {
        assert!(!out.status.success(), "a delay without netem must fail");
        let err = stderr(&out);
        assert!(
            err.contains("Specified qdisc kind is unknown"),
            "tc's own words: {err}"
        );
        assert!(err.contains("modprobe sch_netem"), "the fix: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert_eq!(
            tc_snapshot(&veth),
            before,
            "the veth holds exactly what it held before"
        );
        let shown = quayside_ok(&["net", "show", "--id", &c.id()]);
        assert!(shown.contains("↓1.5 Mbit/s"), "{shown}");
    }
    quayside_ok(&["net", "--id", &c.id(), "--policy", "clear"]);
}

#[test]
fn bad_values_are_refused_before_anything_touches_the_host() {
    let _lock = serial();
    let c = TestContainer::sleeper("bad-values");
    let veth = c.host_veths()[0].2.clone();
    let before = tc_snapshot(&veth);
    for (policy, value) in [
        ("loss", "150%"),
        ("rate", "fast"),
        ("delay", "-5ms"),
        ("reorder", "25%"),
        ("clear", "now"),
    ] {
        let out = quayside(&["net", "--id", &c.id(), "--policy", policy, "--value", value]);
        assert!(!out.status.success(), "{policy} {value} must be refused");
        assert!(!stderr(&out).trim().is_empty());
        assert_eq!(
            tc_snapshot(&veth),
            before,
            "{policy} {value} changed nothing"
        );
    }
    let out = quayside(&[
        "net",
        "--id",
        &c.id(),
        "--policy",
        "reorder",
        "--value",
        "25%",
    ]);
    assert!(stderr(&out).contains("needs a delay"), "{}", stderr(&out));
}

#[test]
fn sudo_that_wants_a_password_fails_at_once_with_the_hint() {
    let _lock = serial();
    let Ok(user) = std::env::var("QS_LAB_USER") else {
        panic!("QS_LAB_USER is not set: run the tests through lab/test.sh, which makes that user");
    };
    let c = TestContainer::sleeper("sudo");
    let started = Instant::now();
    let out = Command::new("setpriv")
        .args(["--reuid", &user, "--regid", &user, "--init-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_quayside"))
        .args([
            "net",
            "--id",
            &c.id(),
            "--policy",
            "rate",
            "--value",
            "1000",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("sudo wants a password") && err.contains("NOPASSWD"),
        "{err}"
    );
    assert!(
        err.contains("tc, ip and nsenter"),
        "names the commands: {err}"
    );
    // Never a hang: sudo -n answers at once; a generous bound only catches a wait for input.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        qdiscs(&c.host_veths()[0].2).to_string().contains("noqueue"),
        "nothing changed"
    );
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

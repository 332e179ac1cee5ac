//! The preflight of a host (`quayside net preflight`): on this machine (no netem), on the
//! lab's QEMU guest (netem), and as a lab user whose sudo wants a password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::hosts::{ProfileFile, env, lab_host_entry, ssh_entry};
use common::{kernel_has_netem, quayside_ok, run_ok, wait_until};
use quayside::testing::ConnectedHost;
use serde_json::Value;

/// `quayside [ARGS] net preflight --host HOST --json`, parsed.
fn preflight_json(args: &[&str], host: &str) -> Value {
    let mut all = args.to_vec();
    all.extend(["net", "preflight", "--host", host, "--json"]);
    serde_json::from_str(&quayside_ok(&all)).unwrap()
}

fn probe_devices() -> Vec<String> {
    run_ok("ip", &["-br", "link", "show"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("qs-probe"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn local_preflight_has_tc_privileges_and_ifb_names_netems_absence_and_leaves_no_probe() {
    let before = probe_devices();
    let answer = preflight_json(&[], "local");
    assert_eq!(answer["tc"]["state"], "available", "{answer}");
    assert_eq!(answer["privileges"]["state"], "available", "{answer}");
    assert_eq!(answer["ifb"]["state"], "available", "{answer}");
    if kernel_has_netem() {
        assert_eq!(answer["netem"]["state"], "available", "{answer}");
    } else {
        // K10: the kernel's own words, and the fix.
        assert_eq!(answer["netem"]["state"], "missing", "{answer}");
        assert_eq!(
            answer["netem"]["reason"], "Error: Specified qdisc kind is unknown.",
            "{answer}"
        );
        let fix = answer["netem"]["fix"].as_str().unwrap();
        assert!(
            fix.contains("modprobe sch_netem") && fix.contains("extra modules"),
            "{fix}"
        );
    }
    // Other preflights (other tests, other windows) make probes of their own for a few
    // milliseconds; none of this one's may stay (a probe that was there before is not ours).
    let new_probes = || -> Vec<String> {
        probe_devices()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(2), || new_probes().is_empty()),
        "left behind: {:?}",
        new_probes()
    );
}

#[test]
fn local_preflight_prints_one_line_per_capability() {
    let out = quayside_ok(&["net", "preflight", "--host", "local"]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("local: "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["tc", "privileges", "ifb", "netem"], "{out}");
}

#[test]
fn the_netem_guest_has_every_capability() {
    let port: u16 = env("QS_NETEM_PORT").parse().unwrap();
    let profile = ProfileFile::new(&ssh_entry(
        "guest",
        port,
        &env("QS_NETEM_USER"),
        &env("QS_NETEM_KEY"),
        &env("QS_NETEM_KNOWN_HOSTS"),
    ));
    let answer = preflight_json(&["--hosts", profile.arg()], "guest");
    for name in ["tc", "privileges", "ifb", "netem"] {
        assert_eq!(answer[name]["state"], "available", "{name}: {answer}");
    }
}

#[test]
fn a_user_whose_sudo_wants_a_password_lacks_privileges_and_hears_so_within_a_second() {
    let profile = ProfileFile::new(&lab_host_entry("nosudo", 1, &env("QS_LAB_USER")));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let host = rt
        .block_on(ConnectedHost::connect(&profile.path, "nosudo"))
        .unwrap();
    let start = Instant::now();
    let answer: Value = serde_json::from_str(&rt.block_on(host.preflight_json()).unwrap()).unwrap();
    let took = start.elapsed();

    // K12: sudo -n never waits for a password.
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(answer["tc"]["state"], "available", "{answer}");
    assert_eq!(answer["privileges"]["state"], "missing", "{answer}");
    assert_eq!(
        answer["privileges"]["reason"], "sudo: a password is required",
        "{answer}"
    );
    let fix = answer["privileges"]["fix"].as_str().unwrap();
    assert!(fix.contains("NOPASSWD") && fix.contains("nsenter"), "{fix}");
    assert_eq!(answer["ifb"]["state"], "missing", "{answer}");
    assert_eq!(answer["netem"]["state"], "missing", "{answer}");
}

//! The lab's netem-capable host (a QEMU guest reached over SSH on loopback, with its own
//! Docker engine) as a Quayside host: listing and container lifecycle. What netem does there
//! on the wire is in `wire_netem.rs`; the K cases that need netem are in `shaping_cases.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::guest::{self, GuestContainer, guest};
use common::quayside_ok;

#[test]
fn the_netem_hosts_own_engine_lists_and_runs_lifecycle_over_ssh() {
    let profile = guest::profile();
    let c = GuestContainer::sleeper("netem-life");
    let state = || {
        guest(&format!(
            "docker inspect -f '{{{{.State.Status}}}}' {}",
            c.name
        ))
    };
    let listed = quayside_ok(&["--hosts", profile.arg(), "ps", "-a", "--json"]);
    let hosts: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let names: Vec<&str> = hosts[0]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&c.name.as_str()),
        "the guest's engine lists its container: {names:?}"
    );

    let id = c.id();
    quayside_ok(&["--hosts", profile.arg(), "stop", "--id", &id]);
    assert_eq!(state(), "exited");
    quayside_ok(&["--hosts", profile.arg(), "start", "--id", &id]);
    assert_eq!(state(), "running");
    quayside_ok(&["--hosts", profile.arg(), "restart", "--id", &id]);
    assert_eq!(state(), "running");
}

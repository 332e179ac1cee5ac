//! Impairments on a host whose kernel has netem: the lab's QEMU guest, reached over SSH on
//! loopback, with its own Docker engine. The delay Quayside sets is measured as added round
//! trip time inside the guest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;

use common::hosts::{ProfileFile, env, ssh_entry};
use common::{quayside, quayside_ok, stderr, unique_name};

/// Runs a shell command in the guest over ssh; fails the test unless it succeeds.
fn guest(command: &str) -> String {
    let out = Command::new("ssh")
        .args([
            "-q",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            env("QS_NETEM_KNOWN_HOSTS")
        ))
        .args(["-i", &env("QS_NETEM_KEY"), "-p", &env("QS_NETEM_PORT")])
        .arg(format!("{}@127.0.0.1", env("QS_NETEM_USER")))
        .arg(command)
        .output()
        .expect("ssh runs");
    assert!(
        out.status.success(),
        "guest `{command}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A container in the guest, removed when dropped.
struct GuestContainer {
    name: String,
}

impl GuestContainer {
    fn sleeper(word: &str) -> Self {
        let name = unique_name(word);
        guest(&format!(
            "docker run -d --name {name} --label quayside.lab=1 quayside-lab/busybox:latest sleep 3600"
        ));
        Self { name }
    }

    fn ip(&self) -> String {
        guest(&format!(
            "docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}{{{{end}}}}' {}",
            self.name
        ))
    }
}

impl Drop for GuestContainer {
    fn drop(&mut self) {
        let _ =
            std::panic::catch_unwind(|| guest(&format!("docker rm -f {} >/dev/null", self.name)));
    }
}

/// The average round trip time to `ip` from the guest, in ms.
fn average_rtt_ms(ip: &str, count: u32) -> f64 {
    let summary = guest(&format!("ping -q -c {count} -i 0.2 {ip} | tail -1"));
    // rtt min/avg/max/mdev = 0.051/0.062/0.080/0.010 ms
    let numbers = summary.split('=').nth(1).expect("a ping summary").trim();
    numbers
        .split('/')
        .nth(1)
        .expect("an average")
        .parse()
        .expect("a number")
}

fn netem_profile() -> ProfileFile {
    let port: u16 = env("QS_NETEM_PORT").parse().unwrap();
    ProfileFile::new(&ssh_entry(
        "netem",
        port,
        &env("QS_NETEM_USER"),
        &env("QS_NETEM_KEY"),
        &env("QS_NETEM_KNOWN_HOSTS"),
    ))
}

#[test]
fn a_download_delay_of_100_ms_adds_at_least_90_ms_of_round_trip_time() {
    let profile = netem_profile();
    let c = GuestContainer::sleeper("netem-delay");
    let ip = c.ip();
    let baseline = average_rtt_ms(&ip, 10);

    let id = format!("netem:{}", c.name);
    let out = quayside(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "delay",
        "--value",
        "100ms",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        common::stdout(&out).contains("↓100 ms"),
        "read-back: {}",
        common::stdout(&out)
    );

    let delayed = average_rtt_ms(&ip, 20);
    let added = delayed - baseline;
    eprintln!(
        "netem delay 100 ms: baseline {baseline:.2} ms, with delay {delayed:.2} ms, added {added:.2} ms"
    );
    assert!(added >= 90.0, "added RTT {added:.2} ms");
    assert!(
        added <= 150.0,
        "added RTT {added:.2} ms is far above the set delay"
    );

    let out = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "clear",
    ]);
    assert!(out.contains("shaping cleared"), "{out}");
    let after = average_rtt_ms(&ip, 10);
    assert!(
        after < baseline + 20.0,
        "after Clear the delay is gone ({after:.2} ms)"
    );
}

#[test]
fn loss_after_delay_keeps_the_delay_in_one_netem() {
    // Two effects applied one after the other combine into one tree.
    let profile = netem_profile();
    let c = GuestContainer::sleeper("netem-combine");
    let id = format!("netem:{}", c.name);
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "delay",
        "--value",
        "100ms",
    ]);
    let out = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "loss",
        "--value",
        "30%",
    ]);
    assert!(out.contains("100 ms") && out.contains("30% loss"), "{out}");
    let veth_qdiscs = guest(&format!(
        "pid=$(docker inspect -f '{{{{.State.Pid}}}}' {name}); \
         peer=$(nsenter -t $pid -n ip -j link show eth0 | sed 's/.*\"link_index\":\\([0-9]*\\).*/\\1/'); \
         dev=$(ip -j link show | tr '}}' '\\n' | grep \"\\\"ifindex\\\":$peer,\" | sed 's/.*\"ifname\":\"\\([^\"]*\\)\".*/\\1/'); \
         tc qdisc show dev $dev",
        name = c.name
    ));
    assert_eq!(
        veth_qdiscs.matches("netem").count(),
        1,
        "one netem: {veth_qdiscs}"
    );
    assert!(
        veth_qdiscs.contains("delay 100ms") && veth_qdiscs.contains("loss 30%"),
        "{veth_qdiscs}"
    );
}

#[test]
fn the_netem_hosts_own_engine_lists_and_runs_lifecycle_over_ssh() {
    let profile = netem_profile();
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

    let id = format!("netem:{}", c.name);
    quayside_ok(&["--hosts", profile.arg(), "stop", "--id", &id]);
    assert_eq!(state(), "exited");
    quayside_ok(&["--hosts", profile.arg(), "start", "--id", &id]);
    assert_eq!(state(), "running");
    quayside_ok(&["--hosts", profile.arg(), "restart", "--id", &id]);
    assert_eq!(state(), "running");
}

//! Hosts reached over SSH, through the `quayside` binary: the lab's sshd hosts on loopback
//! (the last one refuses socket forwarding, so Docker goes through `docker system dial-stdio`),
//! their host keys, their sudo, and shaping measured on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::hosts::{ProfileFile, env, lab_host_entry, local_entry, ssh_entry};
use common::{
    TestContainer, quayside, quayside_ok, receiver, send_and_measure_kbit, stderr, tc_snapshot,
};

/// The three lab SSH hosts as lab-1, lab-2 and lab-3, logged in as the lab user.
fn lab_profile() -> ProfileFile {
    let user = env("QS_SSH_USER");
    let hosts: u16 = env("QS_SSH_HOSTS").parse().unwrap();
    let text: String = (1..=hosts)
        .map(|i| lab_host_entry(&format!("lab-{i}"), i, &user))
        .collect();
    ProfileFile::new(&text)
}

fn names_by_host(json: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    let hosts: serde_json::Value = serde_json::from_str(json).unwrap();
    hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().to_owned(),
                h["error"].as_str().map(str::to_owned),
                h["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn every_lab_host_lists_over_ssh_including_the_one_that_refuses_socket_forwarding() {
    let profile = lab_profile();
    let c = TestContainer::sleeper("ssh-list");
    let listed = names_by_host(&quayside_ok(&[
        "--hosts",
        profile.arg(),
        "ps",
        "-a",
        "--json",
    ]));
    assert_eq!(listed.len(), env("QS_SSH_HOSTS").parse::<usize>().unwrap());
    for (host, error, names) in &listed {
        assert_eq!(error, &None, "{host} answered");
        assert!(names.contains(&c.name), "{host} lists {}", c.name);
    }
}

#[test]
fn lifecycle_works_through_each_lab_host() {
    let profile = lab_profile();
    let c = TestContainer::sleeper("ssh-lifecycle");
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "stop",
        "--id",
        &format!("lab-1:{}", c.name),
    ]);
    assert_eq!(c.state(), "exited");
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "start",
        "--id",
        &format!("lab-3:{}", c.name),
    ]);
    assert_eq!(c.state(), "running");
    let pid = c.pid();
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "restart",
        "--id",
        &format!("lab-2:{}", c.name),
    ]);
    assert_ne!(c.pid(), pid);
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "rm",
        "--force",
        "--id",
        &format!("lab-3:{}", c.name),
    ]);
    let gone = std::process::Command::new("docker")
        .args(["inspect", &c.name])
        .output()
        .unwrap();
    assert!(!gone.status.success());
}

#[test]
fn download_rate_on_a_remote_host_measured_on_the_wire() {
    let profile = lab_profile();
    let (c, port) = receiver("ssh-rate");
    let id = format!("lab-1:{}", c.name);
    let out = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "rate",
        "--value",
        "2000",
    ]);
    assert!(out.contains("↓2 Mbit/s"), "{out}");
    let goodput = send_and_measure_kbit(port, 2_000_000);
    let ratio = goodput / 2000.0;
    eprintln!("2 Mbit/s set over SSH: goodput {goodput:.0} kbit/s, ratio {ratio:.3}");
    assert!((0.9..=1.0).contains(&ratio), "ratio {ratio:.3}");
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "clear",
    ]);
    assert!(!tc_snapshot(&c.host_veths()[0].2).contains("7173:"));
}

#[test]
fn an_unknown_host_key_is_refused_by_the_cli_with_its_fingerprint() {
    let empty = std::env::temp_dir().join(common::unique_name("known_hosts"));
    std::fs::write(&empty, "").unwrap();
    let base: u16 = env("QS_SSH_BASE_PORT").parse().unwrap();
    let profile = ProfileFile::new(&ssh_entry(
        "fresh",
        base,
        &env("QS_SSH_USER"),
        &env("QS_SSH_KEY"),
        empty.to_str().unwrap(),
    ));
    let out = quayside(&["--hosts", profile.arg(), "ps"]);
    let text = common::stdout(&out);
    assert!(text.contains("fresh: error:"), "{text}");
    assert!(
        text.contains("SHA256:") && text.contains("ssh-keyscan"),
        "fingerprint and how to trust it: {text}"
    );
    assert_eq!(
        std::fs::read_to_string(&empty).unwrap(),
        "",
        "the CLI never writes known_hosts"
    );
    std::fs::remove_file(&empty).ok();
}

#[test]
fn a_changed_host_key_is_refused_with_its_own_words() {
    // known_hosts says host 1's port has host 2's key: the key the server shows has changed.
    let base: u16 = env("QS_SSH_BASE_PORT").parse().unwrap();
    let lines = std::fs::read_to_string(env("QS_SSH_KNOWN_HOSTS")).unwrap();
    let second_key = lines
        .lines()
        .nth(1)
        .unwrap()
        .split_once(' ')
        .unwrap()
        .1
        .to_owned();
    let forged = std::env::temp_dir().join(common::unique_name("known_hosts"));
    std::fs::write(&forged, format!("[127.0.0.1]:{base} {second_key}\n")).unwrap();
    let profile = ProfileFile::new(&ssh_entry(
        "moved",
        base,
        &env("QS_SSH_USER"),
        &env("QS_SSH_KEY"),
        forged.to_str().unwrap(),
    ));
    let out = quayside(&["--hosts", profile.arg(), "ps"]);
    let text = common::stdout(&out);
    assert!(text.contains("has CHANGED"), "{text}");
    assert!(
        !text.contains("not known yet"),
        "distinct from an unknown key: {text}"
    );
    std::fs::remove_file(&forged).ok();
}

#[test]
fn a_remote_user_without_nopasswd_sudo_fails_fast_with_the_hint() {
    let profile = ProfileFile::new(&lab_host_entry("nosudo", 1, &env("QS_LAB_USER")));
    let c = TestContainer::sleeper("ssh-nosudo");
    let started = Instant::now();
    let out = quayside(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &format!("nosudo:{}", c.name),
        "--policy",
        "rate",
        "--value",
        "1000",
    ]);
    let took = started.elapsed();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("NOPASSWD") && err.contains("tc, ip and nsenter"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "never a hang: {took:?}");
}

#[test]
fn a_closed_port_fails_its_own_line_and_the_other_hosts_still_list() {
    let c = TestContainer::sleeper("ssh-closed");
    let closed = common::free_port();
    let text = format!(
        "{}{}{}",
        local_entry("here"),
        ssh_entry(
            "gone",
            closed,
            "nobody",
            &env("QS_SSH_KEY"),
            &env("QS_SSH_KNOWN_HOSTS")
        ),
        lab_host_entry("lab-1", 1, &env("QS_SSH_USER"))
    );
    let profile = ProfileFile::new(&text);
    let started = Instant::now();
    let listed = names_by_host(&quayside_ok(&["--hosts", profile.arg(), "ps", "--json"]));
    eprintln!("three hosts, one closed, listed in {:?}", started.elapsed());
    let gone = listed.iter().find(|(h, _, _)| h == "gone").unwrap();
    assert!(
        gone.1.as_deref().is_some_and(|e| e.contains("refused")),
        "{gone:?}"
    );
    for host in ["here", "lab-1"] {
        let (_, error, names) = listed.iter().find(|(h, _, _)| h == host).unwrap();
        assert_eq!(error, &None);
        assert!(names.contains(&c.name), "{host}");
    }
}

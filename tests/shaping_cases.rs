//! The failures seen in other container-shaping tools (cases K1 to K12), each checked against
//! the real Docker engine and the real kernel's tc through the `quayside` binary.
//!
//! Cases that need netem (K1, K2, the tc form of K9) run on the lab's QEMU guest, whose kernel
//! has it; everything else runs on this machine, whose kernel has no netem (which is K10).
//! The tests run one at a time (a lock), so that a transfer does not share the machine or the
//! slow guest with another test of this file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::guest::{self, GuestContainer, guest};
use common::hosts::{ProfileFile, lab_host_entry};
use common::wire::{Direction, measure_local};
use common::{
    TestContainer, TestNetwork, docker, kernel_has_netem, quayside, quayside_ok, run_ok, stderr,
    stdout, tc_snapshot,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `quayside net --id ID ARGS...` with the default profile (the local engine as `local`).
fn net(id: &str, args: &[&str]) -> Output {
    let mut all = vec!["net", "--id", id];
    all.extend_from_slice(args);
    quayside(&all)
}

/// `quayside --hosts PROFILE net --id ID ARGS...`.
fn net_on(profile: &ProfileFile, id: &str, args: &[&str]) -> Output {
    let mut all = vec!["--hosts", profile.arg(), "net", "--id", id];
    all.extend_from_slice(args);
    quayside(&all)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "quayside failed: {}{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// `quayside net show --id ID --json`, parsed.
fn shown_json(id: &str) -> serde_json::Value {
    serde_json::from_str(&quayside_ok(&["net", "show", "--id", id, "--json"])).unwrap()
}

/// True when the device carries a qdisc, class or filter Quayside owns.
fn has_our_tree(dev: &str) -> bool {
    let snapshot = tc_snapshot(dev);
    snapshot.contains("7173:") || snapshot.contains("7174:") || snapshot.contains("ingress")
}

/// Every qdisc on this machine, one line each, leaving out the lines of `skip` devices.
fn qdiscs_except(skip: &[&str]) -> Vec<String> {
    run_ok("tc", &["qdisc", "show"])
        .lines()
        .filter(|line| {
            !skip
                .iter()
                .any(|dev| line.contains(&format!(" dev {dev} ")))
        })
        .map(str::to_owned)
        .collect()
}

/// Names of this machine's interfaces.
fn host_links() -> String {
    run_ok("ip", &["-br", "link", "show"])
}

/// A veth pair made by the test with chosen ifindexes, deleted when dropped.
struct DecoyVeths {
    name: String,
}

impl DecoyVeths {
    fn create(name: &str, index: u64, peer: &str, peer_index: u64) -> Self {
        run_ok(
            "ip",
            &[
                "link",
                "add",
                name,
                "index",
                &index.to_string(),
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "index",
                &peer_index.to_string(),
            ],
        );
        Self {
            name: name.to_owned(),
        }
    }
}

impl Drop for DecoyVeths {
    fn drop(&mut self) {
        Command::new("ip")
            .args(["link", "del", &self.name])
            .output()
            .ok();
    }
}

#[test]
fn k1_foreign_root_qdisc_is_named_and_left_alone_unless_replaced() {
    // Input: the veth holds a hand-made `netem delay 50ms` root; the user asks for 100 ms.
    // Right: refused, naming the foreign qdisc, 50 ms still in place; replaced on request,
    // after which tc holds one netem with 100 ms and nothing of the 50 ms.
    let _lock = serial();
    let profile = guest::profile();
    let c = GuestContainer::sleeper("k1-foreign");
    let veth = c.veth();
    guest(&format!("tc qdisc add dev {veth} root netem delay 50ms"));
    let before = c.veth_qdiscs();

    let out = net_on(
        &profile,
        &c.id(),
        &["--policy", "delay", "--value", "100ms"],
    );
    assert!(!out.status.success(), "a foreign root must stop the apply");
    let err = stderr(&out);
    assert!(
        err.contains("netem") && err.contains("did not create") && err.contains(&veth),
        "names the foreign root and its veth: {err}"
    );
    assert_eq!(c.veth_qdiscs(), before, "the foreign root is untouched");

    let shown = ok(&quayside(&[
        "--hosts",
        profile.arg(),
        "net",
        "show",
        "--id",
        &c.id(),
    ]));
    assert!(
        shown.contains("root qdisc netem") && shown.contains("not created by Quayside"),
        "the read-back names it: {shown}"
    );

    let out = ok(&net_on(
        &profile,
        &c.id(),
        &["--policy", "delay", "--value", "100ms", "--replace-foreign"],
    ));
    assert!(out.contains("↓100 ms"), "read-back: {out}");
    let after = c.veth_qdiscs();
    assert_eq!(after.matches("netem").count(), 1, "one netem: {after}");
    assert!(
        after.contains("delay 100ms") && !after.contains("50ms"),
        "only the new delay: {after}"
    );
}

#[test]
fn k2_loss_after_delay_keeps_the_delay_in_one_netem() {
    // Input: delay 100 ms, then, separately, loss 30 %. Right: one netem holding both.
    let _lock = serial();
    let profile = guest::profile();
    let c = GuestContainer::sleeper("k2-combine");
    ok(&net_on(
        &profile,
        &c.id(),
        &["--policy", "delay", "--value", "100ms"],
    ));
    let out = ok(&net_on(
        &profile,
        &c.id(),
        &["--policy", "loss", "--value", "30%", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let down = &report["interfaces"][0]["download"];
    assert_eq!(down["delay_ms"].as_f64(), Some(100.0), "{out}");
    assert_eq!(down["loss_pct"].as_f64(), Some(30.0), "{out}");
    let qdiscs = c.veth_qdiscs();
    assert_eq!(qdiscs.matches("netem").count(), 1, "one netem: {qdiscs}");
    assert!(
        qdiscs.contains("delay 100ms") && qdiscs.contains("loss 30%"),
        "{qdiscs}"
    );
}

#[test]
fn k3_wrong_interface_host_network_is_refused_and_a_bridge_is_never_a_target() {
    // (a) Input: a container on the host network. Right: refused with the reason, no qdisc
    // anywhere changed.
    let _lock = serial();
    let host_net = TestContainer::run("k3-host-net", &["--network", "host"], &["sleep", "3600"]);
    let before = run_ok("tc", &["qdisc", "show"]);
    let out = net(&host_net.id(), &["--policy", "rate", "--value", "1000"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("shares the host's network"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        run_ok("tc", &["qdisc", "show"]),
        before,
        "no qdisc on the host changed"
    );

    // (b) Input: a container on a user-defined bridge. Right: the target is its own veth; the
    // bridge and every other interface keep their qdiscs.
    let network = TestNetwork::create("k3-bridge");
    let c = TestContainer::run(
        "k3-bridged",
        &["--network", &network.name],
        &["sleep", "3600"],
    );
    let (_, peer, veth) = c.host_veths()[0].clone();
    let ifb = format!("qs-ifb{peer}");
    let others_before = qdiscs_except(&[&veth, &ifb]);
    let out = ok(&net(
        &c.id(),
        &["--policy", "rate", "--value", "1000 500", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let interfaces = report["interfaces"].as_array().unwrap();
    assert_eq!(interfaces.len(), 1, "{out}");
    assert_eq!(interfaces[0]["veth"].as_str(), Some(veth.as_str()));
    assert_eq!(
        interfaces[0]["network"].as_str(),
        Some(network.name.as_str())
    );
    let kind = run_ok("ip", &["-d", "-j", "link", "show", "dev", &veth]);
    assert!(kind.contains("\"info_kind\":\"veth\""), "a veth: {kind}");
    assert!(has_our_tree(&veth));
    assert_eq!(
        qdiscs_except(&[&veth, &ifb]),
        others_before,
        "the bridge and every other interface are untouched"
    );
    ok(&net(&c.id(), &["--policy", "clear"]));
}

#[test]
fn k4_of_two_containers_on_one_network_only_the_limited_one_is_shaped_or_slowed() {
    // Input: two containers on one network, a 1 Mbit/s download limit on the first.
    // Right: the second's veth carries nothing and a transfer into it runs unshaped.
    let _lock = serial();
    let network = TestNetwork::create("k4-shared");
    let first = TestContainer::run("k4-a", &["--network", &network.name], &["sleep", "3600"]);
    let second = TestContainer::run("k4-b", &["--network", &network.name], &["sleep", "3600"]);
    let second_veth = second.host_veths()[0].2.clone();
    let second_before = tc_snapshot(&second_veth);

    ok(&net(&first.id(), &["--policy", "rate", "--value", "1000"]));
    assert!(has_our_tree(&first.host_veths()[0].2));
    assert_eq!(
        tc_snapshot(&second_veth),
        second_before,
        "the other container's veth is untouched"
    );
    let other = measure_local(second.pid(), Direction::Download, 4_000_000);
    eprintln!(
        "k4: into the unlimited neighbour {:.0} kbit/s",
        other.goodput_kbit
    );
    assert!(
        other.goodput_kbit > 20_000.0,
        "the neighbour is not slowed: {:.0} kbit/s",
        other.goodput_kbit
    );
    ok(&net(&first.id(), &["--policy", "clear"]));
}

#[test]
fn k5_peer_index_is_matched_as_an_integer() {
    // Input: the container's eth0 peers with host ifindex P, and the host also has veths whose
    // ifindex holds P's digits (P·10+1, 7·10^k+P). Right: exactly ifindex P is shaped.
    let _lock = serial();
    let c = TestContainer::sleeper("k5-index");
    let (_, peer, veth) = c.host_veths()[0].clone();
    let digits = peer.to_string().len() as u32;
    let longer = peer * 10 + 1;
    let prefixed = 7 * 10u64.pow(digits) + peer;
    let word = std::process::id() % 100_000;
    let decoy = DecoyVeths::create(
        &format!("qsk5a{word}"),
        longer,
        &format!("qsk5b{word}"),
        prefixed,
    );
    let decoy_peer = format!("qsk5b{word}");
    assert!(host_links().contains(&decoy.name));

    let out = ok(&net(
        &c.id(),
        &["--policy", "rate", "--value", "1000 500", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let interfaces = report["interfaces"].as_array().unwrap();
    assert_eq!(interfaces.len(), 1, "{out}");
    assert_eq!(interfaces[0]["veth"].as_str(), Some(veth.as_str()));
    assert_eq!(interfaces[0]["veth_ifindex"].as_u64(), Some(peer));
    assert!(has_our_tree(&veth));
    for dev in [decoy.name.as_str(), decoy_peer.as_str()] {
        assert!(
            !has_our_tree(dev),
            "{dev} is not shaped: {}",
            tc_snapshot(dev)
        );
    }
    let links = host_links();
    assert!(
        !links.contains(&format!("qs-ifb{longer}"))
            && !links.contains(&format!("qs-ifb{prefixed}")),
        "no IFB for a decoy: {links}"
    );
    ok(&net(&c.id(), &["--policy", "clear"]));
}

#[test]
fn k6_after_a_restart_the_read_back_shows_the_new_veth_as_it_is() {
    // Input: download 1 Mbit/s on a container, then `docker restart`. Its veth is new.
    // Right (the part the CLI owns): the read-back names the new veth and never shows the old
    // shaping as if it were still there. Re-applying it on the start event is the window's.
    let _lock = serial();
    let c = TestContainer::sleeper("k6-restart");
    ok(&net(&c.id(), &["--policy", "rate", "--value", "1000"]));
    let old_veth = c.host_veths()[0].2.clone();
    docker(&["restart", "-t", "0", &c.name]);
    let new_veth = c.host_veths()[0].2.clone();
    assert_ne!(old_veth, new_veth, "a restart gives a new veth");

    let report = shown_json(&c.id());
    let interface = &report["interfaces"][0];
    assert_eq!(interface["veth"].as_str(), Some(new_veth.as_str()));
    assert!(
        interface["download"].is_null() && interface["upload"].is_null(),
        "the new veth is shown unshaped, as the kernel holds it: {report}"
    );
    assert!(!has_our_tree(&new_veth));
}

#[test]
fn k7_download_and_upload_are_limited_each_on_its_own_side() {
    // Input: download 1 Mbit/s, upload 512 kbit/s. Right: into the container ~1 Mbit/s, out
    // of it ~512 kbit/s, each 0.9 to 1.0 of its own rate.
    let _lock = serial();
    let c = TestContainer::sleeper("k7-directions");
    let out = ok(&net(&c.id(), &["--policy", "rate", "--value", "1000 512"]));
    assert!(out.contains("↓1 Mbit/s ↑512 kbit/s"), "{out}");

    let down = measure_local(c.pid(), Direction::Download, 500_000);
    let up = measure_local(c.pid(), Direction::Upload, 256_000);
    eprintln!(
        "k7: download {:.0} kbit/s ({:.3}), upload {:.0} kbit/s ({:.3})",
        down.goodput_kbit,
        down.ratio(1000.0),
        up.goodput_kbit,
        up.ratio(512.0)
    );
    assert!(
        (0.9..=1.0).contains(&down.ratio(1000.0)),
        "download {:.0} kbit/s",
        down.goodput_kbit
    );
    assert!(
        (0.9..=1.0).contains(&up.ratio(512.0)),
        "upload {:.0} kbit/s",
        up.goodput_kbit
    );
    ok(&net(&c.id(), &["--policy", "clear"]));
}

#[test]
fn k8_bits_and_bytes_rates_reach_tc_in_bit_units_and_read_back_the_same() {
    // Input: 600 kbit/s; 5 Mbit/s; 1 MB/s. Right: tc holds `rate 600Kbit`, `rate 5Mbit`,
    // `rate 8Mbit`, no command says kbps or mbps, the read-back gives 600, 5000 and 8000
    // kbit/s, and 600 kbit/s is what the wire carries (not 8 times that).
    let _lock = serial();
    let c = TestContainer::sleeper("k8-units");
    let veth = c.host_veths()[0].2.clone();
    for (args, tc_word, kbit) in [
        (
            vec!["--policy", "rate", "--value", "600"],
            "rate 600Kbit",
            600,
        ),
        (vec!["--down-rate", "5mbit"], "rate 5Mbit", 5000),
        (vec!["--down-rate", "1MB/s"], "rate 8Mbit", 8000),
    ] {
        let mut all = args.clone();
        all.push("--json");
        let out = ok(&net(&c.id(), &all));
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            report["interfaces"][0]["download"]["rate_kbit"].as_u64(),
            Some(kbit),
            "{args:?}: {out}"
        );
        for command in report["commands"].as_array().unwrap() {
            let command = command.as_str().unwrap().to_lowercase();
            assert!(
                !command.contains("kbps") && !command.contains("mbps"),
                "a byte unit reached tc: {command}"
            );
        }
        let classes = run_ok("tc", &["class", "show", "dev", &veth]);
        assert!(classes.contains(tc_word), "{args:?}: {classes}");
        if kbit == 600 {
            let t = measure_local(c.pid(), Direction::Download, 300_000);
            eprintln!(
                "k8: 600 kbit/s carries {:.0} kbit/s ({:.3})",
                t.goodput_kbit,
                t.ratio(600.0)
            );
            assert!(
                (0.9..=1.0).contains(&t.ratio(600.0)),
                "600 kbit/s, not 600 kB/s: {:.0} kbit/s",
                t.goodput_kbit
            );
        }
    }
    ok(&net(&c.id(), &["--policy", "clear"]));
}

#[test]
fn k9_impossible_combinations_are_refused_before_the_host_is_touched() {
    // Input: reorder 25 % with delay 0; loss 150 %; rate 1 kbit/s; jitter without delay; words
    // that are no value.
    // Right: each refused with its reason; the veth and the host's links are unchanged (no
    // IFB made for an upload that then failed).
    let _lock = serial();
    let c = TestContainer::sleeper("k9-refused");
    let (_, peer, veth) = c.host_veths()[0].clone();
    let before = tc_snapshot(&veth);
    for (args, reason) in [
        (
            vec!["--policy", "reorder", "--value", "25%"],
            "needs a delay",
        ),
        (vec!["--policy", "loss", "--value", "150%"], "0% to 100%"),
        (
            vec!["--policy", "rate", "--value", "1"],
            "at least 8 kbit/s",
        ),
        (vec!["--up-rate", "1kbit"], "at least 8 kbit/s"),
        (vec!["--up-reorder", "25%"], "needs a delay"),
        (vec!["--down-jitter", "10ms"], "needs a delay"),
        (vec!["--policy", "rate", "--value", "fast"], ""),
        (vec!["--policy", "delay", "--value", "-5ms"], ""),
        (vec!["--policy", "clear", "--value", "now"], ""),
    ] {
        let out = net(&c.id(), &args);
        assert!(!out.status.success(), "{args:?} must be refused");
        let err = stderr(&out);
        assert!(
            !err.trim().is_empty() && err.contains(reason),
            "{args:?}: {err}"
        );
        assert_eq!(tc_snapshot(&veth), before, "{args:?} changed the veth");
        assert!(
            !host_links().contains(&format!("qs-ifb{peer}")),
            "{args:?} left an IFB"
        );
    }
}

#[test]
fn k9_reorder_with_a_delay_becomes_one_netem_and_jitter_above_delay_warns() {
    // Input: delay 10 ms then reorder 25 %; then jitter 50 ms with that 10 ms delay.
    // Right: `netem delay 10ms reorder 25%`; the jitter is applied with a warning.
    let _lock = serial();
    let profile = guest::profile();
    let c = GuestContainer::sleeper("k9-reorder");
    ok(&net_on(&profile, &c.id(), &["--down-delay", "10ms"]));
    ok(&net_on(&profile, &c.id(), &["--down-reorder", "25%"]));
    let qdiscs = c.veth_qdiscs();
    assert!(
        qdiscs.contains("delay 10ms reorder 25%"),
        "reorder kept with its delay: {qdiscs}"
    );

    let out = ok(&net_on(&profile, &c.id(), &["--down-jitter", "50ms"]));
    assert!(
        out.contains("warning:") && out.contains("larger than the delay"),
        "jitter above delay warns: {out}"
    );
    let qdiscs = c.veth_qdiscs();
    assert!(
        qdiscs.contains("delay 10ms  50ms reorder 25%"),
        "jitter added, reorder kept: {qdiscs}"
    );
}

#[test]
fn k10_netem_missing_delay_fails_with_the_kernels_words_and_leaves_the_veth_as_before() {
    // Input: this machine (no sch_netem): its preflight; a rate, then a download delay; then
    // an upload delay on a clean container. Right: preflight says netem is missing with the
    // fix; each delay fails (non-zero exit) with tc's words and the modprobe hint, the rate
    // still in place, no IFB left behind by the failed upload.
    let _lock = serial();
    assert!(
        !kernel_has_netem(),
        "this case needs a kernel without netem: the lab machine's"
    );
    let preflight: serde_json::Value = serde_json::from_str(&quayside_ok(&[
        "net",
        "preflight",
        "--host",
        "local",
        "--json",
    ]))
    .unwrap();
    assert_eq!(preflight["netem"]["state"], "missing", "{preflight}");
    let fix = preflight["netem"]["fix"].as_str().unwrap_or_default();
    assert!(fix.contains("modprobe sch_netem"), "the fix: {preflight}");

    let c = TestContainer::sleeper("k10-netem");
    let (_, peer, veth) = c.host_veths()[0].clone();
    ok(&net(&c.id(), &["--policy", "rate", "--value", "1500"]));
    let before = tc_snapshot(&veth);

    let out = net(&c.id(), &["--policy", "delay", "--value", "100ms 10ms"]);
    assert!(!out.status.success(), "a delay without netem must fail");
    let err = stderr(&out);
    assert!(
        err.contains("Specified qdisc kind is unknown"),
        "tc's own words: {err}"
    );
    assert!(err.contains("modprobe sch_netem"), "the fix: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert_eq!(tc_snapshot(&veth), before, "the veth holds what it held");
    let shown = quayside_ok(&["net", "show", "--id", &c.id()]);
    assert!(
        shown.contains("↓1.5 Mbit/s"),
        "rate shaping still works: {shown}"
    );

    ok(&net(&c.id(), &["--policy", "clear"]));
    let clean = tc_snapshot(&veth);
    let out = net(&c.id(), &["--up-delay", "100ms"]);
    assert!(
        !out.status.success(),
        "an upload delay without netem must fail"
    );
    assert!(
        stderr(&out).contains("modprobe sch_netem"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        tc_snapshot(&veth),
        clean,
        "nothing half-applied on the veth"
    );
    assert!(
        !host_links().contains(&format!("qs-ifb{peer}")),
        "the IFB made for the failed upload is gone: {}",
        host_links()
    );
}

#[test]
fn k11_clear_twice_both_succeed_and_say_already_clear() {
    // Input: clear a shaped container twice, then a clean one twice. Right: the first clear
    // says cleared, every later one "already clear", and the read-back says "no shaping".
    let _lock = serial();
    let c = TestContainer::sleeper("k11-clear");
    ok(&net(&c.id(), &["--policy", "rate", "--value", "1000 500"]));
    let first = ok(&net(&c.id(), &["--policy", "clear"]));
    assert!(first.contains("shaping cleared"), "{first}");
    for _ in 0..2 {
        let again = ok(&net(&c.id(), &["--policy", "clear"]));
        assert!(again.contains("already clear"), "{again}");
    }
    let shown = quayside_ok(&["net", "show", "--id", &c.id()]);
    assert!(shown.contains("no shaping"), "{shown}");
    assert!(!has_our_tree(&c.host_veths()[0].2));
}

#[test]
fn k12_sudo_that_wants_a_password_over_ssh_fails_at_once_with_the_hint() {
    // Input: an SSH host profile whose user (qs-lab-nopw) has sudo without NOPASSWD.
    // Right: non-zero exit within ~2 s, naming the NOPASSWD rule and tc, ip and nsenter.
    let _lock = serial();
    let profile = ProfileFile::new(&lab_host_entry("nopw", 1, "qs-lab-nopw"));
    let c = TestContainer::sleeper("k12-ssh");
    let before = tc_snapshot(&c.host_veths()[0].2);
    let started = Instant::now();
    let out = net_on(
        &profile,
        &format!("nopw:{}", c.name),
        &["--policy", "rate", "--value", "1000"],
    );
    let took = started.elapsed();
    eprintln!("k12 over ssh: failed after {took:?}");
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
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(tc_snapshot(&c.host_veths()[0].2), before, "nothing changed");
}

#[test]
fn k12_sudo_that_wants_a_password_locally_fails_at_once_with_the_hint() {
    // Input: Quayside run locally as qs-lab-nopw. Right: as over SSH.
    let _lock = serial();
    let user = common::hosts::env("QS_LAB_USER");
    let c = TestContainer::sleeper("k12-local");
    let before = tc_snapshot(&c.host_veths()[0].2);
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
        err.contains("sudo wants a password") && err.contains("tc, ip and nsenter"),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(tc_snapshot(&c.host_veths()[0].2), before, "nothing changed");
}

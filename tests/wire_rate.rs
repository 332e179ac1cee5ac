//! Rate limits measured on the wire, in each direction, on this machine and on the netem guest.
//!
//! A transfer crosses the container's veth with one end in the container's network namespace
//! (see `common/wire.rs`). The goodput is taken from the first arrival and leaves out the last
//! 70 KiB: HTB passes a GSO packet (up to 64 KiB) whole, so the end of a transfer can arrive
//! as one lump that was already paid for, and a whole-transfer figure would overstate the rate
//! by up to a lump over the transfer. What that lumpiness costs is its own test below.
//!
//! Full-size TCP segments carry 1448 bytes of payload in a 1514-byte frame, so a limit that
//! counts whole frames gives a goodput of about 0.956 of the set rate: within 0.9 to 1.0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Mutex, MutexGuard};

use common::guest::{self, GuestContainer};
use common::wire::{Direction, Transfer, measure_guest, measure_local};
use common::{TestContainer, quayside, run_ok, stderr, stdout, tc_snapshot};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Bytes that take about four seconds at `rate_kbit`.
fn four_seconds_of(rate_kbit: u64) -> u64 {
    rate_kbit * 125 * 4
}

/// Runs `quayside [--hosts P] net --id ID ARGS...`, failing the test unless it succeeds.
fn net_ok(profile: Option<&common::hosts::ProfileFile>, id: &str, args: &[&str]) -> String {
    let mut all = Vec::new();
    if let Some(p) = profile {
        all.extend(["--hosts", p.arg()]);
    }
    all.extend(["net", "--id", id]);
    all.extend_from_slice(args);
    let out = quayside(&all);
    assert!(
        out.status.success(),
        "quayside {all:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn check_ratio(place: &str, direction: Direction, rate_kbit: u64, t: &Transfer) {
    let ratio = t.ratio(rate_kbit as f64);
    eprintln!(
        "{place} {direction:?} {rate_kbit} kbit/s: goodput {:.0} kbit/s, ratio {ratio:.3} \
         (whole transfer {:.0} kbit/s over {:.1} s, largest 10 ms {} B)",
        t.goodput_kbit, t.whole_kbit, t.secs, t.peak_10ms_bytes
    );
    assert!(
        (0.9..=1.0).contains(&ratio),
        "{place} {direction:?} at {rate_kbit} kbit/s: goodput {:.0} kbit/s is {ratio:.3} of the rate",
        t.goodput_kbit
    );
}

/// Fails, saying why, when the direction's tree went away during a measurement: anything that
/// clears every Quayside tree on this machine (the window's "Clear all shaping") would do that.
fn assert_still_shaped(veth: &str, ifb: &str, direction: Direction) {
    let dev = match direction {
        Direction::Download => veth,
        Direction::Upload => ifb,
    };
    let snapshot = run_ok("tc", &["qdisc", "show", "dev", dev]);
    assert!(
        snapshot.contains("7173:"),
        "the {direction:?} tree on {dev} was removed during the measurement by something \
         else: {snapshot}"
    );
}

/// The rate flags of the full form for one direction.
fn rate_args(direction: Direction, rate: &str) -> [&str; 2] {
    match direction {
        Direction::Download => ["--down-rate", rate],
        Direction::Upload => ["--up-rate", rate],
    }
}

#[test]
fn rates_of_1_and_10_mbit_hold_in_each_direction_and_clear_unshapes() {
    let _lock = serial();
    let c = TestContainer::sleeper("rate-local");
    let (_, peer, veth) = c.host_veths()[0].clone();
    let ifb = format!("qs-ifb{peer}");
    for rate_kbit in [1000, 10_000] {
        let rate = format!("{rate_kbit}kbit");
        for direction in [Direction::Download, Direction::Upload] {
            net_ok(None, &c.id(), &["--policy", "clear"]);
            net_ok(None, &c.id(), &rate_args(direction, &rate));
            let t = measure_local(c.pid(), direction, four_seconds_of(rate_kbit));
            assert_still_shaped(&veth, &ifb, direction);
            check_ratio("local", direction, rate_kbit, &t);
        }
    }

    let out = net_ok(None, &c.id(), &["--policy", "clear"]);
    assert!(out.contains("shaping cleared"), "{out}");
    assert!(
        !tc_snapshot(&veth).contains("7173:"),
        "{}",
        tc_snapshot(&veth)
    );
    for direction in [Direction::Download, Direction::Upload] {
        let t = measure_local(c.pid(), direction, 20_000_000);
        eprintln!(
            "local {direction:?} after clear: {:.0} kbit/s",
            t.goodput_kbit
        );
        assert!(
            t.goodput_kbit > 200_000.0,
            "after clear the {direction:?} is unshaped ({:.0} kbit/s)",
            t.goodput_kbit
        );
    }
}

#[test]
fn a_limit_on_one_direction_leaves_the_other_fast() {
    // Input: download 1 Mbit/s alone, then upload 1 Mbit/s alone. Right: the other
    // direction is far above 1 Mbit/s each time.
    let _lock = serial();
    let c = TestContainer::sleeper("rate-independent");
    for (limited, free) in [
        (Direction::Download, Direction::Upload),
        (Direction::Upload, Direction::Download),
    ] {
        net_ok(None, &c.id(), &["--policy", "clear"]);
        net_ok(None, &c.id(), &rate_args(limited, "1mbit"));
        let t = measure_local(c.pid(), free, 20_000_000);
        eprintln!(
            "local {limited:?} limited, {free:?}: {:.0} kbit/s",
            t.goodput_kbit
        );
        assert!(
            t.goodput_kbit > 100_000.0,
            "{limited:?} limited slowed the {free:?} to {:.0} kbit/s",
            t.goodput_kbit
        );
    }
    net_ok(None, &c.id(), &["--policy", "clear"]);
}

#[test]
#[ignore = "HTB passes GSO packets whole: a 1 Mbit/s upload arrives in lumps of up to 64 KiB"]
fn gso_lumps_a_shaped_1_mbit_upload_arrives_a_few_frames_at_a_time() {
    // Input: upload 1 Mbit/s, 500 kB out of the container. Right: at most a few frames in any
    // 10 ms (1 Mbit/s is 1250 B per 10 ms; 4 frames is 6 kB). Seen: 59-65 kB at once, then
    // half a second of nothing, because the container's TCP sends 64 KiB GSO packets and HTB
    // releases each as one.
    let _lock = serial();
    let c = TestContainer::sleeper("rate-lumps");
    net_ok(None, &c.id(), &["--up-rate", "1mbit"]);
    let t = measure_local(c.pid(), Direction::Upload, 500_000);
    eprintln!("largest 10 ms: {} B", t.peak_10ms_bytes);
    assert!(
        t.peak_10ms_bytes <= 4 * 1514,
        "{} B arrived within 10 ms at 1 Mbit/s",
        t.peak_10ms_bytes
    );
}

#[test]
fn on_the_netem_host_rates_of_1_and_10_mbit_hold_in_each_direction() {
    let _lock = serial();
    let profile = guest::profile();
    let c = GuestContainer::sleeper("rate-guest");
    let pid = c.pid();

    // What the emulated guest moves unshaped: the 10 Mbit/s figures mean something only if
    // it is well above that.
    for direction in [Direction::Download, Direction::Upload] {
        let t = measure_guest(pid, direction, 20_000_000);
        eprintln!("guest {direction:?} unshaped: {:.0} kbit/s", t.goodput_kbit);
        assert!(
            t.goodput_kbit > 100_000.0,
            "the guest moves only {:.0} kbit/s unshaped",
            t.goodput_kbit
        );
    }

    for rate_kbit in [1000, 10_000] {
        let rate = format!("{rate_kbit}kbit");
        for direction in [Direction::Download, Direction::Upload] {
            net_ok(Some(&profile), &c.id(), &["--policy", "clear"]);
            net_ok(Some(&profile), &c.id(), &rate_args(direction, &rate));
            let t = measure_guest_best(pid, direction, rate_kbit);
            check_ratio("guest", direction, rate_kbit, &t);
            if rate_kbit == 1000 {
                let other = opposite(direction);
                let t = measure_guest(pid, other, 20_000_000);
                eprintln!(
                    "guest {direction:?} limited, {other:?}: {:.0} kbit/s",
                    t.goodput_kbit
                );
                assert!(
                    t.goodput_kbit > 100_000.0,
                    "{direction:?} limited slowed the {other:?} to {:.0} kbit/s",
                    t.goodput_kbit
                );
            }
        }
    }
}

fn opposite(direction: Direction) -> Direction {
    match direction {
        Direction::Download => Direction::Upload,
        Direction::Upload => Direction::Download,
    }
}

#[test]
fn on_the_netem_host_download_1_mbit_and_upload_512_kbit_each_hold() {
    // Input: download 1 Mbit/s and upload 512 kbit/s together. Right: ~1 Mbit/s in and
    // ~512 kbit/s out, each 0.9 to 1.0 of its own rate.
    let _lock = serial();
    let profile = guest::profile();
    let c = GuestContainer::sleeper("rate-guest-both");
    let out = net_ok(
        Some(&profile),
        &c.id(),
        &["--down-rate", "1mbit", "--up-rate", "512kbit"],
    );
    assert!(out.contains("↓1 Mbit/s ↑512 kbit/s"), "{out}");
    let pid = c.pid();
    let down = measure_guest_best(pid, Direction::Download, 1000);
    check_ratio("guest", Direction::Download, 1000, &down);
    let up = measure_guest_best(pid, Direction::Upload, 512);
    check_ratio("guest", Direction::Upload, 512, &up);
}

/// Four seconds of transfer at `rate_kbit` in the guest, up to three times until one reaches
/// 0.9 of the rate; returns that one, or the fastest.
///
/// The guest is emulated on a machine shared with builds: a starved guest delivers less than
/// its shaper allows, never more. So every attempt must stay at or below the rate, while the
/// lower bound is held by the best attempt.
fn measure_guest_best(pid: u32, direction: Direction, rate_kbit: u64) -> Transfer {
    let mut best: Option<Transfer> = None;
    for attempt in 1..=3 {
        let t = measure_guest(pid, direction, four_seconds_of(rate_kbit));
        let ratio = t.ratio(rate_kbit as f64);
        eprintln!("guest {direction:?} {rate_kbit} kbit/s attempt {attempt}: ratio {ratio:.3}");
        assert!(
            ratio <= 1.0,
            "guest {direction:?} at {rate_kbit} kbit/s: goodput {:.0} kbit/s is above the rate",
            t.goodput_kbit
        );
        if ratio >= 0.9 {
            return t;
        }
        if best
            .as_ref()
            .is_none_or(|b| t.goodput_kbit > b.goodput_kbit)
        {
            best = Some(t);
        }
    }
    best.expect("three attempts")
}

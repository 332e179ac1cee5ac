//! Impairments measured on the wire on the lab's netem guest: delay and jitter as added round
//! trip time, loss and duplicates counted by ping, corruption seen by the receiver's checksum
//! counters, reordering seen in the order of ping replies. Each in both directions where it
//! matters and, once more, under a rate limit (netem as the child of HTB).
//!
//! The guest pings its own container: a request travels the download path (into the
//! container), its reply the upload path. Counts are checked against the binomial bounds of
//! the set percentage (±4.5 standard deviations), so a correct shaper fails about once in
//! 150 000 runs. The guest is emulated and slow: pings are few and tight.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

use common::guest::{self, GuestContainer, guest};
use common::hosts::ProfileFile;
use common::{quayside, stderr, stdout};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A guest container with the profile that reaches it.
struct Subject {
    profile: ProfileFile,
    c: GuestContainer,
    ip: String,
    /// The full-form flags the last `shape` set.
    flags_set: RefCell<Vec<String>>,
}

impl Subject {
    fn new(word: &str) -> Self {
        let profile = guest::profile();
        let c = GuestContainer::sleeper(word);
        let ip = c.ip();
        Self {
            profile,
            c,
            ip,
            flags_set: RefCell::new(Vec::new()),
        }
    }

    /// Applies the full-form `args` (pairs of flag and value) in one call, setting back to
    /// zero what the previous `shape` set and `args` do not name (one call instead of a clear
    /// and an apply: the guest is slow); returns the read-back line.
    fn shape(&self, args: &[&str]) -> String {
        let named: Vec<String> = args.chunks(2).map(|pair| pair[0].to_owned()).collect();
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        for flag in self.flags_set.borrow().iter() {
            if !named.contains(flag) {
                let zero = if flag.ends_with("-rate") {
                    "0"
                } else if flag.ends_with("-delay") || flag.ends_with("-jitter") {
                    "0ms"
                } else {
                    "0%"
                };
                all.extend([flag.clone(), zero.to_owned()]);
            }
        }
        *self.flags_set.borrow_mut() = named;
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.net(&all)
    }

    fn net(&self, args: &[&str]) -> String {
        let mut all = vec!["--hosts", self.profile.arg(), "net", "--id"];
        let id = self.c.id();
        all.push(&id);
        all.extend_from_slice(args);
        let out = quayside(&all);
        assert!(
            out.status.success(),
            "quayside {all:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out).lines().next().unwrap_or_default().to_owned()
    }

    /// `/proc/net/snmp` counters inside the container: `(Ip InHdrErrors, Icmp InCsumErrors)`.
    fn checksum_errors(&self) -> (u64, u64) {
        snmp_errors(&guest(&format!(
            "nsenter -t {} -n cat /proc/net/snmp",
            self.c.pid()
        )))
    }
}

/// What ping saw.
#[derive(Debug)]
struct Pings {
    sent: u64,
    received: u64,
    duplicates: u64,
    /// `icmp_seq` of each reply line, in the order they arrived.
    order: Vec<u64>,
}

impl Pings {
    fn lost(&self) -> u64 {
        self.sent - self.received
    }

    /// Replies that arrived after a reply to a later request.
    fn out_of_order(&self) -> usize {
        let mut highest = 0;
        let mut late = 0;
        for &seq in &self.order {
            if seq < highest {
                late += 1;
            }
            highest = highest.max(seq);
        }
        late
    }
}

/// Pings `ip` from the guest `count` times, every `interval_secs`.
///
/// ping is interrupted (SIGINT: it still prints its summary) after `PING_LIMIT_SECS`: the
/// guest's ping was seen spinning for minutes after a corrupted reply.
fn ping(ip: &str, count: u32, interval_secs: f64) -> Pings {
    parse_ping(&guest(&format!(
        "timeout -s INT {PING_LIMIT_SECS} ping -n -c {count} -i {interval_secs} -W 1 {ip}; true"
    )))
}

/// Sends `count` pings to `ip` from the guest at once (preload), then waits for the replies.
fn ping_burst(ip: &str, count: u32) -> Pings {
    parse_ping(&guest(&format!(
        "timeout -s INT {PING_LIMIT_SECS} ping -n -c {count} -l {count} -W 1 {ip}; true"
    )))
}

/// Longer than any ping series here takes in the guest (500 pings take ~7 s).
const PING_LIMIT_SECS: u32 = 60;

/// The round trip times of `count` pings from the guest to `ip`, in ms.
fn rtts_ms(ip: &str, count: u32) -> Vec<f64> {
    let out = guest(&format!("ping -n -c {count} -i 0.05 -W 1 {ip}"));
    out.lines()
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("time=")))
        .map(|t| t.parse().unwrap())
        .collect()
}

fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// The mean of the middle 80 % of the samples: the delay netem adds is spread evenly around
/// the set delay, while the emulated guest now and then stalls a ping by tens of ms.
fn trimmed_mean(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted.len() / 10;
    mean(&sorted[cut..sorted.len() - cut])
}

fn parse_ping(out: &str) -> Pings {
    let mut order = Vec::new();
    for line in out.lines().filter(|l| !l.contains("(DUP!)")) {
        if let Some(seq) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("icmp_seq="))
        {
            order.push(seq.parse().unwrap());
        }
    }
    // 300 packets transmitted, 219 received, +12 duplicates, 27% packet loss, time 4080ms
    let summary = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("a ping summary: {out}"));
    let number_before = |word: &str| -> u64 {
        summary
            .split(", ")
            .find(|part| part.contains(word))
            .and_then(|part| part.split_whitespace().next())
            .map(|n| n.trim_start_matches('+').parse().unwrap())
            .unwrap_or(0)
    };
    Pings {
        sent: number_before("transmitted"),
        received: number_before("received"),
        duplicates: number_before("duplicates"),
        order,
    }
}

/// `(Ip InHdrErrors, Icmp InCsumErrors)` from the text of `/proc/net/snmp`.
fn snmp_errors(snmp: &str) -> (u64, u64) {
    let field = |proto: &str, name: &str| -> u64 {
        let mut rows = snmp.lines().filter(|l| l.starts_with(proto));
        let names: Vec<&str> = rows.next().unwrap().split_whitespace().collect();
        let values: Vec<&str> = rows.next().unwrap().split_whitespace().collect();
        let at = names.iter().position(|n| *n == name).unwrap();
        values[at].parse().unwrap()
    };
    (field("Ip:", "InHdrErrors"), field("Icmp:", "InCsumErrors"))
}

/// Binomial bounds of `n` trials at `pct` percent: mean ± 4.5 standard deviations.
fn binomial_bounds(n: u64, pct: f64) -> (f64, f64) {
    let p = pct / 100.0;
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    (mean - 4.5 * sigma, mean + 4.5 * sigma)
}

#[test]
fn a_delay_of_100_ms_with_10_ms_jitter_adds_100_ms_of_round_trip_in_either_direction() {
    // Each case: the added round trip over 40 pings is within ±5 ms of 100 ms (jitter of
    // ±10 ms spreads one ping by up to 10 ms; 40 of them average to within ~1 ms).
    let _lock = serial();
    let s = Subject::new("netem-delay");
    let baseline = trimmed_mean(&rtts_ms(&s.ip, 20));
    for args in [
        &["--down-delay", "100ms", "--down-jitter", "10ms"][..],
        &["--up-delay", "100ms", "--up-jitter", "10ms"],
        &[
            "--down-rate",
            "1mbit",
            "--down-delay",
            "100ms",
            "--down-jitter",
            "10ms",
        ],
        &[
            "--up-rate",
            "512kbit",
            "--up-delay",
            "100ms",
            "--up-jitter",
            "10ms",
        ],
    ] {
        let held = s.shape(args);
        assert!(held.contains("100±10 ms"), "{args:?}: {held}");
        let rtts = rtts_ms(&s.ip, 40);
        assert_eq!(rtts.len(), 40, "every ping answered");
        let added = trimmed_mean(&rtts) - baseline;
        eprintln!(
            "{args:?}: baseline {baseline:.2} ms, added {added:.2} ms (plain mean {:.2} ms)",
            mean(&rtts) - baseline
        );
        assert!(
            (95.0..=105.0).contains(&added),
            "{args:?}: added round trip {added:.2} ms"
        );
    }
    s.net(&["--policy", "clear"]);
    let after = trimmed_mean(&rtts_ms(&s.ip, 10));
    assert!(after < baseline + 20.0, "after clear: {after:.2} ms");
}

#[test]
fn a_loss_of_20_percent_drops_a_binomial_share_of_500_pings_in_either_direction() {
    let _lock = serial();
    let s = Subject::new("netem-loss");
    for args in [
        &["--down-loss", "20%"][..],
        &["--up-loss", "20%"],
        &["--down-rate", "1mbit", "--down-loss", "20%"],
        &["--up-rate", "512kbit", "--up-loss", "20%"],
    ] {
        let held = s.shape(args);
        assert!(held.contains("20% loss"), "{args:?}: {held}");
        let p = ping(&s.ip, 500, 0.01);
        let (low, high) = binomial_bounds(p.sent, 20.0);
        eprintln!(
            "{args:?}: {} of {} lost (bounds {low:.0}..{high:.0})",
            p.lost(),
            p.sent
        );
        assert_eq!(p.sent, 500);
        assert!(
            (low..=high).contains(&(p.lost() as f64)),
            "{args:?}: {} of {} lost",
            p.lost(),
            p.sent
        );
    }
}

#[test]
fn a_duplicate_of_20_percent_shows_as_ping_duplicates_in_either_direction() {
    let _lock = serial();
    let s = Subject::new("netem-duplicate");
    for args in [
        &["--down-duplicate", "20%"][..],
        &["--up-duplicate", "20%"],
        &["--down-rate", "1mbit", "--down-duplicate", "20%"],
    ] {
        let held = s.shape(args);
        assert!(held.contains("20% duplicate"), "{args:?}: {held}");
        let p = ping(&s.ip, 300, 0.01);
        let (low, high) = binomial_bounds(p.sent, 20.0);
        eprintln!(
            "{args:?}: {} duplicates of {} (bounds {low:.0}..{high:.0}), {} lost",
            p.duplicates,
            p.sent,
            p.lost()
        );
        assert_eq!(p.lost(), 0, "{args:?}: nothing is lost");
        assert!(
            (low..=high).contains(&(p.duplicates as f64)),
            "{args:?}: {} duplicates of {}",
            p.duplicates,
            p.sent
        );
    }
}

#[test]
fn a_corrupt_of_20_percent_shows_in_the_receivers_checksum_counters() {
    // A corrupted request has one bit flipped somewhere in its frame: in the ICMP part (64 of
    // 98 bytes) the container counts an ICMP checksum error, in the IP header an IP header
    // error, in the Ethernet header it is dropped or passes. So about 17 % of the requests
    // go unanswered, and the container's checksum counters rise by about as many.
    let _lock = serial();
    let s = Subject::new("netem-corrupt");
    for args in [
        &["--down-corrupt", "20%"][..],
        &["--down-rate", "1mbit", "--down-corrupt", "20%"],
    ] {
        let held = s.shape(args);
        assert!(held.contains("20% corrupt"), "{args:?}: {held}");
        let (ip_before, icmp_before) = s.checksum_errors();
        let p = ping(&s.ip, 300, 0.01);
        let (ip_after, icmp_after) = s.checksum_errors();
        let caught = (ip_after - ip_before) + (icmp_after - icmp_before);
        // 300 × 20 % × (84 of 98 bytes checked) ≈ 51 caught; binomial bounds at 17 %.
        let (low, high) = binomial_bounds(p.sent, 20.0 * 84.0 / 98.0);
        eprintln!(
            "{args:?}: {} of {} unanswered, {caught} checksum errors in the container \
             (IP {}, ICMP {}; bounds {low:.0}..{high:.0})",
            p.lost(),
            p.sent,
            ip_after - ip_before,
            icmp_after - icmp_before
        );
        assert!(
            (low..=high).contains(&(caught as f64)),
            "{args:?}: {caught} checksum errors"
        );
        assert!(
            p.lost() >= caught,
            "{args:?}: every request caught by a checksum went unanswered"
        );
    }

    // Upload: the replies are corrupted, and the guest's own counters catch them.
    let held = s.shape(&["--up-corrupt", "20%"]);
    assert!(held.contains("20% corrupt"), "{held}");
    let host_before = snmp_errors(&guest("cat /proc/net/snmp"));
    let p = ping(&s.ip, 300, 0.01);
    let host_after = snmp_errors(&guest("cat /proc/net/snmp"));
    let caught = (host_after.0 - host_before.0) + (host_after.1 - host_before.1);
    eprintln!(
        "upload corrupt: {} of {} replies missing, {caught} checksum errors on the guest",
        p.lost(),
        p.sent
    );
    let (low, high) = binomial_bounds(p.sent, 20.0 * 84.0 / 98.0);
    assert!((low..=high).contains(&(caught as f64)), "{caught}");
}

#[test]
fn a_reorder_of_25_percent_with_10_ms_delay_puts_replies_out_of_order() {
    // 100 pings sent at once (ping's preload: the emulated guest cannot keep a 2 ms interval),
    // a quarter sent on at once and the rest held 10 ms: the held ones then arrive after a
    // reply to a later request (about 75 late replies, seen 67-75). With the delay alone, none.
    let _lock = serial();
    let s = Subject::new("netem-reorder");
    let held = s.shape(&["--down-delay", "10ms"]);
    assert!(held.contains("10 ms"), "{held}");
    let in_order = ping_burst(&s.ip, 100);
    eprintln!("delay alone: {} out of order", in_order.out_of_order());
    assert_eq!(in_order.out_of_order(), 0, "{:?}", in_order.order);

    for args in [
        &["--down-delay", "10ms", "--down-reorder", "25%"][..],
        &["--up-delay", "10ms", "--up-reorder", "25%"],
        &[
            "--down-rate",
            "1mbit",
            "--down-delay",
            "10ms",
            "--down-reorder",
            "25%",
        ],
    ] {
        let held = s.shape(args);
        assert!(held.contains("25% reorder"), "{args:?}: {held}");
        let p = ping_burst(&s.ip, 100);
        eprintln!(
            "{args:?}: {} of {} replies out of order",
            p.out_of_order(),
            p.received
        );
        assert!(
            p.out_of_order() >= 10,
            "{args:?}: only {} out of order: {:?}",
            p.out_of_order(),
            p.order
        );
    }
}

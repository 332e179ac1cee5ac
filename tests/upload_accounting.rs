//! K7 on the upload side: the IFB's HTB counts each packet's bytes the way the veth's HTB
//! does, and the upload rate set is what the wire carries out of the container.
//!
//! A packet taken at the veth's ingress has had its Ethernet header pulled; mirred pushes it
//! back when it redirects the packet to the IFB's egress (the IFB expects one), so the IFB's
//! HTB sees the whole frame, like the veth's. An `overhead 14` on the IFB's class would count
//! the header twice. These tests run one at a time (a lock) so transfers do not share the
//! machine with each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Mutex;

use common::wire::{Direction, measure_local};
use common::{TestContainer, quayside_ok, run_ok};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shape(c: &TestContainer, args: &[&str]) {
    let id = c.id();
    let mut all = vec!["net", "--id", id.as_str()];
    all.extend_from_slice(args);
    quayside_ok(&all);
}

/// (bytes, packets) the root qdisc of `dev` has sent.
fn root_counters(dev: &str) -> (u64, u64) {
    let qdiscs: serde_json::Value =
        serde_json::from_str(&run_ok("tc", &["-s", "-j", "qdisc", "show", "dev", dev])).unwrap();
    let root = qdiscs
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["root"] == true)
        .unwrap_or_else(|| panic!("{dev} has a root: {qdiscs}"));
    (
        root["bytes"].as_u64().unwrap(),
        root["packets"].as_u64().unwrap(),
    )
}

#[test]
fn k7_upload_goodput_at_512_kbit_and_1_mbit_is_at_least_0_9_and_never_above_the_rate() {
    // Input: upload 512 kbit/s, then 1 Mbit/s; about 4 s of transfer out of the container.
    // Right: goodput 0.9 to 1.0 of the rate set.
    let _lock = serial();
    let c = TestContainer::sleeper("k7-upload");
    for rate_kbit in [512_u64, 1000] {
        shape(&c, &["--up-rate", &format!("{rate_kbit}kbit")]);
        let up = measure_local(c.pid(), Direction::Upload, rate_kbit * 125 * 4);
        let ratio = up.ratio(rate_kbit as f64);
        eprintln!(
            "upload {rate_kbit} kbit/s: goodput {:.1} kbit/s ({ratio:.3}), whole {:.1} kbit/s, \
             {:.1} s",
            up.goodput_kbit, up.whole_kbit, up.secs
        );
        assert!((0.9..=1.0).contains(&ratio), "ratio {ratio:.3}");
    }
}

#[test]
fn k7_the_ifb_counts_each_packets_ethernet_header_as_the_veth_does() {
    // Input: the same 1 MB sent out of the container, then into it, each direction shaped at
    // 8 Mbit/s on a fresh tree. Right: both roots count about 66 bytes of headers per packet
    // (Ethernet 14, IPv4 20, TCP with timestamps 32): the IFB sees the Ethernet header too.
    let _lock = serial();
    let c = TestContainer::sleeper("k7-bytes");
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    let ifb = format!("qs-ifb{ifindex}");
    const PAYLOAD: u64 = 1_000_000;

    shape(&c, &["--down-rate", "8mbit", "--up-rate", "8mbit"]);
    measure_local(c.pid(), Direction::Upload, PAYLOAD);
    let (up_bytes, up_packets) = root_counters(&ifb);
    // A new rate makes new roots, with fresh counters.
    shape(&c, &["--down-rate", "7mbit", "--up-rate", "7mbit"]);
    measure_local(c.pid(), Direction::Download, PAYLOAD);
    let (down_bytes, down_packets) = root_counters(&veth);

    let per_packet = |bytes: u64, packets: u64| (bytes - PAYLOAD) as f64 / packets as f64;
    let (up_headers, down_headers) = (
        per_packet(up_bytes, up_packets),
        per_packet(down_bytes, down_packets),
    );
    eprintln!(
        "headers per packet: upload (IFB) {up_headers:.1} over {up_packets} packets, \
         download (veth) {down_headers:.1} over {down_packets} packets"
    );
    for headers in [up_headers, down_headers] {
        assert!((60.0..=72.0).contains(&headers), "{headers:.1} bytes");
    }
    assert!((up_headers - down_headers).abs() <= 3.0);
    let class = run_ok("tc", &["class", "show", "dev", &ifb]);
    assert!(!class.contains("overhead"), "{class}");
}

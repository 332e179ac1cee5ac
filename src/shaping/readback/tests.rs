//! Fixtures marked "real" were printed by this machine's tc 6.1 on `lo`; all others were
//! written from iproute2 6.1's source (q_netem.c, q_htb.c, tc_qdisc.c, tc_class.c,
//! m_mirred.c, json_print.c), since this kernel has no netem and no qdisc may be changed here.

use super::*;

/// Real: `tc -s -j qdisc show dev lo` on this machine.
const LO_REAL: &str = r#"[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]"#;

/// Source-derived: HTB root with a netem child (2 Mbit/s, 100±10 ms 25 %, 1 % loss), plus an
/// ingress qdisc.
const HTB_NETEM: &str = r#"[{"kind":"htb","handle":"7173:","root":true,"refcnt":3,"options":{"r2q":10,"default":"0x1","direct_packets_stat":0,"direct_qlen":1000},"bytes":123456,"packets":100,"drops":1,"overlimits":42,"requeues":0,"backlog":0,"qlen":0},
{"kind":"netem","handle":"7174:","parent":"7173:1","options":{"limit":1000,"delay":{"delay":0.1,"jitter":0.01,"correlation":0.25},"loss-random":{"loss":0.01,"correlation":0},"ecn":false,"gap":0},"bytes":123456,"packets":100,"drops":3,"overlimits":0,"requeues":0,"backlog":0,"qlen":0},
{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]"#;

/// Source-derived: `tc class show dev V` for the tree above.
const HTB_CLASS: &str =
    "class htb 7173:1 root leaf 7174: prio 0 rate 2Mbit ceil 2Mbit burst 1600b cburst 1600b \n";

/// Source-derived: netem alone at our root, every field Quayside sets.
const NETEM_ROOT: &str = r#"[{"kind":"netem","handle":"7173:","root":true,"refcnt":2,"options":{"limit":166667,"delay":{"delay":0.01,"jitter":0,"correlation":0},"loss-random":{"loss":0.3,"correlation":0},"duplicate":{"duplicate":0.005,"correlation":0},"reorder":{"reorder":0.25,"correlation":0},"corrupt":{"corrupt":1e-05,"correlation":0},"ecn":false,"gap":1}}]"#;

/// Source-derived, K1: `tc qdisc add dev V root netem delay 50ms` made by hand.
const FOREIGN_NETEM: &str = r#"[{"kind":"netem","handle":"8001:","root":true,"refcnt":2,"options":{"limit":1000,"delay":{"delay":0.05,"jitter":0,"correlation":0},"ecn":false,"gap":0}}]"#;

/// Source-derived: a multiqueue NIC's default `mq` root with fq_codel children.
const MQ_DEFAULT: &str = r#"[{"kind":"mq","handle":"0:","root":true,"options":{}},{"kind":"fq_codel","handle":"0:","parent":":1","options":{"limit":10240,"flows":1024,"quantum":1514,"target":4999,"interval":99999,"memory_limit":33554432,"ecn":true,"drop_batch":64}}]"#;

/// Source-derived: `tc -j filter show dev V parent ffff:` with our redirect.
const FILTER_OURS: &str = r#"[{"protocol":"all","pref":1,"kind":"u32","chain":0},{"protocol":"all","pref":1,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","terminal":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"qs-ifb12","control_action":{"type":"stolen"},"index":1,"ref":1,"bind":1}]}}]"#;

fn snapshot<'a>(qdisc_json: &'a str, class_text: &'a str) -> TcSnapshot<'a> {
    TcSnapshot {
        veth_name: "veth1a2b3c",
        veth: DeviceText {
            qdisc_json,
            class_text,
        },
        ingress_filter_json: None,
        ifb_name: "qs-ifb12",
        ifb: None,
    }
}

/// K11: read-back of an unshaped veth (real output) is "no shaping".
#[test]
fn k11_a_default_root_reads_as_no_shaping() {
    let observed = read_observed(&snapshot(LO_REAL, "")).unwrap();
    assert_eq!(observed, Observed::default());
    assert_eq!(observed.shaping().summary(), "no shaping");
}

#[test]
fn an_htb_tree_with_netem_reads_back_rate_delay_jitter_correlation_and_loss() {
    let observed = read_observed(&snapshot(HTB_NETEM, HTB_CLASS)).unwrap();
    let expected = DirectionProfile {
        rate_kbit: 2000,
        delay_ms: 100.0,
        jitter_ms: 10.0,
        correlation_pct: 25.0,
        loss_pct: 1.0,
        ..Default::default()
    };
    assert_eq!(observed.download, Some(expected));
    assert_eq!(
        observed.download_stats,
        Some(QdiscStats {
            bytes: 123_456,
            packets: 100,
            drops: 4,
            overlimits: 42
        })
    );
    assert!(observed.foreign_root.is_none());
    assert!(observed.notes.is_empty(), "{:?}", observed.notes);
}

#[test]
fn netem_alone_at_our_root_reads_every_percentage_from_fractions() {
    let observed = read_observed(&snapshot(NETEM_ROOT, "")).unwrap();
    let d = observed.download.unwrap();
    assert_eq!((d.rate_kbit, d.delay_ms, d.jitter_ms), (0, 10.0, 0.0));
    assert_eq!(
        (d.loss_pct, d.duplicate_pct, d.reorder_pct, d.corrupt_pct),
        (30.0, 0.5, 25.0, 0.001)
    );
    // The fixture carries no counters (tc without -s): there are no stats to show.
    assert_eq!(observed.download_stats, None);
}

/// K8: `rate 600Kbit` in tc's class text is 600 kbit/s.
#[test]
fn k8_a_class_rate_of_600kbit_reads_as_600_kbit() {
    let class = "class htb 7173:1 root prio 0 rate 600Kbit ceil 600Kbit burst 1600b cburst 1600b";
    let json = r#"[{"kind":"htb","handle":"7173:","root":true,"refcnt":2,"options":{}}]"#;
    let observed = read_observed(&snapshot(json, class)).unwrap();
    assert_eq!(observed.download.map(|d| d.rate_kbit), Some(600));
}

/// K1: a hand-made netem root is foreign: named, and not read as ours.
#[test]
fn k1_a_hand_made_root_is_foreign() {
    let observed = read_observed(&snapshot(FOREIGN_NETEM, "")).unwrap();
    assert_eq!(observed.download, None);
    assert_eq!(
        observed.foreign_root,
        Some(ForeignQdisc {
            kind: "netem".into(),
            handle: "8001:".into()
        })
    );
}

#[test]
fn default_roots_of_multiqueue_devices_are_not_foreign() {
    let observed = read_observed(&snapshot(MQ_DEFAULT, "")).unwrap();
    assert_eq!(observed, Observed::default());
    // The same kind with a handle someone chose is not a default any more.
    let chosen = r#"[{"kind":"fq_codel","handle":"1:","root":true,"options":{}}]"#;
    assert!(
        read_observed(&snapshot(chosen, ""))
            .unwrap()
            .foreign_root
            .is_some()
    );
}

#[test]
fn an_ingress_that_redirects_to_our_ifb_is_ours() {
    let mut snap = snapshot(HTB_NETEM, HTB_CLASS);
    snap.ingress_filter_json = Some(FILTER_OURS);
    let observed = read_observed(&snap).unwrap();
    assert!(observed.ingress_ours);
    assert!(observed.foreign_ingress.is_none());
}

#[test]
fn an_ingress_without_our_redirect_is_foreign() {
    let mut snap = snapshot(HTB_NETEM, HTB_CLASS);
    for filter in [
        None,
        Some("[]"),
        Some(&FILTER_OURS.replace("qs-ifb12", "qs-ifb13")[..]),
    ] {
        snap.ingress_filter_json = filter;
        let observed = read_observed(&snap).unwrap();
        assert!(!observed.ingress_ours, "{filter:?}");
        assert_eq!(
            observed.foreign_ingress.map(|q| q.kind),
            Some("ingress".to_owned())
        );
    }
}

#[test]
fn the_ifb_tree_is_the_upload_and_counts_only_with_the_redirect() {
    let mut snap = snapshot(LO_REAL, "");
    snap.ifb = Some(DeviceText {
        qdisc_json: HTB_NETEM,
        class_text: HTB_CLASS,
    });
    let observed = read_observed(&snap).unwrap();
    assert!(observed.ifb_present);
    assert_eq!(observed.upload.as_ref().map(|u| u.rate_kbit), Some(2000));
    assert_eq!(observed.effective_upload(), None);
    assert_eq!(observed.shaping().summary(), "no shaping");
    assert!(
        observed
            .notes
            .iter()
            .any(|n| n.contains("does not redirect")),
        "{:?}",
        observed.notes
    );
}

#[test]
fn a_missing_class_is_a_note_and_a_class_without_rate_is_an_error() {
    let json = r#"[{"kind":"htb","handle":"7173:","root":true,"options":{}}]"#;
    let observed = read_observed(&snapshot(json, "")).unwrap();
    assert_eq!(observed.download.map(|d| d.rate_kbit), Some(0));
    assert!(observed.notes.iter().any(|n| n.contains("no class 7173:1")));

    let err = read_observed(&snapshot(json, "class htb 7173:1 root prio 0 rate lots")).unwrap_err();
    assert!(matches!(err, ReadbackError::ClassLine { .. }), "{err}");
}

#[test]
fn netem_features_quayside_never_sets_are_noted() {
    let json = r#"[{"kind":"netem","handle":"7173:","root":true,"options":{"limit":1000,"rate":{"rate":125000,"packetoverhead":0,"cellsize":0,"celloverhead":0},"ecn":true,"gap":0}}]"#;
    let observed = read_observed(&snapshot(json, "")).unwrap();
    assert!(
        observed.notes.iter().any(|n| n.contains("rate, ecn")),
        "{:?}",
        observed.notes
    );
}

#[test]
fn text_that_is_not_tc_json_is_an_error_naming_the_device() {
    let err = read_observed(&snapshot("Error: Cannot find device", "")).unwrap_err();
    assert!(err.to_string().contains("veth1a2b3c"), "{err}");
    let mut snap = snapshot(HTB_NETEM, HTB_CLASS);
    snap.ingress_filter_json = Some("{");
    assert!(matches!(
        read_observed(&snap),
        Err(ReadbackError::FilterJson { .. })
    ));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn no_text_makes_the_reader_panic(
            qdisc in "\\PC{0,60}",
            class in "(class htb 7173:1 \\PC{0,30}|\\PC{0,40})",
            filter in proptest::option::of("\\PC{0,30}"),
        ) {
            let mut snap = snapshot(&qdisc, &class);
            snap.ingress_filter_json = filter.as_deref();
            let _ = read_observed(&snap);
            // Well-formed JSON with our handle reaches the class and netem readers too.
            let json = r#"[{"kind":"htb","handle":"7173:","root":true,"options":{}}]"#;
            let _ = read_observed(&snapshot(json, &class));
        }
    }
}

#[test]
fn devices_with_our_root_or_an_ingress_are_found_in_the_all_devices_list() {
    // Real form: `tc -j qdisc show` with no device names each entry's device.
    let all = r#"[{"kind":"noqueue","handle":"0:","dev":"lo","root":true,"refcnt":2,"options":{}},
{"kind":"htb","handle":"7173:","dev":"vethA","root":true,"refcnt":2,"options":{}},
{"kind":"ingress","handle":"ffff:","dev":"vethA","parent":"ffff:fff1","options":{}},
{"kind":"netem","handle":"8001:","dev":"vethB","root":true,"options":{}},
{"kind":"ingress","handle":"ffff:","dev":"vethC","parent":"ffff:fff1","options":{}},
{"kind":"netem","handle":"7173:","dev":"qs-ifb9","root":true,"options":{}}]"#;
    assert_eq!(
        devices_with_our_handles(all).unwrap(),
        ["vethA", "vethC", "qs-ifb9"]
    );
}

#[test]
fn a_class_with_an_overhead_set_by_hand_reads_back_its_rate() {
    // Real: tc 6.1 on this machine prints a class's overhead between rate and ceil.
    let class = "class htb 7173:1 root prio 0 rate 512Kbit overhead 14 ceil 512Kbit burst 1600b cburst 1600b \n";
    assert_eq!(class_rate_kbit("qs-ifb12", class).unwrap(), Some(512));
}

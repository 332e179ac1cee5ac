//! Plans for the download direction, netem and HTB details, and interface names.

use super::*;

pub(super) const VETH: &str = "veth1a2b3c";
pub(super) const IFINDEX: u32 = 12;

pub(super) fn dir(rate_kbit: u64, delay_ms: f64) -> DirectionProfile {
    DirectionProfile {
        rate_kbit,
        delay_ms,
        ..Default::default()
    }
}

fn down(p: DirectionProfile) -> ShapingProfile {
    ShapingProfile {
        download: p,
        ..Default::default()
    }
}

pub(super) fn up(p: DirectionProfile) -> ShapingProfile {
    ShapingProfile {
        upload: p,
        ..Default::default()
    }
}

pub(super) fn plan(wanted: &ShapingProfile, observed: &Observed) -> ApplyPlan {
    plan_apply(VETH, IFINDEX, wanted, observed, false).unwrap()
}

pub(super) fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn rate_and_impairments_build_htb_with_a_netem_child() {
    let wanted = down(DirectionProfile {
        jitter_ms: 10.0,
        correlation_pct: 25.0,
        loss_pct: 1.0,
        duplicate_pct: 1.0,
        corrupt_pct: 1.0,
        reorder_pct: 25.0,
        ..dir(2000, 100.0)
    });
    let p = plan(&wanted, &Observed::default());
    assert_eq!(
        p.tc_batch,
        strings(&[
            "qdisc add dev veth1a2b3c root handle 7173: htb default 1",
            "class add dev veth1a2b3c parent 7173: classid 7173:1 htb rate 2mbit ceil 2mbit \
             burst 1600 cburst 1600",
            "qdisc add dev veth1a2b3c parent 7173:1 handle 7174: netem delay 100ms 10ms 25% \
             loss 1% duplicate 1% corrupt 1% reorder 25% limit 1000",
        ])
    );
    assert!(p.link_steps.is_empty() && p.cleanup_links.is_empty() && p.warnings.is_empty());
}

#[test]
fn impairments_without_a_rate_put_netem_alone_at_the_root() {
    let p = plan(&down(dir(0, 0.25)), &Observed::default());
    assert_eq!(
        p.tc_batch,
        strings(&["qdisc add dev veth1a2b3c root handle 7173: netem delay 250us limit 1000"])
    );
    // Without a rate, a 10 Gbit/s line is assumed: 1.25 GB/s × 0.1 s × 2 / 1500 B.
    assert!(plan(&down(dir(0, 100.0)), &Observed::default()).tc_batch[0].ends_with("limit 166667"));
}

#[test]
fn a_rate_without_impairments_builds_htb_alone() {
    let p = plan(&down(dir(600, 0.0)), &Observed::default());
    assert_eq!(p.tc_batch.len(), 2);
    assert!(
        p.tc_batch[1].contains("htb rate 600kbit ceil 600kbit"),
        "{:?}",
        p.tc_batch
    );
}

/// K9: reorder 25 % with delay 10 ms becomes `netem delay 10ms reorder 25%`.
#[test]
fn k9_reorder_with_a_delay_is_sent_with_the_delay() {
    let p = plan(
        &down(DirectionProfile {
            reorder_pct: 25.0,
            ..dir(0, 10.0)
        }),
        &Observed::default(),
    );
    assert!(
        p.tc_batch[0].contains("netem delay 10ms reorder 25% limit"),
        "{:?}",
        p.tc_batch
    );
}

/// K9: reorder 25 % with delay 0 gives no plan at all, so nothing is half-applied.
#[test]
fn k9_an_invalid_profile_gives_no_plan() {
    let wanted = down(DirectionProfile {
        reorder_pct: 25.0,
        ..Default::default()
    });
    let err = plan_apply(VETH, IFINDEX, &wanted, &Observed::default(), true).unwrap_err();
    assert!(matches!(
        err,
        PlanError::Invalid(ValidationError::ReorderNeedsDelay { .. })
    ));
}

#[test]
fn warnings_of_the_profile_travel_with_the_plan() {
    let p = plan(
        &down(DirectionProfile {
            jitter_ms: 50.0,
            ..dir(0, 10.0)
        }),
        &Observed::default(),
    );
    assert!(matches!(
        p.warnings.as_slice(),
        [Warning::JitterAboveDelay { .. }]
    ));
}

/// K1: a hand-made `netem delay 50ms` root (handle 8001:) is reported and left alone.
#[test]
fn k1_a_foreign_root_is_refused_by_name_unless_replaced() {
    let observed = Observed {
        foreign_root: Some(ForeignQdisc {
            kind: "netem".into(),
            handle: "8001:".into(),
        }),
        ..Default::default()
    };
    let wanted = down(dir(0, 100.0));
    let err = plan_apply(VETH, IFINDEX, &wanted, &observed, false).unwrap_err();
    assert_eq!(
        err,
        PlanError::ForeignRoot {
            dev: VETH.into(),
            kind: "netem".into(),
            handle: "8001:".into()
        }
    );
    assert!(err.to_string().contains("netem 8001:"), "{err}");

    let replaced = plan_apply(VETH, IFINDEX, &wanted, &observed, true).unwrap();
    assert_eq!(replaced.tc_batch[0], "qdisc del dev veth1a2b3c root");
    assert!(
        replaced.tc_batch[1]
            .starts_with("qdisc add dev veth1a2b3c root handle 7173: netem delay 100ms")
    );
}

#[test]
fn a_foreign_root_is_left_alone_when_download_is_unshaped() {
    let observed = Observed {
        foreign_root: Some(ForeignQdisc {
            kind: "tbf".into(),
            handle: "1:".into(),
        }),
        ..Default::default()
    };
    assert!(plan_apply(VETH, IFINDEX, &up(dir(512, 0.0)), &observed, false).is_ok());
    let p = plan_apply(VETH, IFINDEX, &ShapingProfile::default(), &observed, true).unwrap();
    assert!(p.is_empty(), "{p:?}");
}

/// K2: a second change deletes our old root first in the same batch, so no `File exists`.
#[test]
fn k2_a_change_deletes_our_previous_root_before_adding_the_new_tree() {
    let observed = Observed {
        download: Some(dir(0, 100.0)),
        ..Default::default()
    };
    let p = plan(
        &down(DirectionProfile {
            loss_pct: 30.0,
            ..dir(0, 100.0)
        }),
        &observed,
    );
    assert_eq!(p.tc_batch[0], "qdisc del dev veth1a2b3c root");
    assert!(
        p.tc_batch[1].contains("netem delay 100ms loss 30%"),
        "{:?}",
        p.tc_batch
    );
}

#[test]
fn an_unshaped_direction_deletes_its_tree_and_nothing_else() {
    let observed = Observed {
        download: Some(dir(1000, 0.0)),
        ..Default::default()
    };
    let p = plan(&ShapingProfile::default(), &observed);
    assert_eq!(p.tc_batch, strings(&["qdisc del dev veth1a2b3c root"]));
    assert!(plan(&ShapingProfile::default(), &Observed::default()).is_empty());
}

#[test]
fn rendered_commands_list_links_then_tc_then_cleanup() {
    let p = plan(&up(dir(512, 0.0)), &Observed::default());
    let shown = render_commands(&p);
    assert_eq!(shown[0], "ip link add qs-ifb12 type ifb");
    assert_eq!(shown[1], "ip link set qs-ifb12 up");
    assert_eq!(shown[2], "tc qdisc add dev veth1a2b3c ingress");
    assert_eq!(shown.len(), 2 + p.tc_batch.len());
}

#[test]
fn high_rates_get_a_burst_of_one_millisecond() {
    let p = plan(&down(dir(1_000_000, 0.0)), &Observed::default());
    assert!(p.tc_batch[1].ends_with("rate 1000mbit ceil 1000mbit burst 125000 cburst 125000"));
}

#[test]
fn netem_limit_covers_rate_times_delay_within_bounds() {
    assert_eq!(netem_limit_packets(&dir(2000, 100.0)), 1000);
    // 100 Mbit/s × 1.2 s = 15 MB = 10000 full packets, doubled.
    assert_eq!(
        netem_limit_packets(&DirectionProfile {
            jitter_ms: 200.0,
            ..dir(100_000, 1000.0)
        }),
        20_000
    );
    assert_eq!(netem_limit_packets(&dir(100_000_000, 274_000.0)), 1_000_000);
    assert_eq!(
        netem_limit_packets(&DirectionProfile {
            loss_pct: 1.0,
            ..dir(0, 0.0)
        }),
        1000
    );
}

#[test]
fn ifb_names_fit_in_fifteen_bytes_or_are_refused() {
    assert_eq!(ifb_name(12).unwrap(), "qs-ifb12");
    assert_eq!(ifb_name(999_999_999).unwrap().len(), 15);
    assert!(matches!(
        ifb_name(1_000_000_000),
        Err(PlanError::BadDeviceName { .. })
    ));
}

#[test]
fn device_names_that_would_break_a_batch_line_are_refused() {
    for bad in [
        "",
        "veth 1",
        "veth#1",
        "a/b",
        "a:b",
        "..",
        "sixteen-chars-xx",
        "q\"x",
    ] {
        let err = plan_apply(
            bad,
            IFINDEX,
            &down(dir(1000, 0.0)),
            &Observed::default(),
            false,
        );
        assert!(
            matches!(err, Err(PlanError::BadDeviceName { .. })),
            "{bad:?}"
        );
        assert!(
            clear_plan(bad, IFINDEX, &Observed::default()).is_err(),
            "{bad:?}"
        );
    }
}

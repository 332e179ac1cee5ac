//! Plan → run on a model of the kernel → read back, for whole sequences of changes.
//!
//! This module owns the tests that tie `plan`, `readback` and the `fake_tc` printers
//! together: whatever valid profile is asked for, the planned batch must run without
//! `File exists` or `Cannot find` errors on the state the previous plan left, and reading the
//! result back must give the same profile within tc's rounding. It must not test one module's
//! details (those live next to the code).

use proptest::prelude::*;

use crate::shaping::fake_tc::FakeHost;
use crate::shaping::plan::{ApplyPlan, ClearPlan, clear_plan, ifb_name, plan_apply};
use crate::shaping::profile::{DirectionProfile, ShapingProfile, Tolerance};
use crate::shaping::readback::{DeviceText, Observed, TcSnapshot, read_observed};

const VETH: &str = "veth9f8e7d";
const IFINDEX: u32 = 112;

/// Reads the fake host the way the backend reads a real one.
fn observe(host: &FakeHost) -> Observed {
    let ifb = ifb_name(IFINDEX).unwrap();
    let (veth_q, veth_c, filter) = (
        host.qdisc_json(VETH),
        host.class_text(VETH),
        host.filter_json(VETH),
    );
    let (ifb_q, ifb_c) = (host.qdisc_json(&ifb), host.class_text(&ifb));
    read_observed(&TcSnapshot {
        veth_name: VETH,
        veth: DeviceText {
            qdisc_json: &veth_q,
            class_text: &veth_c,
        },
        ingress_filter_json: Some(&filter),
        ifb_name: &ifb,
        ifb: host.has_device(&ifb).then_some(DeviceText {
            qdisc_json: &ifb_q,
            class_text: &ifb_c,
        }),
    })
    .unwrap()
}

/// Runs a plan the way the backend does: links, one batch, cleanup.
fn run(host: &mut FakeHost, plan: &ApplyPlan) -> Result<(), String> {
    for step in &plan.link_steps {
        host.run_ip(step)?;
    }
    host.run_batch(&plan.tc_batch)?;
    for step in &plan.cleanup_links {
        host.run_ip(step)?;
    }
    Ok(())
}

/// Plans `wanted` against what the host holds, runs it, and reads the result back.
fn apply(host: &mut FakeHost, wanted: &ShapingProfile) -> Result<Observed, String> {
    let plan =
        plan_apply(VETH, IFINDEX, wanted, &observe(host), false).map_err(|e| e.to_string())?;
    run(host, &plan)?;
    Ok(observe(host))
}

fn delay(ms: f64) -> DirectionProfile {
    DirectionProfile {
        delay_ms: ms,
        ..Default::default()
    }
}

/// K1: a hand-made `netem delay 50ms` root; the user applies 100 ms.
#[test]
fn k1_a_foreign_root_is_kept_until_replaced_and_then_only_ours_is_there() {
    let mut host = FakeHost::with_veth(VETH);
    let by_hand =
        r#"{"limit":1000,"delay":{"delay":0.05,"jitter":0,"correlation":0},"ecn":false,"gap":0}"#;
    host.put_foreign_root(VETH, "netem", "8001:", by_hand);
    let wanted = ShapingProfile {
        download: delay(100.0),
        ..Default::default()
    };

    // Refused before anything changes; the 50 ms stays.
    assert!(
        apply(&mut host, &wanted)
            .unwrap_err()
            .contains("netem 8001:")
    );
    assert!(host.qdisc_json(VETH).contains("8001:"));

    // Replaced on request: read-back shows 100 ms and only that.
    let plan = plan_apply(VETH, IFINDEX, &wanted, &observe(&host), true).unwrap();
    run(&mut host, &plan).unwrap();
    let observed = observe(&host);
    assert_eq!(observed.foreign_root, None);
    assert_eq!(observed.download, Some(delay(100.0)));
}

/// K2: delay 100 ms, then loss 30 %: one netem with both, no `File exists`.
#[test]
fn k2_a_second_apply_keeps_the_first_in_one_netem() {
    let mut host = FakeHost::with_veth(VETH);
    let mut wanted = ShapingProfile {
        download: delay(100.0),
        ..Default::default()
    };
    apply(&mut host, &wanted).unwrap();
    wanted.download.loss_pct = 30.0;
    let observed = apply(&mut host, &wanted).unwrap();
    assert_eq!(
        observed.download,
        Some(DirectionProfile {
            loss_pct: 30.0,
            ..delay(100.0)
        })
    );
    assert_eq!(host.qdisc_json(VETH).matches("\"netem\"").count(), 1);
}

/// K7: download and upload land on different devices and read back apart.
#[test]
fn k7_download_and_upload_are_shaped_on_the_veth_and_the_ifb() {
    let mut host = FakeHost::with_veth(VETH);
    let wanted = ShapingProfile {
        download: DirectionProfile {
            rate_kbit: 1000,
            ..Default::default()
        },
        upload: DirectionProfile {
            rate_kbit: 512,
            ..Default::default()
        },
    };
    let observed = apply(&mut host, &wanted).unwrap();
    assert!(observed.ingress_ours);
    assert_eq!(observed.shaping(), wanted);
    assert_eq!(observed.shaping().summary(), "↓1 Mbit/s ↑512 kbit/s");
}

/// K10: without netem the batch fails with tc's words; re-reading and clearing leaves nothing,
/// never half a tree.
#[test]
fn k10_a_failed_batch_is_followed_by_a_clear_that_leaves_nothing() {
    let mut host = FakeHost::with_veth(VETH);
    host.netem_missing = true;
    let wanted = ShapingProfile {
        download: DirectionProfile {
            rate_kbit: 1000,
            ..delay(100.0)
        },
        ..Default::default()
    };
    let err = apply(&mut host, &wanted).unwrap_err();
    assert!(err.contains("Specified qdisc kind is unknown"), "{err}");

    // tc -batch stops at the failing line: the HTB part is there and must go.
    let half = observe(&host);
    assert!(half.download.is_some());
    let Ok(ClearPlan::Steps(clear)) = clear_plan(VETH, IFINDEX, &half) else {
        panic!("{half:?}")
    };
    run(&mut host, &clear).unwrap();
    assert_eq!(observe(&host), Observed::default());
}

/// K11: clear twice; both succeed and the second says already clear.
#[test]
fn k11_clear_twice_reports_already_clear_the_second_time() {
    let mut host = FakeHost::with_veth(VETH);
    let wanted = ShapingProfile {
        download: delay(10.0),
        upload: DirectionProfile {
            rate_kbit: 64,
            ..delay(5.0)
        },
    };
    apply(&mut host, &wanted).unwrap();
    let Ok(ClearPlan::Steps(first)) = clear_plan(VETH, IFINDEX, &observe(&host)) else {
        panic!()
    };
    run(&mut host, &first).unwrap();
    assert!(!host.has_device("qs-ifb112"));
    assert_eq!(
        clear_plan(VETH, IFINDEX, &observe(&host)),
        Ok(ClearPlan::AlreadyClear)
    );
    assert_eq!(observe(&host).shaping().summary(), "no shaping");
}

fn percent() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 0.0f64..=100.0]
}

fn time_ms() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 0.001f64..=274_000.0]
}

prop_compose! {
    fn valid_direction()(
        rate_kbit in prop_oneof![Just(0u64), 8u64..=100_000_000],
        delay_ms in time_ms(),
        jitter_ms in time_ms(),
        correlation_pct in percent(),
        loss_pct in percent(),
        duplicate_pct in percent(),
        corrupt_pct in percent(),
        reorder_pct in percent(),
    ) -> DirectionProfile {
        let has_delay = delay_ms > 0.0;
        DirectionProfile {
            rate_kbit,
            delay_ms,
            jitter_ms: if has_delay { jitter_ms } else { 0.0 },
            correlation_pct,
            loss_pct,
            duplicate_pct,
            corrupt_pct,
            reorder_pct: if has_delay { reorder_pct } else { 0.0 },
        }
    }
}

prop_compose! {
    fn valid_profile()(download in valid_direction(), upload in valid_direction()) -> ShapingProfile {
        ShapingProfile { download, upload }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_valid_profiles_applies_cleanly_and_reads_back_the_same(
        first in valid_profile(),
        second in valid_profile(),
    ) {
        let mut host = FakeHost::with_veth(VETH);
        for wanted in [&first, &second, &first] {
            let observed = apply(&mut host, wanted).map_err(TestCaseError::fail)?;
            prop_assert!(
                observed.shaping().approx_eq(wanted, &Tolerance::TC_READBACK),
                "wanted {:?}\nread   {:?}", wanted, observed.shaping()
            );
            prop_assert!(observed.notes.is_empty(), "{:?}", observed.notes);
            // K8: only bit units ever reach tc.
            let plan = plan_apply(VETH, IFINDEX, wanted, &observed, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(plan.tc_batch.iter().all(|l| !l.contains("bps")), "{:?}", plan.tc_batch);
        }
        let Ok(ClearPlan::Steps(clear)) = clear_plan(VETH, IFINDEX, &observe(&host)) else {
            return Ok(());
        };
        run(&mut host, &clear).map_err(TestCaseError::fail)?;
        prop_assert_eq!(observe(&host), Observed::default());
    }
}

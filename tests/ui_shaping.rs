//! The Network tab of the real window against the real engine and this kernel's tc: typed
//! values in both directions, presets, remembered shaping after a restart, timed shaping,
//! and the read-back proving what the kernel holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::ui::{runtime, step_until};
use common::{TestContainer, docker, quayside_ok, run_ok};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use quayside::App;

/// Every test here shapes containers of the one local engine, and one of them clears all of
/// them: they run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn window(rt: &tokio::runtime::Runtime) -> Harness<'static, App> {
    let handle = rt.handle().clone();
    Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .build_eframe(move |cc| quayside::testing::local_app(&handle, &cc.egui_ctx))
}

fn has_label(h: &Harness<'static, App>, label: &str) -> bool {
    h.query_all_by_label(label).next().is_some()
}

fn shows(h: &Harness<'static, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Replaces the text of the field labelled `label` with `text`, then leaves the field.
fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.step();
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
}

/// Filters the table to `c`, selects it and opens its Network tab, waiting for the read-back.
fn open_network_tab(h: &mut Harness<'static, App>, c: &TestContainer) {
    h.get_by_role_and_label(Role::TextInput, "Filter").focus();
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Filter")
        .type_text(&c.name);
    h.step();
    assert!(step_until(h, Duration::from_secs(10), |h| has_label(
        h, &c.name
    )));
    h.get_all_by_label(&c.name).next().unwrap().click();
    assert!(
        step_until(h, Duration::from_secs(10), |h| has_label(h, "Network")),
        "tabs shown"
    );
    h.get_by_label("Network").click();
    assert!(
        step_until(h, Duration::from_secs(15), |h| shows(h, ": no shaping")),
        "the tab reads the container's shaping first"
    );
}

fn class_rates(veth_or_ifb: &str) -> String {
    run_ok("tc", &["class", "show", "dev", veth_or_ifb])
}

#[test]
fn typed_rates_in_both_directions_reach_the_kernel_and_the_read_back() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-both");
    open_network_tab(&mut h, &c);

    type_into(&mut h, "Download rate value", "3 Mbit/s");
    type_into(&mut h, "Upload rate value", "700 kbit/s");
    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(
        step_until(&mut h, Duration::from_secs(15), |h| shows(
            h,
            ": ↓3 Mbit/s ↑700 kbit/s"
        )),
        "the read-back shows both directions"
    );
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    assert!(class_rates(&veth).contains("rate 3Mbit"));
    assert!(class_rates(&format!("qs-ifb{ifindex}")).contains("rate 700Kbit"));

    h.get_by_role_and_label(Role::Button, "Clear").click();
    assert!(step_until(&mut h, Duration::from_secs(15), |h| shows(
        h,
        ": no shaping"
    )));
}

/// K6: shape a container, `docker restart` it; its new veth has no qdisc until Quayside,
/// following the engine's start event, applies the remembered shaping again and says so.
#[test]
fn k6_a_restarted_container_gets_its_remembered_shaping_again() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-k6");
    open_network_tab(&mut h, &c);

    type_into(&mut h, "Download rate value", "1 Mbit/s");
    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(step_until(&mut h, Duration::from_secs(15), |h| shows(
        h,
        ": ↓1 Mbit/s"
    )));
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| shows(
            h,
            "applied again when the container restarts"
        )),
        "the tab says the shaping is remembered"
    );
    let old_veth = c.host_veths()[0].2.clone();

    docker(&["restart", "-t", "0", &c.name]);
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| shows(
            h,
            "remembered shaping was re-applied"
        )),
        "the window says the shaping was re-applied"
    );
    let new_veth = c.host_veths()[0].2.clone();
    assert_ne!(old_veth, new_veth, "a restart gives a new veth");
    assert!(
        class_rates(&new_veth).contains("rate 1Mbit"),
        "the new veth holds the rate: {}",
        class_rates(&new_veth)
    );
    assert!(step_until(&mut h, Duration::from_secs(10), |h| shows(
        h,
        ": ↓1 Mbit/s"
    )));

    // Cleared shaping is forgotten: the next restart leaves the veth alone.
    h.get_by_role_and_label(Role::Button, "Clear").click();
    assert!(step_until(&mut h, Duration::from_secs(15), |h| shows(
        h,
        ": no shaping"
    )));
    docker(&["restart", "-t", "0", &c.name]);
    std::thread::sleep(Duration::from_secs(3));
    h.run_steps(3);
    let veth = c.host_veths()[0].2.clone();
    assert!(
        !run_ok("tc", &["qdisc", "show", "dev", &veth]).contains("7173:"),
        "a cleared container is not shaped again on restart"
    );
}

#[test]
fn timed_shaping_counts_down_and_clears_itself() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-timed");
    open_network_tab(&mut h, &c);

    type_into(&mut h, "Download rate value", "2 Mbit/s");
    h.get_by_role_and_label(Role::CheckBox, "Clear after")
        .click();
    h.step();
    type_into(&mut h, "Clear after duration", "4 s");
    h.get_by_role_and_label(Role::Button, "Apply for 4 s")
        .click();
    assert!(step_until(&mut h, Duration::from_secs(15), |h| shows(
        h,
        ": ↓2 Mbit/s"
    )));
    assert!(
        step_until(&mut h, Duration::from_secs(3), |h| shows(
            h,
            "Clears itself in"
        )),
        "a countdown shows"
    );
    let veth = c.host_veths()[0].2.clone();
    assert!(class_rates(&veth).contains("rate 2Mbit"));

    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| shows(
            h,
            "the timed shaping ended"
        )),
        "the window says the time is up"
    );
    assert!(shows(&h, ": no shaping"));
    assert!(!run_ok("tc", &["qdisc", "show", "dev", &veth]).contains("7173:"));
}

/// Shaping applied while no window runs (here by the command line) is found when a window opens
/// and listed under its host; "Clear all shaping" removes it.
#[test]
fn shaping_left_by_an_earlier_run_is_listed_and_clear_all_removes_it() {
    let _serial = serial();
    let c = TestContainer::sleeper("ui-found");
    quayside_ok(&["net", "--id", &c.id(), "--down-rate", "1500kbit"]);
    let (_, _, veth) = c.host_veths()[0].clone();
    assert!(class_rates(&veth).contains("rate 1500Kbit"));

    let rt = runtime();
    let mut h = window(&rt);
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| shows(
            h,
            &format!("{} ({veth}): ↓1.5 Mbit/s", c.name)
        )),
        "the window lists the tree it found"
    );
    assert!(shows(&h, "Shaping found on this host"));

    h.get_by_role_and_label(Role::Button, "Clear all shaping…")
        .click();
    assert!(step_until(&mut h, Duration::from_secs(5), |h| has_label(
        h,
        "Clear all"
    )));
    h.get_by_role_and_label(Role::Button, "Clear all").click();
    assert!(
        step_until(&mut h, Duration::from_secs(30), |h| !shows(
            h,
            "Shaping found on this host"
        )),
        "the list empties once cleared"
    );
    assert!(
        !run_ok("tc", &["qdisc", "show", "dev", &veth]).contains("7173:"),
        "no tree of ours is left on the veth"
    );
}

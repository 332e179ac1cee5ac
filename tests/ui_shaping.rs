//! The Network tab of the real window against the real engine and this kernel's tc: typed
//! values in both directions, presets, remembered shaping after a restart, timed shaping,
//! and the read-back proving what the kernel holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::ui::{
    drag_slider, enter_text, has_label, local_window, runtime, shows, slider_value, step_until,
};
use common::{TestContainer, docker, quayside_ok, run_ok};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use quayside::App;

/// Every test here shapes containers of the one local engine, and one of them clears all of
/// them: they run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn window(rt: &tokio::runtime::Runtime) -> Harness<'static, App> {
    local_window(rt)
}

fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    enter_text(h, label, text);
}

/// Types `rate` into the download rate and applies it for `duration` ("Clear after").
fn apply_timed(h: &mut Harness<'static, App>, rate: &str, duration: &str) {
    enter_text(h, "Download rate value", rate);
    h.get_by_role_and_label(Role::CheckBox, "Clear after")
        .click();
    h.step();
    enter_text(h, "Clear after duration", duration);
    h.get_by_role_and_label(Role::Button, &format!("Apply for {duration}"))
        .click();
}

/// Types `rate` into the download rate, applies, and waits for the read-back to show `shown`.
fn apply_download_rate(h: &mut Harness<'static, App>, rate: &str, shown: &str) {
    enter_text(h, "Download rate value", rate);
    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(
        step_until(h, Duration::from_secs(15), |h| shows(h, shown)),
        "the read-back shows {shown}"
    );
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

/// What `program` prints, or nothing when it fails (a device not there yet).
fn run_quiet(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
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

    apply_download_rate(&mut h, "1 Mbit/s", ": ↓1 Mbit/s");
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

    apply_timed(&mut h, "2 Mbit/s", "4 s");
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
            &format!("{} eth0 ({veth}): ↓1.5 Mbit/s", c.name)
        )),
        "the window lists the tree it found"
    );
    assert!(shows(&h, "Shaping found on this host"));

    // The host's lines still move while other containers' news arrives: a click that lands
    // beside the button (the dialog did not open) is tried again.
    let mut asked = false;
    for _ in 0..5 {
        h.run_steps(3);
        h.get_by_role_and_label(Role::Button, "Clear all shaping…")
            .click();
        if step_until(&mut h, Duration::from_secs(2), |h| {
            has_label(h, "Clear all")
        }) {
            asked = true;
            break;
        }
    }
    assert!(asked, "Clear all shaping… asks first");
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

/// This kernel has no netem: the host says so with the fix, the impairment knobs are disabled
/// with the reason, and a preset applies its rates (with a slider moved after choosing it).
#[test]
fn on_a_host_without_netem_a_preset_applies_its_rates_and_impairments_are_disabled() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-preset");
    open_network_tab(&mut h, &c);
    assert!(
        step_until(&mut h, Duration::from_secs(15), |h| shows(
            h,
            "netem unavailable"
        )),
        "the host shows netem missing"
    );
    assert!(shows(&h, "modprobe sch_netem"), "with the fix");
    assert!(shows(&h, "Impairments are off on this host"));
    for knob in ["Download delay", "Upload loss", "Download reorder"] {
        assert!(
            h.get_by_role_and_label(Role::Slider, knob)
                .accesskit_node()
                .is_disabled(),
            "{knob} is disabled"
        );
    }
    assert!(
        !h.get_by_role_and_label(Role::Slider, "Download rate")
            .accesskit_node()
            .is_disabled()
    );

    h.get_by_label("Preset").click();
    h.run_steps(2);
    h.get_all_by_label_contains("DSL  —")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    assert_eq!(
        slider_value(&h, "Download rate"),
        8000.0,
        "the preset filled the download rate"
    );

    // Move the upload rate slider from the preset's 1 Mbit/s (on its logarithmic rail from
    // 8 kbit/s to 10 Gbit/s) towards its left end.
    let one_mbit = ((1000f64 / 8.0).ln() / (10_000_000f64 / 8.0).ln()) as f32;
    drag_slider(&mut h, "Upload rate", one_mbit, 0.3);
    let up_kbit = slider_value(&h, "Upload rate");
    assert!(
        (8.0..1000.0).contains(&up_kbit),
        "the drag lowered the upload rate: {up_kbit}"
    );

    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(
        step_until(&mut h, Duration::from_secs(15), |h| shows(
            h,
            ": ↓8 Mbit/s ↑"
        )),
        "the read-back shows the preset's rate and the dragged one"
    );
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    assert!(class_rates(&veth).contains("rate 8Mbit"));
    let ifb_class = class_rates(&format!("qs-ifb{ifindex}"));
    assert!(ifb_class.contains("rate "), "{ifb_class}");
    assert!(
        !run_ok("tc", &["qdisc", "show", "dev", &veth]).contains("netem"),
        "no netem was asked for"
    );
}

/// Ctrl-click two containers: one form sets the download rate of both, and each keeps the
/// rest of its shaping.
#[test]
fn one_form_applies_to_every_selected_container() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let word = common::unique_name("ui-group");
    let a = TestContainer::sleeper(&format!("{word}-a"));
    let b = TestContainer::sleeper(&format!("{word}-b"));
    // b already has an upload limit, which the form does not show: it must stay.
    quayside_ok(&["net", "--id", &b.id(), "--up-rate", "700kbit"]);
    h.get_by_role_and_label(Role::TextInput, "Filter").focus();
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Filter")
        .type_text(&word);
    h.step();
    assert!(step_until(&mut h, Duration::from_secs(10), |h| has_label(
        h, &a.name
    )
        && has_label(h, &b.name)));
    h.get_all_by_label(&a.name).next().unwrap().click();
    h.run_steps(2);
    h.get_all_by_label(&b.name)
        .next()
        .unwrap()
        .click_modifiers(egui::Modifiers::COMMAND);
    h.run_steps(2);
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| shows(
            h,
            "2 containers selected"
        )),
        "both selected"
    );
    h.get_by_label("Network").click();
    h.run_steps(2);
    type_into(&mut h, "Download rate value", "1200 kbit/s");
    h.get_by_role_and_label(Role::Button, "Apply to 2").click();
    // The click is taken in by the next frames.
    h.run_steps(2);
    for c in [&a, &b] {
        let veth = c.host_veths()[0].2.clone();
        assert!(
            common::wait_until(Duration::from_secs(15), || class_rates(&veth)
                .contains("rate 1200Kbit")),
            "{} is shaped: {}",
            c.name,
            class_rates(&veth)
        );
    }
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_all_by_label_contains("↓1.2 Mbit/s")
            .count()
            >= 2),
        "the Shaping column shows both"
    );
    let ifb = format!("qs-ifb{}", b.host_veths()[0].1);
    let upload_kept = || run_quiet("tc", &["class", "show", "dev", &ifb]).contains("rate 700Kbit");
    assert!(
        common::wait_until(Duration::from_secs(15), upload_kept),
        "what the form did not set is kept on {ifb}"
    );
}

/// While the tab is open, the graph's current download follows a transfer into the container
/// at the set rate.
#[test]
fn the_graph_shows_the_download_held_to_the_set_rate() {
    let _serial = serial();
    let rt = runtime();
    let mut h = window(&rt);
    let (c, port) = common::receiver("ui-graph");
    open_network_tab(&mut h, &c);
    apply_download_rate(&mut h, "1 Mbit/s", ": ↓1 Mbit/s");

    let sender = std::thread::spawn(move || common::send_and_measure_kbit(port, 1_200_000));
    // The "now" figure of each frame while the transfer runs (1.2 MB: about 10 s).
    let mut shown = Vec::new();
    let start = std::time::Instant::now();
    while !sender.is_finished() && start.elapsed() < Duration::from_secs(40) {
        h.step();
        if let Some(line) = h
            .query_all_by_label_contains("Now (2 s): ↓")
            .find_map(|n| n.accesskit_node().value())
        {
            let now = line
                .split("Now (2 s): ↓ ")
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let mut words = now.split_whitespace();
            let number: f64 = words.next().unwrap_or("0").parse().unwrap_or(0.0);
            let kbit = match words.next() {
                Some("Mbit/s") => number * 1000.0,
                _ => number,
            };
            shown.push(kbit);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let goodput = sender.join().unwrap();
    // Skip the ramp-up (the first two seconds of figures include the idle time before).
    let busy: Vec<f64> = shown.iter().copied().filter(|k| *k > 100.0).collect();
    assert!(
        busy.len() > 40,
        "the graph followed the transfer: {shown:?}"
    );
    let steady = &busy[busy.len() / 4..busy.len() * 3 / 4];
    let mean = steady.iter().sum::<f64>() / steady.len() as f64;
    // The kernel's counters move in steps of up to one offloaded segment (64 KiB), so two
    // seconds at 1 Mbit/s can read up to about a quarter high or low; their mean cannot.
    assert!(
        (850.0..=1100.0).contains(&mean),
        "the graph's mean {mean:.0} kbit/s is the set rate (goodput {goodput:.0})"
    );
    let peak = steady.iter().copied().fold(0.0, f64::max);
    assert!(
        peak <= 1400.0,
        "no figure strays past one segment: {peak:.0}"
    );
}

/// Timed shaping whose time runs out while no window is open stays on the veth, and the next
/// window lists it as such.
#[test]
fn timed_shaping_that_ends_while_closed_stays_and_is_found_at_the_next_start() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(common::unique_name("qs-state"));
    let c = TestContainer::sleeper("ui-closed");
    let veth = c.host_veths()[0].2.clone();
    {
        let rt = runtime();
        let handle = rt.handle().clone();
        let state = dir.clone();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1500.0, 1000.0))
            .build_eframe(move |cc| {
                quayside::testing::local_app_remembering_in(&handle, &cc.egui_ctx, &state)
            });
        open_network_tab(&mut h, &c);
        apply_timed(&mut h, "900 kbit/s", "6 s");
        assert!(step_until(&mut h, Duration::from_secs(15), |h| shows(
            h,
            "Clears itself in"
        )));
        // The window closes before the time is up.
    }
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        class_rates(&veth).contains("rate 900Kbit"),
        "with no window the tree stays"
    );

    let rt = runtime();
    let handle = rt.handle().clone();
    let state = dir.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .build_eframe(move |cc| {
            quayside::testing::local_app_remembering_in(&handle, &cc.egui_ctx, &state)
        });
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| shows(
            h,
            "its time ran out while Quayside was closed"
        )),
        "the next window lists it"
    );
    std::fs::remove_dir_all(&dir).ok();
}

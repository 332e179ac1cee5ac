//! The real window (`App`) driven with egui_kittest against the real Docker engine and the
//! kernel's tc: rows follow the engine, buttons act on it, the Network tab shapes for real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::ui::{drag_slider, has_label, local_window, runtime, slider_value, step_until};
use common::{TestContainer, docker, run_ok};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use quayside::App;

fn window(rt: &tokio::runtime::Runtime) -> Harness<'static, App> {
    local_window(rt)
}

/// Narrows the table to rows matching `text`, so that the row is in sight.
fn filter(h: &mut Harness<'static, App>, text: &str) {
    h.get_by_role_and_label(Role::TextInput, "Filter").focus();
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Filter")
        .type_text(text);
    h.step();
}

#[test]
fn selecting_a_row_and_pressing_stop_shows_the_container_exited() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-stop");
    filter(&mut h, &c.name);
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_label(h, &c.name)),
        "the row appears"
    );

    h.get_all_by_label(&c.name).next().unwrap().click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_label(
            h,
            "Restart policy"
        )),
        "details shown"
    );
    h.get_by_role_and_label(Role::Button, "Stop").click();

    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| has_label(h, "exited")
            && !has_label(h, "running")),
        "the table shows the container exited"
    );
    assert_eq!(c.state(), "exited");
}

#[test]
fn changes_made_with_the_docker_cli_show_within_a_second() {
    let rt = runtime();
    let mut h = window(&rt);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_by_label_contains("online, Docker")
        .is_some()));
    let name = common::unique_name("ui-events");
    filter(&mut h, &name);

    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        "quayside.lab=1",
        &common::lab_image(),
        "sleep",
        "3600",
    ]);
    let c = TestContainer { name: name.clone() };
    let started = Instant::now();
    assert!(
        step_until(&mut h, Duration::from_secs(1), |h| has_label(h, &name)),
        "a new container shows within 1 s"
    );
    eprintln!("created {run:.12} shown after {:?}", started.elapsed());

    docker(&["stop", "-t", "0", &name]);
    let stopped = Instant::now();
    assert!(
        step_until(&mut h, Duration::from_secs(1), |h| has_label(h, "exited")),
        "a stop shows within 1 s"
    );
    eprintln!("stop shown after {:?}", stopped.elapsed());

    docker(&["rm", &name]);
    let removed = Instant::now();
    assert!(
        step_until(&mut h, Duration::from_secs(1), |h| !has_label(h, &name)),
        "a removal shows within 1 s"
    );
    eprintln!("removal shown after {:?}", removed.elapsed());
    drop(c);
}

#[test]
fn dragging_the_rate_slider_and_applying_shows_the_read_back() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-rate");
    filter(&mut h, &c.name);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| has_label(
        h, &c.name
    )));
    h.get_all_by_label(&c.name).next().unwrap().click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_by_label("Network")
            .is_some()),
        "tabs shown"
    );
    h.get_by_label("Network").click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_by_label_contains(": no shaping")
            .is_some()),
        "the tab reads the container's shaping first"
    );

    // Drag the rate slider from its left end to a third of its length.
    drag_slider(&mut h, "Download rate", 0.0, 0.35);
    let dragged_kbit = slider_value(&h, "Download rate");
    assert!(
        dragged_kbit >= 8.0,
        "the drag set a rate: {dragged_kbit} kbit/s"
    );

    h.get_by_role_and_label(Role::Button, "Apply").click();
    assert!(
        step_until(&mut h, Duration::from_secs(15), |h| h
            .query_by_label_contains(": ↓")
            .is_some()),
        "the read-back shows the download rate"
    );
    let veth = c.host_veths()[0].2.clone();
    let class = run_ok("tc", &["class", "show", "dev", &veth]);
    assert!(
        class.contains("htb 7173:1"),
        "the kernel holds our class: {class}"
    );

    // The kernel holds the dragged rate, and the read-back shows what the kernel holds
    // (tc prints e.g. `rate 800Kbit` or `rate 2Mbit`).
    let kernel_rate = class
        .split("rate ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let number: String = kernel_rate
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let unit = &kernel_rate[number.len()..];
    let (kbit, shown_unit) = match unit {
        "Kbit" => (number.parse::<f64>().unwrap(), "kbit/s"),
        "Mbit" => (number.parse::<f64>().unwrap() * 1000.0, "Mbit/s"),
        other => panic!("unexpected unit {other} in {class}"),
    };
    assert!(
        (kbit - dragged_kbit).abs() <= dragged_kbit * 0.01 + 1.0,
        "kernel {kbit} kbit/s, dragged {dragged_kbit}"
    );
    // The read-back line shows the kernel's rate (rounded to three digits for people).
    let line = h
        .query_all_by_label_contains(&format!("on {veth}: ↓"))
        .find_map(|n| n.accesskit_node().value())
        .expect("a read-back line");
    let shown = line.split(": ↓").nth(1).unwrap().to_owned();
    let shown = shown.split(" ↑").next().unwrap().to_owned();
    let shown_number: f64 = shown.split_whitespace().next().unwrap().parse().unwrap();
    let shown_kbit = if shown.contains("Mbit/s") {
        shown_number * 1000.0
    } else {
        assert!(shown.contains("kbit/s"), "{line}");
        shown_number
    };
    assert!(
        (shown_kbit - kbit).abs() <= kbit * 0.01,
        "the read-back shows {shown} for the kernel's {kbit} kbit/s ({shown_unit})"
    );

    h.get_by_role_and_label(Role::Button, "Clear").click();
    assert!(
        step_until(&mut h, Duration::from_secs(15), |h| h
            .query_by_label_contains(": no shaping")
            .is_some()),
        "after Clear the read-back says no shaping"
    );
    assert!(!run_ok("tc", &["qdisc", "show", "dev", &veth]).contains("7173:"));
}

#[test]
fn ctrl_click_selects_several_rows_and_stop_acts_on_each() {
    let rt = runtime();
    let mut h = window(&rt);
    let word = common::unique_name("ui-multi");
    let a = TestContainer::sleeper(&format!("{word}-a"));
    let b = TestContainer::sleeper(&format!("{word}-b"));
    filter(&mut h, &word);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| has_label(
        h, &a.name
    )
        && has_label(h, &b.name)));

    h.get_all_by_label(&a.name).next().unwrap().click();
    h.step();
    h.get_all_by_label(&b.name)
        .next()
        .unwrap()
        .click_modifiers(egui::Modifiers::COMMAND);
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| has_label(
            h,
            "2 containers"
        )),
        "two rows selected"
    );
    h.get_by_role_and_label(Role::Button, "Stop").click();
    assert!(
        common::wait_until(Duration::from_secs(20), || {
            h.step();
            a.state() == "exited" && b.state() == "exited"
        }),
        "both containers stopped"
    );
}

#[test]
fn removing_a_running_container_asks_first_then_removes_it_by_force() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-remove");
    filter(&mut h, &c.name);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| has_label(
        h, &c.name
    )));
    h.get_all_by_label(&c.name).next().unwrap().click();
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_by_label("Remove")
        .is_some()));

    h.get_by_role_and_label(Role::Button, "Remove").click();
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| has_label(
            h,
            "Remove running containers?"
        )),
        "it asks"
    );
    assert_eq!(c.state(), "running", "nothing happens before the answer");
    h.get_by_role_and_label(Role::Button, "Remove by force")
        .click();
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| !has_label(h, &c.name)),
        "the row leaves the table"
    );
    let gone = std::process::Command::new("docker")
        .args(["inspect", &c.name])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the engine no longer has it");
}

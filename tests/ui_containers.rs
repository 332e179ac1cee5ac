//! The container tools of the real window, driven with egui_kittest against the real Docker
//! engine: the Run… dialog creates a container and selects it, the Exec tab shows a command's
//! output and exit code, the Logs tab follows new lines, the Top and Stats tabs fill in, and a
//! bulk stop reports each container.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use common::ui::{runtime, step_until};
use common::{TestContainer, docker, free_port, lab_image, unique_name};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use quayside::App;

fn window(rt: &tokio::runtime::Runtime) -> Harness<'static, App> {
    let handle = rt.handle().clone();
    Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_eframe(move |cc| quayside::testing::local_app(&handle, &cc.egui_ctx))
}

fn has_label(h: &Harness<'static, App>, label: &str) -> bool {
    h.query_all_by_label(label).next().is_some()
}

fn has_text(h: &Harness<'static, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Types `text` into the text field labelled `label`.
fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label).focus();
    h.step();
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.step();
}

fn online(h: &mut Harness<'static, App>) {
    assert!(
        step_until(h, Duration::from_secs(10), |h| has_text(
            h,
            "online, Docker"
        )),
        "the local engine is online"
    );
}

/// Narrows the table to `name`, waits for its row and selects it.
fn select(h: &mut Harness<'static, App>, name: &str) {
    type_into(h, "Filter", name);
    assert!(
        step_until(h, Duration::from_secs(10), |h| has_label(h, name)),
        "the row of {name} appears"
    );
    h.get_all_by_label(name).next().unwrap().click();
    assert!(
        step_until(h, Duration::from_secs(10), |h| has_label(h, "Exec")),
        "the tabs show"
    );
}

fn open_tab(h: &mut Harness<'static, App>, tab: &str) {
    h.get_by_label(tab).click();
    h.step();
}

#[test]
fn filling_the_run_dialog_creates_the_container_and_selects_it() {
    let rt = runtime();
    let mut h = window(&rt);
    online(&mut h);
    let taken = TestContainer::sleeper("ui-run-taken");
    let name = unique_name("ui-run");
    let _guard = TestContainer { name: name.clone() };
    let port = free_port();

    // The window knows the taken name once its row is listed.
    type_into(&mut h, "Filter", &taken.name);
    assert!(step_until(&mut h, Duration::from_secs(10), |h| has_label(
        h,
        &taken.name
    )));
    h.get_by_role_and_label(Role::Button, "Run…").click();
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| has_label(
            h,
            "Run a container"
        )),
        "the dialog opens"
    );
    type_into(&mut h, "Image", &lab_image());

    // A taken name and a bad mapping are said beside their fields; Create stays disabled.
    type_into(&mut h, "Name", &taken.name);
    type_into(&mut h, "Ports as text", "80/tcp:99999");
    let taken_message = format!("the name '{}' is taken on host local", taken.name);
    let shown = step_until(&mut h, Duration::from_secs(5), |h| {
        has_text(h, &taken_message) && has_text(h, "'99999' is not a port")
    });
    assert!(shown, "both problems are shown");
    assert!(
        h.get_by_role_and_label(Role::Button, "Create and start")
            .accesskit_node()
            .is_disabled(),
        "nothing can be sent while something is wrong"
    );

    // Fixed: a free name, a good mapping, a command.
    h.get_by_role_and_label(Role::TextInput, "Name").focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Name")
        .type_text(&name);
    h.get_by_role_and_label(Role::TextInput, "Ports as text")
        .focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Ports as text")
        .type_text(&format!("80/tcp:{port}"));
    h.step();
    type_into(&mut h, "Command", "httpd -f -p 80 -h /etc");
    assert!(
        step_until(&mut h, Duration::from_secs(5), |h| !h
            .get_by_role_and_label(Role::Button, "Create and start")
            .accesskit_node()
            .is_disabled()),
        "the form is valid"
    );
    h.get_by_role_and_label(Role::Button, "Create and start")
        .click();

    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| has_label(
            h,
            &format!("local:{name}")
        ) && has_label(
            h,
            "Restart policy"
        )),
        "the new container is selected and its details shown"
    );
    assert!(!has_label(&h, "Run a container"), "the dialog closed");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &name]),
        "running"
    );

    // Its published port answers.
    let mut answer = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /passwd HTTP/1.0\r\n\r\n").unwrap();
            s.read_to_string(&mut answer).ok();
            if answer.contains("root:") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        answer.contains("root:"),
        "httpd answers on {port}: {answer}"
    );
}

#[test]
fn a_command_run_in_the_exec_tab_shows_its_output_and_exit_code() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::sleeper("ui-exec");
    select(&mut h, &c.name);
    open_tab(&mut h, "Exec");

    type_into(
        &mut h,
        "Command",
        "sh -c 'echo exec-says-hello; echo exec-complains >&2; exit 3'",
    );
    h.get_by_role_and_label(Role::Button, "Run").click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_label(
            h,
            "exit code 3"
        )),
        "the exit code shows"
    );
    assert!(has_label(&h, "exec-says-hello"), "stdout shows");
    assert!(has_label(&h, "exec-complains"), "stderr shows");

    // Run again: a second entry with the same output.
    h.get_by_role_and_label(Role::Button, "Run again").click();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_all_by_label("exit code 3")
            .count()
            == 2),
        "the command ran again"
    );
}

#[test]
fn the_logs_tab_follows_new_lines_and_searches_them() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::run(
        "ui-logs",
        &[],
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.3; done",
        ],
    );
    select(&mut h, &c.name);
    open_tab(&mut h, "Logs");
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_text(h, "line-2")),
        "earlier lines show"
    );
    let later = |h: &Harness<'static, App>| (10..40).any(|i| has_label(h, &format!("line-{i}")));
    assert!(
        step_until(&mut h, Duration::from_secs(15), later),
        "new lines show as they are written"
    );

    type_into(&mut h, "Search", "line-1");
    h.step();
    assert!(
        step_until(&mut h, Duration::from_secs(2), |h| !has_label(h, "line-2")
            && has_label(h, "line-1")),
        "the search narrows the lines"
    );

    let path = std::env::temp_dir().join(format!("{}.log", c.name));
    type_into(&mut h, "Save to", path.to_str().unwrap());
    h.get_by_role_and_label(Role::Button, "Save").click();
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            h.step();
            std::fs::read_to_string(&path).is_ok_and(|t| t.contains(" line-1\n"))
        }),
        "the output is saved with its timestamps"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_top_and_stats_tabs_fill_in_while_shown() {
    let rt = runtime();
    let mut h = window(&rt);
    let c = TestContainer::run("ui-top", &[], &["httpd", "-f", "-p", "80"]);
    select(&mut h, &c.name);
    open_tab(&mut h, "Top");
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_label(
            h,
            "httpd -f -p 80"
        )),
        "the process list shows httpd"
    );
    open_tab(&mut h, "Stats");
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| has_text(h, "CPU ")
            && has_label(h, "Memory MiB")),
        "the stats graphs show"
    );
}

#[test]
fn a_bulk_stop_in_the_window_reports_each_container() {
    let rt = runtime();
    let mut h = window(&rt);
    let word = unique_name("ui-bulk");
    let a = TestContainer::sleeper(&format!("{word}-a"));
    let b = TestContainer::sleeper(&format!("{word}-b"));
    type_into(&mut h, "Filter", &word);
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
    assert!(step_until(&mut h, Duration::from_secs(5), |h| has_label(
        h,
        "2 containers selected"
    )));
    h.get_by_role_and_label(Role::Button, "Stop").click();
    assert!(
        step_until(&mut h, Duration::from_secs(20), |h| has_text(
            h,
            "Stop of 2 containers: 2 answered, 0 failed"
        )),
        "the report counts both"
    );
    assert!(has_label(&h, &format!("local:{} stopped", a.name)));
    assert!(has_label(&h, &format!("local:{} stopped", b.name)));
    assert_eq!(a.state(), "exited");
    assert_eq!(b.state(), "exited");
}

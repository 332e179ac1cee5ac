//! Driving the real window in tests: stepping it in real time until something shows.

use std::time::{Duration, Instant};

use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use quayside::App;

/// Steps the window in real time until `check` holds, at most `limit`.
pub fn step_until(
    h: &mut Harness<'static, App>,
    limit: Duration,
    check: impl Fn(&Harness<'static, App>) -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        h.step();
        if check(h) {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A runtime for the window's backend, as `main` builds one.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The window over the local engine, as `quayside` opens it, at a size that shows every panel.
pub fn local_window(rt: &tokio::runtime::Runtime) -> Harness<'static, App> {
    let handle = rt.handle().clone();
    Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .build_eframe(move |cc| quayside::testing::local_app(&handle, &cc.egui_ctx))
}

/// True when a widget labelled exactly `label` is in sight.
pub fn has_label(h: &Harness<'static, App>, label: &str) -> bool {
    h.query_all_by_label(label).next().is_some()
}

/// True when some text in sight contains `text`.
pub fn shows(h: &Harness<'static, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Replaces the text of the field of `role` labelled `label` with `text`.
pub fn replace_text(h: &mut Harness<'static, App>, role: Role, label: &str, text: &str) {
    h.get_by_role_and_label(role, label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(role, label).type_text(text);
    h.step();
}

/// Replaces the text of the text field labelled `label` and leaves the field (Enter), so that
/// the window takes the value in.
pub fn enter_text(h: &mut Harness<'static, App>, label: &str, text: &str) {
    replace_text(h, Role::TextInput, label, text);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
}

/// Drags the slider labelled `label` from `from` (a fraction of its rail) to `to`.
pub fn drag_slider(h: &mut Harness<'static, App>, label: &str, from: f32, to: f32) {
    let rail = h.get_by_role_and_label(Role::Slider, label).rect();
    let at = |fraction: f32| egui::pos2(rail.left() + rail.width() * fraction, rail.center().y);
    h.drag_at(at(from));
    h.run_steps(2);
    h.hover_at(at(to));
    h.run_steps(2);
    h.drop_at(at(to));
    h.run_steps(2);
}

/// The numeric value of the slider labelled `label`.
pub fn slider_value(h: &Harness<'static, App>, label: &str) -> f64 {
    h.get_by_role_and_label(Role::Slider, label)
        .accesskit_node()
        .numeric_value()
        .unwrap_or_default()
}

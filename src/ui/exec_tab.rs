//! The Exec tab: run a command in the selected container and read its stdout and stderr as they
//! come, then its exit code; earlier commands stay listed, each with a button to run it again.

use eframe::egui;

use super::app::App;
use super::tools::{self, ExecRun};
use crate::model::ContainerKey;

pub(crate) fn exec_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let running = app.store.get(key).is_some_and(|row| row.state.is_running());
    if !running {
        ui.weak("The container is not running: start it to run commands in it.");
    }

    let mut submit = None;
    let view = app.tools.exec.entry(key.clone()).or_default();
    ui.horizontal(|ui| {
        let label = ui.label("Command");
        let edit = ui
            .add_enabled(
                running,
                egui::TextEdit::singleline(&mut view.input)
                    .hint_text("ls -l /")
                    .font(egui::TextStyle::Monospace)
                    .desired_width(ui.available_width() - 60.0),
            )
            .labelled_by(label.id);
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_enabled(
                running && !view.input.trim().is_empty(),
                egui::Button::new("Run"),
            )
            .clicked();
        if (entered || clicked) && !view.input.trim().is_empty() {
            submit = Some(view.input.trim().to_owned());
        }
    });
    ui.separator();

    let mut rerun = None;
    for run in view.runs.iter().rev() {
        if run_ui(run, running, ui) {
            rerun = Some(run.command.clone());
        }
        ui.add_space(4.0);
    }
    if view.runs.is_empty() {
        ui.weak("Commands run here show their output and exit code.");
    }

    if let Some(command) = submit.or(rerun) {
        tools::exec_command(app, key, &command);
    }
}

/// One command with its output; returns whether "Run again" was clicked.
fn run_ui(run: &ExecRun, can_run: bool, ui: &mut egui::Ui) -> bool {
    let mut again = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            ui.monospace(format!("$ {}", run.command));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                again = ui
                    .add_enabled(
                        can_run && run.finished.is_some(),
                        egui::Button::new("Run again"),
                    )
                    .clicked();
                match &run.finished {
                    None => {
                        ui.spinner();
                    }
                    Some(Ok(Some(0))) => {
                        ui.label("exit code 0");
                    }
                    Some(Ok(Some(code))) => {
                        ui.colored_label(ui.visuals().warn_fg_color, format!("exit code {code}"));
                    }
                    Some(Ok(None)) => {
                        ui.weak("exit code unknown");
                    }
                    Some(Err(_)) => {
                        ui.colored_label(ui.visuals().error_fg_color, "failed");
                    }
                }
            });
        });
        for chunk in &run.output {
            let text = chunk.text.trim_end_matches('\n');
            let rich = egui::RichText::new(text).monospace();
            let rich = if tools::is_stderr(chunk.stream) {
                rich.color(ui.visuals().error_fg_color)
            } else {
                rich
            };
            ui.add(egui::Label::new(rich).wrap().selectable(true));
        }
        if run.truncated {
            ui.weak("(output cut: only its beginning is kept)");
        }
        if let Some(Err(error)) = &run.finished {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
    again
}

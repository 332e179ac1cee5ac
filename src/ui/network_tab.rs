//! The Network tab: download rate and delay for one running container, Apply and Clear, and
//! what the kernel holds afterwards.
//!
//! Sliders and typed fields edit the same values; nothing reaches the host until Apply. The
//! values not shown here (upload, loss, …) are kept from the last read-back, so an Apply
//! changes only what the user touched.

use std::collections::HashMap;

use eframe::egui;

use super::app::App;
use super::format;
use crate::backend::Command;
use crate::model::ContainerKey;
use crate::shaping::ops::ShapingReport;
use crate::shaping::profile::ShapingProfile;
use crate::shaping::units;

/// Slider ranges: 8 kbit/s (tc's useful floor) to 10 Gbit/s, 0 ms to 10 s.
const MAX_RATE_KBIT: f64 = 10_000_000.0;
const MAX_DELAY_MS: f64 = 10_000.0;

/// The form of one container.
#[derive(Default)]
pub(crate) struct NetworkForm {
    /// The profile being edited; starts from the read-back.
    pub(crate) profile: ShapingProfile,
    pub(crate) rate_text: String,
    pub(crate) delay_text: String,
    /// A command is on its way; the buttons wait for its answer.
    pub(crate) pending: bool,
    /// The read-back has been asked for once.
    pub(crate) asked: bool,
    pub(crate) report: Option<ShapingReport>,
    pub(crate) error: Option<String>,
}

impl NetworkForm {
    fn sync_texts(&mut self) {
        self.rate_text = format::rate(self.profile.download.rate_kbit as f64);
        self.delay_text = format::delay(self.profile.download.delay_ms);
    }
}

/// Every container's form, by container.
#[derive(Default)]
pub(crate) struct NetworkForms {
    forms: HashMap<ContainerKey, NetworkForm>,
}

impl NetworkForms {
    fn form_mut(&mut self, key: &ContainerKey) -> &mut NetworkForm {
        self.forms.entry(key.clone()).or_insert_with(|| {
            let mut form = NetworkForm::default();
            form.sync_texts();
            form
        })
    }

    /// Takes a read-back: the form now starts from what the kernel holds.
    pub(crate) fn reported(&mut self, key: &ContainerKey, report: ShapingReport) {
        let form = self.form_mut(key);
        form.pending = false;
        form.error = None;
        if let Some(profile) = report.profile() {
            form.profile = profile;
            form.sync_texts();
        }
        form.report = Some(report);
    }

    pub(crate) fn failed(&mut self, key: &ContainerKey, error: String) {
        let form = self.form_mut(key);
        form.pending = false;
        form.error = Some(error);
    }
}

pub(crate) fn network_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let running = app.store.get(key).is_some_and(|row| row.state.is_running());
    if !running {
        ui.label("The container is not running: it has no network to shape. Start it first.");
        return;
    }
    let mut command = None;
    let form = app.network.form_mut(key);
    if !form.asked {
        form.asked = true;
        form.pending = true;
        command = Some(Command::ReadShaping { key: key.clone() });
    }

    ui.spacing_mut().slider_width = (ui.available_width() - 170.0).clamp(120.0, 320.0);
    ui.strong("Download (into the container)");
    let download = &mut form.profile.download;

    let mut rate = download.rate_kbit as f64;
    let slider = egui::Slider::new(&mut rate, 0.0..=MAX_RATE_KBIT)
        .logarithmic(true)
        .smallest_positive(8.0)
        .custom_formatter(|v, _| format::rate(v))
        .custom_parser(|text| units::parse_rate_kbit(text).ok().map(|v| v as f64))
        .text("Download rate");
    if ui.add(slider).changed() {
        download.rate_kbit = rate.round() as u64;
        form.rate_text = format::rate(rate.round());
    }
    ui.horizontal(|ui| {
        let label = ui.label("Rate");
        let response = ui
            .add(egui::TextEdit::singleline(&mut form.rate_text).desired_width(120.0))
            .labelled_by(label.id);
        if response.lost_focus() {
            match units::parse_rate_kbit(&form.rate_text) {
                Ok(kbit) => form.profile.download.rate_kbit = kbit,
                Err(err) => form.error = Some(err.to_string()),
            }
            form.rate_text = format::rate(form.profile.download.rate_kbit as f64);
        }
        ui.weak("e.g. 2 Mbit/s, 512 kbit/s, unlimited");
    });

    let download = &mut form.profile.download;
    let slider = egui::Slider::new(&mut download.delay_ms, 0.0..=MAX_DELAY_MS)
        .logarithmic(true)
        .smallest_positive(1.0)
        .custom_formatter(|v, _| format::delay(v))
        .text("Download delay");
    if ui.add(slider).changed() {
        form.delay_text = format::delay(form.profile.download.delay_ms);
    }
    ui.horizontal(|ui| {
        let label = ui.label("Delay");
        let response = ui
            .add(egui::TextEdit::singleline(&mut form.delay_text).desired_width(120.0))
            .labelled_by(label.id);
        if response.lost_focus() {
            match units::parse_time_ms(&form.delay_text) {
                Ok(ms) => form.profile.download.delay_ms = ms,
                Err(err) => form.error = Some(err.to_string()),
            }
            form.delay_text = format::delay(form.profile.download.delay_ms);
        }
        ui.weak("e.g. 100 ms");
    });

    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let idle = !form.pending;
        if ui.add_enabled(idle, egui::Button::new("Apply")).clicked() {
            form.pending = true;
            form.error = None;
            command = Some(Command::ApplyShaping {
                key: key.clone(),
                profile: form.profile.clone(),
                replace_foreign: false,
            });
        }
        if ui.add_enabled(idle, egui::Button::new("Clear")).clicked() {
            form.pending = true;
            form.error = None;
            command = Some(Command::ClearShaping { key: key.clone() });
        }
        if form.pending {
            ui.spinner();
        }
    });

    if let Some(error) = &form.error {
        ui.add_space(4.0);
        ui.colored_label(ui.visuals().error_fg_color, error);
        if error.contains("not created by Quayside")
            && ui
                .button("Replace it")
                .on_hover_text("Delete that qdisc and apply these values")
                .clicked()
        {
            form.pending = true;
            command = Some(Command::ApplyShaping {
                key: key.clone(),
                profile: form.profile.clone(),
                replace_foreign: true,
            });
        }
    }

    ui.add_space(6.0);
    ui.separator();
    ui.strong("What the kernel holds");
    match &form.report {
        Some(report) => readback_ui(report, ui),
        None => {
            ui.weak("Not read yet.");
        }
    }

    if let Some(command) = command {
        app.send(command);
    }
}

fn readback_ui(report: &ShapingReport, ui: &mut egui::Ui) {
    for line in report.lines() {
        ui.add(egui::Label::new(egui::RichText::new(line).monospace()).wrap());
    }
    if !report.commands.is_empty() {
        egui::CollapsingHeader::new("Commands run")
            .id_salt("commands_run")
            .show(ui, |ui| {
                let text = report.commands.join("\n");
                ui.add(egui::Label::new(egui::RichText::new(&text).monospace()).wrap());
                if ui.button("Copy").clicked() {
                    ui.ctx().copy_text(text);
                }
            });
    }
}

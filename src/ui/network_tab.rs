//! The Network tab: both directions' knobs side by side, presets, Apply (optionally for N
//! minutes) and Clear, the tc commands an Apply would run, what the kernel holds afterwards,
//! and a live graph of the traffic. With several containers selected, one form applies to all.
//!
//! Nothing reaches a host until Apply; the form starts from the read-back, so an Apply changes
//! only what the user touched. On a host whose kernel has no netem the impairment knobs are
//! disabled with the reason, and Apply sends the rates alone.

use std::time::SystemTime;

use eframe::egui;

use super::app::App;
use super::knobs::{self, KnobTexts};
use super::shaping_form::{NetworkForm, rates_only};
use super::traffic_graph;
use crate::backend::Command;
use crate::model::ContainerKey;
use crate::shaping::ops::ShapingReport;
use crate::shaping::presets::{self, Preset};
use crate::shaping::profile::{Direction, DirectionProfile};

/// Below this width the two directions are stacked instead of side by side.
const TWO_COLUMNS_MIN_WIDTH: f32 = 560.0;

/// The tab for one container.
pub(crate) fn network_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let running = app.store.get(key).is_some_and(|row| row.state.is_running());
    if !running {
        ui.label("The container is not running: it has no network to shape. Start it first.");
        return;
    }
    app.network.mark_shown(key);
    let netem_off = app.netem_off_reason(&key.host);
    let presets = app.presets();
    let mut commands = Vec::new();
    let form = app.network.form_mut(key);
    if !form.asked {
        form.asked = true;
        form.pending = true;
        commands.push(Command::ReadShaping { key: key.clone() });
    }

    let edited = form_ui(ui, form, &presets, netem_off.as_deref());
    if edited {
        form.preview = None;
    }
    let to_send = if netem_off.is_some() {
        rates_only(&form.profile)
    } else {
        form.profile.clone()
    };

    ui.add_space(6.0);
    match buttons_ui(ui, form) {
        Some(Button::Apply) => match form.for_secs() {
            Ok(for_secs) => {
                form.pending = true;
                form.error = None;
                commands.push(Command::ApplyShaping {
                    key: key.clone(),
                    profile: to_send.clone(),
                    replace_foreign: false,
                    for_secs,
                });
            }
            Err(error) => form.error = Some(error),
        },
        Some(Button::Clear) => {
            form.pending = true;
            form.error = None;
            commands.push(Command::ClearShaping { key: key.clone() });
        }
        Some(Button::Preview) => {
            form.preview = Some(Ok(Vec::new()));
            commands.push(Command::PreviewShaping {
                key: key.clone(),
                profile: to_send.clone(),
                replace_foreign: false,
            });
        }
        None => {}
    }
    status_ui(ui, form);

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
            commands.push(Command::ApplyShaping {
                key: key.clone(),
                profile: to_send,
                replace_foreign: true,
                for_secs: form.for_secs().ok().flatten(),
            });
        }
    }
    preview_ui(ui, form);

    ui.add_space(6.0);
    ui.separator();
    ui.strong("What the kernel holds");
    match &form.report {
        Some(report) => readback_ui(report, ui),
        None => {
            ui.weak("Not read yet.");
        }
    }

    ui.add_space(6.0);
    ui.separator();
    ui.strong("Traffic");
    let held = app.network.held(key).cloned().unwrap_or_default();
    if let Some(form) = app.network.form(key) {
        traffic_graph::graph_ui(
            ui,
            &form.traffic,
            held.download.rate_kbit,
            held.upload.rate_kbit,
        );
    }

    ui.add_space(6.0);
    ui.separator();
    save_preset_ui(app, key, ui);

    for command in commands {
        app.send(command);
    }
}

/// The tab for several selected containers: one form, applied to every running one.
pub(crate) fn network_group_ui(app: &mut App, keys: &[ContainerKey], ui: &mut egui::Ui) {
    let running: Vec<ContainerKey> = keys
        .iter()
        .filter(|k| app.store.get(k).is_some_and(|r| r.state.is_running()))
        .cloned()
        .collect();
    ui.label(format!(
        "One shaping for the {} running of the {} selected containers.",
        running.len(),
        keys.len()
    ));
    // Impairments are off when any of the hosts lacks netem.
    let netem_off = running.iter().find_map(|k| {
        app.netem_off_reason(&k.host)
            .map(|r| format!("{}: {r}", k.host))
    });
    let presets = app.presets();
    let form = &mut app.network.group;
    form_ui(ui, form, &presets, netem_off.as_deref());
    let profile = if netem_off.is_some() {
        rates_only(&form.profile)
    } else {
        form.profile.clone()
    };
    let for_secs = form.for_secs();
    ui.add_space(6.0);
    let mut commands = Vec::new();
    if let Err(error) = &for_secs {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    let for_secs = for_secs.ok().flatten();
    ui.horizontal(|ui| {
        let any = !running.is_empty();
        if ui
            .add_enabled(
                any,
                egui::Button::new(format!("Apply to {}", running.len())),
            )
            .clicked()
        {
            commands.extend(running.iter().map(|key| Command::ApplyShaping {
                key: key.clone(),
                profile: profile.clone(),
                replace_foreign: false,
                for_secs,
            }));
        }
        if ui
            .add_enabled(any, egui::Button::new(format!("Clear {}", running.len())))
            .clicked()
        {
            commands.extend(
                running
                    .iter()
                    .map(|key| Command::ClearShaping { key: key.clone() }),
            );
        }
    });
    ui.weak("Each container's result appears as a message and in the table's Shaping column.");
    for command in commands {
        app.send(command);
    }
}

/// Presets, "same both ways", both directions and "for N minutes". True when a value changed.
fn form_ui(
    ui: &mut egui::Ui,
    form: &mut NetworkForm,
    presets: &[Preset],
    netem_off: Option<&str>,
) -> bool {
    let mut edited = preset_ui(ui, form, presets);
    ui.horizontal(|ui| {
        if ui
            .checkbox(&mut form.same_both_ways, "Same both ways")
            .on_hover_text("Edits of one direction are copied to the other")
            .changed()
            && form.same_both_ways
        {
            form.mirror_from(Direction::Download);
            edited = true;
        }
    });

    let NetworkForm {
        profile,
        down_texts,
        up_texts,
        ..
    } = form;
    let column = |ui: &mut egui::Ui,
                  direction: Direction,
                  p: &mut DirectionProfile,
                  texts: &mut KnobTexts| {
        ui.spacing_mut().slider_width = (ui.available_width() - 200.0).clamp(50.0, 220.0);
        knobs::direction_ui(ui, direction, p, texts, netem_off)
    };
    let (down, up) = if ui.available_width() >= TWO_COLUMNS_MIN_WIDTH {
        ui.columns(2, |columns| match columns {
            [left, right] => (
                column(left, Direction::Download, &mut profile.download, down_texts),
                column(right, Direction::Upload, &mut profile.upload, up_texts),
            ),
            _ => Default::default(),
        })
    } else {
        let down = column(ui, Direction::Download, &mut profile.download, down_texts);
        ui.add_space(4.0);
        let up = column(ui, Direction::Upload, &mut profile.upload, up_texts);
        (down, up)
    };
    for error in [&down.error, &up.error].into_iter().flatten() {
        form.error = Some(error.clone());
    }
    if down.changed {
        form.mirror_from(Direction::Download);
    }
    if up.changed {
        form.mirror_from(Direction::Upload);
    }
    if down.changed || up.changed {
        form.preset = None;
        edited = true;
    }

    ui.horizontal(|ui| {
        ui.checkbox(&mut form.timed, "Clear after")
            .on_hover_text("Quayside clears the shaping when the time is up");
        let field = ui.add_enabled(
            form.timed,
            egui::TextEdit::singleline(&mut form.duration_text)
                .desired_width(70.0)
                .hint_text("10 min"),
        );
        let enabled = form.timed;
        field.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::TextInput, enabled, "Clear after duration")
        });
        ui.weak("e.g. 10 min, 90 s, 1 h");
    });
    edited
}

/// The preset chooser; the chosen preset's values fill the form. True when one was chosen.
fn preset_ui(ui: &mut egui::Ui, form: &mut NetworkForm, presets: &[Preset]) -> bool {
    let mut chosen = None;
    ui.horizontal(|ui| {
        let label = ui.label("Preset");
        let current = form.preset.clone().unwrap_or_else(|| "Choose…".to_owned());
        egui::ComboBox::from_id_salt("preset")
            .selected_text(current)
            .width(200.0)
            .show_ui(ui, |ui| {
                for preset in presets {
                    let selected = form.preset.as_deref() == Some(&preset.name);
                    if ui
                        .selectable_label(
                            selected,
                            format!("{}  —  {}", preset.name, preset.summary()),
                        )
                        .clicked()
                    {
                        chosen = Some(preset.clone());
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    if let Some(name) = &form.preset
        && let Some(preset) = presets.iter().find(|p| &p.name == name)
    {
        ui.add(egui::Label::new(egui::RichText::new(preset.summary()).weak()).wrap());
    }
    match chosen {
        Some(preset) => {
            form.load(preset.profile);
            form.preset = Some(preset.name);
            true
        }
        None => false,
    }
}

enum Button {
    Apply,
    Clear,
    Preview,
}

fn buttons_ui(ui: &mut egui::Ui, form: &NetworkForm) -> Option<Button> {
    let mut pressed = None;
    ui.horizontal(|ui| {
        let idle = !form.pending;
        let apply = match form.for_secs() {
            Ok(Some(secs)) => format!("Apply for {}", format_duration(secs)),
            _ => "Apply".to_owned(),
        };
        if ui.add_enabled(idle, egui::Button::new(apply)).clicked() {
            pressed = Some(Button::Apply);
        }
        if ui.add_enabled(idle, egui::Button::new("Clear")).clicked() {
            pressed = Some(Button::Clear);
        }
        if ui
            .button("Show tc commands")
            .on_hover_text("The exact commands Apply would run now, without running them")
            .clicked()
        {
            pressed = Some(Button::Preview);
        }
        if form.pending {
            ui.spinner();
        }
    });
    pressed
}

/// Whether the shaping is remembered, and the countdown of timed shaping.
fn status_ui(ui: &mut egui::Ui, form: &NetworkForm) {
    let Some(remembered) = &form.remembered else {
        return;
    };
    match form.remaining(SystemTime::now()) {
        Some(left) => {
            ui.label(format!(
                "Clears itself in {} ({})",
                format_duration(left.as_secs()),
                remembered.profile.summary()
            ));
            // The countdown needs a frame each second, only while it runs.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs(1));
        }
        None => {
            ui.weak("Remembered: applied again when the container restarts.");
        }
    }
}

/// `45 s`, `9:41 min`, `1:05 h`.
fn format_duration(secs: u64) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{}:{:02} min", secs / 60, secs % 60)
    } else {
        format!("{}:{:02} h", secs / 3600, secs % 3600 / 60)
    }
}

fn preview_ui(ui: &mut egui::Ui, form: &NetworkForm) {
    match &form.preview {
        None => {}
        Some(Ok(commands)) if commands.is_empty() => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Planning…");
            });
        }
        Some(Ok(commands)) => {
            ui.label("Apply would run:");
            commands_ui(ui, commands, "preview_commands");
        }
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    }
}

fn commands_ui(ui: &mut egui::Ui, commands: &[String], id: &str) {
    let text = commands.join("\n");
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.push_id(id, |ui| {
            ui.add(egui::Label::new(egui::RichText::new(&text).monospace()).wrap());
            if ui.button("Copy").clicked() {
                ui.ctx().copy_text(text.clone());
            }
        });
    });
}

fn readback_ui(report: &ShapingReport, ui: &mut egui::Ui) {
    for line in report.lines() {
        ui.add(egui::Label::new(egui::RichText::new(line).monospace()).wrap());
    }
    if !report.commands.is_empty() {
        egui::CollapsingHeader::new("Commands run")
            .id_salt("commands_run")
            .show(ui, |ui| {
                commands_ui(ui, &report.commands, "commands_run_list")
            });
    }
}

/// Saves the form's values as a preset of the profile.
fn save_preset_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let mut save = false;
    ui.horizontal(|ui| {
        let label = ui.label("Save as preset");
        ui.add(
            egui::TextEdit::singleline(&mut app.network.new_preset_name)
                .hint_text("name")
                .desired_width(140.0),
        )
        .labelled_by(label.id);
        let named = !app.network.new_preset_name.trim().is_empty();
        save = ui.add_enabled(named, egui::Button::new("Save")).clicked();
    });
    if save {
        let name = app.network.new_preset_name.trim().to_owned();
        let profile = app
            .network
            .form(key)
            .map(|f| f.profile.clone())
            .unwrap_or_default();
        app.save_preset(Preset { name, profile });
    }
}

/// Every preset the user can choose: the built-in ones, then the profile's.
pub(crate) fn all_presets(own: &[Preset]) -> Vec<Preset> {
    let mut all = presets::built_in();
    all.extend(own.iter().cloned());
    all
}

//! The right panel: what inspect knows about the selection, the lifecycle actions, and the
//! confirmation before a running container is removed.

use eframe::egui;

use super::app::{App, DetailTab};
use super::{exec_tab, logs_tab, stats_tab, top_tab};
use super::{format, network_tab};
use crate::backend::Command;
use crate::docker::Lifecycle;
use crate::model::ContainerDetails;

pub(crate) fn properties_ui(app: &mut App, ui: &mut egui::Ui) {
    if app.selection.is_empty() {
        ui.heading("Properties");
        ui.weak("Select a container to see its properties.");
        return;
    }
    actions_ui(app, ui);
    ui.separator();

    let Some(key) = app.single_selection().cloned() else {
        many_ui(app, ui);
        return;
    };
    ui.horizontal(|ui| {
        ui.selectable_value(&mut app.tab, DetailTab::Details, "Details");
        ui.selectable_value(&mut app.tab, DetailTab::Network, "Network");
        ui.selectable_value(&mut app.tab, DetailTab::Exec, "Exec");
        ui.selectable_value(&mut app.tab, DetailTab::Top, "Top");
        ui.selectable_value(&mut app.tab, DetailTab::Stats, "Stats");
        ui.selectable_value(&mut app.tab, DetailTab::Logs, "Logs");
    });
    if app.tab == DetailTab::Logs {
        // The log view scrolls by itself, one row per line.
        logs_tab::logs_ui(app, &key, ui);
        return;
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| match app.tab {
            DetailTab::Details => match app.details.get(&key) {
                Some(details) => details_ui(details, ui),
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading the container…");
                    });
                }
            },
            DetailTab::Network => network_tab::network_ui(app, &key, ui),
            DetailTab::Exec => exec_tab::exec_ui(app, &key, ui),
            DetailTab::Top => top_tab::top_ui(app, &key, ui),
            DetailTab::Stats => stats_tab::stats_ui(app, &key, ui),
            DetailTab::Logs => logs_tab::logs_ui(app, &key, ui),
        });
}

/// Several containers selected: the last bulk action's results, and their stats side by side
/// when the Stats tab is chosen.
fn many_ui(app: &mut App, ui: &mut egui::Ui) {
    ui.label(format!("{} containers selected", app.selection.len()));
    app.bulk.report_ui(ui);
    ui.separator();
    if !matches!(app.tab, DetailTab::Stats | DetailTab::Network) {
        app.tab = DetailTab::Network;
    }
    ui.horizontal(|ui| {
        ui.selectable_value(&mut app.tab, DetailTab::Network, "Network");
        ui.selectable_value(&mut app.tab, DetailTab::Stats, "Stats");
    });
    ui.separator();
    let keys: Vec<_> = app.selection.iter().cloned().collect();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if app.tab == DetailTab::Stats {
                stats_tab::stats_many_ui(app, &keys, ui);
            } else {
                network_tab::network_group_ui(app, &keys, ui);
            }
        });
}

fn actions_ui(app: &mut App, ui: &mut egui::Ui) {
    let rows: Vec<_> = app
        .selection
        .iter()
        .filter_map(|k| app.store.get(k))
        .collect();
    let any_running = rows.iter().any(|r| r.state.is_running());
    let any_stopped = rows.iter().any(|r| !r.state.is_running());
    let title = match rows.as_slice() {
        [one] => format!("{}:{}", one.host, one.name),
        many => format!("{} containers", many.len()),
    };
    ui.heading(title);
    let mut action = None;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(any_stopped, egui::Button::new("Start"))
            .clicked()
        {
            action = Some(Lifecycle::Start);
        }
        if ui
            .add_enabled(any_running, egui::Button::new("Stop"))
            .clicked()
        {
            action = Some(Lifecycle::Stop);
        }
        if ui.button("Restart").clicked() {
            action = Some(Lifecycle::Restart);
        }
        if ui
            .button("Remove")
            .on_hover_text("A running container is asked about first")
            .clicked()
        {
            action = Some(Lifecycle::Remove { force: false });
        }
    });
    if let Some(action) = action {
        app.act_on_selection(action);
    }
}

fn details_ui(d: &ContainerDetails, ui: &mut egui::Ui) {
    egui::Grid::new("details_grid")
        .num_columns(2)
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            let mut field = |name: &str, value: &str| {
                ui.strong(name);
                ui.add(egui::Label::new(value).wrap());
                ui.end_row();
            };
            field("ID", &d.key.id.0);
            field("Name", &d.name);
            field("Image", &d.image);
            field("Command", &d.command);
            field("Created", &format::engine_time(&d.created));
            field("State", d.state.as_str());
            field("Restart policy", &d.restart_policy);
            field("Network mode", &d.network_mode);
            let ports = if d.ports.is_empty() {
                "none".to_owned()
            } else {
                d.ports.join("\n")
            };
            field("Ports", &ports);
        });

    ui.add_space(6.0);
    ui.strong("Networks");
    if d.networks.is_empty() {
        ui.weak("none");
    }
    for net in &d.networks {
        ui.label(format!(
            "{}: IP {}  MAC {}",
            net.network,
            or_none(&net.ip_address),
            or_none(&net.mac_address)
        ));
    }

    ui.add_space(6.0);
    ui.strong("Labels");
    if d.labels.is_empty() {
        ui.weak("none");
    }
    for (k, v) in &d.labels {
        ui.label(format!("{k}={v}"));
    }

    ui.add_space(6.0);
    ui.strong("Mounts");
    if d.mounts.is_empty() {
        ui.weak("none");
    }
    for m in &d.mounts {
        let mode = if m.read_write { "rw" } else { "ro" };
        ui.label(format!(
            "{} {} → {} ({mode})",
            m.kind, m.source, m.destination
        ));
    }
}

fn or_none(value: &str) -> &str {
    if value.is_empty() { "none" } else { value }
}

/// Asks before removing running containers; on yes, removes them by force.
pub(crate) fn confirm_remove_ui(app: &mut App, ctx: &egui::Context) {
    let Some(keys) = app.confirm_remove.clone() else {
        return;
    };
    let names: Vec<String> = keys.iter().map(|k| app.display_name(k)).collect();
    let mut decision = None;
    egui::Modal::new(egui::Id::unique("confirm_remove")).show(ctx, |ui| {
        ui.heading("Remove running containers?");
        ui.label(format!("{} will be stopped and removed:", names.len()));
        for name in &names {
            ui.label(format!("• {name}"));
        }
        ui.horizontal(|ui| {
            if ui.button("Remove by force").clicked() {
                decision = Some(true);
            }
            if ui.button("Cancel").clicked() {
                decision = Some(false);
            }
        });
    });
    match decision {
        Some(true) => {
            app.confirm_remove = None;
            if keys.len() > 1 {
                let named = keys
                    .iter()
                    .map(|k| (k.clone(), app.display_name(k)))
                    .collect();
                app.bulk.start(Lifecycle::Remove { force: true }, named);
            }
            for key in keys {
                app.send(Command::ChangeLifecycle {
                    key,
                    action: Lifecycle::Remove { force: true },
                });
            }
        }
        Some(false) => app.confirm_remove = None,
        None => {}
    }
}

//! The left panel: every host with its state badge, and its containers under it.

use std::time::SystemTime;

use eframe::egui;

use super::app::App;
use super::host_shaping;
use crate::model::{ContainerKey, HostId, HostState, RunState};

/// A host's name and state, copied out of the app for one frame's drawing.
struct HostRef<'a> {
    id: &'a HostId,
    state: &'a HostState,
}

/// Colours of the state badges.
const ONLINE: egui::Color32 = egui::Color32::from_rgb(80, 180, 100);
const CONNECTING: egui::Color32 = egui::Color32::from_rgb(210, 170, 60);
const OFFLINE: egui::Color32 = egui::Color32::from_rgb(210, 80, 80);

/// The badge text of a host state, as the user reads it.
pub(crate) fn badge_text(state: &HostState) -> String {
    match state {
        HostState::Connecting => "connecting…".to_owned(),
        HostState::Online {
            docker_version,
            warning: None,
        } => format!("online, Docker {docker_version}"),
        HostState::Online {
            docker_version,
            warning: Some(warning),
        } => {
            format!("online, Docker {docker_version}; warning: {warning}")
        }
        HostState::Offline { reason, retry_at } => {
            let secs = retry_at
                .duration_since(SystemTime::now())
                .map(|d| d.as_secs() + 1)
                .unwrap_or(0);
            format!("offline: {reason} (retry in {secs} s)")
        }
        HostState::Untrusted { reason } => format!("not trusted: {reason}"),
    }
}

fn badge_colour(state: &HostState) -> egui::Color32 {
    match state {
        HostState::Connecting | HostState::Untrusted { .. } => CONNECTING,
        HostState::Online { .. } => ONLINE,
        HostState::Offline { .. } => OFFLINE,
    }
}

pub(crate) fn hosts_ui(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Hosts");
    ui.separator();
    let mut clicked: Option<ContainerKey> = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let hosts: Vec<(HostId, HostState)> = app
                .hosts
                .iter()
                .map(|h| (h.id.clone(), h.state.clone()))
                .collect();
            for (id, state) in hosts {
                let host = HostRef {
                    id: &id,
                    state: &state,
                };
                let online = host.state.is_online();
                let mut names: Vec<(String, ContainerKey, RunState)> = app
                    .store
                    .containers_of(host.id)
                    .map(|row| (row.name.clone(), row.key(), row.state))
                    .collect();
                names.sort();
                let header = egui::RichText::new(format!("{} ({})", host.id, names.len())).strong();
                egui::CollapsingHeader::new(header)
                    .id_salt(("host", &host.id))
                    .default_open(true)
                    .show(ui, |ui| {
                        ui.horizontal_top(|ui| {
                            ui.colored_label(badge_colour(host.state), "●");
                            ui.add(
                                egui::Label::new(
                                    egui::RichText::new(badge_text(host.state)).small(),
                                )
                                .wrap(),
                            );
                        });
                        host_shaping::host_shaping_ui(app, host.id, online, ui);
                        for (name, key, state) in names {
                            let mut text = egui::RichText::new(format!("{name}  {state}"));
                            if !online || !state.is_running() {
                                text = text.weak();
                            }
                            let selected = app.selection.contains(&key);
                            if ui.selectable_label(selected, text).clicked() {
                                clicked = Some(key);
                            }
                        }
                    });
            }
        });
    if let Some(key) = clicked {
        app.select_only(key);
    }
    if app
        .hosts
        .iter()
        .any(|h| matches!(h.state, HostState::Offline { .. }))
    {
        // The retry countdown on an offline badge moves once a second.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs(1));
    }
}

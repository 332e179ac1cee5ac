//! What the host tree shows of each host's shaping: the preflight (tc, privileges, ifb, netem,
//! each with the fix when missing), the trees of ours found on the host when it connected with
//! a Clear for each, and "Clear all shaping on this host" behind a confirmation.
//!
//! The data arrives as backend events; this module draws it and turns clicks into commands.

use std::collections::HashMap;

use eframe::egui;

use super::app::App;
use crate::backend::Command;
use crate::model::HostId;
use crate::shaping::ops::ShapingReport;
use crate::shaping::preflight::{Capability, Preflight};
use crate::shaping::trees::OwnedTree;

/// The trees of ours found on a host when it connected.
#[derive(Clone, Debug, Default)]
pub(crate) struct Found {
    pub(crate) trees: Vec<OwnedTree>,
    /// Containers whose timed shaping ran out while no window was open.
    pub(crate) expired: Vec<String>,
}

/// The shaping state of every host, as the window knows it.
#[derive(Default)]
pub(crate) struct HostShaping {
    pub(crate) preflight: HashMap<HostId, Preflight>,
    pub(crate) found: HashMap<HostId, Found>,
    /// The host whose "Clear all shaping" waits for the user's confirmation.
    pub(crate) confirm_clear_all: Option<HostId>,
}

impl HostShaping {
    /// Why impairments cannot work on `host`, when the preflight said netem is missing.
    pub(crate) fn netem_missing(&self, host: &HostId) -> Option<String> {
        match &self.preflight.get(host)?.netem {
            Capability::Available { .. } => None,
            Capability::Missing { reason, fix } => Some(format!("{reason}; {fix}")),
        }
    }

    /// A container's shaping changed: a found tree that is now clear leaves the list.
    pub(crate) fn reported(&mut self, host: &HostId, name: &str, report: &ShapingReport) {
        let clear = report.profile().is_none_or(|p| p.is_unshaped());
        if let (true, Some(found)) = (clear, self.found.get_mut(host)) {
            found
                .trees
                .retain(|t| t.owner.as_ref().is_none_or(|o| o.name != name));
        }
    }
}

/// The lines under one host in the tree.
pub(crate) fn host_shaping_ui(app: &mut App, host: &HostId, online: bool, ui: &mut egui::Ui) {
    let mut commands = Vec::new();
    if let Some(preflight) = app.host_shaping.preflight.get(host) {
        ui.horizontal_wrapped(|ui| {
            for (name, capability) in preflight.named() {
                let colour = if capability.is_available() {
                    egui::Color32::from_rgb(80, 180, 100)
                } else {
                    ui.visuals().warn_fg_color
                };
                ui.label(
                    egui::RichText::new(format!("● {name}"))
                        .small()
                        .color(colour),
                )
                .on_hover_text(format!("{name}: {}", capability.line()));
            }
        });
        for (name, capability) in preflight.named() {
            if let Capability::Missing { reason, fix } = capability {
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("{name} unavailable: {reason}; {fix}"))
                            .small()
                            .color(ui.visuals().warn_fg_color),
                    )
                    .wrap(),
                );
            }
        }
    }
    if let Some(found) = app.host_shaping.found.get(host)
        && !found.trees.is_empty()
    {
        ui.label(
            egui::RichText::new(format!("Shaping found on this host: {}", found.trees.len()))
                .small(),
        );
        for tree in &found.trees {
            let held = tree
                .profile
                .as_ref()
                .map(|p| p.summary())
                .unwrap_or_else(|| "nothing".to_owned());
            let mut line = format!("{}: {held}", tree.label());
            let owner = tree.owner.as_ref().map(|o| o.name.as_str());
            if owner.is_some_and(|name| found.expired.iter().any(|e| e == name)) {
                line.push_str(" (timed; its time ran out while Quayside was closed)");
            }
            let key = owner.and_then(|name| {
                app.store
                    .containers_of(host)
                    .find(|row| row.name == name)
                    .map(|row| row.key())
            });
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(line).small());
                if let Some(key) = key
                    && ui.small_button("Clear").clicked()
                {
                    commands.push(Command::ClearShaping { key });
                }
            });
        }
    }
    if online
        && ui
            .small_button("Clear all shaping…")
            .on_hover_text("Remove every tree Quayside made on this host, and its IFBs")
            .clicked()
    {
        app.host_shaping.confirm_clear_all = Some(host.clone());
    }
    for command in commands {
        app.send(command);
    }
}

/// The confirmation of "Clear all shaping on this host".
pub(crate) fn confirm_clear_all_ui(app: &mut App, ctx: &egui::Context) {
    let Some(host) = app.host_shaping.confirm_clear_all.clone() else {
        return;
    };
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("confirm_clear_all")).show(ctx, |ui| {
        ui.heading(format!("Clear all shaping on {host}?"));
        ui.label(
            "Every qdisc tree and IFB that Quayside made on this host is removed; \
             qdiscs it did not make are left alone.",
        );
        ui.horizontal(|ui| {
            if ui.button("Clear all").clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    match answer {
        Some(true) => {
            app.host_shaping.confirm_clear_all = None;
            app.send(Command::ClearAllShaping { host });
        }
        Some(false) => app.host_shaping.confirm_clear_all = None,
        None => {}
    }
}

//! What the host tree shows of each host's shaping: the preflight (tc, netem, ifb,
//! privileges, each with the fix when missing), the trees of ours found on the host at
//! start-up with a Clear for each, and "Clear all shaping on this host" behind a confirmation.
//!
//! The data arrives as backend events; this module draws it and turns clicks into commands.

use std::collections::HashMap;

use eframe::egui;

use super::app::App;
use crate::backend::{Command, FoundShaping};
use crate::model::{ContainerKey, HostId};
use crate::shaping::host_check::Capability;
use crate::shaping::ops::ShapingReport;

/// A shaping tree of ours found on a host.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FoundTree {
    /// The container it shapes, when one still owns the veth.
    pub(crate) container: Option<(ContainerKey, String)>,
    /// The veth or IFB that carries it.
    pub(crate) device: String,
    /// What it holds, in one line.
    pub(crate) summary: String,
}

/// The shaping state of every host, as the window knows it.
#[derive(Default)]
pub(crate) struct HostShaping {
    pub(crate) capabilities: HashMap<HostId, Vec<Capability>>,
    pub(crate) found: HashMap<HostId, Vec<FoundTree>>,
    /// The host whose "Clear all shaping" waits for the user's confirmation.
    pub(crate) confirm_clear_all: Option<HostId>,
}

impl HostShaping {
    /// Takes the list of containers found holding shaping of ours on `host`.
    pub(crate) fn found_on(&mut self, host: &HostId, found: Vec<FoundShaping>) {
        let trees = found
            .into_iter()
            .map(|f| {
                let device = f
                    .report
                    .interfaces
                    .iter()
                    .map(|i| i.target.veth.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut summary = f.report.profile().map(|p| p.summary()).unwrap_or_default();
                if f.expired {
                    summary.push_str(" (timed; its time ran out while Quayside was closed)");
                }
                FoundTree {
                    container: Some((f.key, f.name)),
                    device,
                    summary,
                }
            })
            .collect();
        self.found.insert(host.clone(), trees);
    }

    /// A container's shaping changed: a found tree that is now clear leaves the list.
    pub(crate) fn reported(&mut self, key: &ContainerKey, report: &ShapingReport) {
        let clear = report.profile().is_none_or(|p| p.is_unshaped());
        if let (true, Some(trees)) = (clear, self.found.get_mut(&key.host)) {
            trees.retain(|t| t.container.as_ref().is_none_or(|(k, _)| k != key));
        }
    }

    /// Why impairments cannot work on `host`, when the preflight said netem is missing.
    pub(crate) fn netem_missing(&self, host: &HostId) -> Option<String> {
        self.capabilities
            .get(host)?
            .iter()
            .find(|c| c.name == "netem")?
            .missing
            .clone()
    }
}

/// The lines under one host in the tree.
pub(crate) fn host_shaping_ui(app: &mut App, host: &HostId, online: bool, ui: &mut egui::Ui) {
    let mut commands = Vec::new();
    if let Some(capabilities) = app.host_shaping.capabilities.get(host) {
        ui.horizontal_wrapped(|ui| {
            for cap in capabilities {
                let (mark, colour) = match &cap.missing {
                    None => ("●", egui::Color32::from_rgb(80, 180, 100)),
                    Some(_) => ("●", ui.visuals().warn_fg_color),
                };
                let label = ui.label(
                    egui::RichText::new(format!("{mark} {}", cap.name))
                        .small()
                        .color(colour),
                );
                match &cap.missing {
                    Some(why) => label.on_hover_text(why),
                    None => label.on_hover_text(format!("{} is available", cap.name)),
                };
            }
        });
        for cap in capabilities {
            if let Some(why) = &cap.missing {
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("{} unavailable: {why}", cap.name))
                            .small()
                            .color(ui.visuals().warn_fg_color),
                    )
                    .wrap(),
                );
            }
        }
    }
    if let Some(found) = app.host_shaping.found.get(host)
        && !found.is_empty()
    {
        ui.label(
            egui::RichText::new(format!("Shaping found on this host: {}", found.len())).small(),
        );
        for tree in found {
            ui.horizontal_wrapped(|ui| {
                let who = match &tree.container {
                    Some((_, name)) => format!("{name} ({})", tree.device),
                    None => format!("{} (its container is gone)", tree.device),
                };
                ui.label(egui::RichText::new(format!("{who}: {}", tree.summary)).small());
                if let Some((key, _)) = &tree.container
                    && ui.small_button("Clear").clicked()
                {
                    commands.push(Command::ClearShaping { key: key.clone() });
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

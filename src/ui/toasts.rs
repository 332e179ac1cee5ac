//! Short messages in the window's corner: results of actions and errors, each shown for a
//! while and then gone. Errors are also logged once, where they are raised.

use std::time::{Duration, Instant};

use eframe::egui;

/// How long a message stays; errors stay longer.
const INFO_SECS: u64 = 5;
const ERROR_SECS: u64 = 12;
/// The most messages shown at once; older ones leave first.
const MAX_SHOWN: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ToastKind {
    Info,
    Error,
}

struct Toast {
    text: String,
    kind: ToastKind,
    until: Instant,
}

/// The messages currently shown.
#[derive(Default)]
pub(crate) struct Toasts {
    shown: Vec<Toast>,
}

impl Toasts {
    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.push(text.into(), ToastKind::Info);
    }

    pub(crate) fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), ToastKind::Error);
    }

    fn push(&mut self, text: String, kind: ToastKind) {
        let secs = if kind == ToastKind::Error {
            ERROR_SECS
        } else {
            INFO_SECS
        };
        self.shown.push(Toast {
            text,
            kind,
            until: Instant::now() + Duration::from_secs(secs),
        });
        if self.shown.len() > MAX_SHOWN {
            self.shown.remove(0);
        }
    }

    pub(crate) fn ui(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.shown.retain(|t| t.until > now);
        let Some(next_expiry) = self.shown.iter().map(|t| t.until).min() else {
            return;
        };
        // Wake once when the next message is due to leave; no repaint loop.
        ctx.request_repaint_after(next_expiry.saturating_duration_since(now));

        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                ui.set_max_width(420.0);
                let mut dismissed = None;
                for (i, toast) in self.shown.iter().enumerate() {
                    let (fill, stroke) = match toast.kind {
                        ToastKind::Info => (
                            ui.visuals().extreme_bg_color,
                            ui.visuals().widgets.noninteractive.bg_stroke,
                        ),
                        ToastKind::Error => (
                            egui::Color32::from_rgb(70, 20, 20),
                            egui::Stroke::new(1.0, egui::Color32::from_rgb(200, 80, 80)),
                        ),
                    };
                    egui::Frame::popup(ui.style())
                        .fill(fill)
                        .stroke(stroke)
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.add(egui::Label::new(&toast.text).wrap());
                                if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                                    dismissed = Some(i);
                                }
                            });
                        });
                }
                if let Some(i) = dismissed {
                    self.shown.remove(i);
                }
            });
    }
}

//! The centre panel: every container of every host in one sortable, filterable table with
//! multi-select. Only the rows in sight are laid out, so thousands of rows stay cheap.

use eframe::egui;
use egui_extras::{Column as TableColumn, TableBuilder};

use super::app::App;
use super::format;
use super::store::Column;
use crate::docker;
use crate::model::ContainerKey;
use crate::status_age;

const ROW_HEIGHT: f32 = 20.0;

/// What a click on a row asks for.
enum RowClick {
    Only(ContainerKey),
    Toggle(ContainerKey),
    Extend(usize),
}

pub(crate) fn containers_ui(app: &mut App, ui: &mut egui::Ui) {
    let view_len = app.store.view().len();
    if view_len == 0 {
        ui.centered_and_justified(|ui| {
            ui.weak(if app.store.len() == 0 {
                "No containers yet"
            } else {
                "No container matches the filter"
            });
        });
        return;
    }

    let mut sort_click = None;
    let mut row_click = None;
    let offline_hosts: Vec<_> = app
        .hosts
        .iter()
        .filter(|h| !h.state.is_online())
        .map(|h| h.id.clone())
        .collect();
    let sort = app.store.sort();
    let now = docker::now_unix_secs();
    // Statuses count seconds: draw again when the next second starts (a timer, not a poll).
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs(1));

    egui::ScrollArea::horizontal()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(TableColumn::initial(70.0).at_least(40.0).clip(true))
                .column(TableColumn::initial(150.0).at_least(60.0).clip(true))
                .column(TableColumn::initial(100.0).at_least(60.0))
                .column(TableColumn::initial(170.0).at_least(60.0).clip(true))
                .column(TableColumn::initial(70.0).at_least(50.0))
                .column(TableColumn::initial(170.0).at_least(60.0).clip(true))
                .column(TableColumn::initial(130.0).at_least(60.0).clip(true))
                .column(TableColumn::initial(170.0).at_least(40.0).clip(true))
                .column(TableColumn::remainder().at_least(120.0))
                .header(ROW_HEIGHT + 4.0, |mut header| {
                    for column in Column::ALL {
                        header.col(|ui| {
                            let arrow = match sort {
                                Some((c, true)) if c == column => " ▲",
                                Some((c, false)) if c == column => " ▼",
                                _ => "",
                            };
                            let title =
                                egui::RichText::new(format!("{}{arrow}", column.title())).strong();
                            if ui
                                .add(egui::Button::new(title).frame(false))
                                .on_hover_text("Sort by this column")
                                .clicked()
                            {
                                sort_click = Some(column);
                            }
                        });
                        if column == Column::State {
                            header.col(|ui| {
                                ui.strong("Shaping").on_hover_text(
                                    "What the kernel holds for the container, as last read or \
                                     applied",
                                );
                            });
                        }
                    }
                })
                .body(|body| {
                    body.rows(ROW_HEIGHT, view_len, |mut row| {
                        let i = row.index();
                        let Some(c) = app.store.view_row(i) else {
                            return;
                        };
                        let key = c.key();
                        let selected = app.selection.contains(&key);
                        row.set_selected(selected);
                        let dim = offline_hosts.contains(&c.host) || !c.state.is_running();
                        let text = |s: &str| {
                            let t = egui::RichText::new(s);
                            if dim { t.weak() } else { t }
                        };
                        row.col(|ui| {
                            ui.label(text(&c.host.0));
                        });
                        let mut name_clicked = false;
                        row.col(|ui| {
                            name_clicked = ui.selectable_label(selected, text(&c.name)).clicked();
                        });
                        row.col(|ui| {
                            ui.label(text(c.id.short()));
                        });
                        row.col(|ui| {
                            ui.label(text(&c.image));
                        });
                        row.col(|ui| {
                            ui.label(text(c.state.as_str()));
                        });
                        row.col(|ui| {
                            if let Some(held) = app.network.held(&key)
                                && !held.is_unshaped()
                            {
                                ui.label(text(&held.summary()));
                            }
                        });
                        row.col(|ui| {
                            ui.label(text(&status_age::render(
                                &c.status,
                                c.status_since_unix_secs,
                                now,
                            )));
                        });
                        row.col(|ui| {
                            ui.label(text(&c.ports));
                        });
                        row.col(|ui| {
                            ui.label(text(&format::utc_minutes(c.created_unix_secs)));
                        });

                        let response = row.response();
                        if name_clicked || response.clicked() {
                            let modifiers = response.ctx.input(|i| i.modifiers);
                            row_click = Some(if modifiers.shift {
                                RowClick::Extend(i)
                            } else if modifiers.command {
                                RowClick::Toggle(key)
                            } else {
                                RowClick::Only(key)
                            });
                        }
                    });
                });
        });

    if let Some(column) = sort_click {
        app.store.sort_by(column);
    }
    match row_click {
        Some(RowClick::Only(key)) => app.select_only(key),
        Some(RowClick::Toggle(key)) if !app.selection.remove(&key) => {
            app.selection.insert(key.clone());
            app.anchor = Some(key);
        }
        Some(RowClick::Toggle(_)) => {}
        Some(RowClick::Extend(to)) => extend_selection(app, to),
        None => {}
    }
}

/// Selects every row of the view between the anchor and row `to`.
fn extend_selection(app: &mut App, to: usize) {
    let len = app.store.view().len();
    let from = app
        .anchor
        .as_ref()
        .and_then(|anchor| {
            (0..len).find(|&i| app.store.view_row(i).is_some_and(|r| &r.key() == anchor))
        })
        .unwrap_or(to);
    let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
    app.selection = (lo..=hi)
        .filter_map(|i| app.store.view_row(i))
        .map(|r| r.key())
        .collect();
}

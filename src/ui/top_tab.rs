//! The Top tab: the container's processes, read again every few seconds while the tab shows.

use eframe::egui;
use egui_extras::{Column, TableBuilder};

use super::app::App;
use crate::backend::tools::StreamKind;
use crate::model::ContainerKey;

/// The `ps -ef` columns shown, in this order, when the engine lists them.
const SHOWN_COLUMNS: [&str; 5] = ["PID", "UID", "C", "TIME", "CMD"];

pub(crate) fn top_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let running = app.store.get(key).is_some_and(|row| row.state.is_running());
    if !running {
        ui.weak("The container is not running: it has no processes.");
        return;
    }
    app.tools.want(key, StreamKind::Top);
    let Some(view) = app.tools.top.get(key) else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Reading the processes…");
        });
        return;
    };
    let table = match &view.table {
        Some(Ok(table)) => table,
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, error);
            return;
        }
        None => {
            ui.spinner();
            return;
        }
    };
    ui.weak(format!(
        "{} processes, read {} s ago; refreshed every 2 s",
        table.processes.len(),
        view.read_at.map_or(0, |t| t.elapsed().as_secs())
    ));
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs(1));

    // The columns that tell processes apart; the others (PPID, STIME, TTY) only take room.
    let shown: Vec<usize> = SHOWN_COLUMNS
        .iter()
        .filter_map(|want| table.titles.iter().position(|t| t == want))
        .collect();
    let shown = if shown.is_empty() {
        (0..table.titles.len()).collect()
    } else {
        shown
    };
    TableBuilder::new(ui)
        .id_salt("top_table")
        .striped(true)
        .vscroll(false)
        .columns(Column::auto().at_least(40.0), shown.len().saturating_sub(1))
        .column(Column::remainder().at_least(120.0).clip(true))
        .header(20.0, |mut header| {
            for &i in &shown {
                header.col(|ui| {
                    ui.strong(table.titles.get(i).map_or("", String::as_str));
                });
            }
        })
        .body(|mut body| {
            for process in &table.processes {
                body.row(18.0, |mut row| {
                    for &i in &shown {
                        let cell = process.get(i).map_or("", String::as_str);
                        row.col(|ui| {
                            ui.add(
                                egui::Label::new(egui::RichText::new(cell).monospace()).truncate(),
                            );
                        });
                    }
                });
            }
        });
}

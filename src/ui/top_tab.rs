//! The Top tab: the container's processes, read again every few seconds while the tab shows.

use eframe::egui;
use egui_extras::{Column, TableBuilder};

use super::app::App;
use crate::backend::tools::StreamKind;
use crate::model::ContainerKey;

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

    let columns = table.titles.len().max(1);
    egui::ScrollArea::horizontal().show(ui, |ui| {
        TableBuilder::new(ui)
            .id_salt("top_table")
            .striped(true)
            .vscroll(false)
            .columns(Column::auto().at_least(40.0), columns.saturating_sub(1))
            .column(Column::remainder().at_least(120.0))
            .header(20.0, |mut header| {
                for title in &table.titles {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|mut body| {
                for process in &table.processes {
                    body.row(18.0, |mut row| {
                        for cell in process {
                            row.col(|ui| {
                                ui.monospace(cell);
                            });
                        }
                    });
                }
            });
    });
}

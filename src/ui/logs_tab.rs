//! The Logs tab: the container's output, followed live with timestamps; a search that narrows
//! the lines; a bounded buffer (the oldest lines leave first); and Save, which writes what is
//! kept to a file off the UI thread (to a typed path, or one chosen in the desktop's dialog).

use std::io::Write as _;
use std::path::PathBuf;

use eframe::egui;
use tokio::sync::oneshot;

use super::app::App;
use super::tools::{self, LOG_LINES_KEPT, LogView};
use crate::backend::tools::StreamKind;
use crate::docker::logs::LogLine;
use crate::model::ContainerKey;

pub(crate) fn logs_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    app.tools.want(key, StreamKind::Logs);
    let runtime = app.runtime();
    let name = app.display_name(key);
    let view = app.tools.logs.entry(key.clone()).or_default();
    if let Some(message) = take_save_outcome(view) {
        match message {
            Ok(text) => app.toasts.info(text),
            Err(text) => app.toasts.error(text),
        }
    }
    let view = app.tools.logs.entry(key.clone()).or_default();

    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut view.search)
                .hint_text("text in the lines")
                .desired_width(160.0),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut view.follow, "Follow");
    });
    ui.horizontal(|ui| {
        let label = ui.label("Save to");
        ui.add(
            egui::TextEdit::singleline(&mut view.save_path)
                .hint_text("/tmp/container.log")
                .desired_width(160.0),
        )
        .labelled_by(label.id);
        let busy = view.saving.is_some();
        let typed = PathBuf::from(view.save_path.trim());
        if ui
            .add_enabled(
                !busy && !view.save_path.trim().is_empty(),
                egui::Button::new("Save"),
            )
            .clicked()
        {
            start_save(view, Some(typed), &name, ui.ctx(), &runtime);
        } else if ui
            .add_enabled(!busy, egui::Button::new("Save as…"))
            .on_hover_text("Choose the file in the desktop's dialog")
            .clicked()
        {
            start_save(view, None, &name, ui.ctx(), &runtime);
        }
    });
    if let Some(error) = &view.error {
        ui.colored_label(ui.visuals().warn_fg_color, error);
    }

    let total = view.lines.len();
    let dropped = view.dropped;
    let follow = view.follow;
    let matching = view.matching().to_vec();
    ui.weak(if dropped > 0 {
        format!(
            "{} of {total} lines shown; {dropped} older lines left the buffer (keeps {LOG_LINES_KEPT})",
            matching.len()
        )
    } else {
        format!("{} of {total} lines shown", matching.len())
    });
    ui.separator();

    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
    let lines = &view.lines;
    egui::ScrollArea::both()
        .id_salt(("logs", key.id.short()))
        .auto_shrink([false, false])
        .stick_to_bottom(follow)
        .show_rows(ui, row_height, matching.len(), |ui, range| {
            for i in range {
                let Some(line) = matching.get(i).and_then(|&j| lines.get(j)) else {
                    continue;
                };
                line_ui(line, ui);
            }
        });
}

fn line_ui(line: &LogLine, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.weak(egui::RichText::new(short_time(&line.timestamp)).monospace())
            .on_hover_text(&line.timestamp);
        let text = egui::RichText::new(&line.text).monospace();
        let text = if tools::is_stderr(line.stream) {
            text.color(ui.visuals().error_fg_color)
        } else {
            text
        };
        ui.add(egui::Label::new(text).extend());
    });
}

/// `2026-12-04T19:03:08.123Z` as `19:03:08.123`.
fn short_time(ts: &str) -> &str {
    ts.get(11..23).or_else(|| ts.get(11..19)).unwrap_or(ts)
}

/// Writes the kept lines (all of them, not only those matching) off the UI thread.
fn start_save(
    view: &mut LogView,
    path: Option<PathBuf>,
    name: &str,
    ctx: &egui::Context,
    runtime: &tokio::runtime::Handle,
) {
    let text: String = view
        .lines
        .iter()
        .map(|l| format!("{} {}\n", l.timestamp, l.text))
        .collect();
    let (tx, rx) = oneshot::channel();
    let repaint = ctx.clone();
    let file_name = format!("{}.log", name.replace([':', '/'], "_"));
    runtime.spawn_blocking(move || {
        let path = path.or_else(|| {
            rfd::FileDialog::new()
                .set_title("Save the container's output as")
                .set_file_name(&file_name)
                .save_file()
        });
        let outcome = match path {
            None => Err("No file chosen (if no dialog appeared, type the path instead)".to_owned()),
            Some(path) => write_file(&path, &text)
                .map(|()| format!("Saved the output to {}", path.display()))
                .map_err(|e| format!("Cannot save to {}: {e}", path.display())),
        };
        // The window may have closed meanwhile: then nobody waits for the outcome.
        tx.send(outcome).ok();
        repaint.request_repaint();
    });
    view.saving = Some(rx);
}

fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn take_save_outcome(view: &mut LogView) -> Option<Result<String, String>> {
    let rx = view.saving.as_mut()?;
    let outcome = match rx.try_recv() {
        Err(oneshot::error::TryRecvError::Empty) => return None,
        Err(oneshot::error::TryRecvError::Closed) => Err("The save was interrupted".to_owned()),
        Ok(outcome) => outcome,
    };
    view.saving = None;
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_show_the_time_of_day_to_the_millisecond() {
        assert_eq!(short_time("2026-12-04T19:03:08.123456789Z"), "19:03:08.123");
        assert_eq!(short_time("2026-12-04T19:03:08Z"), "19:03:08");
        assert_eq!(short_time(""), "");
    }
}

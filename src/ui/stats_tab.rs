//! The Stats tab: live graphs of CPU %, memory, network and block I/O for one container, or one
//! compact row per container when several are selected.
//!
//! The graphs draw the bounded history kept in `tools.rs`; rates (network, disk) are computed
//! here from the cumulative counters of consecutive samples. The stream runs only while this
//! tab draws: it asks for it every frame.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::app::App;
use super::tools::{self, StatsHistory};
use crate::backend::tools::StreamKind;
use crate::docker::stats::StatsSample;
use crate::model::ContainerKey;

/// The most containers whose stats stream at once from a multi-selection.
pub(crate) const MAX_STREAMED: usize = 64;
const PLOT_HEIGHT: f32 = 110.0;
const ROW_HEIGHT: f32 = 44.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The full graphs of one container.
pub(crate) fn stats_ui(app: &mut App, key: &ContainerKey, ui: &mut egui::Ui) {
    let running = app.store.get(key).is_some_and(|row| row.state.is_running());
    if !running {
        ui.weak("The container is not running: it uses no resources.");
        return;
    }
    app.tools.want(key, StreamKind::Stats);
    let Some(history) = app.tools.stats.get(key) else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Waiting for the first sample…");
        });
        return;
    };
    if let Some(error) = &history.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    let Some((_, last)) = history.samples.back() else {
        ui.spinner();
        return;
    };
    ui.label(format!(
        "CPU {:.1} %   memory {} of {}   {} processes",
        last.cpu_percent,
        mib(last.memory_bytes),
        mib(last.memory_limit_bytes),
        last.pids
    ));

    let id = key.id.short().to_owned();
    plot_ui(
        ui,
        ("cpu", &id),
        "CPU %",
        &[("CPU %", series(history, |_, s| s.cpu_percent))],
    );
    plot_ui(
        ui,
        ("mem", &id),
        "Memory MiB",
        &[(
            "memory MiB",
            series(history, |_, s| s.memory_bytes as f64 / MIB),
        )],
    );
    plot_ui(
        ui,
        ("net", &id),
        "Network kbit/s",
        &[
            (
                "download (rx) kbit/s",
                rates(history, |s| s.net_rx_bytes, 8.0 / 1000.0),
            ),
            (
                "upload (tx) kbit/s",
                rates(history, |s| s.net_tx_bytes, 8.0 / 1000.0),
            ),
        ],
    );
    plot_ui(
        ui,
        ("blk", &id),
        "Block I/O KiB/s",
        &[
            (
                "read KiB/s",
                rates(history, |s| s.block_read_bytes, 1.0 / 1024.0),
            ),
            (
                "write KiB/s",
                rates(history, |s| s.block_write_bytes, 1.0 / 1024.0),
            ),
        ],
    );
    ui.weak(format!(
        "The last {} samples are kept (about two minutes).",
        tools::STATS_HISTORY
    ));
}

/// One compact row per selected running container: its latest figures and a CPU line. Only the
/// rows in sight are drawn.
pub(crate) fn stats_many_ui(app: &mut App, keys: &[ContainerKey], ui: &mut egui::Ui) {
    let running: Vec<ContainerKey> = keys
        .iter()
        .filter(|k| app.store.get(k).is_some_and(|r| r.state.is_running()))
        .take(MAX_STREAMED)
        .cloned()
        .collect();
    if running.len() < keys.len() {
        ui.weak(format!(
            "Showing {} running containers of the {} selected.",
            running.len(),
            keys.len()
        ));
    }
    for key in &running {
        app.tools.want(key, StreamKind::Stats);
    }
    let names: Vec<String> = running.iter().map(|k| app.display_name(k)).collect();
    egui::ScrollArea::vertical()
        .id_salt("stats_many")
        .auto_shrink([false, false])
        .show_rows(ui, ROW_HEIGHT, running.len(), |ui, range| {
            for i in range {
                let (Some(key), Some(name)) = (running.get(i), names.get(i)) else {
                    continue;
                };
                let history = app.tools.stats.get(key);
                ui.horizontal(|ui| {
                    ui.set_height(ROW_HEIGHT - 4.0);
                    ui.vertical(|ui| {
                        ui.set_width(170.0);
                        ui.label(name);
                        match history.and_then(|h| h.samples.back()) {
                            Some((_, s)) => ui.weak(format!(
                                "CPU {:.1} %  {}",
                                s.cpu_percent,
                                mib(s.memory_bytes)
                            )),
                            None => ui.weak("waiting…"),
                        };
                    });
                    if let Some(history) = history {
                        Plot::new(("stats_row", key.id.short()))
                            .height(ROW_HEIGHT - 6.0)
                            .show_axes(false)
                            .show_grid(false)
                            .allow_drag(false)
                            .allow_zoom(false)
                            .allow_scroll(false)
                            .allow_boxed_zoom(false)
                            .show_x(false)
                            .show_y(false)
                            .include_y(0.0)
                            .include_y(5.0)
                            .show(ui, |plot| {
                                plot.line(Line::new(
                                    "CPU %",
                                    PlotPoints::new(series(history, |_, s| s.cpu_percent)),
                                ));
                            });
                    }
                });
            }
        });
}

fn plot_ui(ui: &mut egui::Ui, id: (&str, &str), title: &str, lines: &[(&str, Vec<[f64; 2]>)]) {
    ui.strong(title);
    Plot::new(id)
        .height(PLOT_HEIGHT)
        .legend(Legend::default())
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .x_axis_formatter(|mark, _| format!("{:.0} s", mark.value))
        .show(ui, |plot| {
            for (name, points) in lines {
                plot.line(Line::new(*name, PlotPoints::new(points.clone())));
            }
        });
}

/// `(seconds, value)` for every sample.
fn series(history: &StatsHistory, value: impl Fn(f64, &StatsSample) -> f64) -> Vec<[f64; 2]> {
    history
        .samples
        .iter()
        .map(|(t, s)| [*t, value(*t, s)])
        .collect()
}

/// The per-second rate of a cumulative counter between consecutive samples, times `scale`.
fn rates(
    history: &StatsHistory,
    counter: impl Fn(&StatsSample) -> u64,
    scale: f64,
) -> Vec<[f64; 2]> {
    history
        .samples
        .iter()
        .zip(history.samples.iter().skip(1))
        .map(|((t0, a), (t1, b))| {
            [
                *t1,
                tools::rate_per_sec(counter(a), counter(b), t1 - t0) * scale,
            ]
        })
        .collect()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

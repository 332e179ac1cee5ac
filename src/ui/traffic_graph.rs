//! The Network tab's live graph: throughput per direction from the counters the backend samples
//! twice a second, the set rates drawn as dashed lines, and the drops of the last interval.
//!
//! The history is bounded (two minutes of samples); rates are differences of successive
//! counters, so a counter that goes backwards (a new veth after a restart) starts a new series
//! instead of drawing a spike.

use std::collections::VecDeque;

use eframe::egui;
use egui_plot::{HLine, Legend, Line, LineStyle, Plot, PlotPoints};

use super::format;
use crate::shaping::traffic::TrafficSample;

/// How many samples are kept: two minutes at two a second.
const HISTORY_LEN: usize = 241;

/// One interval between two samples, as rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TrafficPoint {
    /// Seconds since the first sample of the history.
    pub(crate) t_secs: f64,
    pub(crate) down_kbit: f64,
    pub(crate) up_kbit: f64,
    pub(crate) down_drops: u64,
    pub(crate) up_drops: u64,
}

/// The recent samples of one container.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrafficHistory {
    samples: VecDeque<TrafficSample>,
    /// Why the last read failed, until the next sample arrives.
    pub(crate) error: Option<String>,
}

impl TrafficHistory {
    pub(crate) fn push(&mut self, sample: TrafficSample) {
        if self.samples.len() == HISTORY_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.error = None;
    }

    pub(crate) fn clear(&mut self) {
        self.samples.clear();
    }

    /// The rates between successive samples, oldest first.
    pub(crate) fn points(&self) -> Vec<TrafficPoint> {
        let Some(first) = self.samples.front() else {
            return Vec::new();
        };
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .filter_map(|(a, b)| {
                let secs = b.at.duration_since(a.at).as_secs_f64();
                let down = b.down_bytes.checked_sub(a.down_bytes)?;
                let up = b.up_bytes.checked_sub(a.up_bytes)?;
                (secs > 0.0).then(|| TrafficPoint {
                    t_secs: b.at.duration_since(first.at).as_secs_f64(),
                    down_kbit: down as f64 * 8.0 / 1000.0 / secs,
                    up_kbit: up as f64 * 8.0 / 1000.0 / secs,
                    down_drops: b.down_drops.saturating_sub(a.down_drops),
                    up_drops: b.up_drops.saturating_sub(a.up_drops),
                })
            })
            .collect()
    }
}

/// Draws the graph; `set_down_kbit`/`set_up_kbit` are the rates the kernel holds (0: none).
pub(crate) fn graph_ui(
    ui: &mut egui::Ui,
    history: &TrafficHistory,
    set_down_kbit: u64,
    set_up_kbit: u64,
) {
    let points = history.points();
    match points.last() {
        Some(last) => {
            ui.label(format!(
                "Now: ↓ {}  ↑ {}   drops in the last interval: ↓ {}  ↑ {}",
                format::throughput(last.down_kbit),
                format::throughput(last.up_kbit),
                last.down_drops,
                last.up_drops
            ));
        }
        None => {
            ui.weak("Waiting for the first counters…");
        }
    }
    if let Some(error) = &history.error {
        ui.colored_label(ui.visuals().warn_fg_color, error);
    }
    let down: PlotPoints = points.iter().map(|p| [p.t_secs, p.down_kbit]).collect();
    let up: PlotPoints = points.iter().map(|p| [p.t_secs, p.up_kbit]).collect();
    let down_color = egui::Color32::from_rgb(0x4e, 0x9a, 0xe6);
    let up_color = egui::Color32::from_rgb(0xe6, 0x9a, 0x3e);
    Plot::new("traffic_graph")
        .height(160.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .include_y(0.0)
        .y_axis_formatter(|mark, _| {
            // Below zero there is nothing to read.
            if mark.value < 0.0 {
                String::new()
            } else {
                format::throughput(mark.value)
            }
        })
        .x_axis_formatter(|mark, _| format!("{} s", mark.value))
        .show(ui, |plot| {
            plot.line(Line::new("↓ download", down).color(down_color));
            plot.line(Line::new("↑ upload", up).color(up_color));
            if set_down_kbit > 0 {
                plot.hline(
                    HLine::new("↓ set rate", set_down_kbit as f64)
                        .color(down_color)
                        .style(LineStyle::dashed_loose()),
                );
            }
            if set_up_kbit > 0 {
                plot.hline(
                    HLine::new("↑ set rate", set_up_kbit as f64)
                        .color(up_color)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn sample(at: Instant, down: u64, up: u64, drops: u64) -> TrafficSample {
        TrafficSample {
            at,
            down_bytes: down,
            up_bytes: up,
            down_drops: drops,
            up_drops: 0,
        }
    }

    #[test]
    fn rates_are_bits_per_second_between_samples() {
        let t0 = Instant::now();
        let mut h = TrafficHistory::default();
        h.push(sample(t0, 0, 0, 0));
        h.push(sample(t0 + Duration::from_millis(500), 62_500, 12_500, 3));
        let points = h.points();
        assert_eq!(points.len(), 1);
        assert!((points[0].down_kbit - 1000.0).abs() < 1e-9);
        assert!((points[0].up_kbit - 200.0).abs() < 1e-9);
        assert_eq!(points[0].down_drops, 3);
        assert!((points[0].t_secs - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_counter_that_goes_back_draws_no_spike_and_the_history_stays_bounded() {
        let t0 = Instant::now();
        let mut h = TrafficHistory::default();
        h.push(sample(t0, 1_000_000, 0, 0));
        h.push(sample(t0 + Duration::from_millis(500), 10, 0, 0));
        assert!(h.points().is_empty());
        for i in 0..1000 {
            h.push(sample(t0 + Duration::from_millis(500 * i), i * 100, 0, 0));
        }
        assert_eq!(h.samples.len(), HISTORY_LEN);
    }
}

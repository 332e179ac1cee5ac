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
/// The span the "now" figures average over. Half-second windows of a rate-limited flow swing
/// widely (the kernel hands segmentation-offloaded packets of up to 64 KiB to the qdisc at
/// once); two seconds read steadily.
const NOW_SPAN_SECS: f64 = 2.0;

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

    /// Average rates (down, up) in kbit/s over the last [`NOW_SPAN_SECS`], once that much
    /// history exists.
    pub(crate) fn recent_kbit(&self) -> Option<(f64, f64)> {
        let last = self.samples.back()?;
        let first = self
            .samples
            .iter()
            .rev()
            .find(|s| last.at_secs - s.at_secs >= NOW_SPAN_SECS)?;
        let secs = last.at_secs - first.at_secs;
        let down = last.down_bytes.checked_sub(first.down_bytes)?;
        let up = last.up_bytes.checked_sub(first.up_bytes)?;
        Some((
            down as f64 * 8.0 / 1000.0 / secs,
            up as f64 * 8.0 / 1000.0 / secs,
        ))
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
                let secs = b.at_secs - a.at_secs;
                let down = b.down_bytes.checked_sub(a.down_bytes)?;
                let up = b.up_bytes.checked_sub(a.up_bytes)?;
                (secs > 0.0).then(|| TrafficPoint {
                    t_secs: b.at_secs - first.at_secs,
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
    match (history.recent_kbit(), points.last()) {
        (Some((down, up)), Some(last)) => {
            ui.label(format!(
                "Now (2 s): ↓ {}  ↑ {}   drops in the last interval: ↓ {}  ↑ {}",
                format::throughput(down),
                format::throughput(up),
                last.down_drops,
                last.up_drops
            ));
        }
        _ => {
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
    use super::*;

    fn sample(at_secs: f64, down: u64, up: u64, drops: u64) -> TrafficSample {
        TrafficSample {
            at_secs,
            down_bytes: down,
            up_bytes: up,
            down_drops: drops,
            up_drops: 0,
        }
    }

    #[test]
    fn rates_are_bits_per_second_between_samples() {
        let t0 = 100.0;
        let mut h = TrafficHistory::default();
        h.push(sample(t0, 0, 0, 0));
        h.push(sample(t0 + 0.5, 62_500, 12_500, 3));
        let points = h.points();
        assert_eq!(points.len(), 1);
        assert!((points[0].down_kbit - 1000.0).abs() < 1e-9);
        assert!((points[0].up_kbit - 200.0).abs() < 1e-9);
        assert_eq!(points[0].down_drops, 3);
        assert!((points[0].t_secs - 0.5).abs() < 1e-9);
        assert_eq!(h.recent_kbit(), None, "half a second is not enough for now");
        for i in 2..=5 {
            h.push(sample(t0 + 0.5 * i as f64, 62_500 * i, 12_500, 0));
        }
        let (down, _) = h.recent_kbit().unwrap();
        assert!((down - 1000.0).abs() < 1e-6, "{down}");
    }

    #[test]
    fn a_counter_that_goes_back_draws_no_spike_and_the_history_stays_bounded() {
        let t0 = 100.0;
        let mut h = TrafficHistory::default();
        h.push(sample(t0, 1_000_000, 0, 0));
        h.push(sample(t0 + 0.5, 10, 0, 0));
        assert!(h.points().is_empty());
        for i in 0..1000u64 {
            h.push(sample(t0 + 0.5 * i as f64, i * 100, 0, 0));
        }
        assert_eq!(h.samples.len(), HISTORY_LEN);
    }
}

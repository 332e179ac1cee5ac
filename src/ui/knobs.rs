//! The shaping knobs of one direction (rate, delay, jitter, correlation, loss, duplicate,
//! corrupt, reorder): their ranges, units, text forms, and the column of sliders and typed
//! fields that edits them.
//!
//! A slider and its typed field edit the same value; a typed value is read with the same
//! parsers the command line uses, and a bad one is reported without changing the value. The
//! column draws and edits a `DirectionProfile`; it sends nothing.

use eframe::egui;

use super::format;
use crate::shaping::profile::{Direction, DirectionProfile};
use crate::shaping::units::{self, format_decimal};

/// One value of a direction's shaping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Knob {
    Rate,
    Delay,
    Jitter,
    Correlation,
    Loss,
    Duplicate,
    Corrupt,
    Reorder,
}

impl Knob {
    pub(crate) const ALL: [Knob; 8] = [
        Knob::Rate,
        Knob::Delay,
        Knob::Jitter,
        Knob::Correlation,
        Knob::Loss,
        Knob::Duplicate,
        Knob::Corrupt,
        Knob::Reorder,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Knob::Rate => "Rate",
            Knob::Delay => "Delay",
            Knob::Jitter => "Jitter",
            Knob::Correlation => "Correlation",
            Knob::Loss => "Loss",
            Knob::Duplicate => "Duplicate",
            Knob::Corrupt => "Corrupt",
            Knob::Reorder => "Reorder",
        }
    }

    /// True for the knobs that need netem (all but the rate).
    pub(crate) fn needs_netem(self) -> bool {
        self != Knob::Rate
    }

    /// What the knob does, for its tooltip.
    fn help(self) -> &'static str {
        match self {
            Knob::Rate => "Rate limit (HTB); unlimited when 0. At least 8 kbit/s when set.",
            Knob::Delay => "Added one-way delay (netem).",
            Knob::Jitter => "Random variation of the delay; more than the delay reorders packets.",
            Knob::Correlation => "How much each delay depends on the previous one (needs jitter).",
            Knob::Loss => "Share of packets dropped.",
            Knob::Duplicate => "Share of packets sent twice.",
            Knob::Corrupt => "Share of packets with one flipped bit.",
            Knob::Reorder => {
                "Share of packets sent at once, ahead of the delayed ones (needs a delay)."
            }
        }
    }

    /// The slider's range and the smallest non-zero value on its logarithmic scale.
    fn range(self) -> (f64, f64) {
        match self {
            Knob::Rate => (10_000_000.0, 8.0),
            Knob::Delay => (10_000.0, 0.1),
            Knob::Jitter => (5_000.0, 0.1),
            _ => (100.0, 0.01),
        }
    }

    pub(crate) fn value(self, p: &DirectionProfile) -> f64 {
        match self {
            Knob::Rate => p.rate_kbit as f64,
            Knob::Delay => p.delay_ms,
            Knob::Jitter => p.jitter_ms,
            Knob::Correlation => p.correlation_pct,
            Knob::Loss => p.loss_pct,
            Knob::Duplicate => p.duplicate_pct,
            Knob::Corrupt => p.corrupt_pct,
            Knob::Reorder => p.reorder_pct,
        }
    }

    pub(crate) fn set(self, p: &mut DirectionProfile, value: f64) {
        let value = value.max(0.0);
        match self {
            Knob::Rate => p.rate_kbit = value.round() as u64,
            Knob::Delay => p.delay_ms = value,
            Knob::Jitter => p.jitter_ms = value,
            Knob::Correlation => p.correlation_pct = value,
            Knob::Loss => p.loss_pct = value,
            Knob::Duplicate => p.duplicate_pct = value,
            Knob::Corrupt => p.corrupt_pct = value,
            Knob::Reorder => p.reorder_pct = value,
        }
    }

    /// The value as the user reads it: `2 Mbit/s`, `100 ms`, `1.5%`.
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Knob::Rate => format::rate(value),
            Knob::Delay | Knob::Jitter => format::delay(value),
            _ => format!("{}%", format_decimal(value, 3)),
        }
    }

    /// Reads what the user typed, with the command line's parsers.
    pub(crate) fn parse(self, text: &str) -> Result<f64, String> {
        let result = match self {
            Knob::Rate if matches!(text.trim(), "unlimited" | "none" | "") => Ok(0.0),
            Knob::Rate => units::parse_rate_kbit(text).map(|v| v as f64),
            Knob::Delay | Knob::Jitter => {
                if matches!(text.trim(), "none" | "") {
                    Ok(0.0)
                } else {
                    units::parse_time_ms(text)
                }
            }
            _ => units::parse_percent(text),
        };
        result.map_err(|e| format!("{}: {e}", self.label()))
    }

    /// An example for the typed field's hint.
    fn example(self) -> &'static str {
        match self {
            Knob::Rate => "2 Mbit/s",
            Knob::Delay => "100 ms",
            Knob::Jitter => "10 ms",
            _ => "1%",
        }
    }
}

/// The typed text of each knob of one direction, kept while the user edits it.
#[derive(Clone, Debug, Default)]
pub(crate) struct KnobTexts {
    texts: [String; 8],
}

impl KnobTexts {
    /// Shows `profile` in every field.
    pub(crate) fn show(&mut self, profile: &DirectionProfile) {
        for (text, knob) in self.texts.iter_mut().zip(Knob::ALL) {
            *text = knob.format(knob.value(profile));
        }
    }

    fn text_mut(&mut self, knob: Knob) -> Option<&mut String> {
        let i = Knob::ALL.iter().position(|k| *k == knob)?;
        self.texts.get_mut(i)
    }
}

/// What happened in a direction's column this frame.
#[derive(Default)]
pub(crate) struct ColumnResponse {
    /// A value changed.
    pub(crate) changed: bool,
    /// A typed value was refused: the reason.
    pub(crate) error: Option<String>,
}

/// One direction's knobs. With `netem_off` (the reason), every knob but the rate is disabled.
pub(crate) fn direction_ui(
    ui: &mut egui::Ui,
    direction: Direction,
    profile: &mut DirectionProfile,
    texts: &mut KnobTexts,
    netem_off: Option<&str>,
) -> ColumnResponse {
    let mut response = ColumnResponse::default();
    let title = match direction {
        Direction::Download => "↓ Download (into the container)",
        Direction::Upload => "↑ Upload (out of the container)",
    };
    ui.strong(title);
    let grid = egui::Grid::new(("knobs", direction.label()))
        .num_columns(2)
        .spacing([6.0, 4.0]);
    grid.show(ui, |ui| {
        for knob in Knob::ALL {
            let enabled = !(knob.needs_netem() && netem_off.is_some());
            ui.add_enabled(enabled, egui::Label::new(knob.label()))
                .on_hover_text(knob.help());
            let changed = ui
                .add_enabled_ui(enabled, |ui| knob_ui(ui, direction, knob, profile, texts))
                .inner;
            match changed {
                Ok(true) => response.changed = true,
                Ok(false) => {}
                Err(error) => response.error = Some(error),
            }
            ui.end_row();
        }
    });
    if let Some(reason) = netem_off {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("Impairments are off on this host: {reason}"))
                    .small()
                    .color(ui.visuals().warn_fg_color),
            )
            .wrap(),
        );
    }
    response
}

/// One knob's slider and typed field, side by side.
fn knob_ui(
    ui: &mut egui::Ui,
    direction: Direction,
    knob: Knob,
    profile: &mut DirectionProfile,
    texts: &mut KnobTexts,
) -> Result<bool, String> {
    let (max, smallest) = knob.range();
    let mut value = knob.value(profile);
    let name = match direction {
        Direction::Download => format!("Download {}", knob.label().to_lowercase()),
        Direction::Upload => format!("Upload {}", knob.label().to_lowercase()),
    };
    let mut changed = false;
    let mut error = None;
    ui.horizontal(|ui| {
        let slider = egui::Slider::new(&mut value, 0.0..=max)
            .logarithmic(true)
            .smallest_positive(smallest)
            .show_value(false);
        let slid = ui.add(slider).on_hover_text(knob.help());
        let enabled = ui.is_enabled();
        slid.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, enabled, &name));
        let Some(text) = texts.text_mut(knob) else {
            return;
        };
        if slid.changed() {
            knob.set(profile, value);
            *text = knob.format(knob.value(profile));
            changed = true;
        }
        let field = ui.add(
            egui::TextEdit::singleline(text)
                .desired_width(96.0)
                .hint_text(knob.example())
                .id_salt(("field", &name)),
        );
        let field = field.on_hover_text(format!("{name}, e.g. {}", knob.example()));
        let typed = format!("{name} value");
        field.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, enabled, &typed));
        if field.lost_focus() {
            match knob.parse(text) {
                Ok(parsed) => {
                    if parsed != knob.value(profile) {
                        knob.set(profile, parsed);
                        changed = true;
                    }
                }
                Err(e) => error = Some(e),
            }
            *text = knob.format(knob.value(profile));
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(changed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_knob_reads_back_what_it_formats() {
        let mut p = DirectionProfile::default();
        for (knob, value) in Knob::ALL
            .into_iter()
            .zip([2000.0, 100.0, 10.0, 25.0, 1.5, 0.5, 0.1, 25.0])
        {
            knob.set(&mut p, value);
            let text = knob.format(knob.value(&p));
            assert_eq!(knob.parse(&text).unwrap(), value, "{knob:?}: {text}");
        }
    }

    #[test]
    fn typed_values_use_the_command_lines_units() {
        assert_eq!(Knob::Rate.parse("2 Mbit/s").unwrap(), 2000.0);
        assert_eq!(Knob::Rate.parse("unlimited").unwrap(), 0.0);
        assert_eq!(Knob::Delay.parse("none").unwrap(), 0.0);
        assert_eq!(Knob::Delay.parse("1s").unwrap(), 1000.0);
        assert!(Knob::Loss.parse("150%").unwrap_err().contains("Loss"));
    }
}

//! The shaping a user asks for, per direction, and how it is summarised and compared.
//!
//! This module owns the profile types (`Direction`, `DirectionProfile`, `ShapingProfile`),
//! their one-line summaries for tables, and the tolerant comparison of a read-back profile
//! with the wanted one. It must not know tc's syntax (see `plan` and `readback`) nor decide
//! what is valid (see `validate`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::shaping::units::{format_decimal, format_rate_human};

/// A direction named from the container's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Direction {
    /// Into the container: egress of the host-side veth, shaped at the veth's root.
    Download,
    /// Out of the container: ingress of the host-side veth, redirected to an IFB and shaped at
    /// the IFB's root.
    Upload,
}

impl Direction {
    /// The lower-case word used in messages ("download", "upload").
    pub(crate) fn label(self) -> &'static str {
        match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        }
    }

    /// The word with its article, for sentences ("a download", "an upload").
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            Direction::Download => "a download",
            Direction::Upload => "an upload",
        }
    }

    /// The arrow used in compact summaries.
    pub(crate) fn arrow(self) -> &'static str {
        match self {
            Direction::Download => "↓",
            Direction::Upload => "↑",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The shaping of one direction. All zero means "leave this direction alone".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DirectionProfile {
    /// Rate limit in kbit/s (1 kbit = 1000 bit); 0 means unlimited.
    pub(crate) rate_kbit: u64,
    /// Added one-way delay in milliseconds.
    pub(crate) delay_ms: f64,
    /// Random variation of the delay in milliseconds (needs a delay).
    pub(crate) jitter_ms: f64,
    /// Correlation of successive delays in percent; only meaningful with jitter.
    pub(crate) correlation_pct: f64,
    /// Share of packets dropped, in percent.
    pub(crate) loss_pct: f64,
    /// Share of packets sent twice, in percent.
    pub(crate) duplicate_pct: f64,
    /// Share of packets with a flipped bit, in percent.
    pub(crate) corrupt_pct: f64,
    /// Share of packets sent ahead of the delayed ones, in percent (needs a delay).
    pub(crate) reorder_pct: f64,
}

/// How far a read-back profile may differ from the wanted one and still be "the same".
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Tolerance {
    /// Relative rate difference allowed (0.01 = 1 %).
    pub(crate) rate_rel: f64,
    /// Absolute time difference allowed, in milliseconds.
    pub(crate) time_abs_ms: f64,
    /// Relative time difference allowed on top of `time_abs_ms`.
    pub(crate) time_rel: f64,
    /// Absolute difference allowed on percentages, in percentage points.
    pub(crate) percent_abs: f64,
}

impl Tolerance {
    #[cfg(test)]
    /// Exact equality (still treating correlation without jitter as absent).
    pub(crate) const EXACT: Tolerance = Tolerance {
        rate_rel: 0.0,
        time_abs_ms: 0.0,
        time_rel: 0.0,
        percent_abs: 0.0,
    };

    /// What survives a trip through tc and the kernel: rates are printed with at most four
    /// significant digits, times are kept in 64 ns ticks and printed by `tc -j` with six
    /// significant digits (`%g`), percentages are kept as fractions of 2^32 and printed with
    /// six significant digits.
    pub(crate) const TC_READBACK: Tolerance = Tolerance {
        rate_rel: 0.01,
        time_abs_ms: 0.002,
        time_rel: 1e-5,
        percent_abs: 1e-4,
    };
}

impl DirectionProfile {
    /// True when this direction asks for nothing at all (no tree is needed).
    pub(crate) fn is_unshaped(&self) -> bool {
        self.rate_kbit == 0 && !self.has_impairment()
    }

    /// True when this direction needs netem (anything besides a rate).
    ///
    /// Correlation alone is not an impairment: it only shapes the jitter.
    pub(crate) fn has_impairment(&self) -> bool {
        [
            self.delay_ms,
            self.jitter_ms,
            self.loss_pct,
            self.duplicate_pct,
            self.corrupt_pct,
            self.reorder_pct,
        ]
        .iter()
        .any(|value| *value != 0.0)
    }

    /// Short text such as `2 Mbit/s 100±10 ms 1% loss`; empty when unshaped.
    pub(crate) fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.rate_kbit > 0 {
            parts.push(format_rate_human(self.rate_kbit));
        }
        if self.delay_ms > 0.0 || self.jitter_ms > 0.0 {
            let delay = format_decimal(self.delay_ms, 3);
            if self.jitter_ms > 0.0 {
                parts.push(format!("{delay}±{} ms", format_decimal(self.jitter_ms, 3)));
            } else {
                parts.push(format!("{delay} ms"));
            }
        }
        for (value, word) in [
            (self.loss_pct, "loss"),
            (self.duplicate_pct, "duplicate"),
            (self.corrupt_pct, "corrupt"),
            (self.reorder_pct, "reorder"),
        ] {
            if value > 0.0 {
                parts.push(format!("{}% {word}", format_decimal(value, 4)));
            }
        }
        parts.join(" ")
    }

    /// True when `other` matches `self` within `tolerance`.
    ///
    /// Correlation is compared only when either side has jitter, since tc does not apply (or
    /// print) a delay correlation without jitter.
    pub(crate) fn approx_eq(&self, other: &DirectionProfile, tolerance: &Tolerance) -> bool {
        let rate_ok = {
            let (a, b) = (self.rate_kbit as f64, other.rate_kbit as f64);
            (a - b).abs() <= tolerance.rate_rel * a.max(b)
        };
        let time_ok = |a: f64, b: f64| {
            (a - b).abs() <= tolerance.time_abs_ms + tolerance.time_rel * a.abs().max(b.abs())
        };
        let pct_ok = |a: f64, b: f64| (a - b).abs() <= tolerance.percent_abs;
        let has_jitter = self.jitter_ms > 0.0 || other.jitter_ms > 0.0;

        rate_ok
            && time_ok(self.delay_ms, other.delay_ms)
            && time_ok(self.jitter_ms, other.jitter_ms)
            && (!has_jitter || pct_ok(self.correlation_pct, other.correlation_pct))
            && pct_ok(self.loss_pct, other.loss_pct)
            && pct_ok(self.duplicate_pct, other.duplicate_pct)
            && pct_ok(self.corrupt_pct, other.corrupt_pct)
            && pct_ok(self.reorder_pct, other.reorder_pct)
    }
}

/// The shaping of one container: one profile per direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ShapingProfile {
    /// Into the container.
    pub(crate) download: DirectionProfile,
    /// Out of the container.
    pub(crate) upload: DirectionProfile,
}

impl ShapingProfile {
    /// The profile of one direction.
    pub(crate) fn direction(&self, direction: Direction) -> &DirectionProfile {
        match direction {
            Direction::Download => &self.download,
            Direction::Upload => &self.upload,
        }
    }

    /// True when neither direction asks for anything.
    pub(crate) fn is_unshaped(&self) -> bool {
        self.download.is_unshaped() && self.upload.is_unshaped()
    }

    /// Text such as `↓2 Mbit/s 100±10 ms ↑512 kbit/s`, or `no shaping`.
    pub(crate) fn summary(&self) -> String {
        let parts: Vec<String> = [Direction::Download, Direction::Upload]
            .into_iter()
            .filter(|d| !self.direction(*d).is_unshaped())
            .map(|d| format!("{}{}", d.arrow(), self.direction(d).summary()))
            .collect();
        if parts.is_empty() {
            "no shaping".to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// True when both directions match within `tolerance`.
    pub(crate) fn approx_eq(&self, other: &ShapingProfile, tolerance: &Tolerance) -> bool {
        self.download.approx_eq(&other.download, tolerance)
            && self.upload.approx_eq(&other.upload, tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(rate_kbit: u64, delay_ms: f64, jitter_ms: f64, loss_pct: f64) -> DirectionProfile {
        DirectionProfile {
            rate_kbit,
            delay_ms,
            jitter_ms,
            loss_pct,
            ..Default::default()
        }
    }

    #[test]
    fn default_direction_is_unshaped_and_has_no_impairment() {
        let p = DirectionProfile::default();
        assert!(p.is_unshaped());
        assert!(!p.has_impairment());
        assert_eq!(p.summary(), "");
    }

    #[test]
    fn rate_alone_is_shaped_without_impairment() {
        let p = profile(512, 0.0, 0.0, 0.0);
        assert!(!p.is_unshaped());
        assert!(!p.has_impairment());
    }

    #[test]
    fn each_netem_field_counts_as_impairment() {
        let set: [fn(&mut DirectionProfile); 6] = [
            |p| p.delay_ms = 1.0,
            |p| p.jitter_ms = 1.0,
            |p| p.loss_pct = 1.0,
            |p| p.duplicate_pct = 1.0,
            |p| p.corrupt_pct = 1.0,
            |p| p.reorder_pct = 1.0,
        ];
        for f in set {
            let mut p = DirectionProfile::default();
            f(&mut p);
            assert!(p.has_impairment(), "{p:?}");
        }
    }

    #[test]
    fn correlation_alone_is_not_an_impairment() {
        let p = DirectionProfile {
            correlation_pct: 25.0,
            ..Default::default()
        };
        assert!(p.is_unshaped());
    }

    #[test]
    fn direction_summary_shows_rate_delay_jitter_and_loss_with_units() {
        assert_eq!(
            profile(2000, 100.0, 10.0, 1.0).summary(),
            "2 Mbit/s 100±10 ms 1% loss"
        );
        assert_eq!(profile(0, 0.5, 0.0, 0.0).summary(), "0.5 ms");
        let all = DirectionProfile {
            duplicate_pct: 2.0,
            corrupt_pct: 0.5,
            reorder_pct: 25.0,
            ..profile(512, 10.0, 0.0, 0.0)
        };
        assert_eq!(
            all.summary(),
            "512 kbit/s 10 ms 2% duplicate 0.5% corrupt 25% reorder"
        );
    }

    #[test]
    fn shaping_summary_names_each_shaped_direction_and_omits_empty_ones() {
        let mut p = ShapingProfile::default();
        assert_eq!(p.summary(), "no shaping");
        p.download = profile(2000, 100.0, 10.0, 0.0);
        p.upload = profile(512, 0.0, 0.0, 0.0);
        assert_eq!(p.summary(), "↓2 Mbit/s 100±10 ms ↑512 kbit/s");
        p.download = DirectionProfile::default();
        assert_eq!(p.summary(), "↑512 kbit/s");
    }

    #[test]
    fn approx_eq_accepts_tc_rounding_and_rejects_real_differences() {
        let wanted = profile(1_234_567, 100.0, 10.0, 1.0);
        let rounded = profile(1_234_000, 100.0005, 9.9999, 1.00001);
        assert!(wanted.approx_eq(&rounded, &Tolerance::TC_READBACK));
        assert!(!wanted.approx_eq(&rounded, &Tolerance::EXACT));
        assert!(!wanted.approx_eq(
            &profile(1_100_000, 100.0, 10.0, 1.0),
            &Tolerance::TC_READBACK
        ));
        assert!(!wanted.approx_eq(
            &profile(1_234_567, 101.0, 10.0, 1.0),
            &Tolerance::TC_READBACK
        ));
        assert!(!wanted.approx_eq(
            &profile(1_234_567, 100.0, 10.0, 1.1),
            &Tolerance::TC_READBACK
        ));
        assert!(!wanted.approx_eq(&profile(0, 100.0, 10.0, 1.0), &Tolerance::TC_READBACK));
    }

    #[test]
    fn approx_eq_ignores_correlation_only_when_there_is_no_jitter() {
        let a = DirectionProfile {
            correlation_pct: 25.0,
            ..profile(0, 10.0, 0.0, 0.0)
        };
        let b = profile(0, 10.0, 0.0, 0.0);
        assert!(a.approx_eq(&b, &Tolerance::EXACT));
        let a_jitter = DirectionProfile {
            jitter_ms: 1.0,
            ..a
        };
        let b_jitter = DirectionProfile {
            jitter_ms: 1.0,
            ..b
        };
        assert!(!a_jitter.approx_eq(&b_jitter, &Tolerance::TC_READBACK));
    }

    #[test]
    fn shaping_profile_round_trips_through_json() {
        let p = ShapingProfile {
            download: profile(2000, 100.0, 10.0, 1.0),
            ..Default::default()
        };
        let text = serde_json::to_string(&p).unwrap();
        let back: ShapingProfile = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}

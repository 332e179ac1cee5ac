//! Checks a wanted profile before anything touches a host.
//!
//! This module owns the rules of what tc and the kernel can do (percentages 0 to 100, a rate
//! floor and ceiling, reorder and jitter need a delay, times tc can hold) and the words used
//! to explain a refusal. It must not change a profile nor know how the tree is built.

use std::fmt;

use thiserror::Error;

use crate::shaping::profile::{Direction, DirectionProfile, ShapingProfile};
use crate::shaping::units::{format_decimal, format_rate_human};

/// The smallest rate accepted, in kbit/s (HTB below this is not meaningful).
pub(crate) const MIN_RATE_KBIT: u64 = 8;

/// The largest rate accepted, in kbit/s (100 Gbit/s).
pub(crate) const MAX_RATE_KBIT: u64 = 100_000_000;

/// The longest delay or jitter accepted, in milliseconds.
///
/// tc 6.1 hands netem delays to the kernel as 32-bit counts of 64 ns ticks, so anything above
/// about 274.9 s is refused by tc itself ("Illegal ... time (too large)"); refusing it here
/// keeps that failure off the host.
pub(crate) const MAX_TIME_MS: f64 = 274_000.0;

/// The smallest non-zero delay or jitter tc can express, in milliseconds (1 µs).
pub(crate) const MIN_TIME_MS: f64 = 0.001;

/// A field of a direction profile, named as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Rate,
    Delay,
    Jitter,
    Correlation,
    Loss,
    Duplicate,
    Corrupt,
    Reorder,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Rate => "rate",
            Field::Delay => "delay",
            Field::Jitter => "jitter",
            Field::Correlation => "correlation",
            Field::Loss => "loss",
            Field::Duplicate => "duplicate",
            Field::Corrupt => "corrupt",
            Field::Reorder => "reorder",
        })
    }
}

/// Why a profile cannot be applied; each message names the direction, the field and the fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub(crate) enum ValidationError {
    #[error("{direction} {field} is not a number: enter a finite value")]
    NotFinite { direction: Direction, field: Field },
    #[error("{direction} {field} {value}% is outside 0–100%: enter a percentage from 0 to 100")]
    PercentOutOfRange { direction: Direction, field: Field, value: String },
    #[error("{direction} {field} {value} ms is negative: enter 0 ms or more")]
    NegativeTime { direction: Direction, field: Field, value: String },
    #[error("{direction} {field} {value} ms is longer than tc allows: enter at most 274000 ms")]
    TimeTooLong { direction: Direction, field: Field, value: String },
    #[error(
        "{direction} {field} {value} ms is below tc's resolution: enter 0 ms or at least 0.001 ms"
    )]
    TimeTooShort { direction: Direction, field: Field, value: String },
    #[error("{direction} rate {rate_kbit} kbit/s is too low: set at least 8 kbit/s, or 0 for no limit")]
    RateTooLow { direction: Direction, rate_kbit: u64 },
    #[error("{direction} rate {shown} is too high: set at most 100 Gbit/s, or 0 for no limit")]
    RateTooHigh { direction: Direction, shown: String },
    #[error(
        "{direction} reorder {value}% needs a delay: set {} delay above 0 ms",
        .direction.with_article()
    )]
    ReorderNeedsDelay { direction: Direction, value: String },
    #[error(
        "{direction} jitter {value} ms needs a delay: set {} delay above 0 ms",
        .direction.with_article()
    )]
    JitterNeedsDelay { direction: Direction, value: String },
}

/// Something allowed but probably not meant; shown to the user next to the result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Warning {
    /// Jitter larger than the delay: part of the packets get no delay at all.
    JitterAboveDelay { direction: Direction, jitter_ms: f64, delay_ms: f64 },
    /// A correlation without jitter has no effect and is not sent to tc.
    CorrelationWithoutJitter { direction: Direction, correlation_pct: f64 },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::JitterAboveDelay { direction, jitter_ms, delay_ms } => write!(
                f,
                "{direction} jitter {} ms is larger than the delay {} ms: delays below 0 are \
                 cut to 0, so the spread is uneven",
                format_decimal(*jitter_ms, 3),
                format_decimal(*delay_ms, 3)
            ),
            Warning::CorrelationWithoutJitter { direction, correlation_pct } => write!(
                f,
                "{direction} correlation {}% has no effect without jitter and is ignored",
                format_decimal(*correlation_pct, 4)
            ),
        }
    }
}

impl ShapingProfile {
    /// Checks both directions; returns the warnings when the profile can be applied.
    pub(crate) fn validate(&self) -> Result<Vec<Warning>, ValidationError> {
        let mut warnings = validate_direction(Direction::Download, &self.download)?;
        warnings.extend(validate_direction(Direction::Upload, &self.upload)?);
        Ok(warnings)
    }
}

/// Checks one direction's profile.
pub(crate) fn validate_direction(
    direction: Direction,
    p: &DirectionProfile,
) -> Result<Vec<Warning>, ValidationError> {
    // Percentages first, then times, then the rate, then combinations.
    for (field, value) in [
        (Field::Correlation, p.correlation_pct),
        (Field::Loss, p.loss_pct),
        (Field::Duplicate, p.duplicate_pct),
        (Field::Corrupt, p.corrupt_pct),
        (Field::Reorder, p.reorder_pct),
    ] {
        if !value.is_finite() {
            return Err(ValidationError::NotFinite { direction, field });
        }
        if !(0.0..=100.0).contains(&value) {
            let value = format_decimal(value, 4);
            return Err(ValidationError::PercentOutOfRange { direction, field, value });
        }
    }
    for (field, value) in [(Field::Delay, p.delay_ms), (Field::Jitter, p.jitter_ms)] {
        if !value.is_finite() {
            return Err(ValidationError::NotFinite { direction, field });
        }
        let shown = format_decimal(value, 3);
        if value < 0.0 {
            return Err(ValidationError::NegativeTime { direction, field, value: shown });
        }
        if value > MAX_TIME_MS {
            return Err(ValidationError::TimeTooLong { direction, field, value: shown });
        }
        if value > 0.0 && value < MIN_TIME_MS {
            let value = format!("{value}");
            return Err(ValidationError::TimeTooShort { direction, field, value });
        }
    }
    if p.rate_kbit > 0 && p.rate_kbit < MIN_RATE_KBIT {
        return Err(ValidationError::RateTooLow { direction, rate_kbit: p.rate_kbit });
    }
    if p.rate_kbit > MAX_RATE_KBIT {
        let shown = format_rate_human(p.rate_kbit);
        return Err(ValidationError::RateTooHigh { direction, shown });
    }
    if p.reorder_pct > 0.0 && p.delay_ms == 0.0 {
        let value = format_decimal(p.reorder_pct, 4);
        return Err(ValidationError::ReorderNeedsDelay { direction, value });
    }
    // tc prints no jitter when there is no delay, so it could never be read back.
    if p.jitter_ms > 0.0 && p.delay_ms == 0.0 {
        let value = format_decimal(p.jitter_ms, 3);
        return Err(ValidationError::JitterNeedsDelay { direction, value });
    }

    let mut warnings = Vec::new();
    if p.jitter_ms > p.delay_ms {
        warnings.push(Warning::JitterAboveDelay {
            direction,
            jitter_ms: p.jitter_ms,
            delay_ms: p.delay_ms,
        });
    }
    if p.correlation_pct > 0.0 && p.jitter_ms == 0.0 {
        warnings.push(Warning::CorrelationWithoutJitter {
            direction,
            correlation_pct: p.correlation_pct,
        });
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(p: DirectionProfile) -> ShapingProfile {
        ShapingProfile { download: p, ..Default::default() }
    }

    fn up(p: DirectionProfile) -> ShapingProfile {
        ShapingProfile { upload: p, ..Default::default() }
    }

    #[test]
    fn an_empty_profile_is_valid_without_warnings() {
        assert_eq!(ShapingProfile::default().validate(), Ok(vec![]));
    }

    #[test]
    fn a_full_profile_within_limits_is_valid() {
        let p = DirectionProfile {
            rate_kbit: 2000,
            delay_ms: 100.0,
            jitter_ms: 10.0,
            correlation_pct: 25.0,
            loss_pct: 1.0,
            duplicate_pct: 1.0,
            corrupt_pct: 1.0,
            reorder_pct: 25.0,
        };
        assert_eq!(ShapingProfile { download: p.clone(), upload: p }.validate(), Ok(vec![]));
    }

    /// K9: reorder 25 % with delay 0 is refused, naming the direction and the fix.
    #[test]
    fn k9_reorder_without_delay_is_an_error_that_says_to_set_a_delay() {
        let err = down(DirectionProfile { reorder_pct: 25.0, ..Default::default() })
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "download reorder 25% needs a delay: set a download delay above 0 ms"
        );
    }

    /// K9: jitter 50 ms with delay 10 ms is allowed, with a warning.
    #[test]
    fn k9_jitter_above_delay_is_a_warning_not_an_error() {
        let warnings = up(DirectionProfile { delay_ms: 10.0, jitter_ms: 50.0, ..Default::default() })
            .validate()
            .unwrap();
        assert_eq!(
            warnings,
            vec![Warning::JitterAboveDelay {
                direction: Direction::Upload,
                jitter_ms: 50.0,
                delay_ms: 10.0
            }]
        );
        assert!(warnings[0].to_string().starts_with("upload jitter 50 ms is larger"));
    }

    /// K9: loss 150 % is refused.
    #[test]
    fn k9_percentages_above_100_are_errors_naming_the_field() {
        let err = down(DirectionProfile { loss_pct: 150.0, ..Default::default() })
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            ValidationError::PercentOutOfRange { direction: Direction::Download, field: Field::Loss, .. }
        ));
        assert!(err.to_string().starts_with("download loss 150% is outside"), "{err}");
    }

    /// K9: rate 1 (kbit/s here; 1 bit/s is refused by the parser) is below the floor.
    #[test]
    fn k9_rates_below_the_floor_are_errors() {
        let err = up(DirectionProfile { rate_kbit: 1, ..Default::default() }).validate();
        assert_eq!(
            err,
            Err(ValidationError::RateTooLow { direction: Direction::Upload, rate_kbit: 1 })
        );
        let ok = up(DirectionProfile { rate_kbit: MIN_RATE_KBIT, ..Default::default() });
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn rates_above_100_gbit_are_errors() {
        let p = down(DirectionProfile { rate_kbit: MAX_RATE_KBIT + 1, ..Default::default() });
        assert!(matches!(p.validate(), Err(ValidationError::RateTooHigh { .. })));
        let p = down(DirectionProfile { rate_kbit: MAX_RATE_KBIT, ..Default::default() });
        assert!(p.validate().is_ok());
    }

    #[test]
    fn each_percentage_field_is_range_checked() {
        let fields: [(Field, fn(&mut DirectionProfile, f64)); 5] = [
            (Field::Correlation, |p, v| p.correlation_pct = v),
            (Field::Loss, |p, v| p.loss_pct = v),
            (Field::Duplicate, |p, v| p.duplicate_pct = v),
            (Field::Corrupt, |p, v| p.corrupt_pct = v),
            (Field::Reorder, |p, v| p.reorder_pct = v),
        ];
        for (field, set) in fields {
            for bad in [-0.5, 100.5] {
                let mut p = DirectionProfile { delay_ms: 10.0, ..Default::default() };
                set(&mut p, bad);
                assert!(
                    matches!(down(p).validate(), Err(ValidationError::PercentOutOfRange { field: f, .. }) if f == field),
                    "{field} {bad}"
                );
            }
            let mut p = DirectionProfile { delay_ms: 10.0, ..Default::default() };
            set(&mut p, f64::NAN);
            assert_eq!(
                down(p).validate(),
                Err(ValidationError::NotFinite { direction: Direction::Download, field })
            );
        }
    }

    #[test]
    fn times_must_be_finite_not_negative_and_within_tc_limits() {
        let bad = |delay_ms: f64| down(DirectionProfile { delay_ms, ..Default::default() }).validate();
        assert!(matches!(bad(f64::INFINITY), Err(ValidationError::NotFinite { field: Field::Delay, .. })));
        assert!(matches!(bad(-1.0), Err(ValidationError::NegativeTime { .. })));
        assert!(matches!(bad(MAX_TIME_MS + 1.0), Err(ValidationError::TimeTooLong { .. })));
        assert!(matches!(bad(0.0001), Err(ValidationError::TimeTooShort { .. })));
        assert!(bad(MAX_TIME_MS).is_ok());
        assert!(bad(MIN_TIME_MS).is_ok());
        let jitter = down(DirectionProfile { delay_ms: 1.0, jitter_ms: -1.0, ..Default::default() });
        assert!(matches!(jitter.validate(), Err(ValidationError::NegativeTime { field: Field::Jitter, .. })));
    }

    #[test]
    fn jitter_without_delay_is_an_error_that_says_to_set_a_delay() {
        let err = up(DirectionProfile { jitter_ms: 10.0, ..Default::default() })
            .validate()
            .unwrap_err();
        assert_eq!(err.to_string(), "upload jitter 10 ms needs a delay: set an upload delay above 0 ms");
    }

    #[test]
    fn correlation_without_jitter_is_a_warning() {
        let w = down(DirectionProfile { delay_ms: 10.0, correlation_pct: 25.0, ..Default::default() })
            .validate()
            .unwrap();
        assert!(matches!(w.as_slice(), [Warning::CorrelationWithoutJitter { .. }]));
        assert!(w[0].to_string().contains("no effect"));
    }

    #[test]
    fn upload_is_checked_as_well_as_download() {
        let p = ShapingProfile {
            download: DirectionProfile { rate_kbit: 1000, ..Default::default() },
            upload: DirectionProfile { corrupt_pct: 101.0, ..Default::default() },
        };
        assert!(matches!(
            p.validate(),
            Err(ValidationError::PercentOutOfRange { direction: Direction::Upload, .. })
        ));
    }
}

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
    PercentOutOfRange {
        direction: Direction,
        field: Field,
        value: String,
    },
    #[error("{direction} {field} {value} ms is negative: enter 0 ms or more")]
    NegativeTime {
        direction: Direction,
        field: Field,
        value: String,
    },
    #[error("{direction} {field} {value} ms is longer than tc allows: enter at most 274000 ms")]
    TimeTooLong {
        direction: Direction,
        field: Field,
        value: String,
    },
    #[error(
        "{direction} {field} {value} ms is below tc's resolution: enter 0 ms or at least 0.001 ms"
    )]
    TimeTooShort {
        direction: Direction,
        field: Field,
        value: String,
    },
    #[error(
        "{direction} rate {rate_kbit} kbit/s is too low: set at least 8 kbit/s, or 0 for no limit"
    )]
    RateTooLow {
        direction: Direction,
        rate_kbit: u64,
    },
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
    JitterAboveDelay {
        direction: Direction,
        jitter_ms: f64,
        delay_ms: f64,
    },
    /// A correlation without jitter has no effect and is not sent to tc.
    CorrelationWithoutJitter {
        direction: Direction,
        correlation_pct: f64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::JitterAboveDelay {
                direction,
                jitter_ms,
                delay_ms,
            } => write!(
                f,
                "{direction} jitter {} ms is larger than the delay {} ms: delays below 0 are \
                 cut to 0, so the spread is uneven",
                format_decimal(*jitter_ms, 3),
                format_decimal(*delay_ms, 3)
            ),
            Warning::CorrelationWithoutJitter {
                direction,
                correlation_pct,
            } => write!(
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
            return Err(ValidationError::PercentOutOfRange {
                direction,
                field,
                value,
            });
        }
    }
    for (field, value) in [(Field::Delay, p.delay_ms), (Field::Jitter, p.jitter_ms)] {
        if !value.is_finite() {
            return Err(ValidationError::NotFinite { direction, field });
        }
        let shown = format_decimal(value, 3);
        if value < 0.0 {
            return Err(ValidationError::NegativeTime {
                direction,
                field,
                value: shown,
            });
        }
        if value > MAX_TIME_MS {
            return Err(ValidationError::TimeTooLong {
                direction,
                field,
                value: shown,
            });
        }
        if value > 0.0 && value < MIN_TIME_MS {
            let value = format!("{value}");
            return Err(ValidationError::TimeTooShort {
                direction,
                field,
                value,
            });
        }
    }
    if p.rate_kbit > 0 && p.rate_kbit < MIN_RATE_KBIT {
        return Err(ValidationError::RateTooLow {
            direction,
            rate_kbit: p.rate_kbit,
        });
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
mod tests;

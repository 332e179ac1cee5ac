//! Parsing and printing of rates, times and percentages, for people and for tc.
//!
//! This module owns every unit conversion of the shaping code, so that bits and bytes are
//! converted once, here. tc reads `kbps`/`mbps` as BYTES per second, so nothing here ever
//! emits them. Parsers return `UnitError` and must never panic on any input.

use thiserror::Error;

/// The largest rate accepted anywhere, in bit/s (1 Tbit/s), so that arithmetic stays exact.
const MAX_PARSED_BITS: f64 = 1e12;

/// The largest time accepted by the parser, in milliseconds (one day).
const MAX_PARSED_MS: f64 = 86_400_000.0;

/// Why a value typed by a user (or printed by tc) could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
pub(crate) enum UnitError {
    /// Nothing was given.
    #[error("no value given: enter a number with a unit, such as {example}")]
    Empty { example: &'static str },
    /// The text does not start with a number.
    #[error("\"{input}\" is not a number: enter a number with a unit, such as {example}")]
    NotANumber {
        input: String,
        example: &'static str,
    },
    /// A negative number.
    #[error("\"{input}\" is negative: enter 0 or more")]
    Negative { input: String },
    /// A unit that is not known (or not allowed here).
    #[error("\"{input}\" has an unknown unit \"{unit}\": use one of {allowed}")]
    UnknownUnit {
        input: String,
        unit: String,
        allowed: &'static str,
    },
    /// A number outside what the field accepts.
    #[error("\"{input}\" is out of range: enter a value from {min} to {max}")]
    OutOfRange {
        input: String,
        min: &'static str,
        max: &'static str,
    },
    /// A positive rate below 1 kbit/s, which would otherwise round to "unlimited".
    #[error("\"{input}\" is below 1 kbit/s: the smallest rate is 8 kbit/s")]
    RateBelowOneKbit { input: String },
    /// A seed policy name that is not known.
    #[error(
        "unknown policy \"{policy}\": use clear, loss, delay, duplicate, corrupt, reorder or rate"
    )]
    UnknownPolicy { policy: String },
    /// A seed policy that needs a value got none.
    #[error("{policy} needs a value, such as {example}")]
    MissingValue {
        policy: &'static str,
        example: &'static str,
    },
    /// A seed policy that takes no value got one.
    #[error("{policy} takes no value, but \"{value}\" was given")]
    UnexpectedValue { policy: &'static str, value: String },
    /// `Mbps`, `kbps`: tc reads them as bytes per second, most people as bits.
    #[error(
        "\"{input}\" is ambiguous: tc reads `bps` as bytes per second, 8 times more than bits; \
         write {number}mbit or {number} Mbit/s for megabits, {number}MB/s for megabytes \
         (likewise kbit and kB/s)"
    )]
    AmbiguousBps { input: String, number: String },
    /// A seed policy got more values than it takes.
    #[error("{policy} takes at most {max} values, but \"{value}\" was given")]
    TooManyValues {
        policy: &'static str,
        max: usize,
        value: String,
    },
}

/// Reads a rate typed by a user into kbit/s (1 kbit = 1000 bit).
///
/// Accepts `2mbit`, `2 Mbit/s`, `500kbit`, `500` (bare number = kbit/s), `1gbit`, `8000bit`,
/// tc's own `600Kbit`, and byte rates `1MB/s`, `125 kB/s` (1 MB/s = 8000 kbit/s). In `/s` forms
/// a capital `B` means bytes and a small `b` bits (`1Mb/s` = 1000 kbit/s). `Mbps`, `kbps` and
/// the like are refused: tc reads them as bytes, most people as bits, and guessing either way
/// is off by eight. Values that are not a whole number of kbit/s are rounded.
pub(crate) fn parse_rate_kbit(text: &str) -> Result<u64, UnitError> {
    const EXAMPLE: &str = "2 Mbit/s or 500 kbit/s";
    const ALLOWED: &str = "kbit, mbit, gbit, bit, kbit/s, Mbit/s, kB/s, MB/s";
    let (number, unit) = split_number(text, EXAMPLE)?;
    if unit.to_ascii_lowercase().ends_with("bps") {
        return Err(UnitError::AmbiguousBps {
            input: text.trim().to_owned(),
            number: format_decimal(number, 3),
        });
    }

    let bits_per_unit = rate_unit_scale(unit).ok_or_else(|| UnitError::UnknownUnit {
        input: text.trim().to_owned(),
        unit: unit.to_owned(),
        allowed: ALLOWED,
    })?;
    let bits = number * bits_per_unit;
    if !bits.is_finite() || bits > MAX_PARSED_BITS {
        return Err(UnitError::OutOfRange {
            input: text.trim().to_owned(),
            min: "0 kbit/s",
            max: "1 Tbit/s",
        });
    }
    if bits > 0.0 && bits < 1000.0 {
        return Err(UnitError::RateBelowOneKbit {
            input: text.trim().to_owned(),
        });
    }
    Ok((bits / 1000.0).round() as u64)
}

/// Bits per second for one unit of `unit`, or `None` when the unit is unknown.
fn rate_unit_scale(unit: &str) -> Option<f64> {
    if unit.is_empty() {
        return Some(1000.0);
    }
    // "/s" forms: the case of the final b/B decides between bits and bytes.
    if let Some(stem) = unit.strip_suffix("/s").or_else(|| unit.strip_suffix("/S")) {
        let stem = stem.trim_end();
        let lower = stem.to_ascii_lowercase();
        if let Some(prefix) = lower.strip_suffix("bit") {
            return prefix_scale(prefix);
        }
        if let Some(prefix) = stem.strip_suffix('B') {
            return prefix_scale(&prefix.to_ascii_lowercase()).map(|s| s * 8.0);
        }
        if let Some(prefix) = stem.strip_suffix('b') {
            return prefix_scale(&prefix.to_ascii_lowercase());
        }
        return None;
    }
    let lower = unit.to_ascii_lowercase();
    if let Some(prefix) = lower.strip_suffix("bit") {
        return prefix_scale(prefix);
    }
    None
}

/// The SI multiplier of a lower-case prefix (k = 1000).
fn prefix_scale(prefix: &str) -> Option<f64> {
    match prefix {
        "" => Some(1.0),
        "k" => Some(1e3),
        "m" => Some(1e6),
        "g" => Some(1e9),
        "t" => Some(1e12),
        _ => None,
    }
}

/// Writes a rate for tc using bit units only: `Nmbit` when a whole number of Mbit/s, else
/// `Nkbit`.
pub(crate) fn format_tc_rate(rate_kbit: u64) -> String {
    if rate_kbit > 0 && rate_kbit.is_multiple_of(1000) {
        format!("{}mbit", rate_kbit / 1000)
    } else {
        format!("{rate_kbit}kbit")
    }
}

/// Reads a rate as tc prints it (`500bit`, `600Kbit`, `2Mbit`, `1Gbit`, `1Tbit`, also the
/// `-iec` forms such as `1Kibit`) into kbit/s. A positive rate below 1 kbit/s reads as 1.
pub(crate) fn parse_tc_printed_rate_kbit(text: &str) -> Option<u64> {
    let (digits, unit) = text
        .trim()
        .split_at(text.trim().find(|c: char| !c.is_ascii_digit())?);
    let value: f64 = digits.parse().ok()?;
    let scale = match unit {
        "bit" => 1.0,
        "Kbit" => 1e3,
        "Mbit" => 1e6,
        "Gbit" => 1e9,
        "Tbit" => 1e12,
        "Kibit" => 1024.0,
        "Mibit" => 1024.0 * 1024.0,
        "Gibit" => 1024.0 * 1024.0 * 1024.0,
        "Tibit" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let kbit = (value * scale / 1000.0).round() as u64;
    Some(if kbit == 0 && value > 0.0 { 1 } else { kbit })
}

/// Reads a time into milliseconds: `100ms`, `100 ms`, `1s`, `1.5s`, `500us`, `100` (bare
/// number = ms).
pub(crate) fn parse_time_ms(text: &str) -> Result<f64, UnitError> {
    const EXAMPLE: &str = "100ms or 1.5s";
    let (number, unit) = split_number(text, EXAMPLE)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" | "msec" | "msecs" => 1.0,
        "s" | "sec" | "secs" => 1000.0,
        "us" | "usec" | "usecs" | "µs" => 0.001,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: text.trim().to_owned(),
                unit: unit.to_owned(),
                allowed: "ms, s, us",
            });
        }
    };
    let ms = number * scale;
    if !ms.is_finite() || ms > MAX_PARSED_MS {
        return Err(UnitError::OutOfRange {
            input: text.trim().to_owned(),
            min: "0 ms",
            max: "1 day",
        });
    }
    Ok(ms)
}

/// Writes a time for tc: `100ms` for whole milliseconds, else whole microseconds (`250us`).
pub(crate) fn format_tc_time(ms: f64) -> String {
    let us = (ms * 1000.0).round();
    if us % 1000.0 == 0.0 {
        format!("{}ms", format_decimal(us / 1000.0, 0))
    } else {
        format!("{}us", format_decimal(us, 0))
    }
}

/// Reads a percentage: `20%`, `20`, `0.5%`, `0.5 %`; 0 to 100.
pub(crate) fn parse_percent(text: &str) -> Result<f64, UnitError> {
    const EXAMPLE: &str = "20%";
    let (number, unit) = split_number(text, EXAMPLE)?;
    if !unit.is_empty() && unit != "%" {
        return Err(UnitError::UnknownUnit {
            input: text.trim().to_owned(),
            unit: unit.to_owned(),
            allowed: "%",
        });
    }
    if !(0.0..=100.0).contains(&number) {
        return Err(UnitError::OutOfRange {
            input: text.trim().to_owned(),
            min: "0%",
            max: "100%",
        });
    }
    Ok(number)
}

/// Writes a percentage for tc (`25%`, `0.5%`), rounded to tc's resolution (about 2e-8 %).
pub(crate) fn format_tc_percent(pct: f64) -> String {
    format!("{}%", format_decimal(pct, 7))
}

/// A rate for people: `512 kbit/s` below 1000 kbit/s, else Mbit/s with up to three
/// significant digits and no trailing zeros (`1.5 Mbit/s`, `12.3 Mbit/s`, `1230 Mbit/s`).
pub(crate) fn format_rate_human(rate_kbit: u64) -> String {
    if rate_kbit < 1000 {
        return format!("{rate_kbit} kbit/s");
    }
    let mbit = rate_kbit as f64 / 1000.0;
    // Digits before the decimal point (1000 kbit/s and up gives at least 1).
    let int_digits = mbit.log10().floor() as i32 + 1;
    if int_digits >= 3 {
        let step = 10f64.powi(int_digits - 3);
        format!("{} Mbit/s", format_decimal((mbit / step).round() * step, 0))
    } else {
        let decimals = (3 - int_digits) as usize;
        format!("{} Mbit/s", format_decimal(mbit, decimals))
    }
}

/// Writes `value` with at most `max_decimals` decimals and no trailing zeros (`1.5`, `100`).
pub(crate) fn format_decimal(value: f64, max_decimals: usize) -> String {
    let text = format!("{value:.max_decimals$}");
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text.as_str()
    };
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Splits `" 1.5 Mbit/s "` into `(1.5, "Mbit/s")`; the number must be plain decimal and not
/// negative.
fn split_number<'a>(text: &'a str, example: &'static str) -> Result<(f64, &'a str), UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::Empty { example });
    }
    if text.starts_with('-') {
        return Err(UnitError::Negative {
            input: text.to_owned(),
        });
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(end);
    if !digits.chars().any(|c| c.is_ascii_digit()) {
        return Err(UnitError::NotANumber {
            input: text.to_owned(),
            example,
        });
    }
    let number: f64 = digits.parse().map_err(|_| UnitError::NotANumber {
        input: text.to_owned(),
        example,
    })?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests;

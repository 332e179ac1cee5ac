//! Small text forms shared by the window's panels: times and rates as a user reads them.

/// A Unix time as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn utc_minutes(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// An engine timestamp (`2026-12-04T16:44:03.5445Z`) as `2026-12-04 16:44:03 UTC`; any other
/// text as it is.
pub(crate) fn engine_time(text: &str) -> String {
    match (text.get(..19), text.ends_with('Z')) {
        (Some(seconds), true) if text.get(10..11) == Some("T") => {
            format!("{} UTC", seconds.replacen('T', " ", 1))
        }
        _ => text.to_owned(),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A rate in kbit/s as `unlimited`, `512 kbit/s` or `2.5 Mbit/s`.
pub(crate) fn rate(rate_kbit: f64) -> String {
    if rate_kbit <= 0.0 {
        "unlimited".to_owned()
    } else if rate_kbit < 1000.0 {
        format!("{} kbit/s", trim_number(rate_kbit))
    } else if rate_kbit < 1_000_000.0 {
        format!("{} Mbit/s", trim_number(rate_kbit / 1000.0))
    } else {
        format!("{} Gbit/s", trim_number(rate_kbit / 1_000_000.0))
    }
}

/// A measured throughput in kbit/s: like [`rate`], but 0 is `0 kbit/s`, not "unlimited".
pub(crate) fn throughput(kbit_per_s: f64) -> String {
    if kbit_per_s <= 0.0 {
        "0 kbit/s".to_owned()
    } else if kbit_per_s < 10.0 {
        format!("{kbit_per_s:.1} kbit/s")
    } else {
        rate(kbit_per_s.round())
    }
}

/// A delay in ms as `none` or `100 ms`.
pub(crate) fn delay(delay_ms: f64) -> String {
    if delay_ms <= 0.0 {
        "none".to_owned()
    } else {
        format!("{} ms", trim_number(delay_ms))
    }
}

/// A number with at most three decimals and no trailing zeros.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(utc_minutes(0), "1970-01-01 00:00");
        assert_eq!(utc_minutes(1_796_400_000), "2026-12-04 16:00");
        assert_eq!(utc_minutes(951_782_400), "2000-02-29 00:00");
    }

    #[test]
    fn engine_times_read_as_utc_seconds() {
        assert_eq!(
            engine_time("2026-12-04T16:44:03.544557596Z"),
            "2026-12-04 16:44:03 UTC"
        );
        assert_eq!(
            engine_time("2026-12-04T16:44:03+01:00"),
            "2026-12-04T16:44:03+01:00"
        );
        assert_eq!(engine_time(""), "");
    }

    #[test]
    fn rates_carry_their_units() {
        assert_eq!(rate(0.0), "unlimited");
        assert_eq!(rate(512.0), "512 kbit/s");
        assert_eq!(rate(2500.0), "2.5 Mbit/s");
        assert_eq!(rate(1_000_000.0), "1 Gbit/s");
        assert_eq!(delay(0.0), "none");
        assert_eq!(delay(100.0), "100 ms");
    }
}

//! Parsers and printers of rates, times and percentages, with K8 and K9 regressions.

use proptest::prelude::*;

use super::*;

#[test]
fn bit_rates_are_read_in_every_spelling_users_type() {
    for (text, kbit) in [
        ("2mbit", 2000),
        ("2 Mbit/s", 2000),
        ("2Mbit", 2000),
        ("500kbit", 500),
        ("500 kbit/s", 500),
        ("500", 500),
        ("1gbit", 1_000_000),
        ("8000bit", 8),
        ("1.5mbit", 1500),
        ("1Mb/s", 1000),
        ("+64kbit", 64),
        ("0", 0),
    ] {
        assert_eq!(parse_rate_kbit(text), Ok(kbit), "{text}");
    }
}

/// K8: tc prints `rate 600Kbit`; read as a user value that is 600 kbit/s, not 600 KB/s.
#[test]
fn k8_tc_printed_kbit_reads_as_kilobits() {
    assert_eq!(parse_rate_kbit("600Kbit"), Ok(600));
    assert_eq!(parse_tc_printed_rate_kbit("600Kbit"), Some(600));
}

/// K8: `1 MB/s` is bytes per second: 8000 kbit/s.
#[test]
fn k8_byte_rates_are_multiplied_by_eight() {
    for text in ["1MB/s", "1 MB/s"] {
        assert_eq!(parse_rate_kbit(text), Ok(8000), "{text}");
    }
    assert_eq!(parse_rate_kbit("125 kB/s"), Ok(1000));
}

/// K8: `2Mbps` means megabits to most people and megabytes to tc: Quayside guesses neither and
/// says which forms are meant for which.
#[test]
fn k8_bps_forms_are_refused_as_ambiguous() {
    for text in ["2Mbps", "2mbps", "2 MBps", "500kbps", "500Kbps"] {
        let err = parse_rate_kbit(text).unwrap_err().to_string();
        assert!(
            err.contains("ambiguous") && err.contains("MB/s"),
            "{text}: {err}"
        );
    }
    assert!(
        parse_rate_kbit("2Mbps")
            .unwrap_err()
            .to_string()
            .contains("2mbit")
    );
}

/// K8: 1 Mbit/s goes to tc as `1mbit`; 600 kbit/s as `600kbit`; never kbps/mbps.
#[test]
fn k8_tc_rates_use_bit_units_only() {
    assert_eq!(format_tc_rate(1000), "1mbit");
    assert_eq!(format_tc_rate(5000), "5mbit");
    assert_eq!(format_tc_rate(600), "600kbit");
    assert_eq!(format_tc_rate(1500), "1500kbit");
    assert_eq!(format_tc_rate(0), "0kbit");
    assert_eq!(format_tc_rate(parse_rate_kbit("1MB/s").unwrap()), "8mbit");
}

#[test]
fn bad_rates_are_rejected_with_a_reason() {
    assert!(matches!(parse_rate_kbit(""), Err(UnitError::Empty { .. })));
    assert!(matches!(
        parse_rate_kbit("   "),
        Err(UnitError::Empty { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("-5kbit"),
        Err(UnitError::Negative { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("NaN"),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("inf"),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("fast"),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("."),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("1.2.3kbit"),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("5 furlongs"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("5xbit"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("5 /s"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("5 kibit"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("2tbit"),
        Err(UnitError::OutOfRange { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("1e3kbit"),
        Err(UnitError::UnknownUnit { .. })
    ));
}

/// K9: `rate 1 bit/s` must not round to 0 (= unlimited).
#[test]
fn k9_a_rate_below_one_kbit_is_an_error_not_unlimited() {
    assert!(matches!(
        parse_rate_kbit("1bit"),
        Err(UnitError::RateBelowOneKbit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("1 bit/s"),
        Err(UnitError::RateBelowOneKbit { .. })
    ));
    assert!(matches!(
        parse_rate_kbit("0.5"),
        Err(UnitError::RateBelowOneKbit { .. })
    ));
}

#[test]
fn tc_printed_rates_are_read_into_kbit() {
    for (text, kbit) in [
        ("2Mbit", Some(2000)),
        ("600Kbit", Some(600)),
        ("1Gbit", Some(1_000_000)),
        ("1500Kbit", Some(1500)),
        ("1Tbit", Some(1_000_000_000)),
        ("500bit", Some(1)),
        ("1Kibit", Some(1)),
        ("0bit", Some(0)),
        ("2mbit", None),
        ("Mbit", None),
        ("2", None),
        ("", None),
    ] {
        assert_eq!(parse_tc_printed_rate_kbit(text), kbit, "{text}");
    }
}

#[test]
fn times_are_read_into_milliseconds() {
    for (text, ms) in [
        ("100ms", 100.0),
        ("100 ms", 100.0),
        ("1s", 1000.0),
        ("1.5s", 1500.0),
        ("500us", 0.5),
        ("100", 100.0),
        ("2 SEC", 2000.0),
        ("0", 0.0),
    ] {
        assert_eq!(parse_time_ms(text), Ok(ms), "{text}");
    }
}

#[test]
fn bad_times_are_rejected_with_a_reason() {
    assert!(matches!(parse_time_ms(""), Err(UnitError::Empty { .. })));
    assert!(matches!(
        parse_time_ms("-1ms"),
        Err(UnitError::Negative { .. })
    ));
    assert!(matches!(
        parse_time_ms("soon"),
        Err(UnitError::NotANumber { .. })
    ));
    assert!(matches!(
        parse_time_ms("5 minutes"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_time_ms("100000s"),
        Err(UnitError::OutOfRange { .. })
    ));
}

#[test]
fn tc_times_are_whole_milliseconds_or_microseconds() {
    assert_eq!(format_tc_time(100.0), "100ms");
    assert_eq!(format_tc_time(0.25), "250us");
    assert_eq!(format_tc_time(1.5), "1500us");
    assert_eq!(format_tc_time(0.0), "0ms");
    assert_eq!(format_tc_time(274_000.0), "274000ms");
}

#[test]
fn percentages_are_read_with_or_without_the_sign() {
    assert_eq!(parse_percent("20%"), Ok(20.0));
    assert_eq!(parse_percent("20"), Ok(20.0));
    assert_eq!(parse_percent("0.5%"), Ok(0.5));
    assert_eq!(parse_percent("0.5 %"), Ok(0.5));
    assert_eq!(parse_percent("100%"), Ok(100.0));
}

/// K9: `loss 150%` is refused before anything reaches tc.
#[test]
fn k9_percentages_outside_0_to_100_are_rejected() {
    assert!(matches!(
        parse_percent("150%"),
        Err(UnitError::OutOfRange { .. })
    ));
    assert!(matches!(
        parse_percent("-1%"),
        Err(UnitError::Negative { .. })
    ));
    assert!(matches!(
        parse_percent("20 percent"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_percent("%"),
        Err(UnitError::NotANumber { .. })
    ));
}

#[test]
fn tc_percentages_keep_small_values_and_drop_trailing_zeros() {
    assert_eq!(format_tc_percent(25.0), "25%");
    assert_eq!(format_tc_percent(0.5), "0.5%");
    assert_eq!(format_tc_percent(0.0000001), "0.0000001%");
    assert_eq!(format_tc_percent(33.333333333), "33.3333333%");
}

#[test]
fn decimals_are_trimmed_and_negative_zero_is_zero() {
    assert_eq!(format_decimal(1.50, 3), "1.5");
    assert_eq!(format_decimal(100.0, 3), "100");
    assert_eq!(format_decimal(-0.0001, 2), "0");
    assert_eq!(format_decimal(1230.0, 0), "1230");
}

#[test]
fn errors_say_what_to_enter() {
    let text = parse_rate_kbit("fast").unwrap_err().to_string();
    assert!(text.contains("2 Mbit/s"), "{text}");
    let text = parse_percent("150").unwrap_err().to_string();
    assert!(text.contains("from 0% to 100%"), "{text}");
}

#[test]
fn rates_are_kbit_below_1000_and_mbit_with_three_significant_digits_above() {
    assert_eq!(format_rate_human(8), "8 kbit/s");
    assert_eq!(format_rate_human(999), "999 kbit/s");
    assert_eq!(format_rate_human(1000), "1 Mbit/s");
    assert_eq!(format_rate_human(1500), "1.5 Mbit/s");
    assert_eq!(format_rate_human(1234), "1.23 Mbit/s");
    assert_eq!(format_rate_human(12_345), "12.3 Mbit/s");
    assert_eq!(format_rate_human(100_000), "100 Mbit/s");
    assert_eq!(format_rate_human(1_234_567), "1230 Mbit/s");
    assert_eq!(format_rate_human(9_999), "10 Mbit/s");
}

proptest! {
    #[test]
    fn no_string_makes_a_parser_panic(text in "\\PC{0,24}") {
        let _ = parse_rate_kbit(&text);
        let _ = parse_time_ms(&text);
        let _ = parse_percent(&text);
        let _ = parse_tc_printed_rate_kbit(&text);
    }

    #[test]
    fn unit_like_strings_never_make_a_parser_panic(
        text in "[-+ ]?[0-9.]{0,8} ?(k|K|m|M|g|G|t|µ|/|s|b|B|i|t|%|p|u){0,6}"
    ) {
        let _ = parse_rate_kbit(&text);
        let _ = parse_time_ms(&text);
        let _ = parse_percent(&text);
        let _ = parse_tc_printed_rate_kbit(&text);
    }

    #[test]
    fn a_formatted_tc_rate_reads_back_to_the_same_kbit(rate_kbit in 1u64..=100_000_000) {
        prop_assert_eq!(parse_rate_kbit(&format_tc_rate(rate_kbit)), Ok(rate_kbit));
    }

    #[test]
    fn a_formatted_tc_time_reads_back_within_half_a_microsecond(ms in 0.0f64..300_000.0) {
        let back = parse_time_ms(&format_tc_time(ms)).unwrap();
        prop_assert!((back - ms).abs() <= 0.0005 + 1e-9, "{} -> {}", ms, back);
    }
}

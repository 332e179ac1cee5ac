//! Validation rules and their messages, with K9 regressions.

#![expect(clippy::type_complexity, reason = "tables of cases read best inline")]

use super::*;

fn down(p: DirectionProfile) -> ShapingProfile {
    ShapingProfile {
        download: p,
        ..Default::default()
    }
}

fn up(p: DirectionProfile) -> ShapingProfile {
    ShapingProfile {
        upload: p,
        ..Default::default()
    }
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
    assert_eq!(
        ShapingProfile {
            download: p.clone(),
            upload: p
        }
        .validate(),
        Ok(vec![])
    );
}

/// K9: reorder 25 % with delay 0 is refused, naming the direction and the fix.
#[test]
fn k9_reorder_without_delay_is_an_error_that_says_to_set_a_delay() {
    let err = down(DirectionProfile {
        reorder_pct: 25.0,
        ..Default::default()
    })
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
    let warnings = up(DirectionProfile {
        delay_ms: 10.0,
        jitter_ms: 50.0,
        ..Default::default()
    })
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
    assert!(
        warnings[0]
            .to_string()
            .starts_with("upload jitter 50 ms is larger")
    );
}

/// K9: loss 150 % is refused.
#[test]
fn k9_percentages_above_100_are_errors_naming_the_field() {
    let err = down(DirectionProfile {
        loss_pct: 150.0,
        ..Default::default()
    })
    .validate()
    .unwrap_err();
    assert!(matches!(
        err,
        ValidationError::PercentOutOfRange {
            direction: Direction::Download,
            field: Field::Loss,
            ..
        }
    ));
    assert!(
        err.to_string().starts_with("download loss 150% is outside"),
        "{err}"
    );
}

/// K9: rate 1 (kbit/s here; 1 bit/s is refused by the parser) is below the floor.
#[test]
fn k9_rates_below_the_floor_are_errors() {
    let err = up(DirectionProfile {
        rate_kbit: 1,
        ..Default::default()
    })
    .validate();
    assert_eq!(
        err,
        Err(ValidationError::RateTooLow {
            direction: Direction::Upload,
            rate_kbit: 1
        })
    );
    let ok = up(DirectionProfile {
        rate_kbit: MIN_RATE_KBIT,
        ..Default::default()
    });
    assert!(ok.validate().is_ok());
}

#[test]
fn rates_above_100_gbit_are_errors() {
    let p = down(DirectionProfile {
        rate_kbit: MAX_RATE_KBIT + 1,
        ..Default::default()
    });
    assert!(matches!(
        p.validate(),
        Err(ValidationError::RateTooHigh { .. })
    ));
    let p = down(DirectionProfile {
        rate_kbit: MAX_RATE_KBIT,
        ..Default::default()
    });
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
            let mut p = DirectionProfile {
                delay_ms: 10.0,
                ..Default::default()
            };
            set(&mut p, bad);
            assert!(
                matches!(down(p).validate(), Err(ValidationError::PercentOutOfRange { field: f, .. }) if f == field),
                "{field} {bad}"
            );
        }
        let mut p = DirectionProfile {
            delay_ms: 10.0,
            ..Default::default()
        };
        set(&mut p, f64::NAN);
        assert_eq!(
            down(p).validate(),
            Err(ValidationError::NotFinite {
                direction: Direction::Download,
                field
            })
        );
    }
}

#[test]
fn times_must_be_finite_not_negative_and_within_tc_limits() {
    let bad = |delay_ms: f64| {
        down(DirectionProfile {
            delay_ms,
            ..Default::default()
        })
        .validate()
    };
    assert!(matches!(
        bad(f64::INFINITY),
        Err(ValidationError::NotFinite {
            field: Field::Delay,
            ..
        })
    ));
    assert!(matches!(
        bad(-1.0),
        Err(ValidationError::NegativeTime { .. })
    ));
    assert!(matches!(
        bad(MAX_TIME_MS + 1.0),
        Err(ValidationError::TimeTooLong { .. })
    ));
    assert!(matches!(
        bad(0.0001),
        Err(ValidationError::TimeTooShort { .. })
    ));
    assert!(bad(MAX_TIME_MS).is_ok());
    assert!(bad(MIN_TIME_MS).is_ok());
    let jitter = down(DirectionProfile {
        delay_ms: 1.0,
        jitter_ms: -1.0,
        ..Default::default()
    });
    assert!(matches!(
        jitter.validate(),
        Err(ValidationError::NegativeTime {
            field: Field::Jitter,
            ..
        })
    ));
}

#[test]
fn jitter_without_delay_is_an_error_that_says_to_set_a_delay() {
    let err = up(DirectionProfile {
        jitter_ms: 10.0,
        ..Default::default()
    })
    .validate()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "upload jitter 10 ms needs a delay: set an upload delay above 0 ms"
    );
}

#[test]
fn correlation_without_jitter_is_a_warning() {
    let w = down(DirectionProfile {
        delay_ms: 10.0,
        correlation_pct: 25.0,
        ..Default::default()
    })
    .validate()
    .unwrap();
    assert!(matches!(
        w.as_slice(),
        [Warning::CorrelationWithoutJitter { .. }]
    ));
    assert!(w[0].to_string().contains("no effect"));
}

#[test]
fn upload_is_checked_as_well_as_download() {
    let p = ShapingProfile {
        download: DirectionProfile {
            rate_kbit: 1000,
            ..Default::default()
        },
        upload: DirectionProfile {
            corrupt_pct: 101.0,
            ..Default::default()
        },
    };
    assert!(matches!(
        p.validate(),
        Err(ValidationError::PercentOutOfRange {
            direction: Direction::Upload,
            ..
        })
    ));
}

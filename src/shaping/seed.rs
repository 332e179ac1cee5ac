//! The original tool's command-line values (`rate "500 300"`, `delay "100ms 10ms"`, ...) as
//! edits of a profile.
//!
//! This module owns reading a policy name and its value text into a `ProfileEdit`, and
//! applying that edit so that the rest of the profile is kept (an edit of the loss keeps the
//! delay). It must not validate the resulting profile (see `validate`) nor build tc commands.

use crate::shaping::profile::ShapingProfile;
use crate::shaping::units::{UnitError, parse_percent, parse_rate_kbit, parse_time_ms};

/// Which percentage a percentage edit changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PercentField {
    Loss,
    Duplicate,
    Corrupt,
    Reorder,
}

/// One change to a container's shaping, as the seed command line expresses it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ProfileEdit {
    /// Remove all shaping of the container, both directions.
    Clear,
    /// Set the download rate and, when given, the upload rate (kbit/s, 0 = unlimited).
    Rate {
        download_kbit: u64,
        upload_kbit: Option<u64>,
    },
    /// Set the download delay, with its jitter and correlation (absent ones become 0).
    Delay {
        delay_ms: f64,
        jitter_ms: f64,
        correlation_pct: f64,
    },
    /// Set one download percentage.
    Percent { field: PercentField, pct: f64 },
}

impl ProfileEdit {
    /// Applies this edit to `profile`, keeping every field the edit does not name.
    pub(crate) fn apply(&self, profile: &mut ShapingProfile) {
        match self {
            ProfileEdit::Clear => *profile = ShapingProfile::default(),
            ProfileEdit::Rate {
                download_kbit,
                upload_kbit,
            } => {
                profile.download.rate_kbit = *download_kbit;
                if let Some(upload_kbit) = upload_kbit {
                    profile.upload.rate_kbit = *upload_kbit;
                }
            }
            ProfileEdit::Delay {
                delay_ms,
                jitter_ms,
                correlation_pct,
            } => {
                profile.download.delay_ms = *delay_ms;
                profile.download.jitter_ms = *jitter_ms;
                profile.download.correlation_pct = *correlation_pct;
            }
            ProfileEdit::Percent { field, pct } => {
                let d = &mut profile.download;
                let slot = match field {
                    PercentField::Loss => &mut d.loss_pct,
                    PercentField::Duplicate => &mut d.duplicate_pct,
                    PercentField::Corrupt => &mut d.corrupt_pct,
                    PercentField::Reorder => &mut d.reorder_pct,
                };
                *slot = *pct;
            }
        }
    }
}

/// Reads a seed policy (`clear`, `loss`, `delay`, `duplicate`, `corrupt`, `reorder` or its
/// synonym `retrans`, `rate`) and its value into an edit. A blank value counts as none.
pub(crate) fn parse_seed_value(
    policy: &str,
    value: Option<&str>,
) -> Result<ProfileEdit, UnitError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    let percent = |field, name| -> Result<ProfileEdit, UnitError> {
        let tokens = tokens(value, name, "20%")?;
        match tokens.as_slice() {
            [one] => Ok(ProfileEdit::Percent {
                field,
                pct: parse_percent(one)?,
            }),
            _ => Err(too_many(name, 1, value)),
        }
    };

    match policy.trim().to_ascii_lowercase().as_str() {
        "clear" => match value {
            None => Ok(ProfileEdit::Clear),
            Some(v) => Err(UnitError::UnexpectedValue {
                policy: "clear",
                value: v.to_owned(),
            }),
        },
        "loss" => percent(PercentField::Loss, "loss"),
        "duplicate" => percent(PercentField::Duplicate, "duplicate"),
        "corrupt" => percent(PercentField::Corrupt, "corrupt"),
        "reorder" | "retrans" => percent(PercentField::Reorder, "reorder"),
        "rate" => {
            let tokens = tokens(value, "rate", "\"500 300\" (kbit/s down, up)")?;
            match tokens.as_slice() {
                [down] => Ok(ProfileEdit::Rate {
                    download_kbit: parse_rate_kbit(down)?,
                    upload_kbit: None,
                }),
                [down, up] => Ok(ProfileEdit::Rate {
                    download_kbit: parse_rate_kbit(down)?,
                    upload_kbit: Some(parse_rate_kbit(up)?),
                }),
                _ => Err(too_many("rate", 2, value)),
            }
        }
        "delay" => {
            let tokens = tokens(value, "delay", "\"100ms 10ms\" (delay, jitter)")?;
            let (delay, jitter, correlation) = match tokens.as_slice() {
                [d] => (d.as_str(), None, None),
                [d, j] => (d.as_str(), Some(j.as_str()), None),
                [d, j, c] => (d.as_str(), Some(j.as_str()), Some(c.as_str())),
                _ => return Err(too_many("delay", 3, value)),
            };
            Ok(ProfileEdit::Delay {
                delay_ms: parse_time_ms(delay)?,
                jitter_ms: jitter.map(parse_time_ms).transpose()?.unwrap_or(0.0),
                correlation_pct: correlation.map(parse_percent).transpose()?.unwrap_or(0.0),
            })
        }
        other => Err(UnitError::UnknownPolicy {
            policy: other.to_owned(),
        }),
    }
}

/// Splits a value into numbers with their units, joining a unit written apart from its
/// number (`"100 ms 10 ms"` gives `["100ms", "10ms"]`).
fn tokens(
    value: Option<&str>,
    policy: &'static str,
    example: &'static str,
) -> Result<Vec<String>, UnitError> {
    let value = value.ok_or(UnitError::MissingValue { policy, example })?;
    let mut out: Vec<String> = Vec::new();
    for word in value.split_whitespace() {
        let starts_numeric = word.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
        match out.last_mut() {
            Some(last) if !starts_numeric => last.push_str(word),
            _ => out.push(word.to_owned()),
        }
    }
    Ok(out)
}

fn too_many(policy: &'static str, max: usize, value: Option<&str>) -> UnitError {
    UnitError::TooManyValues {
        policy,
        max,
        value: value.unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::shaping::profile::DirectionProfile;

    fn edit(policy: &str, value: &str) -> ProfileEdit {
        parse_seed_value(policy, Some(value)).unwrap()
    }

    #[test]
    fn rate_with_two_numbers_sets_download_and_upload_kbit() {
        assert_eq!(
            edit("rate", "500 300"),
            ProfileEdit::Rate {
                download_kbit: 500,
                upload_kbit: Some(300)
            }
        );
        assert_eq!(
            edit("rate", "2 Mbit/s 512 kbit/s"),
            ProfileEdit::Rate {
                download_kbit: 2000,
                upload_kbit: Some(512)
            }
        );
    }

    #[test]
    fn rate_with_one_number_sets_download_only_and_keeps_upload() {
        let mut p = ShapingProfile::default();
        p.upload.rate_kbit = 64;
        edit("rate", "500").apply(&mut p);
        assert_eq!((p.download.rate_kbit, p.upload.rate_kbit), (500, 64));
    }

    #[test]
    fn delay_reads_delay_jitter_and_an_optional_correlation() {
        assert_eq!(
            edit("delay", "100ms"),
            ProfileEdit::Delay {
                delay_ms: 100.0,
                jitter_ms: 0.0,
                correlation_pct: 0.0
            }
        );
        assert_eq!(
            edit("delay", "100ms 10ms"),
            ProfileEdit::Delay {
                delay_ms: 100.0,
                jitter_ms: 10.0,
                correlation_pct: 0.0
            }
        );
        assert_eq!(
            edit("delay", "100 ms 10 ms 25%"),
            ProfileEdit::Delay {
                delay_ms: 100.0,
                jitter_ms: 10.0,
                correlation_pct: 25.0
            }
        );
    }

    #[test]
    fn percentage_policies_set_the_download_percentage() {
        for (policy, pick) in [
            (
                "loss",
                (|d: &DirectionProfile| d.loss_pct) as fn(&DirectionProfile) -> f64,
            ),
            ("duplicate", |d| d.duplicate_pct),
            ("corrupt", |d| d.corrupt_pct),
            ("reorder", |d| d.reorder_pct),
            ("retrans", |d| d.reorder_pct),
            ("LOSS", |d| d.loss_pct),
        ] {
            let mut p = ShapingProfile::default();
            edit(policy, "20%").apply(&mut p);
            assert_eq!(pick(&p.download), 20.0, "{policy}");
            assert!(p.upload.is_unshaped(), "{policy}");
        }
    }

    /// K2: delay 100 ms, then loss 30 %: the second edit keeps the delay.
    #[test]
    fn k2_a_second_edit_keeps_the_first() {
        let mut p = ShapingProfile::default();
        edit("delay", "100ms").apply(&mut p);
        edit("loss", "30%").apply(&mut p);
        assert_eq!(p.download.delay_ms, 100.0);
        assert_eq!(p.download.loss_pct, 30.0);
    }

    #[test]
    fn clear_takes_no_value_and_empties_both_directions() {
        let mut p = ShapingProfile::default();
        edit("rate", "500 300").apply(&mut p);
        parse_seed_value("clear", None).unwrap().apply(&mut p);
        assert!(p.is_unshaped());
        assert_eq!(
            parse_seed_value("clear", Some("  ")),
            Ok(ProfileEdit::Clear)
        );
        assert!(matches!(
            parse_seed_value("clear", Some("now")),
            Err(UnitError::UnexpectedValue {
                policy: "clear",
                ..
            })
        ));
    }

    #[test]
    fn bad_policies_and_values_are_typed_errors() {
        assert!(matches!(
            parse_seed_value("jam", Some("1")),
            Err(UnitError::UnknownPolicy { .. })
        ));
        assert!(matches!(
            parse_seed_value("loss", None),
            Err(UnitError::MissingValue { .. })
        ));
        assert!(matches!(
            parse_seed_value("rate", Some(" ")),
            Err(UnitError::MissingValue { .. })
        ));
        assert!(matches!(
            parse_seed_value("loss", Some("1% 2%")),
            Err(UnitError::TooManyValues { max: 1, .. })
        ));
        assert!(matches!(
            parse_seed_value("rate", Some("1 2 3")),
            Err(UnitError::TooManyValues { max: 2, .. })
        ));
        assert!(matches!(
            parse_seed_value("delay", Some("1ms 2ms 3% 4")),
            Err(UnitError::TooManyValues { max: 3, .. })
        ));
        assert!(matches!(
            parse_seed_value("loss", Some("150%")),
            Err(UnitError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_seed_value("delay", Some("-5ms")),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            parse_seed_value("rate", Some("ms 5")),
            Err(UnitError::NotANumber { .. })
        ));
    }

    proptest! {
        #[test]
        fn no_policy_and_value_make_the_seed_parser_panic(
            policy in "(clear|loss|delay|duplicate|corrupt|reorder|retrans|rate|\\PC{0,6})",
            value in proptest::option::of("\\PC{0,30}"),
        ) {
            let _ = parse_seed_value(&policy, value.as_deref());
        }
    }
}

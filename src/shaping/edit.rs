//! Field-by-field edits of a container's shaping: "set the download rate to 2 Mbit/s and the
//! upload delay to 50 ms, keep everything else".
//!
//! This module owns what an edit names (any field of either direction), applying it so that
//! the fields it does not name are kept, and the checks that can be made on an edit alone,
//! before the current shaping is known. It must not read text (the command line parses the
//! values) nor touch a host.

use crate::shaping::profile::{Direction, DirectionProfile, ShapingProfile};
use crate::shaping::validate::{ValidationError, validate_direction};

/// The fields of one direction that an edit sets; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DirectionEdit {
    /// Rate in kbit/s; 0 removes the limit.
    pub(crate) rate_kbit: Option<u64>,
    pub(crate) delay_ms: Option<f64>,
    pub(crate) jitter_ms: Option<f64>,
    pub(crate) correlation_pct: Option<f64>,
    pub(crate) loss_pct: Option<f64>,
    pub(crate) duplicate_pct: Option<f64>,
    pub(crate) corrupt_pct: Option<f64>,
    pub(crate) reorder_pct: Option<f64>,
}

impl DirectionEdit {
    /// True when the edit sets no field.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sets the named fields of `profile`, keeping the others.
    pub(crate) fn apply(&self, profile: &mut DirectionProfile) {
        if let Some(rate_kbit) = self.rate_kbit {
            profile.rate_kbit = rate_kbit;
        }
        let floats = [
            (self.delay_ms, &mut profile.delay_ms),
            (self.jitter_ms, &mut profile.jitter_ms),
            (self.correlation_pct, &mut profile.correlation_pct),
            (self.loss_pct, &mut profile.loss_pct),
            (self.duplicate_pct, &mut profile.duplicate_pct),
            (self.corrupt_pct, &mut profile.corrupt_pct),
            (self.reorder_pct, &mut profile.reorder_pct),
        ];
        for (value, slot) in floats {
            if let Some(value) = value {
                *slot = value;
            }
        }
    }
}

/// An edit of both directions.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ShapingEdit {
    /// Into the container.
    pub(crate) download: DirectionEdit,
    /// Out of the container.
    pub(crate) upload: DirectionEdit,
}

impl ShapingEdit {
    /// True when the edit sets no field of either direction.
    pub(crate) fn is_empty(&self) -> bool {
        self.download.is_empty() && self.upload.is_empty()
    }

    /// Sets the named fields of `profile`, keeping the others.
    pub(crate) fn apply(&self, profile: &mut ShapingProfile) {
        self.download.apply(&mut profile.download);
        self.upload.apply(&mut profile.upload);
    }

    /// Checks what can be checked without the current shaping: each value's own range and
    /// floor, and the combinations whose every field the edit names (reorder or jitter with a
    /// delay of 0 given in the same edit). A combination that depends on a kept field is left
    /// to the check of the whole profile, once the current one is read.
    pub(crate) fn check(&self) -> Result<(), ValidationError> {
        for (direction, edit) in [
            (Direction::Download, &self.download),
            (Direction::Upload, &self.upload),
        ] {
            let mut alone = DirectionProfile::default();
            edit.apply(&mut alone);
            match validate_direction(direction, &alone) {
                Ok(_) => {}
                Err(
                    ValidationError::ReorderNeedsDelay { .. }
                    | ValidationError::JitterNeedsDelay { .. },
                ) if edit.delay_ms.is_none() => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_keeps_every_field_it_does_not_name() {
        let mut profile = ShapingProfile::default();
        profile.download.delay_ms = 100.0;
        profile.download.loss_pct = 30.0;
        profile.upload.rate_kbit = 512;
        let edit = ShapingEdit {
            download: DirectionEdit {
                rate_kbit: Some(2000),
                loss_pct: Some(1.0),
                ..Default::default()
            },
            upload: DirectionEdit {
                delay_ms: Some(50.0),
                ..Default::default()
            },
        };
        edit.apply(&mut profile);
        assert_eq!(profile.download.rate_kbit, 2000);
        assert_eq!(profile.download.delay_ms, 100.0);
        assert_eq!(profile.download.loss_pct, 1.0);
        assert_eq!(profile.upload.rate_kbit, 512);
        assert_eq!(profile.upload.delay_ms, 50.0);
    }

    #[test]
    fn a_rate_of_zero_removes_the_limit() {
        let mut profile = ShapingProfile::default();
        profile.download.rate_kbit = 2000;
        let edit = ShapingEdit {
            download: DirectionEdit {
                rate_kbit: Some(0),
                ..Default::default()
            },
            ..Default::default()
        };
        edit.apply(&mut profile);
        assert!(profile.is_unshaped());
    }

    #[test]
    fn reorder_alone_is_left_to_the_whole_profile_check_but_with_delay_zero_is_refused() {
        // The container may hold a delay already: reorder alone cannot be judged yet.
        let reorder_only = ShapingEdit {
            upload: DirectionEdit {
                reorder_pct: Some(25.0),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(reorder_only.check(), Ok(()));

        // Reorder 25 % with a delay of 0 in the same edit can never be applied.
        let mut with_zero_delay = reorder_only.clone();
        with_zero_delay.upload.delay_ms = Some(0.0);
        assert!(matches!(
            with_zero_delay.check(),
            Err(ValidationError::ReorderNeedsDelay {
                direction: Direction::Upload,
                ..
            })
        ));
    }

    #[test]
    fn a_rate_below_the_floor_is_refused_before_the_host_is_asked() {
        let edit = ShapingEdit {
            download: DirectionEdit {
                rate_kbit: Some(2),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            edit.check(),
            Err(ValidationError::RateTooLow { rate_kbit: 2, .. })
        ));
    }

    #[test]
    fn an_empty_edit_is_empty() {
        assert!(ShapingEdit::default().is_empty());
        let edit = ShapingEdit {
            upload: DirectionEdit {
                corrupt_pct: Some(0.0),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!edit.is_empty());
    }
}

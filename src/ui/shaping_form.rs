//! What the window knows and edits of each container's shaping: the form being edited, the
//! last read-back, what is remembered (and when timed shaping ends), the preview of tc's
//! commands and the traffic history; also what each veth holds, for the table's column.
//!
//! Everything here changes through backend events or the user's edits; nothing is fetched.
//! Which container's traffic is sampled follows what the Network tab drew in the last frame:
//! the tab marks the container it shows, and `end_frame` turns a change into Watch/Unwatch
//! commands, so sampling stops as soon as the tab is hidden.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::knobs::KnobTexts;
use super::traffic_graph::TrafficHistory;
use crate::backend::Command;
use crate::model::{ContainerKey, HostId};
use crate::shaping::memory::Remembered;
use crate::shaping::ops::{Outcome, ShapingReport};
use crate::shaping::profile::{DirectionProfile, ShapingProfile};
use crate::shaping::traffic::TrafficSample;

/// The default length of timed shaping, as the field shows it.
const DEFAULT_DURATION: &str = "10 min";
/// The longest timed shaping: a day.
const MAX_DURATION_SECS: u64 = 24 * 3600;

/// The Network tab's form of one container (or of a multiple selection).
pub(crate) struct NetworkForm {
    /// The profile being edited; starts from the read-back.
    pub(crate) profile: ShapingProfile,
    pub(crate) down_texts: KnobTexts,
    pub(crate) up_texts: KnobTexts,
    /// Edits of one direction are copied to the other.
    pub(crate) same_both_ways: bool,
    /// Apply clears itself after the duration typed in `duration_text`.
    pub(crate) timed: bool,
    pub(crate) duration_text: String,
    /// The preset last chosen, by name.
    pub(crate) preset: Option<String>,
    /// A command is on its way; the buttons wait for its answer.
    pub(crate) pending: bool,
    /// The read-back has been asked for once.
    pub(crate) asked: bool,
    pub(crate) report: Option<ShapingReport>,
    pub(crate) error: Option<String>,
    /// The commands an Apply would run, or why it cannot be planned; `None`: not asked.
    pub(crate) preview: Option<Result<Vec<String>, String>>,
    pub(crate) remembered: Option<Remembered>,
    pub(crate) traffic: TrafficHistory,
}

impl Default for NetworkForm {
    fn default() -> Self {
        let mut form = Self {
            profile: ShapingProfile::default(),
            down_texts: KnobTexts::default(),
            up_texts: KnobTexts::default(),
            same_both_ways: false,
            timed: false,
            duration_text: DEFAULT_DURATION.to_owned(),
            preset: None,
            pending: false,
            asked: false,
            report: None,
            error: None,
            preview: None,
            remembered: None,
            traffic: TrafficHistory::default(),
        };
        form.sync_texts();
        form
    }
}

impl NetworkForm {
    /// Shows the profile's values in every typed field.
    pub(crate) fn sync_texts(&mut self) {
        self.down_texts.show(&self.profile.download);
        self.up_texts.show(&self.profile.upload);
    }

    /// Puts `profile` in the form (a preset, a read-back).
    pub(crate) fn load(&mut self, profile: ShapingProfile) {
        self.same_both_ways = profile.download == profile.upload && !profile.is_unshaped();
        self.profile = profile;
        self.preview = None;
        self.sync_texts();
    }

    /// After an edit of `changed`: with "same both ways", the other direction takes its values.
    pub(crate) fn mirror_from(&mut self, changed: crate::shaping::profile::Direction) {
        if !self.same_both_ways {
            return;
        }
        use crate::shaping::profile::Direction;
        match changed {
            Direction::Download => self.profile.upload = self.profile.download.clone(),
            Direction::Upload => self.profile.download = self.profile.upload.clone(),
        }
        self.sync_texts();
    }

    /// How long timed shaping still runs, when it does.
    pub(crate) fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.remembered.as_ref()?.remaining(now)
    }

    /// The seconds of "for …", when it is ticked; `Err` when the typed duration is not one.
    pub(crate) fn for_secs(&self) -> Result<Option<u64>, String> {
        if !self.timed {
            return Ok(None);
        }
        parse_duration_secs(&self.duration_text).map(Some)
    }
}

/// Reads a duration for timed shaping: `10 min`, `90 s`, `1.5h`, `30` (minutes).
pub(crate) fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("`{text}` is not a duration: write e.g. 10 min, 90 s or 1 h");
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "" | "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = (number * scale).round();
    if secs < 1.0 || secs > MAX_DURATION_SECS as f64 {
        return Err(format!("`{text}`: timed shaping lasts from 1 s to 24 h"));
    }
    Ok(secs as u64)
}

/// The profile without what needs netem: rates only.
pub(crate) fn rates_only(profile: &ShapingProfile) -> ShapingProfile {
    let keep = |d: &DirectionProfile| DirectionProfile {
        rate_kbit: d.rate_kbit,
        ..DirectionProfile::default()
    };
    ShapingProfile {
        download: keep(&profile.download),
        upload: keep(&profile.upload),
    }
}

/// Every container's form and what its veth holds.
#[derive(Default)]
pub(crate) struct NetworkForms {
    forms: HashMap<ContainerKey, NetworkForm>,
    /// What each container's veth holds, from the last report.
    held: HashMap<ContainerKey, ShapingProfile>,
    /// The form for a multiple selection.
    pub(crate) group: NetworkForm,
    /// The container whose traffic is being sampled.
    watching: Option<ContainerKey>,
    /// The container the Network tab showed in this frame.
    shown: Option<ContainerKey>,
    /// The name typed for a new preset.
    pub(crate) new_preset_name: String,
}

impl NetworkForms {
    pub(crate) fn form_mut(&mut self, key: &ContainerKey) -> &mut NetworkForm {
        self.forms.entry(key.clone()).or_default()
    }

    pub(crate) fn form(&self, key: &ContainerKey) -> Option<&NetworkForm> {
        self.forms.get(key)
    }

    /// What the container's veth holds, when a report said so.
    pub(crate) fn held(&self, key: &ContainerKey) -> Option<&ShapingProfile> {
        self.held.get(key)
    }

    /// What the container's veth holds, learnt without a report (a host-wide look).
    pub(crate) fn set_held(&mut self, key: &ContainerKey, profile: ShapingProfile) {
        self.held.insert(key.clone(), profile);
    }

    /// Takes a report: the form now starts from what the kernel holds.
    pub(crate) fn reported(&mut self, key: &ContainerKey, report: ShapingReport) {
        match report.profile() {
            Some(profile) => {
                self.held.insert(key.clone(), profile);
            }
            None => {
                self.held.remove(key);
            }
        }
        let form = self.form_mut(key);
        form.pending = false;
        form.error = None;
        form.preview = None;
        if matches!(report.outcome, Outcome::Cleared | Outcome::AlreadyClear) {
            form.remembered = None;
        }
        if let Some(profile) = report.profile() {
            let same = form.same_both_ways;
            form.load(profile);
            form.same_both_ways = same || form.same_both_ways;
        }
        form.report = Some(report);
    }

    pub(crate) fn failed(&mut self, key: &ContainerKey, error: String) {
        let form = self.form_mut(key);
        form.pending = false;
        form.error = Some(error);
    }

    pub(crate) fn remembered(&mut self, key: &ContainerKey, remembered: Option<Remembered>) {
        self.form_mut(key).remembered = remembered;
    }

    pub(crate) fn previewed(&mut self, key: &ContainerKey, outcome: Result<Vec<String>, String>) {
        self.form_mut(key).preview = Some(outcome);
    }

    pub(crate) fn sampled(&mut self, key: &ContainerKey, sample: TrafficSample) {
        if self.watching.as_ref() == Some(key) {
            self.form_mut(key).traffic.push(sample);
        }
    }

    pub(crate) fn traffic_failed(&mut self, key: &ContainerKey, error: String) {
        if self.watching.as_ref() == Some(key) {
            let history = &mut self.form_mut(key).traffic;
            history.error = Some(error);
            history.clear();
        }
    }

    /// The container stopped or went away: its veth, and so its shaping, is gone.
    pub(crate) fn container_down(&mut self, key: &ContainerKey) {
        self.held.remove(key);
        if let Some(form) = self.forms.get_mut(key) {
            form.asked = false;
            form.report = None;
            form.traffic.clear();
        }
    }

    /// Forgets what was known of a host's containers (it went offline or was reloaded).
    pub(crate) fn host_reset(&mut self, host: &HostId) {
        if self.watching.as_ref().is_some_and(|k| &k.host == host) {
            self.watching = None;
        }
    }

    /// The Network tab shows `key` in this frame.
    pub(crate) fn mark_shown(&mut self, key: &ContainerKey) {
        self.shown = Some(key.clone());
    }

    /// The commands that start or stop sampling after this frame's drawing.
    pub(crate) fn end_frame(&mut self) -> Vec<Command> {
        let shown = self.shown.take();
        if shown == self.watching {
            return Vec::new();
        }
        let mut commands = Vec::new();
        if let Some(old) = self.watching.take() {
            commands.push(Command::UnwatchTraffic { key: old });
        }
        if let Some(new) = shown {
            self.form_mut(&new).traffic.clear();
            commands.push(Command::WatchTraffic { key: new.clone() });
            self.watching = Some(new);
        }
        commands
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContainerId;

    fn key(id: &str) -> ContainerKey {
        ContainerKey {
            host: HostId("local".to_owned()),
            id: ContainerId(id.to_owned()),
        }
    }

    #[test]
    fn sampling_follows_the_tab_and_stops_when_it_is_hidden() {
        let mut forms = NetworkForms::default();
        forms.mark_shown(&key("a"));
        assert!(matches!(
            forms.end_frame().as_slice(),
            [Command::WatchTraffic { .. }]
        ));
        forms.mark_shown(&key("a"));
        assert!(
            forms.end_frame().is_empty(),
            "no command while it stays shown"
        );
        forms.mark_shown(&key("b"));
        assert!(matches!(
            forms.end_frame().as_slice(),
            [Command::UnwatchTraffic { .. }, Command::WatchTraffic { .. }]
        ));
        assert!(matches!(
            forms.end_frame().as_slice(),
            [Command::UnwatchTraffic { .. }]
        ));
        assert!(forms.end_frame().is_empty());
    }

    #[test]
    fn same_both_ways_copies_the_edited_direction() {
        let mut form = NetworkForm {
            same_both_ways: true,
            ..Default::default()
        };
        form.profile.upload.rate_kbit = 512;
        form.mirror_from(crate::shaping::profile::Direction::Upload);
        assert_eq!(form.profile.download.rate_kbit, 512);
    }

    #[test]
    fn durations_read_with_their_units_and_minutes_by_default() {
        assert_eq!(parse_duration_secs("10 min"), Ok(600));
        assert_eq!(parse_duration_secs("90s"), Ok(90));
        assert_eq!(parse_duration_secs("1.5 h"), Ok(5400));
        assert_eq!(parse_duration_secs("30"), Ok(1800));
        assert!(parse_duration_secs("0 s").is_err());
        assert!(parse_duration_secs("3 days").is_err());
        assert!(parse_duration_secs("").is_err());
        assert!(parse_duration_secs("25 h").is_err());
    }

    #[test]
    fn rates_only_keeps_the_rates_and_drops_the_impairments() {
        let mut p = ShapingProfile::default();
        p.download.rate_kbit = 1000;
        p.download.delay_ms = 100.0;
        p.upload.loss_pct = 5.0;
        let r = rates_only(&p);
        assert_eq!(r.download.rate_kbit, 1000);
        assert_eq!(r.download.delay_ms, 0.0);
        assert!(r.upload.is_unshaped());
    }
}

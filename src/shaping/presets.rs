//! Named shaping profiles: realistic built-in links (3G, LTE, DSL, satellite, …) and the user's
//! own, kept in the host profile file.
//!
//! The built-in values are one-way figures from the container's side, so a preset's round trip
//! is the sum of its two delays. This module only names profiles; it decides nothing about
//! whether a host can hold them (see `validate` and the host's preflight).

use serde::{Deserialize, Serialize};

use super::profile::{DirectionProfile, ShapingProfile};

/// A named shaping profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Preset {
    pub(crate) name: String,
    #[serde(flatten)]
    pub(crate) profile: ShapingProfile,
}

impl Preset {
    /// The preset's values in one line, e.g. `↓1.6 Mbit/s 100±20 ms …`.
    pub(crate) fn summary(&self) -> String {
        self.profile.summary()
    }
}

/// One direction of a built-in link.
const fn way(rate_kbit: u64, delay_ms: f64, jitter_ms: f64, loss_pct: f64) -> DirectionProfile {
    DirectionProfile {
        rate_kbit,
        delay_ms,
        jitter_ms,
        correlation_pct: 0.0,
        loss_pct,
        duplicate_pct: 0.0,
        corrupt_pct: 0.0,
        reorder_pct: 0.0,
    }
}

/// The built-in links, slowest first.
pub(crate) fn built_in() -> Vec<Preset> {
    let preset = |name: &str, download: DirectionProfile, upload: DirectionProfile| Preset {
        name: name.to_owned(),
        profile: ShapingProfile { download, upload },
    };
    let mut wifi_down = way(20_000, 10.0, 8.0, 5.0);
    wifi_down.correlation_pct = 25.0;
    let mut wifi_up = way(10_000, 10.0, 8.0, 5.0);
    wifi_up.correlation_pct = 25.0;
    vec![
        preset(
            "2G (EDGE)",
            way(240, 200.0, 50.0, 1.0),
            way(200, 200.0, 50.0, 1.0),
        ),
        preset(
            "3G (HSPA)",
            way(1_600, 100.0, 20.0, 0.5),
            way(768, 100.0, 20.0, 0.5),
        ),
        preset(
            "LTE",
            way(12_000, 35.0, 10.0, 0.1),
            way(5_000, 35.0, 10.0, 0.1),
        ),
        preset(
            "DSL",
            way(8_000, 15.0, 2.0, 0.05),
            way(1_000, 15.0, 2.0, 0.05),
        ),
        preset(
            "Cable",
            way(50_000, 10.0, 3.0, 0.0),
            way(10_000, 10.0, 3.0, 0.0),
        ),
        preset(
            "Satellite (GEO)",
            way(10_000, 300.0, 10.0, 0.5),
            way(2_000, 300.0, 10.0, 0.5),
        ),
        preset("Lossy Wi-Fi", wifi_down, wifi_up),
    ]
}

/// Finds a preset by name, ignoring case and the text in brackets: "3g" finds "3G (HSPA)".
pub(crate) fn find<'a>(presets: &'a [Preset], name: &str) -> Option<&'a Preset> {
    let wanted = simplify(name);
    presets
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
        .or_else(|| presets.iter().find(|p| simplify(&p.name) == wanted))
}

/// The part of a name before any bracket, lower case, without spaces or dashes.
fn simplify(name: &str) -> String {
    name.split('(')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_preset_is_valid_and_shapes_both_directions() {
        for preset in built_in() {
            assert!(
                preset.profile.validate().is_ok(),
                "{} does not validate",
                preset.name
            );
            assert!(preset.profile.download.rate_kbit > 0, "{}", preset.name);
            assert!(preset.profile.upload.rate_kbit > 0, "{}", preset.name);
        }
    }

    #[test]
    fn presets_are_found_by_short_names() {
        let presets = built_in();
        assert_eq!(find(&presets, "3g").unwrap().name, "3G (HSPA)");
        assert_eq!(find(&presets, "lossy-wifi").unwrap().name, "Lossy Wi-Fi");
        assert_eq!(
            find(&presets, "Satellite (GEO)").unwrap().name,
            "Satellite (GEO)"
        );
        assert!(find(&presets, "5g").is_none());
    }

    #[test]
    fn a_user_preset_reads_from_toml_with_only_the_values_it_sets() {
        #[derive(Deserialize)]
        struct File {
            preset: Vec<Preset>,
        }
        let file: File = toml::from_str(
            "[[preset]]\nname = \"slow office\"\n[preset.download]\nrate_kbit = 2000\n\
             delay_ms = 40\n[preset.upload]\nrate_kbit = 512\n",
        )
        .unwrap();
        let preset = &file.preset[0];
        assert_eq!(preset.name, "slow office");
        assert_eq!(preset.profile.download.rate_kbit, 2000);
        assert_eq!(preset.profile.download.delay_ms, 40.0);
        assert_eq!(preset.profile.upload.rate_kbit, 512);
        assert_eq!(preset.profile.upload.loss_pct, 0.0);
    }
}

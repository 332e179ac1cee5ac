//! The full form of `quayside net`: one flag per field and direction (`--down-rate 2mbit
//! --up-delay 50ms --down-loss 1%`), read into a field-by-field edit.
//!
//! Values are parsed by clap through the shaping units, so a bad value stops the command
//! before any host is asked. This module only reads flags; the edit is applied by `net`.

use clap::Args;

use crate::shaping::edit::{DirectionEdit, ShapingEdit};
use crate::shaping::units::{parse_percent, parse_rate_kbit, parse_time_ms};

/// Words that mean "no rate limit".
const UNLIMITED_WORDS: &[&str] = &["unlimited", "none", "off"];

/// One flag per field of each direction; absent flags keep the container's current value.
#[derive(Debug, Default, Args)]
pub(crate) struct FullForm {
    /// Download rate (into the container): 2mbit, 512kbit, "2 Mbit/s", unlimited or 0.
    #[arg(long, value_name = "RATE", value_parser = rate_kbit, allow_hyphen_values = true)]
    down_rate: Option<u64>,
    /// Download delay: 50ms, 1s.
    #[arg(long, value_name = "TIME", value_parser = time_ms, allow_hyphen_values = true)]
    down_delay: Option<f64>,
    /// Download jitter (needs a delay): 10ms.
    #[arg(long, value_name = "TIME", value_parser = time_ms, allow_hyphen_values = true)]
    down_jitter: Option<f64>,
    /// Download delay correlation: 25%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    down_correlation: Option<f64>,
    /// Download loss: 1% or 1.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    down_loss: Option<f64>,
    /// Download duplicate: 1%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    down_duplicate: Option<f64>,
    /// Download corrupt: 1%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    down_corrupt: Option<f64>,
    /// Download reorder (needs a delay): 25%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    down_reorder: Option<f64>,
    /// Upload rate (out of the container): 2mbit, 512kbit, "2 Mbit/s", unlimited or 0.
    #[arg(long, value_name = "RATE", value_parser = rate_kbit, allow_hyphen_values = true)]
    up_rate: Option<u64>,
    /// Upload delay: 50ms, 1s.
    #[arg(long, value_name = "TIME", value_parser = time_ms, allow_hyphen_values = true)]
    up_delay: Option<f64>,
    /// Upload jitter (needs a delay): 10ms.
    #[arg(long, value_name = "TIME", value_parser = time_ms, allow_hyphen_values = true)]
    up_jitter: Option<f64>,
    /// Upload delay correlation: 25%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    up_correlation: Option<f64>,
    /// Upload loss: 1% or 1.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    up_loss: Option<f64>,
    /// Upload duplicate: 1%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    up_duplicate: Option<f64>,
    /// Upload corrupt: 1%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    up_corrupt: Option<f64>,
    /// Upload reorder (needs a delay): 25%.
    #[arg(long, value_name = "PERCENT", value_parser = percent, allow_hyphen_values = true)]
    up_reorder: Option<f64>,
}

impl FullForm {
    /// The edit the flags name; empty when no flag was given.
    pub(crate) fn edit(&self) -> ShapingEdit {
        ShapingEdit {
            download: DirectionEdit {
                rate_kbit: self.down_rate,
                delay_ms: self.down_delay,
                jitter_ms: self.down_jitter,
                correlation_pct: self.down_correlation,
                loss_pct: self.down_loss,
                duplicate_pct: self.down_duplicate,
                corrupt_pct: self.down_corrupt,
                reorder_pct: self.down_reorder,
            },
            upload: DirectionEdit {
                rate_kbit: self.up_rate,
                delay_ms: self.up_delay,
                jitter_ms: self.up_jitter,
                correlation_pct: self.up_correlation,
                loss_pct: self.up_loss,
                duplicate_pct: self.up_duplicate,
                corrupt_pct: self.up_corrupt,
                reorder_pct: self.up_reorder,
            },
        }
    }
}

fn rate_kbit(text: &str) -> Result<u64, String> {
    let word = text.trim();
    if UNLIMITED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        return Ok(0);
    }
    parse_rate_kbit(word).map_err(|e| e.to_string())
}

fn time_ms(text: &str) -> Result<f64, String> {
    parse_time_ms(text).map_err(|e| e.to_string())
}

fn percent(text: &str) -> Result<f64, String> {
    parse_percent(text).map_err(|e| e.to_string())
}

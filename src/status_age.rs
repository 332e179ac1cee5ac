//! Docker's status texts (`Up 3 minutes`, `Exited (0) 2 hours ago`) kept current.
//!
//! The engine words a status relative to the moment it answered, so a row shown for an hour
//! would still say `Up 1 second`. When a row is fetched, the duration in its status is turned
//! into the moment it counts from; when it is drawn, the duration is worded again from now, in
//! the engine's own wording. Precision is the engine's: a unit of its coarsest word.

/// The moment (Unix seconds) a status's duration counts from, given when it was fetched;
/// `None` for a status with no duration (`Created`).
pub(crate) fn since(status: &str, fetched_unix_secs: i64) -> Option<i64> {
    let (_, duration, _) = split(status)?;
    Some(fetched_unix_secs - parse_duration_secs(duration)?)
}

/// The status worded as of `now_unix_secs`, or the text as fetched when it has no duration.
pub(crate) fn render(status: &str, since_unix_secs: Option<i64>, now_unix_secs: i64) -> String {
    match (split(status), since_unix_secs) {
        (Some((head, _, tail)), Some(since)) => {
            format!(
                "{head}{}{tail}",
                human_duration((now_unix_secs - since).max(0))
            )
        }
        _ => status.to_owned(),
    }
}

/// Splits a status into the words before its duration, the duration, and the words after.
fn split(status: &str) -> Option<(&str, &str, &str)> {
    let (head, rest) = if let Some(rest) = status.strip_prefix("Up ") {
        ("Up ", rest)
    } else if status.starts_with("Exited (") || status.starts_with("Restarting (") {
        let close = status.find(") ")?;
        let (head, rest) = status.split_at(close + 2);
        (head, rest)
    } else {
        return None;
    };
    let head_len = head.len();
    let end = [
        " ago",
        " (Paused)",
        " (healthy)",
        " (unhealthy)",
        " (health: starting)",
    ]
    .iter()
    .filter_map(|suffix| rest.find(suffix))
    .min()
    .unwrap_or(rest.len());
    let duration = rest.get(..end)?;
    let tail = rest.get(end..)?;
    Some((status.get(..head_len)?, duration, tail))
}

/// Seconds in one of the engine's duration words (its `HumanDuration`).
fn parse_duration_secs(text: &str) -> Option<i64> {
    match text {
        "Less than a second" => return Some(0),
        "About a minute" => return Some(60),
        "About an hour" => return Some(3600),
        _ => {}
    }
    let (number, unit) = text.split_once(' ')?;
    let n: i64 = number.parse().ok()?;
    let unit_secs = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 30 * 86_400,
        "year" => 365 * 86_400,
        _ => return None,
    };
    Some(n * unit_secs)
}

/// Seconds in the engine's words.
fn human_duration(secs: i64) -> String {
    let minutes = secs / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    if secs < 1 {
        "Less than a second".to_owned()
    } else if secs == 1 {
        "1 second".to_owned()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".to_owned()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_owned()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{days} days")
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", days / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", days / 30)
    } else {
        format!("{} years", days / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_up_status_keeps_counting_from_when_it_was_fetched() {
        let since = since("Up 1 second", 1_000);
        assert_eq!(since, Some(999));
        assert_eq!(render("Up 1 second", since, 1_000), "Up 1 second");
        assert_eq!(render("Up 1 second", since, 1_030), "Up 31 seconds");
        assert_eq!(render("Up 1 second", since, 999 + 3 * 3600), "Up 3 hours");
    }

    #[test]
    fn exited_and_suffixed_statuses_keep_their_other_words() {
        let s = "Exited (137) 2 minutes ago";
        let since = since(s, 10_000);
        assert_eq!(
            render(s, since, 10_000 + 3600),
            "Exited (137) About an hour ago"
        );
        let s = "Up About a minute (Paused)";
        assert_eq!(render(s, since_of(s), 200 + 600), "Up 11 minutes (Paused)");
        let s = "Up 5 seconds (health: starting)";
        assert_eq!(
            render(s, since_of(s), 200 + 10),
            "Up 15 seconds (health: starting)"
        );
    }

    fn since_of(s: &str) -> Option<i64> {
        since(s, 200)
    }

    #[test]
    fn statuses_without_a_duration_are_shown_as_fetched() {
        assert_eq!(since("Created", 5), None);
        assert_eq!(render("Created", None, 50), "Created");
        assert_eq!(
            render("Removal In Progress", None, 50),
            "Removal In Progress"
        );
        assert_eq!(since("Up forever", 5), None);
    }

    #[test]
    fn durations_read_and_word_like_the_engine() {
        for (text, secs) in [
            ("Less than a second", 0),
            ("About a minute", 60),
            ("2 weeks", 14 * 86_400),
            ("3 months", 90 * 86_400),
        ] {
            assert_eq!(parse_duration_secs(text), Some(secs), "{text}");
        }
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }
}

//! A container's output as timestamped lines: the last lines, then new ones as they are
//! written, for as long as the stream is held.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::{Stream, StreamExt as _};

use super::DockerError;
use super::exec::OutputStream;
use crate::model::ContainerId;

/// One line of a container's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogLine {
    /// The engine's RFC 3339 timestamp, e.g. `2026-12-04T19:03:08.123456789Z`.
    pub(crate) timestamp: String,
    pub(crate) stream: OutputStream,
    pub(crate) text: String,
}

impl LogLine {
    /// The whole seconds of the timestamp since the Unix epoch, when it parses.
    pub(crate) fn unix_secs(&self) -> Option<i64> {
        rfc3339_unix_secs(&self.timestamp)
    }
}

/// Follows the container's output: the last `tail` lines first (every line when `None`),
/// then new lines; only lines written at or after `since_unix_secs` when given.
pub(crate) fn follow(
    docker: &Docker,
    id: &ContainerId,
    tail: Option<usize>,
    since_unix_secs: Option<i64>,
) -> impl Stream<Item = Result<Vec<LogLine>, DockerError>> + use<> {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: tail.map_or_else(|| "all".to_owned(), |n| n.to_string()),
        since: since_unix_secs
            .and_then(|s| i32::try_from(s).ok())
            .unwrap_or(0),
        ..Default::default()
    };
    docker.logs(&id.0, Some(options)).map(|item| {
        let (stream, message) = match item.map_err(DockerError::from_bollard)? {
            LogOutput::StdErr { message } => (OutputStream::Stderr, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (OutputStream::Stdout, message)
            }
            LogOutput::StdIn { .. } => return Ok(Vec::new()),
        };
        Ok(split_lines(stream, &String::from_utf8_lossy(&message)))
    })
}

/// Splits one chunk of timestamped output into lines (a chunk may hold several).
pub(crate) fn split_lines(stream: OutputStream, chunk: &str) -> Vec<LogLine> {
    chunk
        .split_terminator('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (timestamp, text) = match line.split_once(' ') {
                Some((ts, text)) if looks_like_timestamp(ts) => (ts, text),
                _ => ("", line),
            };
            LogLine {
                timestamp: timestamp.to_owned(),
                stream,
                text: text.to_owned(),
            }
        })
        .collect()
}

/// `2026-12-04T19:03:08.5Z` as Unix seconds (UTC timestamps only, as the engine writes them).
pub(crate) fn rfc3339_unix_secs(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    if !text.ends_with('Z') || text.get(10..11) != Some("T") {
        return None;
    }
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hh, mm, ss) = (number(11..13)?, number(14..16)?, number(17..19)?);
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn looks_like_timestamp(word: &str) -> bool {
    word.len() >= 20 && word.as_bytes().get(4) == Some(&b'-') && word.contains('T')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_of_two_lines_gives_two_timestamped_lines() {
        let lines = split_lines(
            OutputStream::Stdout,
            "2026-12-04T19:03:08.1Z hello world\n2026-12-04T19:03:09Z \r\n",
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].timestamp, "2026-12-04T19:03:08.1Z");
        assert_eq!(lines[0].text, "hello world");
        assert_eq!(lines[1].text, "");
        assert_eq!(lines[0].unix_secs(), Some(1_796_410_988));
    }

    #[test]
    fn a_line_without_a_timestamp_keeps_its_text() {
        let lines = split_lines(OutputStream::Stderr, "plain text");
        assert_eq!(lines[0].timestamp, "");
        assert_eq!(lines[0].text, "plain text");
        assert_eq!(lines[0].stream, OutputStream::Stderr);
    }
}

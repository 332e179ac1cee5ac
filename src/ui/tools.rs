//! What the Exec, Top, Stats and Logs tabs hold between frames, how backend news reaches them,
//! and which live views the window asks the hosts for.
//!
//! Every frame the tabs that show say which views they need ([`ToolViews::want`]); at the end
//! of the frame [`sync_streams_ui`] compares that with what each host was last told and sends
//! the difference as one `WatchStreams` command per host, so a view that is not drawn stops.
//! Everything kept here is bounded: stats histories, log lines and command outputs have caps,
//! and what belongs to views no longer shown is dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::app::App;
use crate::backend::Command;
use crate::backend::tools::{StreamKey, StreamKind, ToolCommand, ToolEvent};
use crate::docker::exec::{OutputChunk, OutputStream};
use crate::docker::logs::LogLine;
use crate::docker::stats::StatsSample;
use crate::docker::top::ProcessTable;
use crate::model::{ContainerKey, HostId};

/// Samples kept per container: two minutes at the backend's two batches a second.
pub(crate) const STATS_HISTORY: usize = 240;
/// Log lines kept per container; older ones leave first.
pub(crate) const LOG_LINES_KEPT: usize = 10_000;
/// Commands remembered per container in the Exec tab.
const EXEC_RUNS_KEPT: usize = 20;
/// Output kept per command, in bytes; the rest is cut and the cut is shown.
const EXEC_OUTPUT_BYTES: usize = 256 * 1024;

/// One command run in the Exec tab.
pub(crate) struct ExecRun {
    pub(crate) id: u64,
    pub(crate) command: String,
    pub(crate) output: Vec<OutputChunk>,
    pub(crate) output_bytes: usize,
    pub(crate) truncated: bool,
    /// `None` while it runs; then its exit code (`None` if unknown) or why it failed.
    pub(crate) finished: Option<Result<Option<i64>, String>>,
}

/// The Exec tab of one container.
#[derive(Default)]
pub(crate) struct ExecView {
    /// The command being typed.
    pub(crate) input: String,
    /// Runs, oldest first.
    pub(crate) runs: VecDeque<ExecRun>,
}

/// The Top tab of one container.
#[derive(Default)]
pub(crate) struct TopView {
    pub(crate) table: Option<Result<ProcessTable, String>>,
    pub(crate) read_at: Option<Instant>,
}

/// A container's stats: samples with the seconds since the window started, oldest first.
#[derive(Default)]
pub(crate) struct StatsHistory {
    pub(crate) samples: VecDeque<(f64, StatsSample)>,
    pub(crate) error: Option<String>,
}

/// The Logs tab of one container.
pub(crate) struct LogView {
    pub(crate) lines: VecDeque<LogLine>,
    /// Lines dropped from the front since the view started (to keep the cap).
    pub(crate) dropped: usize,
    pub(crate) search: String,
    /// Keep the newest line in sight.
    pub(crate) follow: bool,
    pub(crate) error: Option<String>,
    /// Where Save writes, as typed.
    pub(crate) save_path: String,
    /// A save under way off the UI thread.
    pub(crate) saving: Option<tokio::sync::oneshot::Receiver<Result<String, String>>>,
    /// The indices of lines matching `search`, and what they were computed for.
    pub(crate) matches: Vec<usize>,
    pub(crate) matches_for: (String, usize, usize),
}

impl Default for LogView {
    fn default() -> Self {
        Self {
            lines: VecDeque::new(),
            dropped: 0,
            search: String::new(),
            follow: true,
            error: None,
            save_path: String::new(),
            saving: None,
            matches: Vec::new(),
            matches_for: (String::new(), usize::MAX, 0),
        }
    }
}

impl LogView {
    /// The lines matching the search (every line when it is empty), recomputed only when the
    /// search or the lines changed.
    pub(crate) fn matching(&mut self) -> &[usize] {
        let key = (self.search.clone(), self.lines.len(), self.dropped);
        if self.matches_for != key {
            let needle = self.search.to_lowercase();
            self.matches = self
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| needle.is_empty() || l.text.to_lowercase().contains(&needle))
                .map(|(i, _)| i)
                .collect();
            self.matches_for = key;
        }
        &self.matches
    }
}

/// The tabs' state for every container, and the live views asked of the hosts.
#[derive(Default)]
pub(crate) struct ToolViews {
    pub(crate) exec: HashMap<ContainerKey, ExecView>,
    pub(crate) top: HashMap<ContainerKey, TopView>,
    pub(crate) stats: HashMap<ContainerKey, StatsHistory>,
    pub(crate) logs: HashMap<ContainerKey, LogView>,
    /// The views drawn this frame.
    wanted: BTreeMap<HostId, BTreeSet<StreamKey>>,
    /// What each host was last told.
    sent: BTreeMap<HostId, BTreeSet<StreamKey>>,
    next_run: u64,
    started: Option<Instant>,
}

impl ToolViews {
    /// A tab that shows `kind` for `key` this frame calls this.
    pub(crate) fn want(&mut self, key: &ContainerKey, kind: StreamKind) {
        self.wanted
            .entry(key.host.clone())
            .or_default()
            .insert(StreamKey {
                id: key.id.clone(),
                kind,
            });
    }

    /// Seconds since the first sample arrived, for the graphs' x axis.
    fn now_secs(&mut self) -> f64 {
        self.started
            .get_or_insert_with(Instant::now)
            .elapsed()
            .as_secs_f64()
    }

    /// The id of the next command run in the Exec tab.
    pub(crate) fn next_run_id(&mut self) -> u64 {
        self.next_run += 1;
        self.next_run
    }

    fn exec_run(&mut self, key: &ContainerKey, run: u64) -> Option<&mut ExecRun> {
        self.exec
            .get_mut(key)
            .and_then(|v| v.runs.iter_mut().find(|r| r.id == run))
    }
}

/// Starts `command` in the container and shows it in the Exec tab.
pub(crate) fn exec_command(app: &mut App, key: &ContainerKey, text: &str) {
    let command = match crate::docker::run::split_command(text) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => return,
        Err(err) => {
            app.toasts.error(err);
            return;
        }
    };
    let id = app.tools.next_run_id();
    let view = app.tools.exec.entry(key.clone()).or_default();
    view.runs.push_back(ExecRun {
        id,
        command: text.to_owned(),
        output: Vec::new(),
        output_bytes: 0,
        truncated: false,
        finished: None,
    });
    while view.runs.len() > EXEC_RUNS_KEPT {
        view.runs.pop_front();
    }
    app.send(Command::Tool(ToolCommand::ExecInContainer {
        key: key.clone(),
        run: id,
        command,
    }));
}

/// Takes in one piece of news for the tabs or the Run dialog.
pub(crate) fn take_event(app: &mut App, event: ToolEvent) {
    let views = &mut app.tools;
    match event {
        ToolEvent::RunChoicesRead { .. }
        | ToolEvent::RunProgressed { .. }
        | ToolEvent::RunFinished { .. } => super::run_dialog::take_event(app, event),
        ToolEvent::ExecOutput { key, run, chunks } => {
            if let Some(r) = views.exec_run(&key, run) {
                for chunk in chunks {
                    if r.output_bytes + chunk.text.len() > EXEC_OUTPUT_BYTES {
                        r.truncated = true;
                        continue;
                    }
                    r.output_bytes += chunk.text.len();
                    match r.output.last_mut() {
                        Some(last) if last.stream == chunk.stream => {
                            last.text.push_str(&chunk.text)
                        }
                        _ => r.output.push(chunk),
                    }
                }
            }
        }
        ToolEvent::ExecFinished { key, run, outcome } => {
            if let Err(error) = &outcome {
                app.toasts.error(error.clone());
            }
            if let Some(r) = app.tools.exec_run(&key, run) {
                r.finished = Some(outcome);
            }
        }
        ToolEvent::StatsSampled { host, samples } => {
            let t = views.now_secs();
            for (id, sample) in samples {
                let key = ContainerKey {
                    host: host.clone(),
                    id,
                };
                let history = views.stats.entry(key).or_default();
                history.error = None;
                history.samples.push_back((t, sample));
                while history.samples.len() > STATS_HISTORY {
                    history.samples.pop_front();
                }
            }
        }
        ToolEvent::LogLines { key, lines } => {
            let view = views.logs.entry(key).or_default();
            view.error = None;
            view.lines.extend(lines);
            while view.lines.len() > LOG_LINES_KEPT {
                view.lines.pop_front();
                view.dropped += 1;
            }
        }
        ToolEvent::StreamRestarted { key, kind } => match kind {
            StreamKind::Logs => {
                let view = views.logs.entry(key).or_default();
                view.lines.clear();
                view.dropped = 0;
            }
            StreamKind::Stats => {
                views.stats.remove(&key);
            }
            StreamKind::Top => {
                views.top.remove(&key);
            }
        },
        ToolEvent::TopRead { key, outcome } => {
            let view = views.top.entry(key).or_default();
            // A failed refresh keeps the last list beside the error.
            match (outcome, view.table.take()) {
                (Ok(table), _) => view.table = Some(Ok(table)),
                (Err(error), Some(Ok(old))) => {
                    view.table = Some(Ok(old));
                    tracing::debug!(%error, "process list not refreshed");
                }
                (Err(error), _) => view.table = Some(Err(error)),
            }
            view.read_at = Some(Instant::now());
        }
        ToolEvent::StreamFailed { key, kind, error } => match kind {
            StreamKind::Stats => views.stats.entry(key).or_default().error = Some(error),
            StreamKind::Logs => views.logs.entry(key).or_default().error = Some(error),
            StreamKind::Top => {
                views.top.entry(key).or_default().table = Some(Err(error));
            }
        },
    }
}

/// Sends each host the views drawn this frame when they differ from what it was last told, and
/// drops what is kept for views no longer shown. Called once, at the end of a frame.
pub(crate) fn sync_streams_ui(app: &mut App) {
    let wanted = std::mem::take(&mut app.tools.wanted);
    let hosts: BTreeSet<HostId> = wanted
        .keys()
        .chain(app.tools.sent.keys())
        .cloned()
        .collect();
    for host in hosts {
        let now = wanted.get(&host).cloned().unwrap_or_default();
        if app.tools.sent.get(&host).is_some_and(|sent| *sent == now)
            || (now.is_empty() && !app.tools.sent.contains_key(&host))
        {
            continue;
        }
        let command = Command::Tool(ToolCommand::WatchStreams {
            host: host.clone(),
            streams: now.clone(),
        });
        // A refused command (queue full) is tried again next frame: `sent` is unchanged.
        if app.backend_accepts(command) {
            if now.is_empty() {
                app.tools.sent.remove(&host);
            } else {
                app.tools.sent.insert(host, now);
            }
        }
    }

    // Stats and logs of views no longer shown are not kept.
    let shown = |key: &ContainerKey, kind: StreamKind| {
        wanted.get(&key.host).is_some_and(|set| {
            set.contains(&StreamKey {
                id: key.id.clone(),
                kind,
            })
        })
    };
    app.tools.stats.retain(|k, _| shown(k, StreamKind::Stats));
    app.tools.logs.retain(|k, _| shown(k, StreamKind::Logs));
    app.tools.top.retain(|k, _| shown(k, StreamKind::Top));
}

/// Bytes per second between two cumulative counters `dt_secs` apart.
pub(crate) fn rate_per_sec(before: u64, after: u64, dt_secs: f64) -> f64 {
    if dt_secs <= 0.0 {
        0.0
    } else {
        after.saturating_sub(before) as f64 / dt_secs
    }
}

/// The label of a stream's text in the Exec and Logs tabs.
pub(crate) fn is_stderr(stream: OutputStream) -> bool {
    stream == OutputStream::Stderr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_reset_reads_as_no_traffic_not_a_huge_rate() {
        assert_eq!(rate_per_sec(1000, 3000, 2.0), 1000.0);
        assert_eq!(rate_per_sec(5000, 10, 1.0), 0.0);
        assert_eq!(rate_per_sec(0, 10, 0.0), 0.0);
    }

    #[test]
    fn log_search_matches_case_insensitively_and_is_cached() {
        let mut view = LogView::default();
        for text in ["GET /index.html", "error: boom", "get /favicon"] {
            view.lines.push_back(LogLine {
                timestamp: String::new(),
                stream: OutputStream::Stdout,
                text: text.into(),
            });
        }
        view.search = "get".into();
        assert_eq!(view.matching(), &[0, 2]);
        view.search.clear();
        assert_eq!(view.matching().len(), 3);
    }
}

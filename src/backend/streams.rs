//! The live views of one host (Top, Stats, Logs): one task per container and view, started when
//! the window shows the view and aborted when it no longer does.
//!
//! The window names, per host, the views it shows; [`Streams::want`] starts what is new and
//! aborts what is gone. The wanted set outlives a lost connection: when the host is back, the
//! actor calls [`Streams::resume`]. Stats samples go through one batcher per host that keeps
//! only the latest sample of each container and hands them over twice a second; when the
//! window's queue is full the batch waits for the next turn, merged with newer samples, so a
//! slow window never makes samples pile up. Log lines and process lists are sent with
//! backpressure: a stream waits for the window rather than drop what it read.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::tools::{StreamKey, StreamKind, ToolEvent};
use super::{Event, EventSink};
use crate::docker::{logs, stats, top};
use crate::hosts::connect::HostConnection;
use crate::model::{ContainerId, ContainerKey, HostId};

/// How often the batcher hands the latest stats samples to the window.
const STATS_FLUSH_MS: u64 = 500;
/// How many samples may wait for the batcher; stats tasks wait when it is full.
const STATS_QUEUE_CAPACITY: usize = 256;
/// How long a failed or ended stream waits before it tries again (while still wanted).
const RETRY_SECS: u64 = 2;
/// How often the process list is read while the Top tab shows.
const TOP_EVERY_SECS: u64 = 2;
/// How many earlier lines the Logs tab starts with.
pub(crate) const LOG_TAIL_LINES: usize = 500;
/// The most log chunks gathered into one event.
const LOG_CHUNKS_PER_EVENT: usize = 256;

/// The live views of one host.
pub(super) struct Streams {
    host: HostId,
    sink: EventSink,
    wanted: BTreeSet<StreamKey>,
    running: HashMap<StreamKey, AbortHandle>,
    /// The stats batcher's input and task, while connected.
    batcher: Option<(mpsc::Sender<(ContainerId, stats::StatsSample)>, AbortHandle)>,
    conn: Option<HostConnection>,
}

impl Streams {
    pub(super) fn new(host: HostId, sink: EventSink) -> Self {
        Self {
            host,
            sink,
            wanted: BTreeSet::new(),
            running: HashMap::new(),
            batcher: None,
            conn: None,
        }
    }

    /// Makes `wanted` the running set: aborts the views no longer named, starts the new ones
    /// (when connected).
    pub(super) fn want(&mut self, wanted: BTreeSet<StreamKey>) {
        tracing::debug!(host = %self.host, streams = wanted.len(), "live views wanted");
        self.wanted = wanted;
        let gone: Vec<StreamKey> = self
            .running
            .keys()
            .filter(|k| !self.wanted.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(task) = self.running.remove(&key) {
                task.abort();
            }
        }
        let new: Vec<StreamKey> = self
            .wanted
            .iter()
            .filter(|k| !self.running.contains_key(*k))
            .cloned()
            .collect();
        for key in new {
            self.start(key);
        }
    }

    /// The host is connected (again): start every wanted view on `conn`.
    pub(super) fn resume(&mut self, conn: &HostConnection) {
        self.pause();
        self.conn = Some(conn.clone());
        let wanted = std::mem::take(&mut self.wanted);
        self.want(wanted);
    }

    /// The connection is gone: stop every task, keep the wanted set for [`Self::resume`].
    pub(super) fn pause(&mut self) {
        for (_, task) in self.running.drain() {
            task.abort();
        }
        if let Some((_, task)) = self.batcher.take() {
            task.abort();
        }
        self.conn = None;
    }

    fn start(&mut self, key: StreamKey) {
        let Some(conn) = self.conn.clone() else {
            return;
        };
        let container = ContainerKey {
            host: self.host.clone(),
            id: key.id.clone(),
        };
        let sink = self.sink.clone();
        let task = match key.kind {
            StreamKind::Stats => {
                let samples = self.stats_input();
                tokio::spawn(follow_stats(conn, container, samples, sink))
            }
            StreamKind::Logs => tokio::spawn(follow_logs(conn, container, sink)),
            StreamKind::Top => tokio::spawn(poll_top(conn, container, sink)),
        };
        self.running.insert(key, task.abort_handle());
    }

    /// The batcher's input, starting the batcher on first use.
    fn stats_input(&mut self) -> mpsc::Sender<(ContainerId, stats::StatsSample)> {
        if let Some((tx, _)) = &self.batcher {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(STATS_QUEUE_CAPACITY);
        let task = tokio::spawn(batch_stats(self.host.clone(), rx, self.sink.clone()));
        self.batcher = Some((tx.clone(), task.abort_handle()));
        tx
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.pause();
    }
}

/// Keeps the latest sample per container and hands them to the window every
/// [`STATS_FLUSH_MS`]; a batch that finds the window's queue full is merged into the next.
async fn batch_stats(
    host: HostId,
    mut rx: mpsc::Receiver<(ContainerId, stats::StatsSample)>,
    sink: EventSink,
) {
    let mut latest: HashMap<ContainerId, stats::StatsSample> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(STATS_FLUSH_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            sample = rx.recv() => match sample {
                Some((id, sample)) => { latest.insert(id, sample); }
                None => return,
            },
            _ = tick.tick() => {
                if latest.is_empty() {
                    continue;
                }
                let samples: Vec<_> = latest.drain().collect();
                let event = Event::Tool(ToolEvent::StatsSampled { host: host.clone(), samples });
                if let Err(refused) = sink.try_send(event)
                    && let Event::Tool(ToolEvent::StatsSampled { samples, .. }) = *refused {
                    tracing::trace!(host = %host, "window busy: stats merged into the next batch");
                    for (id, sample) in samples {
                        latest.entry(id).or_insert(sample);
                    }
                }
            }
        }
    }
}

/// Follows a container's stats into the batcher, retrying while the view is wanted.
async fn follow_stats(
    conn: HostConnection,
    key: ContainerKey,
    samples: mpsc::Sender<(ContainerId, stats::StatsSample)>,
    sink: EventSink,
) {
    let mut told: Option<String> = None;
    loop {
        let mut stream = Box::pin(stats::follow(&conn.docker, &key.id));
        let error = loop {
            match stream.next().await {
                Some(Ok(sample)) => {
                    told = None;
                    if samples.send((key.id.clone(), sample)).await.is_err() {
                        return;
                    }
                }
                Some(Err(err)) => break err.to_string(),
                None => break "the stats stream ended: the container is not running".to_owned(),
            }
        };
        drop(stream);
        report_once(&sink, &key, StreamKind::Stats, error, &mut told).await;
        tokio::time::sleep(Duration::from_secs(RETRY_SECS)).await;
    }
}

/// Follows a container's output: the last lines, then new ones; after an end (the container
/// stopped) it follows again from the second after the last line seen.
async fn follow_logs(conn: HostConnection, key: ContainerKey, sink: EventSink) {
    let mut told: Option<String> = None;
    let mut since: Option<i64> = None;
    sink.send(Event::Tool(ToolEvent::StreamRestarted {
        key: key.clone(),
        kind: StreamKind::Logs,
    }))
    .await;
    loop {
        // After an end, every line since the last one seen; at first, the last few.
        let tail = if since.is_some() {
            None
        } else {
            Some(LOG_TAIL_LINES)
        };
        let mut stream = Box::pin(
            logs::follow(&conn.docker, &key.id, tail, since).ready_chunks(LOG_CHUNKS_PER_EVENT),
        );
        let error = loop {
            let Some(batch) = stream.next().await else {
                break None;
            };
            let mut lines = Vec::new();
            let mut failed = None;
            for item in batch {
                match item {
                    Ok(mut more) => lines.append(&mut more),
                    Err(err) => failed = Some(err.to_string()),
                }
            }
            if let Some(last) = lines.iter().rev().find_map(logs::LogLine::unix_secs) {
                since = Some(last + 1);
            }
            if !lines.is_empty() {
                told = None;
                sink.send(Event::Tool(ToolEvent::LogLines {
                    key: key.clone(),
                    lines,
                }))
                .await;
            }
            if failed.is_some() {
                break failed;
            }
        };
        drop(stream);
        if let Some(error) = error {
            report_once(&sink, &key, StreamKind::Logs, error, &mut told).await;
        }
        if since.is_none() {
            since = Some(crate::docker::now_unix_secs());
        }
        tokio::time::sleep(Duration::from_secs(RETRY_SECS)).await;
    }
}

/// Reads the process list every [`TOP_EVERY_SECS`] while the Top tab shows.
async fn poll_top(conn: HostConnection, key: ContainerKey, sink: EventSink) {
    loop {
        let outcome = top::top(&conn.docker, &key.id)
            .await
            .map_err(|e| format!("cannot list the processes of {key}: {e}"));
        sink.send(Event::Tool(ToolEvent::TopRead {
            key: key.clone(),
            outcome,
        }))
        .await;
        tokio::time::sleep(Duration::from_secs(TOP_EVERY_SECS)).await;
    }
}

/// Tells the window about a stream's failure, once per distinct reason.
async fn report_once(
    sink: &EventSink,
    key: &ContainerKey,
    kind: StreamKind,
    error: String,
    told: &mut Option<String>,
) {
    if told.as_ref() == Some(&error) {
        return;
    }
    tracing::debug!(container = %key, stream = kind.noun(), %error, "live view interrupted");
    *told = Some(error.clone());
    sink.send(Event::Tool(ToolEvent::StreamFailed {
        key: key.clone(),
        kind,
        error,
    }))
    .await;
}

//! A host actor's shaping work that outlives one command: remembering what was applied,
//! re-applying it when a container starts again, clearing timed shaping when its time is up,
//! and sampling traffic counters while the window watches a container.
//!
//! Applies and clears run as their own tasks, like every command; what this service keeps is
//! the handles of the long-lived tasks (timers, samplers), so a new apply cancels the old timer
//! and a hidden graph stops its sampler. When the host's connection is lost everything here is
//! stopped; the timers are resumed from the remembered end times on reconnect.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::{Command, Event, EventSink};
use crate::docker;
use crate::hosts::connect::HostConnection;
use crate::model::{ContainerKey, ContainerSummary, HostId};
use crate::shaping::memory::{MemoryError, Remembered, ShapingMemory};
use crate::shaping::ops::{self, ApplyOptions, ShapingReport};
use crate::shaping::preflight;
use crate::shaping::profile::{ShapingProfile, Tolerance};
use crate::shaping::traffic;
use crate::shaping::trees::{self, ClearAllReport};

/// How often a watched container's counters are read.
const SAMPLE_EVERY_MS: u64 = 500;
/// How long a sampler waits after a failed read before looking for the veths again.
const SAMPLE_RETRY_MS: u64 = 1000;

/// The shaping state of one host's actor.
pub(super) struct ShapingService {
    host: HostId,
    memory: Option<ShapingMemory>,
    sink: EventSink,
    /// Timed shaping waiting to be cleared, by container.
    timers: HashMap<ContainerKey, JoinHandle<()>>,
    /// Traffic samplers, by container.
    watches: HashMap<ContainerKey, JoinHandle<()>>,
    /// The look for shaping of ours after connecting.
    scan: Option<JoinHandle<()>>,
    /// The preflight after connecting.
    check: Option<JoinHandle<()>>,
}

impl ShapingService {
    pub(super) fn new(host: HostId, memory: Option<ShapingMemory>, sink: EventSink) -> Self {
        Self {
            host,
            memory,
            sink,
            timers: HashMap::new(),
            watches: HashMap::new(),
            scan: None,
            check: None,
        }
    }

    /// Runs the commands that need this service's state; hands any other command back.
    pub(super) fn take(&mut self, conn: &HostConnection, command: Command) -> Option<Command> {
        match command {
            Command::ApplyShaping {
                key,
                profile,
                replace_foreign,
                for_secs,
            } => {
                self.cancel_timer(&key);
                let until = for_secs.map(|secs| SystemTime::now() + Duration::from_secs(secs));
                self.spawn_apply(conn, key, profile, replace_foreign, until);
            }
            Command::ClearShaping { key } => {
                self.cancel_timer(&key);
                let (conn, sink, memory) = (conn.clone(), self.sink.clone(), self.memory.clone());
                tokio::spawn(async move {
                    let result = ops::clear(&conn.docker, &conn.runner, &key).await;
                    if result.is_ok() {
                        remember(&conn, &sink, memory, &key, None).await;
                    }
                    sink.send(report_event(key, result)).await;
                });
            }
            Command::WatchTraffic { key } => {
                let running = self.watches.get(&key).is_some_and(|t| !t.is_finished());
                if !running {
                    let task = tokio::spawn(sample_until_stopped(
                        conn.clone(),
                        self.sink.clone(),
                        key.clone(),
                    ));
                    self.watches.insert(key, task);
                }
            }
            Command::UnwatchTraffic { key } => {
                if let Some(task) = self.watches.remove(&key) {
                    task.abort();
                }
            }
            Command::ClearAllShaping { host } => {
                let timed: Vec<ContainerKey> = self.timers.keys().cloned().collect();
                for key in timed {
                    self.cancel_timer(&key);
                }
                let (conn, sink, memory) = (conn.clone(), self.sink.clone(), self.memory.clone());
                tokio::spawn(async move {
                    let outcome = clear_all(&conn, &sink, memory, &host).await;
                    sink.send(Event::HostShapingCleared { host, outcome }).await;
                });
            }
            other => return Some(other),
        }
        None
    }

    /// A container started: if shaping is remembered for it, its new veth gets it again.
    pub(super) fn container_started(&mut self, conn: &HostConnection, row: &ContainerSummary) {
        let Some(memory) = self.memory.clone() else {
            return;
        };
        let (conn, sink, host, name) = (
            conn.clone(),
            self.sink.clone(),
            self.host.clone(),
            row.name.clone(),
        );
        let key = row.key();
        let task = tokio::spawn(async move {
            let Some(remembered) = lookup(&memory, &host, &name, &sink).await else {
                return;
            };
            if remembered.has_expired(SystemTime::now()) {
                // Its time ran out while the container was down: there is nothing to restore.
                forget(&memory, &host, &name, &sink).await;
                return;
            }
            // Another window of this user may have re-applied it already: then it stays.
            if let Ok(held) = ops::read(&conn.docker, &conn.runner, &key).await
                && held
                    .profile()
                    .is_some_and(|p| p.approx_eq(&remembered.profile, &Tolerance::TC_READBACK))
            {
                sink.send(Event::ShapingReported { key, report: held })
                    .await;
                return;
            }
            let result = ops::apply(
                &conn.docker,
                &conn.runner,
                &key,
                &remembered.profile,
                &ApplyOptions::default(),
            )
            .await;
            tracing::info!(host = %host, container = %name, ok = result.is_ok(), "re-applied remembered shaping");
            let event = match result {
                Ok(report) => Event::ShapingReapplied {
                    key: key.clone(),
                    report,
                },
                Err(err) => Event::ShapingFailed {
                    key: key.clone(),
                    error: format!("could not re-apply the remembered shaping: {err}"),
                },
            };
            sink.send(event).await;
            if let Some(left) = remembered.remaining(SystemTime::now()) {
                clear_after(conn, sink, Some(memory), key, left).await;
            }
        });
        // A timed re-apply owns the container's timer; an untimed one finishes by itself.
        self.cancel_timer(&row.key());
        self.timers.insert(row.key(), task);
    }

    /// After (re)connecting: restarts the timers of timed shaping on running containers, and
    /// tells the window what is remembered for them.
    pub(super) async fn resume(&mut self, conn: &HostConnection, rows: &[ContainerSummary]) {
        self.spawn_check(conn);
        let Some(memory) = self.memory.clone() else {
            self.spawn_scan(conn, Vec::new());
            return;
        };
        let all = with_memory(&memory, &self.host, &self.sink, |m| m.all())
            .await
            .unwrap_or_default();
        let host = self.host.0.clone();
        let remembered_here: Vec<Remembered> = all.into_iter().filter(|r| r.host == host).collect();
        self.spawn_scan(conn, remembered_here.clone());
        for remembered in remembered_here {
            let Some(row) = rows
                .iter()
                .find(|r| r.state.is_running() && r.name == remembered.name)
            else {
                continue;
            };
            let key = row.key();
            self.sink
                .send(Event::ShapingRemembered {
                    key: key.clone(),
                    remembered: Some(remembered.clone()),
                })
                .await;
            if let Some(left) = remembered.remaining(SystemTime::now())
                && !left.is_zero()
            {
                let timer = tokio::spawn(clear_after(
                    conn.clone(),
                    self.sink.clone(),
                    Some(memory.clone()),
                    key.clone(),
                    left,
                ));
                self.cancel_timer(&key);
                self.timers.insert(key, timer);
            }
        }
    }

    /// Tries what the host can do for shaping, in the background.
    fn spawn_check(&mut self, conn: &HostConnection) {
        let (runner, sink, host) = (conn.runner.clone(), self.sink.clone(), self.host.clone());
        let task = tokio::spawn(async move {
            let preflight = preflight::preflight(&runner).await;
            for (name, capability) in preflight.named() {
                if !capability.is_available() {
                    tracing::warn!(host = %host, capability = name, detail = %capability.line(), "missing on the host");
                }
            }
            sink.send(Event::HostChecked { host, preflight }).await;
        });
        if let Some(old) = self.check.replace(task) {
            old.abort();
        }
    }

    /// Lists the trees of ours on the host in the background (left by an earlier run, the
    /// command line, or timed shaping that ran out while no window was open).
    fn spawn_scan(&mut self, conn: &HostConnection, remembered: Vec<Remembered>) {
        let (conn, sink, host) = (conn.clone(), self.sink.clone(), self.host.clone());
        let task = tokio::spawn(async move {
            match trees::owned_trees(&conn.docker, &conn.runner, &host).await {
                Ok(trees) => {
                    let now = SystemTime::now();
                    let expired = remembered
                        .iter()
                        .filter(|r| r.has_expired(now))
                        .map(|r| r.name.clone())
                        .collect();
                    tracing::info!(host = %host, trees = trees.len(), "looked for shaping of ours");
                    sink.send(Event::ShapingFound {
                        host,
                        trees,
                        expired,
                    })
                    .await;
                }
                Err(err) => {
                    sink.send(Event::Failed {
                        host,
                        error: format!("cannot look for shaping of Quayside's: {err}"),
                    })
                    .await;
                }
            }
        });
        if let Some(old) = self.scan.replace(task) {
            old.abort();
        }
    }

    /// Stops every timer and sampler (the connection is gone or the actor stops).
    pub(super) fn stop_all(&mut self) {
        for (_, task) in self.timers.drain().chain(self.watches.drain()) {
            task.abort();
        }
        for task in [self.scan.take(), self.check.take()].into_iter().flatten() {
            task.abort();
        }
    }

    fn cancel_timer(&mut self, key: &ContainerKey) {
        if let Some(task) = self.timers.remove(key) {
            task.abort();
        }
    }

    fn spawn_apply(
        &mut self,
        conn: &HostConnection,
        key: ContainerKey,
        profile: ShapingProfile,
        replace_foreign: bool,
        until: Option<SystemTime>,
    ) {
        let (conn, sink, memory) = (conn.clone(), self.sink.clone(), self.memory.clone());
        let timer_key = key.clone();
        let task = tokio::spawn(async move {
            let options = ApplyOptions { replace_foreign };
            let result = ops::apply(&conn.docker, &conn.runner, &key, &profile, &options).await;
            let applied = result.is_ok();
            if applied {
                let held = result
                    .as_ref()
                    .ok()
                    .and_then(ShapingReport::profile)
                    .unwrap_or(profile);
                remember(&conn, &sink, memory.clone(), &key, Some((held, until))).await;
            }
            sink.send(report_event(key.clone(), result)).await;
            if let (true, Some(until)) = (applied, until) {
                let left = until.duration_since(SystemTime::now()).unwrap_or_default();
                clear_after(conn, sink, memory, key, left).await;
            }
        });
        // The apply task is the timer when the shaping is timed; cancelling it after the apply
        // only cancels the wait. Untimed applies are not cancelled by later commands.
        if until.is_some() {
            self.timers.insert(timer_key, task);
        }
    }
}

impl Drop for ShapingService {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Clears every tree of ours on the host in one batch, and forgets the shaping of each
/// container cleared.
async fn clear_all(
    conn: &HostConnection,
    sink: &EventSink,
    memory: Option<ShapingMemory>,
    host: &HostId,
) -> Result<ClearAllReport, String> {
    let report = trees::clear_all(&conn.docker, &conn.runner, host)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(memory) = memory {
        let names: Vec<String> = report
            .trees
            .iter()
            .filter(|t| t.cleared)
            .filter_map(|t| t.tree.owner.as_ref().map(|o| o.name.clone()))
            .collect();
        let h = host.0.clone();
        with_memory(&memory, host, sink, move |m| {
            names.iter().try_for_each(|name| m.forget(&h, name))
        })
        .await;
    }
    Ok(report)
}

/// Waits `left`, then clears the container's shaping and forgets it.
async fn clear_after(
    conn: HostConnection,
    sink: EventSink,
    memory: Option<ShapingMemory>,
    key: ContainerKey,
    left: Duration,
) {
    tokio::time::sleep(left).await;
    let result = ops::clear(&conn.docker, &conn.runner, &key).await;
    if result.is_ok() {
        remember(&conn, &sink, memory, &key, None).await;
    }
    sink.send(Event::TimedShapingEnded {
        key,
        outcome: result.map_err(|e| e.to_string()),
    })
    .await;
}

/// Reads the container's counters every half second, looking its veths up again after a
/// failure (a restart gives new ones). Ends only when aborted.
async fn sample_until_stopped(conn: HostConnection, sink: EventSink, key: ContainerKey) {
    loop {
        let targets = match ops::discover(&conn.docker, &conn.runner, &key).await {
            Ok((_, targets)) => targets,
            Err(err) => {
                sink.send(Event::TrafficFailed {
                    key: key.clone(),
                    error: err.to_string(),
                })
                .await;
                tokio::time::sleep(Duration::from_millis(SAMPLE_RETRY_MS)).await;
                continue;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_millis(SAMPLE_EVERY_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match traffic::sample(&conn.runner, &targets).await {
                Ok(sample) => {
                    sink.send(Event::TrafficSampled {
                        key: key.clone(),
                        sample,
                    })
                    .await
                }
                Err(err) => {
                    sink.send(Event::TrafficFailed {
                        key: key.clone(),
                        error: err.to_string(),
                    })
                    .await;
                    tokio::time::sleep(Duration::from_millis(SAMPLE_RETRY_MS)).await;
                    break;
                }
            }
        }
    }
}

/// Records what the container holds now (`None`: nothing) and tells the window.
async fn remember(
    conn: &HostConnection,
    sink: &EventSink,
    memory: Option<ShapingMemory>,
    key: &ContainerKey,
    held: Option<(ShapingProfile, Option<SystemTime>)>,
) {
    let Some(memory) = memory else {
        return;
    };
    let name = match docker::inspect(&conn.docker, key).await {
        Ok(details) => details.name,
        Err(err) => {
            tracing::warn!(container = %key, error = %err, "cannot name the container to remember its shaping");
            return;
        }
    };
    let host = key.host.0.clone();
    let stored = with_memory(&memory, &key.host, sink, move |m| match held {
        Some((profile, until)) => m
            .remember(&host, &name, &profile, until)
            .and_then(|()| m.lookup(&host, &name)),
        None => m.forget(&host, &name).map(|()| None),
    })
    .await;
    if let Some(remembered) = stored {
        sink.send(Event::ShapingRemembered {
            key: key.clone(),
            remembered,
        })
        .await;
    }
}

/// Runs `job` on the memory file off the async threads; a failure is reported to the window
/// (and logged) once, here.
async fn with_memory<T: Send + 'static>(
    memory: &ShapingMemory,
    host: &HostId,
    sink: &EventSink,
    job: impl FnOnce(&ShapingMemory) -> Result<T, MemoryError> + Send + 'static,
) -> Option<T> {
    let memory = memory.clone();
    match tokio::task::spawn_blocking(move || job(&memory)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            memory_failed(sink, host, &err).await;
            None
        }
        // The blocking task panicked: already reported by the panic hook.
        Err(_) => None,
    }
}

async fn lookup(
    memory: &ShapingMemory,
    host: &HostId,
    name: &str,
    sink: &EventSink,
) -> Option<Remembered> {
    let (h, n) = (host.0.clone(), name.to_owned());
    with_memory(memory, host, sink, move |m| m.lookup(&h, &n))
        .await
        .flatten()
}

async fn forget(memory: &ShapingMemory, host: &HostId, name: &str, sink: &EventSink) {
    let (h, n) = (host.0.clone(), name.to_owned());
    with_memory(memory, host, sink, move |m| m.forget(&h, &n)).await;
}

async fn memory_failed(sink: &EventSink, host: &HostId, err: &MemoryError) {
    tracing::error!(host = %host, error = %err, "remembered shaping");
    sink.send(Event::Failed {
        host: host.clone(),
        error: err.to_string(),
    })
    .await;
}

/// The event for the outcome of an apply, clear or read.
pub(super) fn report_event(
    key: ContainerKey,
    result: Result<ShapingReport, ops::ShapingError>,
) -> Event {
    match result {
        Ok(report) => Event::ShapingReported { key, report },
        Err(err) => Event::ShapingFailed {
            key,
            error: err.to_string(),
        },
    }
}

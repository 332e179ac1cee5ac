//! The seam between the window (or the CLI) and the work: commands in, events out.
//!
//! The UI sends a [`Command`] with [`Backend::send`], which never blocks: when a host's queue is
//! full the command is refused and the UI says so (user actions are reported, never dropped in
//! silence). Each host has one actor task (`actor.rs`) that owns its Docker client and its
//! command runner, so a slow or dead host only greys out its own branch. Events come back on
//! one bounded channel; the sender wakes the UI right after each one. Nothing here is shared
//! with the UI behind a lock.

mod actor;
mod shaping;
mod streams;
pub(crate) mod tools;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::docker::Lifecycle;
use crate::hosts::profile::HostEntry;
use crate::model::{
    ContainerDetails, ContainerId, ContainerKey, ContainerSummary, HostId, HostState,
};
use crate::shaping::memory::{Remembered, ShapingMemory};
use crate::shaping::ops::ShapingReport;
use crate::shaping::preflight::Preflight;
use crate::shaping::profile::ShapingProfile;
use crate::shaping::traffic::TrafficSample;
use crate::shaping::trees::{ClearAllReport, OwnedTree};

/// How many commands may wait for one host before new ones are refused.
const HOST_COMMAND_CAPACITY: usize = 64;
/// How many events may wait for the UI; senders wait (they are backend tasks) when it is full.
const EVENT_CAPACITY: usize = 4096;
/// How long shutdown waits for the actors before leaving them to the runtime's drop.
const SHUTDOWN_DEADLINE_SECS: u64 = 3;

/// Something the UI or the CLI asks of one host.
#[derive(Clone, Debug)]
pub(crate) enum Command {
    /// Start, stop, restart or remove a container.
    ChangeLifecycle {
        key: ContainerKey,
        action: Lifecycle,
    },
    /// Read what inspect knows about a container.
    InspectContainer { key: ContainerKey },
    /// Replace the container's shaping with `profile`, then read back what the kernel holds.
    /// The profile is remembered for the container's next start; with `for_secs` it is
    /// cleared again after that many seconds.
    ApplyShaping {
        key: ContainerKey,
        profile: ShapingProfile,
        replace_foreign: bool,
        for_secs: Option<u64>,
    },
    /// The exact commands an apply of `profile` would run now, without running them.
    PreviewShaping {
        key: ContainerKey,
        profile: ShapingProfile,
        replace_foreign: bool,
    },
    /// Send the container's traffic counters twice a second until `UnwatchTraffic`.
    WatchTraffic { key: ContainerKey },
    /// Stop sending the container's traffic counters.
    UnwatchTraffic { key: ContainerKey },
    /// Remove Quayside's shaping from every container of the host (and its orphan IFBs).
    ClearAllShaping { host: HostId },
    /// Remove all shaping of the container.
    ClearShaping { key: ContainerKey },
    /// Read back the container's shaping without changing it.
    ReadShaping { key: ContainerKey },
    /// The user's answer about a host key that known_hosts does not hold.
    TrustHostKey {
        host: HostId,
        fingerprint: String,
        trust: HostKeyTrust,
    },
    /// The passphrase of a key file, typed by the user (`None`: the user declined).
    ProvidePassphrase {
        host: HostId,
        key: std::path::PathBuf,
        passphrase: Option<String>,
    },
    /// Run, exec, and the live views of the Top, Stats and Logs tabs (`tools.rs`).
    Tool(tools::ToolCommand),
}

/// What the user decided about an unknown host key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostKeyTrust {
    /// Connect this time; ask again next time.
    AcceptOnce,
    /// Connect, and add the key to known_hosts.
    AcceptAndSave,
    /// Do not connect.
    Reject,
}

impl Command {
    fn host(&self) -> &HostId {
        match self {
            Self::ChangeLifecycle { key, .. }
            | Self::InspectContainer { key }
            | Self::ApplyShaping { key, .. }
            | Self::PreviewShaping { key, .. }
            | Self::WatchTraffic { key }
            | Self::UnwatchTraffic { key }
            | Self::ClearShaping { key }
            | Self::ReadShaping { key } => &key.host,
            Self::TrustHostKey { host, .. }
            | Self::ProvidePassphrase { host, .. }
            | Self::ClearAllShaping { host } => host,
            Self::Tool(tool) => tool.host(),
        }
    }

    /// True for the user's answers to a host's questions (host key, passphrase).
    fn is_answer(&self) -> bool {
        matches!(
            self,
            Self::TrustHostKey { .. } | Self::ProvidePassphrase { .. }
        )
    }
}

/// Something that happened on a host, for the UI to show.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    HostStateChanged {
        host: HostId,
        state: HostState,
    },
    /// Every container of the host: replaces what the UI held for it.
    ContainersListed {
        host: HostId,
        containers: Vec<ContainerSummary>,
    },
    ContainerUpdated {
        container: ContainerSummary,
    },
    ContainerRemoved {
        host: HostId,
        id: ContainerId,
    },
    ContainerInspected {
        details: Box<ContainerDetails>,
    },
    LifecycleFinished {
        key: ContainerKey,
        action: Lifecycle,
        outcome: Result<(), String>,
    },
    /// The shaping of a container as the kernel holds it, after an apply, a clear or a read.
    ShapingReported {
        key: ContainerKey,
        report: ShapingReport,
    },
    ShapingFailed {
        key: ContainerKey,
        error: String,
    },
    /// The container started again and its remembered shaping was applied to its new veth.
    ShapingReapplied {
        key: ContainerKey,
        report: ShapingReport,
    },
    /// What is remembered for the container now (`None`: nothing, e.g. after a clear).
    ShapingRemembered {
        key: ContainerKey,
        remembered: Option<Remembered>,
    },
    /// Timed shaping ran out and Quayside cleared it (or tried to: `Err` says why not).
    TimedShapingEnded {
        key: ContainerKey,
        outcome: Result<ShapingReport, String>,
    },
    /// The commands an apply would run (or why it cannot be planned).
    ShapingPreviewed {
        key: ContainerKey,
        outcome: Result<Vec<String>, String>,
    },
    /// What the host can do for shaping (tc, privileges, ifb, netem), tried when it connected.
    HostChecked {
        host: HostId,
        preflight: Preflight,
    },
    /// The containers of a host that hold shaping of ours, found when the host connected.
    ShapingFound {
        host: HostId,
        trees: Vec<OwnedTree>,
        /// Containers whose timed shaping ran out while no window was open.
        expired: Vec<String>,
    },
    /// "Clear all shaping" on a host finished, tree by tree, or why it could not run.
    HostShapingCleared {
        host: HostId,
        outcome: Result<ClearAllReport, String>,
    },
    /// One sample of a watched container's traffic counters.
    TrafficSampled {
        key: ContainerKey,
        sample: TrafficSample,
    },
    /// A watched container's counters could not be read; sampling goes on.
    TrafficFailed {
        key: ContainerKey,
        error: String,
    },
    /// The host showed a key known_hosts does not hold: the user decides whether to trust it.
    HostKeyUnknown {
        host: HostId,
        key_type: String,
        fingerprint: String,
        known_hosts: String,
    },
    /// A key file needs its passphrase before the host can be reached.
    PassphraseNeeded {
        host: HostId,
        key: std::path::PathBuf,
    },
    /// A failure not tied to one command (inspect of a vanished container, …).
    Failed {
        host: HostId,
        error: String,
    },
    /// News from run, exec and the live views (`tools.rs`).
    Tool(tools::ToolEvent),
}

/// Wakes the UI after an event was sent.
pub(crate) type Waker = Arc<dyn Fn() + Send + Sync>;

/// Sends events to the UI and wakes it.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<Event>,
    wake: Waker,
}

impl EventSink {
    pub(crate) async fn send(&self, event: Event) {
        // A closed receiver means the UI is gone; the event has no reader left.
        self.tx.send(event).await.ok();
        (self.wake)();
    }

    /// Sends without waiting; a full queue gives the event back, for news that can be merged
    /// into a later event or left out (stats samples, progress).
    pub(crate) fn try_send(&self, event: Event) -> Result<(), Box<Event>> {
        match self.tx.try_send(event) {
            Ok(()) => {
                (self.wake)();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(event)) => Err(Box::new(event)),
            // The UI is gone: nobody is left to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
        }
    }
}

/// Why a command did not reach its host.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SendError {
    #[error("no host named {0} in this profile")]
    UnknownHost(HostId),
    #[error("host {0} is busy with earlier commands; try again in a moment")]
    Busy(HostId),
    #[error("the backend has stopped")]
    Stopped,
}

/// The UI's handle on the backend.
pub(crate) struct Backend {
    hosts: HashMap<HostId, mpsc::Sender<Command>>,
    order: Vec<HostId>,
    shutdown: watch::Sender<bool>,
    actors: Vec<JoinHandle<()>>,
    runtime: Handle,
}

impl Backend {
    /// Starts one actor per host on `runtime`; events arrive on the returned receiver.
    pub(crate) fn start(
        runtime: &Handle,
        entries: &[HostEntry],
        memory: Option<&ShapingMemory>,
        wake: Waker,
    ) -> (Self, mpsc::Receiver<Event>) {
        let hosts: Vec<HostId> = entries.iter().map(HostEntry::id).collect();
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let sink = EventSink { tx: event_tx, wake };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut senders = HashMap::new();
        let mut actors = Vec::new();
        for entry in entries {
            let (tx, rx) = mpsc::channel(HOST_COMMAND_CAPACITY);
            senders.insert(entry.id(), tx);
            let actor = actor::HostActor::new(
                entry,
                sink.clone(),
                rx,
                shutdown_rx.clone(),
                memory.cloned(),
            );
            actors.push(runtime.spawn(actor.run()));
        }
        let backend = Self {
            hosts: senders,
            order: hosts,
            shutdown,
            actors,
            runtime: runtime.clone(),
        };
        (backend, event_rx)
    }

    /// The hosts in profile order.
    pub(crate) fn hosts(&self) -> &[HostId] {
        &self.order
    }

    /// Queues a command for its host without waiting.
    pub(crate) fn send(&self, command: Command) -> Result<(), SendError> {
        let host = command.host().clone();
        let tx = self
            .hosts
            .get(&host)
            .ok_or_else(|| SendError::UnknownHost(host.clone()))?;
        tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Busy(host),
            mpsc::error::TrySendError::Closed(_) => SendError::Stopped,
        })
    }

    /// The runtime the actors run on, for work the window starts off its own thread.
    pub(crate) fn runtime(&self) -> &Handle {
        &self.runtime
    }

    /// Tells every actor to stop and lets them finish on the runtime, without waiting: for
    /// replacing the backend while the window keeps drawing.
    pub(crate) fn stop_in_background(&mut self) {
        self.shutdown.send_replace(true);
        let actors = std::mem::take(&mut self.actors);
        self.runtime.spawn(async move {
            for actor in actors {
                // A panicked actor has nothing left to stop.
                actor.await.ok();
            }
        });
    }

    /// Tells every actor to stop and waits for them, at most a few seconds.
    pub(crate) fn shutdown(&mut self) {
        self.shutdown.send_replace(true);
        let actors = std::mem::take(&mut self.actors);
        let wait_all = async move {
            for actor in actors {
                // A panicked actor has nothing left to stop.
                actor.await.ok();
            }
        };
        let handle = self.runtime.clone();
        let deadline = Duration::from_secs(SHUTDOWN_DEADLINE_SECS);
        // Waiting from a runtime thread would stall it: only block from outside the runtime.
        if Handle::try_current().is_err()
            && handle
                .block_on(tokio::time::timeout(deadline, wait_all))
                .is_err()
        {
            tracing::warn!(
                deadline_secs = SHUTDOWN_DEADLINE_SECS,
                "host actors did not stop in time"
            );
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

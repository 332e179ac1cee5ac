//! What the window asks of one container beyond its lifecycle, and what comes back: Run (create
//! and start), Exec, and the live streams of the Top, Stats and Logs tabs.
//!
//! These are one `Command` variant and one `Event` variant of their own so that the seam stays
//! readable: [`ToolCommand`] in, [`ToolEvent`] out. One-shot work (run, exec, reading what a Run
//! dialog offers) is done here, each as its own task of the host's actor; the streams are
//! `streams.rs`. Nothing here touches the UI.

use std::collections::BTreeSet;

use futures_util::StreamExt as _;

use super::EventSink;
use crate::docker::DockerError;
use crate::docker::exec::{self, OutputChunk};
use crate::docker::logs::LogLine;
use crate::docker::run::{self, RunSpec, RunStage};
use crate::docker::stats::StatsSample;
use crate::docker::top::ProcessTable;
use crate::hosts::connect::HostConnection;
use crate::model::{ContainerId, ContainerKey, HostId};

/// The most output chunks of a command gathered into one event.
const EXEC_CHUNKS_PER_EVENT: usize = 64;

/// A live view of one container that the window wants while a tab shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamKey {
    pub(crate) id: ContainerId,
    pub(crate) kind: StreamKind,
}

/// Which live view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum StreamKind {
    /// Resource use, about once a second.
    Stats,
    /// New output lines, after the last ones.
    Logs,
    /// The process list, every few seconds.
    Top,
}

impl StreamKind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Stats => "stats",
            Self::Logs => "logs",
            Self::Top => "processes",
        }
    }
}

/// Something asked of one container or of the host's engine for one.
#[derive(Clone, Debug)]
pub(crate) enum ToolCommand {
    /// Read the images and networks the Run dialog offers for the host.
    ReadRunChoices { host: HostId },
    /// Check, create and start a container; `request` ties the answers to the dialog.
    RunContainer {
        host: HostId,
        request: u64,
        spec: Box<RunSpec>,
    },
    /// Run `command` in the container; `run` ties its output to the Exec tab's entry.
    ExecInContainer {
        key: ContainerKey,
        run: u64,
        command: Vec<String>,
    },
    /// The live views the window shows now on this host: those not named stop.
    WatchStreams {
        host: HostId,
        streams: BTreeSet<StreamKey>,
    },
}

impl ToolCommand {
    pub(crate) fn host(&self) -> &HostId {
        match self {
            Self::ReadRunChoices { host }
            | Self::RunContainer { host, .. }
            | Self::WatchStreams { host, .. } => host,
            Self::ExecInContainer { key, .. } => &key.host,
        }
    }

    /// The answer to this command when the host cannot run it now (`None`: nothing to say,
    /// as for the streams, which the actor remembers until the host is back).
    pub(crate) fn refusal(self, error: String) -> Option<ToolEvent> {
        match self {
            Self::ReadRunChoices { host } => Some(ToolEvent::RunChoicesRead {
                host,
                images: Err(error.clone()),
                networks: Err(error),
            }),
            Self::RunContainer { host, request, .. } => Some(ToolEvent::RunFinished {
                host,
                request,
                outcome: Err(error),
            }),
            Self::ExecInContainer { key, run, .. } => Some(ToolEvent::ExecFinished {
                key,
                run,
                outcome: Err(error),
            }),
            Self::WatchStreams { .. } => None,
        }
    }
}

/// What came of a [`ToolCommand`], or news from a live view.
#[derive(Clone, Debug)]
pub(crate) enum ToolEvent {
    RunChoicesRead {
        host: HostId,
        images: Result<Vec<String>, String>,
        networks: Result<Vec<String>, String>,
    },
    RunProgressed {
        host: HostId,
        request: u64,
        stage: RunStage,
    },
    RunFinished {
        host: HostId,
        request: u64,
        outcome: Result<ContainerKey, String>,
    },
    ExecOutput {
        key: ContainerKey,
        run: u64,
        chunks: Vec<OutputChunk>,
    },
    /// The command's exit code (`None` when the engine knows none).
    ExecFinished {
        key: ContainerKey,
        run: u64,
        outcome: Result<Option<i64>, String>,
    },
    /// The latest sample of each watched container of the host since the last such event.
    StatsSampled {
        host: HostId,
        samples: Vec<(ContainerId, StatsSample)>,
    },
    LogLines {
        key: ContainerKey,
        lines: Vec<LogLine>,
    },
    /// A live view restarted from scratch: what was shown for it is stale.
    StreamRestarted { key: ContainerKey, kind: StreamKind },
    TopRead {
        key: ContainerKey,
        outcome: Result<ProcessTable, String>,
    },
    /// A live view failed; it is retried while it is wanted.
    StreamFailed {
        key: ContainerKey,
        kind: StreamKind,
        error: String,
    },
}

/// Runs a one-shot tool command; intermediate news goes to `sink`, the returned event is the
/// last word. `WatchStreams` is the actor's, never sent here.
pub(super) async fn run(
    conn: &HostConnection,
    command: ToolCommand,
    sink: &EventSink,
) -> Option<ToolEvent> {
    match command {
        ToolCommand::ReadRunChoices { host } => Some(read_choices(conn, host).await),
        ToolCommand::RunContainer {
            host,
            request,
            spec,
        } => {
            let progress_host = host.clone();
            let outcome = run::run(&conn.docker, &host.0, &spec, |stage| {
                // Progress is news, not a result: when the queue is full it is left out.
                sink.try_send(super::Event::Tool(ToolEvent::RunProgressed {
                    host: progress_host.clone(),
                    request,
                    stage,
                }))
                .ok();
            })
            .await
            .map(|id| ContainerKey {
                host: host.clone(),
                id,
            })
            .map_err(|e| e.to_string());
            if let Err(error) = &outcome {
                tracing::warn!(host = %host, %error, "run refused or failed");
            }
            Some(ToolEvent::RunFinished {
                host,
                request,
                outcome,
            })
        }
        ToolCommand::ExecInContainer { key, run, command } => {
            let outcome = exec_streaming(conn, &key, run, &command, sink)
                .await
                .map_err(|e| format!("cannot run '{}' in {key}: {e}", command.join(" ")));
            Some(ToolEvent::ExecFinished { key, run, outcome })
        }
        ToolCommand::WatchStreams { .. } => None,
    }
}

async fn exec_streaming(
    conn: &HostConnection,
    key: &ContainerKey,
    run: u64,
    command: &[String],
    sink: &EventSink,
) -> Result<Option<i64>, DockerError> {
    let started = exec::start(&conn.docker, &key.id, command).await?;
    let mut output = started.output.ready_chunks(EXEC_CHUNKS_PER_EVENT);
    while let Some(batch) = output.next().await {
        let chunks = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
        sink.send(super::Event::Tool(ToolEvent::ExecOutput {
            key: key.clone(),
            run,
            chunks,
        }))
        .await;
    }
    exec::exit_code(&conn.docker, &started.exec_id).await
}

async fn read_choices(conn: &HostConnection, host: HostId) -> ToolEvent {
    let images = run::images(&conn.docker)
        .await
        .map_err(|e| format!("cannot list the images of {host}: {e}"));
    let networks = run::networks(&conn.docker)
        .await
        .map_err(|e| format!("cannot list the networks of {host}: {e}"));
    ToolEvent::RunChoicesRead {
        host,
        images,
        networks,
    }
}

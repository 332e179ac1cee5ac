//! One host's actor: owns its Docker client and command runner, follows the engine's event
//! stream, runs commands, and reconnects with backoff when the engine goes away.
//!
//! Each command runs as its own task, so a slow stop does not hold up the event stream or the
//! next command. The actor never blocks its runtime thread; the table follows the event stream,
//! there is no polling loop. While the engine is unreachable the actor answers every command
//! with the reason, and the UI keeps the host's last rows (dimmed).

use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use super::shaping::{ShapingService, report_event};
use super::streams::Streams;
use super::tools::{self, ToolCommand};
use super::{Command, Event, EventSink, HostKeyTrust};
use crate::docker::{self, DockerError};
use crate::hosts::{
    self,
    connect::{ConnectError, HostConnection, Passphrases},
    profile::HostEntry,
};
use crate::model::{ContainerId, HostId, HostState};
use crate::shaping::memory::ShapingMemory;
use crate::shaping::ops;
use crate::ssh::{HostKeyPolicy, SshError};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF_SECS`].
const FIRST_BACKOFF_SECS: u64 = 1;
const MAX_BACKOFF_SECS: u64 = 30;

pub(super) struct HostActor {
    host: HostId,
    /// How the host is reached, from the profile.
    entry: HostEntry,
    /// What to do with a host key known_hosts does not hold: refuse until the user decides.
    policy: HostKeyPolicy,
    /// Key passphrases the user typed for this host, in memory only.
    passphrases: Passphrases,
    sink: EventSink,
    commands: mpsc::Receiver<Command>,
    shutdown: watch::Receiver<bool>,
    /// Remembered shaping, timed shaping and traffic sampling.
    shaping: ShapingService,
    /// The live views the window shows for this host's containers.
    streams: Streams,
}

impl HostActor {
    /// The actor of one profile host.
    pub(super) fn new(
        entry: &HostEntry,
        sink: EventSink,
        commands: mpsc::Receiver<Command>,
        shutdown: watch::Receiver<bool>,
        memory: Option<ShapingMemory>,
    ) -> Self {
        Self {
            shaping: ShapingService::new(entry.id(), memory, sink.clone()),
            host: entry.id(),
            entry: entry.clone(),
            policy: HostKeyPolicy::Strict,
            passphrases: Passphrases::default(),
            streams: Streams::new(entry.id(), sink.clone()),
            sink,
            commands,
            shutdown,
        }
    }

    pub(super) async fn run(mut self) {
        let mut backoff_secs = FIRST_BACKOFF_SECS;
        loop {
            self.set_state(HostState::Connecting).await;
            let outcome = match connect(&self.entry, self.policy.clone(), &self.passphrases).await {
                Ok((conn, version)) => {
                    backoff_secs = FIRST_BACKOFF_SECS;
                    tracing::info!(host = %self.host, docker_version = %version, "connected");
                    let warning = conn.warning.clone();
                    self.set_state(HostState::Online {
                        docker_version: version,
                        warning,
                    })
                    .await;
                    self.streams.resume(&conn);
                    let served = self.serve(&conn).await.map_err(|e| e.to_string());
                    self.streams.pause();
                    self.shaping.stop_all();
                    served
                }
                Err(ConnectError::Ssh(SshError::HostKeyUnknown {
                    key_type,
                    fingerprint,
                    known_hosts,
                    ..
                })) => {
                    if self
                        .ask_trust(key_type, fingerprint, known_hosts)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Err(ConnectError::NeedsPassphrase { key }) => {
                    if self.ask_passphrase(key).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(err) => Err(err.to_string()),
            };
            let reason = match outcome {
                Ok(()) => return,
                Err(reason) => reason,
            };

            let wait = Duration::from_secs(backoff_secs);
            backoff_secs = (backoff_secs * 2).min(MAX_BACKOFF_SECS);
            tracing::warn!(host = %self.host, reason = %reason, retry_in_secs = wait.as_secs(), "host offline");
            let retry_at = SystemTime::now() + wait;
            self.set_state(HostState::Offline {
                reason: reason.clone(),
                retry_at,
            })
            .await;
            if self.wait_offline(wait, &reason).await.is_err() {
                return;
            }
        }
    }

    /// Serves commands and engine events until the engine goes away (`Err`) or shutdown (`Ok`).
    async fn serve(&mut self, conn: &HostConnection) -> Result<(), DockerError> {
        // Subscribe before listing, so that no change falls between the list and the stream.
        let mut events = Box::pin(docker::container_events(&conn.docker));
        let containers = docker::list(&conn.docker, &self.host, true).await?;
        self.shaping.resume(conn, &containers).await;
        self.sink
            .send(Event::ContainersListed {
                host: self.host.clone(),
                containers,
            })
            .await;

        loop {
            tokio::select! {
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        return Ok(());
                    }
                }
                command = self.commands.recv() => match command {
                    // An answer to a question no longer asked changes nothing.
                    Some(command) if command.is_answer() => {}
                    Some(Command::Tool(ToolCommand::WatchStreams { streams, .. })) => {
                        self.streams.want(streams);
                    }
                    Some(command) => {
                        if let Some(command) = self.shaping.take(conn, command) {
                            self.spawn_command(conn.clone(), command);
                        }
                    }
                    None => return Ok(()),
                },
                event = events.next() => match event {
                    Some(Ok(event)) if event.is_noise() => {}
                    Some(Ok(event)) => self.follow_event(conn, event).await?,
                    Some(Err(err)) => return Err(err),
                    None => return Err(DockerError::EventsEnded),
                },
            }
        }
    }

    /// Updates the one row an engine event touched.
    async fn follow_event(
        &mut self,
        conn: &HostConnection,
        event: docker::ContainerEvent,
    ) -> Result<(), DockerError> {
        tracing::trace!(host = %self.host, id = %event.id, action = %event.action, "engine event");
        // A destroyed container is gone; any other event may have changed its row.
        let row = if event.is_removal() {
            None
        } else {
            docker::one(&conn.docker, &self.host, &event.id).await?
        };
        if let Some(container) = &row
            && event.action == "start"
            && container.state.is_running()
        {
            self.shaping.container_started(conn, container);
        }
        let news = match row {
            Some(container) => Event::ContainerUpdated { container },
            None => Event::ContainerRemoved {
                host: self.host.clone(),
                id: ContainerId(event.id),
            },
        };
        self.sink.send(news).await;
        Ok(())
    }

    fn spawn_command(&self, conn: HostConnection, command: Command) {
        let sink = self.sink.clone();
        let host = self.host.clone();
        tokio::spawn(async move {
            let event = match command {
                Command::Tool(tool) => tools::run(&conn, tool, &sink).await.map(Event::Tool),
                other => Some(run_command(&conn, other).await),
            };
            tracing::debug!(host = %host, "command finished");
            if let Some(event) = event {
                sink.send(event).await;
            }
        });
    }

    /// Waits out the backoff, answering commands with the reason the host is offline.
    async fn wait_offline(&mut self, wait: Duration, reason: &str) -> Result<(), ()> {
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Ok(()),
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        return Err(());
                    }
                }
                command = self.commands.recv() => match command {
                    Some(command) if command.is_answer() => {}
                    Some(Command::Tool(ToolCommand::WatchStreams { streams, .. })) => {
                        self.streams.want(streams);
                    }
                    Some(command) => {
                        let error = format!("host {} is offline: {reason}", self.host);
                        if let Some(event) = refusal(command, error) {
                            self.sink.send(event).await;
                        }
                    }
                    None => return Err(()),
                },
            }
        }
    }

    /// Asks the user about an unknown host key and waits for the answer. `Err` on shutdown.
    async fn ask_trust(
        &mut self,
        key_type: String,
        fingerprint: String,
        known_hosts: std::path::PathBuf,
    ) -> Result<(), ()> {
        tracing::warn!(host = %self.host, %fingerprint, "unknown host key: asking the user");
        let known_hosts = known_hosts.display().to_string();
        let question = Event::HostKeyUnknown {
            host: self.host.clone(),
            key_type: key_type.clone(),
            fingerprint: fingerprint.clone(),
            known_hosts: known_hosts.clone(),
        };
        self.sink.send(question).await;
        let mut reason = format!(
            "its {key_type} key {fingerprint} is not in {known_hosts}: trust it or reject it"
        );
        loop {
            let trust = self
                .wait_for_answer(&reason, |command| match command {
                    Command::TrustHostKey {
                        fingerprint: answered,
                        trust,
                        ..
                    } if *answered == fingerprint => Some(*trust),
                    _ => None,
                })
                .await?;
            let accepted = Some(fingerprint.clone());
            self.policy = match trust {
                HostKeyTrust::AcceptOnce => HostKeyPolicy::AcceptOnce {
                    fingerprint: accepted,
                },
                HostKeyTrust::AcceptAndSave => HostKeyPolicy::AcceptAndSave {
                    fingerprint: accepted,
                },
                HostKeyTrust::Reject => {
                    tracing::info!(host = %self.host, "host key rejected");
                    reason = format!("you rejected its {key_type} key {fingerprint}");
                    continue;
                }
            };
            return Ok(());
        }
    }

    /// Asks the user for the passphrase of a key file and waits for it; it is kept in memory
    /// for reconnects and never written anywhere. `Err` on shutdown.
    async fn ask_passphrase(&mut self, key: std::path::PathBuf) -> Result<(), ()> {
        tracing::info!(host = %self.host, key = %key.display(), "asking for a key passphrase");
        self.sink
            .send(Event::PassphraseNeeded {
                host: self.host.clone(),
                key: key.clone(),
            })
            .await;
        let mut reason = format!("the key {} needs its passphrase", key.display());
        loop {
            let answer = self
                .wait_for_answer(&reason, |command| match command {
                    Command::ProvidePassphrase {
                        key: asked,
                        passphrase,
                        ..
                    } if *asked == key => Some(passphrase.clone()),
                    _ => None,
                })
                .await?;
            match answer {
                Some(passphrase) => {
                    self.passphrases.insert(key, passphrase);
                    return Ok(());
                }
                None => reason = format!("no passphrase given for the key {}", key.display()),
            }
        }
    }

    /// Shows the host as waiting for the user (`reason`), refuses other commands meanwhile,
    /// and returns the first answer `pick` takes. `Err` on shutdown.
    async fn wait_for_answer<T>(
        &mut self,
        reason: &str,
        pick: impl Fn(&Command) -> Option<T>,
    ) -> Result<T, ()> {
        self.set_state(HostState::Untrusted {
            reason: reason.to_owned(),
        })
        .await;
        loop {
            tokio::select! {
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        return Err(());
                    }
                }
                command = self.commands.recv() => match command {
                    None => return Err(()),
                    Some(Command::Tool(ToolCommand::WatchStreams { streams, .. })) => {
                        self.streams.want(streams);
                    }
                    Some(command) => match pick(&command) {
                        Some(answer) => return Ok(answer),
                        // An answer to a question no longer asked changes nothing.
                        None if command.is_answer() => {}
                        None => {
                            let error = format!("host {} is not connected: {reason}", self.host);
                            if let Some(event) = refusal(command, error) {
                                self.sink.send(event).await;
                            }
                        }
                    },
                },
            }
        }
    }

    async fn set_state(&self, state: HostState) {
        self.sink
            .send(Event::HostStateChanged {
                host: self.host.clone(),
                state,
            })
            .await;
    }
}

async fn connect(
    entry: &HostEntry,
    policy: HostKeyPolicy,
    passphrases: &Passphrases,
) -> Result<(HostConnection, String), ConnectError> {
    let conn = hosts::connect::connect(entry, policy, passphrases).await?;
    let version = docker::engine_version(&conn.docker).await?;
    Ok((conn, version))
}

/// Runs one command against a connected host and turns its outcome into the event to show.
async fn run_command(conn: &HostConnection, command: Command) -> Event {
    match command {
        Command::TrustHostKey { host, .. } | Command::ProvidePassphrase { host, .. } => {
            Event::Failed {
                host,
                error: "the host is connected already: it needs no answer".to_owned(),
            }
        }
        Command::ChangeLifecycle { key, action } => {
            let outcome = docker::lifecycle(&conn.docker, &key.id, action)
                .await
                .map_err(|e| format!("cannot {} {key}: {e}", action.verb()));
            Event::LifecycleFinished {
                key,
                action,
                outcome,
            }
        }
        Command::InspectContainer { key } => match docker::inspect(&conn.docker, &key).await {
            Ok(details) => Event::ContainerInspected {
                details: Box::new(details),
            },
            Err(e) => Event::Failed {
                host: key.host.clone(),
                error: format!("cannot inspect {key}: {e}"),
            },
        },
        Command::PreviewShaping {
            key,
            profile,
            replace_foreign,
        } => {
            let options = ops::ApplyOptions { replace_foreign };
            let outcome = ops::preview(&conn.docker, &conn.runner, &key, &profile, &options)
                .await
                .map_err(|e| e.to_string());
            Event::ShapingPreviewed { key, outcome }
        }
        Command::ReadShaping { key } => report_event(
            key.clone(),
            ops::read(&conn.docker, &conn.runner, &key).await,
        ),
        // The shaping service takes these before any task is spawned.
        Command::ApplyShaping { key, .. }
        | Command::ClearShaping { key }
        | Command::WatchTraffic { key }
        | Command::UnwatchTraffic { key } => Event::Failed {
            host: key.host,
            error: "a shaping command reached the wrong runner".to_owned(),
        },
        Command::ClearAllShaping { host } => Event::Failed {
            host,
            error: "a shaping command reached the wrong runner".to_owned(),
        },
        // Tool commands are run by `tools::run`, which `spawn_command` calls instead.
        Command::Tool(tool) => {
            let host = tool.host().clone();
            let error = "a tool command reached the lifecycle runner".to_owned();
            match tool.refusal(error.clone()) {
                Some(event) => Event::Tool(event),
                None => Event::Failed { host, error },
            }
        }
    }
}

/// The event that answers a command the host cannot run now (`None`: nothing to answer).
fn refusal(command: Command, error: String) -> Option<Event> {
    Some(match command {
        Command::Tool(tool) => return tool.refusal(error).map(Event::Tool),
        Command::ChangeLifecycle { key, action } => Event::LifecycleFinished {
            key,
            action,
            outcome: Err(error),
        },
        Command::ApplyShaping { key, .. }
        | Command::ClearShaping { key }
        | Command::ReadShaping { key } => Event::ShapingFailed { key, error },
        Command::PreviewShaping { key, .. } => Event::ShapingPreviewed {
            key,
            outcome: Err(error),
        },
        Command::WatchTraffic { key } | Command::UnwatchTraffic { key } => {
            Event::TrafficFailed { key, error }
        }
        Command::ClearAllShaping { host } => Event::HostShapingCleared {
            host,
            outcome: Err(error),
        },
        Command::InspectContainer { key } => Event::Failed {
            host: key.host,
            error,
        },
        Command::TrustHostKey { host, .. } | Command::ProvidePassphrase { host, .. } => {
            Event::Failed { host, error }
        }
    })
}

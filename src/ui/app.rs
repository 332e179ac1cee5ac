//! The Quayside window: the app state, the one place per frame where backend events are taken
//! in, and the layout of the panels.
//!
//! The window never waits: it reads its own state, draws it and sends commands. Everything it
//! knows of hosts and containers arrives as events; nothing is shared with the backend.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use eframe::egui;
use tokio::sync::mpsc;

use super::host_shaping::{self, HostShaping};
use super::hosts_editor::{self, HostsEditor};
use super::network_tab;
use super::shaping_form::NetworkForms;
use super::store::ContainerStore;
use super::toasts::Toasts;
use super::{bulk::BulkReport, run_dialog, run_dialog::RunDialog, tools, tools::ToolViews};
use super::{details, host_key, host_tree, table};
use crate::backend::{Backend, Command, Event, SendError};
use crate::docker::Lifecycle;
use crate::hosts::profile::Profile;
use crate::model::{ContainerDetails, ContainerKey, HostId, HostState};
use crate::shaping::memory::ShapingMemory;
use crate::shaping::ops::Outcome;
use crate::shaping::presets::Preset;

/// The most events taken in per frame, so that a burst cannot stall one frame.
const MAX_EVENTS_PER_FRAME: usize = 10_000;

/// One host as the window shows it.
pub(crate) struct HostView {
    pub(crate) id: HostId,
    pub(crate) state: HostState,
    /// The last offline reason shown as a message, so that retries failing alike stay quiet.
    pub(crate) told_offline: Option<String>,
}

/// A host key known_hosts does not hold, waiting for the user's decision.
pub(crate) struct HostKeyQuestion {
    pub(crate) host: HostId,
    pub(crate) key_type: String,
    pub(crate) fingerprint: String,
    pub(crate) known_hosts: String,
}

/// Which tab of the property panel is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DetailTab {
    Details,
    Network,
    Exec,
    Top,
    Stats,
    Logs,
}

/// Everything the window shows and remembers between frames.
pub struct App {
    backend: Backend,
    events: mpsc::Receiver<Event>,
    pub(crate) hosts: Vec<HostView>,
    pub(crate) store: ContainerStore,
    pub(crate) selection: BTreeSet<ContainerKey>,
    /// The row a shift-click extends a selection from.
    pub(crate) anchor: Option<ContainerKey>,
    pub(crate) details: HashMap<ContainerKey, ContainerDetails>,
    pub(crate) tab: DetailTab,
    pub(crate) network: NetworkForms,
    pub(crate) toasts: Toasts,
    /// Host keys waiting for the user's decision, first asked first.
    pub(crate) host_key_questions: Vec<HostKeyQuestion>,
    /// Key files waiting for their passphrase: (host, key file), first asked first.
    pub(crate) passphrase_questions: Vec<(HostId, PathBuf)>,
    /// The passphrase being typed; cleared as soon as it is sent.
    pub(crate) passphrase_text: String,
    /// The profile the window runs with, and the file it came from.
    pub(crate) profile: Profile,
    pub(crate) profile_path: Option<PathBuf>,
    pub(crate) hosts_editor: HostsEditor,
    /// Wakes the window from the backend.
    repaint: egui::Context,
    /// Running containers the user asked to remove, waiting for confirmation.
    pub(crate) confirm_remove: Option<Vec<ContainerKey>>,
    /// Where shaping is remembered, handed to the backend again on reload.
    memory: Option<ShapingMemory>,
    /// Each host's preflight and the shaping trees found on it.
    pub(crate) host_shaping: HostShaping,
    /// A profile save running off the UI thread: where, and its outcome when done.
    preset_save: Option<std::sync::mpsc::Receiver<Result<PathBuf, String>>>,
    started: Option<Instant>,
    /// The Exec, Top, Stats and Logs tabs' state, and the live views asked of the hosts.
    pub(crate) tools: ToolViews,
    /// The Run… dialog.
    pub(crate) run_dialog: RunDialog,
    /// The last action on several containers, one result per container.
    pub(crate) bulk: BulkReport,
}

impl App {
    /// Opens the window over the hosts of a profile (read from `path`, when it came from a
    /// file): fonts installed on `ctx`, one backend actor per host on `runtime`, each waking
    /// the window when it has news.
    pub(crate) fn open(
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        profile: Profile,
        path: Option<PathBuf>,
    ) -> Self {
        Self::open_with_memory(
            runtime,
            ctx,
            profile,
            path,
            ShapingMemory::default_location(),
        )
    }

    /// Like [`App::open`], with the remembered shaping kept in `memory` (`None`: nowhere).
    pub(crate) fn open_with_memory(
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        profile: Profile,
        path: Option<PathBuf>,
        memory: Option<ShapingMemory>,
    ) -> Self {
        super::fonts::install(ctx);
        let (backend, events) =
            Backend::start(runtime, &profile.hosts, memory.as_ref(), waker(ctx));
        let mut app = Self::new(backend, events, ctx.clone(), profile, path);
        app.memory = memory;
        app
    }

    /// Stops the current hosts' actors and connects to those of `profile` instead.
    pub(crate) fn reload(&mut self, profile: Profile, path: Option<PathBuf>) {
        self.backend.stop_in_background();
        let runtime = self.backend.runtime().clone();
        let memory = self.memory.clone();
        let (backend, events) = Backend::start(
            &runtime,
            &profile.hosts,
            memory.as_ref(),
            waker(&self.repaint),
        );
        let editor = std::mem::take(&mut self.hosts_editor);
        let toasts = std::mem::take(&mut self.toasts);
        *self = Self::new(backend, events, self.repaint.clone(), profile, path);
        self.memory = memory;
        self.hosts_editor = editor;
        self.toasts = toasts;
    }

    pub(crate) fn runtime(&self) -> tokio::runtime::Handle {
        self.backend.runtime().clone()
    }

    /// A window over `backend`, taking its events from `events`.
    fn new(
        backend: Backend,
        events: mpsc::Receiver<Event>,
        repaint: egui::Context,
        profile: Profile,
        profile_path: Option<PathBuf>,
    ) -> Self {
        let hosts = backend
            .hosts()
            .iter()
            .map(|id| HostView {
                id: id.clone(),
                state: HostState::Connecting,
                told_offline: None,
            })
            .collect();
        Self {
            backend,
            events,
            hosts,
            store: ContainerStore::default(),
            selection: BTreeSet::new(),
            anchor: None,
            details: HashMap::new(),
            tab: DetailTab::Details,
            network: NetworkForms::default(),
            toasts: Toasts::default(),
            confirm_remove: None,
            profile,
            profile_path,
            hosts_editor: HostsEditor::default(),
            repaint,
            host_key_questions: Vec::new(),
            passphrase_questions: Vec::new(),
            passphrase_text: String::new(),
            memory: None,
            host_shaping: HostShaping::default(),
            preset_save: None,
            started: None,
            tools: ToolViews::default(),
            run_dialog: RunDialog::default(),
            bulk: BulkReport::default(),
        }
    }

    /// Reports the time from `started` to the end of the first frame on stderr.
    pub(crate) fn report_first_frame_since(&mut self, started: Instant) {
        self.started = Some(started);
    }

    /// Sends a command, turning a refusal into a message for the user.
    pub(crate) fn send(&mut self, command: Command) {
        if let Err(err) = self.backend.send(command) {
            tracing::warn!(error = %err, "command refused");
            self.toasts.error(err.to_string());
        }
    }

    /// Sends a command quietly; `false` only when the host's queue is full, so that the
    /// caller tries again later (an unknown or stopped host has nothing to retry).
    pub(crate) fn backend_accepts(&self, command: Command) -> bool {
        !matches!(self.backend.send(command), Err(SendError::Busy(_)))
    }

    /// Selects exactly `key` and asks for its details.
    pub(crate) fn select_only(&mut self, key: ContainerKey) {
        self.selection.clear();
        self.selection.insert(key.clone());
        self.anchor = Some(key.clone());
        self.send(Command::InspectContainer { key });
    }

    /// The one selected container, if exactly one is selected.
    pub(crate) fn single_selection(&self) -> Option<&ContainerKey> {
        if self.selection.len() == 1 {
            self.selection.iter().next()
        } else {
            None
        }
    }

    /// Asks for `action` on every selected container; removal of running ones asks first.
    pub(crate) fn act_on_selection(&mut self, action: Lifecycle) {
        let keys: Vec<ContainerKey> = self.selection.iter().cloned().collect();
        if let Lifecycle::Remove { force: false } = action {
            let running: Vec<ContainerKey> = keys
                .iter()
                .filter(|k| self.store.get(k).is_some_and(|row| row.state.is_running()))
                .cloned()
                .collect();
            if !running.is_empty() {
                self.confirm_remove = Some(keys);
                return;
            }
        }
        if keys.len() > 1 {
            let named = keys
                .iter()
                .map(|k| (k.clone(), self.display_name(k)))
                .collect();
            self.bulk.start(action, named);
        }
        for key in keys {
            self.send(Command::ChangeLifecycle { key, action });
        }
    }

    /// Takes in every waiting backend event.
    fn drain_events(&mut self) {
        for _ in 0..MAX_EVENTS_PER_FRAME {
            match self.events.try_recv() {
                Ok(event) => self.take_event(event),
                Err(_) => break,
            }
        }
    }

    fn take_event(&mut self, event: Event) {
        match event {
            Event::HostStateChanged { host, state } => {
                let Some(view) = self.hosts.iter_mut().find(|h| h.id == host) else {
                    return;
                };
                match &state {
                    HostState::Offline { reason, .. }
                        if view.told_offline.as_ref() != Some(reason) =>
                    {
                        view.told_offline = Some(reason.clone());
                        self.toasts
                            .error(format!("Host {host} is offline: {reason}"));
                    }
                    HostState::Online { .. } => view.told_offline = None,
                    _ => {}
                }
                if !matches!(state, HostState::Online { .. }) {
                    // Sampling stopped with the connection; the tab asks again once online.
                    self.network.host_reset(&host);
                }
                view.state = state;
            }
            Event::ContainersListed { host, containers } => {
                self.store.replace_host(&host, containers);
            }
            Event::ContainerUpdated { container } => {
                let key = container.key();
                if !container.state.is_running() {
                    self.network.container_down(&key);
                }
                self.store.upsert(container);
                if self.selection.contains(&key) {
                    self.send(Command::InspectContainer { key });
                }
            }
            Event::ContainerRemoved { host, id } => {
                let key = ContainerKey {
                    host: host.clone(),
                    id: id.clone(),
                };
                self.store.remove(&host, &id);
                self.network.container_down(&key);
                self.selection.remove(&key);
                self.details.remove(&key);
            }
            Event::ContainerInspected { details } => {
                self.details.insert(details.key.clone(), *details);
            }
            Event::LifecycleFinished {
                key,
                action,
                outcome,
            } => {
                self.bulk.finished(&key, action, &outcome);
                let name = self.display_name(&key);
                match outcome {
                    Ok(()) => self.toasts.info(format!("{name} {}", action.done_word())),
                    Err(error) => self.toasts.error(error),
                }
            }
            Event::ShapingReported { key, report } => {
                if let Some(row) = self.store.get(&key) {
                    let name = row.name.clone();
                    self.host_shaping.reported(&key.host, &name, &report);
                }
                if report.outcome != Outcome::Read {
                    let name = self.display_name(&key);
                    self.toasts.info(format!("{name}: {}", report.headline()));
                }
                self.network.reported(&key, report);
            }
            Event::ShapingFailed { key, error } => {
                self.toasts
                    .error(format!("{}: {error}", self.display_name(&key)));
                self.network.failed(&key, error);
            }
            Event::ShapingReapplied { key, report } => {
                let name = self.display_name(&key);
                let held = report
                    .profile()
                    .map(|p| p.summary())
                    .unwrap_or_else(|| "no shaping".to_owned());
                self.toasts.info(format!(
                    "{name} started again: its remembered shaping was re-applied ({held})"
                ));
                self.network.reported(&key, report);
            }
            Event::ShapingRemembered { key, remembered } => {
                self.network.remembered(&key, remembered);
            }
            Event::TimedShapingEnded { key, outcome } => {
                let name = self.display_name(&key);
                match outcome {
                    Ok(report) => {
                        self.toasts
                            .info(format!("{name}: the timed shaping ended and was cleared"));
                        self.network.reported(&key, report);
                    }
                    Err(error) => {
                        let error = format!("the timed shaping ended but clearing failed: {error}");
                        self.toasts.error(format!("{name}: {error}"));
                        self.network.failed(&key, error);
                    }
                }
            }
            Event::ShapingPreviewed { key, outcome } => self.network.previewed(&key, outcome),
            Event::HostChecked { host, preflight } => {
                self.host_shaping.preflight.insert(host, preflight);
            }
            Event::ShapingFound {
                host,
                trees,
                expired,
            } => {
                if !trees.is_empty() {
                    let labels: Vec<String> = trees.iter().map(|t| t.label()).collect();
                    self.toasts.info(format!(
                        "Host {host}: shaping of Quayside's found on {}",
                        labels.join(", ")
                    ));
                }
                for tree in &trees {
                    if let (Some(owner), Some(profile)) = (&tree.owner, &tree.profile)
                        && let Some(key) = self
                            .store
                            .containers_of(&host)
                            .find(|row| row.name == owner.name)
                            .map(|row| row.key())
                    {
                        self.network.set_held(&key, profile.clone());
                    }
                }
                self.host_shaping
                    .found
                    .insert(host, host_shaping::Found { trees, expired });
            }
            Event::HostShapingCleared { host, outcome } => match outcome {
                Ok(report) => {
                    self.host_shaping.found.remove(&host);
                    for cleared in report.trees.iter().filter(|t| t.cleared) {
                        if let Some(owner) = &cleared.tree.owner
                            && let Some(key) = self
                                .store
                                .containers_of(&host)
                                .find(|row| row.name == owner.name)
                                .map(|row| row.key())
                        {
                            self.network.container_down(&key);
                        }
                    }
                    let text = report.lines().join("; ");
                    if report.all_cleared() {
                        self.toasts.info(text);
                    } else {
                        self.toasts.error(text);
                    }
                }
                Err(error) => self
                    .toasts
                    .error(format!("Host {host}: clear all failed: {error}")),
            },
            Event::TrafficSampled { key, sample } => self.network.sampled(&key, sample),
            Event::TrafficFailed { key, error } => self.network.traffic_failed(&key, error),
            Event::HostKeyUnknown {
                host,
                key_type,
                fingerprint,
                known_hosts,
            } => {
                self.host_key_questions.retain(|q| q.host != host);
                self.host_key_questions.push(HostKeyQuestion {
                    host,
                    key_type,
                    fingerprint,
                    known_hosts,
                });
            }
            Event::PassphraseNeeded { host, key } => {
                self.passphrase_questions.retain(|(h, _)| *h != host);
                self.passphrase_questions.push((host, key));
            }
            Event::Failed { host, error } => self.toasts.error(format!("Host {host}: {error}")),
            Event::Tool(event) => tools::take_event(self, event),
        }
    }

    /// `host:name` for messages, or the short id when the row is gone.
    pub(crate) fn display_name(&self, key: &ContainerKey) -> String {
        match self.store.get(key) {
            Some(row) => format!("{}:{}", key.host, row.name),
            None => key.to_string(),
        }
    }

    /// Draws the whole window into `ui`.
    pub fn root_ui(&mut self, ui: &mut egui::Ui) {
        self.drain_events();

        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::left("hosts")
            .default_size(260.0)
            .show(ui, |ui| host_tree::hosts_ui(self, ui));
        egui::Panel::right("properties")
            .min_size(420.0)
            .default_size(600.0)
            .resizable(true)
            .show(ui, |ui| details::properties_ui(self, ui));
        egui::CentralPanel::default().show(ui, |ui| table::containers_ui(self, ui));

        details::confirm_remove_ui(self, ui.ctx());
        host_shaping::confirm_clear_all_ui(self, ui.ctx());
        host_key::question_ui(self, ui.ctx());
        host_key::passphrase_ui(self, ui.ctx());
        hosts_editor::hosts_window_ui(self, ui.ctx());
        run_dialog::run_dialog_ui(self, ui.ctx());
        self.toasts.ui(ui.ctx());
        for command in self.network.end_frame() {
            self.send(command);
        }
        self.poll_preset_save();
        // After every panel said which live views it shows: tell the hosts what changed.
        tools::sync_streams_ui(self);

        if let Some(started) = self.started.take() {
            eprintln!(
                "first frame after {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Quayside");
            ui.separator();
            if ui
                .button("Hosts…")
                .on_hover_text("Add, edit and remove hosts; open and save profiles")
                .clicked()
            {
                self.hosts_editor
                    .show_for(&self.profile, self.profile_path.as_ref());
            }
            if ui
                .button("Run…")
                .on_hover_text("Create and start a container on a host")
                .clicked()
            {
                run_dialog::open(self);
            }
            ui.separator();
            let mut filter = self.store.filter().to_owned();
            let label = ui.label("Filter");
            let edit = egui::TextEdit::singleline(&mut filter)
                .hint_text("name, image, host, state…")
                .desired_width(260.0);
            let response = ui.add(edit).labelled_by(label.id);
            if response.changed() {
                self.store.set_filter(&filter);
            }
            ui.label(format!("{} containers", self.store.len()));
        });
    }

    /// Why impairments are disabled on `host`, when its kernel has no netem.
    pub(crate) fn netem_off_reason(&self, host: &HostId) -> Option<String> {
        self.host_shaping.netem_missing(host)
    }

    /// The presets to choose from: built-in, then the profile's own.
    pub(crate) fn presets(&self) -> Vec<Preset> {
        network_tab::all_presets(&self.profile.presets)
    }

    /// Adds `preset` to the profile (replacing one of the same name) and saves the profile file
    /// off the UI thread; the outcome arrives as a message.
    pub(crate) fn save_preset(&mut self, preset: Preset) {
        if let Err(err) = preset.profile.validate() {
            self.toasts
                .error(format!("Preset {} not saved: {err}", preset.name));
            return;
        }
        if crate::shaping::presets::built_in()
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(&preset.name))
        {
            self.toasts.error(format!(
                "{} is a built-in preset: choose another name",
                preset.name
            ));
            return;
        }
        let Some(path) = self
            .profile_path
            .clone()
            .or_else(crate::hosts::default_profile_path)
        else {
            self.toasts
                .error("No folder for the profile file: open or save one with Hosts…");
            return;
        };
        let mut profile = self.profile.clone();
        profile
            .presets
            .retain(|p| !p.name.eq_ignore_ascii_case(&preset.name));
        profile.presets.push(preset);
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = self.repaint.clone();
        let to_save = profile.clone();
        self.backend.runtime().spawn_blocking(move || {
            let outcome = to_save
                .save(&path)
                .map(|()| path)
                .map_err(|e| e.to_string());
            // The window may be gone; then nobody waits for the answer.
            tx.send(outcome).ok();
            ctx.request_repaint();
        });
        self.profile = profile;
        self.preset_save = Some(rx);
    }

    fn poll_preset_save(&mut self) {
        let Some(rx) = &self.preset_save else {
            return;
        };
        match rx.try_recv() {
            Ok(Ok(path)) => {
                self.toasts
                    .info(format!("Preset saved in {}", path.display()));
                self.profile_path = Some(path);
                self.preset_save = None;
            }
            Ok(Err(error)) => {
                self.toasts.error(format!("Preset not saved: {error}"));
                self.preset_save = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.preset_save = None,
        }
    }

    /// Stops the backend's actors, waiting a few seconds at most.
    pub(crate) fn shutdown(&mut self) {
        self.backend.shutdown();
    }
}

/// Wakes the window on `ctx` when the backend has news.
fn waker(ctx: &egui::Context) -> crate::backend::Waker {
    let ctx = ctx.clone();
    std::sync::Arc::new(move || ctx.request_repaint())
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.root_ui(ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.shutdown();
    }
}

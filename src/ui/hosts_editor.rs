//! The Hosts window: the profile's hosts, added, edited and removed; the profile opened from
//! and saved to a file, through the desktop's file dialogs or a typed path beside them (a
//! dialog may be unavailable, and then says so within milliseconds).
//!
//! Edits stay in the window until Apply, which reconnects to the edited hosts. Saving never
//! overwrites a file that does not parse, and goes through a temporary file (`profile.rs`).
//! File dialogs, and every read and write of a profile file, run off the UI thread; their
//! outcome is taken in by a later frame.

use std::path::PathBuf;

use eframe::egui;
use tokio::sync::oneshot;

use super::app::App;
use crate::hosts::profile::{DockerEndpoint, HostEntry, PrivilegeMode, Profile};

/// What a file action does with its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileAction {
    Open,
    Save,
}

/// Where a file action's path comes from.
enum FileTarget {
    /// The path typed beside the buttons.
    Typed(PathBuf),
    /// The desktop's file dialog (which may have none to show).
    Dialog,
}

/// What a file action found, for a later frame to take in.
enum FileOutcome {
    NoneChosen,
    Opened(PathBuf, Result<Profile, String>),
    Saved(PathBuf, Result<(), String>),
}

/// The Hosts window's state.
#[derive(Default)]
pub(crate) struct HostsEditor {
    pub(crate) open: bool,
    /// The profile as edited; applied to the window with Apply.
    pub(crate) draft: Profile,
    /// The typed path for Open and Save.
    pub(crate) path_text: String,
    /// The host being edited: its index (`None` for a new one) and its fields as typed.
    form: Option<(Option<usize>, HostForm)>,
    /// The last outcome: `(is_error, text)`.
    message: Option<(bool, String)>,
    /// A file action under way off the UI thread.
    pending: Option<oneshot::Receiver<FileOutcome>>,
}

/// One host's fields as text, checked when saved into the draft.
#[derive(Clone, Debug, Default)]
struct HostForm {
    name: String,
    address: String,
    port: String,
    user: String,
    identity_file: String,
    known_hosts: String,
    agent: bool,
    docker: DockerEndpoint,
    docker_socket: String,
    privilege: PrivilegeMode,
    group: String,
}

impl HostForm {
    fn from_entry(e: &HostEntry) -> Self {
        Self {
            name: e.name.clone(),
            address: e.address.clone().unwrap_or_default(),
            port: e.port.to_string(),
            user: e.user.clone().unwrap_or_default(),
            identity_file: e.identity_file.clone().unwrap_or_default(),
            known_hosts: e.known_hosts.clone().unwrap_or_default(),
            agent: e.agent,
            docker: e.docker.clone(),
            docker_socket: e.docker_socket.clone(),
            privilege: e.privilege,
            group: e.group.clone().unwrap_or_default(),
        }
    }

    fn new_remote() -> Self {
        Self {
            docker: DockerEndpoint::Ssh,
            ..Self::from_entry(&HostEntry::local())
        }
    }

    /// The entry these fields describe, or what is wrong with them.
    fn to_entry(&self, keep: &HostEntry) -> Result<HostEntry, String> {
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let port = self
            .port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("port `{}` is not a number from 1 to 65535", self.port))?;
        Ok(HostEntry {
            name: self.name.trim().to_owned(),
            address: optional(&self.address),
            port,
            user: optional(&self.user),
            identity_file: optional(&self.identity_file),
            known_hosts: optional(&self.known_hosts),
            agent: self.agent,
            docker: self.docker.clone(),
            docker_socket: self.docker_socket.trim().to_owned(),
            privilege: self.privilege,
            group: optional(&self.group),
            ..keep.clone()
        })
    }
}

impl HostsEditor {
    /// Opens the window on the profile the app runs with.
    pub(crate) fn show_for(&mut self, profile: &Profile, path: Option<&PathBuf>) {
        self.open = true;
        self.draft = profile.clone();
        self.path_text = path.map(|p| p.display().to_string()).unwrap_or_else(|| {
            crate::hosts::default_profile_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        });
        self.form = None;
        self.message = None;
    }

    fn say(&mut self, is_error: bool, text: impl Into<String>) {
        self.message = Some((is_error, text.into()));
    }

    fn typed_path(&self) -> Option<PathBuf> {
        Some(PathBuf::from(self.path_text.trim())).filter(|p| !p.as_os_str().is_empty())
    }

    /// Starts a file action off the UI thread: pick the path (from the dialog, or the typed
    /// one), then read or write the profile there.
    fn start_file_action(
        &mut self,
        action: FileAction,
        target: FileTarget,
        ctx: &egui::Context,
        runtime: &tokio::runtime::Handle,
    ) {
        let (tx, rx) = oneshot::channel();
        let repaint = ctx.clone();
        let start = self.typed_path();
        let draft = self.draft.clone();
        runtime.spawn_blocking(move || {
            let path = match target {
                FileTarget::Typed(path) => Some(path),
                FileTarget::Dialog => pick_in_dialog(action, start.as_deref()),
            };
            let outcome = match (path, action) {
                (None, _) => FileOutcome::NoneChosen,
                (Some(path), FileAction::Open) => {
                    let loaded = Profile::load(&path).map_err(|e| e.to_string());
                    FileOutcome::Opened(path, loaded)
                }
                (Some(path), FileAction::Save) => {
                    let saved = draft.save(&path).map_err(|e| e.to_string());
                    FileOutcome::Saved(path, saved)
                }
            };
            // The window may have closed meanwhile: then nobody waits for the outcome.
            tx.send(outcome).ok();
            repaint.request_repaint();
        });
        self.pending = Some(rx);
    }

    /// Takes in a file action's outcome, if it came.
    fn take_file_outcome(&mut self) {
        let Some(rx) = self.pending.as_mut() else {
            return;
        };
        let outcome = match rx.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => return,
            Err(oneshot::error::TryRecvError::Closed) => FileOutcome::NoneChosen,
            Ok(outcome) => outcome,
        };
        self.pending = None;
        match outcome {
            FileOutcome::NoneChosen => self.say(
                false,
                "No file chosen (if no dialog appeared, this desktop has none: type the path instead)",
            ),
            FileOutcome::Opened(path, Ok(profile)) => {
                self.draft = profile;
                self.path_text = path.display().to_string();
                self.say(false, format!("Opened {}: press Apply to connect to its hosts", path.display()));
            }
            FileOutcome::Saved(path, Ok(())) => {
                self.path_text = path.display().to_string();
                self.say(false, format!("Saved {}", path.display()));
            }
            FileOutcome::Opened(_, Err(err)) | FileOutcome::Saved(_, Err(err)) => self.say(true, err),
        }
    }
}

/// Asks the desktop's file dialog for a path; `None` when nothing was chosen or there is none.
fn pick_in_dialog(action: FileAction, start: Option<&std::path::Path>) -> Option<PathBuf> {
    let mut dialog = rfd::FileDialog::new().add_filter("Quayside profile", &["toml"]);
    if let Some(dir) = start.and_then(|p| p.parent()) {
        dialog = dialog.set_directory(dir);
    }
    match action {
        FileAction::Open => dialog.set_title("Open a host profile").pick_file(),
        FileAction::Save => dialog
            .set_title("Save the host profile as")
            .set_file_name("hosts.toml")
            .save_file(),
    }
}

pub(crate) fn hosts_window_ui(app: &mut App, ctx: &egui::Context) {
    if !app.hosts_editor.open {
        return;
    }
    app.hosts_editor.take_file_outcome();
    let runtime = app.runtime();
    let mut open = true;
    let mut apply = None;
    egui::Window::new("Hosts")
        .open(&mut open)
        .default_width(560.0)
        .show(ctx, |ui| {
            let editor = &mut app.hosts_editor;
            file_row_ui(editor, ui, &runtime);
            ui.separator();
            hosts_list_ui(editor, ui);
            if let Some((index, form)) = editor.form.as_mut() {
                ui.separator();
                let index = *index;
                if let Some(done) = host_form_ui(form, ui) {
                    finish_form(editor, index, done);
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui
                    .button("Apply")
                    .on_hover_text("Reconnect to the hosts listed here")
                    .clicked()
                {
                    apply = Some(editor.draft.clone());
                }
            });
            if let Some((is_error, text)) = &editor.message {
                let colour = if *is_error {
                    ui.visuals().error_fg_color
                } else {
                    ui.visuals().weak_text_color()
                };
                ui.add(egui::Label::new(egui::RichText::new(text).color(colour)).wrap());
            }
        });
    app.hosts_editor.open = open;
    if let Some(profile) = apply {
        let path = app.hosts_editor.typed_path();
        app.reload(profile, path);
        app.hosts_editor
            .say(false, "Applied: connecting to the hosts");
    }
}

fn file_row_ui(editor: &mut HostsEditor, ui: &mut egui::Ui, runtime: &tokio::runtime::Handle) {
    let idle = editor.pending.is_none();
    let mut start = None;
    ui.horizontal(|ui| {
        let label = ui.label("Profile file");
        ui.add(egui::TextEdit::singleline(&mut editor.path_text).desired_width(300.0))
            .labelled_by(label.id);
        let typed = editor.typed_path();
        if ui
            .add_enabled(idle, egui::Button::new("Open"))
            .on_hover_text("Open the typed path")
            .clicked()
            && let Some(path) = typed.clone()
        {
            start = Some((FileAction::Open, FileTarget::Typed(path)));
        }
        if ui
            .add_enabled(idle, egui::Button::new("Save"))
            .on_hover_text("Save to the typed path")
            .clicked()
            && let Some(path) = typed
        {
            start = Some((FileAction::Save, FileTarget::Typed(path)));
        }
    });
    ui.horizontal(|ui| {
        if ui.add_enabled(idle, egui::Button::new("Open…")).clicked() {
            start = Some((FileAction::Open, FileTarget::Dialog));
        }
        if ui
            .add_enabled(idle, egui::Button::new("Save as…"))
            .clicked()
        {
            start = Some((FileAction::Save, FileTarget::Dialog));
        }
        if !idle {
            ui.spinner();
            ui.weak("working on the file");
        }
    });
    if let Some((action, target)) = start {
        editor.start_file_action(action, target, ui.ctx(), runtime);
    }
}

fn hosts_list_ui(editor: &mut HostsEditor, ui: &mut egui::Ui) {
    let mut edit = None;
    let mut remove = None;
    egui::Grid::new("hosts_grid")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (i, host) in editor.draft.hosts.iter().enumerate() {
                ui.strong(&host.name);
                let place = match host.docker {
                    DockerEndpoint::Local => "this machine".to_owned(),
                    _ => format!(
                        "{}@{}:{} ({})",
                        host.user.as_deref().unwrap_or("$USER"),
                        host.address.as_deref().unwrap_or("?"),
                        host.port,
                        host.docker
                    ),
                };
                ui.label(place);
                if ui.small_button(format!("Edit {}", host.name)).clicked() {
                    edit = Some(i);
                }
                if ui.small_button(format!("Remove {}", host.name)).clicked() {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
    if ui.button("Add host…").clicked() {
        editor.form = Some((None, HostForm::new_remote()));
    }
    if let Some(i) = edit
        && let Some(host) = editor.draft.hosts.get(i)
    {
        editor.form = Some((Some(i), HostForm::from_entry(host)));
    }
    if let Some(i) = remove
        && i < editor.draft.hosts.len()
    {
        let gone = editor.draft.hosts.remove(i);
        editor.say(
            false,
            format!(
                "Removed {} (Apply to disconnect, Save to keep it so)",
                gone.name
            ),
        );
    }
}

/// The user's answer to the host form.
#[derive(Clone, Copy)]
enum FormDone {
    Save,
    Cancel,
}

fn host_form_ui(form: &mut HostForm, ui: &mut egui::Ui) -> Option<FormDone> {
    let mut done = None;
    egui::Grid::new("host_form").num_columns(2).show(ui, |ui| {
        let text = |ui: &mut egui::Ui, name: &str, value: &mut String, hint: &str| {
            let label = ui.label(name);
            ui.add(
                egui::TextEdit::singleline(value)
                    .hint_text(hint)
                    .desired_width(260.0),
            )
            .labelled_by(label.id);
            ui.end_row();
        };
        text(ui, "Name", &mut form.name, "lab-1");
        text(ui, "Address", &mut form.address, "host name or IP");
        text(ui, "Port", &mut form.port, "22");
        text(ui, "User", &mut form.user, "login user (default: yours)");
        text(
            ui,
            "Identity file",
            &mut form.identity_file,
            "~/.ssh/id_ed25519",
        );
        text(
            ui,
            "Known hosts",
            &mut form.known_hosts,
            "~/.ssh/known_hosts",
        );
        text(
            ui,
            "Docker socket",
            &mut form.docker_socket,
            "/var/run/docker.sock",
        );
        text(ui, "Group", &mut form.group, "optional");
        ui.label("Docker engine");
        ui.horizontal(|ui| {
            ui.selectable_value(&mut form.docker, DockerEndpoint::Ssh, "over SSH");
            ui.selectable_value(&mut form.docker, DockerEndpoint::Local, "this machine");
            ui.selectable_value(&mut form.docker, DockerEndpoint::Tcp, "tcp://");
        });
        ui.end_row();
        ui.label("Privileges");
        ui.horizontal(|ui| {
            ui.selectable_value(&mut form.privilege, PrivilegeMode::Auto, "auto");
            ui.selectable_value(&mut form.privilege, PrivilegeMode::Root, "root");
            ui.selectable_value(&mut form.privilege, PrivilegeMode::Sudo, "sudo -n");
        });
        ui.end_row();
        ui.label("");
        ui.checkbox(&mut form.agent, "Use ssh-agent");
        ui.end_row();
    });
    ui.horizontal(|ui| {
        if ui.button("Save host").clicked() {
            done = Some(FormDone::Save);
        }
        if ui.button("Cancel").clicked() {
            done = Some(FormDone::Cancel);
        }
    });
    done
}

fn finish_form(editor: &mut HostsEditor, index: Option<usize>, done: FormDone) {
    let Some((_, form)) = editor.form.take() else {
        return;
    };
    if let FormDone::Cancel = done {
        return;
    }
    let keep = index
        .and_then(|i| editor.draft.hosts.get(i))
        .cloned()
        .unwrap_or_else(HostEntry::local);
    let entry = match form.to_entry(&keep) {
        Ok(entry) => entry,
        Err(problem) => {
            editor.say(true, problem);
            editor.form = Some((index, form));
            return;
        }
    };
    let mut candidate = editor.draft.clone();
    match index.and_then(|i| candidate.hosts.get_mut(i)) {
        Some(slot) => *slot = entry,
        None => candidate.hosts.push(entry),
    }
    match candidate.check() {
        Ok(()) => {
            editor.draft = candidate;
            editor.say(
                false,
                "Host saved in the list (Apply to connect, Save to keep it in the file)",
            );
        }
        Err(problem) => {
            editor.say(true, problem);
            editor.form = Some((index, form));
        }
    }
}

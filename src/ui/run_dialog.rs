//! The Run… dialog: create and start a container on a chosen host.
//!
//! Every field is checked as it is typed, with the same checks `quayside run` makes, plus what
//! the window already knows of the host (its containers' names, its images): a bad port, a
//! taken name or an image the host lacks is said beside the field, and Create stays disabled
//! until nothing is wrong. The engine then checks again before creating. Progress comes back as
//! events; the new container is selected when it exists.

use std::collections::HashMap;

use eframe::egui;

use super::app::{App, DetailTab};
use crate::backend::Command;
use crate::backend::tools::{ToolCommand, ToolEvent};
use crate::docker::ports::{self, PortMapping, Protocol};
use crate::docker::run::{self, RestartPolicy, RunSpec, RunStage};
use crate::model::HostId;

/// One port mapping as typed in the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortRow {
    pub(crate) container_port: String,
    pub(crate) protocol: Protocol,
    pub(crate) host_port: String,
}

/// The images and networks a host offers, as last read.
#[derive(Default)]
pub(crate) struct HostChoices {
    pub(crate) images: Option<Result<Vec<String>, String>>,
    pub(crate) networks: Vec<String>,
}

/// The dialog's fields and the run under way.
#[derive(Default)]
pub(crate) struct RunDialog {
    pub(crate) open: bool,
    pub(crate) host: Option<HostId>,
    pub(crate) image: String,
    pub(crate) name: String,
    pub(crate) rows: Vec<PortRow>,
    /// The mappings in the original format; edits here replace the rows when they parse.
    pub(crate) ports_text: String,
    /// Why `ports_text` does not parse (the rows keep the last mappings that did).
    pub(crate) ports_text_error: Option<String>,
    pub(crate) env_text: String,
    pub(crate) command: String,
    pub(crate) network: String,
    pub(crate) restart: RestartPolicy,
    pub(crate) auto_remove: bool,
    pub(crate) attached: bool,
    pub(crate) choices: HashMap<HostId, HostChoices>,
    /// The run under way: its request id and its last reported step.
    pub(crate) pending: Option<(u64, Option<RunStage>)>,
    next_request: u64,
    /// Why the last run failed, as the engine or the checks said.
    pub(crate) failure: Option<String>,
}

impl RunDialog {
    /// Opens the dialog on `host` and asks the host for its images and networks.
    fn open_on(&mut self, host: HostId) -> Command {
        self.open = true;
        self.failure = None;
        self.host = Some(host.clone());
        Command::Tool(ToolCommand::ReadRunChoices { host })
    }

    /// The rows as mappings, or the first row's problem.
    fn rows_mappings(&self) -> Result<Vec<PortMapping>, String> {
        let text = rows_text(&self.rows);
        ports::parse(&text).map_err(|e| e.to_string())
    }
}

/// The rows in the original format (rows with both ports empty are left out).
fn rows_text(rows: &[PortRow]) -> String {
    rows.iter()
        .filter(|r| !(r.container_port.trim().is_empty() && r.host_port.trim().is_empty()))
        .map(|r| {
            format!(
                "{}/{}:{}",
                r.container_port.trim(),
                r.protocol.as_str(),
                r.host_port.trim()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn rows_of(mappings: &[PortMapping]) -> Vec<PortRow> {
    mappings
        .iter()
        .map(|m| PortRow {
            container_port: m.container_port.to_string(),
            protocol: m.protocol,
            host_port: match &m.host_ip {
                Some(ip) => format!("{ip}:{}", m.host_port),
                None => m.host_port.to_string(),
            },
        })
        .collect()
}

/// Checks the fields against each other and what the window knows of the host; returns the
/// spec to send, or every problem found (field, message).
pub(crate) fn check(app: &App) -> Result<RunSpec, Vec<(&'static str, String)>> {
    let d = &app.run_dialog;
    let mut problems = Vec::new();
    let Some(host) = &d.host else {
        return Err(vec![("Host", "choose a host".to_owned())]);
    };
    if let Some(e) = &d.ports_text_error {
        problems.push(("Ports", e.clone()));
    }
    let ports = d.rows_mappings().unwrap_or_else(|e| {
        problems.push(("Ports", e));
        Vec::new()
    });
    let env = run::parse_env(&d.env_text).unwrap_or_else(|e| {
        problems.push(("Environment", e.to_string()));
        Vec::new()
    });
    let command = run::split_command(&d.command).unwrap_or_else(|e| {
        problems.push(("Command", e));
        Vec::new()
    });
    let spec = RunSpec {
        image: d.image.trim().to_owned(),
        name: d.name.trim().to_owned(),
        ports,
        env,
        command,
        network: d.network.trim().to_owned(),
        restart: d.restart,
        auto_remove: d.auto_remove,
    };
    if let Err(e) = spec.validate() {
        let field = match e {
            run::RunError::NoImage => "Image",
            run::RunError::BadName(_) => "Name",
            run::RunError::BadEnv(_) => "Environment",
            run::RunError::Ports(_) => "Ports",
            _ => "Restart",
        };
        problems.push((field, e.to_string()));
    }
    if !spec.name.is_empty()
        && app
            .store
            .containers_of(host)
            .any(|row| row.name == spec.name)
    {
        problems.push((
            "Name",
            format!(
                "the name '{}' is taken on host {host}: choose another name",
                spec.name
            ),
        ));
    }
    if let Some(Ok(images)) = d.choices.get(host).and_then(|c| c.images.as_ref())
        && !spec.image.is_empty()
        && !image_listed(images, &spec.image)
    {
        problems.push((
            "Image",
            format!(
                "image '{}' is not on host {host}; images cannot be pulled from here",
                spec.image
            ),
        ));
    }
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// Whether `image` is among the host's tags (`busybox` means `busybox:latest`); an id prefix
/// is left for the engine to check.
fn image_listed(images: &[String], image: &str) -> bool {
    let with_tag = if image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        image.to_owned()
    } else {
        format!("{image}:latest")
    };
    images.iter().any(|i| *i == with_tag || *i == image)
        || image.starts_with("sha256:")
        || (image.len() >= 12 && image.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Opens the dialog on the first online host (or the selected container's host).
pub(crate) fn open(app: &mut App) {
    let host = app
        .single_selection()
        .map(|k| k.host.clone())
        .or_else(|| {
            app.hosts
                .iter()
                .find(|h| h.state.is_online())
                .map(|h| h.id.clone())
        })
        .or_else(|| app.hosts.first().map(|h| h.id.clone()));
    if let Some(host) = host {
        let command = app.run_dialog.open_on(host);
        app.send(command);
    } else {
        app.toasts
            .error("No host to run a container on: add one with Hosts…");
    }
}

/// Takes in the Run dialog's news.
pub(crate) fn take_event(app: &mut App, event: ToolEvent) {
    match event {
        ToolEvent::RunChoicesRead {
            host,
            images,
            networks,
        } => {
            let choices = app.run_dialog.choices.entry(host).or_default();
            choices.images = Some(images);
            // The network menu is a convenience: without it the name is typed.
            choices.networks = networks.unwrap_or_default();
        }
        ToolEvent::RunProgressed {
            host,
            request,
            stage,
        } => {
            if let Some((pending, last)) = &mut app.run_dialog.pending
                && *pending == request
                && app.run_dialog.host.as_ref() == Some(&host)
            {
                *last = Some(stage);
            }
        }
        ToolEvent::RunFinished {
            host,
            request,
            outcome,
        } => {
            if app.run_dialog.pending.map(|(p, _)| p) != Some(request) {
                return;
            }
            app.run_dialog.pending = None;
            match outcome {
                Ok(key) => {
                    let name = app.run_dialog.name.trim().to_owned();
                    app.toasts.info(if name.is_empty() {
                        format!("Started a container on {host}")
                    } else {
                        format!("Started {host}:{name}")
                    });
                    app.run_dialog.open = false;
                    app.run_dialog.failure = None;
                    if app.run_dialog.attached {
                        app.tab = DetailTab::Logs;
                    }
                    app.select_only(key);
                }
                Err(error) => app.run_dialog.failure = Some(error),
            }
        }
        _ => {}
    }
}

/// Draws the dialog when it is open.
pub(crate) fn run_dialog_ui(app: &mut App, ctx: &egui::Context) {
    if !app.run_dialog.open {
        return;
    }
    let checked = check(app);
    let hosts: Vec<HostId> = app.hosts.iter().map(|h| h.id.clone()).collect();
    let mut open = true;
    let mut send = None;
    let mut close = false;
    egui::Window::new("Run a container")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(520.0)
        .show(ctx, |ui| {
            let d = &mut app.run_dialog;
            let problem_of = |field: &str| -> Option<String> {
                match &checked {
                    Err(list) => list
                        .iter()
                        .filter(|(f, _)| *f == field)
                        .map(|(_, m)| m.clone())
                        .next(),
                    Ok(_) => None,
                }
            };
            egui::Grid::new("run_grid")
                .num_columns(2)
                .spacing([10.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Host");
                    let before = d.host.clone();
                    egui::ComboBox::from_id_salt("run_host")
                        .selected_text(d.host.as_ref().map(|h| h.0.as_str()).unwrap_or("choose…"))
                        .show_ui(ui, |ui| {
                            for h in &hosts {
                                ui.selectable_value(&mut d.host, Some(h.clone()), h.0.as_str());
                            }
                        });
                    if d.host != before
                        && let Some(host) = d.host.clone()
                    {
                        send = Some(d.open_on(host));
                    }
                    ui.end_row();

                    let label = ui.label("Image");
                    image_field_ui(d, label.id, ui);
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Image"));

                    let label = ui.label("Name");
                    ui.add(
                        egui::TextEdit::singleline(&mut d.name)
                            .id_salt("run_name")
                            .hint_text("empty: the engine picks one")
                            .desired_width(300.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Name"));

                    ui.label("Ports");
                    ports_ui(d, ui);
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Ports"));

                    let label = ui.label("Environment");
                    ui.add(
                        egui::TextEdit::multiline(&mut d.env_text)
                            .id_salt("run_env")
                            .hint_text("NAME=value, one per line")
                            .desired_rows(2)
                            .desired_width(300.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Environment"));

                    let label = ui.label("Command");
                    ui.add(
                        egui::TextEdit::singleline(&mut d.command)
                            .id_salt("run_command")
                            .hint_text("empty: the image's own, e.g. httpd -f -p 80")
                            .desired_width(300.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Command"));

                    ui.label("Network");
                    network_field_ui(d, ui);
                    ui.end_row();

                    ui.label("Restart");
                    egui::ComboBox::from_id_salt("run_restart")
                        .selected_text(d.restart.as_str())
                        .show_ui(ui, |ui| {
                            for p in RestartPolicy::ALL {
                                ui.selectable_value(&mut d.restart, p, p.as_str());
                            }
                        });
                    ui.end_row();
                    problem_row_ui(ui, problem_of("Restart"));

                    ui.label("");
                    ui.checkbox(&mut d.auto_remove, "Remove when it exits (auto-remove)");
                    ui.end_row();
                    ui.label("");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut d.attached, false, "Detached");
                        ui.radio_value(&mut d.attached, true, "Attached (follow its output)");
                    });
                    ui.end_row();
                });

            ui.separator();
            if let Some((_, stage)) = d.pending {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(stage.map_or("Sending…", RunStage::describe));
                });
            }
            if let Some(failure) = &d.failure {
                ui.colored_label(ui.visuals().error_fg_color, failure);
            }
            ui.horizontal(|ui| {
                let ready = checked.is_ok() && d.pending.is_none();
                let create = ui
                    .add_enabled(ready, egui::Button::new("Create and start"))
                    .on_disabled_hover_text("Fix what is marked above first");
                if create.clicked()
                    && let (Ok(spec), Some(host)) = (&checked, d.host.clone())
                {
                    d.next_request += 1;
                    d.pending = Some((d.next_request, None));
                    d.failure = None;
                    send = Some(Command::Tool(ToolCommand::RunContainer {
                        host,
                        request: d.next_request,
                        spec: Box::new(spec.clone()),
                    }));
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if !open || close {
        app.run_dialog.open = false;
    }
    if let Some(command) = send {
        app.send(command);
    }
}

fn problem_row_ui(ui: &mut egui::Ui, problem: Option<String>) {
    if let Some(problem) = problem {
        ui.label("");
        ui.colored_label(ui.visuals().error_fg_color, problem);
        ui.end_row();
    }
}

fn image_field_ui(d: &mut RunDialog, label: egui::Id, ui: &mut egui::Ui) {
    let images = d
        .host
        .as_ref()
        .and_then(|h| d.choices.get(h))
        .and_then(|c| c.images.clone());
    ui.vertical(|ui| {
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut d.image)
                    .id_salt("run_image")
                    .hint_text("busybox:latest")
                    .desired_width(220.0),
            )
            .labelled_by(label);
            match &images {
                Some(Ok(list)) => {
                    egui::ComboBox::from_id_salt("run_images")
                        .selected_text("host's images")
                        .show_ui(ui, |ui| {
                            for image in list {
                                ui.selectable_value(&mut d.image, image.clone(), image.as_str());
                            }
                        });
                }
                Some(Err(error)) => {
                    ui.weak("(images not listed)").on_hover_text(error.as_str());
                }
                None => {
                    ui.spinner();
                }
            }
        });
    });
}

fn network_field_ui(d: &mut RunDialog, ui: &mut egui::Ui) {
    let networks = d
        .host
        .as_ref()
        .and_then(|h| d.choices.get(h))
        .map(|c| c.networks.clone())
        .unwrap_or_default();
    let shown = if d.network.is_empty() {
        "default (bridge)"
    } else {
        d.network.as_str()
    };
    egui::ComboBox::from_id_salt("run_network")
        .selected_text(shown.to_owned())
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut d.network, String::new(), "default (bridge)");
            for n in &networks {
                ui.selectable_value(&mut d.network, n.clone(), n.as_str());
            }
        });
}

/// The port rows and, below them, the same mappings in the original format; editing either
/// updates the other.
fn ports_ui(d: &mut RunDialog, ui: &mut egui::Ui) {
    ui.vertical(|ui| {
        let mut rows_changed = false;
        let mut remove = None;
        for (i, row) in d.rows.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                rows_changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut row.container_port)
                            .id_salt(("run_port_c", i))
                            .hint_text("80")
                            .desired_width(50.0),
                    )
                    .changed();
                egui::ComboBox::from_id_salt(("run_proto", i))
                    .width(60.0)
                    .selected_text(row.protocol.as_str())
                    .show_ui(ui, |ui| {
                        for p in Protocol::ALL {
                            rows_changed |= ui
                                .selectable_value(&mut row.protocol, p, p.as_str())
                                .changed();
                        }
                    });
                ui.label("→ host");
                rows_changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut row.host_port)
                            .id_salt(("run_port_h", i))
                            .hint_text("8080")
                            .desired_width(110.0),
                    )
                    .changed();
                if ui
                    .small_button("×")
                    .on_hover_text("Remove this mapping")
                    .clicked()
                {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            d.rows.remove(i);
            rows_changed = true;
        }
        if ui.small_button("+ Add a port").clicked() {
            d.rows.push(PortRow {
                container_port: String::new(),
                protocol: Protocol::Tcp,
                host_port: String::new(),
            });
        }
        if rows_changed {
            d.ports_text = rows_text(&d.rows);
            d.ports_text_error = None;
        }
        ui.weak("Or as text: CONTAINER/PROTOCOL:HOST, comma-separated");
        let label = ui.label("Ports as text");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut d.ports_text)
                    .id_salt("run_ports_text")
                    .hint_text("80/tcp:83,443/tcp:448")
                    .desired_width(300.0),
            )
            .labelled_by(label.id);
        if edit.changed() {
            match ports::parse(&d.ports_text) {
                Ok(mappings) => {
                    d.rows = rows_of(&mappings);
                    d.ports_text_error = None;
                }
                Err(err) => d.ports_text_error = Some(err.to_string()),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_text_say_the_same_mappings() {
        let mappings = ports::parse("80/tcp:83,443/udp:127.0.0.1:448").unwrap_or_default();
        let rows = rows_of(&mappings);
        assert_eq!(rows_text(&rows), "80/tcp:83,443/udp:127.0.0.1:448");
        assert_eq!(ports::parse(&rows_text(&rows)), Ok(mappings));
    }

    #[test]
    fn an_image_without_a_tag_means_latest() {
        let images = vec!["quayside-lab/busybox:latest".to_owned()];
        assert!(image_listed(&images, "quayside-lab/busybox"));
        assert!(image_listed(&images, "quayside-lab/busybox:latest"));
        assert!(!image_listed(&images, "nginx:alpine"));
        assert!(!image_listed(&images, "quayside-lab/busybox:1.36"));
    }
}

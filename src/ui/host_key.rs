//! The question the window asks when a host shows a key its known_hosts file does not hold:
//! the key's SHA256 fingerprint, and the choice to accept it once, accept and save it, or
//! reject it. A changed key is never asked about: it is refused with its own error.

use eframe::egui;

use super::app::App;
use crate::backend::{Command, HostKeyTrust};

pub(crate) fn question_ui(app: &mut App, ctx: &egui::Context) {
    let Some(question) = app.host_key_questions.first() else {
        return;
    };
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("host_key_question")).show(ctx, |ui| {
        ui.set_max_width(520.0);
        ui.heading(format!("Trust the host key of {}?", question.host));
        ui.label(format!(
            "{} is not in {}. Check it against the host (ssh-keygen -lf on the host's key) before you trust it.",
            question.key_type, question.known_hosts
        ));
        ui.add_space(6.0);
        ui.label(egui::RichText::new(&question.fingerprint).monospace().strong());
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Accept once").on_hover_text("Connect now; ask again next time").clicked() {
                answer = Some(HostKeyTrust::AcceptOnce);
            }
            if ui.button("Accept and save").on_hover_text("Connect, and add the key to known_hosts").clicked() {
                answer = Some(HostKeyTrust::AcceptAndSave);
            }
            if ui.button("Reject").on_hover_text("Do not connect to this host").clicked() {
                answer = Some(HostKeyTrust::Reject);
            }
        });
    });
    if let Some(trust) = answer {
        let question = app.host_key_questions.remove(0);
        app.send(Command::TrustHostKey {
            host: question.host,
            fingerprint: question.fingerprint,
            trust,
        });
    }
}

/// Asks for the passphrase of a key file a host needs. What is typed goes to the host's actor
/// and is cleared here at once; it is never written anywhere.
pub(crate) fn passphrase_ui(app: &mut App, ctx: &egui::Context) {
    if !app.host_key_questions.is_empty() {
        return;
    }
    let Some((host, key)) = app.passphrase_questions.first().cloned() else {
        return;
    };
    let mut answer: Option<Option<String>> = None;
    egui::Modal::new(egui::Id::unique("passphrase_question")).show(ctx, |ui| {
        ui.set_max_width(480.0);
        ui.heading(format!("Passphrase for {}", host));
        ui.label(format!(
            "The key {} is protected by a passphrase.",
            key.display()
        ));
        let label = ui.label("Passphrase");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut app.passphrase_text)
                    .password(true)
                    .desired_width(300.0),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            if ui.button("Unlock").clicked() || entered {
                answer = Some(Some(std::mem::take(&mut app.passphrase_text)));
            }
            if ui.button("Cancel").clicked() {
                answer = Some(None);
            }
        });
    });
    if let Some(passphrase) = answer {
        app.passphrase_text.clear();
        app.passphrase_questions.remove(0);
        app.send(Command::ProvidePassphrase {
            host,
            key,
            passphrase,
        });
    }
}

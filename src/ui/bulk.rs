//! Results of one action on several containers: one line per container, filled in as each
//! host answers, so that a failure on one container is seen beside the successes.

use eframe::egui;

use crate::docker::Lifecycle;
use crate::model::ContainerKey;

/// One container's part of a bulk action.
pub(crate) struct BulkItem {
    pub(crate) key: ContainerKey,
    pub(crate) name: String,
    /// `None` until the host answers.
    pub(crate) outcome: Option<Result<(), String>>,
}

/// The last action taken on several containers at once.
#[derive(Default)]
pub(crate) struct BulkReport {
    pub(crate) action: Option<Lifecycle>,
    pub(crate) items: Vec<BulkItem>,
}

impl BulkReport {
    /// Starts a report for `action` on the containers `(key, display name)`.
    pub(crate) fn start(&mut self, action: Lifecycle, containers: Vec<(ContainerKey, String)>) {
        self.action = Some(action);
        self.items = containers
            .into_iter()
            .map(|(key, name)| BulkItem {
                key,
                name,
                outcome: None,
            })
            .collect();
    }

    /// Records a host's answer for one container of the report.
    pub(crate) fn finished(
        &mut self,
        key: &ContainerKey,
        action: Lifecycle,
        outcome: &Result<(), String>,
    ) {
        if self.action.map(|a| a.verb()) != Some(action.verb()) {
            return;
        }
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|i| i.key == *key && i.outcome.is_none())
        {
            item.outcome = Some(outcome.clone());
        }
    }

    /// Draws one line per container.
    pub(crate) fn report_ui(&self, ui: &mut egui::Ui) {
        let Some(action) = self.action else {
            return;
        };
        let done = self.items.iter().filter(|i| i.outcome.is_some()).count();
        let failed = self
            .items
            .iter()
            .filter(|i| matches!(i.outcome, Some(Err(_))))
            .count();
        ui.strong(format!(
            "{} of {} containers: {done} answered, {failed} failed",
            capitalised(action.verb()),
            self.items.len()
        ));
        for item in &self.items {
            ui.horizontal_wrapped(|ui| match &item.outcome {
                None => {
                    ui.spinner();
                    ui.label(&item.name);
                }
                Some(Ok(())) => {
                    ui.label(format!("{} {}", item.name, action.done_word()));
                }
                Some(Err(error)) => {
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("{}: {error}", item.name),
                    );
                }
            });
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerId, HostId};

    fn key(host: &str, id: &str) -> ContainerKey {
        ContainerKey {
            host: HostId(host.into()),
            id: ContainerId(id.into()),
        }
    }

    #[test]
    fn each_container_gets_its_own_answer_and_other_actions_are_ignored() {
        let mut report = BulkReport::default();
        report.start(
            Lifecycle::Stop,
            vec![(key("a", "1"), "a:x".into()), (key("b", "2"), "b:y".into())],
        );
        report.finished(&key("a", "1"), Lifecycle::Start, &Ok(()));
        assert!(report.items.iter().all(|i| i.outcome.is_none()));
        report.finished(&key("b", "2"), Lifecycle::Stop, &Err("boom".into()));
        report.finished(&key("a", "1"), Lifecycle::Stop, &Ok(()));
        assert_eq!(report.items[0].outcome, Some(Ok(())));
        assert_eq!(report.items[1].outcome, Some(Err("boom".into())));
    }
}

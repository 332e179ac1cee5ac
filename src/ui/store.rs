//! The window's copy of every host's containers, and the sorted, filtered view the table draws.
//!
//! Rows change only through backend events; the view (indices into the rows) is rebuilt only
//! when rows, sort or filter changed, never per frame, so a table of thousands of rows costs
//! only the rows in sight. A host that goes offline keeps its rows.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::{ContainerId, ContainerKey, ContainerSummary, HostId};

/// The columns of the container table, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    Host,
    Name,
    Id,
    Image,
    State,
    Status,
    Ports,
    Created,
}

impl Column {
    pub(crate) const ALL: [Self; 8] = [
        Self::Host,
        Self::Name,
        Self::Id,
        Self::Image,
        Self::State,
        Self::Status,
        Self::Ports,
        Self::Created,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::Host => "Host",
            Self::Name => "Name",
            Self::Id => "ID",
            Self::Image => "Image",
            Self::State => "State",
            Self::Status => "Status",
            Self::Ports => "Ports",
            Self::Created => "Created",
        }
    }

    fn compare(self, a: &ContainerSummary, b: &ContainerSummary) -> Ordering {
        match self {
            Self::Host => a.host.cmp(&b.host),
            Self::Name => a.name.cmp(&b.name),
            Self::Id => a.id.cmp(&b.id),
            Self::Image => a.image.cmp(&b.image),
            Self::State => a.state.cmp(&b.state),
            Self::Status => a.status.cmp(&b.status),
            Self::Ports => a.ports.cmp(&b.ports),
            Self::Created => a.created_unix_secs.cmp(&b.created_unix_secs),
        }
    }
}

/// Every container the window knows, with the table's view of them.
#[derive(Default)]
pub(crate) struct ContainerStore {
    rows: Vec<ContainerSummary>,
    index: HashMap<ContainerKey, usize>,
    view: Vec<usize>,
    view_stale: bool,
    sort: Option<(Column, bool)>,
    filter: String,
}

impl ContainerStore {
    /// Replaces every row of `host` with `containers`.
    pub(crate) fn replace_host(&mut self, host: &HostId, containers: Vec<ContainerSummary>) {
        self.rows.retain(|row| &row.host != host);
        self.rows.extend(containers);
        self.reindex();
    }

    /// Adds or updates one row.
    pub(crate) fn upsert(&mut self, container: ContainerSummary) {
        match self.index.get(&container.key()) {
            Some(&i) => {
                if let Some(row) = self.rows.get_mut(i) {
                    *row = container;
                }
            }
            None => {
                self.index.insert(container.key(), self.rows.len());
                self.rows.push(container);
            }
        }
        self.view_stale = true;
    }

    pub(crate) fn remove(&mut self, host: &HostId, id: &ContainerId) {
        let key = ContainerKey {
            host: host.clone(),
            id: id.clone(),
        };
        if self.index.remove(&key).is_some() {
            self.rows
                .retain(|row| row.host != key.host || row.id != key.id);
            self.reindex();
        }
    }

    pub(crate) fn get(&self, key: &ContainerKey) -> Option<&ContainerSummary> {
        self.index.get(key).and_then(|&i| self.rows.get(i))
    }

    pub(crate) fn containers_of<'a>(
        &'a self,
        host: &'a HostId,
    ) -> impl Iterator<Item = &'a ContainerSummary> + 'a {
        self.rows.iter().filter(move |row| &row.host == host)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn sort(&self) -> Option<(Column, bool)> {
        self.sort
    }

    /// Sorts by `column`; asking for the same column again flips the order.
    pub(crate) fn sort_by(&mut self, column: Column) {
        self.sort = match self.sort {
            Some((c, ascending)) if c == column => Some((c, !ascending)),
            _ => Some((column, true)),
        };
        self.view_stale = true;
    }

    pub(crate) fn filter(&self) -> &str {
        &self.filter
    }

    pub(crate) fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            filter.clone_into(&mut self.filter);
            self.view_stale = true;
        }
    }

    /// The rows to show, in order: filtered, then sorted. Rebuilt only when stale.
    pub(crate) fn view(&mut self) -> &[usize] {
        if self.view_stale {
            self.rebuild_view();
        }
        &self.view
    }

    /// The row at position `i` of the view.
    pub(crate) fn view_row(&self, i: usize) -> Option<&ContainerSummary> {
        self.view.get(i).and_then(|&r| self.rows.get(r))
    }

    fn reindex(&mut self) {
        self.index = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.key(), i))
            .collect();
        self.view_stale = true;
    }

    fn rebuild_view(&mut self) {
        let needle = self.filter.trim().to_lowercase();
        let rows = &self.rows;
        let mut view: Vec<usize> = (0..rows.len())
            .filter(|&i| needle.is_empty() || rows.get(i).is_some_and(|row| matches(row, &needle)))
            .collect();
        let sort = self.sort.unwrap_or((Column::Name, true));
        view.sort_by(|&a, &b| match (rows.get(a), rows.get(b)) {
            (Some(ra), Some(rb)) => {
                let ord = sort.0.compare(ra, rb).then_with(|| ra.key().cmp(&rb.key()));
                if sort.1 { ord } else { ord.reverse() }
            }
            _ => Ordering::Equal,
        });
        self.view = view;
        self.view_stale = false;
    }
}

/// True when any shown field of `row` contains `needle` (already lower-case).
fn matches(row: &ContainerSummary, needle: &str) -> bool {
    [
        row.host.0.as_str(),
        row.name.as_str(),
        row.id.0.as_str(),
        row.image.as_str(),
        row.state.as_str(),
        row.status.as_str(),
        row.ports.as_str(),
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunState;

    fn row(host: &str, name: &str, created: i64) -> ContainerSummary {
        ContainerSummary {
            host: HostId(host.into()),
            id: ContainerId(format!("{name:0>64}")),
            name: name.into(),
            image: "img".into(),
            state: RunState::Running,
            status: "Up".into(),
            status_since_unix_secs: None,
            ports: String::new(),
            created_unix_secs: created,
        }
    }

    fn names(store: &mut ContainerStore) -> Vec<String> {
        let view = store.view().to_vec();
        (0..view.len())
            .filter_map(|i| store.view_row(i))
            .map(|r| r.name.clone())
            .collect()
    }

    #[test]
    fn sorting_twice_by_one_column_reverses_it() {
        let mut store = ContainerStore::default();
        store.replace_host(
            &HostId::local(),
            vec![
                row("local", "b", 2),
                row("local", "a", 3),
                row("local", "c", 1),
            ],
        );
        store.sort_by(Column::Created);
        assert_eq!(names(&mut store), ["c", "b", "a"]);
        store.sort_by(Column::Created);
        assert_eq!(names(&mut store), ["a", "b", "c"]);
    }

    #[test]
    fn filter_matches_any_shown_field_ignoring_case() {
        let mut store = ContainerStore::default();
        store.replace_host(
            &HostId::local(),
            vec![row("local", "Web-1", 1), row("local", "db", 2)],
        );
        store.set_filter("WEB");
        assert_eq!(names(&mut store), ["Web-1"]);
        store.set_filter("");
        assert_eq!(names(&mut store), ["Web-1", "db"]);
    }

    #[test]
    fn replacing_one_host_keeps_the_others_rows() {
        let mut store = ContainerStore::default();
        store.replace_host(&HostId("a".into()), vec![row("a", "x", 1)]);
        store.replace_host(&HostId("b".into()), vec![row("b", "y", 1)]);
        store.replace_host(&HostId("a".into()), vec![row("a", "z", 1)]);
        assert_eq!(names(&mut store), ["y", "z"]);
    }

    #[test]
    fn upsert_updates_in_place_and_remove_drops_the_row() {
        let mut store = ContainerStore::default();
        store.replace_host(&HostId::local(), vec![row("local", "a", 1)]);
        let mut changed = row("local", "a", 1);
        changed.state = RunState::Exited;
        store.upsert(changed.clone());
        assert_eq!(store.len(), 1);
        assert_eq!(
            store.get(&changed.key()).map(|r| r.state),
            Some(RunState::Exited)
        );
        store.remove(&changed.host, &changed.id);
        assert_eq!(store.len(), 0);
        assert!(store.get(&changed.key()).is_none());
    }
}

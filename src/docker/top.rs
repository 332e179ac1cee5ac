//! The processes of a container, as the engine's `top` lists them (`ps -ef` columns).

use bollard::Docker;
use bollard::query_parameters::TopOptions;

use super::DockerError;
use crate::model::ContainerId;

/// A container's processes: one title per column, one row per process.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ProcessTable {
    pub(crate) titles: Vec<String>,
    pub(crate) processes: Vec<Vec<String>>,
}

impl ProcessTable {
    /// The column titled `title` of every process (e.g. `CMD`).
    pub(crate) fn column(&self, title: &str) -> Vec<&str> {
        let Some(i) = self.titles.iter().position(|t| t == title) else {
            return Vec::new();
        };
        self.processes
            .iter()
            .filter_map(|row| row.get(i).map(String::as_str))
            .collect()
    }
}

/// Lists the container's processes.
pub(crate) async fn top(docker: &Docker, id: &ContainerId) -> Result<ProcessTable, DockerError> {
    let response = docker
        .top_processes(&id.0, Some(TopOptions { ps_args: "-ef".to_owned() }))
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(ProcessTable {
        titles: response.titles.unwrap_or_default(),
        processes: response.processes.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_found_by_its_title() {
        let table = ProcessTable {
            titles: vec!["PID".into(), "CMD".into()],
            processes: vec![vec!["1".into(), "httpd -f".into()], vec!["7".into()]],
        };
        assert_eq!(table.column("CMD"), vec!["httpd -f"]);
        assert!(table.column("USER").is_empty());
    }
}

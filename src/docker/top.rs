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

/// Lists the container's processes.
pub(crate) async fn top(docker: &Docker, id: &ContainerId) -> Result<ProcessTable, DockerError> {
    let response = docker
        .top_processes(
            &id.0,
            Some(TopOptions {
                ps_args: "-ef".to_owned(),
            }),
        )
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(ProcessTable {
        titles: response.titles.unwrap_or_default(),
        processes: response.processes.unwrap_or_default(),
    })
}

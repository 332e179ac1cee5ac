//! Running a command inside a container: its stdout and stderr as they come, then its exit
//! code.
//!
//! Returns the output as a stream so that the caller decides how to batch and where to send it
//! (the window's actor, or the terminal for `quayside exec`); this module keeps nothing.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt as _};

use super::DockerError;
use crate::model::ContainerId;

/// Which of the command's outputs a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutputStream {
    Stdout,
    Stderr,
}

/// A piece of a command's output, as the engine sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutputChunk {
    pub(crate) stream: OutputStream,
    pub(crate) text: String,
}

/// A command started in a container: its output, then [`exit_code`] for how it ended.
pub(crate) struct ExecStarted {
    pub(crate) exec_id: String,
    pub(crate) output:
        std::pin::Pin<Box<dyn Stream<Item = Result<OutputChunk, DockerError>> + Send>>,
}

/// Starts `command` in the container, with stdout and stderr attached and no terminal.
pub(crate) async fn start(
    docker: &Docker,
    id: &ContainerId,
    command: &[String],
) -> Result<ExecStarted, DockerError> {
    let created = docker
        .create_exec(
            &id.0,
            CreateExecOptions {
                cmd: Some(command.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(DockerError::from_bollard)?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                ..Default::default()
            }),
        )
        .await
        .map_err(DockerError::from_bollard)?;
    let output = match started {
        StartExecResults::Attached { output, .. } => output,
        StartExecResults::Detached => {
            return Err(DockerError::Failed(
                "the engine ran the command detached: no output to show".to_owned(),
            ));
        }
    };
    let output =
        output.filter_map(|item| async move { chunk_of(item.map_err(DockerError::from_bollard)) });
    Ok(ExecStarted {
        exec_id: created.id,
        output: Box::pin(output),
    })
}

/// One piece of attached output as a chunk (stdin echoes are left out).
pub(crate) fn chunk_of(
    item: Result<LogOutput, DockerError>,
) -> Option<Result<OutputChunk, DockerError>> {
    let (stream, message) = match item {
        Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
            (OutputStream::Stdout, message)
        }
        Ok(LogOutput::StdErr { message }) => (OutputStream::Stderr, message),
        Ok(LogOutput::StdIn { .. }) => return None,
        Err(err) => return Some(Err(err)),
    };
    Some(Ok(OutputChunk {
        stream,
        text: String::from_utf8_lossy(&message).into_owned(),
    }))
}

/// The exit code of a finished command (`None` when the engine does not know one, e.g. the
/// command could not be started at all).
pub(crate) async fn exit_code(docker: &Docker, exec_id: &str) -> Result<Option<i64>, DockerError> {
    let inspected = docker
        .inspect_exec(exec_id)
        .await
        .map_err(DockerError::from_bollard)?;
    Ok(inspected.exit_code)
}

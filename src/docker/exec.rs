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
    pub(crate) output: std::pin::Pin<Box<dyn Stream<Item = Result<OutputChunk, DockerError>> + Send>>,
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
    let output = output.filter_map(|item| async move {
        match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                Some(Ok(OutputChunk {
                    stream: OutputStream::Stdout,
                    text: String::from_utf8_lossy(&message).into_owned(),
                }))
            }
            Ok(LogOutput::StdErr { message }) => Some(Ok(OutputChunk {
                stream: OutputStream::Stderr,
                text: String::from_utf8_lossy(&message).into_owned(),
            })),
            Ok(LogOutput::StdIn { .. }) => None,
            Err(err) => Some(Err(DockerError::from_bollard(err))),
        }
    });
    Ok(ExecStarted {
        exec_id: created.id,
        output: Box::pin(output),
    })
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

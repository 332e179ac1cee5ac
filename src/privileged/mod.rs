//! Runs the host commands that shaping needs (`tc`, `ip`, `nsenter`), with privileges.
//!
//! Shaping sends a host one POSIX `sh` script per step (see `shaping::script`), run as the
//! login user; inside it, a command that needs privileges runs directly as root, and as anyone
//! else through `sudo -n`, which never asks for a password: a sudo that wants one fails at
//! once, and the error says which commands need a NOPASSWD rule. Tools are called by absolute
//! path. This module runs scripts and reports their outcome; it does not interpret what `tc`
//! printed beyond recognising sudo's own refusal.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

mod remote;

pub(crate) use remote::RemoteRunner;

/// How long one privileged command may take before it is abandoned.
const COMMAND_TIMEOUT_SECS: u64 = 20;

/// The commands a user without root needs a NOPASSWD sudo rule for.
pub(crate) const SUDO_COMMANDS_HINT: &str = "tc, ip and nsenter";

/// How privileged commands are run on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// Run directly: the user is root.
    Root,
    /// Run through `sudo -n`.
    Sudo,
}

impl Privilege {
    /// Root when this process's effective uid is 0, sudo otherwise.
    pub(crate) fn of_this_process() -> Self {
        if effective_uid() == Some(0) {
            Self::Root
        } else {
            Self::Sudo
        }
    }
}

/// The tools shaping uses, by absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ToolPaths {
    pub(crate) tc: String,
    pub(crate) ip: String,
    pub(crate) nsenter: String,
    pub(crate) sudo: String,
}

impl ToolPaths {
    /// Finds the tools on this machine, preferring the merged-usr locations.
    pub(crate) fn local() -> Self {
        Self {
            tc: first_existing(&["/usr/sbin/tc", "/sbin/tc"]),
            ip: first_existing(&["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]),
            nsenter: first_existing(&["/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"]),
            sudo: first_existing(&["/usr/bin/sudo", "/bin/sudo"]),
        }
    }
}

/// What a finished command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommandOutput {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Why a privileged command could not be run at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error(
        "sudo wants a password for `{command}`: allow {SUDO_COMMANDS_HINT} without a password \
         (a NOPASSWD rule in /etc/sudoers.d) or run Quayside as root"
    )]
    SudoNeedsPassword { command: String },
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {COMMAND_TIMEOUT_SECS} s")]
    TimedOut { command: String },
    #[error("cannot run `{command}` on the host: {detail}")]
    Remote { command: String, detail: String },
}

/// Runs privileged commands on the machine this process runs on.
#[derive(Clone, Debug)]
pub(crate) struct LocalRunner {
    privilege: Privilege,
    tools: ToolPaths,
}

impl LocalRunner {
    pub(crate) fn new(privilege: Privilege, tools: ToolPaths) -> Self {
        Self { privilege, tools }
    }

    pub(crate) fn tools(&self) -> &ToolPaths {
        &self.tools
    }

    /// Runs a POSIX `sh` script as this process's user; the script puts `sudo -n` in front
    /// of what needs privileges (see `Runner::sudo`).
    pub(crate) async fn run_script(&self, script: &str) -> Result<CommandOutput, RunError> {
        tracing::debug!(bytes = script.len(), privilege = ?self.privilege, "run script");
        spawn_and_wait(&["/bin/sh", "-c", script], "sh -c <shaping script>").await
    }
}

/// Starts `full` (program and arguments) and waits for it within the timeout.
async fn spawn_and_wait(full: &[&str], command_text: &str) -> Result<CommandOutput, RunError> {
    let command_text = command_text.to_owned();
    let Some((program, args)) = full.split_first() else {
        return Err(RunError::Spawn {
            command: command_text,
            source: std::io::Error::other("empty command"),
        });
    };

    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| RunError::Spawn {
            command: command_text.clone(),
            source,
        })?;
    let waited = tokio::time::timeout(
        Duration::from_secs(COMMAND_TIMEOUT_SECS),
        child.wait_with_output(),
    )
    .await;
    let output = match waited {
        Ok(result) => result.map_err(|source| RunError::Spawn {
            command: command_text.clone(),
            source,
        })?,
        Err(_) => {
            return Err(RunError::TimedOut {
                command: command_text,
            });
        }
    };
    Ok(CommandOutput {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs privileged commands on a host: this machine, or one reached over SSH.
#[derive(Clone, Debug)]
pub(crate) enum Runner {
    Local(LocalRunner),
    Remote(RemoteRunner),
}

impl Runner {
    pub(crate) fn tools(&self) -> &ToolPaths {
        match self {
            Self::Local(r) => r.tools(),
            Self::Remote(r) => r.tools(),
        }
    }

    /// The absolute path of sudo when privileged commands need `sudo -n`; `None` as root.
    pub(crate) fn sudo(&self) -> Option<&str> {
        let (privilege, tools) = match self {
            Self::Local(r) => (r.privilege, r.tools()),
            Self::Remote(r) => (r.privilege(), r.tools()),
        };
        (privilege == Privilege::Sudo).then_some(tools.sudo.as_str())
    }

    /// Runs a POSIX `sh` script as the login user (not through sudo: the script itself puts
    /// `sudo -n` before what needs it). Its exit status and output are returned as they are.
    pub(crate) async fn run_script(&self, script: &str) -> Result<CommandOutput, RunError> {
        match self {
            Self::Local(r) => r.run_script(script).await,
            Self::Remote(r) => r.run_script(script).await,
        }
    }
}

/// True when `stderr` holds sudo's own refusal to ask for a password.
pub(crate) fn stderr_is_sudo_password_refusal(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.starts_with("sudo:")
            && (line.contains("password is required") || line.contains("a terminal is required"))
    })
}

/// The effective uid of this process, read from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn first_existing(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|p| Path::new(p).exists())
        .or(candidates.first())
        .map(|p| (*p).to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_password_refusal_is_recognised_in_both_wordings() {
        assert!(stderr_is_sudo_password_refusal(
            "sudo: a password is required\n"
        ));
        assert!(stderr_is_sudo_password_refusal(
            "sudo: a terminal is required to read the password; either use the -S option\n"
        ));
    }

    #[test]
    fn tool_errors_are_not_taken_for_sudo_refusals() {
        assert!(!stderr_is_sudo_password_refusal(
            "Error: Specified qdisc kind is unknown.\n"
        ));
        assert!(!stderr_is_sudo_password_refusal(
            "Error: sudo: a password is required (as tc printed it)\n"
        ));
    }

    #[test]
    fn effective_uid_is_read_from_proc() {
        assert!(effective_uid().is_some());
    }

    #[tokio::test]
    async fn a_script_reports_status_stdout_and_stderr_apart() -> Result<(), RunError> {
        let runner = LocalRunner::new(Privilege::Root, ToolPaths::local());
        let output = runner.run_script("echo out; echo err >&2; exit 3").await?;
        assert_eq!(
            output,
            CommandOutput {
                status: 3,
                stdout: "out\n".into(),
                stderr: "err\n".into()
            }
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_script_reads_no_input() -> Result<(), RunError> {
        let runner = LocalRunner::new(Privilege::Root, ToolPaths::local());
        let output = runner.run_script("/bin/cat; echo done").await?;
        assert_eq!(output.stdout, "done\n");
        Ok(())
    }
}

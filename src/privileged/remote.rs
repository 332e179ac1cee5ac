//! Privileged commands on a host reached over SSH, through that host's one session.
//!
//! A script is quoted with a shell-quoting library into one `/bin/sh -c` command line (never
//! string formatting of its parts) and runs in one exec; tools are called by the absolute
//! paths found on the host, and the script puts `sudo -n` in front of what needs it when the
//! login user is not root.

use super::{CommandOutput, Privilege, RunError, ToolPaths};
use crate::ssh::SshHost;

/// Finds tc, ip, nsenter and sudo by absolute path on the host, and whether the login is root.
/// One line per tool (`name path`), then `uid N`.
const PROBE: &str = "for t in tc ip nsenter sudo; do for d in /usr/sbin /sbin /usr/bin /bin; do \
    if [ -x \"$d/$t\" ]; then echo \"$t $d/$t\"; break; fi; done; done; echo \"uid $(id -u)\"";

/// Runs privileged commands on one SSH host.
#[derive(Clone)]
pub(crate) struct RemoteRunner {
    host: SshHost,
    privilege: Privilege,
    tools: ToolPaths,
}

impl std::fmt::Debug for RemoteRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRunner")
            .field("host", &self.host.label())
            .field("privilege", &self.privilege)
            .finish()
    }
}

impl RemoteRunner {
    /// Asks the host where its tools are and who the login user is. `forced` overrides the
    /// privilege the profile names (`root` or `sudo`); `None` decides by the login's uid.
    pub(crate) async fn probe(host: SshHost, forced: Option<Privilege>) -> Result<Self, RunError> {
        let out = host.exec(PROBE, None).await.map_err(|e| RunError::Remote {
            command: "locating tc, ip and nsenter".to_owned(),
            detail: e.to_string(),
        })?;
        let text = out.stdout_text();
        let (tools, uid) = parse_probe(&text);
        let privilege = forced.unwrap_or(if uid == Some(0) {
            Privilege::Root
        } else {
            Privilege::Sudo
        });
        Ok(Self {
            host,
            privilege,
            tools,
        })
    }

    pub(crate) fn tools(&self) -> &ToolPaths {
        &self.tools
    }

    pub(crate) fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// Runs a POSIX `sh` script on the host as the login user, in one exec.
    pub(crate) async fn run_script(&self, script: &str) -> Result<CommandOutput, RunError> {
        let command = "sh -c <shaping script>".to_owned();
        let line = shlex::try_join(["/bin/sh", "-c", script]).map_err(|e| RunError::Remote {
            command: command.clone(),
            detail: format!("cannot quote the script: {e}"),
        })?;
        tracing::debug!(host = %self.host.label(), bytes = script.len(), privilege = ?self.privilege, "run script over ssh");
        let out = self
            .host
            .exec(&line, None)
            .await
            .map_err(|e| RunError::Remote {
                command,
                detail: e.to_string(),
            })?;
        Ok(CommandOutput {
            status: out.status,
            stdout: out.stdout_text(),
            stderr: out.stderr_text(),
        })
    }
}

/// Reads the probe's answer: the tools found (the usual paths where one is missing, so that
/// the error names it) and the login's uid.
fn parse_probe(text: &str) -> (ToolPaths, Option<u32>) {
    let mut tools = ToolPaths {
        tc: "/usr/sbin/tc".to_owned(),
        ip: "/usr/sbin/ip".to_owned(),
        nsenter: "/usr/bin/nsenter".to_owned(),
        sudo: "/usr/bin/sudo".to_owned(),
    };
    let mut uid = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("tc", path)) => tools.tc = path.to_owned(),
            Some(("ip", path)) => tools.ip = path.to_owned(),
            Some(("nsenter", path)) => tools.nsenter = path.to_owned(),
            Some(("sudo", path)) => tools.sudo = path.to_owned(),
            Some(("uid", n)) => uid = n.trim().parse().ok(),
            _ => {}
        }
    }
    (tools, uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_answer_gives_paths_and_uid() {
        let (tools, uid) =
            parse_probe("tc /sbin/tc\nip /usr/sbin/ip\nnsenter /usr/bin/nsenter\nuid 1003\n");
        assert_eq!(tools.tc, "/sbin/tc");
        assert_eq!(tools.ip, "/usr/sbin/ip");
        assert_eq!(
            tools.sudo, "/usr/bin/sudo",
            "a tool not found keeps its usual path"
        );
        assert_eq!(uid, Some(1003));
        assert_eq!(parse_probe("uid 0\n").1, Some(0));
        assert_eq!(parse_probe("garbage").1, None);
    }

    #[test]
    fn quoting_keeps_each_argument_whole() {
        let line =
            shlex::try_join(["/usr/sbin/tc", "-batch", "-", "it's; rm -rf /"]).unwrap_or_default();
        assert_eq!(
            shlex::split(&line),
            Some(vec![
                "/usr/sbin/tc".into(),
                "-batch".into(),
                "-".into(),
                "it's; rm -rf /".into()
            ])
        );
    }
}

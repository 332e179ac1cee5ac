//! Reaching one host of a profile: its Docker engine and the runner for its privileged
//! commands, both over the host's one SSH session when it is remote.
//!
//! Used alike by the window's host actors and by the command line. It builds connections and
//! never retries; retrying is the caller's decision.

use std::path::PathBuf;

use bollard::Docker;

use super::profile::{DockerEndpoint, HostEntry, PrivilegeMode};
use crate::docker::{self, DockerError};
use crate::privileged::{LocalRunner, Privilege, RemoteRunner, RunError, Runner, ToolPaths};
use crate::ssh::{HostKeyPolicy, SshAuth, SshConfig, SshError, SshHost, docker_over_ssh};

/// A connected host.
#[derive(Clone)]
pub(crate) struct HostConnection {
    pub(crate) docker: Docker,
    pub(crate) runner: Runner,
    /// Something the user should see about this connection (an unencrypted engine).
    pub(crate) warning: Option<String>,
}

/// Why a host could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("host {host}: {problem}")]
    Profile { host: String, problem: String },
    #[error(
        "the key {} needs its passphrase: load it into ssh-agent (ssh-add {}) or connect from the window, which asks for it",
        key.display(),
        key.display()
    )]
    NeedsPassphrase { key: PathBuf },
}

/// Passphrases of key files, typed by the user in this session; never written anywhere.
#[derive(Clone, Default)]
pub(crate) struct Passphrases(std::collections::HashMap<PathBuf, String>);

impl Passphrases {
    pub(crate) fn insert(&mut self, key: PathBuf, passphrase: String) {
        self.0.insert(key, passphrase);
    }

    fn get(&self, key: &std::path::Path) -> Option<&String> {
        self.0.get(key)
    }
}

impl std::fmt::Debug for Passphrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Passphrases({} keys)", self.0.len())
    }
}

/// Connects to `entry`: its engine, and for a remote host the SSH session both go through.
pub(crate) async fn connect(
    entry: &HostEntry,
    policy: HostKeyPolicy,
    passphrases: &Passphrases,
) -> Result<HostConnection, ConnectError> {
    let forced = match entry.privilege {
        PrivilegeMode::Root => Some(Privilege::Root),
        PrivilegeMode::Sudo => Some(Privilege::Sudo),
        PrivilegeMode::Auto => None,
    };
    match entry.docker {
        DockerEndpoint::Local => {
            let docker = docker::connect_at(entry.docker_url.as_deref()).await?;
            let privilege = forced.unwrap_or_else(Privilege::of_this_process);
            let runner = Runner::Local(LocalRunner::new(privilege, ToolPaths::local()));
            Ok(HostConnection {
                docker,
                runner,
                warning: None,
            })
        }
        DockerEndpoint::Ssh => {
            let ssh = SshHost::connect(ssh_config(entry, passphrases)?, policy).await?;
            let docker = docker_over_ssh(&ssh, &entry.docker_socket).await?;
            let runner = Runner::Remote(RemoteRunner::probe(ssh, forced).await?);
            Ok(HostConnection {
                docker,
                runner,
                warning: None,
            })
        }
        DockerEndpoint::Tcp => {
            let (docker, warning) = docker_over_tcp(entry).await?;
            // The engine answers on TCP, but tc runs on its host: over SSH.
            let ssh = SshHost::connect(ssh_config(entry, passphrases)?, policy).await?;
            let runner = Runner::Remote(RemoteRunner::probe(ssh, forced).await?);
            Ok(HostConnection {
                docker,
                runner,
                warning,
            })
        }
    }
}

/// The engine at the profile's `docker_url`: with TLS when the profile names the TLS files,
/// else plain TCP, with a warning to show (anyone who reaches that port drives the engine).
async fn docker_over_tcp(entry: &HostEntry) -> Result<(Docker, Option<String>), ConnectError> {
    let problem = |problem: String| ConnectError::Profile {
        host: entry.name.clone(),
        problem,
    };
    let url = entry
        .docker_url
        .as_deref()
        .ok_or_else(|| problem("no `docker_url`".to_owned()))?;
    match (&entry.tls_ca, &entry.tls_cert, &entry.tls_key) {
        (Some(ca), Some(cert), Some(key)) => {
            let docker =
                docker::connect_tls(url, &expand_home(ca), &expand_home(cert), &expand_home(key))
                    .await?;
            Ok((docker, None))
        }
        (None, None, None) => {
            let docker = docker::connect_at(Some(url)).await?;
            tracing::warn!(host = %entry.name, url, "Docker engine over plain TCP, without TLS");
            Ok((
                docker,
                Some(format!(
                    "{url} is plain TCP: not encrypted, anyone who reaches it drives the engine"
                )),
            ))
        }
        _ => Err(problem(
            "TLS needs all three of `tls_ca`, `tls_cert` and `tls_key`".to_owned(),
        )),
    }
}

/// The SSH settings of a profile host, with the defaults a user of `ssh` expects.
pub(crate) fn ssh_config(
    entry: &HostEntry,
    passphrases: &Passphrases,
) -> Result<SshConfig, ConnectError> {
    let problem = |problem: &str| ConnectError::Profile {
        host: entry.name.clone(),
        problem: problem.to_owned(),
    };
    let address = entry
        .address
        .as_deref()
        .ok_or_else(|| problem("no `address` to connect to"))?;
    let user = entry
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .ok_or_else(|| problem("no `user`, and USER is not set"))?;
    let known_hosts = entry
        .known_hosts
        .as_deref()
        .map(expand_home)
        .or_else(|| home().map(|h| h.join(".ssh/known_hosts")))
        .ok_or_else(|| problem("no `known_hosts` file, and no home folder to look in"))?;

    let mut config = SshConfig::new(address, entry.port, &user, known_hosts);
    config.label = entry.name.clone();
    if entry.agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        config.auth.push(SshAuth::Agent { socket: None });
    }
    let key_files: Vec<PathBuf> = match &entry.identity_file {
        Some(path) => vec![expand_home(path)],
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .filter_map(|name| home().map(|h| h.join(".ssh").join(name)))
            .filter(|p| p.exists())
            .collect(),
    };
    let agent = !config.auth.is_empty();
    for path in key_files {
        let passphrase = passphrases.get(&path).cloned();
        let locked =
            std::fs::read_to_string(&path).is_ok_and(|text| super::keyfile::is_encrypted(&text));
        if locked && passphrase.is_none() && !agent {
            return Err(ConnectError::NeedsPassphrase { key: path });
        }
        config.auth.push(SshAuth::KeyFile { path, passphrase });
    }
    if config.auth.is_empty() {
        return Err(problem(
            "no way to log in: set `identity_file`, or run an ssh-agent",
        ));
    }
    Ok(config)
}

fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_owned())
}

/// `~/x` as a path under the home folder; any other path as it is.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str) -> HostEntry {
        HostEntry {
            address: Some("127.0.0.1".into()),
            user: Some("ops".into()),
            identity_file: Some("/keys/id".into()),
            known_hosts: Some("~/kh".into()),
            docker: DockerEndpoint::Ssh,
            agent: false,
            ..HostEntry {
                name: name.into(),
                ..HostEntry::local()
            }
        }
    }

    #[test]
    fn a_profile_host_becomes_ssh_settings() {
        let config = ssh_config(&remote("lab"), &Passphrases::default()).unwrap();
        assert_eq!(
            (
                config.label.as_str(),
                config.host.as_str(),
                config.port,
                config.user.as_str()
            ),
            ("lab", "127.0.0.1", 22, "ops")
        );
        assert!(
            matches!(config.auth.as_slice(), [SshAuth::KeyFile { path, .. }] if path == &PathBuf::from("/keys/id"))
        );
        assert!(config.known_hosts.ends_with("kh") && !config.known_hosts.starts_with("~"));
    }

    #[test]
    fn a_host_without_address_or_any_key_says_what_is_missing() {
        let mut entry = remote("x");
        entry.address = None;
        assert!(
            ssh_config(&entry, &Passphrases::default())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("address")
        );
    }
}

//! Host profiles: the TOML file that lists the hosts Quayside reaches, how to reach each one,
//! and how privileged commands run there.
//!
//! This module parses and checks a profile and writes one back; it reads and writes files only
//! when asked, and connects to nothing. A file that does not parse is reported with its line,
//! column and key, and is never overwritten: saving goes through a temporary file that is
//! renamed over the old one, so an interrupted save leaves the old file whole.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::HostId;
use crate::shaping::presets::Preset;

/// How a host's Docker engine is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DockerEndpoint {
    /// This machine's engine: DOCKER_HOST, else the default socket.
    Local,
    /// The host's Docker socket, forwarded through the host's SSH connection.
    #[default]
    Ssh,
    /// `tcp://HOST:PORT`, with TLS when the profile names the TLS files.
    Tcp,
}

/// How privileged commands (`tc`, `ip`, `nsenter`) run on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PrivilegeMode {
    /// Directly: the login user is root.
    Root,
    /// Through `sudo -n`.
    Sudo,
    /// Root when the login user is root, `sudo -n` otherwise.
    #[default]
    Auto,
}

/// One host of a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostEntry {
    /// The name used in `HOST:NAME` and shown in the window.
    pub(crate) name: String,
    /// Host name or address for SSH; not needed for `docker = "local"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) address: Option<String>,
    #[serde(default = "default_ssh_port")]
    pub(crate) port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// A private key file; `~` is the home folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) identity_file: Option<String>,
    /// Try the keys of the running ssh-agent (SSH_AUTH_SOCK).
    #[serde(default = "default_true")]
    pub(crate) agent: bool,
    /// The known_hosts file host keys are checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) known_hosts: Option<String>,
    #[serde(default)]
    pub(crate) docker: DockerEndpoint,
    /// The Docker socket on the host, for `docker = "ssh"`.
    #[serde(default = "default_docker_socket")]
    pub(crate) docker_socket: String,
    /// `tcp://HOST:PORT`, for `docker = "tcp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) docker_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tls_ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tls_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tls_key: Option<String>,
    #[serde(default)]
    pub(crate) privilege: PrivilegeMode,
    /// A group name to sort hosts under in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
}

impl HostEntry {
    /// The local engine alone, as Quayside starts without a profile.
    pub(crate) fn local() -> Self {
        Self {
            name: HostId::local().0,
            address: None,
            port: default_ssh_port(),
            user: None,
            identity_file: None,
            agent: true,
            known_hosts: None,
            docker: DockerEndpoint::Local,
            docker_socket: default_docker_socket(),
            docker_url: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            privilege: PrivilegeMode::Auto,
            group: None,
        }
    }

    pub(crate) fn id(&self) -> HostId {
        HostId(self.name.clone())
    }
}

fn default_ssh_port() -> u16 {
    22
}

fn default_true() -> bool {
    true
}

fn default_docker_socket() -> String {
    "/var/run/docker.sock".to_owned()
}

/// A whole profile: the hosts, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    #[serde(default, rename = "host")]
    pub(crate) hosts: Vec<HostEntry>,
    /// The user's own shaping presets, offered beside the built-in ones.
    #[serde(default, rename = "preset", skip_serializing_if = "Vec::is_empty")]
    pub(crate) presets: Vec<Preset>,
}

/// Why a profile cannot be used or saved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProfileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error(
        "{path} does not parse ({reason}), so it is not overwritten: fix it, or save the \
         profile under another name"
    )]
    WouldOverwriteBroken { path: PathBuf, reason: String },
    #[error("cannot save {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Profile {
    /// The profile used without any file: the local engine alone.
    pub(crate) fn local_only() -> Self {
        Self {
            hosts: vec![HostEntry::local()],
            presets: Vec::new(),
        }
    }

    /// Parses `text`, read from `path` (for messages).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|err| {
            let (line, column) = err
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            ProfileError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: err.message().trim().to_owned(),
            }
        })?;
        profile.check().map_err(|problem| ProfileError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(profile)
    }

    /// Reads and parses the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Problems a parser cannot see: empty or repeated names, a remote host without address.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for host in &self.hosts {
            let name = host.name.trim();
            if name.is_empty() {
                return Err("a host has an empty name".to_owned());
            }
            if name.contains(':') || name.chars().any(char::is_whitespace) {
                return Err(format!(
                    "host name `{name}` may not contain ':' or spaces (it is used in HOST:NAME)"
                ));
            }
            if !seen.insert(name.to_owned()) {
                return Err(format!("host name `{name}` appears twice"));
            }
            if host.docker != DockerEndpoint::Local && host.address.is_none() {
                return Err(format!(
                    "host `{name}` needs an `address` (or `docker = \"local\"`)"
                ));
            }
            if host.docker == DockerEndpoint::Tcp && host.docker_url.is_none() {
                return Err(format!(
                    "host `{name}` has `docker = \"tcp\"` but no `docker_url`"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for preset in &self.presets {
            let name = preset.name.trim();
            if name.is_empty() {
                return Err("a preset has an empty name".to_owned());
            }
            if !seen.insert(name.to_lowercase()) {
                return Err(format!("preset name `{name}` appears twice"));
            }
            if let Err(err) = preset.profile.validate() {
                return Err(format!("preset `{name}`: {err}"));
            }
        }
        Ok(())
    }

    /// The profile as TOML text.
    pub(crate) fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }

    /// Saves to `path` atomically: a temporary file beside it, flushed, then renamed over it.
    /// An existing file that does not parse is left alone and the save is refused.
    pub(crate) fn save(&self, path: &Path) -> Result<(), ProfileError> {
        if let Ok(old) = std::fs::read_to_string(path)
            && let Err(err) = Self::parse(&old, path)
        {
            return Err(ProfileError::WouldOverwriteBroken {
                path: path.to_owned(),
                reason: err.to_string(),
            });
        }
        let text = self.to_toml().map_err(|e| ProfileError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        let write = |source| ProfileError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let temporary = temporary_path(path);
        let result = (|| {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)
        })();
        if result.is_err() {
            // The temporary file is ours and half-written: it is removed, the old file stays.
            std::fs::remove_file(&temporary).ok();
        }
        result.map_err(write)
    }
}

/// The temporary file a save writes before renaming: beside the target, so the rename stays on
/// one file system.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.quayside-saving"))
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

impl fmt::Display for DockerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Ssh => "ssh",
            Self::Tcp => "tcp",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, Path::new("hosts.toml"))
    }

    #[test]
    fn the_example_profile_parses_with_every_key() -> Result<(), ProfileError> {
        let text = include_str!("../../hosts.example.toml");
        let profile = parse(text)?;
        let names: Vec<&str> = profile.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["local", "lab-1", "ci-runner"]);
        let lab = profile.hosts.get(1).ok_or_else(|| ProfileError::Invalid {
            path: "x".into(),
            problem: "no lab-1".into(),
        })?;
        assert_eq!(lab.docker, DockerEndpoint::Ssh);
        assert_eq!(lab.privilege, PrivilegeMode::Sudo);
        assert_eq!(lab.port, 22);
        assert_eq!(lab.group.as_deref(), Some("lab"));
        assert!(
            profile
                .hosts
                .get(2)
                .is_some_and(|h| h.tls_ca.is_some() && h.docker == DockerEndpoint::Tcp)
        );
        Ok(())
    }

    #[test]
    fn defaults_fill_what_a_host_leaves_out() -> Result<(), ProfileError> {
        let profile = parse("[[host]]\nname = \"a\"\naddress = \"h\"\n")?;
        let host = profile
            .hosts
            .first()
            .cloned()
            .unwrap_or_else(HostEntry::local);
        assert_eq!(
            (host.port, host.agent, host.docker, host.privilege),
            (22, true, DockerEndpoint::Ssh, PrivilegeMode::Auto)
        );
        assert_eq!(host.docker_socket, "/var/run/docker.sock");
        Ok(())
    }

    #[test]
    fn a_parse_error_names_line_column_and_key() {
        let text = "[[host]]\nname = \"a\"\naddress = \"h\"\nprot = 22\n";
        match parse(text) {
            Err(ProfileError::Parse {
                line,
                column,
                message,
                ..
            }) => {
                assert_eq!((line, column), (4, 1));
                assert!(message.contains("prot"), "{message}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        match parse("[[host]]\nname = \"a\"\nport = \"twenty\"\n") {
            Err(ProfileError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn names_must_be_unique_usable_in_ids_and_remote_hosts_need_an_address() {
        for (text, words) in [
            (
                "[[host]]\nname = \"a\"\ndocker = \"local\"\n[[host]]\nname = \"a\"\ndocker = \"local\"\n",
                "appears twice",
            ),
            (
                "[[host]]\nname = \"a:b\"\ndocker = \"local\"\n",
                "may not contain",
            ),
            ("[[host]]\nname = \"far\"\n", "needs an `address`"),
            (
                "[[host]]\nname = \"t\"\naddress = \"h\"\ndocker = \"tcp\"\n",
                "no `docker_url`",
            ),
        ] {
            let err = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(words), "{err}");
        }
    }

    #[test]
    fn a_saved_profile_reads_back_the_same() -> Result<(), ProfileError> {
        let dir = std::env::temp_dir().join(format!("qs-profile-{}", std::process::id()));
        let path = dir.join("hosts.toml");
        let profile = parse(include_str!("../../hosts.example.toml"))?;
        profile.save(&path)?;
        assert_eq!(Profile::load(&path)?, profile);
        assert!(!temporary_path(&path).exists(), "no temporary file is left");
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn a_broken_file_is_never_overwritten() -> Result<(), ProfileError> {
        let dir = std::env::temp_dir().join(format!("qs-profile-broken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| ProfileError::Write {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("hosts.toml");
        let broken = "[[host]\nname = \"half-typed";
        std::fs::write(&path, broken).map_err(|source| ProfileError::Write {
            path: path.clone(),
            source,
        })?;
        let err = Profile::local_only()
            .save(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not overwritten"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some(broken));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn an_interrupted_save_leaves_the_old_file_whole() -> Result<(), ProfileError> {
        // The save cannot create its temporary file (a folder stands in its place): it fails
        // before the rename, and the old file keeps every byte.
        let dir =
            std::env::temp_dir().join(format!("qs-profile-interrupted-{}", std::process::id()));
        let path = dir.join("hosts.toml");
        let old = parse(include_str!("../../hosts.example.toml"))?;
        old.save(&path)?;
        let before = std::fs::read(&path).ok();
        std::fs::create_dir_all(temporary_path(&path)).map_err(|source| ProfileError::Write {
            path: path.clone(),
            source,
        })?;
        assert!(Profile::local_only().save(&path).is_err());
        assert_eq!(std::fs::read(&path).ok(), before);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }
}

//! Remembered shaping: what the user last applied to each container (host + container name),
//! kept in a small JSON file so that it outlives both the container's veth and the app.
//!
//! A container that restarts gets a new veth with no qdisc; whoever follows the host's engine
//! events looks the container up here and applies the profile again. Timed shaping stores when
//! it ends. The file is written atomically (temporary file, then rename) and read afresh for
//! every change, so the window and the command line can share it; a file that does not parse
//! is kept aside as `*.broken` rather than silently lost. This module never touches a host.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::profile::ShapingProfile;

/// One container's remembered shaping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Remembered {
    pub(crate) host: String,
    /// The container's name, which survives restarts (its id does too, its veth does not).
    pub(crate) name: String,
    pub(crate) profile: ShapingProfile,
    /// When timed shaping ends, in seconds since the Unix epoch; `None`: until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) until_unix_secs: Option<u64>,
}

impl Remembered {
    /// How long the timed shaping still runs; `None` for shaping without an end.
    pub(crate) fn remaining(&self, now: SystemTime) -> Option<Duration> {
        let until = UNIX_EPOCH + Duration::from_secs(self.until_unix_secs?);
        Some(until.duration_since(now).unwrap_or_default())
    }

    /// True when the shaping was timed and its time is up.
    pub(crate) fn has_expired(&self, now: SystemTime) -> bool {
        self.remaining(now).is_some_and(|left| left.is_zero())
    }
}

/// The file's contents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct MemoryFile {
    #[serde(default)]
    containers: Vec<Remembered>,
}

/// Why the memory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MemoryError {
    #[error("cannot read the remembered shaping in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot save the remembered shaping in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The remembered shaping of every host, in one file.
#[derive(Clone, Debug)]
pub(crate) struct ShapingMemory {
    path: PathBuf,
}

impl ShapingMemory {
    /// The memory kept at `path` (created on the first change).
    pub(crate) fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// The default file in the platform's data folder; `QUAYSIDE_STATE_DIR` overrides the
    /// folder (tests and side-by-side installs use it).
    pub(crate) fn default_location() -> Option<Self> {
        let dir = match std::env::var_os("QUAYSIDE_STATE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => directories::ProjectDirs::from("", "", "quayside")?
                .data_dir()
                .to_owned(),
        };
        Some(Self::at(dir.join("shaping.json")))
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every remembered container.
    pub(crate) fn all(&self) -> Result<Vec<Remembered>, MemoryError> {
        Ok(self.read()?.containers)
    }

    /// The remembered shaping of one container.
    pub(crate) fn lookup(&self, host: &str, name: &str) -> Result<Option<Remembered>, MemoryError> {
        Ok(self
            .read()?
            .containers
            .into_iter()
            .find(|r| r.host == host && r.name == name))
    }

    /// Remembers `profile` for a container, replacing what it had; an unshaped profile forgets.
    pub(crate) fn remember(
        &self,
        host: &str,
        name: &str,
        profile: &ShapingProfile,
        until: Option<SystemTime>,
    ) -> Result<(), MemoryError> {
        let mut file = self.read()?;
        file.containers
            .retain(|r| !(r.host == host && r.name == name));
        if !profile.is_unshaped() {
            file.containers.push(Remembered {
                host: host.to_owned(),
                name: name.to_owned(),
                profile: profile.clone(),
                until_unix_secs: until.map(unix_secs),
            });
        }
        self.write(&file)
    }

    /// Forgets a container's shaping (after a clear). Forgetting what is not there is fine.
    pub(crate) fn forget(&self, host: &str, name: &str) -> Result<(), MemoryError> {
        let mut file = self.read()?;
        let before = file.containers.len();
        file.containers
            .retain(|r| !(r.host == host && r.name == name));
        if file.containers.len() == before {
            return Ok(());
        }
        self.write(&file)
    }

    fn read(&self) -> Result<MemoryFile, MemoryError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(MemoryFile::default());
            }
            Err(source) => {
                return Err(MemoryError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        match serde_json::from_str(&text) {
            Ok(file) => Ok(file),
            Err(err) => {
                // Keep the unreadable file for the user instead of overwriting it.
                let aside = self.path.with_extension("json.broken");
                tracing::error!(path = %self.path.display(), aside = %aside.display(), error = %err,
                    "remembered shaping does not parse; kept aside, starting empty");
                std::fs::rename(&self.path, &aside).map_err(|source| MemoryError::Write {
                    path: aside,
                    source,
                })?;
                Ok(MemoryFile::default())
            }
        }
    }

    fn write(&self, file: &MemoryFile) -> Result<(), MemoryError> {
        let fail = |source| MemoryError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(file)
            .map_err(|e| fail(std::io::Error::other(e.to_string())))?;
        let temporary = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text).map_err(fail)?;
        std::fs::rename(&temporary, &self.path).map_err(fail)
    }
}

/// Seconds since the Unix epoch (0 for a clock before it).
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> ShapingMemory {
        let dir =
            std::env::temp_dir().join(format!("quayside-memory-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        ShapingMemory::at(dir.join("shaping.json"))
    }

    fn slow() -> ShapingProfile {
        let mut profile = ShapingProfile::default();
        profile.download.rate_kbit = 1000;
        profile.download.delay_ms = 100.0;
        profile
    }

    #[test]
    fn a_remembered_profile_is_found_by_host_and_name_and_forgotten_after_a_clear() {
        let memory = scratch("roundtrip");
        assert_eq!(memory.lookup("lab-1", "web").unwrap(), None);
        memory.remember("lab-1", "web", &slow(), None).unwrap();
        memory.remember("lab-2", "web", &slow(), None).unwrap();
        let found = memory.lookup("lab-1", "web").unwrap().unwrap();
        assert_eq!(found.profile, slow());
        assert_eq!(found.until_unix_secs, None);

        memory.forget("lab-1", "web").unwrap();
        assert_eq!(memory.lookup("lab-1", "web").unwrap(), None);
        assert!(memory.lookup("lab-2", "web").unwrap().is_some());
        memory.forget("lab-1", "web").unwrap();
    }

    #[test]
    fn remembering_an_unshaped_profile_forgets_the_container() {
        let memory = scratch("unshaped");
        memory.remember("h", "c", &slow(), None).unwrap();
        memory
            .remember("h", "c", &ShapingProfile::default(), None)
            .unwrap();
        assert!(memory.all().unwrap().is_empty());
    }

    #[test]
    fn timed_shaping_knows_when_it_ends() {
        let memory = scratch("timed");
        let now = SystemTime::now();
        memory
            .remember("h", "c", &slow(), Some(now + Duration::from_secs(90)))
            .unwrap();
        let found = memory.lookup("h", "c").unwrap().unwrap();
        let left = found.remaining(now).unwrap();
        assert!(left <= Duration::from_secs(90) && left >= Duration::from_secs(88));
        assert!(!found.has_expired(now));
        assert!(found.has_expired(now + Duration::from_secs(91)));
    }

    #[test]
    fn a_broken_file_is_kept_aside_not_overwritten() {
        let memory = scratch("broken");
        std::fs::create_dir_all(memory.path().parent().unwrap()).unwrap();
        std::fs::write(memory.path(), "{ not json").unwrap();
        assert!(memory.all().unwrap().is_empty());
        let aside = memory.path().with_extension("json.broken");
        assert_eq!(std::fs::read_to_string(aside).unwrap(), "{ not json");
    }
}

//! The hosts Quayside knows: profiles (`profile.rs`) and where the default one lives.

pub(crate) mod connect;
mod keyfile;
pub(crate) mod profile;

use std::path::PathBuf;

/// The default profile's path: `hosts.toml` in the platform's config folder
/// (on Linux `~/.config/quayside/hosts.toml`).
pub(crate) fn default_profile_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "quayside")
        .map(|dirs| dirs.config_dir().join("hosts.toml"))
}

/// The profile to use: the file named on the command line, else the default profile when it
/// exists, else the local engine alone. Returns the profile and the file it came from.
pub(crate) fn load_profile(
    explicit: Option<&std::path::Path>,
) -> Result<(profile::Profile, Option<PathBuf>), profile::ProfileError> {
    match explicit {
        Some(path) => Ok((profile::Profile::load(path)?, Some(path.to_owned()))),
        None => match default_profile_path() {
            Some(path) if path.exists() => Ok((profile::Profile::load(&path)?, Some(path))),
            _ => Ok((profile::Profile::local_only(), None)),
        },
    }
}

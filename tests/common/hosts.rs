//! Profiles naming the lab's hosts, written to temporary files for `quayside --hosts`.

use std::path::PathBuf;

/// One lab SSH host (1-based), as a profile entry named `name`.
pub fn lab_host_entry(name: &str, index: u16, user: &str) -> String {
    let base: u16 = env("QS_SSH_BASE_PORT")
        .parse()
        .expect("QS_SSH_BASE_PORT is a port");
    ssh_entry(
        name,
        base + index - 1,
        user,
        &env("QS_SSH_KEY"),
        &env("QS_SSH_KNOWN_HOSTS"),
    )
}

/// A profile entry for an SSH host on 127.0.0.1.
pub fn ssh_entry(name: &str, port: u16, user: &str, key: &str, known_hosts: &str) -> String {
    format!(
        "[[host]]\nname = \"{name}\"\naddress = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\n\
         identity_file = \"{key}\"\nknown_hosts = \"{known_hosts}\"\nagent = false\n\n"
    )
}

/// The local engine as a profile entry.
pub fn local_entry(name: &str) -> String {
    format!("[[host]]\nname = \"{name}\"\ndocker = \"local\"\n\n")
}

/// Writes a profile to a fresh temporary file; removed when the returned guard drops.
pub struct ProfileFile {
    pub path: PathBuf,
}

impl ProfileFile {
    pub fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.toml", super::unique_name("profile")));
        std::fs::write(&path, text).expect("write the profile");
        Self { path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for ProfileFile {
    fn drop(&mut self) {
        std::fs::remove_file(&self.path).ok();
    }
}

/// A variable the lab sets; the message says how to get it.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through lab/test.sh (or eval \"$(bash lab/lab.sh env)\")")
    })
}

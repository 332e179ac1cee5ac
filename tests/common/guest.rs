//! The lab's netem-capable host: a QEMU guest with its own Docker engine, reached over SSH on
//! loopback. Commands run there with `ssh`; containers made there are removed when dropped.
//! The guest is emulated (TCG) and slow: a command costs about a second.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::hosts::{ProfileFile, env, ssh_entry};
use super::unique_name;

/// The profile host name the guest goes by in these tests.
pub const HOST: &str = "netem";

/// `ssh` to the guest as the lab's user, with the lab's key and known hosts.
fn ssh() -> Command {
    let mut ssh = Command::new("ssh");
    ssh.args([
        "-q",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
    ])
    .arg("-o")
    .arg(format!(
        "UserKnownHostsFile={}",
        env("QS_NETEM_KNOWN_HOSTS")
    ))
    .args(["-i", &env("QS_NETEM_KEY"), "-p", &env("QS_NETEM_PORT")])
    .arg(format!("{}@127.0.0.1", env("QS_NETEM_USER")));
    ssh
}

/// Runs a shell command in the guest; fails the test unless it succeeds. Returns stdout.
pub fn guest(command: &str) -> String {
    let out = ssh().arg(command).output().expect("ssh runs");
    assert!(
        out.status.success(),
        "guest `{command}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `text` to a file in the guest named after this test process, once; returns its path.
pub fn guest_file(word: &str, text: &str, once: &'static OnceLock<String>) -> &'static str {
    once.get_or_init(|| {
        let path = format!("/tmp/qs-{word}-{}", std::process::id());
        let mut child = ssh()
            .arg(format!("cat > {path}"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("ssh runs");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(text.as_bytes())
            .expect("write to ssh");
        assert!(child.wait().expect("ssh ends").success(), "copy {path}");
        path
    })
}

/// A profile naming the guest as host `netem`.
pub fn profile() -> ProfileFile {
    let port: u16 = env("QS_NETEM_PORT")
        .parse()
        .expect("QS_NETEM_PORT is a port");
    ProfileFile::new(&ssh_entry(
        HOST,
        port,
        &env("QS_NETEM_USER"),
        &env("QS_NETEM_KEY"),
        &env("QS_NETEM_KNOWN_HOSTS"),
    ))
}

/// A container in the guest, removed when dropped.
pub struct GuestContainer {
    pub name: String,
}

impl GuestContainer {
    /// A lab container running `command` in the guest.
    pub fn run(word: &str, command: &str) -> Self {
        let name = unique_name(word);
        guest(&format!(
            "docker run -d --name {name} --label quayside.lab=1 quayside-lab/busybox:latest \
             {command} >/dev/null"
        ));
        Self { name }
    }

    /// A container that sleeps: running, with a network, doing nothing.
    pub fn sleeper(word: &str) -> Self {
        Self::run(word, "sleep 3600")
    }

    /// `netem:NAME`, as Quayside addresses it with [`profile`].
    pub fn id(&self) -> String {
        format!("{HOST}:{}", self.name)
    }

    pub fn ip(&self) -> String {
        guest(&format!(
            "docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}{{{{end}}}}' {}",
            self.name
        ))
    }

    pub fn pid(&self) -> u32 {
        guest(&format!(
            "docker inspect -f '{{{{.State.Pid}}}}' {}",
            self.name
        ))
        .parse()
        .expect("pid is a number")
    }

    /// The host-side veth of the container's eth0, found in the guest without Quayside: the
    /// interface whose ifindex is eth0's peer index (`eth0@ifN` inside the container).
    pub fn veth(&self) -> String {
        let pid = self.pid();
        let peer = guest(&format!(
            "nsenter -t {pid} -n ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\\([0-9]*\\):.*/\\1/p'"
        ));
        assert!(!peer.is_empty(), "eth0 names its peer index");
        let veth = guest(&format!(
            "ip -o link show | sed -n 's/^{peer}: \\([^@:]*\\)[@:].*/\\1/p'"
        ));
        assert!(!veth.is_empty(), "the guest lists ifindex {peer}");
        veth
    }

    /// What tc prints of the qdiscs of the container's veth in the guest.
    pub fn veth_qdiscs(&self) -> String {
        guest(&format!("tc qdisc show dev {}", self.veth()))
    }
}

impl Drop for GuestContainer {
    fn drop(&mut self) {
        let _ =
            std::panic::catch_unwind(|| guest(&format!("docker rm -f {} >/dev/null", self.name)));
    }
}

/// The average round trip time from the guest to `ip`, in ms, over `count` pings.
pub fn average_rtt_ms(ip: &str, count: u32) -> f64 {
    let summary = guest(&format!("ping -q -c {count} -i 0.05 {ip} | tail -1"));
    // rtt min/avg/max/mdev = 0.051/0.062/0.080/0.010 ms
    let numbers = summary.split('=').nth(1).expect("a ping summary").trim();
    numbers
        .split('/')
        .nth(1)
        .expect("an average")
        .parse()
        .expect("a number")
}

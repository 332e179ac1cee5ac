//! Helpers shared by the integration tests: the lab image, containers that clean up after
//! themselves, the `quayside` binary, and independent looks at the kernel (`ip`, `tc`,
//! `nsenter`) to check what Quayside reports against.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod guest;
pub mod hosts;
pub mod sshd;
pub mod ui;
pub mod wire;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The image the lab builds with `docker import` (busybox: httpd, nc, sh, wget).
pub fn lab_image() -> String {
    std::env::var("QS_LAB_IMAGE").unwrap_or_else(|_| "quayside-lab/busybox:latest".to_owned())
}

/// A name no other test uses: the test's own word, this process's id, a counter.
pub fn unique_name(word: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "qs-test-{word}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs the `docker` CLI and returns its output, failing the test on a non-zero exit.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A container made for one test, removed (by force) when dropped.
pub struct TestContainer {
    pub name: String,
}

impl TestContainer {
    /// Runs a detached lab container named after `word` with extra `docker run` arguments and
    /// a command.
    pub fn run(word: &str, run_args: &[&str], command: &[&str]) -> Self {
        let name = unique_name(word);
        let mut args = vec!["run", "-d", "--name", &name, "--label", "quayside.lab=1"];
        args.extend_from_slice(run_args);
        let image = lab_image();
        args.push(&image);
        args.extend_from_slice(command);
        docker(&args);
        Self { name }
    }

    /// A container that sleeps: running, with a network, doing nothing.
    pub fn sleeper(word: &str) -> Self {
        Self::run(word, &[], &["sleep", "3600"])
    }

    /// `local:NAME`, as Quayside addresses it.
    pub fn id(&self) -> String {
        format!("local:{}", self.name)
    }

    pub fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "-f", format, &self.name])
    }

    pub fn state(&self) -> String {
        self.inspect("{{.State.Status}}")
    }

    pub fn pid(&self) -> u32 {
        self.inspect("{{.State.Pid}}")
            .parse()
            .expect("pid is a number")
    }

    /// The host-side veth of every interface of the container, found independently of
    /// Quayside: (container interface, its peer index, host interface with that ifindex).
    pub fn host_veths(&self) -> Vec<(String, u64, String)> {
        let inside = run_ok(
            "nsenter",
            &[
                "-t",
                &self.pid().to_string(),
                "-n",
                "ip",
                "-j",
                "link",
                "show",
            ],
        );
        let host = run_ok("ip", &["-j", "link", "show"]);
        let inside: serde_json::Value = serde_json::from_str(&inside).unwrap();
        let host: serde_json::Value = serde_json::from_str(&host).unwrap();
        let mut found = Vec::new();
        for link in inside.as_array().unwrap() {
            let Some(peer) = link["link_index"].as_u64() else {
                continue;
            };
            let name = link["ifname"].as_str().unwrap().to_owned();
            let host_if = host
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["ifindex"].as_u64() == Some(peer))
                .map(|h| h["ifname"].as_str().unwrap().to_owned())
                .expect("the peer index names a host interface");
            found.push((name, peer, host_if));
        }
        found.sort();
        found
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output()
            .ok();
    }
}

/// A user-defined Docker network made for one test, removed when dropped.
pub struct TestNetwork {
    pub name: String,
}

impl TestNetwork {
    pub fn create(word: &str) -> Self {
        let name = unique_name(word);
        docker(&["network", "create", "--label", "quayside.lab=1", &name]);
        Self { name }
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        Command::new("docker")
            .args(["network", "rm", &self.name])
            .output()
            .ok();
    }
}

/// Runs a command, failing the test unless it succeeds; returns its stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("command runs");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the `quayside` binary built for these tests.
pub fn quayside(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quayside"))
        .args(args)
        .output()
        .expect("quayside runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `quayside` and fails the test on a non-zero exit; returns stdout.
pub fn quayside_ok(args: &[&str]) -> String {
    let out = quayside(args);
    assert!(
        out.status.success(),
        "quayside {args:?} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Waits until `check` is true, at most `limit`; returns whether it became true.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// `tc -j qdisc show dev DEV` as JSON.
pub fn qdiscs(dev: &str) -> serde_json::Value {
    serde_json::from_str(&run_ok("tc", &["-j", "qdisc", "show", "dev", dev])).unwrap()
}

/// The qdiscs and classes of `dev` as the kernel prints them, to compare before and after.
pub fn tc_snapshot(dev: &str) -> String {
    let qdisc = run_ok("tc", &["qdisc", "show", "dev", dev]);
    let class = run_ok("tc", &["class", "show", "dev", dev]);
    let filter = run_ok("tc", &["filter", "show", "dev", dev, "ingress"]);
    format!("{qdisc}{class}{filter}")
}

/// Sends `bytes` to 127.0.0.1:`port`, where the container runs `nc -l -e wc -c`, and returns
/// the goodput in kbit/s: payload bits over the time until the receiver has counted every
/// byte and closed. Fails the test if the count does not match.
pub fn send_and_measure_kbit(port: u16, bytes: usize) -> f64 {
    let mut stream = connect_retrying(port);
    let chunk = vec![b'q'; 64 * 1024];
    let start = Instant::now();
    let mut sent = 0;
    while sent < bytes {
        let n = (bytes - sent).min(chunk.len());
        stream.write_all(&chunk[..n]).expect("send");
        sent += n;
    }
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the receiver answers");
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(
        answer.trim(),
        bytes.to_string(),
        "the receiver counted every byte"
    );
    bytes as f64 * 8.0 / 1000.0 / elapsed
}

/// Connects to a published port, waiting for the container's listener to come up.
pub fn connect_retrying(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => {
                stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
                return stream;
            }
            Err(err) if Instant::now() > deadline => panic!("cannot connect to port {port}: {err}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A container receiving on port 9000, published on 127.0.0.1 at a free port; each
/// connection's bytes are counted by `wc -c` and the count is sent back.
pub fn receiver(word: &str) -> (TestContainer, u16) {
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:9000");
    let c = TestContainer::run(
        word,
        &["-p", &publish],
        &["sh", "-c", "while true; do nc -l -p 9000 -e wc -c; done"],
    );
    (c, port)
}

/// A TCP port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Whether this machine's kernel has netem, tried in a network namespace of our own.
pub fn kernel_has_netem() -> bool {
    let ns = unique_name("netem-probe");
    run_ok("ip", &["netns", "add", &ns]);
    let ok = Command::new("ip")
        .args([
            "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
            "1ms",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    Command::new("ip").args(["netns", "del", &ns]).output().ok();
    ok
}

//! Fixtures for the SSH tests: a private sshd on loopback, keys, known_hosts files, an
//! ssh-agent, containers made through an SSH-tunnelled Docker client, and latency figures.
//!
//! Each `Sshd` is a child process (`sshd -D`) on a free 127.0.0.1 port, with host keys,
//! authorized_keys and config that it generates in a fresh temporary directory; it logs in the
//! lab's user (`QS_SSH_USER`) with the lab's key (`QS_SSH_KEY`). Dropping it kills it and the
//! per-connection processes under it, by pid, and removes the directory. Nothing here touches
//! the lab's own SSH hosts or any file outside its temporary directories.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;
use quayside::ssh::{HostKeyPolicy, SshAuth, SshConfig, SshHost};

/// The Docker socket on the (loopback) SSH host.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A variable the lab sets; panics with how to get it when it is missing.
pub fn lab_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through lab/test.sh \
             (or eval \"$(bash lab/lab.sh env)\" after lab/lab.sh up)"
        )
    })
}

/// The lab user the private sshd lets in (shell /bin/sh, group docker).
pub fn lab_user() -> String {
    lab_var("QS_SSH_USER")
}

/// The lab's private client key, authorized for `lab_user()` on every private sshd.
pub fn lab_key() -> PathBuf {
    PathBuf::from(lab_var("QS_SSH_KEY"))
}

/// A directory of its own for one test, removed (with its contents) when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory under the system temp dir, readable by the lab user (sshd reads
    /// authorized_keys as the user logging in).
    pub fn new(word: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "qs-{word}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of an earlier process with the same pid is ours to replace.
        fs::remove_dir_all(&path).ok();
        fs::create_dir(&path).expect("create a temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        fs::remove_dir_all(&self.path).ok();
    }
}

/// Runs `ssh-keygen` to make a key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path, kind: &str, passphrase: Option<&str>) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase.unwrap_or(""), "-C"])
        .arg(format!("quayside-test-{kind}"))
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -t {kind} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `TYPE BASE64` of a public key file (the comment left out).
pub fn public_key_line(pub_path: &Path) -> String {
    let text = fs::read_to_string(pub_path).expect("read a public key");
    let mut fields = text.split_whitespace();
    let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
        panic!("{} holds no public key: {text}", pub_path.display());
    };
    format!("{kind} {blob}")
}

/// `SHA256:...` of a public key file, as `ssh-keygen -lf` prints it.
pub fn keygen_fingerprint(pub_path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-E", "sha256", "-lf"])
        .arg(pub_path)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -lf {}",
        pub_path.display()
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 fingerprint")
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint field")
        .to_owned()
}

/// A config for the lab user at 127.0.0.1:`port`, authenticating with the lab key.
pub fn config(port: u16, known_hosts: PathBuf) -> SshConfig {
    let mut cfg = SshConfig::new("127.0.0.1", port, &lab_user(), known_hosts);
    cfg.label = format!("test-{port}");
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.auth = vec![SshAuth::KeyFile {
        path: lab_key(),
        passphrase: None,
    }];
    cfg
}

/// How to start a private sshd.
pub struct SshdBuilder {
    streamlocal: bool,
    all_host_key_types: bool,
    first_lines: String,
}

impl SshdBuilder {
    /// `AllowStreamLocalForwarding no`: clients must fall back to `docker system dial-stdio`.
    pub fn without_streamlocal(mut self) -> Self {
        self.streamlocal = false;
        self
    }

    /// ed25519, ecdsa and rsa host keys instead of ed25519 alone.
    pub fn with_all_host_key_types(mut self) -> Self {
        self.all_host_key_types = true;
        self
    }

    /// A config line put first, so that it wins (sshd keeps the first value of a keyword).
    pub fn with_config_first(mut self, line: &str) -> Self {
        self.first_lines.push_str(line);
        self.first_lines.push('\n');
        self
    }

    pub fn start(self) -> Sshd {
        assert!(
            Path::new("/run/sshd").is_dir(),
            "/run/sshd (sshd's privilege separation dir) is missing: run lab/lab.sh up"
        );
        let user = lab_user();
        let dir = TempDir::new("sshd");

        // Host keys, and authorized_keys holding the lab's public key.
        let kinds: &[&str] = if self.all_host_key_types {
            &["ed25519", "ecdsa", "rsa"]
        } else {
            &["ed25519"]
        };
        for kind in kinds {
            keygen(&dir.join(&format!("ssh_host_{kind}_key")), kind, None);
        }
        let lab_pub = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(lab_key())
            .output()
            .expect("ssh-keygen runs");
        assert!(
            lab_pub.status.success(),
            "cannot read the public half of QS_SSH_KEY: {}",
            String::from_utf8_lossy(&lab_pub.stderr)
        );
        let authorized_keys = dir.join("authorized_keys");
        fs::write(&authorized_keys, &lab_pub.stdout).expect("write authorized_keys");
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))
            .expect("chmod authorized_keys");

        // A port found free may be taken before sshd binds it: then try another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_spawn(&dir, kinds, &authorized_keys, &user, attempt) {
                Ok((child, port, log)) => {
                    return Sshd {
                        child: Some(child),
                        port,
                        config: dir.join(&format!("sshd_config-{attempt}")),
                        log,
                        authorized_keys,
                        files: AtomicUsize::new(0),
                        dir,
                    };
                }
                Err(log) if attempt < 3 && log.contains("Address already in use") => {}
                Err(log) => panic!("sshd did not start:\n{log}"),
            }
        }
    }

    /// Writes a config and starts `sshd -D`; Err with its log when it does not come up.
    fn try_spawn(
        &self,
        dir: &TempDir,
        kinds: &[&str],
        authorized_keys: &Path,
        user: &str,
        attempt: usize,
    ) -> Result<(Child, u16, PathBuf), String> {
        let port = super::free_port();
        let cfg = dir.join(&format!("sshd_config-{attempt}"));
        let log = dir.join(&format!("sshd-{attempt}.log"));
        let host_keys: String = kinds
            .iter()
            .map(|kind| {
                format!(
                    "HostKey {}\n",
                    dir.join(&format!("ssh_host_{kind}_key")).display()
                )
            })
            .collect();
        let forwarding = if self.streamlocal { "yes" } else { "no" };
        let text = format!(
            "{first}ListenAddress 127.0.0.1\nPort {port}\n{host_keys}\
             AuthorizedKeysFile {keys}\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nAllowUsers {user}\nAllowStreamLocalForwarding {forwarding}\n\
             PidFile none\nLogLevel VERBOSE\n",
            first = self.first_lines,
            keys = authorized_keys.display(),
        );
        fs::write(&cfg, text).expect("write sshd_config");
        let child = spawn_listening(&cfg, &log, port)?;
        Ok((child, port, log))
    }
}

/// Starts `sshd -D -f CFG -E LOG` and waits until it listens on `port`; Err with its log when
/// it does not come up.
fn spawn_listening(cfg: &Path, log: &Path, port: u16) -> Result<Child, String> {
    let mut child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-f")
        .arg(cfg)
        .arg("-E")
        .arg(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("/usr/sbin/sshd runs");

    // sshd logs this line once it listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.contains(&format!("Server listening on 127.0.0.1 port {port}")) {
            return Ok(child);
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err(text);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            return Err(format!("(not listening after 10 s)\n{text}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A private sshd (`-D`, so it is our child); killed on drop, with its session processes.
pub struct Sshd {
    child: Option<Child>,
    pub port: u16,
    /// The config it was started with, for `restart`.
    config: PathBuf,
    log: PathBuf,
    authorized_keys: PathBuf,
    /// Numbers the files this fixture writes.
    files: AtomicUsize,
    dir: TempDir,
}

impl Sshd {
    /// A builder; by default streamlocal forwarding is allowed and the host key is ed25519.
    pub fn builder() -> SshdBuilder {
        SshdBuilder {
            streamlocal: true,
            all_host_key_types: false,
            first_lines: String::new(),
        }
    }

    /// An sshd with the defaults of `builder()`.
    pub fn start() -> Sshd {
        Self::builder().start()
    }

    /// A path in this sshd's directory that no other call returns.
    pub fn fresh_path(&self, name: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.dir.join(&format!("{n}-{name}"))
    }

    /// The `.pub` file of one of the server's host keys.
    pub fn host_key_pub(&self, kind: &str) -> PathBuf {
        self.dir.join(&format!("ssh_host_{kind}_key.pub"))
    }

    /// `TYPE BASE64` of one of the server's host keys.
    pub fn host_pub(&self, kind: &str) -> String {
        public_key_line(&self.host_key_pub(kind))
    }

    /// A known_hosts file with the given lines.
    pub fn known_hosts(&self, lines: &[String]) -> PathBuf {
        let path = self.fresh_path("known_hosts");
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        fs::write(&path, text).expect("write known_hosts");
        path
    }

    /// A known_hosts file holding the server's ed25519 key for `[127.0.0.1]:port`.
    pub fn trusted_known_hosts(&self) -> PathBuf {
        self.known_hosts(&[format!(
            "[127.0.0.1]:{} {}",
            self.port,
            self.host_pub("ed25519")
        )])
    }

    /// A new client key pair that this server does not accept; returns the private key path.
    pub fn new_client_key(&self, name: &str, passphrase: Option<&str>) -> PathBuf {
        let path = self.fresh_path(name);
        keygen(&path, "ed25519", passphrase);
        path
    }

    /// A new client key pair, added to authorized_keys (sshd reads it at every login).
    pub fn authorize_new_client_key(&self, name: &str, passphrase: Option<&str>) -> PathBuf {
        let path = self.new_client_key(name, passphrase);
        let mut keys = fs::read_to_string(&self.authorized_keys).expect("read authorized_keys");
        keys.push_str(&public_key_line(&pub_path(&path)));
        keys.push('\n');
        fs::write(&self.authorized_keys, keys).expect("write authorized_keys");
        path
    }

    /// A config for the lab user on this server, with the lab key.
    pub fn config(&self, known_hosts: PathBuf) -> SshConfig {
        config(self.port, known_hosts)
    }

    /// Connects with the lab key and a known_hosts that trusts the server.
    pub async fn connect(&self) -> SshHost {
        SshHost::connect(
            self.config(self.trusted_known_hosts()),
            HostKeyPolicy::Strict,
        )
        .await
        .expect("connect to the private sshd")
    }

    /// Starts the sshd again, on the same port with the same keys, after `kill_all`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart follows kill_all");
        let log = self.fresh_path("sshd-restarted.log");
        let child = spawn_listening(&self.config, &log, self.port)
            .unwrap_or_else(|log| panic!("sshd did not start again:\n{log}"));
        self.child = Some(child);
        self.log = log;
    }

    /// Kills the sshd and every process under it (the per-connection sshd processes, which
    /// sshd puts in sessions of their own, and the commands they run), by pid.
    pub fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let root = child.id();
        let mut pids = descendants(root);
        pids.push(root);
        for pid in pids {
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .ok();
        }
        child.wait().ok();
    }

    /// Open file descriptors of the per-connection sshd processes (leaked channels show here).
    pub fn session_fd_count(&self) -> usize {
        let Some(child) = &self.child else { return 0 };
        descendants(child.id())
            .iter()
            .map(|pid| {
                fs::read_dir(format!("/proc/{pid}/fd"))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// What sshd has logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// `KEY.pub` next to a private key `KEY`.
pub fn pub_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Pids of all processes below `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses; the fields after its last ')' are
        // state, then ppid.
        let Some(after) = stat.rfind(')') else {
            continue;
        };
        let ppid = stat
            .get(after + 1..)
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// A private ssh-agent (`-D`: our child) at `<its temp dir>/agent.sock`; killed on drop.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
    _dir: TempDir,
}

impl Agent {
    /// Starts an agent and adds `key` to it.
    pub fn start(key: &Path) -> Agent {
        let dir = TempDir::new("agent");
        let socket = dir.join("agent.sock");
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!("ssh-agent did not create {}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let agent = Agent {
            child,
            socket,
            _dir: dir,
        };
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .expect("ssh-add runs");
        assert!(
            out.status.success(),
            "ssh-add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Logs of the SSH layer to the test's output, filtered by `RUST_LOG`.
pub fn init_tracing() {
    // Another test of this binary may have set it already; one subscriber is enough.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init()
        .ok();
}

/// `/proc/loadavg`'s 1, 5 and 15 minute load averages, for printing next to timings.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let figures: Vec<&str> = text.split_whitespace().take(3).collect();
    format!("{} (1/5/15 min, {} CPUs)", figures.join(" "), cpus())
}

/// The 1-minute load average.
pub fn load_average_1m() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0.0)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Figures of a set of latencies, in ms (nearest-rank percentiles).
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub n: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Self {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort();
        let n = sorted.len();
        let at = |p: f64| {
            let rank = (p * n as f64).ceil() as usize;
            sorted[rank.clamp(1, n) - 1].as_secs_f64() * 1000.0
        };
        Self {
            n,
            median_ms: at(0.5),
            p90_ms: at(0.9),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
            self.median_ms, self.p90_ms, self.p99_ms, self.max_ms, self.n
        )
    }
}

/// A lab container made through a (possibly SSH-tunnelled) Docker client, labelled
/// `quayside.lab=1`; removed on drop with the local docker CLI (the same engine).
pub struct LabContainer {
    pub name: String,
}

impl LabContainer {
    /// Creates (without starting) a container of the lab image named `name`.
    pub async fn create(docker: &Docker, name: String, cmd: Option<Vec<String>>) -> Self {
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(super::lab_image()),
            cmd,
            labels: Some(HashMap::from([("quayside.lab".to_owned(), "1".to_owned())])),
            ..Default::default()
        };
        // The guard exists before the request, so that a half-made container is removed too.
        let guard = Self { name };
        docker
            .create_container(Some(options), body)
            .await
            .expect("create a lab container");
        guard
    }

    /// Creates and starts a container of the lab image that sleeps.
    pub async fn sleeper(docker: &Docker, name: String) -> Self {
        let guard = Self::create(docker, name, Some(vec!["sleep".into(), "600".into()])).await;
        docker
            .start_container(&guard.name, None)
            .await
            .expect("start a lab container");
        guard
    }
}

impl Drop for LabContainer {
    fn drop(&mut self) {
        Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output()
            .ok();
    }
}

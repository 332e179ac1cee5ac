//! Remote hosts over SSH, against the lab's three sshd "hosts" on 127.0.0.1 (all reaching this
//! machine's Docker engine and kernel), with the OpenSSH / docker CLI doing the same work in the
//! same run for comparison:
//!
//! 1. listing all containers on 3 hosts over open sessions, against `docker -H ssh://…`;
//! 2. applying a download rate over an open session (read-back included), against the same tc
//!    commands each through a fresh `ssh`;
//! 3. connecting: `ConnectedHost::connect` (SSH + Docker negotiation + tool probe), and a plain
//!    `SshHost::connect` (TCP, handshake, host key, auth).
//!
//! Reads the lab's variables (`eval "$(bash lab/lab.sh env)"`), writes its own temporary profile
//! and ssh config, creates its own containers (`qs-bench-remote-*`, label `quayside.lab=1`) and
//! removes them at the end. Run as root (the veth of the container is found with nsenter).
//!
//! The docker CLI runs `ssh` from PATH and offers no way to pass ssh options; `ssh` reads the
//! config of the passwd home, not `$HOME`. So the bench puts a two-line `ssh` wrapper
//! (`exec /usr/bin/ssh -F <temp config> "$@"`) first in the docker CLI's PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use quayside::ssh::{HostKeyPolicy, SshAuth, SshConfig, SshHost};
use quayside::testing::ConnectedHost;

const LIST_WARMUP: usize = 5;
const LIST_RUNS: usize = 40;
const DOCKER_RUNS: usize = 10;
const APPLY_WARMUP: usize = 3;
/// Rounds of the apply comparison; each round applies twice (1000 then 2000 kbit) over the
/// open session and runs the tc sequence once through fresh `ssh` processes.
const APPLY_ROUNDS: usize = 20;
const CONNECT_RUNS: usize = 10;
/// Created (not started) containers, so that listing has rows to carry.
const LISTED_CONTAINERS: usize = 10;

const LIST_TARGET_MS: f64 = 30.0;
const APPLY_TARGET_MS: f64 = 15.0;

/// What the lab tells the bench.
struct Lab {
    base_port: u16,
    hosts: u16,
    user: String,
    key: String,
    known_hosts: String,
    image: String,
}

impl Lab {
    fn from_env() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                format!(
                    "{name} is not set: bring the lab up (bash lab/lab.sh up) and run \
                     eval \"$(bash lab/lab.sh env)\" before cargo bench --bench remote_hosts"
                )
            })
        };
        let base_port = var("QS_SSH_BASE_PORT")?
            .parse()
            .map_err(|e| format!("QS_SSH_BASE_PORT is not a port: {e}"))?;
        let hosts: u16 = var("QS_SSH_HOSTS")?
            .parse()
            .map_err(|e| format!("QS_SSH_HOSTS is not a number: {e}"))?;
        if hosts < 3 {
            return Err(format!("the lab has {hosts} SSH hosts; this bench needs 3"));
        }
        Ok(Self {
            base_port,
            hosts,
            user: var("QS_SSH_USER")?,
            key: var("QS_SSH_KEY")?,
            known_hosts: var("QS_SSH_KNOWN_HOSTS")?,
            image: var("QS_LAB_IMAGE")?,
        })
    }

    fn port(&self, index: u16) -> u16 {
        self.base_port + index - 1
    }
}

/// The bench's temporary files and containers; removed on drop.
struct Scratch {
    dir: PathBuf,
    containers: Vec<String>,
}

impl Scratch {
    fn profile(&self) -> PathBuf {
        self.dir.join("profile.toml")
    }
    fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }
    fn wrapper_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let mut args = vec!["rm".to_owned(), "-f".to_owned()];
            args.extend(self.containers.iter().cloned());
            let removed = Command::new("docker")
                .args(&args)
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !removed {
                eprintln!("could not remove {:?}", self.containers);
            }
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn host_name(index: u16) -> String {
    format!("lab{index}")
}

fn write_files(lab: &Lab, scratch: &Scratch) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("cannot write {what}: {e}");
    std::fs::create_dir_all(scratch.wrapper_dir()).map_err(|e| io("the temp folder", e))?;
    let mut profile = String::new();
    for i in 1..=3 {
        profile.push_str(&format!(
            "[[host]]\nname = \"{}\"\naddress = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n\
             identity_file = \"{}\"\nknown_hosts = \"{}\"\nagent = false\n\n",
            host_name(i),
            lab.port(i),
            lab.user,
            lab.key,
            lab.known_hosts
        ));
    }
    std::fs::write(scratch.profile(), profile).map_err(|e| io("the profile", e))?;
    // One block for 127.0.0.1 covers the three ports; known_hosts holds `[127.0.0.1]:PORT`.
    let config = format!(
        "Host 127.0.0.1\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
         UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  \
         ControlMaster no\n  ControlPath none\n  LogLevel ERROR\n",
        lab.user, lab.key, lab.known_hosts
    );
    std::fs::write(scratch.ssh_config(), config).map_err(|e| io("the ssh config", e))?;
    let wrapper = scratch.wrapper_dir().join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F '{}' \"$@\"\n",
            scratch.ssh_config().display()
        ),
    )
    .map_err(|e| io("the ssh wrapper", e))?;
    let chmod = Command::new("chmod")
        .arg("755")
        .arg(&wrapper)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !chmod {
        return Err("cannot make the ssh wrapper executable".to_owned());
    }
    Ok(())
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn make_containers(lab: &Lab, scratch: &mut Scratch) -> Result<String, String> {
    let pid = std::process::id();
    for i in 0..LISTED_CONTAINERS {
        let name = format!("qs-bench-remote-{pid}-{i}");
        docker(&[
            "create",
            "--name",
            &name,
            "--label",
            "quayside.lab=1",
            &lab.image,
            "sleep",
            "3600",
        ])?;
        scratch.containers.push(name);
    }
    let running = format!("qs-bench-remote-{pid}-run");
    docker(&[
        "run",
        "-d",
        "--name",
        &running,
        "--label",
        "quayside.lab=1",
        &lab.image,
        "sleep",
        "3600",
    ])?;
    scratch.containers.push(running.clone());
    Ok(running)
}

/// The host-side veth of the container's eth0: the host link whose ifindex is the peer
/// ifindex (`link_index`) of eth0 inside the container's network namespace.
fn host_veth(container: &str) -> Result<String, String> {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", container])?;
    let run_json = |program: &str, args: &[&str]| -> Result<serde_json::Value, String> {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{program} {}: {} (the bench must run as root)",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("{program} output: {e}"))
    };
    let inside = run_json(
        "nsenter",
        &["-t", &pid, "-n", "ip", "-j", "link", "show", "eth0"],
    )?;
    let peer = inside
        .get(0)
        .and_then(|l| l.get("link_index"))
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("eth0 of {container} names no peer ifindex"))?;
    let host = run_json("ip", &["-j", "link", "show"])?;
    host.as_array()
        .into_iter()
        .flatten()
        .find(|l| l.get("ifindex").and_then(serde_json::Value::as_u64) == Some(peer))
        .and_then(|l| l.get("ifname"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no host link with ifindex {peer}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and p90 (nearest rank) in ms.
fn stats(times: &[Duration]) -> (f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |rank: usize| sorted.get(rank).copied().map(ms).unwrap_or(f64::NAN);
    let p90_rank = (sorted.len() * 9).div_ceil(10).saturating_sub(1);
    (at(sorted.len() / 2), at(p90_rank))
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value <= target { "meets" } else { "misses" }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("unreadable ({e})"))
}

fn docker_ps_command(lab: &Lab, scratch: &Scratch, port: u16) -> Command {
    let path = format!(
        "{}:{}",
        scratch.wrapper_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("docker");
    cmd.env("PATH", path)
        .args([
            "-H",
            &format!("ssh://{}@127.0.0.1:{port}", lab.user),
            "ps",
            "-a",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn wait_ok(child: std::process::Child, what: &str) -> Result<(), String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn docker_ps_once(lab: &Lab, scratch: &Scratch, port: u16) -> Result<Duration, String> {
    let start = Instant::now();
    let child = docker_ps_command(lab, scratch, port)
        .spawn()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    wait_ok(child, &format!("docker -H ssh://…:{port} ps -a"))?;
    Ok(start.elapsed())
}

fn bench_list(
    rt: &tokio::runtime::Runtime,
    lab: &Lab,
    scratch: &Scratch,
    hosts: &[ConnectedHost; 3],
) -> Result<(), String> {
    println!();
    println!("1. List all containers on 3 SSH hosts, warm (target: median <= {LIST_TARGET_MS} ms)");
    let [a, b, c] = hosts;
    let round = move || async move {
        let (x, y, z) = tokio::join!(a.list_all(), b.list_all(), c.list_all());
        Ok::<_, String>([x?, y?, z?])
    };
    let mut counts = [0; 3];
    for _ in 0..LIST_WARMUP {
        counts = rt.block_on(round())?;
    }
    let mut ours = Vec::with_capacity(LIST_RUNS);
    for _ in 0..LIST_RUNS {
        let start = Instant::now();
        rt.block_on(round())?;
        ours.push(start.elapsed());
    }
    let (median, p90) = stats(&ours);
    println!(
        "  quayside, 3 hosts concurrently over open sessions ({} rows each), n={LIST_RUNS}: \
         median {median:.1} ms, p90 {p90:.1} ms",
        counts.map(|c| c.to_string()).join("/")
    );

    // The docker CLI: a fresh ssh (and docker system dial-stdio) per command.
    let ports = [lab.port(1), lab.port(2), lab.port(3)];
    for port in ports {
        docker_ps_once(lab, scratch, port)?;
    }
    let mut per_host: [Vec<Duration>; 3] = Default::default();
    let mut sequential = Vec::with_capacity(DOCKER_RUNS);
    let mut concurrent = Vec::with_capacity(DOCKER_RUNS);
    for _ in 0..DOCKER_RUNS {
        let start = Instant::now();
        for (port, times) in ports.iter().zip(per_host.iter_mut()) {
            times.push(docker_ps_once(lab, scratch, *port)?);
        }
        sequential.push(start.elapsed());

        let start = Instant::now();
        let mut children = Vec::with_capacity(3);
        for port in ports {
            children.push(
                docker_ps_command(lab, scratch, port)
                    .spawn()
                    .map_err(|e| format!("cannot run docker: {e}"))?,
            );
        }
        for child in children {
            wait_ok(child, "docker -H ssh://… ps -a")?;
        }
        concurrent.push(start.elapsed());
    }
    let per_host_medians: Vec<String> = per_host
        .iter()
        .map(|t| format!("{:.1}", stats(t).0))
        .collect();
    let (seq, _) = stats(&sequential);
    let (conc, _) = stats(&concurrent);
    println!(
        "  docker -H ssh://USER@127.0.0.1:PORT ps -a, n={DOCKER_RUNS}: per host median {} ms; \
         3 hosts sequentially {seq:.1} ms; 3 processes concurrently {conc:.1} ms",
        per_host_medians.join(" / ")
    );
    println!(
        "  ratio ours/theirs: {:.3} against docker concurrently, {:.3} against sequentially",
        median / conc,
        median / seq
    );
    println!(
        "  conclusion: {} the target ({median:.1} ms median vs {LIST_TARGET_MS} ms); {:.0}x faster \
         than 3 concurrent docker CLIs, which pay a new SSH connection per command",
        verdict(median, LIST_TARGET_MS),
        conc / median
    );
    Ok(())
}

fn ssh_tc(lab: &Lab, scratch: &Scratch, words: &[&str]) -> Result<(), String> {
    let out = Command::new("/usr/bin/ssh")
        .arg("-F")
        .arg(scratch.ssh_config())
        .args(["-p", &lab.port(1).to_string(), "127.0.0.1"])
        .args(["sudo", "-n", "/usr/sbin/tc"])
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ssh … tc {}: {}",
            words.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The tc work of one apply through a fresh `ssh` per command. Returns the time of the four
/// commands (replace qdisc, replace class, the two reads) and of all five: the kernel refuses
/// `qdisc replace` over an existing HTB root with the same handle ("Change operation not
/// supported by specified qdisc"), so a fifth `ssh` deletes the root first.
fn ssh_tc_sequence(
    lab: &Lab,
    scratch: &Scratch,
    veth: &str,
    rate_kbit: u64,
) -> Result<(Duration, Duration), String> {
    let rate = format!("{rate_kbit}kbit");
    let whole = Instant::now();
    ssh_tc(lab, scratch, &["qdisc", "del", "dev", veth, "root"])?;
    let start = Instant::now();
    ssh_tc(
        lab,
        scratch,
        &[
            "qdisc", "replace", "dev", veth, "root", "handle", "7173:", "htb", "default", "1",
        ],
    )?;
    ssh_tc(
        lab,
        scratch,
        &[
            "class", "replace", "dev", veth, "parent", "7173:", "classid", "7173:1", "htb", "rate",
            &rate, "ceil", &rate, "burst", "1600", "cburst", "1600",
        ],
    )?;
    ssh_tc(lab, scratch, &["-s", "-j", "qdisc", "show", "dev", veth])?;
    ssh_tc(lab, scratch, &["class", "show", "dev", veth])?;
    Ok((start.elapsed(), whole.elapsed()))
}

fn bench_apply(
    rt: &tokio::runtime::Runtime,
    lab: &Lab,
    scratch: &Scratch,
    host: &ConnectedHost,
    container: &str,
) -> Result<(), String> {
    println!();
    println!(
        "2. Apply a download rate on a remote host over an open session, read-back included \
         (target: median <= {APPLY_TARGET_MS} ms)"
    );
    let veth = host_veth(container)?;
    let mut headline = String::new();
    for i in 0..APPLY_WARMUP {
        let rate = if i % 2 == 0 { 1000 } else { 2000 };
        headline = rt.block_on(host.apply_download_rate(container, rate))?;
    }
    let mut ours = Vec::with_capacity(APPLY_ROUNDS * 2);
    let mut theirs = Vec::with_capacity(APPLY_ROUNDS);
    let mut theirs_whole = Vec::with_capacity(APPLY_ROUNDS);
    let mut last = String::new();
    for round in 0..APPLY_ROUNDS {
        for rate in [1000, 2000] {
            let start = Instant::now();
            last = rt.block_on(host.apply_download_rate(container, rate))?;
            ours.push(start.elapsed());
        }
        let rate = if round % 2 == 0 { 1000 } else { 2000 };
        let (four, five) = ssh_tc_sequence(lab, scratch, &veth, rate)?;
        theirs.push(four);
        theirs_whole.push(five);
    }
    let cleared = rt.block_on(host.clear(container))?;
    let (median, p90) = stats(&ours);
    let (theirs_median, theirs_p90) = stats(&theirs);
    let (whole_median, whole_p90) = stats(&theirs_whole);
    println!("  container {container}, host veth {veth} (peer of its eth0), on lab host 1");
    println!("  first read-back: \"{headline}\"; last: \"{last}\"");
    println!(
        "  quayside apply_download_rate, 1000/2000 kbit alternating, n={}: median {median:.1} ms, \
         p90 {p90:.1} ms",
        ours.len()
    );
    println!(
        "  fresh ssh per command (tc qdisc replace, tc class replace, tc -s -j qdisc show, \
         tc class show), whole sequence, n={APPLY_ROUNDS}: median {theirs_median:.1} ms, \
         p90 {theirs_p90:.1} ms"
    );
    println!(
        "  the same preceded by a fresh ssh deleting the root (tc qdisc replace cannot change an \
         existing HTB root), 5 commands, n={APPLY_ROUNDS}: median {whole_median:.1} ms, \
         p90 {whole_p90:.1} ms"
    );
    println!(
        "  ratio ours/theirs: {:.3} against the 4 commands, {:.3} against all 5",
        median / theirs_median,
        median / whole_median
    );
    println!("  cleared at the end: \"{cleared}\"");
    println!(
        "  conclusion: {} the target ({median:.1} ms median vs {APPLY_TARGET_MS} ms); {:.0}x faster \
         than 4 fresh ssh commands, though ours also lists, inspects and finds the veth each time",
        verdict(median, APPLY_TARGET_MS),
        theirs_median / median
    );
    Ok(())
}

fn ssh_config_for(lab: &Lab, index: u16) -> SshConfig {
    let mut config = SshConfig::new(
        "127.0.0.1",
        lab.port(index),
        &lab.user,
        PathBuf::from(&lab.known_hosts),
    );
    config.label = host_name(index);
    config.auth.push(SshAuth::KeyFile {
        path: PathBuf::from(&lab.key),
        passphrase: None,
    });
    config
}

fn bench_connect(rt: &tokio::runtime::Runtime, lab: &Lab, profile: &Path) -> Result<(), String> {
    println!();
    println!(
        "3. Connect per host (TCP, handshake, host key, auth) (target: none set; informational)"
    );
    let mut full: [Vec<Duration>; 3] = Default::default();
    let mut plain: [Vec<Duration>; 3] = Default::default();
    // One warm-up each, then the runs, hosts interleaved.
    for run in 0..=CONNECT_RUNS {
        for (i, (full_times, plain_times)) in (1..=3).zip(full.iter_mut().zip(plain.iter_mut())) {
            let name = host_name(i);
            let start = Instant::now();
            let host = rt.block_on(ConnectedHost::connect(profile, &name))?;
            let took = start.elapsed();
            drop(host);
            if run > 0 {
                full_times.push(took);
            }

            let config = ssh_config_for(lab, i);
            let start = Instant::now();
            let ssh = rt
                .block_on(SshHost::connect(config, HostKeyPolicy::Strict))
                .map_err(|e| e.to_string())?;
            let took = start.elapsed();
            rt.block_on(ssh.disconnect());
            if run > 0 {
                plain_times.push(took);
            }
        }
    }
    for (i, (f, p)) in (1..=3).zip(full.iter().zip(plain.iter())) {
        let (fm, fp) = stats(f);
        let (pm, pp) = stats(p);
        println!(
            "  {} (port {}): ConnectedHost::connect median {fm:.1} ms (p90 {fp:.1}); \
             SshHost::connect median {pm:.1} ms (p90 {pp:.1}); n={CONNECT_RUNS} each",
            host_name(i),
            lab.port(i)
        );
    }
    let all_full: Vec<Duration> = full.concat();
    let all_plain: Vec<Duration> = plain.concat();
    let (fm, _) = stats(&all_full);
    let (pm, _) = stats(&all_plain);
    println!(
        "  conclusion: the SSH session itself costs {pm:.1} ms (median over the 3 hosts); \
         Docker negotiation and the tool probe bring a full connect to {fm:.1} ms"
    );
    Ok(())
}

fn run(lab: &Lab, scratch: &mut Scratch) -> Result<(), String> {
    write_files(lab, scratch)?;
    let container = make_containers(lab, scratch)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let profile = scratch.profile();
    let start = Instant::now();
    let names = [host_name(1), host_name(2), host_name(3)];
    let [n1, n2, n3] = &names;
    let hosts = rt.block_on(async {
        let (a, b, c) = tokio::join!(
            ConnectedHost::connect(&profile, n1),
            ConnectedHost::connect(&profile, n2),
            ConnectedHost::connect(&profile, n3),
        );
        Ok::<_, String>([a?, b?, c?])
    })?;
    println!(
        "connected the 3 lab hosts (ports {}-{}, of {} in the lab) concurrently in {:.1} ms",
        lab.port(1),
        lab.port(3),
        lab.hosts,
        ms(start.elapsed())
    );

    bench_list(&rt, lab, scratch, &hosts)?;
    let [first, ..] = &hosts;
    bench_apply(&rt, lab, scratch, first, &container)?;
    drop(hosts);
    bench_connect(&rt, lab, &profile)?;
    Ok(())
}

fn main() -> ExitCode {
    let lab = match Lab::from_env() {
        Ok(lab) => lab,
        Err(problem) => {
            eprintln!("remote_hosts: {problem}");
            return ExitCode::FAILURE;
        }
    };
    println!("load average at start: {}", load_average());
    let mut scratch = Scratch {
        dir: std::env::temp_dir().join(format!("qs-bench-remote-{}", std::process::id())),
        containers: Vec::new(),
    };
    let result = run(&lab, &mut scratch);
    drop(scratch);
    println!();
    println!("load average at end: {}", load_average());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("remote_hosts: {problem}");
            ExitCode::FAILURE
        }
    }
}

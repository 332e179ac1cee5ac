//! Applying shaping and reading it back, the way the window does when a slider moves: median
//! and p95 of `shaping::ops::apply` (validation, inspect, discovery, plan, one tc batch,
//! read-back) on this machine's engine and on lab host 1 over an open SSH session.
//!
//! The profile is rate only (download and upload, so the IFB is part of every apply), since
//! this machine's kernel has no netem; each round alternates between two rate pairs, so every
//! apply really changes the kernel's tree.
//!
//! Reads the lab's variables (`eval "$(bash lab/lab.sh env)"`), writes its own temporary
//! profile, starts its own container (`qs-bench-apply-*`, label `quayside.lab=1`) and removes
//! it at the end. Run as root: the local runner then needs no sudo, as in the lab's tests.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use quayside::testing::ConnectedHost;

const WARMUP: usize = 5;
/// Applies measured per host.
const RUNS: usize = 60;
/// The target for apply + read-back, median, on an open session.
const TARGET_MS: f64 = 15.0;
/// Two (download, upload) pairs in kbit/s, alternated.
const RATES_KBIT: [(u64, u64); 2] = [(2000, 512), (1000, 768)];

/// The bench's temporary profile and container; removed on drop.
struct Scratch {
    dir: PathBuf,
    container: Option<String>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(name) = &self.container {
            let removed = Command::new("docker")
                .args(["rm", "-f", name])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !removed {
                eprintln!("could not remove {name}");
            }
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| {
        format!(
            "{name} is not set: run eval \"$(bash lab/lab.sh env)\" before \
             cargo bench --bench shaping_apply"
        )
    })
}

fn profile_text() -> Result<String, String> {
    let port: u16 = var("QS_SSH_BASE_PORT")?
        .parse()
        .map_err(|e| format!("QS_SSH_BASE_PORT is not a port: {e}"))?;
    Ok(format!(
        "[[host]]\nname = \"local\"\ndocker = \"local\"\n\n\
         [[host]]\nname = \"lab1\"\naddress = \"127.0.0.1\"\nport = {port}\nuser = \"{}\"\n\
         identity_file = \"{}\"\nknown_hosts = \"{}\"\nagent = false\n",
        var("QS_SSH_USER")?,
        var("QS_SSH_KEY")?,
        var("QS_SSH_KNOWN_HOSTS")?
    ))
}

fn start_container(scratch: &mut Scratch) -> Result<String, String> {
    let name = format!("qs-bench-apply-{}", std::process::id());
    let out = Command::new("docker")
        .args(["run", "-d", "--name", &name, "--label", "quayside.lab=1"])
        .arg(var("QS_LAB_IMAGE")?)
        .args(["sleep", "3600"])
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    scratch.container = Some(name.clone());
    Ok(name)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and p95 (nearest rank) in ms.
fn stats(times: &[Duration]) -> (f64, f64) {
    let mut sorted: Vec<f64> = times.iter().copied().map(ms).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let index = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
        sorted.get(index).copied().unwrap_or(f64::NAN)
    };
    (rank(0.5), rank(0.95))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn bench_host(
    rt: &tokio::runtime::Runtime,
    profile: &std::path::Path,
    host_name: &str,
    container: &str,
) -> Result<(), String> {
    let host = rt.block_on(ConnectedHost::connect(profile, host_name))?;
    let target = rt.block_on(host.shaping_target(container))?;

    // The first apply of a container finds its veth; later ones reuse what was found.
    let start = Instant::now();
    let first = rt.block_on(host.apply_rates(&target, 3000, 256))?;
    let first_ms = ms(start.elapsed());
    for i in 0..WARMUP {
        let (down, up) = RATES_KBIT.get(i % 2).copied().unwrap_or((1000, 1000));
        rt.block_on(host.apply_rates(&target, down, up))?;
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut last = String::new();
    for i in 0..RUNS {
        let (down, up) = RATES_KBIT.get(i % 2).copied().unwrap_or((1000, 1000));
        let start = Instant::now();
        last = rt.block_on(host.apply_rates(&target, down, up))?;
        times.push(start.elapsed());
    }
    let cleared = rt.block_on(host.apply_rates(&target, 0, 0))?;
    let (median, p95) = stats(&times);
    println!(
        "  {host_name}: apply + read-back, n={RUNS}: median {median:.1} ms, p95 {p95:.1} ms \
         ({} the {TARGET_MS} ms target); first apply {first_ms:.1} ms",
        if median <= TARGET_MS {
            "meets"
        } else {
            "misses"
        }
    );
    println!("    first read-back: \"{first}\"; last: \"{last}\"; at the end: \"{cleared}\"");
    Ok(())
}

fn run(scratch: &mut Scratch) -> Result<(), String> {
    std::fs::create_dir_all(&scratch.dir)
        .map_err(|e| format!("cannot make the temp folder: {e}"))?;
    let profile = scratch.dir.join("profile.toml");
    std::fs::write(&profile, profile_text()?)
        .map_err(|e| format!("cannot write the profile: {e}"))?;
    let container = start_container(scratch)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    println!(
        "Apply a rate-only profile (download and upload) and read it back, container {container}"
    );
    bench_host(&rt, &profile, "local", &container)?;
    bench_host(&rt, &profile, "lab1", &container)?;
    Ok(())
}

fn main() -> ExitCode {
    println!("load average at start: {}", load_average());
    let mut scratch = Scratch {
        dir: std::env::temp_dir().join(format!("qs-bench-apply-{}", std::process::id())),
        container: None,
    };
    let result = run(&mut scratch);
    drop(scratch);
    println!("load average at end: {}", load_average());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("shaping_apply: {problem}");
            ExitCode::FAILURE
        }
    }
}

//! `quayside ps -a --json` against `docker ps -a` on the same engine with 50 containers, in the
//! same run: prints both medians and their ratio.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONTAINERS: usize = 50;
const RUNS: usize = 20;

fn run(program: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("{program} {args:?} failed");
    }
    start.elapsed()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times
        .get(times.len() / 2)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let image =
        std::env::var("QS_LAB_IMAGE").unwrap_or_else(|_| "quayside-lab/busybox:latest".to_owned());
    let names: Vec<String> = (0..CONTAINERS)
        .map(|i| format!("qs-bench-ps-{}-{i}", std::process::id()))
        .collect();
    for name in &names {
        let made = Command::new("docker")
            .args([
                "create",
                "--name",
                name,
                "--label",
                "quayside.lab=1",
                &image,
                "sleep",
                "1",
            ])
            .stdout(Stdio::null())
            .status();
        if !made.map(|s| s.success()).unwrap_or(false) {
            eprintln!("cannot create {name}: is the lab up (bash lab/lab.sh up)?");
        }
    }

    let quayside = env!("CARGO_BIN_EXE_quayside");
    run(quayside, &["ps", "-a", "--json"]);
    run("docker", &["ps", "-a"]);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        ours.push(run(quayside, &["ps", "-a", "--json"]));
        theirs.push(run("docker", &["ps", "-a"]));
    }
    let (q, d) = (median(ours), median(theirs));
    println!("ps -a with {CONTAINERS}+ containers, median of {RUNS} runs each:");
    println!("  quayside ps -a --json: {q:.1} ms");
    println!("  docker ps -a:          {d:.1} ms");
    println!("  ratio quayside/docker: {:.2}", q / d);

    let mut rm = vec!["rm".to_owned(), "-f".to_owned()];
    rm.extend(names);
    Command::new("docker")
        .args(&rm)
        .stdout(Stdio::null())
        .status()
        .ok();
}

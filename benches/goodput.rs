//! Goodput under a rate limit: for 1, 10 and 100 Mbit/s, in each direction, the payload rate a
//! TCP transfer through the container's veth reaches, as a share of the set rate. On this
//! machine, and on the lab's netem guest where it is fast enough (it is emulated: a rate is
//! measured there only if the guest moves at least three times that unshaped).
//!
//! The transfers are the tests' (`tests/common/meter.py`, one end in the container's network
//! namespace); each lasts about four seconds. Columns: goodput leaving out the last 70 KiB
//! (see `tests/wire_rate.rs`), the same over the whole transfer, and the most bytes that
//! arrived within any 10 ms (a smooth 1 Mbit/s carries 1250 B in 10 ms).
//!
//! Reads the lab's variables (`eval "$(bash lab/lab.sh env)"`), makes its own containers
//! (label `quayside.lab=1`), removes them at the end. Run as root: `cargo bench --bench goodput`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../tests/common/guest.rs"]
#[expect(dead_code, reason = "the tests' helpers; the bench uses some of them")]
mod guest;
#[path = "../tests/common/hosts.rs"]
#[expect(dead_code, reason = "the tests' helpers; the bench uses some of them")]
mod hosts;
#[path = "../tests/common/wire.rs"]
mod wire;

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};

use wire::{Direction, Transfer, measure_guest, measure_local};

const RATES_MBIT: [u64; 3] = [1, 10, 100];
/// A rate is measured on the guest only if it moves this many times the rate unshaped.
const GUEST_HEADROOM: f64 = 3.0;

/// A name no other run uses (the helpers name their containers with it).
fn unique_name(word: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "qs-bench-{word}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// One row of the table.
struct Row {
    host: &'static str,
    rate_mbit: u64,
    direction: Direction,
    transfer: Option<Transfer>,
    note: String,
}

/// Where a container runs, and how to shape and measure it.
enum Place {
    Local {
        name: String,
    },
    Guest {
        c: guest::GuestContainer,
        profile: hosts::ProfileFile,
    },
}

impl Place {
    fn local() -> Self {
        let name = unique_name("goodput");
        let image =
            std::env::var("QS_LAB_IMAGE").unwrap_or_else(|_| "quayside-lab/busybox:latest".into());
        let ok = Command::new("docker")
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                "quayside.lab=1",
                &image,
            ])
            .args(["sleep", "3600"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "docker run {image}");
        Self::Local { name }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Guest { .. } => "netem guest",
        }
    }

    fn net(&self, args: &[&str]) {
        let mut all: Vec<String> = Vec::new();
        let id = match self {
            Self::Local { name } => format!("local:{name}"),
            Self::Guest { c, profile } => {
                all.extend(["--hosts".into(), profile.arg().to_owned()]);
                c.id()
            }
        };
        all.extend(["net".into(), "--id".into(), id]);
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let out = Command::new(env!("CARGO_BIN_EXE_quayside"))
            .args(&all)
            .output()
            .expect("quayside runs");
        assert!(
            out.status.success(),
            "quayside {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pid(&self) -> u32 {
        match self {
            Self::Local { name } => {
                let out = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Pid}}", name])
                    .output()
                    .expect("docker inspect");
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            }
            Self::Guest { c, .. } => c.pid(),
        }
    }

    fn measure(&self, direction: Direction, bytes: u64) -> Transfer {
        match self {
            Self::Local { .. } => measure_local(self.pid(), direction, bytes),
            Self::Guest { .. } => measure_guest(self.pid(), direction, bytes),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Self::Local { name } = self {
            Command::new("docker")
                .args(["rm", "-f", name])
                .output()
                .ok();
        }
    }
}

fn measure_place(place: &Place, rows: &mut Vec<Row>) {
    // What the place moves unshaped, in each direction.
    place.net(&["--policy", "clear"]);
    let mut unshaped_kbit = f64::INFINITY;
    for direction in [Direction::Download, Direction::Upload] {
        let t = place.measure(direction, 50_000_000);
        eprintln!(
            "{}: {direction:?} unshaped {:.0} Mbit/s",
            place.name(),
            t.goodput_kbit / 1000.0
        );
        unshaped_kbit = unshaped_kbit.min(t.goodput_kbit);
    }

    for rate_mbit in RATES_MBIT {
        for direction in [Direction::Download, Direction::Upload] {
            let mut row = Row {
                host: place.name(),
                rate_mbit,
                direction,
                transfer: None,
                note: String::new(),
            };
            let rate_kbit = rate_mbit * 1000;
            if matches!(place, Place::Guest { .. })
                && unshaped_kbit < GUEST_HEADROOM * rate_kbit as f64
            {
                row.note = format!(
                    "not measured: the guest moves {:.0} Mbit/s unshaped",
                    unshaped_kbit / 1000.0
                );
                rows.push(row);
                continue;
            }
            let flag = match direction {
                Direction::Download => "--down-rate",
                Direction::Upload => "--up-rate",
            };
            let rate = format!("{rate_mbit}mbit");
            place.net(&["--policy", "clear"]);
            place.net(&[flag, &rate]);
            row.transfer = Some(place.measure(direction, rate_kbit * 125 * 4));
            rows.push(row);
        }
    }
    place.net(&["--policy", "clear"]);
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<12} {:>9} {:<9} {:>14} {:>7} {:>12} {:>14} {:>14}",
        "host", "rate", "direction", "goodput", "ratio", "whole ratio", "largest 10 ms", "transfer"
    );
    for row in rows {
        let rate = format!("{} Mbit/s", row.rate_mbit);
        let direction = match row.direction {
            Direction::Download => "download",
            Direction::Upload => "upload",
        };
        match &row.transfer {
            Some(t) => {
                let rate_kbit = (row.rate_mbit * 1000) as f64;
                println!(
                    "{:<12} {:>9} {:<9} {:>9.0} kbit/s {:>7.3} {:>12.3} {:>12} B {:>6} kB {:.1} s",
                    row.host,
                    rate,
                    direction,
                    t.goodput_kbit,
                    t.ratio(rate_kbit),
                    t.whole_kbit / rate_kbit,
                    t.peak_10ms_bytes,
                    t.bytes / 1000,
                    t.secs
                );
            }
            None => println!("{:<12} {:>9} {:<9} {}", row.host, rate, direction, row.note),
        }
    }
}

fn main() -> ExitCode {
    if std::env::var("QS_NETEM_PORT").is_err() {
        eprintln!(
            "QS_NETEM_PORT is not set: run eval \"$(bash lab/lab.sh env)\" before \
             cargo bench --bench goodput"
        );
        return ExitCode::FAILURE;
    }
    let mut rows = Vec::new();
    {
        let local = Place::local();
        measure_place(&local, &mut rows);
    }
    {
        let guest = Place::Guest {
            c: guest::GuestContainer::sleeper("goodput"),
            profile: guest::profile(),
        };
        measure_place(&guest, &mut rows);
    }
    print_table(&rows);
    ExitCode::SUCCESS
}

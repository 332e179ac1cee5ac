//! Goodput through a container's veth, measured on the host that runs the container by
//! `meter.py`: one end of a TCP transfer runs in the container's network namespace (nsenter),
//! the other in the host's, so the bytes cross the veth and its shaping like the container's
//! own traffic. The same script runs on this machine and in the netem guest.

use std::process::Command;
use std::sync::OnceLock;

use super::guest;

/// The measuring script, run with `python3`.
pub const METER: &str = include_str!("meter.py");

/// Which way the bytes go, named from the container's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Into the container.
    Download,
    /// Out of the container.
    Upload,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Self::Download => "down",
            Self::Upload => "up",
        }
    }
}

/// What one transfer measured.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub bytes: u64,
    /// Payload rate from the first arrival, leaving out the last 70 KiB (see `meter.py`).
    pub goodput_kbit: f64,
    /// Payload bytes over the whole time from first arrival to end of stream.
    pub whole_kbit: f64,
    pub secs: f64,
    /// The most payload that arrived within any 10 ms.
    pub peak_10ms_bytes: u64,
}

impl Transfer {
    fn parse(json: &str, sent: u64) -> Self {
        let v: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("meter output {json}: {e}"));
        let bytes = v["bytes"].as_u64().expect("bytes");
        assert_eq!(bytes, sent, "every byte arrived: {json}");
        Self {
            bytes,
            goodput_kbit: v["goodput_kbit"].as_f64().expect("goodput"),
            whole_kbit: v["whole_kbit"].as_f64().expect("whole"),
            secs: v["secs"].as_f64().expect("secs"),
            peak_10ms_bytes: v["peak_10ms_bytes"].as_u64().expect("peak"),
        }
    }

    /// Goodput over a set rate.
    pub fn ratio(&self, rate_kbit: f64) -> f64 {
        self.goodput_kbit / rate_kbit
    }
}

/// Sends `bytes` into or out of the local container whose init has `pid`.
pub fn measure_local(pid: u32, direction: Direction, bytes: u64) -> Transfer {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("qs-meter-{}.py", std::process::id()));
        std::fs::write(&path, METER).expect("write the meter");
        path
    });
    let out = Command::new("python3")
        .arg(path)
        .args([direction.word(), &pid.to_string(), &bytes.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "meter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Transfer::parse(&String::from_utf8_lossy(&out.stdout), bytes)
}

/// Sends `bytes` into or out of a container in the netem guest whose init has `pid`.
pub fn measure_guest(pid: u32, direction: Direction, bytes: u64) -> Transfer {
    static PATH: OnceLock<String> = OnceLock::new();
    let path = guest::guest_file("meter.py", METER, &PATH);
    let out = guest::guest(&format!(
        "python3 {path} {} {pid} {bytes}",
        direction.word()
    ));
    Transfer::parse(&out, bytes)
}

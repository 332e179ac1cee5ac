//! Time from starting the `quayside` binary to its first frame, in a real window under Xvfb.
//!
//! Runs the release binary several times and prints the median and range of the time from
//! spawn to the end of the first frame (target: at most 300 ms), plus what the app measured
//! from `main`.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 10;

fn main() {
    let Some(display) = (150..400).find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
    else {
        eprintln!("no free display");
        return;
    };
    let Ok(mut xvfb) = Command::new("Xvfb")
        .args([
            &format!(":{display}"),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stderr(Stdio::null())
        .spawn()
    else {
        eprintln!("Xvfb is needed: apt-get install xvfb");
        return;
    };
    let socket = format!("/tmp/.X11-unix/X{display}");
    let ready = Instant::now();
    while !Path::new(&socket).exists() && ready.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut spawn_to_frame = Vec::new();
    let mut main_to_frame = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let Ok(mut app) = Command::new(env!("CARGO_BIN_EXE_quayside"))
            .env("DISPLAY", format!(":{display}"))
            .env("QUAYSIDE_REPORT_FIRST_FRAME", "1")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        else {
            eprintln!("cannot start quayside");
            break;
        };
        if let Some(stderr) = app.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("first frame after ") {
                    spawn_to_frame.push(start.elapsed());
                    let ms: f64 = rest.trim_end_matches(" ms").parse().unwrap_or(f64::NAN);
                    main_to_frame.push(ms);
                    break;
                }
            }
        }
        app.kill().ok();
        app.wait().ok();
    }
    xvfb.kill().ok();
    xvfb.wait().ok();

    spawn_to_frame.sort();
    main_to_frame.sort_by(f64::total_cmp);
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let (Some(first), Some(last)) = (spawn_to_frame.first(), spawn_to_frame.last()) else {
        eprintln!("no run reached its first frame");
        return;
    };
    let median = spawn_to_frame
        .get(spawn_to_frame.len() / 2)
        .map(ms)
        .unwrap_or(f64::NAN);
    let app_median = main_to_frame
        .get(main_to_frame.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    println!(
        "start to first frame over {} runs (target <= 300 ms):",
        spawn_to_frame.len()
    );
    println!(
        "  spawn to first frame: median {median:.1} ms (min {:.1}, max {:.1})",
        ms(first),
        ms(last)
    );
    println!("  main() to first frame, as the app measured it: median {app_median:.1} ms");
}

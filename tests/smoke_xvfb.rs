//! The real `quayside` binary in a real window under Xvfb: it opens, draws its first frame,
//! and a screenshot of the screen is not blank.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process that is ended (by pid) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A display number with no X server on it.
fn free_display() -> u32 {
    (140..400)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free display number")
}

fn start_xvfb(display: u32) -> Running {
    let child = Command::new("Xvfb")
        .args([
            &format!(":{display}"),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb runs (the lab installs the xvfb package)");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
    assert!(
        common::wait_until(Duration::from_secs(10), || socket.exists()),
        "Xvfb came up"
    );
    Running(child)
}

/// The number of distinct colours in a PNG, as ImageMagick counts them.
fn colours(png: &Path) -> u64 {
    let out = common::run_ok(
        "convert",
        &[png.to_str().unwrap(), "-format", "%k", "info:"],
    );
    out.trim().parse().expect("a colour count")
}

#[test]
fn the_window_opens_under_xvfb_and_is_not_blank() {
    let display = free_display();
    let _xvfb = start_xvfb(display);
    let log = std::env::temp_dir().join(format!("quayside-smoke-{}.log", std::process::id()));
    let app = Command::new(env!("CARGO_BIN_EXE_quayside"))
        .env("DISPLAY", format!(":{display}"))
        .env("QUAYSIDE_REPORT_FIRST_FRAME", "1")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("quayside starts");
    let mut app = Running(app);

    let first_frame = common::wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("first frame after")
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(first_frame, "the window drew a frame; log:\n{text}");
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the app is still running; log:\n{text}"
    );

    // Give the backend a moment to list the engine's containers, then take the screenshot.
    let shot = std::env::temp_dir().join(format!("quayside-smoke-{}.png", std::process::id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut count = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        common::run_ok(
            "import",
            &[
                "-display",
                &format!(":{display}"),
                "-window",
                "root",
                shot.to_str().unwrap(),
            ],
        );
        count = colours(&shot);
        if count > 50 {
            break;
        }
    }
    assert!(
        count > 50,
        "the screenshot has {count} colours: it looks blank ({})",
        shot.display()
    );
    std::fs::remove_file(&shot).ok();
    std::fs::remove_file(&log).ok();
}

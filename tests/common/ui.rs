//! Driving the real window in tests: stepping it in real time until something shows.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use quayside::App;

/// Steps the window in real time until `check` holds, at most `limit`.
pub fn step_until(
    h: &mut Harness<'static, App>,
    limit: Duration,
    check: impl Fn(&Harness<'static, App>) -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        h.step();
        if check(h) {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A runtime for the window's backend, as `main` builds one.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

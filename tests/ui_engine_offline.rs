//! The window when its engine goes away and comes back: the host turns offline with the
//! reason, its rows stay, and it reconnects by itself.
//!
//! The engine is reached through a socat proxy this test owns (DOCKER_HOST points at it), so
//! the shared engine keeps running while the window loses its way to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestContainer;
use common::ui::step_until;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

/// socat forwarding a private socket to the engine's, in a process group of its own so that
/// every connection it forked ends with it.
struct Proxy {
    child: Child,
}

impl Proxy {
    fn start(socket: &Path) -> Self {
        std::fs::remove_file(socket).ok();
        let child = Command::new("socat")
            .arg(format!("UNIX-LISTEN:{},fork", socket.display()))
            .arg("UNIX-CONNECT:/var/run/docker.sock")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("socat runs (the lab installs it)");
        assert!(
            common::wait_until(Duration::from_secs(5), || socket.exists()),
            "the proxy listens"
        );
        Self { child }
    }

    /// Ends socat and every connection it forked.
    fn stop(self) {
        drop(self);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        Command::new("kill")
            .args(["-TERM", "--", &group])
            .status()
            .ok();
        self.child.wait().ok();
    }
}

#[test]
fn an_engine_that_goes_away_turns_the_host_offline_keeps_its_rows_and_reconnects() {
    let socket: PathBuf =
        std::env::temp_dir().join(format!("qs-engine-proxy-{}.sock", std::process::id()));
    let proxy = Proxy::start(&socket);
    let address = format!("unix://{}", socket.display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .build_eframe(move |cc| quayside::testing::app_for_engine(&handle, &cc.egui_ctx, &address));
    let c = TestContainer::sleeper("offline");
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_by_label_contains("online, Docker")
        .is_some()));
    assert!(step_until(&mut h, Duration::from_secs(10), |h| h
        .query_all_by_label(&c.name)
        .next()
        .is_some()));

    proxy.stop();
    assert!(
        step_until(&mut h, Duration::from_secs(10), |h| h
            .query_by_label_contains("offline:")
            .is_some()),
        "the badge says offline with the reason"
    );
    assert!(
        h.query_by_label_contains("retry in").is_some(),
        "and when it retries"
    );
    assert!(
        h.query_all_by_label(&c.name).next().is_some(),
        "the rows stay"
    );

    let _proxy = Proxy::start(&socket);
    assert!(
        step_until(&mut h, Duration::from_secs(40), |h| h
            .query_by_label_contains("online, Docker")
            .is_some()),
        "the host reconnects by itself"
    );
    std::fs::remove_file(&socket).ok();
}

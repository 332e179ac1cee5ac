//! Ways to build the real [`App`] for tests and benchmarks, without reaching into its parts.

use std::sync::atomic::{AtomicUsize, Ordering};

use eframe::egui;
use tokio::runtime::Handle;

use crate::hosts::profile::{HostEntry, Profile};
use crate::model::{ContainerId, ContainerSummary, HostId, RunState};
use crate::shaping::memory::ShapingMemory;
use crate::ui::app::App;

/// The window over the local Docker engine, as `quayside` opens it on `ctx`, remembering
/// shaping in a folder of its own (so that windows of parallel tests do not re-apply each
/// other's shaping).
pub fn local_app(runtime: &Handle, ctx: &egui::Context) -> App {
    App::open_with_memory(
        runtime,
        ctx,
        Profile::local_only(),
        None,
        Some(own_memory()),
    )
}

/// The window over the local engine remembering shaping in `dir`, as a later start of the same
/// installation would.
pub fn local_app_remembering_in(
    runtime: &Handle,
    ctx: &egui::Context,
    dir: &std::path::Path,
) -> App {
    App::open_with_memory(
        runtime,
        ctx,
        Profile::local_only(),
        None,
        Some(ShapingMemory::at(dir.join("shaping.json"))),
    )
}

/// The real window, with a memory of its own.
fn open_window(
    runtime: &Handle,
    ctx: &egui::Context,
    profile: Profile,
    path: Option<std::path::PathBuf>,
) -> App {
    App::open_with_memory(runtime, ctx, profile, path, Some(own_memory()))
}

/// A memory file no other window of this process uses.
fn own_memory() -> ShapingMemory {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = std::env::var_os("QUAYSIDE_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    ShapingMemory::at(
        base.join(format!("window-{}-{n}", std::process::id()))
            .join("shaping.json"),
    )
}

/// The window over one local host whose engine answers at `address` (`unix:///path` or
/// `tcp://host:port`), as a profile's `docker_url` would name it.
pub fn app_for_engine(runtime: &Handle, ctx: &egui::Context, address: &str) -> App {
    let entry = HostEntry {
        docker_url: Some(address.to_owned()),
        ..HostEntry::local()
    };
    open_window(
        runtime,
        ctx,
        Profile {
            hosts: vec![entry],
            presets: Vec::new(),
        },
        None,
    )
}

/// A window with no hosts holding `count` made-up containers spread over `hosts` host names:
/// for measuring the table without an engine.
pub fn app_with_rows(runtime: &Handle, ctx: &egui::Context, count: usize, hosts: usize) -> App {
    let mut app = open_window(runtime, ctx, Profile::default(), None);
    let hosts = hosts.max(1);
    for h in 0..hosts {
        let host = HostId(format!("host-{h}"));
        let rows = (0..count)
            .filter(|i| i % hosts == h)
            .map(|i| ContainerSummary {
                host: host.clone(),
                id: ContainerId(format!("{i:064x}")),
                name: format!("container-{i:05}"),
                image: format!("registry.example/team/image-{}:latest", i % 17),
                state: if i % 3 == 0 {
                    RunState::Exited
                } else {
                    RunState::Running
                },
                status_since_unix_secs: Some(1_796_400_000),
                status: if i % 3 == 0 {
                    "Exited (0) 2 hours ago".into()
                } else {
                    "Up 3 minutes".into()
                },
                ports: format!("127.0.0.1:{}->80/tcp", 10_000 + i),
                created_unix_secs: 1_796_400_000 - i as i64 * 60,
            })
            .collect();
        app.store.replace_host(&host, rows);
    }
    app
}

/// The window over the hosts of the profile file at `path`, as `quayside --hosts PATH` opens
/// it; the error is the profile's own (line, column, key).
pub fn app_for_profile(
    runtime: &Handle,
    ctx: &egui::Context,
    path: &std::path::Path,
) -> Result<App, String> {
    let profile = Profile::load(path).map_err(|e| e.to_string())?;
    Ok(open_window(runtime, ctx, profile, Some(path.to_owned())))
}

/// A container found once by name, to shape repeatedly.
pub struct ShapingTarget(crate::model::ContainerKey);

/// One host of a profile, connected as the window and the command line connect it (host keys
/// checked strictly against known_hosts): for measuring remote work without the window.
pub struct ConnectedHost {
    host: HostId,
    conn: crate::hosts::connect::HostConnection,
}

impl ConnectedHost {
    /// Connects to the host named `name` in the profile file at `path`.
    pub async fn connect(path: &std::path::Path, name: &str) -> Result<Self, String> {
        let profile = crate::hosts::profile::Profile::load(path).map_err(|e| e.to_string())?;
        let entry = profile
            .hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| format!("no host {name} in {}", path.display()))?;
        let conn = crate::hosts::connect::connect(
            entry,
            crate::ssh::HostKeyPolicy::Strict,
            &Default::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            host: entry.id(),
            conn,
        })
    }

    /// Lists every container of the host; returns how many there are.
    pub async fn list_all(&self) -> Result<usize, String> {
        let rows = crate::docker::list(&self.conn.docker, &self.host, true)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows.len())
    }

    /// Sets the download rate of the container named `name` and reads back what the kernel
    /// holds; returns the read-back's headline.
    pub async fn apply_download_rate(&self, name: &str, rate_kbit: u64) -> Result<String, String> {
        let key = self.key_of(name).await?;
        let mut profile = crate::shaping::profile::ShapingProfile::default();
        profile.download.rate_kbit = rate_kbit;
        let options = crate::shaping::ops::ApplyOptions::default();
        let report = crate::shaping::ops::apply(
            &self.conn.docker,
            &self.conn.runner,
            &key,
            &profile,
            &options,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(report.headline())
    }

    /// Removes all shaping of the container named `name`.
    pub async fn clear(&self, name: &str) -> Result<String, String> {
        let key = self.key_of(name).await?;
        let report = crate::shaping::ops::clear(&self.conn.docker, &self.conn.runner, &key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(report.headline())
    }

    /// Finds the container named `name` once, for repeated shaping without listing each time.
    pub async fn shaping_target(&self, name: &str) -> Result<ShapingTarget, String> {
        Ok(ShapingTarget(self.key_of(name).await?))
    }

    /// Sets both rates of `target` (kbit/s, 0 = unlimited), keeping no other shaping, and reads
    /// back what the kernel holds; returns the read-back's headline, or an error when the
    /// kernel does not hold the rates asked for.
    pub async fn apply_rates(
        &self,
        target: &ShapingTarget,
        download_kbit: u64,
        upload_kbit: u64,
    ) -> Result<String, String> {
        let mut profile = crate::shaping::profile::ShapingProfile::default();
        profile.download.rate_kbit = download_kbit;
        profile.upload.rate_kbit = upload_kbit;
        let options = crate::shaping::ops::ApplyOptions::default();
        let report = crate::shaping::ops::apply(
            &self.conn.docker,
            &self.conn.runner,
            &target.0,
            &profile,
            &options,
        )
        .await
        .map_err(|e| e.to_string())?;
        if !report.warnings.is_empty() {
            return Err(report.warnings.join("; "));
        }
        Ok(report.headline())
    }

    /// Sets the download rate (kbit/s) and delay (ms) of `target`, keeping no other shaping;
    /// returns the read-back's headline.
    pub async fn apply_download(
        &self,
        target: &ShapingTarget,
        rate_kbit: u64,
        delay_ms: f64,
    ) -> Result<String, String> {
        let mut profile = crate::shaping::profile::ShapingProfile::default();
        profile.download.rate_kbit = rate_kbit;
        profile.download.delay_ms = delay_ms;
        let options = crate::shaping::ops::ApplyOptions::default();
        crate::shaping::ops::apply(
            &self.conn.docker,
            &self.conn.runner,
            &target.0,
            &profile,
            &options,
        )
        .await
        .map(|report| report.headline())
        .map_err(|e| e.to_string())
    }

    /// What the host can do for shaping (`quayside net preflight --json`), as JSON text.
    pub async fn preflight_json(&self) -> Result<String, String> {
        let answer = crate::shaping::preflight::preflight(&self.conn.runner).await;
        serde_json::to_string(&answer).map_err(|e| e.to_string())
    }

    /// Every tree of Quayside's on the host (`quayside net trees --json`), as JSON text.
    pub async fn owned_trees_json(&self) -> Result<String, String> {
        let trees =
            crate::shaping::trees::owned_trees(&self.conn.docker, &self.conn.runner, &self.host)
                .await
                .map_err(|e| e.to_string())?;
        serde_json::to_string(&trees).map_err(|e| e.to_string())
    }

    async fn key_of(&self, name: &str) -> Result<crate::model::ContainerKey, String> {
        let rows = crate::docker::list(&self.conn.docker, &self.host, true)
            .await
            .map_err(|e| e.to_string())?;
        rows.into_iter()
            .find(|r| r.name == name)
            .map(|r| r.key())
            .ok_or_else(|| format!("no container {name} on {}", self.host))
    }
}

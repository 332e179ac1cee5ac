//! Resource use of a container, sample by sample: CPU %, memory, network and block I/O
//! counters, reduced from the engine's stats the way `docker stats` reduces them.
//!
//! Counters stay cumulative here (bytes since the container started); turning them into rates
//! is the reader's business, since only it knows the time between the samples it kept.

use bollard::Docker;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use futures_util::{Stream, StreamExt as _};

use super::DockerError;
use crate::model::ContainerId;

/// One reading of a container's resource use.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub(crate) struct StatsSample {
    /// CPU use over the engine's last interval; 100 % is one core fully busy.
    pub(crate) cpu_percent: f64,
    /// Memory in use, without the page cache the kernel can drop.
    pub(crate) memory_bytes: u64,
    /// The container's memory limit (the host's memory when unlimited).
    pub(crate) memory_limit_bytes: u64,
    /// Bytes received and sent on every interface, since the container started.
    pub(crate) net_rx_bytes: u64,
    pub(crate) net_tx_bytes: u64,
    /// Bytes read from and written to block devices, since the container started.
    pub(crate) block_read_bytes: u64,
    pub(crate) block_write_bytes: u64,
    pub(crate) pids: u64,
}

impl StatsSample {
    /// Reduces the engine's answer; missing parts read as zero (a stopped container has none).
    pub(crate) fn from_engine(s: &ContainerStatsResponse) -> Self {
        let memory = s.memory_stats.as_ref();
        let usage = memory.and_then(|m| m.usage).unwrap_or(0);
        // As `docker stats`: cgroup v2 reports `inactive_file`, v1 `total_inactive_file`.
        let cache = memory
            .and_then(|m| m.stats.as_ref())
            .and_then(|st| {
                st.get("inactive_file")
                    .or_else(|| st.get("total_inactive_file"))
                    .copied()
            })
            .unwrap_or(0);
        let (net_rx_bytes, net_tx_bytes) =
            s.networks
                .iter()
                .flatten()
                .fold((0u64, 0u64), |(rx, tx), (_, n)| {
                    (
                        rx.saturating_add(n.rx_bytes.unwrap_or(0)),
                        tx.saturating_add(n.tx_bytes.unwrap_or(0)),
                    )
                });
        let (block_read_bytes, block_write_bytes) = s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref())
            .into_iter()
            .flatten()
            .fold((0u64, 0u64), |(r, w), e| {
                let v = e.value.unwrap_or(0);
                match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("read") => (r.saturating_add(v), w),
                    Some("write") => (r, w.saturating_add(v)),
                    _ => (r, w),
                }
            });
        Self {
            cpu_percent: cpu_percent(s),
            memory_bytes: usage.saturating_sub(cache),
            memory_limit_bytes: memory.and_then(|m| m.limit).unwrap_or(0),
            net_rx_bytes,
            net_tx_bytes,
            block_read_bytes,
            block_write_bytes,
            pids: s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
        }
    }
}

/// CPU % between the previous and this reading, scaled by the CPUs the container may use.
fn cpu_percent(s: &ContainerStatsResponse) -> f64 {
    let (Some(now), Some(before)) = (s.cpu_stats.as_ref(), s.precpu_stats.as_ref()) else {
        return 0.0;
    };
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(now).saturating_sub(total(before)) as f64;
    let system_delta = now
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(before.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = now
        .online_cpus
        .filter(|n| *n > 0)
        .map(f64::from)
        .or_else(|| {
            now.cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as f64)
        })
        .unwrap_or(1.0);
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// One reading, waiting for the engine's interval so that CPU % is meaningful.
pub(crate) async fn once(docker: &Docker, id: &ContainerId) -> Result<StatsSample, DockerError> {
    let options = StatsOptions {
        stream: false,
        one_shot: false,
    };
    let mut stream = Box::pin(docker.stats(&id.0, Some(options)));
    match stream.next().await {
        Some(Ok(s)) => Ok(StatsSample::from_engine(&s)),
        Some(Err(err)) => Err(DockerError::from_bollard(err)),
        None => Err(DockerError::Failed("the engine sent no stats".to_owned())),
    }
}

/// A reading about every second for as long as the stream is held; dropping it ends the
/// request.
pub(crate) fn follow(
    docker: &Docker,
    id: &ContainerId,
) -> impl Stream<Item = Result<StatsSample, DockerError>> + use<> {
    let options = StatsOptions {
        stream: true,
        one_shot: false,
    };
    docker.stats(&id.0, Some(options)).map(|item| {
        item.map(|s| StatsSample::from_engine(&s))
            .map_err(DockerError::from_bollard)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{
        ContainerBlkioStatEntry, ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage,
        ContainerMemoryStats, ContainerNetworkStats,
    };

    use super::*;

    fn cpu(total: u64, system: u64) -> ContainerCpuStats {
        ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(total),
                ..Default::default()
            }),
            system_cpu_usage: Some(system),
            online_cpus: Some(4),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percent_is_scaled_by_the_online_cpus_like_docker_stats() {
        // 50 ms of container CPU over 400 ms of system time on 4 CPUs: half a core, 50 %.
        let s = ContainerStatsResponse {
            cpu_stats: Some(cpu(1_050_000_000, 10_400_000_000)),
            precpu_stats: Some(cpu(1_000_000_000, 10_000_000_000)),
            ..Default::default()
        };
        let sample = StatsSample::from_engine(&s);
        assert!(
            (sample.cpu_percent - 50.0).abs() < 1e-9,
            "{}",
            sample.cpu_percent
        );
    }

    #[test]
    fn memory_leaves_out_the_page_cache_and_counters_add_up_over_interfaces() {
        let s = ContainerStatsResponse {
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(10_000),
                limit: Some(1_000_000),
                stats: Some(HashMap::from([("inactive_file".to_owned(), 4_000)])),
                ..Default::default()
            }),
            networks: Some(HashMap::from([
                (
                    "eth0".to_owned(),
                    ContainerNetworkStats {
                        rx_bytes: Some(100),
                        tx_bytes: Some(10),
                        ..Default::default()
                    },
                ),
                (
                    "eth1".to_owned(),
                    ContainerNetworkStats {
                        rx_bytes: Some(1),
                        tx_bytes: Some(2),
                        ..Default::default()
                    },
                ),
            ])),
            blkio_stats: Some(ContainerBlkioStats {
                io_service_bytes_recursive: Some(vec![
                    ContainerBlkioStatEntry {
                        op: Some("read".into()),
                        value: Some(7),
                        ..Default::default()
                    },
                    ContainerBlkioStatEntry {
                        op: Some("Write".into()),
                        value: Some(9),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sample = StatsSample::from_engine(&s);
        assert_eq!(sample.memory_bytes, 6_000);
        assert_eq!(sample.memory_limit_bytes, 1_000_000);
        assert_eq!((sample.net_rx_bytes, sample.net_tx_bytes), (101, 12));
        assert_eq!((sample.block_read_bytes, sample.block_write_bytes), (7, 9));
        assert_eq!(sample.cpu_percent, 0.0, "no previous reading, no CPU %");
    }
}

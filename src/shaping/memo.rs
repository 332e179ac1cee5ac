//! The veths found for each running container, remembered until the container restarts or its
//! networks change, so that moving a slider does not enter the container's namespace again.
//!
//! An entry is keyed by host, container id, the container's init pid and the MAC addresses of
//! its networks, as inspect reports them before every change: a restart gives a new pid, and a
//! network connected or removed changes the MACs, so either misses the memo. A hit is still
//! checked by every read (each veth must hold the same ifindex), and a failed check forgets the
//! entry. The memo is bounded and holds only names and indexes; it runs nothing and is never
//! shared with the window.

use std::sync::Mutex;

use super::report::Target;
use crate::model::{ContainerDetails, HostId};

/// How many containers are remembered; the oldest entry goes first.
const CAPACITY: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    host: HostId,
    container: String,
    pid: i64,
    macs: Vec<String>,
}

impl Key {
    fn of(host: &HostId, details: &ContainerDetails) -> Self {
        let mut macs: Vec<String> = details
            .networks
            .iter()
            .map(|n| n.mac_address.to_ascii_lowercase())
            .collect();
        macs.sort();
        Self {
            host: host.clone(),
            container: details.key.id.0.clone(),
            pid: details.pid,
            macs,
        }
    }
}

static ENTRIES: Mutex<Vec<(Key, Vec<Target>)>> = Mutex::new(Vec::new());

/// The veths remembered for this container as inspect describes it now.
pub(crate) fn recall(host: &HostId, details: &ContainerDetails) -> Option<Vec<Target>> {
    let key = Key::of(host, details);
    let entries = ENTRIES.lock().ok()?;
    entries
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, targets)| targets.clone())
}

/// Remembers the veths found for this container, replacing what was remembered for it.
pub(crate) fn remember(host: &HostId, details: &ContainerDetails, targets: &[Target]) {
    let key = Key::of(host, details);
    // A poisoned lock only means a panic elsewhere while holding it; the memo stays usable.
    let mut entries = ENTRIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    entries.retain(|(k, _)| !(k.host == key.host && k.container == key.container));
    if entries.len() >= CAPACITY {
        entries.remove(0);
    }
    entries.push((key, targets.to_vec()));
}

/// Forgets the container's veths (they were found stale).
pub(crate) fn forget(host: &HostId, details: &ContainerDetails) {
    let key = Key::of(host, details);
    let mut entries = ENTRIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    entries.retain(|(k, _)| !(k.host == key.host && k.container == key.container));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerId, ContainerKey, NetworkAttachment, RunState};

    fn details(id: &str, pid: i64, macs: &[&str]) -> ContainerDetails {
        ContainerDetails {
            key: ContainerKey {
                host: HostId("memo-test".into()),
                id: ContainerId(id.into()),
            },
            name: id.into(),
            image: String::new(),
            command: String::new(),
            created: String::new(),
            state: RunState::Running,
            pid,
            restart_policy: String::new(),
            network_mode: "bridge".into(),
            networks: macs
                .iter()
                .map(|m| NetworkAttachment {
                    network: "bridge".into(),
                    ip_address: String::new(),
                    mac_address: (*m).into(),
                })
                .collect(),
            ports: Vec::new(),
            labels: Vec::new(),
            mounts: Vec::new(),
        }
    }

    fn target(veth: &str, ifindex: u32) -> Target {
        Target {
            network: "bridge".into(),
            container_if: "eth0".into(),
            veth: veth.into(),
            veth_ifindex: ifindex,
        }
    }

    #[test]
    fn a_restart_or_a_new_network_misses_the_memo() {
        let host = HostId("memo-test".into());
        let running = details("memo-a", 100, &["02:42:AC:11:00:02"]);
        remember(&host, &running, &[target("veth1", 11)]);
        assert_eq!(recall(&host, &running), Some(vec![target("veth1", 11)]));

        let restarted = details("memo-a", 200, &["02:42:ac:11:00:02"]);
        assert_eq!(recall(&host, &restarted), None);
        let connected = details("memo-a", 100, &["02:42:ac:11:00:02", "02:42:ac:12:00:02"]);
        assert_eq!(recall(&host, &connected), None);
        assert_eq!(recall(&HostId("other".into()), &running), None);

        forget(&host, &running);
        assert_eq!(recall(&host, &running), None);
    }

    #[test]
    fn remembering_again_replaces_the_containers_entry() {
        let host = HostId("memo-test".into());
        let before = details("memo-b", 100, &["02:42:ac:11:00:03"]);
        remember(&host, &before, &[target("veth1", 11)]);
        let after = details("memo-b", 300, &["02:42:ac:11:00:03"]);
        remember(&host, &after, &[target("veth9", 19)]);
        assert_eq!(recall(&host, &before), None);
        assert_eq!(recall(&host, &after), Some(vec![target("veth9", 19)]));
    }
}

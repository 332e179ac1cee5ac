//! The veths found for each running container, remembered until the container restarts or its
//! networks change, so that moving a slider does not enter the container's namespace again.
//!
//! An entry is keyed by host, container id, the container's init pid and the MAC addresses of
//! its networks, as inspect reports them before every change: a restart gives a new pid, and a
//! network connected or removed changes the MACs, so either misses the memo. A hit is still
//! checked by every read (each veth must hold the same ifindex), and a failed check forgets the
//! entry. Next to the veths it keeps the last read of them, which a change may be planned from
//! only behind a guard that finds the kernel unchanged. The memo is bounded; it runs nothing
//! and is never shared with the window.

use std::sync::Mutex;

use super::readback::Observed;
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

/// What Quayside last read on a container's veths, to plan the next change from it; a guard
/// checks that the kernel still prints exactly this before the change runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LastRead {
    /// The read's output, as the guard will print it again if nothing changed.
    pub(crate) fingerprint: String,
    /// What each veth held, in the order of the container's veths.
    pub(crate) observed: Vec<Observed>,
}

#[derive(Debug)]
struct Entry {
    key: Key,
    targets: Vec<Target>,
    last: Option<LastRead>,
}

static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The veths remembered for this container as inspect describes it now, and the last read.
pub(crate) fn recall(
    host: &HostId,
    details: &ContainerDetails,
) -> Option<(Vec<Target>, Option<LastRead>)> {
    let key = Key::of(host, details);
    lock()
        .iter()
        .find(|e| e.key == key)
        .map(|e| (e.targets.clone(), e.last.clone()))
}

/// Remembers the veths found for this container, replacing what was remembered for it.
pub(crate) fn remember(host: &HostId, details: &ContainerDetails, targets: &[Target]) {
    let key = Key::of(host, details);
    let mut entries = lock();
    entries.retain(|e| !(e.key.host == key.host && e.key.container == key.container));
    if entries.len() >= CAPACITY {
        entries.remove(0);
    }
    entries.push(Entry {
        key,
        targets: targets.to_vec(),
        last: None,
    });
}

/// Remembers what was just read on the container's veths (or, with `None`, that nothing
/// read before can be trusted any more, as after a failed change).
pub(crate) fn remember_read(host: &HostId, details: &ContainerDetails, last: Option<LastRead>) {
    let key = Key::of(host, details);
    if let Some(entry) = lock().iter_mut().find(|e| e.key == key) {
        entry.last = last;
    }
}

/// Forgets the container's veths (they were found stale).
pub(crate) fn forget(host: &HostId, details: &ContainerDetails) {
    let key = Key::of(host, details);
    lock().retain(|e| !(e.key.host == key.host && e.key.container == key.container));
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    // A poisoned lock only means a panic elsewhere while holding it; the memo stays usable.
    ENTRIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        assert_eq!(
            recall(&host, &running),
            Some((vec![target("veth1", 11)], None))
        );
        let last = LastRead {
            fingerprint: "[]".into(),
            observed: vec![Observed::default()],
        };
        remember_read(&host, &running, Some(last.clone()));
        assert_eq!(
            recall(&host, &running),
            Some((vec![target("veth1", 11)], Some(last)))
        );

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
        assert_eq!(
            recall(&host, &after),
            Some((vec![target("veth9", 19)], None))
        );
    }
}

//! Matching a container's interfaces to the host-side veths that carry their traffic.
//!
//! Input is what `ip -d -j link show` printed inside the container's network namespace and on
//! the host. Each container interface's peer index (`link_index`) names exactly one host
//! interface, compared as integers, never as text. Only a veth is ever a target: a bridge or a
//! NIC is refused, and so are interfaces that have no veth (macvlan, ipvlan). This module runs
//! nothing.

use serde::Deserialize;

/// One container interface and the host veth it pairs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VethLink {
    pub(crate) container_if: String,
    pub(crate) mac: String,
    /// The host veth's ifindex (the container interface's peer index).
    pub(crate) peer_ifindex: u32,
    pub(crate) host_veth: String,
}

/// Why a container interface has no veth to shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum VethError {
    #[error("cannot read `ip -j link show` output {place}: {detail}")]
    Json { place: &'static str, detail: String },
    #[error(
        "the container's {name} is a {kind} interface: it has no veth on the host, so Quayside \
         cannot shape it from there"
    )]
    NoVeth { name: String, kind: String },
    #[error("the container's {name} pairs with host ifindex {peer}, which the host does not list")]
    NoPeer { name: String, peer: u32 },
    #[error(
        "the container's {name} pairs with host interface {host_if} (a {kind}), which is not a \
         veth; Quayside never shapes a bridge or a host NIC"
    )]
    NotVeth {
        name: String,
        host_if: String,
        kind: String,
    },
}

#[derive(Debug, Deserialize)]
struct Link {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    link_index: Option<u32>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    link_type: Option<String>,
    #[serde(default)]
    linkinfo: Option<LinkInfo>,
}

#[derive(Debug, Deserialize)]
struct LinkInfo {
    #[serde(default)]
    info_kind: Option<String>,
}

impl Link {
    fn kind(&self) -> &str {
        self.linkinfo
            .as_ref()
            .and_then(|i| i.info_kind.as_deref())
            .unwrap_or("device")
    }

    fn is_loopback(&self) -> bool {
        self.link_type.as_deref() == Some("loopback") || self.ifname == "lo"
    }
}

fn parse(text: &str, place: &'static str) -> Result<Vec<Link>, VethError> {
    serde_json::from_str(text).map_err(|e| VethError::Json {
        place,
        detail: e.to_string(),
    })
}

/// One interface of the host, as `ip -d -j link show` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostLink {
    pub(crate) ifindex: u32,
    pub(crate) name: String,
    /// `veth`, `ifb`, `bridge`, …; `device` for a plain NIC.
    pub(crate) kind: String,
}

/// Every interface of the host.
pub(crate) fn host_links(host_json: &str) -> Result<Vec<HostLink>, VethError> {
    Ok(parse(host_json, "from the host")?
        .into_iter()
        .map(|l| HostLink {
            ifindex: l.ifindex,
            kind: l.kind().to_owned(),
            name: l.ifname,
        })
        .collect())
}

/// Pairs every container interface but loopback with its host veth, in the container's order.
pub(crate) fn match_interfaces(
    container_json: &str,
    host_json: &str,
) -> Result<Vec<VethLink>, VethError> {
    let inside = parse(container_json, "from the container")?;
    let host = parse(host_json, "from the host")?;
    let mut links = Vec::new();
    for link in inside.iter().filter(|l| !l.is_loopback()) {
        let kind = link.kind();
        if matches!(kind, "macvlan" | "ipvlan" | "macvtap" | "ipvtap") {
            return Err(VethError::NoVeth {
                name: link.ifname.clone(),
                kind: kind.to_owned(),
            });
        }
        if kind != "veth" {
            // Tunnels and dummies inside the container have no host peer; they carry no
            // traffic of the container's own network.
            continue;
        }
        let Some(peer) = link.link_index else {
            return Err(VethError::NoPeer {
                name: link.ifname.clone(),
                peer: 0,
            });
        };
        let host_if = host
            .iter()
            .find(|h| h.ifindex == peer)
            .ok_or_else(|| VethError::NoPeer {
                name: link.ifname.clone(),
                peer,
            })?;
        if host_if.kind() != "veth" {
            return Err(VethError::NotVeth {
                name: link.ifname.clone(),
                host_if: host_if.ifname.clone(),
                kind: host_if.kind().to_owned(),
            });
        }
        links.push(VethLink {
            container_if: link.ifname.clone(),
            mac: link.address.clone().unwrap_or_default(),
            peer_ifindex: peer,
            host_veth: host_if.ifname.clone(),
        });
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_link(ifindex: u32, name: &str, kind: &str) -> String {
        format!(
            r#"{{"ifindex":{ifindex},"ifname":"{name}","link_type":"ether","linkinfo":{{"info_kind":"{kind}"}}}}"#
        )
    }

    fn container_link(ifindex: u32, name: &str, peer: u32, mac: &str, kind: &str) -> String {
        format!(
            r#"{{"ifindex":{ifindex},"link_index":{peer},"ifname":"{name}","address":"{mac}","link_type":"ether","link_netnsid":0,"linkinfo":{{"info_kind":"{kind}"}}}}"#
        )
    }

    const LOOPBACK: &str =
        r#"{"ifindex":1,"ifname":"lo","link_type":"loopback","address":"00:00:00:00:00:00"}"#;

    #[test]
    fn peer_indexes_are_matched_as_integers_not_as_text() {
        // Host ifindexes 2, 12, 20, 21, 112; the container's eth0 pairs with 2: only ifindex 2
        // is a match, although "2" is a substring of every other one.
        let host = format!(
            "[{},{},{},{},{}]",
            host_link(2, "veth-two", "veth"),
            host_link(12, "veth-twelve", "veth"),
            host_link(20, "veth-twenty", "veth"),
            host_link(21, "veth-21", "veth"),
            host_link(112, "veth-112", "veth"),
        );
        let inside = format!(
            "[{LOOPBACK},{}]",
            container_link(5, "eth0", 2, "02:42:ac:11:00:02", "veth")
        );
        let links = match_interfaces(&inside, &host).unwrap_or_default();
        assert_eq!(links.len(), 1);
        assert_eq!(
            links.first().map(|l| l.host_veth.as_str()),
            Some("veth-two")
        );

        let inside = format!(
            "[{LOOPBACK},{}]",
            container_link(5, "eth0", 12, "02:42:ac:11:00:02", "veth")
        );
        let links = match_interfaces(&inside, &host).unwrap_or_default();
        assert_eq!(
            links.first().map(|l| l.host_veth.as_str()),
            Some("veth-twelve")
        );
    }

    #[test]
    fn two_networks_give_two_veths_in_the_containers_order() {
        let host = format!(
            "[{},{}]",
            host_link(30, "vethA", "veth"),
            host_link(31, "vethB", "veth")
        );
        let inside = format!(
            "[{LOOPBACK},{},{}]",
            container_link(29, "eth0", 31, "02:42:ac:11:00:05", "veth"),
            container_link(30, "eth1", 30, "02:42:ac:12:00:02", "veth"),
        );
        let links = match_interfaces(&inside, &host).unwrap_or_default();
        let pairs: Vec<(&str, &str)> = links
            .iter()
            .map(|l| (l.container_if.as_str(), l.host_veth.as_str()))
            .collect();
        assert_eq!(pairs, [("eth0", "vethB"), ("eth1", "vethA")]);
        assert_eq!(
            links.get(1).map(|l| l.mac.as_str()),
            Some("02:42:ac:12:00:02")
        );
    }

    #[test]
    fn wrong_interface_a_bridge_or_nic_is_never_a_target() {
        // A peer index that names the host's bridge must be refused, not shaped.
        let host = format!("[{}]", host_link(3, "docker0", "bridge"));
        let inside = format!(
            "[{LOOPBACK},{}]",
            container_link(5, "eth0", 3, "02:42:ac:11:00:02", "veth")
        );
        let err = match_interfaces(&inside, &host).err();
        assert!(
            matches!(err, Some(VethError::NotVeth { ref host_if, .. }) if host_if == "docker0"),
            "{err:?}"
        );
    }

    #[test]
    fn macvlan_and_ipvlan_have_no_veth_and_say_so() {
        for kind in ["macvlan", "ipvlan"] {
            let inside = format!(
                "[{LOOPBACK},{}]",
                container_link(5, "eth0", 2, "02:00:00:00:00:01", kind)
            );
            let err = match_interfaces(&inside, "[]")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(kind) && err.contains("no veth"), "{err}");
        }
    }

    #[test]
    fn a_peer_the_host_does_not_list_is_an_error() {
        let inside = format!(
            "[{LOOPBACK},{}]",
            container_link(5, "eth0", 99, "02:00:00:00:00:01", "veth")
        );
        assert_eq!(
            match_interfaces(&inside, "[]"),
            Err(VethError::NoPeer {
                name: "eth0".into(),
                peer: 99
            })
        );
    }

    #[test]
    fn a_container_with_only_loopback_has_no_links() {
        assert_eq!(
            match_interfaces(&format!("[{LOOPBACK}]"), "[]"),
            Ok(Vec::new())
        );
    }

    #[test]
    fn host_links_carry_index_name_and_kind() {
        let host = format!(
            "[{},{}]",
            host_link(7, "veth1", "veth"),
            r#"{"ifindex":2,"ifname":"eth0","link_type":"ether"}"#
        );
        let links = host_links(&host).unwrap_or_default();
        assert_eq!(
            links,
            [
                HostLink {
                    ifindex: 7,
                    name: "veth1".into(),
                    kind: "veth".into()
                },
                HostLink {
                    ifindex: 2,
                    name: "eth0".into(),
                    kind: "device".into()
                }
            ]
        );
    }

    #[test]
    fn bad_json_is_an_error_naming_where_it_came_from() {
        let err = match_interfaces("not json", "[]")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("from the container"), "{err}");
    }
}

//! Port mappings in the original tool's format, `80/tcp:83,443/tcp:448`: the container's port
//! and protocol, a colon, the host port that publishes it (optionally `IP:PORT`).
//!
//! Pure text in, typed mappings out, with errors that name the item and what is wrong, so a
//! bad mapping is refused before anything is asked of an engine. Nothing here talks to Docker.

use std::collections::BTreeSet;
use std::fmt;

/// The transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The engine's spelling: `tcp`, `udp`, `sctp`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }

    /// Every protocol, in the order a menu shows them.
    pub(crate) const ALL: [Self; 3] = [Self::Tcp, Self::Udp, Self::Sctp];
}

/// One published port: the container's `container_port/protocol` reached at `host_port` on the
/// host (on `host_ip` only, when given).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PortMapping {
    pub(crate) container_port: u16,
    pub(crate) protocol: Protocol,
    pub(crate) host_ip: Option<String>,
    pub(crate) host_port: u16,
}

impl PortMapping {
    /// The engine's key for the container side: `80/tcp`.
    pub(crate) fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.container_key())?;
        if let Some(ip) = &self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(f, "{}", self.host_port)
    }
}

/// Why a mapping list does not parse; `item` is the 1-based position in the list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PortError {
    #[error("mapping {item} is empty: remove the extra comma")]
    Empty { item: usize },
    #[error(
        "mapping {item} '{text}' has no host port: write CONTAINER_PORT/PROTOCOL:HOST_PORT, e.g. 80/tcp:8080"
    )]
    NoHostPort { item: usize, text: String },
    #[error("mapping {item}: '{port}' is not a port: ports are whole numbers from 1 to 65535")]
    BadPort { item: usize, port: String },
    #[error("mapping {item}: unknown protocol '{protocol}': use tcp, udp or sctp")]
    BadProtocol { item: usize, protocol: String },
    #[error("mapping {item}: '{ip}' is not an IP address")]
    BadAddress { item: usize, ip: String },
    #[error("host port {port}/{protocol} is published twice (mappings {first} and {item})")]
    HostPortTwice {
        port: u16,
        protocol: &'static str,
        first: usize,
        item: usize,
    },
}

/// Parses `80/tcp:83,443/tcp:448` (spaces around items allowed, protocol defaults to tcp, an
/// empty text is no mapping at all).
pub(crate) fn parse(text: &str) -> Result<Vec<PortMapping>, PortError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mappings = text
        .split(',')
        .enumerate()
        .map(|(i, item)| parse_one(i + 1, item))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&mappings)?;
    Ok(mappings)
}

/// Parses one item, `80/tcp:83` or `80/tcp:127.0.0.1:83`; `item` is its position for errors.
pub(crate) fn parse_one(item: usize, text: &str) -> Result<PortMapping, PortError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PortError::Empty { item });
    }
    let Some((container, host)) = text.split_once(':') else {
        return Err(PortError::NoHostPort {
            item,
            text: text.to_owned(),
        });
    };
    let (port, protocol) = match container.split_once('/') {
        Some((port, protocol)) => (port, protocol_of(item, protocol)?),
        None => (container, Protocol::Tcp),
    };
    let container_port = port_of(item, port)?;
    let (host_ip, host_port) = match host.rsplit_once(':') {
        Some((ip, port)) => (Some(address_of(item, ip)?), port),
        None => (None, host),
    };
    Ok(PortMapping {
        container_port,
        protocol,
        host_ip,
        host_port: port_of(item, host_port)?,
    })
}

/// Refuses a host port published twice with the same protocol (the engine would fail later,
/// after creating the container).
pub(crate) fn check_unique(mappings: &[PortMapping]) -> Result<(), PortError> {
    let mut seen: Vec<(u16, Protocol, usize)> = Vec::new();
    for (i, m) in mappings.iter().enumerate() {
        if let Some((_, _, first)) = seen
            .iter()
            .find(|(port, protocol, _)| *port == m.host_port && *protocol == m.protocol)
        {
            return Err(PortError::HostPortTwice {
                port: m.host_port,
                protocol: m.protocol.as_str(),
                first: *first,
                item: i + 1,
            });
        }
        seen.push((m.host_port, m.protocol, i + 1));
    }
    Ok(())
}

/// The mappings in the original format, as [`parse`] reads them.
pub(crate) fn format(mappings: &[PortMapping]) -> String {
    mappings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The container ports the mappings publish, each once: `80/tcp`.
pub(crate) fn exposed(mappings: &[PortMapping]) -> BTreeSet<String> {
    mappings.iter().map(PortMapping::container_key).collect()
}

fn port_of(item: usize, text: &str) -> Result<u16, PortError> {
    let text = text.trim();
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.chars().all(|c| c.is_ascii_digit()) => Ok(port),
        _ => Err(PortError::BadPort {
            item,
            port: text.to_owned(),
        }),
    }
}

fn protocol_of(item: usize, text: &str) -> Result<Protocol, PortError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        _ => Err(PortError::BadProtocol {
            item,
            protocol: text.trim().to_owned(),
        }),
    }
}

fn address_of(item: usize, text: &str) -> Result<String, PortError> {
    let text = text.trim();
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(_) => Ok(bare.to_owned()),
        Err(_) => Err(PortError::BadAddress {
            item,
            ip: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tcp(container_port: u16, host_port: u16) -> PortMapping {
        PortMapping {
            container_port,
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port,
        }
    }

    #[test]
    fn the_original_tools_example_parses() {
        assert_eq!(
            parse("80/tcp:83,443/tcp:448"),
            Ok(vec![tcp(80, 83), tcp(443, 448)])
        );
    }

    #[test]
    fn protocol_defaults_to_tcp_and_spaces_are_allowed() {
        assert_eq!(parse(" 80:8080 , 53/UDP:5353"), {
            let mut udp = tcp(53, 5353);
            udp.protocol = Protocol::Udp;
            Ok(vec![tcp(80, 8080), udp])
        });
        assert_eq!(parse("   "), Ok(Vec::new()));
    }

    #[test]
    fn a_host_address_may_come_before_the_host_port() {
        let parsed = parse("80/tcp:127.0.0.1:8080");
        let mut want = tcp(80, 8080);
        want.host_ip = Some("127.0.0.1".into());
        assert_eq!(parsed, Ok(vec![want.clone()]));
        assert_eq!(format(&[want]), "80/tcp:127.0.0.1:8080");
    }

    #[test]
    fn bad_items_name_their_position_and_problem() {
        assert_eq!(
            parse("80/tcp:83,"),
            Err(PortError::Empty { item: 2 }),
            "a trailing comma"
        );
        assert!(matches!(
            parse("80/tcp"),
            Err(PortError::NoHostPort { item: 1, .. })
        ));
        assert!(matches!(
            parse("80/tcp:70000"),
            Err(PortError::BadPort { item: 1, .. })
        ));
        assert!(matches!(
            parse("0:80"),
            Err(PortError::BadPort { item: 1, .. })
        ));
        assert!(matches!(
            parse("80/tcp:+83"),
            Err(PortError::BadPort { item: 1, .. })
        ));
        assert!(matches!(
            parse("80/icmp:83"),
            Err(PortError::BadProtocol { item: 1, .. })
        ));
        assert!(matches!(
            parse("80:localhost:83"),
            Err(PortError::BadAddress { item: 1, .. })
        ));
        let text = parse("abc:1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.contains("1 to 65535"), "{text}");
    }

    #[test]
    fn a_host_port_published_twice_is_refused_but_not_across_protocols() {
        assert_eq!(
            parse("80/tcp:8080,81/tcp:8080"),
            Err(PortError::HostPortTwice {
                port: 8080,
                protocol: "tcp",
                first: 1,
                item: 2
            })
        );
        assert!(parse("80/tcp:8080,80/udp:8080").is_ok());
    }

    fn mapping() -> impl Strategy<Value = PortMapping> {
        (
            1u16..,
            prop::sample::select(Protocol::ALL.to_vec()),
            prop::option::of(prop::sample::select(vec!["127.0.0.1", "0.0.0.0", "::1"])),
            1u16..,
        )
            .prop_map(|(container_port, protocol, ip, host_port)| PortMapping {
                container_port,
                protocol,
                host_ip: ip.map(str::to_owned),
                host_port,
            })
    }

    proptest! {
        #[test]
        fn formatted_mappings_parse_back_to_themselves(
            list in prop::collection::vec(mapping(), 0..6)
        ) {
            let mut unique: Vec<PortMapping> = Vec::new();
            for m in list {
                if !unique.iter().any(|u| u.host_port == m.host_port && u.protocol == m.protocol) {
                    unique.push(m);
                }
            }
            prop_assert_eq!(parse(&format(&unique)), Ok(unique));
        }

        #[test]
        fn parsing_any_text_never_panics_and_accepted_ports_are_in_range(text in "\\PC{0,40}") {
            if let Ok(list) = parse(&text) {
                for m in list {
                    prop_assert!(m.container_port > 0 && m.host_port > 0);
                }
            }
        }
    }
}

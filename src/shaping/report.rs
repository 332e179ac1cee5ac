//! What a shaping command reports: per container interface, the veth that carries it and the
//! shaping the kernel holds there, for the window, the CLI and `--json`. Plain data; it reads
//! nothing from a host.

use serde::Serialize;

use super::profile::{DirectionProfile, ShapingProfile};
use super::readback::Observed;
use super::veth::VethLink;
use crate::model::ContainerDetails;

/// One container interface and the host veth that carries its traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Target {
    /// The Docker network of the interface, matched by MAC address.
    pub(crate) network: String,
    pub(crate) container_if: String,
    pub(crate) veth: String,
    pub(crate) veth_ifindex: u32,
}

impl Target {
    /// The targets of a container's matched links, each named by the Docker network whose MAC
    /// address it carries.
    pub(crate) fn of_links(details: &ContainerDetails, links: Vec<VethLink>) -> Vec<Target> {
        links
            .into_iter()
            .map(|link| Target {
                network: details
                    .networks
                    .iter()
                    .find(|n| n.mac_address.eq_ignore_ascii_case(&link.mac))
                    .map(|n| n.network.clone())
                    .unwrap_or_else(|| "unknown network".to_owned()),
                container_if: link.container_if,
                veth: link.host_veth,
                veth_ifindex: link.peer_ifindex,
            })
            .collect()
    }
}

/// What one veth holds, in a form for people and for `--json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct InterfaceShaping {
    #[serde(flatten)]
    pub(crate) target: Target,
    /// Our download tree, `None` when there is none.
    pub(crate) download: Option<DirectionProfile>,
    /// Our upload tree (on the IFB, with the redirect in place), `None` when there is none.
    pub(crate) upload: Option<DirectionProfile>,
    /// A root qdisc on the veth that Quayside did not create, as `kind handle`.
    pub(crate) foreign_root: Option<String>,
    pub(crate) notes: Vec<String>,
}

impl InterfaceShaping {
    /// What `observed` says of one target.
    pub(crate) fn new(target: Target, observed: &Observed) -> Self {
        Self {
            target,
            download: observed.download.clone(),
            upload: observed.effective_upload().cloned(),
            foreign_root: observed
                .foreign_root
                .as_ref()
                .map(|q| format!("{} {}", q.kind, q.handle)),
            notes: observed.notes.clone(),
        }
    }

    /// The profile this veth holds; an absent tree reads as unshaped.
    pub(crate) fn profile(&self) -> ShapingProfile {
        ShapingProfile {
            download: self.download.clone().unwrap_or_default(),
            upload: self.upload.clone().unwrap_or_default(),
        }
    }
}

/// What a shaping command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Applied,
    Cleared,
    AlreadyClear,
    Read,
}

/// The result of an apply, clear or read: what the kernel holds afterwards, per veth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ShapingReport {
    pub(crate) outcome: Outcome,
    pub(crate) interfaces: Vec<InterfaceShaping>,
    /// The commands that ran, as a user would type them.
    pub(crate) commands: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

impl ShapingReport {
    /// The shaping the container holds, taken from its first interface.
    pub(crate) fn profile(&self) -> Option<ShapingProfile> {
        self.interfaces.first().map(InterfaceShaping::profile)
    }

    /// One short sentence for a message.
    pub(crate) fn headline(&self) -> String {
        let mut held = self
            .profile()
            .map(|p| p.summary())
            .unwrap_or_else(|| "no shaping".to_owned());
        let foreign: Vec<&str> = self
            .interfaces
            .iter()
            .filter_map(|i| i.foreign_root.as_deref())
            .collect();
        if !foreign.is_empty() {
            held = format!(
                "{held} of Quayside's, and a root qdisc it did not make ({})",
                foreign.join(", ")
            );
        }
        match self.outcome {
            Outcome::Applied => format!("applied, the kernel holds {held}"),
            Outcome::Cleared => "shaping cleared".to_owned(),
            Outcome::AlreadyClear => "already clear, nothing to remove".to_owned(),
            Outcome::Read => format!("the kernel holds {held}"),
        }
    }

    /// The read-back as lines of text, one or more per interface.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for i in &self.interfaces {
            let t = &i.target;
            lines.push(format!(
                "{} ({}) on {}: {}",
                t.container_if,
                t.network,
                t.veth,
                i.profile().summary()
            ));
            if let Some(foreign) = &i.foreign_root {
                lines.push(format!(
                    "  root qdisc {foreign} was not created by Quayside"
                ));
            }
            lines.extend(i.notes.iter().map(|n| format!("  {n}")));
        }
        lines.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        lines
    }
}

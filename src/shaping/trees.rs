//! Every Quayside tree on a host, whoever it belongs to: the veths carrying our root (`7173:`)
//! or our ingress redirect, and our IFBs (`qs-ifb<ifindex>`), each matched to the running
//! container that owns the veth; an IFB whose veth is gone is an orphan. And clearing them all.
//!
//! A survey is two processes on the host: one lists the host's links, every qdisc, and the
//! links inside each running container not already known (through nsenter); one reads the
//! candidate veths as a single apply would. A veth is ours only when the read says so: a root
//! of another handle, or an ingress that does not redirect to our IFB, is someone else's and
//! is neither listed nor cleared. This module decides nothing about what a tree should be.

use bollard::Docker;
use serde::Serialize;

use super::gather::{ReadSpec, Reads};
use super::memo;
use super::ops::ShapingError;
use super::plan::{self, ApplyPlan, ClearPlan, IFB_PREFIX};
use super::profile::ShapingProfile;
use super::readback::{self, Observed};
use super::report::Target;
use super::steps::{self, StepFailure};
use super::veth::{self, HostLink};
use crate::docker;
use crate::model::{ContainerDetails, HostId};
use crate::privileged::Runner;

/// The running container that owns a veth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct TreeOwner {
    pub(crate) host: HostId,
    pub(crate) name: String,
    /// The container's interface paired with the veth, such as `eth0`.
    pub(crate) container_if: String,
    /// The Docker network of that interface.
    pub(crate) network: String,
}

/// One tree of ours on a host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct OwnedTree {
    /// The host veth carrying the tree; `None` for an orphaned IFB.
    pub(crate) veth: Option<String>,
    /// The veth's ifindex; for an orphan, the one its IFB's name carries.
    pub(crate) veth_ifindex: u32,
    /// Our IFB for this veth, when it exists.
    pub(crate) ifb: Option<String>,
    /// The running container that owns the veth; `None` for an orphan, or a veth no running
    /// container of this engine owns.
    pub(crate) owner: Option<TreeOwner>,
    /// What the kernel holds there, read back; `None` for an orphan.
    pub(crate) profile: Option<ShapingProfile>,
}

impl OwnedTree {
    /// True for an IFB whose veth is gone.
    pub(crate) fn is_orphan(&self) -> bool {
        self.veth.is_none()
    }

    /// Who the tree is, for a line of text: `web-1 eth0 (vethab12)`, `vethab12 (no running
    /// container)` or `qs-ifb12 (orphan IFB: its veth is gone)`.
    pub(crate) fn label(&self) -> String {
        match (&self.veth, &self.owner) {
            (Some(veth), Some(owner)) => {
                format!("{} {} ({veth})", owner.name, owner.container_if)
            }
            (Some(veth), None) => format!("{veth} (no running container owns it)"),
            (None, _) => format!(
                "{} (orphan IFB: its veth is gone)",
                self.ifb.as_deref().unwrap_or(IFB_PREFIX)
            ),
        }
    }
}

/// What clearing one tree did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ClearedTree {
    pub(crate) tree: OwnedTree,
    pub(crate) cleared: bool,
    /// Why not, in tc's or ip's words; empty when cleared.
    pub(crate) problem: String,
}

/// What `clear_all` did, one entry per tree found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ClearAllReport {
    pub(crate) host: HostId,
    pub(crate) trees: Vec<ClearedTree>,
    /// The commands that ran, as a user would type them.
    pub(crate) commands: Vec<String>,
}

impl ClearAllReport {
    /// True when every tree found was cleared.
    pub(crate) fn all_cleared(&self) -> bool {
        self.trees.iter().all(|t| t.cleared)
    }

    /// One line per tree, or one saying there was nothing.
    pub(crate) fn lines(&self) -> Vec<String> {
        if self.trees.is_empty() {
            return vec![format!(
                "{}: no shaping of Quayside's, nothing to clear",
                self.host
            )];
        }
        self.trees
            .iter()
            .map(|t| {
                if t.cleared {
                    format!("{}: {} cleared", self.host, t.tree.label())
                } else {
                    format!(
                        "{}: {} NOT cleared: {}",
                        self.host,
                        t.tree.label(),
                        t.problem
                    )
                }
            })
            .collect()
    }
}

/// A tree found, with what is needed to change it.
struct Found {
    tree: OwnedTree,
    /// For a veth: how to read it and what it held.
    veth: Option<(ReadSpec, Observed)>,
}

/// Every tree of ours on the host behind `docker` and `runner`.
pub(crate) async fn owned_trees(
    docker: &Docker,
    runner: &Runner,
    host: &HostId,
) -> Result<Vec<OwnedTree>, ShapingError> {
    Ok(survey(docker, runner, host)
        .await?
        .into_iter()
        .map(|f| f.tree)
        .collect())
}

/// Removes every tree of ours from the host, orphans included; one entry per tree. A host
/// with none is already clear, and that is a success.
pub(crate) async fn clear_all(
    docker: &Docker,
    runner: &Runner,
    host: &HostId,
) -> Result<ClearAllReport, ShapingError> {
    let found = survey(docker, runner, host).await?;
    let mut plans: Vec<ApplyPlan> = Vec::new();
    let mut specs = Vec::new();
    let mut orphans = Vec::new();
    for f in &found {
        match (&f.veth, &f.tree.ifb) {
            (Some((spec, observed)), _) => {
                if let ClearPlan::Steps(steps) =
                    plan::clear_plan(&spec.veth, spec.ifindex, observed)?
                {
                    plans.push(steps);
                    specs.push(spec.clone());
                }
            }
            (None, Some(ifb)) => orphans.push(ifb.clone()),
            (None, None) => {}
        }
    }
    let mut commands: Vec<String> = plans.iter().flat_map(plan::render_commands).collect();
    commands.extend(orphans.iter().map(|ifb| format!("ip link del {ifb}")));
    if found.is_empty() {
        return Ok(ClearAllReport {
            host: host.clone(),
            trees: Vec::new(),
            commands,
        });
    }

    let plan_refs: Vec<&ApplyPlan> = plans.iter().collect();
    let failure = match steps::run_plans(runner, &plan_refs, &orphans, true, &specs).await {
        Ok(_) => None,
        Err(failure) if failure.sudo_refused => return Err(failure.into_error()),
        Err(failure) => Some(failure),
    };

    // What is left says what was cleared, whatever the batch reported.
    let left = survey(docker, runner, host).await?;
    let still_there = |tree: &OwnedTree| {
        left.iter().any(|l| {
            (l.tree.veth == tree.veth && l.tree.veth_ifindex == tree.veth_ifindex)
                || (tree.is_orphan() && l.tree.ifb == tree.ifb)
        })
    };
    let trees = found
        .into_iter()
        .map(|f| {
            let remains = still_there(&f.tree);
            ClearedTree {
                problem: if remains {
                    failure.as_ref().map_or_else(
                        || "it is still there after the clear".to_owned(),
                        |StepFailure { words, .. }| words.clone(),
                    )
                } else {
                    String::new()
                },
                cleared: !remains,
                tree: f.tree,
            }
        })
        .collect();
    Ok(ClearAllReport {
        host: host.clone(),
        trees,
        commands,
    })
}

/// Finds every tree of ours, reading each candidate veth; veths that vanish meanwhile (a
/// container stopping) make the survey start again, once.
async fn survey(
    docker: &Docker,
    runner: &Runner,
    host: &HostId,
) -> Result<Vec<Found>, ShapingError> {
    for _ in 0..2 {
        if let Some(found) = survey_once(docker, runner, host).await? {
            return Ok(found);
        }
    }
    Err(ShapingError::Tool {
        command: "listing Quayside's trees".to_owned(),
        words: "veths came and went while they were read; try again".to_owned(),
    })
}

async fn survey_once(
    docker: &Docker,
    runner: &Runner,
    host: &HostId,
) -> Result<Option<Vec<Found>>, ShapingError> {
    // The running containers that have a network of their own.
    let rows = docker::list(docker, host, false).await?;
    let mut containers: Vec<ContainerDetails> = Vec::new();
    for row in rows.iter().filter(|r| r.state.is_running()) {
        // A container that stopped since the list has no veth left to own.
        let Ok(details) = docker::inspect(docker, &row.key()).await else {
            continue;
        };
        let mode = details.network_mode.as_str();
        if details.pid > 0 && mode != "host" && !mode.starts_with("container:") {
            containers.push(details);
        }
    }

    // Their veths: remembered, or found inside their namespaces in the survey's one process.
    let mut owned: Vec<(usize, Vec<Target>)> = Vec::new();
    let mut to_enter: Vec<usize> = Vec::new();
    for (i, details) in containers.iter().enumerate() {
        match memo::recall(host, details) {
            Some((targets, _)) => owned.push((i, targets)),
            None => to_enter.push(i),
        }
    }
    let pids: Vec<i64> = to_enter
        .iter()
        .filter_map(|i| containers.get(*i).map(|d| d.pid))
        .collect();
    let surveyed = steps::survey(runner, &pids).await?;
    let links = veth::host_links(&surveyed.host_links)?;
    for (i, inside) in to_enter.iter().zip(&surveyed.inside) {
        let (Some(details), Some(inside)) = (containers.get(*i), inside) else {
            continue;
        };
        // A container without veths (macvlan, none) owns no tree.
        let Ok(matched) = veth::match_interfaces(inside, &surveyed.host_links) else {
            continue;
        };
        let targets = Target::of_links(details, matched);
        memo::remember(host, details, &targets);
        owned.push((*i, targets));
    }

    // Candidates: veths with our handle or an ingress, or with an IFB of ours.
    let (candidates, orphans) = candidates(&links, &surveyed.qdiscs)?;
    let specs: Vec<ReadSpec> = candidates
        .iter()
        .map(|link| {
            Ok(ReadSpec {
                veth: link.name.clone(),
                ifindex: link.ifindex,
                ifb: plan::ifb_name(link.ifindex)?,
            })
        })
        .collect::<Result<_, ShapingError>>()?;
    let observed = if specs.is_empty() {
        Vec::new()
    } else {
        match steps::read(runner, &specs).await? {
            Reads::Current { observed, .. } => observed,
            Reads::Stale => return Ok(None),
        }
    };

    let owner_of = |ifindex: u32| {
        owned.iter().find_map(|(i, targets)| {
            let target = targets.iter().find(|t| t.veth_ifindex == ifindex)?;
            let details = containers.get(*i)?;
            Some(TreeOwner {
                host: host.clone(),
                name: details.name.clone(),
                container_if: target.container_if.clone(),
                network: target.network.clone(),
            })
        })
    };
    let mut found: Vec<Found> = specs
        .into_iter()
        .zip(observed)
        .filter(|(_, o)| o.download.is_some() || o.ingress_ours || o.ifb_present)
        .map(|(spec, observed)| Found {
            tree: OwnedTree {
                veth: Some(spec.veth.clone()),
                veth_ifindex: spec.ifindex,
                ifb: observed.ifb_present.then(|| spec.ifb.clone()),
                owner: owner_of(spec.ifindex),
                profile: Some(observed.shaping()),
            },
            veth: Some((spec, observed)),
        })
        .collect();
    found.extend(orphans.into_iter().map(|(ifb, veth_ifindex)| Found {
        tree: OwnedTree {
            veth: None,
            veth_ifindex,
            ifb: Some(ifb),
            owner: None,
            profile: None,
        },
        veth: None,
    }));
    Ok(Some(found))
}

/// Candidate veths, and orphaned IFBs as (name, the veth ifindex it names).
type Candidates = (Vec<HostLink>, Vec<(String, u32)>);

/// The veths worth reading (our root handle or an ingress qdisc on them, or an IFB of ours
/// named after them) and the orphaned IFBs, as (name, the veth ifindex it names).
fn candidates(links: &[HostLink], all_qdiscs_json: &str) -> Result<Candidates, ShapingError> {
    let marked = readback::devices_with_our_handles(all_qdiscs_json)?;
    let mut veths: Vec<HostLink> = Vec::new();
    let mut orphans = Vec::new();
    let mut add = |link: &HostLink| {
        if !veths.iter().any(|v| v.ifindex == link.ifindex) {
            veths.push(link.clone());
        }
    };
    for link in links.iter().filter(|l| l.kind == "veth") {
        if marked.contains(&link.name) {
            add(link);
        }
    }
    for ifb in links {
        let Some(index) = ifb
            .name
            .strip_prefix(IFB_PREFIX)
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        match links
            .iter()
            .find(|l| l.ifindex == index && l.kind == "veth")
        {
            Some(veth) => add(veth),
            None => orphans.push((ifb.name.clone(), index)),
        }
    }
    veths.sort_by_key(|v| v.ifindex);
    Ok((veths, orphans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ifindex: u32, name: &str, kind: &str) -> HostLink {
        HostLink {
            ifindex,
            name: name.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn candidates_are_marked_veths_and_veths_with_our_ifb_and_orphans_are_ifbs_without_veth() {
        let links = [
            link(1, "lo", "device"),
            link(3, "docker0", "bridge"),
            link(10, "vethA", "veth"),
            link(11, "vethB", "veth"),
            link(12, "vethC", "veth"),
            link(20, "qs-ifb11", "ifb"),
            link(21, "qs-ifb99", "ifb"),
            link(22, "qs-ifb3", "ifb"),
            link(23, "qs-ifbx", "ifb"),
        ];
        let qdiscs = r#"[{"kind":"htb","handle":"7173:","dev":"vethA","root":true},
            {"kind":"noqueue","handle":"0:","dev":"vethC","root":true},
            {"kind":"htb","handle":"7173:","dev":"docker0","root":true}]"#;
        let (veths, orphans) = candidates(&links, qdiscs).unwrap();
        let names: Vec<&str> = veths.iter().map(|v| v.name.as_str()).collect();
        // docker0 is no veth, whatever it holds; vethC holds nothing of ours.
        assert_eq!(names, ["vethA", "vethB"]);
        // qs-ifb3 names a bridge, not a veth: its veth is gone. qs-ifbx is no name of ours.
        assert_eq!(
            orphans,
            [("qs-ifb99".to_owned(), 99), ("qs-ifb3".to_owned(), 3)]
        );
    }

    #[test]
    fn an_empty_clear_all_report_says_there_was_nothing() {
        let report = ClearAllReport {
            host: HostId("lab-1".into()),
            trees: Vec::new(),
            commands: Vec::new(),
        };
        assert!(report.all_cleared());
        assert_eq!(
            report.lines(),
            ["lab-1: no shaping of Quayside's, nothing to clear"]
        );
    }

    #[test]
    fn tree_labels_name_the_container_or_say_why_none() {
        let mut tree = OwnedTree {
            veth: Some("veth12".into()),
            veth_ifindex: 12,
            ifb: None,
            owner: Some(TreeOwner {
                host: HostId("local".into()),
                name: "web-1".into(),
                container_if: "eth0".into(),
                network: "bridge".into(),
            }),
            profile: None,
        };
        assert_eq!(tree.label(), "web-1 eth0 (veth12)");
        tree.owner = None;
        assert_eq!(tree.label(), "veth12 (no running container owns it)");
        tree.veth = None;
        tree.ifb = Some("qs-ifb12".into());
        assert_eq!(tree.label(), "qs-ifb12 (orphan IFB: its veth is gone)");
    }
}

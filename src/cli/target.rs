//! Finds the container a `HOST:NAME` or `HOST:ID-PREFIX` argument means, and, when none
//! matches, suggests the nearest names.

use crate::docker;
use crate::hosts::connect::{self, HostConnection};
use crate::hosts::profile::Profile;
use crate::model::{ContainerSummary, HostId};
use crate::ssh::HostKeyPolicy;

/// How many near names an unknown id suggests.
const SUGGESTIONS: usize = 3;

/// Resolves `spec` on its host; returns that host's engine and the container's row. The error
/// says what was wrong and what exists.
pub(crate) async fn resolve(
    profile: &Profile,
    spec: &str,
) -> anyhow::Result<(HostConnection, ContainerSummary)> {
    let (host, wanted) = split(spec)?;
    let conn = connect_host(profile, &host).await?;
    let rows = docker::list(&conn.docker, &host, true).await?;
    Ok((conn, pick(rows, &host, wanted)?))
}

/// Connects to the profile's host named `host`; the error lists the hosts there are.
pub(crate) async fn connect_host(
    profile: &Profile,
    host: &HostId,
) -> anyhow::Result<HostConnection> {
    let Some(entry) = profile.hosts.iter().find(|h| h.id() == *host) else {
        let known: Vec<&str> = profile.hosts.iter().map(|h| h.name.as_str()).collect();
        anyhow::bail!("no host named {host}: known hosts are {}", known.join(", "));
    };
    // The command line never trusts an unknown host key: the error shows its fingerprint.
    Ok(connect::connect(entry, HostKeyPolicy::Strict, &Default::default()).await?)
}

/// Splits `HOST:NAME`; a missing host part is an error that shows the form.
pub(crate) fn split(spec: &str) -> anyhow::Result<(HostId, &str)> {
    match spec.split_once(':') {
        Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
            Ok((HostId(host.to_owned()), rest))
        }
        _ => anyhow::bail!(
            "'{spec}' is not a container id: write HOST:NAME or HOST:ID-PREFIX, e.g. local:web-1"
        ),
    }
}

/// Picks the one row named `wanted`, or whose id starts with it.
pub(crate) fn pick(
    rows: Vec<ContainerSummary>,
    host: &HostId,
    wanted: &str,
) -> anyhow::Result<ContainerSummary> {
    let wanted = wanted.trim_start_matches('/');
    if let Some(exact) = rows
        .iter()
        .position(|r| r.name == wanted || r.id.0 == wanted)
    {
        return rows
            .into_iter()
            .nth(exact)
            .ok_or_else(|| anyhow::anyhow!("no such container"));
    }
    let by_prefix: Vec<&ContainerSummary> =
        rows.iter().filter(|r| r.id.0.starts_with(wanted)).collect();
    match by_prefix.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|r| format!("{} ({})", r.name, r.id.short()))
                .collect();
            anyhow::bail!(
                "'{wanted}' matches {} containers on {host}: {}; give more of the id",
                many.len(),
                names.join(", ")
            );
        }
    }
    let mut near: Vec<(usize, &str)> = rows
        .iter()
        .map(|r| (edit_distance(wanted, &r.name), r.name.as_str()))
        .collect();
    near.sort();
    let near: Vec<&str> = near.into_iter().take(SUGGESTIONS).map(|(_, n)| n).collect();
    if near.is_empty() {
        anyhow::bail!("no container '{wanted}' on host {host}: the host has no containers");
    }
    anyhow::bail!(
        "no container '{wanted}' on host {host}; nearest names: {}",
        near.join(", ")
    )
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = current
                .last()
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerId, RunState};

    fn row(name: &str, id: &str) -> ContainerSummary {
        ContainerSummary {
            host: HostId::local(),
            id: ContainerId(id.into()),
            name: name.into(),
            image: "i".into(),
            state: RunState::Running,
            status: String::new(),
            status_since_unix_secs: None,
            ports: String::new(),
            created_unix_secs: 0,
        }
    }

    #[test]
    fn an_id_without_a_host_part_shows_the_form() {
        let err = split("web-1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("HOST:NAME"), "{err}");
        assert!(split("local:").is_err());
        assert_eq!(
            split("local:web-1").ok().map(|(h, n)| (h.0, n.to_owned())),
            Some(("local".into(), "web-1".into()))
        );
    }

    #[test]
    fn a_name_wins_over_an_id_prefix_and_a_unique_prefix_resolves() -> anyhow::Result<()> {
        let rows = vec![row("abc", "ffff00"), row("x", "abc123")];
        assert_eq!(pick(rows.clone(), &HostId::local(), "abc")?.name, "abc");
        assert_eq!(pick(rows, &HostId::local(), "ffff")?.name, "abc");
        Ok(())
    }

    #[test]
    fn an_ambiguous_prefix_lists_the_matches() {
        let rows = vec![row("a", "abc1"), row("b", "abc2")];
        let err = pick(rows, &HostId::local(), "abc")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("matches 2 containers"), "{err}");
    }

    #[test]
    fn an_unknown_name_suggests_the_nearest_ones() {
        let rows = vec![row("web-1", "1"), row("web-2", "2"), row("database", "3")];
        let err = pick(rows, &HostId::local(), "web1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("nearest names: web-1, web-2"), "{err}");
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}

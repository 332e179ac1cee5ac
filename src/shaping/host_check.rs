//! The preflight of a host: is `tc` there, may Quayside change qdiscs, can it make an IFB, and
//! does the kernel have netem. Each answer comes from trying, on a throwaway IFB device of
//! ours that is always deleted again, so the host says what it can do in its own words.
//!
//! A missing capability carries its reason and the fix. The window shows them under the host
//! and disables what cannot work there; nothing else on the host is touched.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

use crate::privileged::{RunError, Runner, SUDO_COMMANDS_HINT};

/// One capability of a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Capability {
    /// `tc`, `privileges`, `ifb` or `netem`.
    pub(crate) name: &'static str,
    /// `None` when available; else why not, and the fix.
    pub(crate) missing: Option<String>,
}

impl Capability {
    fn ok(name: &'static str) -> Self {
        Self {
            name,
            missing: None,
        }
    }

    fn missing(name: &'static str, why: String) -> Self {
        Self {
            name,
            missing: Some(why),
        }
    }
}

/// Tries each capability on the host, in order; a capability that cannot be tried because an
/// earlier one is missing says so.
pub(crate) async fn check(runner: &Runner) -> Vec<Capability> {
    let tools = runner.tools().clone();
    let mut found = Vec::new();

    // tc itself.
    match run(runner, &[&tools.tc, "-V"]).await {
        Ok(_) => found.push(Capability::ok("tc")),
        Err(words) => {
            found.push(Capability::missing(
                "tc",
                format!("{words}; install iproute2"),
            ));
            return not_tried(found, &["privileges", "ifb", "netem"], "tc is missing");
        }
    }

    // Privileges and ifb: make a probe device.
    let probe = probe_name();
    match run(runner, &[&tools.ip, "link", "add", &probe, "type", "ifb"]).await {
        Ok(_) => {
            found.push(Capability::ok("privileges"));
            found.push(Capability::ok("ifb"));
        }
        Err(words) if words.contains("sudo") || words.contains("Operation not permitted") => {
            found.push(Capability::missing(
                "privileges",
                format!(
                    "{words} (Quayside needs root, or sudo without a password for \
                     {SUDO_COMMANDS_HINT})"
                ),
            ));
            return not_tried(found, &["ifb", "netem"], "no privileges to try it");
        }
        Err(words) => {
            found.push(Capability::ok("privileges"));
            found.push(Capability::missing(
                "ifb",
                format!(
                    "{words}; load it with `modprobe ifb` (uploads cannot be shaped without it)"
                ),
            ));
            return not_tried(found, &["netem"], "no IFB device to try it on");
        }
    }

    // netem, on the probe device; then the probe goes, whatever happened.
    let netem = run(
        runner,
        &[
            &tools.tc, "qdisc", "add", "dev", &probe, "root", "netem", "delay", "1ms",
        ],
    )
    .await;
    if let Err(words) = run(runner, &[&tools.ip, "link", "del", &probe]).await {
        tracing::warn!(device = %probe, words = %words, "could not delete the probe device");
    }
    found.push(match netem {
        Ok(_) => Capability::ok("netem"),
        Err(words) => Capability::missing(
            "netem",
            format!(
                "{words} (the kernel has no sch_netem: load it with `modprobe sch_netem` or \
                 install the kernel's extra modules; delay, loss, duplicate, corrupt and \
                 reorder need it, rates do not)"
            ),
        ),
    });
    found
}

fn not_tried(mut found: Vec<Capability>, names: &[&'static str], why: &str) -> Vec<Capability> {
    found.extend(
        names
            .iter()
            .map(|name| Capability::missing(name, format!("not tried: {why}"))),
    );
    found
}

/// Runs `argv`; `Err` holds the tool's (or sudo's) words.
async fn run(runner: &Runner, argv: &[&str]) -> Result<String, String> {
    let argv: Vec<String> = argv.iter().map(|w| (*w).to_owned()).collect();
    match runner.run(&argv, None).await {
        Ok(out) if out.success() => Ok(out.stdout),
        Ok(out) => {
            let words = if out.stderr.trim().is_empty() {
                out.stdout.trim().to_owned()
            } else {
                out.stderr.trim().to_owned()
            };
            Err(words.lines().next().unwrap_or_default().to_owned())
        }
        Err(RunError::SudoNeedsPassword { .. }) => {
            Err("sudo wants a password (sudo -n refused)".to_owned())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// A device name of ours no other probe uses at the same time: `qs-probe` and a number.
fn probe_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // 15 characters at most: "qs-probe" + up to 7 digits.
    format!("qs-probe{}", (std::process::id() * 16 + n) % 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_fit_an_interface_name() {
        for _ in 0..100 {
            let name = probe_name();
            assert!(name.len() <= 15, "{name}");
            assert!(name.starts_with("qs-probe"));
        }
    }

    #[test]
    fn what_was_not_tried_says_why() {
        let found = not_tried(
            vec![Capability::ok("tc")],
            &["ifb", "netem"],
            "no privileges",
        );
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[2].missing.as_deref(),
            Some("not tried: no privileges")
        );
    }
}

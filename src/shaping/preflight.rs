//! What a host can do for shaping, found by trying it: `tc` present, privileges for `tc` and
//! `ip`, IFB devices, netem.
//!
//! Everything is tried in one script on the host: a throwaway IFB of ours (`qs-probe…`) is
//! created, netem is put on it, and it is deleted again whatever happened (a shell trap covers
//! an interrupted script too). The host answers in its own words; each missing capability
//! carries those words and the fix. Nothing else on the host is touched. This module runs one
//! script and reads it; showing the answer is the window's and the command line's business.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

use super::script::{ScriptBuilder, SectionOutput, quote};
use super::steps::tool_words;
use crate::privileged::{Runner, SUDO_COMMANDS_HINT, ToolPaths, stderr_is_sudo_password_refusal};

/// Section names.
const TC: &str = "tc";
const IFB: &str = "ifb";
const NETEM: &str = "netem";
const CLEANUP: &str = "cleanup";

/// What the netem section printed first: which probe it ran.
const TRIED_NETEM: &str = "tried netem";
const TRIED_TC: &str = "tried tc";

/// The longest interface name the kernel accepts.
const MAX_IFNAME_LEN: usize = 15;

/// One capability of a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub(crate) enum Capability {
    /// It works; `detail` says how (a path, `root`, `sudo -n`).
    Available { detail: String },
    /// It does not work: why, in the host's own words where it gave some, and what to do.
    Missing { reason: String, fix: String },
}

impl Capability {
    pub(crate) fn is_available(&self) -> bool {
        matches!(self, Self::Available { .. })
    }

    fn available(detail: impl Into<String>) -> Self {
        Self::Available {
            detail: detail.into(),
        }
    }

    fn missing(reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::Missing {
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// One line for people: `available (detail)` or `missing: reason; fix: …`.
    pub(crate) fn line(&self) -> String {
        match self {
            Self::Available { detail } => format!("available ({detail})"),
            Self::Missing { reason, fix } => format!("missing: {reason}; fix: {fix}"),
        }
    }
}

/// What a host can do for shaping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Preflight {
    /// The `tc` tool.
    pub(crate) tc: Capability,
    /// Changing qdiscs and links: root, or `sudo -n` for tc and ip.
    pub(crate) privileges: Capability,
    /// IFB devices, which upload shaping needs.
    pub(crate) ifb: Capability,
    /// netem, which every impairment (delay, loss, …) needs; rates do not.
    pub(crate) netem: Capability,
}

impl Preflight {
    /// The capabilities with their names, in the order they are tried.
    pub(crate) fn named(&self) -> [(&'static str, &Capability); 4] {
        [
            ("tc", &self.tc),
            ("privileges", &self.privileges),
            ("ifb", &self.ifb),
            ("netem", &self.netem),
        ]
    }
}

/// Tries every capability on the host behind `runner`, in one process. A host that cannot run
/// the script at all (the connection failed) reports that as the reason of each capability.
pub(crate) async fn preflight(runner: &Runner) -> Preflight {
    let probe = probe_name();
    let tools = runner.tools();
    let script = probe_script(runner.sudo(), tools, &probe);
    let out = match runner.run_script(&script.text).await {
        Ok(out) => out,
        Err(err) => return unreachable_host(&err.to_string()),
    };
    let Some(sections) = script.sections(&out.stdout, &out.stderr) else {
        return unreachable_host(&format!("the probe script failed: {}", tool_words(&out)));
    };
    let answer = read_answer(&sections, runner.sudo().is_some(), tools);
    if let Some(cleanup) = sections.iter().find(|s| s.name == CLEANUP)
        && !cleanup.success()
    {
        tracing::warn!(device = %probe, words = %tool_words_of(cleanup), "could not delete the probe device");
    }
    answer
}

/// The probe script: tc's path checked by a builtin, then the IFB, then netem on it (or, with
/// no IFB, a read through sudo to judge tc's privileges), then the IFB deleted.
fn probe_script(sudo: Option<&str>, tools: &ToolPaths, probe: &str) -> super::script::Script {
    let mut b = ScriptBuilder::new(sudo);
    let tc_path = quote(&tools.tc);
    b.shell(
        TC,
        &format!(
            "if [ -x {tc_path} ]; then echo {tc_path}; else echo {tc_path} not found >&2; false; fi"
        ),
        true,
    );

    let add = b.command_line(&[&tools.ip, "link", "add", probe, "type", "ifb"], true);
    let del = b.command_line(&[&tools.ip, "link", "del", probe], true);
    // The trap deletes the probe if the script is cut short; the cleanup section clears it.
    b.shell(
        IFB,
        &format!(
            "trap {} EXIT HUP INT TERM\n{add} </dev/null",
            quote(&format!("{del} >/dev/null 2>&1"))
        ),
        true,
    );
    let netem = b.command_line(
        &[
            &tools.tc, "qdisc", "add", "dev", probe, "root", "netem", "delay", "1ms",
        ],
        true,
    );
    let read = b.command_line(&[&tools.tc, "qdisc", "show", "dev", "lo"], true);
    b.shell(
        NETEM,
        &format!(
            "if [ \"$qs_s\" = 0 ]; then qs_made=1; echo {TRIED_NETEM}; {netem} </dev/null\n\
             else qs_made=0; echo {TRIED_TC}; {read} </dev/null >/dev/null; fi"
        ),
        true,
    );
    b.shell(
        CLEANUP,
        &format!("trap - EXIT HUP INT TERM\nif [ \"$qs_made\" = 1 ]; then {del} </dev/null; fi"),
        true,
    );
    b.finish()
}

/// Reads the probe's sections into capabilities.
fn read_answer(sections: &[SectionOutput], sudo: bool, tools: &ToolPaths) -> Preflight {
    let find = |name: &str| sections.iter().find(|s| s.name == name);
    let how = if sudo { "sudo -n" } else { "root" };
    let privileges_fix = if sudo {
        format!(
            "allow {SUDO_COMMANDS_HINT} without a password for the login user, e.g. \
             `USER ALL=(root) NOPASSWD: {}, {}, {}` in /etc/sudoers.d/quayside (edit it with \
             visudo), or log in as root",
            tools.tc, tools.ip, tools.nsenter
        )
    } else {
        "run as root with CAP_NET_ADMIN (a container needs --cap-add NET_ADMIN)".to_owned()
    };
    let no_privileges = |section: &SectionOutput| {
        stderr_is_sudo_password_refusal(&section.stderr)
            || section.stderr.contains("Operation not permitted")
            || section.stderr.contains("is not allowed to execute")
            || section.stderr.contains("not in the sudoers")
    };

    let tc = match find(TC) {
        Some(s) if s.success() => Capability::available(s.stdout.trim()),
        Some(s) => Capability::missing(tool_words_of(s), "install iproute2, which provides tc"),
        None => Capability::missing("not tried", "install iproute2, which provides tc"),
    };

    let (mut privileges, ifb) = match find(IFB) {
        Some(s) if s.success() => (
            Some(Capability::available(how)),
            Capability::available("an IFB device was created and deleted"),
        ),
        Some(s) if no_privileges(s) => (
            Some(Capability::missing(
                tool_words_of(s),
                privileges_fix.clone(),
            )),
            Capability::missing(
                "not tried: no privileges to create a device",
                "fix the privileges first",
            ),
        ),
        Some(s) => (
            None,
            Capability::missing(
                tool_words_of(s),
                "load the ifb module (`modprobe ifb`); uploads cannot be shaped without it",
            ),
        ),
        None => (
            None,
            Capability::missing("not tried", "load the ifb module (`modprobe ifb`)"),
        ),
    };

    let netem_section = find(NETEM);
    let tried_netem = netem_section.is_some_and(|s| s.stdout.starts_with(TRIED_NETEM));
    let netem = match netem_section {
        Some(s) if no_privileges(s) => {
            privileges = Some(Capability::missing(
                tool_words_of(s),
                privileges_fix.clone(),
            ));
            Capability::missing(
                "not tried: no privileges for tc",
                "fix the privileges first",
            )
        }
        Some(s) if tried_netem && s.success() => {
            Capability::available("netem was added to a probe device")
        }
        Some(s) if tried_netem => Capability::missing(
            tool_words_of(s),
            "load it with `modprobe sch_netem`, or install the kernel's extra modules \
             (e.g. linux-modules-extra-$(uname -r)); rates work without it",
        ),
        Some(s) => {
            if privileges.is_none() {
                privileges = Some(if s.success() {
                    Capability::available(how)
                } else {
                    Capability::missing(tool_words_of(s), privileges_fix.clone())
                });
            }
            Capability::missing(
                "not tried: no IFB device to try it on",
                "make IFB devices available first (`modprobe ifb`)",
            )
        }
        None => Capability::missing("not tried", "rerun the preflight"),
    };
    let privileges =
        privileges.unwrap_or_else(|| Capability::missing("not tried", privileges_fix.clone()));

    // Without tc, what the tc probes said is not a finding of their own.
    if let Capability::Missing { reason, .. } = &tc {
        let not_tried = || {
            Capability::missing(
                format!("not tried: {reason}"),
                "install iproute2, which provides tc",
            )
        };
        return Preflight {
            privileges: if ifb.is_available() {
                privileges
            } else {
                not_tried()
            },
            netem: not_tried(),
            tc,
            ifb,
        };
    }
    Preflight {
        tc,
        privileges,
        ifb,
        netem,
    }
}

/// Every capability unknown, for a host the script could not run on.
fn unreachable_host(why: &str) -> Preflight {
    let unknown = || Capability::missing(why, "check the connection to the host");
    Preflight {
        tc: unknown(),
        privileges: unknown(),
        ifb: unknown(),
        netem: unknown(),
    }
}

fn tool_words_of(section: &SectionOutput) -> String {
    tool_words(&crate::privileged::CommandOutput {
        status: section.status,
        stdout: String::new(),
        stderr: section.stderr.clone(),
    })
}

/// A device name no other probe of this process uses at the same time, and unlikely to be one
/// of another process: `qs-probe` and up to 7 digits.
fn probe_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let unique = (std::process::id().wrapping_mul(64).wrapping_add(n)) % 10_000_000;
    let name = format!("qs-probe{unique}");
    debug_assert!(name.len() <= MAX_IFNAME_LEN);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, status: i32, stdout: &str, stderr: &str) -> SectionOutput {
        SectionOutput {
            name: name.into(),
            status,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    fn tools() -> ToolPaths {
        ToolPaths {
            tc: "/usr/sbin/tc".into(),
            ip: "/usr/sbin/ip".into(),
            nsenter: "/usr/bin/nsenter".into(),
            sudo: "/usr/bin/sudo".into(),
        }
    }

    #[test]
    fn a_kernel_without_netem_is_missing_netem_with_tcs_words_and_the_modprobe_fix() {
        let answer = read_answer(
            &[
                section(TC, 0, "/usr/sbin/tc\n", ""),
                section(IFB, 0, "", ""),
                section(
                    NETEM,
                    2,
                    "tried netem\n",
                    "Error: Specified qdisc kind is unknown.\n",
                ),
                section(CLEANUP, 0, "", ""),
            ],
            false,
            &tools(),
        );
        assert_eq!(answer.tc, Capability::available("/usr/sbin/tc"));
        assert_eq!(answer.privileges, Capability::available("root"));
        assert!(answer.ifb.is_available());
        let Capability::Missing { reason, fix } = &answer.netem else {
            panic!("{answer:?}");
        };
        assert_eq!(reason, "Error: Specified qdisc kind is unknown.");
        assert!(fix.contains("modprobe sch_netem") && fix.contains("linux-modules-extra"));
    }

    #[test]
    fn sudo_wanting_a_password_is_missing_privileges_with_the_nopasswd_rule() {
        let refusal = "sudo: a password is required\n";
        let answer = read_answer(
            &[
                section(TC, 0, "/usr/sbin/tc\n", ""),
                section(IFB, 1, "", refusal),
                section(NETEM, 1, "tried tc\n", refusal),
                section(CLEANUP, 0, "", ""),
            ],
            true,
            &tools(),
        );
        let Capability::Missing { reason, fix } = &answer.privileges else {
            panic!("{answer:?}");
        };
        assert_eq!(reason, "sudo: a password is required");
        assert!(
            fix.contains("NOPASSWD") && fix.contains("/usr/sbin/tc"),
            "{fix}"
        );
        assert!(!answer.ifb.is_available() && !answer.netem.is_available());
    }

    #[test]
    fn a_missing_ifb_module_is_missing_ifb_and_privileges_come_from_tc() {
        let answer = read_answer(
            &[
                section(TC, 0, "/usr/sbin/tc\n", ""),
                section(IFB, 2, "", "Error: Unknown device type.\n"),
                section(NETEM, 0, "tried tc\n", ""),
                section(CLEANUP, 0, "", ""),
            ],
            true,
            &tools(),
        );
        assert_eq!(answer.privileges, Capability::available("sudo -n"));
        let Capability::Missing { reason, fix } = &answer.ifb else {
            panic!("{answer:?}");
        };
        assert_eq!(reason, "Error: Unknown device type.");
        assert!(fix.contains("modprobe ifb"));
        assert!(!answer.netem.is_available());
    }

    #[test]
    fn the_answer_serializes_with_a_state_per_capability() {
        let answer = Preflight {
            tc: Capability::available("/usr/sbin/tc"),
            privileges: Capability::available("root"),
            ifb: Capability::available("x"),
            netem: Capability::missing("Error: Specified qdisc kind is unknown.", "modprobe"),
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["tc"]["state"], "available");
        assert_eq!(json["netem"]["state"], "missing");
        assert_eq!(json["netem"]["fix"], "modprobe");
    }

    #[test]
    fn probe_names_fit_an_interface_name_and_differ() {
        let a = probe_name();
        let b = probe_name();
        assert!(
            a.len() <= MAX_IFNAME_LEN && a.starts_with("qs-probe"),
            "{a}"
        );
        assert_ne!(a, b);
    }
}

//! The script sections that find a container's veths and read what the kernel holds on them,
//! and the reading of those sections back into `Observed` states.
//!
//! One read is one script: a link check per veth (its ifindex and whether its IFB exists, read
//! from sysfs by shell builtins), a scan for Quayside's IFBs whose veth is gone (builtins too),
//! and a single `tc -j -batch -` that prints every qdisc, class and filter list needed, in
//! a known order. In that batch each JSON list is exactly one line starting with `[` and each
//! class list is text whose lines never do, so the lists are told apart without markers. A
//! change puts its own lines first in that same batch (they print nothing when they succeed),
//! so a change and its read-back are one tc process. A change planned from the last read can
//! be guarded: the same lists are read again first and must print exactly what they printed
//! then, else nothing is changed. This module writes sections and reads their output; it runs
//! nothing.

use super::plan::IFB_PREFIX;
use super::readback::{self, DeviceText, Observed, ReadbackError, TcSnapshot};
use super::script::{ScriptBuilder, SectionOutput, quote};
use crate::privileged::ToolPaths;

/// Section names.
pub(crate) const INSIDE: &str = "inside";
pub(crate) const HOST: &str = "host";
const LINKS: &str = "links";
pub(crate) const ORPHANS: &str = "orphans";
pub(crate) const ORPHANS_DEL: &str = "orphans-del-found";
pub(crate) const GUARD: &str = "guard";
pub(crate) const TC_READ: &str = "tc-read";
pub(crate) const QDISCS: &str = "qdiscs";

/// One veth to read, with the name of its IFB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadSpec {
    pub(crate) veth: String,
    pub(crate) ifindex: u32,
    pub(crate) ifb: String,
}

/// What a read found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reads {
    /// Every veth is where it was: what each holds, in the order of the specs, and the
    /// orphaned IFBs on the host.
    Current {
        observed: Vec<Observed>,
        orphans: Vec<String>,
        /// The batch's output as `$(…)` in the shell keeps it: what an unchanged kernel
        /// prints again, for a later guard.
        fingerprint: String,
    },
    /// A veth is gone or has another ifindex (the container restarted or changed networks):
    /// find its veths again.
    Stale,
}

/// Adds the sections that list the links inside the container's network namespace (through
/// nsenter, privileged) and on the host.
pub(crate) fn add_discovery(b: &mut ScriptBuilder, tools: &ToolPaths, pid: i64) {
    let pid = pid.to_string();
    b.command(
        INSIDE,
        &[
            &tools.nsenter,
            "-t",
            &pid,
            "-n",
            &tools.ip,
            "-d",
            "-j",
            "link",
            "show",
        ],
        true,
        None,
    );
    b.command(HOST, &[&tools.ip, "-d", "-j", "link", "show"], false, None);
}

/// The section that lists the links inside the namespace of the `i`-th container entered.
pub(crate) fn inside_section(i: usize) -> String {
    format!("{INSIDE}-{i}")
}

/// Adds the sections of a host survey: every link of the host, every qdisc of every device,
/// and the links inside each container whose init has one of `pids` (tolerant: a container
/// may stop meanwhile).
pub(crate) fn add_survey(b: &mut ScriptBuilder, tools: &ToolPaths, pids: &[i64]) {
    b.command(HOST, &[&tools.ip, "-d", "-j", "link", "show"], false, None);
    b.command(QDISCS, &[&tools.tc, "-j", "qdisc", "show"], false, None);
    for (i, pid) in pids.iter().enumerate() {
        let pid = pid.to_string();
        let line = b.command_line(
            &[
                &tools.nsenter,
                "-t",
                &pid,
                "-n",
                &tools.ip,
                "-d",
                "-j",
                "link",
                "show",
            ],
            true,
        );
        b.shell(&inside_section(i), &format!("{line} </dev/null"), true);
    }
}

/// Adds the sections that read every spec. Reading needs no privileges.
pub(crate) fn add_reads(b: &mut ScriptBuilder, tools: &ToolPaths, specs: &[ReadSpec]) {
    add_link_checks(b, specs);
    add_batch(b, tools, specs, &[], false);
}

/// Adds the link checks: each veth's ifindex and whether its IFB exists (kept in
/// `qs_ifb_<i>` for the batch), and the orphaned IFBs.
pub(crate) fn add_link_checks(b: &mut ScriptBuilder, specs: &[ReadSpec]) {
    let mut links = String::new();
    for (i, spec) in specs.iter().enumerate() {
        let index_file = quote(&format!("/sys/class/net/{}/ifindex", spec.veth));
        let ifb_dir = quote(&format!("/sys/class/net/{}", spec.ifb));
        links.push_str(&format!(
            "qs_ifb_{i}=0\n\
             if [ -r {index_file} ]; then read -r qs_x < {index_file}; echo \"{i} veth $qs_x\"; \
             else echo \"{i} veth -\"; fi\n\
             if [ -e {ifb_dir} ]; then qs_ifb_{i}=1; echo \"{i} ifb\"; fi\n"
        ));
    }
    b.shell(LINKS, &links, false);

    // An IFB of ours is an orphan when no link has the ifindex its name carries.
    let orphans = format!(
        "for qs_d in /sys/class/net/{IFB_PREFIX}*; do\n\
         [ -e \"$qs_d\" ] || continue\n\
         qs_n=${{qs_d##*/{IFB_PREFIX}}}\n\
         case $qs_n in ''|*[!0-9]*) continue;; esac\n\
         qs_alive=0\n\
         for qs_v in /sys/class/net/*; do\n\
         [ -r \"$qs_v/ifindex\" ] || continue\n\
         read -r qs_i < \"$qs_v/ifindex\"\n\
         if [ \"$qs_i\" = \"$qs_n\" ]; then qs_alive=1; break; fi\n\
         done\n\
         if [ \"$qs_alive\" = 0 ]; then echo \"${{qs_d##*/}}\"; qs_orph=\"$qs_orph ${{qs_d##*/}}\"; fi\n\
         done\n\
         :"
    );
    b.shell(ORPHANS, &format!("qs_orph=''\n{orphans}"), false);
}

/// Adds a tolerant section that deletes the orphaned IFBs the link checks found (their names
/// are `qs-ifb` and digits, by the scan's own test); it runs ip only when there are some.
pub(crate) fn add_orphan_deletion(b: &mut ScriptBuilder, tools: &ToolPaths) {
    let line = b.command_line(&[&tools.ip, "-force", "-batch", "-"], true);
    b.shell(
        ORPHANS_DEL,
        &format!("if [ -n \"$qs_orph\" ]; then printf 'link del %s\\n' $qs_orph | {line}; fi"),
        true,
    );
}

/// Adds one `tc -j -batch -` that runs `changes` (lines that print nothing when they
/// succeed), then prints every spec's lists; the IFB's only where the link checks found it.
/// With changes it runs privileged, and with `force` it goes on past a failing line.
///
/// Counters (`-s`) are left out: without them the output of an unchanged tree is the same
/// from one read to the next, which is what the guard compares.
pub(crate) fn add_batch(
    b: &mut ScriptBuilder,
    tools: &ToolPaths,
    specs: &[ReadSpec],
    changes: &[&str],
    force: bool,
) {
    let mut code = show_lines(specs, "qs_b");
    if !changes.is_empty() {
        code.push_str(&format!(
            "qs_b={}\"$qs_b\"\n",
            quote(&(changes.join("\n") + "\n"))
        ));
    }
    let mut argv = vec![tools.tc.as_str(), "-j"];
    if force {
        argv.push("-force");
    }
    argv.extend(["-batch", "-"]);
    let line = b.command_line(&argv, !changes.is_empty());
    code.push_str(&b.here_variable(&line, "qs_b"));
    b.shell(TC_READ, &code, false);
}

/// Adds the guard: the specs read again, unprivileged, and compared with `expected` (the
/// fingerprint of the last read). The section prints what it read and fails when it differs,
/// which stops the sections after it.
pub(crate) fn add_guard(
    b: &mut ScriptBuilder,
    tools: &ToolPaths,
    specs: &[ReadSpec],
    expected: &str,
) {
    let mut code = show_lines(specs, "qs_g");
    let line = b.command_line(&[&tools.tc, "-j", "-batch", "-"], false);
    let read = b.here_variable(&line, "qs_g");
    code.push_str(&format!(
        "qs_now=$({read})\nqs_rc=$?\nprintf '%s\\n' \"$qs_now\"\n\
         [ \"$qs_rc\" = 0 ] && [ \"$qs_now\" = {} ]",
        quote(expected)
    ));
    b.shell(GUARD, &code, false);
}

/// Shell code that sets `var` to the show lines of every spec, the IFB's only where the link
/// checks found it.
fn show_lines(specs: &[ReadSpec], var: &str) -> String {
    let mut code = format!("{var}=''\n");
    for (i, spec) in specs.iter().enumerate() {
        let veth_lines = format!(
            "qdisc show dev {v}\nclass show dev {v}\nfilter show dev {v} parent ffff:\n",
            v = spec.veth
        );
        let ifb_lines = format!("qdisc show dev {f}\nclass show dev {f}\n", f = spec.ifb);
        code.push_str(&format!(
            "{var}=\"${var}\"{}\nif [ \"$qs_ifb_{i}\" = 1 ]; then {var}=\"${var}\"{}; fi\n",
            quote(&veth_lines),
            quote(&ifb_lines)
        ));
    }
    code
}

/// Reads the sections `add_reads` added. A section that failed is returned as `Err` with its
/// output, for the caller to word.
pub(crate) fn parse_reads<'a>(
    sections: &'a [SectionOutput],
    specs: &[ReadSpec],
) -> Result<Result<Reads, ReadbackError>, &'a SectionOutput> {
    let links = section(sections, LINKS)?;
    let Some(ifb_present) = ifb_flags(&links.stdout, specs) else {
        return Ok(Ok(Reads::Stale));
    };
    let orphans: Vec<String> = section(sections, ORPHANS)?
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let batch = section(sections, TC_READ)?;
    Ok(reads_from(&batch.stdout, specs, &ifb_present, orphans))
}

/// What a guard that found the kernel changed read instead: the state now, when the read
/// itself went through.
pub(crate) fn parse_guard(sections: &[SectionOutput], specs: &[ReadSpec]) -> Option<Reads> {
    let links = section(sections, LINKS).ok()?;
    let orphans = section(sections, ORPHANS).ok()?;
    let guard = sections.iter().find(|s| s.name == GUARD)?;
    let Some(ifb_present) = ifb_flags(&links.stdout, specs) else {
        return Some(Reads::Stale);
    };
    let orphans = orphans.stdout.lines().map(str::to_owned).collect();
    reads_from(&guard.stdout, specs, &ifb_present, orphans).ok()
}

/// Whether each spec's IFB exists, from the link checks; `None` when a veth is gone or has
/// another ifindex.
fn ifb_flags(links: &str, specs: &[ReadSpec]) -> Option<Vec<bool>> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let veth_line = format!("{i} veth {}", spec.ifindex);
            let ifb_line = format!("{i} ifb");
            links
                .lines()
                .any(|l| l == veth_line)
                .then(|| links.lines().any(|l| l == ifb_line))
        })
        .collect()
}

fn reads_from(
    batch: &str,
    specs: &[ReadSpec],
    ifb_present: &[bool],
    orphans: Vec<String>,
) -> Result<Reads, ReadbackError> {
    let observed = read_batch(batch, specs, ifb_present)?;
    Ok(Reads::Current {
        observed,
        orphans,
        fingerprint: batch.trim_end_matches('\n').to_owned(),
    })
}

/// The section named `name` when it ran and succeeded; the failed section otherwise.
pub(crate) fn section<'a>(
    sections: &'a [SectionOutput],
    name: &str,
) -> Result<&'a SectionOutput, &'a SectionOutput> {
    match sections.iter().find(|s| s.name == name) {
        Some(s) if s.success() => Ok(s),
        Some(s) => Err(s),
        // A section that did not run follows one that failed: report that one.
        None => Err(sections.iter().find(|s| !s.success()).unwrap_or(&MISSING)),
    }
}

/// Stands for a section the output does not hold at all.
static MISSING: SectionOutput = SectionOutput {
    name: String::new(),
    status: -1,
    stdout: String::new(),
    stderr: String::new(),
};

/// Splits the batch's output into each device's lists and reads them.
fn read_batch(
    text: &str,
    specs: &[ReadSpec],
    ifb_present: &[bool],
) -> Result<Vec<Observed>, ReadbackError> {
    let mut lines = BatchLines::new(text);
    let mut observed = Vec::with_capacity(specs.len());
    for (spec, ifb) in specs.iter().zip(ifb_present) {
        let veth_qdisc = lines.json(&spec.veth, "qdisc")?;
        let veth_class = lines.text();
        let filter = lines.json(&spec.veth, "filter")?;
        let ifb_lists = if *ifb {
            let qdisc = lines.json(&spec.ifb, "qdisc")?;
            Some((qdisc, lines.text()))
        } else {
            None
        };
        let snapshot = TcSnapshot {
            veth_name: &spec.veth,
            veth: DeviceText {
                qdisc_json: veth_qdisc,
                class_text: &veth_class,
            },
            ingress_filter_json: Some(filter),
            ifb_name: &spec.ifb,
            ifb: ifb_lists.as_ref().map(|(q, c)| DeviceText {
                qdisc_json: q,
                class_text: c,
            }),
        };
        observed.push(readback::read_observed(&snapshot)?);
    }
    Ok(observed)
}

/// A cursor over the lines of a batch's output.
struct BatchLines<'a> {
    lines: std::iter::Peekable<std::str::Lines<'a>>,
}

impl<'a> BatchLines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().peekable(),
        }
    }

    /// The next JSON list: the next non-blank line, which must start with `[`.
    fn json(&mut self, dev: &str, what: &'static str) -> Result<&'a str, ReadbackError> {
        while self.lines.peek().is_some_and(|l| l.trim().is_empty()) {
            self.lines.next();
        }
        match self.lines.next() {
            Some(line) if line.starts_with('[') => Ok(line),
            other => Err(ReadbackError::BatchOutput {
                dev: dev.to_owned(),
                what,
                found: other
                    .unwrap_or("the end of the output")
                    .chars()
                    .take(80)
                    .collect(),
            }),
        }
    }

    /// The text up to the next JSON list.
    fn text(&mut self) -> String {
        let mut text = String::new();
        while let Some(line) = self.lines.next_if(|l| !l.starts_with('[')) {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ReadSpec {
        ReadSpec {
            veth: "veth1a2b".into(),
            ifindex: 1211,
            ifb: "qs-ifb1211".into(),
        }
    }

    fn ok(name: &str, stdout: &str) -> SectionOutput {
        SectionOutput {
            name: name.into(),
            status: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// Real: this machine's tc 6.1 for `qdisc, class, filter` of a veth with our HTB root and
    /// redirect, then `qdisc, class` of its IFB, in one `tc -s -j -batch -`.
    const REAL_BATCH: &str = r#"[{"kind":"htb","handle":"7173:","root":true,"refcnt":3,"options":{"r2q":10,"default":"0x1","direct_packets_stat":0,"direct_qlen":1000},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]
class htb 7173:1 root prio 0 rate 2Mbit ceil 2Mbit burst 1600b cburst 1600b 
 Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) 
 backlog 0b 0p requeues 0
 lended: 0 borrowed: 0 giants: 0
 tokens: 100000 ctokens: 100000

[{"protocol":"all","pref":1,"kind":"u32","chain":0},{"protocol":"all","pref":1,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},{"protocol":"all","pref":1,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"qs-ifb1211","control_action":{"type":"stolen"},"index":3,"ref":1,"bind":1,"installed":0,"last_used":0,"stats":{"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}}]}}]
[{"kind":"htb","handle":"7173:","root":true,"refcnt":2,"options":{"r2q":10,"default":"0x1","direct_packets_stat":0,"direct_qlen":32},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]
class htb 7173:1 root prio 0 rate 512Kbit ceil 512Kbit burst 1600b cburst 1600b 
 Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) 
 backlog 0b 0p requeues 0
 lended: 0 borrowed: 0 giants: 0
 tokens: 390625 ctokens: 390625

"#;

    #[test]
    fn one_batch_reads_back_both_directions_of_a_veth() {
        let sections = [
            ok(LINKS, "0 veth 1211\n0 ifb\n"),
            ok(ORPHANS, "qs-ifb77\n"),
            ok(TC_READ, REAL_BATCH),
        ];
        let Ok(Ok(Reads::Current {
            observed, orphans, ..
        })) = parse_reads(&sections, &[spec()])
        else {
            panic!("not read");
        };
        assert_eq!(orphans, ["qs-ifb77"]);
        let shaping = observed[0].shaping();
        assert_eq!(shaping.download.rate_kbit, 2000);
        assert_eq!(shaping.upload.rate_kbit, 512);
        assert!(observed[0].ingress_ours && observed[0].ifb_present);
    }

    #[test]
    fn a_veth_with_another_ifindex_or_gone_makes_the_read_stale() {
        for links in ["0 veth 1300\n", "0 veth -\n", ""] {
            let sections = [ok(LINKS, links), ok(ORPHANS, ""), ok(TC_READ, "")];
            assert!(
                matches!(parse_reads(&sections, &[spec()]), Ok(Ok(Reads::Stale))),
                "{links:?}"
            );
        }
    }

    #[test]
    fn an_unshaped_veth_without_ifb_reads_as_no_shaping() {
        let batch = "[{\"kind\":\"noqueue\",\"handle\":\"0:\",\"root\":true,\"refcnt\":2,\"options\":{}}]\n[]\n";
        let sections = [
            ok(LINKS, "0 veth 1211\n"),
            ok(ORPHANS, ""),
            ok(TC_READ, batch),
        ];
        let Ok(Ok(Reads::Current { observed, .. })) = parse_reads(&sections, &[spec()]) else {
            panic!("not read");
        };
        assert!(observed[0].shaping().is_unshaped());
        assert!(!observed[0].ifb_present);
    }

    #[test]
    fn a_batch_cut_short_is_an_error_naming_the_device() {
        let sections = [
            ok(LINKS, "0 veth 1211\n0 ifb\n"),
            ok(ORPHANS, ""),
            ok(TC_READ, "[]\n"),
        ];
        let err = match parse_reads(&sections, &[spec()]) {
            Ok(Err(err)) => err.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(err.contains("veth1a2b") && err.contains("filter"), "{err}");
    }

    #[test]
    fn a_failed_section_is_handed_back() {
        let failed = SectionOutput {
            name: TC_READ.into(),
            status: 1,
            stdout: String::new(),
            stderr: "Cannot find device \"veth1a2b\"\n".into(),
        };
        let sections = [ok(LINKS, "0 veth 1211\n"), ok(ORPHANS, ""), failed.clone()];
        assert!(matches!(parse_reads(&sections, &[spec()]), Err(s) if *s == failed));
    }

    #[test]
    fn the_read_script_runs_under_sh_and_finds_loopback_unshaped() {
        // `lo` stands in for a veth: ifindex 1, never an IFB, nothing of ours on it.
        let mut b = ScriptBuilder::new(None);
        let lo = ReadSpec {
            veth: "lo".into(),
            ifindex: 1,
            ifb: "qs-ifb1".into(),
        };
        add_reads(&mut b, &ToolPaths::local(), std::slice::from_ref(&lo));
        let script = b.finish();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script.text)
            .output()
            .unwrap();
        let sections = script
            .sections(
                &String::from_utf8_lossy(&out.stdout),
                &String::from_utf8_lossy(&out.stderr),
            )
            .unwrap();
        let Ok(Ok(Reads::Current { observed, .. })) = parse_reads(&sections, &[lo]) else {
            panic!("{sections:?}");
        };
        assert!(observed[0].shaping().is_unshaped());
    }
}

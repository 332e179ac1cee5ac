//! Running shaping's scripts on a host's runner: finding a container's links, reading what the
//! kernel holds, and running plans followed by their read-back, one process each.
//!
//! Each failure keeps the command and the tool's own words; sudo's refusal to ask for a
//! password is recognised in any section and becomes the error that names the NOPASSWD rule.

use super::gather::{self, ReadSpec, Reads};
use super::ops::ShapingError;
use super::plan::ApplyPlan;
use super::script::{Script, ScriptBuilder, SectionOutput};
use crate::privileged::{CommandOutput, RunError, Runner, stderr_is_sudo_password_refusal};

/// Section names of a plan run.
const ORPHANS_DEL: &str = "orphans-del";
const LINKS_ADD: &str = "links-add";
const TC: &str = "tc";
const LINKS_DEL: &str = "links-del";

/// A failed step of a plan run: the command and what the tool said.
#[derive(Debug)]
pub(crate) struct StepFailure {
    pub(crate) command: String,
    pub(crate) words: String,
    /// The plan whose tc line failed, when tc named the line.
    pub(crate) plan_index: Option<usize>,
    /// True when sudo refused to run the command without a password.
    pub(crate) sudo_refused: bool,
}

impl StepFailure {
    /// The error this failure is when nothing needs restoring.
    pub(crate) fn into_error(self) -> ShapingError {
        if self.sudo_refused {
            ShapingError::Run(RunError::SudoNeedsPassword {
                command: self.command,
            })
        } else {
            ShapingError::Tool {
                command: self.command,
                words: self.words,
            }
        }
    }
}

/// What `ip -d -j link show` printed inside the container's namespace and on the host.
pub(crate) async fn discover_links(
    runner: &Runner,
    pid: i64,
) -> Result<(String, String), ShapingError> {
    let mut b = ScriptBuilder::new(runner.sudo());
    gather::add_discovery(&mut b, runner.tools(), pid);
    let sections = run(runner, b.finish()).await?;
    let tools = runner.tools();
    let inside = gather::section(&sections, gather::INSIDE).map_err(|s| {
        section_error(
            s,
            &format!("{} -t {pid} -n {} -d -j link show", tools.nsenter, tools.ip),
        )
    })?;
    let host = gather::section(&sections, gather::HOST)
        .map_err(|s| section_error(s, &format!("{} -d -j link show", tools.ip)))?;
    Ok((inside.stdout.clone(), host.stdout.clone()))
}

/// What a host survey printed.
pub(crate) struct Survey {
    /// `ip -d -j link show` of the host.
    pub(crate) host_links: String,
    /// `tc -j qdisc show` of every device.
    pub(crate) qdiscs: String,
    /// The links inside each container entered, in the order of the pids; `None` when its
    /// namespace could not be entered (the container stopped meanwhile).
    pub(crate) inside: Vec<Option<String>>,
}

/// Lists the host's links and qdiscs and the links inside each of `pids`, in one process.
pub(crate) async fn survey(runner: &Runner, pids: &[i64]) -> Result<Survey, ShapingError> {
    let tools = runner.tools();
    let mut b = ScriptBuilder::new(runner.sudo());
    gather::add_survey(&mut b, tools, pids);
    let sections = run(runner, b.finish()).await?;
    let host_links = gather::section(&sections, gather::HOST)
        .map_err(|s| section_error(s, &format!("{} -d -j link show", tools.ip)))?
        .stdout
        .clone();
    let qdiscs = gather::section(&sections, gather::QDISCS)
        .map_err(|s| section_error(s, &format!("{} -j qdisc show", tools.tc)))?
        .stdout
        .clone();
    let mut inside = Vec::with_capacity(pids.len());
    for (i, pid) in pids.iter().enumerate() {
        let name = gather::inside_section(i);
        match sections.iter().find(|s| s.name == name) {
            Some(s) if s.success() => inside.push(Some(s.stdout.clone())),
            Some(s) if stderr_is_sudo_password_refusal(&s.stderr) => {
                return Err(section_error(
                    s,
                    &format!("{} -t {pid} -n {} -d -j link show", tools.nsenter, tools.ip),
                ));
            }
            _ => inside.push(None),
        }
    }
    Ok(Survey {
        host_links,
        qdiscs,
        inside,
    })
}

/// Reads what the kernel holds on each veth, in one process.
pub(crate) async fn read(runner: &Runner, specs: &[ReadSpec]) -> Result<Reads, ShapingError> {
    let mut b = ScriptBuilder::new(runner.sudo());
    gather::add_reads(&mut b, runner.tools(), specs);
    let sections = run(runner, b.finish()).await?;
    parsed_reads(runner, &sections, specs)
}

/// Runs the plans in one process: `orphans` and the orphaned IFBs the script's own scan finds
/// deleted (a failure there is only logged), the plans' links created, all their tc lines as one batch (with `force`, tc goes on past a
/// failing line, for clearing) that also reads every spec back, unless links are to be
/// deleted after it: then the read-back follows their deletion.
///
/// The outer error is a failed step (nothing after it ran); the inner one a read-back that
/// could not be read.
pub(crate) async fn run_plans(
    runner: &Runner,
    plans: &[&ApplyPlan],
    orphans: &[String],
    force: bool,
    specs: &[ReadSpec],
) -> Result<Result<Reads, ShapingError>, StepFailure> {
    let tools = runner.tools();
    let mut b = ScriptBuilder::new(runner.sudo());
    if !orphans.is_empty() {
        let lines: Vec<String> = orphans
            .iter()
            .map(|ifb| format!("link del {ifb}"))
            .collect();
        let line = b.command_line(&[&tools.ip, "-force", "-batch", "-"], true);
        let code = b.here_document(&line, &lines.join("\n"));
        b.shell(ORPHANS_DEL, &code, true);
    }
    let link_lines = |steps: fn(&ApplyPlan) -> &Vec<Vec<String>>| -> Vec<String> {
        plans
            .iter()
            .flat_map(|p| steps(p).iter().map(|argv| argv.join(" ")))
            .collect()
    };
    let adds = link_lines(|p| &p.link_steps);
    if !adds.is_empty() {
        b.command(
            LINKS_ADD,
            &[&tools.ip, "-batch", "-"],
            true,
            Some(&adds.join("\n")),
        );
    }
    let tc_lines: Vec<&str> = plans
        .iter()
        .flat_map(|p| p.tc_batch.iter().map(String::as_str))
        .collect();
    let dels = link_lines(|p| &p.cleanup_links);
    let tc_section = if dels.is_empty() {
        // The common case: the change and its read-back are one batch.
        gather::add_link_checks(&mut b, specs);
        gather::add_batch(&mut b, tools, specs, &tc_lines, force);
        gather::add_orphan_deletion(&mut b, tools);
        gather::TC_READ
    } else {
        // The read-back must follow the IFB's deletion.
        let mut argv = vec![tools.tc.as_str()];
        if force {
            argv.push("-force");
        }
        argv.extend(["-batch", "-"]);
        b.command(TC, &argv, true, Some(&tc_lines.join("\n")));
        b.command(
            LINKS_DEL,
            &[&tools.ip, "-batch", "-"],
            true,
            Some(&dels.join("\n")),
        );
        gather::add_reads(&mut b, tools, specs);
        gather::add_orphan_deletion(&mut b, tools);
        TC
    };

    let sections = match run(runner, b.finish()).await {
        Ok(sections) => sections,
        Err(err) => {
            return Err(StepFailure {
                command: "the shaping script".to_owned(),
                words: err.to_string(),
                plan_index: None,
                sudo_refused: matches!(err, ShapingError::Run(RunError::SudoNeedsPassword { .. })),
            });
        }
    };
    log_orphans(&sections, orphans);
    log_found_orphans(&sections);
    for (name, command) in [
        (LINKS_ADD, format!("{} -batch -", tools.ip)),
        (tc_section, format!("{} -batch -", tools.tc)),
        (LINKS_DEL, format!("{} -batch -", tools.ip)),
    ] {
        if let Some(failed) = sections.iter().find(|s| s.name == name && !s.success()) {
            let words = words_of(failed);
            let plan_index = if name == tc_section {
                failed_plan(&words, plans)
            } else {
                None
            };
            return Err(StepFailure {
                command,
                sudo_refused: stderr_is_sudo_password_refusal(&failed.stderr),
                words,
                plan_index,
            });
        }
    }
    Ok(parsed_reads(runner, &sections, specs))
}

/// How a guarded change went.
#[derive(Debug)]
pub(crate) enum Guarded {
    /// The kernel held what was last read, so the change ran; this is its read-back.
    Applied(Result<Reads, ShapingError>),
    /// The kernel changed since the last read, so nothing ran; what it holds now, when the
    /// guard's own read could be used.
    Changed(Option<Reads>),
}

/// Runs plans made from the last read of the specs, in one process, only if the kernel still
/// prints `expected` for them; then reads back. Plans that create or delete links are not for
/// this (`run_plans` is).
pub(crate) async fn run_guarded(
    runner: &Runner,
    plans: &[&ApplyPlan],
    expected: &str,
    specs: &[ReadSpec],
) -> Result<Guarded, StepFailure> {
    let tools = runner.tools();
    let mut b = ScriptBuilder::new(runner.sudo());
    gather::add_link_checks(&mut b, specs);
    gather::add_guard(&mut b, tools, specs, expected);
    let tc_lines: Vec<&str> = plans
        .iter()
        .flat_map(|p| p.tc_batch.iter().map(String::as_str))
        .collect();
    gather::add_batch(&mut b, tools, specs, &tc_lines, false);
    gather::add_orphan_deletion(&mut b, tools);

    let sections = match run(runner, b.finish()).await {
        Ok(sections) => sections,
        Err(err) => {
            return Err(StepFailure {
                command: "the shaping script".to_owned(),
                words: err.to_string(),
                plan_index: None,
                sudo_refused: matches!(err, ShapingError::Run(RunError::SudoNeedsPassword { .. })),
            });
        }
    };
    log_found_orphans(&sections);
    if gather::section(&sections, gather::GUARD).is_err() {
        return Ok(Guarded::Changed(gather::parse_guard(&sections, specs)));
    }
    if let Some(failed) = sections
        .iter()
        .find(|s| s.name == gather::TC_READ && !s.success())
    {
        let words = words_of(failed);
        return Err(StepFailure {
            command: format!("{} -batch -", tools.tc),
            sudo_refused: stderr_is_sudo_password_refusal(&failed.stderr),
            plan_index: failed_plan(&words, plans),
            words,
        });
    }
    Ok(Guarded::Applied(parsed_reads(runner, &sections, specs)))
}

/// Runs a script and splits its output into sections.
async fn run(runner: &Runner, script: Script) -> Result<Vec<SectionOutput>, ShapingError> {
    let out = runner.run_script(&script.text).await?;
    script
        .sections(&out.stdout, &out.stderr)
        .ok_or_else(|| ShapingError::Tool {
            command: "sh -c <shaping script>".to_owned(),
            words: tool_words(&out),
        })
}

fn parsed_reads(
    runner: &Runner,
    sections: &[SectionOutput],
    specs: &[ReadSpec],
) -> Result<Reads, ShapingError> {
    match gather::parse_reads(sections, specs) {
        Ok(reads) => Ok(reads?),
        Err(failed) => Err(section_error(
            failed,
            &format!("{} -s -j -batch -", runner.tools().tc),
        )),
    }
}

/// The error a failed section is: sudo's refusal, or the tool's words.
fn section_error(section: &SectionOutput, command: &str) -> ShapingError {
    if stderr_is_sudo_password_refusal(&section.stderr) {
        ShapingError::Run(RunError::SudoNeedsPassword {
            command: command.to_owned(),
        })
    } else {
        ShapingError::Tool {
            command: command.to_owned(),
            words: words_of(section),
        }
    }
}

/// Logs what became of the orphaned IFBs; their deletion never stops a change.
fn log_orphans(sections: &[SectionOutput], orphans: &[String]) {
    let Some(section) = sections.iter().find(|s| s.name == ORPHANS_DEL) else {
        return;
    };
    if section.success() {
        for ifb in orphans {
            tracing::info!(ifb = %ifb, "removed an IFB whose container is gone");
        }
    } else {
        tracing::warn!(ifbs = ?orphans, words = %words_of(section), "could not remove orphan IFBs");
    }
}

/// Logs what became of the orphaned IFBs the script found and deleted itself.
fn log_found_orphans(sections: &[SectionOutput]) {
    let Some(section) = sections.iter().find(|s| s.name == gather::ORPHANS_DEL) else {
        return;
    };
    let found = sections
        .iter()
        .find(|s| s.name == gather::ORPHANS)
        .map(|s| s.stdout.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    if found.is_empty() {
        return;
    }
    if section.success() {
        tracing::info!(ifbs = %found, "removed IFBs whose container is gone");
    } else {
        tracing::warn!(ifbs = %found, words = %words_of(section), "could not remove orphan IFBs");
    }
}

/// The plan that holds line `N` of the batch when tc says `Command failed -:N`.
fn failed_plan(words: &str, plans: &[&ApplyPlan]) -> Option<usize> {
    let (_, tail) = words.rsplit_once("Command failed -:")?;
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    let mut line: usize = digits.parse().ok()?;
    for (index, plan) in plans.iter().enumerate() {
        if line <= plan.tc_batch.len() {
            return Some(index);
        }
        line -= plan.tc_batch.len();
    }
    None
}

fn words_of(section: &SectionOutput) -> String {
    tool_words(&CommandOutput {
        status: section.status,
        stdout: section.stdout.clone(),
        stderr: section.stderr.clone(),
    })
}

/// What a failed tool said, on one line.
pub(crate) fn tool_words(out: &CommandOutput) -> String {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    let words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if words.is_empty() {
        format!("exit status {}", out.status)
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stderr: &str) -> CommandOutput {
        CommandOutput {
            status: 2,
            stdout: String::new(),
            stderr: stderr.to_owned(),
        }
    }

    #[test]
    fn tool_words_join_the_tools_lines() {
        let words = tool_words(&out(
            "Error: Specified qdisc kind is unknown.\nCommand failed -:3\n",
        ));
        assert_eq!(
            words,
            "Error: Specified qdisc kind is unknown. Command failed -:3"
        );
        assert_eq!(tool_words(&out("")), "exit status 2");
    }

    #[test]
    fn the_failing_batch_line_names_its_plan() {
        let plan = |lines: usize| ApplyPlan {
            tc_batch: vec!["qdisc add".to_owned(); lines],
            ..Default::default()
        };
        let (a, b) = (plan(3), plan(2));
        let plans = [&a, &b];
        let words =
            |n: usize| format!("Error: Specified qdisc kind is unknown. Command failed -:{n}");
        assert_eq!(failed_plan(&words(3), &plans), Some(0));
        assert_eq!(failed_plan(&words(4), &plans), Some(1));
        assert_eq!(failed_plan(&words(6), &plans), None);
        assert_eq!(failed_plan("RTNETLINK answers: File exists", &plans), None);
    }
}

//! Running what the planner decided: a plan's `ip` steps and its one `tc -batch`, and the
//! read-only commands that feed the read-back, on a host's runner. Each failure keeps the
//! command and the tool's own words.

use super::ops::ShapingError;
use super::plan::ApplyPlan;
use crate::privileged::{CommandOutput, Runner};

/// A failed step: the command and what the tool said.
pub(crate) struct StepFailure {
    pub(crate) command: String,
    pub(crate) words: String,
}

/// Runs a plan: links first, then the one tc batch, then link cleanup. With `force`, tc goes on
/// past a failing line (for clearing, where each step stands alone).
pub(crate) async fn run_plan(
    runner: &Runner,
    plan: &ApplyPlan,
    force: bool,
) -> Result<(), StepFailure> {
    let tools = runner.tools();
    for step in &plan.link_steps {
        run_step(runner, &tools.ip, step, None).await?;
    }
    if !plan.tc_batch.is_empty() {
        let mut args = vec![];
        if force {
            args.push("-force".to_owned());
        }
        args.extend(["-batch".to_owned(), "-".to_owned()]);
        let batch = plan.tc_batch.join("\n") + "\n";
        run_step(runner, &tools.tc, &args, Some(&batch)).await?;
    }
    for step in &plan.cleanup_links {
        run_step(runner, &tools.ip, step, None).await?;
    }
    Ok(())
}

async fn run_step(
    runner: &Runner,
    tool: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<(), StepFailure> {
    let mut argv = vec![tool.to_owned()];
    argv.extend(args.iter().cloned());
    let command = argv.join(" ");
    match runner.run(&argv, stdin).await {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(StepFailure {
            command,
            words: tool_words(&out),
        }),
        Err(err) => Err(StepFailure {
            command,
            words: err.to_string(),
        }),
    }
}

pub(crate) async fn current_host_links(runner: &Runner) -> Result<String, ShapingError> {
    let ip = runner.tools().ip.clone();
    checked(runner, &[&ip, "-d", "-j", "link", "show"]).await
}

/// Runs a read-only command that must succeed; returns its stdout.
pub(crate) async fn checked(runner: &Runner, argv: &[&str]) -> Result<String, ShapingError> {
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    let out = runner.run(&argv, None).await?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(ShapingError::Tool {
            command: argv.join(" "),
            words: tool_words(&out),
        })
    }
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
}

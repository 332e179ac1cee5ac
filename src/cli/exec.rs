//! `quayside exec --id HOST:NAME --cmd "ls"`: run a command in a container, print its output
//! as it comes (stdout to stdout, stderr to stderr), and exit with the command's exit code.

use std::io::Write as _;

use clap::Args;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::{ExitStatus, target};
use crate::docker::exec::{self, OutputStream};
use crate::docker::run::split_command;
use crate::hosts::profile::Profile;

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The container, as HOST:NAME or HOST:ID-PREFIX.
    #[arg(long)]
    id: String,
    /// The command, split as a shell would (no shell runs it unless you name one: sh -c '…').
    #[arg(long)]
    cmd: String,
    /// Print one JSON object with stdout, stderr and the exit code once the command ends.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ExecReport {
    container: String,
    command: Vec<String>,
    stdout: String,
    stderr: String,
    exit_code: Option<i64>,
}

pub(super) async fn run(profile: &Profile, args: &ExecArgs) -> anyhow::Result<()> {
    let command = split_command(&args.cmd).map_err(anyhow::Error::msg)?;
    if command.is_empty() {
        anyhow::bail!("no command given: write --cmd \"ls -l\"");
    }
    let (conn, found) = target::resolve(profile, &args.id).await?;
    let started = exec::start(&conn.docker, &found.id, &command)
        .await
        .map_err(|e| anyhow::anyhow!("cannot run '{}' in {}: {e}", args.cmd, args.id))?;

    let mut report = ExecReport {
        container: format!("{}:{}", found.host, found.name),
        command,
        stdout: String::new(),
        stderr: String::new(),
        exit_code: None,
    };
    let mut output = started.output;
    while let Some(chunk) = output.next().await {
        let chunk = chunk?;
        match (args.json, chunk.stream) {
            (true, OutputStream::Stdout) => report.stdout.push_str(&chunk.text),
            (true, OutputStream::Stderr) => report.stderr.push_str(&chunk.text),
            (false, OutputStream::Stdout) => {
                print!("{}", chunk.text);
                std::io::stdout().flush().ok();
            }
            (false, OutputStream::Stderr) => eprint!("{}", chunk.text),
        }
    }
    report.exit_code = exec::exit_code(&conn.docker, &started.exec_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    match report.exit_code {
        Some(0) => Ok(()),
        Some(code) => Err(ExitStatus::of(code).into()),
        None => anyhow::bail!("the engine did not report how '{}' ended", args.cmd),
    }
}

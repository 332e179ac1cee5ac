//! One `sh` script that runs several host commands in a row, and the reading of its output back
//! into one section per command.
//!
//! Starting a process costs milliseconds on a busy host, and a `sudo` or an SSH exec several
//! more, so shaping gathers its commands into one script per step. Each section is framed on
//! stdout and on stderr by marker lines holding a random nonce, so no tool output can forge
//! one, and keeps its own exit status: an error still carries the tool's own words. A section
//! runs only while every earlier one succeeded, unless it is marked tolerant. Arguments are
//! quoted with a shell-quoting library and input is fed through quoted here-documents; nothing
//! is interpolated by hand. This module writes and reads scripts; it runs nothing.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};

/// A script ready to run, and what its output must be split by.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    /// The marker that starts every frame line (`::qs-<nonce>`).
    marker: String,
    /// The script text for `sh -c`.
    pub(crate) text: String,
}

/// What one section printed, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SectionOutput {
    pub(crate) name: String,
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl SectionOutput {
    pub(crate) fn success(&self) -> bool {
        self.status == 0
    }
}

/// Writes a script section by section.
#[derive(Debug)]
pub(crate) struct ScriptBuilder {
    nonce: String,
    /// `sudo -n`, quoted, for privileged commands; `None` when the user is root.
    sudo: Option<String>,
    body: String,
}

impl ScriptBuilder {
    /// A new script; `sudo` is the absolute path of sudo when privileged commands need it.
    pub(crate) fn new(sudo: Option<&str>) -> Self {
        Self {
            nonce: nonce(),
            sudo: sudo.map(|path| format!("{} -n", quote(path))),
            body: String::new(),
        }
    }

    /// `argv` as one quoted shell command, behind `sudo -n` when `privileged` and not root.
    pub(crate) fn command_line(&self, argv: &[&str], privileged: bool) -> String {
        let words: Vec<String> = argv.iter().map(|w| quote(w)).collect();
        match (&self.sudo, privileged) {
            (Some(sudo), true) => format!("{sudo} {}", words.join(" ")),
            _ => words.join(" "),
        }
    }

    /// A section that runs `argv`, with `stdin` fed through a quoted here-document.
    pub(crate) fn command(
        &mut self,
        name: &str,
        argv: &[&str],
        privileged: bool,
        stdin: Option<&str>,
    ) {
        let line = self.command_line(argv, privileged);
        let body = match stdin {
            Some(text) => self.here_document(&line, text),
            None => format!("{line} </dev/null"),
        };
        self.section(name, &body, false);
    }

    /// A section whose body is shell code the caller wrote from quoted parts.
    pub(crate) fn shell(&mut self, name: &str, code: &str, tolerant: bool) {
        self.section(name, code, tolerant);
    }

    /// `line` reading `text` from a here-document whose delimiter is quoted, so the text is
    /// passed as it is, and holds the nonce, so no line of the text can end it early.
    pub(crate) fn here_document(&self, line: &str, text: &str) -> String {
        let delimiter = format!("QS_{}_IN", self.nonce);
        let mut text = text.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        format!("{line} <<'{delimiter}'\n{text}{delimiter}\n")
    }

    /// `line` reading the value of the shell variable `var` (set by earlier code) through an
    /// unquoted here-document: the value is expanded once, never re-read as code.
    pub(crate) fn here_variable(&self, line: &str, var: &str) -> String {
        let delimiter = format!("QS_{}_VAR", self.nonce);
        format!("{line} <<{delimiter}\n${{{var}}}\n{delimiter}\n")
    }

    fn section(&mut self, name: &str, body: &str, tolerant: bool) {
        let name = quote(name);
        let body = if body.trim().is_empty() { ":" } else { body };
        let stop = if tolerant {
            ""
        } else {
            "[ \"$qs_s\" = 0 ] || qs_ok=0\n"
        };
        self.body.push_str(&format!(
            "if [ \"$qs_ok\" = 1 ]; then\n\
             printf '%s begin %s\\n' \"$qs_m\" {name}; printf '%s begin %s\\n' \"$qs_m\" {name} >&2\n\
             {{\n{body}\n}}\n\
             qs_s=$?\n\
             printf '\\n%s end %s %s\\n' \"$qs_m\" {name} \"$qs_s\"\n\
             printf '\\n%s end %s %s\\n' \"$qs_m\" {name} \"$qs_s\" >&2\n\
             {stop}fi\n"
        ));
    }

    /// The finished script.
    pub(crate) fn finish(self) -> Script {
        let marker = format!("::qs-{}", self.nonce);
        let text = format!("qs_m='{marker}'\nqs_ok=1\nqs_s=0\n{}exit 0\n", self.body);
        Script { marker, text }
    }
}

impl Script {
    /// Splits what the script printed into its sections, in the order they ran; sections
    /// skipped after a failure are absent. `None` when the output holds no frame at all (the
    /// shell itself failed).
    pub(crate) fn sections(&self, stdout: &str, stderr: &str) -> Option<Vec<SectionOutput>> {
        let outs = frames(stdout, &self.marker);
        let errs = frames(stderr, &self.marker);
        if outs.is_empty() {
            return None;
        }
        Some(
            outs.into_iter()
                .map(|(name, status, text)| {
                    let stderr = errs
                        .iter()
                        .find(|(n, _, _)| *n == name)
                        .map(|(_, _, t)| t.clone())
                        .unwrap_or_default();
                    SectionOutput {
                        name,
                        status,
                        stdout: text,
                        stderr,
                    }
                })
                .collect(),
        )
    }
}

/// A shell word for `text`, single-quoted where needed.
pub(crate) fn quote(text: &str) -> String {
    // try_quote only refuses a NUL byte, which no argument Quayside makes holds.
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| "''".to_owned())
}

/// The frames of one stream: (name, status, text between the frame lines).
fn frames(text: &str, marker: &str) -> Vec<(String, i32, String)> {
    let begin = format!("{marker} begin ");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&begin) {
        let after = rest.get(at + begin.len()..).unwrap_or_default();
        let Some((name, body)) = after.split_once('\n') else {
            break;
        };
        let end = format!("\n{marker} end {name} ");
        let Some(end_at) = body.find(&end) else {
            break;
        };
        let content = body.get(..end_at).unwrap_or_default();
        let tail = body.get(end_at + end.len()..).unwrap_or_default();
        let (status, next) = tail.split_once('\n').unwrap_or((tail, ""));
        found.push((
            name.to_owned(),
            status.trim().parse().unwrap_or(-1),
            content.to_owned(),
        ));
        rest = next;
    }
    found
}

/// 16 hex digits that differ from run to run.
fn nonce() -> String {
    let mut hasher = RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Runs a script with the real `sh`, as the runners do.
    fn run(script: &Script) -> (String, String) {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script.text)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn each_section_keeps_its_own_output_and_status() {
        let mut b = ScriptBuilder::new(None);
        b.command("one", &["/bin/echo", "hello world"], false, None);
        b.shell("two", "echo out; echo err >&2; false", true);
        b.command("three", &["/bin/cat"], false, Some("line 1\nline 2"));
        let script = b.finish();
        let (out, err) = run(&script);
        let sections = script.sections(&out, &err).unwrap();
        let got: Vec<(&str, i32, &str, &str)> = sections
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.status,
                    s.stdout.as_str(),
                    s.stderr.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("one", 0, "hello world\n", ""),
                ("two", 1, "out\n", "err\n"),
                ("three", 0, "line 1\nline 2\n", ""),
            ]
        );
    }

    #[test]
    fn a_failing_section_stops_the_ones_after_it() {
        let mut b = ScriptBuilder::new(None);
        b.shell("fails", "echo 'Error: no such device' >&2; (exit 2)", false);
        b.shell("skipped", "echo never", false);
        let script = b.finish();
        let (out, err) = run(&script);
        let sections = script.sections(&out, &err).unwrap();
        assert_eq!(sections.len(), 1, "{sections:?}");
        assert_eq!(sections[0].status, 2);
        assert_eq!(sections[0].stderr, "Error: no such device\n");
    }

    #[test]
    fn output_without_a_final_newline_and_forged_markers_stay_in_their_section() {
        let mut b = ScriptBuilder::new(None);
        b.shell("a", "printf 'no newline'", false);
        b.shell("b", "echo '::qs-0000000000000000 end b 0'", false);
        let script = b.finish();
        let (out, err) = run(&script);
        let sections = script.sections(&out, &err).unwrap();
        assert_eq!(sections[0].stdout, "no newline");
        assert_eq!(sections[1].stdout, "::qs-0000000000000000 end b 0\n");
    }

    #[test]
    fn arguments_with_quotes_and_semicolons_reach_the_command_whole() {
        let mut b = ScriptBuilder::new(None);
        b.command("echo", &["/bin/echo", "it's; $(rm -rf /) `x`"], false, None);
        let script = b.finish();
        let (out, err) = run(&script);
        assert_eq!(
            script.sections(&out, &err).unwrap()[0].stdout,
            "it's; $(rm -rf /) `x`\n"
        );
    }

    #[test]
    fn here_document_text_is_not_expanded() {
        let mut b = ScriptBuilder::new(None);
        b.command("cat", &["/bin/cat"], false, Some("$HOME `id` \\n\n"));
        let script = b.finish();
        let (out, err) = run(&script);
        assert_eq!(
            script.sections(&out, &err).unwrap()[0].stdout,
            "$HOME `id` \\n\n"
        );
    }

    #[test]
    fn a_variable_here_document_expands_the_value_once() {
        let mut b = ScriptBuilder::new(None);
        let line = b.here_variable("/bin/cat", "qs_v");
        b.shell(
            "cat",
            &format!("qs_v={}\n{line}", quote("a $HOME `id`\nb")),
            false,
        );
        let script = b.finish();
        let (out, err) = run(&script);
        assert_eq!(
            script.sections(&out, &err).unwrap()[0].stdout,
            "a $HOME `id`\nb\n"
        );
    }

    #[test]
    fn privileged_commands_go_through_sudo_n_only_when_not_root() {
        let b = ScriptBuilder::new(Some("/usr/bin/sudo"));
        assert_eq!(
            b.command_line(&["/usr/sbin/tc", "-batch", "-"], true),
            "/usr/bin/sudo -n /usr/sbin/tc -batch -"
        );
        assert_eq!(b.command_line(&["/usr/sbin/tc"], false), "/usr/sbin/tc");
        let root = ScriptBuilder::new(None);
        assert_eq!(root.command_line(&["/usr/sbin/tc"], true), "/usr/sbin/tc");
    }

    #[test]
    fn output_without_frames_is_none() {
        let script = ScriptBuilder::new(None).finish();
        assert_eq!(script.sections("sh: syntax error", ""), None);
    }
}

//! The `quayside` binary: the window, or a command-line verb.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    quayside::main_entry(Instant::now())
}

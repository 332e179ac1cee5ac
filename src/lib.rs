//! Quayside: Docker containers on many Linux hosts in one window, and each container's network
//! shaped with the kernel's traffic control on the host side of its veth pair.
//!
//! The binary is a thin `main`; this library holds the window (`ui`), the command line (`cli`),
//! the backend seam (`backend`), the Docker glue (`docker`) and the shaping logic (`shaping`).
//! Only the entry point and what tests and benchmarks need are public.

mod backend;
mod cli;
mod docker;
mod hosts;
mod model;
mod privileged;
mod shaping;
mod status_age;
mod ui;

pub mod ssh;
pub mod testing;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser as _;
use eframe::egui;

pub use ui::app::App;

/// Worker threads of the backend runtime: the UI has its own thread, the work is I/O-bound.
const WORKER_THREADS: usize = 2;

/// Runs Quayside: the window without a command, the command line with one.
pub fn main_entry(started: Instant) -> ExitCode {
    let cli = cli::Cli::parse();
    let gui = cli.command.is_none();
    init_logging(if gui { "info" } else { "warn" });

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("quayside-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("quayside: cannot start the background runtime: {err}");
            return ExitCode::FAILURE;
        }
    };

    let loaded = hosts::load_profile(cli.hosts.as_deref());
    match cli.command {
        None => {
            // The window opens even on a broken profile: with the local engine, and the error.
            let (profile, path, problem) = match loaded {
                Ok((profile, path)) => (profile, path, None),
                Err(err) => (
                    hosts::profile::Profile::local_only(),
                    None,
                    Some(err.to_string()),
                ),
            };
            run_window(&runtime, started, profile, path, problem)
        }
        Some(verb) => match loaded {
            Err(err) => {
                eprintln!("quayside: {err}");
                ExitCode::FAILURE
            }
            Ok((profile, _)) => run_verb(&runtime, verb, &profile),
        },
    }
}

fn run_verb(
    runtime: &tokio::runtime::Runtime,
    verb: cli::Verb,
    profile: &hosts::profile::Profile,
) -> ExitCode {
    match runtime.block_on(cli::run(verb, profile)) {
        Ok(()) => ExitCode::SUCCESS,
        // The exit code of what ran in a container (exec, attached run) is quayside's own.
        Err(err) if err.downcast_ref::<cli::ExitStatus>().is_some() => {
            ExitCode::from(err.downcast_ref::<cli::ExitStatus>().map_or(1, |s| s.0))
        }
        Err(err) => {
            eprintln!("quayside: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error with its causes on one line.
fn one_line(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err.chain().map(ToString::to_string).collect();
    parts.join(": ").replace('\n', " ")
}

fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUAYSIDE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("quayside={default_level}"))
    });
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

fn run_window(
    runtime: &tokio::runtime::Runtime,
    started: Instant,
    profile: hosts::profile::Profile,
    path: Option<std::path::PathBuf>,
    problem: Option<String>,
) -> ExitCode {
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../assets/icon.png")).ok();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Quayside")
        .with_app_id("quayside")
        .with_inner_size([1480.0, 900.0])
        .with_min_inner_size([720.0, 420.0]);
    if let Some(icon) = icon {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    let report_first_frame = std::env::var_os("QUAYSIDE_REPORT_FIRST_FRAME").is_some();
    let result = eframe::run_native(
        "Quayside",
        options,
        Box::new(move |cc| {
            let mut app = App::open(&handle, &cc.egui_ctx, profile, path);
            if let Some(problem) = &problem {
                tracing::error!(error = %problem, "profile not loaded");
                app.toasts.error(format!(
                    "Profile not loaded, showing the local engine: {problem}"
                ));
            }
            if report_first_frame {
                app.report_first_frame_since(started);
            }
            Ok(Box::new(app))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quayside: the window could not be opened: {err}");
            ExitCode::FAILURE
        }
    }
}

//! CPU time per frame of the real window with 5,000 containers, headless: the table, the host
//! tree and the panels, laid out and tessellated as eframe would, without a GPU.
//!
//! Prints the median and the 95th percentile of thread CPU time per frame over steady frames
//! (target: at most 2 ms), for a still table and for one scrolling every frame.

use std::time::Duration;

use eframe::egui;

const ROWS: usize = 5_000;
const HOSTS: usize = 4;
const WARMUP_FRAMES: usize = 30;
const FRAMES: usize = 300;

/// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu() -> Duration {
    cpu_time::ThreadTime::now().as_duration()
}

fn input(scroll: bool) -> egui::RawInput {
    let mut raw = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 760.0),
        )),
        ..Default::default()
    };
    if scroll {
        raw.events
            .push(egui::Event::PointerMoved(egui::pos2(600.0, 400.0)));
        raw.events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -40.0),
            source: egui::MouseWheelSource::Wheel,
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
        });
    }
    raw
}

fn measure(ctx: &egui::Context, app: &mut quayside::App, scroll: bool) -> (Duration, Duration) {
    for _ in 0..WARMUP_FRAMES {
        let out = ctx.run_ui(input(scroll), |ui| app.root_ui(ui));
        ctx.tessellate(out.shapes, out.pixels_per_point);
    }
    let mut times = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let start = thread_cpu();
        let out = ctx.run_ui(input(scroll), |ui| app.root_ui(ui));
        let _meshes = ctx.tessellate(out.shapes, out.pixels_per_point);
        times.push(thread_cpu() - start);
    }
    let out = ctx.run_ui(input(scroll), |ui| app.root_ui(ui));
    let meshes = ctx.tessellate(out.shapes, out.pixels_per_point);
    let vertices: usize = meshes
        .iter()
        .map(|m| match &m.primitive {
            egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum();
    println!(
        "  (a frame draws {} meshes, {vertices} vertices)",
        meshes.len()
    );
    times.sort();
    let median = times.get(FRAMES / 2).copied().unwrap_or_default();
    let p95 = times.get(FRAMES * 95 / 100).copied().unwrap_or_default();
    (median, p95)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("cannot start a runtime");
        return;
    };
    let ctx = egui::Context::default();
    let mut app = quayside::testing::app_with_rows(runtime.handle(), &ctx, ROWS, HOSTS);
    let (still_median, still_p95) = measure(&ctx, &mut app, false);
    let (scroll_median, scroll_p95) = measure(&ctx, &mut app, true);
    println!("table with {ROWS} rows on {HOSTS} hosts, CPU time per frame (target <= 2 ms):");
    println!(
        "  still:     median {:.3} ms, p95 {:.3} ms",
        ms(still_median),
        ms(still_p95)
    );
    println!(
        "  scrolling: median {:.3} ms, p95 {:.3} ms",
        ms(scroll_median),
        ms(scroll_p95)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

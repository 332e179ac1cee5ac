//! The window's fonts: egui's defaults, with Hack behind the proportional font so that the
//! arrows, bullets and signs the panels use (↓ ↑ → ± ● ▲ ▼) have glyphs.

use eframe::egui;

/// Installs the window's fonts on `ctx`; call once, before the first frame.
pub(crate) fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    if let Some(proportional) = fonts.families.get_mut(&egui::FontFamily::Proportional) {
        let at = proportional
            .iter()
            .position(|f| f == "Ubuntu-Light")
            .map_or(0, |i| i + 1);
        proportional.insert(at, "Hack".to_owned());
    }
    ctx.set_fonts(fonts);
}

//! The window: app state and event intake (`app`), the panels that draw it, and the text
//! forms they share.

pub(crate) mod app;
mod details;
pub(crate) mod fonts;
pub(crate) mod format;
mod host_key;
mod host_shaping;
mod host_tree;
mod hosts_editor;
mod knobs;
mod network_tab;
mod shaping_form;
pub(crate) mod store;
mod table;
mod toasts;
mod traffic_graph;

//! The window: app state and event intake (`app`), the panels that draw it, and the text
//! forms they share.

pub(crate) mod app;
mod bulk;
mod details;
mod exec_tab;
pub(crate) mod fonts;
pub(crate) mod format;
mod host_key;
mod host_shaping;
mod host_tree;
mod hosts_editor;
mod knobs;
mod logs_tab;
mod network_tab;
mod run_dialog;
mod shaping_form;
mod stats_tab;
pub(crate) mod store;
mod table;
mod toasts;
mod tools;
mod top_tab;
mod traffic_graph;

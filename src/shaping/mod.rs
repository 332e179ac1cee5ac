//! Network shaping of one container's traffic with the kernel's tc.
//!
//! The pure modules own the vocabulary (profiles per direction, units, validation, the seed
//! tool's values), the translation of a wanted profile into one `tc -batch` plan, the reading
//! of what the kernel holds back into the same vocabulary, and the matching of a container's
//! interfaces to host veths. They run nothing. `ops` is the one module that runs commands: it
//! feeds the pure modules what `tc` and `ip` printed and runs the plans they return.

pub(crate) mod edit;
mod gather;
mod memo;
pub(crate) mod memory;
pub(crate) mod ops;
pub(crate) mod plan;
pub(crate) mod preflight;
pub(crate) mod presets;
pub(crate) mod profile;
pub(crate) mod readback;
pub(crate) mod report;
mod restore;
mod script;
pub(crate) mod seed;
mod steps;
pub(crate) mod traffic;
pub(crate) mod trees;
pub(crate) mod units;
pub(crate) mod validate;
pub(crate) mod veth;

#[cfg(test)]
mod fake_tc;
#[cfg(test)]
mod roundtrip_tests;

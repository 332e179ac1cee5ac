//! `quayside net --preset`: the built-in presets and the profile's own, on the real engine and
//! this kernel (which has no netem: a preset with impairments is refused with tc's words).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{TestContainer, quayside, run_ok, stderr};

#[test]
fn a_preset_of_the_profile_is_applied_and_flags_change_its_values() {
    let c = TestContainer::sleeper("preset-own");
    let dir = std::env::temp_dir().join(format!("qs-presets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("hosts.toml");
    std::fs::write(
        &profile,
        "[[host]]\nname = \"local\"\ndocker = \"local\"\n\n[[preset]]\nname = \"slow office\"\n\
         [preset.download]\nrate_kbit = 2000\n[preset.upload]\nrate_kbit = 512\n",
    )
    .unwrap();
    let hosts = profile.to_str().unwrap();

    let out = quayside(&[
        "--hosts",
        hosts,
        "net",
        "--id",
        &c.id(),
        "--preset",
        "slow office",
        "--up-rate",
        "600kbit",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let iface = &report["interfaces"][0];
    assert_eq!(iface["download"]["rate_kbit"], 2000);
    assert_eq!(
        iface["upload"]["rate_kbit"], 600,
        "the flag changed the preset's upload"
    );
    let (_, ifindex, veth) = c.host_veths()[0].clone();
    assert!(run_ok("tc", &["class", "show", "dev", &veth]).contains("rate 2Mbit"));
    assert!(
        run_ok("tc", &["class", "show", "dev", &format!("qs-ifb{ifindex}")])
            .contains("rate 600Kbit")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_preset_is_refused_with_the_names_there_are() {
    let c = TestContainer::sleeper("preset-unknown");
    let out = quayside(&["net", "--id", &c.id(), "--preset", "5g"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no preset named \"5g\""), "{err}");
    assert!(
        err.contains("3G (HSPA)") && err.contains("Satellite (GEO)"),
        "{err}"
    );
}

/// A built-in preset carries delay and loss; without netem in this kernel the apply fails with
/// tc's own words and the fix, and the veth keeps no half tree.
#[test]
fn a_built_in_preset_needs_netem_and_says_so_where_it_is_missing() {
    let c = TestContainer::sleeper("preset-dsl");
    let (_, _, veth) = c.host_veths()[0].clone();
    let before = run_ok("tc", &["qdisc", "show", "dev", &veth]);
    let out = quayside(&["net", "--id", &c.id(), "--preset", "dsl"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Specified qdisc kind is unknown"), "{err}");
    assert!(err.contains("modprobe sch_netem"), "{err}");
    assert_eq!(run_ok("tc", &["qdisc", "show", "dev", &veth]), before);
}

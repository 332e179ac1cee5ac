//! Every tree of Quayside's on this machine's engine: found with the container that owns it,
//! a hand-made root left out, and all of them cleared (`quayside net clear-all`).
//!
//! Clearing is host-wide by design: these tests clear every tree of Quayside's on this
//! machine, so they run one at a time (a lock) and assert on the trees they made and the
//! trees the clear reported.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Mutex;

use common::hosts::{ProfileFile, local_entry};
use common::{TestContainer, quayside, quayside_ok, run_ok, stdout, tc_snapshot};
use quayside::testing::ConnectedHost;
use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `quayside net --id ID ARGS…`, which must succeed.
fn shape(c: &TestContainer, args: &[&str]) {
    let mut all = vec!["net", "--id"];
    let id = c.id();
    all.push(&id);
    all.extend_from_slice(args);
    quayside_ok(&all);
}

fn owned_trees() -> Vec<Value> {
    let profile = ProfileFile::new(&local_entry("local"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let json = rt.block_on(async {
        let host = ConnectedHost::connect(&profile.path, "local").await?;
        host.owned_trees_json().await
    });
    serde_json::from_str::<Value>(&json.unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn tree_of<'a>(trees: &'a [Value], veth: &str) -> Option<&'a Value> {
    trees.iter().find(|t| t["veth"] == veth)
}

fn ifbs() -> Vec<String> {
    run_ok("ip", &["-br", "link", "show", "type", "ifb"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("qs-ifb"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn owned_trees_name_each_shaped_container_with_its_profile_and_leave_out_a_hand_made_root() {
    let _lock = serial();
    let both = TestContainer::sleeper("trees-both");
    let down = TestContainer::sleeper("trees-down");
    let foreign = TestContainer::sleeper("trees-foreign");
    shape(&both, &["--down-rate", "2mbit", "--up-rate", "512kbit"]);
    shape(&down, &["--down-rate", "3mbit"]);
    // K1: a root put there by hand is someone else's.
    let foreign_veth = foreign.host_veths()[0].2.clone();
    run_ok(
        "tc",
        &[
            "qdisc",
            "add",
            "dev",
            &foreign_veth,
            "root",
            "handle",
            "8001:",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "10k",
            "latency",
            "50ms",
        ],
    );

    let trees = owned_trees();
    let (_, both_index, both_veth) = both.host_veths()[0].clone();
    let found = tree_of(&trees, &both_veth).expect("the tree with both directions");
    assert_eq!(found["owner"]["name"], both.name.as_str(), "{found}");
    assert_eq!(found["owner"]["container_if"], "eth0");
    assert_eq!(found["veth_ifindex"].as_u64(), Some(both_index));
    assert_eq!(found["ifb"], format!("qs-ifb{both_index}").as_str());
    assert_eq!(found["profile"]["download"]["rate_kbit"], 2000);
    assert_eq!(found["profile"]["upload"]["rate_kbit"], 512);

    let down_veth = down.host_veths()[0].2.clone();
    let found = tree_of(&trees, &down_veth).expect("the download-only tree");
    assert_eq!(found["owner"]["name"], down.name.as_str(), "{found}");
    assert_eq!(found["ifb"], Value::Null);
    assert_eq!(found["profile"]["download"]["rate_kbit"], 3000);
    assert_eq!(found["profile"]["upload"]["rate_kbit"], 0);

    assert!(
        tree_of(&trees, &foreign_veth).is_none(),
        "a hand-made root is listed as ours: {trees:?}"
    );
}

#[test]
fn clear_all_removes_every_tree_and_ifb_even_an_orphan_and_twice_is_fine() {
    let _lock = serial();
    let both = TestContainer::sleeper("clear-all-both");
    let down = TestContainer::sleeper("clear-all-down");
    let foreign = TestContainer::sleeper("clear-all-foreign");
    shape(&both, &["--down-rate", "2mbit", "--up-rate", "512kbit"]);
    shape(&down, &["--down-rate", "3mbit"]);
    let foreign_veth = foreign.host_veths()[0].2.clone();
    run_ok(
        "tc",
        &[
            "qdisc",
            "add",
            "dev",
            &foreign_veth,
            "root",
            "handle",
            "8001:",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "10k",
            "latency",
            "50ms",
        ],
    );
    // An orphan: an upload-shaped container removed while shaped leaves its IFB behind.
    let gone = TestContainer::sleeper("clear-all-gone");
    shape(&gone, &["--up-rate", "256kbit"]);
    let orphan = format!("qs-ifb{}", gone.host_veths()[0].1);
    drop(gone);
    assert!(
        ifbs().contains(&orphan),
        "the orphan is there: {:?}",
        ifbs()
    );
    let trees = owned_trees();
    let listed = trees
        .iter()
        .find(|t| t["ifb"] == orphan.as_str())
        .expect("the orphan is listed");
    assert_eq!(listed["veth"], Value::Null, "{listed}");
    assert_eq!(listed["owner"], Value::Null, "{listed}");

    let out = quayside(&["net", "clear-all", "--host", "local", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cleared = report["trees"].as_array().unwrap();
    assert!(cleared.iter().all(|t| t["cleared"] == true), "{report}");
    for name in [&both.name, &down.name] {
        assert!(
            cleared
                .iter()
                .any(|t| t["tree"]["owner"]["name"] == name.as_str()),
            "{name} not in {report}"
        );
    }
    assert!(
        cleared.iter().any(|t| t["tree"]["ifb"] == orphan.as_str()),
        "{report}"
    );

    // Nothing the clear reported is left: no tree, no IFB.
    let left = ifbs();
    for t in cleared {
        if let Some(ifb) = t["tree"]["ifb"].as_str() {
            assert!(!left.iter().any(|l| l == ifb), "{ifb} is left");
        }
    }
    for c in [&both, &down] {
        let snapshot = tc_snapshot(&c.host_veths()[0].2);
        assert!(
            !snapshot.contains("7173:") && !snapshot.contains("ingress"),
            "{snapshot}"
        );
    }
    // The hand-made root is still there, untouched.
    assert!(tc_snapshot(&foreign_veth).contains("tbf 8001:"));

    // K11 for the whole host: a second clear succeeds; my trees are not among its lines.
    let again = quayside_ok(&["net", "clear-all", "--host", "local"]);
    for name in [&both.name, &down.name] {
        assert!(!again.contains(name.as_str()), "{again}");
    }
}

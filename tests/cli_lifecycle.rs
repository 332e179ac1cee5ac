//! The command line against the real Docker engine: listing, lifecycle, and ids that name
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{TestContainer, docker, quayside, quayside_ok, stderr, unique_name};

fn listed_names(json: &str) -> Vec<(String, String)> {
    let hosts: serde_json::Value = serde_json::from_str(json).expect("ps --json is JSON");
    let mut names = Vec::new();
    for host in hosts.as_array().unwrap() {
        assert!(host.get("error").is_none(), "host failed: {host}");
        for c in host["containers"].as_array().unwrap() {
            names.push((
                c["name"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            ));
        }
    }
    names
}

#[test]
fn ps_lists_running_containers_and_all_of_them_with_a() {
    let running = TestContainer::sleeper("ps-running");
    let stopped = TestContainer::sleeper("ps-stopped");
    docker(&["stop", "-t", "0", &stopped.name]);

    let default = listed_names(&quayside_ok(&["ps", "--json"]));
    assert!(default.contains(&(running.name.clone(), "running".into())));
    assert!(
        !default.iter().any(|(n, _)| n == &stopped.name),
        "ps without -a hides stopped ones"
    );

    let all = listed_names(&quayside_ok(&["ps", "-a", "--json"]));
    assert!(all.contains(&(running.name.clone(), "running".into())));
    assert!(all.contains(&(stopped.name.clone(), "exited".into())));

    let table = quayside_ok(&["ps", "-a"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("HOST") && header.contains("CONTAINER ID") && header.contains("PORTS"),
        "{header}"
    );
    assert!(table.contains(&stopped.name));
}

/// Every listed container as (name, created Unix seconds).
fn created_times(json: &str) -> Vec<(String, i64)> {
    let hosts: serde_json::Value = serde_json::from_str(json).expect("ps --json is JSON");
    hosts
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["containers"].as_array().unwrap().clone())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["created_unix_secs"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn ps_latest_shows_the_newest_container_of_the_host() {
    let _older = TestContainer::sleeper("ps-older");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let newer = TestContainer::sleeper("ps-newer");

    let latest = created_times(&quayside_ok(&["ps", "-l", "--json"]));
    let all = created_times(&quayside_ok(&["ps", "-a", "--json"]));
    // Other tests may create containers at the same time: the one row shown is the newest of
    // the host, and ours is not newer than it.
    assert_eq!(latest.len(), 1, "one row per host: {latest:?}");
    let (_, shown_created) = &latest[0];
    let newest = all.iter().map(|(_, t)| *t).max().unwrap();
    let ours = all
        .iter()
        .find(|(n, _)| n == &newer.name)
        .map(|(_, t)| *t)
        .unwrap();
    assert_eq!(*shown_created, newest);
    assert!(ours <= *shown_created);
}

#[test]
fn stop_start_restart_and_remove_change_the_engine_state() {
    let c = TestContainer::sleeper("lifecycle");
    let id = c.id();

    assert!(quayside_ok(&["stop", "--id", &id]).contains("stopped"));
    assert_eq!(c.state(), "exited");

    quayside_ok(&["start", "--id", &id]);
    assert_eq!(c.state(), "running");

    let pid_before = c.pid();
    quayside_ok(&["restart", "--id", &id]);
    assert_eq!(c.state(), "running");
    assert_ne!(c.pid(), pid_before, "a restart runs a new process");

    // A running container is not removed without --force, and the refusal says why.
    let refused = quayside(&["rm", "--id", &id]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("running"), "{}", stderr(&refused));
    assert_eq!(c.state(), "running");

    quayside_ok(&["rm", "--id", &id, "--force"]);
    let gone = std::process::Command::new("docker")
        .args(["inspect", &c.name])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the container is gone");
}

#[test]
fn remove_without_force_removes_a_stopped_container() {
    let c = TestContainer::sleeper("rm-stopped");
    docker(&["stop", "-t", "0", &c.name]);
    quayside_ok(&["rm", "--id", &c.id()]);
    let gone = std::process::Command::new("docker")
        .args(["inspect", &c.name])
        .output()
        .unwrap();
    assert!(!gone.status.success());
}

#[test]
fn an_id_prefix_addresses_the_container() {
    let c = TestContainer::sleeper("prefix");
    let full = c.inspect("{{.Id}}");
    quayside_ok(&["stop", "--id", &format!("local:{}", &full[..10])]);
    assert_eq!(c.state(), "exited");
}

#[test]
fn an_unknown_name_fails_in_one_line_with_the_nearest_names() {
    let c = TestContainer::sleeper("nearest");
    let typo = c.name.replacen("nearest", "nearst", 1);
    let out = quayside(&["stop", "--id", &format!("local:{typo}")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("nearest names") && err.contains(&c.name),
        "{err}"
    );
}

#[test]
fn an_unknown_host_and_a_malformed_id_are_refused_with_the_form() {
    let out = quayside(&["start", "--id", &format!("nohost:{}", unique_name("x"))]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no host named nohost"),
        "{}",
        stderr(&out)
    );

    let out = quayside(&["start", "--id", "justaname"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("HOST:NAME"), "{}", stderr(&out));
}

/// Writes a profile to a fresh temporary file and returns its path.
fn profile_file(word: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name(word)));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_broken_profile_is_refused_with_its_line_column_and_key() {
    let path = profile_file(
        "broken-profile",
        "[[host]]\nname = \"local\"\ndocker = \"local\"\nprot = 22\n",
    );
    let out = quayside(&["--hosts", path.to_str().unwrap(), "ps"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:4:1", path.display())) && err.contains("prot"),
        "{err}"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn ps_shows_each_hosts_failure_on_its_own_line_and_lists_the_others() {
    let c = TestContainer::sleeper("ps-profile");
    let path = profile_file(
        "two-hosts",
        "[[host]]\nname = \"here\"\ndocker = \"local\"\n\n[[host]]\nname = \"far\"\naddress = \"127.0.0.1\"\nport = 9\n",
    );
    let out = quayside(&["--hosts", path.to_str().unwrap(), "ps", "-a"]);
    assert!(
        out.status.success(),
        "one host answering is enough: {}",
        stderr(&out)
    );
    let text = common::stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("here ") && l.contains(&c.name)),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("far: error:"))
            .count(),
        1,
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_str(&quayside_ok(&[
        "--hosts",
        path.to_str().unwrap(),
        "ps",
        "-a",
        "--json",
    ]))
    .unwrap();
    assert!(
        json[1]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
    std::fs::remove_file(&path).ok();
}

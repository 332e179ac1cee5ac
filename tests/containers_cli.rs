//! The container verbs of the command line (`run`, `exec`, `top`, `stats`, and the lifecycle
//! verbs on several containers) against the real Docker engine, locally and through a lab host
//! over SSH: published ports answer, auto-removed containers go, bad input is refused before
//! any engine is asked, exit codes pass through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::hosts::{ProfileFile, env, lab_host_entry, local_entry, ssh_entry};
use common::{
    TestContainer, docker, free_port, lab_image, quayside, quayside_ok, stderr, stdout,
    unique_name, wait_until,
};

/// A profile with the local engine as `local` and the first lab SSH host as `lab-1`.
fn two_hosts() -> ProfileFile {
    let user = env("QS_SSH_USER");
    ProfileFile::new(&format!(
        "{}{}",
        local_entry("local"),
        lab_host_entry("lab-1", 1, &user)
    ))
}

/// The body of `GET /` on 127.0.0.1:`port`, retried until the server answers (10 s at most).
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut answer = String::new();
            s.read_to_string(&mut answer)?;
            if answer.is_empty() {
                return Err(std::io::Error::other("empty answer"));
            }
            Ok(answer)
        })();
        match attempt {
            Ok(answer) => return answer,
            Err(err) if Instant::now() > deadline => panic!("port {port} does not answer: {err}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs a container with two httpd listeners (80 and 8080) published as
/// `80/tcp:P1,8080/tcp:P2` through `host` of `profile`, and checks both answer with the page
/// the environment variable wrote.
fn published_ports_answer_through(profile: &ProfileFile, host: &str) {
    let name = unique_name("run-ports");
    let _guard = TestContainer { name: name.clone() };
    let (p1, p2) = (free_port(), free_port());
    let mapping = format!("80/tcp:{p1},8080/tcp:{p2}");
    let greeting = format!("hello-from-{name}");
    let out = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "run",
        "--host",
        host,
        "--image",
        &lab_image(),
        "--name",
        &name,
        "--detach",
        "--port",
        &mapping,
        "--env",
        &format!("GREETING={greeting}"),
        "--cmd",
        "sh -c 'mkdir -p /srv && echo $GREETING > /srv/index.html && httpd -p 8080 -h /srv && exec httpd -f -p 80 -h /srv'",
    ]);
    let id = out.trim();
    assert_eq!(id.len(), 64, "prints the new container's id: {out}");
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &name]), id);

    for port in [p1, p2] {
        let answer = http_get(port);
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{port}: {answer}"
        );
        assert!(answer.contains(&greeting), "{port}: {answer}");
    }
    let published = docker(&["port", &name]);
    assert!(
        published.contains(&format!("80/tcp -> 0.0.0.0:{p1}")),
        "{published}"
    );
    assert!(
        published.contains(&format!("8080/tcp -> 0.0.0.0:{p2}")),
        "{published}"
    );
}

#[test]
fn run_publishes_each_mapped_port_on_the_local_engine() {
    let profile = ProfileFile::new(&local_entry("local"));
    published_ports_answer_through(&profile, "local");
}

#[test]
fn run_publishes_each_mapped_port_through_a_lab_host_over_ssh() {
    let profile = two_hosts();
    published_ports_answer_through(&profile, "lab-1");
}

#[test]
fn an_auto_removed_container_is_gone_after_it_exits() {
    let profile = two_hosts();
    for host in ["local", "lab-1"] {
        let name = unique_name("auto-remove");
        let _guard = TestContainer { name: name.clone() };
        quayside_ok(&[
            "--hosts",
            profile.arg(),
            "run",
            "--host",
            host,
            "--image",
            &lab_image(),
            "--name",
            &name,
            "--detach",
            "--auto_remove",
            "--cmd",
            "sleep 1",
        ]);
        let exists = || {
            std::process::Command::new("docker")
                .args(["inspect", &name])
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(exists(), "{host}: the container runs first");
        assert!(
            wait_until(Duration::from_secs(15), || !exists()),
            "{host}: the container is removed after it exits"
        );
    }
}

#[test]
fn attached_run_prints_the_output_and_passes_on_the_exit_code() {
    let name = unique_name("attached");
    let _guard = TestContainer { name: name.clone() };
    let out = quayside(&[
        "run",
        "--host",
        "local",
        "--image",
        &lab_image(),
        "--name",
        &name,
        "--auto_remove",
        "--cmd",
        "sh -c 'echo to-stdout; echo to-stderr >&2; exit 4'",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "to-stdout");
    assert!(stderr(&out).contains("to-stderr"), "{}", stderr(&out));
}

/// A profile whose only host listens nowhere: any attempt to contact it fails.
fn unreachable_host() -> ProfileFile {
    ProfileFile::new(&ssh_entry(
        "nowhere",
        free_port(),
        "nobody",
        &env("QS_SSH_KEY"),
        &env("QS_SSH_KNOWN_HOSTS"),
    ))
}

#[test]
fn a_bad_port_mapping_is_refused_before_any_host_is_contacted() {
    let profile = unreachable_host();
    let cases = [
        ("80/tcp:99999", "mapping 1: '99999' is not a port"),
        ("80/tcp:83,", "mapping 2 is empty"),
        ("80/icmp:83", "unknown protocol 'icmp'"),
        ("80/tcp", "has no host port"),
        ("80/tcp:83,81/tcp:83", "host port 83/tcp is published twice"),
    ];
    for (mapping, expected) in cases {
        let out = quayside(&[
            "--hosts",
            profile.arg(),
            "run",
            "--host",
            "nowhere",
            "--image",
            &lab_image(),
            "--detach",
            "--port",
            mapping,
        ]);
        assert!(!out.status.success(), "{mapping} is refused");
        let err = stderr(&out);
        assert!(err.contains(expected), "{mapping}: {err}");
        // Had the host been contacted, the error would be about reaching it.
        assert!(
            !err.contains("nowhere:") && !err.contains("connect"),
            "{mapping}: {err}"
        );
    }
}

#[test]
fn a_taken_name_and_a_missing_image_are_refused_before_anything_is_created() {
    let profile = two_hosts();
    let existing = TestContainer::sleeper("taken");
    let id_before = existing.inspect("{{.Id}}");
    for host in ["local", "lab-1"] {
        let port = free_port();
        let out = quayside(&[
            "--hosts",
            profile.arg(),
            "run",
            "--host",
            host,
            "--image",
            &lab_image(),
            "--name",
            &existing.name,
            "--detach",
            "--port",
            &format!("80/tcp:{port}"),
        ]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "the name '{}' is taken on host {host}",
                existing.name
            )),
            "{err}"
        );
        assert!(err.contains(&id_before[..12]), "names the holder: {err}");
        // Nothing was created: the port is still free and the holder unchanged.
        assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_ok());
        assert_eq!(existing.inspect("{{.Id}}"), id_before);
        assert_eq!(existing.state(), "running");

        let name = unique_name("no-image");
        let out = quayside(&[
            "--hosts",
            profile.arg(),
            "run",
            "--host",
            host,
            "--image",
            "quayside-lab/not-here:1",
            "--name",
            &name,
            "--detach",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(&format!(
                "image 'quayside-lab/not-here:1' is not on host {host}"
            )),
            "{}",
            stderr(&out)
        );
        let created = std::process::Command::new("docker")
            .args(["inspect", &name])
            .output()
            .unwrap();
        assert!(!created.status.success(), "no container {name} was created");
    }
}

#[test]
fn exec_prints_output_and_exits_with_the_commands_code() {
    let profile = two_hosts();
    let c = TestContainer::sleeper("exec");
    for host in ["local", "lab-1"] {
        let id = format!("{host}:{}", c.name);
        let ok = quayside(&[
            "--hosts",
            profile.arg(),
            "exec",
            "--id",
            &id,
            "--cmd",
            "echo hello exec",
        ]);
        assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
        assert_eq!(stdout(&ok), "hello exec\n");

        let failing = quayside(&[
            "--hosts",
            profile.arg(),
            "exec",
            "--id",
            &id,
            "--cmd",
            "sh -c 'echo partial; echo broken >&2; exit 7'",
        ]);
        assert_eq!(failing.status.code(), Some(7), "{host}");
        assert_eq!(stdout(&failing), "partial\n");
        assert!(stderr(&failing).contains("broken"), "{}", stderr(&failing));

        let json = quayside(&[
            "--hosts",
            profile.arg(),
            "exec",
            "--id",
            &id,
            "--cmd",
            "sh -c 'echo out; echo err >&2; exit 3'",
            "--json",
        ]);
        assert_eq!(json.status.code(), Some(3));
        let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
        assert_eq!(report["stdout"], "out\n");
        assert_eq!(report["stderr"], "err\n");
        assert_eq!(report["exit_code"], 3);

        let missing = quayside(&[
            "--hosts",
            profile.arg(),
            "exec",
            "--id",
            &id,
            "--cmd",
            "no-such-command",
        ]);
        assert!(
            matches!(missing.status.code(), Some(126 | 127)),
            "a command that does not exist fails: {:?} {}",
            missing.status.code(),
            stdout(&missing)
        );
    }
}

#[test]
fn top_lists_the_httpd_process() {
    let profile = two_hosts();
    let c = TestContainer::run("top", &[], &["httpd", "-f", "-p", "80"]);
    for host in ["local", "lab-1"] {
        let id = format!("{host}:{}", c.name);
        let table: serde_json::Value = serde_json::from_str(&quayside_ok(&[
            "--hosts",
            profile.arg(),
            "top",
            "--id",
            &id,
            "--json",
        ]))
        .unwrap();
        let titles: Vec<&str> = table["titles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let cmd = titles
            .iter()
            .position(|t| *t == "CMD")
            .expect("a CMD column");
        let commands: Vec<&str> = table["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[cmd].as_str().unwrap())
            .collect();
        assert!(
            commands.iter().any(|c| c.contains("httpd -f -p 80")),
            "{host}: {commands:?}"
        );

        let text = quayside_ok(&["--hosts", profile.arg(), "top", "--id", &id]);
        assert!(text.lines().next().unwrap().contains("CMD"), "{text}");
        assert!(text.contains("httpd"), "{text}");
    }
}

fn stats_once(profile: &ProfileFile, id: &str) -> serde_json::Value {
    serde_json::from_str(&quayside_ok(&[
        "--hosts",
        profile.arg(),
        "stats",
        "--id",
        id,
        "--json",
    ]))
    .unwrap()
}

#[test]
fn stats_numbers_move_under_load() {
    let profile = two_hosts();
    let c = TestContainer::sleeper("stats");
    for host in ["local", "lab-1"] {
        let id = format!("{host}:{}", c.name);
        let idle = stats_once(&profile, &id);
        assert!(idle["memory_bytes"].as_u64().unwrap() > 0, "{idle}");
        assert!(idle["memory_limit_bytes"].as_u64().unwrap() > 0, "{idle}");
        assert!(
            idle["cpu_percent"].as_f64().unwrap() < 20.0,
            "{host} idle: {idle}"
        );

        // A busy loop and a burst of network traffic inside the container.
        docker(&[
            "exec",
            "-d",
            &c.name,
            "sh",
            "-c",
            "timeout 8 sh -c 'while :; do :; done'",
        ]);
        docker(&[
            "exec",
            &c.name,
            "sh",
            "-c",
            "wget -q -O /dev/null http://127.0.0.1:1/ 2>/dev/null; true",
        ]);
        std::thread::sleep(Duration::from_millis(1500));
        let busy = stats_once(&profile, &id);
        assert!(
            busy["cpu_percent"].as_f64().unwrap() > 30.0,
            "{host} busy: {busy}"
        );
        std::thread::sleep(Duration::from_secs(8));
    }

    // --follow prints a line per sample until stopped.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quayside"))
        .args(["stats", "--id", &c.id(), "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let samples = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    assert!(samples >= 2, "several samples in 3.5 s, got {samples}");
}

#[test]
fn bulk_stop_on_two_hosts_reports_each_container() {
    let profile = two_hosts();
    let a = TestContainer::sleeper("bulk-a");
    let b = TestContainer::sleeper("bulk-b");
    let missing = unique_name("bulk-missing");
    let ids = [
        format!("local:{}", a.name),
        format!("lab-1:{}", b.name),
        format!("lab-1:{missing}"),
    ];
    let out = quayside(&[
        "--hosts",
        profile.arg(),
        "stop",
        "--id",
        &ids[0],
        "--id",
        &ids[1],
        "--id",
        &ids[2],
    ]);
    assert!(!out.status.success(), "one of the three failed");
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "one line per container: {lines:?}");
    assert_eq!(lines[0], format!("local:{} stopped", a.name));
    assert_eq!(lines[1], format!("lab-1:{} stopped", b.name));
    assert!(
        lines[2].starts_with(&format!("lab-1:{missing}: error: no container")),
        "{}",
        lines[2]
    );
    assert!(
        stderr(&out).contains("1 of 3 containers failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(a.state(), "exited");
    assert_eq!(b.state(), "exited");

    // Starting both again succeeds for each.
    let started = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "start",
        "--id",
        &ids[0],
        "--id",
        &ids[1],
    ]);
    assert_eq!(started.lines().count(), 2, "{started}");
    assert_eq!(a.state(), "running");
    assert_eq!(b.state(), "running");
}

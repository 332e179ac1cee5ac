//! bollard through `quayside::ssh` sessions to a private sshd on loopback (see
//! `common::sshd`): streamlocal tunnels, the dial-stdio fallback, a killed sshd, channel churn.
//! The engine behind the tunnel is this machine's own, at /var/run/docker.sock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use common::sshd::{DOCKER_SOCKET, LabContainer, Latency, Sshd, init_tracing, load_average};
use common::{lab_image, unique_name};
use futures_util::StreamExt as _;
use quayside::ssh::docker_over_ssh;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn list_all() -> Option<ListContainersOptions> {
    Some(ListContainersOptions {
        all: true,
        ..Default::default()
    })
}

/// Names (with Docker's leading `/`) of every container the engine lists.
async fn listed_names(docker: &Docker) -> Vec<String> {
    docker
        .list_containers(list_all())
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_inspect_and_events_through_the_tunnel() {
    init_tracing();
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let docker = docker_over_ssh(&host, DOCKER_SOCKET).await.unwrap();
    let version = docker.version().await.unwrap();
    assert_eq!(version.api_version.as_deref(), Some("1.41"));

    // Events for our container only, subscribed before it exists.
    let name = unique_name("ssh-events");
    let filters = HashMap::from([("container".to_owned(), vec![name.clone()])]);
    // bollard sends the request on the first poll, so ask for events since a moment ago.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let options = EventsOptions {
        since: Some(since.to_string()),
        filters: Some(filters),
        ..Default::default()
    };
    let mut events = docker.events(Some(options));
    let container = LabContainer::sleeper(&docker, name.clone()).await;
    assert_eq!(container.name, name);

    // Listed and inspected through the tunnel.
    let listed = docker.list_containers(list_all()).await.unwrap();
    let ours = listed
        .iter()
        .find(|c| c.names.iter().flatten().any(|n| n == &format!("/{name}")))
        .expect("container not listed");
    assert_eq!(ours.image.as_deref(), Some(lab_image().as_str()));
    let inspected = docker.inspect_container(&name, None).await.unwrap();
    assert_eq!(inspected.state.and_then(|s| s.running), Some(true));

    // Its create and start arrive as events.
    let mut actions = Vec::new();
    while !actions.iter().any(|a| a == "start") {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap_or_else(|_| panic!("no start event; seen: {actions:?}"))
            .unwrap()
            .unwrap();
        actions.push(event.action.unwrap_or_default());
    }
    assert!(actions.contains(&"create".to_owned()), "{actions:?}");
    let log = sshd.log_text();
    assert!(!log.contains("refused streamlocal"), "{log}");
}

/// Prints figures only: the assertions are on what the listings hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_containers_latency_is_measured_through_the_tunnel_and_direct() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let docker = docker_over_ssh(&host, DOCKER_SOCKET).await.unwrap();
    let direct = Docker::connect_with_unix_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();

    // Twenty created (not started) containers make the listing a realistic size.
    let mut guards = Vec::new();
    for _ in 0..20 {
        guards.push(LabContainer::create(&docker, unique_name("ssh-lat"), None).await);
    }
    for (label, client) in [("tunnel", &docker), ("direct", &direct)] {
        let names = listed_names(client).await;
        for guard in &guards {
            let wanted = format!("/{}", guard.name);
            assert!(names.contains(&wanted), "{label}: {wanted} not listed");
        }
        for _ in 0..3 {
            client.list_containers(list_all()).await.unwrap();
        }
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..50 {
            let t = Instant::now();
            count = client.list_containers(list_all()).await.unwrap().len();
            times.push(t.elapsed());
            assert!(count >= guards.len(), "{label}: only {count} listed");
        }
        eprintln!(
            "MEASURE list_containers(all) {label}: {} ({count} containers)",
            Latency::of(&times)
        );
    }
    eprintln!("MEASURE load average: {}", load_average());
}

/// A tracing writer that keeps what it is given.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// current_thread: the fallback warning is logged on the test's own thread, where the
// capturing subscriber is set.
#[tokio::test]
async fn refused_streamlocal_falls_back_to_dial_stdio_with_a_warning() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sshd = Sshd::builder().without_streamlocal().start();
    let host = sshd.connect().await;
    let docker = docker_over_ssh(&host, DOCKER_SOCKET).await.unwrap();
    let container = LabContainer::sleeper(&docker, unique_name("ssh-fallback")).await;
    let wanted = format!("/{}", container.name);
    assert!(listed_names(&docker).await.contains(&wanted), "{wanted}");
    docker.ping().await.unwrap();
    let log = sshd.log_text();
    assert!(log.contains("refused streamlocal port forward"), "{log}");
    let warnings = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        warnings.contains("WARN") && warnings.contains("dial-stdio"),
        "{warnings}"
    );

    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        docker.list_containers(list_all()).await.unwrap();
        times.push(t.elapsed());
    }
    eprintln!(
        "MEASURE list_containers(all) via dial-stdio: {}",
        Latency::of(&times)
    );

    // The same session still runs commands next to the dial-stdio connection.
    assert_eq!(
        host.exec("echo ok", None).await.unwrap().stdout_text(),
        "ok\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_socket_and_missing_route_fail_with_a_docker_error() {
    let sshd = Sshd::builder().without_streamlocal().start();
    let host = sshd.connect().await;
    let err = docker_over_ssh(&host, "/nonexistent/docker.sock")
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("/nonexistent/docker.sock") && text.contains("dial-stdio"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sshd_ends_docker_streams_and_fails_new_requests() {
    let mut sshd = Sshd::start();
    let host = sshd.connect().await;
    let docker = docker_over_ssh(&host, DOCKER_SOCKET).await.unwrap();
    docker.ping().await.unwrap();

    // Events of a container that never exists: the stream stays open and silent.
    let filters = HashMap::from([("container".to_owned(), vec![unique_name("ssh-none")])]);
    let mut events = docker.events(Some(EventsOptions {
        filters: Some(filters),
        ..Default::default()
    }));
    // Polling once sends the request; nothing matches, so this times out.
    let first = tokio::time::timeout(Duration::from_millis(300), events.next()).await;
    assert!(first.is_err(), "unexpected event: {first:?}");

    sshd.kill_all();
    let t = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("events stream hung");
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
    eprintln!(
        "events stream ended {} ms after the kill: {end:?}",
        t.elapsed().as_millis()
    );

    let err = tokio::time::timeout(Duration::from_secs(5), docker.ping())
        .await
        .expect("ping hung")
        .err()
        .unwrap();
    // bollard's own message is generic; the SSH layer's reason is in the cause chain.
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    eprintln!("new request: {text}");
    assert!(
        text.contains("the SSH connection to") && text.contains("is down"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_churn_opens_and_closes_four_hundred_channels() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let started = Instant::now();
    let mut jobs = Vec::new();
    for worker in 0..20 {
        let host = host.clone();
        jobs.push(tokio::spawn(async move {
            for i in 0..20 {
                let mut stream = host.open_streamlocal(DOCKER_SOCKET).await.unwrap();
                // HTTP/1.0: the engine closes after answering, so EOF travels remote → local.
                stream
                    .write_all(b"GET /_ping HTTP/1.0\r\n\r\n")
                    .await
                    .unwrap();
                let mut reply = Vec::new();
                let read =
                    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply))
                        .await;
                assert!(read.is_ok(), "worker {worker} request {i} hung");
                let text = String::from_utf8_lossy(&reply);
                assert!(
                    text.starts_with("HTTP/1.0 200 OK") && text.ends_with("OK"),
                    "{text}"
                );
            }
        }));
    }
    for job in jobs {
        job.await.unwrap();
    }
    eprintln!(
        "MEASURE 400 streamlocal channels (20 at a time) in {:?}",
        started.elapsed()
    );

    // The session is still healthy afterwards.
    assert_eq!(
        host.exec("echo ok", None).await.unwrap().stdout_text(),
        "ok\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_dropped_by_the_caller_first_are_closed_cleanly() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    for i in 0..200 {
        let mut stream = host.open_streamlocal(DOCKER_SOCKET).await.unwrap();
        // HTTP/1.1 keeps the connection open: the caller ends it by dropping its end.
        stream
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 1024];
        while !reply.ends_with(b"OK") {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "request {i}: early EOF");
            reply.extend_from_slice(&buf[..n]);
        }
        drop(stream);
    }

    // Every channel was closed on the server too: its sshd holds no socket per tunnel.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sshd.session_fd_count() > 40 {
        assert!(
            Instant::now() < deadline,
            "sshd still holds {} fds",
            sshd.session_fd_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "sshd session fds after 200 dropped tunnels: {}",
        sshd.session_fd_count()
    );

    // And the session still answers quickly.
    let t = Instant::now();
    assert_eq!(
        host.exec("echo ok", None).await.unwrap().stdout_text(),
        "ok\n"
    );
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_an_attached_exec_stream_through_the_tunnel() {
    init_tracing();
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let docker = docker_over_ssh(&host, DOCKER_SOCKET).await.unwrap();
    let c = common::TestContainer::run(
        "ssh-logs",
        &[],
        &["sh", "-c", "echo hello-logs; sleep 3600"],
    );

    // Logs: the line the container printed, read through the tunnel.
    let options = bollard::query_parameters::LogsOptions {
        stdout: true,
        tail: "all".into(),
        ..Default::default()
    };
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("hello-logs") && Instant::now() < deadline {
        let chunks: Vec<_> = docker.logs(&c.name, Some(options.clone())).collect().await;
        text = chunks
            .into_iter()
            .filter_map(Result::ok)
            .map(|chunk| chunk.to_string())
            .collect();
    }
    assert!(text.contains("hello-logs"), "logs: {text:?}");

    // Exec: an attached command's output streams back, and its exit code is read.
    let exec = docker
        .create_exec(
            &c.name,
            bollard::models::ExecConfig {
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo hi-exec; exit 3".into(),
                ]),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut output = String::new();
    if let bollard::exec::StartExecResults::Attached {
        output: mut stream, ..
    } = docker.start_exec(&exec.id, None).await.unwrap()
    {
        while let Some(chunk) = stream.next().await {
            output.push_str(&chunk.unwrap().to_string());
        }
    } else {
        panic!("the exec was not attached");
    }
    assert_eq!(output.trim(), "hi-exec");
    let inspected = docker.inspect_exec(&exec.id).await.unwrap();
    assert_eq!(inspected.exit_code, Some(3));
}

//! Exec channels, authentication and dead-connection handling of `quayside::ssh`, against a
//! private sshd on loopback (see `common::sshd`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::sshd::{Agent, Latency, Sshd, TempDir, config, init_tracing, lab_user, load_average};
use quayside::ssh::{HostKeyPolicy, SshAuth, SshError, SshHost};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_keeps_stdout_and_stderr_apart_and_returns_the_exit_code() {
    init_tracing();
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let out = host
        .exec("echo out; echo err >&2; exit 3", None)
        .await
        .unwrap();
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.signal, None);
    host.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_feeds_stdin_then_eof() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let out = host
        .exec("wc -c; tr a-z A-Z </dev/null", Some(b"hello\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(out.stdout_text().trim(), "6");
    let out = host
        .exec("cat", Some(b"round trip".to_vec()))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"round trip");

    // A command that reads nothing still gets EOF and ends.
    let out = host.exec("cat >/dev/null; echo done", None).await.unwrap();
    assert_eq!(out.stdout_text(), "done\n");

    // 3 MB of stdin, echoed back: exercises both windows at once.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = host.exec("cat", Some(big.clone())).await.unwrap();
    assert_eq!(out.stdout.len(), big.len());
    assert!(
        out.stdout == big,
        "the echoed 3 MB differ from what was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_a_killing_signal() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let out = host.exec("kill -KILL $$", None).await.unwrap();
    assert_eq!(out.signal.as_deref(), Some("KILL"));
    assert_eq!(out.status, -1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_stdout_and_stderr_together_do_not_stall() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let started = Instant::now();
    let out = host
        .exec(
            "head -c 5000000 /dev/zero; head -c 3000000 /dev/zero >&2; echo end >&2",
            None,
        )
        .await
        .unwrap();
    eprintln!("5 MB stdout + 3 MB stderr in {:?}", started.elapsed());
    assert_eq!(out.stdout.len(), 5_000_000);
    assert_eq!(out.stderr.len(), 3_000_004);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_execs_all_complete() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    let started = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..200 {
        let host = host.clone();
        jobs.push(tokio::spawn(async move {
            let out = host
                .exec(&format!("echo {i}; echo e{i} >&2; exit {}", i % 7), None)
                .await?;
            Ok::<_, SshError>((i, out))
        }));
    }
    for job in jobs {
        let (i, out) = job.await.unwrap().unwrap();
        assert_eq!(out.stdout_text(), format!("{i}\n"));
        assert_eq!(out.stderr_text(), format!("e{i}\n"));
        assert_eq!(out.status, i % 7);
    }
    eprintln!("200 concurrent execs in {:?}", started.elapsed());
}

/// Prints figures only: the assertions are on what the commands return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_exec_latency_are_measured() {
    let sshd = Sshd::start();
    let known = sshd.trusted_known_hosts();
    let mut connects = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let host = SshHost::connect(sshd.config(known.clone()), HostKeyPolicy::Strict)
            .await
            .unwrap();
        connects.push(t.elapsed());
        assert!(host.is_connected());
        host.disconnect().await;
    }

    let host = sshd.connect().await;
    for _ in 0..3 {
        host.exec("true", None).await.unwrap();
    }
    let mut execs = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let out = host.exec("/sbin/tc -j qdisc show", None).await.unwrap();
        execs.push(t.elapsed());
        assert_eq!(out.status, 0, "tc failed: {}", out.stderr_text());
        assert!(out.stdout_text().starts_with('['), "{}", out.stdout_text());
    }
    eprintln!("MEASURE connect+auth: {}", Latency::of(&connects));
    eprintln!("MEASURE exec tc -j qdisc show: {}", Latency::of(&execs));
    eprintln!("MEASURE load average: {}", load_average());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_with_passphrase_authenticates() {
    let sshd = Sshd::start();
    let key = sshd.authorize_new_client_key("id_pass", Some("correct horse"));
    let mut cfg = sshd.config(sshd.trusted_known_hosts());
    cfg.auth = vec![SshAuth::KeyFile {
        path: key,
        passphrase: Some("correct horse".into()),
    }];
    let host = SshHost::connect(cfg, HostKeyPolicy::Strict).await.unwrap();
    let out = host.exec("id -un", None).await.unwrap();
    assert_eq!(out.stdout_text().trim(), lab_user());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_authenticates_with_its_own_socket() {
    let sshd = Sshd::start();
    let agent_key = sshd.authorize_new_client_key("id_agent", None);
    let stranger = sshd.new_client_key("id_stranger", None);
    let agent = Agent::start(&agent_key);
    let mut cfg = sshd.config(sshd.trusted_known_hosts());

    // The stranger key is refused first, then the agent's key is accepted.
    cfg.auth = vec![
        SshAuth::KeyFile {
            path: stranger,
            passphrase: None,
        },
        SshAuth::Agent {
            socket: Some(agent.socket.clone()),
        },
    ];
    let host = SshHost::connect(cfg, HostKeyPolicy::Strict).await.unwrap();
    assert_eq!(
        host.exec("echo ok", None).await.unwrap().stdout_text(),
        "ok\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_auth_lists_every_method_tried() {
    let sshd = Sshd::start();
    let stranger = sshd.new_client_key("id_stranger", None);
    let with_passphrase = sshd.authorize_new_client_key("id_pass", Some("correct horse"));
    let mut cfg = sshd.config(sshd.trusted_known_hosts());
    cfg.auth = vec![
        SshAuth::KeyFile {
            path: stranger,
            passphrase: None,
        },
        SshAuth::KeyFile {
            path: with_passphrase,
            passphrase: Some("wrong".into()),
        },
        SshAuth::Agent {
            socket: Some(sshd.fresh_path("no-agent.sock")),
        },
    ];
    let err = SshHost::connect(cfg, HostKeyPolicy::Strict)
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(err, SshError::AuthFailed { ref tried, .. } if tried.len() == 3),
        "{text}"
    );
    assert!(
        text.contains("id_stranger") && text.contains("id_pass") && text.contains("ssh-agent"),
        "{text}"
    );
    assert!(text.contains("publickey"), "server methods missing: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_says_refused() {
    let dir = TempDir::new("ssh-closed");
    let port = common::free_port();
    let err = SshHost::connect(config(port, dir.join("known_hosts")), HostKeyPolicy::Strict)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SshError::Refused { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_gives_a_handshake_timeout() {
    // A listener that never speaks: the kernel completes the TCP handshake, nobody answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = TempDir::new("ssh-silent");
    let mut cfg = config(port, dir.join("known_hosts"));
    cfg.connect_timeout = Duration::from_millis(500);
    let t = Instant::now();
    let err = SshHost::connect(cfg, HostKeyPolicy::Strict)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SshError::Handshake { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sshd_fails_pending_and_new_requests_quickly() {
    init_tracing();
    let mut sshd = Sshd::start();
    let host = sshd.connect().await;
    assert_eq!(
        host.exec("echo up", None).await.unwrap().stdout_text(),
        "up\n"
    );

    // Pending: a long exec and an open exec stream.
    let pending = {
        let host = host.clone();
        tokio::spawn(async move { host.exec("sleep 60", None).await })
    };
    let stream = host.exec_stream("sleep 60").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let killed_at = Instant::now();
    sshd.kill_all();
    let err = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("pending exec hung")
        .unwrap()
        .err()
        .unwrap();
    let pending_ms = killed_at.elapsed().as_millis();
    eprintln!("pending exec failed after {pending_ms} ms: {err}");
    assert!(matches!(err, SshError::Disconnected { .. }), "{err}");
    assert!(err.to_string().contains("is down"), "{err}");

    // The stream's local end sees EOF.
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut { stream }, &mut buf),
    )
    .await
    .expect("exec stream hung");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");

    // New requests fail at once.
    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(5), host.exec("echo again", None))
        .await
        .expect("new exec hung")
        .err()
        .unwrap();
    assert!(matches!(err, SshError::Disconnected { .. }), "{err}");
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    assert!(!host.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_ends_the_session() {
    let sshd = Sshd::start();
    let host = sshd.connect().await;
    host.exec("true", None).await.unwrap();
    drop(host);

    // The server logs the client's disconnect once the session thread has ended.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = sshd.log_text();
        if log.contains("Disconnected from user") || log.contains("Received disconnect") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no disconnect in sshd log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_sends_keepalives() {
    let sshd = Sshd::builder().with_config_first("LogLevel DEBUG3").start();
    let mut cfg = sshd.config(sshd.trusted_known_hosts());
    cfg.keepalive_interval = Duration::from_secs(1);
    let host = SshHost::connect(cfg, HostKeyPolicy::Strict).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let log = sshd.log_text();

    // libssh2 names its keepalive request keepalive@libssh2.org.
    let keepalives = log.matches("rtype keepalive@").count();
    assert!(keepalives >= 2, "{keepalives} keepalives seen");
    assert!(host.is_connected());
    assert_eq!(
        host.exec("echo ok", None).await.unwrap().stdout_text(),
        "ok\n"
    );
}

//! Host key checks of `quayside::ssh` against a private sshd that has ed25519, ecdsa and rsa
//! host keys (see `common::sshd`), with known_hosts files written by the tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::process::Command;

use common::sshd::{Sshd, keygen_fingerprint, pub_path, public_key_line};
use quayside::ssh::{HostKeyPolicy, SshError, SshHost};

/// A private sshd with all three host key types, as a multi-key server in the wild has.
fn multi_key_sshd() -> Sshd {
    Sshd::builder().with_all_host_key_types().start()
}

async fn try_connect(
    sshd: &Sshd,
    lines: &[String],
    policy: HostKeyPolicy,
) -> Result<SshHost, SshError> {
    SshHost::connect(sshd.config(sshd.known_hosts(lines)), policy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bracketed_port_entry_matches() {
    let sshd = multi_key_sshd();
    let line = format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_pub("ed25519"));
    try_connect(&sshd, &[line], HostKeyPolicy::Strict)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_for_another_port_is_unknown_with_fingerprint_and_keyscan_hint() {
    let sshd = multi_key_sshd();
    let line = format!("[127.0.0.1]:{} {}", sshd.port + 1, sshd.host_pub("ed25519"));
    let err = try_connect(&sshd, &[line], HostKeyPolicy::Strict)
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    eprintln!("{text}");
    match &err {
        SshError::HostKeyUnknown {
            fingerprint,
            key_type,
            ..
        } => {
            assert_eq!(
                fingerprint,
                &keygen_fingerprint(&sshd.host_key_pub("ed25519"))
            );
            assert_eq!(key_type, "ssh-ed25519");
        }
        other => panic!("expected HostKeyUnknown, got {other}"),
    }
    assert!(
        text.contains(&format!("ssh-keyscan -p {} 127.0.0.1 >> ", sshd.port)),
        "{text}"
    );
    assert!(!text.contains("CHANGED"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_entry_without_port_matches_as_libssh2_does() {
    let sshd = multi_key_sshd();
    let line = format!("127.0.0.1 {}", sshd.host_pub("ed25519"));
    try_connect(&sshd, &[line], HostKeyPolicy::Strict)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_entry_matches() {
    let sshd = multi_key_sshd();
    let path = sshd.known_hosts(&[format!(
        "[127.0.0.1]:{} {}",
        sshd.port,
        sshd.host_pub("ed25519")
    )]);
    let out = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("|1|"), "not hashed: {text}");
    SshHost::connect(sshd.config(path), HostKeyPolicy::Strict)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_key_is_refused_with_its_own_words_whatever_the_policy() {
    let sshd = multi_key_sshd();
    let stranger = sshd.new_client_key("id_stranger", None);
    let lines = vec![
        "# a comment".to_owned(),
        format!(
            "[127.0.0.1]:{} {}",
            sshd.port,
            public_key_line(&pub_path(&stranger))
        ),
    ];
    for policy in [
        HostKeyPolicy::Strict,
        HostKeyPolicy::AcceptOnce { fingerprint: None },
        HostKeyPolicy::AcceptAndSave { fingerprint: None },
    ] {
        let err = try_connect(&sshd, &lines, policy.clone())
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            matches!(err, SshError::HostKeyChanged { line: 2, .. }),
            "{policy:?}: {text}"
        );
        assert!(
            text.contains("the host key of 127.0.0.1") && text.contains("has CHANGED"),
            "{text}"
        );
        assert!(
            text.contains(&keygen_fingerprint(&sshd.host_key_pub("ed25519"))),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_ecdsa_or_rsa_entry_still_matches_a_multi_key_server() {
    let sshd = multi_key_sshd();
    for kind in ["ecdsa", "rsa"] {
        let line = format!("[127.0.0.1]:{} {}", sshd.port, sshd.host_pub(kind));
        let host = try_connect(&sshd, &[line], HostKeyPolicy::Strict).await;
        assert!(host.is_ok(), "{kind}: {}", host.err().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_once_checks_the_fingerprint_and_leaves_the_file_alone() {
    let sshd = multi_key_sshd();
    let path = sshd.known_hosts(&[]);
    let wrong = HostKeyPolicy::AcceptOnce {
        fingerprint: Some("SHA256:nope".into()),
    };
    let err = SshHost::connect(sshd.config(path.clone()), wrong)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SshError::HostKeyUnknown { .. }), "{err}");
    let right = HostKeyPolicy::AcceptOnce {
        fingerprint: Some(keygen_fingerprint(&sshd.host_key_pub("ed25519"))),
    };
    SshHost::connect(sshd.config(path.clone()), right)
        .await
        .unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap().trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_save_appends_a_line_that_matches_next_time() {
    let sshd = multi_key_sshd();
    let path = sshd.fresh_path("known_hosts_new");
    assert!(!path.exists());
    let policy = HostKeyPolicy::AcceptAndSave {
        fingerprint: Some(keygen_fingerprint(&sshd.host_key_pub("ed25519"))),
    };
    SshHost::connect(sshd.config(path.clone()), policy)
        .await
        .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_pub("ed25519"))
    );
    SshHost::connect(sshd.config(path), HostKeyPolicy::Strict)
        .await
        .unwrap();
}

//! Engines reached at `tcp://`: plain TCP (shown with a warning; a socat endpoint on loopback
//! in front of this machine's engine) and TLS with client certificates (the lab's dockerd
//! listening with `--tlsverify`), with tc still run over the host's SSH connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::hosts::{ProfileFile, env};
use common::{TestContainer, quayside, quayside_ok, stderr, unique_name};

/// A socat endpoint in front of the engine's socket, ended by pid when dropped.
struct Endpoint {
    child: Child,
    port: u16,
}

impl Endpoint {
    fn start(listen: &str, port: u16) -> Self {
        let child = Command::new("socat")
            .arg(listen)
            .arg("UNIX-CONNECT:/var/run/docker.sock")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat runs");
        assert!(
            common::wait_until(Duration::from_secs(5), || std::net::TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "the endpoint listens"
        );
        Self { child, port }
    }

    fn plain() -> Self {
        let port = common::free_port();
        Self::start(
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
            port,
        )
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A CA of its own, made with openssl: one that signed nothing the engine holds.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn make() -> Self {
        let dir = std::env::temp_dir().join(unique_name("tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=quayside-lab-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        Self { dir }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A profile host whose engine is at `url` and whose tc runs over lab host 1's SSH.
fn tcp_host(name: &str, url: &str, tls: Option<(&Path, &Path, &Path)>) -> String {
    let base: u16 = env("QS_SSH_BASE_PORT").parse().unwrap();
    let mut text = format!(
        "[[host]]\nname = \"{name}\"\naddress = \"127.0.0.1\"\nport = {base}\nuser = \"{}\"\n\
         identity_file = \"{}\"\nknown_hosts = \"{}\"\nagent = false\ndocker = \"tcp\"\ndocker_url = \"{url}\"\n",
        env("QS_SSH_USER"),
        env("QS_SSH_KEY"),
        env("QS_SSH_KNOWN_HOSTS")
    );
    if let Some((ca, cert, key)) = tls {
        text.push_str(&format!(
            "tls_ca = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            ca.display(),
            cert.display(),
            key.display()
        ));
    }
    text
}

#[test]
fn a_plain_tcp_engine_lists_and_shapes_with_a_warning() {
    let endpoint = Endpoint::plain();
    let profile = ProfileFile::new(&tcp_host(
        "plain",
        &format!("tcp://127.0.0.1:{}", endpoint.port),
        None,
    ));
    let c = TestContainer::sleeper("tcp-plain");
    let out = quayside(&["--hosts", profile.arg(), "ps", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(common::stdout(&out).contains(&c.name));
    assert!(
        stderr(&out).contains("plain TCP"),
        "the warning shows: {}",
        stderr(&out)
    );

    let id = format!("plain:{}", c.name);
    let shaped = quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "rate",
        "--value",
        "1000",
    ]);
    assert!(shaped.contains("↓1 Mbit/s"), "{shaped}");
    quayside_ok(&[
        "--hosts",
        profile.arg(),
        "net",
        "--id",
        &id,
        "--policy",
        "clear",
    ]);
}

#[test]
fn a_tls_engine_lists_with_client_certificates_and_refuses_a_wrong_ca() {
    let url = env("QS_DOCKER_TLS_URL");
    let dir = PathBuf::from(env("QS_DOCKER_TLS_DIR"));
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("client.pem"),
        dir.join("client.key"),
    );
    let profile = ProfileFile::new(&tcp_host("secure", &url, Some((&ca, &cert, &key))));
    let c = TestContainer::sleeper("tcp-tls");
    let out = quayside(&["--hosts", profile.arg(), "ps", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        common::stdout(&out).contains(&c.name),
        "{}",
        common::stdout(&out)
    );
    assert!(
        !stderr(&out).contains("plain TCP"),
        "no warning over TLS: {}",
        stderr(&out)
    );

    // A CA that did not sign the engine's certificate: refused, and the listing says so.
    let other = Certs::make();
    let wrong = ProfileFile::new(&tcp_host(
        "doubtful",
        &url,
        Some((&other.dir.join("ca.pem"), &cert, &key)),
    ));
    let out = quayside(&["--hosts", wrong.arg(), "ps", "--json"]);
    let hosts: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert!(
        hosts[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{hosts}"
    );
}

//! A bollard client whose every HTTP connection is an SSH channel of one session.
//!
//! hyper-util's pooled client gets a connector that opens a direct-streamlocal channel to the
//! host's Docker socket for each new connection; idle connections are kept and reused. When
//! the server refuses streamlocal forwarding (`AllowStreamLocalForwarding no`; libssh2 then
//! reports only "connect failed"), connections are instead exec channels running
//! `docker system dial-stdio`, which needs the docker CLI on the host. No socket listens
//! anywhere: a Docker socket is root on its host.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::ssh::error::SshError;
use crate::ssh::host::SshHost;

/// Seconds bollard waits for one request (streams such as events are not limited by it).
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// How long an unused pooled connection (an open SSH channel) is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// How each new HTTP connection reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A direct-streamlocal channel to the socket.
    Streamlocal,
    /// An exec channel running `docker system dial-stdio`.
    DialStdio,
}

/// Opens one SSH channel per HTTP connection.
#[derive(Clone)]
struct SshConnector {
    host: SshHost,
    socket: Arc<str>,
    route: Route,
}

impl tower_service::Service<Uri> for SshConnector {
    type Response = TokioIo<tokio::net::UnixStream>;
    type Error = SshError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, SshError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), SshError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let stream = match this.route {
                Route::Streamlocal => this.host.open_streamlocal(&this.socket).await?,
                Route::DialStdio => {
                    this.host
                        .exec_stream(&dial_stdio_command(&this.socket))
                        .await?
                }
            };
            tracing::debug!(host = %this.host.label(), route = ?this.route, "new Docker connection");
            Ok(TokioIo::new(stream))
        })
    }
}

/// `docker -H unix://SOCKET system dial-stdio`, with the socket path quoted for the shell.
fn dial_stdio_command(socket: &str) -> String {
    let quoted = format!("'{}'", socket.replace('\'', r"'\''"));
    format!("docker -H unix://{quoted} system dial-stdio")
}

/// A bollard client for the engine behind `remote_socket` on the host, through its session.
///
/// Tries streamlocal forwarding first and falls back to `docker system dial-stdio` (with a
/// warning) when the channel cannot be opened. The API version is negotiated with the engine.
pub async fn docker_over_ssh(host: &SshHost, remote_socket: &str) -> Result<Docker, SshError> {
    let route = match host.open_streamlocal(remote_socket).await {
        Ok(_probe) => Route::Streamlocal,
        Err(error @ SshError::Channel { .. }) => {
            tracing::warn!(
                host = %host.label(),
                socket = remote_socket,
                %error,
                "streamlocal forwarding refused (or the socket is missing); using docker system dial-stdio"
            );
            Route::DialStdio
        }
        Err(other) => return Err(other),
    };
    let docker_error = |detail: String| SshError::Docker {
        host: host.label().to_owned(),
        socket: remote_socket.to_owned(),
        detail,
    };

    let connector = SshConnector {
        host: host.clone(),
        socket: Arc::from(remote_socket),
        route,
    };
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(connector);
    let transport = move |request: BollardRequest| {
        let client = client.clone();
        async move {
            client
                .request(request)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("http://docker.invalid"),
        REQUEST_TIMEOUT_SECS,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| docker_error(e.to_string()))?;
    let docker = docker.negotiate_version().await.map_err(|e| {
        let route = match route {
            Route::Streamlocal => "a forwarded unix socket",
            Route::DialStdio => "docker system dial-stdio (is the docker CLI installed there?)",
        };
        docker_error(format!("no answer through {route}: {}", error_chain(&e)))
    })?;
    Ok(docker)
}

/// An error with its sources, joined by ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_stdio_command_quotes_the_socket_path() {
        assert_eq!(
            dial_stdio_command("/var/run/docker.sock"),
            "docker -H unix://'/var/run/docker.sock' system dial-stdio"
        );
        assert_eq!(
            dial_stdio_command("/a'b"),
            r"docker -H unix://'/a'\''b' system dial-stdio"
        );
    }
}

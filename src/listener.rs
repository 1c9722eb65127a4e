//! The listener: accepts connections and serves HTTP/1 and HTTP/2 (REST, SSE, gRPC,
//! gRPC-Web) on them, with the limits a server facing the network needs:
//!
//! - **headers** must arrive within `header_timeout` (HTTP/1); the same limit closes a
//!   keep-alive connection that sends no next request;
//! - a **request body** that delivers nothing for `body_timeout` is cut off (408): a
//!   slow upload that keeps moving is never cut, however long it takes;
//! - **HTTP/2** connections are pinged every `h2_keep_alive` and dropped when a ping
//!   goes unanswered, so dead peers do not pile up (gRPC channels may stay idle);
//! - at most `max_connections` are open at once; past that, new ones wait in the
//!   kernel's accept queue until one closes.
//!
//! Responses are never timed: an SSE stream or a download lasts as long as it needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The listener's limits (see the module docs).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to receive a request's headers; also the idle limit of an HTTP/1 keep-alive
    /// connection.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// HTTP/2 ping interval (a ping unanswered for as long drops the connection).
    pub h2_keep_alive: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(30),
            h2_keep_alive: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// Binds `listen` and serves `app` until SIGTERM or Ctrl-C. Prints the bound
/// address on stdout (`assistd listening on ADDR`), which tests and scripts read.
/// On SIGTERM or Ctrl-C it stops accepting, lets open requests and streams finish for
/// up to `grace`, then returns (the process exits 0).
pub async fn run(listen: &str, app: Router, grace: Duration, limits: &Limits) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, max_connections = limits.max_connections, "listening");
    println!("assistd listening on {addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.h2_keep_alive)
        .keep_alive_timeout(limits.h2_keep_alive);
    let builder = Arc::new(builder);
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let req = req.map(|b| Body::new(TimeoutBody::new(body_timeout, b)));
        app.clone().oneshot(req)
    });
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.context("connection limit")?,
            () = &mut stop => break,
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small gRPC trailer frames must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service.clone()).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(grace_secs = grace.as_secs(), "shutting down: no new connections, draining open ones");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period over; closing the connections still open");
        }
    }
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

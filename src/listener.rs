//! The listener: accepts connections and serves HTTP/1 and HTTP/2 (REST, SSE, gRPC,
//! gRPC-Web) on them, with the limits a server facing the network needs:
//!
//! - **headers** must arrive within `header_timeout` (HTTP/1); the same limit closes a
//!   keep-alive connection that sends no next request;
//! - a **request body** that delivers nothing for `body_timeout` is cut off (408): a
//!   slow upload that keeps moving is never cut, however long it takes;
//! - a connection with no request in flight for `idle_timeout` is closed gracefully
//!   (GOAWAY on HTTP/2): gRPC channels reconnect on their next call;
//! - **HTTP/2** connections are pinged every `h2_keep_alive` and dropped when a ping
//!   goes unanswered, so dead peers do not pile up;
//! - at most `max_connections` are open at once; past that, new ones wait in the
//!   kernel's accept queue until one closes.
//!
//! Responses are never timed: an SSE stream or a download lasts as long as it needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
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
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
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
            idle_timeout: Duration::from_secs(300),
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
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let permits = Arc::new(Semaphore::new(max as usize));
    let stopping = CancellationToken::new();
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
        let activity = Arc::new(Activity::new());
        let service = {
            let (app, activity, body_timeout) = (app.clone(), activity.clone(), limits.body_timeout);
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let open = Activity::start(&activity);
                let req = req.map(|b| Body::new(TimeoutBody::new(body_timeout, b)));
                let answer = app.clone().oneshot(req);
                async move {
                    let res = answer.await?;
                    Ok::<_, std::convert::Infallible>(res.map(|body| Body::new(Tracked { body, _open: open })))
                }
            })
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned();
        let (stopping, idle_timeout) = (stopping.clone(), limits.idle_timeout);
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = stopping.cancelled(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = activity.idle_for(idle_timeout), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(grace_secs = grace.as_secs(), "shutting down: no new connections, draining open ones");
    stopping.cancel();
    tokio::select! {
        // every connection has ended once all the permits are back
        _ = permits.acquire_many(max) => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period over; closing the connections still open");
        }
    }
    tracing::info!("shut down");
    Ok(())
}

/// The requests in flight on one connection, and when the last one ended.
struct Activity {
    since: Instant,
    open: AtomicUsize,
    last_ms: AtomicU64,
}

/// One request in flight (until its response body is done or dropped).
struct OpenRequest(Arc<Activity>);

impl Activity {
    fn new() -> Self {
        Self { since: Instant::now(), open: AtomicUsize::new(0), last_ms: AtomicU64::new(0) }
    }

    fn now_ms(&self) -> u64 {
        self.since.elapsed().as_millis() as u64
    }

    fn start(this: &Arc<Self>) -> OpenRequest {
        this.open.fetch_add(1, Ordering::SeqCst);
        OpenRequest(this.clone())
    }

    /// Resolves once no request has been in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let wait = if self.open.load(Ordering::SeqCst) > 0 {
                limit
            } else {
                let idle = Duration::from_millis(self.now_ms().saturating_sub(self.last_ms.load(Ordering::SeqCst)));
                match limit.checked_sub(idle) {
                    Some(left) if !left.is_zero() => left,
                    _ => return,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.last_ms.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that counts as a request in flight until it is done or dropped
/// (an SSE stream is a request in flight for as long as it lasts).
struct Tracked {
    body: Body,
    _open: OpenRequest,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
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

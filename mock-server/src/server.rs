//! The accept loop and shutdown.
//!
//! `axum::serve` would do, except in two ways that matter here: it leaves Nagle's
//! algorithm on (small SSE chunks then wait for the peer's delayed ACK, tens of
//! milliseconds, which would swamp the latencies we simulate), and its graceful shutdown
//! waits for every in-flight response, which for a long stream can be minutes. Owning
//! the connections lets us bound shutdown, and is where connection-level faults
//! (dropped connections, slow headers) will go.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How long in-flight responses may continue after shutdown before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Streams one HTTP/2 connection may carry at once.
const H2_MAX_STREAMS: u32 = 16_384;

/// Pause after an accept error that is not the peer's fault (typically EMFILE), so that
/// a full file table does not turn the loop into a busy spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, app.clone(), stop_rx.clone()));
                }
                Err(e) if is_connection_error(&e) => {}
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            // Reap finished connections so the set does not grow with every one ever made.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    drop(listener);
    stop_tx.send_replace(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drained).await;
    // Dropping the set aborts the connections still open, cutting their responses.
    drop(connections);
}

/// Lets a request's handler reset the connection it came on, which the handler has no
/// other way to reach. Every request carries one as an extension.
#[derive(Default)]
pub(crate) struct ConnControl {
    reset: AtomicBool,
    notify: Notify,
}

impl ConnControl {
    /// Closes the connection with a TCP reset, dropping whatever it was doing (on HTTP/2,
    /// every stream it carries).
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
        self.notify.notify_one();
    }
}

async fn serve_connection(stream: TcpStream, app: Router, mut stop: watch::Receiver<bool>) {
    // Best effort: a socket that refuses it still works, only with worse latency.
    let _ = stream.set_nodelay(true);
    let control = Arc::new(ConnControl::default());
    let io = ResettableIo { stream, control: control.clone() };
    let app = TowerToHyperService::new(app);
    let for_requests = control.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(for_requests.clone());
        hyper::service::Service::call(&app, req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's default of 200 streams per HTTP/2 connection would queue a load test's
    // streams in the client; a real API gateway allows far more.
    builder.http2().max_concurrent_streams(H2_MAX_STREAMS);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        _ = conn.as_mut() => return,
        // Returning drops the connection and with it the socket, which `ResettableIo`
        // then closes with a reset.
        () = control.notify.notified() => return,
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// The connection's socket, which it closes with a TCP reset (RST) instead of the usual
/// FIN when its [`ConnControl`] asked for one: what a crashed server or a proxy
/// dropping the request looks like to a client.
struct ResettableIo {
    stream: TcpStream,
    control: Arc<ConnControl>,
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.control.reset.load(Ordering::Relaxed) {
            // SO_LINGER 0 makes close() send RST. Tokio deprecates set_linger because a
            // non-zero linger blocks the thread on close; a zero one does not block.
            #[allow(deprecated)]
            let _ = self.stream.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ResettableIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Errors that concern one connection only: the listener itself is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

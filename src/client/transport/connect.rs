//! Making one connection: TCP (no Nagle), TLS with rustls when the target is
//! https:// (ALPN offers h2 unless HTTP/1.1 only is wanted), and hyper's
//! handshake for the protocol that results.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::stamped::Stamped;
use super::{Failure, TransportError};
use crate::client::error_chain;

/// A connection's byte stream.
pub(super) struct Io {
    stream: Stream,
}

/// Plain TCP or TLS over it; the TCP stream stamps its reads (`Stamped`).
enum Stream {
    Plain(Stamped),
    Tls(Box<TlsStream<Stamped>>),
}

/// When the bytes of a connection's last read arrived (`stamped`: the
/// kernel's time for the last segment the read took, or the read's own).
///
/// A body's bytes are timed by it rather than by the clock when the
/// request's task gets them. Over HTTP/2 the connection's task reads the
/// socket and wakes each stream's task in turn: at a thousand streams the
/// last of those woken by one read runs a while after it. The bytes a task
/// holds came in a read no later than the last one, and arrived no later
/// than its last segment, so the stamp is never early; it is only as late
/// as the segments that followed. Over TLS the stamp is the TCP read's: a
/// record's plaintext comes out once its last segment has been read.
#[derive(Debug)]
pub(super) struct ReadAt(AtomicU64);

/// The zero of `ReadAt`'s nanoseconds: no later than the first `ReadAt`
/// was made, so no later than any byte it stamps arrived. (Set at the first
/// stamp instead, it was later than that stamp's arrival, and the process's
/// first read was stamped when it was made.)
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Default for ReadAt {
    fn default() -> Self {
        epoch();
        ReadAt(AtomicU64::new(0))
    }
}

impl ReadAt {
    /// Bytes arrived `at`; a connection's stamps never go back (its bytes
    /// arrive in order).
    pub fn mark(&self, at: Instant) {
        let since = at.saturating_duration_since(epoch()).as_nanos();
        let nanos = u64::try_from(since).unwrap_or(u64::MAX);
        self.0.fetch_max(nanos.max(1), Ordering::AcqRel);
    }

    /// The last read that brought bytes; `now` if none has (nor could the
    /// caller hold any), and never later than `now`.
    pub fn get(&self, now: Instant) -> Instant {
        match self.0.load(Ordering::Acquire) {
            0 => now,
            nanos => (epoch() + Duration::from_nanos(nanos)).min(now),
        }
    }
}

/// What the handshake gave: an HTTP/1.1 connection, whose driver the
/// request's own task polls (see `H1`), or an HTTP/2 one, shared by many
/// requests, whose driver runs as a task of its own.
pub(super) enum Made {
    H1(H1),
    H2(H2),
}

/// An HTTP/2 connection's sender, and how many streams the server allows
/// at once (its SETTINGS_MAX_CONCURRENT_STREAMS, which may change), kept
/// current by the task that drives the connection.
pub(super) struct H2 {
    pub sender: http2::SendRequest<Full<Bytes>>,
    pub limit: Arc<AtomicUsize>,
    pub read_at: Arc<ReadAt>,
}

type H2Driver = Pin<Box<http2::Connection<TokioIo<Io>, Full<Bytes>, TokioExecutor>>>;

/// Drives an HTTP/2 connection and publishes its stream limit after each
/// poll: a stream past the limit would wait inside the client, a delay the
/// server never caused, counted in its TTFT.
async fn drive_h2(mut conn: H2Driver, limit: Arc<AtomicUsize>) {
    std::future::poll_fn(|cx| {
        let done = conn.as_mut().poll(cx);
        limit.store(conn.current_max_send_streams(), Ordering::Relaxed);
        done.map(|_| ())
    })
    .await;
}

/// An HTTP/1.1 connection: the sender, and the connection's driver, which
/// reads and writes the socket when polled. It is polled in the task that
/// sends and reads the request (not spawned), so the bytes a read brings are
/// parsed in the same wake-up that read them.
pub(super) struct H1 {
    pub sender: http1::SendRequest<Full<Bytes>>,
    /// `None` once it has finished: the connection is closed. It is dropped
    /// then, which is what fails a request or body still waiting on it.
    pub driver: Option<Driver>,
    pub read_at: Arc<ReadAt>,
}

pub(super) type Driver = Pin<Box<http1::Connection<TokioIo<Io>, Full<Bytes>>>>;

/// Where and how to connect.
pub(super) struct Dialer {
    pub host: String,
    pub port: u16,
    /// For https:// targets.
    pub tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// HTTP/2 only (`http = "2"`): with prior knowledge over plain TCP, by
    /// ALPN (offering h2 alone) over TLS.
    pub h2_only: bool,
    pub timeout: Duration,
}

impl Dialer {
    /// A new connection, handshake done, within the connect timeout.
    pub async fn dial(&self) -> Result<Made, TransportError> {
        let after = self.timeout;
        match tokio::time::timeout(self.timeout, self.dial_now()).await {
            Ok(made) => made,
            Err(_) => Err(TransportError::new(
                Failure::ConnectTimeout,
                format!("no connection to {}:{} within {after:?}", self.host, self.port),
            )),
        }
    }

    async fn dial_now(&self) -> Result<Made, TransportError> {
        let refused = |e: io::Error| {
            TransportError::new(
                Failure::Connect,
                format!("cannot connect to {}:{}: {e}", self.host, self.port),
            )
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(refused)?;
        tcp.set_nodelay(true).map_err(refused)?;
        let read_at = Arc::new(ReadAt::default());
        let tcp = Stamped::new(tcp, read_at.clone());
        let (io, h2) = match &self.tls {
            None => (Stream::Plain(tcp), self.h2_only),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                    TransportError::new(
                        Failure::Connect,
                        format!("TLS with {}: {}", self.host, error_chain(&e)),
                    )
                })?;
                let h2 = self.h2_only || tls.get_ref().1.alpn_protocol() == Some(b"h2");
                (Stream::Tls(Box::new(tls)), h2)
            }
        };
        let io = TokioIo::new(Io { stream: io });
        let handshake = |e: hyper::Error| {
            TransportError::new(
                Failure::Connect,
                format!("HTTP handshake with {}: {}", self.host, error_chain(&e)),
            )
        };
        if h2 {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                // Streams' windows large enough that a fast stream never waits
                // for a WINDOW_UPDATE round trip.
                .initial_stream_window_size(1 << 20)
                .initial_connection_window_size(16 << 20)
                .handshake(io)
                .await
                .map_err(handshake)?;
            let limit = Arc::new(AtomicUsize::new(conn.current_max_send_streams()));
            tokio::spawn(drive_h2(Box::pin(conn), limit.clone()));
            Ok(Made::H2(H2 { sender, limit, read_at }))
        } else {
            let (sender, driver) = http1::Builder::new().handshake(io).await.map_err(handshake)?;
            Ok(Made::H1(H1 { sender, driver: Some(Box::pin(driver)), read_at }))
        }
    }
}

impl H1 {
    /// Polls the driver once, so a close the server sent while the
    /// connection sat idle is seen now (no waker is kept: nothing waits).
    pub fn closed_while_idle(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        poll_driver(&mut self.driver, &mut cx);
        self.driver.is_none() || self.sender.is_closed()
    }

    /// Ready to take a request. A pooled connection is at once: checking it
    /// out polled its driver, which then said it wants one, so the driver
    /// is not polled again for nothing; a new one once its driver has run.
    pub async fn ready(&mut self) -> hyper::Result<()> {
        let H1 { sender, driver, .. } = self;
        std::future::poll_fn(|cx| match sender.poll_ready(cx) {
            Poll::Pending => {
                poll_driver(driver, cx);
                sender.poll_ready(cx)
            }
            ready => ready,
        })
        .await
    }

    /// Polls the driver while `work` is not done, in this task. The work's
    /// output decides; a driver that ends (the connection closed) is
    /// dropped, which fails the work through hyper's own channels.
    pub fn beside<F: Future>(driver: &mut Option<Driver>, work: F) -> Beside<'_, F> {
        Beside { driver, work }
    }
}

pin_project_lite::pin_project! {
    /// `work`, with its connection's driver polled beside it (`H1::beside`).
    /// A struct, not an `async fn`, whose state would hold `work` twice: a
    /// request's futures are copied whole at every layer that awaits them.
    pub struct Beside<'d, F> {
        driver: &'d mut Option<Driver>,
        #[pin]
        work: F,
    }
}

impl<F: Future> Future for Beside<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        poll_driver(this.driver, cx);
        this.work.poll(cx)
    }
}

fn poll_driver(driver: &mut Option<Driver>, cx: &mut Context<'_>) {
    if let Some(d) = driver
        && d.as_mut().poll(cx).is_ready()
    {
        *driver = None;
    }
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS set-up for a target: the platform's roots (on Linux the system
/// bundle, read offline) plus the scenario's CA file; ALPN offers h2 and
/// HTTP/1.1, or h2 alone (`h2_only`).
pub(super) fn tls_config(ca_pem: Option<&[u8]>, h2_only: bool) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra: Vec<CertificateDer<'static>> = match ca_pem {
        None => Vec::new(),
        Some(pem) => CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not PEM certificates: {e}"))?,
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        .map_err(|e| format!("cannot load the TLS roots: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols =
        if h2_only { vec![b"h2".to_vec()] } else { vec![b"h2".to_vec(), b"http/1.1".to_vec()] };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A read that brings bytes is timed no sooner than they were sent and
    /// no later than it returns; one that brings none (the peer's end)
    /// leaves the time as it was; the time is never later than the caller's
    /// now, and is now before any read.
    #[tokio::test]
    async fn reads_that_bring_bytes_are_timed() {
        let (stamped, read_at, mut server) = crate::client::transport::stamped::tests::pair().await;
        let mut io = Io { stream: Stream::Plain(stamped) };
        let now = Instant::now();
        assert_eq!(read_at.get(now), now, "nothing read yet");

        let before = Instant::now();
        server.write_all(b"data: 1\n\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(io.read(&mut buf).await.unwrap() > 0);
        let after = Instant::now();
        let at = read_at.get(Instant::now());
        assert!(before <= at && at <= after, "{before:?} <= {at:?} <= {after:?}");
        assert_eq!(read_at.get(before), before, "never later than the caller's now");

        drop(server);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(io.read(&mut buf).await.unwrap(), 0, "the peer's end");
        assert_eq!(read_at.get(Instant::now()), at, "a read that brought nothing");
    }
}

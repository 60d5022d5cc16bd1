//! The request path: llmload drives its connections itself, with hyper's
//! connection API, instead of a general client's pool and middleware.
//!
//! - HTTP/1.1: a connection per request in flight, kept in a small owned
//!   pool (a closed-loop user finds its own connection again). Its driver is
//!   polled in the requesting task, so a read and the parsing of what it
//!   brought are one wake-up, with no hop to a connection task.
//! - HTTP/2: with prior knowledge over http:// (`http = "2"`), or by ALPN over
//!   https://; a lane's streams share one connection, whose driver is a task
//!   of that lane, as many as the server allows at once
//!   (SETTINGS_MAX_CONCURRENT_STREAMS), as browsers and Go's client do.
//!   Another is opened only past that limit: more connections than needed
//!   would each be read on their own, a wake-up and an acknowledgement per
//!   read, for events a shared one brings in a single read.
//! - A target reached through a proxy (`HTTPS_PROXY` and friends, never for
//!   loopback) goes through reqwest, which implements proxies: a proxied
//!   target's latency is the proxy's anyway.
//!
//! Measured against reqwest's pooled client in BENCHMARKS.md ("A lean request
//! path").

mod connect;
mod stamped;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};

use self::connect::{Dialer, H1, Made, ReadAt};
use super::error_chain;
use super::http::Endpoint;
use crate::lanes::PerLane;

/// How an exchange failed, for the outcome and the retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection: refused, DNS, TLS, the HTTP/2 handshake.
    Connect,
    ConnectTimeout,
    /// The server closed a reused connection before any byte of an answer
    /// (its FIN, not a reset): safe to send again on a new connection.
    ClosedBeforeAnswer,
    /// The answer was not HTTP.
    NotHttp,
    /// Closed or reset after the request was written.
    Closed,
}

#[derive(Debug)]
pub struct TransportError {
    pub failure: Failure,
    pub message: String,
}

impl TransportError {
    fn new(failure: Failure, message: String) -> Self {
        TransportError { failure, message }
    }

    fn hyper(e: &hyper::Error) -> Self {
        TransportError::new(failure_of(e), error_chain(e))
    }

    fn reqwest(e: &reqwest::Error) -> Self {
        let failure = if e.is_timeout() {
            // reqwest only times out connecting (no other timeout is set).
            Failure::ConnectTimeout
        } else if e.is_connect() {
            Failure::Connect
        } else {
            cause::<hyper::Error>(e).map_or(Failure::Closed, failure_of)
        };
        TransportError::new(failure, error_chain(e))
    }
}

/// What a hyper error means for the outcome and the retry rules.
fn failure_of(e: &hyper::Error) -> Failure {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        // Canceled or closed: the connection was gone before the request
        // was written.
        Failure::ClosedBeforeAnswer
    } else if e.is_parse() {
        Failure::NotHttp
    } else {
        Failure::Closed
    }
}

/// The first error of type `T` in `e`'s chain of causes, `e` included.
fn cause<'e, T: std::error::Error + 'static>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e T> {
    std::iter::successors(Some(e), |e| e.source()).find_map(|e| e.downcast_ref::<T>())
}

/// Sends requests to one target.
pub struct Transport {
    inner: Inner,
}

enum Inner {
    Lean(Box<Lean>),
    /// Through a proxy: a pooled client, and one without reuse for the
    /// reconnect rule.
    Proxied {
        pooled: reqwest::Client,
        fresh: reqwest::Client,
        base: String,
    },
}

struct Lean {
    dialer: Dialer,
    /// `scheme://authority`, for HTTP/2's absolute request URIs.
    origin: String,
    /// Each endpoint's path, with its origin-form and absolute URIs.
    uris: Vec<(&'static str, Uri, Uri)>,
    /// The base URL's path, e.g. `/v1`.
    base_path: String,
    /// Sent with every request: the endpoint's (key, organization, ...),
    /// user agent, accept, content type; for HTTP/1.1 with `Host` (HTTP/2
    /// has `:authority`). Cloned whole per request, never added to.
    headers: HeaderMap,
    headers_h1: HeaderMap,
    /// Each lane's HTTP/1.1 connections (`crate::lanes`): one is only
    /// driven by the thread whose runtime registered it, in the requesting
    /// task.
    idle: PerLane<Mutex<Vec<H1>>>,
    /// Each lane's HTTP/2 connections, whose drivers are tasks of that
    /// lane: a read wakes only streams of its own thread.
    h2: PerLane<tokio::sync::Mutex<Vec<H2Conn>>>,
    /// HTTP/2 is spoken: prior knowledge, or a TLS server chose it.
    h2_known: AtomicBool,
    /// The protocol is known: plain http://, or a first TLS connection was
    /// made. Until then, `first` lets one request at a time dial.
    learned: AtomicBool,
    first: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct H2Conn {
    sender: http2::SendRequest<Full<Bytes>>,
    /// Streams open on it.
    streams: Arc<AtomicUsize>,
    /// Streams the server allows on it (see `connect::H2`).
    limit: Arc<AtomicUsize>,
    read_at: Arc<ReadAt>,
}

impl H2Conn {
    fn new(c: connect::H2, streams: usize) -> Self {
        H2Conn {
            sender: c.sender,
            streams: Arc::new(AtomicUsize::new(streams)),
            limit: c.limit,
            read_at: c.read_at,
        }
    }

    /// Below the server's limit: a stream never waits inside the client
    /// for a slot the server has not given.
    fn has_room(&self) -> bool {
        self.streams.load(Ordering::Relaxed) < self.limit.load(Ordering::Relaxed)
    }
}

/// An answer whose head has arrived; its body is read with `chunk`.
pub struct Answer<'t> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Body<'t>,
    /// The connection's reads (`None` through a proxy).
    read_at: Option<Arc<ReadAt>>,
}

enum Body<'t> {
    /// The connection rides with the body and goes back to the pool when
    /// the body has been read to its end.
    H1 {
        incoming: Incoming,
        conn: Option<H1>,
        pool: &'t Mutex<Vec<H1>>,
    },
    H2 {
        incoming: Incoming,
        _stream: StreamSlot,
    },
    Proxied(reqwest::Response),
}

/// Holds one of an HTTP/2 connection's streams until dropped.
struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Transport {
    /// For `endpoint`; `http2`: HTTP/2 only (prior knowledge over http://,
    /// ALPN offering h2 alone over https://).
    pub fn new(endpoint: &Endpoint, connect_timeout: Duration, http2: bool) -> crate::error::Result<Self> {
        stamped::switch_on();
        if !endpoint.is_loopback() && proxy_configured() {
            let pooled = endpoint.client(connect_timeout, http2)?;
            let fresh = endpoint.unpooled_client(connect_timeout, http2)?;
            let base = endpoint.base_url.trim_end_matches('/').to_owned();
            return Ok(Transport { inner: Inner::Proxied { pooled, fresh, base } });
        }
        let uri: Uri = endpoint
            .base_url
            .parse()
            .map_err(|e| anyhow::anyhow!("base URL {:?} is not a URL: {e}", endpoint.base_url))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(anyhow::anyhow!(
                    "base URL {:?} must start with http:// or https://",
                    endpoint.base_url
                )
                .into());
            }
        };
        let authority =
            uri.authority().ok_or_else(|| anyhow::anyhow!("base URL {:?} has no host", endpoint.base_url))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let ca = endpoint.ca_pem()?;
            let config = connect::tls_config(ca.as_deref(), http2).map_err(|e| match ca {
                Some(_) => endpoint.bad_ca(e),
                None => super::SetupError(e),
            })?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| anyhow::anyhow!("base URL host {host:?}: {e}"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        let mut headers = endpoint.headers()?;
        headers.insert(USER_AGENT, HeaderValue::from_static(super::USER_AGENT));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut lean = Lean {
            uris: Vec::new(),
            dialer: Dialer { host, port, tls, h2_only: http2, timeout: connect_timeout },
            origin: format!("{}://{authority}", if https { "https" } else { "http" }),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            headers_h1: {
                let mut h1 = headers.clone();
                h1.insert(
                    HOST,
                    HeaderValue::from_str(authority.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?,
                );
                h1
            },
            headers,
            idle: PerLane::new(|| Mutex::new(Vec::new())),
            h2: PerLane::new(|| tokio::sync::Mutex::new(Vec::new())),
            h2_known: AtomicBool::new(http2),
            learned: AtomicBool::new(http2 || !https),
            first: tokio::sync::Mutex::new(()),
        };
        use crate::workload::{CHAT_PATH, COMPLETIONS_PATH, EMBEDDINGS_PATH, RESPONSES_PATH};
        for path in [CHAT_PATH, COMPLETIONS_PATH, EMBEDDINGS_PATH, RESPONSES_PATH] {
            let uris = (lean.uri(path, false), lean.uri(path, true));
            let (Ok(h1), Ok(h2)) = uris else { continue };
            lean.uris.push((path, h1, h2));
        }
        Ok(Transport { inner: Inner::Lean(Box::new(lean)) })
    }

    /// POSTs `body` to the base URL + `path`; `fresh`: on a new connection
    /// (the reconnect rule), not a pooled one. Returns once the answer's
    /// head has arrived.
    ///
    /// `resent` counts the times the request was sent again inside this
    /// call: HTTP/2 streams the server refused unprocessed. Their round
    /// trips are in the request's latency; the caller records them.
    pub async fn post(
        &self,
        path: &str,
        body: Bytes,
        fresh: bool,
        resent: &mut u32,
    ) -> Result<Answer<'_>, TransportError> {
        match &self.inner {
            Inner::Lean(lean) => lean.post(path, body, fresh, resent).await,
            Inner::Proxied { pooled, fresh: unpooled, base } => {
                let client = if fresh { unpooled } else { pooled };
                // Boxed: reqwest's future is large, and would size the lean
                // path's requests too (futures are copied whole per layer).
                let sent = client
                    .post(format!("{base}{path}"))
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .body(body)
                    .send();
                let resp = Box::pin(sent).await.map_err(|e| TransportError::reqwest(&e))?;
                Ok(Answer {
                    status: resp.status(),
                    headers: resp.headers().clone(),
                    body: Body::Proxied(resp),
                    read_at: None,
                })
            }
        }
    }
}

impl Lean {
    async fn post(
        &self,
        path: &str,
        body: Bytes,
        fresh: bool,
        resent: &mut u32,
    ) -> Result<Answer<'_>, TransportError> {
        let mut first = None;
        if !self.learned.load(Ordering::Acquire) {
            // Over TLS the first connection says which protocol the server
            // speaks: the others wait for it, or a burst of users would each
            // open an HTTP/2 connection where one serves them all.
            let _first = self.first.lock().await;
            if !self.learned.load(Ordering::Acquire) {
                first = Some(self.dial().await?);
                self.learned.store(true, Ordering::Release);
            }
        }
        if self.h2_known.load(Ordering::Relaxed) {
            return self.post_h2(path, body, fresh, resent).await;
        }
        let pooled = if fresh { None } else { first.flatten().or_else(|| self.checkout()) };
        let mut conn = match pooled {
            Some(c) => c,
            None => match self.dial().await? {
                Some(c) => c,
                None => return self.post_h2(path, body, false, resent).await,
            },
        };
        let req = self.request(path, body, false)?;
        conn.ready().await.map_err(|e| TransportError::hyper(&e))?;
        let H1 { sender, driver, .. } = &mut conn;
        // The request goes to the connection as the call is made: the
        // future only waits for the answer's head.
        let resp =
            H1::beside(driver, sender.send_request(req)).await.map_err(|e| TransportError::hyper(&e))?;
        let (head, incoming) = resp.into_parts();
        Ok(Answer {
            status: head.status,
            headers: head.headers,
            read_at: Some(conn.read_at.clone()),
            body: Body::H1 { incoming, conn: Some(conn), pool: self.idle.get() },
        })
    }

    /// A new connection: HTTP/1.1's, or `None` when a TLS server chose
    /// HTTP/2 (from then on every request multiplexes; the connection joins
    /// the shared ones).
    async fn dial(&self) -> Result<Option<H1>, TransportError> {
        // Boxed: a connection is dialled rarely, and its future (the TLS
        // handshake's) would otherwise size every request's.
        match Box::pin(self.dialer.dial()).await? {
            Made::H1(c) => Ok(Some(c)),
            Made::H2(c) => {
                self.h2_known.store(true, Ordering::Relaxed);
                self.h2.get().lock().await.push(H2Conn::new(c, 0));
                Ok(None)
            }
        }
    }

    /// A POST of `body` to the base URL + `path`: origin-form with a `Host`
    /// header for HTTP/1.1, absolute for HTTP/2 (its `:authority`). The
    /// endpoints' URIs are made once (`Lean::uris`), not per request.
    fn request(&self, path: &str, body: Bytes, h2: bool) -> Result<Request<Full<Bytes>>, TransportError> {
        let made =
            self.uris.iter().find(|(p, ..)| *p == path).map(|(_, h1, h2_uri)| if h2 { h2_uri } else { h1 });
        let uri = match made {
            Some(u) => u.clone(),
            None => self.uri(path, h2).map_err(|e| TransportError::new(Failure::Connect, e))?,
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        *req.headers_mut() = if h2 { &self.headers } else { &self.headers_h1 }.clone();
        Ok(req)
    }

    /// The URI of `path`: origin-form, or absolute (`h2`).
    fn uri(&self, path: &str, h2: bool) -> Result<Uri, String> {
        let origin = if h2 { self.origin.as_str() } else { "" };
        format!("{origin}{}{path}", self.base_path).parse().map_err(|e| format!("{path:?}: {e}"))
    }

    /// An idle connection the server has not closed, if there is one.
    fn checkout(&self) -> Option<H1> {
        loop {
            let mut c = self.idle.get().lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if !c.closed_while_idle() {
                return Some(c);
            }
        }
    }

    async fn post_h2(
        &self,
        path: &str,
        body: Bytes,
        fresh: bool,
        resent: &mut u32,
    ) -> Result<Answer<'_>, TransportError> {
        let mut fresh = fresh;
        let mut refusals = 0;
        // The connection that refused the last try: not the one for the
        // next, even if its new limit is not yet published (`drive_h2`
        // publishes it after the poll in which the refusal arrived).
        let mut refused_on = None;
        loop {
            let conn = self.h2_stream(fresh, refused_on.take()).await?;
            // Made before anything can fail: it gives the stream back.
            let slot = StreamSlot(conn.streams.clone());
            let req = self.request(path, body.clone(), true)?;
            let mut sender = conn.sender;
            sender.ready().await.map_err(|e| TransportError::hyper(&e))?;
            match sender.send_request(req).await {
                Ok(resp) => {
                    let (head, incoming) = resp.into_parts();
                    let body = Body::H2 { incoming, _stream: slot };
                    let read_at = Some(conn.read_at);
                    return Ok(Answer { status: head.status, headers: head.headers, body, read_at });
                }
                // REFUSED_STREAM: the server processed none of it (RFC 9113,
                // 8.7), as when a new connection's first burst goes past a
                // limit its SETTINGS had not yet announced. Sent again, on a
                // connection with room (the limit is known by then), and
                // counted in the caller's `resent` at once, so a timeout that
                // drops this future keeps the count.
                Err(e) if refused_stream(&e) && refusals < 3 => {
                    refusals += 1;
                    *resent += 1;
                    fresh = false;
                    refused_on = Some(slot.0.clone());
                }
                Err(e) => return Err(TransportError::hyper(&e)),
            }
        }
    }

    /// A connection with a stream free (its count taken), opened if none
    /// has one; `fresh`: always a new one; never the one whose stream count
    /// is `avoid`.
    async fn h2_stream(
        &self,
        fresh: bool,
        avoid: Option<Arc<AtomicUsize>>,
    ) -> Result<H2Conn, TransportError> {
        let mut conns = self.h2.get().lock().await;
        conns.retain(|c| !c.sender.is_closed());
        let usable =
            |c: &&H2Conn| c.has_room() && !avoid.as_ref().is_some_and(|a| Arc::ptr_eq(a, &c.streams));
        if !fresh && let Some(c) = conns.iter().find(usable) {
            c.streams.fetch_add(1, Ordering::Relaxed);
            return Ok(c.clone());
        }
        // Opened under the lock: a burst of requests at the start shares the
        // first connection instead of each opening one.
        let made = match Box::pin(self.dialer.dial()).await? {
            Made::H2(c) => c,
            Made::H1(_) => {
                return Err(TransportError::new(
                    Failure::Connect,
                    "the server answered HTTP/1.1 where HTTP/2 was negotiated".into(),
                ));
            }
        };
        let c = H2Conn::new(made, 1);
        conns.push(c.clone());
        Ok(c)
    }
}

impl Answer<'_> {
    /// The body's next bytes; `None` at its end. An error: the connection
    /// broke mid-body.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, String>> {
        match &mut self.body {
            Body::H1 { incoming, conn, pool } => {
                let c = conn.as_mut()?;
                loop {
                    let frame = H1::beside(&mut c.driver, incoming.frame()).await;
                    match frame {
                        None => {
                            // Read to its end: the connection can serve again.
                            let c = conn.take()?;
                            if c.driver.is_some() {
                                pool.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                            }
                            return None;
                        }
                        Some(Err(e)) => {
                            *conn = None;
                            return Some(Err(error_chain(&e)));
                        }
                        Some(Ok(f)) => match f.into_data() {
                            Ok(data) => return Some(Ok(data)),
                            Err(_trailers) => continue,
                        },
                    }
                }
            }
            Body::H2 { incoming, .. } => loop {
                match incoming.frame().await? {
                    Err(e) => return Some(Err(error_chain(&e))),
                    Ok(f) => match f.into_data() {
                        Ok(data) => return Some(Ok(data)),
                        Err(_trailers) => continue,
                    },
                }
            },
            Body::Proxied(resp) => resp.chunk().await.map_err(|e| error_chain(&e)).transpose(),
        }
    }

    /// When the bytes last returned (or the head) arrived: when the last
    /// segment of the connection's last read that brought any reached the
    /// socket, never later than now (`connect::ReadAt`, `stamped`); now
    /// through a proxy.
    pub fn arrived(&self) -> Instant {
        let now = Instant::now();
        self.read_at.as_ref().map_or(now, |r| r.get(now))
    }

    /// The whole body, or the error that cut it.
    pub async fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let mut all = Vec::new();
        while let Some(c) = self.chunk().await {
            all.extend_from_slice(&c?);
        }
        Ok(all)
    }

    /// Done with the answer before its end (a stream's `[DONE]`): reads what
    /// is left for at most `within`, so an HTTP/1.1 connection whose body
    /// ends right after can serve again; otherwise it is closed.
    pub async fn release(mut self, within: Duration) {
        if matches!(self.body, Body::H1 { conn: Some(_), .. }) {
            let drain = async { while let Some(Ok(_)) = self.chunk().await {} };
            let _ = tokio::time::timeout(within, drain).await;
        }
    }
}

/// An HTTP/2 stream the server refused before processing it.
fn refused_stream(e: &hyper::Error) -> bool {
    cause::<h2::Error>(e).is_some_and(|h2| h2.reason() == Some(h2::Reason::REFUSED_STREAM))
}

/// Whether a proxy is configured in the environment (reqwest reads the same
/// variables, and `NO_PROXY`, to route).
fn proxy_configured() -> bool {
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

//! The request path's connections, seen from the server's side: a proxy in
//! front of `llmload mock` counts the connections llmload makes and, with
//! TLS, terminates it (the test CA's certificate, ALPN as the test chooses)
//! and records the protocol negotiated.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::util::{run_alone, start_mock};

/// What the proxy saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    /// The ALPN protocol of each TLS connection ("none" without one).
    protocols: Mutex<Vec<String>>,
}

/// A proxy to `target` (host:port) on 127.0.0.1:0; with `alpn`, TLS for
/// `localhost` offering those protocols. Returns its port and what it saw.
async fn proxy(target: String, alpn: Option<&[&str]>) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let tls = alpn.map(|protocols| tokio_rustls::TlsAcceptor::from(Arc::new(server_config(protocols))));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            log.connections.fetch_add(1, Ordering::Relaxed);
            let (tls, log, target) = (tls.clone(), log.clone(), target.clone());
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&target).await else { return };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                match tls {
                    None => {
                        let mut client = client;
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    Some(acceptor) => {
                        // A client that refuses the certificate ends here.
                        let Ok(mut client) = acceptor.accept(client).await else { return };
                        let alpn = client
                            .get_ref()
                            .1
                            .alpn_protocol()
                            .map(|p| String::from_utf8_lossy(p).into_owned());
                        log.protocols.lock().unwrap().push(alpn.unwrap_or_else(|| "none".into()));
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn server_config(alpn: &[&str]) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/");
    let certs: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(format!("{data}server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(format!("{data}server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config
}

/// A simulator answering after 20 ms then every 2 ms; its host:port.
fn simulator() -> (crate::util::Killed, String) {
    let (_d, profile) = crate::util::scenario_file("ttft = \"20ms\"\nitl = \"2ms\"\njitter = 0\n");
    let (mock, url) = start_mock(&["--config", profile.to_str().unwrap()]);
    let hostport = url.trim_start_matches("http://").trim_end_matches("/v1").to_owned();
    (mock, hostport)
}

/// Users × requests, a streamed and a whole-answer variant mixed, against
/// `base_url`; `extra` goes into [target].
fn scenario(base_url: &str, extra: &str, users: u32, requests: u32) -> String {
    format!(
        r#"name = "connections"
[target]
kind = "openai"
base_url = "{base_url}"
api_key_env = ""
{extra}
[load]
concurrency = {users}
requests = {requests}
[[variant]]
name = "streamed"
endpoint = "chat"
model = "sim-small"
max_tokens = 6
stream = true
prompt_tokens = 8
[[variant]]
name = "whole"
endpoint = "completions"
model = "sim-small"
max_tokens = 6
stream = false
prompt_tokens = 8
"#
    )
}

fn ok(outcome: &llmload::RunOutcome) -> u64 {
    let r = &outcome.summary.total.requests;
    assert_eq!(r.errors, 0, "{:?}", outcome.summary.total.errors);
    r.ok
}

/// Each closed-loop user keeps one connection for the whole run, streamed
/// answers (read to `[DONE]`) and whole ones alike: as many connections as
/// users, never one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_keeps_its_connection() {
    let (_mock, sim) = simulator();
    let (port, seen) = proxy(sim, None).await;
    let url = format!("http://127.0.0.1:{port}/v1");
    let (_dir, outcome) = run_alone(&scenario(&url, "", 3, 90)).await;
    assert_eq!(ok(&outcome), 90);
    assert_eq!(seen.connections.load(Ordering::Relaxed), 3, "one connection per user");
}

/// Over https:// the server is verified against the system's roots plus the
/// scenario's `ca_file`: without it the test CA is unknown and no request is
/// sent (each a `connect` error naming why); with it, requests go over
/// HTTP/1.1 when that is all the server offers, and over one multiplexed
/// HTTP/2 connection when ALPN agrees on h2; `http = "2"` insists on h2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_ca_file_speaks_what_alpn_agrees() {
    let (_mock, sim) = simulator();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let with_ca = format!("ca_file = \"{ca}\"");

    let (port, seen) = proxy(sim.clone(), Some(&["http/1.1"])).await;
    let url = format!("https://localhost:{port}/v1");
    let (_dir, outcome) = run_alone(&scenario(&url, "", 2, 6)).await;
    let r = &outcome.summary.total.requests;
    assert_eq!((r.ok, r.errors), (0, 6));
    let errors = &outcome.summary.total.errors;
    assert!(
        errors
            .iter()
            .all(|e| e.class == "connect" && e.messages.iter().all(|m| m.message.contains("UnknownIssuer"))),
        "{errors:?}"
    );
    assert!(seen.protocols.lock().unwrap().is_empty(), "no handshake completed");

    let (port, seen) = proxy(sim.clone(), Some(&["http/1.1"])).await;
    let url = format!("https://localhost:{port}/v1");
    let (_dir, outcome) = run_alone(&scenario(&url, &with_ca, 3, 60)).await;
    assert_eq!(ok(&outcome), 60);
    assert_eq!(seen.connections.load(Ordering::Relaxed), 3);
    assert_eq!(*seen.protocols.lock().unwrap(), ["http/1.1"; 3]);

    let (port, seen) = proxy(sim.clone(), Some(&["h2", "http/1.1"])).await;
    let url = format!("https://localhost:{port}/v1");
    let users = 4 * llmload::lanes::count() as u32;
    let (_dir, outcome) = run_alone(&scenario(&url, &with_ca, users, 20 * users)).await;
    assert_eq!(ok(&outcome), 20 * users as u64);
    // Each lane's 4 users share one HTTP/2 connection of that lane.
    let one_per_lane = vec!["h2"; llmload::lanes::count()];
    assert_eq!(*seen.protocols.lock().unwrap(), one_per_lane, "4 streams share each lane's connection");
    // The simulator's schedule is the truth: the first token 20 ms after
    // the request, whatever the protocol.
    let ttft = &crate::util::variant(&outcome.summary, "streamed").ttft_ms;
    assert!(ttft.p50.unwrap() >= 20.0 && ttft.p50.unwrap() < 40.0, "{ttft:?}");

    // `http = "2"` over TLS offers h2 alone: a server without it is refused
    // at the handshake, not spoken to in HTTP/1.1.
    let (port, seen) = proxy(sim, Some(&["http/1.1"])).await;
    let url = format!("https://localhost:{port}/v1");
    let h2_only = scenario(&url, &with_ca, 2, 4).replace("[load]\n", "[load]\nhttp = \"2\"\n");
    let (_dir, outcome) = run_alone(&h2_only).await;
    let r = &outcome.summary.total.requests;
    assert_eq!((r.ok, r.errors), (0, 4), "{:?}", outcome.summary.total.errors);
    assert!(
        outcome.summary.total.errors.iter().all(|e| e.class == "connect"),
        "{:?}",
        outcome.summary.total.errors
    );
    assert!(seen.protocols.lock().unwrap().is_empty(), "no handshake completed");
}

/// A remote target behind `HTTP_PROXY` is reached through the proxy, runs
/// included (here the simulator plays the proxy: it routes the absolute
/// URIs a proxy receives by their path).
#[test]
fn a_run_goes_through_the_proxy_the_environment_names() {
    let (_mock, url) = start_mock(&[]);
    let proxy = url.trim_end_matches("/v1").to_owned();
    let toml = scenario("http://llm.example.invalid/v1", "", 2, 10);
    let (dir, path) = crate::util::scenario_file(&toml);
    let o = crate::util::llmload()
        .env("HTTP_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args(["run", "-q", "--yes", "--out"])
        .arg(dir.path().join("out"))
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = crate::util::read_json(&dir.path().join("out/summary.json"));
    assert_eq!(summary["total"]["requests"]["ok"], 10, "{summary}");
}

/// 8 users per lane over HTTP/2 (each lane opens connections of its own),
/// each lane's sending `requests` one-token completions to `url`; `load`
/// goes into [load].
fn h2_scenario(url: &str, requests: usize, load: &str) -> String {
    let lanes = llmload::lanes::count();
    format!(
        r#"name = "h2-limit"
[target]
kind = "openai"
base_url = "{url}"
api_key_env = ""
[load]
concurrency = {users}
requests = {requests}
http = "2"
{load}
[[variant]]
name = "whole"
endpoint = "completions"
model = "m"
max_tokens = 1
stream = false
prompt_tokens = 8
"#,
        users = 8 * lanes,
        requests = requests * lanes,
    )
}

/// An HTTP/2 server that allows `limit` streams at once on a connection and
/// says so `late` (after a client's first burst, the streams past the limit
/// are refused, REFUSED_STREAM); each answer after `delay`. Its URL and a
/// count of the connections it accepted.
async fn h2_server(limit: u32, late: Duration, delay: Duration) -> (String, Arc<AtomicU64>) {
    use hyper::server::conn::http2;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            let service = hyper::service::service_fn(move |_req| async move {
                tokio::time::sleep(delay).await;
                let body = r#"{"choices":[{"index":0,"text":"hi","finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}"#;
                let resp = hyper::Response::builder()
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes())))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(resp)
            });
            tokio::spawn(async move {
                tokio::time::sleep(late).await;
                let serve = http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(limit)
                    .serve_connection(TokioIo::new(sock), service);
                let _ = serve.await;
            });
        }
    });
    (url, connections)
}

/// An HTTP/2 server that allows 4 streams at once per connection: once its
/// SETTINGS are known, llmload opens another connection rather than queue a
/// fifth stream inside the client, a wait the server never caused; streams
/// it refused before they were processed are sent again, not errors, and
/// counted as reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_beyond_the_servers_limit_go_to_another_connection() {
    let (url, connections) = h2_server(4, Duration::from_millis(50), Duration::from_millis(30)).await;
    let lanes = llmload::lanes::count() as u64;
    // Each lane's burst of 8 before the server's SETTINGS arrive: exactly 4
    // of it refused, each sent again once on the lane's second connection,
    // and counted (the round trip is in its latency).
    let (_dir, outcome) = run_alone(&h2_scenario(&url, 8, "")).await;
    assert_eq!(ok(&outcome), 8 * lanes);
    assert_eq!(outcome.summary.total.requests.reconnects, 4 * lanes, "{:?}", outcome.summary.notes);
    assert!(outcome.summary.notes.iter().any(|n| n.contains("HTTP/2 stream the server refused")));
    assert_eq!(connections.swap(0, Ordering::Relaxed), 2 * lanes);
    // The first burst as above; from then on each lane's 8 users need two
    // connections of 4.
    let (_dir, outcome) = run_alone(&h2_scenario(&url, 48, "")).await;
    assert_eq!(ok(&outcome), 48 * lanes);
    assert!(outcome.summary.total.requests.reconnects >= 4 * lanes);
    assert_eq!(connections.load(Ordering::Relaxed), 2 * lanes);
}

/// A lane's streams share one connection as long as the server allows
/// them all: 150 at once on each lane against a limit of 1,000 take one
/// connection per lane, never one per hundred streams. (Users come over a
/// ramp: a burst before the server's SETTINGS arrive would be held to h2's
/// initial assumption of 100.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_share_a_connection_up_to_the_servers_limit() {
    let (url, connections) = h2_server(1000, Duration::ZERO, Duration::from_millis(300)).await;
    let lanes = llmload::lanes::count();
    let toml = h2_scenario(&url, 300, "ramp_up = \"200ms\"")
        .replace(&format!("concurrency = {}", 8 * lanes), &format!("concurrency = {}", 150 * lanes));
    let (_dir, outcome) = run_alone(&toml).await;
    assert_eq!(ok(&outcome), 300 * lanes as u64);
    assert_eq!(outcome.summary.total.requests.reconnects, 0);
    assert_eq!(connections.load(Ordering::Relaxed), lanes as u64);
}

/// Bytes are timed by the connection's read that brought them, not by when
/// the request's task got to them; on a kept-alive connection (HTTP/1.1,
/// each user's own) or a shared one (HTTP/2), that is never a read made for
/// an earlier answer. The simulator's schedule is the truth: the first
/// token 20 ms after the request and five more 2 ms apart, row by row never
/// sooner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_answer_is_timed_by_the_reads_of_its_own_bytes() {
    let _alone = crate::util::CPU_HEAVY.write().await;
    let (_mock, sim) = simulator();
    let url = format!("http://{sim}/v1");
    for http in ["1.1", "2"] {
        let toml = scenario(&url, "", 4, 120).replace("[load]\n", &format!("[load]\nhttp = \"{http}\"\n"));
        let (_dir, outcome) = run_alone(&toml).await;
        assert_eq!(ok(&outcome), 120, "http {http}");
        let mut rdr = csv::Reader::from_path(outcome.dir.join("requests.csv")).unwrap();
        let headers = rdr.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (mut rows, mut late) = (0, Vec::new());
        for r in rdr.records().map(Result::unwrap) {
            let num = |c: &str| r[col(c)].parse::<f64>().unwrap();
            let q = num("queue_delay_ms");
            let e2e = num("e2e_ms") - q;
            // The first bytes (TTFT; a whole answer's only ones) and the last.
            let (first, first_due) = match &r[col("variant")] {
                "streamed" => (num("ttft_ms") - q, 20.0),
                _ => (e2e, 30.0),
            };
            assert!(first >= first_due && e2e >= 30.0, "http {http}: sooner than the schedule: {r:?}");
            if first > first_due + 10.0 || e2e > 40.0 {
                late.push(format!("{r:?}"));
            }
            rows += 1;
        }
        crate::util::few_late(&format!("http {http}"), &late, rows);
    }
}

/// Streams the server refused and llmload sent again are counted even when
/// the request then ends in a timeout, which drops the attempt: the
/// re-sends are what its latency was spent on. 8 at once against a late
/// limit of 4 on each lane's connection, answers that never come within the
/// first-byte timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_streams_are_counted_when_a_timeout_ends_the_request() {
    let (url, connections) = h2_server(4, Duration::from_millis(50), Duration::from_secs(30)).await;
    let timeouts = "timeout = \"5s\"\nfirst_byte_timeout = \"400ms\"\n";
    let toml = h2_scenario(&url, 8, timeouts);
    let (_dir, outcome) = run_alone(&toml).await;
    let lanes = llmload::lanes::count() as u64;
    let r = &outcome.summary.total.requests;
    assert_eq!((r.ok, r.errors), (0, 8 * lanes));
    assert!(
        outcome.summary.total.errors.iter().all(|e| e.class == "first_byte_timeout"),
        "{:?}",
        outcome.summary.total.errors
    );
    assert_eq!(r.reconnects, 4 * lanes, "each lane's 4 refused, each sent again once");
    assert_eq!(connections.load(Ordering::Relaxed), 2 * lanes);
}

//! The simulator seen from a client, over HTTP: response shapes, the timing of streamed
//! tokens measured on the client side, choices and stops, admission (keys, rate limits,
//! capacity), faults, malformed requests, and hostile or random input. One test binary,
//! one module per subject; this file holds what they share.

mod admission;
mod basics;
mod choices;
mod errors;
mod faults;
mod malformed;

use std::time::Duration;

use futures_util::StreamExt;
use llmload_mock::{ModelProfile, SimConfig, serve};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub struct Server {
    pub base: String,
    // Built up front: building one loads the system's root certificates, tens of
    // milliseconds that must not land inside a timed request.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: SimConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        Self { base, client: client(), stop: Some(stop), task }
    }

    pub async fn with_profile(ttft_ms: u64, itl_ms: u64) -> Self {
        Self::start(config(profile(ttft_ms, itl_ms, 0.0), 0)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(&body).send().await.expect("send")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("join").expect("serve");
    }
}

pub fn profile(ttft_ms: u64, itl_ms: u64, jitter: f64) -> ModelProfile {
    ModelProfile {
        ttft: Duration::from_millis(ttft_ms),
        itl: Duration::from_millis(itl_ms),
        jitter,
        ..ModelProfile::default()
    }
}

pub fn config(default_profile: ModelProfile, seed: u64) -> SimConfig {
    SimConfig { default_profile, seed, ..SimConfig::default() }
}

pub fn client() -> reqwest::Client {
    // Already installed by another test: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().expect("client")
}

/// Tests whose assertions are about time take turns, so that they do not slow each
/// other down on a 2-core machine.
pub static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One SSE event's data and when the client had it.
pub struct Event {
    pub at: Instant,
    pub data: String,
}

/// Reads a whole SSE response, timestamping each event as soon as its bytes arrive.
pub async fn events(response: reqwest::Response) -> Vec<Event> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert_eq!(content_type, "text/event-stream");
    let mut body = response.bytes_stream();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let at = Instant::now();
        buf.extend_from_slice(&chunk.expect("body chunk"));
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8(event).expect("utf-8");
            let data = text.trim_end().strip_prefix("data: ").expect("a data line").to_owned();
            out.push(Event { at, data });
        }
    }
    assert!(buf.is_empty(), "trailing bytes: {buf:?}");
    out
}

pub fn json_of(e: &Event) -> Value {
    serde_json::from_str(&e.data).expect("event JSON")
}

pub fn chat_body(max_tokens: u32, stream: bool, include_usage: bool) -> Value {
    let mut body = json!({
        "model": "sim-test",
        "messages": [{"role": "user", "content": "one two three four"}],
        "max_tokens": max_tokens,
        "stream": stream,
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Timing measured on a machine that may be busy (2 cores, perhaps a build running):
/// a timing miss is retried on a fresh server, a shape error fails at once. A real
/// regression, such as relative sleeps drifting, misses every attempt.
pub const TIMING_ATTEMPTS: usize = 3;

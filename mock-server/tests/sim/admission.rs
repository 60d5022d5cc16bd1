//! Who gets in and when: API keys, the organization header, rate limits with the API's
//! headers, and capacity (the queue and the batch) making latency turn at a knee.

use std::collections::BTreeMap;

use llmload_mock::RateLimits;
use serde_json::{Value, json};

use super::*;

fn keyed(server: &Server, path: &str, key: Option<&str>, body: Value) -> reqwest::RequestBuilder {
    let request = server.client.post(server.url(path)).json(&body);
    match key {
        Some(k) => request.bearer_auth(k),
        None => request,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_enforced_when_configured() {
    let mut cfg = config(profile(1, 1, 0.0), 0);
    cfg.api_keys = vec!["sk-good-key-0123456789".into()];
    let server = Server::start(cfg).await;
    for (key, status) in
        [(None, 401), (Some("sk-wrong-key-0123456789"), 401), (Some("sk-good-key-0123456789"), 200)]
    {
        let response =
            keyed(&server, "/chat/completions", key, chat_body(2, false, false)).send().await.expect("send");
        assert_eq!(response.status(), status, "{key:?}");
        if status == 401 {
            let v: Value = response.json().await.expect("json");
            assert_eq!(v["error"]["code"], "invalid_api_key");
            assert_eq!(v["error"]["type"], "invalid_request_error");
            // The wrong key is shown only in part.
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.contains("sk-wrong-key-0123456789"), "{message}");
        }
    }
    let models = server.client.get(server.url("/models")).send().await.expect("send");
    assert_eq!(models.status(), 401);
    let health =
        server.client.get(server.url("/health").replace("/v1/health", "/health")).send().await.expect("send");
    assert_eq!(health.status(), 200);
    server.stop().await;

    // Without keys configured, any key or none is accepted.
    let server = Server::with_profile(1, 1).await;
    for key in [None, Some("anything")] {
        let response =
            keyed(&server, "/chat/completions", key, chat_body(2, false, false)).send().await.expect("send");
        assert_eq!(response.status(), 200);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_is_echoed_and_requests_have_ids() {
    let server = Server::with_profile(1, 1).await;
    let response = server
        .client
        .post(server.url("/chat/completions"))
        .header("openai-organization", "org-test")
        .json(&chat_body(2, true, false))
        .send()
        .await
        .expect("send");
    assert_eq!(response.headers()["openai-organization"], "org-test");
    assert!(response.headers()["x-request-id"].to_str().is_ok_and(|id| id.starts_with("req_")));
    let _ = response.bytes().await;
    let response = server.post("/chat/completions", chat_body(2, false, false)).await;
    assert!(response.headers().get("openai-organization").is_none());
    server.stop().await;
}

const RATE_HEADERS: [&str; 6] = [
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
];

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_the_api_headers() {
    let mut p = profile(1, 1, 0.0);
    p.rate_limits = RateLimits { requests_per_minute: Some(3), tokens_per_minute: Some(1000) };
    let server = Server::start(config(p, 0)).await;
    // 4 prompt tokens + 10 × 1: 14 tokens each.
    for i in 0..3u64 {
        let r = keyed(&server, "/chat/completions", Some("k1"), chat_body(10, false, false))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        // Sent on successes too, as the real API does.
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), "3");
        assert_eq!(header(&r, "x-ratelimit-remaining-requests"), (2 - i).to_string());
        assert_eq!(header(&r, "x-ratelimit-limit-tokens"), "1000");
        let remaining: u64 = header(&r, "x-ratelimit-remaining-tokens").parse().expect("number");
        assert!(remaining <= 1000 - 14 * (i + 1), "{remaining}");
        assert!(r.headers().get("retry-after").is_none());
    }
    let r = keyed(&server, "/chat/completions", Some("k1"), chat_body(10, false, false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 429);
    for name in RATE_HEADERS {
        header(&r, name);
    }
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "0");
    // One request comes back every 20 s.
    let retry: u64 = header(&r, "retry-after").parse().expect("seconds");
    assert!((19..=20).contains(&retry), "{retry}");
    assert!(header(&r, "x-ratelimit-reset-requests").ends_with('s'));
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");

    // Tokens: another key has its own buckets; 4 + 2000 tokens cannot fit in 1000.
    let r = keyed(&server, "/chat/completions", Some("k2"), chat_body(2000, false, false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.expect("json");
    assert_eq!((&v["error"]["code"], &v["error"]["type"]), (&json!("rate_limit_exceeded"), &json!("tokens")));
    // Estimated as the API does: prompt + max_tokens × max(n, best_of).
    let body = json!({"model": "m", "prompt": "a b c", "max_tokens": 100, "n": 2, "best_of": 4});
    let r = keyed(&server, "/completions", Some("k3"), body).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining-tokens"), (1000 - 3 - 400).to_string());
    server.stop().await;
}

/// Streams `requests` chat requests from `concurrency` closed-loop clients; returns
/// each request's TTFT (to the first content event) and its median inter-token gap.
async fn load(
    server: &Server,
    concurrency: usize,
    requests: usize,
    max_tokens: u32,
) -> (Vec<Duration>, Vec<Duration>) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next) = (server.client.clone(), server.url("/chat/completions"), next.clone());
        clients.spawn(async move {
            let mut out = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let response = client.post(&url).json(&chat_body(max_tokens, true, false)).send().await;
                let events = events(response.expect("send")).await;
                let content: Vec<&Event> =
                    events.iter().filter(|e| e.data.contains("\"content\":\" ")).collect();
                let gaps = content.windows(2).map(|w| w[1].at - w[0].at).collect();
                out.push((content[0].at - sent, median(gaps)));
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(done) = clients.join_next().await {
        all.extend(done.expect("client"));
    }
    all.into_iter().unzip()
}

/// At a fixed capacity, raising the load makes TTFT turn sharply (requests queue for a
/// slot) and the inter-token gap grow (a bigger batch per step).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_makes_a_knee() {
    let _turn = TIMING.lock().await;
    let mut p = profile(20, 4, 0.0);
    p.max_sequences = Some(4);
    p.itl_per_sequence = Duration::from_millis(2);
    let mut cfg = config(p, 0);
    cfg.models = BTreeMap::new();
    let server = Server::start(cfg).await;
    let (low_ttft, low_itl) = load(&server, 1, 6, 6).await;
    let (high_ttft, high_itl) = load(&server, 16, 32, 6).await;
    server.stop().await;
    let (low_ttft, high_ttft) = (median(low_ttft), median(high_ttft));
    let (low_itl, high_itl) = (median(low_itl), median(high_itl));
    eprintln!("ttft p50 {low_ttft:?} -> {high_ttft:?}, itl p50 {low_itl:?} -> {high_itl:?}");
    assert!(high_ttft >= low_ttft * 3, "ttft p50 {low_ttft:?} at 1 client, {high_ttft:?} at 16");
    // 4 ms alone; 4 + 3 × 2 = 10 ms with a full batch of 4.
    assert!(high_itl * 10 >= low_itl * 18, "itl p50 {low_itl:?} at 1 client, {high_itl:?} at 16");
}

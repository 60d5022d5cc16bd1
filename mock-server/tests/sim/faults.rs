//! Injected faults: seeded, so a run of N requests gets the same faults every time, and
//! each is something a client can tell apart.

use llmload_mock::Faults;
use serde_json::Value;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ok,
    Slow,
    Http500,
    Http503,
    /// No response at all: the connection was reset before the headers.
    Reset,
    /// A 200 whose stream ended without `[DONE]`.
    Cut,
}

const SLOW: Duration = Duration::from_millis(40);

async fn classify(client: &reqwest::Client, url: &str) -> Outcome {
    let sent = Instant::now();
    let Ok(response) = client.post(url).json(&chat_body(3, true, false)).send().await else {
        return Outcome::Reset;
    };
    let headers_after = sent.elapsed();
    match response.status().as_u16() {
        500 | 503 => {
            let v: Value = response.json().await.expect("error JSON");
            assert_eq!(v["error"]["type"], "server_error");
            return if v.to_string().contains("overloaded") { Outcome::Http503 } else { Outcome::Http500 };
        }
        200 => {}
        other => panic!("unexpected status {other}"),
    }
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(_) => return Outcome::Cut,
    };
    if !body.ends_with(b"data: [DONE]\n\n") {
        return Outcome::Cut;
    }
    if headers_after >= SLOW { Outcome::Slow } else { Outcome::Ok }
}

/// 1% of each of five faults: 5% of 2,000 requests fail, each in a way the client can
/// classify, and every kind occurs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_faults_give_four_to_six_percent_errors() {
    let mut p = profile(0, 0, 0.0);
    p.faults = Faults {
        http_500: 0.01,
        http_503: 0.01,
        reset: 0.01,
        cut: 0.01,
        slow_headers: 0.01,
        slow_headers_delay: SLOW,
        ..Faults::default()
    };
    let server = Server::start(config(p, 7)).await;
    const REQUESTS: usize = 2000;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, url, next) = (server.client.clone(), server.url("/chat/completions"), next.clone());
        clients.spawn(async move {
            let mut out = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
                out.push(classify(&client, &url).await);
            }
            out
        });
    }
    let mut counts = std::collections::BTreeMap::new();
    while let Some(done) = clients.join_next().await {
        for outcome in done.expect("client") {
            *counts.entry(outcome).or_insert(0usize) += 1;
        }
    }
    server.stop().await;
    eprintln!("{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), REQUESTS);
    let errors: usize =
        counts.iter().filter(|(o, _)| !matches!(o, Outcome::Ok | Outcome::Slow)).map(|(_, n)| n).sum();
    let faults = errors + counts.get(&Outcome::Slow).copied().unwrap_or(0);
    let rate = faults as f64 / REQUESTS as f64;
    assert!((0.04..=0.06).contains(&rate), "fault rate {rate}: {counts:?}");
    for kind in [Outcome::Slow, Outcome::Http500, Outcome::Http503, Outcome::Reset, Outcome::Cut] {
        assert!(counts.get(&kind).is_some_and(|&n| n >= 5), "too few {kind:?}: {counts:?}");
    }
}

/// A non-streaming response can be cut too: the client gets a truncated body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_whole_responses_are_truncated() {
    let mut p = profile(0, 0, 0.0);
    p.faults.cut = 1.0;
    let server = Server::start(config(p, 0)).await;
    let response = server.post("/chat/completions", chat_body(5, false, false)).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body should end early");
    let response = server.post("/chat/completions", chat_body(5, true, false)).await;
    let body = response.bytes().await;
    assert!(body.map_or(true, |b| !b.ends_with(b"[DONE]\n\n")), "the stream should end early");
    server.stop().await;
}

//! Routes, response shapes, and above all the timing of streamed tokens, measured on
//! the client side.

use std::time::Duration;

use futures_util::StreamExt;
use llmload_mock::serve;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;

/// The chunks of a chat stream, checked for shape; returns the content chunks' events.
pub fn check_chat_stream(events: &[Event], tokens: usize, include_usage: bool) -> Vec<&Event> {
    let expected = 1 + tokens + 1 + usize::from(include_usage) + 1;
    assert_eq!(events.len(), expected, "event count");
    assert_eq!(events[expected - 1].data, "[DONE]");
    let chunks: Vec<Value> = events[..expected - 1].iter().map(json_of).collect();
    let id = chunks[0]["id"].as_str().expect("id");
    assert!(id.starts_with("chatcmpl-"), "{id}");
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "sim-test");
        assert_eq!(c["system_fingerprint"], "fp_llmload_sim");
        assert!(c["created"].as_u64().is_some());
    }
    // With include_usage every chunk but the usage one carries "usage": null, as the real
    // API does; without it no chunk has the field.
    for c in &chunks[..tokens + 2] {
        let want = include_usage.then_some(&Value::Null);
        assert_eq!(c.get("usage"), want, "{c}");
    }
    let choice = |i: usize| &chunks[i]["choices"][0];
    assert_eq!(choice(0)["delta"], json!({"role": "assistant", "content": ""}));
    assert_eq!(choice(0)["finish_reason"], Value::Null);
    for i in 1..=tokens {
        let content = choice(i)["delta"]["content"].as_str().expect("content");
        assert!(content.starts_with(' ') && content.len() > 1, "{content:?}");
        assert_eq!(choice(i)["delta"].as_object().map(|o| o.len()), Some(1));
        assert_eq!(choice(i)["finish_reason"], Value::Null);
        assert_eq!(choice(i)["logprobs"], Value::Null);
    }
    let finish = choice(tokens + 1);
    assert_eq!(finish["delta"], json!({}));
    assert_eq!(finish["finish_reason"], "length");
    if include_usage {
        let last = &chunks[tokens + 2];
        assert_eq!(last["choices"], json!([]));
        let usage = json!({"prompt_tokens": 4, "completion_tokens": tokens, "total_tokens": 4 + tokens});
        assert_eq!(last["usage"], usage);
    }
    events[1..=tokens].iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_is_paced_by_absolute_deadlines() {
    let _turn = TIMING.lock().await;
    let mut misses = Vec::new();
    for _ in 0..TIMING_ATTEMPTS {
        match paced_chat_stream().await {
            Ok(()) => return,
            Err(miss) => misses.push(miss),
        }
    }
    panic!("timing missed on every attempt:\n{}", misses.join("\n"));
}

/// ttft 100 ms and itl 10 ms: the first content 100 ms ± 5 ms after sending, a median
/// gap of 10 ms ± 1 ms, and no drift by the last of 20 tokens.
async fn paced_chat_stream() -> Result<(), String> {
    let server = Server::with_profile(100, 10).await;
    // Open the connection first: what is measured is the simulator, not TCP setup.
    let warm = server.client.get(server.url("/models")).send().await;
    warm.expect("warm-up").bytes().await.expect("warm-up body");
    let sent = Instant::now();
    let response = server.post("/chat/completions", chat_body(20, true, true)).await;
    let events = events(response).await;
    let content = check_chat_stream(&events, 20, true);
    server.stop().await;

    let ttft = content[0].at - sent;
    let gaps: Vec<Duration> = content.windows(2).map(|w| w[1].at - w[0].at).collect();
    let gap = median(gaps.clone());
    // Absolute deadlines: the last token is not late by the sum of every wake-up delay.
    let last = content[19].at - sent;
    let measured = format!("ttft {ttft:?}, median gap {gap:?}, last {last:?}; gaps {gaps:?}");
    eprintln!("{measured}");
    let on_time = (95.0..=105.0).contains(&ms(ttft))
        && (9.0..=11.0).contains(&ms(gap))
        && (285.0..=298.0).contains(&ms(last));
    if on_time { Ok(()) } else { Err(measured) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_without_usage_has_no_usage_field() {
    let server = Server::with_profile(5, 1).await;
    let response = server.post("/chat/completions", chat_body(5, true, false)).await;
    let events = events(response).await;
    check_chat_stream(&events, 5, false);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_http2_too() {
    let server = Server::with_profile(5, 1).await;
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().expect("client");
    let response = h2.post(server.url("/chat/completions")).json(&chat_body(4, true, true)).send().await;
    let response = response.expect("send");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    check_chat_stream(&events(response).await, 4, true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_stream_shape() {
    let server = Server::with_profile(5, 1).await;
    let body = json!({
        "model": "davinci-sim", "prompt": "a b c", "max_tokens": 3,
        "stream": true, "stream_options": {"include_usage": true},
    });
    let events = events(server.post("/completions", body).await).await;
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data.len(), 3 + 1 + 1 + 1, "{data:?}");
    assert_eq!(data[5], "[DONE]");
    let chunks: Vec<Value> = events[..5].iter().map(json_of).collect();
    for (i, c) in chunks.iter().enumerate() {
        assert!(c["id"].as_str().is_some_and(|id| id.starts_with("cmpl-")));
        assert_eq!(c["object"], "text_completion");
        assert_eq!(c["model"], "davinci-sim");
        assert!(c.get("system_fingerprint").is_none());
        if i < 4 {
            assert_eq!(c.get("usage"), Some(&Value::Null), "{c}");
        }
    }
    for c in &chunks[..3] {
        let choice = &c["choices"][0];
        assert!(choice["text"].as_str().is_some_and(|t| t.starts_with(' ')));
        assert_eq!(
            (&choice["index"], &choice["logprobs"], &choice["finish_reason"]),
            (&json!(0), &Value::Null, &Value::Null)
        );
    }
    assert_eq!(chunks[3]["choices"][0]["text"], "");
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(chunks[4]["usage"], json!({"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_responses_arrive_when_the_last_token_is_due() {
    let _turn = TIMING.lock().await;
    let server = Server::with_profile(50, 5).await;
    // ttft + (n-1) * itl = 50 + 9 * 5 = 95 ms.
    let sent = Instant::now();
    let response = server.post("/chat/completions", chat_body(10, false, false)).await;
    let v: Value = response.json().await.expect("json");
    let took = ms(sent.elapsed());
    assert!((94.0..=110.0).contains(&took), "chat took {took}ms, want ~95ms");
    assert!(v["id"].as_str().is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "sim-test");
    assert_eq!(v["system_fingerprint"], "fp_llmload_sim");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["finish_reason"], "length");
    let content = choice["message"]["content"].as_str().expect("content");
    assert_eq!(content.split_whitespace().count(), 10);
    assert_eq!(v["usage"], json!({"prompt_tokens": 4, "completion_tokens": 10, "total_tokens": 14}));

    let sent = Instant::now();
    let body = json!({"model": "m", "prompt": "say something", "max_tokens": 10});
    let v: Value = server.post("/completions", body).await.json().await.expect("json");
    let took = ms(sent.elapsed());
    assert!((94.0..=110.0).contains(&took), "completion took {took}ms, want ~95ms");
    assert_eq!(v["object"], "text_completion");
    let choice = &v["choices"][0];
    assert_eq!(choice["text"].as_str().map(|t| t.split_whitespace().count()), Some(10));
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(v["usage"], json!({"prompt_tokens": 2, "completion_tokens": 10, "total_tokens": 12}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_listed() {
    let server = Server::with_profile(1, 1).await;
    let v: Value =
        server.client.get(server.url("/models")).send().await.expect("send").json().await.expect("json");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "sim-default");
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "llmload-sim");
    assert!(v["data"][0]["created"].as_u64().is_some());
    server.stop().await;

    let mut cfg = config(profile(1, 1, 0.0), 0);
    cfg.models.insert("fast".into(), profile(1, 1, 0.0));
    cfg.models.insert("slow".into(), profile(100, 50, 0.0));
    let server = Server::start(cfg).await;
    let v: Value =
        server.client.get(server.url("/models")).send().await.expect("send").json().await.expect("json");
    let ids: Vec<&str> =
        v["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["fast", "slow"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_model_gets_its_own_profile() {
    let _turn = TIMING.lock().await;
    let mut cfg = config(profile(200, 50, 0.0), 0);
    cfg.models.insert("fast".into(), profile(10, 1, 0.0));
    let server = Server::start(cfg).await;
    let sent = Instant::now();
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3});
    assert_eq!(server.post("/chat/completions", body).await.status(), 200);
    let took = ms(sent.elapsed());
    assert!(took < 50.0, "took {took}ms, want ~12ms");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_is_deterministic_for_a_seed() {
    let _turn = TIMING.lock().await;
    async fn first_text(seed: u64) -> (String, Vec<Duration>) {
        let server = Server::start(config(profile(5, 3, 0.5), seed)).await;
        let events = events(server.post("/chat/completions", chat_body(30, true, false)).await).await;
        let content = check_chat_stream(&events, 30, false);
        let text: String = content
            .iter()
            .map(|e| json_of(e)["choices"][0]["delta"]["content"].as_str().unwrap_or("").to_owned())
            .collect();
        let gaps = content.windows(2).map(|w| w[1].at - w[0].at).collect();
        server.stop().await;
        (text, gaps)
    }
    let (a, gaps) = first_text(11).await;
    let (b, _) = first_text(11).await;
    let (c, _) = first_text(12).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    // With jitter 0.5 on 3 ms, gaps spread from 0 to ~6 ms rather than sitting at 3 ms.
    let (lo, hi) = (gaps.iter().min(), gaps.iter().max());
    assert!(
        lo.zip(hi).is_some_and(|(lo, hi)| *hi - *lo >= Duration::from_millis(2)),
        "gaps do not vary: {gaps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_long_streams_instead_of_hanging() {
    let server = Server::with_profile(1, 1000).await;
    let response = server.post("/chat/completions", chat_body(100, true, false)).await;
    let mut body = response.bytes_stream();
    // The role chunk and the first token.
    let first = body.next().await.expect("a chunk").expect("bytes");
    assert!(first.starts_with(b"data: "));
    let stopping = Instant::now();
    server.stop().await;
    let took = stopping.elapsed();
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    let mut rest = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        rest.extend_from_slice(&chunk);
    }
    assert!(!String::from_utf8_lossy(&rest).contains("[DONE]"), "stream was not cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_rejects_invalid_profiles() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let e = serve(listener, config(profile(1, 1, f64::NAN), 0), async {}).await.expect_err("NaN jitter");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

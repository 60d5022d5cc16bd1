//! What a request generates: `n` choices (streamed interleaved), `best_of`, prompt
//! arrays, stop sequences and natural lengths, and the usage that bills them.

use std::collections::BTreeMap;

use llmload_mock::OutputLength;
use serde_json::{Value, json};

use super::*;

fn content_of(chunk: &Value) -> Option<&str> {
    chunk["choices"][0]["delta"]["content"].as_str().or(chunk["choices"][0]["text"].as_str())
}

/// Per choice index: its text, its finish reason, and how many chunks carried text.
fn collect(chunks: &[Value]) -> BTreeMap<u64, (String, String, usize)> {
    let mut out: BTreeMap<u64, (String, String, usize)> = BTreeMap::new();
    for c in chunks {
        let Some(choices) = c["choices"].as_array() else { continue };
        assert!(choices.len() <= 1, "one choice per chunk, as the API sends: {c}");
        let Some(choice) = choices.first() else { continue };
        let entry = out.entry(choice["index"].as_u64().expect("index")).or_default();
        if let Some(text) = content_of(c).filter(|t| !t.is_empty()) {
            entry.0.push_str(text);
            entry.2 += 1;
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            assert!(entry.1.is_empty(), "finished twice: {c}");
            entry.1 = reason.to_owned();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_with_n_returns_n_different_choices_and_bills_them_all() {
    let server = Server::with_profile(1, 1).await;
    let mut body = chat_body(6, false, false);
    body["n"] = json!(3);
    let v: Value = server.post("/chat/completions", body).await.json().await.expect("json");
    let choices = v["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 3);
    let texts: Vec<&str> = choices.iter().filter_map(|c| c["message"]["content"].as_str()).collect();
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["finish_reason"], "length");
        assert_eq!(c["message"]["role"], "assistant");
        assert_eq!(texts[i].split_whitespace().count(), 6);
    }
    assert!(texts[0] != texts[1] && texts[1] != texts[2], "{texts:?}");
    assert_eq!(v["usage"], json!({"prompt_tokens": 4, "completion_tokens": 18, "total_tokens": 22}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_choices_are_interleaved_with_their_index() {
    let server = Server::with_profile(1, 1).await;
    let mut body = chat_body(5, true, true);
    body["n"] = json!(2);
    let events = events(server.post("/chat/completions", body).await).await;
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(json_of).collect();
    // Both role chunks first, then content alternating 0, 1, 0, 1, ...
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        (&chunks[0]["choices"][0]["index"], &chunks[1]["choices"][0]["index"]),
        (&json!(0), &json!(1))
    );
    let content_indexes: Vec<u64> = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["content"].as_str().is_some_and(|t| !t.is_empty()))
        .filter_map(|c| c["choices"][0]["index"].as_u64())
        .collect();
    assert_eq!(content_indexes, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    let per_choice = collect(&chunks);
    assert_eq!(per_choice.len(), 2);
    for (text, reason, pieces) in per_choice.values() {
        assert_eq!((text.split_whitespace().count(), reason.as_str(), *pieces), (5, "length", 5));
    }
    let usage = &chunks.last().expect("usage chunk")["usage"];
    assert_eq!(usage, &json!({"prompt_tokens": 4, "completion_tokens": 10, "total_tokens": 14}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_arrays_index_choices_prompt_major_and_sum_usage() {
    let server = Server::with_profile(1, 1).await;
    let body = json!({
        "model": "m", "prompt": ["a b", "c", "d e f"], "n": 2, "max_tokens": 3,
        "stream": true, "stream_options": {"include_usage": true},
    });
    let events = events(server.post("/completions", body).await).await;
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(json_of).collect();
    let per_choice = collect(&chunks);
    assert_eq!(per_choice.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    assert!(
        per_choice
            .values()
            .all(|(text, reason, _)| text.split_whitespace().count() == 3 && reason == "length")
    );
    let usage = &chunks.last().expect("usage")["usage"];
    assert_eq!(usage, &json!({"prompt_tokens": 6, "completion_tokens": 18, "total_tokens": 24}));

    // Not streamed, with best_of: 2 prompts × best_of 3 generated, 2 × n 1 returned.
    let body = json!({"model": "m", "prompt": ["a b", "c"], "best_of": 3, "max_tokens": 4});
    let v: Value = server.post("/completions", body).await.json().await.expect("json");
    let choices = v["choices"].as_array().expect("choices");
    assert_eq!(choices.iter().map(|c| c["index"].as_u64()).collect::<Vec<_>>(), [Some(0), Some(1)]);
    assert_eq!(v["usage"], json!({"prompt_tokens": 3, "completion_tokens": 24, "total_tokens": 27}));
    server.stop().await;
}

/// A stop string found in the (seeded, hence known) text ends generation there: the
/// text stops before it, finish_reason is "stop", usage counts what was generated, and
/// the response comes sooner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sequences_end_generation_and_save_time() {
    let _turn = TIMING.lock().await;
    let body = |stop: Option<&str>, stream: bool| {
        let mut b = json!({"model": "m", "prompt": "go", "max_tokens": 40, "stream": stream});
        if let Some(s) = stop {
            b["stop"] = json!([s, "never"]);
        }
        // Like the API, the simulator takes stream_options only on a stream.
        if stop.is_some() && stream {
            b["stream_options"] = json!({"include_usage": true});
        }
        b
    };
    // Same seed, first request of a fresh server: the same text every time.
    let server = Server::with_profile(5, 5).await;
    let sent = Instant::now();
    let full: Value = server.post("/completions", body(None, false)).await.json().await.expect("json");
    let full_took = sent.elapsed();
    server.stop().await;
    let text = full["choices"][0]["text"].as_str().expect("text").to_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    // Two words from the middle: a stop string that ends generation well before the end.
    let stop = format!(" {} {}", words[11], words[12]);
    let at = text.find(&stop).expect("the stop string is in the text");
    let tokens_to_stop = text[..at + stop.len()].split_whitespace().count();

    let server = Server::with_profile(5, 5).await;
    let sent = Instant::now();
    let cut: Value = server.post("/completions", body(Some(&stop), false)).await.json().await.expect("json");
    let cut_took = sent.elapsed();
    server.stop().await;
    assert_eq!(cut["choices"][0]["text"], json!(text[..at]));
    assert_eq!(cut["choices"][0]["finish_reason"], "stop");
    assert_eq!(cut["usage"]["completion_tokens"], tokens_to_stop);
    assert!(cut_took + Duration::from_millis(60) < full_took, "stop took {cut_took:?}, full {full_took:?}");

    let server = Server::with_profile(5, 5).await;
    let events = events(server.post("/completions", body(Some(&stop), true)).await).await;
    server.stop().await;
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(json_of).collect();
    let (streamed, reason, _) = collect(&chunks).remove(&0).expect("choice 0");
    assert_eq!((streamed.as_str(), reason.as_str()), (&text[..at], "stop"));
    assert_eq!(chunks.last().expect("usage")["usage"]["completion_tokens"], tokens_to_stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natural_length_ends_before_max_tokens() {
    let mut p = profile(1, 1, 0.0);
    p.output_length = OutputLength::Constant(5);
    let server = Server::start(config(p, 0)).await;
    let v: Value =
        server.post("/chat/completions", chat_body(20, false, false)).await.json().await.expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 5);
    let v: Value =
        server.post("/chat/completions", chat_body(3, false, false)).await.json().await.expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    server.stop().await;
}

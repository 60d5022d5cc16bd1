//! Hostile and random input: whatever a client sends, the simulator answers with a
//! status and the API's error JSON (or serves it, if it is valid), never panics, never
//! drops the connection, and keeps serving afterwards.

use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::*;

const JSON: &str = "application/json";

/// A malformed request, which gets a 400.
struct Case {
    what: String,
    path: &'static str,
    body: Vec<u8>,
    /// The parameter the API names; `Value::Null` where it names none.
    param: Value,
}

/// A request refused naming `param` (or none, for `""`).
fn bad(what: impl Into<String>, path: &'static str, body: impl Into<Vec<u8>>, param: &str) -> Case {
    let param = if param.is_empty() { Value::Null } else { json!(param) };
    Case { what: what.into(), path, body: body.into(), param }
}

/// A valid chat request but for `extra`.
fn chat_with(extra: &Value) -> Vec<u8> {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    body.to_string().into_bytes()
}

/// Posts `body` as JSON; the answer's status, content type and body. A dropped
/// connection fails the test.
async fn post_raw(client: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let response =
        client.post(url).header("content-type", JSON).body(body).send().await.expect("an answer, not a drop");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = response.bytes().await.expect("the whole body").to_vec();
    (status, content_type, body)
}

/// Checks the API's error shape; returns the `error` object.
fn api_error(what: &str, content_type: &str, body: &[u8]) -> Value {
    assert_eq!(content_type, JSON, "{what}");
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: error JSON: {e}"));
    let error = &v["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
    assert_eq!(error["type"], "invalid_request_error", "{what}: {v}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "{what}: {v}");
    error.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_the_api_errors_and_the_server_keeps_serving() {
    // A prefill cost that would make the 10 MB prompt below take over an hour, were
    // it generated rather than refused.
    let mut p = profile(1, 1, 0.0);
    p.ttft_per_prompt_token = Duration::from_millis(1);
    let server = Server::start(config(p, 0)).await;
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().expect("h2 client");

    // Valid chat requests but for one parameter, and the parameter the API names.
    let one_wrong = [
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"temperature": 3}), "temperature"),
        (json!({"max_tokens": "x"}), "max_tokens"),
        (json!({"max_tokens": 1_000_000_000_000_000u64}), "max_tokens"),
        (json!({"max_tokens": 1e30}), "max_tokens"),
        (json!({"max_completion_tokens": 0}), "max_completion_tokens"),
        (json!({"n": -1}), "n"),
        (json!({"n": 1_000_000}), "n"),
        (json!({"top_p": 2}), "top_p"),
        (json!({"presence_penalty": "high"}), "presence_penalty"),
        (json!({"frequency_penalty": -2.5}), "frequency_penalty"),
        (json!({"seed": "s"}), "seed"),
        (json!({"stream": "true"}), "stream"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
        (json!({"stop": {"a": 1}}), "stop"),
        (json!({"stream_options": {"include_usage": true}}), "stream_options"),
        (json!({"logit_bias": [1, 2]}), "logit_bias"),
        (json!({"model": ""}), "model"),
        (json!({"messages": "hi"}), "messages"),
        (json!({"messages": []}), "messages"),
        (json!({"messages": ["hi"]}), "messages[0]"),
        (json!({"messages": [{"role": "wizard", "content": "hi"}]}), "messages[0].role"),
        (json!({"messages": [{"role": "user", "content": 42}]}), "messages[0].content"),
    ];
    let mut cases: Vec<Case> = one_wrong
        .iter()
        .map(|(extra, param)| bad(extra.to_string(), "/chat/completions", chat_with(extra), param))
        .collect();
    cases.extend([
        bad("invalid JSON", "/chat/completions", r#"{"model": "m", "messages": ["#, ""),
        bad("a JSON array", "/chat/completions", r#"[{"model": "m"}]"#, ""),
        bad("a JSON string", "/completions", r#""hello""#, ""),
        bad("an empty body", "/completions", "", ""),
        bad("non-UTF-8 bytes", "/chat/completions", &b"{\"model\": \"m\xff\xfe\"}"[..], ""),
        bad("binary garbage", "/completions", &b"\x00\x9f\x92\x96\xc0\xaf"[..], ""),
        bad("no model", "/chat/completions", r#"{"messages": [{"role": "user"}]}"#, "model"),
        bad("no prompt", "/completions", r#"{"model": "m"}"#, "prompt"),
        bad("prompt an object", "/completions", r#"{"model": "m", "prompt": {"text": "hi"}}"#, "prompt"),
        bad(
            "3000 prompts",
            "/completions",
            json!({"model": "m", "prompt": vec!["a"; 3000]}).to_string(),
            "prompt",
        ),
        bad(
            "best_of on a stream",
            "/completions",
            r#"{"model": "m", "prompt": "x", "best_of": 3, "stream": true}"#,
            "best_of",
        ),
    ]);
    for Case { what, path, body, param } in cases {
        for (client, version) in [(&server.client, "HTTP/1.1"), (&h2, "HTTP/2")] {
            let what = format!("{what} over {version}");
            let (status, content_type, answer) = post_raw(client, &server.url(path), body.clone()).await;
            assert_eq!(status, 400, "{what}: {}", String::from_utf8_lossy(&answer));
            let error = api_error(&what, &content_type, &answer);
            assert_eq!(error["param"], param, "{what}: {error}");
        }
    }

    // Over the context window: refused from the token count, however long the prompt,
    // rather than generated (the 10 MB one would take over an hour).
    let words = "word ".repeat(2 << 20);
    let huge = json!({"model": "m", "messages": [{"role": "user", "content": words}], "max_tokens": 16});
    let long = json!({"model": "m", "prompt": "w ".repeat(8000), "max_tokens": 500});
    for (what, path, body, param, requested) in [
        (
            "a 10 MB prompt",
            "/chat/completions",
            huge,
            "messages",
            "you requested 2097168 tokens (2097152 in the messages, 16 in the completion)",
        ),
        (
            "a prompt just over",
            "/completions",
            long,
            "prompt",
            "you requested 8500 tokens (8000 in the prompt, 500 in the completion)",
        ),
    ] {
        for (client, version) in [(&server.client, "HTTP/1.1"), (&h2, "HTTP/2")] {
            let what = format!("{what} over {version}");
            let sent = Instant::now();
            let (status, content_type, answer) =
                post_raw(client, &server.url(path), body.to_string().into_bytes()).await;
            let took = sent.elapsed();
            assert_eq!(status, 400, "{what}");
            let error = api_error(&what, &content_type, &answer);
            assert_eq!((&error["param"], &error["code"]), (&json!(param), &json!("context_length_exceeded")));
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.starts_with("This model's maximum context length is 8192 tokens."), "{message}");
            assert!(message.contains(requested), "{message}");
            // Seconds at most, in a debug build on a busy machine; not an hour.
            assert!(took < Duration::from_secs(20), "{what}: took {took:?}");
        }
    }

    // Over the size limit, with a declared length and without (chunked, in 1 MiB
    // chunks that go on well past it): 413, which an HTTP/1 client still sending its
    // body gets to read rather than a broken pipe.
    for (client, version) in [(&server.client, "HTTP/1.1"), (&h2, "HTTP/2")] {
        let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1 << 20]));
        let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let declared = reqwest::Body::from(vec![b' '; 33 << 20]);
        for (body, form) in [(chunked, "chunked"), (declared, "declared")] {
            let what = format!("{form} body over the limit over {version}");
            let response = client
                .post(server.url("/chat/completions"))
                .body(body)
                .send()
                .await
                .expect("an answer, not a drop");
            assert_eq!(response.status(), 413, "{what}");
            let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
            let error = api_error(&what, &content_type, &response.bytes().await.expect("body"));
            assert_eq!(error["param"], Value::Null, "{what}");
        }
    }

    // And after all of that, a normal request is served.
    for stream in [false, true] {
        let response = server.post("/chat/completions", chat_body(3, stream, false)).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("the whole answer");
    }
    server.stop().await;
}

/// Parameter names the random bodies use, so that they reach the validation and not
/// only the JSON parser.
const PARAMS: [&str; 18] = [
    "model",
    "messages",
    "prompt",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "best_of",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logit_bias",
    "stop",
    "stream",
    "stream_options",
    "include_usage",
    "role",
];

/// A random JSON value, made of the values validation cares about: bounds and just
/// past them, wrong types, huge numbers, odd strings, nesting.
fn random_json(rng: &mut Xoshiro256PlusPlus, depth: u32) -> Value {
    const INTS: [i64; 12] = [-1, 0, 1, 2, 3, 20, 21, 128, 129, 1_000_000, i64::MAX, i64::MIN];
    const FLOATS: [f64; 7] = [0.5, -0.1, 2.5, 1e300, 3.0, -2.0, 1e15];
    const STRINGS: [&str; 9] = ["", "m", "hi there", "user", "system", "hot", "\u{0}", "é \" \\", "123"];
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.random_range(0..kinds) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(INTS[rng.random_range(0..INTS.len())]),
        3 => json!(FLOATS[rng.random_range(0..FLOATS.len())]),
        4 => json!(STRINGS[rng.random_range(0..STRINGS.len())]),
        5 => Value::Array((0..rng.random_range(0..5)).map(|_| random_json(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.random_range(0..5))
                .map(|_| {
                    let key = PARAMS[rng.random_range(0..PARAMS.len())];
                    let key = if key == "include_usage" || rng.random_bool(0.8) { key } else { "content" };
                    (key.to_owned(), random_json(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

/// A valid request with one parameter set to a random value (or removed), one of
/// random JSON, or random bytes.
fn random_body(rng: &mut Xoshiro256PlusPlus, chat: bool) -> Vec<u8> {
    let mut valid = if chat {
        json!({"model": "m", "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 4})
    } else {
        json!({"model": "m", "prompt": "a b", "max_tokens": 4})
    };
    match rng.random_range(0..10) {
        0 => (0..rng.random_range(0..64)).map(|_| rng.random::<u8>()).collect(),
        1 | 2 => random_json(rng, 3).to_string().into_bytes(),
        3 => {
            let key = PARAMS[rng.random_range(0..PARAMS.len())];
            valid.as_object_mut().expect("object").remove(key);
            valid.to_string().into_bytes()
        }
        4 if chat => {
            let key = ["role", "content", "name"][rng.random_range(0..3)];
            valid["messages"][0][key] = random_json(rng, 2);
            valid.to_string().into_bytes()
        }
        _ => {
            for _ in 0..rng.random_range(1..3) {
                let key = PARAMS[rng.random_range(0..PARAMS.len())];
                valid[key] = random_json(rng, 2);
            }
            let mut bytes = valid.to_string().into_bytes();
            // Now and then, a cut or a flipped byte.
            if rng.random_bool(0.1) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_bool(0.5) {
                    true => bytes.truncate(at),
                    false => bytes[at] = rng.random::<u8>(),
                }
            }
            bytes
        }
    }
}

/// Property: for any body, the answer is a 200 or a 4xx with the API's error JSON,
/// never a dropped connection; and the server serves normally afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_get_an_answer_or_an_api_error() {
    // Instant generation and a small context window, so that whatever random request
    // is valid is answered at once.
    let mut p = profile(0, 0, 0.0);
    p.context_window = 64;
    let server = Server::start(config(p, 0)).await;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_240_611);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..500 {
        let chat = rng.random_bool(0.5);
        let body = random_body(&mut rng, chat);
        let path = if chat { "/chat/completions" } else { "/completions" };
        let what = format!("body {i} to {path}: {}", String::from_utf8_lossy(&body));
        let (status, content_type, answer) = post_raw(&server.client, &server.url(path), body).await;
        *statuses.entry(status).or_insert(0) += 1;
        match status {
            200 if content_type == "text/event-stream" => {
                assert!(answer.ends_with(b"data: [DONE]\n\n"), "{what}");
            }
            200 => {
                let v: Value = serde_json::from_slice(&answer).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(v["choices"].as_array().is_some_and(|c| !c.is_empty()), "{what}: {v}");
            }
            400..=499 => {
                api_error(&what, &content_type, &answer);
            }
            other => panic!("{what}: status {other}"),
        }
    }
    eprintln!("statuses of 500 random bodies: {statuses:?}");
    // The mix reaches both sides of the validation.
    assert!(statuses.get(&200).is_some_and(|&n| n >= 25), "{statuses:?}");
    assert!(statuses.get(&400).is_some_and(|&n| n >= 100), "{statuses:?}");

    let response = server.post("/chat/completions", chat_body(3, true, true)).await;
    assert_eq!(events(response).await.last().map(|e| e.data.clone()), Some("[DONE]".to_owned()));
    server.stop().await;
}

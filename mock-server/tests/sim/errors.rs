//! Malformed requests: each kind gets the API's status and error JSON, never a panic
//! or a dropped connection.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Checks the error shape and returns the `error` object.
async fn error_of(response: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers().get("content-type").cloned();
    assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some("application/json"), "{what}");
    let v: Value = response.json().await.expect("error JSON");
    let error = v["error"].clone();
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
    assert!(error["type"].as_str().is_some(), "{what}: {v}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "{what}: {v}");
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_malformed_request_gets_its_status_and_error() {
    let mut cfg = config(profile(1, 1, 0.0), 0);
    cfg.models = BTreeMap::from([("known".to_owned(), profile(1, 1, 0.0))]);
    cfg.serve_any_model = false;
    let server = Server::start(cfg).await;
    // (path, body, status, param, code)
    let cases: &[(&str, &str, u16, Value, Value)] = &[
        ("/chat/completions", "{not json", 400, Value::Null, Value::Null),
        ("/completions", "[1, 2]", 400, Value::Null, json!("invalid_type")),
        (
            "/completions",
            r#"{"model": "known", "prompt": "x", "n": "two"}"#,
            400,
            json!("n"),
            json!("invalid_type"),
        ),
        ("/chat/completions", r#"{"messages": []}"#, 400, json!("model"), Value::Null),
        ("/completions", r#"{"prompt": "hi"}"#, 400, json!("model"), Value::Null),
        (
            "/chat/completions",
            r#"{"model": "known"}"#,
            400,
            json!("messages"),
            json!("missing_required_parameter"),
        ),
        (
            "/chat/completions",
            r#"{"model": "nope", "messages": [{"role": "user", "content": "hi"}]}"#,
            404,
            Value::Null,
            json!("model_not_found"),
        ),
        ("/completions", r#"{"model": "nope", "prompt": "x"}"#, 404, Value::Null, json!("model_not_found")),
        (
            "/completions",
            r#"{"model": "known", "prompt": "x", "max_tokens": 0}"#,
            400,
            json!("max_tokens"),
            json!("integer_below_min_value"),
        ),
        (
            "/chat/completions",
            r#"{"model": "known", "messages": [{"role": "user"}], "max_completion_tokens": -1}"#,
            400,
            json!("max_completion_tokens"),
            json!("integer_below_min_value"),
        ),
        (
            "/chat/completions",
            r#"{"model": "known", "messages": [{"role": "user"}], "n": 0}"#,
            400,
            json!("n"),
            json!("integer_below_min_value"),
        ),
        (
            "/chat/completions",
            r#"{"model": "known", "messages": [{"role": "user"}], "n": 129}"#,
            400,
            json!("n"),
            json!("integer_above_max_value"),
        ),
        (
            "/completions",
            r#"{"model": "known", "prompt": "x", "n": 3, "best_of": 2}"#,
            400,
            json!("best_of"),
            json!("invalid_value"),
        ),
        (
            "/completions",
            r#"{"model": "known", "prompt": "x", "best_of": 2, "stream": true}"#,
            400,
            json!("best_of"),
            json!("invalid_value"),
        ),
        (
            "/completions",
            r#"{"model": "known", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]}"#,
            400,
            json!("stop"),
            json!("array_above_max_length"),
        ),
    ];
    for (path, body, status, param, code) in cases {
        let response = server
            .client
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(*body)
            .send()
            .await
            .expect("send");
        let error = error_of(response, *status, body).await;
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(&error["param"], param, "{body}");
        assert_eq!(&error["code"], code, "{body}");
    }

    let response = server.client.get(server.url("/nowhere")).send().await.expect("send");
    error_of(response, 404, "unknown route").await;
    let response = server.client.get(server.url("/chat/completions")).send().await.expect("send");
    let error = error_of(response, 405, "GET on a POST route").await;
    assert!(error["message"].as_str().is_some_and(|m| m.contains("GET /v1/chat/completions")));
    let response = server.client.delete(server.url("/models")).send().await.expect("send");
    error_of(response, 405, "DELETE on a GET route").await;
    server.stop().await;
}

/// 413 for a declared length over the limit, answered before any of the body is read.
/// Raw TCP: a client library would insist on sending the 33 MB first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_too_large_is_413() {
    let server = Server::with_profile(1, 1).await;
    let addr = server.base.trim_start_matches("http://").trim_end_matches("/v1").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{",
        33 << 20
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(9).any(|w| w == b"\"error\":{") || !answer.ends_with(b"}}") {
            let n = tcp.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    });
    read.await.expect("an answer in time");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("invalid_request_error"), "{text}");

    // A chunked body (no declared length) over the limit: the same, once it is read.
    let big = "x".repeat((32 << 20) + 10);
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(big.into_bytes())]);
    let response = server
        .client
        .post(server.url("/chat/completions"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("send");
    error_of(response, 413, "chunked").await;
    server.stop().await;
}

//! Opt-in: a real OpenAI-compatible server (README: "Against a real
//! server"). Set `LLMLOAD_REAL_SERVER_URL` to its base URL (e.g.
//! `http://127.0.0.1:8091/v1`, serving model `tiny-llama`); without it the
//! test prints that it was skipped and passes, so CI needs no server.
//!
//! One test, in order (the server generates one request at a time, so
//! parallel tests would only queue behind each other): `check` lists the
//! models, then the streaming and the non-streaming example scenarios run.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::util::{llmload, read_json};

const VAR: &str = "LLMLOAD_REAL_SERVER_URL";

fn llmload_at(url: &str, args: &[&str], scenario: &str) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(scenario);
    llmload()
        .env("OPENAI_BASE_URL", url)
        .env_remove("LLMLOAD_REAL_SERVER_KEY")
        .stdin(std::process::Stdio::null())
        .args(args)
        .arg(&path)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs a scenario; returns its summary.json.
fn run(url: &str, scenario: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = llmload_at(url, &["run", "-q", "--out", out.to_str().unwrap()], scenario);
    assert_eq!(o.status.code(), Some(0), "{scenario}: {}", text(&o));
    read_json(&out.join("summary.json"))
}

fn figures(s: &Value, name: &str) -> String {
    let v = s["variants"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap();
    format!(
        "{name}: ok {}/{}, ttft p50 {:.1} ms p99 {:.1} ms, e2e p50 {:.1} ms p99 {:.1} ms, output tokens {} (sources {})",
        v["requests"]["ok"],
        v["requests"]["sent"],
        v["ttft_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
        v["ttft_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
        v["e2e_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
        v["e2e_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
        v["output_tokens"],
        v["output_token_source"]
    )
}

#[test]
fn real_server_check_streaming_and_whole_runs() {
    let Some(url) = std::env::var(VAR).ok().filter(|u| !u.is_empty()) else {
        println!("skipped: set {VAR} to a real server's base URL (README: \"Against a real server\")");
        return;
    };

    // check: the server's models, and one token per variant.
    let o = llmload_at(&url, &["check"], "real-server-stream.toml");
    let out = text(&o);
    println!("{out}");
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ok    model \"tiny-llama\" is served"), "{out}");

    // Streaming: every request ok, TTFT measured, tokens counted locally
    // (the server ignores include_usage) and the notes say so.
    let s = run(&url, "real-server-stream.toml");
    let t = &s["total"];
    for name in ["chat-stream", "completions-stream"] {
        println!("{}", figures(&s, name));
    }
    assert_eq!(t["requests"]["ok"], 20, "{t}");
    assert!(t["ttft_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(t["ttft_ms"]["p99"].as_f64().unwrap() <= t["e2e_ms"]["p99"].as_f64().unwrap());
    assert_eq!(t["output_token_source"]["tiktoken"], 20, "no usage in any stream: {t}");
    let notes = s["notes"].to_string();
    assert!(
        notes.contains("20 ok requests had no usage from the server") && notes.contains("tiktoken"),
        "{notes}"
    );

    // Not streaming: usage from the server; n = 2 answered with one choice;
    // a prompt array is a per-request HTTP 500 and the run goes on.
    let s = run(&url, "real-server-whole.toml");
    for name in ["chat-whole", "completions-n2", "completions-batch2"] {
        println!("{}", figures(&s, name));
    }
    println!("errors: {}", s["total"]["errors"]);
    let v =
        |name: &str| s["variants"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap().clone();
    assert_eq!(v("chat-whole")["requests"]["ok"], v("chat-whole")["requests"]["sent"]);
    assert_eq!(v("chat-whole")["output_token_source"]["usage"], v("chat-whole")["requests"]["ok"]);
    assert_eq!(v("completions-n2")["requests"]["errors"], 0);
    let batch = v("completions-batch2");
    assert_eq!(batch["requests"]["ok"], 0, "the server rejects prompt arrays: {batch}");
    assert_eq!(batch["errors"][0]["class"], "http_500", "{batch}");
    let notes = s["notes"].to_string();
    assert!(notes.contains("completions-n2:") && notes.contains("the server may ignore n"), "{notes}");
    assert!(notes.contains("may not accept a prompt array (batch = 2)"), "{notes}");
}

//! Against llama.cpp's llama-server, a real OpenAI-compatible server started
//! here on loopback with the tiny model of `shared/tools/real-server`:
//! token truth (its tokenizer.json given to llmload) and requests on
//! connections the server closes after every stream.
//!
//! Needs `LLMLOAD_LLAMA_SERVER` (the llama-server binary) and
//! `LLMLOAD_TINY_MODEL` (the directory holding tiny-llama.gguf and
//! tokenizer/), which `.ci/run` builds and sets. Without them the tests say
//! they were skipped, unless `LLMLOAD_REQUIRE_LLAMA_SERVER=1` (set by
//! `.ci/run`), which makes a missing server a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use llmload::results::RequestsReader;

use crate::util::{CPU_HEAVY, Killed, run_alone};

/// ChatML wraps one user message in 12 tokens of this model's template.
const TEMPLATE_TOKENS: u64 = 12;

struct LlamaServer {
    _child: Killed,
    url: String,
    tokenizer: PathBuf,
    _log: tempfile::TempDir,
}

/// Starts llama-server on a free port, or says why not (`None`: skipped).
fn start() -> Option<LlamaServer> {
    let (bin, model) = match (std::env::var("LLMLOAD_LLAMA_SERVER"), std::env::var("LLMLOAD_TINY_MODEL")) {
        (Ok(b), Ok(m)) if !b.is_empty() && !m.is_empty() => (PathBuf::from(b), PathBuf::from(m)),
        _ => {
            assert!(
                std::env::var("LLMLOAD_REQUIRE_LLAMA_SERVER").as_deref() != Ok("1"),
                "LLMLOAD_REQUIRE_LLAMA_SERVER=1 but LLMLOAD_LLAMA_SERVER / LLMLOAD_TINY_MODEL are not set"
            );
            println!("skipped: set LLMLOAD_LLAMA_SERVER and LLMLOAD_TINY_MODEL (.ci/run does)");
            return None;
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = tempfile::tempdir().unwrap();
    let out = std::fs::File::create(log.path().join("server.log")).unwrap();
    // As shared/tools/real-server/start-llama-server.sh starts it: 4 slots,
    // continuous batching, 2 threads.
    let child = Command::new(&bin)
        .args(["-m", model.join("tiny-llama.gguf").to_str().unwrap(), "--alias", "tiny-llama"])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-c", "16384", "-np", "4", "--kv-unified", "-t", "2", "-s", "42", "--no-webui"])
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthy(port) {
        let log = std::fs::read_to_string(log.path().join("server.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "llama-server not ready in 60 s; log:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(LlamaServer {
        _child: child,
        url: format!("http://127.0.0.1:{port}/v1"),
        tokenizer: model.join("tokenizer"),
        _log: log,
    })
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// Output tokens, prompt tokens and their sources of every measured row.
struct Row {
    ok: bool,
    prompt_tokens: u64,
    prompt_source: String,
    output_tokens: u64,
    output_source: String,
}

fn rows(out: &Path) -> Vec<Row> {
    let mut reader = RequestsReader::open(&out.join("requests.csv")).unwrap();
    let mut rows = Vec::new();
    while let Some(r) = reader.next_measured().unwrap() {
        rows.push(Row {
            ok: r.ok(),
            prompt_tokens: r.prompt_tokens,
            prompt_source: r.prompt_token_source.to_owned(),
            output_tokens: r.output_tokens,
            output_source: r.token_source.to_owned(),
        });
    }
    rows
}

/// The server's answer to a POST of `body` to `path` (below the root).
fn post(port: u16, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let body = body.to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, json) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn scenario(server: &LlamaServer, load: &str, variants: &str) -> String {
    format!(
        "name = \"llama\"\nseed = 3\n[target]\nbase_url = \"{}\"\napi_key_env = \"\"\n\
         [tokenizers]\n\"tiny-llama\" = {:?}\n[load]\n{load}\ntimeout = \"60s\"\n{variants}\n\
         [pricing.\"tiny-llama\"]\ninput_per_1m = 0.0\noutput_per_1m = 0.0\n",
        server.url,
        server.tokenizer.display().to_string()
    )
}

/// `prompt_tokens = 64` is 64 tokens of the model's own: the server's
/// `usage.prompt_tokens` is 64 plus its chat template.
#[tokio::test(flavor = "multi_thread")]
async fn prompt_tokens_are_sized_in_the_models_own_tokenizer() {
    let Some(server) = start() else { return };
    let _alone = CPU_HEAVY.write().await;
    let variant = "[[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"tiny-llama\"\nmax_tokens = 8\n\
                   prompt_tokens = 64\n";
    let (_dir, outcome) = run_alone(&scenario(&server, "concurrency = 4\nrequests = 40", variant)).await;
    let rows = rows(&outcome.dir);
    assert_eq!(rows.len(), 40);
    for r in &rows {
        assert!(r.ok);
        assert_eq!((r.prompt_source.as_str(), r.output_source.as_str()), ("usage", "usage"));
        assert_eq!(r.prompt_tokens, 64 + TEMPLATE_TOKENS, "prompt_tokens = 64 in the model's tokens");
        assert_eq!(r.output_tokens, 8, "this model never samples EOS: max_tokens generated");
    }
}

/// Without usage, the answer is counted in the model's tokenizer.json, event
/// by event: exactly what the server generated (max_tokens: this model never
/// samples EOS). The tokenizer itself counts any text as the server's own
/// `/tokenize` does.
#[tokio::test(flavor = "multi_thread")]
async fn answers_without_usage_are_counted_as_the_server_generated_them() {
    let Some(server) = start() else { return };
    let _alone = CPU_HEAVY.write().await;
    let variant = "[[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"tiny-llama\"\nmax_tokens = 24\n\
                   prompt_tokens = 64\ninclude_usage = false\n";
    let (_dir, outcome) = run_alone(&scenario(&server, "concurrency = 4\nrequests = 40", variant)).await;
    let rows = rows(&outcome.dir);
    assert_eq!(rows.len(), 40);
    for r in &rows {
        assert!(r.ok);
        assert_eq!(r.output_source, "tokenizer");
        assert_eq!(r.output_tokens, 24, "the client's count is the server's");
    }
    let notes = outcome.summary.notes.join("\n");
    assert!(notes.contains("counted with the model's own tokenizer.json"), "{notes}");
    let sources = &outcome.summary.total.output_token_source;
    assert_eq!((sources.tokenizer, sources.fallback, sources.tiktoken), (40, 0, 0), "{sources:?}");

    // The same tokenizer, on a whole answer's text, counts as /tokenize does.
    let port: u16 = server.url.rsplit(':').next().unwrap().trim_end_matches("/v1").parse().unwrap();
    let body = serde_json::json!({"model": "tiny-llama", "max_tokens": 48,
                                  "messages": [{"role": "user", "content": "Count the tokens of this answer."}]});
    let answer = post(port, "/v1/chat/completions", &body);
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    let tokenized = post(port, "/tokenize", &serde_json::json!({"content": text}));
    let ours = llmload::tokens::Tokenizer::load(&server.tokenizer).unwrap().count(text);
    assert_eq!(ours, tokenized["tokens"].as_array().unwrap().len(), "{text:?}");
}

/// llama-server closes the connection after each streamed response without
/// saying so (no `Connection: close`): a request written onto such a
/// kept-alive connection is sent again once on a new one, and counted as a
/// reconnect, never lost as an error.
#[tokio::test(flavor = "multi_thread")]
async fn streams_on_connections_the_server_closes_are_none_of_them_lost() {
    let Some(server) = start() else { return };
    let _alone = CPU_HEAVY.write().await;
    let requests = 500;
    let variant = "[[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"tiny-llama\"\nmax_tokens = 4\n\
                   prompt_tokens = 16\n";
    let scenario = scenario(&server, &format!("concurrency = 4\nrequests = {requests}"), variant);
    let (_dir, outcome) = run_alone(&scenario).await;
    let r = &outcome.summary.total.requests;
    println!("500 streams at concurrency 4: {r:?}");
    assert_eq!((r.sent, r.ok, r.errors), (requests, requests, 0), "{:?}", outcome.summary.total.errors);
    assert_eq!(rows(&outcome.dir).len() as u64, requests);
    // The reconnects are reported: in the figures, and in a note when any.
    let notes = outcome.summary.notes.join("\n");
    assert_eq!(r.reconnects > 0, notes.contains("a kept-alive connection the server had closed"), "{notes}");
}

/// A multi-turn session against llama.cpp: each turn's prompt (the
/// server's usage) is the last one's plus the answer received and the new
/// prompt, and the server says what its prompt cache reused
/// (`usage.prompt_tokens_details.cached_tokens`, also `timings.cache_n`):
/// from the second turn on, the conversation so far.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_carry_the_conversation_and_show_what_the_server_cached() {
    let Some(server) = start() else { return };
    let _alone = CPU_HEAVY.write().await;
    let variant = "[[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"tiny-llama\"\nmax_tokens = 8\n\
                   prompt_tokens = 16\nturns = 3\n";
    let (_dir, outcome) = run_alone(&scenario(&server, "concurrency = 2\nduration = \"3s\"", variant)).await;
    let mut reader = RequestsReader::open(&outcome.dir.join("requests.csv")).unwrap();
    // session → (turn, prompt tokens, output tokens, cached tokens)
    type Turns = Vec<(u32, u64, u64, u64)>;
    let mut turns: std::collections::BTreeMap<u64, Turns> = Default::default();
    while let Some(r) = reader.next_row().unwrap() {
        assert!(r.ok(), "{r:?}");
        let cached = r.cached_tokens.expect("llama-server says what it cached");
        turns.entry(r.session.unwrap()).or_default().push((
            r.turn.unwrap(),
            r.prompt_tokens,
            r.output_tokens,
            cached,
        ));
    }
    let mut later = (0, 0);
    for (id, t) in &mut turns {
        t.sort();
        for w in t.windows(2) {
            let ((_, p0, o0, _), (k, p1, _, c1)) = (w[0], w[1]);
            // The answer and 16 new tokens, each message in its chat template.
            assert!(p1 >= p0 + o0 + 16, "session {id} turn {k}: {p1} tokens after {p0} + {o0}");
            later = (later.0 + 1, later.1 + u64::from(c1 > 0));
        }
    }
    let cache = outcome.summary.total.cache.as_ref().expect("cache figures");
    println!(
        "{} sessions; turns after the first: {} of {} reused the server's cache; cached share {:.3}",
        turns.len(),
        later.1,
        later.0,
        cache.cached_share
    );
    assert!(later.0 >= 4 && later.1 * 2 > later.0, "most later turns reuse the conversation: {later:?}");
}

//! A model that reasons before it answers: 200 reasoning tokens streamed as
//! `delta.reasoning_content`, then the answer. TTFT is the first token of
//! either kind; the first answer token comes 200 gaps later, and both are
//! shown. Independent truth: the simulator's exact schedule (zero jitter)
//! and its usage.

use crate::util::{CPU_HEAVY, read_json, run_alone};

const THINKING: &str = r#"
name = "thinking"
seed = 2

[load]
concurrency = 2
requests = 12

[simulator]
ttft = "40ms"
itl = "2ms"
reasoning_tokens = 200

[[variant]]
name = "think"
endpoint = "chat"
model = "m"
max_tokens = 230
prompt_tokens = 16

[[variant]]
name = "think-responses"
endpoint = "responses"
model = "m"
max_tokens = 230
prompt_tokens = 16
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_answer_token_comes_the_reasoning_after_the_first_token() {
    let _alone = CPU_HEAVY.write().await;
    let (_dir, out) = run_alone(THINKING).await;
    let s = read_json(&out.dir.join("summary.json"));
    let variants = s["variants"].as_array().unwrap();
    let v = variants.iter().find(|v| v["name"] == "think").unwrap();
    let p50 = |m: &str| v[m]["p50"].as_f64().unwrap();
    // TTFT: the first reasoning token, at 40 ms.
    assert!((40.0..50.0).contains(&p50("ttft_ms")), "ttft {}", v["ttft_ms"]);
    assert!((p50("ttfr_ms") - p50("ttft_ms")).abs() < 0.5, "the first token is reasoning");
    // The answer: 200 gaps of 2 ms later.
    let answer = p50("ttfa_ms");
    assert!((440.0..460.0).contains(&answer), "first answer token {answer} ms, expected 40 + 200 × 2");
    let mean = v["itl_ms"]["mean"].as_f64().unwrap();
    assert!((mean - 2.0).abs() < 0.2, "gaps run through the reasoning: {}", v["itl_ms"]);
    // Usage: 230 output tokens, 200 of them reasoning.
    assert_eq!(v["output_tokens"].as_u64().unwrap(), 230 * v["requests"]["ok"].as_u64().unwrap());
    assert_eq!(v["reasoning_tokens"].as_u64().unwrap(), 200 * v["requests"]["ok"].as_u64().unwrap());
    // The Responses API does not stream its reasoning: the first token is
    // the answer's, after the reasoning's time; usage still says it.
    let r = variants.iter().find(|v| v["name"] == "think-responses").unwrap();
    let ttft = r["ttft_ms"]["p50"].as_f64().unwrap();
    assert!((440.0..460.0).contains(&ttft), "responses: ttft {ttft}");
    assert_eq!(r["reasoning_tokens"].as_u64().unwrap(), 200 * r["requests"]["ok"].as_u64().unwrap());

    // Both figures in the table and the reports.
    let table = llmload::report::Format::render(&llmload::report::Table { width: 200 }, &out.summary);
    assert!(table.contains("answer p50"), "{table}");
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    assert!(md.contains("### Reasoning") && md.contains("first answer token p50"), "{md}");
    assert!(
        md.contains("of 2760 output tokens were reasoning") || md.contains("output tokens were reasoning"),
        "{md}"
    );
    let csv_text = std::fs::read_to_string(out.dir.join("summary.csv")).unwrap();
    assert!(csv_text.contains("think,ttfa,ms"), "{csv_text}");
    let html = std::fs::read_to_string(out.dir.join("report.html")).unwrap();
    assert!(html.contains("first answer token"));
}

//! The Responses API (`endpoint = "responses"`), beside chat and embeddings
//! in one run against the simulator: each variant reported as what it is.
//! Independent truths: the simulator's exact schedule (zero jitter) and
//! its usage, and sums from requests.csv.

use crate::util::{CPU_HEAVY, few_late, read_json, run_alone};

const MIXED: &str = r#"
name = "three apis"
seed = 8

[load]
concurrency = 4
requests = 120

[simulator]
ttft = "30ms"
itl = "3ms"

[[variant]]
name = "chat"
endpoint = "chat"
model = "m"
max_tokens = 12
prompt_tokens = 20

[[variant]]
name = "responses"
endpoint = "responses"
model = "m"
max_tokens = 16
prompt_tokens = 20
system = "Answer briefly."

[[variant]]
name = "responses-whole"
endpoint = "responses"
model = "m"
max_tokens = 16
stream = false
prompt_tokens = 20

[[variant]]
name = "embed"
endpoint = "embeddings"
model = "m"
batch = 2
prompt_tokens = 20

[pricing.m]
input_per_1m = 1.0
output_per_1m = 3.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_responses_and_embeddings_in_one_run_are_each_reported_as_what_they_are() {
    let _alone = CPU_HEAVY.write().await;
    let (_dir, out) = run_alone(MIXED).await;
    let mut rdr = csv::Reader::from_path(out.dir.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let of = |v: &str| {
        rows.iter().filter(|r| &r[col("variant")] == v && &r[col("phase")] == "measured").collect::<Vec<_>>()
    };
    let num = |r: &csv::StringRecord, c: &str| r[col(c)].parse::<f64>().unwrap();
    let mut late = Vec::new();
    for r in of("responses") {
        assert_eq!(&r[col("outcome")], "ok", "{r:?}");
        assert_eq!(
            (num(r, "output_tokens"), &r[col("token_source")]),
            (16.0, "usage"),
            "usage.output_tokens"
        );
        assert_eq!(&r[col("finish_reason")], "length", "incomplete at max_output_tokens is `length`");
        // The simulator's schedule from the send: TTFT 30 ms, then 15 gaps of 3 ms.
        let q = num(r, "queue_delay_ms");
        let (ttft, e2e) = (num(r, "ttft_ms") - q, num(r, "e2e_ms") - q);
        // Never before the schedule; within its slack but for a machine's pause.
        assert!(ttft >= 30.0 && e2e >= 75.0, "earlier than scheduled: ttft {ttft}, e2e {e2e}: {r:?}");
        if ttft >= 40.0 || e2e >= 88.0 || (num(r, "itl_mean_ms") - 3.0).abs() >= 0.6 {
            late.push(format!("ttft {ttft}, e2e {e2e}: {r:?}"));
        }
        // The input and the instructions, in the simulator's words.
        assert!(num(r, "prompt_tokens") > 2.0 && &r[col("prompt_token_source")] == "usage");
    }
    few_late("responses", &late, of("responses").len());
    for r in of("responses-whole") {
        assert_eq!(&r[col("outcome")], "ok", "{r:?}");
        assert_eq!(num(r, "output_tokens"), 16.0);
        assert_eq!(num(r, "ttft_ms"), num(r, "e2e_ms"), "not streamed: TTFT = e2e");
    }
    let s = read_json(&out.dir.join("summary.json"));
    let variants = s["variants"].as_array().unwrap();
    let get = |n: &str| variants.iter().find(|v| v["name"] == n).unwrap().clone();
    for name in ["chat", "responses", "responses-whole", "embed"] {
        let v = get(name);
        let rows = of(name);
        assert_eq!(v["requests"]["ok"].as_u64().unwrap() as usize, rows.len(), "{name}");
        let input: f64 = rows.iter().map(|r| num(r, "prompt_tokens")).sum();
        let output: f64 = rows.iter().map(|r| num(r, "output_tokens")).sum();
        let cost = v["cost_usd"].as_f64().unwrap();
        assert!((cost - (input * 1.0 + output * 3.0) / 1e6).abs() < 2e-6, "{name}: cost {cost}");
    }
    assert_eq!(get("responses")["streaming"], true);
    assert!(get("responses")["ttft_ms"]["count"].as_u64().unwrap() > 0);
    assert_eq!(get("embed")["ttft_ms"]["count"], 0);
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    for name in ["| chat |", "| responses |", "| responses-whole |", "| embed |", "### Embeddings"] {
        assert!(md.contains(name), "{name} in summary.md");
    }
    let csv_text = std::fs::read_to_string(out.dir.join("summary.csv")).unwrap();
    assert!(csv_text.contains("responses,ttft,ms") && csv_text.contains("embed,inputs_per_s"), "{csv_text}");
    let html = std::fs::read_to_string(out.dir.join("report.html")).unwrap();
    assert!(html.contains("responses-whole") && html.contains("Embeddings"));
}

#[test]
fn what_the_responses_api_lacks_is_refused() {
    let base = "name = \"r\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"r\"\nendpoint = \"responses\"\nmodel = \"m\"\nmax_tokens = 16\nprompt_tokens = 8\n";
    for (extra, key) in [
        ("n = 2\n", "n"),
        ("stop = \"x\"\n", "stop"),
        ("batch = 2\n", "batch"),
        ("include_usage = true\n", "include_usage"),
    ] {
        let e = llmload::scenario::Scenario::parse(&format!("{base}{extra}"), std::path::Path::new("s.toml"))
            .expect_err(extra)
            .to_string();
        assert!(
            e.contains(&format!("variant[0].{key}: the Responses API has no such parameter")),
            "{extra}: {e}"
        );
    }
    assert!(
        llmload::scenario::Scenario::parse(
            &format!("{base}temperature = 0.2\nsystem = \"Be brief.\"\n"),
            std::path::Path::new("s.toml")
        )
        .is_ok()
    );
    let short = base.replace("max_tokens = 16", "max_tokens = 8");
    let e = llmload::scenario::Scenario::parse(&short, std::path::Path::new("s.toml"))
        .expect_err("8")
        .to_string();
    assert!(
        e.contains("variant[0].max_tokens: the Responses API takes max_output_tokens of at least 16, got 8"),
        "{e}"
    );
}

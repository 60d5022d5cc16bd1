//! The results directory a run leaves behind.

use crate::util::{read_json, run};

const MIXED: &str = r#"
name = "results check"
seed = 5

[load]
concurrency = 6
requests = 60
warmup = "300ms"

[simulator]
ttft = "20ms"
itl = "2ms"
jitter = 0.3

[[variant]]
name = "a"
weight = 2
endpoint = "chat"
model = "m"
max_tokens = 12
prompt_tokens = 30

[[variant]]
name = "b"
endpoint = "completions"
model = "m"
max_tokens = 5
stream = false
prompt_tokens = 8
"#;

const PERCENTILE_KEYS: [&str; 7] = ["p50", "p90", "p95", "p99", "p999", "max", "mean"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_json_keeps_its_contract() {
    let (_dir, out) = run(MIXED).await;
    let s = read_json(&out.dir.join("summary.json"));
    assert_eq!(s["scenario"], "results check");
    assert_eq!(s["partial"], false);
    let mut all = s["variants"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    all.push(s["total"].clone());
    for v in &all {
        assert!(v["name"].is_string());
        for k in ["sent", "ok", "errors"] {
            assert!(v["requests"][k].is_u64(), "requests.{k} in {v}");
        }
        for m in ["ttft_ms", "e2e_ms", "itl_ms", "tpot_ms", "queue_delay_ms"] {
            for p in PERCENTILE_KEYS {
                assert!(v[m].get(p).is_some(), "{m}.{p} present");
            }
        }
        assert!(v["output_tokens"].is_u64());
        assert!(v["throughput"]["requests_per_s"].as_f64().unwrap() > 0.0);
        assert!(v["throughput"]["output_tokens_per_s"].as_f64().unwrap() > 0.0);
        assert!(v["requests"]["ok"].as_u64().unwrap() > 0, "ok requests in {}", v["name"]);
        assert!(v["e2e_ms"]["p50"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(s["total"]["requests"]["sent"], 60, "requests = 60 measured requests");
    assert_eq!(s["total"]["requests"]["ok"], 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_csv_has_a_row_per_request_and_run_json_describes_the_run() {
    let (_dir, out) = run(MIXED).await;
    let mut rdr = csv::Reader::from_path(out.dir.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    for col in [
        "variant",
        "intended_ms",
        "queue_delay_ms",
        "ttft_ms",
        "e2e_ms",
        "prompt_tokens",
        "output_tokens",
        "outcome",
        "error",
    ] {
        assert!(headers.iter().any(|h| h == col), "column {col}");
    }
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let measured = rows.iter().filter(|r| &r[col("phase")] == "measured").count();
    assert_eq!(measured, 60);
    assert!(rows.len() > 60, "warm-up rows are written too, marked as such");
    for r in &rows {
        assert_eq!(&r[col("outcome")], "ok");
        assert_eq!(&r[col("prompt_token_source")], "usage", "the simulator's usage counted the prompt");
        assert!(r[col("e2e_ms")].parse::<f64>().unwrap() > 0.0);
    }
    // Same seed, same sequence of requests: the variant of each seq repeats.
    let by_seq = |rows: &[csv::StringRecord]| {
        let mut v: Vec<(u64, String)> =
            rows.iter().map(|r| (r[col("seq")].parse().unwrap(), r[col("variant")].to_owned())).collect();
        v.sort();
        v
    };
    let (_dir2, again) = run(MIXED).await;
    let rows2: Vec<csv::StringRecord> = csv::Reader::from_path(again.dir.join("requests.csv"))
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect();
    let (a, b) = (by_seq(&rows), by_seq(&rows2));
    let n = a.len().min(b.len());
    assert_eq!(a[..n], b[..n]);

    let info = read_json(&out.dir.join("run.json"));
    assert_eq!(info["tool"], "llmload");
    assert_eq!(info["seed"], 5);
    assert_eq!(info["scenario"]["name"], "results check");
    assert_eq!(info["scenario"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(info["target"]["kind"], "simulator");
    assert!(info["target"]["base_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert!(info["ended_at"].is_string());
    assert_eq!(info["stop_reason"], "requests");
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    assert!(md.contains("| a |") && md.contains("| b |") && md.contains("**total**"), "{md}");
}

/// A sequential sweep's steps number their requests on from each other:
/// `seq` names one request of the run, and every step sends the same
/// prompts (a step's requests are seeded by their number within it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeps_requests_are_numbered_once_across_its_steps() {
    let scenario = r#"
name = "sweep numbering"
seed = 9

[load]
concurrency = 3
requests = 12

[simulator]
ttft = "2ms"
itl = "1ms"

[sweep]
max_tokens = [4, 8, 16]

[[variant]]
name = "v"
endpoint = "chat"
model = "m"
max_tokens = 4
prompt_tokens = { min = 5, max = 60 }
"#;
    let (_dir, out) = run(scenario).await;
    let mut rdr = csv::Reader::from_path(out.dir.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<(u64, String, u64)> = rdr
        .records()
        .map(Result::unwrap)
        .map(|r| {
            (
                r[col("seq")].parse().unwrap(),
                r[col("variant")].to_owned(),
                r[col("prompt_tokens")].parse().unwrap(),
            )
        })
        .collect();
    rows.sort();
    let seqs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (0..36).collect::<Vec<_>>(), "one number per request of the run");
    // Each step is a block of 12, in the sweep's order, and sends the same
    // prompts as the first step, request for request.
    for (k, step) in rows.chunks(12).enumerate() {
        let name = &step[0].1;
        assert!(step.iter().all(|r| &r.1 == name), "step {k} is one variant: {step:?}");
        assert!(name.ends_with(&format!("max_tokens={}", [4, 8, 16][k])), "step {k} is {name}");
        let prompts: Vec<u64> = step.iter().map(|r| r.2).collect();
        let first: Vec<u64> = rows[..12].iter().map(|r| r.2).collect();
        assert_eq!(prompts, first, "step {k} sends the first step's prompts");
    }
}

//! Embeddings: a run mixing a chat variant and a batched embeddings variant
//! against the simulator reports each as what it is, in every format.
//! Independent truths: the simulator's schedule (an embedding's latency is
//! its base plus its prefill of every input token, which requests.csv's
//! prompt_tokens, the simulator's own usage, gives) and counts from
//! requests.csv.

use crate::util::{CPU_HEAVY, few_late, read_json, run_alone};

const MIXED: &str = r#"
name = "embeddings mix"
seed = 4

[load]
concurrency = 3
requests = 60

[simulator]
ttft = "20ms"
prefill_per_token = "200us"
itl = "2ms"

[[variant]]
name = "chat"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 16

[[variant]]
name = "embed"
endpoint = "embeddings"
model = "m"
batch = 4
prompt_tokens = { min = 10, max = 60 }
dimensions = 32

[pricing.m]
input_per_1m = 2.0
output_per_1m = 8.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mix_of_chat_and_embeddings_reports_each_as_what_it_is() {
    let _alone = CPU_HEAVY.write().await;
    let (_dir, out) = run_alone(MIXED).await;
    let mut rdr = csv::Reader::from_path(out.dir.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let embed: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[col("variant")] == "embed").collect();
    assert!(embed.len() > 10, "{} embeddings requests", embed.len());
    let (mut input_tokens, mut late) = (0u64, Vec::new());
    for r in &embed {
        assert_eq!(&r[col("outcome")], "ok", "{r:?}");
        assert_eq!(&r[col("output_tokens")], "0");
        assert_eq!(&r[col("ttft_ms")], "", "no first token");
        let prompt: f64 = r[col("prompt_tokens")].parse().unwrap();
        input_tokens += prompt as u64;
        // The simulator's schedule: 20 ms + 0.2 ms per input token, from the
        // send (the service time); the client adds well under 10 ms.
        let service =
            r[col("e2e_ms")].parse::<f64>().unwrap() - r[col("queue_delay_ms")].parse::<f64>().unwrap();
        let due = 20.0 + 0.2 * prompt;
        assert!(service >= due - 0.5, "service {service} ms before its due {due} ms: {r:?}");
        if service > due + 10.0 {
            late.push(format!("service {service} ms, due {due} ms: {r:?}"));
        }
    }
    few_late("embeddings", &late, embed.len());
    let s = read_json(&out.dir.join("summary.json"));
    let v = s["variants"].as_array().unwrap().iter().find(|v| v["name"] == "embed").unwrap().clone();
    assert_eq!(v["embeddings"], true);
    assert_eq!(v["output_tokens"], 0);
    assert_eq!(v["ttft_ms"]["count"], 0);
    assert_eq!(v["prompt_tokens"].as_u64().unwrap(), input_tokens, "input tokens: the rows' sum");
    let t = &v["throughput"];
    let per_request = t["prompts_per_s"].as_f64().unwrap() / t["requests_per_s"].as_f64().unwrap();
    // Rates are rounded to 0.001 per second.
    assert!((per_request - 4.0).abs() < 1e-3, "4 inputs a request: {t}");
    let tokens_per_request =
        t["input_tokens_per_s"].as_f64().unwrap() / t["requests_per_s"].as_f64().unwrap();
    let mean = input_tokens as f64 / embed.len() as f64;
    assert!((tokens_per_request - mean).abs() < mean * 0.02, "{tokens_per_request} against {mean}");
    let cost = v["cost_usd"].as_f64().unwrap();
    assert!((cost - input_tokens as f64 * 2.0 / 1e6).abs() < 1e-6, "cost {cost} from input tokens alone");
    let notes = s["notes"].to_string();
    assert!(!notes.contains("choices"), "an embedding has vectors, not choices: {notes}");
    let chat = s["variants"].as_array().unwrap().iter().find(|v| v["name"] == "chat").unwrap().clone();
    assert!(chat["embeddings"].is_null() && chat["ttft_ms"]["count"].as_u64().unwrap() > 0);

    // Every format says so.
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    assert!(md.contains("### Embeddings") && md.contains("embed: ") && md.contains("inputs/s"), "{md}");
    assert!(
        md.contains("| embed | ") && md.lines().any(|l| l.starts_with("| embed |") && l.contains("| - |")),
        "{md}"
    );
    let csv_text = std::fs::read_to_string(out.dir.join("summary.csv")).unwrap();
    assert!(
        csv_text.contains("embed,inputs_per_s,inputs/s") && csv_text.contains("embed,input_tokens_per_s"),
        "{csv_text}"
    );
    let html = std::fs::read_to_string(out.dir.join("report.html")).unwrap();
    assert!(html.contains("Embeddings") && html.contains("inputs/s"));
    let table = llmload::report::Format::render(&llmload::report::Table { width: 120 }, &out.summary);
    assert!(table.contains("inputs/s") && table.contains("in tok/s"), "{table}");
    let line = table.lines().find(|l| l.starts_with("embed ")).unwrap();
    assert!(line.contains(" - "), "no TTFT for embeddings: {line}");
}

/// What does not apply to embeddings is refused, naming the key.
#[test]
fn keys_that_do_not_apply_to_embeddings_are_refused() {
    let base = "name = \"e\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"e\"\nendpoint = \"embeddings\"\nmodel = \"m\"\nprompt_tokens = 8\n";
    for (extra, words) in [
        ("max_tokens = 8\n", "variant[0].max_tokens: embeddings generate no tokens"),
        ("stream = true\n", "variant[0].stream: embeddings are not streamed"),
        ("n = 2\n", "variant[0].n: does not apply to endpoint = \"embeddings\""),
        ("temperature = 0.5\n", "variant[0].temperature: does not apply"),
        ("batch = 3000\n", "variant[0].batch: must be a whole number from 1 to 2048"),
    ] {
        let e = llmload::scenario::Scenario::parse(&format!("{base}{extra}"), std::path::Path::new("s.toml"))
            .expect_err(extra)
            .to_string();
        assert!(e.contains(words), "{extra}: {e}");
    }
    let chat = "name = \"c\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"c\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 8\ndimensions = 8\n";
    let e = llmload::scenario::Scenario::parse(chat, std::path::Path::new("s.toml"))
        .expect_err("chat")
        .to_string();
    assert!(e.contains("variant[0].dimensions: only applies to endpoint = \"embeddings\""), "{e}");
}

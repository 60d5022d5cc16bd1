//! Per-choice, per-prompt and stop-sequence figures, against the
//! simulator's exact schedule (50 ms to the first token of every choice,
//! then one token every 10 ms: the 5th at 90 ms) and against requests.csv.

use crate::util::{CPU_HEAVY, run_alone};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choices_prompts_and_stop_sequences_are_reported() {
    let toml = r#"
name = "choices"
[load]
concurrency = 2
requests = 45
[simulator]
ttft = "50ms"
itl = "10ms"
jitter = 0.0
[[variant]]
name = "chat-n3"
endpoint = "chat"
model = "sim"
max_tokens = 5
prompt_tokens = 10
n = 3
[[variant]]
name = "batch-8"
endpoint = "completions"
model = "sim"
max_tokens = 5
prompt_tokens = 10
batch = 8
[[variant]]
name = "stops"
endpoint = "chat"
model = "sim"
max_tokens = 40
prompt_tokens = 10
stop = [" the"]
"#;
    let _alone = CPU_HEAVY.write().await;
    let (dir, out) = run_alone(toml).await;
    let s = &out.summary;
    let variant = |name: &str| s.variants.iter().find(|v| v.name == name).unwrap();
    for (name, split, count) in [
        ("chat-n3", variant("chat-n3").by_choice.as_ref(), 3),
        ("batch-8", variant("batch-8").by_prompt.as_ref(), 8),
    ] {
        let split = split.unwrap_or_else(|| panic!("{name} is split"));
        assert_eq!(split.len(), count, "{name}");
        for (k, t) in split.iter().enumerate() {
            assert_eq!(t.index as usize, k + 1);
            assert_eq!(t.requests, variant(name).requests.ok, "{name}: every request had choice {}", k + 1);
            let (ttft, e2e) = (t.ttft_ms.p50.unwrap(), t.e2e_ms.p50.unwrap());
            assert!(
                (50.0..62.0).contains(&ttft) && (90.0..102.0).contains(&e2e),
                "{name} {}: {ttft} {e2e}",
                k + 1
            );
        }
    }
    assert!(variant("chat-n3").by_prompt.is_none() && variant("batch-8").by_choice.is_none());
    assert!(variant("stops").by_choice.is_none(), "one choice: nothing to split");

    // Stop sequences, against requests.csv.
    let csv = std::fs::read_to_string(dir.path().join("out/requests.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (mut rows, mut stopped, mut saved) = (0u64, 0u64, 0u64);
    for line in lines {
        let c: Vec<&str> = line.split(',').collect();
        if c[col("variant")] == "stops" && c[col("outcome")] == "ok" {
            rows += 1;
            stopped += u64::from(c[col("finish_reason")] == "stop");
            saved += 40 - c[col("output_tokens")].parse::<u64>().unwrap();
        }
    }
    let st = variant("stops").stop.as_ref().expect("stop figures");
    assert_eq!((st.choices, st.stopped, st.tokens_saved, st.max_tokens), (rows, stopped, saved, 40 * rows));
    assert!(stopped > 0 && saved > 0, "\" the\" is common: sequences stop early");
    assert!(variant("chat-n3").stop.is_none(), "only variants with stop sequences");

    let md = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    for section in ["### Per choice", "### Per prompt", "### Stop sequences"] {
        assert!(md.contains(section), "{section}: {md}");
    }
    let summary_csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert!(
        summary_csv.contains("chat-n3,ttft_choice_3,ms") && summary_csv.contains("batch-8,e2e_prompt_8,ms")
    );
    assert!(summary_csv.contains("stops,tokens_saved_share,fraction"));
}

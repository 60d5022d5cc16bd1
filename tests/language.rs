//! The scenario language end to end: sweeps, stages, budgets, SLOs, plans.

use crate::util::{llmload, read_json, run, scenario_file};

const BASE: &str = r#"
name = "lang"
seed = 3

[load]
concurrency = 4
requests = 12

[simulator]
ttft = "5ms"
itl = "1ms"

[[variant]]
name = "chat"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 20
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_of_two_models_by_three_max_tokens_runs_six_variants_in_both_modes() {
    for mode in ["mix", "sequential"] {
        let toml =
            format!("{BASE}\n[sweep]\nmode = \"{mode}\"\nmodel = [\"a\", \"b\"]\nmax_tokens = [4, 8, 16]\n");
        let (_dir, out) = run(&toml).await;
        let s = read_json(&out.dir.join("summary.json"));
        let variants = s["variants"].as_array().unwrap();
        let names: Vec<&str> = variants.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 6, "{mode}: {names:?}");
        assert!(names.contains(&"chat/b/max_tokens=16"), "{names:?}");
        let sent: u64 = variants.iter().map(|v| v["requests"]["sent"].as_u64().unwrap()).sum();
        if mode == "sequential" {
            // Each variant gets the whole plan: 12 requests each.
            assert!(variants.iter().all(|v| v["requests"]["ok"] == 12), "{mode}: {variants:?}");
            let v = variants.iter().find(|v| v["name"] == "chat/a/max_tokens=4").unwrap();
            assert_eq!(v["output_tokens"], 48, "4 tokens × 12 requests");
        } else {
            assert_eq!(sent, 12, "mix: the variants share the plan");
        }
        assert!(!out.summary.partial);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_are_reported_one_by_one() {
    let toml = BASE.replace(
        "concurrency = 4\nrequests = 12",
        "[[load.stages]]\nduration = \"1s\"\nrate = 10\n\n[[load.stages]]\nduration = \"1s\"\nrate = 30",
    );
    let (_dir, out) = run(&toml).await;
    let stages = &out.summary.stages;
    assert_eq!(stages.len(), 2);
    assert_eq!((stages[0].level, stages[1].level), (10.0, 30.0));
    assert_eq!(stages[0].stats.requests.sent, 10);
    assert_eq!(stages[1].stats.requests.sent, 30);
    assert_eq!(out.summary.total.requests.sent, 40);
    assert_eq!(out.summary.stop_reason, llmload::metrics::StopReason::Duration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stops_the_run_before_it_is_passed() {
    // Worst case per request: 20 × $100/1M + 8 × $100/1M = $0.0028; $0.01 allows 3
    // at once, and the real cost (the same here) decides the rest.
    let toml = BASE.replace("requests = 12", "requests = 1000")
        + "\n[pricing.m]\ninput_per_1m = 100.0\noutput_per_1m = 100.0\n\n[budget]\nmax_usd = 0.01\nwarn_usd = 0.005\n";
    let (_dir, out) = run(&toml).await;
    let s = &out.summary;
    assert_eq!(s.stop_reason, llmload::metrics::StopReason::Budget);
    assert!(s.partial);
    let cost = s.total.cost_usd.unwrap();
    assert!(cost <= 0.01 + 1e-12, "spent {cost}");
    assert!(cost > 0.005, "spent most of it: {cost}");
    assert!(s.notes.iter().any(|n| n.contains("warn_usd")), "{:?}", s.notes);
}

#[test]
fn slo_verdict_decides_the_exit_code() {
    let pass = format!("{BASE}\n[slo]\n\"ttft.p50\" = \"2s\"\nerror_rate = 0.0\n");
    let (dir, path) = scenario_file(&pass);
    let o = llmload().args(["run", "-q", "--out"]).arg(dir.path().join("o")).arg(&path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS ttft.p50"));
    let s = read_json(&dir.path().join("o/summary.json"));
    assert_eq!(s["slo_passed"], true);

    let fail =
        format!("{BASE}\n[slo]\n\"e2e.p99\" = \"1ms\"\n[slo.variants.chat]\noutput_tokens_per_s = 1e9\n");
    let (dir, path) = scenario_file(&fail);
    let o = llmload().args(["run", "-q", "--out"]).arg(dir.path().join("o")).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let s = read_json(&dir.path().join("o/summary.json"));
    assert_eq!(s["slo_passed"], false);
    assert_eq!(s["slo"].as_array().unwrap().len(), 2);
    assert!(s["slo"].as_array().unwrap().iter().all(|r| r["passed"] == false));
}

/// The worked example of docs/scenario.md ("What can it cost?").
const PLAN_EXAMPLE: &str = r#"
name = "plan-example"

[load]
rate = 2
duration = "10s"

[pricing.big]
input_per_1m = 2.5
output_per_1m = 10.0

[pricing.small]
input_per_1m = 0.15
output_per_1m = 0.6

[[variant]]
name = "a"
weight = 3
endpoint = "chat"
model = "big"
max_tokens = 50
prompt_tokens = 100

[[variant]]
name = "b"
endpoint = "completions"
model = "small"
max_tokens = 10
n = 2
best_of = 3
batch = 4
stream = false
prompt_tokens = 20
"#;

#[test]
fn validate_and_dry_run_print_the_worst_case_by_hand() {
    let (_dir, path) = scenario_file(PLAN_EXAMPLE);
    for args in [vec!["validate"], vec!["run", "--dry-run"]] {
        let o = llmload().args(&args).arg(&path).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        // 20 requests: a gets 15, b gets 5.
        // a: 15 × 100 = 1500 in, 15 × 50 = 750 out, 15 × (100 × 2.5 + 50 × 10) / 1e6 = $0.01125.
        // b: 5 × 4 × 20 = 400 in, 5 × 4 × 10 × 3 = 600 out, 5 × (80 × 0.15 + 120 × 0.6) / 1e6 = $0.00042.
        let row = |name: &str| {
            out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{out}")).to_owned()
        };
        let a: Vec<String> = row("a ").split_whitespace().map(str::to_owned).collect();
        assert_eq!(a[a.len() - 4..], ["15", "1500", "750", "0.011250"], "{out}");
        let b: Vec<String> = row("b ").split_whitespace().map(str::to_owned).collect();
        assert_eq!(b[b.len() - 4..], ["5", "400", "600", "0.000420"], "{out}");
        let t: Vec<String> = row("total").split_whitespace().map(str::to_owned).collect();
        assert_eq!(t[1..], ["20", "1900", "1350", "0.011670"], "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_limit_paces_requests_and_the_wait_shows_as_queue_delay() {
    // Asked: 20/s for 2 s. Allowed by the client: 600/min = 10/s.
    let toml = BASE.replace("concurrency = 4\nrequests = 12", "rate = 20\nduration = \"2s\"")
        + "\n[client_limit]\nrequests_per_minute = 600\n";
    let (_dir, out) = run(&toml).await;
    let t = &out.summary.total;
    assert_eq!(t.requests.sent, 40);
    let rate = t.throughput.requests_per_s;
    assert!((8.0..=12.0).contains(&rate), "paced at ~10/s, got {rate}");
    assert!(t.queue_delay_ms.max.unwrap() > 1000.0, "held back, and it shows: {:?}", t.queue_delay_ms);
}

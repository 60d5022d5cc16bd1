//! Throughput over the measured window counts the work that completed inside
//! it (DESIGN: throughput windows), checked against requests.csv and against
//! the simulator's fixed capacity.

use std::path::Path;

use llmload::results::ResultsDir;

use crate::util::{options, scenario_file};

/// Runs an example scenario from `scenarios/` in-process.
async fn run_example(name: &str) -> (tempfile::TempDir, llmload::RunOutcome) {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new("scenarios").join(name);
    let (_tx, rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
    let out = llmload::run_scenario(options(path, dir.path()), rx).await.expect("run");
    (dir, out)
}

/// Ok requests and output tokens whose end (intended + e2e) falls inside
/// [from, to] seconds of the step, counted from requests.csv.
fn completed_in(dir: &Path, from: f64, to: f64) -> (u64, u64) {
    let d = ResultsDir::open(dir, "results directory").unwrap();
    let (mut n, mut tokens) = (0, 0);
    d.requests()
        .unwrap()
        .for_each(|r| {
            let end = (r.intended_ms + r.e2e_ms) / 1000.0;
            if r.ok() && end >= from && end <= to {
                n += 1;
                tokens += r.output_tokens;
            }
            Ok(())
        })
        .unwrap();
    (n, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_throughput_is_what_requests_csv_says_completed_in_the_window() {
    let _heavy = crate::util::CPU_HEAVY.read().await;
    let (_dir, out) = run_example("quickstart.toml").await;
    let s = &out.summary;
    // quickstart: 2 s of warm-up, then 12 s to its planned end; the drain
    // after it is not part of the window.
    assert!((s.measured_seconds - 12.0).abs() < 0.01, "window {} s", s.measured_seconds);
    assert!(s.drain_seconds > 0.0, "requests in flight at the end drain after the window");
    let (n, tokens) = completed_in(&out.dir, 2.0, 14.0);
    let want = n as f64 / 12.0;
    let got = s.total.throughput.requests_per_s;
    assert!((got / want - 1.0).abs() <= 0.03, "req/s {got}, requests.csv says {want}");
    let want = tokens as f64 / 12.0;
    let got = s.total.throughput.output_tokens_per_s;
    assert!((got / want - 1.0).abs() <= 0.03, "tok/s {got}, requests.csv says {want}");
    // Offered: measured requests started per second (closed loop: as fast
    // as users come back), close to the achieved rate in steady state.
    let offered = s.total.throughput.offered_requests_per_s;
    assert!((offered / s.total.throughput.requests_per_s - 1.0).abs() < 0.15, "offered {offered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_ramp_throughput_is_flat_past_the_knee() {
    let _heavy = crate::util::CPU_HEAVY.write().await;
    let (_dir, out) = run_example("capacity-ramp.toml").await;
    let st = &out.summary.stages;
    assert_eq!(st.len(), 5);
    let tps: Vec<f64> = st.iter().map(|s| s.stats.throughput.output_tokens_per_s).collect();
    // 16 slots: from 16 users on, the simulator delivers a fixed number of
    // tokens per second however many users wait.
    let past = &tps[2..];
    let (lo, hi) = past.iter().fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    assert!(hi / lo - 1.0 <= 0.05, "tok/s per stage {tps:?}: not flat past the knee");
    // Below the knee, fewer users make fewer tokens: the knee is visible.
    assert!(tps[0] < 0.5 * lo, "tok/s per stage {tps:?}");
    // And each stage's figure is what completed in its 4 s (requests.csv).
    for (k, s) in st.iter().enumerate() {
        let from = 1.0 + 4.0 * k as f64;
        let (_, tokens) = completed_in(&out.dir, from, from + 4.0);
        let want = tokens as f64 / 4.0;
        let got = s.stats.throughput.output_tokens_per_s;
        assert!((got / want - 1.0).abs() <= 0.03, "stage {}: tok/s {got}, requests.csv says {want}", k + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_achieves_its_rate_over_the_window() {
    let _heavy = crate::util::CPU_HEAVY.read().await;
    let toml = r#"
name = "open"
seed = 3
[load]
rate = 20
arrival = "constant"
duration = "3s"
warmup = "1s"
[simulator]
ttft = "20ms"
itl = "5ms"
jitter = 0
[[variant]]
name = "v"
endpoint = "chat"
model = "m"
max_tokens = 10
prompt_tokens = 10
"#;
    let (dir, path) = scenario_file(toml);
    let (_tx, rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
    let out = llmload::run_scenario(options(path, dir.path()), rx).await.expect("run");
    let t = &out.summary.total.throughput;
    // 20/s offered and served: the drain no longer dilutes the rate.
    assert!((t.offered_requests_per_s - 20.0).abs() <= 0.5, "offered {}", t.offered_requests_per_s);
    assert!((t.requests_per_s - 20.0).abs() <= 0.5, "achieved {}", t.requests_per_s);
}

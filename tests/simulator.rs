//! The example scenarios that exercise the simulator's fidelity, run through
//! llmload: the capacity knee, rate limits and faults, as a user sees them.

use std::path::Path;
use std::time::Duration;

use llmload::metrics::Summary;
use llmload::run_loaded;
use llmload::scenario::Scenario;

async fn run_example(name: &str, adjust: impl FnOnce(&mut Scenario)) -> Summary {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    let mut s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    adjust(&mut s);
    let dir = tempfile::tempdir().unwrap();
    let opts = crate::util::options(path, dir.path());
    let (_tx, rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
    run_loaded(s, opts, rx).await.unwrap().summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_ramp_shows_the_knee() {
    let s = run_example("capacity-ramp.toml", |s| {
        s.load.warmup = Duration::ZERO;
        for st in &mut s.load.stages {
            st.duration = Some(Duration::from_millis(1500));
        }
    })
    .await;
    let ttft = |i: usize| s.stages[i].stats.ttft_ms.p50.unwrap();
    let (low, high) = (ttft(0), ttft(s.stages.len() - 1));
    assert!(high >= 3.0 * low, "TTFT p50 {low} ms at the lowest stage, {high} ms at the highest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_give_429s_and_the_run_goes_on() {
    let s = run_example("rate-limits.toml", |_| {}).await;
    let t = &s.total;
    let limited = t.errors.iter().find(|e| e.class == "http_429").map_or(0, |e| e.count);
    // 60 in the bucket + 1/s refill over 10 s of 100 requests.
    assert!((20..=40).contains(&limited), "429s: {limited}; {:?}", t.errors);
    assert_eq!(t.requests.sent, 100);
    assert_eq!(t.requests.ok + limited, 100);
    assert!(t.errors[0].messages[0].message.contains("Rate limit"), "{:?}", t.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_faults_are_about_five_percent_errors_each_classified() {
    let s = run_example("faults.toml", |_| {}).await;
    let t = &s.total;
    assert_eq!(t.requests.sent, 2000);
    let rate = t.requests.errors as f64 / 2000.0;
    assert!((0.035..=0.065).contains(&rate), "error rate {rate}: {:?}", t.errors);
    let classes: Vec<&str> = t.errors.iter().map(|e| e.class.as_str()).collect();
    for class in ["http_500", "http_503", "stream_truncated"] {
        assert!(classes.contains(&class), "{class} in {classes:?}");
    }
    assert!(classes.len() == 4, "resets are a fourth class: {classes:?}");
    assert_eq!(s.stop_reason, llmload::metrics::StopReason::Requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_429_with_retry_after_are_retried_and_counted() {
    let s = run_example("faults.toml", |s| {
        s.load.requests = Some(100);
        s.client.retries = 3;
        s.simulator.default_profile.faults = llmload_mock::Faults { http_429: 0.3, ..Default::default() };
        for m in s.simulator.models.values_mut() {
            m.faults = s.simulator.default_profile.faults;
        }
    })
    .await;
    let r = &s.total.requests;
    assert_eq!(r.sent, 100);
    assert_eq!(r.sent, r.ok + r.errors);
    // 30% of first attempts meet a 429; 0.3^4 = 0.8% would fail all four.
    assert!((15..=45).contains(&r.rate_limited), "429s seen: {}", r.rate_limited);
    assert!(r.retries >= r.rate_limited - r.errors, "each 429 but the last ones is retried: {r:?}");
    assert!(r.ok >= 95, "{r:?}");
    // A retried request counts from its first intended start: at least the 1 s wait.
    assert!(s.total.e2e_ms.max.unwrap() >= 1000.0, "{:?}", s.total.e2e_ms);
}

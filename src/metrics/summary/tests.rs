use std::time::{Duration, Instant};

use super::*;
use crate::metrics::{Outcome, RequestRecord, VariantInfo};

fn record(intended: Instant) -> RequestRecord {
    RequestRecord::example(intended)
}

#[test]
fn a_shard_defers_objectives_on_the_whole_run_and_judges_latency() {
    let t0 = Instant::now();
    let info =
        VariantInfo { name: "v".into(), streaming: true, embeddings: false, priced: false, swept: None };
    let mut m = Metrics::new([info], 1, t0);
    m.window_end = Some(t0 + Duration::from_secs(10));
    let mut r = record(t0);
    (r.first_token, r.end) = (Some(t0 + Duration::from_millis(50)), t0 + Duration::from_millis(80));
    m.record(&r);
    let slo = |toml: &str| {
        let src = format!(
            "name = \"s\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"v\"\n\
             endpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 4\n[slo]\n{toml}"
        );
        crate::scenario::Scenario::parse(&src, std::path::Path::new("s.toml")).unwrap().slo
    };
    let mut s = Summary::new("t", &[m.clone()], &[], crate::metrics::StopReason::Duration, false);
    // 0.1 req/s in this shard: far below the run's objective, which the merge judges.
    s.judge_shard(&slo("requests_per_s = { min = 100 }\n\"ttft.p95\" = \"1s\"\n"));
    assert_eq!(s.slo_passed, Some(true));
    assert!(s.slo[0].deferred && !s.slo[1].deferred);
    s.judge_shard(&slo("\"ttft.p95\" = \"1ms\"\n"));
    assert_eq!(s.slo_passed, Some(false), "latency is judged in the shard");
    s.judge(&slo("requests_per_s = { min = 100 }\n"));
    assert_eq!(s.slo_passed, Some(false), "a whole run is judged in full");
}

#[test]
fn the_live_ttft_is_of_the_streamed_variants_and_says_so() {
    let t0 = Instant::now();
    let info = |name: &str, streaming| VariantInfo {
        name: name.into(),
        streaming,
        embeddings: false,
        priced: false,
        swept: None,
    };
    let mut m = Metrics::new([info("s", true), info("whole", false)], 1, t0);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut fast = record(t0);
    (fast.first_token, fast.end) = (Some(at(50)), at(900));
    let mut slow = record(t0);
    (slow.variant, slow.streaming, slow.first_token, slow.end) = (1, false, Some(at(900)), at(900));
    m.record(&fast);
    m.record(&slow);
    assert_eq!(m.live_ttft(), "p50 50 / p99 50 ms (streamed variants)", "not 900 ms: that is e2e");
    let only_whole = Metrics::new([info("whole", false)], 1, t0);
    assert_eq!(only_whole.live_ttft(), "- (not streamed)");
}

#[test]
fn throughput_counts_what_completed_in_the_window_not_the_drain() {
    let t0 = Instant::now();
    let info =
        VariantInfo { name: "v".into(), streaming: true, embeddings: false, priced: false, swept: None };
    // Warm-up until t0 + 1 s; the window ends at t0 + 3 s.
    let start = t0 + Duration::from_secs(1);
    let mut m = Metrics::new([info], 1, start);
    m.window_end = Some(t0 + Duration::from_secs(3));
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let done = |intended: u64, end: u64, warmup: bool| {
        let mut r = record(at(intended));
        (r.end, r.warmup, r.output_tokens) = (at(end), warmup, 10);
        r
    };
    m.record(&done(500, 1_200, true)); // warm-up, completed in the window: counts
    m.record(&done(200, 900, true)); // warm-up, completed before it: does not
    m.record(&done(1_500, 2_500, false)); // measured, in the window
    m.record(&done(2_900, 3_800, false)); // measured, completed in the drain
    let s = Summary::new("t", &[m], &[], crate::metrics::StopReason::Duration, false);
    assert_eq!(s.measured_seconds, 2.0);
    assert_eq!(s.drain_seconds, 0.8);
    let t = &s.total.throughput;
    assert_eq!((t.requests_per_s, t.output_tokens_per_s), (1.0, 10.0), "2 completions in 2 s");
    assert_eq!(t.offered_requests_per_s, 1.0, "2 measured requests started in 2 s");
    // Latency is every measured request's, the drained one included.
    assert_eq!(s.total.e2e_ms.count, 2);
}

#[test]
fn retries_rate_limits_finish_reasons_and_ttfr_are_counted() {
    let t0 = Instant::now();
    let info =
        VariantInfo { name: "v".into(), streaming: true, embeddings: false, priced: false, swept: None };
    let mut m = Metrics::new([info], 1, t0);
    let mut ok = record(t0);
    ok.attempts = 2;
    ok.rate_limited = 1;
    ok.first_reasoning = Some(t0 + Duration::from_millis(20));
    ok.first_token = Some(t0 + Duration::from_millis(50));
    ok.end = t0 + Duration::from_millis(90);
    ok.finish_reasons = vec!["stop".into(), "length".into()];
    m.record(&ok);
    let mut failed = record(t0);
    failed.attempts = 3;
    failed.rate_limited = 3;
    failed.outcome = Outcome::RateLimited;
    m.record(&failed);
    let s = Summary::new("t", &[m], &[], crate::metrics::StopReason::Duration, false);
    for stats in [&s.variants[0], &s.total] {
        assert_eq!((stats.requests.retries, stats.requests.rate_limited), (3, 4));
        assert_eq!(stats.finish_reasons.get("stop"), Some(&1));
        assert_eq!(stats.finish_reasons.get("length"), Some(&1));
        assert_eq!(stats.ttfr_ms.count, 1);
        // HDR histograms keep 3 significant digits.
        assert!(stats.ttfr_ms.p50.is_some_and(|p| (p - 20.0).abs() < 0.1), "{:?}", stats.ttfr_ms);
    }
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["total"]["requests"]["retries"], 3);
    assert_eq!(json["total"]["finish_reasons"]["stop"], 1);
    assert!(json["total"]["ttfr_ms"]["p99"].is_number());
}

/// The lanes of a run each record their own share of the requests; merged,
/// the shares give the very summary one recorder of them all gives.
#[test]
fn lanes_merged_give_the_summary_of_one_recorder() {
    let t0 = Instant::now();
    let info = |name: &str, streaming| VariantInfo {
        name: name.into(),
        streaming,
        embeddings: false,
        priced: true,
        swept: None,
    };
    let fresh = || {
        let mut m = Metrics::new([info("a", true), info("b", false)], 2, t0 + Duration::from_millis(100));
        m.window_end = Some(t0 + Duration::from_secs(3));
        m
    };
    let mut whole = fresh();
    let mut lanes = [fresh(), fresh(), fresh()];
    for i in 0..300u64 {
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut r = record(at(i * 7));
        r.seq = i;
        r.variant = usize::from(i % 3 == 0);
        r.streaming = r.variant == 0;
        r.stage = usize::from(i >= 150);
        r.warmup = i < 10;
        r.first_token = Some(at(i * 7 + 20 + i % 13));
        r.end = at(i * 7 + 60 + i % 29);
        r.output_tokens = 5 + i % 4;
        r.cost_usd = Some(0.001 * (i % 5) as f64);
        if i % 17 == 0 {
            r.outcome = Outcome::Http(500);
            r.error = Some(format!("boom {}", i % 2));
        }
        whole.record(&r);
        lanes[(i % 3) as usize].record(&r);
    }
    let mut merged = fresh();
    for l in &lanes {
        merged.merge(l);
    }
    assert_eq!(Metrics::live_ttft_of(&lanes), whole.live_ttft());
    let summary = |m: &Metrics| {
        let s = Summary::new("t", std::slice::from_ref(m), &[], crate::metrics::StopReason::Duration, false);
        // Costs are summed in another order; the summary rounds them to
        // a millionth of a dollar.
        serde_json::to_value(&s).unwrap()
    };
    assert_eq!(summary(&merged), summary(&whole));
    for (m, w) in merged.stages.iter().zip(&whole.stages) {
        let stored = |v: &crate::metrics::VariantMetrics| {
            let mut j = serde_json::to_value(v).unwrap();
            j["cost_usd"] = serde_json::json!((v.cost_usd * 1e9).round());
            j
        };
        assert_eq!(stored(m), stored(w), "{}", w.name);
    }
    assert_eq!(merged.last_end, whole.last_end);
}

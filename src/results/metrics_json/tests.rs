use std::time::{Duration, Instant};

use super::*;
use crate::metrics::{Outcome, RequestRecord, VariantInfo};
use crate::scenario::{Bound, LatencyMetric, SloMetric, Stat};

fn record(variant: usize, stage: usize, intended: Instant, i: u64) -> RequestRecord {
    let mut r = RequestRecord::example(intended);
    (r.variant, r.seq, r.stage) = (variant, i, stage);
    r.sent = intended + Duration::from_micros(37 * i);
    r.first_token = Some(intended + Duration::from_micros(20_000 + 997 * i));
    r.itl = (0..5).map(|k| Duration::from_micros(3_000 + 13 * k * i)).collect();
    r.end = intended + Duration::from_micros(60_000 + 4_111 * i);
    r.output_tokens = 6;
    r.prompt_tokens = 10 + i;
    r.cost_usd = Some(1e-6 * i as f64 / 3.0);
    r.finish_reasons = vec![if i.is_multiple_of(3) { "length" } else { "stop" }.into()];
    if i.is_multiple_of(7) {
        r.outcome = Outcome::Http(500);
        r.error = Some(format!("boom {}", if i.is_multiple_of(2) { "left" } else { "right" }));
    }
    r.attempts = 1 + u32::from(i.is_multiple_of(5));
    r
}

/// Two steps (as a sequential sweep makes), two variants, two stages, errors,
/// retries, prices and odd windows: everything a summary reads.
fn steps() -> Vec<Metrics> {
    (0..2)
        .map(|step| {
            let t0 = Instant::now();
            let infos = ["a", "b/max_tokens=64"].map(|n| VariantInfo {
                name: n.into(),
                streaming: true,
                embeddings: false,
                priced: true,
                swept: None,
            });
            let mut m = Metrics::new(infos, 2, t0);
            for i in 0..200u64 {
                m.record(&record(step, (i % 2) as usize, t0 + Duration::from_micros(1_234 * i), i));
            }
            m.last_end = Some(t0 + Duration::from_nanos(2_345_678_901 + step as u64 * 1_000_000_007));
            m
        })
        .collect()
}

fn stages() -> Vec<Stage> {
    vec![
        Stage { duration: Some(Duration::from_millis(1500)), level: 4.0 },
        Stage { duration: Some(Duration::from_millis(2250)), level: 8.0 },
    ]
}

fn objectives() -> Vec<Slo> {
    vec![Slo {
        variant: Some("a".into()),
        metric: SloMetric::Latency(LatencyMetric::Ttft, Stat::P95),
        bound: Bound::Max,
        threshold: 123.456,
        key: "ttft.p95".into(),
    }]
}

#[test]
fn stored_then_loaded_metrics_give_an_identical_summary() {
    let steps = steps();
    let mut before = Summary::new("persist", &steps, &stages(), crate::metrics::StopReason::Duration, false);
    before.notes = vec!["a note".into()];
    before.judge(&objectives());
    let text = to_json(&before, &steps).unwrap();
    let loaded = from_json(&text).unwrap();
    let after = loaded.summary();
    assert_eq!(serde_json::to_value(&before).unwrap(), serde_json::to_value(&after).unwrap());
    // Not only the figures: the histograms and counters themselves.
    for (a, b) in steps.iter().zip(&loaded.steps) {
        assert_eq!(a.window(), b.window());
        for (x, y) in a.variants.iter().chain(&a.stages).zip(b.variants.iter().chain(&b.stages)) {
            assert_eq!(x.name, y.name);
            assert!(x.h.e2e == y.h.e2e && x.h.itl == y.h.itl && x.h.ttft == y.h.ttft);
            assert_eq!(
                (x.ok, x.error_count(), x.retries, x.cost_usd),
                (y.ok, y.error_count(), y.retries, y.cost_usd)
            );
            assert_eq!(serde_json::to_value(&x.errors).unwrap(), serde_json::to_value(&y.errors).unwrap());
            assert_eq!(x.finish_reasons, y.finish_reasons);
        }
    }
    assert_eq!(steps[0].variants[0].errors["http_500"].messages.len(), 2, "both messages kept");
    assert_eq!(loaded.variant_names(), ["a", "b/max_tokens=64"]);
    assert_eq!(loaded.objectives, objectives());
}

#[test]
fn windows_and_completion_times_survive_storing() {
    // A run's steps end their window before the last request ends (a drain).
    let mut steps = steps();
    for m in &mut steps {
        let last = m.last_end.expect("requests ended");
        m.window_end = Some(last - Duration::from_millis(250));
    }
    let before = Summary::new("persist", &steps, &stages(), crate::metrics::StopReason::Duration, false);
    assert!(before.drain_seconds > 0.0);
    let loaded = from_json(&to_json(&before, &steps).unwrap()).unwrap();
    let after = loaded.summary();
    assert_eq!(serde_json::to_value(&before).unwrap(), serde_json::to_value(&after).unwrap());
    for (a, b) in steps.iter().zip(&loaded.steps) {
        assert_eq!((a.window(), a.drain()), (b.window(), b.drain()));
        for (x, y) in a.variants.iter().zip(&b.variants) {
            assert!(x.completed.requests == y.completed.requests);
            assert!(x.completed.output_tokens == y.completed.output_tokens);
        }
    }
}

#[test]
fn histograms_are_stored_as_v2_deflate_and_empty_ones_stay_small() {
    let steps = steps();
    let s = Summary::new("persist", &steps, &[], crate::metrics::StopReason::Duration, false);
    let v: serde_json::Value = serde_json::from_str(&to_json(&s, &steps).unwrap()).unwrap();
    let h = &v["steps"][0]["variants"][0]["histograms"];
    let e2e = BASE64.decode(h["e2e"].as_str().unwrap()).unwrap();
    // The V2 compressed cookie, big-endian.
    assert_eq!(e2e[..4], [0x1c, 0x84, 0x93, 0x14]);
    assert!(h["ttfr"].as_str().unwrap().len() < 100, "empty: {}", h["ttfr"]);
    assert_eq!(v["format"], FORMAT);
}

#[test]
fn window_seconds_round_trip_to_the_nanosecond() {
    for ns in [0u64, 1, 999_999_999, 12_345_678_901, 86_399_999_999_999, 3_600_000_000_007] {
        let d = Duration::from_nanos(ns);
        assert_eq!(seconds(d.as_secs_f64()), d, "{ns} ns");
    }
}

#[test]
fn loading_refuses_other_formats_and_broken_histograms() {
    let steps = steps();
    let s = Summary::new("persist", &steps, &[], crate::metrics::StopReason::Duration, false);
    let text = to_json(&s, &steps).unwrap();
    let e = from_json(&text.replace(FORMAT, "llmload-metrics/99")).unwrap_err();
    assert!(e.to_string().contains("llmload-metrics/99"), "{e}");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["steps"][0]["variants"][0]["histograms"]["e2e"] = "AAAA".into();
    let e = from_json(&v.to_string()).unwrap_err();
    assert!(format!("{e:#}").contains("e2e"), "{e:#}");
}

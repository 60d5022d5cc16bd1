use super::*;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn command_line_objectives_take_the_values_of_the_slo_table() {
    let variants = args(&["chat", "chat:big", "x/max_tokens=8"]);
    let mut o = Vec::new();
    apply_overrides(
        &mut o,
        &args(&[
            "ttft.p95=800ms",
            "e2e.p99=\"2s\"",
            "e2e.max={max = \"3s\"}",
            "error_rate=0.01",
            "requests_per_s={min=15}",
            "output_tokens_per_s=500",
            "chat:itl.p50=30ms",
            "chat:big:tpot.mean=5ms",
            "x/max_tokens=8:cost_usd=1",
        ]),
        &variants,
    )
    .unwrap();
    let got: Vec<(Option<&str>, &str, Bound, f64)> =
        o.iter().map(|s| (s.variant.as_deref(), s.key.as_str(), s.bound, s.threshold)).collect();
    assert_eq!(
        got,
        [
            (None, "ttft.p95", Bound::Max, 800.0),
            (None, "e2e.p99", Bound::Max, 2000.0),
            (None, "e2e.max", Bound::Max, 3000.0),
            (None, "error_rate", Bound::Max, 0.01),
            (None, "requests_per_s", Bound::Min, 15.0),
            (None, "output_tokens_per_s", Bound::Min, 500.0),
            (Some("chat"), "itl.p50", Bound::Max, 30.0),
            // The longest variant name that fits wins.
            (Some("chat:big"), "tpot.mean", Bound::Max, 5.0),
            (Some("x/max_tokens=8"), "cost_usd", Bound::Max, 1.0),
        ]
    );
    assert_eq!(o[6].metric, SloMetric::Latency(LatencyMetric::Itl, Stat::P50));
}

#[test]
fn an_override_replaces_the_objective_of_the_same_variant_and_metric() {
    let variants = args(&["chat"]);
    let mut o = Vec::new();
    apply_overrides(&mut o, &args(&["ttft.p95=1s", "chat:ttft.p95=2s"]), &variants).unwrap();
    apply_overrides(&mut o, &args(&["ttft.p95=3s", "error_rate=0"]), &variants).unwrap();
    let got: Vec<(Option<&str>, &str, f64)> =
        o.iter().map(|s| (s.variant.as_deref(), s.key.as_str(), s.threshold)).collect();
    assert_eq!(
        got,
        [(None, "ttft.p95", 3000.0), (Some("chat"), "ttft.p95", 2000.0), (None, "error_rate", 0.0)]
    );
}

#[test]
fn bad_command_line_objectives_are_all_named() {
    let mut o = Vec::new();
    let e = apply_overrides(&mut o, &args(&["error_rate=1.5", "ttft.p95=-1s", "queue_delay.p99=true"]), &[])
        .unwrap_err()
        .0;
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with("--slo \"error_rate=1.5\": error_rate is a fraction"), "{e}");
    assert!(lines[1].starts_with("--slo \"ttft.p95=-1s\": must be a duration such as"), "{e}");
    assert!(lines[2].contains("a latency needs a duration with its unit"), "{e}");
    assert!(o.is_empty());
}

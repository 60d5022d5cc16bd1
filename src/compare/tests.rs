use super::OutputFormat as CompareFormat;
use super::judge::{Judge, seed};
use super::*;

#[test]
fn threshold_accepts_percentages_and_fractions() {
    assert_eq!(parse_threshold("10%"), Ok(0.1));
    assert_eq!(parse_threshold("0.1"), Ok(0.1));
    assert_eq!(parse_threshold(" 2.5 %"), Ok(0.025));
    assert_eq!(parse_threshold("0"), Ok(0.0));
    assert_eq!(parse_threshold("150%"), Ok(1.5));
    assert_eq!(parse_threshold("1"), Ok(1.0));
}

#[test]
fn threshold_rejects_what_it_cannot_read_unambiguously() {
    for bad in ["", "ten", "-5%", "10 percent", "nan", "inf%"] {
        let e = parse_threshold(bad).unwrap_err();
        assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
    }
    let e = parse_threshold("10").unwrap_err();
    assert!(e.contains("write 10% for a percentage"), "{e}");
}

fn judge(threshold: f64) -> Judge {
    Judge { threshold }
}

#[test]
fn a_regression_needs_significance_direction_and_size() {
    let j = judge(0.1);
    let up = Some(1.0);
    // Latency up 30%, significant: a regression; down 30%: an improvement.
    assert_eq!(j.verdict(Better::Lower, 30.0, Some(30.0), up), Verdict::Regression);
    assert_eq!(j.verdict(Better::Lower, -30.0, Some(-30.0), Some(-1.0)), Verdict::Improvement);
    // Throughput down 30%: a regression.
    assert_eq!(j.verdict(Better::Higher, -3.0, Some(-30.0), Some(-1.0)), Verdict::Regression);
    // Significant but within the threshold, or beyond it but not significant.
    assert_eq!(j.verdict(Better::Lower, 5.0, Some(5.0), up), Verdict::NoChange);
    assert_eq!(j.verdict(Better::Lower, 10.0, Some(10.0), up), Verdict::NoChange, "strictly larger");
    assert_eq!(j.verdict(Better::Lower, 30.0, Some(30.0), None), Verdict::NoChange);
    // The test and the figure disagree on the direction: not trusted.
    assert_eq!(j.verdict(Better::Lower, 30.0, Some(30.0), Some(-1.0)), Verdict::NoChange);
    // From a baseline of 0 (error rate 0%), any significant rise is beyond.
    assert_eq!(j.verdict(Better::Lower, 0.05, None, up), Verdict::Regression);
    assert_eq!(judge(0.0).verdict(Better::Lower, 1.0, Some(1.0), up), Verdict::Regression);
}

#[test]
fn rows_without_data_on_a_side_are_not_compared() {
    let j = judge(0.1);
    let ev = Some(stats::z_test(1.0, 0.1));
    let r = j.row("cost_per_request_usd".into(), Better::Lower, None, Some(0.01), ev, Some(1.0));
    assert_eq!((r.verdict, r.delta), (Verdict::NotCompared, None));
    let r = j.row("ttft_ms.p50".into(), Better::Lower, Some(1.0), Some(2.0), None, None);
    assert_eq!(r.verdict, Verdict::NotCompared);
    let r = j.row("ttft_ms.p50".into(), Better::Lower, Some(100.0), Some(130.0), ev, Some(1.0));
    assert_eq!(r.verdict, Verdict::Regression);
    assert!(r.significant);
    assert!((r.delta_pct.unwrap() - 30.0).abs() < 1e-9);
}

#[test]
fn seeds_depend_on_what_is_compared_only() {
    assert_eq!(seed("a", "ttft_ms.p50"), seed("a", "ttft_ms.p50"));
    assert_ne!(seed("a", "ttft_ms.p50"), seed("a", "ttft_ms.p95"));
    assert_ne!(seed("ab", "c"), seed("a", "bc"));
}

fn sample() -> Comparison {
    let j = judge(0.1);
    let ev = Some(stats::z_test(30.0, 2.0));
    let rows = vec![
        j.row("ttft_ms.p50".into(), Better::Lower, Some(100.0), Some(130.0), ev, Some(1.0)),
        j.row("throughput.requests_per_s".into(), Better::Higher, Some(20.0), Some(20.1), None, None),
        j.row("error_rate".into(), Better::Lower, Some(0.0), Some(0.0), Some(stats::z_test(0.0, 0.0)), None),
    ];
    let run = |dir: &str| RunRef { dir: dir.into(), scenario: "s".into(), requests: 100, partial: false };
    Comparison {
        baseline: run("base"),
        candidate: run("cand"),
        method: Method { alpha: 0.01, max_regression: 0.1, bootstrap_resamples: RESAMPLES },
        variants: vec![VariantComparison { name: "chat".into(), metrics: rows.clone() }],
        total: VariantComparison { name: "total".into(), metrics: rows },
        only_in_baseline: vec!["old".into()],
        only_in_candidate: vec![],
        regressions: vec!["chat ttft_ms.p50".into(), "total ttft_ms.p50".into()],
        improvements: vec![],
        passed: false,
        notes: vec![],
    }
}

#[test]
fn text_table_names_the_regressed_metric_and_aligns_columns() {
    let t = render(&sample(), CompareFormat::Text);
    assert!(t.contains("result: 2 significant regressions beyond the threshold"), "{t}");
    assert!(t.contains("  regression total: ttft p50 (ms) +30.0%"), "{t}");
    assert!(t.contains("only in the baseline (not compared): old"), "{t}");
    let row = t.lines().find(|l| l.trim_start().starts_with("ttft p50")).unwrap();
    let header = t.lines().find(|l| l.trim_start().starts_with("metric")).unwrap();
    // The verdict column starts at the same place on every line.
    let col = header.find("verdict").unwrap();
    assert_eq!(row.find("regression"), Some(col), "{t}");
    let other = t.lines().find(|l| l.trim_start().starts_with("requests/s")).unwrap();
    assert_eq!(other.find("not compared"), Some(col), "{t}");
    assert!(row.ends_with("regression"), "{row}");
    assert!(t.contains("error rate (%)"), "{t}");
}

#[test]
fn markdown_is_a_github_table_with_bold_regressions() {
    let md = render(&sample(), CompareFormat::Md);
    assert!(md.starts_with("### llmload compare: 2 significant regressions"), "{md}");
    assert!(
        md.contains("| metric | baseline | candidate | change | 99% CI of change | p | verdict |"),
        "{md}"
    );
    assert!(md.contains("| ttft p50 (ms) | 100.0 | 130.0 | +30.00 (+30.0%) |"), "{md}");
    assert!(md.contains("| **regression** |"), "{md}");
    assert!(md.contains("| requests/s | 20.00 | 20.10 | +0.1000 (+0.5%) | - | - | not compared |"), "{md}");
}

#[test]
fn json_has_stable_field_names() {
    let v: serde_json::Value = serde_json::from_str(&render(&sample(), CompareFormat::Json)).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["method"]["alpha"], 0.01);
    let row = &v["total"]["metrics"][0];
    assert_eq!(row["metric"], "ttft_ms.p50");
    assert_eq!(row["better"], "lower");
    assert_eq!(row["verdict"], "regression");
    assert_eq!(row["delta"], 30.0);
    for k in ["baseline", "candidate", "delta_pct", "ci_low", "ci_high", "p_value", "significant"] {
        assert!(row.get(k).is_some(), "{k}");
    }
    assert_eq!(v["total"]["metrics"][2]["verdict"], "no significant change");
    assert_eq!(v["only_in_baseline"][0], "old");
}

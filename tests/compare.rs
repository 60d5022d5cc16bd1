//! `llmload compare` on real runs of the simulator: a rerun is not a
//! regression, a 30% slower time to first token is, and bad input exits 2.

use std::path::Path;
use std::process::Output;

use crate::util::{llmload, run};

/// ~2.8 s against the simulator; ~80 requests per run.
const BASE: &str = r#"
name = "compare"
seed = 11

[load]
concurrency = 8
duration = "2500ms"
warmup = "300ms"

[simulator]
ttft = "100ms"
itl = "20ms"
jitter = 0.1

[[variant]]
name = "chat"
weight = 3
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 30

[[variant]]
name = "whole"
endpoint = "completions"
model = "m"
max_tokens = 4
stream = false
prompt_tokens = 10
"#;

fn compare(baseline: &Path, candidate: &Path, extra: &[&str]) -> Output {
    llmload().arg("compare").arg(baseline).arg(candidate).args(extra).output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn verdict(v: &serde_json::Value, section: &str, metric: &str) -> String {
    let rows = v[section]["metrics"].as_array().unwrap();
    let row = rows.iter().find(|r| r["metric"] == metric).unwrap_or_else(|| panic!("{metric} in {v}"));
    row["verdict"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_with_another_seed_is_no_significant_regression() {
    let (_a, base) = run(BASE).await;
    let (_b, again) = run(&BASE.replace("seed = 11", "seed = 12")).await;
    let o = compare(&base.dir, &again.dir, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("result: no significant regression"), "{text}");
    for name in
        ["chat", "whole", "total", "ttft p99 (ms)", "itl p50 (ms)", "output tokens/s", "error rate (%)"]
    {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    let v = json(&compare(&base.dir, &again.dir, &["--format", "json"]));
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["variants"].as_array().unwrap().len(), 2);
    assert_eq!(verdict(&v, "total", "ttft_ms.p50"), "no significant change", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_higher_ttft_is_a_regression_and_exits_1() {
    let (_a, base) = run(BASE).await;
    let (_b, slow) = run(&BASE.replace("ttft = \"100ms\"", "ttft = \"130ms\"")).await;
    let o = compare(&base.dir, &slow.dir, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("significant regression"), "{text}");
    assert!(text.contains("regression total: ttft p50 (ms) +"), "the metric is named: {text}");
    let v = json(&compare(&base.dir, &slow.dir, &["--format", "json"]));
    assert_eq!(v["passed"], false);
    for section in ["total", "variants"] {
        let s = if section == "total" { v["total"].clone() } else { v["variants"][0].clone() };
        let wrapped = serde_json::json!({ "s": s });
        assert_eq!(verdict(&wrapped, "s", "ttft_ms.p50"), "regression", "{section}: {v}");
    }
    assert!(v["regressions"].as_array().unwrap().iter().any(|r| r == "total ttft_ms.p50"), "{v}");
    // Throughput, errors: the simulator's capacity and faults did not change.
    assert_eq!(verdict(&v, "total", "error_rate"), "no significant change");
    // The other way round the same change is an improvement, and exits 0.
    let o = compare(&slow.dir, &base.dir, &["--format", "md", "--max-regression", "0.1"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{md}");
    assert!(md.starts_with("### llmload compare: no significant regression"), "{md}");
    assert!(md.contains("| ttft p50 (ms) |") && md.contains("| improvement |"), "{md}");
    // A threshold above the change: significant but tolerated.
    let o = compare(&base.dir, &slow.dir, &["--max-regression", "60%"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn missing_or_unreadable_directories_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = compare(&missing, dir.path(), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("baseline results directory {}", missing.display())), "{err}");

    // A directory without summary.json, and one with a summary.json that is not one.
    let o = compare(dir.path(), dir.path(), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&dir.path().join("summary.json").display().to_string()), "{err}");
    std::fs::write(dir.path().join("summary.json"), "{}").unwrap();
    let o = compare(dir.path(), dir.path(), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("summary.json: not an llmload summary"), "{err}");

    for bad in ["ten", "15", "-1%"] {
        let o = compare(dir.path(), dir.path(), &[&format!("--max-regression={bad}")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--max-regression"), "{bad}: {err}");
    }
    let o = compare(dir.path(), dir.path(), &["--format", "html"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_lists_compare_and_summarizes_its_method() {
    let o = llmload().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("compare"));
    let o = llmload().args(["compare", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for s in ["Mann-Whitney U", "bootstrap", "alpha", "--max-regression", "BASELINE_DIR", "docs/compare.md"] {
        assert!(help.contains(s), "{s} in\n{help}");
    }
}

#[test]
fn a_missing_or_malformed_requests_csv_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = llmload::metrics::Summary::new("x", &[], &[], llmload::metrics::StopReason::Requests, false);
    s.variants.push(llmload::metrics::Stats { name: "v".into(), ..s.total.clone() });
    std::fs::write(dir.path().join("summary.json"), serde_json::to_vec(&s).unwrap()).unwrap();
    let csv = dir.path().join("requests.csv");
    let run = || {
        let o = compare(dir.path(), dir.path(), &[]);
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (code, err) = run();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("cannot read {}", csv.display())), "{err}");

    let header = "seq,variant,phase,intended_ms,ttft_ms,e2e_ms,prompt_tokens,output_tokens,outcome";
    std::fs::write(&csv, header.replace(",e2e_ms", "") + "\n").unwrap();
    let (code, err) = run();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("requests.csv: no column `e2e_ms`"), "{err}");

    std::fs::write(&csv, format!("{header}\n0,v,measured,0,5,12,1,2,ok\n1,v,measured,0,5,abc,1,2,ok\n"))
        .unwrap();
    let (code, err) = run();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("requests.csv: line 3: column `e2e_ms`: expected a number, got \"abc\""), "{err}");

    // Warm-up rows are not read, whatever they hold.
    std::fs::write(&csv, format!("{header}\n0,v,measured,0,5,12,1,2,ok\n1,v,warmup,0,5,abc,1,2,ok\n"))
        .unwrap();
    let (code, err) = run();
    assert_eq!(code, Some(0), "{err}");
}

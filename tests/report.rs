//! `llmload report`: outputs computed again from metrics.json, shards of one
//! run merged exactly, and the directories it refuses.

use std::path::{Path, PathBuf};

use llmload::metrics::{Percentiles, new_histogram};
use llmload::results::{StoredRun, metrics_json as persist};
use llmload::{ReportOptions, report_results};

use crate::util::{llmload, read_json, run, scenario_file};

/// A sequential sweep (two steps) with jitter, so shards differ.
const SHARD: &str = r#"
name = "sharded"

[load]
concurrency = 3
duration = "700ms"
warmup = "200ms"

[simulator]
ttft = "15ms"
itl = "2ms"
jitter = 0.4

[[variant]]
name = "chat"
endpoint = "chat"
model = "m"
max_tokens = 6
prompt_tokens = 20

[sweep]
mode = "sequential"
max_tokens = [4, 8]
"#;

/// One shard: the same scenario file, its own seed (as `--shard K/N` gives).
async fn run_seeded(toml: &str, seed: u64) -> (tempfile::TempDir, llmload::RunOutcome) {
    let (dir, path) = scenario_file(toml);
    let (_stop, stop_rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
    let opts = llmload::RunOptions { seed: Some(seed), ..crate::util::options(path, dir.path()) };
    let outcome = llmload::run_scenario(opts, stop_rx).await.expect("run succeeds");
    (dir, outcome)
}

fn stored(dir: &Path) -> StoredRun {
    persist::from_json(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

fn opts(dirs: &[&Path], out: Option<PathBuf>, slo: &[&str]) -> ReportOptions {
    ReportOptions {
        dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        out,
        slo: slo.iter().map(|s| s.to_string()).collect(),
        force: false,
    }
}

fn json<T: serde::Serialize>(x: &T) -> serde_json::Value {
    serde_json::to_value(x).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_over_two_shards_gives_the_counts_and_percentiles_of_the_histograms_merged_by_hand() {
    // Two shards started together, as `--shard 1/2` and `--shard 2/2` would be.
    let ((d1, o1), (d2, o2)) = tokio::join!(run_seeded(SHARD, 1), run_seeded(SHARD, 2));
    let out = d1.path().join("merged");
    let merged = report_results(opts(&[&o1.dir, &o2.dir], Some(out.clone()), &[])).unwrap();
    let s = &merged.summary;
    let shards = [stored(&o1.dir), stored(&o2.dir)];
    assert_eq!(s.variants.len(), 2);
    for name in ["chat/max_tokens=4", "chat/max_tokens=8"] {
        let (mut ttft, mut e2e, mut itl) = (new_histogram(), new_histogram(), new_histogram());
        let (mut ok, mut out_tokens, mut window, mut done) = (0, 0, 0.0f64, 0);
        for step in 0..2 {
            let mut step_window = 0.0f64;
            for shard in &shards {
                let m = &shard.steps[step];
                let v = m.variants.iter().find(|v| v.name == name).unwrap();
                // Throughput counts what completed inside each shard's window.
                done += v.completed.within(std::time::Duration::ZERO, m.window()).requests;
                let m = &shard.steps[step];
                let v = m.variants.iter().find(|v| v.name == name).unwrap();
                ttft.add(&v.h.ttft).unwrap();
                e2e.add(&v.h.e2e).unwrap();
                itl.add(&v.h.itl).unwrap();
                ok += v.ok;
                out_tokens += v.output_tokens;
                if v.ok > 0 {
                    step_window = step_window.max(m.window().as_secs_f64());
                }
            }
            window += step_window;
        }
        let v = s.variants.iter().find(|v| v.name == name).unwrap();
        assert!(ok > 10, "{name}: {ok} ok requests");
        assert_eq!(v.requests.ok, ok, "{name}");
        assert_eq!(
            v.requests.ok,
            o1.summary
                .variants
                .iter()
                .chain(&o2.summary.variants)
                .filter(|x| x.name == name)
                .map(|x| x.requests.ok)
                .sum::<u64>()
        );
        assert_eq!(v.output_tokens, out_tokens);
        assert_eq!(json(&v.ttft_ms), json(&Percentiles::from_histogram(&ttft)), "{name} ttft");
        assert_eq!(json(&v.e2e_ms), json(&Percentiles::from_histogram(&e2e)), "{name} e2e");
        assert_eq!(json(&v.itl_ms), json(&Percentiles::from_histogram(&itl)), "{name} itl");
        // Shards run at the same time: the rate is over the longest window, not the sum.
        let rate = (done as f64 / window * 1000.0).round() / 1000.0;
        assert_eq!(v.throughput.requests_per_s, rate, "{name}");
    }
    assert_eq!(s.total.requests.ok, o1.summary.total.requests.ok + o2.summary.total.requests.ok);
    assert_eq!(read_json(&out.join("summary.json"))["total"]["requests"]["ok"], s.total.requests.ok);

    // requests.csv: every shard's rows, told apart by a `shard` column.
    let rows = |p: &Path| csv::Reader::from_path(p.join("requests.csv")).unwrap().records().count();
    let mut r = csv::Reader::from_path(out.join("requests.csv")).unwrap();
    assert_eq!(r.headers().unwrap().iter().next_back(), Some("shard"));
    let shard_col: Vec<String> =
        r.records().map(|x| x.unwrap().iter().next_back().unwrap().to_owned()).collect();
    assert_eq!(shard_col.len(), rows(&o1.dir) + rows(&o2.dir));
    assert_eq!(shard_col.iter().filter(|s| *s == "2").count(), rows(&o2.dir));

    let info = read_json(&out.join("run.json"));
    let (i1, i2) = (read_json(&o1.dir.join("run.json")), read_json(&o2.dir.join("run.json")));
    let earliest = std::cmp::min(i1["started_at"].as_str().unwrap(), i2["started_at"].as_str().unwrap());
    let latest = std::cmp::max(i1["ended_at"].as_str().unwrap(), i2["ended_at"].as_str().unwrap());
    assert_eq!(info["started_at"], earliest);
    assert_eq!(info["ended_at"], latest);
    assert_eq!(info["partial"], false);
    assert_eq!(info["shards"].as_array().unwrap().len(), 2);
    assert_eq!(info["shards"][1]["seed"], 2);
    // And the merged directory is itself a results directory: it re-renders to the same.
    let again = report_results(opts(&[&out], None, &[])).unwrap();
    assert_eq!(json(&again.summary), json(s));
    drop(d2);
}

const STAGED: &str = r#"
name = "staged"
seed = 4

[load]
warmup = "200ms"

[[load.stages]]
duration = "600ms"
rate = 15

[[load.stages]]
duration = "600ms"
rate = 30

[simulator]
ttft = "10ms"
itl = "1ms"
jitter = 0.3

[pricing.m]
input_per_1m = 1.0
output_per_1m = 3.0

[[variant]]
name = "chat"
endpoint = "chat"
model = "m"
max_tokens = 6
prompt_tokens = 20

[[variant]]
name = "whole"
endpoint = "completions"
model = "m"
max_tokens = 4
stream = false
prompt_tokens = 10

[slo]
"ttft.p99" = "2s"
[slo.variants.whole]
error_rate = 0.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_of_one_directory_writes_the_same_outputs_again() {
    let (_dir, out) = run(STAGED).await;
    let files = ["summary.json", "summary.md", "summary.csv"];
    let before: Vec<String> =
        files.iter().map(|f| std::fs::read_to_string(out.dir.join(f)).unwrap()).collect();
    for f in files {
        std::fs::remove_file(out.dir.join(f)).unwrap();
    }
    let again = report_results(opts(&[&out.dir], None, &[])).unwrap();
    assert_eq!(again.dir, out.dir, "in place by default");
    let after: Vec<String> =
        files.iter().map(|f| std::fs::read_to_string(out.dir.join(f)).unwrap()).collect();
    assert_eq!(before, after);
    assert_eq!(out.summary.stages.len(), 2, "stages survive");
    assert!(out.summary.total.cost_usd.unwrap() > 0.0);

    // Into --out: a whole results directory, run.json and requests.csv included.
    let elsewhere = _dir.path().join("copy");
    report_results(opts(&[&out.dir], Some(elsewhere.clone()), &[])).unwrap();
    for f in ["run.json", "requests.csv", "summary.json", "summary.md", "summary.csv", "metrics.json"] {
        assert_eq!(
            std::fs::read(out.dir.join(f)).unwrap(),
            std::fs::read(elsewhere.join(f)).unwrap(),
            "{f} is the same"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_csv_has_a_row_per_variant_and_metric_with_the_summary_figures_and_verdicts() {
    let (_dir, out) = run(STAGED).await;
    let mut r = csv::Reader::from_path(out.dir.join("summary.csv")).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        head,
        ["variant", "metric", "unit", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean", "slo"]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    // 3 scopes × 9 latency metrics, and a row for the error_rate objective.
    assert_eq!(rows.len(), 3 * 9 + 1);
    let s = &out.summary;
    for (scope, stats) in [("chat", &s.variants[0]), ("whole", &s.variants[1]), ("total", &s.total)] {
        let ttft = rows.iter().find(|r| &r[0] == scope && &r[1] == "ttft").unwrap();
        let p = &stats.ttft_ms;
        assert_eq!(&ttft[2], "ms");
        assert_eq!(ttft[3].parse::<u64>().unwrap(), p.count);
        let cols = [p.p50, p.p90, p.p95, p.p99, p.p999, p.max, p.mean];
        for (i, want) in cols.iter().enumerate() {
            assert_eq!(ttft[4 + i].parse::<f64>().ok(), *want, "{scope} column {}", head[4 + i]);
        }
    }
    let total_ttft = rows.iter().find(|r| &r[0] == "total" && &r[1] == "ttft").unwrap();
    assert!(total_ttft[11].starts_with("PASS ttft.p99 (total): "), "{total_ttft:?}");
    let err = rows.iter().find(|r| &r[1] == "error_rate").unwrap();
    assert_eq!((&err[0], &err[11]), ("whole", "PASS error_rate (whole): 0, limit <= 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_slo_overrides_judge_the_stored_run_again_in_every_output() {
    let (_dir, out) = run(STAGED).await;
    assert_eq!(out.summary.slo_passed, Some(true));
    let o = llmload()
        .arg("report")
        .arg(&out.dir)
        .args(["--slo", "ttft.p99=1ms", "--slo", "whole:requests_per_s={min = 1e6}"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    // The override replaced the scenario's ttft.p99: still two objectives plus one.
    let s = read_json(&out.dir.join("summary.json"));
    assert_eq!(s["slo"].as_array().unwrap().len(), 3, "{}", s["slo"]);
    assert_eq!(s["slo_passed"], false);
    let actual = out.summary.total.ttft_ms.p99.unwrap();
    assert!(
        stderr.contains(&format!("FAIL ttft.p99 (total): {} ms, limit <= 1 ms", fmt3(actual))),
        "{stderr}"
    );
    assert!(stderr.contains("FAIL requests_per_s (whole): "), "{stderr}");
    assert!(stderr.contains("limit >= 1000000 req/s"), "{stderr}");
    let md = std::fs::read_to_string(out.dir.join("summary.md")).unwrap();
    assert!(md.contains("objectives: **not met**") && md.contains("- FAIL ttft.p99 (total)"), "{md}");
    let csv = std::fs::read_to_string(out.dir.join("summary.csv")).unwrap();
    assert!(csv.contains("FAIL ttft.p99 (total)") && csv.contains("FAIL requests_per_s (whole)"), "{csv}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("slo: FAIL ttft.p99 (total)"));

    // Bad overrides: exit 2, each argument named, nothing rewritten.
    let o = llmload()
        .arg("report")
        .arg(&out.dir)
        .args(["--slo", "ttft.p99=soon", "--slo", "nosuch:e2e.p50=1s", "--slo", "error_rate=2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    for arg in [
        "\"ttft.p99=soon\"",
        "\"nosuch:e2e.p50=1s\": no variant named \"nosuch\"",
        "\"error_rate=2\": error_rate is a fraction",
    ] {
        assert!(stderr.contains(&format!("--slo {arg}")), "{arg} in {stderr}");
    }
    assert_eq!(read_json(&out.dir.join("summary.json"))["slo"].as_array().unwrap().len(), 3);
}

fn fmt3(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_refuses_to_merge_another_scenario_or_other_variants_naming_the_directory() {
    let small = SHARD.replace("duration = \"700ms\"", "requests = 6");
    let other_name = small.replace("name = \"sharded\"", "name = \"other\"");
    let other_variants = small.replace("max_tokens = [4, 8]", "max_tokens = [4, 16]");
    let (_a, a) = run(&small).await;
    let (_b, b) = run(&other_name).await;
    let (_c, c) = run(&other_variants).await;
    for (bad, what) in [(&b.dir, "scenario \"other\""), (&c.dir, "variants")] {
        let o = llmload()
            .arg("report")
            .arg(&a.dir)
            .arg(bad)
            .arg("--out")
            .arg(_a.path().join("merged"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("{}: ", bad.display())) && stderr.contains(what), "{stderr}");
        assert!(!_a.path().join("merged/summary.json").exists());
    }
    // Several directories need --out; a directory without metrics.json is not one.
    let o = llmload().arg("report").arg(&a.dir).arg(&a.dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
    let o = llmload().arg("report").arg(_a.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("metrics.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_refuses_to_merge_two_runs_made_one_after_the_other() {
    let small = SHARD.replace("duration = \"700ms\"", "requests = 6");
    let (a_dir, a) = run(&small).await;
    // A second later, so the two runs' times cannot meet at run.json's precision.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_b_dir, b) = run(&small).await;
    let out = a_dir.path().join("merged");
    let o = llmload().arg("report").arg(&a.dir).arg(&b.dir).arg("--out").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}: ", b.dir.display())), "{stderr}");
    assert!(stderr.contains("only shards that ran together merge"), "{stderr}");
    assert!(!out.join("summary.json").exists());
}

/// The terminal table fits the terminal: at 80 columns three variants with
/// cost, finish reasons and late starts come as a latency table and a volume
/// table, no line longer than 80; so at 120 (this table is 135 wide); at
/// 200 they are one table.
#[tokio::test]
async fn the_terminal_table_fits_80_and_120_columns() {
    let toml = r#"
name = "widths"
[load]
rate = 40.0
duration = "1s"
[simulator]
ttft = "20ms"
itl = "2ms"
output_tokens = 6
[[variant]]
name = "chat-small-stop-sequences"
endpoint = "chat"
model = "small"
max_tokens = 16
prompt_tokens = 20
stop = [" the"]
[[variant]]
name = "chat-large-long-answers"
endpoint = "chat"
model = "large"
max_tokens = 4
prompt_tokens = 20
[[variant]]
name = "completions-not-streamed"
endpoint = "completions"
model = "small"
max_tokens = 8
prompt_tokens = 20
stream = false
[pricing.small]
input_per_1m = 0.15
output_per_1m = 0.60
[pricing.large]
input_per_1m = 2.5
output_per_1m = 10.0
"#;
    let (_dir, out) = crate::util::run(toml).await;
    use llmload::report::Format;
    let narrow = llmload::report::Table { width: 80 }.render(&out.summary);
    println!("{narrow}");
    // The tables' lines (what follows them is prose, wrapped by the terminal).
    let table_line = |l: &&str| {
        ["variant", "---", "total"].iter().any(|p| l.starts_with(p))
            || out.summary.variants.iter().any(|v| l.starts_with(&v.name[..8]))
    };
    for line in narrow.lines().filter(table_line) {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    let heads: Vec<&str> = narrow.lines().filter(|l| l.starts_with("variant")).collect();
    assert_eq!(heads.len(), 2, "a latency table and a volume table: {narrow}");
    assert!(heads[0].contains("ttft p50") && heads[1].contains("requests") && heads[1].contains("cost $"));
    assert!(heads[1].contains("finish"), "finish reasons, as some choices stopped: {narrow}");
    for v in &out.summary.variants {
        let cost = format!("{:.4}", v.cost_usd.unwrap());
        assert!(
            narrow.lines().any(|l| l.starts_with(&v.name[..8]) && l.contains(&cost)),
            "{} costs {cost}",
            v.name
        );
    }
    let at_120 = llmload::report::Table { width: 120 }.render(&out.summary);
    assert!(at_120.lines().filter(table_line).all(|l| l.chars().count() <= 120), "{at_120}");
    assert!(at_120.contains("chat-small-stop-sequences "), "names are cut only when they must be: {at_120}");
    let wide = llmload::report::Table { width: 200 }.render(&out.summary);
    let heads: Vec<&str> = wide.lines().filter(|l| l.starts_with("variant")).collect();
    assert_eq!(heads.len(), 1, "{wide}");
    assert!(heads[0].contains("ttft p50") && heads[0].contains("cost $") && heads[0].contains("finish"));
}

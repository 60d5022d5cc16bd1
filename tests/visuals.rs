//! Charts and report.html in the results directory.

use std::path::Path;

use crate::util::run;

/// Every chart applies: two stages (stages chart), a numeric sweep (sweep
/// chart), prices (cost chart); the variant name needs escaping.
const ALL_CHARTS: &str = r#"
name = "charts <&> \"check\""
seed = 3

[load]
warmup = "200ms"

[[load.stages]]
duration = "700ms"
concurrency = 2

[[load.stages]]
duration = "700ms"
concurrency = 4

[simulator]
ttft = "20ms"
itl = "3ms"
jitter = 0.2

[[variant]]
name = "a<&\"b\""
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 20

[[variant]]
name = "whole"
endpoint = "completions"
model = "m"
max_tokens = 8
stream = false
prompt_tokens = 20

[sweep]
mode = "mix"
max_tokens = [4, 16]

[pricing.m]
input_per_1m = 1.0
output_per_1m = 4.0
"#;

const CHARTS: [&str; 7] = ["spectrum", "percentiles", "timeline", "tokens", "stages", "sweep", "cost"];

fn check_chart_files(charts: &Path, name: &str) -> String {
    let png = std::fs::read(charts.join(format!("{name}.png"))).unwrap_or_else(|e| panic!("{name}.png: {e}"));
    assert!(png.len() > 1000, "{name}.png is {} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png has a PNG header");
    let svg = std::fs::read_to_string(charts.join(format!("{name}.svg"))).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{name}.svg is one <svg> element");
    // Well-formed enough: every text element closed, no stray markup.
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count(), "{name}.svg");
    assert!(svg.matches("<text").count() > 5, "{name}.svg has labels");
    svg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_writes_every_chart_and_a_self_contained_report() {
    let (_dir, out) = run(ALL_CHARTS).await;
    let charts = out.dir.join("charts");
    let html = std::fs::read_to_string(out.dir.join("report.html")).expect("report.html");
    for name in CHARTS {
        let svg = check_chart_files(&charts, name);
        let figure = format!("<figure id=\"chart-{name}\"");
        let at = html.find(&figure).unwrap_or_else(|| panic!("report.html has {figure}"));
        assert!(html[at..].contains(&svg), "chart {name} is inline in report.html");
    }
    assert_eq!(std::fs::read_dir(&charts).unwrap().count(), 2 * CHARTS.len(), "no other files in charts/");
    // Names from the scenario are escaped, in the tables and in the charts.
    assert!(html.contains("a&lt;&amp;&quot;b&quot;/max_tokens=4"), "escaped variant name");
    assert!(html.contains("charts &lt;&amp;&gt; &quot;check&quot;"), "escaped scenario name");
    assert!(!html.contains("a<&"), "no raw name from the scenario");
    for banned in ["<script", "<link", "<img", "url(", "@import"] {
        assert!(!html.contains(banned), "report.html is self-contained: found {banned}");
    }
    assert!(html.contains("Service-level objectives") && html.contains("Stages"));
    assert!(html.contains("started") && html.contains("simulator at http://127.0.0.1:"), "run metadata");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_that_do_not_apply_are_noted_not_drawn() {
    let toml = r#"
name = "plain"
[load]
concurrency = 2
requests = 10
[simulator]
ttft = "10ms"
itl = "1ms"
[[variant]]
name = "only"
endpoint = "chat"
model = "m"
max_tokens = 4
prompt_tokens = 10
"#;
    let (_dir, out) = run(toml).await;
    let charts = out.dir.join("charts");
    for name in ["spectrum", "percentiles", "timeline", "tokens"] {
        check_chart_files(&charts, name);
    }
    for name in ["stages", "sweep", "cost"] {
        assert!(!charts.join(format!("{name}.svg")).exists(), "{name} does not apply");
    }
    let html = std::fs::read_to_string(out.dir.join("report.html")).unwrap();
    assert!(html.contains("Not drawn: Metrics against load level or swept parameter"), "knee note");
    assert!(html.contains("Not drawn: Cost vs latency: no variant has a price"), "cost note");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_requests_csv_is_drawn_from_a_bounded_sample() {
    let _heavy = crate::util::CPU_HEAVY.read().await;
    let toml = r#"
name = "large"
[load]
concurrency = 2
requests = 6
[simulator]
ttft = "5ms"
itl = "1ms"
[[variant]]
name = "v"
endpoint = "chat"
model = "m"
max_tokens = 4
prompt_tokens = 10
"#;
    let (_dir, out) = crate::util::run_alone(toml).await;
    // 100,000 more measured rows, as a long run would leave them.
    let csv_path = out.dir.join("requests.csv");
    let mut csv = std::fs::read_to_string(&csv_path).unwrap();
    for i in 0..100_000u64 {
        let t = i as f64 * 10.0;
        csv += &format!(
            "{},v,measured,{t},0.1,20,{},10,4,usage,stop,ok,,1,0,usage,,,,m,1,2,1,1,,,\n",
            i + 100,
            50 + i % 97
        );
    }
    std::fs::write(&csv_path, csv).unwrap();
    let started = std::time::Instant::now();
    let dir = llmload::results::ResultsDir::open(&out.dir, "results directory").unwrap();
    let info = dir.run_info().unwrap();
    llmload::report::write_visuals(&dir, &out.summary, &[], &info).expect("charts");
    let took = started.elapsed();
    let svg = std::fs::read_to_string(out.dir.join("charts/timeline.svg")).unwrap();
    let points = svg.matches("<circle").count();
    assert!(points <= llmload::report::MAX_POINTS + 10, "{points} points drawn");
    assert!(points > llmload::report::MAX_POINTS / 2, "{points} points drawn");
    assert!(svg.len() < 4_000_000, "timeline.svg is {} bytes", svg.len());
    // Debug build; release is several times faster.
    assert!(took.as_secs() < 30, "charts took {took:?}");
}

/// A sweep whose values multiply (16, 64, 256) is drawn on a log axis ticked
/// at those values; two variants with the same latency both show, the one
/// drawn first as a wider line around the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_geometric_sweep_has_a_log_axis_and_equal_lines_both_show() {
    let toml = r#"
name = "geometric"
[load]
concurrency = 2
requests = 12
[simulator]
ttft = "5ms"
itl = "1ms"
[sweep]
mode = "mix"
max_tokens = [16, 64, 256]
[[variant]]
name = "x"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 10
[[variant]]
name = "y"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 10
"#;
    let (_dir, out) = run(toml).await;
    let svg = check_chart_files(&out.dir.join("charts"), "sweep");
    // Ticks at the values swept, evenly spaced on the log axis.
    let tick_x = |label: &str| -> f64 {
        let at = svg.find(&format!(">\n{label}\n</text>")).unwrap_or_else(|| panic!("tick {label} in {svg}"));
        let open = svg[..at].rfind("<text").unwrap();
        let x = svg[open..at].split("x=\"").nth(1).unwrap().split('"').next().unwrap();
        x.parse().unwrap()
    };
    let (a, b, c) = (tick_x("16"), tick_x("64"), tick_x("256"));
    assert!(((b - a) - (c - b)).abs() <= 2.0, "16, 64, 256 evenly spaced: {a} {b} {c}");
    let html = std::fs::read_to_string(out.dir.join("report.html")).unwrap();
    assert!(html.contains("log scale"), "the caption says so");
    // The first line is wider than the second, in every panel.
    let width_of = |colour: &str| -> Vec<u32> {
        svg.match_indices("<polyline")
            .map(|(i, _)| &svg[i..i + svg[i..].find("/>").unwrap()])
            .filter(|p| p.contains(&format!("stroke=\"{colour}\"")))
            .map(|p| p.split("stroke-width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let (first, second) = (width_of("#1F77B4"), width_of("#FF7F0E"));
    // Dashed p99 lines are many short polylines, as many as the data gives:
    // counts differ, widths do not.
    assert!(!first.is_empty() && !second.is_empty(), "{first:?} {second:?}");
    let (narrowest_first, widest_second) = (first.iter().min().unwrap(), second.iter().max().unwrap());
    assert!(narrowest_first > widest_second, "{first:?} over {second:?}");
}

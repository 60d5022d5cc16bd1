//! Goodput: the requests that succeeded and met every per-request objective
//! of `[goodput]`, checked against a count made independently from
//! requests.csv.

use llmload::results::ResultsDir;

use crate::util::run;

const SCENARIO: &str = r#"
name = "goodput"
seed = 5
[load]
rate = 40.0
duration = "3s"
[simulator]
ttft = "40ms"
itl = "2ms"
jitter = 0.6
[[variant]]
name = "v"
endpoint = "chat"
model = "m"
max_tokens = 16
prompt_tokens = 32
[goodput]
ttft = "40ms"
e2e = "90ms"
[slo]
good_fraction = { min = 0.2 }
"#;

#[tokio::test]
async fn goodput_is_the_count_of_good_requests_that_requests_csv_gives() {
    let (_dir, outcome) = run(SCENARIO).await;
    let g = outcome.summary.total.goodput.expect("judged");
    let window = outcome.summary.measured_seconds;
    let d = ResultsDir::open(&outcome.dir, "results").unwrap();
    let mut rows = d.requests().unwrap();
    // (good measured rows, rows within 1 µs of a limit, good completions in the window)
    let (mut good, mut edge, mut in_window, mut ended) = (0u64, 0u64, 0u64, 0u64);
    while let Some(r) = rows.next_row().unwrap() {
        let (ttft, e2e) = (r.ttft_ms.unwrap_or(f64::INFINITY), r.e2e_ms);
        let is_good = r.ok() && ttft <= 40.0 && e2e <= 90.0;
        if (ttft - 40.0).abs() <= 0.001 || (e2e - 90.0).abs() <= 0.001 {
            edge += 1;
        }
        if r.measured() && !r.cancelled() {
            ended += 1;
            good += u64::from(is_good);
        }
        let completed_s = (r.intended_ms + r.e2e_ms) / 1000.0;
        in_window += u64::from(is_good && completed_s <= window);
    }
    println!("good {good} of {ended}, goodput {g:?}, window {window} s");
    assert!(good > 10 && good < ended, "the objectives split the requests: {good} of {ended}");
    assert!(g.good.abs_diff(good) <= edge, "good: {} vs {good} from requests.csv", g.good);
    let fraction = good as f64 / ended as f64;
    assert!((g.good_fraction - fraction).abs() <= edge as f64 / ended as f64 + 1e-9, "{g:?} vs {fraction}");
    let rate = in_window as f64 / window;
    assert!((g.requests_per_s - rate).abs() <= (edge + 1) as f64 / window, "{g:?} vs {rate} req/s");
    // Judged as an objective too.
    let slo = &outcome.summary.slo[0];
    assert_eq!((slo.metric.as_str(), slo.passed), ("good_fraction", g.good_fraction >= 0.2));
}

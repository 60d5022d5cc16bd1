//! `llmload calibrate`, round trip: a standalone simulator with a hidden
//! profile (TTFT growing with the prompt, lognormal ITL, a capacity knee,
//! 429s) plays the live API; a run with stages is recorded against it;
//! `calibrate` fits a profile; the same scenario replayed on the embedded
//! simulator with that profile is judged by `compare` against the record.
//! Independent truth: the hidden profile, and the recorded run itself.

use crate::util::{CPU_HEAVY, llmload, read_json, scenario_file, start_mock};

const HIDDEN: &str = r#"
serve_any_model = false
[models.live-model]
ttft = "30ms"
prefill_per_token = "150us"
jitter = 0.15
itl = "4ms"
itl_distribution = "lognormal"
itl_p99 = "10ms"
max_sequences = 10
itl_per_sequence = "300us"
output_tokens = 16
output_tokens_p99 = 48
[models.live-model.faults]
http_429 = 0.01
"#;

fn recorded(base_url: &str) -> String {
    format!(
        r#"
name = "round trip"
seed = 11

[target]
base_url = "{base_url}"
api_key_env = ""

[load]
warmup = "1s"

[[load.stages]]
duration = "8s"
concurrency = 3

[[load.stages]]
duration = "8s"
concurrency = 8

[[load.stages]]
duration = "8s"
concurrency = 24

[[variant]]
name = "chat"
endpoint = "chat"
model = "live-model"
max_tokens = 40
prompt_tokens = {{ min = 20, max = 300 }}

[[variant]]
name = "completions"
endpoint = "completions"
model = "live-model"
max_tokens = 40
prompt_tokens = {{ min = 20, max = 300 }}
"#
    )
}

fn ok(o: &std::process::Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{what}: {:?}\n{out}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fitted_profile_replays_the_live_run() {
    let _alone = CPU_HEAVY.write().await;
    let dir = tempfile::tempdir().unwrap();
    let hidden = dir.path().join("hidden.toml");
    std::fs::write(&hidden, HIDDEN).unwrap();
    let (_mock, url) = start_mock(&["--config", hidden.to_str().unwrap(), "--seed", "3"]);
    let (_s, scenario) = scenario_file(&recorded(&url));
    let live = dir.path().join("live");
    ok(
        &llmload().args(["run", "-q", "--yes", "--out"]).arg(&live).arg(&scenario).output().unwrap(),
        "record",
    );

    let profile = dir.path().join("fitted.toml");
    let report =
        ok(&llmload().arg("calibrate").arg(&live).arg("--out").arg(&profile).output().unwrap(), "calibrate");
    let fitted: toml::Value = toml::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    let m = &fitted["models"]["live-model"];
    let us = |k: &str| m[k].as_str().unwrap().trim_end_matches("us").parse::<f64>().unwrap() / 1000.0;
    // The hidden figures, found again (within what 2,000 requests can say).
    let near = |got: f64, want: f64, tol: f64, what: &str| {
        assert!((got - want).abs() <= want * tol, "{what}: fitted {got}, hidden {want}\n{report}");
    };
    near(us("ttft"), 30.0, 0.15, "ttft");
    near(us("prefill_per_token"), 0.150, 0.15, "prefill per token");
    // The ITL's mean: `itl` of a lognormal, or the quantiles' mean.
    let itl = match m.get("itl_quantiles").and_then(|q| q.as_array()) {
        Some(points) => {
            let p: Vec<(f64, f64)> = points
                .iter()
                .map(|p| {
                    let ms =
                        p["itl"].as_str().unwrap().trim_end_matches("us").parse::<f64>().unwrap() / 1000.0;
                    (p["q"].as_float().unwrap(), ms)
                })
                .collect();
            p.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum()
        }
        None => us("itl"),
    };
    near(itl, 4.0, 0.1, "itl");
    near(us("itl_per_sequence"), 0.3, 0.35, "itl per sequence");
    assert_eq!(m["max_sequences"].as_integer(), Some(10), "{report}");
    near(m["output_tokens"].as_integer().unwrap() as f64, 16.0, 0.2, "output tokens");
    assert!(report.contains("TTFT starts to rise at 24 users"), "{report}");
    assert!(report.contains("KS"), "goodness of fit is reported: {report}");

    // The replay, judged against the record: no significant change beyond
    // 5% in TTFT, ITL or e2e (p50, p95) of either variant, either way.
    let replay = dir.path().join("replay");
    ok(
        &llmload()
            .args(["run", "-q", "--simulator"])
            .arg(&profile)
            .arg("--out")
            .arg(&replay)
            .arg(&scenario)
            .output()
            .unwrap(),
        "replay",
    );
    let o = llmload()
        .args(["compare", "--max-regression", "5%", "--format", "json"])
        .arg(&live)
        .arg(&replay)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("compare's JSON");
    let mut judged = 0;
    for key in ["regressions", "improvements"] {
        for row in json[key].as_array().unwrap() {
            // "variant metric", e.g. "chat ttft_ms.p95".
            let metric = row.as_str().unwrap().rsplit(' ').next().unwrap();
            let watched = ["ttft", "itl", "e2e"].iter().any(|m| metric.starts_with(m))
                && (metric.ends_with("p50") || metric.ends_with("p95"));
            assert!(!watched, "{key}: {row}\n{report}");
        }
    }
    for v in json["variants"].as_array().unwrap() {
        for row in v["metrics"].as_array().unwrap() {
            judged += usize::from(row["metric"].as_str().unwrap_or_default().starts_with("ttft"));
        }
    }
    assert!(judged >= 6, "TTFT was compared per variant: {json}");
    // Error rates within 1 point.
    let rate = |d: &std::path::Path| {
        let s = read_json(&d.join("summary.json"));
        let t = &s["total"]["requests"];
        t["errors"].as_f64().unwrap() / (t["ok"].as_f64().unwrap() + t["errors"].as_f64().unwrap())
    };
    let (a, b) = (rate(&live), rate(&replay));
    assert!(a > 0.0 && (a - b).abs() <= 0.01, "error rates: live {a}, replay {b}");
}

/// Input a fit cannot use gets a clear message and exit 2, not a profile.
#[test]
fn input_it_cannot_fit_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.toml");
    let refuse = |args: &[&std::path::Path], words: &str| {
        let o = llmload().arg("calibrate").args(args).arg("--out").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(words), "{words}: {stderr}");
        assert!(!out.exists(), "no profile written");
    };
    // A run against the embedded simulator.
    let (_s, sim) = scenario_file(
        "name = \"sim\"\n[load]\nconcurrency = 2\nrequests = 40\n[simulator]\nttft = \"5ms\"\nitl = \"1ms\"\n\
         [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 8\n",
    );
    let simulated = dir.path().join("simulated");
    ok(&llmload().args(["run", "-q", "--out"]).arg(&simulated).arg(&sim).output().unwrap(), "run");
    refuse(&[&simulated], "embedded simulator");
    // An older format: the fixture written before the fit's columns.
    let old = std::path::Path::new("tests/fixtures/results-v0");
    refuse(&[old], "older llmload");
    // Too few requests, against a standalone simulator.
    let (_mock, url) = start_mock(&[]);
    let (_t, few) = scenario_file(&format!(
        "name = \"few\"\n[target]\nbase_url = \"{url}\"\napi_key_env = \"\"\n[load]\nconcurrency = 2\nrequests = 10\n\
         [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"sim-small\"\nmax_tokens = 4\nprompt_tokens = 8\n"
    ));
    let small = dir.path().join("small");
    ok(&llmload().args(["run", "-q", "--yes", "--out"]).arg(&small).arg(&few).output().unwrap(), "run");
    refuse(&[&small], "too few requests");
    refuse(&[&dir.path().join("nowhere")], "nowhere");
}

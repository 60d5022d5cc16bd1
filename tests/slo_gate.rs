//! The SLO gate on the command line: `--slo` overrides on `run`, exit codes,
//! what stderr says, runs where nothing succeeded, and the GitHub job summary.

use crate::util::{llmload, read_json, scenario_file};

const SMALL: &str = r#"
name = "gate"

[load]
concurrency = 4
requests = 20

[simulator]
ttft = "10ms"
itl = "1ms"

[[variant]]
name = "chat/m/max_tokens=8"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 16

[slo]
"ttft.p50" = "5s"
"#;

#[test]
fn a_missed_slo_override_exits_1_naming_the_metric_limit_and_actual_value() {
    let (dir, path) = scenario_file(SMALL);
    let out = dir.path().join("out");
    // A variant name holding ':' and '=' still scopes an objective.
    let o = llmload()
        .args(["run", "-q", "--out"])
        .arg(&out)
        .arg(&path)
        .args(["--slo", "chat/m/max_tokens=8:itl.p50=1us", "--slo", "ttft.p50=10s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let s = read_json(&out.join("summary.json"));
    let slo = s["slo"].as_array().unwrap();
    assert_eq!(slo.len(), 2, "ttft.p50 replaced, itl.p50 added: {slo:?}");
    assert_eq!(slo[0]["threshold"], 10000.0);
    assert_eq!(slo[1]["variant"], "chat/m/max_tokens=8");
    let itl = s["variants"][0]["itl_ms"]["p50"].as_f64().unwrap();
    let want = format!("service-level objective missed: FAIL itl.p50 (chat/m/max_tokens=8): {itl}");
    assert!(stderr.contains(&want), "{want} in {stderr}");
    assert!(stderr.contains("limit <= 0.001 ms"), "{stderr}");
    assert!(!stderr.contains("ttft.p50"), "only misses on stderr: {stderr}");

    // The same run judged with a loose objective passes.
    let o = llmload()
        .args(["run", "-q", "--out"])
        .arg(dir.path().join("again"))
        .arg(&path)
        .args(["--slo", "error_rate=0", "--slo", "requests_per_s={min = 1}"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("slo: PASS requests_per_s (total): "));
}

#[test]
fn a_bad_slo_argument_exits_2_before_anything_runs() {
    let (dir, path) = scenario_file(SMALL);
    let out = dir.path().join("out");
    for (arg, says) in [
        ("ttft.p95", "METRIC=VALUE"),
        ("ttft.p95=800", "a latency needs a duration with its unit"),
        ("e2e.p42=1s", "unknown metric \"e2e.p42\""),
        ("chat:e2e.p50=1s", "no variant named \"chat\""),
        ("requests_per_s={at_least = 3}", "{ max = ... } or { min = ... }"),
    ] {
        let o = llmload()
            .args(["run", "-q", "--out"])
            .arg(&out)
            .arg(&path)
            .args(["--slo", arg])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{arg}: {stderr}");
        assert!(stderr.contains(&format!("--slo {arg:?}")) && stderr.contains(says), "{arg}: {stderr}");
        assert!(!out.exists(), "{arg}: nothing ran");
    }
}

#[test]
fn a_run_where_every_request_failed_never_exits_0_nor_does_its_report() {
    // A port that was just free: every connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = SMALL.replace("[slo]\n\"ttft.p50\" = \"5s\"\n", "").replace(
        "[load]",
        &format!("[target]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\napi_key_env = \"\"\n\n[load]"),
    );
    let (dir, path) = scenario_file(&toml);
    let out = dir.path().join("out");
    let o = llmload().args(["run", "-q", "--yes", "--out"]).arg(&out).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    // No objective to miss, and still not a success.
    let o = llmload().arg("report").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no request succeeded (20 ended in error)"), "{stderr}");
    assert_eq!(read_json(&out.join("summary.json"))["total"]["requests"]["errors"], 20);
}

#[test]
fn the_markdown_summary_is_appended_to_github_step_summary() {
    let (dir, path) = scenario_file(SMALL);
    let page = dir.path().join("step-summary.md");
    std::fs::write(&page, "# earlier step\n").unwrap();
    for k in 0..2 {
        let out = dir.path().join(format!("out{k}"));
        let o = llmload()
            .env("GITHUB_STEP_SUMMARY", &page)
            .args(["run", "-q", "--out"])
            .arg(&out)
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let text = std::fs::read_to_string(&page).unwrap();
    let md = std::fs::read_to_string(dir.path().join("out1/summary.md")).unwrap();
    assert!(text.starts_with("# earlier step\n## llmload: gate"), "{text}");
    assert!(text.ends_with(&format!("{md}\n")));
    assert_eq!(text.matches("## llmload: gate").count(), 2, "appended, not replaced");

    // A page that cannot be written is a warning: the run's own verdict stands.
    let o = llmload()
        .env("GITHUB_STEP_SUMMARY", dir.path())
        .args(["run", "-q", "--out"])
        .arg(dir.path().join("out2"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: cannot append the summary"));
    assert!(dir.path().join("out2/run.json").is_file());
}

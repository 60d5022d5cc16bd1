//! The binary: commands, output and exit codes.

use crate::util::{llmload, read_json, scenario_file, start_mock};

const SMALL: &str = r#"
name = "cli"

[load]
concurrency = 4
requests = 20

[simulator]
ttft = "10ms"
itl = "1ms"

[[variant]]
name = "only"
endpoint = "chat"
model = "m"
max_tokens = 8
prompt_tokens = 16
"#;

#[test]
fn run_prints_the_table_and_writes_the_results_directory() {
    let (dir, path) = scenario_file(SMALL);
    let out = dir.path().join("results");
    let o = llmload().args(["run", "--quiet", "--out"]).arg(&out).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "exit {:?}\n{stdout}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("ttft p50") && stdout.contains("only"), "{stdout}");
    assert!(stdout.contains(&format!("results: {}", out.display())), "{stdout}");
    for f in ["run.json", "requests.csv", "summary.json", "summary.md"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    assert_eq!(read_json(&out.join("summary.json"))["total"]["requests"]["ok"], 20);
}

#[test]
fn default_results_directory_is_under_reports() {
    let (dir, path) = scenario_file(SMALL);
    let o = llmload().current_dir(dir.path()).args(["run", "-q"]).arg(&path).output().unwrap();
    assert!(o.status.success());
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("reports/cli")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run = runs[0].as_ref().unwrap().path();
    let stamp = run.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stamp.len() == 16 && stamp.ends_with('Z'), "UTC timestamp directory, got {stamp}");
    assert!(run.join("summary.json").is_file());
}

#[test]
fn validate_names_the_unknown_key_and_its_line_and_exits_2() {
    let bad = SMALL.replace("max_tokens = 8", "max_tokens = 8\nmax_tokns = 9");
    let (_dir, path) = scenario_file(&bad);
    let o = llmload().arg("validate").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("max_tokns"), "{stderr}");
    assert!(stderr.contains(&format!("{}:17", path.display())), "line 16 named: {stderr}");
}

#[test]
fn validate_accepts_good_files_and_run_rejects_bad_ones_with_2() {
    let (_dir, path) = scenario_file(SMALL);
    let o = llmload().arg("validate").arg(&path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_dir, bad) = scenario_file(&SMALL.replace("concurrency = 4", "concurrency = 0"));
    let o = llmload().arg("run").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("load.concurrency: must be a whole number of users from 1 to 100000, got 0")
    );
    let o = llmload().args(["run", "/nonexistent/scenario.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = llmload().args(["run", "--seed", "x", "s.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "bad arguments are bad input");
}

#[test]
fn a_run_where_nothing_succeeds_exits_1_and_keeps_its_results() {
    // A port that was just free: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = SMALL.replace(
        "[load]",
        &format!("[target]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\napi_key_env = \"\"\n\n[load]"),
    );
    let (dir, path) = scenario_file(&toml);
    let out = dir.path().join("out");
    // A live run: --yes accepts its unknown cost (no pricing).
    let o = llmload().args(["run", "-q", "--yes", "--out"]).arg(&out).arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["total"]["requests"]["errors"], 20);
    assert_eq!(s["total"]["errors"][0]["class"], "connect");
    assert!(String::from_utf8_lossy(&o.stdout).contains("connect"));
}

#[test]
fn mock_prints_its_base_url_and_serves_models() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child =
        llmload().args(["mock", "--port", "0"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("llmload-mock listening on ").unwrap_or_else(|| panic!("{first}"));
    let addr = url.strip_prefix("http://").unwrap().strip_suffix("/v1").unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(conn, "GET /v1/models HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("sim-small"), "the built-in profile's models: {response}");
}

#[test]
fn mock_with_a_bad_profile_exits_2_naming_the_key() {
    let (_dir, path) = scenario_file("ttft = \"fast\"\n");
    let o = llmload().arg("mock").arg("--config").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("ttft") && stderr.contains(":1"), "{stderr}");
}

#[test]
fn sigint_drains_writes_everything_and_exits_130() {
    let long = SMALL.replace("requests = 20", "duration = \"60s\"");
    let (dir, path) = scenario_file(&long);
    let out = dir.path().join("out");
    let child = llmload().args(["run", "-q", "--out"]).arg(&out).arg(&path).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["partial"], true);
    assert_eq!(s["stop_reason"], "interrupted");
    let t = &s["total"]["requests"];
    let finished = t["sent"].as_u64().unwrap() + t["cancelled"].as_u64().unwrap();
    assert!(t["ok"].as_u64().unwrap() > 10, "ran for a while: {t}");
    let rows = csv::Reader::from_path(out.join("requests.csv")).unwrap().records().count() as u64;
    assert_eq!(rows, finished, "one row per finished request");
    let info = read_json(&out.join("run.json"));
    assert_eq!(info["partial"], true);
    assert!(info["client"]["wall_seconds"].as_f64().unwrap() < 10.0);
}

/// A process killed outright (SIGKILL: no drain, no flush at exit) keeps
/// the rows of the requests that finished up to a second or so before: each
/// lane's rows are written at least once a second, not only when a block
/// of them is full (about 400 rows, more than this run makes in 3 s).
#[test]
fn rows_reach_requests_csv_within_a_second_even_if_the_process_is_killed() {
    let slow =
        SMALL.replace("requests = 20", "duration = \"60s\"").replace("ttft = \"10ms\"", "ttft = \"100ms\"");
    let (dir, path) = scenario_file(&slow);
    let out = dir.path().join("out");
    let mut child = llmload().args(["run", "-q", "--out"]).arg(&out).arg(&path).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3000));
    child.kill().unwrap();
    let _ = child.wait();
    let mut rdr = csv::Reader::from_path(out.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (mut rows, mut last_end) = (0, 0.0f64);
    for r in rdr.records() {
        let r = r.expect("whole rows only");
        let num = |c: &str| r[col(c)].parse::<f64>().unwrap();
        last_end = last_end.max(num("intended_ms") + num("e2e_ms"));
        rows += 1;
    }
    assert!(rows >= 10, "{rows} rows after 3 s of ~30 requests/s");
    assert!(last_end >= 1000.0, "rows of the first second are in the file; the last ended at {last_end} ms");
}

#[test]
fn the_api_key_never_appears_in_output_or_results() {
    const CANARY: &str = "sk-canary-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    // The simulator accepts only the canary: ok requests prove it was sent.
    let (_good, good_url) = start_mock(&["--api-key", CANARY]);
    // This one wants another key: its 401 errors must not echo ours.
    let (_other, other_url) = start_mock(&["--api-key", "sk-some-other-key-000000000000"]);
    for (url, want_ok) in [(&good_url, true), (&other_url, false)] {
        // The built-in profile serves sim-small and sim-large.
        let toml = SMALL.replace("model = \"m\"", "model = \"sim-small\"").replace(
            "[load]",
            &format!("[target]\nkind = \"openai\"\nbase_url = \"{url}\"\napi_key_env = \"LLMLOAD_CANARY_KEY\"\n\n[load]"),
        );
        let (dir, path) = scenario_file(&toml);
        let out = dir.path().join("out");
        let o = llmload()
            .env("LLMLOAD_CANARY_KEY", CANARY)
            .args(["run", "--yes", "--out"])
            .arg(&out)
            .arg(&path)
            .output()
            .unwrap();
        let s = read_json(&out.join("summary.json"));
        if want_ok {
            assert_eq!(s["total"]["requests"]["ok"], 20, "the key was sent and accepted");
        } else {
            assert_eq!(s["total"]["errors"][0]["class"], "http_401", "{s}");
        }
        let mut seen = vec![
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ];
        // Every file, charts/ included.
        let mut dirs = vec![out.clone()];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    seen.push(String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned());
                }
            }
        }
        assert!(out.join("report.html").exists() && out.join("charts").is_dir(), "checked too");
        for text in &seen {
            assert!(!text.contains(CANARY), "the key leaked into: {text}");
            assert!(!text.contains(&CANARY[3..20]), "part of the key leaked into: {text}");
        }
    }
}

/// Completion scripts for bash, zsh and fish come from the command-line
/// definition itself; bash loads its script and then completes `llmload`.
#[test]
fn shell_completions_are_generated_and_load_in_bash() {
    for (shell, marker) in
        [("bash", "complete -F _llmload"), ("zsh", "#compdef llmload"), ("fish", "complete -c llmload")]
    {
        let o = llmload().args(["completions", shell]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {}", &script[..200.min(script.len())]);
        for command in ["run", "search", "compare", "report", "completions"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    let bin = env!("CARGO_BIN_EXE_llmload");
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source <({bin} completions bash) && complete -p llmload"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("_llmload llmload"));
    let o = llmload().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "an unknown shell is bad input");
}

/// The man pages (one for llmload, one per command) render with `man -l`.
#[test]
fn man_pages_render() {
    let dir = tempfile::tempdir().unwrap();
    let o = llmload().args(["man", "--out"]).arg(dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for page in ["llmload.1", "llmload-run.1", "llmload-search.1", "llmload-compare.1"] {
        let path = dir.path().join(page);
        let o = std::process::Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .expect("man is installed");
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{page}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{page}: {text}");
    }
    let run = std::fs::read_to_string(dir.path().join("llmload-run.1")).unwrap();
    assert!(run.contains("dry\\-run"), "the run page lists its options");
    // The page of llmload itself on stdout.
    let o = llmload().arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(".ie"));
}

/// `llmload … | head` must not panic when the reader has gone: each command
/// that prints ends as it would have, its exit code intact. The pipe's read
/// end is closed before the command starts, so every write meets it closed.
#[test]
fn a_closed_stdout_is_no_panic() {
    let (dir, path) = scenario_file(SMALL);
    let out = dir.path().join("results");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = 3\n").unwrap();
    let commands: Vec<(Vec<std::ffi::OsString>, i32)> = vec![
        (vec!["run".into(), "-q".into(), "--out".into(), out.clone().into(), path.clone().into()], 0),
        (vec!["report".into(), out.clone().into()], 0),
        (vec!["validate".into(), path.clone().into()], 0),
        (vec!["validate".into(), bad.into()], 2),
        (vec!["run".into(), "--dry-run".into(), path.into()], 0),
        (vec!["completions".into(), "bash".into()], 0),
        (vec!["man".into()], 0),
    ];
    for (args, code) in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = llmload().args(&args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `--threads N` sizes the client's runtime: counted from outside, in
/// /proc, a process started with 4 has 3 threads more than one started with 1.
#[cfg(target_os = "linux")]
#[test]
fn threads_sizes_the_runtime() {
    let count = |n: &str| {
        let (mock, _url) = start_mock(&["--threads", n]);
        std::fs::read_dir(format!("/proc/{}/task", mock.0.id())).unwrap().count()
    };
    assert_eq!(count("4") - count("1"), 3);
    let o = llmload().args(["--threads", "0", "validate", "x.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--threads") && stderr.contains("'0'"), "{stderr}");
}

/// On one thread, shared with the embedded simulator, a streamed run still
/// measures the simulator's schedule: no answer before it, and all but a
/// machine's pause within its slack (one thread does not deadlock or stall).
#[test]
fn one_thread_shared_with_the_simulator_still_measures_its_schedule() {
    let scenario = r#"
name = "one-thread"

[load]
concurrency = 16
requests = 160

[simulator]
ttft = "20ms"
itl = "2ms"
jitter = 0

[[variant]]
name = "stream"
endpoint = "chat"
model = "m"
max_tokens = 16
prompt_tokens = 16
"#;
    let _alone = crate::util::CPU_HEAVY.blocking_write();
    let (dir, path) = scenario_file(scenario);
    let out = dir.path().join("results");
    let o =
        llmload().args(["--threads", "1", "run", "--quiet", "--out"]).arg(&out).arg(&path).output().unwrap();
    assert!(o.status.success(), "exit {:?}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    let mut rdr = csv::Reader::from_path(out.join("requests.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (mut rows, mut late) = (0, Vec::new());
    for r in rdr.records().map(Result::unwrap) {
        let num = |c: &str| r[col(c)].parse::<f64>().unwrap();
        assert_eq!(&r[col("outcome")], "ok", "{r:?}");
        // From the send: TTFT 20 ms, then 15 gaps of 2 ms.
        let q = num("queue_delay_ms");
        let (ttft, e2e) = (num("ttft_ms") - q, num("e2e_ms") - q);
        assert!(ttft >= 20.0 && e2e >= 50.0, "earlier than scheduled: ttft {ttft}, e2e {e2e}: {r:?}");
        // One thread serves both the simulator and the client, in a debug
        // build beside other tests: a wide slack, which a blocking call on
        // that thread (tens of ms a request) would still exceed.
        if ttft >= 35.0 || e2e >= 70.0 {
            late.push(format!("ttft {ttft}, e2e {e2e}: {r:?}"));
        }
        rows += 1;
    }
    assert_eq!(rows, 160);
    crate::util::few_late("one thread", &late, rows);
}

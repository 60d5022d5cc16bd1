//! `run --shard K/N --start-at`: one run split over processes, as on many
//! machines, against one simulator started on its own.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime};

use crate::util::{llmload, read_json, scenario_file};

/// The simulator as its own process (`llmload mock`), killed when dropped.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let profile = dir.join("profile.toml");
        std::fs::write(&profile, "ttft = \"1ms\"\nitl = \"0ms\"\njitter = 0\n").unwrap();
        let mut child = llmload()
            .args(["mock", "--config"])
            .arg(&profile)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start llmload mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base_url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base_url.starts_with("http://127.0.0.1:"), "{line}");
        Server { child, base_url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn open_loop(base_url: &str) -> String {
    format!(
        r#"
name = "sharded"
seed = 3

[target]
kind = "openai"
base_url = "{base_url}"
api_key_env = ""

[load]
rate = 200.0
duration = "3s"
max_in_flight = 64

[[variant]]
name = "a"
weight = 3
endpoint = "completions"
model = "sim-small"
max_tokens = 4
stream = false
prompt_tokens = 16

[[variant]]
name = "b"
weight = 1
endpoint = "chat"
model = "sim-small"
max_tokens = 4
stream = true
prompt_tokens = 16
"#
    )
}

/// What the shards add up to, from one summary.json: the merged one of
/// `llmload report`, or a shard's own.
struct Totals {
    sent: u64,
    ok: u64,
    per_variant: Vec<u64>,
}

fn totals(dir: &Path) -> Totals {
    let s = read_json(&dir.join("summary.json"));
    Totals {
        sent: s["total"]["requests"]["sent"].as_u64().unwrap(),
        ok: s["total"]["requests"]["ok"].as_u64().unwrap(),
        per_variant: s["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["requests"]["sent"].as_u64().unwrap())
            .collect(),
    }
}

/// The rate the shards sent at together: every request's actual send time
/// (`intended_ms + queue_delay_ms` in requests.csv), put on the wall clock by
/// the shard's `client.first_request_at` in run.json; the rate is the inverse
/// of the least-squares slope of send time against rank, so one late send
/// at either end (a busy machine) does not decide it. Open loop sends
/// whatever the server does, so this is the load offered, not a server
/// latency: shards that start apart or send at the wrong share show here.
fn combined_send_rate(dirs: &[PathBuf]) -> f64 {
    let mut sends: Vec<f64> = Vec::new();
    for d in dirs {
        let info = read_json(&d.join("run.json"));
        let first = humantime::parse_rfc3339(info["client"]["first_request_at"].as_str().unwrap()).unwrap();
        let first = first.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
        let mut rows = csv::Reader::from_path(d.join("requests.csv")).unwrap();
        let offsets: Vec<f64> = rows
            .deserialize::<std::collections::HashMap<String, String>>()
            .map(|r| {
                let r = r.unwrap();
                (r["intended_ms"].parse::<f64>().unwrap() + r["queue_delay_ms"].parse::<f64>().unwrap()) / 1e3
            })
            .collect();
        let earliest = offsets.iter().copied().fold(f64::INFINITY, f64::min);
        sends.extend(offsets.iter().map(|o| first + o - earliest));
    }
    sends.sort_by(f64::total_cmp);
    let n = sends.len() as f64;
    let (mean_i, mean_t) = ((n - 1.0) / 2.0, sends.iter().sum::<f64>() / n);
    let (mut cov, mut var) = (0.0, 0.0);
    for (i, t) in sends.iter().enumerate() {
        cov += (i as f64 - mean_i) * (t - mean_t);
        var += (i as f64 - mean_i).powi(2);
    }
    var / cov
}

#[test]
fn four_open_loop_shards_add_up_to_the_plan_at_the_asked_rate() {
    // A timing test (the rate within 2%): four clients on the 2 cores,
    // not beside another test's bursts.
    let _alone = crate::util::CPU_HEAVY.blocking_write();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (_sdir, path) = scenario_file(&open_loop(&server.base_url));
    let plan = llmload::scenario::Plan::new(&llmload::scenario::Scenario::load(&path).unwrap());
    assert_eq!(plan.requests, Some(600.0));

    let start_at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(4)).to_string();
    let dirs: Vec<PathBuf> = (0..4).map(|k| dir.path().join(format!("shard-{k}"))).collect();
    let shards: Vec<Child> = dirs
        .iter()
        .enumerate()
        .map(|(k, out)| {
            llmload()
                .args(["run", "-q", "--yes", "--shard", &format!("{k}/4"), "--start-at", &start_at, "--out"])
                .arg(out)
                .arg(&path)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for (k, c) in shards.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "shard {k}: {:?} {}", o.status, String::from_utf8_lossy(&o.stderr));
    }

    // The shards merged by `llmload report`, and checked against their own sums.
    let merged = dir.path().join("merged");
    let o = llmload().arg("report").args(&dirs).arg("--out").arg(&merged).output().unwrap();
    assert!(o.status.success(), "report: {}", String::from_utf8_lossy(&o.stderr));
    let t = totals(&merged);
    let parts: Vec<Totals> = dirs.iter().map(|d| totals(d)).collect();
    assert_eq!(t.sent, parts.iter().map(|p| p.sent).sum::<u64>());
    assert_eq!(t.per_variant[0], parts.iter().map(|p| p.per_variant[0]).sum::<u64>());
    assert_eq!(t.sent as f64, plan.requests.unwrap(), "the shards add up to the plan");
    assert_eq!(t.ok, t.sent);
    let rate = combined_send_rate(&dirs);
    eprintln!("combined send rate {rate:.2}/s over 4 shards");
    assert!((rate - 200.0).abs() <= 4.0, "combined rate {rate:.1}/s, asked 200/s (within 2%)");
    // The 3:1 weights hold across shards (150 requests each: loose bounds).
    let share_a = t.per_variant[0] as f64 / t.sent as f64;
    assert!((0.68..0.82).contains(&share_a), "variant a {share_a:.2} of requests, weight 3/4");

    let mut seeds = Vec::new();
    for (k, d) in dirs.iter().enumerate() {
        let info = read_json(&d.join("run.json"));
        assert_eq!(info["shard"]["index"], k as u64);
        assert_eq!(info["shard"]["count"], 4);
        assert_eq!(info["shard"]["scenario_seed"], 3);
        assert_eq!(info["start_at"].as_str(), Some(start_at.as_str()));
        let first = humantime::parse_rfc3339(info["client"]["first_request_at"].as_str().unwrap()).unwrap();
        let asked = humantime::parse_rfc3339(&start_at).unwrap();
        let skew = first.duration_since(asked).expect("no request before --start-at");
        assert!(skew < Duration::from_millis(200), "shard {k} first sent {skew:?} after --start-at");
        seeds.push(info["seed"].as_u64().unwrap());
    }
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 4, "each shard has its own seed");
}

#[test]
fn bad_shard_and_start_at_values_exit_2_naming_them() {
    let (_dir, path) = scenario_file(&open_loop("http://127.0.0.1:9/v1"));
    for (args, says) in [
        (vec!["--shard", "4/4"], "--shard"),
        (vec!["--shard", "1/0"], "at least 1"),
        (vec!["--start-at", "noon"], "--start-at"),
        (vec!["--start-at", "2001-02-03T04:05:06Z"], "2001-02-03T04:05:06"),
    ] {
        let o = llmload().arg("run").args(&args).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // A shard with no user of its own is refused before anything is sent.
    let (_dir, closed) =
        scenario_file(&open_loop("http://127.0.0.1:9/v1").replace("rate = 200.0", "concurrency = 2"));
    let o = llmload().args(["run", "--shard", "2/3"]).arg(&closed).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn dry_run_prints_the_shards_plan() {
    let (_dir, path) = scenario_file(&open_loop("http://127.0.0.1:9/v1"));
    let o = llmload().args(["run", "--dry-run", "--shard", "1/4"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("150"), "a quarter of 600 requests: {stdout}");
}

//! `llmload search` against a simulator of known capacity
//! (scenarios/capacity-search.toml): 8 sequences at once, each holding its
//! slot 100 ms + 9 × 20 ms = 280 ms, so 8 / 0.28 s = 28.6 requests/s; the
//! search for TTFT p99 <= 150 ms must land within 10% of it, in at most 12
//! probes, and two seeds must agree.

use std::path::{Path, PathBuf};

use crate::util::{CPU_HEAVY, llmload, read_json};

const CAPACITY: f64 = 8.0 / 0.280;

fn search(seed: u64, extra: &[&str]) -> (Option<i32>, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity-search.toml");
    // Shorter probes than the example's, to keep CI quick.
    let text = std::fs::read_to_string(example).unwrap().replace("probe = \"3s\"", "probe = \"2s\"");
    let path = dir.path().join("capacity-search.toml");
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("out");
    let o = llmload()
        .args(["search", "-q", "--seed", &seed.to_string(), "--out"])
        .arg(&out)
        .args(extra)
        .arg(&path)
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&o.stdout));
    let summary = read_json(&out.join("summary.json"));
    (o.status.code(), summary, dir)
}

#[tokio::test]
async fn the_capacity_of_a_known_simulator_is_found_within_ten_percent() {
    let _alone = CPU_HEAVY.write().await;
    let (code, a, dir) = search(1, &[]);
    assert_eq!(code, Some(0), "min_rate 20 met");
    let c = &a["capacity"];
    let found = c["max_rate"].as_f64().expect("a capacity");
    let probes = c["probes"].as_array().unwrap();
    assert!((found - CAPACITY).abs() / CAPACITY <= 0.10, "{found} vs {CAPACITY:.2}");
    assert!(probes.len() <= 12, "{} probes", probes.len());
    // The bracket: a rate just above missed, on TTFT.
    let above = c["interval"][1].as_f64().expect("a rate that missed");
    assert!(above > found && (above - found) / found <= 0.05 + 1e-9, "{found}..{above}");
    assert!(c["limiting"].as_str().unwrap().starts_with("ttft.p99"), "{c}");
    // Every probe is a results directory of its own.
    for p in probes {
        assert!(Path::new(p["dir"].as_str().unwrap()).join("requests.csv").is_file());
    }
    assert!(
        dir.path().join("out/probes").read_dir().unwrap().count() > probes.len(),
        "and the synchronous one"
    );
    // The chart and the page, the table in summary.md.
    let out = dir.path().join("out");
    let svg = std::fs::read_to_string(out.join("charts/capacity.svg")).unwrap();
    assert!(svg.contains("capacity ") && svg.contains("achieved requests/s"), "the capacity is marked");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("capacity:") && !html.contains("<script"), "{html}");
    assert!(std::fs::read_to_string(out.join("summary.md")).unwrap().contains("verdict"));

    // Another seed agrees, and a minimum above the capacity fails the gate.
    let (code, b, _dir) = search(2, &["--min-rate", "40"]);
    assert_eq!(code, Some(1), "below --min-rate 40");
    let other = b["capacity"]["max_rate"].as_f64().unwrap();
    assert!((found - other).abs() / found.min(other) <= 0.10, "seeds agree: {found} vs {other}");
    assert_eq!(b["capacity"]["passed"], false);
}

/// In closed loop the search varies users: with 8 slots and no think time,
/// 8 users never wait for one and a 9th always does (a whole answer,
/// 280 ms, on top of its TTFT), so the capacity is exactly 8 users.
#[tokio::test]
async fn a_closed_loop_search_finds_the_users_a_known_simulator_serves() {
    let _alone = CPU_HEAVY.write().await;
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity-search.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let text = text.replace("rate = 10.0", "concurrency = 4\n#").replace("probe = \"3s\"", "probe = \"2s\"");
    let path = dir.path().join("closed.toml");
    std::fs::write(&path, text.replace("min_rate = 20.0", "min_rate = 6.0")).unwrap();
    let out = dir.path().join("out");
    let o = llmload().args(["search", "-q", "--out"]).arg(&out).arg(&path).output().unwrap();
    println!("{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let c = &read_json(&out.join("summary.json"))["capacity"];
    assert_eq!(
        (c["unit"].as_str(), c["max_rate"].as_f64(), c["interval"][1].as_f64()),
        (Some("users"), Some(8.0), Some(9.0)),
        "{c}"
    );
}

/// The example scenario aimed at a simulator of its own (`llmload mock`)
/// with the example's `[simulator]` profile, as shards on several machines
/// would share one deployment.
fn against_one_simulator(dir: &Path) -> (crate::util::Killed, PathBuf) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity-search.toml");
    let text = std::fs::read_to_string(example).unwrap().replace("probe = \"3s\"", "probe = \"2s\"");
    let at = text.find("[simulator]").unwrap();
    let end = at + text[at..].find("\n\n").unwrap();
    let profile = dir.join("profile.toml");
    std::fs::write(&profile, &text[at + "[simulator]".len()..end]).unwrap();
    let (server, url) = crate::util::start_mock(&["--config", profile.to_str().unwrap()]);
    let target = format!("[target]\nkind = \"openai\"\nbase_url = \"{url}\"\napi_key_env = \"\"");
    let path = dir.join("sharded.toml");
    std::fs::write(&path, format!("{}{target}{}", &text[..at], &text[end..])).unwrap();
    (server, path)
}

fn shard(k: u32, n: u32, scenario: &Path, out: &Path) -> std::process::Child {
    llmload()
        .args(["search", "--yes", "--seed", "5", "--shard", &format!("{k}/{n}"), "--out"])
        .arg(out)
        .arg(scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two processes search together against one simulator: each probe's rate
/// is split between them, its parts merged before it is judged, and the
/// answer is the simulator's capacity, as one process finds it.
#[tokio::test]
async fn a_sharded_search_splits_each_probe_and_finds_the_same_capacity() {
    let _alone = CPU_HEAVY.write().await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, scenario) = against_one_simulator(dir.path());
    let out = dir.path().join("out");
    // The follower first: it waits for the leader to open the directory.
    let follower = shard(1, 2, &scenario, &out);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let leader = shard(0, 2, &scenario, &out).wait_with_output().unwrap();
    let follower = follower.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    println!("{}{}", text(&leader.stdout), text(&leader.stderr));
    assert_eq!(leader.status.code(), Some(0), "{}", text(&leader.stderr));
    assert_eq!(follower.status.code(), Some(0), "exits as the search does: {}", text(&follower.stderr));

    let c = &read_json(&out.join("summary.json"))["capacity"];
    let found = c["max_rate"].as_f64().expect("a capacity");
    assert!((found - CAPACITY).abs() / CAPACITY <= 0.10, "{found} vs {CAPACITY:.2}");
    let probes = c["probes"].as_array().unwrap();
    assert!(probes.len() <= 12, "{} probes", probes.len());
    for p in probes {
        let dir = Path::new(p["dir"].as_str().unwrap());
        let run = read_json(&dir.join("run.json"));
        let offered = p["offered_rate"].as_f64().unwrap();
        // The merged run is the whole probe: both parts, adding up to its rate.
        assert_eq!(run["shards"].as_array().unwrap().len(), 2, "{}", dir.display());
        let level = run["load"]["stages"][0]["level"].as_f64().unwrap();
        assert!((level - offered).abs() < 1e-6 * offered, "{level} vs {offered}");
        // Each shard sent half of the measured requests (rows of requests.csv).
        let csv = std::fs::read_to_string(dir.join("requests.csv")).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name| header.iter().position(|h| *h == name).unwrap();
        let (phase, shard) = (col("phase"), col("shard"));
        let mut per_shard = [0u32; 2];
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            if cells[phase] == "measured" {
                per_shard[cells[shard].parse::<usize>().unwrap() - 1] += 1;
            }
        }
        let expected = offered * p["seconds"].as_f64().unwrap();
        let sent = f64::from(per_shard[0] + per_shard[1]);
        assert!(per_shard[0].abs_diff(per_shard[1]) <= 2, "{per_shard:?} in {}", dir.display());
        assert!((sent - expected).abs() <= 0.05 * expected + 2.0, "{sent} sent, {expected:.1} offered");
    }
    // One user for the service time: the second shard had no part of it.
    let sync = read_json(&out.join("probes/01-synchronous/run.json"));
    assert_eq!(sync["shards"].as_array().map_or(1, Vec::len), 1, "{sync}");
    assert_eq!(read_json(&out.join("shards/end.json"))["exit"], 0);
}

/// A shard given another scenario refuses (exit 2) and says so, and the
/// leader stops at once instead of waiting for it.
#[tokio::test]
async fn a_shard_of_another_scenario_refuses_and_the_leader_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, scenario) = against_one_simulator(dir.path());
    let other = dir.path().join("other.toml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&other, text.replace("max_probes = 12", "max_probes = 11")).unwrap();
    let out = dir.path().join("out");
    let follower = shard(1, 2, &other, &out);
    let leader = shard(0, 2, &scenario, &out).wait_with_output().unwrap();
    let follower = follower.wait_with_output().unwrap();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(follower.status.code(), Some(2), "{}", err(&follower));
    assert!(
        err(&follower).contains("--shard") && err(&follower).contains("same scenario"),
        "{}",
        err(&follower)
    );
    assert_eq!(leader.status.code(), Some(1), "{}", err(&leader));
    assert!(err(&leader).contains("shard 1 left the search"), "{}", err(&leader));

    // Without a directory both see, there is nothing to share.
    let o = llmload().args(["search", "--shard", "0/2"]).arg(&scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--out"), "{}", err(&o));
}

/// A mix of variants is searched as one load, each objective judged on the
/// requests of its own variant: with half the requests 640 ms long (100 ms +
/// 27 × 20 ms) and half 280 ms, the 8 slots serve at most 8 / 0.46 s =
/// 17.4 requests/s, and the long variant's TTFT objective decides.
#[tokio::test]
async fn a_mix_of_variants_is_judged_per_variant() {
    let _alone = CPU_HEAVY.write().await;
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity-search.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let at = text.find("[[variant]]").unwrap();
    let mixed = format!(
        "{}{}",
        &text[..at]
            .replace("probe = \"3s\"", "probe = \"1500ms\"")
            .replace("precision = 0.05", "precision = 0.1"),
        r#"
[[variant]]
name = "short"
endpoint = "chat"
model = "sim"
max_tokens = 10
prompt_tokens = 64

[[variant]]
name = "long"
endpoint = "chat"
model = "sim"
max_tokens = 28
prompt_tokens = 64

[slo.variants.long]
"ttft.p99" = "150ms"

[slo.variants.short]
"e2e.p99" = "5s"
"#
    );
    let path = dir.path().join("mixed.toml");
    std::fs::write(&path, mixed).unwrap();
    let out = dir.path().join("out");
    let o =
        llmload().args(["search", "-q", "--min-rate", "5", "--out"]).arg(&out).arg(&path).output().unwrap();
    println!("{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let c = &read_json(&out.join("summary.json"))["capacity"];
    let found = c["max_rate"].as_f64().unwrap();
    let mix = 8.0 / 0.460;
    assert!(found <= mix * 1.1 && found >= mix * 0.6, "{found} vs at most {mix:.1}");
    assert_eq!(c["limiting"], "ttft.p99 (long)", "{c}");
    for p in c["probes"].as_array().unwrap() {
        let names: Vec<&str> =
            p["objectives"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ttft.p99 (long)", "e2e.p99 (short)"], "{p}");
        let run = read_json(&Path::new(p["dir"].as_str().unwrap()).join("summary.json"));
        assert_eq!(run["variants"].as_array().map(Vec::len), Some(2), "both variants in every probe");
    }
}

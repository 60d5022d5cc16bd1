//! `llmload search` against a simulator of known capacity
//! (scenarios/capacity-search.toml): 8 sequences at once, each holding its
//! slot 100 ms + 9 × 20 ms = 280 ms, so 8 / 0.28 s = 28.6 requests/s; the
//! search for TTFT p99 <= 150 ms must land within 10% of it, in at most 12
//! probes, and two seeds must agree.

use std::path::Path;

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

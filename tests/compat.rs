//! A results directory written by an older llmload (tests/fixtures/results-v0,
//! from before run.json had a format version) still loads, re-renders and
//! compares with today's: file formats only ever gain fields.

use std::path::Path;

use crate::util::{llmload, read_json};

const OLD: &str = "tests/fixtures/results-v0";

#[test]
fn report_re_renders_an_old_results_directory_with_the_same_figures() {
    let _heavy = crate::util::CPU_HEAVY.blocking_read();
    let out = tempfile::tempdir().unwrap();
    let o = llmload().args(["report", OLD, "--out"]).arg(out.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    for f in [
        "run.json",
        "requests.csv",
        "summary.json",
        "summary.md",
        "summary.csv",
        "metrics.json",
        "report.html",
    ] {
        assert!(out.path().join(f).is_file(), "{f} written");
    }
    assert!(out.path().join("charts/timeline.svg").is_file());
    // The summary computed again from metrics.json is the one stored then:
    // every field it had is there with the same value (new fields are added).
    let old = read_json(&Path::new(OLD).join("summary.json"));
    let new = read_json(&out.path().join("summary.json"));
    assert_contains(&new, &old, "summary.json");
    // run.json is carried over as it was: no format field added to an old file.
    let info = read_json(&out.path().join("run.json"));
    assert_eq!(info["scenario"]["name"], "fixture-v0");
    assert!(info.get("format").is_none());
}

#[test]
fn compare_reads_an_old_results_directory_beside_a_new_rendering_of_it() {
    let _heavy = crate::util::CPU_HEAVY.blocking_read();
    let out = tempfile::tempdir().unwrap();
    let o = llmload().args(["report", OLD, "--out"]).arg(out.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    for (base, cand) in [(Path::new(OLD), out.path()), (out.path(), Path::new(OLD))] {
        let o = llmload().arg("compare").args([base, cand]).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
        assert!(text.contains("result: no significant regression"), "{text}");
    }
}

#[test]
fn a_run_json_of_an_unknown_format_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["run.json", "metrics.json", "requests.csv"] {
        std::fs::copy(Path::new(OLD).join(f), dir.path().join(f)).unwrap();
    }
    let run = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
    std::fs::write(dir.path().join("run.json"), run.replacen('{', "{\"format\": \"llmload-run/99\",", 1))
        .unwrap();
    let o = llmload().arg("report").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("run.json") && err.contains("llmload-run/99"), "{err}");
}

/// Every field of `old` is in `new` with the same value, recursively.
fn assert_contains(new: &serde_json::Value, old: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (new, old) {
        (Value::Object(n), Value::Object(o)) => {
            for (k, v) in o {
                let got = n.get(k).unwrap_or_else(|| panic!("{at}.{k}: missing"));
                assert_contains(got, v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(n), Value::Array(o)) => {
            assert_eq!(n.len(), o.len(), "{at}: length");
            for (i, (a, b)) in n.iter().zip(o).enumerate() {
                assert_contains(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(new, old, "{at}"),
    }
}

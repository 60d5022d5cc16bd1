//! Merging the results directories of the shards of one run (started
//! together with `--shard K/N`, each writing its own directory) into one.
//!
//! - Measurements: per step, variants matched by name and load stages by
//!   position; counters add and HDR histograms add exactly, so every
//!   percentile is the one a single process would have measured.
//! - Windows: the shards ran at the same time, so a step's window is the
//!   longest shard window (summing would halve the merged throughput).
//! - Load stages: levels add up (each shard took its part of the users or
//!   of the rate); durations are the longest.
//! - run.json: the first shard's, with the earliest start, the latest end,
//!   partial if any shard was, and `shards`: each directory's seed, times,
//!   stop reason, client overhead and (when recorded) shard number.
//! - requests.csv: the shards' rows one after the other, with a last column
//!   `shard`: the directory's 1-based position in the `report` arguments
//!   (and in run.json's `shards`), since `seq` repeats across shards.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Context;

use super::stored::LoadedDir;
use crate::BadInput;
use crate::metrics::Metrics;
use crate::metrics::persist::StoredRun;
use crate::scenario::Stage;

/// Checks that the directories are shards of one run: same scenario, same
/// variants and stages. The first directory that differs is named.
pub fn check_compatible(dirs: &[LoadedDir]) -> Result<(), BadInput> {
    let Some(first) = dirs.first() else { return Ok(()) };
    let sha = |d: &LoadedDir| d.info["scenario"]["sha256"].as_str().map(str::to_owned);
    let names = |r: &StoredRun| -> BTreeSet<String> { r.variant_names().into_iter().collect() };
    for d in &dirs[1..] {
        let at = d.dir.display();
        let base = first.dir.display();
        if d.run.scenario != first.run.scenario {
            return Err(BadInput(format!(
                "{at}: scenario {:?} is not {:?} of {base}: only shards of one run merge",
                d.run.scenario, first.run.scenario
            )));
        }
        for step in &d.run.steps {
            let here: BTreeSet<String> = step.variants.iter().map(|v| v.name.clone()).collect();
            if here != names(&first.run) {
                return Err(BadInput(format!(
                    "{at}: variants {here:?} differ from {:?} of {base}",
                    names(&first.run)
                )));
            }
            if step.stages.len() != first.run.steps[0].stages.len() {
                return Err(BadInput(format!("{at}: its load stages differ from {base}'s")));
            }
        }
        if sha(d) != sha(first) {
            return Err(BadInput(format!(
                "{at}: its scenario file (sha256 in run.json) differs from {base}'s: only shards of one run merge"
            )));
        }
    }
    Ok(())
}

/// The merged measurements of compatible shards.
pub fn merge_runs(dirs: &[LoadedDir]) -> StoredRun {
    let runs: Vec<&StoredRun> = dirs.iter().map(|d| &d.run).collect();
    let first = runs[0];
    let n_steps = runs.iter().map(|r| r.steps.len()).max().unwrap_or(0);
    let origin = Instant::now();
    let steps = (0..n_steps)
        .map(|k| {
            let present: Vec<&Metrics> = runs.iter().filter_map(|r| r.steps.get(k)).collect();
            let mut m = present[0].clone();
            for v in m.variants.iter_mut().chain(m.stages.iter_mut()) {
                v.reset_counts();
            }
            for p in &present {
                for v in &p.variants {
                    if let Some(t) = m.variants.iter_mut().find(|t| t.name == v.name) {
                        t.merge(v);
                    }
                }
                for (t, s) in m.stages.iter_mut().zip(&p.stages) {
                    t.merge(s);
                }
            }
            let window = present.iter().map(|p| p.window()).max().unwrap_or_default();
            m.window_start = origin;
            m.last_end = (!window.is_zero()).then(|| origin + window);
            m
        })
        .collect();
    let stages = (0..first.stages.len())
        .map(|i| Stage {
            level: runs.iter().filter_map(|r| r.stages.get(i)).map(|s| s.level).sum(),
            duration: runs.iter().filter_map(|r| r.stages.get(i)?.duration).max(),
        })
        .collect();
    let partial = runs.iter().any(|r| r.partial || r.steps.len() < n_steps);
    let stop_reason = runs.iter().find(|r| r.partial).unwrap_or(&first).stop_reason.clone();
    let mut notes = vec![format!(
        "merged from {} shards: counts and histograms added exactly; throughput over the longest shard window",
        runs.len()
    )];
    for (i, r) in runs.iter().enumerate() {
        notes.extend(r.notes.iter().map(|n| format!("shard {}: {n}", i + 1)));
    }
    StoredRun {
        scenario: first.scenario.clone(),
        stop_reason,
        partial,
        notes,
        stages,
        objectives: first.objectives.clone(),
        steps,
    }
}

/// run.json of the merged run.
pub fn merge_run_info(dirs: &[LoadedDir], merged: &StoredRun) -> serde_json::Value {
    let time = |v: &serde_json::Value| v.as_str().and_then(|t| humantime::parse_rfc3339(t).ok());
    let pick = |key: &str, latest: bool| {
        let times = dirs.iter().filter_map(|d| Some((time(&d.info[key])?, d.info[key].clone())));
        let best = if latest { times.max_by_key(|t| t.0) } else { times.min_by_key(|t| t.0) };
        best.map(|(_, v): (SystemTime, _)| v).unwrap_or(serde_json::Value::Null)
    };
    let mut info = dirs[0].info.clone();
    info["started_at"] = pick("started_at", false);
    info["ended_at"] = pick("ended_at", true);
    info["partial"] = merged.partial.into();
    info["stop_reason"] = merged.stop_reason.clone().into();
    if let Some(o) = info.as_object_mut() {
        // Per process: kept per shard below.
        o.remove("client");
    }
    info["shards"] = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            serde_json::json!({
                "shard": i + 1,
                "dir": d.dir.display().to_string(),
                "recorded_shard": d.info.get("shard").cloned(),
                "seed": d.info["seed"],
                "started_at": d.info["started_at"],
                "ended_at": d.info["ended_at"],
                "partial": d.info["partial"],
                "stop_reason": d.info["stop_reason"],
                "client": d.info.get("client").cloned(),
            })
        })
        .collect();
    info
}

/// The shards' requests.csv one after the other, with a `shard` column.
pub fn concat_requests(dirs: &[LoadedDir], out: &Path) -> anyhow::Result<()> {
    let tmp = out.with_extension("csv.tmp");
    let mut w = csv::Writer::from_path(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut header: Option<csv::StringRecord> = None;
    for (i, d) in dirs.iter().enumerate() {
        let path = d.dir.join("requests.csv");
        let mut r = csv::Reader::from_path(&path)
            .map_err(|e| BadInput(format!("{}: cannot read ({e})", path.display())))?;
        let h = r.headers().map_err(|e| BadInput(format!("{}: {e}", path.display())))?.clone();
        match &header {
            None => {
                let mut with_shard = h.clone();
                with_shard.push_field("shard");
                w.write_record(&with_shard)?;
                header = Some(h);
            }
            Some(first) if *first != h => {
                return Err(BadInput(format!(
                    "{}: its columns differ from {}",
                    path.display(),
                    dirs[0].dir.join("requests.csv").display()
                ))
                .into());
            }
            Some(_) => {}
        }
        let shard = (i + 1).to_string();
        for row in r.records() {
            let mut row = row.map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
            row.push_field(&shard);
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::VariantInfo;

    fn shard(level: f64, window_ms: u64, ok: u64, steps: usize, partial: bool) -> LoadedDir {
        let steps = (0..steps)
            .map(|_| {
                let t0 = Instant::now();
                let info = VariantInfo { name: "v".into(), streaming: true, priced: false };
                let mut m = Metrics::new([info], 2, t0);
                m.variants[0].ok = ok;
                m.stages[1].ok = ok;
                m.last_end = Some(t0 + Duration::from_millis(window_ms));
                m
            })
            .collect();
        let stage = |s| Stage { level, duration: Some(Duration::from_secs(s)) };
        LoadedDir {
            dir: format!("shard-{level}").into(),
            run: StoredRun {
                scenario: "s".into(),
                stop_reason: if partial { "interrupted" } else { "duration" }.into(),
                partial,
                notes: vec!["n".into()],
                stages: vec![stage(1), stage(2)],
                objectives: Vec::new(),
                steps,
            },
            info: serde_json::json!({ "started_at": "2026-11-27T09:00:01.000Z", "seed": level }),
        }
    }

    #[test]
    fn shards_add_their_counts_and_levels_and_keep_the_longest_window() {
        let dirs = [shard(2.0, 900, 5, 2, false), shard(3.0, 1200, 7, 2, false)];
        check_compatible(&dirs).unwrap();
        let m = merge_runs(&dirs);
        assert_eq!(m.steps.len(), 2);
        assert_eq!(m.steps[1].variants[0].ok, 12);
        assert_eq!(m.steps[1].stages[1].ok, 12);
        assert_eq!(m.steps[0].window(), Duration::from_millis(1200));
        assert_eq!(m.stages.iter().map(|s| s.level).collect::<Vec<_>>(), [5.0, 5.0]);
        assert_eq!(m.stages[1].duration, Some(Duration::from_secs(2)));
        assert!(!m.partial);
        assert_eq!(m.notes[1..], ["shard 1: n", "shard 2: n"]);
    }

    #[test]
    fn a_shard_stopped_early_makes_the_merge_partial() {
        let dirs = [shard(2.0, 900, 5, 2, false), shard(3.0, 1200, 7, 1, true)];
        let m = merge_runs(&dirs);
        assert_eq!(m.steps.len(), 2);
        assert_eq!(m.steps[1].variants[0].ok, 5, "only the first shard ran step 2");
        assert!(m.partial);
        assert_eq!(m.stop_reason, "interrupted");
        let info = merge_run_info(&dirs, &m);
        assert_eq!(info["partial"], true);
        assert_eq!(info["shards"][1]["seed"], 3.0);
    }
}

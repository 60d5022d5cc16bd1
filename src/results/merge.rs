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
use std::time::{Instant, SystemTime};

use super::{LoadedDir, MergedShard, ResultsDir, ResultsError, RunInfo, StoredRun};
use crate::metrics::Metrics;
use crate::scenario::Stage;

/// Checks that the directories are shards of one run: same scenario, same
/// variants and stages. The first directory that differs is named.
pub fn check_compatible(dirs: &[LoadedDir]) -> Result<(), ResultsError> {
    let Some(first) = dirs.first() else { return Ok(()) };
    let names = |r: &StoredRun| -> BTreeSet<String> { r.variant_names().into_iter().collect() };
    for d in &dirs[1..] {
        let refuse = |why: String| Err(ResultsError::invalid(&d.dir, why));
        let base = first.dir.display();
        if d.run.scenario != first.run.scenario {
            return refuse(format!(
                "scenario {:?} is not {:?} of {base}: only shards of one run merge",
                d.run.scenario, first.run.scenario
            ));
        }
        for step in &d.run.steps {
            let here: BTreeSet<String> = step.variants.iter().map(|v| v.name.clone()).collect();
            if here != names(&first.run) {
                return refuse(format!("variants {here:?} differ from {:?} of {base}", names(&first.run)));
            }
            if step.stages.len() != first.run.steps[0].stages.len() {
                return refuse(format!("its load stages differ from {base}'s"));
            }
        }
        if d.info.scenario.sha256 != first.info.scenario.sha256 {
            return refuse(format!(
                "its scenario file (sha256 in run.json) differs from {base}'s: only shards of one run merge"
            ));
        }
        match (first.info.shard, d.info.shard) {
            (None, None) => {}
            (Some(a), Some(b)) if a.count != b.count || a.scenario_seed != b.scenario_seed => {
                return refuse(format!(
                    "it is shard {}/{} of a run of seed {}, {base} shard {}/{} of seed {}: not the same run",
                    b.index, b.count, b.scenario_seed, a.index, a.count, a.scenario_seed
                ));
            }
            (Some(_), Some(_)) => {}
            _ => {
                return refuse(format!(
                    "one of it and {base} was run with --shard, the other not: not the same run"
                ));
            }
        }
        if let Some(twin) = dirs.iter().take_while(|o| !std::ptr::eq(*o, d)).find(|o| {
            o.info.shard.is_some() && o.info.shard.map(|s| s.index) == d.info.shard.map(|s| s.index)
        }) {
            return refuse(format!("it is the same shard as {}: each shard merges once", twin.dir.display()));
        }
        if !overlap(&first.info, &d.info) {
            return refuse(format!(
                "it ran from {} to {}, {base} from {} to {}: only shards that ran together merge",
                d.info.started_at,
                d.info.ended_at.as_deref().unwrap_or("?"),
                first.info.started_at,
                first.info.ended_at.as_deref().unwrap_or("?")
            ));
        }
    }
    Ok(())
}

/// The two runs' [start, end] intervals meet (a run without an end, cut
/// short before it could write one, is taken to overlap).
fn overlap(a: &RunInfo, b: &RunInfo) -> bool {
    let t = |s: &str| humantime::parse_rfc3339(s).ok();
    let span = |i: &RunInfo| Some((t(&i.started_at)?, t(i.ended_at.as_deref()?)?));
    match (span(a), span(b)) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        _ => true,
    }
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
            let drain = present.iter().map(|p| p.drain()).max().unwrap_or_default();
            m.window_start = origin;
            if present.iter().all(|p| p.window_end.is_some()) {
                m.window_end = Some(origin + window);
                m.last_end = Some(origin + window + drain);
            } else {
                // A shard written before windows ended at the last start.
                m.window_end = None;
                m.last_end = (!window.is_zero()).then(|| origin + window);
            }
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
    let stop_reason = runs.iter().find(|r| r.partial).unwrap_or(&first).stop_reason;
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

/// run.json of the merged run: the first shard's, with the earliest start,
/// the latest end, the merged stop, and each directory in `shards`.
pub fn merge_run_info(dirs: &[LoadedDir], merged: &StoredRun) -> RunInfo {
    let time = |t: &str| humantime::parse_rfc3339(t).ok();
    let started = dirs.iter().filter_map(|d| Some((time(&d.info.started_at)?, &d.info.started_at)));
    let ended = dirs.iter().filter_map(|d| {
        let t = d.info.ended_at.as_ref()?;
        Some((time(t)?, t))
    });
    let earliest = started.min_by_key(|t: &(SystemTime, _)| t.0).map(|t| t.1.clone());
    let latest = ended.max_by_key(|t: &(SystemTime, _)| t.0).map(|t| t.1.clone());
    let mut info = dirs[0].info.clone();
    info.started_at = earliest.unwrap_or(info.started_at);
    info.ended_at = latest;
    info.partial = Some(merged.partial);
    info.stop_reason = Some(merged.stop_reason);
    // The whole run's load: each shard took its part of every level, of the
    // requests and of max_in_flight, so they add up. Its seed is the one
    // every shard derived its own from, and it is no shard of anything.
    for (i, stage) in info.load.stages.iter_mut().enumerate() {
        stage.level = dirs.iter().filter_map(|d| d.info.load.stages.get(i)).map(|s| s.level).sum();
    }
    let requests = dirs.iter().map(|d| d.info.load.requests);
    info.load.requests = requests.sum::<Option<u64>>();
    if let super::ModeInfo::Open { max_in_flight, .. } = &mut info.load.mode {
        *max_in_flight = dirs
            .iter()
            .map(|d| match d.info.load.mode {
                super::ModeInfo::Open { max_in_flight, .. } => max_in_flight,
                super::ModeInfo::Closed { .. } => 0,
            })
            .sum();
    }
    if let Some(shard) = info.shard.take() {
        info.seed = shard.scenario_seed;
    }
    // Per process: kept per shard below.
    info.client = None;
    info.shards = dirs
        .iter()
        .zip(1..)
        .map(|(d, shard)| MergedShard {
            shard,
            dir: d.dir.display().to_string(),
            recorded_shard: d.info.shard,
            seed: d.info.seed,
            started_at: d.info.started_at.clone(),
            ended_at: d.info.ended_at.clone(),
            partial: d.info.partial,
            stop_reason: d.info.stop_reason,
            client: d.info.client.clone(),
        })
        .collect();
    info
}

/// The shards' requests.csv one after the other into `out`'s, each row
/// with its `shard`, written atomically. A shard's file that cannot be read
/// is bad input; a write that fails is not.
pub fn concat_requests(dirs: &[LoadedDir], out: &ResultsDir) -> crate::error::Result<()> {
    super::replace_atomic(&out.file(super::REQUESTS_CSV), |tmp| {
        let mut w = super::RequestsWriter::create(tmp, Vec::new())?;
        for (d, shard) in dirs.iter().zip(1..) {
            let mut rows = d.requests()?;
            while let Some(row) = rows.next_row()? {
                w.row(&super::RequestRow { shard: Some(shard), ..row })?;
            }
        }
        Ok(w.flush()?)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{StopReason, VariantInfo};

    fn shard(level: f64, window_ms: u64, ok: u64, steps: usize, partial: bool) -> LoadedDir {
        let steps = (0..steps)
            .map(|_| {
                let t0 = Instant::now();
                let info = VariantInfo {
                    name: "v".into(),
                    streaming: true,
                    embeddings: false,
                    priced: false,
                    swept: None,
                };
                let mut m = Metrics::new([info], 2, t0);
                m.variants[0].ok = ok;
                m.stages[1].ok = ok;
                m.last_end = Some(t0 + Duration::from_millis(window_ms));
                m
            })
            .collect();
        let stage = |s| Stage { level, duration: Some(Duration::from_secs(s)) };
        let mut info: RunInfo =
            serde_json::from_str(include_str!("../../tests/fixtures/results-v0/run.json"))
                .expect("the fixture's run.json");
        info.started_at = "2026-11-27T09:00:01.000Z".into();
        info.seed = level as u64;
        for s in &mut info.load.stages {
            s.level = level;
        }
        info.shard = Some(super::super::ShardInfo { index: level as u32, count: 9, scenario_seed: 42 });
        LoadedDir {
            dir: format!("shard-{level}").into(),
            run: StoredRun {
                scenario: "s".into(),
                stop_reason: if partial { StopReason::Interrupted } else { StopReason::Duration },
                partial,
                notes: vec!["n".into()],
                stages: vec![stage(1), stage(2)],
                objectives: Vec::new(),
                steps,
            },
            info,
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
        // run.json of the whole run: its load, its seed, no shard of its own.
        let info = merge_run_info(&dirs, &m);
        assert!(info.load.stages.iter().all(|s| s.level == 5.0), "{:?}", info.load.stages);
        assert_eq!((info.seed, info.shard), (42, None));
        assert_eq!(info.shards.iter().map(|s| s.seed).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn a_shard_stopped_early_makes_the_merge_partial() {
        let dirs = [shard(2.0, 900, 5, 2, false), shard(3.0, 1200, 7, 1, true)];
        let m = merge_runs(&dirs);
        assert_eq!(m.steps.len(), 2);
        assert_eq!(m.steps[1].variants[0].ok, 5, "only the first shard ran step 2");
        assert!(m.partial);
        assert_eq!(m.stop_reason, StopReason::Interrupted);
        let info = merge_run_info(&dirs, &m);
        assert_eq!(info.partial, Some(true));
        assert_eq!(info.shards[1].seed, 3);
    }
}

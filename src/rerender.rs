//! `llmload report`: the outputs of results directories computed again from
//! their stored measurements (metrics.json), with objectives overridden on
//! the command line if asked; several directories (the shards of one run)
//! are merged into one first (`results::merge`).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::BadInput;
use crate::metrics::Summary;
use crate::report;
use crate::results::{ResultsDir, merge, stored};
use crate::scenario;

/// What `report_results` needs; the CLI fills it from its arguments.
pub struct ReportOptions {
    pub dirs: Vec<PathBuf>,
    /// Where the outputs go: required with several directories; with one,
    /// the directory itself when not given.
    pub out: Option<PathBuf>,
    /// `--slo` overrides, `[VARIANT:]METRIC=VALUE`.
    pub slo: Vec<String>,
}

pub struct ReportOutcome {
    pub summary: Summary,
    pub dir: PathBuf,
}

pub fn report_results(opts: ReportOptions) -> anyhow::Result<ReportOutcome> {
    let loaded = opts.dirs.iter().map(|d| stored::load(d)).collect::<Result<Vec<_>, _>>()?;
    let (mut run, out) = match (loaded.as_slice(), &opts.out) {
        ([], _) => return Err(BadInput("report needs at least one results directory".into()).into()),
        ([one], out) => (one.run.clone(), out.clone().unwrap_or_else(|| one.dir.clone())),
        (_, None) => {
            return Err(BadInput(format!(
                "merging {} results directories needs --out DIR for the merged one",
                loaded.len()
            ))
            .into());
        }
        (many, Some(out)) => {
            merge::check_compatible(many)?;
            for d in many {
                if same_dir(&d.dir, out) {
                    return Err(BadInput(format!(
                        "--out {}: is one of the directories merged; give a new directory",
                        out.display()
                    ))
                    .into());
                }
            }
            (merge::merge_runs(many), out.clone())
        }
    };
    let names = run.variant_names();
    scenario::apply_overrides(&mut run.objectives, &opts.slo, &names)?;
    let dir = ResultsDir::create(Some(&out), Path::new("."), &run.scenario, std::time::SystemTime::now())
        .map_err(|e| BadInput(format!("{e:#}")))?;
    if let [one] = loaded.as_slice() {
        if !same_dir(&one.dir, &out) {
            for name in ["run.json", "requests.csv"] {
                let from = one.dir.join(name);
                if from.is_file() {
                    std::fs::copy(&from, dir.file(name)).with_context(|| {
                        format!("cannot copy {} to {}", from.display(), dir.path.display())
                    })?;
                }
            }
        }
    } else {
        let info = merge::merge_run_info(&loaded, &run);
        dir.write("run.json", &serde_json::to_vec_pretty(&info)?)?;
        merge::concat_requests(&loaded, &dir.file("requests.csv"))?;
    }
    let summary = run.summary();
    report::write_results(&dir.path, &summary, &run.steps)?;
    report::write_visuals(&dir.path, &summary, &run.steps)?;
    Ok(ReportOutcome { summary, dir: dir.path })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

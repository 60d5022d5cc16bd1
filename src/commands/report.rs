//! `llmload report`: the outputs of results directories computed again from
//! their stored measurements (metrics.json), with objectives overridden on
//! the command line if asked; several directories (the shards of one run)
//! are merged into one first (`results::merge`).

use std::path::{Path, PathBuf};

use super::verdict;
use crate::cli::ReportArgs;
use crate::error::{ArgumentError, Exit, Result};
use crate::metrics::Summary;
use crate::report::{self, Format};
use crate::results::{self, LoadedDir, REQUESTS_CSV, ResultsDir, Reuse, merge};
use crate::scenario;

/// What `report_results` needs; the CLI fills it from its arguments.
pub struct ReportOptions {
    pub dirs: Vec<PathBuf>,
    /// Where the outputs go: required with several directories; with one,
    /// the directory itself when not given.
    pub out: Option<PathBuf>,
    /// `--slo` overrides, `[VARIANT:]METRIC=VALUE`.
    pub slo: Vec<String>,
    /// `--force`: a non-empty `out` is reused, its old results removed.
    pub force: bool,
}

pub struct ReportOutcome {
    pub summary: Summary,
    pub dir: PathBuf,
}

pub fn command(args: ReportArgs) -> Result<Exit> {
    let opts = ReportOptions { dirs: args.dirs, out: args.out, slo: args.slo.objectives, force: args.force };
    let outcome = report_results(opts)?;
    report::append_step_summary(&outcome.summary);
    sayln!("{}", report::Table::for_terminal().render(&outcome.summary));
    sayln!("results: {}", outcome.dir.display());
    Ok(verdict(&outcome.summary))
}

pub fn report_results(opts: ReportOptions) -> Result<ReportOutcome> {
    let loaded = opts.dirs.iter().map(|d| LoadedDir::load(d)).collect::<Result<Vec<_>, _>>()?;
    let (mut run, out) = match (loaded.as_slice(), &opts.out) {
        ([], _) => {
            let problem = "at least one results directory is needed".into();
            return Err(ArgumentError { arg: "DIR", problem }.into());
        }
        ([one], out) => (one.run.clone(), out.clone().unwrap_or_else(|| one.dir.clone())),
        (_, None) => {
            let problem =
                format!("merging {} results directories needs --out DIR for the merged one", loaded.len());
            return Err(ArgumentError { arg: "--out", problem }.into());
        }
        (many, Some(out)) => {
            merge::check_compatible(many)?;
            if many.iter().any(|d| same_dir(&d.dir, out)) {
                let problem =
                    format!("{}: is one of the directories merged; give a new directory", out.display());
                return Err(ArgumentError { arg: "--out", problem }.into());
            }
            (merge::merge_runs(many), out.clone())
        }
    };
    let names = run.variant_names();
    scenario::apply_overrides(&mut run.objectives, &opts.slo, &names)?;
    // Re-rendering a directory in place keeps its inputs; any other --out
    // must be new or empty, or given with --force.
    let reuse = match loaded.as_slice() {
        [one] if same_dir(&one.dir, &out) => Reuse::InPlace,
        _ if opts.force => Reuse::Replace,
        _ => Reuse::Empty,
    };
    let dir =
        ResultsDir::create(Some(&out), Path::new("."), &run.scenario, std::time::SystemTime::now(), reuse)?;
    let info = match loaded.as_slice() {
        [one] => {
            if !same_dir(&one.dir, &out) {
                dir.write_run_info(&one.info)?;
                // Copied as bytes: nothing in it changes.
                let from = one.dir.join(REQUESTS_CSV);
                if from.is_file() {
                    results::copy_atomic(&from, &dir.file(REQUESTS_CSV))?;
                }
            }
            one.info.clone()
        }
        many => {
            let info = merge::merge_run_info(many, &run);
            dir.write_run_info(&info)?;
            merge::concat_requests(many, &dir)?;
            info
        }
    };
    let summary = run.summary();
    report::write_all(&dir, &summary, &run.steps, &info)?;
    Ok(ReportOutcome { summary, dir: dir.path })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

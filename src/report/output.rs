//! Every file a results directory gets from a summary, written by one
//! function so that `llmload run` and `llmload report` write the same set.
//! The renderers take typed values; only the bytes go to `ResultsDir`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Format, Markdown};
use crate::metrics::{Metrics, Summary};
use crate::results::{METRICS_JSON, ResultsDir, RunInfo, metrics_json};

/// The variable GitHub Actions sets to the file of a job's summary page.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// Writes summary.json, summary.md, summary.csv and metrics.json into `dir`
/// (each atomically). `steps` are the measured steps the summary was
/// computed from.
pub fn write_results(dir: &ResultsDir, summary: &Summary, steps: &[Metrics]) -> anyhow::Result<()> {
    for format in super::all() {
        if let Some(name) = format.file_name() {
            dir.write(name, format.render(summary).as_bytes())?;
        }
    }
    dir.write(METRICS_JSON, metrics_json::to_json(summary, steps)?.as_bytes())
}

/// Writes everything: the summaries and metrics.json, then the charts and
/// report.html (whose per-request charts read the directory's requests.csv).
pub fn write_all(
    dir: &ResultsDir,
    summary: &Summary,
    steps: &[Metrics],
    run: &RunInfo,
) -> anyhow::Result<()> {
    write_results(dir, summary, steps)?;
    super::write_visuals(dir, summary, steps, run)
}

/// Appends summary.md to `$GITHUB_STEP_SUMMARY` when that is set. Only the
/// command line does this (not `run_loaded`, which tests call in-process). A
/// job summary that cannot be written is a warning, not a failure: the results
/// are written, and the run's exit code stays its own.
pub fn append_step_summary(summary: &Summary) {
    if let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty())
        && let Err(e) = append(Path::new(&path), &Markdown.render(summary))
    {
        eprintln!("warning: cannot append the summary to ${STEP_SUMMARY_ENV}: {e:#}");
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A blank line keeps several steps' summaries apart on the page.
    writeln!(f, "{text}").with_context(|| format!("cannot write {}", path.display()))
}

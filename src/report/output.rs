//! Every file a results directory gets from a summary, written by one
//! function so that `llmload run` and `llmload report` write the same set.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Format, Markdown};
use crate::metrics::{Metrics, Summary, persist};
use crate::results::ResultsDir;

/// The variable GitHub Actions sets to the file of a job's summary page.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// Writes summary.json, summary.md, summary.csv and metrics.json into `dir`
/// (each atomically). `steps` are the measured steps the summary was
/// computed from.
pub fn write_results(dir: &Path, summary: &Summary, steps: &[Metrics]) -> anyhow::Result<()> {
    let out = ResultsDir { path: dir.to_owned() };
    for format in super::all() {
        if let Some(name) = format.file_name() {
            out.write(name, format.render(summary).as_bytes())?;
        }
    }
    out.write("metrics.json", persist::to_json(summary, steps)?.as_bytes())?;
    Ok(())
}

/// Appends summary.md to `$GITHUB_STEP_SUMMARY` when that is set. Only the
/// command line does this (not `run_loaded`, which tests call in-process). A
/// job summary that cannot be written is a warning, not a failure: the results
/// are written, and the run's exit code stays its own.
pub fn append_step_summary(summary: &Summary) {
    if let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty()) {
        if let Err(e) = append(Path::new(&path), &Markdown.render(summary)) {
            eprintln!("warning: cannot append the summary to ${STEP_SUMMARY_ENV}: {e:#}");
        }
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

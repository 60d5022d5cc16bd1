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
/// (each atomically), then appends summary.md to `$GITHUB_STEP_SUMMARY`
/// when that is set. `steps` are the measured steps the summary was
/// computed from. A job summary that cannot be written is a warning, not a
/// failure: the results are written, and the run's exit code stays its own.
pub fn write_results(dir: &Path, summary: &Summary, steps: &[Metrics]) -> anyhow::Result<()> {
    let out = ResultsDir { path: dir.to_owned() };
    for format in super::all() {
        if let Some(name) = format.file_name() {
            out.write(name, format.render(summary).as_bytes())?;
        }
    }
    out.write("metrics.json", persist::to_json(summary, steps)?.as_bytes())?;
    if let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty()) {
        if let Err(e) = append(Path::new(&path), &Markdown.render(summary)) {
            eprintln!("warning: cannot append the summary to ${STEP_SUMMARY_ENV}: {e:#}");
        }
    }
    Ok(())
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

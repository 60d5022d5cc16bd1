//! The results directory, and the one typed owner of every file in it: each
//! file is written and read back here, by the same type.
//!
//! - `run.json` (`RunInfo`): what ran; written at the start of a run and
//!   rewritten at its end.
//! - `requests.csv` (`RequestRow`): one row per request, appended as
//!   requests finish, read back row by row.
//! - `metrics.json` (`metrics_json`): the measurements themselves, exact, for
//!   re-rendering and merging.
//! - `summary.json` (`metrics::Summary`), `summary.md`, `summary.csv`,
//!   `charts/*`, `report.html`: rendered by `report` from typed values; this
//!   module only writes the bytes.
//!
//! Every whole file is written atomically (a temporary name, then a rename),
//! so a crash never leaves half a summary; requests.csv is the one file
//! appended as the run goes, so a crash loses no finished request. `merge`
//! joins the directories of the shards of one run.

pub mod merge;
pub mod metrics_json;
mod requests;
mod run_info;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use metrics_json::StoredRun;
pub use requests::{
    COLUMNS as REQUEST_COLUMNS, Phase, ROW_BLOCK, RequestRow, RequestsReader, RequestsWriter, RowFormat,
};
pub use run_info::{
    ClientOverhead, FORMAT as RUN_FORMAT, Lateness, LoadInfo, MergedShard, ModeInfo, RunInfo, ScenarioInfo,
    ShardInfo, StageInfo, TargetInfo, TargetKind,
};

use crate::error::InputProblem;
use crate::metrics::Summary;

pub const RUN_JSON: &str = "run.json";
pub const REQUESTS_CSV: &str = "requests.csv";
pub const METRICS_JSON: &str = "metrics.json";
pub const SUMMARY_JSON: &str = "summary.json";

/// A results directory that cannot be read or written as asked: bad input
/// (exit 2), always naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {}: {source}{hint}", path.display(), hint = not_results_hint(path))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{what} {}: not found or not a directory", path.display())]
    NotADirectory { what: String, path: PathBuf },
    #[error("{}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("{}: cannot create ({source})", path.display())]
    Output { path: PathBuf, source: std::io::Error },
    #[error("--out {}: {problem}", path.display())]
    Exists { path: PathBuf, problem: String },
}

/// A few names, for an error.
fn listed(names: &[String]) -> String {
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    all.sort_unstable();
    let shown = &all[..all.len().min(4)];
    let more = names.len().saturating_sub(4);
    let mut s = shown.join(", ");
    if more > 0 {
        s += &format!(" and {more} more");
    }
    s
}

impl InputProblem for ResultsError {}

fn not_results_hint(path: &Path) -> &'static str {
    let known = [RUN_JSON, METRICS_JSON, SUMMARY_JSON, REQUESTS_CSV];
    if path.file_name().is_some_and(|n| known.iter().any(|k| n == *k)) {
        ": not a results directory of llmload run?"
    } else {
        ""
    }
}

impl ResultsError {
    pub fn read(path: &Path, source: std::io::Error) -> Self {
        ResultsError::Read { path: path.to_owned(), source }
    }
    pub fn invalid(path: &Path, problem: impl Into<String>) -> Self {
        ResultsError::Invalid { path: path.to_owned(), problem: problem.into() }
    }
    pub fn output(path: &Path, source: std::io::Error) -> Self {
        ResultsError::Output { path: path.to_owned(), source }
    }
}

pub struct ResultsDir {
    pub path: PathBuf,
}

/// What may be in a results directory given with `--out` before it is
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// It must be new or empty: an earlier run's results are never mixed
    /// with this one's or silently overwritten.
    Empty,
    /// `--force`: llmload's outputs there are removed first (and only
    /// those: a directory holding anything else is refused).
    Replace,
    /// `llmload report DIR` re-rendering DIR's own results.
    InPlace,
}

/// Every name llmload writes in a results directory.
const OUTPUTS: [&str; 8] = [
    RUN_JSON,
    REQUESTS_CSV,
    METRICS_JSON,
    SUMMARY_JSON,
    "summary.md",
    "summary.csv",
    "report.html",
    "charts",
];

impl ResultsDir {
    /// `out`, or `<root>/<scenario name>/<UTC timestamp>/` when not given;
    /// created now, so that a bad path fails before anything is sent.
    pub fn create(
        out: Option<&Path>,
        root: &Path,
        scenario_name: &str,
        now: SystemTime,
        reuse: Reuse,
    ) -> Result<Self, ResultsError> {
        let path = match out {
            Some(p) => p.to_owned(),
            // Two runs in the same second get directories of their own.
            None => {
                let base = root.join(slug(scenario_name)).join(timestamp_slug(now));
                (1..)
                    .map(|k| if k == 1 { base.clone() } else { base.with_extension(k.to_string()) })
                    .find(|p| !p.exists())
                    .unwrap_or(base)
            }
        };
        if reuse != Reuse::InPlace
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            let names: Vec<String> =
                entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            // `.<name>.tmp`: left by a run killed mid-write.
            let ours =
                |n: &str| OUTPUTS.iter().any(|o| n == *o || (n.starts_with('.') && n.ends_with(".tmp")));
            let (mine, other): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| ours(n));
            let refused = |problem: String| ResultsError::Exists { path: path.clone(), problem };
            match reuse {
                _ if names.is_empty() => {}
                Reuse::Empty => {
                    return Err(refused(format!(
                        "is not empty ({}): choose a new directory, or pass --force to replace the results of \
                         an earlier run there",
                        listed(&names)
                    )));
                }
                Reuse::Replace if !other.is_empty() => {
                    return Err(refused(format!(
                        "holds files llmload did not write ({}): --force replaces results only; choose another \
                         directory",
                        listed(&other.into_iter().cloned().collect::<Vec<_>>())
                    )));
                }
                _ => {
                    for n in mine {
                        let p = path.join(n);
                        let removed =
                            if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                        removed.map_err(|e| ResultsError::output(&p, e))?;
                    }
                }
            }
        }
        std::fs::create_dir_all(&path).map_err(|e| ResultsError::output(&path, e))?;
        Ok(ResultsDir { path })
    }

    /// An existing directory, to read; `what` names it in an error
    /// ("results directory", "baseline results directory").
    pub fn open(path: &Path, what: &str) -> Result<Self, ResultsError> {
        if !path.is_dir() {
            return Err(ResultsError::NotADirectory { what: what.to_owned(), path: path.to_owned() });
        }
        Ok(ResultsDir { path: path.to_owned() })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a whole file atomically; `name` may be under a subdirectory
    /// (`charts/x.svg`), which is created.
    pub fn write(&self, name: &str, contents: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.file(name), contents)
    }

    pub fn write_run_info(&self, info: &RunInfo) -> anyhow::Result<()> {
        self.write(RUN_JSON, &info.to_json())
    }

    pub fn requests_writer(&self, variants: Vec<String>) -> Result<RequestsWriter, ResultsError> {
        RequestsWriter::create(&self.file(REQUESTS_CSV), variants)
    }

    pub fn run_info(&self) -> Result<RunInfo, ResultsError> {
        let path = self.file(RUN_JSON);
        RunInfo::from_json(&read(&path)?).map_err(|e| ResultsError::invalid(&path, e))
    }

    pub fn stored_run(&self) -> Result<StoredRun, ResultsError> {
        let path = self.file(METRICS_JSON);
        metrics_json::from_json(&read(&path)?).map_err(|e| ResultsError::invalid(&path, format!("{e:#}")))
    }

    pub fn summary(&self) -> Result<Summary, ResultsError> {
        let path = self.file(SUMMARY_JSON);
        serde_json::from_str(&read(&path)?)
            .map_err(|e| ResultsError::invalid(&path, format!("not an llmload summary: {e}")))
    }

    /// requests.csv, if the directory has one.
    pub fn has_requests(&self) -> bool {
        self.file(REQUESTS_CSV).is_file()
    }

    pub fn requests(&self) -> Result<RequestsReader, ResultsError> {
        RequestsReader::open(&self.file(REQUESTS_CSV))
    }
}

fn read(path: &Path) -> Result<String, ResultsError> {
    std::fs::read_to_string(path).map_err(|e| ResultsError::read(path, e))
}

/// Fills a temporary file beside `path` with `fill`, then renames it over
/// `path`: a reader sees the old file or the new one, never half of one. The
/// temporary file is removed when filling fails. Every whole file of a
/// results directory is written this way.
pub fn replace_atomic<E: From<anyhow::Error>>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    use anyhow::Context;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?)
}

/// Writes `bytes` as `path`, atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    replace_atomic(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Copies `from` as `to`, atomically.
pub fn copy_atomic(from: &Path, to: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    replace_atomic(to, |tmp| {
        std::fs::copy(from, tmp)
            .map(drop)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
    })
}

/// One results directory as loaded for `llmload report`.
#[derive(Debug, Clone)]
pub struct LoadedDir {
    pub dir: PathBuf,
    pub run: StoredRun,
    pub info: RunInfo,
}

impl LoadedDir {
    pub fn load(path: &Path) -> Result<Self, ResultsError> {
        let d = ResultsDir::open(path, "results directory")?;
        Ok(LoadedDir { run: d.stored_run()?, info: d.run_info()?, dir: d.path })
    }

    pub fn requests(&self) -> Result<RequestsReader, ResultsError> {
        RequestsReader::open(&self.dir.join(REQUESTS_CSV))
    }
}

/// Directory-safe form of a scenario name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' })
        .collect();
    s.trim_matches(['-', '.']).to_owned()
}

/// `20261127T064000Z`: sortable, and no ':' (not allowed on every filesystem).
fn timestamp_slug(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string().replace(['-', ':'], "")
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn rfc3339_micros(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_directory_names() {
        assert_eq!(slug("chat / gpt-4o: max_tokens=64"), "chat---gpt-4o--max_tokens-64");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(timestamp_slug(t), "20270115T080000Z");
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let d =
            ResultsDir::create(Some(dir.path()), dir.path(), "x", SystemTime::now(), Reuse::Empty).unwrap();
        d.write("charts/a.svg", b"<svg/>").unwrap();
        d.write("charts/a.svg", b"<svg></svg>").unwrap();
        assert_eq!(std::fs::read(d.file("charts/a.svg")).unwrap(), b"<svg></svg>");
        let names: Vec<_> =
            std::fs::read_dir(d.file("charts")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["a.svg"]);
    }
}

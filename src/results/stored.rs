//! Reading a results directory back: metrics.json (the measurements) and
//! run.json (what ran), for `llmload report`.

use std::path::{Path, PathBuf};

use crate::BadInput;
use crate::metrics::persist::{self, StoredRun};

/// One results directory as loaded.
#[derive(Debug, Clone)]
pub struct LoadedDir {
    pub dir: PathBuf,
    pub run: StoredRun,
    /// run.json as written (kept as JSON: merging rewrites a few fields and
    /// keeps the rest as they are).
    pub info: serde_json::Value,
}

/// Loads `dir`. A missing or unreadable file is bad input naming the file.
pub fn load(dir: &Path) -> Result<LoadedDir, BadInput> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| {
            BadInput(format!(
                "{}: cannot read {name} ({e}): not a results directory of llmload run?",
                dir.display()
            ))
        })
    };
    let metrics = read("metrics.json")?;
    let run = persist::from_json(&metrics)
        .map_err(|e| BadInput(format!("{}: {e:#}", dir.join("metrics.json").display())))?;
    let info = read("run.json")?;
    let info = serde_json::from_str(&info)
        .map_err(|e| BadInput(format!("{}: {e}", dir.join("run.json").display())))?;
    Ok(LoadedDir { dir: dir.to_owned(), run, info })
}

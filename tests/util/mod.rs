//! Small helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use llmload::metrics::Summary;
use llmload::{RunOptions, RunOutcome};

/// Taken for writing by the timing tests, for reading by tests that burn
/// CPU in bursts (other processes rendering charts): those do not overlap a
/// timing test on the 2 cores.
pub static CPU_HEAVY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Writes `toml` as `scenario.toml` in a fresh temporary directory.
pub fn scenario_file(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).expect("write scenario");
    (dir, path)
}

/// Options for an in-process run of `scenario`: results into `<dir>/out`,
/// no progress bar.
pub fn options(scenario: PathBuf, dir: &Path) -> RunOptions {
    RunOptions {
        scenario,
        out: Some(dir.join("out")),
        seed: None,
        reports_root: dir.join("reports"),
        progress: Box::new(llmload::progress::Messages),
        shard: None,
        start_at: None,
        force: false,
    }
}

/// Runs a scenario in-process, results into `<tmp>/out`; never while a
/// timing test runs (`CPU_HEAVY`).
pub async fn run(toml: &str) -> (tempfile::TempDir, RunOutcome) {
    let _heavy = CPU_HEAVY.read().await;
    run_alone(toml).await
}

/// `run`, for a timing test that holds `CPU_HEAVY` itself.
pub async fn run_alone(toml: &str) -> (tempfile::TempDir, RunOutcome) {
    let (dir, path) = scenario_file(toml);
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(llmload::load::shutdown::Stop::Running);
    let opts = options(path, dir.path());
    let outcome = llmload::run_scenario(opts, stop_rx).await.expect("run succeeds");
    (dir, outcome)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

pub fn variant<'a>(s: &'a Summary, name: &str) -> &'a llmload::metrics::Stats {
    s.variants.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("variant {name} in summary"))
}

/// The llmload binary built for this test run.
pub fn llmload() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_llmload"))
}

/// A child process killed when dropped, so a failing test leaks nothing.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `llmload mock` with extra arguments; returns it and its base URL.
pub fn start_mock(args: &[&str]) -> (Killed, String) {
    use std::io::BufRead;
    let mut child = llmload()
        .args(["mock", "--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("llmload-mock listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    (Killed(child), url)
}

/// The example scenarios (scenarios/*.toml), sorted.
pub fn example_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Per-request figures against the simulator's exact schedule. A figure
/// earlier than the schedule is wrong and is asserted row by row where it is
/// read; a late one may be the machine, not the harness: on 2 shared cores a
/// process is now and then paused for 10-20 ms, and every request in flight
/// then is late by as much. So `late` (the rows beyond the schedule's slack)
/// may hold a tenth of the `rows` checked, and no more: a harness that adds
/// time to every request, or to many, still fails.
pub fn few_late(what: &str, late: &[String], rows: usize) {
    assert!(rows > 0, "{what}: no rows checked");
    assert!(
        late.len() * 10 <= rows,
        "{what}: {} of {rows} rows late past the schedule's slack:\n{}",
        late.len(),
        late.join("\n")
    );
}

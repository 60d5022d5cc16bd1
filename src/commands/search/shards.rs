//! A search split over N processes (`search --shard K/N --out DIR`), usually
//! on N machines, coordinated through DIR, which every shard sees (a shared
//! volume). Shard 0 leads: it decides every probe, as an unsharded search
//! would, from the probes merged; the others follow its plans.
//!
//! Files under `DIR/shards/`, each written atomically:
//!
//! - `hello-K.json`: follower K is waiting, with a nonce of its own (written
//!   again while missing, since the leader may empty DIR after it appeared);
//! - `search.json`: the leader saw every follower: their nonces, and the
//!   scenario's sha256, which each follower checks against its own file. A
//!   follower acts only on a `search.json` holding its nonce, so files left
//!   by an earlier search in DIR are never taken for this one's;
//! - `plan-NN.json`: probe NN and the time every shard starts it, a lead
//!   ahead of its writing (each follower is already polling for it);
//! - `NN-<label>/K/`: shard K's results directory of probe NN, and
//!   `NN-<label>/done-K.json` when it is complete (or the shard had no part
//!   of the probe, or failed);
//! - `end.json`: the search is over, with its exit code, which every
//!   follower then exits with too.
//!
//! Each probe's parts are merged exactly (`results::merge`, as `report`
//! does) into `DIR/probes/NN-<label>/`, which the leader judges, so the
//! verdicts are those of one process sending the whole load.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::probe::{Measured, ProbePlan, Runner};
use crate::commands::report::{ReportOptions, report_results};
use crate::error::{ArgumentError, Exit, Result};
use crate::load::Shard;
use crate::load::shutdown::Stop;
use crate::metrics::StopReason;
use crate::results::{self, rfc3339};

const POLL: Duration = Duration::from_millis(50);
/// How far ahead of its plan's writing a probe starts: time for every
/// follower to see the plan and set up (start its client, its simulator).
const LEAD: Duration = Duration::from_secs(2);
/// How long a shard waits for another to appear or to answer beyond the
/// time a probe takes (pods of one job may be scheduled minutes apart).
const PATIENCE: Duration = Duration::from_secs(600);

#[derive(Serialize, Deserialize)]
struct Hello {
    nonce: String,
}

#[derive(Serialize, Deserialize)]
struct SearchFile {
    scenario: String,
    sha256: String,
    count: u32,
    /// Follower K's nonce at K - 1.
    nonces: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Plan {
    probe: ProbePlan,
    start_at: String,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ran,
    Idle,
    Failed,
}

#[derive(Serialize, Deserialize)]
struct Done {
    status: Status,
    #[serde(default)]
    interrupted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct End {
    exit: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `DIR/shards/`, as one shard sees it.
struct Board {
    dir: PathBuf,
    stop: watch::Receiver<Stop>,
}

impl Board {
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let json = serde_json::to_vec_pretty(value).map_err(anyhow::Error::from)?;
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        results::write_atomic(&path, &json)?;
        Ok(())
    }

    /// The file's value, or none while it does not exist (or is being
    /// replaced). A file that exists but does not parse is an error.
    fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| anyhow!("{}: not a file of this search ({e})", path.display()).into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow!("cannot read {}: {e}", path.display()).into()),
        }
    }

    /// Polls `ready` until it gives a value, for at most `patience`; none
    /// when Ctrl-C came first.
    async fn wait<T>(
        &mut self,
        patience: Duration,
        what: impl Fn() -> String,
        mut ready: impl FnMut(&Self) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let until = Instant::now() + patience;
        loop {
            if let Some(v) = ready(self)? {
                return Ok(Some(v));
            }
            if *self.stop.borrow() >= Stop::Draining {
                return Ok(None);
            }
            if Instant::now() >= until {
                let dir = self.dir.display();
                return Err(anyhow!("waited {} s for {} in {dir}", patience.as_secs(), what()).into());
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = self.stop.changed() => {}
            }
        }
    }
}

/// Shard 0 of a sharded search.
pub struct Leader {
    board: Board,
    shard: Shard,
    root: PathBuf,
}

impl Leader {
    /// Waits until every follower has said hello, then tells them this
    /// search's nonces and scenario; none when Ctrl-C came first.
    pub async fn start(
        root: &Path,
        shard: Shard,
        sha256: &str,
        scenario: &str,
        stop: watch::Receiver<Stop>,
    ) -> Result<Option<Leader>> {
        let dir = root.join("shards");
        std::fs::create_dir_all(&dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
        let mut board = Board { dir, stop };
        let followers = 1..shard.count;
        let nonces = board
            .wait(
                PATIENCE,
                || format!("shards 1..{} to start (hello-K.json)", shard.count),
                |b| {
                    let mut nonces = Vec::new();
                    for k in followers.clone() {
                        match b.read::<Hello>(&format!("hello-{k}.json"))? {
                            Some(h) => nonces.push(h.nonce),
                            None => return Ok(None),
                        }
                    }
                    Ok(Some(nonces))
                },
            )
            .await?;
        let Some(nonces) = nonces else { return Ok(None) };
        let file =
            SearchFile { scenario: scenario.into(), sha256: sha256.into(), count: shard.count, nonces };
        board.write("search.json", &file)?;
        Ok(Some(Leader { board, shard, root: root.to_owned() }))
    }

    /// Runs probe `k` on every shard: the plan posted, this shard's part
    /// run, the others' awaited, all merged into `probes/`.
    pub async fn probe(&mut self, k: u32, plan: &ProbePlan, runner: &Runner<'_>) -> Result<Measured> {
        let start_at = SystemTime::now() + LEAD;
        self.board.write(
            &format!("plan-{k:02}.json"),
            &Plan { probe: plan.clone(), start_at: rfc3339(start_at) },
        )?;
        let parts = self.board.dir.join(format!("{k:02}-{}", plan.label));
        let mut dirs = Vec::new();
        let mut interrupted = false;
        if let Some(part) = plan.part(self.shard) {
            let own = runner.run(plan, Some(part), parts.join("0"), Some(start_at)).await?;
            interrupted |= own.summary.stop_reason == StopReason::Interrupted;
            dirs.push(own.dir);
        }
        let patience = Duration::from_secs_f64(plan.seconds + plan.warmup_seconds) + LEAD + PATIENCE;
        for f in 1..self.shard.count {
            let name = format!("{k:02}-{}/done-{f}.json", plan.label);
            let gone = format!("gone-{f}.json");
            let answer = self
                .board
                .wait(
                    patience,
                    || format!("shard {f}'s part of probe {k}"),
                    // Its part first: a shard cut short by Ctrl-C reports
                    // what it measured, then leaves.
                    |b| match b.read::<Done>(&name)? {
                        Some(done) => Ok(Some(Ok(done))),
                        None => Ok(b.read::<End>(&gone)?.map(Err)),
                    },
                )
                .await?;
            let done = match answer {
                Some(Ok(done)) => done,
                Some(Err(gone)) if gone.exit == Exit::Interrupted as i32 => {
                    interrupted = true;
                    continue;
                }
                Some(Err(gone)) => {
                    let why = gone.error.unwrap_or_default();
                    return Err(anyhow!("shard {f} left the search before probe {k}: {why}").into());
                }
                None => {
                    interrupted = true;
                    break;
                }
            };
            match done.status {
                Status::Ran => dirs.push(parts.join(f.to_string())),
                Status::Idle => {}
                Status::Failed => {
                    let why = done.error.unwrap_or_default();
                    return Err(anyhow!("shard {f} failed its part of probe {k}: {why}").into());
                }
            }
            interrupted |= done.interrupted;
        }
        let out = self.root.join("probes").join(format!("{k:02}-{}", plan.label));
        let merged = report_results(ReportOptions { dirs, out: Some(out), slo: Vec::new(), force: false })?;
        interrupted |= merged.summary.stop_reason == StopReason::Interrupted;
        Ok(Measured { summary: merged.summary, dir: merged.dir, interrupted })
    }

    /// Tells every follower the search is over, and how.
    pub fn end(&self, exit: Exit, error: Option<String>) -> Result<()> {
        self.board.write("end.json", &End { exit: exit as i32, error })
    }
}

/// Shard K > 0 of a sharded search: says hello, then runs its part of each
/// probe the leader plans until the leader ends the search; exits as the
/// leader does. Leaving on its own (Ctrl-C, a failure, another scenario),
/// it says so in `gone-K.json`, so that the leader does not wait for it.
pub async fn follow(
    root: &Path,
    shard: Shard,
    sha256: &str,
    runner: &Runner<'_>,
    quiet: bool,
) -> Result<Exit> {
    let mut board = Board { dir: root.join("shards"), stop: runner.stop.clone() };
    let result = follow_plans(&mut board, shard, sha256, runner, quiet).await;
    let (exit, error) = match &result {
        Ok(Some(exit)) => return Ok(*exit),
        Ok(None) => (Exit::Interrupted, None),
        Err(e) => (e.exit(), Some(e.to_string())),
    };
    if board.dir.is_dir() {
        board.write(&format!("gone-{}.json", shard.index), &End { exit: exit as i32, error })?;
    }
    result.map(|_| Exit::Interrupted)
}

/// The search's exit code once the leader ends it; none on Ctrl-C.
async fn follow_plans(
    board: &mut Board,
    shard: Shard,
    sha256: &str,
    runner: &Runner<'_>,
    quiet: bool,
) -> Result<Option<Exit>> {
    let nonce = format!(
        "{:x}-{:x}",
        std::process::id(),
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos()
    );
    let hello = format!("hello-{}.json", shard.index);
    let mine = |s: &SearchFile| s.nonces.get(shard.index as usize - 1) == Some(&nonce);
    let search = board
        .wait(
            PATIENCE,
            || "shard 0 to start the search (DIR/shards/search.json)".into(),
            |b| {
                // Said again when DIR was emptied under it by the leader.
                if b.dir.is_dir() && b.read::<Hello>(&hello)?.is_none_or(|h| h.nonce != nonce) {
                    b.write(&hello, &Hello { nonce: nonce.clone() })?;
                }
                Ok(b.read::<SearchFile>("search.json")?.filter(mine))
            },
        )
        .await?;
    let Some(search) = search else { return Ok(None) };
    if search.count != shard.count || search.sha256 != sha256 {
        let problem = format!(
            "shard 0 searches {} shards of scenario {:?} (sha256 {}), this is shard {shard} of a file \
             with sha256 {sha256}: every shard needs the same scenario file and shard count",
            search.count, search.scenario, search.sha256
        );
        return Err(ArgumentError { arg: "--shard", problem }.into());
    }
    let mut k = 0u32;
    loop {
        k += 1;
        let plan = format!("plan-{k:02}.json");
        let next = board
            .wait(
                PATIENCE,
                || format!("shard 0's plan of probe {k}"),
                |b| match b.read::<End>("end.json")? {
                    Some(end) => Ok(Some(Err(end))),
                    None => Ok(b.read::<Plan>(&plan)?.map(Ok)),
                },
            )
            .await?;
        let plan = match next {
            None => return Ok(None),
            Some(Err(end)) => {
                if let Some(e) = &end.error {
                    eprintln!("error: shard 0 ended the search: {e}");
                } else if !quiet {
                    eprintln!(
                        "shard 0 ended the search: results in {}",
                        board.dir.parent().unwrap_or(&board.dir).display()
                    );
                }
                return Ok(Some(exit_of(end.exit)));
            }
            Some(Ok(plan)) => plan,
        };
        let start_at =
            humantime::parse_rfc3339(&plan.start_at).map_err(|e| anyhow!("{}: {e}", plan.start_at))?;
        let p = &plan.probe;
        let parts = board.dir.join(format!("{k:02}-{}", p.label));
        let done = match p.part(shard) {
            None => Done { status: Status::Idle, interrupted: false, error: None },
            Some(part) => {
                match runner.run(p, Some(part), parts.join(shard.index.to_string()), Some(start_at)).await {
                    Ok(o) => {
                        let interrupted = o.summary.stop_reason == StopReason::Interrupted;
                        Done { status: Status::Ran, interrupted, error: None }
                    }
                    Err(e) => Done { status: Status::Failed, interrupted: false, error: Some(e.to_string()) },
                }
            }
        };
        if !quiet {
            let what = match done.status {
                Status::Ran => "sent its part",
                Status::Idle => "had no part",
                Status::Failed => "failed",
            };
            eprintln!("probe {k:>2} ({}): shard {shard} {what}", p.label);
        }
        board.write(&format!("{k:02}-{}/done-{}.json", p.label, shard.index), &done)?;
        if let Some(e) = done.error {
            return Err(anyhow!("probe {k}: {e}").into());
        }
        if done.interrupted {
            return Ok(None);
        }
    }
}

fn exit_of(code: i32) -> Exit {
    match code {
        0 => Exit::Ok,
        2 => Exit::BadInput,
        130 => Exit::Interrupted,
        _ => Exit::Failed,
    }
}

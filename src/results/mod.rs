//! The results directory: created before the run so a bad path fails early,
//! filled as the run goes so a crash loses nothing already measured.
//!
//! - `run.json`: what ran (tool, scenario and its hash, seed, times, target
//!   without any secret); written at the start and rewritten at the end.
//! - `requests.csv`: one row per request, appended as requests finish.
//! - `summary.json`, `summary.md`, `summary.csv`: the rendered summary;
//!   `metrics.json`: the measurements themselves (`metrics::persist`).
//!
//! `stored` reads a directory back and `merge` joins the directories of the
//! shards of one run, for `llmload report`.

pub mod merge;
pub mod stored;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::Context;
use serde::Serialize;

use crate::metrics::RequestRecord;
use crate::scenario::{LoadMode, Scenario, Target};

pub struct ResultsDir {
    pub path: PathBuf,
}

impl ResultsDir {
    /// `out`, or `<root>/<scenario name>/<UTC timestamp>/` when not given.
    pub fn create(
        out: Option<&Path>,
        root: &Path,
        scenario_name: &str,
        now: SystemTime,
    ) -> anyhow::Result<Self> {
        let path = match out {
            Some(p) => p.to_owned(),
            None => root.join(slug(scenario_name)).join(timestamp_slug(now)),
        };
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create results directory {}", path.display()))?;
        Ok(ResultsDir { path })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a whole file atomically (a temporary file, then a rename), so a
    /// crash never leaves a half-written summary or run.json.
    pub fn write(&self, name: &str, contents: &[u8]) -> anyhow::Result<()> {
        let p = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("cannot write {}", p.display()))
    }

    pub fn write_run_info(&self, info: &RunInfo) -> anyhow::Result<()> {
        self.write("run.json", &serde_json::to_vec_pretty(info)?)
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

/// The content of run.json.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    pub tool: &'static str,
    pub version: &'static str,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub target: TargetInfo,
    pub load: serde_json::Value,
    pub partial: Option<bool>,
    pub stop_reason: Option<String>,
    /// The client's own cost and timing error: the measurement floor.
    pub client: Option<ClientOverhead>,
    /// `--shard K/N`: this run is shard K of N of one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// `--start-at`: when the load was asked to start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
}

/// Which part of a sharded run this is. `seed` in run.json is the shard's
/// own, derived from `scenario_seed` and `index`.
#[derive(Debug, Serialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    pub scenario_seed: u64,
}

/// How much the client itself took, and how precisely it kept the schedule.
#[derive(Debug, Serialize)]
pub struct ClientOverhead {
    /// How late workers woke for intended starts they were waiting for
    /// (ms): every latency measured from the intended start includes this.
    pub dispatch_lateness_ms: serde_json::Value,
    /// CPU seconds of the whole process (the embedded simulator included).
    pub cpu_seconds: Option<f64>,
    pub wall_seconds: f64,
    /// When the first request was sent (wall clock): with the process's
    /// start time, the start-up cost (scenario, tokenizer, target).
    pub first_request_at: Option<String>,
}

impl ClientOverhead {
    pub fn new(
        lateness_us: &hdrhistogram::Histogram<u64>,
        cpu_seconds: Option<f64>,
        wall: std::time::Duration,
        first_request_at: Option<SystemTime>,
    ) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        let dispatch_lateness_ms = if lateness_us.is_empty() {
            serde_json::json!({ "count": 0 })
        } else {
            serde_json::json!({
                "count": lateness_us.len(),
                "p50": ms(lateness_us.value_at_quantile(0.5)),
                "p99": ms(lateness_us.value_at_quantile(0.99)),
                "max": ms(lateness_us.max()),
            })
        };
        ClientOverhead {
            dispatch_lateness_ms,
            cpu_seconds,
            wall_seconds: wall.as_secs_f64(),
            first_request_at: first_request_at.map(rfc3339_micros),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// The target as recorded: the key's variable name at most, never its value.
#[derive(Debug, Serialize)]
pub struct TargetInfo {
    pub kind: &'static str,
    pub base_url: String,
    pub api_key_env: Option<String>,
    /// The `--profile` (or default profile) chosen, if the scenario has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl RunInfo {
    pub fn new(s: &Scenario, base_url: &str, started: SystemTime) -> Self {
        let (kind, api_key_env, profile) = match &s.target {
            Target::Simulator => ("simulator", None, None),
            Target::OpenAi(l) => ("openai", Some(l.api_key_env.clone()), l.profile.clone()),
        };
        let stages: Vec<serde_json::Value> = s
            .load
            .stages
            .iter()
            .map(|st| serde_json::json!({ "duration_s": st.duration.map(|d| d.as_secs_f64()), "level": st.level }))
            .collect();
        let mut load = match s.load.mode {
            LoadMode::Closed => {
                serde_json::json!({ "mode": "closed", "think_time_s": s.load.think_time.as_secs_f64() })
            }
            LoadMode::Open { arrival, max_in_flight } => {
                serde_json::json!({ "mode": "open", "arrival": arrival, "max_in_flight": max_in_flight })
            }
        };
        load["stages"] = serde_json::json!(stages);
        load["requests"] = serde_json::json!(s.load.requests);
        load["warmup_s"] = serde_json::json!(s.load.warmup.as_secs_f64());
        load["timeout_s"] = serde_json::json!(s.load.timeout.as_secs_f64());
        load["sweep_mode"] = serde_json::json!(s.sweep_mode);
        let c = &s.client;
        load["connect_timeout_s"] = serde_json::json!(c.connect_timeout.as_secs_f64());
        load["first_byte_timeout_s"] = serde_json::json!(c.first_byte_timeout.as_secs_f64());
        load["idle_timeout_s"] = serde_json::json!(c.idle_timeout.as_secs_f64());
        load["retries"] = serde_json::json!(c.retries);
        load["retry_on"] = serde_json::json!(c.retry_on);
        RunInfo {
            tool: "llmload",
            version: env!("CARGO_PKG_VERSION"),
            scenario: ScenarioInfo {
                name: s.name.clone(),
                path: s.path.display().to_string(),
                sha256: s.sha256.clone(),
            },
            seed: s.seed,
            started_at: rfc3339(started),
            ended_at: None,
            target: TargetInfo { kind, base_url: base_url.to_owned(), api_key_env, profile },
            load,
            partial: None,
            stop_reason: None,
            client: None,
            shard: None,
            start_at: None,
        }
    }
}

/// requests.csv, one row per finished request.
pub struct RequestsCsv {
    w: csv::Writer<BufWriter<File>>,
    variants: Vec<String>,
}

#[derive(Serialize)]
struct Row<'a> {
    seq: u64,
    variant: &'a str,
    phase: &'static str,
    intended_ms: f64,
    queue_delay_ms: f64,
    ttft_ms: Option<f64>,
    e2e_ms: f64,
    prompt_tokens: u64,
    output_tokens: u64,
    token_source: &'static str,
    finish_reason: Option<&'a str>,
    outcome: std::borrow::Cow<'static, str>,
    error: Option<&'a str>,
    /// Sends of this request: 1, plus its retries.
    attempts: u32,
    /// HTTP 429 answers it met, even when a retry then got through.
    rate_limited: u32,
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl RequestsCsv {
    pub fn create(path: &Path, variants: Vec<String>) -> anyhow::Result<Self> {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RequestsCsv { w: csv::Writer::from_writer(BufWriter::new(f)), variants })
    }

    /// `t0` is the run's start: `intended_ms` is an offset from it.
    pub fn write(&mut self, r: &RequestRecord, t0: Instant) -> anyhow::Result<()> {
        self.w.serialize(Row {
            seq: r.seq,
            variant: self.variants.get(r.variant).map_or("?", String::as_str),
            phase: if r.warmup { "warmup" } else { "measured" },
            intended_ms: ms(r.intended.saturating_duration_since(t0)),
            queue_delay_ms: ms(r.queue_delay()),
            ttft_ms: r.ttft().map(ms),
            e2e_ms: ms(r.e2e()),
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            token_source: r.token_source.as_str(),
            finish_reason: r.finish_reason.as_deref(),
            outcome: r.outcome.class(),
            error: r.error.as_deref(),
            attempts: r.attempts,
            rate_limited: r.rate_limited,
        })?;
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.w.flush()?;
        Ok(())
    }
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
}

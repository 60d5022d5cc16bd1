//! run.json: what ran (tool, scenario and its hash, seed, times, target
//! without any secret, the load plan, how it stopped, the client's own
//! overhead). Written at the start of a run and rewritten at its end; read
//! back with the same type by `report` (re-render, merge) and the charts.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{rfc3339, rfc3339_micros};
use crate::metrics::StopReason;
use crate::scenario::{Arrival, LoadMode, Scenario, SweepMode, Target};

/// The value of `format` in run.json. Files written before it existed have
/// none and load as the same layout (every field since then is optional).
pub const FORMAT: &str = "llmload-run/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// `None`: written before run.json had a format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub tool: String,
    pub version: String,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub target: TargetInfo,
    pub load: LoadInfo,
    pub partial: Option<bool>,
    pub stop_reason: Option<StopReason>,
    /// The client's own cost and timing error: the measurement floor.
    /// Per process: a merged run keeps it per shard instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientOverhead>,
    /// `--shard K/N`: this run is shard K of N of one run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// `--start-at`: when the load was asked to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// A merged run: the directories it was merged from, in argument order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<MergedShard>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Simulator,
    #[serde(rename = "openai")]
    OpenAi,
}

/// The target as recorded: the key's variable name at most, never its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    pub kind: TargetKind,
    pub base_url: String,
    pub api_key_env: Option<String>,
    /// The `--profile` (or default profile) chosen, if the scenario has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The load plan as run (this shard's part of it, for a shard).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadInfo {
    #[serde(flatten)]
    pub mode: ModeInfo,
    pub stages: Vec<StageInfo>,
    pub requests: Option<u64>,
    pub warmup_s: f64,
    pub timeout_s: f64,
    pub sweep_mode: SweepMode,
    pub connect_timeout_s: f64,
    pub first_byte_timeout_s: f64,
    pub idle_timeout_s: f64,
    pub retries: u32,
    pub retry_on: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum ModeInfo {
    Closed { think_time_s: f64 },
    Open { arrival: Arrival, max_in_flight: u32 },
}

impl ModeInfo {
    /// What a stage's level counts.
    pub fn level_unit(&self) -> &'static str {
        match self {
            ModeInfo::Closed { .. } => "users",
            ModeInfo::Open { .. } => "requests/s",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageInfo {
    pub duration_s: Option<f64>,
    pub level: f64,
}

/// Which part of a sharded run this is. `seed` in run.json is the shard's
/// own, derived from `scenario_seed` and `index`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    pub scenario_seed: u64,
}

/// One directory of a merged run, as run.json's `shards` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedShard {
    /// 1-based position in the `report` arguments (requests.csv's `shard`).
    pub shard: u32,
    pub dir: String,
    /// The `--shard K/N` the directory recorded, if any.
    pub recorded_shard: Option<ShardInfo>,
    pub seed: u64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub partial: Option<bool>,
    pub stop_reason: Option<StopReason>,
    pub client: Option<ClientOverhead>,
}

/// How much the client itself took, and how precisely it kept the schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientOverhead {
    /// How late workers woke for intended starts they were waiting for
    /// (ms): every latency measured from the intended start includes this.
    pub dispatch_lateness_ms: Lateness,
    /// CPU seconds of the whole process (the embedded simulator included).
    pub cpu_seconds: Option<f64>,
    pub wall_seconds: f64,
    /// When the first request was sent (wall clock): with the process's
    /// start time, the start-up cost (scenario, tokenizer, target).
    pub first_request_at: Option<String>,
}

/// A few points of the dispatch-lateness histogram (ms); only `count` when
/// no worker waited.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lateness {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ClientOverhead {
    pub fn new(
        lateness_us: &hdrhistogram::Histogram<u64>,
        cpu_seconds: Option<f64>,
        wall: std::time::Duration,
        first_request_at: Option<SystemTime>,
    ) -> Self {
        let ms = |us: u64| Some(us as f64 / 1000.0);
        let empty = lateness_us.is_empty();
        let dispatch_lateness_ms = Lateness {
            count: lateness_us.len(),
            p50: if empty { None } else { ms(lateness_us.value_at_quantile(0.5)) },
            p99: if empty { None } else { ms(lateness_us.value_at_quantile(0.99)) },
            max: if empty { None } else { ms(lateness_us.max()) },
        };
        ClientOverhead {
            dispatch_lateness_ms,
            cpu_seconds,
            wall_seconds: wall.as_secs_f64(),
            first_request_at: first_request_at.map(rfc3339_micros),
        }
    }
}

impl RunInfo {
    pub fn new(s: &Scenario, base_url: &str, started: SystemTime) -> Self {
        let (kind, api_key_env, profile) = match &s.target {
            Target::Simulator => (TargetKind::Simulator, None, None),
            Target::OpenAi(l) => (TargetKind::OpenAi, Some(l.api_key_env.clone()), l.profile.clone()),
        };
        let mode = match s.load.mode {
            LoadMode::Closed => ModeInfo::Closed { think_time_s: s.load.think_time.as_secs_f64() },
            LoadMode::Open { arrival, max_in_flight } => ModeInfo::Open { arrival, max_in_flight },
        };
        let c = &s.client;
        let load = LoadInfo {
            mode,
            stages: s
                .load
                .stages
                .iter()
                .map(|st| StageInfo { duration_s: st.duration.map(|d| d.as_secs_f64()), level: st.level })
                .collect(),
            requests: s.load.requests,
            warmup_s: s.load.warmup.as_secs_f64(),
            timeout_s: s.load.timeout.as_secs_f64(),
            sweep_mode: s.sweep_mode,
            connect_timeout_s: c.connect_timeout.as_secs_f64(),
            first_byte_timeout_s: c.first_byte_timeout.as_secs_f64(),
            idle_timeout_s: c.idle_timeout.as_secs_f64(),
            retries: c.retries,
            retry_on: c.retry_on.clone(),
        };
        RunInfo {
            format: Some(FORMAT.to_owned()),
            tool: "llmload".into(),
            version: env!("CARGO_PKG_VERSION").into(),
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
            shards: Vec::new(),
        }
    }

    /// Parses run.json text; a format this version does not know is refused.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let info: RunInfo = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match info.format.as_deref() {
            None | Some(FORMAT) => Ok(info),
            Some(other) => {
                Err(format!("format {other:?} is not {FORMAT:?}: written by another llmload version"))
            }
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of plain fields: serializing cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_json_of_before_format_versions_loads() {
        let text = include_str!("../../tests/fixtures/results-v0/run.json");
        let info = RunInfo::from_json(text).expect("loads");
        assert_eq!(info.format, None);
        assert_eq!(info.stop_reason, Some(StopReason::Requests));
        assert_eq!(info.load.sweep_mode, SweepMode::Sequential);
        assert_eq!(info.load.mode, ModeInfo::Closed { think_time_s: 0.0 });
        assert_eq!(info.target.kind, TargetKind::Simulator);
        assert_eq!(info.client.expect("client").dispatch_lateness_ms.count, 0);
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let text = include_str!("../../tests/fixtures/results-v0/run.json").replacen(
            "{",
            "{\"format\": \"llmload-run/99\",",
            1,
        );
        let err = RunInfo::from_json(&text).expect_err("refused");
        assert!(err.contains("llmload-run/99"), "{err}");
    }
}

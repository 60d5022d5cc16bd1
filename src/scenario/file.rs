//! The scenario file exactly as the user writes it.
//!
//! These types mirror the TOML one to one and reject unknown keys, so a typo is
//! an error with a line number rather than a silently ignored setting. Nothing
//! here is validated beyond what serde can check; `Scenario::try_from` turns a
//! `ScenarioFile` into the validated form the runner uses.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    pub seed: Option<u64>,
    pub target: Option<TargetFile>,
    pub load: LoadFile,
    pub simulator: Option<SimulatorFile>,
    #[serde(rename = "variant", default)]
    pub variants: Vec<VariantFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Simulator,
    Openai,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub kind: TargetKind,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    Constant,
    Poisson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub arrival: Option<Arrival>,
    pub max_in_flight: Option<u32>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub warmup: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorFile {
    // Listed rather than `#[serde(flatten)]`ed from ProfileFile: serde cannot
    // combine flatten with deny_unknown_fields.
    #[serde(default, deserialize_with = "duration_opt")]
    pub ttft: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub itl: Option<Duration>,
    pub jitter: Option<f64>,
    #[serde(default)]
    pub models: BTreeMap<String, ProfileFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    #[serde(default, deserialize_with = "duration_opt")]
    pub ttft: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub itl: Option<Duration>,
    pub jitter: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Chat,
    Completions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: String,
    pub weight: Option<u32>,
    pub endpoint: Endpoint,
    pub model: String,
    pub max_tokens: u32,
    pub stream: Option<bool>,
    pub include_usage: Option<bool>,
    pub prompt_tokens: u32,
}

/// Durations are written with their unit ("250ms", "20s", "1m 30s"): a bare
/// number would leave the reader guessing between seconds and milliseconds.
fn duration_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: {e} (write e.g. \"250ms\", \"20s\", \"2m\")"
        ))
    })
}

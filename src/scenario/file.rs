//! The scenario file exactly as the user writes it.
//!
//! These types mirror the TOML one to one and reject unknown keys, so a typo is
//! an error with a line number rather than a silently ignored setting. Nothing
//! here is validated beyond what serde can check; `validate.rs` turns a
//! `ScenarioFile` into the `Scenario` the runner uses.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    pub seed: Option<u64>,
    pub target: Option<TargetFile>,
    /// Named live targets (`[profiles.staging]`), chosen with `--profile`.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileFile>,
    /// The profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    pub load: LoadFile,
    /// The simulator's profile: the same keys as a `llmload-mock --config`
    /// file, owned by the simulator crate.
    pub simulator: Option<llmload_mock::ProfileFile>,
    #[serde(rename = "variant", default)]
    pub variants: Vec<VariantFile>,
    /// Parameter name → values; plus `mode`. Kept as a table because its keys
    /// are variant parameters, checked against the sweepable set.
    pub sweep: Option<toml::Table>,
    /// A TOML file of `[pricing.<model>]` tables, relative to the scenario.
    pub pricing_file: Option<String>,
    #[serde(default)]
    pub pricing: BTreeMap<String, PriceFile>,
    /// Model → its Hugging Face tokenizer (a tokenizer.json or its
    /// directory), relative to the scenario.
    #[serde(default)]
    pub tokenizers: BTreeMap<String, String>,
    pub budget: Option<BudgetFile>,
    /// A client-side rate limit, to stay under known account limits.
    pub client_limit: Option<ClientLimitFile>,
    /// `"<metric>.<percentile>" = "800ms"`, `error_rate = 0.01`, …, and
    /// `[slo.variants.<name>]` with the same keys.
    pub slo: Option<toml::Table>,
    /// Per-request objectives: a request is good when it met them all.
    pub goodput: Option<GoodputFile>,
    /// How `llmload search` probes for the highest rate that meets `[slo]`.
    pub search: Option<SearchFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFile {
    #[serde(default, deserialize_with = "duration_opt")]
    pub probe: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub warmup: Option<Duration>,
    pub precision: Option<f64>,
    pub max_probes: Option<u32>,
    pub min_rate: Option<f64>,
    pub max_rate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodputFile {
    #[serde(default, deserialize_with = "duration_opt")]
    pub ttft: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub tpot: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub itl: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub e2e: Option<Duration>,
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
    /// Default: `openai` (a `[target]` table is written to reach a server).
    pub kind: Option<TargetKind>,
    // The keys of `LiveFile`, spelt out: serde's flatten would defeat
    // deny_unknown_fields.
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub ca_file: Option<String>,
    pub tokenizer: Option<String>,
}

impl TargetFile {
    pub fn live(self) -> LiveFile {
        LiveFile {
            base_url: self.base_url,
            api_key_env: self.api_key_env,
            organization: self.organization,
            project: self.project,
            headers: self.headers,
            ca_file: self.ca_file,
            tokenizer: self.tokenizer,
        }
    }
}

/// How to reach a live API: `[target]`'s own keys, and a `[profiles.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFile {
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub ca_file: Option<String>,
    /// The served models' Hugging Face tokenizer (a tokenizer.json or its
    /// directory), for every model without one in `[tokenizers]`.
    pub tokenizer: Option<String>,
}

/// A profile holds the same keys as `[target]`, without `kind`.
pub type ProfileFile = LiveFile;

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
    #[serde(default, deserialize_with = "duration_opt")]
    pub think_time: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub ramp_up: Option<Duration>,
    pub abort_on_error_rate: Option<f64>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub first_byte_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub idle_timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_on: Option<Vec<u16>>,
    pub retry_connect: Option<bool>,
    pub http: Option<String>,
    #[serde(default)]
    pub stages: Vec<StageFile>,
    pub trace: Option<TraceFile>,
}

/// `[load.trace]`: replay a JSONL trace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    pub file: String,
    pub block_size: Option<u32>,
    pub time_scale: Option<f64>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub start: Option<Duration>,
    #[serde(rename = "loop")]
    pub repeat: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    #[serde(deserialize_with = "duration")]
    pub duration: Duration,
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Chat,
    Completions,
    /// `/v1/embeddings`: inputs in, vectors out; no tokens generated.
    Embeddings,
    /// `/v1/responses`: OpenAI's Responses API (`input`, `instructions`,
    /// `max_output_tokens`; typed stream events).
    Responses,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
        }
    }
}

/// How `/v1/embeddings` sends its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    Float,
    Base64,
}

/// How prompts are taken from a prompts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptOrder {
    /// A seeded random line per request.
    Random,
    /// Request k of the run uses line k (mod the number of lines).
    Sequential,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: String,
    pub weight: Option<u32>,
    pub endpoint: Endpoint,
    pub model: String,
    /// Required, except by embeddings (which refuse it).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    pub n: Option<u32>,
    pub best_of: Option<u32>,
    pub stop: Option<StopFile>,
    pub stream: Option<bool>,
    pub include_usage: Option<bool>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub logit_bias: Option<BTreeMap<String, i64>>,
    pub extra_body: Option<toml::Table>,
    pub batch: Option<u32>,
    /// Embeddings only: the vectors' length, and how they are sent.
    pub dimensions: Option<u32>,
    pub encoding_format: Option<EncodingFormat>,
    pub prompt_tokens: Option<PromptTokensFile>,
    pub prompt: Option<String>,
    pub prompts_file: Option<String>,
    pub prompts_order: Option<PromptOrder>,
    pub system: Option<String>,
    /// Multi-turn sessions: turns per session, a count or `{ min, max }`.
    pub turns: Option<TurnsFile>,
    /// Between a turn's answer and the next turn.
    #[serde(default, deserialize_with = "duration_opt")]
    pub think_time: Option<Duration>,
}

/// `turns = 5` or `turns = { min = 2, max = 8 }` (uniform).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TurnsFile {
    Fixed(u32),
    Spread { min: u32, max: u32 },
}

/// `stop = "\n"` or `stop = ["\n", "END"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StopFile {
    One(String),
    Many(Vec<String>),
}

/// `prompt_tokens = 200`, `{ min = 100, max = 400 }` (uniform) or
/// `{ mean = 300, stddev = 50 }` (normal, optionally bounded by min/max).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PromptTokensFile {
    Fixed(u32),
    Spread(SpreadFile),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpreadFile {
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    pub input_per_1m: f64,
    pub output_per_1m: f64,
    /// Input tokens served from the provider's prompt cache (a discount).
    #[serde(default)]
    pub cached_input_per_1m: Option<f64>,
}

/// A pricing file: `[pricing.<model>]` tables and a note of when the figures
/// were taken.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingFile {
    pub as_of: Option<toml::value::Datetime>,
    pub source: Option<String>,
    #[serde(default)]
    pub pricing: BTreeMap<String, PriceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLimitFile {
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    pub max_usd: Option<f64>,
    pub warn_usd: Option<f64>,
}

/// The longest duration a scenario may give: far more than any load test
/// runs, and far less than what overflows a clock.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Durations are written with their unit ("250ms", "20s", "1m 30s"): a bare
/// number would leave the reader guessing between seconds and milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|_| {
        format!("must be a duration such as \"30s\": a number and a unit (ms, s, m, h), got {text:?}")
    })?;
    if d > MAX_DURATION {
        return Err(format!("must be at most 30 days, got {text:?}"));
    }
    Ok(d)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a duration such as \"30s\" (in quotes, with its unit)")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration(text).map_err(E::custom)
        }
    }
    d.deserialize_str(Text)
}

fn duration_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

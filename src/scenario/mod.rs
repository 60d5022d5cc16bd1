//! Scenarios: what to send and how hard.
//!
//! `file.rs` holds the TOML as written; `validate.rs` checks it (all problems
//! at once, each located by file, line, column and key) and builds a
//! `Scenario` that is correct by construction, so the runner never re-checks.
//! `sweep.rs` expands `[sweep]` into variants, `slo.rs` reads `[slo]`, and
//! `plan.rs` states what a run will send and what it can cost at most.

mod decode;
mod file;
mod limits;
mod load_rules;
mod locate;
mod plan;
mod prompts_file;
mod slo;
mod sweep;
mod target_rules;
mod tokenizer_rules;
#[cfg(test)]
mod tokenizer_tests;
pub mod trace;
mod validate;
mod variant_rules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use llmload_mock::SimConfig;

use crate::tokens::Tokenizer;

pub use file::{Arrival, Endpoint, PromptOrder};
pub use limits::{MAX_RATE, MIN_RATE};
pub use locate::KeyPath;
pub use plan::Plan;
pub use slo::{
    Bound, LatencyMetric, ObjectiveError, Slo, SloMetric, Stat, apply_overrides, metric as slo_metric,
};
pub use sweep::{SWEEPABLE, SweepMode, Swept, SweptValue};

/// Default cap on requests in flight in open loop: arrivals beyond it start
/// late and the lateness is reported as queue delay.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Statuses retried when `retries` > 0: rate limits and transient server faults.
pub const DEFAULT_RETRY_ON: [u16; 5] = [429, 500, 502, 503, 504];
/// The most retries a request may make: more only hides a broken target.
pub const MAX_RETRIES: u32 = 10;
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";
/// The variable a live target's `base_url` defaults to, as in OpenAI's SDKs.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";
/// The base URL when neither the scenario nor `OPENAI_BASE_URL` gives one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Prompts in one batched completions request, as the API allows.
pub const MAX_BATCH: u32 = 20;
/// Inputs per embeddings request at most: the API's limit.
pub const MAX_EMBEDDING_INPUTS: u32 = 2048;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub path: PathBuf,
    /// sha256 of the file's bytes, recorded with the results.
    pub sha256: String,
    pub target: Target,
    pub load: Load,
    /// Timeouts and retries from `[load]`: how each request is sent.
    pub client: ClientConfig,
    pub simulator: SimConfig,
    /// After sweep expansion: the variants actually sent.
    pub variants: Vec<Variant>,
    pub sweep_mode: SweepMode,
    pub budget: Budget,
    pub client_limit: ClientLimit,
    pub slo: Vec<Slo>,
    /// Per-request objectives that make a request "good" (`[goodput]`).
    pub goodput: Option<GoodputObjectives>,
    /// How `llmload search` probes (`[search]`, or its defaults).
    pub search: Search,
    /// Where the prices come from and when they were taken, if from a file.
    pub pricing_source: Option<String>,
}

/// How `llmload search` looks for the highest open-loop rate that meets
/// the scenario's `[slo]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    /// Each probe's measured time at one rate.
    pub probe: Duration,
    /// Each probe's own warm-up, at its rate, not measured.
    pub warmup: Duration,
    /// Stop when the highest meeting rate and the lowest missing one are
    /// this close (a fraction of the former).
    pub precision: f64,
    pub max_probes: u32,
    /// Exit 1 when the capacity found is below it: a CI gate.
    pub min_rate: Option<f64>,
    /// Never probe above it (it bounds the search's worst-case cost).
    pub max_rate: f64,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            probe: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            precision: 0.05,
            max_probes: 12,
            min_rate: None,
            max_rate: 1000.0,
        }
    }
}

/// A request is good when it succeeded and met every objective set here,
/// each a limit on that request alone (latencies from its intended start,
/// like every latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct GoodputObjectives {
    #[serde(default, with = "opt_ms", skip_serializing_if = "Option::is_none")]
    pub ttft: Option<Duration>,
    /// Time per output token after the first: (end - first token) / (tokens - 1).
    #[serde(default, with = "opt_ms", skip_serializing_if = "Option::is_none")]
    pub tpot: Option<Duration>,
    /// The request's longest gap between two content events.
    #[serde(default, with = "opt_ms", skip_serializing_if = "Option::is_none")]
    pub itl: Option<Duration>,
    #[serde(default, with = "opt_ms", skip_serializing_if = "Option::is_none")]
    pub e2e: Option<Duration>,
}

/// Durations in summary.json and metrics.json as milliseconds.
mod opt_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let ms = Option::<f64>::deserialize(d)?;
        Ok(ms.filter(|m| m.is_finite() && *m >= 0.0).map(|m| Duration::from_secs_f64(m / 1000.0)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded simulator, started in-process on an ephemeral port.
    Simulator,
    /// A live OpenAI-compatible API.
    OpenAi(Box<Live>),
}

/// A live target, resolved: the chosen profile over `[target]` over the
/// environment (`OPENAI_BASE_URL`) over the defaults. Holds the *name* of the
/// key's variable, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub base_url: String,
    /// Where `base_url` came from, for the plan and `check`.
    pub base_url_from: String,
    pub api_key_env: String,
    /// Sent as `OpenAI-Organization`.
    pub organization: Option<String>,
    /// Sent as `OpenAI-Project`.
    pub project: Option<String>,
    /// Extra headers for gateways, sent on every request.
    pub headers: Vec<(String, String)>,
    /// PEM roots trusted on top of the system's.
    pub ca_file: Option<PathBuf>,
    /// The profile chosen, if the scenario has profiles.
    pub profile: Option<String>,
}

impl Live {
    /// `base_url` with the defaults: key from `$OPENAI_API_KEY`, nothing else.
    pub fn plain(base_url: &str) -> Live {
        Live {
            base_url: base_url.trim_end_matches('/').to_owned(),
            base_url_from: "scenario".into(),
            api_key_env: DEFAULT_API_KEY_ENV.into(),
            organization: None,
            project: None,
            headers: Vec::new(),
            ca_file: None,
            profile: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub mode: LoadMode,
    /// At least one. Without `[[load.stages]]`, one stage made of `load`'s
    /// own level and duration.
    pub stages: Vec<Stage>,
    /// Measured requests to send (warm-up requests are extra).
    pub requests: Option<u64>,
    /// Sent at the first stage's level before the stages, not measured.
    pub warmup: Duration,
    pub timeout: Duration,
    /// Closed loop: a user's pause between the end of one request and the
    /// start of the next.
    pub think_time: Duration,
    /// Closed loop: users' first requests are spread evenly over this time,
    /// so they do not stay in lockstep (a burst every round).
    pub ramp_up: Duration,
    /// Stop when the error rate over the last requests passes this fraction.
    pub abort_on_error_rate: Option<f64>,
    /// Open loop at the times of a trace (`[load.trace]`), whose requests
    /// also give the prompts and lengths.
    pub trace: Option<Arc<trace::Trace>>,
}

/// The per-request half of `[load]`, kept apart from `Load` because only the
/// HTTP backend reads it (the schedule does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// TCP (and TLS) connection set-up.
    pub connect_timeout: Duration,
    /// From an attempt's send to its response headers.
    pub first_byte_timeout: Duration,
    /// The longest gap between two body chunks.
    pub idle_timeout: Duration,
    /// Extra attempts after a retryable status.
    pub retries: u32,
    /// The statuses that are retried.
    pub retry_on: Vec<u16>,
    /// Also retry an attempt whose connection could not be made (refused,
    /// DNS, TLS): the request never reached the server.
    pub retry_connect: bool,
    /// HTTP/2 only (`[load] http = "2"`): with prior knowledge over plain
    /// http://, by ALPN offering h2 alone over https. Otherwise HTTP/1.1, or
    /// HTTP/2 over https when ALPN agrees.
    pub http2: bool,
}

impl ClientConfig {
    /// The defaults for a total timeout: connect 10 s (or the total when
    /// shorter), first byte and idle gap bounded only by the total.
    pub fn defaults(total: Duration) -> Self {
        ClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT.min(total),
            first_byte_timeout: total,
            idle_timeout: total,
            retries: 0,
            retry_on: DEFAULT_RETRY_ON.to_vec(),
            retry_connect: false,
            http2: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadMode {
    /// Users, each sending its next request when the last ends.
    Closed,
    /// Requests arrive at a rate whatever the server does.
    Open { arrival: Arrival, max_in_flight: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// `None` only for a single stage ended by the request count.
    pub duration: Option<Duration>,
    /// Users (a whole number) in closed loop, requests/s in open loop.
    pub level: f64,
}

impl Load {
    /// Planned length of the measured part, when it has one.
    pub fn measured_duration(&self) -> Option<Duration> {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Workers the loop needs: the most users of any stage in closed loop,
    /// the in-flight cap in open loop.
    pub fn workers(&self) -> usize {
        match self.mode {
            LoadMode::Closed => self.stages.iter().map(|s| s.level as usize).max().unwrap_or(1),
            LoadMode::Open { max_in_flight, .. } => max_in_flight as usize,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// What `[sweep]` set in this variant; `None` outside a sweep.
    pub swept: Option<Swept>,
    pub weight: u32,
    pub endpoint: Endpoint,
    pub model: String,
    pub max_tokens: u32,
    pub n: u32,
    /// Completions only; `None` leaves it to the server (1).
    pub best_of: Option<u32>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    /// temperature, top_p, seed, penalties, logit_bias: sent only when set.
    pub sampling: serde_json::Map<String, serde_json::Value>,
    /// Passed through as-is, last, so it can set server-specific fields.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// What the server may bill: `max_tokens` and sequences per prompt, as
    /// `extra_body` may raise them.
    pub billed: Billed,
    /// Prompts per request (completions only): sent as a prompt array.
    pub batch: u32,
    /// Embeddings: the vectors' length asked for, and their encoding.
    pub dimensions: Option<u32>,
    pub encoding_format: Option<file::EncodingFormat>,
    pub prompt: PromptSource,
    pub system: Option<String>,
    /// Tokens of `system`, in the model's tokenizer.
    pub system_tokens: u32,
    /// The model's tokenizer: sizes prompts, counts answers sent without usage.
    pub tokenizer: Tokenizer,
    /// USD per million tokens, from `[pricing.<model>]`.
    pub price: Option<Price>,
    /// Multi-turn sessions (`turns`): each request a turn of a conversation.
    pub session: Option<SessionSpec>,
}

/// A variant's sessions: turns drawn uniformly from `min..=max`, each turn's
/// prompt appended to the conversation after the previous answer, `think_time`
/// after that answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionSpec {
    pub min_turns: u32,
    pub max_turns: u32,
    pub think_time: Duration,
}

/// The most turns a session may have.
pub const MAX_TURNS: u32 = 100;

impl Variant {
    /// Sequences generated per prompt: what the server bills output for.
    pub fn sequences(&self) -> u32 {
        self.n.max(self.best_of.unwrap_or(1))
    }

    /// The most tokens one request can use: (input, output).
    pub fn worst_case_tokens(&self) -> (u64, u64) {
        let batch = u64::from(self.batch);
        let mut input = (u64::from(self.prompt.max_tokens()) + u64::from(self.system_tokens)) * batch;
        // A session's last turn carries every prompt and answer before it.
        if let Some(s) = self.session {
            let earlier = u64::from(s.max_turns - 1);
            input += earlier * (u64::from(self.prompt.max_tokens()) + u64::from(self.max_tokens));
        }
        (input, self.max_output_tokens())
    }

    /// The most output tokens one request can be billed for: `max_tokens`
    /// for every sequence of every prompt (as `extra_body` may raise them).
    pub fn max_output_tokens(&self) -> u64 {
        u64::from(self.billed.max_tokens) * u64::from(self.billed.sequences) * u64::from(self.batch)
    }

    /// The most one request can cost, when the model has a price.
    pub fn worst_case_cost(&self) -> Option<f64> {
        let (i, o) = self.worst_case_tokens();
        self.price.map(|p| p.cost(i, o))
    }
}

/// What a request may be billed for (see `Variant::billed`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Billed {
    pub max_tokens: u32,
    pub sequences: u32,
}

/// Where a variant's prompts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptSource {
    /// Generated text of a number of tokens.
    Tokens(TokenSpread),
    /// The same text every time; `tokens` counted with the model's encoding.
    Literal { text: String, tokens: u32 },
    /// Lines of a JSONL file.
    File { path: PathBuf, prompts: Arc<Vec<FilePrompt>>, order: PromptOrder },
    /// Each request's own, from the trace `[load.trace]` replays (its
    /// longest prompt, or a bound on it).
    Trace { max_input: u32 },
}

impl PromptSource {
    /// The largest prompt, in tokens.
    pub fn max_tokens(&self) -> u32 {
        match self {
            PromptSource::Tokens(s) => s.max(),
            PromptSource::Literal { tokens, .. } => *tokens,
            PromptSource::File { prompts, .. } => prompts.iter().map(|p| p.tokens).max().unwrap_or(0),
            PromptSource::Trace { max_input } => *max_input,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenSpread {
    Fixed(u32),
    Uniform { min: u32, max: u32 },
    Normal { mean: f64, stddev: f64, min: u32, max: u32 },
}

impl TokenSpread {
    pub fn max(&self) -> u32 {
        match *self {
            TokenSpread::Fixed(n) => n,
            TokenSpread::Uniform { max, .. } | TokenSpread::Normal { max, .. } => max,
        }
    }
}

/// One line of a prompts file.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePrompt {
    pub content: PromptContent,
    /// Tokens of the text, in the model's encoding.
    pub tokens: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptContent {
    Text(String),
    /// A chat messages array, sent as written.
    Messages(Vec<serde_json::Value>),
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_1m: f64,
    pub output_per_1m: f64,
    /// Input tokens the server's prompt cache served, when they are billed
    /// at a discount; `None`: at the input price.
    pub cached_input_per_1m: Option<f64>,
}

impl Price {
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        self.cost_cached(input_tokens, 0, output_tokens)
    }

    /// `cached` of the `input_tokens` (at most all of them) came from the
    /// server's prompt cache.
    pub fn cost_cached(&self, input_tokens: u64, cached: u64, output_tokens: u64) -> f64 {
        let cached = cached.min(input_tokens);
        let cached_price = self.cached_input_per_1m.unwrap_or(self.input_per_1m);
        ((input_tokens - cached) as f64 * self.input_per_1m
            + cached as f64 * cached_price
            + output_tokens as f64 * self.output_per_1m)
            / 1e6
    }
}

/// `[client_limit]`: the client holds requests back to stay under these.
/// Tokens are counted as the API estimates them: prompt + max_tokens ×
/// max(n, best_of), per prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientLimit {
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Hard: no request starts once it could pass this.
    pub max_usd: Option<f64>,
    /// Soft: a warning, once.
    pub warn_usd: Option<f64>,
}

/// One problem in a scenario, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Bad input: the file and every problem found in it.
#[derive(Debug)]
pub struct ScenarioError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(l) = p.line {
                write!(f, ":{l}")?;
            }
            if let Some(c) = p.column {
                write!(f, ":{c}")?;
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl crate::error::InputProblem for ScenarioError {}

impl ScenarioError {
    /// A problem of the file as a whole (it cannot be read), not of a key.
    fn whole_file(path: &Path, message: String) -> Self {
        ScenarioError {
            file: path.display().to_string(),
            problems: vec![Problem { line: None, column: None, message }],
        }
    }
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Self::load_profile(path, None)
    }

    /// `load`, with `profile` chosen among the scenario's `[profiles]`.
    pub fn load_profile(path: &Path, profile: Option<&str>) -> Result<Scenario, ScenarioError> {
        let source = limits::read_text(path, limits::SCENARIO_BYTES)
            .map_err(|e| ScenarioError::whole_file(path, e))?;
        validate::parse(&source, path, profile, None)
    }

    /// Loads a scenario to run on the embedded simulator with `simulator`
    /// (a profile file, loaded by the caller), whatever target it names.
    pub fn load_simulated(
        path: &Path,
        simulator: llmload_mock::SimConfig,
    ) -> Result<Scenario, ScenarioError> {
        let source = limits::read_text(path, limits::SCENARIO_BYTES)
            .map_err(|e| ScenarioError::whole_file(path, e))?;
        validate::parse(&source, path, None, Some(simulator))
    }

    /// Parses and validates scenario text; `path` names it in errors and
    /// anchors relative paths (prompts and pricing files).
    pub fn parse(source: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        validate::parse(source, path, None, None)
    }

    /// Prices by model, for cost accounting.
    pub fn prices(&self) -> BTreeMap<String, Price> {
        self.variants.iter().filter_map(|v| v.price.map(|p| (v.model.clone(), p))).collect()
    }
}

#[cfg(test)]
mod target_tests;
#[cfg(test)]
mod tests;

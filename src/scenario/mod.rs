//! Scenarios: what to send and how hard.
//!
//! `file.rs` holds the TOML as written; this module validates it into a
//! `Scenario` that is correct by construction, so the runner never re-checks.
//! Every error names the file, the line and the key, and maps to exit code 2.

mod file;
mod locate;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use llmload_mock::{ModelProfile, SimConfig};
use sha2::{Digest, Sha256};

pub use file::{Arrival, Endpoint};
use file::{ScenarioFile, TargetKind};
pub use locate::KeyPath;

/// Default cap on requests in flight in open loop: arrivals beyond it start
/// late and the lateness is reported as queue delay.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

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
    pub simulator: SimConfig,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded simulator, started in-process on an ephemeral port.
    Simulator,
    /// A live OpenAI-compatible API. Holds the *name* of the key's variable,
    /// never the key.
    OpenAi { base_url: String, api_key_env: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub mode: LoadMode,
    /// Measured-phase length; the run lasts `warmup + duration`.
    pub duration: Option<Duration>,
    /// Measured requests to send (warm-up requests are extra).
    pub requests: Option<u64>,
    pub warmup: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadMode {
    /// `concurrency` users, each sending its next request when the last ends.
    Closed { concurrency: u32 },
    /// Requests arrive at `rate` per second whatever the server does.
    Open { rate: f64, arrival: Arrival, max_in_flight: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub weight: u32,
    pub endpoint: Endpoint,
    pub model: String,
    pub max_tokens: u32,
    pub stream: bool,
    pub include_usage: bool,
    pub prompt_tokens: u32,
}

/// Bad input: the file, where in it, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            message: format!("cannot read scenario: {e}"),
        })?;
        Self::parse(&source, path)
    }

    /// Parses and validates scenario text; `path` is used in errors and to
    /// resolve relative paths.
    pub fn parse(source: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let raw: ScenarioFile = toml::from_str(source).map_err(|e| ScenarioError {
            file: file.clone(),
            line: e.span().map(|s| locate::line_at(source, s.start)),
            message: e.message().trim_end().to_owned(),
        })?;
        validate(raw, path)
            .map_err(|Invalid(key, message)| ScenarioError {
                line: locate::line_of(source, &key),
                message: format!("{key}: {message}"),
                file,
            })
            .map(|mut s| {
                s.sha256 = hex(&Sha256::digest(source.as_bytes()));
                s
            })
    }
}

/// A rule broken at a key path; located in the source by the caller.
struct Invalid(KeyPath, String);

fn at(key: &[&str]) -> KeyPath {
    key.iter().fold(KeyPath::default(), |p, k| p.key(k))
}

fn check(ok: bool, key: KeyPath, message: impl FnOnce() -> String) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err(Invalid(key, message())) }
}

fn validate(raw: ScenarioFile, path: &Path) -> Result<Scenario, Invalid> {
    check(!raw.name.trim().is_empty(), at(&["name"]), || "must not be empty".into())?;
    let target = validate_target(raw.target)?;
    let load = validate_load(raw.load)?;
    let simulator = validate_simulator(raw.simulator.unwrap_or_default(), raw.seed.unwrap_or(0))?;
    check(!raw.variants.is_empty(), at(&["variant"]), || "at least one [[variant]] is required".into())?;
    let mut names = BTreeSet::new();
    let mut variants = Vec::with_capacity(raw.variants.len());
    for (i, v) in raw.variants.into_iter().enumerate() {
        let key = |k: &str| KeyPath::default().key("variant").index(i).key(k);
        check(!v.name.trim().is_empty(), key("name"), || "must not be empty".into())?;
        check(names.insert(v.name.clone()), key("name"), || format!("duplicate variant name {:?}", v.name))?;
        let weight = v.weight.unwrap_or(1);
        check(weight >= 1, key("weight"), || format!("must be at least 1, got {weight}"))?;
        check(!v.model.trim().is_empty(), key("model"), || "must not be empty".into())?;
        check(v.max_tokens >= 1, key("max_tokens"), || format!("must be at least 1, got {}", v.max_tokens))?;
        check((1..=1_000_000).contains(&v.prompt_tokens), key("prompt_tokens"), || {
            format!("must be 1..=1000000, got {}", v.prompt_tokens)
        })?;
        let stream = v.stream.unwrap_or(true);
        check(stream || v.include_usage.is_none(), key("include_usage"), || {
            "only applies when stream = true".into()
        })?;
        variants.push(Variant {
            name: v.name,
            weight,
            endpoint: v.endpoint,
            model: v.model,
            max_tokens: v.max_tokens,
            stream,
            include_usage: v.include_usage.unwrap_or(stream),
            prompt_tokens: v.prompt_tokens,
        });
    }
    Ok(Scenario {
        name: raw.name,
        seed: raw.seed.unwrap_or(0),
        path: path.to_owned(),
        sha256: String::new(),
        target,
        load,
        simulator,
        variants,
    })
}

fn validate_target(raw: Option<file::TargetFile>) -> Result<Target, Invalid> {
    let Some(t) = raw else { return Ok(Target::Simulator) };
    match t.kind {
        TargetKind::Simulator => {
            check(t.base_url.is_none(), at(&["target", "base_url"]), || {
                "not used with kind = \"simulator\" (the simulator picks its own port)".into()
            })?;
            check(t.api_key_env.is_none(), at(&["target", "api_key_env"]), || {
                "not used with kind = \"simulator\"".into()
            })?;
            Ok(Target::Simulator)
        }
        TargetKind::Openai => {
            let key = at(&["target", "base_url"]);
            let Some(base_url) = t.base_url else {
                return Err(Invalid(
                    at(&["target", "kind"]),
                    "kind = \"openai\" needs target.base_url".into(),
                ));
            };
            let url = reqwest::Url::parse(&base_url)
                .map_err(|e| Invalid(key.clone(), format!("not a URL ({e}): {base_url:?}")))?;
            check(matches!(url.scheme(), "http" | "https"), key, || {
                format!("must be http:// or https://, got {base_url:?}")
            })?;
            let api_key_env = t.api_key_env.unwrap_or_else(|| DEFAULT_API_KEY_ENV.to_owned());
            check(is_env_name(&api_key_env), at(&["target", "api_key_env"]), || {
                format!("must be the name of an environment variable (A-Z, 0-9, _), got {api_key_env:?}")
            })?;
            Ok(Target::OpenAi { base_url: base_url.trim_end_matches('/').to_owned(), api_key_env })
        }
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_load(l: file::LoadFile) -> Result<Load, Invalid> {
    let mode = match (l.concurrency, l.rate) {
        (Some(_), Some(_)) => {
            return Err(Invalid(
                at(&["load", "rate"]),
                "set either concurrency (closed loop) or rate (open loop), not both".into(),
            ));
        }
        (None, None) => {
            return Err(Invalid(
                at(&["load"]),
                "set concurrency (closed loop) or rate (open loop, requests/s)".into(),
            ));
        }
        (Some(concurrency), None) => {
            check((1..=100_000).contains(&concurrency), at(&["load", "concurrency"]), || {
                format!("must be 1..=100000, got {concurrency}")
            })?;
            for (set, k) in [(l.arrival.is_some(), "arrival"), (l.max_in_flight.is_some(), "max_in_flight")] {
                check(!set, at(&["load", k]), || "only applies to open loop (rate)".into())?;
            }
            LoadMode::Closed { concurrency }
        }
        (None, Some(rate)) => {
            check(rate.is_finite() && rate > 0.0 && rate <= 1e6, at(&["load", "rate"]), || {
                format!("must be > 0 and <= 1000000 requests/s, got {rate}")
            })?;
            let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            check((1..=100_000).contains(&max_in_flight), at(&["load", "max_in_flight"]), || {
                format!("must be 1..=100000, got {max_in_flight}")
            })?;
            LoadMode::Open { rate, arrival: l.arrival.unwrap_or(Arrival::Constant), max_in_flight }
        }
    };
    check(l.duration.is_some() || l.requests.is_some(), at(&["load"]), || {
        "set duration (e.g. \"20s\") and/or requests (a count) to say when the run stops".into()
    })?;
    if let Some(d) = l.duration {
        check(!d.is_zero(), at(&["load", "duration"]), || "must be greater than 0".into())?;
    }
    if let Some(n) = l.requests {
        check(n >= 1, at(&["load", "requests"]), || "must be at least 1".into())?;
    }
    let timeout = l.timeout.unwrap_or(DEFAULT_TIMEOUT);
    check(!timeout.is_zero(), at(&["load", "timeout"]), || "must be greater than 0".into())?;
    Ok(Load {
        mode,
        duration: l.duration,
        requests: l.requests,
        warmup: l.warmup.unwrap_or_default(),
        timeout,
    })
}

fn validate_simulator(s: file::SimulatorFile, seed: u64) -> Result<SimConfig, Invalid> {
    let base = ModelProfile::default();
    let default_profile = profile(&base, s.ttft, s.itl, s.jitter, at(&["simulator"]))?;
    let mut models = std::collections::BTreeMap::new();
    for (name, p) in s.models {
        let key = at(&["simulator", "models", &name]);
        models.insert(name, profile(&default_profile, p.ttft, p.itl, p.jitter, key)?);
    }
    Ok(SimConfig { default_profile, models, seed })
}

/// A model profile inherits what it does not set from `base`.
fn profile(
    base: &ModelProfile,
    ttft: Option<Duration>,
    itl: Option<Duration>,
    jitter: Option<f64>,
    key: KeyPath,
) -> Result<ModelProfile, Invalid> {
    let jitter = jitter.unwrap_or(base.jitter);
    check(jitter.is_finite() && (0.0..=5.0).contains(&jitter), key.clone().key("jitter"), || {
        format!("must be 0..=5 (a fraction of the mean; 0 = exact), got {jitter}")
    })?;
    let p = ModelProfile { ttft: ttft.unwrap_or(base.ttft), itl: itl.unwrap_or(base.itl), jitter };
    // The simulator's own limits (e.g. durations up to 1 h), reported here
    // against the file rather than when the run starts.
    p.validate().map_err(|e| Invalid(key, e))?;
    Ok(p)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;

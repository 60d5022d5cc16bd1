//! The profile format: TOML that says what the simulator simulates. It is the whole of
//! a `--config` file, and the same keys make up a scenario's `[simulator]` table, so a
//! scenario can embed [`ProfileFile`] as it is.
//!
//! Top-level keys are the defaults; each `[models.<name>]` table overrides them for one
//! model and inherits, key by key, whatever it does not set. Without a `[models]` table
//! any model name is served with the defaults; with one, only the models listed (unless
//! `serve_any_model = true`). mock-server/README.md documents every key.
//!
//! Reading is two steps, so that the embedding program keeps its own error reporting:
//! serde checks shapes and types (unknown keys, a duration without a unit), and
//! [`SimConfig::from_profile`] checks values, naming the key path of any error so the
//! caller can point at its line ([`line_of`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::SimConfig;
use crate::config::{
    Faults, Invalid, ItlDistribution, MAX_OUTPUT_TOKENS, ModelProfile, OutputLength, RateLimits,
};

/// Defines the table of model keys and the top-level table, which has the same keys and
/// a few more: one list of keys, so the two cannot drift apart.
macro_rules! profile_tables {
    (
        model { $( $(#[$fm:meta])* $field:ident : $ty:ty, )* }
        $(#[$top_meta:meta])* top { $( $(#[$tm:meta])* $top_field:ident : $top_ty:ty, )* }
    ) => {
        /// One `[models.<name>]` table. Every key is optional and inherits from the top level.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ModelTable {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        $(#[$top_meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ProfileFile {
            $( $(#[$fm])* pub $field: $ty, )*
            $( $(#[$tm])* pub $top_field: $top_ty, )*
        }

        impl ProfileFile {
            /// The top level's model keys: the defaults every model inherits.
            pub fn defaults(&self) -> ModelTable {
                ModelTable { $( $field: self.$field.clone(), )* }
            }
        }
    };
}

profile_tables! {
    model {
        /// Tokens of prompt + max_tokens a request may take. Default 8192.
        #[serde(default)]
        context_window: Option<i64>,
        /// Time to first token, before the per-prompt-token part. Default "200ms".
        #[serde(default, deserialize_with = "duration_opt")]
        ttft: Option<Duration>,
        /// Added to the TTFT per prompt token. Default "0s".
        #[serde(default, deserialize_with = "duration_opt")]
        ttft_per_prompt_token: Option<Duration>,
        /// The same as `ttft_per_prompt_token`, by the name prefix caching
        /// uses: the prefill cost of each prompt token not cached.
        #[serde(default, deserialize_with = "duration_opt")]
        prefill_per_token: Option<Duration>,
        /// Reasoning tokens before each answer (a thinking model). Default 0.
        #[serde(default)]
        reasoning_tokens: Option<i64>,
        /// The length of the vectors `/v1/embeddings` returns. Default 1536.
        #[serde(default)]
        embedding_dimensions: Option<i64>,
        /// Tokens the prefix cache holds (in blocks of 16); absent or 0 = none.
        #[serde(default)]
        prefix_cache_tokens: Option<i64>,
        /// Mean inter-token latency. Default "20ms".
        #[serde(default, deserialize_with = "duration_opt")]
        itl: Option<Duration>,
        /// Normal spread as a fraction of the mean (TTFT, and ITL when normal). Default 0.
        #[serde(default)]
        jitter: Option<f64>,
        /// "normal" (default), "constant", "lognormal" or "empirical".
        #[serde(default)]
        itl_distribution: Option<ItlKind>,
        /// The ITL's quantiles, `[{ q = 0.0, itl = "4ms" }, ..., { q = 1.0, itl = "30ms" }]`;
        /// required by, and only allowed with, "empirical".
        #[serde(default)]
        itl_quantiles: Option<Vec<QuantilePoint>>,
        /// 99th percentile of the ITL; required by, and only allowed with, "lognormal".
        #[serde(default, deserialize_with = "duration_opt")]
        itl_p99: Option<Duration>,
        /// Mean natural output length in tokens; absent = run to max_tokens.
        #[serde(default)]
        output_tokens: Option<i64>,
        /// 99th percentile of the natural output length: makes it lognormal.
        #[serde(default)]
        output_tokens_p99: Option<i64>,
        /// Sequences generated at once; absent = unlimited.
        #[serde(default)]
        max_sequences: Option<i64>,
        /// Added to each inter-token gap per other active sequence. Default "0s".
        #[serde(default, deserialize_with = "duration_opt")]
        itl_per_sequence: Option<Duration>,
        #[serde(default)]
        rate_limits: Option<RateLimitsTable>,
        #[serde(default)]
        faults: Option<FaultsTable>,
    }
    /// A whole profile: the top-level keys (the defaults, plus what only makes sense once
    /// per server) and the `[models]` tables.
    top {
        /// Accepted API keys; absent or empty = any key, or none.
        #[serde(default)]
        api_keys: Option<Vec<String>>,
        /// Serve model names not in `[models]` with the top-level profile. Default: true
        /// without a `[models]` table, false with one.
        #[serde(default)]
        serve_any_model: Option<bool>,
        #[serde(default)]
        models: Option<BTreeMap<String, ModelTable>>,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItlKind {
    Normal,
    Constant,
    Lognormal,
    Empirical,
}

/// One point of `itl_quantiles`: the gap at quantile `q`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantilePoint {
    pub q: f64,
    #[serde(deserialize_with = "duration")]
    pub itl: Duration,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_opt(d)?.ok_or_else(|| serde::de::Error::custom("expected a duration"))
}

/// `[rate_limits]`: per API key and model. Each key inherits separately.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsTable {
    #[serde(default)]
    pub requests_per_minute: Option<i64>,
    #[serde(default)]
    pub tokens_per_minute: Option<i64>,
}

/// `[faults]`: probability per request of each fault. Each key inherits separately.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsTable {
    #[serde(default)]
    pub http_500: Option<f64>,
    #[serde(default)]
    pub http_503: Option<f64>,
    #[serde(default)]
    pub http_429: Option<f64>,
    #[serde(default)]
    pub reset: Option<f64>,
    #[serde(default)]
    pub cut: Option<f64>,
    #[serde(default)]
    pub slow_headers: Option<f64>,
    #[serde(default, deserialize_with = "duration_opt")]
    pub slow_headers_delay: Option<Duration>,
}

fn duration_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration as a string with a unit, such as \"200ms\", \"1.5s\" or \"2m\"")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            humantime::parse_duration(text).map(Some).map_err(|e| {
                E::custom(format!(
                    "invalid duration {text:?}: {e} (write a number with a unit, such as \"200ms\", \"1.5s\" or \"2m\")"
                ))
            })
        }
    }
    d.deserialize_str(Visitor)
}

/// A value the profile may not have, at a key path inside the profile table (e.g.
/// `["models", "big", "itl_p99"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub path: Vec<String>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path.join("."), self.message)
        }
    }
}

impl std::error::Error for ProfileError {}

/// A profile file that could not be used: which file, where in it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// The key path, dotted (`models.big.itl_p99`), when the error is about a value.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// The built-in profile, served when no other is given: two clearly synthetic models.
pub const BUILTIN: &str = include_str!("builtin.toml");

/// Reads and checks a profile file.
pub fn load(file: &Path, seed: u64) -> Result<SimConfig, LoadError> {
    let error = |line, key, message| LoadError { file: file.to_owned(), line, key, message };
    let text =
        std::fs::read_to_string(file).map_err(|e| error(None, None, format!("cannot read it: {e}")))?;
    parse(&text, seed).map_err(|e| match e {
        ParseError::Toml(e) => {
            let line = e.span().map(|s| line_at(&text, s.start));
            let key = line.and_then(|l| key_on_line(&text, l));
            error(line, key, e.message().trim_end().to_owned())
        }
        ParseError::Value(e) => {
            let key = (!e.path.is_empty()).then(|| e.path.join("."));
            error(line_of(&text, &e.path), key, e.message)
        }
    })
}

/// Why a profile's text was refused.
#[derive(Debug)]
pub enum ParseError {
    /// Not TOML, or not the profile's shape (unknown key, wrong type, bad duration).
    Toml(toml::de::Error),
    Value(ProfileError),
}

/// Parses and checks a profile's text.
pub fn parse(text: &str, seed: u64) -> Result<SimConfig, ParseError> {
    let file: ProfileFile = toml::from_str(text).map_err(ParseError::Toml)?;
    SimConfig::from_profile(file, seed).map_err(ParseError::Value)
}

/// 1-based line of the deepest part of `path` (keys of nested tables) written in
/// `source`: the key itself when it is there, else the table that holds it.
pub fn line_of(source: &str, path: &[String]) -> Option<usize> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let mut table = Some(root.get_ref());
    let mut offset = None;
    for key in path {
        let Some((k, v)) = table.and_then(|t| t.get_key_value(key.as_str())) else { break };
        offset = Some(k.span().start);
        table = v.get_ref().as_table();
    }
    offset.map(|o| line_at(source, o))
}

/// The key written on a `key = value` line, to name it in a serde error, whose message
/// has only the value.
fn key_on_line(source: &str, line: usize) -> Option<String> {
    let (key, _) = source.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.\"'".contains(&b));
    bare.then(|| key.to_owned())
}

fn line_at(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl SimConfig {
    /// The simulator a profile describes. `seed` fixes every text, sampled duration
    /// and length, and fault.
    pub fn from_profile(file: ProfileFile, seed: u64) -> Result<SimConfig, ProfileError> {
        let default_profile = resolve(&ModelProfile::default(), &file.defaults(), &[])?;
        let mut models = BTreeMap::new();
        for (name, table) in file.models.iter().flatten() {
            let at = ["models".to_owned(), name.clone()];
            if name.is_empty() {
                return Err(error(&at[..1], "a model name must not be empty"));
            }
            models.insert(name.clone(), resolve(&default_profile, table, &at)?);
        }
        let serve_any_model = file.serve_any_model.unwrap_or(models.is_empty());
        if !serve_any_model && models.is_empty() {
            return Err(error(
                &["serve_any_model".into()],
                "is false but no [models.<name>] table lists a model",
            ));
        }
        let api_keys = file.api_keys.unwrap_or_default();
        if api_keys.iter().any(|k| k.trim().is_empty()) {
            return Err(error(&["api_keys".into()], "a key must not be empty"));
        }
        Ok(SimConfig { default_profile, models, seed, serve_any_model, api_keys })
    }

    /// The built-in profile ([`BUILTIN`]).
    pub fn builtin(seed: u64) -> SimConfig {
        // Checked by a test; should it ever fail, any model is better than none.
        parse(BUILTIN, seed).unwrap_or_else(|_| SimConfig { seed, ..SimConfig::default() })
    }
}

fn error(at: &[String], message: impl Into<String>) -> ProfileError {
    ProfileError { path: at.to_vec(), message: message.into() }
}

fn key(at: &[String], key: &[&str]) -> Vec<String> {
    at.iter().cloned().chain(key.iter().map(|k| (*k).to_owned())).collect()
}

/// `base` with what `t` sets, checked. `at` is where `t` is in the profile.
fn resolve(base: &ModelProfile, t: &ModelTable, at: &[String]) -> Result<ModelProfile, ProfileError> {
    let jitter = t.jitter.unwrap_or(base.jitter);
    if !(jitter.is_finite() && (0.0..=5.0).contains(&jitter)) {
        return Err(error(
            &key(at, &["jitter"]),
            format!(
                "must be a number from 0 to 5 (standard deviation as a fraction of the mean; 0 = exact), got {jitter}"
            ),
        ));
    }
    let inherited_p99 = match base.itl_distribution {
        ItlDistribution::LogNormal { p99 } => Some(p99),
        _ => None,
    };
    let kind = t.itl_distribution.unwrap_or(match base.itl_distribution {
        ItlDistribution::Normal => ItlKind::Normal,
        ItlDistribution::Constant => ItlKind::Constant,
        ItlDistribution::LogNormal { .. } => ItlKind::Lognormal,
        ItlDistribution::Empirical(_) => ItlKind::Empirical,
    });
    let mut itl = t.itl.unwrap_or(base.itl);
    let itl_distribution = match kind {
        ItlKind::Normal | ItlKind::Constant | ItlKind::Lognormal if t.itl_quantiles.is_some() => {
            return Err(error(
                &key(at, &["itl_quantiles"]),
                "is only used with itl_distribution = \"empirical\"",
            ));
        }
        ItlKind::Normal | ItlKind::Constant | ItlKind::Empirical if t.itl_p99.is_some() => {
            return Err(error(&key(at, &["itl_p99"]), "is only used with itl_distribution = \"lognormal\""));
        }
        ItlKind::Empirical => {
            if t.itl.is_some() {
                let message = "is the mean of itl_quantiles with itl_distribution = \"empirical\": give only the quantiles";
                return Err(error(&key(at, &["itl"]), message));
            }
            let points = match (&t.itl_quantiles, &base.itl_distribution) {
                (Some(points), _) => quantiles(points, &key(at, &["itl_quantiles"]))?,
                (None, ItlDistribution::Empirical(points)) => points.clone(),
                (None, _) => {
                    return Err(error(
                        &key(at, &["itl_quantiles"]),
                        "is required with itl_distribution = \"empirical\" ([{ q = 0.0, itl = \"4ms\" }, ..., { q = 1.0, itl = \"30ms\" }])",
                    ));
                }
            };
            itl = ItlDistribution::empirical_mean(&points);
            ItlDistribution::Empirical(points)
        }
        ItlKind::Normal => ItlDistribution::Normal,
        ItlKind::Constant => ItlDistribution::Constant,
        ItlKind::Lognormal => match t.itl_p99.or(inherited_p99) {
            Some(p99) => ItlDistribution::LogNormal { p99 },
            None => {
                return Err(error(
                    &key(at, &["itl_p99"]),
                    "is required with itl_distribution = \"lognormal\" (the 99th percentile, e.g. \"60ms\")",
                ));
            }
        },
    };

    let (base_mean, base_p99) = match base.output_length {
        OutputLength::MaxTokens => (None, None),
        OutputLength::Constant(n) => (Some(n), None),
        OutputLength::LogNormal { mean, p99 } => (Some(mean), Some(p99)),
    };
    let mean = match t.output_tokens {
        Some(n) => Some(count32(n, 1, MAX_OUTPUT_TOKENS, &key(at, &["output_tokens"]))?),
        None => base_mean,
    };
    let p99 = match t.output_tokens_p99 {
        Some(n) => Some(count32(n, 1, MAX_OUTPUT_TOKENS, &key(at, &["output_tokens_p99"]))?),
        None => base_p99,
    };
    let output_length = match (mean, p99) {
        (None, None) => OutputLength::MaxTokens,
        (None, Some(_)) => {
            return Err(error(&key(at, &["output_tokens_p99"]), "needs output_tokens (the mean) as well"));
        }
        (Some(n), None) => OutputLength::Constant(n),
        (Some(mean), Some(p99)) => OutputLength::LogNormal { mean, p99 },
    };

    let context_window = match t.context_window {
        Some(n) => count32(n, 1, u32::MAX, &key(at, &["context_window"]))?,
        None => base.context_window,
    };
    let max_sequences = match t.max_sequences {
        Some(n) => Some(count32(n, 1, u32::MAX, &key(at, &["max_sequences"]))?),
        None => base.max_sequences,
    };
    let r = t.rate_limits.clone().unwrap_or_default();
    let rate_limits = RateLimits {
        requests_per_minute: match r.requests_per_minute {
            Some(n) => Some(count32(n, 1, u32::MAX, &key(at, &["rate_limits", "requests_per_minute"]))?),
            None => base.rate_limits.requests_per_minute,
        },
        tokens_per_minute: match r.tokens_per_minute {
            Some(n) => Some(count(n, 1, i64::MAX, &key(at, &["rate_limits", "tokens_per_minute"]))?),
            None => base.rate_limits.tokens_per_minute,
        },
    };
    let f = t.faults.clone().unwrap_or_default();
    let b = base.faults;
    let faults = Faults {
        http_500: f.http_500.unwrap_or(b.http_500),
        http_503: f.http_503.unwrap_or(b.http_503),
        http_429: f.http_429.unwrap_or(b.http_429),
        reset: f.reset.unwrap_or(b.reset),
        cut: f.cut.unwrap_or(b.cut),
        slow_headers: f.slow_headers.unwrap_or(b.slow_headers),
        slow_headers_delay: f.slow_headers_delay.unwrap_or(b.slow_headers_delay),
    };

    let ttft_per_prompt_token = match (t.ttft_per_prompt_token, t.prefill_per_token) {
        (Some(_), Some(_)) => {
            let message = "is ttft_per_prompt_token by another name: give one of them".to_owned();
            return Err(error(&key(at, &["prefill_per_token"]), message));
        }
        (a, b) => a.or(b).unwrap_or(base.ttft_per_prompt_token),
    };
    let prefix_cache_tokens = match t.prefix_cache_tokens {
        Some(n) => count(n, 0, 1 << 40, &key(at, &["prefix_cache_tokens"]))?,
        None => base.prefix_cache_tokens,
    };
    let embedding_dimensions = match t.embedding_dimensions {
        Some(n) => count32(n, 1, 65_536, &key(at, &["embedding_dimensions"]))?,
        None => base.embedding_dimensions,
    };
    let reasoning_tokens = match t.reasoning_tokens {
        Some(n) => count32(n, 0, MAX_OUTPUT_TOKENS, &key(at, &["reasoning_tokens"]))?,
        None => base.reasoning_tokens,
    };
    let profile = ModelProfile {
        reasoning_tokens,
        embedding_dimensions,
        context_window,
        ttft: t.ttft.unwrap_or(base.ttft),
        itl,
        jitter,
        ttft_per_prompt_token,
        prefix_cache_tokens,
        itl_distribution,
        output_length,
        max_sequences,
        itl_per_sequence: t.itl_per_sequence.unwrap_or(base.itl_per_sequence),
        rate_limits,
        faults,
    };
    // Everything else (durations, ratios, probabilities) is the simulator's own check,
    // the same for a profile built by hand.
    profile.check().map_err(|Invalid { key: k, message }| error(&key(at, k), message))?;
    Ok(profile)
}

/// `itl_quantiles` checked: 2 to 101 points, q from 0 to 1 strictly
/// increasing, the gaps never decreasing.
fn quantiles(
    points: &[QuantilePoint],
    at: &[String],
) -> Result<std::sync::Arc<[(f64, Duration)]>, ProfileError> {
    let bad = |message: String| Err(error(at, message));
    if !(2..=101).contains(&points.len()) {
        return bad(format!("must have 2 to 101 points, got {}", points.len()));
    }
    if points[0].q != 0.0 || points[points.len() - 1].q != 1.0 {
        return bad("must start at q = 0.0 and end at q = 1.0".into());
    }
    for w in points.windows(2) {
        if w[1].q.partial_cmp(&w[0].q) != Some(std::cmp::Ordering::Greater) {
            return bad(format!("q must increase: {} then {}", w[0].q, w[1].q));
        }
        if w[1].itl < w[0].itl {
            return bad(format!(
                "the gaps must not decrease: {:?} at q = {} then {:?}",
                w[0].itl, w[0].q, w[1].itl
            ));
        }
    }
    Ok(points.iter().map(|p| (p.q, p.itl)).collect())
}

/// A whole number within `min..=max` (min >= 0).
fn count(n: i64, min: i64, max: i64, at: &[String]) -> Result<u64, ProfileError> {
    if n < min || n > max {
        return Err(error(at, format!("must be a whole number from {min} to {max}, got {n}")));
    }
    Ok(n.unsigned_abs())
}

/// [`count`] for a field of type u32: `max` must fit in one.
fn count32(n: i64, min: i64, max: u32, at: &[String]) -> Result<u32, ProfileError> {
    let n = count(n, min, max.into(), at)?;
    Ok(u32::try_from(n).unwrap_or(max))
}

#[cfg(test)]
mod tests;

//! `[slo]`: service-level objectives the run is judged against.
//!
//! ```toml
//! [slo]
//! "ttft.p95" = "800ms"                     # a latency percentile: at most
//! "e2e.p99" = { max = "4s" }
//! error_rate = 0.01                        # a fraction: at most
//! output_tokens_per_s = { min = 500 }      # throughput: at least
//! [slo.variants."chat-small"]              # the same keys, for one variant
//! "itl.p50" = "30ms"
//! ```
//! A bare value is a bound in the direction that makes sense for the metric
//! (latency, errors, cost: at most; throughput: at least). The same rules
//! read `--slo` on the command line (`apply_overrides`).

use serde::{Deserialize, Serialize};

use super::validate::Problems;
use super::{KeyPath, Variant, file};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// A variant's name, or `None` for the whole run.
    pub variant: Option<String>,
    pub metric: SloMetric,
    pub bound: Bound,
    /// Milliseconds for latencies; a fraction, a rate or USD otherwise.
    pub threshold: f64,
    /// The key as written, e.g. `ttft.p95`.
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloMetric {
    Latency(LatencyMetric, Stat),
    ErrorRate,
    RequestsPerS,
    OutputTokensPerS,
    CostUsd,
    /// Good requests per second (`[goodput]`).
    Goodput,
    /// Good requests over the requests that ended (`[goodput]`).
    GoodFraction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMetric {
    Ttft,
    TtftService,
    E2e,
    E2eService,
    Itl,
    Tpot,
    QueueDelay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

const LATENCIES: &[(&str, LatencyMetric)] = &[
    ("ttft", LatencyMetric::Ttft),
    ("ttft_service", LatencyMetric::TtftService),
    ("e2e", LatencyMetric::E2e),
    ("e2e_service", LatencyMetric::E2eService),
    ("itl", LatencyMetric::Itl),
    ("tpot", LatencyMetric::Tpot),
    ("queue_delay", LatencyMetric::QueueDelay),
];

const STATS: &[(&str, Stat)] = &[
    ("p50", Stat::P50),
    ("p90", Stat::P90),
    ("p95", Stat::P95),
    ("p99", Stat::P99),
    ("p999", Stat::P999),
    ("max", Stat::Max),
    ("mean", Stat::Mean),
];

const OTHERS: &[(&str, SloMetric)] = &[
    ("error_rate", SloMetric::ErrorRate),
    ("requests_per_s", SloMetric::RequestsPerS),
    ("output_tokens_per_s", SloMetric::OutputTokensPerS),
    ("cost_usd", SloMetric::CostUsd),
    ("goodput", SloMetric::Goodput),
    ("good_fraction", SloMetric::GoodFraction),
];

pub(super) fn parse(table: Option<&toml::Table>, variants: &[Variant], p: &mut Problems) -> Vec<Slo> {
    let mut out = Vec::new();
    let Some(table) = table else { return out };
    for (key, value) in table {
        if key == "variants" {
            let Some(per) = value.as_table() else {
                p.push("slo.variants", "must be a table of [slo.variants.<variant name>] tables");
                continue;
            };
            for (name, t) in per {
                let at = KeyPath::root("slo").key("variants").key(name);
                if !p.check(variants.iter().any(|v| &v.name == name), at.clone(), || {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    format!("no variant named {name:?}; variants: {names:?}")
                }) {
                    continue;
                }
                match t.as_table() {
                    Some(t) => {
                        for (k, v) in t {
                            out.extend(one(Some(name), k, v, at.clone().key(k), p));
                        }
                    }
                    None => p.push(at, "must be a table of objectives"),
                }
            }
        } else {
            out.extend(one(None, key, value, KeyPath::root("slo").key(key), p));
        }
    }
    out
}

/// Command-line objectives (`--slo [VARIANT:]METRIC=VALUE`), read with the
/// rules of `[slo]`: METRIC is a key of the table, VALUE a value as the table
/// takes it (TOML; quotes around a duration may be left out), so
/// `ttft.p95=800ms`, `error_rate=0.01`, `requests_per_s={min=15}`,
/// `chat:itl.p50=30ms`. Each replaces the objective of the same variant and
/// metric, or is added. Every bad argument is reported, each named.
pub fn apply_overrides(
    objectives: &mut Vec<Slo>,
    args: &[String],
    variants: &[String],
) -> Result<(), ObjectiveError> {
    let mut errors = Vec::new();
    for arg in args {
        match parse_arg(arg, variants) {
            Ok(slo) => match objectives.iter_mut().find(|o| o.variant == slo.variant && o.key == slo.key) {
                Some(o) => *o = slo,
                None => objectives.push(slo),
            },
            Err(e) => errors.push(format!("--slo {arg:?}: {e}")),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ObjectiveError(errors.join("\n"))) }
}

/// `--slo` arguments that cannot be used, every one named: bad input.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ObjectiveError(String);

impl crate::error::InputProblem for ObjectiveError {}

fn parse_arg(arg: &str, variants: &[String]) -> Result<Slo, String> {
    // Variant names may hold ':' and '=' (a sweep names them
    // `chat/m/max_tokens=64`), so known names are matched first, longest first.
    let scoped = variants
        .iter()
        .filter(|v| arg.strip_prefix(v.as_str()).is_some_and(|rest| rest.starts_with(':')))
        .max_by_key(|v| v.len());
    let (variant, rest) = match scoped {
        Some(v) => (Some(v.as_str()), &arg[v.len() + 1..]),
        None => (None, arg),
    };
    let Some((key, value)) = rest.split_once('=') else {
        return Err("write [VARIANT:]METRIC=VALUE, e.g. ttft.p95=800ms or chat:error_rate=0.01".into());
    };
    let key = key.trim();
    if let (None, Some((name, _))) = (variant, key.split_once(':')) {
        return Err(format!("no variant named {name:?}; variants: {variants:?}"));
    }
    let value = value.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let mut p = Problems(Vec::new());
    match one(variant, key, &value, KeyPath::root(key), &mut p) {
        Some(slo) if p.0.is_empty() => Ok(slo),
        _ => Err(p.0.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("; ")),
    }
}

fn one(variant: Option<&str>, key: &str, value: &toml::Value, at: KeyPath, p: &mut Problems) -> Option<Slo> {
    let Some(metric) = metric(key) else {
        let lat: Vec<&str> = LATENCIES.iter().map(|(n, _)| *n).collect();
        let stats: Vec<&str> = STATS.iter().map(|(n, _)| *n).collect();
        let others: Vec<&str> = OTHERS.iter().map(|(n, _)| *n).collect();
        p.push(
            at,
            format!(
                "unknown metric {key:?}: use <{}>.<{}>, or one of {}",
                lat.join("|"),
                stats.join("|"),
                others.join(", ")
            ),
        );
        return None;
    };
    let natural = match metric {
        SloMetric::RequestsPerS
        | SloMetric::OutputTokensPerS
        | SloMetric::Goodput
        | SloMetric::GoodFraction => Bound::Min,
        _ => Bound::Max,
    };
    let (bound, raw) = match value {
        toml::Value::Table(t) => match (t.get("max"), t.get("min"), t.len()) {
            (Some(v), None, 1) => (Bound::Max, v),
            (None, Some(v), 1) => (Bound::Min, v),
            _ => {
                p.push(at, format!("write a bound as {{ max = ... }} or {{ min = ... }}, got {value}"));
                return None;
            }
        },
        v => (natural, v),
    };
    let threshold = match metric {
        SloMetric::Latency(..) => match raw.as_str().map(file::parse_duration) {
            Some(Ok(d)) => d.as_secs_f64() * 1000.0,
            Some(Err(e)) => {
                p.push(at, e);
                return None;
            }
            None => {
                p.push(at, format!("a latency needs a duration with its unit, e.g. \"800ms\", got {raw}"));
                return None;
            }
        },
        _ => match raw.as_float().or_else(|| raw.as_integer().map(|i| i as f64)) {
            Some(x) if x.is_finite() && x >= 0.0 => x,
            _ => {
                p.push(at, format!("must be a number >= 0, got {raw}"));
                return None;
            }
        },
    };
    if matches!(metric, SloMetric::ErrorRate | SloMetric::GoodFraction) {
        p.check(threshold <= 1.0, at, || {
            format!("{key} is a fraction from 0 to 1 (0.01 = 1%), got {threshold:?}")
        });
    }
    Some(Slo { variant: variant.map(str::to_owned), metric, bound, threshold, key: key.to_owned() })
}

/// The metric of an `[slo]` key such as `ttft.p95` or `error_rate`.
pub fn metric(key: &str) -> Option<SloMetric> {
    if let Some((_, m)) = OTHERS.iter().find(|(n, _)| *n == key) {
        return Some(*m);
    }
    let (name, stat) = key.rsplit_once('.')?;
    let (_, m) = LATENCIES.iter().find(|(n, _)| *n == name)?;
    let (_, s) = STATS.iter().find(|(n, _)| *n == stat)?;
    Some(SloMetric::Latency(*m, *s))
}

#[cfg(test)]
mod tests;

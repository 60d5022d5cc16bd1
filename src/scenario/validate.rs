//! From the file as written to a `Scenario`: every rule, every problem.
//!
//! Checks do not stop at the first problem: a user fixing a scenario sees all
//! of them at once, each with its line, column, key, value and what is
//! allowed. Only a TOML syntax or type error stops early (serde reports one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use llmload_mock::SimConfig;
use sha2::{Digest, Sha256};

use super::file::{self, PriceFile, PromptTokensFile, ScenarioFile, StopFile, TargetKind, VariantFile};
use super::locate::{self, KeyPath};
use super::sweep::{self, Expanded};
use super::*;

/// A rule broken at a key path; located in the source at the end.
pub(super) struct Problems(Vec<(KeyPath, String)>);

impl Problems {
    /// Records `message` at `key` unless `ok`; returns `ok`.
    pub(super) fn check(
        &mut self,
        ok: bool,
        key: impl Into<KeyPath>,
        message: impl FnOnce() -> String,
    ) -> bool {
        if !ok {
            self.0.push((key.into(), message()));
        }
        ok
    }

    pub(super) fn push(&mut self, key: impl Into<KeyPath>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }
}

impl From<&str> for KeyPath {
    /// A dotted path without indices: `"load.rate"`.
    fn from(path: &str) -> KeyPath {
        path.split('.').fold(KeyPath::default(), |p, k| p.key(k))
    }
}

pub(super) fn parse(source: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let raw: ScenarioFile = toml::from_str(source).map_err(|e| {
        let (line, column) = e.span().map(|s| locate::position_at(source, s.start)).unzip();
        ScenarioError {
            file: file.clone(),
            problems: vec![Problem { line, column, message: e.message().trim_end().to_owned() }],
        }
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut problems = Problems(Vec::new());
    let scenario = build(raw, path, dir, &mut problems);
    if problems.0.is_empty() {
        if let Some(mut s) = scenario {
            s.sha256 = Sha256::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            return Ok(s);
        }
    }
    let mut seen = BTreeSet::new();
    let mut located: Vec<Problem> = problems
        .0
        .into_iter()
        .filter(|(key, msg)| seen.insert((key.to_string(), msg.clone())))
        .map(|(key, message)| {
            let (line, column) = locate::position_of(source, &key).unzip();
            Problem { line, column, message: format!("{key}: {message}") }
        })
        .collect();
    located.sort_by_key(|p| (p.line, p.column));
    Err(ScenarioError { file, problems: located })
}

fn build(raw: ScenarioFile, path: &Path, dir: &Path, p: &mut Problems) -> Option<Scenario> {
    p.check(!raw.name.trim().is_empty(), "name", || "must not be empty".into());
    let target = target(raw.target, p);
    let client = client(&raw.load, p);
    let load = load(raw.load, p);
    let seed = raw.seed.unwrap_or(0);
    let simulator = simulator(raw.simulator.unwrap_or_default(), seed, p);
    let (mut prices, pricing_source) = match &raw.pricing_file {
        Some(f) => pricing_file(&dir.join(f), p),
        None => (BTreeMap::new(), None),
    };
    for (model, price) in &raw.pricing {
        if let Some(pr) = check_price(price, KeyPath::root("pricing").key(model), p) {
            prices.insert(model.clone(), pr);
        }
    }
    p.check(!raw.variants.is_empty(), "variant", || "at least one [[variant]] is required".into());
    let (mode, expanded) = sweep::expand(&raw.variants, raw.sweep.as_ref(), p);
    simulator_models(target.as_ref(), simulator.as_ref(), &expanded, p);
    let mut names = BTreeSet::new();
    let mut variants = Vec::new();
    for e in expanded {
        let at = |k: &str| e.key(k);
        if !p.check(names.insert(e.name.clone()), at("name"), || {
            format!("duplicate variant name {:?}", e.name)
        }) {
            continue;
        }
        if let Some(v) = variant(&e, dir, &prices, p) {
            variants.push(v);
        }
    }
    let budget = budget(raw.budget, &variants, p);
    let slo = super::slo::parse(raw.slo.as_ref(), &variants, p);
    Some(Scenario {
        name: raw.name,
        seed,
        path: path.to_owned(),
        sha256: String::new(),
        target: target?,
        load: load?,
        client,
        simulator: simulator?,
        variants,
        sweep_mode: mode,
        budget,
        slo,
        pricing_source,
    })
}

fn target(raw: Option<file::TargetFile>, p: &mut Problems) -> Option<Target> {
    let Some(t) = raw else { return Some(Target::Simulator) };
    match t.kind {
        TargetKind::Simulator => {
            p.check(t.base_url.is_none(), "target.base_url", || {
                "not used with kind = \"simulator\" (the simulator picks its own port)".into()
            });
            p.check(t.api_key_env.is_none(), "target.api_key_env", || {
                "not used with kind = \"simulator\"".into()
            });
            Some(Target::Simulator)
        }
        TargetKind::Openai => {
            let Some(base_url) = t.base_url else {
                p.push(
                    "target.kind",
                    "kind = \"openai\" needs target.base_url (e.g. \"https://api.openai.com/v1\")",
                );
                return None;
            };
            let ok = match reqwest::Url::parse(&base_url) {
                Ok(url) => p.check(matches!(url.scheme(), "http" | "https"), "target.base_url", || {
                    format!("must be http:// or https://, got {base_url:?}")
                }),
                Err(e) => p.check(false, "target.base_url", || format!("not a URL ({e}): {base_url:?}")),
            };
            let api_key_env = t.api_key_env.unwrap_or_else(|| DEFAULT_API_KEY_ENV.to_owned());
            // A value that is not a variable name is probably a pasted key: say
            // so without repeating it.
            let env_ok = p.check(is_env_name(&api_key_env), "target.api_key_env", || {
                "must be the NAME of an environment variable holding the key (A-Z, 0-9, _), \
                 not the key itself"
                    .into()
            });
            (ok && env_ok)
                .then(|| Target::OpenAi { base_url: base_url.trim_end_matches('/').to_owned(), api_key_env })
        }
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn duration_positive(d: Option<Duration>, key: &str, p: &mut Problems) {
    if let Some(d) = d {
        p.check(!d.is_zero(), key, || "must be greater than 0, got \"0s\"".into());
    }
}

fn load(l: file::LoadFile, p: &mut Problems) -> Option<Load> {
    let staged = !l.stages.is_empty();
    if staged {
        for (set, k) in [
            (l.concurrency.is_some(), "concurrency"),
            (l.rate.is_some(), "rate"),
            (l.duration.is_some(), "duration"),
        ] {
            p.check(!set, KeyPath::root("load").key(k), || {
                format!("not used with [[load.stages]]: each stage sets its own {k}")
            });
        }
    }
    let stage_closed: Vec<bool> = l.stages.iter().map(|s| s.concurrency.is_some()).collect();
    let closed = if staged { stage_closed[0] } else { l.concurrency.is_some() };
    if !staged {
        match (l.concurrency, l.rate) {
            (Some(_), Some(_)) => {
                p.push("load.rate", "set either concurrency (closed loop) or rate (open loop), not both");
            }
            (None, None) => {
                p.push(
                    "load",
                    "set concurrency (closed loop), rate (open loop, requests/s) or [[load.stages]]",
                );
            }
            _ => {}
        }
    }
    let mut stages = Vec::new();
    if staged {
        for (i, s) in l.stages.iter().enumerate() {
            let key = |k: &str| KeyPath::root("load").key("stages").index(i).key(k);
            let level = match (s.concurrency, s.rate) {
                (Some(c), None) => check_concurrency(c, key("concurrency"), p),
                (None, Some(r)) => check_rate(r, key("rate"), p),
                _ => {
                    p.push(key("duration"), "each stage sets exactly one of concurrency or rate");
                    None
                }
            };
            p.check(stage_closed[i] == closed, key(if closed { "rate" } else { "concurrency" }), || {
                "all stages must be closed loop (concurrency) or all open loop (rate), not a mix".into()
            });
            p.check(!s.duration.is_zero(), key("duration"), || "must be greater than 0".into());
            stages.push(Stage { duration: Some(s.duration), level: level.unwrap_or(1.0) });
        }
    } else {
        let level = match (l.concurrency, l.rate) {
            (Some(c), None) => check_concurrency(c, "load.concurrency".into(), p),
            (None, Some(r)) => check_rate(r, "load.rate".into(), p),
            _ => None,
        };
        p.check(l.duration.is_some() || l.requests.is_some(), "load", || {
            "set duration (e.g. \"20s\") and/or requests (a count) to say when the run stops".into()
        });
        duration_positive(l.duration, "load.duration", p);
        stages.push(Stage { duration: l.duration, level: level.unwrap_or(1.0) });
    }
    let mode = if closed {
        for (set, k) in [(l.arrival.is_some(), "arrival"), (l.max_in_flight.is_some(), "max_in_flight")] {
            p.check(!set, KeyPath::root("load").key(k), || "only applies to open loop (rate)".into());
        }
        LoadMode::Closed
    } else {
        p.check(l.think_time.is_none(), "load.think_time", || {
            "only applies to closed loop (concurrency): open-loop arrivals do not wait for answers".into()
        });
        let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        p.check((1..=100_000).contains(&max_in_flight), "load.max_in_flight", || {
            format!("must be 1..=100000, got {max_in_flight}")
        });
        LoadMode::Open { arrival: l.arrival.unwrap_or(Arrival::Constant), max_in_flight }
    };
    if let Some(n) = l.requests {
        p.check(n >= 1, "load.requests", || "must be at least 1, got 0".into());
    }
    duration_positive(l.timeout, "load.timeout", p);
    if let Some(r) = l.abort_on_error_rate {
        p.check(r > 0.0 && r <= 1.0, "load.abort_on_error_rate", || {
            format!("must be a fraction in (0, 1], e.g. 0.2 for 20%, got {r}")
        });
    }
    Some(Load {
        mode,
        stages,
        requests: l.requests,
        warmup: l.warmup.unwrap_or_default(),
        timeout: l.timeout.unwrap_or(DEFAULT_TIMEOUT),
        think_time: l.think_time.unwrap_or_default(),
        abort_on_error_rate: l.abort_on_error_rate,
    })
}

/// Timeouts and retries; a bad value is reported and replaced by its default
/// so the other checks still run.
fn client(l: &file::LoadFile, p: &mut Problems) -> ClientConfig {
    let total = l.timeout.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_TIMEOUT);
    let mut c = ClientConfig::defaults(total);
    for (value, key, slot) in [
        (l.connect_timeout, "load.connect_timeout", &mut c.connect_timeout),
        (l.first_byte_timeout, "load.first_byte_timeout", &mut c.first_byte_timeout),
        (l.idle_timeout, "load.idle_timeout", &mut c.idle_timeout),
    ] {
        duration_positive(value, key, p);
        if let Some(d) = value.filter(|d| !d.is_zero()) {
            *slot = d;
        }
    }
    if let Some(n) = l.retries {
        if p.check(n <= MAX_RETRIES, "load.retries", || format!("must be 0..={MAX_RETRIES}, got {n}")) {
            c.retries = n;
        }
    }
    if let Some(statuses) = &l.retry_on {
        for (i, &s) in statuses.iter().enumerate() {
            p.check((400..=599).contains(&s), KeyPath::root("load").key("retry_on").index(i), || {
                format!("must be an HTTP error status 400..=599, got {s}")
            });
        }
        c.retry_on = statuses.clone();
    }
    c
}

fn check_concurrency(c: u32, key: KeyPath, p: &mut Problems) -> Option<f64> {
    p.check((1..=100_000).contains(&c), key, || format!("must be 1..=100000 users, got {c}"))
        .then_some(f64::from(c))
}

fn check_rate(r: f64, key: KeyPath, p: &mut Problems) -> Option<f64> {
    p.check(r.is_finite() && r > 0.0 && r <= 1e6, key, || {
        format!("must be > 0 and <= 1000000 requests/s, got {r}")
    })
    .then_some(r)
}

fn simulator(s: llmload_mock::ProfileFile, seed: u64, p: &mut Problems) -> Option<SimConfig> {
    SimConfig::from_profile(s, seed)
        .map_err(|e| {
            let key = e.path.iter().fold(KeyPath::root("simulator"), |k, step| k.key(step));
            p.push(key, e.message);
        })
        .ok()
}

/// With a simulator target, every variant's model must be one it serves.
fn simulator_models(
    target: Option<&Target>,
    sim: Option<&SimConfig>,
    expanded: &[Expanded],
    p: &mut Problems,
) {
    let (Some(Target::Simulator), Some(sim)) = (target, sim) else { return };
    if sim.serve_any_model {
        return;
    }
    for e in expanded {
        let m = &e.file.model;
        p.check(sim.models.contains_key(m), e.key("model"), || {
            let known: Vec<&String> = sim.models.keys().collect();
            format!(
                "the simulator serves only {known:?} (its [simulator.models] tables), got {m:?}: add \
                 [simulator.models.{m:?}] or serve_any_model = true"
            )
        });
    }
}

fn check_price(pr: &PriceFile, key: KeyPath, p: &mut Problems) -> Option<Price> {
    let mut ok = true;
    for (v, k) in [(pr.input_per_1m, "input_per_1m"), (pr.output_per_1m, "output_per_1m")] {
        ok &= p.check(v.is_finite() && v >= 0.0, key.clone().key(k), || {
            format!("must be a price in USD per million tokens (>= 0), got {v}")
        });
    }
    ok.then_some(Price { input_per_1m: pr.input_per_1m, output_per_1m: pr.output_per_1m })
}

/// Prices from a pricing file, and a line saying where they come from.
fn pricing_file(path: &Path, p: &mut Problems) -> (BTreeMap<String, Price>, Option<String>) {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            p.push("pricing_file", format!("cannot read {shown}: {e}"));
            return (BTreeMap::new(), None);
        }
    };
    match toml::from_str::<file::PricingFile>(&text) {
        Ok(f) => {
            let mut inner = Problems(Vec::new());
            let prices = f
                .pricing
                .iter()
                .filter_map(|(m, pr)| {
                    Some((m.clone(), check_price(pr, KeyPath::root("pricing").key(m), &mut inner)?))
                })
                .collect();
            for (key, msg) in inner.0 {
                p.push("pricing_file", format!("{shown}: {key}: {msg}"));
            }
            let mut note = format!("prices from {shown}");
            if let Some(d) = f.as_of {
                note += &format!(", as of {d}");
            }
            if let Some(src) = f.source {
                note += &format!(" ({src})");
            }
            (prices, Some(note))
        }
        Err(e) => {
            let line = e.span().map(|s| locate::position_at(&text, s.start).0).unwrap_or(0);
            p.push("pricing_file", format!("{shown}:{line}: {}", e.message().trim_end()));
            (BTreeMap::new(), None)
        }
    }
}

fn variant(e: &Expanded, dir: &Path, prices: &BTreeMap<String, Price>, p: &mut Problems) -> Option<Variant> {
    let v: &VariantFile = &e.file;
    let at = |k: &str| e.key(k);
    let before = p.0.len();
    p.check(!v.name.trim().is_empty(), at("name"), || "must not be empty".into());
    let weight = v.weight.unwrap_or(1);
    p.check(weight >= 1, at("weight"), || format!("must be at least 1, got {weight}"));
    p.check(!v.model.trim().is_empty(), at("model"), || "must not be empty".into());
    p.check(v.max_tokens >= 1, at("max_tokens"), || format!("must be at least 1, got {}", v.max_tokens));
    let completions = v.endpoint == Endpoint::Completions;
    let n = v.n.unwrap_or(1);
    p.check((1..=128).contains(&n), at("n"), || format!("must be 1..=128, got {n}"));
    let stream = v.stream.unwrap_or(true);
    if let Some(b) = v.best_of {
        if p.check(completions, at("best_of"), || "only exists on endpoint = \"completions\"".into()) {
            p.check((1..=20).contains(&b), at("best_of"), || format!("must be 1..=20, got {b}"));
            p.check(b >= n, at("best_of"), || {
                format!("must be >= n ({n}), got {b}: best_of generates best_of and returns n")
            });
            p.check(!(stream && b > 1), at("best_of"), || {
                format!("best_of = {b} cannot be streamed (the API rejects it): set stream = false")
            });
        }
    }
    let stop = match &v.stop {
        None => Vec::new(),
        Some(StopFile::One(s)) => vec![s.clone()],
        Some(StopFile::Many(list)) => list.clone(),
    };
    p.check(stop.len() <= 4, at("stop"), || format!("at most 4 stop sequences, got {}", stop.len()));
    p.check(stop.iter().all(|s| !s.is_empty()), at("stop"), || {
        "stop sequences must not be empty strings".into()
    });
    p.check(stream || v.include_usage.is_none(), at("include_usage"), || {
        "only applies when stream = true".into()
    });
    let batch = v.batch.unwrap_or(1);
    p.check((1..=MAX_BATCH).contains(&batch), at("batch"), || {
        format!("must be 1..={MAX_BATCH}, got {batch}")
    });
    p.check(batch == 1 || completions, at("batch"), || {
        format!("batch = {batch} needs endpoint = \"completions\" (chat takes one conversation per request)")
    });
    let sampling = sampling(v, &at, p);
    let extra_body = match &v.extra_body {
        None => serde_json::Map::new(),
        Some(t) => match serde_json::to_value(t) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                p.push(at("extra_body"), "must be a table of JSON-compatible values");
                serde_json::Map::new()
            }
        },
    };
    if let Some(s) = &v.system {
        p.check(!completions, at("system"), || "a system prompt needs endpoint = \"chat\"".into());
        p.check(!s.is_empty(), at("system"), || "must not be empty".into());
    }
    let prompt = prompt(v, dir, &at, p);
    let system_tokens = v.system.as_deref().map_or(0, |s| crate::workload::tokens::count(&v.model, s) as u32);
    (p.0.len() == before).then(|| Variant {
        name: e.name.clone(),
        weight,
        endpoint: v.endpoint,
        model: v.model.clone(),
        max_tokens: v.max_tokens,
        n,
        best_of: v.best_of,
        stop,
        stream,
        include_usage: v.include_usage.unwrap_or(stream),
        sampling,
        extra_body,
        batch,
        prompt: prompt.unwrap_or(PromptSource::Tokens(TokenSpread::Fixed(1))),
        system: v.system.clone(),
        system_tokens,
        price: prices.get(&v.model).copied(),
    })
}

fn sampling(
    v: &VariantFile,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let ranged = [
        ("temperature", v.temperature, 0.0, 2.0),
        ("top_p", v.top_p, 0.0, 1.0),
        ("presence_penalty", v.presence_penalty, -2.0, 2.0),
        ("frequency_penalty", v.frequency_penalty, -2.0, 2.0),
    ];
    for (k, val, lo, hi) in ranged {
        if let Some(x) = val {
            if p.check(x.is_finite() && (lo..=hi).contains(&x), at(k), || {
                format!("must be {lo}..={hi}, got {x}")
            }) {
                m.insert(k.into(), serde_json::json!(x));
            }
        }
    }
    if let Some(s) = v.seed {
        m.insert("seed".into(), serde_json::json!(s));
    }
    if let Some(bias) = &v.logit_bias {
        for (tok, b) in bias {
            p.check(tok.parse::<u32>().is_ok(), at("logit_bias"), || {
                format!("keys are token ids, got {tok:?}")
            });
            p.check((-100..=100).contains(b), at("logit_bias"), || {
                format!("biases are -100..=100, got {b} for {tok}")
            });
        }
        m.insert("logit_bias".into(), serde_json::json!(bias));
    }
    m
}

fn prompt(
    v: &VariantFile,
    dir: &Path,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> Option<PromptSource> {
    let given = [v.prompt_tokens.is_some(), v.prompt.is_some(), v.prompts_file.is_some()];
    if given.iter().filter(|&&g| g).count() != 1 {
        p.push(at("prompt_tokens"), "set exactly one of prompt_tokens, prompt or prompts_file");
        return None;
    }
    p.check(v.prompts_order.is_none() || v.prompts_file.is_some(), at("prompts_order"), || {
        "only applies with prompts_file".into()
    });
    if let Some(t) = &v.prompt_tokens {
        let key = at("prompt_tokens");
        let spread = match t {
            PromptTokensFile::Fixed(n) => TokenSpread::Fixed(*n),
            PromptTokensFile::Spread(s) => match (s.min, s.max, s.mean, s.stddev) {
                (Some(min), Some(max), None, None) => TokenSpread::Uniform { min, max },
                (min, max, Some(mean), Some(stddev)) => {
                    p.check(
                        mean.is_finite() && mean >= 1.0 && stddev.is_finite() && stddev >= 0.0,
                        key.clone(),
                        || format!("needs mean >= 1 and stddev >= 0, got mean {mean}, stddev {stddev}"),
                    );
                    let max = max.unwrap_or((mean + 4.0 * stddev).ceil().min(1e6) as u32);
                    TokenSpread::Normal { mean, stddev, min: min.unwrap_or(1), max }
                }
                _ => {
                    p.push(key, "write a count, { min, max } (uniform) or { mean, stddev } (normal, optional min/max)");
                    return None;
                }
            },
        };
        let (lo, hi) = match spread {
            TokenSpread::Fixed(n) => (n, n),
            TokenSpread::Uniform { min, max } | TokenSpread::Normal { min, max, .. } => (min, max),
        };
        let ok = p.check(lo >= 1 && hi <= 1_000_000 && lo <= hi, at("prompt_tokens"), || {
            format!("token counts must be 1..=1000000 with min <= max, got {lo}..={hi}")
        });
        return ok.then_some(PromptSource::Tokens(spread));
    }
    if let Some(text) = &v.prompt {
        p.check(!text.is_empty(), at("prompt"), || "must not be empty".into());
        let tokens = crate::workload::tokens::count(&v.model, text) as u32;
        return Some(PromptSource::Literal { text: text.clone(), tokens });
    }
    let rel = v.prompts_file.as_deref().unwrap_or_default();
    let path = dir.join(rel);
    match crate::workload::read_prompts_file(&path, &v.model, v.endpoint) {
        Ok(prompts) => Some(PromptSource::File {
            path,
            prompts: Arc::new(prompts),
            order: v.prompts_order.unwrap_or(PromptOrder::Random),
        }),
        Err(e) => {
            p.push(at("prompts_file"), e);
            None
        }
    }
}

fn budget(b: Option<file::BudgetFile>, variants: &[Variant], p: &mut Problems) -> Budget {
    let Some(b) = b else { return Budget::default() };
    for (v, k) in [(b.max_usd, "max_usd"), (b.warn_usd, "warn_usd")] {
        if let Some(x) = v {
            p.check(x.is_finite() && x > 0.0, KeyPath::root("budget").key(k), || {
                format!("must be > 0 USD, got {x}")
            });
        }
    }
    if let (Some(w), Some(m)) = (b.warn_usd, b.max_usd) {
        p.check(w <= m, "budget.warn_usd", || format!("must not exceed max_usd ({m}), got {w}"));
    }
    p.check(b.max_usd.is_some() || b.warn_usd.is_some(), "budget", || "set max_usd and/or warn_usd".into());
    let unpriced: BTreeSet<&str> =
        variants.iter().filter(|v| v.price.is_none()).map(|v| v.model.as_str()).collect();
    p.check(unpriced.is_empty(), "budget", || {
        format!("a budget needs a price for every model: add [pricing.<model>] for {unpriced:?}")
    });
    Budget { max_usd: b.max_usd, warn_usd: b.warn_usd }
}

#[cfg(test)]
mod client_tests {
    use std::path::Path;

    use super::*;

    fn with_load(extra: &str) -> Result<Scenario, ScenarioError> {
        let src = format!(
            "name = \"t\"\n[load]\nconcurrency = 1\nrequests = 1\n{extra}\n\
             [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 5\n\
             [simulator]\nserve_any_model = true\n"
        );
        Scenario::parse(&src, Path::new("s.toml"))
    }

    #[test]
    fn client_keys_default_from_the_total_timeout() {
        let s = with_load("timeout = \"5s\"").expect("valid");
        assert_eq!(s.client, ClientConfig::defaults(Duration::from_secs(5)));
        assert_eq!(s.client.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.client.first_byte_timeout, Duration::from_secs(5));
        assert_eq!(s.client.retries, 0);
        assert_eq!(s.client.retry_on, DEFAULT_RETRY_ON);
    }

    #[test]
    fn client_keys_are_read() {
        let s = with_load(
            "connect_timeout = \"2s\"\nfirst_byte_timeout = \"30s\"\nidle_timeout = \"5s\"\n\
             retries = 3\nretry_on = [429, 503]",
        )
        .expect("valid");
        let c = &s.client;
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.first_byte_timeout, Duration::from_secs(30));
        assert_eq!(c.idle_timeout, Duration::from_secs(5));
        assert_eq!((c.retries, c.retry_on.as_slice()), (3, &[429, 503][..]));
    }

    #[test]
    fn bad_client_keys_are_all_reported_with_their_line() {
        let e = with_load("idle_timeout = \"0s\"\nconnect_timeout = \"0ms\"\nretries = 11\nretry_on = [429, 200]")
            .expect_err("invalid")
            .to_string();
        assert!(e.contains("s.toml:5:1: load.idle_timeout: must be greater than 0"), "{e}");
        assert!(e.contains("load.connect_timeout: must be greater than 0"), "{e}");
        assert!(e.contains("s.toml:7:1: load.retries: must be 0..=10, got 11"), "{e}");
        assert!(e.contains("load.retry_on[1]: must be an HTTP error status 400..=599, got 200"), "{e}");
    }
}

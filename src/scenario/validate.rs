//! From the file as written to a `Scenario`: every rule, every problem.
//!
//! Checks do not stop at the first problem: a user fixing a scenario sees all
//! of them at once, each with its line, column, key, value and what is
//! allowed. Only a TOML syntax or type error stops early (serde reports one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use llmload_mock::SimConfig;
use sha2::{Digest, Sha256};

use super::decode::decode;
use super::file::{self, PriceFile, ScenarioFile};
use super::limits;
use super::load_rules::{client, load};
use super::locate::{self, KeyPath, Step};
use super::sweep::{self, Expanded};
use super::target_rules::{Chosen, target};
use super::tokenizer_rules::{Given, tokenizers};
use super::variant_rules::variant;
use super::*;

/// A rule broken at a key path; located in the source at the end.
pub(super) struct Problems(pub(super) Vec<(KeyPath, String)>);

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

/// `simulated`: a simulator profile that replaces the scenario's target
/// (`run --simulator`): the scenario then runs on the embedded simulator with
/// it, whatever its `[target]`, `[profiles]` and `[simulator]` say.
pub(super) fn parse(
    source: &str,
    path: &Path,
    profile: Option<&str>,
    simulated: Option<SimConfig>,
) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let decoded = decode::<ScenarioFile>(source).map_err(|e| {
        let (line, column) = e.offset.map(|o| locate::position_at(source, o)).unzip();
        ScenarioError { file: file.clone(), problems: vec![Problem { line, column, message: e.message }] }
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rules = Problems(Vec::new());
    let scenario = decoded.file.and_then(|raw| build(raw, path, dir, profile, simulated, &mut rules));
    if decoded.problems.is_empty()
        && rules.0.is_empty()
        && let Some(mut s) = scenario
    {
        s.sha256 = Sha256::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        return Ok(s);
    }
    // A key taken out for a wrong type or stood in for when missing is
    // reported once, by decoding: the rules' view of it is a consequence.
    let derived = |key: &KeyPath, msg: &str| {
        decoded.touched.iter().any(|t| {
            let named = matches!(t.0.last(), Some(Step::Key(k)) if msg.contains(k.as_str()));
            key.0.starts_with(&t.0) || (t.0.starts_with(&key.0) && named)
        })
    };
    let mut problems = decoded.problems;
    problems.extend(rules.0.into_iter().filter(|(k, m)| !derived(k, m)));
    let mut seen = BTreeSet::new();
    let mut located: Vec<Problem> = problems
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

fn build(
    raw: ScenarioFile,
    path: &Path,
    dir: &Path,
    profile: Option<&str>,
    simulated: Option<SimConfig>,
    p: &mut Problems,
) -> Option<Scenario> {
    p.check(!raw.name.trim().is_empty(), "name", || "must not be empty".into());
    if let Some(problem) = limits::long_name(&raw.name, limits::NAME_CHARS) {
        p.push("name", problem);
    }
    let client = client(&raw.load, p);
    let load = load(raw.load, dir, p);
    let seed = raw.seed.unwrap_or(0);
    let replaced = simulated.is_some();
    let simulator = match simulated {
        Some(config) => Some(SimConfig { seed, ..config }),
        None => simulator(raw.simulator.unwrap_or_default(), seed, p),
    };
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
    let given = Given {
        target: raw.target.as_ref(),
        profiles: &raw.profiles,
        profile: profile.or(raw.default_profile.as_deref()),
        per_model: &raw.tokenizers,
        dir,
    };
    let tokenizers = tokenizers(given, expanded.iter().map(|e| e.file.model.as_str()), p);
    let chosen = Chosen { profile, default: raw.default_profile.as_deref(), dir };
    let target =
        if replaced { Some(Target::Simulator) } else { target(raw.target, &raw.profiles, chosen, p) };
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
        let trace = load.as_ref().and_then(|l| l.trace.as_deref());
        if let Some(v) = variant(&e, dir, &prices, &tokenizers, trace, p) {
            variants.push(v);
        }
    }
    let budget = budget(raw.budget, &variants, p);
    let client_limit = client_limit(raw.client_limit, p);
    let slo = super::slo::parse(raw.slo.as_ref(), &variants, p);
    let goodput = raw.goodput.map(|g| {
        for (d, k) in [(g.ttft, "ttft"), (g.tpot, "tpot"), (g.itl, "itl"), (g.e2e, "e2e")] {
            p.check(d.is_none_or(|d| !d.is_zero()), KeyPath::root("goodput").key(k), || {
                "must be a duration greater than 0".into()
            });
        }
        p.check([g.ttft, g.tpot, g.itl, g.e2e].iter().any(Option::is_some), "goodput", || {
            "set at least one of ttft, tpot, itl, e2e (each a limit per request)".into()
        });
        GoodputObjectives { ttft: g.ttft, tpot: g.tpot, itl: g.itl, e2e: g.e2e }
    });
    let search = search(raw.search, p);
    for o in slo.iter().filter(|o| matches!(o.metric, SloMetric::Goodput | SloMetric::GoodFraction)) {
        p.check(goodput.is_some(), KeyPath::root("slo").key(&o.key), || {
            "needs [goodput]: the per-request objectives that make a request good (e.g. ttft = \"500ms\")"
                .into()
        });
    }
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
        client_limit,
        slo,
        goodput,
        search,
        pricing_source,
    })
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
    let cached = pr.cached_input_per_1m.map(|v| (v, "cached_input_per_1m"));
    for (v, k) in
        [(pr.input_per_1m, "input_per_1m"), (pr.output_per_1m, "output_per_1m")].into_iter().chain(cached)
    {
        ok &= p.check(v.is_finite() && v >= 0.0, key.clone().key(k), || {
            format!("must be a price in USD per million tokens (0 or more), got {v:?}")
        });
    }
    ok.then_some(Price {
        input_per_1m: pr.input_per_1m,
        output_per_1m: pr.output_per_1m,
        cached_input_per_1m: pr.cached_input_per_1m,
    })
}

/// Prices from a pricing file, and a line saying where they come from.
fn pricing_file(path: &Path, p: &mut Problems) -> (BTreeMap<String, Price>, Option<String>) {
    let shown = path.display();
    let text = match limits::read_text(path, limits::PRICING_BYTES) {
        Ok(t) => t,
        Err(e) => {
            p.push("pricing_file", e);
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

fn budget(b: Option<file::BudgetFile>, variants: &[Variant], p: &mut Problems) -> Budget {
    let Some(b) = b else { return Budget::default() };
    for (v, k) in [(b.max_usd, "max_usd"), (b.warn_usd, "warn_usd")] {
        if let Some(x) = v {
            p.check(x.is_finite() && x > 0.0, KeyPath::root("budget").key(k), || {
                format!("must be more than 0 USD, got {x:?}")
            });
        }
    }
    if let (Some(w), Some(m)) = (b.warn_usd, b.max_usd) {
        p.check(w <= m, "budget.warn_usd", || format!("must not exceed max_usd ({m:?}), got {w:?}"));
    }
    p.check(b.max_usd.is_some() || b.warn_usd.is_some(), "budget", || "set max_usd and/or warn_usd".into());
    let unpriced: BTreeSet<&str> =
        variants.iter().filter(|v| v.price.is_none()).map(|v| v.model.as_str()).collect();
    p.check(unpriced.is_empty(), "budget", || {
        format!("a budget needs a price for every model: add [pricing.<model>] for {unpriced:?}")
    });
    Budget { max_usd: b.max_usd, warn_usd: b.warn_usd }
}

fn search(s: Option<file::SearchFile>, p: &mut Problems) -> Search {
    let d = Search::default();
    let Some(s) = s else { return d };
    let at = |k: &str| KeyPath::root("search").key(k);
    let search = Search {
        probe: s.probe.unwrap_or(d.probe),
        warmup: s.warmup.unwrap_or(d.warmup),
        precision: s.precision.unwrap_or(d.precision),
        max_probes: s.max_probes.unwrap_or(d.max_probes),
        min_rate: s.min_rate,
        max_rate: s.max_rate.unwrap_or(d.max_rate),
    };
    p.check(!search.probe.is_zero(), at("probe"), || "must be a duration greater than 0".into());
    p.check((0.005..=0.5).contains(&search.precision), at("precision"), || {
        format!("must be a fraction from 0.005 to 0.5 (0.05 = 5%), got {:?}", search.precision)
    });
    p.check((3..=50).contains(&search.max_probes), at("max_probes"), || {
        format!("must be a whole number from 3 to 50, got {}", search.max_probes)
    });
    let rate_ok = |r: f64| r.is_finite() && (limits::MIN_RATE..=limits::MAX_RATE).contains(&r);
    p.check(rate_ok(search.max_rate), at("max_rate"), || {
        format!(
            "must be a rate from {} to {} requests/s, got {:?}",
            limits::MIN_RATE,
            limits::MAX_RATE,
            search.max_rate
        )
    });
    if let Some(m) = search.min_rate {
        p.check(rate_ok(m) && m <= search.max_rate, at("min_rate"), || {
            format!("must be a rate from {} requests/s up to max_rate, got {m:?}", limits::MIN_RATE)
        });
    }
    search
}

fn client_limit(c: Option<file::ClientLimitFile>, p: &mut Problems) -> ClientLimit {
    let Some(c) = c else { return ClientLimit::default() };
    for (v, k) in [(c.requests_per_minute, "requests_per_minute"), (c.tokens_per_minute, "tokens_per_minute")]
    {
        if let Some(x) = v {
            p.check(x.is_finite() && x > 0.0, KeyPath::root("client_limit").key(k), || {
                format!("must be more than 0, got {x:?}")
            });
        }
    }
    p.check(c.requests_per_minute.is_some() || c.tokens_per_minute.is_some(), "client_limit", || {
        "set requests_per_minute and/or tokens_per_minute".into()
    });
    ClientLimit { requests_per_minute: c.requests_per_minute, tokens_per_minute: c.tokens_per_minute }
}

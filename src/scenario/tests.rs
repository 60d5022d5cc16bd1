use std::path::Path;
use std::time::Duration;

use super::*;

const GOOD: &str = r#"
name = "demo"
seed = 7

[load]
concurrency = 4
duration = "3s"
warmup = "500ms"

[simulator]
ttft = "100ms"
itl = "10ms"
jitter = 0.0
serve_any_model = true

[simulator.models.big]
itl = "30ms"

[[variant]]
name = "chat"
endpoint = "chat"
model = "big"
max_tokens = 32
prompt_tokens = 100

[[variant]]
name = "completions"
weight = 3
endpoint = "completions"
model = "small"
max_tokens = 8
stream = false
prompt_tokens = 10
"#;

fn parse(src: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(src, Path::new("s.toml"))
}

fn error(src: &str) -> String {
    parse(src).expect_err("scenario should be rejected").to_string()
}

#[test]
fn parses_a_complete_scenario() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.name, "demo");
    assert_eq!(s.seed, 7);
    assert_eq!(s.target, Target::Simulator);
    assert_eq!(s.load.mode, LoadMode::Closed);
    assert_eq!(s.load.stages, [Stage { duration: Some(Duration::from_secs(3)), level: 4.0 }]);
    assert_eq!(s.load.warmup, Duration::from_millis(500));
    assert_eq!(s.load.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.simulator.seed, 7);
    assert_eq!(s.simulator.default_profile.ttft, Duration::from_millis(100));
    let big = &s.simulator.models["big"];
    assert_eq!((big.ttft, big.itl), (Duration::from_millis(100), Duration::from_millis(30)));
    assert_eq!(s.variants.len(), 2);
    assert!(s.variants[0].stream && s.variants[0].include_usage, "stream and usage default on");
    assert_eq!(s.variants[0].weight, 1);
    assert!(!s.variants[1].stream && !s.variants[1].include_usage);
    assert_eq!(s.sha256.len(), 64);
}

#[test]
fn rejects_unknown_scenario_key_with_its_line() {
    let src = GOOD.replace("warmup = \"500ms\"", "warmup = \"500ms\"\nconcurency = 3");
    let e = error(&src);
    assert!(e.starts_with("s.toml:9:"), "{e}");
    assert!(e.contains("concurency"), "{e}");
}

#[test]
fn rejects_unknown_variant_key_with_its_line() {
    let src = GOOD.replace("max_tokens = 8", "max_tokens = 8\ntemperatur = 0.5");
    let e = error(&src);
    assert!(e.starts_with("s.toml:32:"), "{e}");
    assert!(e.contains("temperatur"), "{e}");
}

#[test]
fn rejects_duration_without_unit() {
    let e = error(&GOOD.replace("duration = \"3s\"", "duration = \"3\""));
    assert!(
        e.starts_with("s.toml:7:")
            && e.contains("must be a duration such as \"30s\": a number and a unit (ms, s, m, h), got \"3\""),
        "{e}"
    );
}

#[test]
fn validation_errors_name_key_and_line() {
    let e = error(&GOOD.replace("max_tokens = 8", "max_tokens = 0"));
    assert_eq!(e, "s.toml:31:1: variant[1].max_tokens: must be at least 1, got 0");
    let e = error(&GOOD.replace("concurrency = 4", "concurrency = 4\nrate = 5.0"));
    assert!(e.starts_with("s.toml:7:1: load.rate:"), "{e}");
    let e = error(&GOOD.replace("name = \"completions\"", "name = \"chat\""));
    assert!(e.starts_with("s.toml:27:1: variant[1].name: duplicate"), "{e}");
}

#[test]
fn open_loop_defaults() {
    let s = parse(&GOOD.replace("concurrency = 4", "rate = 20.5")).unwrap();
    assert_eq!(
        s.load.mode,
        LoadMode::Open { arrival: Arrival::Constant, max_in_flight: DEFAULT_MAX_IN_FLIGHT }
    );
    assert_eq!(s.load.stages[0].level, 20.5);
    let s = parse(&GOOD.replace("concurrency = 4", "rate = 2\narrival = \"poisson\"\nmax_in_flight = 8"));
    assert!(matches!(
        s.unwrap().load.mode,
        LoadMode::Open { arrival: Arrival::Poisson, max_in_flight: 8, .. }
    ));
}

#[test]
fn rejects_cross_field_mistakes() {
    assert!(
        error(&GOOD.replace("concurrency = 4", "")).contains("load: set concurrency"),
        "{}",
        error(&GOOD.replace("concurrency = 4", ""))
    );
    assert!(error(&GOOD.replace("duration = \"3s\"", "")).contains("duration"));
    assert!(
        error(&GOOD.replace("concurrency = 4", "concurrency = 4\narrival = \"poisson\""))
            .contains("load.arrival")
    );
    assert!(
        error(&GOOD.replace("stream = false", "stream = false\ninclude_usage = true"))
            .contains("include_usage")
    );
    assert!(error(&GOOD.replace("jitter = 0.0", "jitter = -1.0")).contains("simulator.jitter"));
    assert!(error(&GOOD.replace("endpoint = \"chat\"", "endpoint = \"embeddings\"")).contains("embeddings"));
}

#[test]
fn openai_target_needs_base_url_and_keeps_only_the_variable_name() {
    let with = |t: &str| GOOD.replace("[load]", &format!("{t}\n[load]"));
    let e = error(&with("[target]\nkind = \"openai\"\nbase_url = \"ftp://x\""));
    assert!(e.contains("target.base_url"), "{e}");
    let s = parse(&with("[target]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1/\"")).unwrap();
    assert_eq!(
        s.target,
        Target::OpenAi(Box::new(Live {
            base_url_from: "target.base_url".into(),
            ..Live::plain("http://127.0.0.1:8000/v1")
        }))
    );
    let e =
        error(&with("[target]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\napi_key_env = \"sk-abc-123\""));
    assert!(e.contains("api_key_env"), "{e}");
}

/// A completions variant appended to GOOD, with `extra` lines.
fn with_variant(extra: &str) -> String {
    format!(
        "{GOOD}\n[[variant]]\nname = \"x\"\nendpoint = \"completions\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 2\n{extra}\n"
    )
}

/// The problem message for the appended variant; asserts exit-2 material:
/// file, line and column, key and value.
fn problem(extra: &str, key: &str, value: &str) -> String {
    let src = with_variant(extra);
    let e = error(&src);
    let line = src.lines().position(|l| l.starts_with(key.rsplit('.').next().unwrap())).map(|i| i + 1);
    assert!(e.contains(key), "names {key}: {e}");
    assert!(e.contains(value), "names the value {value}: {e}");
    if let Some(line) = line {
        assert!(e.contains(&format!("s.toml:{line}:")), "line {line}: {e}");
    }
    e
}

#[test]
fn rejects_what_the_api_would_reject() {
    problem("n = 3\nbest_of = 2\nstream = false", "variant[2].best_of", "got 2");
    problem("best_of = 2", "variant[2].best_of", "best_of = 2 cannot be streamed");
    problem("batch = 21", "variant[2].batch", "got 21");
    let e = error(&with_variant("").replace("max_tokens = 4", "max_tokens = 0"));
    assert!(e.contains("s.toml:39:1: variant[2].max_tokens: must be at least 1, got 0"), "{e}");
    let e = error(&GOOD.replace("max_tokens = 32", "max_tokens = 32\nbatch = 2"));
    assert!(e.contains("variant[0].batch: batch = 2 needs endpoint = \"completions\""), "{e}");
    let e = error(&GOOD.replace("model = \"big\"", "model = \"big\"\nbest_of = 2"));
    assert!(e.contains("variant[0].best_of: only exists on endpoint = \"completions\""), "{e}");
    problem("stop = [\"a\", \"b\", \"c\", \"d\", \"e\"]", "variant[2].stop", "got 5");
    problem("temperature = 3.0", "variant[2].temperature", "got 3");
}

#[test]
fn reports_every_problem_at_once_in_file_order() {
    let src = with_variant("batch = 21\nn = 0\ntemperature = -1.0");
    let e = parse(&src).unwrap_err();
    assert_eq!(e.problems.len(), 3, "{e}");
    let lines: Vec<usize> = e.problems.iter().map(|p| p.line.unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

const SWEEP: &str =
    "[sweep]\nmode = \"MODE\"\nmodel = [\"gpt-4o-mini\", \"gpt-4o\"]\nmax_tokens = [16, 64, 256]\n";

#[test]
fn sweep_expands_into_named_variants() {
    for mode in ["mix", "sequential"] {
        let src = GOOD.split("[[variant]]\nname = \"completions\"").next().unwrap().to_owned()
            + &SWEEP.replace("MODE", mode);
        let s = parse(&src).unwrap();
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names.len(), 6);
        assert!(names.contains(&"chat/gpt-4o-mini/max_tokens=16"), "{names:?}");
        assert!(names.contains(&"chat/gpt-4o/max_tokens=256"), "{names:?}");
        let v = s.variants.iter().find(|v| v.name == "chat/gpt-4o/max_tokens=64").unwrap();
        assert_eq!((v.model.as_str(), v.max_tokens), ("gpt-4o", 64));
        assert_eq!(s.sweep_mode, if mode == "mix" { SweepMode::Mix } else { SweepMode::Sequential });
    }
}

#[test]
fn sweep_over_unknown_parameter_or_bad_value_is_located() {
    let e = error(&format!("{GOOD}[sweep]\nmax_tokenz = [1, 2]\n"));
    assert!(e.contains("sweep.max_tokenz: cannot sweep over \"max_tokenz\""), "{e}");
    assert!(e.contains("s.toml:35:"), "{e}");
    let e = error(&format!("{GOOD}[sweep]\nmax_tokens = [1, 0]\n"));
    assert!(e.contains("sweep.max_tokens: must be at least 1, got 0"), "{e}");
}

#[test]
fn slo_keys_are_checked() {
    let s = parse(&format!(
        "{GOOD}[slo]\n\"ttft.p95\" = \"800ms\"\nerror_rate = 0.01\noutput_tokens_per_s = {{ min = 500 }}\n\
         [slo.variants.chat]\n\"itl.p50\" = {{ max = \"30ms\" }}\n"
    ))
    .unwrap();
    assert_eq!(s.slo.len(), 4);
    let ttft = s.slo.iter().find(|o| o.key == "ttft.p95").unwrap();
    assert_eq!(
        (ttft.metric, ttft.bound, ttft.threshold),
        (SloMetric::Latency(LatencyMetric::Ttft, Stat::P95), Bound::Max, 800.0)
    );
    let tput = s.slo.iter().find(|o| o.key == "output_tokens_per_s").unwrap();
    assert_eq!((tput.bound, tput.threshold), (Bound::Min, 500.0));
    assert_eq!(s.slo.iter().filter(|o| o.variant.as_deref() == Some("chat")).count(), 1);
    let e = error(&format!("{GOOD}[slo]\n\"tfft.p95\" = \"800ms\"\n"));
    assert!(e.contains("slo.\"tfft.p95\": unknown metric \"tfft.p95\"") && e.contains("s.toml:35:"), "{e}");
    let e = error(&format!("{GOOD}[slo]\n\"ttft.p95\" = \"800\"\n"));
    assert!(e.contains("got \"800\""), "{e}");
    let e = error(&format!("{GOOD}[slo.variants.nope]\n\"ttft.p95\" = \"1s\"\n"));
    assert!(e.contains("no variant named \"nope\""), "{e}");
}

#[test]
fn stages_replace_the_single_level() {
    let src = GOOD.replace(
        "concurrency = 4\nduration = \"3s\"",
        "[[load.stages]]\nduration = \"2s\"\nrate = 1\n[[load.stages]]\nduration = \"3s\"\nrate = 4.5",
    );
    // The stage tables must come after the [load] keys: move warmup above them.
    let src = src
        .replace("[[load.stages]]\nduration = \"2s\"", "warmup = \"1s\"\n[[load.stages]]\nduration = \"2s\"")
        .replacen("rate = 4.5\nwarmup = \"500ms\"", "rate = 4.5", 1);
    let s = parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    assert!(matches!(s.load.mode, LoadMode::Open { .. }));
    assert_eq!(s.load.stages.len(), 2);
    assert_eq!(s.load.stages[1], Stage { duration: Some(Duration::from_secs(3)), level: 4.5 });
    assert_eq!(s.load.measured_duration(), Some(Duration::from_secs(5)));
    let mixed = src.replace("rate = 1", "concurrency = 1");
    assert!(error(&mixed).contains("not a mix"), "{}", error(&mixed));
}

#[test]
fn pricing_and_budget() {
    let priced = format!(
        "{GOOD}[pricing.big]\ninput_per_1m = 1.0\noutput_per_1m = 4.0\n[pricing.small]\ninput_per_1m = 0.5\noutput_per_1m = 2\n[budget]\nmax_usd = 2.5\nwarn_usd = 1\n"
    );
    let s = parse(&priced).unwrap();
    assert_eq!(s.budget, Budget { max_usd: Some(2.5), warn_usd: Some(1.0) });
    // chat: 100 prompt tokens and 32 output tokens at $1/$4 per 1M.
    assert_eq!(s.variants[0].worst_case_tokens(), (100, 32));
    assert!((s.variants[0].worst_case_cost().unwrap() - (100.0 * 1.0 + 32.0 * 4.0) / 1e6).abs() < 1e-15);
    let unpriced = priced.replace("[pricing.small]\ninput_per_1m = 0.5\noutput_per_1m = 2\n", "");
    assert!(
        error(&unpriced).contains("budget: a budget needs a price for every model"),
        "{}",
        error(&unpriced)
    );
}

#[test]
fn rejects_a_key_pasted_where_its_variable_name_goes() {
    let src = GOOD.replace("[load]", "[target]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\napi_key_env = \"sk-proj-abcdef123\"\n[load]");
    let e = error(&src);
    assert!(
        e.contains("target.api_key_env") && !e.contains("sk-proj-abcdef123"),
        "the key is not echoed: {e}"
    );
}

#[test]
fn simulator_profile_problems_and_unserved_models_are_located() {
    let e = error(&GOOD.replace("serve_any_model = true\n", ""));
    assert!(e.contains("s.toml:29:1: variant[1].model: the simulator serves only [\"big\"]"), "{e}");
    let e = error(&GOOD.replace("jitter = 0.0", "jitter = 0.0\nmax_sequences = 0"));
    assert!(e.contains("s.toml:14:1: simulator.max_sequences:"), "{e}");
    let e = error(&GOOD.replace("itl = \"30ms\"", "itl = \"30\""));
    assert!(
        e.contains("s.toml:17:1: simulator.models.big.itl:") && e.contains("invalid duration \"30\""),
        "{e}"
    );
}

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
    assert_eq!(s.load.mode, LoadMode::Closed { concurrency: 4 });
    assert_eq!(s.load.duration, Some(Duration::from_secs(3)));
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
    assert!(e.starts_with("s.toml:31:"), "{e}");
    assert!(e.contains("temperatur"), "{e}");
}

#[test]
fn rejects_duration_without_unit() {
    let e = error(&GOOD.replace("duration = \"3s\"", "duration = \"3\""));
    assert!(e.starts_with("s.toml:7:") && e.contains("invalid duration \"3\""), "{e}");
}

#[test]
fn validation_errors_name_key_and_line() {
    let e = error(&GOOD.replace("max_tokens = 8", "max_tokens = 0"));
    assert_eq!(e, "s.toml:30: variant[1].max_tokens: must be at least 1, got 0");
    let e = error(&GOOD.replace("concurrency = 4", "concurrency = 4\nrate = 5.0"));
    assert!(e.starts_with("s.toml:7: load.rate:"), "{e}");
    let e = error(&GOOD.replace("name = \"completions\"", "name = \"chat\""));
    assert!(e.starts_with("s.toml:26: variant[1].name: duplicate"), "{e}");
}

#[test]
fn open_loop_defaults() {
    let s = parse(&GOOD.replace("concurrency = 4", "rate = 20.5")).unwrap();
    assert_eq!(
        s.load.mode,
        LoadMode::Open { rate: 20.5, arrival: Arrival::Constant, max_in_flight: DEFAULT_MAX_IN_FLIGHT }
    );
    let s = parse(&GOOD.replace("concurrency = 4", "rate = 2\narrival = \"poisson\"\nmax_in_flight = 8"));
    assert!(matches!(
        s.unwrap().load.mode,
        LoadMode::Open { arrival: Arrival::Poisson, max_in_flight: 8, .. }
    ));
}

#[test]
fn rejects_cross_field_mistakes() {
    assert!(error(&GOOD.replace("concurrency = 4", "")).contains("load: set concurrency"));
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
    let e = error(&with("[target]\nkind = \"openai\""));
    assert!(e.contains("target.kind: kind = \"openai\" needs target.base_url"), "{e}");
    let e = error(&with("[target]\nkind = \"openai\"\nbase_url = \"ftp://x\""));
    assert!(e.contains("target.base_url"), "{e}");
    let s = parse(&with("[target]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1/\"")).unwrap();
    assert_eq!(
        s.target,
        Target::OpenAi { base_url: "http://127.0.0.1:8000/v1".into(), api_key_env: "OPENAI_API_KEY".into() }
    );
    let e =
        error(&with("[target]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\napi_key_env = \"sk-abc-123\""));
    assert!(e.contains("api_key_env"), "{e}");
}

use super::*;

fn from(text: &str) -> Result<SimConfig, ProfileError> {
    let file: ProfileFile = toml::from_str(text).expect("valid TOML");
    SimConfig::from_profile(file, 1)
}

fn err(text: &str) -> ProfileError {
    from(text).expect_err("invalid")
}

#[test]
fn empty_profile_is_the_default_and_serves_any_model() {
    let c = from("").expect("valid");
    assert_eq!(c.default_profile, ModelProfile::default());
    assert!(c.models.is_empty() && c.serve_any_model && c.api_keys.is_empty());
    assert_eq!(c.seed, 1);
}

#[test]
fn models_inherit_key_by_key() {
    let c = from(
        r#"
        ttft = "100ms"
        itl = "10ms"
        jitter = 0.2
        context_window = 4096
        itl_distribution = "lognormal"
        itl_p99 = "40ms"
        output_tokens = 50
        output_tokens_p99 = 200
        max_sequences = 8
        itl_per_sequence = "1ms"
        api_keys = ["sk-a", "sk-b"]
        [rate_limits]
        requests_per_minute = 60
        [faults]
        http_500 = 0.01
        slow_headers = 0.02
        slow_headers_delay = "2s"

        [models.big]
        context_window = 128000
        itl = "20ms"
        ttft_per_prompt_token = "100us"
        output_tokens = 100
        [models.big.rate_limits]
        tokens_per_minute = 10000
        [models.big.faults]
        reset = 0.05

        [models.exact]
        itl_distribution = "constant"
        "#,
    )
    .expect("valid");
    assert!(!c.serve_any_model, "a [models] table lists the models");
    assert_eq!(c.api_keys, ["sk-a", "sk-b"]);
    let d = &c.default_profile;
    assert_eq!(d.itl_distribution, ItlDistribution::LogNormal { p99: Duration::from_millis(40) });
    assert_eq!(d.output_length, OutputLength::LogNormal { mean: 50, p99: 200 });
    let big = &c.models["big"];
    assert_eq!((big.ttft, big.itl, big.jitter), (Duration::from_millis(100), Duration::from_millis(20), 0.2));
    assert_eq!(big.ttft_per_prompt_token, Duration::from_micros(100));
    assert_eq!(big.itl_distribution, ItlDistribution::LogNormal { p99: Duration::from_millis(40) });
    assert_eq!(big.output_length, OutputLength::LogNormal { mean: 100, p99: 200 });
    assert_eq!((big.max_sequences, big.itl_per_sequence), (Some(8), Duration::from_millis(1)));
    assert_eq!(
        big.rate_limits,
        RateLimits { requests_per_minute: Some(60), tokens_per_minute: Some(10_000) }
    );
    let f = big.faults;
    assert_eq!((f.http_500, f.reset, f.slow_headers), (0.01, 0.05, 0.02));
    assert_eq!(f.slow_headers_delay, Duration::from_secs(2));
    assert_eq!(c.models["exact"].itl_distribution, ItlDistribution::Constant);
    assert_eq!(c.models["exact"].itl, Duration::from_millis(10));
    assert_eq!((big.context_window, c.models["exact"].context_window), (128_000, 4096));
    assert_eq!(from("").expect("valid").default_profile.context_window, 8192);
}

#[test]
fn an_empirical_itl_is_its_quantiles_and_their_mean_is_the_itl() {
    let c = from(
        "itl_distribution = \"empirical\"\nitl_quantiles = [{ q = 0.0, itl = \"2ms\" }, { q = 0.5, itl = \"4ms\" }, { q = 1.0, itl = \"10ms\" }]\n[models.m]\nttft = \"1ms\"\n",
    )
    .expect("valid");
    let m = &c.models["m"];
    assert!(matches!(&m.itl_distribution, ItlDistribution::Empirical(p) if p.len() == 3), "inherited");
    // (2 + 4) / 2 × 0.5 + (4 + 10) / 2 × 0.5 = 5 ms.
    assert_eq!(m.itl, Duration::from_millis(5));
}

#[test]
fn value_errors_name_the_key_and_what_is_allowed() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("jitter = -1", &["jitter"], "from 0 to 5"),
        ("itl_distribution = \"lognormal\"", &["itl_p99"], "required"),
        ("itl_p99 = \"50ms\"", &["itl_p99"], "only used with"),
        ("itl_distribution = \"lognormal\"\nitl_p99 = \"10ms\"", &["itl_p99"], "above the mean"),
        ("output_tokens = 0", &["output_tokens"], "from 1 to"),
        ("output_tokens_p99 = 10", &["output_tokens_p99"], "needs output_tokens"),
        ("output_tokens = 10\noutput_tokens_p99 = 5", &["output_tokens_p99"], "above output_tokens"),
        ("max_sequences = 0", &["max_sequences"], "from 1"),
        ("context_window = 0", &["context_window"], "whole number from 1"),
        ("[models.big]\ncontext_window = -5", &["models", "big", "context_window"], "got -5"),
        ("ttft = \"2h\"", &["ttft"], "longer than"),
        ("[rate_limits]\nrequests_per_minute = 0", &["rate_limits", "requests_per_minute"], "from 1"),
        ("[faults]\nreset = 1.5", &["faults", "reset"], "probability"),
        ("[faults]\nreset = 0.6\ncut = 0.6", &["faults"], "add up to"),
        ("api_keys = [\"\"]", &["api_keys"], "must not be empty"),
        ("serve_any_model = false", &["serve_any_model"], "no [models"),
        (
            "[models.big]\nitl = \"1ms\"\nitl_distribution = \"lognormal\"\nitl_p99 = \"1s\"",
            &["models", "big", "itl_p99"],
            "at most",
        ),
        ("[models.big.faults]\nhttp_503 = -0.1", &["models", "big", "faults", "http_503"], "probability"),
        ("itl_distribution = \"empirical\"", &["itl_quantiles"], "required"),
        (
            "itl_quantiles = [{ q = 0.0, itl = \"1ms\" }, { q = 1.0, itl = \"2ms\" }]",
            &["itl_quantiles"],
            "only used with",
        ),
        (
            "itl_distribution = \"empirical\"\nitl = \"3ms\"\nitl_quantiles = [{ q = 0.0, itl = \"1ms\" }, { q = 1.0, itl = \"2ms\" }]",
            &["itl"],
            "mean of itl_quantiles",
        ),
        (
            "itl_distribution = \"empirical\"\nitl_quantiles = [{ q = 0.1, itl = \"1ms\" }, { q = 1.0, itl = \"2ms\" }]",
            &["itl_quantiles"],
            "start at q = 0.0",
        ),
        (
            "itl_distribution = \"empirical\"\nitl_quantiles = [{ q = 0.0, itl = \"3ms\" }, { q = 0.5, itl = \"2ms\" }, { q = 1.0, itl = \"4ms\" }]",
            &["itl_quantiles"],
            "must not decrease",
        ),
    ];
    for (text, path, words) in cases {
        let e = err(text);
        assert_eq!(e.path, path.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{text}: {e}");
        assert!(e.message.contains(words), "{text}: {e}");
    }
}

#[test]
fn shape_errors_come_from_serde_with_the_allowed_values() {
    let e = |text: &str| toml::from_str::<ProfileFile>(text).expect_err(text).to_string();
    assert!(e("ttft = 200").contains("with a unit"), "{}", e("ttft = 200"));
    assert!(e("ttft = \"soon\"").contains("invalid duration"));
    assert!(e("itll = \"1ms\"").contains("unknown field `itll`"));
    assert!(e("itl_distribution = \"gamma\"").contains("`lognormal`"));
    assert!(e("[models.x]\napi_keys = []").contains("unknown field `api_keys`"));
    assert!(e("[faults]\nboom = 1.0").contains("unknown field `boom`"));
    assert!(e("context_window = \"8k\"").contains("expected i64"), "{}", e("context_window = \"8k\""));
}

#[test]
fn builtin_profile_is_valid_and_lists_its_models() {
    let c = parse(BUILTIN, 0).expect("the built-in profile is valid");
    assert_eq!(c.models.keys().collect::<Vec<_>>(), ["sim-large", "sim-small"]);
    assert!(!c.serve_any_model);
    assert_eq!(SimConfig::builtin(3).models.len(), 2);
}

#[test]
fn lines_of_keys() {
    let text = "ttft = \"1ms\"\n\n[models.big]\nitl = \"2ms\"\n\n[models.big.faults]\nreset = 2.0\n";
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(line_of(text, &path(&["models", "big", "faults", "reset"])), Some(7));
    assert_eq!(line_of(text, &path(&["models", "big", "itl"])), Some(4));
    // Not written: the nearest table that is.
    assert_eq!(line_of(text, &path(&["models", "big", "jitter"])), Some(3));
    assert_eq!(line_of(text, &path(&["ttft"])), Some(1));
}

#[test]
fn load_errors_name_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("llmload-mock-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        "ttft = \"1ms\"\n[models.big]\nitl = \"1ms\"\nitl_distribution = \"lognormal\"\nitl_p99 = \"1s\"\n",
    )
    .expect("write");
    let e = load(&file, 0).expect_err("p99 too high");
    assert_eq!((e.line, e.key.as_deref()), (Some(5), Some("models.big.itl_p99")));
    assert!(e.to_string().starts_with(&format!("{}:5: models.big.itl_p99: ", file.display())), "{e}");
    std::fs::write(&file, "ttft = \"1ms\"\nbogus = 1\n").expect("write");
    let e = load(&file, 0).expect_err("unknown key");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("bogus")));
    assert!(e.message.contains("bogus"), "{e}");
    let e = load(&dir.join("missing.toml"), 0).expect_err("missing");
    assert!(e.message.contains("cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readme_example_is_valid() {
    let readme = include_str!("../../README.md");
    let start =
        readme.find("### Example\n\n```toml\n").expect("the example") + "### Example\n\n```toml\n".len();
    let end = start + readme[start..].find("```").expect("its end");
    let c = parse(&readme[start..end], 0).expect("the README's example is valid");
    assert_eq!(c.models.keys().collect::<Vec<_>>(), ["sim-large", "sim-small"]);
    assert_eq!(c.models["sim-large"].max_sequences, Some(64));
    assert_eq!(c.models["sim-large"].context_window, 32_768);
    assert_eq!(c.models["sim-small"].rate_limits.requests_per_minute, Some(600));
}

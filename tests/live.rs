//! Live targets: `llmload check`, profiles, headers and the cost gate,
//! against a separately started simulator (a live target as far as llmload
//! can tell) and a raw socket that records what was sent.

use std::io::{Read, Write};
use std::process::{Output, Stdio};

use crate::util::{llmload, read_json, scenario_file, start_mock};

const KEY: &str = "sk-live-test-5f4e3d2c1b0a99887766";
const KEY_VAR: &str = "LLMLOAD_LIVE_TEST_KEY";

/// Two variants on the built-in profile's models; `URL` is replaced.
const SCENARIO: &str = r#"
name = "live"

[target]
base_url = "URL"
api_key_env = "LLMLOAD_LIVE_TEST_KEY"

[load]
concurrency = 2
requests = 10

[[variant]]
name = "chat"
endpoint = "chat"
model = "sim-small"
max_tokens = 8
prompt_tokens = 16

[[variant]]
name = "text"
endpoint = "completions"
model = "sim-large"
max_tokens = 8
prompt_tokens = 16
stream = false
"#;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `llmload ARGS SCENARIO` with the key (if any) in its variable, stdin not a
/// terminal.
fn llmload_on(toml: &str, key: Option<&str>, args: &[&str]) -> (tempfile::TempDir, Output) {
    let (dir, path) = scenario_file(toml);
    let mut cmd = llmload();
    cmd.env_remove(KEY_VAR).env_remove("OPENAI_BASE_URL").stdin(Stdio::null()).args(args).arg(&path);
    if let Some(k) = key {
        cmd.env(KEY_VAR, k);
    }
    let o = cmd.output().unwrap();
    (dir, o)
}

#[test]
fn check_with_a_wrong_key_names_401_in_one_line_and_exits_1() {
    let (_mock, url) = start_mock(&["--api-key", KEY]);
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), Some("sk-wrong-key-000000000000"), &["check"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        fails,
        ["FAIL  401 Unauthorized on GET /v1/models: the server rejected the key in $LLMLOAD_LIVE_TEST_KEY"],
        "{out}"
    );
    assert!(!out.contains("sk-wrong") && !err.contains("sk-wrong"), "{out}{err}");
    // No key at all: said so.
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), None, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).0.contains("$LLMLOAD_LIVE_TEST_KEY is not set, so no key was sent"), "{}", text(&o).0);
}

#[test]
fn check_with_the_right_key_lists_the_models_and_exits_0() {
    let (_mock, url) = start_mock(&["--api-key", KEY]);
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), Some(KEY), &["check"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(&format!("target: {url} (from target.base_url)")), "{out}");
    assert!(out.contains("key:    $LLMLOAD_LIVE_TEST_KEY set"), "{out}");
    let models = out.lines().find(|l| l.contains("GET /v1/models")).unwrap_or_default();
    assert!(
        models.starts_with("ok") && models.contains("sim-small") && models.contains("sim-large"),
        "{out}"
    );
    assert!(out.contains("ok    model \"sim-small\" is served"), "{out}");
    assert!(
        out.contains(
            "ok    variant \"chat\" (model \"sim-small\") on /v1/chat/completions: a 1-token request answered 200 OK"
        ),
        "{out}"
    );
    assert!(out.contains("ok    variant \"text\""), "{out}");
    assert!(out.contains("all checks passed"), "{out}");
    assert!(!out.contains(KEY) && !err.contains(KEY));
    // --no-request: the models only.
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), Some(KEY), &["check", "--no-request"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!text(&o).0.contains("1-token request"), "{}", text(&o).0);
}

/// `check` probes each endpoint a scenario uses, with a request that
/// endpoint takes.
#[test]
fn check_probes_chat_responses_and_embeddings_each_on_its_endpoint() {
    let (_mock, url) = start_mock(&[]);
    let scenario = format!(
        "name = \"three\"\n[target]\nbase_url = \"{url}\"\napi_key_env = \"\"\n[load]\nconcurrency = 1\nrequests = 3\n\
         [[variant]]\nname = \"chat\"\nendpoint = \"chat\"\nmodel = \"sim-small\"\nmax_tokens = 4\nprompt_tokens = 8\n\
         [[variant]]\nname = \"resp\"\nendpoint = \"responses\"\nmodel = \"sim-small\"\nmax_tokens = 16\nprompt_tokens = 8\n\
         [[variant]]\nname = \"emb\"\nendpoint = \"embeddings\"\nmodel = \"sim-small\"\nprompt_tokens = 8\n"
    );
    let (_d, o) = llmload_on(&scenario, None, &["check"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    for line in [
        "variant \"chat\" (model \"sim-small\") on /v1/chat/completions: a 1-token request answered 200 OK",
        "variant \"resp\" (model \"sim-small\") on /v1/responses: a response of at most 16 tokens",
        "variant \"emb\" (model \"sim-small\") on /v1/embeddings: an embedding of one short input answered 200 OK",
    ] {
        assert!(out.contains(&format!("ok    {line}")), "{line}\n{out}");
    }
}

#[test]
fn check_names_a_missing_model_and_its_404() {
    let (_mock, url) = start_mock(&[]);
    let toml = SCENARIO.replace("URL", &url).replace("\"sim-large\"", "\"no-such-model\"");
    let (_d, o) = llmload_on(&toml, None, &["check"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("FAIL  model \"no-such-model\" is not in the server's list (sim-large, sim-small)"),
        "{out}"
    );
    let line = out.lines().find(|l| l.contains("variant \"text\"")).unwrap_or_default();
    assert!(line.starts_with("FAIL  404 Not Found on variant \"text\" (model \"no-such-model\")"), "{out}");
    assert!(out.contains("2 checks failed"), "{out}");
}

#[test]
fn check_diagnoses_a_refused_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let toml = SCENARIO.replace("URL", &format!("http://127.0.0.1:{port}/v1"));
    let (_d, o) = llmload_on(&toml, None, &["check"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(&format!("FAIL  connection refused by 127.0.0.1:{port}")), "{out}");
}

#[test]
fn check_diagnoses_tls_to_a_plain_http_server() {
    let (_mock, url) = start_mock(&[]);
    let toml = SCENARIO.replace("URL", &url.replace("http://", "https://"));
    let (_d, o) = llmload_on(&toml, None, &["check"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  TLS: received corrupt message") && out.contains("http:// instead of https://"),
        "{out}"
    );
}

#[test]
fn check_warns_when_the_plan_exceeds_the_server_rate_limits() {
    let (_d, profile) = scenario_file("[rate_limits]\nrequests_per_minute = 60\n");
    let (_mock, url) = start_mock(&["--config", profile.to_str().unwrap()]);
    let toml = SCENARIO
        .replace("URL", &url)
        .replace("concurrency = 2\nrequests = 10", "rate = 5\nduration = \"2s\"");
    let (_d, o) = llmload_on(&toml, None, &["check"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "a warning is not a failure: {out}");
    assert!(out.contains("ok    rate limits: requests 60/min"), "{out}");
    assert!(
        out.contains("warn  the plan peaks at 300 requests/min, above the server's limit of 60"),
        "{out}"
    );
}

#[test]
fn check_starts_the_embedded_simulator_like_run() {
    let toml = "name = \"s\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"a\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 2\n";
    let (_d, o) = llmload_on(toml, None, &["check"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("target: the embedded simulator at http://127.0.0.1:"), "{out}");
}

/// Answers one request with a model list and hands back its head.
fn recording_server() -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        let body = r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#;
        let _ = write!(
            sock,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&head).to_ascii_lowercase()
    });
    (url, handle)
}

#[test]
fn requests_carry_the_key_organization_project_extra_headers_and_user_agent() {
    let (url, server) = recording_server();
    let toml = SCENARIO
        .replace(
            "api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"",
            "api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"\norganization = \"org-bench\"\nproject = \"proj_bench\"\nheaders = { \"X-Gateway-Route\" = \"llm-bench\" }",
        )
        .replace("URL", &url)
        .replace("\"sim-small\"", "\"m\"")
        .replace("\"sim-large\"", "\"m\"");
    let (_d, o) = llmload_on(&toml, Some(KEY), &["check", "--no-request"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o).0, text(&o).1);
    let head = server.join().unwrap();
    assert!(head.starts_with("get /v1/models "), "{head}");
    for want in [
        format!("authorization: bearer {}", KEY.to_ascii_lowercase()),
        "openai-organization: org-bench".into(),
        "openai-project: proj_bench".into(),
        "x-gateway-route: llm-bench".into(),
        format!("user-agent: llmload/{}", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(head.contains(&want), "{want} in {head}");
    }
}

const PROFILES: &str = r#"
[profiles.staging]
base_url = "URL"

[profiles.production]
base_url = "https://api.example.invalid/v1"
api_key_env = "PROD_KEY"
"#;

#[test]
fn profiles_are_chosen_with_profile_and_an_unknown_one_exits_2() {
    let (_mock, url) = start_mock(&[]);
    let toml =
        SCENARIO.replace("[target]\nbase_url = \"URL\"\n", "[target]\n") + &PROFILES.replace("URL", &url);
    for cmd in ["validate", "check", "run"] {
        let (_d, o) = llmload_on(&toml, None, &[cmd, "--profile", "prod"]);
        let err = text(&o).1;
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(
                "unknown profile \"prod\" (--profile); this scenario defines \"production\", \"staging\""
            ),
            "{err}"
        );
        let (_d, o) = llmload_on(&toml, None, &[cmd]);
        assert_eq!(o.status.code(), Some(2), "{cmd} without --profile");
        assert!(text(&o).1.contains("choose one with --profile NAME"), "{}", text(&o).1);
    }
    let (_d, o) = llmload_on(&toml, None, &["check", "--profile", "staging"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("target: {url} (from profiles.staging.base_url, profile \"staging\")")),
        "{out}"
    );
    let (_d, o) = llmload_on(&toml, None, &["validate", "--profile", "production"]);
    let out = text(&o).0;
    assert!(out.contains("target: https://api.example.invalid/v1 (from profiles.production.base_url, profile \"production\"), key from $PROD_KEY"), "{out}");
}

#[test]
fn openai_base_url_is_the_default_and_the_scenario_wins_over_it() {
    let (_mock, url) = start_mock(&[]);
    let toml = SCENARIO.replace("base_url = \"URL\"\n", "");
    let (_d, path) = scenario_file(&toml);
    let o =
        llmload().env("OPENAI_BASE_URL", &url).args(["check", "--no-request"]).arg(&path).output().unwrap();
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("target: {url} (from $OPENAI_BASE_URL)")), "{out}");
    let o = llmload().env_remove("OPENAI_BASE_URL").arg("validate").arg(&path).output().unwrap();
    assert!(text(&o).0.contains("target: https://api.openai.com/v1 (from default)"), "{}", text(&o).0);
    let (_d, path) = scenario_file(&SCENARIO.replace("URL", &url));
    let o = llmload()
        .env("OPENAI_BASE_URL", "http://elsewhere.invalid/v1")
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert!(text(&o).0.contains(&format!("target: {url} (from target.base_url)")), "{}", text(&o).0);
    let o = llmload()
        .env("OPENAI_BASE_URL", "not a url")
        .arg("validate")
        .arg(&scenario_file(&toml).1)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("$OPENAI_BASE_URL (used as base_url): not a URL"), "{}", text(&o).1);
}

#[test]
fn a_bad_ca_file_exits_2_naming_key_and_value() {
    let toml = SCENARIO.replace("URL", "https://gateway.internal/v1").replace(
        "api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"",
        "api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"\nca_file = \"certs/missing.pem\"",
    );
    for cmd in ["validate", "check", "run"] {
        let (_d, o) = llmload_on(&toml, None, &[cmd]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = text(&o).1;
        assert!(
            err.contains("scenario.toml:7:1: target.ca_file: cannot read ")
                && err.contains("certs/missing.pem: "),
            "{err}"
        );
    }
}

/// 10 requests × (16 + 8 tokens) at $10,000 per million: a worst case of $2.40.
const DEAR: &str = "\n[pricing.sim-small]\ninput_per_1m = 10000\noutput_per_1m = 10000\n\n[pricing.sim-large]\ninput_per_1m = 10000\noutput_per_1m = 10000\n";

#[test]
fn a_live_run_above_the_threshold_refuses_without_yes_off_a_terminal() {
    let (_mock, url) = start_mock(&[]);
    let toml = SCENARIO.replace("URL", &url) + DEAR;
    let (dir, o) = llmload_on(&toml, Some(KEY), &["run", "-q"]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("worst case: 10 requests, 160 input + 80 output tokens, cost $2.4000"), "{err}");
    assert!(
        err.contains("refusing to start a live run: the worst-case cost $2.4000 is above the $1 threshold"),
        "{err}"
    );
    assert!(err.contains("Pass --yes") && err.contains("[budget] max_usd"), "{err}");
    assert!(!dir.path().join("reports").exists(), "nothing started");
    // A higher threshold, --yes, or a budget lets it start.
    for args in [&["run", "-q", "--confirm-above", "5"][..], &["run", "-q", "--yes"]] {
        let (dir, path) = scenario_file(&toml);
        let out = dir.path().join("out");
        let o = llmload()
            .env(KEY_VAR, KEY)
            .stdin(Stdio::null())
            .args(args)
            .arg("--out")
            .arg(&out)
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o).1);
        assert_eq!(read_json(&out.join("summary.json"))["total"]["requests"]["ok"], 10);
    }
    let (_d, o) = llmload_on(
        &(toml.clone() + "\n[budget]\nmax_usd = 3\n"),
        Some(KEY),
        &["run", "-q", "--out", "/dev/null/x"],
    );
    assert!(!text(&o).1.contains("refusing"), "a budget is consent: {}", text(&o).1);
    // Unpriced: the cost is unknown, so the same rule applies.
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), Some(KEY), &["run", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("the worst-case cost is unknown (a model has no [pricing])"),
        "{}",
        text(&o).1
    );
}

#[test]
fn proxies_come_from_the_environment_but_never_for_loopback() {
    // A remote target goes through HTTP_PROXY (the recording server plays it).
    let (proxy, server) = recording_server();
    let proxy = proxy.trim_end_matches("/v1").to_owned();
    let toml = SCENARIO
        .replace("URL", "http://llm.example.invalid/v1")
        .replace("sim-small", "m")
        .replace("sim-large", "m");
    let (_d, path) = scenario_file(&toml);
    let o = llmload()
        .env("HTTP_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args(["check", "--no-request"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
    let head = server.join().unwrap();
    assert!(head.starts_with("get http://llm.example.invalid/v1/models "), "sent to the proxy: {head}");
    // A loopback target ignores a proxy that would fail every request.
    let (_mock, url) = start_mock(&[]);
    let (_d, path) = scenario_file(&SCENARIO.replace("URL", &url));
    let o = llmload()
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .args(["check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
}

#[test]
fn check_names_a_429() {
    let (_d, profile) = scenario_file("[rate_limits]\nrequests_per_minute = 1\n");
    let (_mock, url) = start_mock(&["--config", profile.to_str().unwrap()]);
    let (_d, o) = llmload_on(&SCENARIO.replace("URL", &url), None, &["check"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "FAIL  429 Too Many Requests on variant \"text\" (model \"sim-large\") (rate limit or quota)"
        ),
        "{out}"
    );
}

/// A TLS server for `localhost` with the test CA's certificate: answers each
/// of `n` connections with a model list (a failed handshake just ends one).
fn tls_server(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/");
    let certs: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(format!("{data}server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(format!("{data}server.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..n {
            let (sock, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if !head.ends_with(b"\r\n\r\n") {
                continue; // the client refused our certificate
            }
            let body = r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, handle)
}

#[test]
fn tls_trusts_the_system_roots_plus_ca_file() {
    let (port, server) = tls_server(2);
    let base = SCENARIO
        .replace("URL", &format!("https://localhost:{port}/v1"))
        .replace("sim-small", "m")
        .replace("sim-large", "m");
    // The test CA is in no system bundle: the certificate is refused.
    let (_d, o) = llmload_on(&base, None, &["check", "--no-request"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  TLS: invalid peer certificate: UnknownIssuer") && out.contains("ca_file"),
        "{out}"
    );
    // With it as ca_file, the same server is trusted.
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let with_ca = base.replace(
        "api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"",
        &format!("api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"\nca_file = \"{ca}\""),
    );
    let (_d, o) = llmload_on(&with_ca, None, &["check", "--no-request"]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ok    model \"m\" is served"), "{out}");
    server.join().unwrap();
}

/// A live target whose key variable is unset stops before its first request
/// (exit 2, nothing sent), saying how to fix it; `api_key_env = ""` says the
/// target needs no key and runs.
#[test]
fn an_unset_key_variable_stops_a_live_run_before_any_request() {
    // A listener that counts the connections made to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let toml = SCENARIO.replace("URL", &url);
    let (dir, o) = llmload_on(&toml, None, &["run", "-q", "--yes", "--out", "out"]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("$LLMLOAD_LIVE_TEST_KEY is not set") && err.contains("api_key_env = \"\""), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing ran");
    assert!(listener.accept().is_err(), "no connection was made");

    let (_mock, url) = start_mock(&[]);
    let no_key = SCENARIO
        .replace("URL", &url)
        .replace("api_key_env = \"LLMLOAD_LIVE_TEST_KEY\"", "api_key_env = \"\"");
    let (_dir, o) = llmload_on(&no_key, None, &["run", "-q", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let (_dir, o) = llmload_on(&no_key, None, &["check"]);
    assert!(text(&o).0.contains("key:    none (api_key_env = \"\""), "{}", text(&o).0);
}

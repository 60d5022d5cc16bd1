//! `llmload check`: does the target answer, with this key, for these models,
//! before any load is sent?
//!
//! Connects (`GET /v1/models`), confirms every scenario model is listed,
//! sends one non-streaming request of `max_tokens = 1` per variant (unless
//! `--no-request`), and compares the server's `x-ratelimit-*` headers with
//! the plan's peak rates. Each finding is one line, `ok`, `warn` or `FAIL`;
//! any FAIL makes the exit code 1. The key is never printed: server messages
//! on 401/403 are dropped (some echo part of the key) and others are
//! redacted.

pub mod diagnose;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diagnose::RateLimits;

use crate::cli::CheckArgs;
use crate::client::target::RunningTarget;
use crate::client::{self, Endpoint};
use crate::error::{Exit, Result};
use crate::scenario::{Endpoint as Api, LoadMode, Scenario, SweepMode, Target, Variant};

/// The longest any one check waits.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// `llmload check SCENARIO`.
pub async fn command(args: CheckArgs) -> Result<Exit> {
    let s = Scenario::load_profile(&args.scenario, args.profile.as_deref())?;
    run(&s, args.no_request).await
}

/// Runs every check for `s` and prints the findings on stdout.
pub async fn run(s: &Scenario, no_request: bool) -> Result<Exit> {
    let target = RunningTarget::start(s).await?;
    let result = checks(s, &target.endpoint, no_request).await;
    target.stop().await?;
    let failures = result?;
    if failures > 0 {
        sayln!("{failures} check{} failed", if failures == 1 { "" } else { "s" });
        Ok(Exit::Failed)
    } else {
        sayln!("all checks passed");
        Ok(Exit::Ok)
    }
}

/// The findings so far.
struct Report {
    failures: usize,
    limits: Option<RateLimits>,
}

impl Report {
    fn ok(&self, line: String) {
        sayln!("ok    {line}");
    }
    fn warn(&self, line: String) {
        sayln!("warn  {line}");
    }
    fn fail(&mut self, line: String) {
        sayln!("FAIL  {line}");
        self.failures += 1;
    }
}

async fn checks(s: &Scenario, ep: &Endpoint, no_request: bool) -> Result<usize> {
    let key_var = match &s.target {
        Target::OpenAi(l) => {
            let from = match &l.profile {
                Some(p) => format!("{}, profile {p:?}", l.base_url_from),
                None => l.base_url_from.clone(),
            };
            sayln!("target: {} (from {from})", ep.base_url);
            let set = ep.key.is_some();
            if l.api_key_env.is_empty() {
                sayln!("key:    none (api_key_env = \"\": the target needs no key)");
                None
            } else {
                let state = if set { "set" } else { "not set: no Authorization header is sent" };
                sayln!("key:    ${} {state}", l.api_key_env);
                Some((l.api_key_env.as_str(), set))
            }
        }
        Target::Simulator => {
            sayln!("target: the embedded simulator at {}", ep.base_url);
            None
        }
    };
    let http = ep.client(s.client.connect_timeout.min(CHECK_TIMEOUT), s.client.http2)?;
    let host = host_port(&ep.base_url);
    let mut r = Report { failures: 0, limits: None };
    let redact = |m: String| ep.key.as_ref().map_or_else(|| m.clone(), |k| k.redact(&m));

    // 1. The models.
    let t0 = Instant::now();
    let what = "GET /v1/models";
    let served: Option<Vec<String>> = match send(http.get(format!("{}/models", ep.base_url))).await {
        Err((chain, timeout)) => {
            r.fail(diagnose::transport(&redact(chain), timeout, &host));
            return Ok(r.failures);
        }
        Ok((status, headers, body)) => {
            r.limits = RateLimits::from_headers(&headers).or(r.limits.take());
            if status.is_success() {
                let ids = model_ids(&body);
                if ids.is_none() {
                    r.warn(format!("{what}: answered {status} without a model list; models not confirmed"));
                }
                ids
            } else {
                let msg = server_message(status.as_u16(), &body).map(redact);
                let mut line = diagnose::status(status, what, msg.as_deref(), key_var);
                if status.as_u16() == 404 {
                    line += " (does base_url end with the API version, e.g. /v1?)";
                }
                r.fail(line);
                // Without access nothing further can work.
                if matches!(status.as_u16(), 401 | 403 | 404) {
                    return Ok(r.failures);
                }
                None
            }
        }
    };
    if let Some(ids) = &served {
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        r.ok(format!(
            "{what}: {} model{} in {ms:.0} ms: {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            list(ids)
        ));
    }
    // 2. One token per variant.
    let mut answered = BTreeSet::new();
    if !no_request {
        for v in &s.variants {
            let what = format!("variant {:?} (model {:?})", v.name, v.model);
            let req = http.post(format!("{}{}", ep.base_url, path(v))).json(&minimal_body(v));
            let t0 = Instant::now();
            match send(req).await {
                Err((chain, timeout)) => {
                    r.fail(format!("{what}: {}", diagnose::transport(&redact(chain), timeout, &host)))
                }
                Ok((status, headers, body)) => {
                    r.limits = RateLimits::from_headers(&headers).or(r.limits.take());
                    if status.is_success() {
                        let ms = t0.elapsed().as_secs_f64() * 1e3;
                        let probe = match v.endpoint {
                            Api::Embeddings => "an embedding of one short input",
                            Api::Responses => "a response of at most 16 tokens (the API's least)",
                            Api::Chat | Api::Completions => "a 1-token request",
                        };
                        r.ok(format!("{what} on /v1{}: {probe} answered {status} in {ms:.0} ms", path(v)));
                        answered.insert(v.model.as_str());
                    } else {
                        let msg = server_message(status.as_u16(), &body).map(redact);
                        r.fail(diagnose::status(status, &what, msg.as_deref(), key_var));
                    }
                }
            }
        }
    }

    // 3. Every model listed, or at least answering: some servers serve
    // models they do not list (aliases, any-model gateways).
    if let Some(ids) = &served {
        let wanted: BTreeSet<&str> = s.variants.iter().map(|v| v.model.as_str()).collect();
        for m in wanted {
            if ids.iter().any(|i| i == m) {
                r.ok(format!("model {m:?} is served"));
            } else if answered.contains(m) {
                r.warn(format!("model {m:?} is not in the server's list, but it answered a request"));
            } else {
                r.fail(format!("model {m:?} is not in the server's list ({})", list(ids)));
            }
        }
    }

    // 4. Rate limits against the plan.
    match r.limits.clone() {
        Some(l) => {
            r.ok(format!("rate limits: {}", l.describe()));
            let (rpm, tpm) = peak_rates(s);
            for w in l.warnings(rpm, tpm) {
                r.warn(w);
            }
            if rpm.is_none() {
                r.warn(
                    "closed loop: the request rate depends on latency and cannot be compared with the limits"
                        .into(),
                );
            }
        }
        None => sayln!("note  the server sent no x-ratelimit-* headers"),
    }
    Ok(r.failures)
}

type Sent = (reqwest::StatusCode, reqwest::header::HeaderMap, bytes::Bytes);

/// Sends and reads the whole answer within `CHECK_TIMEOUT`; a transport
/// failure as (error chain, timed out).
async fn send(req: reqwest::RequestBuilder) -> Result<Sent, (String, bool)> {
    let go = async {
        let resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        Ok::<_, reqwest::Error>((status, headers, resp.bytes().await?))
    };
    match tokio::time::timeout(CHECK_TIMEOUT, go).await {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err((client::error_chain(&e), e.is_timeout())),
        Err(_) => Err((format!("no answer within {CHECK_TIMEOUT:?}"), true)),
    }
}

/// The server's error message, except on 401/403, where some servers echo
/// part of the key.
fn server_message(code: u16, body: &[u8]) -> Option<String> {
    if matches!(code, 401 | 403) {
        return None;
    }
    client::error_message(body).or_else(|| {
        let text = String::from_utf8_lossy(body).trim().to_owned();
        (!text.is_empty()).then_some(text)
    })
}

fn model_ids(body: &[u8]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let ids = v["data"].as_array()?.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect();
    Some(ids)
}

fn list(ids: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = ids.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if ids.len() > SHOWN {
        s += &format!(", … ({} more)", ids.len() - SHOWN);
    }
    s
}

fn host_port(base_url: &str) -> String {
    reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| base_url.to_owned())
}

fn path(v: &Variant) -> &'static str {
    match v.endpoint {
        Api::Chat => "/chat/completions",
        Api::Completions => "/completions",
        Api::Embeddings => "/embeddings",
        Api::Responses => "/responses",
    }
}

/// The smallest request a variant can make: its model and extra_body, one
/// short prompt, one token, not streamed (embeddings: one short input).
fn minimal_body(v: &Variant) -> serde_json::Value {
    let mut body = serde_json::Map::from_iter(v.extra_body.clone());
    body.insert("model".into(), v.model.clone().into());
    if v.endpoint == Api::Responses {
        body.insert("input".into(), "Say hi.".into());
        body.insert("max_output_tokens".into(), 16.into());
        body.insert("stream".into(), false.into());
        return serde_json::Value::Object(body);
    }
    if v.endpoint == Api::Embeddings {
        body.insert("input".into(), "Say hi.".into());
        if let Some(d) = v.dimensions {
            body.insert("dimensions".into(), d.into());
        }
        return serde_json::Value::Object(body);
    }
    match v.endpoint {
        Api::Chat => {
            body.insert("messages".into(), serde_json::json!([{"role": "user", "content": "Say hi."}]))
        }
        Api::Completions | Api::Embeddings | Api::Responses => body.insert("prompt".into(), "Say hi.".into()),
    };
    body.insert("max_tokens".into(), 1.into());
    body.insert("stream".into(), false.into());
    serde_json::Value::Object(body)
}

/// The plan's peak requests and tokens per minute (worst-case tokens per
/// request, as rate limiters count them); `None` in closed loop, where the
/// rate follows latency. A `[client_limit]` caps both.
pub fn peak_rates(s: &Scenario) -> (Option<f64>, Option<f64>) {
    let per_request = |v: &Variant| {
        let (i, o) = v.worst_case_tokens();
        (i + o) as f64
    };
    let tokens = match s.sweep_mode {
        SweepMode::Sequential => s.variants.iter().map(per_request).fold(0.0, f64::max),
        SweepMode::Mix => {
            let w: f64 = s.variants.iter().map(|v| f64::from(v.weight)).sum::<f64>().max(1.0);
            s.variants.iter().map(|v| per_request(v) * f64::from(v.weight) / w).sum()
        }
    };
    let rpm = match s.load.mode {
        LoadMode::Closed => None,
        LoadMode::Open { .. } => s.load.stages.iter().map(|st| st.level * 60.0).reduce(f64::max),
    };
    let cap = |x: Option<f64>, c: Option<f64>| match (x, c) {
        (Some(x), Some(c)) => Some(x.min(c)),
        (x, _) => x,
    };
    let rpm = cap(rpm, s.client_limit.requests_per_minute);
    (rpm, cap(rpm.map(|r| r * tokens), s.client_limit.tokens_per_minute))
}

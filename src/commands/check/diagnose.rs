//! One-line diagnoses for what can go wrong reaching a target, and the
//! server's rate-limit headers. Pure functions over errors, statuses and
//! header maps, so every case is unit-tested without a server.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A transport failure (no HTTP status), from reqwest's error chain.
pub fn transport(chain: &str, is_timeout: bool, host: &str) -> String {
    let low = chain.to_ascii_lowercase();
    if low.contains("dns error")
        || low.contains("failed to lookup address")
        || low.contains("name or service not known")
        || low.contains("no address associated")
    {
        format!("DNS: cannot resolve {host} ({})", tail(chain))
    } else if low.contains("connection refused") {
        format!("connection refused by {host}: is the server running, and is base_url's port right?")
    } else if is_timeout || low.contains("timed out") {
        format!("timed out connecting to {host} (check base_url, firewalls and HTTPS_PROXY)")
    } else if low.contains("corrupt message") || low.contains("invalidcontenttype") {
        format!("TLS: {} (the server does not speak TLS here: http:// instead of https://?)", tail(chain))
    } else if low.contains("certificate") || low.contains("tls") || low.contains("handshake") {
        format!("TLS: {} (an internal CA? set ca_file to its PEM; http:// vs https:// right?)", tail(chain))
    } else {
        format!("cannot connect to {host}: {}", tail(chain))
    }
}

/// The useful part of reqwest's chain: what follows its generic
/// "error sending request …: client error (Connect)" prefix.
fn tail(chain: &str) -> &str {
    match chain.rfind("(Connect): ") {
        Some(at) => chain[at + "(Connect): ".len()..].trim(),
        None => chain.rsplit(": ").find(|s| !s.trim().is_empty()).unwrap_or(chain).trim(),
    }
}

/// What an error status means for this request. `what` names the request
/// ("GET /v1/models", "variant \"a\" (model m)"); `message` is the server's
/// own, already redacted; `key_var` the key's variable and whether it is set.
pub fn status(code: StatusCode, what: &str, message: Option<&str>, key_var: Option<(&str, bool)>) -> String {
    let n = code.as_u16();
    let said = message.map(|m| format!(": {}", clip(m))).unwrap_or_default();
    match n {
        401 => match key_var {
            Some((var, true)) => format!("401 Unauthorized on {what}: the server rejected the key in ${var}"),
            Some((var, false)) => {
                format!("401 Unauthorized on {what}: ${var} is not set, so no key was sent")
            }
            None => format!("401 Unauthorized on {what}: the server wants a key"),
        },
        403 => format!(
            "403 Forbidden on {what}: the key may not use this (organization, project or model access?){said}"
        ),
        404 => format!("404 Not Found on {what}{said}"),
        429 => format!("429 Too Many Requests on {what} (rate limit or quota){said}"),
        _ => format!("{code} on {what}{said}"),
    }
}

fn clip(m: &str) -> String {
    let one_line = m.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 200 {
        one_line.chars().take(200).collect::<String>() + "…"
    } else {
        one_line
    }
}

/// The server's `x-ratelimit-*` headers, as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    pub limit_requests: Option<f64>,
    pub limit_tokens: Option<f64>,
    pub remaining_requests: Option<f64>,
    pub remaining_tokens: Option<f64>,
    pub reset_requests: Option<String>,
    pub reset_tokens: Option<String>,
}

impl RateLimits {
    pub fn from_headers(h: &HeaderMap) -> Option<RateLimits> {
        let text = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let num = |k: &str| text(k).and_then(|v| v.trim().parse::<f64>().ok());
        let r = RateLimits {
            limit_requests: num("x-ratelimit-limit-requests"),
            limit_tokens: num("x-ratelimit-limit-tokens"),
            remaining_requests: num("x-ratelimit-remaining-requests"),
            remaining_tokens: num("x-ratelimit-remaining-tokens"),
            reset_requests: text("x-ratelimit-reset-requests"),
            reset_tokens: text("x-ratelimit-reset-tokens"),
        };
        (r != RateLimits::default()).then_some(r)
    }

    pub fn describe(&self) -> String {
        let one = |what: &str, limit: Option<f64>, left: Option<f64>, reset: &Option<String>| {
            let mut s = format!("{what} {}/min", limit.map_or("?".into(), |l| format!("{l:.0}")));
            if let Some(r) = left {
                s += &format!(" ({r:.0} left");
                s += &reset.as_ref().map_or(")".into(), |t| format!(", reset in {t})"));
            }
            s
        };
        format!(
            "{}, {}",
            one("requests", self.limit_requests, self.remaining_requests, &self.reset_requests),
            one("tokens", self.limit_tokens, self.remaining_tokens, &self.reset_tokens)
        )
    }

    /// Warnings for a plan peaking at `rpm` requests and `tpm` tokens per
    /// minute (`None`: not known in advance).
    pub fn warnings(&self, rpm: Option<f64>, tpm: Option<f64>) -> Vec<String> {
        let mut out = Vec::new();
        let pairs = [
            ("requests", rpm, self.limit_requests, "x-ratelimit-limit-requests"),
            ("tokens", tpm, self.limit_tokens, "x-ratelimit-limit-tokens"),
        ];
        for (what, planned, limit, header) in pairs {
            if let (Some(p), Some(l)) = (planned, limit)
                && p > l
            {
                out.push(format!(
                    "the plan peaks at {p:.0} {what}/min, above the server's limit of {l:.0} ({header}): \
                     expect 429s; lower the load or set [client_limit] {what}_per_minute"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_get_one_line_each() {
        let dns = "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        assert!(
            transport(dns, false, "nohost.invalid:443").starts_with("DNS: cannot resolve nohost.invalid")
        );
        let refused = "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert!(transport(refused, false, "127.0.0.1:9").starts_with("connection refused by 127.0.0.1:9"));
        let tls = "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer";
        let t = transport(tls, false, "x:443");
        assert!(
            t.starts_with("TLS: invalid peer certificate: UnknownIssuer") && t.contains("ca_file"),
            "{t}"
        );
        assert!(transport("operation timed out", true, "x:1").starts_with("timed out"));
        let plain = "client error (Connect): received corrupt message of type InvalidContentType";
        assert!(transport(plain, false, "x:1").contains("http:// instead of https://"));
    }

    #[test]
    fn statuses_name_the_code_and_the_cause() {
        let s = status(StatusCode::UNAUTHORIZED, "GET /v1/models", Some("bad"), Some(("K", true)));
        assert_eq!(s, "401 Unauthorized on GET /v1/models: the server rejected the key in $K");
        let s = status(StatusCode::UNAUTHORIZED, "x", None, Some(("K", false)));
        assert!(s.contains("$K is not set"));
        let s = status(StatusCode::NOT_FOUND, "variant \"a\"", Some("model `m` does not exist"), None);
        assert_eq!(s, "404 Not Found on variant \"a\": model `m` does not exist");
        assert!(status(StatusCode::FORBIDDEN, "x", None, None).starts_with("403 Forbidden"));
        assert!(status(StatusCode::TOO_MANY_REQUESTS, "x", None, None).starts_with("429"));
    }

    #[test]
    fn rate_limits_are_read_and_compared_with_the_plan() {
        let mut h = HeaderMap::new();
        assert_eq!(RateLimits::from_headers(&h), None);
        h.insert("x-ratelimit-limit-requests", "60".parse().unwrap());
        h.insert("x-ratelimit-remaining-requests", "59".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "1s".parse().unwrap());
        let r = RateLimits::from_headers(&h).unwrap();
        assert_eq!(r.describe(), "requests 60/min (59 left, reset in 1s), tokens ?/min");
        assert!(r.warnings(Some(60.0), Some(1e9)).is_empty(), "equal is fine; no token limit known");
        let w = r.warnings(Some(120.0), None);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("120 requests/min") && w[0].contains("limit of 60"), "{w:?}");
    }
}

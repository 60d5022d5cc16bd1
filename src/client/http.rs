//! The HTTP client for one target: headers, TLS roots and proxies, shared by
//! runs and `llmload check`.
//!
//! TLS is rustls (ring) with the platform verifier, which on Linux reads the
//! system's CA bundle (/etc/ssl/certs, as installed by `ca-certificates`):
//! nothing is fetched at run time, so it works offline and in containers. A
//! scenario's `ca_file` adds roots for internal gateways. Proxies come from
//! `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, except for loopback targets,
//! which are always reached directly (a proxy would distort every latency).

use std::time::Duration;

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::ApiKey;
use crate::error::{InputProblem, Result};
use crate::scenario::Live;

/// Client settings that cannot be used (a key, a header, a CA file): bad input.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

impl InputProblem for SetupError {}

pub const USER_AGENT: &str = concat!("llmload/", env!("CARGO_PKG_VERSION"));

/// A target as reached: its base URL, the key read from the environment and
/// what the scenario adds (headers, CA file).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Ends with the API version, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    pub key: Option<ApiKey>,
    /// Organization, project and extra headers; the CA file. `None` for the
    /// embedded simulator.
    pub live: Option<Live>,
}

impl Endpoint {
    pub fn plain(base_url: &str, key: Option<ApiKey>) -> Endpoint {
        Endpoint { base_url: base_url.trim_end_matches('/').to_owned(), key, live: None }
    }

    /// Headers sent with every request: the key (marked sensitive, so it is
    /// never logged), organization, project and the scenario's extra headers.
    pub fn headers(&self) -> Result<HeaderMap, SetupError> {
        let mut headers = HeaderMap::new();
        if let Some(k) = &self.key {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", k.expose())).map_err(|_| {
                SetupError("the API key contains characters not allowed in an HTTP header".into())
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let Some(l) = &self.live else { return Ok(headers) };
        let named = [("openai-organization", &l.organization), ("openai-project", &l.project)];
        let extra = l.headers.iter().map(|(k, v)| (k.as_str(), v));
        for (name, value) in named.into_iter().filter_map(|(k, v)| Some((k, v.as_ref()?))).chain(extra) {
            // Validated with the scenario; a failure here is still bad input.
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SetupError(format!("bad header {name:?}")))?;
            let mut v =
                HeaderValue::from_str(value).map_err(|_| SetupError(format!("bad value for {name:?}")))?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        Ok(headers)
    }

    /// True when the host is this machine: no proxy then.
    pub fn is_loopback(&self) -> bool {
        let Some(host) =
            reqwest::Url::parse(&self.base_url).ok().and_then(|u| u.host_str().map(str::to_owned))
        else {
            return false;
        };
        match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost"),
        }
    }

    /// A client for this endpoint. A CA file that cannot be used is bad
    /// input (exit 2), named with its key and path.
    /// `http2`: HTTP/2 only (prior knowledge over plain http://).
    pub fn client(&self, connect_timeout: Duration, http2: bool) -> Result<reqwest::Client> {
        self.build(connect_timeout, http2, true)
    }

    /// `client`, but every request on a connection of its own: for sending
    /// again a request whose reused connection the server had closed.
    pub fn unpooled_client(&self, connect_timeout: Duration, http2: bool) -> Result<reqwest::Client> {
        self.build(connect_timeout, http2, false)
    }

    /// The scenario's CA file, read; `None` without one.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, SetupError> {
        let Some(path) = self.live.as_ref().and_then(|l| l.ca_file.as_ref()) else { return Ok(None) };
        std::fs::read(path).map(Some).map_err(|e| self.bad_ca(format!("cannot read: {e}")))
    }

    /// A CA file that cannot be used: bad input, named with its path.
    pub fn bad_ca(&self, what: String) -> SetupError {
        let path = self.live.as_ref().and_then(|l| l.ca_file.as_ref());
        SetupError(format!("ca_file {:?}: {what}", path.map(|p| p.display().to_string()).unwrap_or_default()))
    }

    fn build(&self, connect_timeout: Duration, http2: bool, pooled: bool) -> Result<reqwest::Client> {
        // One process-wide TLS provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(self.headers()?)
            .tcp_nodelay(true)
            .connect_timeout(connect_timeout);
        if http2 {
            b = b.http2_prior_knowledge();
        }
        if !pooled {
            b = b.pool_max_idle_per_host(0);
        }
        if self.is_loopback() {
            b = b.no_proxy();
        }
        if let Some(pem) = self.ca_pem()? {
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| self.bad_ca(e.to_string()))?;
            b = b.tls_certs_merge(certs);
        }
        Ok(b.build().context("cannot set up the HTTP client (TLS roots?)")?)
    }
}

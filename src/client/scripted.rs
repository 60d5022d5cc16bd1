//! A deterministic backend for whole-run tests of the worker loop: no
//! network, and each request's fate a pure function of its sequence number,
//! so that a test asserts counts, stop reasons and exit codes without timing
//! tolerances (hyperfine's `MockExecutor` plays this part there).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Backend;
use crate::metrics::{Outcome, RequestRecord, TokenSource};
use crate::workload::{Ticket, WorkRequest};

/// What the backend does with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reply {
    /// A 200 whose whole answer (`output_tokens` tokens, usage sent) comes
    /// after `latency`.
    Ok { output_tokens: u64, latency: Duration },
    /// An HTTP error status (429 is counted as rate limited).
    Status(u16),
    /// No connection could be made.
    Connect,
    /// No answer, ever: the request ends only when the run cancels it.
    Hang,
    /// `Ok`, then the client takes `stall` more before the worker is free
    /// (as a token count of a long answer would).
    OkThenStall { output_tokens: u64, latency: Duration, stall: Duration },
}

type Script = dyn Fn(u64) -> Reply + Send + Sync;

pub struct ScriptedBackend {
    script: Box<Script>,
    sent: AtomicU64,
}

impl ScriptedBackend {
    /// `script(seq)` decides the fate of request `seq`.
    pub fn new(script: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Self {
        ScriptedBackend { script: Box::new(script), sent: AtomicU64::new(0) }
    }

    /// Requests the runner handed over so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Backend for ScriptedBackend {
    async fn send(&self, req: &WorkRequest, ticket: &Ticket, _timer: &mut super::Timer) -> RequestRecord {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let mut r = RequestRecord::new(req, ticket, Instant::now());
        match (self.script)(req.seq) {
            Reply::Ok { output_tokens, latency } => answer(&mut r, output_tokens, latency).await,
            Reply::OkThenStall { output_tokens, latency, stall } => {
                answer(&mut r, output_tokens, latency).await;
                tokio::time::sleep(stall).await;
            }
            Reply::Status(status) => {
                r.outcome = if status == 429 { Outcome::RateLimited } else { Outcome::Http(status) };
                r.rate_limited = u32::from(status == 429);
                r.error = Some(format!("scripted HTTP {status}"));
                r.end = Instant::now();
            }
            Reply::Connect => {
                r.outcome = Outcome::Connect;
                r.error = Some("scripted: connection refused".into());
                r.end = Instant::now();
            }
            Reply::Hang => std::future::pending::<()>().await,
        }
        r
    }
}

/// A whole answer of `output_tokens` after `latency`, usage sent.
async fn answer(r: &mut RequestRecord, output_tokens: u64, latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let now = Instant::now();
    (r.headers, r.first_token, r.end) = (Some(now), Some(now), now);
    r.output_tokens = output_tokens;
    r.token_source = TokenSource::Usage;
    r.finish_reason = Some("stop".into());
    r.finish_reasons = vec!["stop".into()];
}

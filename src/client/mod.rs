//! Sending one request and measuring it.
//!
//! The runner only knows the `Backend` trait; `openai.rs` implements it over
//! HTTP. Parsing is kept pure (`sse.rs`, `chunk.rs` and its fast path
//! `skim.rs`) so every byte-level case is unit-tested without a server.
//! `body.rs` reads a 2xx body into the record; `retry.rs` decides how long
//! to wait before trying again;
//! `http.rs` builds the client for a target (headers, TLS roots, proxies);
//! `target.rs` starts the embedded simulator when a scenario asks for it;
//! `scripted.rs` is a deterministic fake for whole-run tests.

mod body;
mod chunk;
mod http;
mod openai;
mod retry;
pub mod scripted;
mod skim;
pub mod sse;
pub mod target;
mod timer;
mod transport;

use std::future::Future;

pub use body::StreamDecoder;
pub(crate) use chunk::error_message;
pub use http::{Endpoint, SetupError, USER_AGENT};
pub use openai::{ApiKey, OpenAiBackend, Policy};
pub use timer::Timer;

use crate::metrics::RequestRecord;
use crate::workload::Ticket;
use crate::workload::WorkRequest;

/// Something that can carry out a request and report its timeline.
pub trait Backend: Send + Sync + 'static {
    /// Sends `req` now and returns its record. Never fails: every fault is an
    /// outcome in the record. `timer` is the calling worker's, for the total
    /// timeout (kept armed from one request to the next: see `Timer`).
    fn send(
        &self,
        req: &WorkRequest,
        ticket: &Ticket,
        timer: &mut Timer,
    ) -> impl Future<Output = RequestRecord> + Send;
}

/// reqwest's top-level message is generic ("error sending request"); the cause
/// is further down the chain.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

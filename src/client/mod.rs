//! Sending one request and measuring it.
//!
//! The runner only knows the `Backend` trait; `openai.rs` implements it over
//! HTTP. Parsing is kept pure (`sse.rs`, `chunk.rs`) so every byte-level case
//! is unit-tested without a server.

mod chunk;
mod openai;
pub mod sse;

use std::future::Future;

pub use openai::{ApiKey, OpenAiBackend};

use crate::load::Ticket;
use crate::metrics::RequestRecord;
use crate::workload::WorkRequest;

/// Something that can carry out a request and report its timeline.
pub trait Backend: Send + Sync + 'static {
    /// Sends `req` now and returns its record. Never fails: every fault is an
    /// outcome in the record.
    fn send(&self, req: &WorkRequest, ticket: &Ticket) -> impl Future<Output = RequestRecord> + Send;
}

//! The figures only some runs have: sessions, splits by index (turn,
//! choice, prompt), stop sequences, the prompt cache.

use serde::{Deserialize, Serialize};

use super::Percentiles;
use crate::metrics::ByIndex;

/// Sessions: how long whole ones took, and each turn's latency by its
/// number in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionStats {
    /// Sessions that ran all their turns.
    pub completed: u64,
    pub duration_ms: Percentiles,
    /// By turn number.
    pub by_turn: Vec<IndexStats>,
}

/// Latency at one index (from 1) of a split: a session's turn, a choice
/// (its TTFT and e2e are its own first and last content event), a prompt
/// of a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexStats {
    pub index: u32,
    /// Ok requests with this index.
    pub requests: u64,
    pub prompt_tokens_mean: f64,
    pub ttft_ms: Percentiles,
    pub e2e_ms: Percentiles,
}

/// A variant with stop sequences: the choices that ended with finish_reason
/// `stop` (a stop sequence, or the model's own end: the API does not tell
/// them apart), and the output tokens not generated against `max_tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopStats {
    pub choices: u64,
    pub stopped: u64,
    pub stopped_share: f64,
    /// `max_tokens` for every choice of the ok requests, what they generated,
    /// and the difference.
    pub max_tokens: u64,
    pub output_tokens: u64,
    pub tokens_saved: u64,
    pub saved_share: f64,
}

pub(super) fn by_index(b: &ByIndex) -> Vec<IndexStats> {
    b.0.iter()
        .zip(1..)
        .map(|(t, index)| {
            let requests = t.e2e.len();
            IndexStats {
                index,
                requests,
                prompt_tokens_mean: if requests > 0 { t.prompt_tokens as f64 / requests as f64 } else { 0.0 },
                ttft_ms: Percentiles::from_histogram(&t.ttft),
                e2e_ms: Percentiles::from_histogram(&t.e2e),
            }
        })
        .collect()
}

/// What the server's prefix cache did, from the ok requests whose usage
/// said (`cached_tokens`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheStats {
    /// Ok requests whose server said, and of them those with cached tokens.
    pub requests: u64,
    pub hits: u64,
    /// Cached prompt tokens, and all prompt tokens of those requests.
    pub cached_tokens: u64,
    pub prompt_tokens: u64,
    /// cached_tokens / prompt_tokens.
    pub cached_share: f64,
    /// TTFT of the requests with cached tokens, and of those without.
    pub ttft_cached_ms: Percentiles,
    pub ttft_uncached_ms: Percentiles,
}

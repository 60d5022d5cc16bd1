//! What multi-turn sessions measured, per variant: every turn's TTFT and
//! e2e by its number in the session (turn 1 against turn 5: what a growing
//! conversation costs), its prompt tokens, and how long whole sessions
//! took (from the first turn's intended start to the last turn's end; a
//! session cut by the end of the run or by a failed turn is not counted).

use hdrhistogram::Histogram;

use super::{RequestRecord, new_histogram};

#[derive(Debug, Clone)]
pub struct TurnMetrics {
    pub ttft: Histogram<u64>,
    pub e2e: Histogram<u64>,
    pub prompt_tokens: u64,
}

impl Default for TurnMetrics {
    fn default() -> Self {
        TurnMetrics { ttft: new_histogram(), e2e: new_histogram(), prompt_tokens: 0 }
    }
}

#[derive(Debug, Clone)]
pub struct SessionMetrics {
    /// Completed sessions' durations (µs).
    pub duration: Histogram<u64>,
    /// Turn k at index k - 1; ok turns only.
    pub turns: Vec<TurnMetrics>,
}

impl Default for SessionMetrics {
    fn default() -> Self {
        SessionMetrics { duration: new_histogram(), turns: Vec::new() }
    }
}

impl SessionMetrics {
    /// An ok turn of a session (`r.session` is set).
    pub fn record(&mut self, r: &RequestRecord) {
        let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(d) = r.session_done {
            self.duration.saturating_record(us(d));
        }
        let Some(turn) = r.session else { return };
        let k = turn.turn.max(1) as usize;
        if self.turns.len() < k {
            self.turns.resize_with(k, TurnMetrics::default);
        }
        let t = &mut self.turns[k - 1];
        t.e2e.saturating_record(us(r.e2e()));
        if let Some(ttft) = r.ttft() {
            t.ttft.saturating_record(us(ttft));
        }
        t.prompt_tokens += r.prompt_tokens;
    }

    /// Adds another's (exact).
    pub fn add(&mut self, o: &SessionMetrics) {
        let _ = self.duration.add(&o.duration);
        if self.turns.len() < o.turns.len() {
            self.turns.resize_with(o.turns.len(), TurnMetrics::default);
        }
        for (a, b) in self.turns.iter_mut().zip(&o.turns) {
            let _ = a.ttft.add(&b.ttft);
            let _ = a.e2e.add(&b.e2e);
            a.prompt_tokens += b.prompt_tokens;
        }
    }
}

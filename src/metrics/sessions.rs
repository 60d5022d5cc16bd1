//! Latency split by a 1-based index: a session's turn (turn 1 against turn
//! 5: what a growing conversation costs), a choice of a stream of several
//! (the first against the last of n = 3), a prompt of a streamed batch. And
//! what whole sessions took, from the first turn's intended start to the
//! last turn's end (a session cut by the end of the run or a failed turn is
//! not counted).

use std::time::Duration;

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

/// `TurnMetrics` by index, from 1 (at 0 in the vector).
#[derive(Debug, Clone, Default)]
pub struct ByIndex(pub Vec<TurnMetrics>);

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl ByIndex {
    fn at(&mut self, k: usize) -> &mut TurnMetrics {
        if self.0.len() < k {
            self.0.resize_with(k, TurnMetrics::default);
        }
        &mut self.0[k - 1]
    }

    fn record(&mut self, k: usize, ttft: Option<Duration>, e2e: Duration, prompt_tokens: u64) {
        let t = self.at(k.max(1));
        t.e2e.saturating_record(us(e2e));
        if let Some(ttft) = ttft {
            t.ttft.saturating_record(us(ttft));
        }
        t.prompt_tokens += prompt_tokens;
    }

    /// Adds another's (exact).
    pub fn add(&mut self, o: &ByIndex) {
        for (k, b) in o.0.iter().enumerate() {
            let a = self.at(k + 1);
            let _ = a.ttft.add(&b.ttft);
            let _ = a.e2e.add(&b.e2e);
            a.prompt_tokens += b.prompt_tokens;
        }
    }

    /// Each choice of an ok stream of several, by its index within its
    /// prompt (`by_choice`) and by its prompt (`by_prompt`, a batch).
    pub fn record_choices(
        r: &RequestRecord,
        by_choice: &mut Option<ByIndex>,
        by_prompt: &mut Option<ByIndex>,
    ) {
        let n = r.n.max(1);
        for c in &r.choices {
            let (Some(first), Some(last)) = (c.first, c.last) else { continue };
            let ttft = Some(first.saturating_duration_since(r.intended));
            let e2e = last.saturating_duration_since(r.intended);
            if n > 1 {
                by_choice.get_or_insert_default().record((c.index % n) as usize + 1, ttft, e2e, 0);
            }
            if r.prompts > 1 {
                by_prompt.get_or_insert_default().record((c.index / n) as usize + 1, ttft, e2e, 0);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionMetrics {
    /// Completed sessions' durations (µs).
    pub duration: Histogram<u64>,
    /// Ok turns by their number.
    pub turns: ByIndex,
}

impl Default for SessionMetrics {
    fn default() -> Self {
        SessionMetrics { duration: new_histogram(), turns: ByIndex::default() }
    }
}

impl SessionMetrics {
    /// An ok turn of a session (`r.session` is set).
    pub fn record(&mut self, r: &RequestRecord) {
        if let Some(d) = r.session_done {
            self.duration.saturating_record(us(d));
        }
        let Some(turn) = r.session else { return };
        self.turns.record(turn.turn as usize, r.ttft(), r.e2e(), r.prompt_tokens);
    }

    /// Adds another's (exact).
    pub fn add(&mut self, o: &SessionMetrics) {
        let _ = self.duration.add(&o.duration);
        self.turns.add(&o.turns);
    }
}

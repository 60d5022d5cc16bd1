//! Throughput over a window: the work that *completed* inside it, divided by
//! its length (DESIGN: throughput windows). A request belongs to the stage it
//! started in for latency, but it counts toward the throughput of the window
//! (or stage) in which it completed, whatever its phase: a warm-up request
//! that completes after warm-up did the server's work inside the window.
//!
//! Completion times are kept as HDR histograms of their offset from the
//! start of the measured window (ms; one histogram of requests and two
//! weighted by prompts and output tokens), so the count inside any span is
//! read back after the run, shards merge exactly, and memory stays flat. The
//! histograms' 3 significant digits place a completion within 0.1% of its
//! offset: only completions that close to a window's edge can be counted on
//! the wrong side of it.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::new_histogram;

/// Ok requests by when they completed (offset from the window start, ms).
#[derive(Debug, Clone)]
pub struct Completions {
    pub requests: Histogram<u64>,
    pub prompts: Histogram<u64>,
    /// Prompt (input) tokens: what embeddings and prefill-bound runs deliver.
    pub input_tokens: Histogram<u64>,
    pub output_tokens: Histogram<u64>,
}

impl Default for Completions {
    fn default() -> Self {
        Completions {
            requests: new_histogram(),
            prompts: new_histogram(),
            input_tokens: new_histogram(),
            output_tokens: new_histogram(),
        }
    }
}

/// Work completed inside a span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Done {
    pub requests: u64,
    pub prompts: u64,
    /// Prompt (input) tokens of those requests.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of them, requests that met the per-request objectives, and their
    /// output tokens.
    pub good: u64,
    pub good_output_tokens: u64,
}

impl std::ops::AddAssign for Done {
    fn add_assign(&mut self, o: Done) {
        self.requests += o.requests;
        self.prompts += o.prompts;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.good += o.good;
        self.good_output_tokens += o.good_output_tokens;
    }
}

/// A histogram value for an offset: 1 + whole ms (values start at 1).
fn value(offset: Duration) -> u64 {
    1 + u64::try_from(offset.as_millis()).unwrap_or(u64::MAX - 1)
}

impl Completions {
    pub fn record(&mut self, offset: Duration, prompts: u32, input_tokens: u64, output_tokens: u64) {
        let v = value(offset);
        let _ = self.requests.record(v);
        if prompts > 0 {
            let _ = self.prompts.record_n(v, u64::from(prompts));
        }
        if input_tokens > 0 {
            let _ = self.input_tokens.record_n(v, input_tokens);
        }
        if output_tokens > 0 {
            let _ = self.output_tokens.record_n(v, output_tokens);
        }
    }

    pub fn add(&mut self, o: &Completions) {
        let _ = self.requests.add(&o.requests);
        let _ = self.prompts.add(&o.prompts);
        let _ = self.input_tokens.add(&o.input_tokens);
        let _ = self.output_tokens.add(&o.output_tokens);
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// What completed from `from` to `to` (offsets from the window start).
    pub fn within(&self, from: Duration, to: Duration) -> Done {
        let (lo, hi) = (value(from), value(to));
        let count = |h: &Histogram<u64>| if h.is_empty() || hi < lo { 0 } else { h.count_between(lo, hi) };
        Done {
            requests: count(&self.requests),
            prompts: count(&self.prompts),
            input_tokens: count(&self.input_tokens),
            output_tokens: count(&self.output_tokens),
            ..Done::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_counted_in_the_span_it_completed_in() {
        let mut c = Completions::default();
        let ms = Duration::from_millis;
        c.record(ms(100), 1, 5, 10);
        c.record(ms(1_500), 2, 5, 20);
        c.record(ms(2_500), 1, 5, 30);
        assert_eq!(
            c.within(ms(0), ms(2_000)),
            Done { requests: 2, prompts: 3, input_tokens: 10, output_tokens: 30, ..Done::default() }
        );
        assert_eq!(
            c.within(ms(2_000), ms(4_000)),
            Done { requests: 1, prompts: 1, input_tokens: 5, output_tokens: 30, ..Done::default() }
        );
        assert_eq!(c.within(ms(3_000), ms(2_000)), Done::default());
        let mut d = Completions::default();
        d.add(&c);
        d.add(&c);
        assert_eq!(d.within(ms(0), ms(10_000)).output_tokens, 120);
    }
}

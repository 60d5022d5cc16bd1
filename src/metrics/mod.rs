//! Measurements: per-variant HDR histograms and counters, fed one record at a
//! time by the collector, and the `Summary` computed from them once.

mod record;
mod summary;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub use record::{Outcome, RequestRecord, TokenSource};
pub use summary::{Percentiles, Stats, Summary};

/// A start this much later than intended counts as late.
pub const LATE_START: Duration = Duration::from_millis(5);
/// Distinct error messages kept per error class; the rest are counted together.
const MESSAGES_PER_CLASS: usize = 20;

/// One latency distribution in microseconds: 1 µs to 1 h at 3 significant
/// digits, the precision of every figure we report.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug, Clone)]
pub struct Histograms {
    pub ttft: Histogram<u64>,
    pub ttft_service: Histogram<u64>,
    pub e2e: Histogram<u64>,
    pub e2e_service: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub tpot: Histogram<u64>,
    pub queue_delay: Histogram<u64>,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            ttft: new_histogram(),
            ttft_service: new_histogram(),
            e2e: new_histogram(),
            e2e_service: new_histogram(),
            itl: new_histogram(),
            tpot: new_histogram(),
            queue_delay: new_histogram(),
        }
    }
}

impl Histograms {
    /// Adds another set (exact: HDR histograms merge losslessly).
    pub fn add(&mut self, o: &Histograms) {
        for (a, b) in [
            (&mut self.ttft, &o.ttft),
            (&mut self.ttft_service, &o.ttft_service),
            (&mut self.e2e, &o.e2e),
            (&mut self.e2e_service, &o.e2e_service),
            (&mut self.itl, &o.itl),
            (&mut self.tpot, &o.tpot),
            (&mut self.queue_delay, &o.queue_delay),
        ] {
            // Same bounds on both sides, so adding cannot fail.
            let _ = a.add(b);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ErrorClass {
    pub count: u64,
    pub messages: BTreeMap<String, u64>,
    pub other_messages: u64,
}

/// Everything measured for one variant.
#[derive(Debug, Clone, Default)]
pub struct VariantMetrics {
    pub name: String,
    pub streaming: bool,
    pub h: Histograms,
    pub ok: u64,
    pub cancelled: u64,
    pub late_starts: u64,
    pub errors: BTreeMap<String, ErrorClass>,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub tokens_from_usage: u64,
    pub tokens_estimated: u64,
}

impl VariantMetrics {
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    fn record(&mut self, r: &RequestRecord) {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if r.outcome == Outcome::Cancelled {
            self.cancelled += 1;
            return;
        }
        self.h.queue_delay.saturating_record(us(r.queue_delay()));
        if r.queue_delay() > LATE_START {
            self.late_starts += 1;
        }
        if !r.outcome.is_ok() {
            let class = self.errors.entry(r.outcome.class()).or_default();
            class.count += 1;
            let msg = r.error.clone().unwrap_or_default();
            if let Some(n) = class.messages.get_mut(&msg) {
                *n += 1;
            } else if class.messages.len() < MESSAGES_PER_CLASS {
                class.messages.insert(msg, 1);
            } else {
                class.other_messages += 1;
            }
            return;
        }
        self.ok += 1;
        self.h.e2e.saturating_record(us(r.e2e()));
        self.h.e2e_service.saturating_record(us(r.e2e_service()));
        if let (Some(t), Some(ts)) = (r.ttft(), r.ttft_service()) {
            self.h.ttft.saturating_record(us(t));
            self.h.ttft_service.saturating_record(us(ts));
        }
        for gap in &r.itl {
            self.h.itl.saturating_record(us(*gap));
        }
        if let Some(t) = r.tpot() {
            self.h.tpot.saturating_record(us(t));
        }
        self.prompt_tokens += r.prompt_tokens;
        self.output_tokens += r.output_tokens;
        match r.token_source {
            TokenSource::Usage => self.tokens_from_usage += 1,
            TokenSource::Estimate => self.tokens_estimated += 1,
        }
    }
}

/// The measured part of a run.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub variants: Vec<VariantMetrics>,
    /// Start of the measured window (end of warm-up).
    pub window_start: Instant,
    /// End of the last measured request.
    pub last_end: Option<Instant>,
}

impl Metrics {
    pub fn new(variants: impl IntoIterator<Item = (String, bool)>, window_start: Instant) -> Self {
        let variants = variants
            .into_iter()
            .map(|(name, streaming)| VariantMetrics { name, streaming, ..Default::default() })
            .collect();
        Metrics { variants, window_start, last_end: None }
    }

    /// Counts a finished request; warm-up requests are not measured.
    pub fn record(&mut self, r: &RequestRecord) {
        if r.warmup {
            return;
        }
        if let Some(v) = self.variants.get_mut(r.variant) {
            v.record(r);
        }
        if r.outcome != Outcome::Cancelled {
            self.last_end = Some(self.last_end.map_or(r.end, |e| e.max(r.end)));
        }
    }

    /// Length of the measured window: from the end of warm-up to the end of
    /// the last measured request.
    pub fn window(&self) -> Duration {
        self.last_end.map_or(Duration::ZERO, |e| e.saturating_duration_since(self.window_start))
    }
}

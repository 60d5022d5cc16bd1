//! How measurements add up: a finished request at a time (`record`), and
//! the shares of one step that lanes recorded apart (`merge`, exact:
//! histograms and counts add).

use std::time::Duration;

use super::{
    ByIndex, LATE_START, MESSAGES_PER_CLASS, Metrics, Outcome, RequestRecord, SessionMetrics, TokenSource,
    VariantMetrics, message_kind,
};
use crate::tokens::Counter;

impl VariantMetrics {
    /// Adds another set of counts (exact).
    pub fn merge(&mut self, v: &VariantMetrics) {
        self.h.add(&v.h);
        self.ok += v.ok;
        self.cancelled += v.cancelled;
        self.late_starts += v.late_starts;
        self.prompt_tokens += v.prompt_tokens;
        self.output_tokens += v.output_tokens;
        self.reasoning_tokens += v.reasoning_tokens;
        self.tokens_from_usage += v.tokens_from_usage;
        self.tokens_estimated += v.tokens_estimated;
        self.tokens_counted += v.tokens_counted;
        self.tokens_tokenizer += v.tokens_tokenizer;
        self.tokens_fallback += v.tokens_fallback;
        self.prompts += v.prompts;
        self.cache_reported += v.cache_reported;
        self.cache_hits += v.cache_hits;
        self.cached_tokens += v.cached_tokens;
        self.cache_prompt_tokens += v.cache_prompt_tokens;
        if let Some(o) = &v.sessions {
            self.sessions.get_or_insert_with(SessionMetrics::default).add(o);
        }
        if let Some(o) = &v.by_choice {
            self.by_choice.get_or_insert_default().add(o);
        }
        if let Some(o) = &v.by_prompt {
            self.by_prompt.get_or_insert_default().add(o);
        }
        self.stop_max_tokens += v.stop_max_tokens;
        self.stop_output_tokens += v.stop_output_tokens;
        self.stop_choices += v.stop_choices;
        self.stop_stopped += v.stop_stopped;
        self.not_sent += v.not_sent;
        self.completed.add(&v.completed);
        self.goodput_judged |= v.goodput_judged;
        self.good += v.good;
        self.good_completed.add(&v.good_completed);
        self.priced |= v.priced;
        self.cost_usd += v.cost_usd;
        self.retries += v.retries;
        self.rate_limited += v.rate_limited;
        self.reconnects += v.reconnects;
        for (reason, n) in &v.finish_reasons {
            *self.finish_reasons.entry(reason.clone()).or_default() += n;
        }
        for (class, e) in &v.errors {
            let t = self.errors.entry(class.clone()).or_default();
            t.count += e.count;
            t.other_messages += e.other_messages;
            for (m, n) in &e.messages {
                *t.messages.entry(m.clone()).or_default() += n;
            }
        }
    }

    fn record(&mut self, r: &RequestRecord) {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if r.outcome == Outcome::Cancelled {
            self.cancelled += 1;
            return;
        }
        // Billed whatever the outcome (an error after some tokens still costs).
        self.cost_usd += r.cost_usd.unwrap_or(0.0);
        self.retries += u64::from(r.attempts.saturating_sub(1));
        self.rate_limited += u64::from(r.rate_limited);
        self.reconnects += u64::from(r.reconnects);
        self.h.queue_delay.saturating_record(us(r.queue_delay()));
        if r.queue_delay() > LATE_START {
            self.late_starts += 1;
        }
        if !r.outcome.is_ok() {
            let class = self.errors.entry(r.outcome.class().into_owned()).or_default();
            class.count += 1;
            let msg = message_kind(r.error.as_deref().unwrap_or_default());
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
        self.prompts += u64::from(r.prompts);
        self.h.e2e.saturating_record(us(r.e2e()));
        self.h.e2e_service.saturating_record(us(r.e2e_service()));
        if let (Some(t), Some(ts)) = (r.ttft(), r.ttft_service()) {
            self.h.ttft.saturating_record(us(t));
            self.h.ttft_service.saturating_record(us(ts));
        }
        if let Some(t) = r.ttfr() {
            self.h.ttfr.saturating_record(us(t));
            if let Some(a) = r.ttfa() {
                self.h.ttfa.saturating_record(us(a));
            }
        }
        if r.session.is_some() {
            self.sessions.get_or_insert_with(SessionMetrics::default).record(r);
        }
        if !r.choices.is_empty() {
            ByIndex::record_choices(r, &mut self.by_choice, &mut self.by_prompt);
        }
        if r.stops {
            self.stop_max_tokens += r.max_output_tokens;
            self.stop_output_tokens += r.output_tokens;
            self.stop_choices += r.finish_reasons.len() as u64;
            self.stop_stopped += r.finish_reasons.iter().filter(|f| *f == "stop").count() as u64;
        }
        if let Some(cached) = r.cached_tokens {
            self.cache_reported += 1;
            self.cache_hits += u64::from(cached > 0);
            self.cached_tokens += cached;
            self.cache_prompt_tokens += r.prompt_tokens;
            if let Some(t) = r.ttft() {
                let h = if cached > 0 { &mut self.h.ttft_cached } else { &mut self.h.ttft_uncached };
                h.saturating_record(us(t));
            }
        }
        for reason in &r.finish_reasons {
            // Looked up before inserting: a key is allocated once per reason,
            // not once per request.
            match self.finish_reasons.get_mut(reason.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    self.finish_reasons.insert(reason.to_string(), 1);
                }
            }
        }
        for gap in &r.itl {
            self.h.itl.saturating_record(us(*gap));
        }
        if let Some(t) = r.tpot() {
            self.h.tpot.saturating_record(us(t));
        }
        self.prompt_tokens += r.prompt_tokens;
        self.output_tokens += r.output_tokens;
        self.reasoning_tokens += r.reasoning_tokens.unwrap_or(0);
        match r.token_source {
            TokenSource::Usage => self.tokens_from_usage += 1,
            TokenSource::Estimate => self.tokens_estimated += 1,
            TokenSource::Counted(c) => {
                self.tokens_counted += 1;
                match c {
                    Counter::Tokenizer => self.tokens_tokenizer += 1,
                    Counter::Fallback => self.tokens_fallback += 1,
                    Counter::Tiktoken => {}
                }
            }
        }
    }
}

impl Metrics {
    /// Counts a finished request; warm-up requests are not measured, but
    /// their completion counts toward throughput like any other.
    pub fn record(&mut self, r: &RequestRecord) {
        let good = r.outcome.is_ok() && self.goodput.as_ref().is_some_and(|g| r.meets(g));
        if r.outcome.is_ok()
            && let Some(offset) = r.end.checked_duration_since(self.window_start)
            && let Some(v) = self.variants.get_mut(r.variant)
        {
            v.completed.record(offset, r.prompts, r.prompt_tokens, r.output_tokens);
            if good {
                v.good_completed.record(offset, r.prompts, r.prompt_tokens, r.output_tokens);
            }
        }
        if r.warmup {
            return;
        }
        if let Some(v) = self.variants.get_mut(r.variant) {
            v.record(r);
            v.good += u64::from(good);
        }
        if let Some(s) = self.stages.get_mut(r.stage) {
            s.streaming = s.streaming || r.streaming;
            s.record(r);
            s.good += u64::from(good);
        }
        if r.outcome != Outcome::Cancelled {
            self.last_end = Some(self.last_end.map_or(r.end, |e| e.max(r.end)));
        }
    }

    /// Adds the measurements of another share of the same step (a lane's):
    /// same variants, stages and window start. Exact: histograms and counts
    /// add.
    pub fn merge(&mut self, o: &Metrics) {
        for (v, ov) in self.variants.iter_mut().zip(&o.variants) {
            v.merge(ov);
        }
        for (s, os) in self.stages.iter_mut().zip(&o.stages) {
            s.streaming = s.streaming || os.streaming;
            s.merge(os);
        }
        self.last_end = self.last_end.max(o.last_end);
    }
}

//! The spending cap of a run.
//!
//! A worker reserves its request's worst-case cost before sending and
//! settles the real cost when it ends. A request starts only if what was
//! spent plus every reservation in flight stays within `max_usd`, so the cap
//! holds even when many requests run at once.
//!
//! What a request costs (`charge`): nothing when the server never served it
//! (no connection, or an error status: APIs do not bill those); else its
//! tokens (the server's usage when sent) at the model's price, with output
//! tokens capped at what `max_tokens` allows. Usage above that cap is a
//! server anomaly: it is counted and said in the run's notes, not charged, so
//! the spend stays within the cap the reservations were made against.

use std::sync::Mutex;

use crate::metrics::{Outcome, RequestRecord};
use crate::scenario::Price;
use crate::workload::WorkRequest;

pub struct BudgetGuard {
    max_usd: Option<f64>,
    state: Mutex<Spend>,
}

#[derive(Default)]
struct Spend {
    spent: f64,
    reserved: f64,
    /// Requests whose usage passed what they could be billed for, and the
    /// output tokens above it.
    anomalies: u64,
    excess_tokens: u64,
}

impl BudgetGuard {
    pub fn new(max_usd: Option<f64>) -> Self {
        BudgetGuard { max_usd, state: Mutex::new(Spend::default()) }
    }

    /// Reserves `worst` USD; `false` when that could pass the cap.
    pub fn reserve(&self, worst: f64) -> bool {
        // Without a cap there is nothing to hold a reservation against: the
        // lock, which every worker would take per request, is left alone.
        if self.max_usd.is_none() {
            return true;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.max_usd.is_some_and(|max| s.spent + s.reserved + worst > max) {
            return false;
        }
        s.reserved += worst;
        true
    }

    /// Replaces a reservation by what the request really cost.
    pub fn settle(&self, reserved: f64, actual: f64) {
        // A request with no price reserves and costs nothing (no lock).
        if reserved == 0.0 && actual == 0.0 {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.reserved = (s.reserved - reserved).max(0.0);
        s.spent += actual;
    }

    /// What `record` (sent for `req`) costs at `price`; see the module doc.
    pub fn charge(&self, record: &RequestRecord, req: &WorkRequest, price: Price) -> f64 {
        let served =
            record.headers.is_some() && !matches!(record.outcome, Outcome::Http(_) | Outcome::RateLimited);
        if !served {
            return 0.0;
        }
        let output = record.output_tokens;
        let cached = record.cached_tokens.unwrap_or(0);
        if req.max_output_tokens > 0 && output > req.max_output_tokens {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.anomalies += 1;
            s.excess_tokens += output - req.max_output_tokens;
            return price.cost_cached(record.prompt_tokens, cached, req.max_output_tokens);
        }
        price.cost_cached(record.prompt_tokens, cached, output)
    }

    /// Says, once, that the server reported more output than requests could
    /// be billed for.
    pub fn take_anomaly_note(&self) -> Option<String> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (n, excess) = (std::mem::take(&mut s.anomalies), std::mem::take(&mut s.excess_tokens));
        (n > 0).then(|| {
            format!(
                "server anomaly: {n} requests reported {excess} output tokens more than max_tokens allows \
                 (max_tokens x max(n, best_of) per prompt); they are priced at that limit"
            )
        })
    }

    pub fn spent(&self) -> f64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_reservations_count_against_the_cap() {
        let b = BudgetGuard::new(Some(1.0));
        assert!(b.reserve(0.4));
        assert!(b.reserve(0.4));
        assert!(!b.reserve(0.4), "0.8 reserved + 0.4 > 1.0");
        b.settle(0.4, 0.1);
        assert!(b.reserve(0.4), "0.1 spent + 0.4 + 0.4 <= 1.0");
        assert!((b.spent() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn without_a_cap_every_request_may_start_and_what_it_cost_is_still_spent() {
        let b = BudgetGuard::new(None);
        assert!(b.reserve(1e9));
        assert!(b.reserve(1e9));
        b.settle(1e9, 0.25);
        b.settle(0.0, 0.0);
        b.settle(1e9, 0.5);
        assert!((b.spent() - 0.75).abs() < 1e-12);
    }

    fn example() -> (RequestRecord, WorkRequest) {
        let r = RequestRecord::example(std::time::Instant::now());
        let req = WorkRequest { prompt_tokens: 10, max_output_tokens: 8, ..WorkRequest::example() };
        (r, req)
    }

    const PRICE: Price = Price { input_per_1m: 1e6, output_per_1m: 1e6, cached_input_per_1m: None };

    #[test]
    fn a_request_the_server_never_served_costs_nothing() {
        let b = BudgetGuard::new(Some(1.0));
        let (mut r, req) = example();
        r.prompt_tokens = 10;
        r.outcome = Outcome::Connect;
        assert_eq!(b.charge(&r, &req, PRICE), 0.0, "no connection");
        r.headers = Some(r.sent);
        for status in [Outcome::Http(401), Outcome::RateLimited, Outcome::Http(503)] {
            r.outcome = status;
            assert_eq!(b.charge(&r, &req, PRICE), 0.0, "{status:?}");
        }
        r.outcome = Outcome::Ok;
        r.output_tokens = 5;
        assert_eq!(b.charge(&r, &req, PRICE), 15.0, "served: 10 + 5 tokens at $1 each");
    }

    #[test]
    fn usage_above_what_max_tokens_allows_is_an_anomaly_priced_at_the_limit() {
        let b = BudgetGuard::new(None);
        let (mut r, req) = example();
        (r.headers, r.prompt_tokens, r.output_tokens) = (Some(r.sent), 10, 500);
        assert_eq!(b.charge(&r, &req, PRICE), 18.0, "10 + 8 (max_tokens)");
        let note = b.take_anomaly_note().expect("said");
        assert!(note.contains("1 requests reported 492 output tokens more"), "{note}");
        assert_eq!(b.take_anomaly_note(), None, "said once");
    }

    #[test]
    fn without_a_cap_everything_starts() {
        let b = BudgetGuard::new(None);
        assert!((0..1000).all(|_| b.reserve(1.0)));
    }
}

//! The spending cap of a run.
//!
//! A worker reserves its request's worst-case cost before sending and
//! settles the real cost when it ends. A request starts only if what was
//! spent plus every reservation in flight stays within `max_usd`, so the cap
//! holds even when many requests run at once.

use std::sync::Mutex;

pub struct BudgetGuard {
    max_usd: Option<f64>,
    state: Mutex<Spend>,
}

#[derive(Default)]
struct Spend {
    spent: f64,
    reserved: f64,
}

impl BudgetGuard {
    pub fn new(max_usd: Option<f64>) -> Self {
        BudgetGuard { max_usd, state: Mutex::new(Spend::default()) }
    }

    /// Reserves `worst` USD; `false` when that could pass the cap.
    pub fn reserve(&self, worst: f64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.max_usd.is_some_and(|max| s.spent + s.reserved + worst > max) {
            return false;
        }
        s.reserved += worst;
        true
    }

    /// Replaces a reservation by what the request really cost.
    pub fn settle(&self, reserved: f64, actual: f64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.reserved = (s.reserved - reserved).max(0.0);
        s.spent += actual;
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
    fn without_a_cap_everything_starts() {
        let b = BudgetGuard::new(None);
        assert!((0..1000).all(|_| b.reserve(1.0)));
    }
}

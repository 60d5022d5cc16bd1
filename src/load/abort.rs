//! `abort_on_error_rate`: the share of failed requests among the most recent
//! ones, judged by the worker as each request ends, before it takes another
//! ticket. (Judged once records were collected, it came too late: errors are usually
//! fast, and the workers had sent the whole plan before the records showed
//! the first of them.)

use std::collections::VecDeque;
use std::sync::Mutex;

/// Errors over this many recent requests decide the abort...
const WINDOW: usize = 100;
/// ...once at least this many have ended.
const WINDOW_MIN: usize = 20;

pub struct ErrorRateAbort {
    limit: f64,
    state: Mutex<State>,
}

struct State {
    recent: VecDeque<bool>,
    /// Set once, when the rate first passes the limit.
    tripped: Option<String>,
}

impl ErrorRateAbort {
    pub fn new(limit: f64) -> Self {
        let state = State { recent: VecDeque::with_capacity(WINDOW), tripped: None };
        ErrorRateAbort { limit, state: Mutex::new(state) }
    }

    /// Counts one measured request that ended (not cancelled). True the
    /// first time the rate passes the limit: the run must stop.
    pub fn observe(&self, failed: bool) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.tripped.is_some() {
            return false;
        }
        if st.recent.len() == WINDOW {
            st.recent.pop_front();
        }
        st.recent.push_back(failed);
        let n = st.recent.len();
        let rate = st.recent.iter().filter(|&&f| f).count() as f64 / n as f64;
        if n >= WINDOW_MIN && rate > self.limit {
            st.tripped = Some(format!(
                "stopped: {:.0}% of the last {n} requests failed (abort_on_error_rate = {})",
                rate * 100.0,
                self.limit
            ));
            return true;
        }
        false
    }

    /// What to tell the user, if the abort happened.
    pub fn note(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).tripped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_when_the_recent_rate_passes_the_limit() {
        let a = ErrorRateAbort::new(0.5);
        // 19 failures: not enough requests yet to judge.
        assert!((0..19).all(|_| !a.observe(true)));
        assert!(a.observe(true), "20 of 20 failed");
        assert!(!a.observe(true), "only once");
        assert_eq!(
            a.note().as_deref(),
            Some("stopped: 100% of the last 20 requests failed (abort_on_error_rate = 0.5)")
        );
    }

    #[test]
    fn the_window_forgets_old_requests() {
        let a = ErrorRateAbort::new(0.5);
        assert!((0..100).all(|_| !a.observe(false)));
        // 50 failures among the last 100 is not more than half...
        assert!((0..50).all(|_| !a.observe(true)));
        // ...51 is.
        assert!(a.observe(true));
    }
}

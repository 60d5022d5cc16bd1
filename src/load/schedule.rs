//! When requests should start: the one thing that differs between load modes.
//!
//! Workers ask the schedule for their next ticket. In closed loop the ticket
//! is "now" (a user sends again as soon as it is free); in open loop it is the
//! next arrival time, whether or not the server kept up. The same worker loop
//! serves both, and a ticket's `intended` time is what latency is measured
//! from, so a slow server cannot hide its queue (no coordinated omission).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::scenario::{Arrival, Load, LoadMode};

/// Permission to send one request.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    pub seq: u64,
    pub intended: Instant,
    /// Intended during warm-up: sent, not measured.
    pub warmup: bool,
}

/// Why the schedule stopped issuing tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Duration,
    Requests,
    Interrupted,
}

impl StopReason {
    /// A stop that cut the planned run short.
    pub fn is_partial(self) -> bool {
        self == StopReason::Interrupted
    }
}

pub struct Schedule {
    start: Instant,
    warmup_end: Instant,
    end: Option<Instant>,
    max_measured: Option<u64>,
    arrivals: Option<Arrivals>,
    workers: usize,
    state: Mutex<State>,
    interrupted: AtomicBool,
}

struct State {
    seq: u64,
    measured: u64,
    /// Seconds from `start` to the next open-loop arrival.
    next_arrival: f64,
    rng: Xoshiro256PlusPlus,
    stopped: Option<StopReason>,
}

#[derive(Clone, Copy)]
struct Arrivals {
    rate: f64,
    kind: Arrival,
}

impl Schedule {
    pub fn new(load: &Load, seed: u64, start: Instant) -> Self {
        let warmup_end = start + load.warmup;
        let (arrivals, workers) = match load.mode {
            LoadMode::Closed { concurrency } => (None, concurrency as usize),
            LoadMode::Open { rate, arrival, max_in_flight } => {
                (Some(Arrivals { rate, kind: arrival }), max_in_flight as usize)
            }
        };
        Schedule {
            start,
            warmup_end,
            end: load.duration.map(|d| warmup_end + d),
            max_measured: load.requests,
            arrivals,
            workers,
            state: Mutex::new(State {
                seq: 0,
                measured: 0,
                next_arrival: 0.0,
                // Its own stream, so arrivals do not shift when the mix changes.
                rng: Xoshiro256PlusPlus::seed_from_u64(crate::workload::mix(seed, u64::MAX)),
                stopped: None,
            }),
            interrupted: AtomicBool::new(false),
        }
    }

    /// How many workers the loop should run: the users in closed loop, the
    /// in-flight cap in open loop.
    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn warmup_end(&self) -> Instant {
        self.warmup_end
    }

    /// The next ticket, or `None` once the run should stop starting requests.
    pub fn next(&self) -> Option<Ticket> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.interrupted.load(Ordering::Relaxed) {
            st.stopped.get_or_insert(StopReason::Interrupted);
        }
        if st.stopped.is_some() {
            return None;
        }
        let intended = match self.arrivals {
            None => Instant::now().max(self.start),
            Some(a) => {
                let at = self.start + Duration::from_secs_f64(st.next_arrival);
                let gap = match a.kind {
                    Arrival::Constant => 1.0 / a.rate,
                    // Exponential gaps: -ln(U)/rate with U in (0, 1].
                    Arrival::Poisson => -(1.0 - st.rng.random::<f64>()).ln() / a.rate,
                };
                st.next_arrival += gap;
                at
            }
        };
        if self.end.is_some_and(|end| intended >= end) {
            st.stopped = Some(StopReason::Duration);
            return None;
        }
        let warmup = intended < self.warmup_end;
        if !warmup {
            if self.max_measured.is_some_and(|max| st.measured >= max) {
                st.stopped = Some(StopReason::Requests);
                return None;
            }
            st.measured += 1;
        }
        let seq = st.seq;
        st.seq += 1;
        Some(Ticket { seq, intended, warmup })
    }

    /// Stop issuing tickets (Ctrl-C).
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Relaxed);
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(mode: LoadMode, duration: Option<u64>, requests: Option<u64>, warmup_ms: u64) -> Load {
        Load {
            mode,
            duration: duration.map(Duration::from_secs),
            requests,
            warmup: Duration::from_millis(warmup_ms),
            timeout: Duration::from_secs(1),
        }
    }

    fn open(rate: f64, arrival: Arrival) -> LoadMode {
        LoadMode::Open { rate, arrival, max_in_flight: 4 }
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_and_stop_at_the_duration() {
        let t0 = Instant::now();
        let s = Schedule::new(&load(open(10.0, Arrival::Constant), Some(2), None, 500), 1, t0);
        let tickets: Vec<Ticket> = std::iter::from_fn(|| s.next()).collect();
        // 0.5 s warm-up + 2 s measured at 10/s.
        assert_eq!(tickets.len(), 25);
        assert_eq!(tickets.iter().filter(|t| t.warmup).count(), 5);
        for (i, t) in tickets.iter().enumerate() {
            let off = t.intended.duration_since(t0).as_secs_f64();
            assert!((off - i as f64 * 0.1).abs() < 1e-6, "ticket {i} at {off}");
            assert_eq!(t.seq, i as u64);
        }
        assert_eq!(s.stop_reason(), Some(StopReason::Duration));
        assert!(s.next().is_none());
    }

    #[test]
    fn poisson_arrivals_have_the_asked_rate_and_repeat_for_a_seed() {
        let t0 = Instant::now();
        let offsets = |seed| {
            let s = Schedule::new(&load(open(50.0, Arrival::Poisson), Some(200), None, 0), seed, t0);
            std::iter::from_fn(|| s.next()).map(|t| t.intended.duration_since(t0)).collect::<Vec<_>>()
        };
        let a = offsets(3);
        let rate = a.len() as f64 / 200.0;
        assert!((rate - 50.0).abs() < 1.5, "rate {rate}");
        assert_eq!(a, offsets(3));
        assert_ne!(a, offsets(4));
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let cv = std_dev(&gaps) / mean(&gaps);
        assert!((cv - 1.0).abs() < 0.05, "exponential gaps have cv 1, got {cv}");
    }

    #[test]
    fn request_count_counts_measured_requests_only() {
        let t0 = Instant::now();
        let s = Schedule::new(&load(open(100.0, Arrival::Constant), None, Some(7), 100), 1, t0);
        let tickets: Vec<Ticket> = std::iter::from_fn(|| s.next()).collect();
        assert_eq!(tickets.iter().filter(|t| !t.warmup).count(), 7);
        assert_eq!(tickets.len(), 17);
        assert_eq!(s.stop_reason(), Some(StopReason::Requests));
    }

    #[test]
    fn closed_loop_tickets_are_now_and_interrupt_stops_them() {
        let s =
            Schedule::new(&load(LoadMode::Closed { concurrency: 3 }, Some(60), None, 0), 1, Instant::now());
        assert_eq!(s.workers(), 3);
        let before = Instant::now();
        let t = s.next().unwrap();
        assert!(t.intended >= before && !t.warmup);
        s.interrupt();
        assert!(s.next().is_none());
        assert_eq!(s.stop_reason(), Some(StopReason::Interrupted));
    }

    fn mean(x: &[f64]) -> f64 {
        x.iter().sum::<f64>() / x.len() as f64
    }

    fn std_dev(x: &[f64]) -> f64 {
        let m = mean(x);
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }
}

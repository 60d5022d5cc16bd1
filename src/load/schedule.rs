//! When requests should start: the one thing that differs between load modes.
//!
//! Workers ask the schedule for their next ticket. In closed loop the ticket
//! is "now" (a user sends again as soon as it is free, after its think time)
//! for the users the current stage has; in open loop it is the next arrival
//! time, whether or not the server kept up. The same worker loop serves both,
//! and a ticket's `intended` time is what latency is measured from, so a slow
//! server cannot hide its queue (no coordinated omission).
//!
//! Open-loop arrivals are drawn in "expected arrivals" space: unit gaps
//! (constant) or Exp(1) gaps (Poisson) mapped through the cumulative rate of
//! the stages, so rate changes between stages are exact, with no rounding at
//! the boundaries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

pub use crate::metrics::StopReason;
use crate::scenario::trace::{Trace, TraceEntry, TraceReader};
use crate::scenario::{Arrival, Load, LoadMode};
pub use crate::workload::Ticket;

/// A stretch of time at one load level.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: Instant,
    /// `None`: runs until the request count stops it.
    end: Option<Instant>,
    level: f64,
    /// Stage index (warm-up counts as stage 0).
    stage: usize,
}

pub struct Schedule {
    start: Instant,
    warmup_end: Instant,
    /// Warm-up (when there is one) then the stages, back to back.
    segments: Vec<Segment>,
    arrival: Option<Arrival>,
    think_time: Duration,
    ramp_up: Duration,
    max_measured: Option<u64>,
    workers: usize,
    /// A shard's offset among the others, as a fraction of one gap (0 unsharded).
    phase: f64,
    /// Arrivals at a trace's times instead of at a rate.
    trace: Option<Arc<Trace>>,
    state: Mutex<State>,
}

struct State {
    seq: u64,
    measured: u64,
    /// Expected arrivals from `start` to the next open-loop arrival.
    next_arrival: f64,
    rng: Xoshiro256PlusPlus,
    stopped: Option<StopReason>,
    /// A trace replayed: its entries, read as they are due; what went wrong
    /// reading it (the file changed since it was checked).
    trace: Option<TraceReader>,
    trace_error: Option<String>,
}

impl Schedule {
    pub fn new(load: &Load, seed: u64, start: Instant) -> Self {
        let warmup_end = start + load.warmup;
        let mut segments = Vec::new();
        if !load.warmup.is_zero() {
            segments.push(Segment { start, end: Some(warmup_end), level: load.stages[0].level, stage: 0 });
        }
        let mut t = Some(warmup_end);
        for (i, st) in load.stages.iter().enumerate() {
            let Some(from) = t else { break };
            let end = st.duration.map(|d| from + d);
            segments.push(Segment { start: from, end, level: st.level, stage: i });
            t = end;
        }
        let arrival = match load.mode {
            LoadMode::Closed => None,
            LoadMode::Open { arrival, .. } => Some(arrival),
        };
        Schedule {
            start,
            warmup_end,
            segments,
            arrival,
            think_time: load.think_time,
            ramp_up: load.ramp_up,
            max_measured: load.requests,
            workers: load.workers(),
            phase: 0.0,
            state: Mutex::new(State {
                seq: 0,
                measured: 0,
                next_arrival: 0.0,
                // Its own stream, so arrivals do not shift when the mix changes.
                rng: Xoshiro256PlusPlus::seed_from_u64(crate::workload::mix(seed, u64::MAX)),
                stopped: None,
                trace: None,
                trace_error: None,
            }),
            trace: load.trace.clone(),
        }
    }

    /// Offsets this schedule by `phase` (in [0, 1)) of a gap, so that the N
    /// shards of a run interleave: shard K of N uses K/N. Constant arrivals
    /// start `phase` of a gap late; closed-loop users take the ramp-up slots
    /// `phase` of a slot later. Poisson arrivals need no offset.
    pub fn with_phase(self, phase: f64) -> Self {
        let mut s = self;
        if s.arrival == Some(Arrival::Constant) {
            s.state.get_mut().unwrap_or_else(|p| p.into_inner()).next_arrival = phase;
        }
        s.phase = phase;
        s
    }

    /// How many workers the loop should run.
    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn warmup_end(&self) -> Instant {
        self.warmup_end
    }

    /// The planned number of measured requests, if the plan is a count.
    pub fn max_measured(&self) -> Option<u64> {
        self.max_measured
    }

    /// Closed loop: users send again when free, not at arrival times.
    pub fn closed_loop(&self) -> bool {
        self.arrival.is_none()
    }

    /// When the last stage ends, if the plan has an end in time.
    pub fn end(&self) -> Option<Instant> {
        self.segments.last().and_then(|s| s.end)
    }

    /// The next ticket for `worker`, or `None` once it should stop.
    /// `free_since`: when the worker's last request ended (`None` before its
    /// first). In closed loop the user sends again its think time after
    /// that: whatever the client did in between (counting tokens, say) is
    /// lateness, measured as in open loop, not time that vanishes.
    pub fn next(&self, worker: usize, free_since: Option<Instant>) -> Option<Ticket> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.stopped.is_some() {
            return None;
        }
        let mut trace = None;
        let (intended, stage) = match self.arrival {
            None => {
                let now = Instant::now().max(self.start);
                let wanted = if let Some(free) = free_since {
                    free.max(self.start) + self.think_time
                } else {
                    // User k of n starts k/n of the way through the ramp.
                    let share = (worker as f64 + self.phase) / self.workers.max(1) as f64;
                    now.max(self.start + self.ramp_up.mul_f64(share))
                };
                match self.closed_slot(worker, wanted) {
                    Slot::At(t, stage) => (t, stage),
                    // This user has no place in any later stage; others go on.
                    Slot::Retired => return None,
                    Slot::Over => {
                        st.stopped = Some(StopReason::Duration);
                        return None;
                    }
                }
            }
            Some(_) if self.trace.is_some() => match self.trace_next(&mut st) {
                Some((intended, entry)) => {
                    trace = Some(entry);
                    (intended, 0)
                }
                None => {
                    st.stopped = Some(StopReason::Duration);
                    return None;
                }
            },
            Some(kind) => {
                let gap = match kind {
                    Arrival::Constant => 1.0,
                    // Exp(1) gaps: -ln(U) with U in (0, 1].
                    Arrival::Poisson => -(1.0 - st.rng.random::<f64>()).ln(),
                };
                let at = st.next_arrival;
                st.next_arrival += gap;
                match self.open_time(at) {
                    Some(x) => x,
                    None => {
                        st.stopped = Some(StopReason::Duration);
                        return None;
                    }
                }
            }
        };
        self.issue(&mut st, intended, stage, trace)
    }

    /// The ticket for a request intended at `intended`, numbered and
    /// counted; none once the measured requests are all issued.
    fn issue(
        &self,
        st: &mut State,
        intended: Instant,
        stage: usize,
        trace: Option<Arc<TraceEntry>>,
    ) -> Option<Ticket> {
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
        Some(Ticket { seq, intended, warmup, stage, trace })
    }

    /// A ticket for the next turn of a session, due at `at`; none once the
    /// run is stopped, past its planned end, or at its request count.
    pub fn follow_up(&self, at: Instant) -> Option<Ticket> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // `Duration` only says the arrivals ran out (open loop issues them
        // all ahead): a session under way goes on until the planned end.
        let stopped = st.stopped.is_some_and(|r| r != StopReason::Duration);
        if stopped || self.end().is_some_and(|end| at >= end) {
            return None;
        }
        let stage = self.segments.iter().rev().find(|s| s.start <= at).map_or(0, |s| s.stage);
        self.issue(&mut st, at, stage, None)
    }

    /// The next entry of the trace and when it is due; none at its end, at
    /// the planned end, or when it cannot be read (kept for `trace_error`).
    fn trace_next(&self, st: &mut State) -> Option<(Instant, Arc<TraceEntry>)> {
        let trace = self.trace.as_deref()?;
        if st.trace.is_none() {
            match TraceReader::open(trace) {
                Ok(r) => st.trace = Some(r),
                Err(e) => {
                    st.trace_error = Some(e);
                    return None;
                }
            }
        }
        let reader = st.trace.as_mut()?;
        match reader.next_entry() {
            Ok(Some((entry, offset))) => {
                let intended = self.start + offset;
                if self.end().is_some_and(|end| intended >= end) {
                    return None;
                }
                Some((intended, Arc::new(entry)))
            }
            Ok(None) => None,
            Err(e) => {
                st.trace_error = Some(e);
                None
            }
        }
    }

    /// Why a trace's replay stopped before its end, if it did.
    pub fn trace_error(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).trace_error.clone()
    }

    /// Stops issuing tickets; the first reason given is kept.
    pub fn stop(&self, reason: StopReason) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.stopped.get_or_insert(reason);
    }

    /// A signal stops the run whatever stopped the schedule before, unless
    /// that was itself an abort (budget, error rate): requests still in
    /// flight are cut short, so the run is interrupted.
    pub fn interrupt(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(st.stopped, None | Some(StopReason::Duration | StopReason::Requests)) {
            st.stopped = Some(StopReason::Interrupted);
        }
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).stopped
    }

    /// Closed loop: the first time at or after `t` when `worker` is one of
    /// the current segment's users.
    fn closed_slot(&self, worker: usize, t: Instant) -> Slot {
        let mut saw_future = false;
        for seg in &self.segments {
            if seg.end.is_some_and(|e| e <= t) {
                continue;
            }
            saw_future = true;
            if (worker as f64) < seg.level {
                return Slot::At(t.max(seg.start), seg.stage);
            }
        }
        if saw_future { Slot::Retired } else { Slot::Over }
    }

    /// Open loop: the time at which `lambda` arrivals are expected, and its
    /// stage; `None` past the end of the plan.
    fn open_time(&self, mut lambda: f64) -> Option<(Instant, usize)> {
        for seg in &self.segments {
            let here = seg.end.map(|e| (e - seg.start).as_secs_f64() * seg.level);
            match here {
                Some(n) if lambda >= n => lambda -= n,
                _ => return Some((seg.start + Duration::from_secs_f64(lambda / seg.level), seg.stage)),
            }
        }
        None
    }
}

enum Slot {
    At(Instant, usize),
    Retired,
    Over,
}

#[cfg(test)]
mod tests;

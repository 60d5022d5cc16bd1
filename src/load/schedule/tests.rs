use std::time::{Duration, Instant};

use super::*;
use crate::scenario::Stage;

fn load(mode: LoadMode, stages: &[(Option<u64>, f64)], requests: Option<u64>, warmup_ms: u64) -> Load {
    Load {
        mode,
        stages: stages
            .iter()
            .map(|&(d, level)| Stage { duration: d.map(Duration::from_secs), level })
            .collect(),
        requests,
        warmup: Duration::from_millis(warmup_ms),
        timeout: Duration::from_secs(1),
        think_time: Duration::ZERO,
        ramp_up: Duration::ZERO,
        abort_on_error_rate: None,
        trace: None,
    }
}

fn open(arrival: Arrival) -> LoadMode {
    LoadMode::Open { arrival, max_in_flight: 4 }
}

fn all(s: &Schedule) -> Vec<Ticket> {
    std::iter::from_fn(|| s.next(0, None)).collect()
}

#[test]
fn constant_arrivals_are_evenly_spaced_and_stop_at_the_duration() {
    let t0 = Instant::now();
    let s = Schedule::new(&load(open(Arrival::Constant), &[(Some(2), 10.0)], None, 500), 1, t0);
    let tickets = all(&s);
    // 0.5 s warm-up + 2 s measured at 10/s.
    assert_eq!(tickets.len(), 25);
    assert_eq!(tickets.iter().filter(|t| t.warmup).count(), 5);
    for (i, t) in tickets.iter().enumerate() {
        let off = t.intended.duration_since(t0).as_secs_f64();
        assert!((off - i as f64 * 0.1).abs() < 1e-6, "ticket {i} at {off}");
        assert_eq!(t.seq, i as u64);
    }
    assert_eq!(s.stop_reason(), Some(StopReason::Duration));
    assert!(s.next(0, None).is_none());
}

#[test]
fn poisson_arrivals_have_the_asked_rate_and_repeat_for_a_seed() {
    let t0 = Instant::now();
    let offsets = |seed| {
        let s = Schedule::new(&load(open(Arrival::Poisson), &[(Some(200), 50.0)], None, 0), seed, t0);
        all(&s).iter().map(|t| t.intended.duration_since(t0)).collect::<Vec<_>>()
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
fn open_loop_stages_change_the_rate_at_their_boundaries() {
    let t0 = Instant::now();
    let s = Schedule::new(
        &load(open(Arrival::Constant), &[(Some(2), 5.0), (Some(1), 20.0), (Some(2), 1.0)], None, 0),
        1,
        t0,
    );
    let tickets = all(&s);
    let per_stage = |i| tickets.iter().filter(|t| t.stage == i).count();
    assert_eq!((per_stage(0), per_stage(1), per_stage(2)), (10, 20, 2));
    let first_of_1 = tickets.iter().find(|t| t.stage == 1).unwrap();
    assert!((first_of_1.intended.duration_since(t0).as_secs_f64() - 2.0).abs() < 1e-6);
}

#[test]
fn request_count_counts_measured_requests_only() {
    let t0 = Instant::now();
    let s = Schedule::new(&load(open(Arrival::Constant), &[(None, 100.0)], Some(7), 100), 1, t0);
    let tickets = all(&s);
    assert_eq!(tickets.iter().filter(|t| !t.warmup).count(), 7);
    assert_eq!(tickets.len(), 17);
    assert_eq!(s.stop_reason(), Some(StopReason::Requests));
}

#[test]
fn closed_loop_stages_admit_only_their_users() {
    let t0 = Instant::now();
    let s = Schedule::new(&load(LoadMode::Closed, &[(Some(60), 2.0), (Some(60), 4.0)], None, 0), 1, t0);
    assert_eq!(s.workers(), 4);
    let now = Instant::now();
    let first = s.next(1, None).unwrap();
    assert!(first.intended >= now && first.stage == 0 && first.intended < now + Duration::from_secs(1));
    let third = s.next(3, None).unwrap();
    assert_eq!(third.stage, 1, "user 3 waits for the second stage");
    assert_eq!(third.intended, t0 + Duration::from_secs(60));
}

#[test]
fn closed_loop_users_retire_when_later_stages_are_smaller() {
    let t0 = Instant::now();
    let s = Schedule::new(&load(LoadMode::Closed, &[(Some(60), 4.0), (Some(60), 1.0)], None, 0), 1, t0);
    assert!(s.next(3, None).is_some());
    // Worker 3 has no place in stage 1 but stage 0 is still on: it goes on.
    assert_eq!(s.next(3, Some(Instant::now())).unwrap().stage, 0);
    assert!(s.stop_reason().is_none());
}

#[test]
fn think_time_delays_the_next_request_of_a_user() {
    let mut l = load(LoadMode::Closed, &[(Some(60), 1.0)], None, 0);
    l.think_time = Duration::from_millis(500);
    let s = Schedule::new(&l, 1, Instant::now());
    let before = Instant::now();
    assert!(s.next(0, None).unwrap().intended < before + Duration::from_millis(100));
    assert!(s.next(0, Some(Instant::now())).unwrap().intended >= before + Duration::from_millis(500));
}

#[test]
fn stop_keeps_the_first_reason() {
    let s = Schedule::new(&load(LoadMode::Closed, &[(Some(60), 3.0)], None, 0), 1, Instant::now());
    assert!(s.next(0, None).is_some());
    s.stop(StopReason::Budget);
    s.stop(StopReason::Interrupted);
    assert!(s.next(0, None).is_none());
    assert_eq!(s.stop_reason(), Some(StopReason::Budget));
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn std_dev(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn ramp_up_spreads_the_first_requests_of_users() {
    let t0 = Instant::now();
    let mut l = load(LoadMode::Closed, &[(Some(60), 4.0)], None, 0);
    l.ramp_up = Duration::from_secs(2);
    let s = Schedule::new(&l, 1, t0);
    let firsts: Vec<Duration> =
        (0..4).map(|w| s.next(w, None).unwrap().intended.duration_since(t0)).collect();
    for (w, f) in firsts.iter().enumerate() {
        let want = 0.5 * w as f64;
        assert!((f.as_secs_f64() - want).abs() < 0.05, "user {w} starts at {f:?}, want {want} s");
    }
}

#[test]
fn shards_constant_arrivals_interleave_into_the_unsharded_schedule() {
    use crate::load::Shard;
    let t0 = Instant::now();
    let whole = all(&Schedule::new(&load(open(Arrival::Constant), &[(Some(2), 40.0)], None, 0), 1, t0));
    let mut union: Vec<Instant> = Vec::new();
    for k in 0..4 {
        let shard = Shard { index: k, count: 4 };
        let l = load(open(Arrival::Constant), &[(Some(2), 10.0)], None, 0);
        union.extend(all(&Schedule::new(&l, 1, t0).with_phase(shard.phase())).iter().map(|t| t.intended));
    }
    union.sort();
    assert_eq!(union.len(), whole.len());
    for (u, w) in union.iter().zip(&whole) {
        let gap = u.max(&w.intended).duration_since(*u.min(&w.intended));
        assert!(gap < Duration::from_micros(1), "{gap:?}");
    }
}

#[test]
fn a_shards_users_take_interleaved_ramp_up_slots() {
    let t0 = Instant::now();
    let mut l = load(LoadMode::Closed, &[(Some(10), 2.0)], None, 0);
    l.ramp_up = Duration::from_secs(4);
    let s = Schedule::new(&l, 1, t0).with_phase(0.5);
    // 2 users over 4 s, half a slot late: at 1 s and 3 s.
    for (worker, want) in [(0, 1.0), (1, 3.0)] {
        let at = s.next(worker, None).unwrap().intended.duration_since(t0).as_secs_f64();
        assert!((at - want).abs() < 0.01, "user {worker} at {at}");
    }
}

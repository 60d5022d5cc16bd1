use super::*;
use crate::scenario::Bound;

/// The search against a service whose capacity is exactly `c` req/s:
/// every rate up to it meets, every rate above misses.
fn search_for(c: f64, start: f64) -> (Search, u32) {
    let mut s = Search::new(start, 1000.0, 0.05);
    let mut probes = 0;
    while let Some(rate) = s.next() {
        probes += 1;
        s.record(rate, if rate <= c { Verdict::Meets } else { Verdict::Misses });
        assert!(probes < 50, "the search ends");
    }
    (s, probes)
}

#[test]
fn bracketing_then_bisection_finds_a_known_capacity_to_the_precision() {
    for (c, start) in [(27.6, 3.45), (5.0, 40.0), (900.0, 1.0), (0.7, 0.3)] {
        let (s, probes) = search_for(c, start);
        let (lo, hi) = s.bracket();
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        assert!(lo <= c && c < hi, "{c}: [{lo}, {hi}]");
        assert!((hi - lo) / lo <= 0.05, "{c}: [{lo}, {hi}] within 5%");
        assert!(probes <= 16, "{c}: {probes} probes");
    }
}

#[test]
fn a_service_faster_than_the_ceiling_stops_at_the_ceiling() {
    let (s, probes) = search_for(5000.0, 10.0);
    assert_eq!(s.bracket(), (Some(1000.0), None));
    assert!(probes <= 8, "{probes}");
}

#[test]
fn too_close_to_call_is_not_shown_to_meet() {
    let mut s = Search::new(10.0, 1000.0, 0.05);
    s.record(10.0, Verdict::Meets);
    s.record(20.0, Verdict::TooClose);
    assert_eq!(s.bracket(), (Some(10.0), Some(20.0)));
    assert_eq!(s.next(), Some(15.0));
}

/// 400 TTFTs whose p99 sits right at the limit: the probe cannot tell, and
/// says so; the same samples against a limit well above or below can.
#[test]
fn a_p99_within_noise_of_its_limit_is_too_close_to_call() {
    // Deterministic spread: 100..=499 ms.
    let xs: Vec<f64> = (0..400).map(|i| 100.0 + i as f64).collect();
    let p99 = crate::compare::stats::quantile(&xs, 0.99).unwrap();
    let (v, interval) = latency(&xs, 0.99, p99, Bound::Max, 1);
    let (lo, hi) = interval.unwrap();
    assert!(lo < p99 && p99 <= hi, "{lo} {hi}");
    assert_eq!(v, Verdict::TooClose);
    assert_eq!(latency(&xs, 0.99, 1000.0, Bound::Max, 1).0, Verdict::Meets);
    assert_eq!(latency(&xs, 0.99, 300.0, Bound::Max, 1).0, Verdict::Misses);
    assert_eq!(latency(&[], 0.99, 300.0, Bound::Max, 1).0, Verdict::Misses);
}

#[test]
fn a_closed_loop_search_probes_whole_numbers_of_users() {
    // Up to 13 users meet.
    let mut s = Search::users(1, 1000, 0.05);
    let mut seen = Vec::new();
    while let Some(users) = s.next() {
        assert_eq!(users.fract(), 0.0, "{users}");
        seen.push(users);
        s.record(users, if users <= 13.0 { Verdict::Meets } else { Verdict::Misses });
        assert!(seen.len() < 30);
    }
    assert_eq!(s.bracket(), (Some(13.0), Some(14.0)), "{seen:?}");
}

use std::path::Path;

use super::*;
use crate::scenario::Scenario;

fn shard(s: &str) -> Shard {
    s.parse().unwrap()
}

fn scenario(load: &str) -> Scenario {
    let toml = format!(
        "name = \"s\"\nseed = 7\n[load]\n{load}\n[client_limit]\nrequests_per_minute = 600\n\
         [budget]\nmax_usd = 4.0\n[pricing.m]\ninput_per_1m = 1.0\noutput_per_1m = 2.0\n[[variant]]\nname = \"a\"\nendpoint = \"chat\"\nmodel = \"m\"\n\
         max_tokens = 4\nprompt_tokens = 8\n"
    );
    Scenario::parse(&toml, Path::new("s.toml")).unwrap()
}

#[test]
fn parses_k_of_n_and_rejects_k_not_below_n() {
    assert_eq!(shard("2/4"), Shard { index: 2, count: 4 });
    assert_eq!(shard("0/1").to_string(), "0/1");
    for (bad, says) in [
        ("4/4", "below N"),
        ("0/0", "at least 1"),
        ("1", "K/N"),
        ("a/2", "K must be a whole number"),
        ("1/-2", "N must be"),
    ] {
        let e = bad.parse::<Shard>().unwrap_err();
        assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn counts_split_with_the_remainder_to_the_first_shards_and_add_up() {
    let of = |total, n: u32| (0..n).map(|k| Shard { index: k, count: n }.split(total)).collect::<Vec<_>>();
    assert_eq!(of(1000, 3), [334, 333, 333]);
    assert_eq!(of(10, 4), [3, 3, 2, 2]);
    assert_eq!(of(7, 1), [7]);
    for total in 0..50 {
        for n in 1..9 {
            assert_eq!(of(total, n).iter().sum::<u64>(), total, "{total} over {n}");
        }
    }
}

#[test]
fn closed_loop_shards_share_users_per_stage_and_requests() {
    let base = "requests = 1000\n[[load.stages]]\nduration = \"1s\"\nconcurrency = 10\n\
                [[load.stages]]\nduration = \"1s\"\nconcurrency = 5";
    let mut users = vec![Vec::new(); 2];
    let mut requests = 0;
    for k in 0..4 {
        let mut s = scenario(base);
        shard(&format!("{k}/4")).apply(&mut s).unwrap();
        for (i, st) in s.load.stages.iter().enumerate() {
            users[i].push(st.level as u64);
        }
        requests += s.load.requests.unwrap();
        assert_eq!(s.client_limit.requests_per_minute, Some(150.0));
        assert_eq!(s.budget.max_usd, Some(1.0));
    }
    assert_eq!(users, [vec![3, 3, 2, 2], vec![2, 1, 1, 1]]);
    assert_eq!(requests, 1000);
}

#[test]
fn open_loop_shards_divide_the_rate_and_get_their_own_seeds() {
    let base = "rate = 100.0\nduration = \"2s\"\nmax_in_flight = 10";
    let mut seeds = Vec::new();
    for k in 0..3 {
        let mut s = scenario(base);
        shard(&format!("{k}/3")).apply(&mut s).unwrap();
        assert!((s.load.stages[0].level - 100.0 / 3.0).abs() < 1e-9);
        assert!(matches!(s.load.mode, LoadMode::Open { max_in_flight: 3 | 4, .. }));
        assert_ne!(s.seed, 7);
        assert_eq!(s.simulator.seed, s.seed, "the scenario's seed drives its simulator too");
        seeds.push(s.seed);
    }
    seeds.dedup();
    assert_eq!(seeds.len(), 3, "one stream per shard: {seeds:?}");
    let mut again = scenario(base);
    shard("1/3").apply(&mut again).unwrap();
    assert_eq!(again.seed, seeds[1], "derived deterministically");
}

#[test]
fn one_shard_is_the_whole_run() {
    let base = "concurrency = 3\nrequests = 10";
    let mut s = scenario(base);
    shard("0/1").apply(&mut s).unwrap();
    let whole = scenario(base);
    assert_eq!(
        (s.load, s.seed, s.client_limit, s.budget),
        (whole.load, whole.seed, whole.client_limit, whole.budget)
    );
}

#[test]
fn a_shard_with_nothing_to_send_is_bad_input() {
    let e = shard("3/4").apply(&mut scenario("concurrency = 3\nduration = \"1s\"")).unwrap_err();
    assert!(e.0.contains("--shard 3/4") && e.0.contains("3 users"), "{e}");
    let e = shard("0/4").apply(&mut scenario("concurrency = 8\nrequests = 3")).unwrap_err();
    assert!(e.0.contains("load.requests = 3"), "{e}");
}

#[test]
fn start_at_reads_rfc3339_with_z_or_an_offset() {
    let utc = parse_start_at("2030-01-02T03:04:05Z").unwrap();
    assert_eq!(humantime::format_rfc3339(utc).to_string(), "2030-01-02T03:04:05Z");
    assert_eq!(parse_start_at("2030-01-02T05:04:05+02:00").unwrap(), utc);
    assert_eq!(parse_start_at("2030-01-01T22:34:05-04:30").unwrap(), utc);
    let frac = parse_start_at("2030-01-02T03:04:05.250Z").unwrap();
    assert_eq!(frac.duration_since(utc).unwrap().as_millis(), 250);
    for bad in [
        "",
        "tomorrow",
        "2030-01-02",
        "2030-01-02T03:04:05+2:00",
        "2030-13-02T03:04:05Z",
        "2030-01-02 03:04:05Z",
    ] {
        let e = parse_start_at(bad).unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains(&format!("{bad:?}")), "{bad}: {e}");
    }
}

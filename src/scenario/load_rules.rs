//! The rules of `[load]`: levels, stages, stop conditions, timeouts and
//! retries.

use std::time::Duration;

use super::file;
use super::limits::{MAX_RATE, MIN_RATE};
use super::locate::KeyPath;
use super::validate::Problems;
use super::*;

fn duration_positive(d: Option<Duration>, key: &str, p: &mut Problems) {
    if let Some(d) = d {
        p.check(!d.is_zero(), key, || "must be greater than 0, got \"0s\"".into());
    }
}

pub(super) fn load(mut l: file::LoadFile, dir: &std::path::Path, p: &mut Problems) -> Option<Load> {
    if let Some(t) = l.trace.take() {
        return traced(l, t, dir, p);
    }
    let staged = !l.stages.is_empty();
    if staged {
        for (set, k) in [
            (l.concurrency.is_some(), "concurrency"),
            (l.rate.is_some(), "rate"),
            (l.duration.is_some(), "duration"),
        ] {
            p.check(!set, KeyPath::root("load").key(k), || {
                format!("not used with [[load.stages]]: each stage sets its own {k}")
            });
        }
    }
    let stage_closed: Vec<bool> = l.stages.iter().map(|s| s.concurrency.is_some()).collect();
    let closed = if staged { stage_closed[0] } else { l.concurrency.is_some() };
    if !staged {
        match (l.concurrency, l.rate) {
            (Some(_), Some(_)) => {
                p.push("load.rate", "set either concurrency (closed loop) or rate (open loop), not both");
            }
            (None, None) => {
                p.push(
                    "load",
                    "set concurrency (closed loop), rate (open loop, requests/s) or [[load.stages]]",
                );
            }
            _ => {}
        }
    }
    let mut stages = Vec::new();
    if staged {
        for (i, s) in l.stages.iter().enumerate() {
            let key = |k: &str| KeyPath::root("load").key("stages").index(i).key(k);
            let level = match (s.concurrency, s.rate) {
                (Some(c), None) => check_concurrency(c, key("concurrency"), p),
                (None, Some(r)) => check_rate(r, key("rate"), p),
                _ => {
                    p.push(key("duration"), "each stage sets exactly one of concurrency or rate");
                    None
                }
            };
            p.check(stage_closed[i] == closed, key(if closed { "rate" } else { "concurrency" }), || {
                "all stages must be closed loop (concurrency) or all open loop (rate), not a mix".into()
            });
            p.check(!s.duration.is_zero(), key("duration"), || "must be greater than 0".into());
            stages.push(Stage { duration: Some(s.duration), level: level.unwrap_or(1.0) });
        }
    } else {
        let level = match (l.concurrency, l.rate) {
            (Some(c), None) => check_concurrency(c, "load.concurrency".into(), p),
            (None, Some(r)) => check_rate(r, "load.rate".into(), p),
            _ => None,
        };
        p.check(l.duration.is_some() || l.requests.is_some(), "load", || {
            "set duration (e.g. \"20s\") and/or requests (a count) to say when the run stops".into()
        });
        duration_positive(l.duration, "load.duration", p);
        stages.push(Stage { duration: l.duration, level: level.unwrap_or(1.0) });
    }
    let mode = if closed {
        for (set, k) in [(l.arrival.is_some(), "arrival"), (l.max_in_flight.is_some(), "max_in_flight")] {
            p.check(!set, KeyPath::root("load").key(k), || "only applies to open loop (rate)".into());
        }
        LoadMode::Closed
    } else {
        p.check(l.ramp_up.is_none(), "load.ramp_up", || {
            "only applies to closed loop (concurrency): open-loop arrivals are already spread".into()
        });
        p.check(l.think_time.is_none(), "load.think_time", || {
            "only applies to closed loop (concurrency): open-loop arrivals do not wait for answers".into()
        });
        let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        p.check((1..=100_000).contains(&max_in_flight), "load.max_in_flight", || {
            format!("must be a whole number from 1 to 100000, got {max_in_flight}")
        });
        LoadMode::Open { arrival: l.arrival.unwrap_or(Arrival::Constant), max_in_flight }
    };
    if let Some(n) = l.requests {
        p.check(n >= 1, "load.requests", || "must be at least 1, got 0".into());
    }
    duration_positive(l.timeout, "load.timeout", p);
    if let Some(r) = l.abort_on_error_rate {
        p.check(r > 0.0 && r <= 1.0, "load.abort_on_error_rate", || {
            format!("must be a fraction above 0 and at most 1, e.g. 0.2 for 20%, got {r:?}")
        });
    }
    Some(Load {
        mode,
        stages,
        requests: l.requests,
        warmup: l.warmup.unwrap_or_default(),
        timeout: l.timeout.unwrap_or(DEFAULT_TIMEOUT),
        think_time: l.think_time.unwrap_or_default(),
        ramp_up: l.ramp_up.unwrap_or_default(),
        abort_on_error_rate: l.abort_on_error_rate,
        trace: None,
    })
}

/// `[load.trace]`: open loop at the trace's times. One stage, at the
/// trace's mean rate (what the plan and the cost gate show), lasting
/// `duration` or one pass of the trace.
fn traced(l: file::LoadFile, t: file::TraceFile, dir: &std::path::Path, p: &mut Problems) -> Option<Load> {
    let key = |k: &str| KeyPath::root("load").key("trace").key(k);
    for (set, k) in [
        (l.concurrency.is_some(), "concurrency"),
        (l.rate.is_some(), "rate"),
        (!l.stages.is_empty(), "stages"),
        (l.arrival.is_some(), "arrival"),
        (l.think_time.is_some(), "think_time"),
        (l.ramp_up.is_some(), "ramp_up"),
    ] {
        p.check(!set, KeyPath::root("load").key(k), || {
            "not used with [load.trace]: the trace's timestamps say when requests start".into()
        });
    }
    let block_size = t.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
    p.check((1..=1_000_000).contains(&block_size), key("block_size"), || {
        format!("must be a whole number of tokens from 1 to 1000000, got {block_size}")
    });
    let time_scale = t.time_scale.unwrap_or(1.0);
    let scale_ok =
        p.check(time_scale.is_finite() && (0.001..=1000.0).contains(&time_scale), key("time_scale"), || {
            format!("must be a speed from 0.001 to 1000 (2.0 replays twice as fast), got {time_scale}")
        });
    let repeat = t.repeat.unwrap_or(false);
    p.check(!repeat || l.duration.is_some() || l.requests.is_some(), key("loop"), || {
        "a looped trace never ends: set [load] duration or requests".into()
    });
    duration_positive(l.duration, "load.duration", p);
    let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    p.check((1..=100_000).contains(&max_in_flight), "load.max_in_flight", || {
        format!("must be a whole number from 1 to 100000, got {max_in_flight}")
    });
    if let Some(n) = l.requests {
        p.check(n >= 1, "load.requests", || "must be at least 1, got 0".into());
    }
    duration_positive(l.timeout, "load.timeout", p);
    let path = dir.join(&t.file);
    let start = t.start.unwrap_or_default();
    // A trace that cannot be read is reported, and the rest is still
    // checked as a trace's scenario (an empty one: it never runs).
    let (entries, span, max_input) = trace::scan(&path, block_size.max(1), start).unwrap_or_else(|e| {
        p.push(key("file"), e);
        (0, Duration::ZERO, 0)
    });
    let time_scale = if scale_ok { time_scale } else { 1.0 };
    let trace = trace::Trace { path, block_size, time_scale, start, repeat, entries, span, max_input };
    // The warm-up is the replay's first part; one pass is measured from its
    // end to just after the last entry's start.
    let warmup = l.warmup.unwrap_or_default();
    let pass = trace.replay_time() + Duration::from_millis(1);
    if !repeat && l.duration.is_none() && warmup >= pass {
        let shown = humantime::format_duration(trace.replay_time());
        p.push(
            "load.warmup",
            format!("is the replay's first part, and one pass of the trace lasts only {shown}"),
        );
    }
    let duration = l.duration.or((!repeat).then(|| pass.saturating_sub(warmup)));
    let rate = (trace.mean_rate() * 1000.0).round() / 1000.0;
    Some(Load {
        mode: LoadMode::Open { arrival: Arrival::Constant, max_in_flight },
        stages: vec![Stage { duration, level: rate.max(MIN_RATE) }],
        requests: l.requests,
        warmup,
        timeout: l.timeout.unwrap_or(DEFAULT_TIMEOUT),
        think_time: Duration::ZERO,
        ramp_up: Duration::ZERO,
        abort_on_error_rate: l.abort_on_error_rate,
        trace: Some(std::sync::Arc::new(trace)),
    })
}

/// Tokens per hash id of a lengths-form trace when `block_size` is not
/// given: the Mooncake traces'.
const DEFAULT_BLOCK_SIZE: u32 = 512;

/// Timeouts and retries; a bad value is reported and replaced by its default
/// so the other checks still run.
pub(super) fn client(l: &file::LoadFile, p: &mut Problems) -> ClientConfig {
    let total = l.timeout.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_TIMEOUT);
    let mut c = ClientConfig::defaults(total);
    for (value, key, slot) in [
        (l.connect_timeout, "load.connect_timeout", &mut c.connect_timeout),
        (l.first_byte_timeout, "load.first_byte_timeout", &mut c.first_byte_timeout),
        (l.idle_timeout, "load.idle_timeout", &mut c.idle_timeout),
    ] {
        duration_positive(value, key, p);
        if let Some(d) = value.filter(|d| !d.is_zero()) {
            *slot = d;
        }
    }
    if let Some(n) = l.retries
        && p.check(n <= MAX_RETRIES, "load.retries", || {
            format!("must be a whole number from 0 to {MAX_RETRIES}, got {n}")
        })
    {
        c.retries = n;
    }
    if let Some(statuses) = &l.retry_on {
        for (i, &s) in statuses.iter().enumerate() {
            p.check((400..=599).contains(&s), KeyPath::root("load").key("retry_on").index(i), || {
                format!("must be an HTTP error status from 400 to 599, got {s}")
            });
        }
        c.retry_on = statuses.clone();
    }
    c.retry_connect = l.retry_connect.unwrap_or(false);
    if let Some(v) = &l.http {
        let known = ["1.1", "2"].contains(&v.as_str());
        if p.check(known, "load.http", || format!("must be \"1.1\" or \"2\", got {v:?}")) {
            c.http2 = v == "2";
        }
    }
    c
}

fn check_concurrency(c: u32, key: KeyPath, p: &mut Problems) -> Option<f64> {
    p.check((1..=100_000).contains(&c), key, || {
        format!("must be a whole number of users from 1 to 100000, got {c}")
    })
    .then_some(f64::from(c))
}

fn check_rate(r: f64, key: KeyPath, p: &mut Problems) -> Option<f64> {
    p.check(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r), key, || {
        format!("must be a rate from {MIN_RATE} to {MAX_RATE} requests/s, got {r:?}")
    })
    .then_some(r)
}

#[cfg(test)]
mod client_tests {
    use std::path::Path;

    use super::*;

    fn with_load(extra: &str) -> Result<Scenario, ScenarioError> {
        let src = format!(
            "name = \"t\"\n[load]\nconcurrency = 1\nrequests = 1\n{extra}\n\
             [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 5\n\
             [simulator]\nserve_any_model = true\n"
        );
        Scenario::parse(&src, Path::new("s.toml"))
    }

    #[test]
    fn client_keys_default_from_the_total_timeout() {
        let s = with_load("timeout = \"5s\"").expect("valid");
        assert_eq!(s.client, ClientConfig::defaults(Duration::from_secs(5)));
        assert_eq!(s.client.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.client.first_byte_timeout, Duration::from_secs(5));
        assert_eq!(s.client.retries, 0);
        assert_eq!(s.client.retry_on, DEFAULT_RETRY_ON);
    }

    #[test]
    fn client_keys_are_read() {
        let s = with_load(
            "connect_timeout = \"2s\"\nfirst_byte_timeout = \"30s\"\nidle_timeout = \"5s\"\n\
             retries = 3\nretry_on = [429, 503]\nhttp = \"2\"\nretry_connect = true",
        )
        .expect("valid");
        let c = &s.client;
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.first_byte_timeout, Duration::from_secs(30));
        assert_eq!(c.idle_timeout, Duration::from_secs(5));
        assert_eq!((c.retries, c.retry_on.as_slice()), (3, &[429, 503][..]));
        assert!(c.http2 && c.retry_connect);
    }

    #[test]
    fn bad_client_keys_are_all_reported_with_their_line() {
        let e = with_load(
            "idle_timeout = \"0s\"\nconnect_timeout = \"0ms\"\nretries = 11\nretry_on = [429, 200]\nhttp = \"3\"",
        )
        .expect_err("invalid")
        .to_string();
        assert!(e.contains("s.toml:5:1: load.idle_timeout: must be greater than 0"), "{e}");
        assert!(e.contains("load.connect_timeout: must be greater than 0"), "{e}");
        assert!(e.contains("s.toml:7:1: load.retries: must be a whole number from 0 to 10, got 11"), "{e}");
        assert!(e.contains("load.retry_on[1]: must be an HTTP error status from 400 to 599, got 200"), "{e}");
        assert!(e.contains("s.toml:9:1: load.http: must be \"1.1\" or \"2\", got \"3\""), "{e}");
    }
}

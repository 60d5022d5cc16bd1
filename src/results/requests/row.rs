//! A row of requests.csv formatted by hand: the bytes the csv crate's serde
//! writer makes of a `RequestRow` (the test holds the two to each other),
//! at a third of its cost. Each lane formats one row per request, on cores
//! it shares with the server being measured.
//!
//! Durations in ms are whole microseconds (`ms`), formatted as integers with
//! the decimal point set in: the shortest decimal that reads back to the
//! same `f64`, which is what ryu (the csv crate's float format) gives. Any
//! other float goes to ryu.

use super::{COLUMNS, Phase, RequestRow};

/// The header line: the columns, and `shard` in a merged directory.
pub(super) fn header(shard: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(COLUMNS.join(",").as_bytes());
    if shard {
        out.extend_from_slice(b",shard");
    }
    out.push(b'\n');
}

/// `row` as a line of requests.csv.
pub(super) fn format(row: &RequestRow<'_>, out: &mut Vec<u8>) {
    let mut int = itoa::Buffer::new();
    let mut uint = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(int.format(v).as_bytes());
    uint(out, row.seq);
    out.push(b',');
    text(out, row.variant);
    out.extend_from_slice(match row.phase {
        Phase::Warmup => b",warmup,",
        Phase::Measured => b",measured,",
    });
    float(out, row.intended_ms);
    out.push(b',');
    float(out, row.queue_delay_ms);
    out.push(b',');
    if let Some(v) = row.ttft_ms {
        float(out, v);
    }
    out.push(b',');
    float(out, row.e2e_ms);
    out.push(b',');
    uint(out, row.prompt_tokens);
    out.push(b',');
    uint(out, row.output_tokens);
    out.push(b',');
    text(out, row.token_source);
    out.push(b',');
    text(out, row.finish_reason.unwrap_or(""));
    out.push(b',');
    text(out, row.outcome);
    out.push(b',');
    text(out, row.error.unwrap_or(""));
    out.push(b',');
    uint(out, row.attempts.into());
    out.push(b',');
    uint(out, row.rate_limited.into());
    out.push(b',');
    text(out, row.prompt_token_source);
    for v in [row.cached_tokens, row.session, row.turn.map(u64::from)] {
        out.push(b',');
        if let Some(v) = v {
            uint(out, v);
        }
    }
    out.push(b',');
    text(out, row.model);
    out.push(b',');
    if let Some(v) = row.stage {
        uint(out, v.into());
    }
    for v in [row.level, row.itl_mean_ms, row.itl_max_ms] {
        out.push(b',');
        if let Some(v) = v {
            float(out, v);
        }
    }
    for v in [row.ratelimit_requests, row.ratelimit_tokens, row.reasoning_tokens] {
        out.push(b',');
        if let Some(v) = v {
            uint(out, v);
        }
    }
    if let Some(v) = row.shard {
        out.push(b',');
        uint(out, v.into());
    }
    out.push(b'\n');
}

/// A text field, quoted as the csv crate quotes: only when it holds a
/// comma, a quote or a line end, with quotes doubled.
fn text(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if !b.iter().any(|&c| matches!(c, b',' | b'"' | b'\r' | b'\n')) {
        out.extend_from_slice(b);
        return;
    }
    out.push(b'"');
    for &c in b {
        if c == b'"' {
            out.push(b'"');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// Whole microseconds below this (31 years) have at most 15 significant
/// digits, which an `f64` holds exactly in decimal.
const EXACT_MICROS: f64 = 1e15;

/// `v` as ryu writes it: for whole microseconds (what `ms` makes), by
/// integer formatting.
fn float(out: &mut Vec<u8>, v: f64) {
    let micros = (v * 1e3).round();
    if v.is_sign_positive() && micros < EXACT_MICROS && micros / 1e3 == v {
        // Exact: `micros` is a whole number below 2^53.
        let micros = micros as u64;
        let mut int = itoa::Buffer::new();
        out.extend_from_slice(int.format(micros / 1000).as_bytes());
        out.push(b'.');
        let frac = micros % 1000;
        if frac == 0 {
            out.push(b'0');
        } else {
            let digits = [b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8];
            let keep = if frac.is_multiple_of(100) {
                1
            } else if frac.is_multiple_of(10) {
                2
            } else {
                3
            };
            out.extend_from_slice(&digits[..keep]);
        }
        return;
    }
    let mut r = ryu::Buffer::new();
    out.extend_from_slice(r.format(v).as_bytes());
}

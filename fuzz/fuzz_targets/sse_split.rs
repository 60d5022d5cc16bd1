//! The SSE parser on arbitrary bytes: it never panics, and cutting the input
//! into three reads at fuzzer-chosen points gives exactly the events of one
//! read (the property the client's timing relies on: events are found, and
//! timed, whatever way the network splits them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmload::client::sse::{SseEvent, SseParser};

fn parse(reads: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for r in reads {
        p.push(r, |e| out.push(e));
    }
    (out, p.has_partial())
}

fuzz_target!(|input: &[u8]| {
    let [a, b, data @ ..] = input else { return };
    let i = usize::from(*a).min(data.len());
    let j = (i + usize::from(*b)).min(data.len());
    let whole = parse(&[data]);
    let split = parse(&[&data[..i], &data[i..j], &data[j..]]);
    assert_eq!(whole, split, "split at {i} and {j}");
});

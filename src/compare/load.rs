//! Reading one results directory for `compare`: the summary as written, and
//! from requests.csv the per-request values the tests need (measured rows
//! only; warm-up rows are not part of the run's figures).
//!
//! Both files are read through `results` (the same types that wrote them),
//! requests.csv one row at a time. A million rows are a few tens of MB of
//! `f64`s: kept in memory, sorted once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::metrics::Summary;
use crate::results::{RequestsReader, ResultsDir, ResultsError};

/// One results directory, loaded.
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    /// Per variant of the summary, in its order.
    pub samples: Vec<Samples>,
    /// Measured rows whose variant the summary does not know.
    pub unknown_rows: u64,
}

/// Per-request values of one variant's measured rows, each latency vector
/// sorted ascending.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Ok requests with a first token, ms.
    pub ttft: Vec<f64>,
    /// Ok requests, ms.
    pub e2e: Vec<f64>,
    /// Ok streamed requests with at least 2 output tokens: (e2e − ttft) /
    /// (output tokens − 1), the request's mean inter-token latency, ms.
    pub itl_mean: Vec<f64>,
    /// Ok requests: when each ended (ms from the run's start) and its
    /// output tokens, for the noise of the throughput.
    pub ends: Vec<f64>,
    pub ok_tokens: Vec<f64>,
    /// Requests that ended (ok or error; not cancelled): what cost is spread over.
    pub ended: u64,
    /// Σ and Σ² of prompt + output tokens over ended requests.
    pub tokens: f64,
    pub tokens_sq: f64,
}

impl Samples {
    fn sort(&mut self) {
        for v in [&mut self.ttft, &mut self.e2e, &mut self.itl_mean] {
            v.sort_unstable_by(f64::total_cmp);
        }
    }

    /// Every variant's requests together (the `total`).
    pub fn pooled(all: &[Samples]) -> Samples {
        let mut t = Samples::default();
        for s in all {
            t.ttft.extend_from_slice(&s.ttft);
            t.e2e.extend_from_slice(&s.e2e);
            t.itl_mean.extend_from_slice(&s.itl_mean);
            t.ends.extend_from_slice(&s.ends);
            t.ok_tokens.extend_from_slice(&s.ok_tokens);
            t.ended += s.ended;
            t.tokens += s.tokens;
            t.tokens_sq += s.tokens_sq;
        }
        t.sort();
        t
    }
}

/// Loads `dir` (`role` is "baseline" or "candidate", for messages). A missing
/// or unreadable directory or file is bad input (exit 2), named by path.
pub fn load(dir: &Path, role: &str) -> Result<RunData> {
    let d = ResultsDir::open(dir, &format!("{role} results directory"))?;
    let summary = d.summary()?;
    let streaming: Vec<bool> = summary.variants.iter().map(|v| v.streaming != Some(false)).collect();
    let index: HashMap<&str, usize> =
        summary.variants.iter().enumerate().map(|(i, v)| (v.name.as_str(), i)).collect();
    let (samples, unknown_rows) = read_requests(d.requests()?, &index, &streaming)?;
    Ok(RunData { dir: dir.to_owned(), summary, samples, unknown_rows })
}

fn read_requests(
    mut rows: RequestsReader,
    index: &HashMap<&str, usize>,
    streaming: &[bool],
) -> Result<(Vec<Samples>, u64), ResultsError> {
    let mut samples = vec![Samples::default(); index.len()];
    let mut unknown = 0u64;
    while let Some(r) = rows.next_measured()? {
        let Some(&v) = index.get(r.variant) else {
            unknown += 1;
            continue;
        };
        if r.cancelled() {
            continue;
        }
        let s = &mut samples[v];
        let tokens = (r.prompt_tokens + r.output_tokens) as f64;
        s.ended += 1;
        s.tokens += tokens;
        s.tokens_sq += tokens * tokens;
        if !r.ok() {
            continue;
        }
        let out = r.output_tokens as f64;
        s.e2e.push(r.e2e_ms);
        s.ends.push(r.intended_ms + r.e2e_ms);
        s.ok_tokens.push(out);
        if let Some(ttft) = r.ttft_ms {
            s.ttft.push(ttft);
            if streaming[v] && out >= 2.0 {
                s.itl_mean.push((r.e2e_ms - ttft).max(0.0) / (out - 1.0));
            }
        }
    }
    for s in &mut samples {
        s.sort();
    }
    Ok((samples, unknown))
}

/// Loads both directories side by side (one thread each: reading and
/// sorting a million rows is most of compare's time).
pub fn load_both(baseline: &Path, candidate: &Path) -> Result<(RunData, RunData)> {
    std::thread::scope(|scope| {
        let b = scope.spawn(|| load(baseline, "baseline"));
        let c = load(candidate, "candidate");
        let b = b.join().unwrap_or_else(|_| Err(anyhow::anyhow!("reading the baseline panicked").into()))?;
        Ok((b, c?))
    })
}

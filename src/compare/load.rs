//! Reading one results directory for `compare`: the summary as written, and
//! from requests.csv the per-request values the tests need (measured rows
//! only; warm-up rows are not part of the run's figures).
//!
//! Columns are found by name, so files with more columns (later versions)
//! still read. A million rows are a few tens of MB of `f64`s: kept in memory,
//! sorted once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::BadInput;
use crate::metrics::Summary;

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
pub fn load(dir: &Path, role: &str) -> anyhow::Result<RunData> {
    if !dir.is_dir() {
        return Err(BadInput(format!(
            "{role} results directory {}: not found or not a directory",
            dir.display()
        ))
        .into());
    }
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path)
        .map_err(|e| BadInput(format!("cannot read {}: {e}", summary_path.display())))?;
    let summary: Summary = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("{}: not an llmload summary: {e}", summary_path.display())))?;
    let streaming: Vec<bool> = summary.variants.iter().map(|v| v.streaming != Some(false)).collect();
    let index: HashMap<&str, usize> =
        summary.variants.iter().enumerate().map(|(i, v)| (v.name.as_str(), i)).collect();
    let csv_path = dir.join("requests.csv");
    let (samples, unknown_rows) = read_requests(&csv_path, &index, &streaming)?;
    Ok(RunData { dir: dir.to_owned(), summary, samples, unknown_rows })
}

const COLUMNS: [&str; 8] =
    ["variant", "phase", "outcome", "intended_ms", "ttft_ms", "e2e_ms", "prompt_tokens", "output_tokens"];

fn read_requests(
    path: &Path,
    index: &HashMap<&str, usize>,
    streaming: &[bool],
) -> anyhow::Result<(Vec<Samples>, u64)> {
    let bad = |msg: String| BadInput(format!("{}: {msg}", path.display()));
    let file =
        std::fs::File::open(path).map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
    let mut rdr = csv::ReaderBuilder::new().buffer_capacity(1 << 20).from_reader(file);
    let headers = rdr.byte_headers().map_err(|e| bad(format!("cannot read the header: {e}")))?.clone();
    let mut col = [0usize; COLUMNS.len()];
    for (k, name) in COLUMNS.iter().enumerate() {
        col[k] = headers
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or_else(|| bad(format!("no column `{name}` in the header")))?;
    }
    let [c_variant, c_phase, c_outcome, c_intended, c_ttft, c_e2e, c_prompt, c_output] = col;
    let mut samples = vec![Samples::default(); index.len()];
    let mut unknown = 0u64;
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(bad(format!("{e}")).into()),
        }
        if rec.get(c_phase) != Some(b"measured".as_slice()) {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let field = |c: usize| rec.get(c).unwrap_or_default();
        let number = |c: usize| -> Result<Option<f64>, BadInput> {
            let raw = field(c);
            if raw.is_empty() {
                return Ok(None);
            }
            std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    bad(format!(
                        "line {line}: column `{}`: expected a number, got {:?}",
                        headers.get(c).map(String::from_utf8_lossy).unwrap_or_default(),
                        String::from_utf8_lossy(raw)
                    ))
                })
        };
        let Some(&v) = std::str::from_utf8(field(c_variant)).ok().and_then(|name| index.get(name)) else {
            unknown += 1;
            continue;
        };
        let outcome = field(c_outcome);
        if outcome == b"cancelled" {
            continue;
        }
        let s = &mut samples[v];
        let tokens = number(c_prompt)?.unwrap_or(0.0) + number(c_output)?.unwrap_or(0.0);
        s.ended += 1;
        s.tokens += tokens;
        s.tokens_sq += tokens * tokens;
        if outcome != b"ok" {
            continue;
        }
        let e2e = number(c_e2e)?.ok_or_else(|| bad(format!("line {line}: column `e2e_ms` is empty")))?;
        let out = number(c_output)?.unwrap_or(0.0);
        s.e2e.push(e2e);
        s.ends.push(number(c_intended)?.unwrap_or(0.0) + e2e);
        s.ok_tokens.push(out);
        if let Some(ttft) = number(c_ttft)? {
            s.ttft.push(ttft);
            if streaming[v] && out >= 2.0 {
                s.itl_mean.push((e2e - ttft).max(0.0) / (out - 1.0));
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
pub fn load_both(baseline: &Path, candidate: &Path) -> anyhow::Result<(RunData, RunData)> {
    std::thread::scope(|scope| {
        let b = scope.spawn(|| load(baseline, "baseline"));
        let c = load(candidate, "candidate");
        let b = b.join().unwrap_or_else(|_| Err(anyhow::anyhow!("reading the baseline panicked")))?;
        Ok((b, c?))
    })
}

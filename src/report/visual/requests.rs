//! requests.csv read back for the per-request charts: measured rows, not
//! cancelled ones (they have no latency of their own). Warm-up requests
//! count only as requests in flight: the server was busy with them.
//!
//! Two passes, so memory stays bounded however long the run: the first
//! counts rows and finds where each variant's time ends, the second keeps a
//! bounded sample of points and fills the time buckets.
//!
//! In a sequential sweep every step's times start again at 0; the steps are
//! laid end to end (variant k after the end of variant k-1) so the timeline
//! is the run as it happened, one step after another.

use super::sample::{Buckets, Sampler};
use crate::results::{RequestRow, RequestsReader, ResultsError};

/// Time buckets drawn at most on the timeline.
const MAX_BUCKETS: usize = 600;

/// One request to draw.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Intended start, seconds of run time.
    pub t: f64,
    pub e2e_ms: f64,
    pub output_tokens: u64,
    /// Index into the summary's variants.
    pub variant: usize,
    pub ok: bool,
}

pub struct Requests {
    /// Measured, not cancelled, rows in the file.
    pub rows: u64,
    pub points: Vec<Point>,
    /// (bucket mid-time s, ok completions/s, mean requests in flight).
    pub buckets: Vec<(f64, f64, f64)>,
    pub bucket_s: f64,
    /// Steps laid end to end (sequential sweep).
    pub steps_laid_out: bool,
}

/// Calls `f` with every row that is not cancelled, with its variant index
/// (rows of unknown variants are skipped).
fn each_row(
    rows: RequestsReader,
    names: &[String],
    mut f: impl FnMut(usize, &RequestRow<'_>),
) -> Result<(), ResultsError> {
    rows.for_each(|r| {
        if let (false, Some(v)) = (r.cancelled(), names.iter().position(|n| n == r.variant)) {
            f(v, &r);
        }
        Ok(())
    })
}

/// `open` gives a fresh reader of requests.csv: it is read twice.
pub fn load(
    open: impl Fn() -> Result<RequestsReader, ResultsError>,
    names: &[String],
    sequential: bool,
    max_points: usize,
) -> Result<Requests, ResultsError> {
    // Pass 1: counts and where each variant's times end.
    let mut n = 0u64;
    let mut end = vec![0f64; names.len()];
    let mut first = f64::INFINITY;
    each_row(open()?, names, |v, r| {
        end[v] = end[v].max((r.intended_ms + r.e2e_ms) / 1000.0);
        if r.measured() {
            n += 1;
            first = first.min(r.intended_ms / 1000.0);
        }
    })?;
    let offsets: Vec<f64> = if sequential {
        end.iter().scan(0.0, |acc, e| Some(std::mem::replace(acc, *acc + e))).collect()
    } else {
        vec![0.0; names.len()]
    };
    let last = end.iter().zip(&offsets).map(|(e, o)| e + o).fold(0.0, f64::max);
    let first = if first.is_finite() { first } else { 0.0 };

    // Pass 2: the sample and the buckets.
    let mut sampler = Sampler::new(n, max_points);
    let mut buckets = Buckets::new(first.floor(), last, MAX_BUCKETS);
    let bucket_s = buckets.width;
    let mut i = 0u64;
    each_row(open()?, names, |v, r| {
        let t = offsets[v] + r.intended_ms / 1000.0;
        let sent = t + r.queue_delay_ms / 1000.0;
        let done = t + r.e2e_ms / 1000.0;
        buckets.in_flight(sent, done);
        if !r.measured() {
            return;
        }
        let ok = r.ok();
        if ok {
            buckets.completion(done);
        }
        let p = Point { t, e2e_ms: r.e2e_ms, output_tokens: r.output_tokens, variant: v, ok };
        sampler.offer(i, r.e2e_ms, p);
        i += 1;
    })?;
    Ok(Requests {
        rows: n,
        points: sampler.finish(),
        buckets: buckets.finish(),
        bucket_s,
        steps_laid_out: sequential && names.len() > 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "seq,variant,phase,intended_ms,queue_delay_ms,ttft_ms,e2e_ms,prompt_tokens,\
output_tokens,token_source,finish_reason,outcome,error,attempts,rate_limited\n";

    fn file(rows: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), format!("{HEADER}{rows}")).unwrap();
        f
    }

    fn load(
        f: &tempfile::NamedTempFile,
        names: &[String],
        sequential: bool,
        max: usize,
    ) -> Result<Requests, ResultsError> {
        super::load(|| RequestsReader::open(f.path()), names, sequential, max)
    }

    #[test]
    fn only_measured_uncancelled_rows_are_drawn_and_warm_up_is_in_flight() {
        let f = file(
            "0,a,warmup,500,0,10,1000,5,3,usage,stop,ok,,1,0\n\
             1,a,measured,1000,0,10,500,5,3,usage,stop,ok,,1,0\n\
             2,b,measured,1500,0,,800,5,0,usage,,http_500,boom,1,0\n\
             3,b,measured,1600,0,,800,5,0,usage,,cancelled,,1,0\n",
        );
        let names = ["a".to_owned(), "b".to_owned()];
        let r = load(&f, &names, false, 100).unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(r.points.len(), 2);
        assert_eq!((r.points[0].t, r.points[0].ok, r.points[0].variant), (1.0, true, 0));
        assert_eq!((r.points[1].ok, r.points[1].variant), (false, 1));
        assert!(!r.steps_laid_out);
        // One bucket from 1 s to the last end (2.3 s): one ok completion in 1.3 s.
        assert_eq!(r.buckets.len(), 1, "{:?}", r.buckets);
        assert!((r.buckets[0].1 * 1.3 - 1.0).abs() < 1e-9, "{:?}", r.buckets);
        // In flight over the window (1 s to 2.3 s): a for 0.5 s, b for 0.8 s,
        // the warm-up request for its last 0.5 s; cancelled rows not at all.
        assert!((r.buckets[0].2 * 1.3 - 1.8).abs() < 1e-9, "{:?}", r.buckets);
    }

    #[test]
    fn sequential_steps_are_laid_end_to_end() {
        let f = file(
            "0,a,measured,1000,0,10,1000,5,3,usage,stop,ok,,1,0\n\
             0,b,measured,1000,0,10,500,5,3,usage,stop,ok,,1,0\n",
        );
        let names = ["a".to_owned(), "b".to_owned()];
        let r = load(&f, &names, true, 100).unwrap();
        // a ends at 2 s, so b's 1 s becomes 3 s.
        assert_eq!(r.points[1].t, 3.0);
        assert!(r.steps_laid_out);
    }

    #[test]
    fn a_broken_row_is_named() {
        let f = file("0,a,measured,oops,0,10,1000,5,3,usage,stop,ok,,1,0\n");
        let err = load(&f, &["a".to_owned()], false, 100).err().expect("fails");
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}

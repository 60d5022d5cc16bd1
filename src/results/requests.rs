//! requests.csv: one row per request, appended as requests finish, and read
//! back row by row (never the whole file in memory) by the merge of shards,
//! the per-request charts and `compare`. `RequestRow` is both what is
//! written and what is read: a renamed column is a compile error, not a
//! reader that breaks at run time.
//!
//! A file with this version's columns in their order is read by position
//! (`decode`, the fast path); any other is read by column name, so files with
//! more columns (later versions) still read, and a column added later has a
//! default for files written before it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ResultsError;
use crate::metrics::RequestRecord;

/// Whether a request was measured or sent during warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Warmup,
    Measured,
}

/// One row. Strings borrow from the line read (or from the record written),
/// so reading a million rows allocates nothing per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRow<'a> {
    /// The request's number in the run, from 0: a sequential sweep's steps
    /// go on numbering where the step before ended (each shard numbers its
    /// own requests).
    #[serde(default)]
    pub seq: u64,
    pub variant: &'a str,
    pub phase: Phase,
    /// Intended start, ms from the start of the step.
    pub intended_ms: f64,
    #[serde(default)]
    pub queue_delay_ms: f64,
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// `usage`, `tiktoken` or `estimate`: where output_tokens came from.
    #[serde(default)]
    pub token_source: &'a str,
    #[serde(borrow)]
    pub finish_reason: Option<&'a str>,
    /// `ok`, `cancelled` or an error class (`http_503`, `timeout`, ...).
    pub outcome: &'a str,
    #[serde(borrow)]
    pub error: Option<&'a str>,
    /// Sends of this request: 1, plus its retries.
    #[serde(default = "one")]
    pub attempts: u32,
    /// HTTP 429 answers it met, even when a retry then got through.
    #[serde(default)]
    pub rate_limited: u32,
    /// Where `prompt_tokens` came from: `usage` (the server's, when it
    /// answered with usage) or `client` (the client's count of what it
    /// sent). Empty in files written before it.
    #[serde(default)]
    pub prompt_token_source: &'a str,
    /// Prompt tokens the server said its prefix cache served; empty when it
    /// did not say (and in files written before it).
    #[serde(default)]
    pub cached_tokens: Option<u64>,
    /// A multi-turn session: which one (its first request's `seq`) and the
    /// turn's number from 1; empty outside sessions.
    #[serde(default)]
    pub session: Option<u64>,
    #[serde(default)]
    pub turn: Option<u32>,
    /// The model the variant sends to. Empty in files written before it.
    #[serde(default)]
    pub model: &'a str,
    /// The load stage the request was intended in, from 1 (warm-up counts
    /// as the first stage's), and that stage's level (users, or requests/s).
    #[serde(default)]
    pub stage: Option<u32>,
    #[serde(default)]
    pub level: Option<f64>,
    /// The mean and the longest gap between the request's content events
    /// (a streamed answer of two events or more; empty otherwise).
    #[serde(default)]
    pub itl_mean_ms: Option<f64>,
    #[serde(default)]
    pub itl_max_ms: Option<f64>,
    /// The limits the server's `x-ratelimit-limit-requests` and
    /// `x-ratelimit-limit-tokens` headers gave on this answer, when sent.
    #[serde(default)]
    pub ratelimit_requests: Option<u64>,
    #[serde(default)]
    pub ratelimit_tokens: Option<u64>,
    /// Of the output tokens, reasoning ones, when the server's usage said.
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
    /// In a merged directory: the 1-based position of the shard's directory
    /// in the `report` arguments (`seq` repeats across shards). No column
    /// in a single run's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
}

fn one() -> u32 {
    1
}

impl RequestRow<'_> {
    pub fn measured(&self) -> bool {
        self.phase == Phase::Measured
    }
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }
    pub fn cancelled(&self) -> bool {
        self.outcome == "cancelled"
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The writer of requests.csv. Rows are formatted in memory and go to the
/// file whole, in blocks: a write that fails (a full disk) is undone back
/// to the last whole row, and the writer stops writing while the run goes
/// on measuring; the error, naming the file and its cause, is kept for the
/// end of the run (`error`).
pub struct RequestsWriter {
    /// Rows formatted and not yet in the file (`row::format`).
    rows: Vec<u8>,
    /// The header went out (with the first row).
    header: bool,
    file: File,
    path: PathBuf,
    /// Bytes of whole rows in the file.
    written: u64,
    error: Option<String>,
    format: RowFormat,
    /// One past the highest `seq` written.
    seq_next: u64,
}

/// What turns a record into a row: the names and numbers its columns are
/// read from. Cloned into each lane, which formats its own rows
/// (`RequestsWriter::append`).
#[derive(Debug, Clone)]
pub struct RowFormat {
    variants: Vec<String>,
    /// Each variant's model, and each stage's level (`describe`).
    models: Vec<String>,
    levels: Vec<f64>,
    /// Added to a record's `seq` (which starts from 0 in each step: it
    /// seeds the request, so every step of a sweep sends the same prompts)
    /// so that the file numbers the run's requests once.
    seq_base: u64,
}

/// Rows are written to the file once this much is formatted, and a lane
/// hands its rows to the writer in blocks of this size.
pub const ROW_BLOCK: usize = 64 << 10;

impl RequestsWriter {
    pub(super) fn create(path: &Path, variants: Vec<String>) -> Result<Self, ResultsError> {
        let file = File::create(path).map_err(|e| ResultsError::output(path, e))?;
        Ok(RequestsWriter {
            rows: Vec::with_capacity(ROW_BLOCK),
            header: false,
            file,
            path: path.to_owned(),
            written: 0,
            error: None,
            format: RowFormat { variants, models: Vec::new(), levels: Vec::new(), seq_base: 0 },
            seq_next: 0,
        })
    }

    /// The model of each variant and the level of each stage, for the
    /// `model` and `level` columns.
    pub fn describe(mut self, models: Vec<String>, levels: Vec<f64>) -> Self {
        (self.format.models, self.format.levels) = (models, levels);
        self
    }

    /// The next step of a sweep begins: its requests are numbered on from
    /// the last one written.
    pub fn next_step(&mut self) {
        self.format.seq_base = self.seq_next;
    }

    /// How this writer formats rows, for a lane to format its own.
    pub fn format(&self) -> RowFormat {
        self.format.clone()
    }

    /// Rows a lane formatted (`RowFormat::format`), whole; `seq_next` is
    /// one past the highest `seq` among them.
    pub fn append(&mut self, rows: &[u8], seq_next: u64) {
        if rows.is_empty() {
            return;
        }
        self.header_once(false);
        self.rows.extend_from_slice(rows);
        self.seq_next = self.seq_next.max(seq_next);
        self.after();
    }

    /// A row as read from another file (merging shards).
    pub fn row(&mut self, row: &RequestRow<'_>) -> anyhow::Result<()> {
        self.header_once(row.shard.is_some());
        row::format(row, &mut self.rows);
        self.after();
        self.result()
    }

    /// The header, before the first row (`shard`: with the column a merged
    /// file has).
    fn header_once(&mut self, shard: bool) {
        if !self.header {
            self.header = true;
            row::header(shard, &mut self.rows);
        }
    }

    /// Writes the rows formatted so far.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.write_block();
        self.result()
    }

    /// The first write error, naming the file: rows from it on are not in
    /// the file (the measurements still count them).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn result(&self) -> anyhow::Result<()> {
        self.error.as_ref().map_or(Ok(()), |e| Err(anyhow::anyhow!("{e}")))
    }

    fn after(&mut self) {
        if self.rows.len() >= ROW_BLOCK {
            self.write_block();
        }
    }

    fn write_block(&mut self) {
        use std::io::Write;
        if self.rows.is_empty() {
            return;
        }
        let block = std::mem::replace(&mut self.rows, Vec::with_capacity(ROW_BLOCK));
        if self.error.is_some() {
            return;
        }
        match self.file.write_all(&block) {
            Ok(()) => self.written += block.len() as u64,
            Err(e) => {
                // Part of the block may be in the file: cut it back to the
                // last whole row, which needs no space.
                let _ = self.file.set_len(self.written);
                self.fail(e.to_string());
            }
        }
    }

    fn fail(&mut self, cause: String) {
        self.error.get_or_insert_with(|| format!("cannot write {}: {cause}", self.path.display()));
    }
}

impl RowFormat {
    /// Appends `r`'s row to `out`; returns one past its `seq` in the file.
    /// `t0` is the step's start (`intended_ms` is an offset from it).
    pub fn format(&self, r: &RequestRecord, t0: Instant, out: &mut Vec<u8>) -> u64 {
        let class = r.outcome.class();
        let seq = r.seq + self.seq_base;
        let row = RequestRow {
            seq,
            variant: self.variants.get(r.variant).map_or("?", String::as_str),
            phase: if r.warmup { Phase::Warmup } else { Phase::Measured },
            intended_ms: ms(r.intended.saturating_duration_since(t0)),
            queue_delay_ms: ms(r.queue_delay()),
            ttft_ms: r.ttft().map(ms),
            e2e_ms: ms(r.e2e()),
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            token_source: r.token_source.as_str(),
            finish_reason: r.finish_reason.as_deref(),
            outcome: &class,
            error: r.error.as_deref(),
            attempts: r.attempts,
            rate_limited: r.rate_limited,
            prompt_token_source: if r.prompt_from_usage { "usage" } else { "client" },
            cached_tokens: r.cached_tokens,
            session: r.session.map(|s| s.id + self.seq_base),
            turn: r.session.map(|s| s.turn),
            model: r.model.as_deref().or(self.models.get(r.variant).map(String::as_str)).unwrap_or(""),
            stage: u32::try_from(r.stage + 1).ok(),
            level: self.levels.get(r.stage).copied(),
            itl_mean_ms: (!r.itl.is_empty())
                .then(|| ms(r.itl.iter().sum::<std::time::Duration>() / r.itl.len() as u32)),
            itl_max_ms: r.itl.iter().max().copied().map(ms),
            ratelimit_requests: r.ratelimit[0],
            ratelimit_tokens: r.ratelimit[1],
            reasoning_tokens: r.reasoning_tokens,
            shard: None,
        };
        row::format(&row, out);
        seq + 1
    }
}

/// The columns as this version writes them, in order (the `shard` column
/// follows in a merged directory).
pub const COLUMNS: [&str; 27] = [
    "seq",
    "variant",
    "phase",
    "intended_ms",
    "queue_delay_ms",
    "ttft_ms",
    "e2e_ms",
    "prompt_tokens",
    "output_tokens",
    "token_source",
    "finish_reason",
    "outcome",
    "error",
    "attempts",
    "rate_limited",
    "prompt_token_source",
    "cached_tokens",
    "session",
    "turn",
    "model",
    "stage",
    "level",
    "itl_mean_ms",
    "itl_max_ms",
    "ratelimit_requests",
    "ratelimit_tokens",
    "reasoning_tokens",
];

/// Columns every requests.csv has had; the others default when absent.
const REQUIRED: [&str; 8] =
    ["variant", "phase", "outcome", "intended_ms", "ttft_ms", "e2e_ms", "prompt_tokens", "output_tokens"];

/// A streaming reader of requests.csv: one row at a time, borrowed.
pub struct RequestsReader {
    rdr: csv::Reader<File>,
    headers: csv::StringRecord,
    byte_headers: csv::ByteRecord,
    /// Bytes, not a `StringRecord`: only the text fields are checked to be
    /// UTF-8 (validating whole lines cost a tenth of reading a million rows).
    record: csv::ByteRecord,
    phase: usize,
    /// How many of this version's columns the header starts with, in order,
    /// when it is one of the layouts read by position (matching each field
    /// by its header name costs a third of the time of reading a million
    /// rows): all of them, or those of an older version (before
    /// `cached_tokens`, before `prompt_token_source`); any may be followed
    /// by `shard`.
    positional: Option<usize>,
    path: PathBuf,
}

impl RequestsReader {
    pub fn open(path: &Path) -> Result<Self, ResultsError> {
        let file = File::open(path).map_err(|e| ResultsError::read(path, e))?;
        let mut rdr = csv::ReaderBuilder::new().buffer_capacity(1 << 20).from_reader(file);
        let headers =
            rdr.headers().map_err(|e| ResultsError::invalid(path, format!("the header: {e}")))?.clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        if let Some(missing) = REQUIRED.iter().find(|c| column(c).is_none()) {
            return Err(ResultsError::invalid(path, format!("no column `{missing}` in the header")));
        }
        let phase = column("phase").unwrap_or_default();
        let layout = |n: usize| {
            let ours = headers.len() >= n && headers.iter().take(n).eq(COLUMNS[..n].iter().copied());
            let rest: Vec<&str> = headers.iter().skip(n).collect();
            (ours && (rest.is_empty() || rest == ["shard"])).then_some(n)
        };
        // This version's, then before `model`, before `cached_tokens`, and
        // before `prompt_token_source`.
        let positional = [COLUMNS.len(), 19, 16, 15].into_iter().find_map(layout);
        let record = csv::ByteRecord::new();
        let byte_headers = headers.as_byte_record().clone();
        Ok(RequestsReader { rdr, headers, byte_headers, record, phase, positional, path: path.to_owned() })
    }

    /// The next row, or `None` at the end. An error names the file, line
    /// and column.
    pub fn next_row(&mut self) -> Result<Option<RequestRow<'_>>, ResultsError> {
        if !self.advance()? {
            return Ok(None);
        }
        self.parse().map(Some)
    }

    /// The next measured row: warm-up rows are skipped unparsed, so what
    /// they hold never matters to a reader of measurements.
    pub fn next_measured(&mut self) -> Result<Option<RequestRow<'_>>, ResultsError> {
        loop {
            if !self.advance()? {
                return Ok(None);
            }
            if self.record.get(self.phase) == Some(b"measured".as_slice()) {
                return self.parse().map(Some);
            }
        }
    }

    /// Calls `f` with every row, in order.
    pub fn for_each(
        mut self,
        mut f: impl FnMut(RequestRow<'_>) -> Result<(), ResultsError>,
    ) -> Result<(), ResultsError> {
        while let Some(row) = self.next_row()? {
            f(row)?;
        }
        Ok(())
    }

    fn advance(&mut self) -> Result<bool, ResultsError> {
        self.rdr
            .read_byte_record(&mut self.record)
            .map_err(|e| ResultsError::invalid(&self.path, e.to_string()))
    }

    fn parse(&self) -> Result<RequestRow<'_>, ResultsError> {
        let line = || self.record.position().map_or(0, |p| p.line());
        if let Some(n) = self.positional {
            return decode(&self.record, n).map_err(|(i, expected)| {
                let name = COLUMNS[..n].get(i).copied().unwrap_or("shard");
                let got = String::from_utf8_lossy(self.record.get(i).unwrap_or_default());
                ResultsError::invalid(
                    &self.path,
                    format!("line {}: column `{name}`: {expected}, got {got:?}", line()),
                )
            });
        }
        self.record
            .deserialize(Some(&self.byte_headers))
            .map_err(|e| ResultsError::invalid(&self.path, format!("line {}: {}", line(), self.problem(&e))))
    }

    /// What is wrong with a field, in words: its column and value.
    fn problem(&self, e: &csv::Error) -> String {
        let csv::ErrorKind::Deserialize { err, .. } = e.kind() else { return e.to_string() };
        let Some(i) = err.field().and_then(|f| usize::try_from(f).ok()) else { return err.to_string() };
        let name = self.headers.get(i).unwrap_or("?");
        let got = String::from_utf8_lossy(self.record.get(i).unwrap_or_default());
        let expected = match err.kind() {
            csv::DeserializeErrorKind::ParseFloat(_) | csv::DeserializeErrorKind::ParseInt(_) => {
                "expected a number".to_owned()
            }
            csv::DeserializeErrorKind::ParseBool(_) => "expected true or false".to_owned(),
            other => other.to_string(),
        };
        format!("column `{name}`: {expected}, got {got:?}")
    }
}

/// A row of this version's columns, field by field in their order: what
/// serde does by header name, a third faster (a million rows in `compare`).
/// An error is the column's index and what it should hold.
/// `n`: how many of `COLUMNS` the file has (a `shard` column may follow).
fn decode(r: &csv::ByteRecord, n: usize) -> Result<RequestRow<'_>, (usize, &'static str)> {
    let raw = |i: usize| r.get(i).unwrap_or_default();
    let text = |i: usize| std::str::from_utf8(raw(i)).map_err(|_| (i, "expected UTF-8 text"));
    let opt_text = |i: usize| text(i).map(|t| (!t.is_empty()).then_some(t));
    fn num<T: std::str::FromStr>(r: &csv::ByteRecord, i: usize) -> Result<Option<T>, (usize, &'static str)> {
        let b = r.get(i).unwrap_or_default();
        if b.is_empty() {
            return Ok(None);
        }
        let s = std::str::from_utf8(b).map_err(|_| (i, "expected a number"))?;
        s.parse().map(Some).map_err(|_| (i, "expected a number"))
    }
    /// Whole numbers straight from the bytes (most fields of a row).
    fn int<T: TryFrom<u64>>(r: &csv::ByteRecord, i: usize) -> Result<Option<T>, (usize, &'static str)> {
        let b = r.get(i).unwrap_or_default();
        if b.is_empty() {
            return Ok(None);
        }
        let bad = (i, "expected a whole number");
        if b.len() > 19 {
            return Err(bad);
        }
        let mut v = 0u64;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return Err(bad);
            }
            v = v * 10 + u64::from(d);
        }
        T::try_from(v).map(Some).map_err(|_| bad)
    }
    let need = |i: usize| move |v: Option<f64>| v.ok_or((i, "expected a number"));
    let phase = match raw(2) {
        b"measured" => Phase::Measured,
        b"warmup" => Phase::Warmup,
        _ => return Err((2, "expected `measured` or `warmup`")),
    };
    Ok(RequestRow {
        seq: int(r, 0)?.unwrap_or(0),
        variant: text(1)?,
        phase,
        intended_ms: num(r, 3).and_then(need(3))?,
        queue_delay_ms: num(r, 4)?.unwrap_or(0.0),
        ttft_ms: num(r, 5)?,
        e2e_ms: num(r, 6).and_then(need(6))?,
        prompt_tokens: int(r, 7)?.ok_or((7, "expected a whole number"))?,
        output_tokens: int(r, 8)?.ok_or((8, "expected a whole number"))?,
        token_source: text(9)?,
        finish_reason: opt_text(10)?,
        outcome: text(11)?,
        error: opt_text(12)?,
        attempts: int(r, 13)?.unwrap_or(1),
        rate_limited: int(r, 14)?.unwrap_or(0),
        prompt_token_source: if n > 15 { text(15)? } else { "" },
        cached_tokens: if n > 16 { int(r, 16)? } else { None },
        session: if n > 17 { int(r, 17)? } else { None },
        turn: if n > 18 { int(r, 18)? } else { None },
        model: if n > 19 { text(19)? } else { "" },
        stage: if n > 20 { int(r, 20)? } else { None },
        level: if n > 21 { num(r, 21)? } else { None },
        itl_mean_ms: if n > 22 { num(r, 22)? } else { None },
        itl_max_ms: if n > 23 { num(r, 23)? } else { None },
        ratelimit_requests: if n > 24 { int(r, 24)? } else { None },
        ratelimit_tokens: if n > 25 { int(r, 25)? } else { None },
        reasoning_tokens: if n > 26 { int(r, 26)? } else { None },
        shard: int(r, n)?,
    })
}

mod row;
#[cfg(test)]
mod tests;

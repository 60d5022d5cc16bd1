//! Traces to replay (`[load.trace]`): JSON Lines, one request per line, in
//! the order of their `timestamp` (milliseconds from the trace's start).
//!
//! Two forms, told apart line by line:
//!
//! - lengths (the Mooncake form): `{"timestamp": 0, "input_length": 6955,
//!   "output_length": 52, "hash_ids": [46, 47, ...]}`: a prompt of exactly
//!   `input_length` tokens built from blocks of `block_size` tokens, one per
//!   hash id (equal ids, equal text: what a prefix cache shares), and
//!   `max_tokens = output_length`;
//! - literal: `{"timestamp": 0, "messages": [...]}` or `"prompt": "..."`,
//!   with optional `max_tokens` and `model`.
//!
//! The file is read twice, a line at a time (memory stays flat whatever
//! its length): once when the scenario loads, to check every line (an
//! error names the file and line) and learn its span, and again while the
//! run replays it (`TraceReader`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Hash ids of one lengths-form request, at most.
const MAX_HASH_IDS: usize = 1 << 16;
/// Tokens of one lengths-form prompt, at most (like `prompt_tokens`).
const MAX_INPUT: u64 = 1_000_000;

/// A trace as the scenario names it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub path: PathBuf,
    /// Tokens per hash id (lengths form).
    pub block_size: u32,
    /// Replay speed: 2.0 sends the trace twice as fast.
    pub time_scale: f64,
    /// Entries before this offset of the trace are skipped.
    pub start: Duration,
    /// Start over at the end, shifted by one period.
    pub repeat: bool,
    /// What the check found: entries from `start`, and the trace time from
    /// `start` to the last entry (before scaling).
    pub entries: u64,
    pub span: Duration,
    /// The longest prompt: `input_length`, or a literal prompt's characters
    /// (a bound on its tokens).
    pub max_input: u32,
}

impl Trace {
    /// Replay time of one pass, after scaling.
    pub fn replay_time(&self) -> Duration {
        self.span.div_f64(self.time_scale)
    }

    /// One pass's period, for a looped replay: the span plus one mean gap,
    /// so the first entry of the next pass does not land on the last one.
    pub fn period(&self) -> Duration {
        let gaps = self.entries.saturating_sub(1).max(1);
        self.span + self.span / u32::try_from(gaps).unwrap_or(u32::MAX)
    }

    /// Entries per second of replay.
    pub fn mean_rate(&self) -> f64 {
        let secs = self.replay_time().as_secs_f64();
        if secs > 0.0 { self.entries as f64 / secs } else { self.entries as f64 }
    }
}

/// One request of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    /// Its line in the file, from 1.
    pub line: u64,
    pub timestamp_ms: f64,
    pub request: TraceRequest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceRequest {
    Lengths {
        input: u32,
        output: u32,
        hash_ids: Vec<u64>,
        block_size: u32,
    },
    Literal {
        messages: Option<Vec<Value>>,
        prompt: Option<String>,
        max_tokens: Option<u32>,
        model: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    timestamp: Value,
    input_length: Option<Value>,
    output_length: Option<Value>,
    hash_ids: Option<Vec<Value>>,
    messages: Option<Value>,
    prompt: Option<Value>,
    max_tokens: Option<Value>,
    model: Option<Value>,
}

/// Reads one line; an error says what is wrong with it (the caller adds
/// the file and line).
pub fn parse_line(text: &str, line: u64, block_size: u32) -> Result<TraceEntry, String> {
    let l: Line = serde_json::from_str(text).map_err(|e| format!("not a trace line: {e}"))?;
    let timestamp_ms = match l.timestamp.as_f64() {
        Some(t) if t.is_finite() && t >= 0.0 => t,
        _ => return Err(format!("timestamp: expected milliseconds (a number >= 0), got {}", l.timestamp)),
    };
    let whole = |v: &Value, key: &str, max: u64| match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => Err(format!("{key}: expected a whole number from 0 to {max}, got {v}")),
    };
    let literal = l.messages.is_some() || l.prompt.is_some();
    let lengths = l.input_length.is_some() || l.output_length.is_some() || l.hash_ids.is_some();
    let request = match (lengths, literal) {
        (true, true) => {
            return Err(
                "mixes the lengths form (input_length, ...) with the literal one (messages or prompt)".into(),
            );
        }
        (false, false) => return Err("needs input_length and output_length, or messages or prompt".into()),
        (true, false) => {
            let (Some(input), Some(output)) = (&l.input_length, &l.output_length) else {
                return Err("the lengths form needs both input_length and output_length".into());
            };
            let input = whole(input, "input_length", MAX_INPUT)?;
            let output = whole(output, "output_length", u64::from(u32::MAX))?;
            if input == 0 || output == 0 {
                return Err(format!(
                    "input_length and output_length must be at least 1, got {input} and {output}"
                ));
            }
            let ids = l.hash_ids.unwrap_or_default();
            if ids.len() > MAX_HASH_IDS {
                return Err(format!("hash_ids: at most {MAX_HASH_IDS} ids, got {}", ids.len()));
            }
            let hash_ids = ids
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_u64().ok_or_else(|| format!("hash_ids[{i}]: expected a whole number >= 0, got {v}"))
                })
                .collect::<Result<Vec<u64>, String>>()?;
            // Every id but the last covers a whole block; the last at least a token.
            let before_last = (hash_ids.len() as u64).saturating_sub(1) * u64::from(block_size);
            if !hash_ids.is_empty() && input <= before_last {
                return Err(format!(
                    "hash_ids has {} blocks of {block_size} tokens (block_size), more than input_length {input} fills",
                    hash_ids.len()
                ));
            }
            TraceRequest::Lengths { input: input as u32, output: output as u32, hash_ids, block_size }
        }
        (false, true) => {
            let messages = match l.messages {
                None => None,
                Some(Value::Array(m))
                    if !m.is_empty() && m.iter().all(|x| x.get("role").is_some_and(Value::is_string)) =>
                {
                    Some(m)
                }
                Some(other) => {
                    return Err(format!(
                        "messages: expected an array of {{\"role\": ..., \"content\": ...}}, got {}",
                        shorten(&other)
                    ));
                }
            };
            let prompt = match l.prompt {
                None => None,
                Some(Value::String(s)) => Some(s),
                Some(other) => return Err(format!("prompt: expected a string, got {}", shorten(&other))),
            };
            if messages.is_some() && prompt.is_some() {
                return Err("give messages or prompt, not both".into());
            }
            let max_tokens = match &l.max_tokens {
                None => None,
                Some(v) => match whole(v, "max_tokens", u64::from(u32::MAX))? {
                    0 => return Err("max_tokens: must be at least 1, got 0".into()),
                    n => Some(n as u32),
                },
            };
            let model = match l.model {
                None => None,
                Some(Value::String(m)) if !m.is_empty() => Some(m),
                Some(other) => return Err(format!("model: expected a model name, got {}", shorten(&other))),
            };
            TraceRequest::Literal { messages, prompt, max_tokens, model }
        }
    };
    Ok(TraceEntry { line, timestamp_ms, request })
}

fn shorten(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}...", s.chars().take(60).collect::<String>()) } else { s }
}

/// Streams the entries of a trace from its `start`, looping when asked,
/// each with its timestamp shifted by the passes before it.
pub struct TraceReader {
    trace: Trace,
    lines: std::io::Lines<BufReader<File>>,
    line: u64,
    pass: u64,
}

impl TraceReader {
    pub fn open(trace: &Trace) -> Result<Self, String> {
        let file = File::open(&trace.path).map_err(|e| format!("{}: {e}", trace.path.display()))?;
        Ok(TraceReader { trace: trace.clone(), lines: BufReader::new(file).lines(), line: 0, pass: 0 })
    }

    /// The next entry and its offset from the start of the replay (scaled);
    /// `None` at the end (never, when looping a trace with entries). An
    /// error names the file and line.
    pub fn next_entry(&mut self) -> Result<Option<(TraceEntry, Duration)>, String> {
        let start_ms = self.trace.start.as_secs_f64() * 1000.0;
        loop {
            let Some(text) = self.lines.next() else {
                if !self.trace.repeat || self.trace.entries == 0 {
                    return Ok(None);
                }
                *self = TraceReader { pass: self.pass + 1, ..TraceReader::open(&self.trace)? };
                continue;
            };
            self.line += 1;
            let at = |m: String| format!("{}:{}: {m}", self.trace.path.display(), self.line);
            let text = text.map_err(|e| at(e.to_string()))?;
            if text.trim().is_empty() {
                continue;
            }
            let entry = parse_line(&text, self.line, self.trace.block_size).map_err(at)?;
            if entry.timestamp_ms < start_ms {
                continue;
            }
            let into = Duration::from_secs_f64((entry.timestamp_ms - start_ms) / 1000.0);
            let offset = (self.trace.period() * u32::try_from(self.pass).unwrap_or(u32::MAX) + into)
                .div_f64(self.trace.time_scale);
            return Ok(Some((entry, offset)));
        }
    }
}

/// Checks every line of the trace at `path`; what the replay needs to
/// know of it, or the first problem with its file and line.
pub fn scan(path: &Path, block_size: u32, start: Duration) -> Result<(u64, Duration, u32), String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let start_ms = start.as_secs_f64() * 1000.0;
    let (mut entries, mut first, mut last, mut max_input) = (0u64, None, 0.0f64, 0u32);
    let mut previous = 0.0f64;
    for (i, text) in BufReader::new(file).lines().enumerate() {
        let line = i as u64 + 1;
        let at = |m: String| format!("{}:{line}: {m}", path.display());
        let text = text.map_err(|e| at(e.to_string()))?;
        if text.trim().is_empty() {
            continue;
        }
        let entry = parse_line(&text, line, block_size).map_err(at)?;
        if entry.timestamp_ms < previous {
            return Err(at(format!(
                "timestamp {} is before the line above's ({previous}): a trace is in time order",
                entry.timestamp_ms
            )));
        }
        previous = entry.timestamp_ms;
        if entry.timestamp_ms >= start_ms {
            entries += 1;
            first.get_or_insert(entry.timestamp_ms);
            last = entry.timestamp_ms;
            let input = match &entry.request {
                TraceRequest::Lengths { input, .. } => *input,
                TraceRequest::Literal { messages, prompt, .. } => {
                    let chars = prompt.as_ref().map_or(0, |p| p.chars().count())
                        + messages.iter().flatten().map(|m| m.to_string().chars().count()).sum::<usize>();
                    u32::try_from(chars).unwrap_or(u32::MAX)
                }
            };
            max_input = max_input.max(input);
        }
    }
    if entries == 0 {
        return Err(format!("{}: no request at or after start ({start:?})", path.display()));
    }
    let span = Duration::from_secs_f64((last - start_ms).max(0.0) / 1000.0);
    Ok((entries, span, max_input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_read_and_each_mistake_is_named() {
        let e = parse_line(
            r#"{"timestamp": 12, "input_length": 20, "output_length": 3, "hash_ids": [1, 2]}"#,
            1,
            16,
        )
        .unwrap();
        assert_eq!(
            e.request,
            TraceRequest::Lengths { input: 20, output: 3, hash_ids: vec![1, 2], block_size: 16 }
        );
        let e = parse_line(
            r#"{"timestamp": 0.5, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}"#,
            2,
            16,
        )
        .unwrap();
        assert!(matches!(e.request, TraceRequest::Literal { max_tokens: Some(9), .. }));
        for (line, says) in [
            (r#"{"timestamp": -1, "prompt": "x"}"#, "timestamp"),
            (r#"{"timestamp": 0, "input_length": "7", "output_length": 1}"#, "input_length"),
            (
                r#"{"timestamp": 0, "input_length": 16, "output_length": 1, "hash_ids": [1, 2]}"#,
                "more than input_length",
            ),
            (r#"{"timestamp": 0, "input_length": 5, "prompt": "x"}"#, "mixes"),
            (r#"{"timestamp": 0, "prompt": "x", "colour": 1}"#, "unknown field `colour`"),
            (r#"{"timestamp": 0, "messages": "hi"}"#, "messages"),
            (r#"{"timestamp": 0}"#, "needs input_length"),
        ] {
            let err = parse_line(line, 1, 16).unwrap_err();
            assert!(err.contains(says), "{line}: {err}");
        }
    }

    #[test]
    fn a_trace_is_scanned_then_streamed_from_its_start_and_looped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let lines: Vec<String> = (0..5)
            .map(|i| format!(r#"{{"timestamp": {}, "input_length": 4, "output_length": 2}}"#, i * 100))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n\n").unwrap();
        let (entries, span, max_input) = scan(&path, 16, Duration::from_millis(100)).unwrap();
        assert_eq!((entries, span, max_input), (4, Duration::from_millis(300), 4));
        let trace = Trace {
            path: path.clone(),
            block_size: 16,
            time_scale: 2.0,
            start: Duration::from_millis(100),
            repeat: true,
            entries,
            span,
            max_input,
        };
        let mut r = TraceReader::open(&trace).unwrap();
        let offsets: Vec<u128> = (0..6).map(|_| r.next_entry().unwrap().unwrap().1.as_millis()).collect();
        // 0, 100, 200, 300 ms of trace at 2x; then again one period (400 ms) later.
        assert_eq!(offsets, [0, 50, 100, 150, 200, 250]);

        std::fs::write(&path, format!("{}\n{}\n", lines[2], lines[1])).unwrap();
        let err = scan(&path, 16, Duration::ZERO).unwrap_err();
        assert!(err.contains("t.jsonl:2:") && err.contains("time order"), "{err}");
    }
}

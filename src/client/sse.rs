//! An incremental Server-Sent Events parser: a pure function over bytes.
//!
//! Network reads split events anywhere: between CR and LF, inside a UTF-8
//! character, across many reads. The parser keeps only the unfinished line and
//! the event being built, so any split gives the same events as one read. It
//! follows the WHATWG event-stream rules: LF, CRLF and CR line endings, `:`
//! comments, `event`/`data`/`id`/`retry` fields, multi-line data joined by
//! `\n`, a leading BOM dropped, and an unterminated last event discarded.
//!
//! This runs for every stream event, so it allocates nothing per event: an
//! event is lent to the caller (borrowing the parser's buffers, reused for
//! the next one) and lines are found with `memchr` (profiled: the byte-wise
//! scan and the per-event `String` were a quarter of the delta path).

/// One dispatched event, lent to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SseEvent<'a> {
    /// The `event:` field, when present.
    pub event: Option<&'a str>,
    /// Data lines joined by `\n`.
    pub data: &'a str,
    /// The last `id:` seen on the stream.
    pub id: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet terminated.
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF in the next one belongs to it.
    after_cr: bool,
    /// Whether the start of the stream (and a possible BOM) has been seen.
    started: bool,
    data: Vec<u8>,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    /// The server's `retry:` reconnection time in ms (kept for completeness).
    pub retry_ms: Option<u64>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; calls `emit` for every event completed by them.
    pub fn push(&mut self, mut input: &[u8], mut emit: impl FnMut(SseEvent<'_>)) {
        // An empty read must not clear `after_cr`: a CR, an empty read, then
        // an LF are still one line ending (found by the random-split test).
        if input.is_empty() {
            return;
        }
        if !self.started {
            // The BOM may itself be split across reads.
            let bom = b"\xEF\xBB\xBF";
            let have = self.line.len();
            let take = input.len().min(bom.len() - have);
            if bom[have..have + take] == input[..take] {
                self.line.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.line.len() < bom.len() {
                    return;
                }
                self.line.clear();
            } else {
                // Not a BOM after all: the held bytes are content.
            }
            self.started = true;
        }
        if self.after_cr && input.first() == Some(&b'\n') {
            input = &input[1..];
        }
        self.after_cr = false;
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', input) {
            let (line, rest) = input.split_at(pos);
            let is_cr = rest[0] == b'\r';
            input = &rest[1..];
            if is_cr {
                match input.first() {
                    Some(b'\n') => input = &input[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if self.line.is_empty() {
                self.line_done(line, &mut emit);
            } else {
                self.line.extend_from_slice(line);
                let held = std::mem::take(&mut self.line);
                self.line_done(&held, &mut emit);
                self.line = held;
                self.line.clear();
            }
        }
        self.line.extend_from_slice(input);
    }

    /// True when bytes of an unfinished event remain: the stream ended mid-event.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn line_done(&mut self, line: &[u8], emit: &mut impl FnMut(SseEvent<'_>)) {
        if line.is_empty() {
            if self.has_data {
                // Without the '\n' after the last data line. `from_utf8` first:
                // its validation is several times faster than the lossy one's,
                // which was a fifth of the whole stream path (profiled).
                let bytes = &self.data[..self.data.len() - 1];
                let data = match std::str::from_utf8(bytes) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(bytes),
                };
                emit(SseEvent { event: self.event.as_deref(), data: &data, id: self.id.as_deref() });
                drop(data);
                self.event = None;
                self.data.clear();
                self.has_data = false;
            } else {
                self.event = None;
            }
            return;
        }
        if line[0] == b':' {
            return; // comment, e.g. ": ping" keep-alives
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            b"retry" => {
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {} // unknown fields are ignored, as the spec says
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as the tests keep it, after the parser has lent it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Event {
        event: Option<String>,
        data: String,
        id: Option<String>,
    }

    fn keep(e: SseEvent<'_>) -> Event {
        Event { event: e.event.map(Into::into), data: e.data.into(), id: e.id.map(Into::into) }
    }

    fn parse_in(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, |e| out.push(keep(e)));
        }
        out
    }

    fn data(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    const STREAM: &str = "\u{FEFF}: ping\r\n\r\nevent: message\nid: 7\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\n\ndata: line1\rdata: line2\r\rdata:nospace\r\n\r\nretry: 1500\ndata: [DONE]\n\n";

    fn expected() -> Vec<Event> {
        vec![
            Event {
                event: Some("message".into()),
                data: "{\"a\":\"h\u{e9}llo \u{1F600}\"}".into(),
                id: Some("7".into()),
            },
            Event { event: None, data: "line1\nline2".into(), id: Some("7".into()) },
            Event { event: None, data: "nospace".into(), id: Some("7".into()) },
            Event { event: None, data: "[DONE]".into(), id: Some("7".into()) },
        ]
    }

    #[test]
    fn parses_all_line_endings_comments_fields_and_bom() {
        let bytes = STREAM.as_bytes();
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(bytes, |e| out.push(keep(e)));
        assert_eq!(out, expected());
        assert_eq!(p.retry_ms, Some(1500));
        assert!(!p.has_partial());
    }

    #[test]
    fn same_events_for_every_split_point() {
        let bytes = STREAM.as_bytes();
        for i in 0..=bytes.len() {
            assert_eq!(parse_in(&[&bytes[..i], &bytes[i..]]), expected(), "split at {i}");
        }
    }

    #[test]
    fn same_events_for_every_pair_of_split_points() {
        let bytes = STREAM.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = parse_in(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, expected(), "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn byte_at_a_time() {
        let chunks: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
        assert_eq!(parse_in(&chunks), expected());
    }

    #[test]
    fn unterminated_event_is_not_dispatched_and_is_reported() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: {\"x\":1}\n\ndata: {\"cut", |e| out.push(keep(e)));
        assert_eq!(data(&out), ["{\"x\":1}"]);
        assert!(p.has_partial());
    }

    #[test]
    fn an_empty_read_between_cr_and_lf_keeps_them_one_line_ending() {
        let got = parse_in(&[b"data: a\r", b"", b"\ndata: b\n\n"]);
        assert_eq!(data(&got), ["a\nb"]);
    }

    #[test]
    fn text_that_only_starts_like_a_bom_is_kept() {
        assert_eq!(data(&parse_in(&[b"\xEF", b"data: x\n\n"])), Vec::<&str>::new());
        assert_eq!(data(&parse_in(&[b"data: x\n\n"])), ["x"]);
    }

    /// A random valid stream and the events it must give: random fields,
    /// comments, multi-line data with multi-byte text, a BOM or not, and a
    /// random line ending per line.
    fn random_stream(rng: &mut impl rand::Rng) -> (Vec<u8>, Vec<Event>) {
        use rand::RngExt;
        const ALPHABET: &[&str] =
            &["a", "z", " ", ":", "{", "\"", "é", "€", "😀", "中", "data", "[DONE]", "\t"];
        let text = |rng: &mut dyn rand::Rng, len: usize| -> String {
            (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())]).collect()
        };
        let mut out: Vec<u8> = Vec::new();
        if rng.random_bool(0.2) {
            out.extend_from_slice("\u{FEFF}".as_bytes());
        }
        let mut after_cr = false;
        let mut line = |out: &mut Vec<u8>, rng: &mut dyn rand::Rng, content: &str| {
            out.extend_from_slice(content.as_bytes());
            // After a CR, an empty line ending in LF would read as one CRLF.
            let choices: &[&str] =
                if after_cr && content.is_empty() { &["\r", "\r\n"] } else { &["\n", "\r", "\r\n"] };
            let ending = choices[rng.random_range(0..choices.len())];
            out.extend_from_slice(ending.as_bytes());
            after_cr = ending == "\r";
        };
        let mut events = Vec::new();
        let mut id = None;
        for _ in 0..rng.random_range(0..6) {
            if rng.random_bool(0.3) {
                let c = text(rng, 3);
                line(&mut out, rng, &format!(": {c}"));
            }
            let event = rng.random_bool(0.3).then(|| text(rng, 2).trim_start().to_owned());
            if let Some(e) = &event {
                line(&mut out, rng, &format!("event: {e}"));
            }
            if rng.random_bool(0.3) {
                let v = text(rng, 2).trim_start().to_owned();
                line(&mut out, rng, &format!("id: {v}"));
                id = Some(v);
            }
            let mut data = Vec::new();
            for _ in 0..rng.random_range(1..4) {
                let len = rng.random_range(0..12);
                let d = text(rng, len);
                line(&mut out, rng, &format!("data: {d}"));
                data.push(d);
            }
            line(&mut out, rng, "");
            events.push(Event { event, data: data.join("\n"), id: id.clone() });
        }
        (out, events)
    }

    #[test]
    fn random_streams_split_at_random_points_parse_like_one_read() {
        use rand::rngs::Xoshiro256PlusPlus;
        use rand::{RngExt, SeedableRng};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        for case in 0..5000 {
            let (bytes, want) = random_stream(&mut rng);
            let whole = parse_in(&[&bytes]);
            assert_eq!(whole, want, "case {case}: one read of {:?}", String::from_utf8_lossy(&bytes));
            let mut cuts: Vec<usize> =
                (0..rng.random_range(1..8)).map(|_| rng.random_range(0..=bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for c in cuts {
                pieces.push(&bytes[from..c]);
                from = c;
            }
            pieces.push(&bytes[from..]);
            assert_eq!(parse_in(&pieces), whole, "case {case}: split {pieces:?}");
        }
    }
}

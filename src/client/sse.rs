//! An incremental Server-Sent Events parser: a pure function over bytes.
//!
//! Network reads split events anywhere: between CR and LF, inside a UTF-8
//! character, across many reads. The parser keeps only the unfinished line and
//! the event being built, so any split gives the same events as one read. It
//! follows the WHATWG event-stream rules: LF, CRLF and CR line endings, `:`
//! comments, `event`/`data`/`id`/`retry` fields, multi-line data joined by
//! `\n`, a leading BOM dropped, and an unterminated last event discarded.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// Data lines joined by `\n`.
    pub data: String,
    /// The last `id:` seen on the stream.
    pub id: Option<String>,
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
    pub fn push(&mut self, mut input: &[u8], mut emit: impl FnMut(SseEvent)) {
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
        while let Some(pos) = input.iter().position(|&b| b == b'\n' || b == b'\r') {
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

    fn line_done(&mut self, line: &[u8], emit: &mut impl FnMut(SseEvent)) {
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                data.pop(); // the '\n' after the last data line
                emit(SseEvent {
                    event: self.event.take(),
                    data: String::from_utf8(data)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    id: self.id.clone(),
                });
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

    fn parse_in(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, |e| out.push(e));
        }
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    const STREAM: &str = "\u{FEFF}: ping\r\n\r\nevent: message\nid: 7\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\n\ndata: line1\rdata: line2\r\rdata:nospace\r\n\r\nretry: 1500\ndata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message".into()),
                data: "{\"a\":\"h\u{e9}llo \u{1F600}\"}".into(),
                id: Some("7".into()),
            },
            SseEvent { event: None, data: "line1\nline2".into(), id: Some("7".into()) },
            SseEvent { event: None, data: "nospace".into(), id: Some("7".into()) },
            SseEvent { event: None, data: "[DONE]".into(), id: Some("7".into()) },
        ]
    }

    #[test]
    fn parses_all_line_endings_comments_fields_and_bom() {
        let bytes = STREAM.as_bytes();
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(bytes, |e| out.push(e));
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
        p.push(b"data: {\"x\":1}\n\ndata: {\"cut", |e| out.push(e));
        assert_eq!(data(&out), ["{\"x\":1}"]);
        assert!(p.has_partial());
    }

    #[test]
    fn text_that_only_starts_like_a_bom_is_kept() {
        assert_eq!(data(&parse_in(&[b"\xEF", b"data: x\n\n"])), Vec::<&str>::new());
        assert_eq!(data(&parse_in(&[b"data: x\n\n"])), ["x"]);
    }
}

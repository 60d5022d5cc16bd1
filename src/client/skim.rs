//! The answer's JSON read in one pass, for the shape of `chunk::Body` only:
//! the body of every non-streaming request and the event of every token.
//! serde_json's derive spends ~7,000 instructions on a 243-byte completion
//! (matching each key through a visitor, walking ignored values), about a
//! sixth of the client's own work for a request (BENCHMARKS.md).
//!
//! A fast path, not a second parser: wherever serde_json might read the
//! bytes differently (an escape or a non-ASCII byte in a key, a field given
//! twice, a number the field would refuse, an `error` that is not null,
//! nesting past `DEPTH`, any syntax error) it gives up, and the caller parses
//! with serde_json. So a body it returns is the body serde_json returns; the
//! tests hold the two together on thousands of mutated answers.

use std::borrow::Cow;

use super::chunk::{Body, Choice, Message, OutputTokensDetails, PromptTokensDetails, Timings, Usage};

/// How deep an ignored value may nest: past it, serde_json decides (its own
/// limit is 128, and this path adds at most 4 levels of its own).
const DEPTH: u32 = 64;

/// `bytes` as a `Body`, or None: then serde_json decides.
pub fn body(bytes: &[u8]) -> Option<Body<'_>> {
    Reader { b: bytes, i: 0, text: None }.whole()
}

/// `text` as a `Body`, as `body`; its strings are not checked for UTF-8
/// again (an event's data was, by the SSE parser).
pub fn text(text: &str) -> Option<Body<'_>> {
    Reader { b: text.as_bytes(), i: 0, text: Some(text) }.whole()
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    /// `b` as text, when it is known to be UTF-8.
    text: Option<&'a str>,
}

impl<'a> Reader<'a> {
    /// The body, and nothing but white space after it.
    fn whole(mut self) -> Option<Body<'a>> {
        let body = self.body()?;
        self.ws();
        (self.i == self.b.len()).then_some(body)
    }
}

/// Marks field `bit` as read; None when it was already (serde_json's derive
/// refuses a duplicate field).
fn first(seen: &mut u8, bit: u8) -> Option<()> {
    let mask = 1 << bit;
    (*seen & mask == 0).then(|| *seen |= mask)
}

/// How many bytes of `s` come before one that ends a string, starts an
/// escape or is a control byte (all of `s` if none does), read eight at a
/// time: strings are most of an answer's bytes. Each mask flags the bytes
/// equal to `"` or `\`, or below 0x20; a flag can be false only above a true
/// one, so the lowest flag is the first such byte.
fn plain_run(s: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    let equal = |x: u64, c: u8| {
        let v = x ^ (ONES * u64::from(c));
        v.wrapping_sub(ONES) & !v
    };
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let below = x.wrapping_sub(ONES * 0x20) & !x;
        let flags = (below | equal(x, b'"') | equal(x, b'\\')) & (ONES << 7);
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = chunks.remainder();
    at + rest.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(rest.len())
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..].starts_with(word).then(|| self.i += word.len())
    }

    /// Reads an object, handing each key to `field` with the reader at its
    /// value. A key with an escape or a non-ASCII byte is handed over as
    /// None: serde_json would unescape it and check its UTF-8 before
    /// matching it to a field, so only a skipped value's key may be one.
    fn object(&mut self, mut field: impl FnMut(&mut Self, Option<&'a [u8]>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let start = self.i;
            let escaped = self.rest_of_string()?;
            let key = &self.b[start..self.i - 1];
            let key = (!escaped && key.is_ascii()).then_some(key);
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        if self.eat(b']').is_some() {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// `null` as None, anything else read by `value`.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        value(self).map(Some)
    }

    /// A whole number that fits: no sign, fraction or exponent (serde_json
    /// refuses those for an unsigned field), no leading zero (nor anywhere).
    fn u64(&mut self) -> Option<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0
            || (len > 1 && self.b[start] == b'0')
            || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some(v)
    }

    /// A string, borrowed when it has no escape; one with escapes is
    /// decoded by serde_json itself (surrogate pairs and all).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        if self.rest_of_string()? {
            return serde_json::from_slice::<String>(&self.b[start - 1..self.i]).ok().map(Cow::Owned);
        }
        let end = self.i - 1;
        match self.text {
            // Both ends are quotes, so on a character's boundary.
            Some(text) => text.get(start..end).map(Cow::Borrowed),
            None => std::str::from_utf8(&self.b[start..end]).ok().map(Cow::Borrowed),
        }
    }

    /// Moves past a string's closing quote (the opening one read) and says
    /// whether it had escapes. Escapes are checked as serde_json checks an
    /// ignored string's; a control byte ends the fast path.
    fn rest_of_string(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            self.i += plain_run(&self.b[self.i..]);
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return Some(escaped),
                b'\\' => {
                    escaped = true;
                    match *self.b.get(self.i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                // A control byte.
                _ => return None,
            }
        }
    }

    /// A number as JSON writes one, skipped.
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => _ = digits(&mut i),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return None;
            }
        }
        // A leading zero followed by a digit: serde_json refuses it.
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.i = i;
        Some(())
    }

    /// Any value, skipped.
    fn skip(&mut self, depth: u32) -> Option<()> {
        let depth = depth.checked_sub(1)?;
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.rest_of_string()?;
            }
            b'{' => self.object(|r, _| r.skip(depth))?,
            b'[' => _ = self.array(|r| r.skip(depth))?,
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            _ => self.number()?,
        }
        Some(())
    }

    fn body(&mut self) -> Option<Body<'a>> {
        let (mut body, mut seen) = (Body::default(), 0);
        self.object(|r, key| {
            match key? {
                b"choices" => {
                    first(&mut seen, 0)?;
                    body.choices = r.array(Self::choice)?;
                }
                b"usage" => {
                    first(&mut seen, 1)?;
                    body.usage = r.nullable(Self::usage)?;
                }
                // An error body is rare: serde_json reads it.
                b"error" => {
                    first(&mut seen, 2)?;
                    r.nullable(|_| None::<()>)?;
                }
                b"timings" => {
                    first(&mut seen, 3)?;
                    body.timings = r.nullable(Self::timings)?;
                }
                _ => r.skip(DEPTH)?,
            }
            Some(())
        })?;
        Some(body)
    }

    fn choice(&mut self) -> Option<Choice<'a>> {
        let (mut c, mut seen) = (Choice::default(), 0);
        self.object(|r, key| {
            match key? {
                b"index" => {
                    first(&mut seen, 0)?;
                    c.index = u32::try_from(r.u64()?).ok()?;
                }
                b"delta" => {
                    first(&mut seen, 1)?;
                    c.delta = r.nullable(Self::message)?;
                }
                b"message" => {
                    first(&mut seen, 2)?;
                    c.message = r.nullable(Self::message)?;
                }
                b"text" => {
                    first(&mut seen, 3)?;
                    c.text = r.nullable(Self::string)?;
                }
                b"finish_reason" => {
                    first(&mut seen, 4)?;
                    c.finish_reason = r.nullable(Self::string)?;
                }
                _ => r.skip(DEPTH)?,
            }
            Some(())
        })?;
        Some(c)
    }

    fn message(&mut self) -> Option<Message<'a>> {
        let (mut m, mut seen) = (Message::default(), 0);
        self.object(|r, key| {
            let (bit, field) = match key? {
                b"content" => (0, &mut m.content),
                b"reasoning_content" => (1, &mut m.reasoning_content),
                b"reasoning" => (2, &mut m.reasoning),
                _ => return r.skip(DEPTH),
            };
            first(&mut seen, bit)?;
            *field = r.nullable(Self::string)?;
            Some(())
        })?;
        Some(m)
    }

    fn usage(&mut self) -> Option<Usage> {
        let (mut u, mut seen) = (Usage::default(), 0);
        self.object(|r, key| {
            match key? {
                b"prompt_tokens" => {
                    first(&mut seen, 0)?;
                    u.prompt_tokens = r.nullable(Self::u64)?;
                }
                b"completion_tokens" => {
                    first(&mut seen, 1)?;
                    u.completion_tokens = r.nullable(Self::u64)?;
                }
                b"prompt_tokens_details" => {
                    first(&mut seen, 2)?;
                    u.prompt_tokens_details = r.nullable(|r| {
                        let cached_tokens = r.only_field(b"cached_tokens")?;
                        Some(PromptTokensDetails { cached_tokens })
                    })?;
                }
                b"prompt_cache_hit_tokens" => {
                    first(&mut seen, 3)?;
                    u.prompt_cache_hit_tokens = r.nullable(Self::u64)?;
                }
                b"completion_tokens_details" => {
                    first(&mut seen, 4)?;
                    u.completion_tokens_details = r.nullable(|r| {
                        let reasoning_tokens = r.only_field(b"reasoning_tokens")?;
                        Some(OutputTokensDetails { reasoning_tokens })
                    })?;
                }
                _ => r.skip(DEPTH)?,
            }
            Some(())
        })?;
        Some(u)
    }

    fn timings(&mut self) -> Option<Timings> {
        let cache_n = self.only_field(b"cache_n")?;
        Some(Timings { cache_n })
    }

    /// An object of which only one field, a count, is read.
    fn only_field(&mut self, name: &[u8]) -> Option<Option<u64>> {
        let (mut value, mut seen) = (None, 0);
        self.object(|r, key| {
            if key? != name {
                return r.skip(DEPTH);
            }
            first(&mut seen, 0)?;
            value = r.nullable(Self::u64)?;
            Some(())
        })?;
        Some(value)
    }
}

#[cfg(test)]
mod tests;

//! From TOML text to the file as written (`ScenarioFile`), with every
//! problem of the file, not only the first.
//!
//! serde stops at the first wrong key or value, so decoding runs in rounds:
//! each round's error is recorded, in plain words and at its key path
//! (`serde_path_to_error`), then the offending key is taken out of the
//! parsed document (or, for a missing key, a stand-in of the right type is
//! put in) and the next round finds the next problem. Only a syntax error
//! stops at once: past it there is no document to go on with.
//!
//! The keys taken out or stood in for are returned, so that the rules run
//! afterwards do not report a second, derived problem at the same place.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml::{Table, Value};

use super::locate::{KeyPath, Step};

/// More rounds than any real file has problems; a bound, so that a
/// pathological input cannot loop.
const MAX_ROUNDS: usize = 256;

/// What decoding found: the file (with the bad keys left out), each
/// problem at its key, and the keys the rules should not judge again.
pub(super) struct Decoded<T> {
    pub file: Option<T>,
    pub problems: Vec<(KeyPath, String)>,
    pub touched: Vec<KeyPath>,
}

/// A TOML syntax error: its byte offset and message.
pub(super) struct Syntax {
    pub offset: Option<usize>,
    pub message: String,
}

pub(super) fn decode<T: DeserializeOwned>(source: &str) -> Result<Decoded<T>, Syntax> {
    let mut doc: Table = source.parse().map_err(|e: toml::de::Error| {
        let offset = e.span().map(|s| s.start);
        let mut message = e.message().trim_end().replace('\n', "; ");
        // Say which key: the span starts at it.
        if message == "duplicate key"
            && let Some(key) =
                offset.and_then(|o| source.get(o..)).and_then(|r| r.split(['=', '\n', ']']).next())
        {
            message = format!("duplicate key `{}`: each key may be set once per table", key.trim());
        }
        Syntax { offset, message }
    })?;
    let mut out = Decoded { file: None, problems: Vec::new(), touched: Vec::new() };
    let mut seen = std::collections::HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let (path, message) = match try_decode::<T>(&doc) {
            Ok(file) => {
                out.file = Some(file);
                return Ok(out);
            }
            Err(e) => e,
        };
        // The same error again means the last fix did not take: stop here.
        if !seen.insert((path.to_string(), message.clone())) {
            return Ok(out);
        }
        // Each arm reports the problem, fixes the document and says where.
        let (fixed, at) = match classify(&message) {
            Kind::Unknown { key, expected } => {
                // The path ends at the unknown key itself.
                let mut msg = "unknown key".to_owned();
                match suggest(&key, &expected) {
                    Some(s) => msg += &format!("; did you mean `{s}`?"),
                    None if !expected.is_empty() => {
                        msg += &format!(" (this table takes: {})", expected.join(", "))
                    }
                    None => {}
                }
                out.problems.push((path.clone(), msg));
                (remove(&mut doc, &path), path)
            }
            Kind::Missing { key } => {
                let at = path.clone().key(&key);
                // Missing because a wrong value was taken out: said already.
                if !out.touched.contains(&at) {
                    out.problems.push((at.clone(), format!("`{key}` is required here and missing")));
                }
                (stand_in::<T>(&mut doc, &at), at)
            }
            Kind::Wrong { what } => {
                let got = value_at(&doc, &path).map(|v| shown(v, &path)).unwrap_or_default();
                let msg = plain(&what, &path);
                let said = msg.contains("got ");
                let msg = if got.is_empty() || said { msg } else { format!("{msg} (got {got})") };
                out.problems.push((path.clone(), msg));
                (remove(&mut doc, &path), path)
            }
        };
        if fixed {
            out.touched.push(at);
        } else {
            // Nothing to take out (an error of the document as a whole):
            // what was found so far is the report.
            return Ok(out);
        }
    }
    Ok(out)
}

/// One decoding round: the file, or the first error's key path and message.
fn try_decode<T: DeserializeOwned>(doc: &Table) -> Result<T, (KeyPath, String)> {
    serde_path_to_error::deserialize(Value::Table(doc.clone())).map_err(|e| {
        let mut path = KeyPath::default();
        for seg in e.path().iter() {
            path = match seg {
                Segment::Map { key } => path.key(key),
                Segment::Seq { index } => path.index(*index),
                Segment::Enum { .. } | Segment::Unknown => path,
            };
        }
        (path, e.into_inner().message().trim_end().to_owned())
    })
}

enum Kind {
    Unknown { key: String, expected: Vec<String> },
    Missing { key: String },
    Wrong { what: String },
}

/// The names serde quotes in backticks, in order: "unknown field `x`,
/// expected one of `a`, `b`" gives x, a, b.
fn ticked(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn classify(message: &str) -> Kind {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = ticked(rest);
        if let Some((key, expected)) = names.split_first() {
            return Kind::Unknown { key: key.clone(), expected: expected.to_vec() };
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some(key) = ticked(rest).into_iter().next()
    {
        return Kind::Missing { key };
    }
    Kind::Wrong { what: message.to_owned() }
}

/// serde's words for a wrong value, in the words of the scenario reference.
fn plain(message: &str, path: &KeyPath) -> String {
    let key = match path.0.last() {
        Some(Step::Key(k)) => k.as_str(),
        _ => "",
    };
    // An untagged key says only that nothing matched: say what it takes.
    if message.starts_with("data did not match any variant") {
        return match key {
            "prompt_tokens" => "must be a whole number of tokens, { min = .., max = .. } (uniform) or \
                                { mean = .., stddev = .. } (normal, optional min and max)"
                .into(),
            "stop" => "must be a string or a list of up to 4 strings".into(),
            _ => "is not one of the forms this key takes (see docs/scenario.md)".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = ticked(rest);
        if let Some((got, allowed)) = names.split_first() {
            let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
            let mut msg = format!("must be one of {list} (got {got:?})");
            if let Some(s) = suggest(got, allowed) {
                msg += &format!("; did you mean {s:?}?");
            }
            return msg;
        }
    }
    // `[variant]` written for `[[variant]]`.
    if message.starts_with("invalid type: map, expected a sequence") {
        return format!("must be a list of tables: write [[{key}]] for each entry, not [{key}]");
    }
    if let Some((_, expected)) = message.split_once(", expected ") {
        return format!("must be {}", expected_form(expected.trim()));
    }
    message.to_owned()
}

/// serde's name of a type, as a user would say what to write.
fn expected_form(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "an integer" => "a whole number".into(),
        "f32" | "f64" | "a float" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" => "text in quotes".into(),
        "a sequence" => "a list, such as [1, 2]".into(),
        "a map" => "a table".into(),
        "a Datetime" | "a datetime" => "a date, such as 2025-01-31".into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => "a table of keys".into(),
        other => other.to_owned(),
    }
}

/// The closest of `names` to `key`, if close enough to be a typo.
fn suggest<'a>(key: &str, names: &'a [String]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(1) + usize::from(key.len() > 5);
    let key = key.to_ascii_lowercase();
    names
        .iter()
        .map(|n| {
            let n_low = n.to_ascii_lowercase();
            // `warn` for `warn_usd`: a part of the name, not a typo of it.
            let part = key.len() >= 3 && (n_low.starts_with(&key) || key.starts_with(&n_low));
            (if part { 0 } else { distance(&key, &n_low) }, n)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// A value as the user wrote it, cut short when long; not at all where it
/// may be a credential (a key pasted in the wrong place must not be echoed
/// to a terminal or a CI log).
fn shown(v: &Value, path: &KeyPath) -> String {
    let secret_key = path.0.iter().any(|s| matches!(s, Step::Key(k) if k == "api_key_env" || k == "headers"));
    let text = v.to_string().to_ascii_lowercase();
    let credentials = text.contains("://") && text.contains('@');
    if secret_key || credentials || super::target_rules::KEY_PREFIXES.iter().any(|p| text.contains(p)) {
        return String::new();
    }
    let s = match v {
        Value::Table(t) if t.len() <= 6 && t.values().all(|v| !v.is_table() && !v.is_array()) => {
            let entries: Vec<String> = t.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", entries.join(", "))
        }
        Value::Table(_) => "a table".to_owned(),
        Value::Array(a) if a.len() > 8 => format!("a list of {} items", a.len()),
        other => other.to_string(),
    };
    if s.chars().count() > 60 { format!("{}…", s.chars().take(57).collect::<String>()) } else { s }
}

fn value_at<'a>(doc: &'a Table, path: &KeyPath) -> Option<&'a Value> {
    let (first, rest) = path.0.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut v = doc.get(k)?;
    for step in rest {
        v = match step {
            Step::Key(k) => v.as_table()?.get(k)?,
            Step::Index(i) => v.as_array()?.get(*i)?,
        };
    }
    Some(v)
}

fn parent_mut<'a>(doc: &'a mut Table, path: &[Step]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut v = doc.get_mut(k)?;
    for step in rest {
        v = match step {
            Step::Key(k) => v.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(v)
}

/// Takes the value at `path` out of the document; false if there is none.
fn remove(doc: &mut Table, path: &KeyPath) -> bool {
    let Some((last, parent)) = path.0.split_last() else { return false };
    match (last, parent.is_empty()) {
        (Step::Key(k), true) => doc.remove(k).is_some(),
        (Step::Key(k), false) => {
            parent_mut(doc, parent).and_then(Value::as_table_mut).and_then(|t| t.remove(k)).is_some()
        }
        // An entry of a list: the list as a whole goes (its neighbours
        // would shift and be reported at the wrong index).
        (Step::Index(_), _) => remove(doc, &KeyPath(parent.to_vec())),
    }
}

/// Puts in a value of the type the file needs for the missing key at
/// `path`, found by trying one of each kind; false if none fits.
fn stand_in<T: DeserializeOwned>(doc: &mut Table, path: &KeyPath) -> bool {
    let Some((Step::Key(k), parent)) = path.0.split_last() else { return false };
    let candidates = [
        Value::String("1s".into()),
        Value::Integer(1),
        Value::Float(1.0),
        Value::Boolean(true),
        Value::Table(Table::new()),
        Value::Array(Vec::new()),
    ];
    let mut candidates = std::collections::VecDeque::from(candidates);
    let mut named = false;
    while let Some(c) = candidates.pop_front() {
        let inserted = if parent.is_empty() {
            doc.insert(k.clone(), c);
            true
        } else {
            parent_mut(doc, parent).and_then(Value::as_table_mut).map(|t| t.insert(k.clone(), c)).is_some()
        };
        if !inserted {
            return false;
        }
        match try_decode::<T>(doc) {
            Err((p, message)) if p == *path || p.0.starts_with(&path.0) => {
                // A name from a fixed set: the set is in the message.
                if let Some(rest) = message.strip_prefix("unknown variant ")
                    && let Some(first) = ticked(rest).into_iter().nth(1)
                    && !named
                {
                    named = true;
                    candidates.push_front(Value::String(first));
                }
            }
            _ => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests;

//! Maps a key path such as `variant[2].max_tokens` back to its line in the
//! scenario file, so that errors found after deserialization (cross-field rules,
//! ranges) point at the same place a parse error would.

use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A key path into the scenario, printed the way users write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Step>);

impl KeyPath {
    pub fn root(key: &str) -> Self {
        KeyPath::default().key(key)
    }
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Step::Key(key.to_owned()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Step::Index(i));
        self
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if k.contains('.') || k.contains(' ') => {
                    write!(f, "{}{k:?}", if i == 0 { "" } else { "." })?
                }
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based (line, column) of the deepest part of `path` present in
/// `source`: the key itself when it is written, else the table that should
/// have held it.
pub fn position_of(source: &str, path: &KeyPath) -> Option<(usize, usize)> {
    let root = DeTable::parse(source).ok()?;
    let mut offset = None;
    let mut table = Some(root.get_ref());
    let mut value: Option<&DeValue> = None;
    for step in &path.0 {
        // A step not in the file (a missing key): the deepest part found.
        match step {
            Step::Key(k) => {
                let Some((key, v)) = table.and_then(|t| t.get_key_value(k.as_str())) else { break };
                offset = Some(key.span().start);
                value = Some(v.get_ref());
                table = v.get_ref().as_table();
            }
            Step::Index(i) => {
                let Some(item) = value.and_then(|v| v.as_array()).and_then(|a| a.get(*i)) else { break };
                offset = Some(item.span().start);
                value = Some(item.get_ref());
                table = item.get_ref().as_table();
            }
        }
    }
    offset.map(|o| position_at(source, o))
}

/// 1-based (line, column) of a byte offset.
pub fn position_at(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\n[load]\nconcurrency = 0\n\n[[variant]]\nname = \"a\"\n\n[[variant]]\nname = \"b\"\nmax_tokens = 9\n";

    #[test]
    fn finds_nested_keys_and_array_entries() {
        let p = KeyPath::default().key("load").key("concurrency");
        assert_eq!(position_of(DOC, &p), Some((4, 1)));
        let p = KeyPath::default().key("variant").index(1).key("max_tokens");
        assert_eq!(position_of(DOC, &p), Some((11, 1)));
        assert_eq!(p.to_string(), "variant[1].max_tokens");
    }

    #[test]
    fn a_missing_key_is_placed_at_the_table_that_should_hold_it() {
        let p = KeyPath::default().key("target").key("kind");
        assert_eq!(position_of(DOC, &p), None);
        let p = KeyPath::default().key("variant").index(0).key("max_tokens");
        assert_eq!(position_of(DOC, &p), Some((6, 1)));
    }
}

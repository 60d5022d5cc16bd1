//! Which tokenizer counts each model's tokens: `[tokenizers]` per model, then
//! the chosen profile's or `[target]`'s `tokenizer`, then tiktoken's encoding
//! for an OpenAI model name, then the fallback (`tokens::FALLBACK_ENCODING`).
//! Every tokenizer.json is read here, when the scenario is loaded: a missing
//! or broken file is a scenario error, and no request waits for a load.

use std::collections::BTreeMap;
use std::path::Path;

use super::file::{LiveFile, TargetFile};
use super::locate::KeyPath;
use super::validate::Problems;
use crate::tokens::Tokenizer;

/// Where the scenario says a tokenizer is.
pub(super) struct Given<'a> {
    pub target: Option<&'a TargetFile>,
    pub profiles: &'a BTreeMap<String, LiveFile>,
    /// The profile in use (`--profile`, else `default_profile`).
    pub profile: Option<&'a str>,
    pub per_model: &'a BTreeMap<String, String>,
    /// The scenario's directory: paths are relative to it.
    pub dir: &'a Path,
}

/// The tokenizer of each of `models`.
pub(super) fn tokenizers<'m>(
    given: Given,
    models: impl IntoIterator<Item = &'m str>,
    p: &mut Problems,
) -> BTreeMap<String, Tokenizer> {
    let models: Vec<&str> = models.into_iter().collect();
    // A file named twice (two models, or a model and the target) is read once.
    let mut loaded: BTreeMap<std::path::PathBuf, Option<Tokenizer>> = BTreeMap::new();
    let mut load = |rel: &str, key: KeyPath, p: &mut Problems| -> Option<Tokenizer> {
        let path = given.dir.join(rel);
        loaded
            .entry(path.clone())
            .or_insert_with(|| {
                Tokenizer::load(&path)
                    .map_err(|e| p.push(key, format!("{e} (a tokenizer.json, or a directory holding one)")))
                    .ok()
            })
            .clone()
    };
    for m in given.per_model.keys() {
        p.check(models.contains(&m.as_str()), KeyPath::root("tokenizers").key(m), || {
            format!("no variant uses model {m:?}; the variants use {models:?}")
        });
    }
    let shared = match given.profile.and_then(|n| Some((n, given.profiles.get(n)?.tokenizer.as_ref()?))) {
        Some((name, rel)) => load(rel, KeyPath::root("profiles").key(name).key("tokenizer"), p),
        None => match given.target.and_then(|t| t.tokenizer.as_ref()) {
            Some(rel) => load(rel, KeyPath::root("target").key("tokenizer"), p),
            None => None,
        },
    };
    let mut out = BTreeMap::new();
    for m in models {
        let own = given.per_model.get(m).and_then(|rel| load(rel, KeyPath::root("tokenizers").key(m), p));
        let t = own.or_else(|| shared.clone()).unwrap_or_else(|| Tokenizer::for_model(m));
        out.insert(m.to_owned(), t);
    }
    out
}

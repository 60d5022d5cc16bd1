//! `[sweep]`: a cartesian product over variant parameters.
//!
//! Every `[[variant]]` is crossed with every combination of the swept values
//! and named after them (`chat/gpt-4o-mini/max_tokens=64`). The result is a
//! plain list of variants, so nothing downstream knows a sweep happened;
//! `mode` says whether they share one run (`mix`) or each get the full load
//! in turn (`sequential`, the fair way to compare).

use super::KeyPath;
use super::file::VariantFile;
use super::validate::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepMode {
    /// All variants interleaved in one run, drawn by weight.
    Mix,
    /// One variant at a time, each under the whole load plan.
    Sequential,
}

/// Parameters a sweep may vary.
pub const SWEEPABLE: &[&str] = &[
    "model",
    "endpoint",
    "max_tokens",
    "n",
    "best_of",
    "stop",
    "stream",
    "include_usage",
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "batch",
    "prompt_tokens",
    "prompt",
    "system",
    "weight",
];

/// What a sweep set in one variant, recorded so that charts and summaries
/// know the swept parameters as values, never by parsing variant names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Swept {
    /// The `[[variant]]` this one was expanded from.
    pub base: String,
    /// Each swept parameter, in the order of the variant's name.
    pub values: Vec<SweptValue>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweptValue {
    pub param: String,
    pub value: serde_json::Value,
    /// Its segment of the variant name (`max_tokens=64`, or the model).
    pub label: String,
}

impl SweptValue {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        self.value.as_f64().filter(|v| v.is_finite())
    }
}

/// A variant after expansion, with where each of its values was written.
pub(super) struct Expanded {
    pub file: VariantFile,
    pub name: String,
    index: usize,
    swept: Vec<String>,
    values: Vec<SweptValue>,
}

impl Expanded {
    /// The record of the sweep, if this variant came from one.
    pub fn swept(&self) -> Option<Swept> {
        (!self.values.is_empty()).then(|| Swept { base: self.file.name.clone(), values: self.values.clone() })
    }
}

impl Expanded {
    /// Where `field` of this variant was written: the sweep for a swept
    /// parameter, else its `[[variant]]` entry.
    pub fn key(&self, field: &str) -> KeyPath {
        if self.swept.iter().any(|s| s == field) {
            KeyPath::root("sweep").key(field)
        } else {
            KeyPath::root("variant").index(self.index).key(field)
        }
    }
}

pub(super) fn expand(
    variants: &[VariantFile],
    sweep: Option<&toml::Table>,
    p: &mut Problems,
) -> (SweepMode, Vec<Expanded>) {
    let plain = |variants: &[VariantFile]| {
        variants
            .iter()
            .enumerate()
            .map(|(index, v)| Expanded {
                file: v.clone(),
                name: v.name.clone(),
                index,
                swept: Vec::new(),
                values: Vec::new(),
            })
            .collect()
    };
    let Some(table) = sweep else { return (SweepMode::Mix, plain(variants)) };
    let mode = match table.get("mode") {
        None => SweepMode::Sequential,
        Some(m) => m.clone().try_into().unwrap_or_else(|_| {
            p.push("sweep.mode", format!("must be \"mix\" or \"sequential\", got {m}"));
            SweepMode::Sequential
        }),
    };
    // model first in names: it is what people compare most.
    let mut params: Vec<(&String, &Vec<toml::Value>)> = Vec::new();
    for (key, value) in table.iter().filter(|(k, _)| k.as_str() != "mode") {
        let at = KeyPath::root("sweep").key(key);
        if !p.check(SWEEPABLE.contains(&key.as_str()), at.clone(), || {
            format!("cannot sweep over {key:?}; sweepable: {}", SWEEPABLE.join(", "))
        }) {
            continue;
        }
        match value.as_array() {
            Some(list) if !list.is_empty() => params.push((key, list)),
            _ => p.push(at, format!("must be a non-empty list of values, got {value}")),
        }
    }
    params.sort_by_key(|(k, _)| k.as_str() != "model");
    let mut out: Vec<Expanded> = plain(variants);
    for (key, values) in params {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for e in &out {
            for value in values {
                let mut file = e.file.clone();
                if let Err(msg) = set(&mut file, key, value.clone()) {
                    p.push(KeyPath::root("sweep").key(key), format!("value {value}: {msg}"));
                    continue;
                }
                let label = if key == "model" { show(value) } else { format!("{key}={}", show(value)) };
                let mut swept = e.swept.clone();
                swept.push(key.clone());
                let mut values = e.values.clone();
                let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
                values.push(SweptValue { param: key.clone(), value: json, label: label.clone() });
                let name = format!("{}/{label}", e.name);
                next.push(Expanded { file, name, index: e.index, swept, values });
            }
        }
        out = next;
    }
    (mode, out)
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

/// Sets one parameter from a TOML value, with the same types as the file.
fn set(v: &mut VariantFile, key: &str, value: toml::Value) -> Result<(), String> {
    fn conv<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, String> {
        value.try_into().map_err(|e: toml::de::Error| e.message().to_owned())
    }
    match key {
        "model" => v.model = conv(value)?,
        "endpoint" => v.endpoint = conv(value)?,
        "max_tokens" => v.max_tokens = Some(conv(value)?),
        "n" => v.n = Some(conv(value)?),
        "best_of" => v.best_of = Some(conv(value)?),
        "stop" => v.stop = Some(conv(value)?),
        "stream" => v.stream = Some(conv(value)?),
        "include_usage" => v.include_usage = Some(conv(value)?),
        "temperature" => v.temperature = Some(conv(value)?),
        "top_p" => v.top_p = Some(conv(value)?),
        "seed" => v.seed = Some(conv(value)?),
        "presence_penalty" => v.presence_penalty = Some(conv(value)?),
        "frequency_penalty" => v.frequency_penalty = Some(conv(value)?),
        "batch" => v.batch = Some(conv(value)?),
        "prompt_tokens" => {
            v.prompt_tokens = Some(conv(value)?);
            (v.prompt, v.prompts_file) = (None, None);
        }
        "prompt" => {
            v.prompt = Some(conv(value)?);
            (v.prompt_tokens, v.prompts_file) = (None, None);
        }
        "system" => v.system = Some(conv(value)?),
        "weight" => v.weight = Some(conv(value)?),
        _ => return Err("not sweepable".into()),
    }
    Ok(())
}

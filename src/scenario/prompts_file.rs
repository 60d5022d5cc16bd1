//! Prompts files: JSON Lines, one prompt per line.
//!
//! A line is a JSON string (the prompt), an object `{"prompt": "..."}`, or —
//! for chat — a messages array `[{"role": "user", "content": "..."}]` or
//! `{"messages": [...]}`. Blank lines are skipped. Each prompt is counted in
//! the model's tokenizer once, when the scenario is loaded.

use std::path::Path;

use serde_json::Value;

use crate::scenario::{Endpoint, FilePrompt, PromptContent};
use crate::tokens::Tokenizer;

/// Reads and counts every prompt; an error names the file and the line.
pub fn read_prompts_file(
    path: &Path,
    tokenizer: &Tokenizer,
    endpoint: Endpoint,
) -> Result<Vec<FilePrompt>, String> {
    let shown = path.display();
    let text = super::limits::read_text(path, super::limits::PROMPTS_BYTES)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |msg: String| format!("{shown}:{}: {msg}", i + 1);
        let value: Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
        let content = match value {
            Value::String(s) => PromptContent::Text(s),
            Value::Object(ref o) if o.get("prompt").is_some_and(Value::is_string) => {
                PromptContent::Text(o["prompt"].as_str().unwrap_or_default().to_owned())
            }
            Value::Array(m) => messages(m).map_err(at)?,
            Value::Object(mut o) if o.get("messages").is_some_and(Value::is_array) => {
                let Some(Value::Array(m)) = o.remove("messages") else {
                    return Err(at("\"messages\" must be an array".into()));
                };
                messages(m).map_err(at)?
            }
            _ => {
                return Err(at(
                    "expected a string, {\"prompt\": ...}, a messages array or {\"messages\": [...]}".into(),
                ));
            }
        };
        if matches!(content, PromptContent::Messages(_))
            && !matches!(endpoint, Endpoint::Chat | Endpoint::Responses)
        {
            return Err(at(
                "a messages array needs endpoint = \"chat\" or \"responses\"; completions and embeddings take text"
                    .into(),
            ));
        }
        let tokens = match &content {
            PromptContent::Text(t) => tokenizer.count(t),
            PromptContent::Messages(m) => {
                m.iter().filter_map(|msg| msg["content"].as_str()).map(|c| tokenizer.count(c)).sum()
            }
        };
        out.push(FilePrompt { content, tokens: u32::try_from(tokens).unwrap_or(u32::MAX) });
    }
    if out.is_empty() {
        return Err(format!("{shown}: no prompts in the file"));
    }
    Ok(out)
}

fn messages(m: Vec<Value>) -> Result<PromptContent, String> {
    let ok = !m.is_empty() && m.iter().all(|msg| msg["role"].is_string() && !msg["content"].is_null());
    if ok {
        Ok(PromptContent::Messages(m))
    } else {
        Err("a messages array needs objects with \"role\" and \"content\"".into())
    }
}

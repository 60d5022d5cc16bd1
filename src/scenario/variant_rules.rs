//! The rules of one `[[variant]]` (after sweep expansion): request
//! parameters as the API accepts them, and where its prompts come from.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::file::{PromptTokensFile, StopFile, TurnsFile, VariantFile};
use super::limits;
use super::locate::KeyPath;
use super::sweep::Expanded;
use super::validate::Problems;
use super::*;

pub(super) fn variant(
    e: &Expanded,
    dir: &Path,
    prices: &BTreeMap<String, Price>,
    tokenizers: &BTreeMap<String, Tokenizer>,
    trace: Option<&super::trace::Trace>,
    p: &mut Problems,
) -> Option<Variant> {
    let v: &VariantFile = &e.file;
    let at = |k: &str| e.key(k);
    let before = p.0.len();
    p.check(!v.name.trim().is_empty(), at("name"), || "must not be empty".into());
    for (key, name) in [("name", e.name.as_str()), ("model", v.model.as_str())] {
        if let Some(problem) = limits::long_name(name, limits::VARIANT_CHARS) {
            p.push(at(key), problem);
        }
    }
    let weight = v.weight.unwrap_or(1);
    p.check(weight >= 1, at("weight"), || format!("must be at least 1, got {weight}"));
    p.check(!v.model.trim().is_empty(), at("model"), || "must not be empty".into());
    let completions = v.endpoint == Endpoint::Completions;
    let embeddings = v.endpoint == Endpoint::Embeddings;
    let max_tokens = match v.max_tokens {
        None if embeddings => 0,
        None => {
            p.push(at("max_tokens"), "`max_tokens` is required here and missing");
            1
        }
        Some(m) => {
            if embeddings {
                p.push(at("max_tokens"), "embeddings generate no tokens: remove max_tokens");
            } else {
                p.check(m >= 1, at("max_tokens"), || format!("must be at least 1, got {m}"));
            }
            m
        }
    };
    if v.endpoint == Endpoint::Responses {
        responses_keys(v, &at, p);
    }
    if embeddings {
        embedding_keys(v, &at, p);
    } else {
        for (key, given) in
            [("dimensions", v.dimensions.is_some()), ("encoding_format", v.encoding_format.is_some())]
        {
            p.check(!given, at(key), || "only applies to endpoint = \"embeddings\"".into());
        }
    }
    let n = v.n.unwrap_or(1);
    p.check((1..=128).contains(&n), at("n"), || format!("must be a whole number from 1 to 128, got {n}"));
    let stream = v.stream.unwrap_or(!embeddings);
    if let Some(b) = v.best_of
        && p.check(completions, at("best_of"), || "only exists on endpoint = \"completions\"".into())
    {
        p.check((1..=20).contains(&b), at("best_of"), || {
            format!("must be a whole number from 1 to 20, got {b}")
        });
        p.check(b >= n, at("best_of"), || {
            format!("must be >= n ({n}), got {b}: best_of generates best_of and returns n")
        });
        p.check(!(stream && b > 1), at("best_of"), || {
            format!("best_of = {b} cannot be streamed (the API rejects it): set stream = false")
        });
    }
    let stop = match &v.stop {
        None => Vec::new(),
        Some(StopFile::One(s)) => vec![s.clone()],
        Some(StopFile::Many(list)) => list.clone(),
    };
    p.check(stop.len() <= 4, at("stop"), || format!("at most 4 stop sequences, got {}", stop.len()));
    p.check(stop.iter().all(|s| !s.is_empty()), at("stop"), || {
        "stop sequences must not be empty strings".into()
    });
    p.check(stream || v.include_usage.is_none(), at("include_usage"), || {
        "only applies when stream = true".into()
    });
    let batch = v.batch.unwrap_or(1);
    let most = if embeddings { super::MAX_EMBEDDING_INPUTS } else { MAX_BATCH };
    p.check((1..=most).contains(&batch), at("batch"), || {
        format!("must be a whole number from 1 to {most}, got {batch}")
    });
    p.check(batch == 1 || completions || embeddings, at("batch"), || {
        format!(
            "batch = {batch} needs endpoint = \"completions\" or \"embeddings\" (chat takes one conversation per \
             request)"
        )
    });
    let sampling = sampling(v, &at, p);
    let extra_body = match &v.extra_body {
        None => serde_json::Map::new(),
        Some(t) => match serde_json::to_value(t) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                p.push(at("extra_body"), "must be a table of JSON-compatible values");
                serde_json::Map::new()
            }
        },
    };
    if let Some(s) = &v.system {
        p.check(!completions && !embeddings, at("system"), || {
            "a system prompt needs endpoint = \"chat\"".into()
        });
        p.check(!s.is_empty(), at("system"), || "must not be empty".into());
    }
    let billed = billed(max_tokens, n.max(v.best_of.unwrap_or(1)), &extra_body, &at, p);
    let tokenizer = tokenizers.get(&v.model).cloned().unwrap_or_else(|| Tokenizer::for_model(&v.model));
    if trace.is_some() {
        p.check(!embeddings, at("endpoint"), || {
            "a trace replays generations (lengths in and out): endpoint = \"embeddings\" cannot replay one"
                .into()
        });
    }
    let prompt = match trace {
        Some(t) => traced_prompt(v, t, &at, p),
        None => prompt(v, dir, &tokenizer, &at, p),
    };
    let system_tokens = v.system.as_deref().map_or(0, |s| tokenizer.count(s) as u32);
    let session = session(v, n, batch, trace.is_some(), &at, p);
    (p.0.len() == before).then(|| Variant {
        name: e.name.clone(),
        swept: e.swept(),
        weight,
        endpoint: v.endpoint,
        model: v.model.clone(),
        max_tokens,
        n,
        best_of: v.best_of,
        stop,
        stream,
        include_usage: v.include_usage.unwrap_or(stream),
        sampling,
        extra_body,
        batch,
        dimensions: v.dimensions,
        encoding_format: v.encoding_format,
        prompt: prompt.unwrap_or(PromptSource::Tokens(TokenSpread::Fixed(1))),
        system: v.system.clone(),
        system_tokens,
        tokenizer,
        price: prices.get(&v.model).copied(),
        billed,
        session,
    })
}

/// `turns` and `think_time`: sessions of a chat conversation, one answer
/// per turn to carry on from.
fn session(
    v: &VariantFile,
    n: u32,
    batch: u32,
    traced: bool,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> Option<SessionSpec> {
    let Some(turns) = &v.turns else {
        p.check(v.think_time.is_none(), at("think_time"), || {
            "only applies to sessions (turns): the pause between a turn's answer and the next turn".into()
        });
        return None;
    };
    let (min_turns, max_turns) = match *turns {
        TurnsFile::Fixed(t) => (t, t),
        TurnsFile::Spread { min, max } => (min, max),
    };
    let ok = p.check(min_turns >= 1 && min_turns <= max_turns && max_turns <= MAX_TURNS, at("turns"), || {
        format!(
            "turns per session must be from 1 to {MAX_TURNS} with min <= max, got {min_turns} to {max_turns}"
        )
    });
    let why = |k: &str, what: &str| format!("a session carries on one conversation: {k} {what}");
    let chat = p.check(v.endpoint == Endpoint::Chat, at("turns"), || why("it needs", "endpoint = \"chat\""));
    let one = p.check(n == 1 && batch == 1, at("turns"), || {
        why("it needs", "n = 1 and no batch (one answer per turn)")
    });
    let own = p.check(!traced, at("turns"), || why("its turns are", "not a trace's requests ([load.trace])"));
    (ok && chat && one && own).then(|| SessionSpec {
        min_turns,
        max_turns,
        think_time: v.think_time.unwrap_or_default(),
    })
}

/// What the server may bill a request for: `max_tokens` and the sequences
/// per prompt, raised by `extra_body` when it sets what is billed (it is
/// sent last and wins), so that the worst case, the cost gate and the budget
/// price what is really asked.
fn billed(
    max_tokens: u32,
    sequences: u32,
    extra: &serde_json::Map<String, serde_json::Value>,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> Billed {
    let mut b = Billed { max_tokens, sequences };
    for key in ["max_tokens", "max_completion_tokens", "n", "best_of"] {
        let Some(value) = extra.get(key) else { continue };
        let Some(v) = value.as_u64().filter(|v| (1..=u64::from(u32::MAX)).contains(v)) else {
            p.push(
                at("extra_body").key(key),
                format!("is billed, so it must be a whole number from 1 (llmload prices it), got {value}"),
            );
            continue;
        };
        let v = v as u32;
        match key {
            "max_tokens" | "max_completion_tokens" => b.max_tokens = b.max_tokens.max(v),
            _ => b.sequences = b.sequences.max(v),
        }
    }
    b
}

fn sampling(
    v: &VariantFile,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let ranged = [
        ("temperature", v.temperature, 0.0, 2.0),
        ("top_p", v.top_p, 0.0, 1.0),
        ("presence_penalty", v.presence_penalty, -2.0, 2.0),
        ("frequency_penalty", v.frequency_penalty, -2.0, 2.0),
    ];
    for (k, val, lo, hi) in ranged {
        if let Some(x) = val
            && p.check(x.is_finite() && (lo..=hi).contains(&x), at(k), || {
                format!("must be a number from {lo} to {hi}, got {x:?}")
            })
        {
            m.insert(k.into(), serde_json::json!(x));
        }
    }
    if let Some(s) = v.seed {
        m.insert("seed".into(), serde_json::json!(s));
    }
    if let Some(bias) = &v.logit_bias {
        for (tok, b) in bias {
            p.check(tok.parse::<u32>().is_ok(), at("logit_bias"), || {
                format!("keys are token ids, got {tok:?}")
            });
            p.check((-100..=100).contains(b), at("logit_bias"), || {
                format!("biases are whole numbers from -100 to 100, got {b} for {tok}")
            });
        }
        m.insert("logit_bias".into(), serde_json::json!(bias));
    }
    m
}

/// With `[load.trace]` the trace gives every prompt: a variant gives none.
fn traced_prompt(
    v: &VariantFile,
    t: &super::trace::Trace,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> Option<PromptSource> {
    for (set, k) in [
        (v.prompt_tokens.is_some(), "prompt_tokens"),
        (v.prompt.is_some(), "prompt"),
        (v.prompts_file.is_some(), "prompts_file"),
        (v.prompts_order.is_some(), "prompts_order"),
    ] {
        p.check(!set, at(k), || "not used with [load.trace]: the trace gives each request's prompt".into());
    }
    Some(PromptSource::Trace { max_input: t.max_input })
}

fn prompt(
    v: &VariantFile,
    dir: &Path,
    tokenizer: &Tokenizer,
    at: &dyn Fn(&str) -> KeyPath,
    p: &mut Problems,
) -> Option<PromptSource> {
    let given = [v.prompt_tokens.is_some(), v.prompt.is_some(), v.prompts_file.is_some()];
    if given.iter().filter(|&&g| g).count() != 1 {
        p.push(at("prompt_tokens"), "set exactly one of prompt_tokens, prompt or prompts_file");
        return None;
    }
    p.check(v.prompts_order.is_none() || v.prompts_file.is_some(), at("prompts_order"), || {
        "only applies with prompts_file".into()
    });
    if let Some(t) = &v.prompt_tokens {
        let key = at("prompt_tokens");
        let spread = match t {
            PromptTokensFile::Fixed(n) => TokenSpread::Fixed(*n),
            PromptTokensFile::Spread(s) => match (s.min, s.max, s.mean, s.stddev) {
                (Some(min), Some(max), None, None) => TokenSpread::Uniform { min, max },
                (min, max, Some(mean), Some(stddev)) => {
                    p.check(
                        mean.is_finite() && mean >= 1.0 && stddev.is_finite() && stddev >= 0.0,
                        key.clone(),
                        || format!("needs mean >= 1 and stddev >= 0, got mean {mean}, stddev {stddev}"),
                    );
                    let max = max.unwrap_or((mean + 4.0 * stddev).ceil().min(1e6) as u32);
                    TokenSpread::Normal { mean, stddev, min: min.unwrap_or(1), max }
                }
                _ => {
                    p.push(key, "write a count, { min, max } (uniform) or { mean, stddev } (normal, optional min/max)");
                    return None;
                }
            },
        };
        let (lo, hi) = match spread {
            TokenSpread::Fixed(n) => (n, n),
            TokenSpread::Uniform { min, max } | TokenSpread::Normal { min, max, .. } => (min, max),
        };
        let ok = p.check(lo >= 1 && hi <= 1_000_000 && lo <= hi, at("prompt_tokens"), || {
            format!("token counts must be from 1 to 1000000 with min <= max, got {lo} to {hi}")
        });
        return ok.then_some(PromptSource::Tokens(spread));
    }
    if let Some(text) = &v.prompt {
        p.check(!text.is_empty(), at("prompt"), || "must not be empty".into());
        let tokens = tokenizer.count(text) as u32;
        return Some(PromptSource::Literal { text: text.clone(), tokens });
    }
    let rel = v.prompts_file.as_deref().unwrap_or_default();
    let path = dir.join(rel);
    match prompts_file::read_prompts_file(&path, tokenizer, v.endpoint) {
        Ok(prompts) => Some(PromptSource::File {
            path,
            prompts: Arc::new(prompts),
            order: v.prompts_order.unwrap_or(PromptOrder::Random),
        }),
        Err(e) => {
            p.push(at("prompts_file"), e);
            None
        }
    }
}

/// What an embeddings variant may not have (it generates nothing, streams
/// nothing, samples nothing), and its own keys checked.
fn embedding_keys(v: &VariantFile, at: &dyn Fn(&str) -> KeyPath, p: &mut Problems) {
    let given = [
        ("n", v.n.is_some()),
        ("best_of", v.best_of.is_some()),
        ("stop", v.stop.is_some()),
        ("include_usage", v.include_usage.is_some()),
        ("temperature", v.temperature.is_some()),
        ("top_p", v.top_p.is_some()),
        ("seed", v.seed.is_some()),
        ("presence_penalty", v.presence_penalty.is_some()),
        ("frequency_penalty", v.frequency_penalty.is_some()),
        ("logit_bias", v.logit_bias.is_some()),
        ("system", v.system.is_some()),
        ("turns", v.turns.is_some()),
    ];
    for (key, is_given) in given {
        p.check(!is_given, at(key), || {
            "does not apply to endpoint = \"embeddings\" (it generates no text)".into()
        });
    }
    p.check(v.stream != Some(true), at("stream"), || "embeddings are not streamed: remove stream".into());
    if let Some(d) = v.dimensions {
        p.check((1..=65_536).contains(&d), at("dimensions"), || {
            format!("must be a whole number from 1 to 65536, got {d}")
        });
    }
}

/// What the Responses API has no parameter for: one answer per request (no
/// `n`, `best_of` or batch), no stop sequences, usage always reported, and
/// of the sampling keys only `temperature` and `top_p`.
fn responses_keys(v: &VariantFile, at: &dyn Fn(&str) -> KeyPath, p: &mut Problems) {
    let given = [
        ("n", v.n.is_some()),
        ("best_of", v.best_of.is_some()),
        ("stop", v.stop.is_some()),
        ("batch", v.batch.is_some()),
        ("include_usage", v.include_usage.is_some()),
        ("seed", v.seed.is_some()),
        ("presence_penalty", v.presence_penalty.is_some()),
        ("frequency_penalty", v.frequency_penalty.is_some()),
        ("logit_bias", v.logit_bias.is_some()),
    ];
    for (key, is_given) in given {
        p.check(!is_given, at(key), || {
            "the Responses API has no such parameter (endpoint = \"responses\"; use extra_body for a server's own)"
                .into()
        });
    }
    if let Some(m) = v.max_tokens {
        p.check(m >= 16, at("max_tokens"), || {
            format!("the Responses API takes max_output_tokens of at least 16, got {m}")
        });
    }
}

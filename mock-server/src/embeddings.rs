//! `/v1/embeddings`: what the API accepts, deterministic vectors, and when the answer
//! is due.
//!
//! An embedding is one forward pass over the inputs: its latency is the model's base
//! (`ttft`, jittered as a TTFT is) plus its prefill (`prefill_per_token`) for every
//! input token, and it takes one slot of the model's batch while it runs. The vectors
//! are a pure function of each input (its text or token ids) and the dimension: unit
//! length, as the API's are, so cosine similarity works on them.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::openai::ApiError;
use crate::text;

/// The API's limit on inputs per request.
pub(crate) const MAX_INPUTS: usize = 2048;

/// One input: its token count (words of a text, or the ids given) and the seed of its
/// vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Input {
    pub(crate) tokens: u64,
    pub(crate) seed: u64,
}

#[derive(Debug, PartialEq)]
pub(crate) struct EmbeddingRequest {
    pub(crate) model: String,
    pub(crate) inputs: Vec<Input>,
    pub(crate) dimensions: Option<u32>,
    pub(crate) base64: bool,
}

impl EmbeddingRequest {
    pub(crate) fn tokens(&self) -> u64 {
        self.inputs.iter().map(|i| i.tokens).sum()
    }
}

fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(message, Some(param), None)
}

pub(crate) fn parse(body: &[u8]) -> Result<EmbeddingRequest, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let Some(obj) = v.as_object() else {
        return Err(ApiError::invalid("The body must be a JSON object.", None, None));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(invalid("model", "you must provide a model parameter")),
    };
    let inputs = match obj.get("input") {
        Some(Value::String(s)) => vec![text_input(s)?],
        Some(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                vec![ids_input(items)?]
            } else {
                if items.len() > MAX_INPUTS {
                    return Err(invalid(
                        "input",
                        format!(
                            "'$.input' is too long: at most {MAX_INPUTS} inputs per request, got {}",
                            items.len()
                        ),
                    ));
                }
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => text_input(s),
                        Value::Array(ids) if !ids.is_empty() => ids_input(ids),
                        _ => Err(invalid(
                            "input",
                            "each input must be a non-empty string or array of token ids",
                        )),
                    })
                    .collect::<Result<_, _>>()?
            }
        }
        _ => return Err(invalid("input", "'$.input' must be a non-empty string or array")),
    };
    let dimensions = match obj.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(d) => match d.as_u64() {
            Some(n @ 1..=65_536) => Some(n as u32),
            _ => return Err(invalid("dimensions", "dimensions must be a whole number of at least 1")),
        },
    };
    let base64 = match obj.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(other) => {
            return Err(invalid(
                "encoding_format",
                format!("encoding_format must be 'float' or 'base64', got {other}"),
            ));
        }
    };
    Ok(EmbeddingRequest { model, inputs, dimensions, base64 })
}

fn text_input(s: &str) -> Result<Input, ApiError> {
    if s.is_empty() {
        return Err(invalid("input", "'$.input' must not contain empty strings"));
    }
    Ok(Input { tokens: text::count_words(s).max(1), seed: hash_bytes(s.as_bytes()) })
}

fn ids_input(ids: &[Value]) -> Result<Input, ApiError> {
    let mut h = 0x5EED_u64;
    for id in ids {
        let Some(n) = id.as_u64() else {
            return Err(invalid("input", "token ids must be whole numbers of at least 0"));
        };
        h = text::splitmix64(h ^ n);
    }
    Ok(Input { tokens: ids.len() as u64, seed: h })
}

/// FNV-1a, then mixed: a stable hash of an input's text.
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for &c in b {
        h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
    }
    text::splitmix64(h)
}

/// The unit vector of an input, `dims` long.
pub(crate) fn vector(seed: u64, dims: u32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..u64::from(dims))
        .map(|i| {
            // Uniform in [-1, 1): enough for a direction.
            let h = text::splitmix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            ((h >> 11) as f64 / (1u64 << 52) as f64 - 1.0) as f32
        })
        .collect();
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    v
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Item>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct Item {
    object: &'static str,
    index: usize,
    embedding: Value,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// The response body: one vector per input, in order, and the tokens billed.
pub(crate) fn response_json(req: &EmbeddingRequest, dims: u32) -> Vec<u8> {
    let data = req
        .inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let v = vector(input.seed, dims);
            let embedding = if req.base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::Array(v.into_iter().map(|x| serde_json::json!(x)).collect())
            };
            Item { object: "embedding", index, embedding }
        })
        .collect();
    let tokens = req.tokens();
    crate::openai::to_json(&List {
        object: "list",
        data,
        model: &req.model,
        usage: Usage { prompt_tokens: tokens, total_tokens: tokens },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_every_shape_are_counted() {
        let r = parse(br#"{"model":"e","input":"one two three"}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens(), r.base64), (1, 3, false));
        let r =
            parse(br#"{"model":"e","input":["a b","c"],"encoding_format":"base64","dimensions":8}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens(), r.base64, r.dimensions), (2, 3, true, Some(8)));
        let r = parse(br#"{"model":"e","input":[1,2,3,4]}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens()), (1, 4));
        let r = parse(br#"{"model":"e","input":[[1,2],[3]]}"#).unwrap();
        assert_eq!((r.inputs.len(), r.tokens()), (2, 3));
    }

    #[test]
    fn what_the_api_refuses_is_refused() {
        for body in [
            r#"{"input":"x"}"#,
            r#"{"model":"e"}"#,
            r#"{"model":"e","input":[]}"#,
            r#"{"model":"e","input":[""]}"#,
            r#"{"model":"e","input":"x","encoding_format":"hex"}"#,
            r#"{"model":"e","input":"x","dimensions":0}"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
        let many = format!(r#"{{"model":"e","input":[{}]}}"#, vec!["\"x\""; MAX_INPUTS + 1].join(","));
        assert!(parse(many.as_bytes()).is_err());
    }

    #[test]
    fn vectors_are_unit_length_and_a_function_of_the_input() {
        let a = vector(7, 64);
        assert_eq!(a, vector(7, 64));
        assert_ne!(a, vector(8, 64));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let same = parse(br#"{"model":"e","input":["hello there","hello there"]}"#).unwrap();
        assert_eq!(same.inputs[0], same.inputs[1]);
    }
}

//! What each request carries: the variant drawn from the weighted mix, a
//! seeded prompt, and the serialized request body.
//!
//! A request is a pure function of (seed, sequence number), so the same
//! scenario and seed send the same requests whichever worker sends them.

mod prompt;

use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::scenario::{Endpoint, Variant};

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct WorkRequest {
    pub variant: usize,
    pub seq: u64,
    /// Path below the base URL, e.g. `/chat/completions`.
    pub path: &'static str,
    pub body: Bytes,
    pub stream: bool,
    pub prompt_tokens: u32,
}

pub struct Workload {
    variants: Vec<Variant>,
    /// Running sums of the weights, for drawing a variant.
    cumulative: Vec<u64>,
    seed: u64,
}

impl Workload {
    pub fn new(variants: &[Variant], seed: u64) -> Self {
        let cumulative = variants
            .iter()
            .scan(0u64, |sum, v| {
                *sum += u64::from(v.weight);
                Some(*sum)
            })
            .collect();
        Workload { variants: variants.to_vec(), cumulative, seed }
    }

    pub fn request(&self, seq: u64) -> WorkRequest {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed, seq));
        let total = *self.cumulative.last().unwrap_or(&1);
        let draw = rng.random_range(0..total);
        let variant = self.cumulative.partition_point(|&c| c <= draw);
        let v = &self.variants[variant];
        let mut prompt = String::new();
        prompt::write_prompt(&mut rng, v.prompt_tokens, &mut prompt);
        WorkRequest {
            variant,
            seq,
            path: match v.endpoint {
                Endpoint::Chat => "/chat/completions",
                Endpoint::Completions => "/completions",
            },
            body: body(v, prompt),
            stream: v.stream,
            prompt_tokens: v.prompt_tokens,
        }
    }
}

fn body(v: &Variant, prompt: String) -> Bytes {
    let mut b = json!({ "model": v.model, "max_tokens": v.max_tokens, "stream": v.stream });
    match v.endpoint {
        Endpoint::Chat => b["messages"] = json!([{ "role": "user", "content": prompt }]),
        Endpoint::Completions => b["prompt"] = json!(prompt),
    }
    if v.stream && v.include_usage {
        b["stream_options"] = json!({ "include_usage": true });
    }
    Bytes::from(serde_json::to_vec(&b).unwrap_or_default())
}

/// SplitMix64 of seed and sequence: independent streams per request.
pub(crate) fn mix(seed: u64, seq: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, weight: u32, endpoint: Endpoint) -> Variant {
        Variant {
            name: name.into(),
            weight,
            endpoint,
            model: "m".into(),
            max_tokens: 5,
            stream: true,
            include_usage: true,
            prompt_tokens: 12,
        }
    }

    #[test]
    fn mix_follows_weights_and_is_deterministic() {
        let w = Workload::new(&[variant("a", 1, Endpoint::Chat), variant("b", 3, Endpoint::Completions)], 9);
        let picks: Vec<usize> = (0..4000).map(|s| w.request(s).variant).collect();
        let b = picks.iter().filter(|&&v| v == 1).count() as f64 / 4000.0;
        assert!((b - 0.75).abs() < 0.03, "share of b = {b}");
        let again: Vec<usize> = (0..4000).map(|s| w.request(s).variant).collect();
        assert_eq!(picks, again);
    }

    #[test]
    fn bodies_follow_the_endpoint_shape() {
        let w = Workload::new(&[variant("a", 1, Endpoint::Chat)], 1);
        let r = w.request(0);
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.path, "/chat/completions");
        assert_eq!(b["messages"][0]["role"], "user");
        assert_eq!(b["messages"][0]["content"].as_str().unwrap().split(' ').count(), 12);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["max_tokens"], 5);
        let w = Workload::new(&[variant("c", 1, Endpoint::Completions)], 1);
        let b: serde_json::Value = serde_json::from_slice(&w.request(3).body).unwrap();
        assert!(b["prompt"].is_string() && b.get("messages").is_none());
        assert_ne!(w.request(3).body, w.request(4).body, "each request gets its own prompt");
    }
}

//! What a request will generate, decided when it is admitted: for every sequence, how
//! many tokens it produces and why it ends, and from that what the API bills.
//!
//! Everything here is a pure function of the request, the model and the request's key,
//! so timing never changes the output: the text of a sequence is fixed by its key, a
//! natural length is drawn from it, and a stop string ends it where the text contains it.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::model::Model;
use crate::openai::{Generation, Usage};
use crate::text;

pub(crate) const FINISH_LENGTH: &str = "length";
pub(crate) const FINISH_STOP: &str = "stop";

/// One generated sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sequence {
    /// Fixes its text.
    pub(crate) key: u64,
    /// Tokens generated, each taking a step: what is billed. The first `reasoning`
    /// of them are reasoning, the rest the answer.
    pub(crate) tokens: u32,
    pub(crate) reasoning: u32,
    /// Bytes of text shown, when a stop string cut it.
    pub(crate) visible: Option<u32>,
    pub(crate) finish: &'static str,
}

pub(crate) struct Plan {
    /// Prompt-major: sequence `p * best_of + j` is the `j`-th for prompt `p`.
    pub(crate) sequences: Vec<Sequence>,
    n: u32,
    best_of: u32,
    pub(crate) usage: Usage,
}

/// Salt for the natural-length RNG, so it is independent of the words.
const LENGTH_SALT: u64 = 0x1E46_7415_1E46_7415;

impl Plan {
    pub(crate) fn new(g: &Generation, model: &Model, key: u64) -> Self {
        let count = g.sequences();
        let mut sequences = Vec::with_capacity(count as usize);
        for s in 0..count {
            let key = text::sequence_key(key, s);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(key ^ LENGTH_SALT);
            let natural = model.length.sample(&mut rng);
            // Reasoning first; max_tokens caps it and the answer together.
            let reasoning = model.reasoning_tokens.min(g.max_tokens);
            let room = g.max_tokens - reasoning;
            let limit = natural.map_or(room, |n| n.min(room));
            let ended_early = limit < room;
            let sequence = match text::find_stop(key, limit, &g.stop) {
                Some((tokens, visible)) => Sequence {
                    key,
                    tokens: reasoning + tokens,
                    reasoning,
                    visible: Some(visible),
                    finish: FINISH_STOP,
                },
                None => Sequence {
                    key,
                    tokens: reasoning + limit,
                    reasoning,
                    visible: None,
                    finish: if ended_early { FINISH_STOP } else { FINISH_LENGTH },
                },
            };
            sequences.push(sequence);
        }
        let prompt_tokens = g.prompt_tokens();
        let completion_tokens = sequences.iter().map(|s| u64::from(s.tokens)).sum();
        let reasoning_tokens: u64 = sequences.iter().map(|s| u64::from(s.reasoning)).sum();
        let usage = Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
            completion_tokens_details: (model.reasoning_tokens > 0)
                .then_some(crate::openai::CompletionDetails { reasoning_tokens }),
        };
        Self { sequences, n: g.n, best_of: g.best_of, usage }
    }

    /// The sequences returned, in choice order: for each prompt the first `n` of its
    /// `best_of`, so choice `p * n + j` is sequence `p * best_of + j`.
    pub(crate) fn returned(&self) -> impl Iterator<Item = &Sequence> {
        let (n, best_of) = (self.n as usize, self.best_of as usize);
        self.sequences.chunks(best_of.max(1)).flat_map(move |prompt| &prompt[..n.min(prompt.len())])
    }

    /// The answer's text of `s` (its reasoning excluded).
    pub(crate) fn answer_text(s: &Sequence) -> String {
        text::render(s.key, s.tokens - s.reasoning, s.visible)
    }

    /// The reasoning text of `s`, if it reasons.
    pub(crate) fn reasoning_text(s: &Sequence) -> Option<String> {
        (s.reasoning > 0).then(|| text::render(text::reasoning_key(s.key), s.reasoning, None))
    }

    /// Steps until the last sequence ends.
    pub(crate) fn steps(&self) -> u32 {
        self.sequences.iter().map(|s| s.tokens).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelProfile, OutputLength};

    fn generation(n: u32, best_of: u32, prompts: usize, max_tokens: u32, stop: &[&str]) -> Generation {
        Generation {
            model: "m".into(),
            prompts: (0..prompts as u64).map(|p| p + 1).collect(),
            max_tokens,
            max_tokens_given: true,
            n,
            best_of,
            stop: stop.iter().map(|s| s.to_string()).collect(),
            stream: false,
            include_usage: false,
            blocks: Vec::new(),
        }
    }

    fn model(output_length: OutputLength) -> Model {
        Model::new(&ModelProfile { output_length, ..ModelProfile::default() })
    }

    #[test]
    fn best_of_generates_more_than_it_returns_and_bills_all() {
        let plan = Plan::new(&generation(2, 3, 2, 10, &[]), &model(OutputLength::MaxTokens), 7);
        assert_eq!(plan.sequences.len(), 6);
        let returned: Vec<_> = plan.returned().collect();
        assert_eq!(returned.len(), 4);
        assert_eq!(*returned[2], plan.sequences[3], "prompt 1 choice 0 is sequence 3");
        assert!(plan.sequences.iter().all(|s| s.tokens == 10 && s.finish == FINISH_LENGTH));
        assert_eq!(
            plan.usage,
            Usage {
                prompt_tokens: 3,
                completion_tokens: 60,
                total_tokens: 63,
                prompt_tokens_details: None,
                completion_tokens_details: None,
            }
        );
        assert_eq!(plan.steps(), 10);
        // Every sequence has its own text.
        let keys: std::collections::HashSet<_> = plan.sequences.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), 6);
    }

    #[test]
    fn natural_length_and_stop_end_early() {
        let plan = Plan::new(&generation(1, 1, 1, 10, &[]), &model(OutputLength::Constant(4)), 7);
        assert_eq!((plan.sequences[0].tokens, plan.sequences[0].finish), (4, FINISH_STOP));
        let plan = Plan::new(&generation(1, 1, 1, 3, &[]), &model(OutputLength::Constant(4)), 7);
        assert_eq!((plan.sequences[0].tokens, plan.sequences[0].finish), (3, FINISH_LENGTH));

        // " the" is the most common word: some of many sequences stop on it, early.
        let plan = Plan::new(&generation(50, 50, 1, 200, &[" the"]), &model(OutputLength::MaxTokens), 7);
        let stopped: Vec<_> = plan.sequences.iter().filter(|s| s.visible.is_some()).collect();
        assert!(stopped.len() > 40, "{}", stopped.len());
        for s in stopped {
            assert_eq!(s.finish, FINISH_STOP);
            let shown = text::render(s.key, s.tokens, s.visible);
            assert!(!shown.contains(" the"), "{shown:?}");
            // The last token generated completed the stop string (" the", or " there").
            let generated = text::render(s.key, s.tokens, None);
            assert!(generated.starts_with(&format!("{shown} the")), "{generated:?}");
            assert!(!text::render(s.key, s.tokens - 1, None).starts_with(&format!("{shown} the")));
        }
        assert!(plan.usage.completion_tokens < 50 * 200 / 4);
    }
}

//! Multi-turn sessions (a variant's `turns`): one worker carries a
//! conversation from its first turn to its last. Each turn sends the whole
//! conversation so far (the variant's system prompt, every earlier user
//! prompt and the answer actually received to it) plus a new user prompt,
//! drawn as any prompt of the variant; the next turn is due `think_time`
//! after the answer ends. A turn that fails ends its session: there is no
//! answer to carry on from.

use std::time::{Duration, Instant};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::{Sizing, Ticket, Turn, WorkRequest, Workload, body, mix, pick_prompt};
use crate::scenario::PromptContent;

/// Seeds the number of turns, apart from the request's own stream.
const TURNS_SALT: u64 = 0x5455_524E_5300_0000;

/// A conversation under way.
#[derive(Debug)]
pub struct Session {
    /// Its first request's `seq`.
    pub id: u64,
    variant: usize,
    /// Turns sent so far, and in all.
    turn: u32,
    turns: u32,
    /// The messages so far, without the system prompt (the body adds it).
    history: Vec<Value>,
    /// The user message of the turn in flight, and its tokens.
    asked: Option<(Value, u32)>,
    /// Tokens of `history`: the prompts as sized, the answers as billed.
    history_tokens: u64,
    /// When its first turn was due: a session's duration counts from it.
    pub started: Instant,
    think_time: Duration,
}

impl Session {
    /// When the next turn is due, after the last one ended at `end` (`ok`,
    /// with `answer` of `output_tokens`); or `None` when the session is over
    /// (that was its last turn, or it failed).
    pub fn after(
        &mut self,
        ok: bool,
        answer: Option<String>,
        end: Instant,
        output_tokens: u64,
    ) -> Option<Instant> {
        if self.turn >= self.turns || !ok || answer.is_none() {
            return None;
        }
        if let Some((asked, tokens)) = self.asked.take() {
            self.history.push(asked);
            self.history_tokens += u64::from(tokens);
        }
        self.history.push(json!({ "role": "assistant", "content": answer.unwrap_or_default() }));
        self.history_tokens += output_tokens;
        Some(end + self.think_time)
    }
}

impl Workload {
    /// The request `t` asks for, as a turn of `session`: the next turn of
    /// the session under way, or the first of a new one when the variant
    /// drawn has sessions (then `session` holds it).
    pub fn request_in(&self, t: &Ticket, session: &mut Option<Session>) -> WorkRequest {
        if session.is_none() && t.trace.is_none() {
            let (variant, _) = self.draw(t.seq);
            if let Some(spec) = self.variants[variant].session {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed ^ TURNS_SALT, t.seq));
                *session = Some(Session {
                    id: t.seq,
                    variant,
                    turn: 0,
                    turns: rng.random_range(spec.min_turns..=spec.max_turns),
                    history: Vec::new(),
                    asked: None,
                    history_tokens: 0,
                    started: t.intended,
                    think_time: spec.think_time,
                });
            }
        }
        match session {
            Some(s) => self.turn(t.seq, s),
            None => self.request_for(t),
        }
    }

    fn turn(&self, seq: u64, s: &mut Session) -> WorkRequest {
        let v = &self.variants[s.variant];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed, seq));
        let (content, tokens) = pick_prompt(v, &mut rng, seq);
        let asked = match content {
            PromptContent::Text(t) => json!({ "role": "user", "content": t }),
            // A prompts file's messages: the last one is this turn's.
            PromptContent::Messages(m) => {
                m.last().cloned().unwrap_or_else(|| json!({ "role": "user", "content": "" }))
            }
        };
        s.turn += 1;
        let mut messages = s.history.clone();
        messages.push(asked.clone());
        s.asked = Some((asked, tokens));
        let earlier = u32::try_from(s.history_tokens).unwrap_or(u32::MAX);
        let prompt_tokens = tokens.saturating_add(v.system_tokens).saturating_add(earlier);
        let max_output_tokens = v.max_output_tokens();
        let sized = Sizing { prompts: 1, prompt_tokens, max_output_tokens };
        let body = body(v, vec![PromptContent::Messages(messages)], v.max_tokens, &v.model);
        WorkRequest {
            keep_answer: s.turn < s.turns,
            turn: Some(Turn { id: s.id, turn: s.turn }),
            ..sized.request(v, s.variant, seq, body)
        }
    }
}

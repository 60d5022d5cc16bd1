//! A request body as the simulator reads it: every parameter it knows, each with its
//! shape kept so that a wrong type is refused naming the parameter, and the arrays that
//! can be long (messages, prompts, content parts, token lists) folded as they are read
//! into what the simulation needs, their token counts, and the first thing wrong with
//! them. Parameters it does not know are skipped unread, as the API ignores what it
//! does not use.

use serde::Deserialize;

use super::json::{Entries, Fold, Folded, Scalar, Shaped, Skip};
use super::{ApiError, quoted};
use crate::prefix::{PrefixHasher, word_hashes};
use crate::text::count_words;

/// The API's limit on stop sequences.
const MAX_STOPS: usize = 4;

/// Simulator limit: prompts in one request, far above what a load test sends.
const MAX_PROMPTS: usize = 2048;

/// The parameters, each `None` when absent or `null` (which the API takes as absent).
/// A key given twice is malformed JSON to serde, and refused as such.
#[derive(Deserialize)]
pub(super) struct Fields {
    pub(super) model: Option<Scalar>,
    pub(super) messages: Option<Shaped<Folded<Messages>, Skip>>,
    pub(super) prompt: Option<Shaped<Folded<Prompts>, Skip>>,
    pub(super) max_tokens: Option<Scalar>,
    pub(super) max_completion_tokens: Option<Scalar>,
    pub(super) n: Option<Scalar>,
    pub(super) best_of: Option<Scalar>,
    pub(super) temperature: Option<Scalar>,
    pub(super) top_p: Option<Scalar>,
    pub(super) presence_penalty: Option<Scalar>,
    pub(super) frequency_penalty: Option<Scalar>,
    pub(super) seed: Option<Scalar>,
    pub(super) logit_bias: Option<Shaped<Skip, Entries<LogitBias>>>,
    pub(super) stop: Option<Shaped<Folded<Stops>, Skip>>,
    pub(super) stream: Option<Scalar>,
    pub(super) stream_options: Option<Shaped<Skip, StreamOptions>>,
}

#[derive(Deserialize)]
pub(super) struct StreamOptions {
    pub(super) include_usage: Option<Scalar>,
}

/// The roles the API accepts, in the order its message lists them.
const ROLES: [&str; 6] = ["system", "assistant", "user", "function", "tool", "developer"];

/// `messages`, folded: how many, their prompt tokens, the first one refused.
#[derive(Default)]
pub(super) struct Messages {
    count: usize,
    tokens: u64,
    problem: Option<ApiError>,
    prefix: PrefixHasher,
}

impl Messages {
    /// Prompt tokens of the whole conversation, and its block names.
    pub(super) fn tokens(self) -> Result<(u64, Vec<u64>), ApiError> {
        match self.problem {
            Some(problem) => Err(problem),
            None if self.count == 0 => Err(ApiError::empty_array("messages")),
            None => Ok((self.tokens, self.prefix.blocks)),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Message {
    role: Option<Scalar>,
    content: Option<Shaped<Folded<Parts>, Skip>>,
}

impl Fold for Messages {
    type Item = Shaped<Skip, Message>;

    fn add(&mut self, index: usize, item: Self::Item) {
        self.count += 1;
        if self.problem.is_none() {
            match message_tokens(index, item, &mut self.prefix) {
                Ok(tokens) => self.tokens += tokens,
                Err(problem) => self.problem = Some(problem),
            }
        }
    }
}

fn message_tokens(
    index: usize,
    item: Shaped<Skip, Message>,
    prefix: &mut PrefixHasher,
) -> Result<u64, ApiError> {
    let at = |field: &str| format!("messages[{index}]{field}");
    let message = match item {
        Shaped::Object(message) => message,
        other => return Err(ApiError::invalid_type(at(""), "an object", other.kind())),
    };
    match message.role {
        Some(Shaped::Str(role)) if ROLES.contains(&role.as_str()) => prefix.mark_str(&role),
        Some(Shaped::Str(role)) => {
            let message = format!(
                "Invalid value: '{}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
                quoted(&role)
            );
            return Err(ApiError::invalid_value(at(".role"), message));
        }
        Some(other) => return Err(ApiError::invalid_type(at(".role"), "a string", other.kind())),
        None => return Err(ApiError::missing(at(".role"))),
    }
    match message.content {
        // An assistant message that only calls tools has none.
        None => Ok(0),
        Some(Shaped::Str(text)) => {
            prefix.text(&text);
            Ok(count_words(&text))
        }
        Some(Shaped::Array(Folded(parts))) => match parts.bad {
            Some((part, got)) => {
                Err(ApiError::invalid_type(at(&format!(".content[{part}]")), "an object", got))
            }
            None => {
                parts.words.into_iter().for_each(|h| prefix.word(h));
                Ok(parts.tokens)
            }
        },
        Some(other) => {
            Err(ApiError::invalid_type(at(".content"), "one of a string or array of objects", other.kind()))
        }
    }
}

/// The parts of a multi-part content. Only text parts carry tokens we count; image and
/// audio parts have no `text`.
#[derive(Default)]
pub(super) struct Parts {
    tokens: u64,
    /// Its words, named for the prefix cache.
    words: Vec<u64>,
    /// The first part that is not an object, and what it is.
    bad: Option<(usize, &'static str)>,
}

#[derive(Deserialize)]
pub(super) struct Part {
    text: Option<Scalar>,
}

impl Fold for Parts {
    type Item = Shaped<Skip, Part>;

    fn add(&mut self, index: usize, item: Self::Item) {
        match item {
            Shaped::Object(Part { text: Some(Shaped::Str(text)) }) => {
                self.tokens += count_words(&text);
                self.words.extend(word_hashes(&text));
            }
            Shaped::Object(_) => {}
            other => {
                self.bad.get_or_insert((index, other.kind()));
            }
        }
    }
}

/// The forms of an array `prompt`, told by its first element.
#[derive(Clone, Copy, PartialEq)]
enum PromptForm {
    /// `["a b", "c"]`: a batch of prompts.
    Texts,
    /// `[1, 2, 3]`: one prompt, as token ids.
    Tokens,
    /// `[[1, 2], [3]]`: a batch of prompts as token ids.
    TokenLists,
}

impl PromptForm {
    fn of<A, O>(first: &Shaped<A, O>) -> Self {
        match first {
            Shaped::Str(_) => Self::Texts,
            Shaped::Array(_) => Self::TokenLists,
            // Anything else is refused as a token id.
            _ => Self::Tokens,
        }
    }

    /// What each element must be.
    fn element(self) -> &'static str {
        match self {
            Self::Texts => "a string",
            Self::Tokens => "an integer",
            Self::TokenLists => "an array of integers",
        }
    }
}

/// An array `prompt`, folded: the tokens of each prompt (kept for at most
/// `MAX_PROMPTS + 1` of them: one more is already too many), how many there are, and
/// the first element refused.
#[derive(Default)]
pub(super) struct Prompts {
    form: Option<PromptForm>,
    count: usize,
    tokens: Vec<u64>,
    problem: Option<ApiError>,
}

impl Fold for Prompts {
    type Item = Shaped<Folded<TokenIds>, Skip>;

    fn add(&mut self, index: usize, item: Self::Item) {
        if self.problem.is_some() {
            return;
        }
        let form = *self.form.get_or_insert(PromptForm::of(&item));
        match element_tokens(form, index, item) {
            Ok(tokens) => self.push(form, tokens),
            Err(problem) => self.problem = Some(problem),
        }
    }
}

/// The tokens element `index` of a prompt array adds, or why it is refused.
fn element_tokens(
    form: PromptForm,
    index: usize,
    item: Shaped<Folded<TokenIds>, Skip>,
) -> Result<u64, ApiError> {
    let refuse =
        |param: String, form: PromptForm, got: &str| ApiError::invalid_type(param, form.element(), got);
    match (form, item) {
        (PromptForm::Texts, Shaped::Str(text)) => Ok(count_words(&text)),
        (PromptForm::Tokens, id) => {
            token_id(&id).map(|()| 1).map_err(|got| refuse(format!("prompt[{index}]"), form, got))
        }
        (PromptForm::TokenLists, Shaped::Array(Folded(ids))) => match ids.bad {
            Some((at, got)) => Err(refuse(format!("prompt[{index}][{at}]"), PromptForm::Tokens, got)),
            None => Ok(ids.count),
        },
        (form, other) => Err(refuse(format!("prompt[{index}]"), form, other.kind())),
    }
}

impl Prompts {
    fn push(&mut self, form: PromptForm, tokens: u64) {
        if form == PromptForm::Tokens {
            // One prompt, written token by token.
            match self.tokens.first_mut() {
                Some(n) => *n += tokens,
                None => self.tokens.push(tokens),
            }
            self.count = 1;
        } else {
            self.count += 1;
            if self.tokens.len() <= MAX_PROMPTS {
                self.tokens.push(tokens);
            }
        }
    }

    /// Prompt tokens of each prompt.
    fn finish(self) -> Result<Vec<u64>, ApiError> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        if self.count == 0 {
            return Err(ApiError::empty_array("prompt"));
        }
        if self.count > MAX_PROMPTS {
            return Err(ApiError::simulator_limit(
                "prompt",
                format!(
                    "The simulator takes at most {MAX_PROMPTS} prompts per request; this one has {}.",
                    self.count
                ),
            ));
        }
        Ok(self.tokens)
    }
}

/// Tokens of each prompt of a `prompt` parameter: a string or a token list is one
/// prompt, an array of them a batch.
/// With a single string, its block names for the prefix cache.
pub(super) fn prompt_tokens(prompt: Shaped<Folded<Prompts>, Skip>) -> Result<(Vec<u64>, Vec<u64>), ApiError> {
    match prompt {
        Shaped::Str(text) => {
            let mut prefix = PrefixHasher::default();
            prefix.text(&text);
            Ok((vec![count_words(&text)], prefix.blocks))
        }
        Shaped::Array(Folded(prompts)) => Ok((prompts.finish()?, Vec::new())),
        other => Err(ApiError::invalid_type(
            "prompt",
            "one of a string, array of strings, array of integers, or array of arrays of integers",
            other.kind(),
        )),
    }
}

/// A prompt written as token ids: how many, and the first that is not one.
#[derive(Default)]
pub(super) struct TokenIds {
    count: u64,
    bad: Option<(usize, &'static str)>,
}

impl Fold for TokenIds {
    type Item = Scalar;

    fn add(&mut self, index: usize, item: Scalar) {
        match token_id(&item) {
            Ok(()) => self.count += 1,
            Err(got) => {
                self.bad.get_or_insert((index, got));
            }
        }
    }
}

/// A token id is an integer >= 0; otherwise, what the value is instead.
fn token_id<A, O>(value: &Shaped<A, O>) -> Result<(), &'static str> {
    match value {
        Shaped::Int(id) if *id >= 0 => Ok(()),
        Shaped::Int(_) => Err("a negative integer"),
        other => Err(other.kind()),
    }
}

/// An array `stop`, folded: the first `MAX_STOPS` strings (one more is already too
/// many), how many there are, and the first element that is not a string.
#[derive(Default)]
pub(super) struct Stops {
    strings: Vec<String>,
    count: usize,
    bad: Option<(usize, &'static str)>,
}

impl Fold for Stops {
    type Item = Scalar;

    fn add(&mut self, index: usize, item: Scalar) {
        self.count += 1;
        match item {
            Shaped::Str(s) if self.strings.len() < MAX_STOPS => self.strings.push(s),
            Shaped::Str(_) => {}
            other => {
                self.bad.get_or_insert((index, other.kind()));
            }
        }
    }
}

/// The stop sequences of a `stop` parameter.
pub(super) fn stop_strings(stop: Shaped<Folded<Stops>, Skip>) -> Result<Vec<String>, ApiError> {
    match stop {
        Shaped::Str(s) => Ok(vec![s]),
        Shaped::Array(Folded(stops)) => match stops.bad {
            Some((index, got)) => Err(ApiError::invalid_type(format!("stop[{index}]"), "a string", got)),
            None if stops.count > MAX_STOPS => Err(ApiError::array_too_long("stop", MAX_STOPS, stops.count)),
            None => Ok(stops.strings),
        },
        other => Err(ApiError::invalid_type("stop", "one of a string or array of strings", other.kind())),
    }
}

/// `logit_bias`, checked entry by entry: token ids (as strings) to a bias from -100 to
/// 100. The simulator samples no logits, so only the first problem is kept.
#[derive(Default)]
pub(super) struct LogitBias {
    problem: Option<ApiError>,
}

impl Fold for LogitBias {
    type Item = (String, Scalar);

    fn add(&mut self, _: usize, (token, bias): (String, Scalar)) {
        if self.problem.is_some() {
            return;
        }
        if token.parse::<u64>().is_err() {
            let message = format!(
                "Invalid key in 'logit_bias': '{}'. Keys must be token ids, integers >= 0.",
                quoted(&token)
            );
            self.problem = Some(ApiError::invalid_value("logit_bias", message));
            return;
        }
        let bias = match bias {
            Shaped::Int(b) => b as f64,
            Shaped::Float(b) => b,
            other => {
                let param = format!("logit_bias.{token}");
                self.problem = Some(ApiError::invalid_type(param, "a number", other.kind()));
                return;
            }
        };
        if !(-100.0..=100.0).contains(&bias) {
            let message = format!(
                "Invalid value for 'logit_bias': the bias of token {token} is {bias}; it must be from -100 to 100."
            );
            self.problem = Some(ApiError::invalid_value("logit_bias", message));
        }
    }
}

/// Checks `logit_bias`.
pub(super) fn check_logit_bias(bias: Shaped<Skip, Entries<LogitBias>>) -> Result<(), ApiError> {
    match bias {
        Shaped::Object(Entries(LogitBias { problem: Some(problem) })) => Err(problem),
        Shaped::Object(_) => Ok(()),
        other => Err(ApiError::invalid_type("logit_bias", "an object", other.kind())),
    }
}

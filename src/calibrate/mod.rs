//! `llmload calibrate`: a simulator profile fitted from results directories
//! of live runs, so that CI can meet the same latency shape, lengths, errors
//! and rate limits for free.
//!
//! The data flow: requests.csv (one row per request: its model, load stage
//! and level, prompt and output tokens, service TTFT and e2e, mean gap) and
//! metrics.json (each variant's ITL histogram: every gap) are read into
//! `Sample`s per model (`read`); `fit` turns each model's sample into a
//! `ModelFit`, every figure with how well it fits and what could not be
//! fitted; `profile` writes the fit as the simulator's TOML and as text.

mod fit;
mod profile;
mod read;
mod stats;

use std::path::PathBuf;

pub use fit::ModelFit;
pub use profile::{render_report, to_toml};

/// Why the input cannot be fitted: names the directory and says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", dir.display())]
pub struct CalibrateError {
    pub dir: PathBuf,
    pub problem: String,
}

impl crate::error::InputProblem for CalibrateError {}

/// Fewest ok, streamed requests of a model for its TTFT and ITL to be fitted.
pub const MIN_REQUESTS: usize = 30;

/// The fit of every model the directories hold enough of, and the models
/// left out (with why).
pub struct Calibration {
    pub sources: Vec<String>,
    pub fits: Vec<ModelFit>,
    pub skipped: Vec<(String, String)>,
}

/// Reads `dirs` (live runs, this version's format) and fits each model.
pub fn calibrate(dirs: &[PathBuf]) -> Result<Calibration, CalibrateError> {
    let samples = read::read(dirs)?;
    let mut fits = Vec::new();
    let mut skipped = Vec::new();
    for (model, sample) in &samples.models {
        let usable = sample.streamed_ok();
        if usable < MIN_REQUESTS {
            skipped.push((
                model.clone(),
                format!(
                    "too few requests to fit: {usable} ok streamed requests (at least {MIN_REQUESTS} are needed; \
                     TTFT and ITL are only measured on streamed answers)"
                ),
            ));
            continue;
        }
        fits.push(fit::fit(model, sample));
    }
    if fits.is_empty() {
        let why: Vec<String> = skipped.iter().map(|(m, w)| format!("{m}: {w}")).collect();
        return Err(CalibrateError {
            dir: dirs.first().cloned().unwrap_or_default(),
            problem: format!("nothing could be fitted: {}", why.join("; ")),
        });
    }
    Ok(Calibration { sources: samples.sources, fits, skipped })
}

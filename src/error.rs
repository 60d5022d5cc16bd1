//! What a command's failure means for its exit code, decided by type.
//!
//! A module whose failure is the user's input (a scenario, an argument, a
//! results directory, an output path) returns its own error type and marks it
//! `InputProblem`; `?` then turns it into `Error::Input` (exit 2). Anything
//! else that goes wrong while running is `Error::Failed` (exit 1). Nothing
//! downcasts: the variant is the verdict.

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The run failed: nothing succeeded, an objective was missed, or a
    /// fault stopped it.
    Failed = 1,
    /// Bad input: scenario, arguments, output path or results directory.
    BadInput = 2,
    /// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells expect); the
    /// results so far are written and marked partial.
    Interrupted = 130,
}

/// An error in what the user gave us. Each module's input error type
/// implements it, so that `?` classifies it as `Error::Input`.
pub trait InputProblem: std::error::Error + Send + Sync + 'static {}

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: exit 2.
    #[error(transparent)]
    Input(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A failure while running: exit 1.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl<T: InputProblem> From<T> for Error {
    fn from(e: T) -> Self {
        Error::Input(Box::new(e))
    }
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Input(_) => Exit::BadInput,
            Error::Failed(_) => Exit::Failed,
        }
    }
}

/// A bad command-line argument, named as the user wrote it.
#[derive(Debug, thiserror::Error)]
#[error("{arg}: {problem}")]
pub struct ArgumentError {
    pub arg: &'static str,
    pub problem: String,
}

impl InputProblem for ArgumentError {}

impl InputProblem for llmload_mock::profile::LoadError {}

/// `Result` of a command.
pub type Result<T, E = Error> = std::result::Result<T, E>;
